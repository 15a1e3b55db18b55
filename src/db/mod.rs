//! Storage: one diesel `MultiConnection` over SQLite (embedded default) and PostgreSQL (production),
//! a pool, embedded migrations, and the repositories in `repo/`.

pub mod columns;
pub mod credential_epoch;
pub mod filter_sql;
// The one module with `unsafe`: a leader runs other writers' borrowed closures (see its header).
#[allow(unsafe_code)]
mod group_commit;
pub mod health;
pub mod pulse;
pub mod repo;
pub mod rows;
pub mod schema;
#[cfg(test)]
pub mod scratch;
pub mod upgrade_check;
pub mod value_index;

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// Migrations per backend; the folders carry identical names (a test checks it).
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Runs one diesel query on the connection of its backend: the same DSL, type-checked once per
/// backend, run without `MultiConnection`'s wrapper, which renders the query's whole SQL text on
/// every execution (twice: for the cache check and for the binds), cached statement or not. That
/// was a sixth of a refresh exchange's instructions. For the hot paths; the rest of the queries
/// go through `DbConnection` as before. A transaction opened on the `DbConnection` is the inner
/// connection's, so a query run here is part of it.
macro_rules! native {
    ($conn:expr, |$c:ident| $query:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $query,
            $crate::db::DbConnection::Postgres($c) => $query,
        }
    };
}
pub(crate) use native;

/// Errors from the storage layer, mapped to protocol errors by the services.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database connection error: {0}")]
    Pool(#[from] r2d2::PoolError),
    #[error("database connection error: {0}")]
    Connection(#[from] diesel::ConnectionError),
    #[error("migration failed: {0}")]
    Migration(String),
    /// Stored data that cannot be read back (a malformed key, scope or URI in a row).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A rule the code relies on did not hold: a bug or a missing set-up step, not bad data.
    #[error("broken invariant: {0}")]
    Invariant(String),
    #[error("invalid database URL: {0}")]
    BadUrl(String),
    /// The database is known to be out of reach (`health`): refused at once, not after a wait.
    #[error("the database is out of reach")]
    Down,
}

impl StoreError {
    /// True when the database could not be reached or no connection was free in time: the
    /// request may well succeed if retried, so clients are told 503 with `Retry-After`.
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            StoreError::Pool(_) | StoreError::Connection(_) | StoreError::Down => true,
            StoreError::Query(Error::DatabaseError(kind, info)) => {
                matches!(
                    kind,
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand
                ) || is_statement_timeout(info.message())
            }
            _ => false,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Which backend a URL names: `postgres://`/`postgresql://`, else SQLite (`sqlite://path` or a path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbTarget {
    Postgres(String),
    Sqlite(String),
}

impl DbTarget {
    pub fn parse(url: &str) -> StoreResult<DbTarget> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DbTarget::Postgres(url.to_owned()));
        }
        let path =
            url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        if path.is_empty() || path.contains("://") {
            return Err(StoreError::BadUrl(format!("'{url}': use postgres://… or sqlite://path")));
        }
        Ok(DbTarget::Sqlite(path.to_owned()))
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, DbTarget::Sqlite(_))
    }
}

/// Opens connections of the configured backend, with SQLite tuned for a server workload and
/// PostgreSQL statements bounded by `statement_timeout`.
#[derive(Clone)]
pub struct Manager {
    target: DbTarget,
    /// PostgreSQL only: longer statements are cancelled (their transaction rolls back) rather
    /// than holding a pooled connection and row locks indefinitely. SQLite has no equivalent;
    /// its writers are bounded by the busy timeout.
    statement_timeout: Option<Duration>,
    /// PostgreSQL only: libpq's `connect_timeout`, in seconds (it treats 1 as 2).
    connect_timeout_secs: u64,
    /// Every connection attempt reports here whether the database could be reached.
    health: Arc<health::Health>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager").field("sqlite", &self.target.is_sqlite()).finish()
    }
}

/// TCP keepalives (probe after 30 s idle, every 10 s, give up after 3) and a 30 s bound on
/// unacknowledged data: a connection to a host that vanished, or behind a dropped NAT entry,
/// fails within about a minute instead of hanging until the kernel's two hours. libpq ignores
/// them on Unix sockets.
const PG_KEEPALIVES: &str = "keepalives=1&keepalives_idle=30&keepalives_interval=10&keepalives_count=3&tcp_user_timeout=30000";

/// The URL with `connect_timeout` and the keepalives added, unless the URL sets them itself.
fn with_connection_options(url: &str, connect_timeout_secs: u64) -> String {
    let mut options = Vec::new();
    if !url.contains("connect_timeout=") && connect_timeout_secs > 0 {
        options.push(format!("connect_timeout={connect_timeout_secs}"));
    }
    if !url.contains("keepalives") {
        options.push(PG_KEEPALIVES.to_owned());
    }
    if options.is_empty() {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{}", options.join("&"))
}

/// A server that refuses a new connection for want of connection slots is up, and the pool's
/// open connections still work: that is no reason to refuse every request.
fn is_out_of_slots(err: &r2d2::Error) -> bool {
    let text = err.to_string();
    ["too many clients", "too many connections", "connection slots are reserved"]
        .iter()
        .any(|cause| text.contains(cause))
}

impl Manager {
    /// Opens a connection and reports to `health` whether the database could be reached.
    fn open(&self) -> Result<DbConnection, r2d2::Error> {
        let opened = self.open_unreported();
        match &opened {
            Ok(_) => self.health.mark_up(),
            Err(e) if is_out_of_slots(e) => {}
            Err(_) => self.health.mark_down(),
        }
        opened
    }

    fn open_unreported(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.target {
            DbTarget::Postgres(url) => {
                let url = with_connection_options(url, self.connect_timeout_secs);
                let mut conn =
                    diesel::PgConnection::establish(&url).map_err(r2d2::Error::ConnectionError)?;
                if let Some(timeout) = self.statement_timeout {
                    conn.batch_execute(&format!("SET statement_timeout = {}", timeout.as_millis()))
                        .map_err(r2d2::Error::QueryError)?;
                }
                Ok(DbConnection::Postgres(conn))
            }
            DbTarget::Sqlite(path) => {
                let mut conn = diesel::SqliteConnection::establish(path)
                    .map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the writer; the busy timeout covers other processes
                // (the CLI) writing at the same moment. LIKE is case-sensitive as on PostgreSQL:
                // case-insensitive matching goes through the lower-cased `*_ci` columns instead.
                // The WAL is checkpointed by a background thread (`spawn_checkpointer`); the
                // raised auto-checkpoint threshold only bounds the WAL should that thread stall,
                // and `journal_size_limit` truncates the WAL file back to 64 MiB after a
                // checkpoint (SQLite otherwise keeps it at its largest size ever). Temporary
                // data stays in memory: a write in a savepoint (group commit) needs a statement
                // journal, which SQLite would otherwise create and delete as a file every time.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA case_sensitive_like = ON; PRAGMA wal_autocheckpoint = 16384; \
                     PRAGMA journal_size_limit = 67108864; PRAGMA temp_store = MEMORY;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        self.open()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)
    }

    /// A connection whose transaction could not be ended (its link died mid-way) is not pooled
    /// again.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking()
            || <DbConnection as Connection>::TransactionManager::is_broken_transaction_manager(conn)
    }
}

pub type Pool = r2d2::Pool<Manager>;

/// A PostgreSQL connection checked out again within this time of its last checkout is used
/// without a `SELECT 1` first: under load that test was a round trip per request. If its link
/// died meanwhile, its first statement fails (a 503 with `Retry-After`) and diesel marks it
/// broken (libpq no longer knows its transaction state), so r2d2 closes it: a database restart
/// costs at most one request per connection in steady use. One idle longer is tested first.
const TRUSTED_WHILE_BUSY: Duration = Duration::from_secs(1);

/// When a pooled connection was last checked out (r2d2 keeps it with the connection).
struct LastCheckout(Instant);

/// Tests a PostgreSQL connection idle longer than `TRUSTED_WHILE_BUSY`; one that fails is
/// marked broken, so r2d2 closes it instead of pooling it again.
fn tested_if_idle(pooled: &mut PooledConnection, now: Instant) -> diesel::QueryResult<()> {
    let extensions = r2d2::PooledConnection::extensions_mut(pooled);
    let previous = match extensions.get_mut::<LastCheckout>() {
        Some(last) => Some(std::mem::replace(&mut last.0, now)),
        None => {
            extensions.insert(LastCheckout(now));
            None
        }
    };
    let DbConnection::Postgres(pg) = &mut **pooled else { return Ok(()) };
    if previous.is_some_and(|at| now.duration_since(at) < TRUSTED_WHILE_BUSY) {
        return Ok(());
    }
    let tested = pg.batch_execute("SELECT 1");
    if tested.is_err() {
        AnsiTransactionManager::transaction_manager_status_mut(pg).set_in_error();
    }
    tested
}

/// How long a caller waits for a pooled connection unless the settings say otherwise.
const DEFAULT_CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);
pub type PooledConnection = r2d2::PooledConnection<Manager>;

/// Connections of one node's pool: open and idle, open and checked out, and the most allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub idle: u32,
    pub in_use: u32,
    pub max: u32,
}

/// The database handle shared by every request: the pool plus, on SQLite, the single-writer gate.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    target: DbTarget,
    /// SQLite allows one writer: writers queue here and share commits (`group_commit`).
    /// PostgreSQL writers run concurrently.
    group_commit: Option<Arc<group_commit::GroupCommit>>,
    /// How long a caller waits for a free pooled connection before giving up.
    checkout_timeout: Duration,
    /// PostgreSQL: each statement of a read transaction is cancelled after this (`SET LOCAL
    /// statement_timeout`), shorter than writes' bound, so slow filters give their connection
    /// back long before a write would be given up on.
    read_timeout: Option<Duration>,
    /// The audit events written through this handle and its clones, for `/metrics`.
    audit_counts: Arc<repo::audit::AuditCounts>,
    /// What housekeeping deleted through this handle and its clones, for `/metrics`.
    prune_counts: Arc<repo::retention::PruneCounts>,
    /// Rung after every commit that recorded events, for this node's sequencer.
    events_pulse: Arc<pulse::Pulse>,
    /// Bumped after every commit that revoked or disabled a credential, for this node's cache.
    credential_epoch: Arc<credential_epoch::CredentialEpoch>,
    /// Opens the connections of the readiness check and of the probes while the database is down.
    manager: Manager,
    /// Whether the database is known to be out of reach (see `health`).
    health: Arc<health::Health>,
    /// While any clone lives, the SQLite checkpointer thread keeps running.
    _alive: Arc<()>,
}

/// libpq's `connect_timeout` unless the settings say otherwise, in seconds.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 5;

fn connect_error(e: r2d2::Error) -> StoreError {
    match e {
        r2d2::Error::ConnectionError(e) => StoreError::Connection(e),
        r2d2::Error::QueryError(e) => StoreError::Query(e),
    }
}

impl Database {
    /// Connects and runs pending migrations; statements are not time-limited (the CLI, tests).
    pub fn connect(url: &str, pool_size: u32) -> StoreResult<Database> {
        Self::connect_with(url, pool_size, 0)
    }

    /// Connects and runs pending migrations; on PostgreSQL, every pooled connection cancels
    /// statements that run longer than `statement_timeout_secs` (0 = never).
    pub fn connect_with(
        url: &str,
        pool_size: u32,
        statement_timeout_secs: u64,
    ) -> StoreResult<Database> {
        Self::connect_configured(
            url,
            pool_size,
            statement_timeout_secs,
            DEFAULT_CONNECT_TIMEOUT_SECS,
        )
    }

    /// As `connect_with`, and a PostgreSQL connection attempt gives up after
    /// `connect_timeout_secs` (libpq's `connect_timeout`; 0 = never).
    pub fn connect_configured(
        url: &str,
        pool_size: u32,
        statement_timeout_secs: u64,
        connect_timeout_secs: u64,
    ) -> StoreResult<Database> {
        let db = Self::open(url, pool_size, statement_timeout_secs, connect_timeout_secs)?;
        db.migrate()?;
        Ok(db)
    }

    /// Connects without migrating: for `scimd doctor`, which reports pending migrations
    /// instead of applying them.
    pub fn open(
        url: &str,
        pool_size: u32,
        statement_timeout_secs: u64,
        connect_timeout_secs: u64,
    ) -> StoreResult<Database> {
        let target = DbTarget::parse(url)?;
        let statement_timeout =
            (statement_timeout_secs > 0).then(|| Duration::from_secs(statement_timeout_secs));
        let health = Arc::new(health::Health::default());
        let manager = Manager {
            target: target.clone(),
            statement_timeout,
            connect_timeout_secs,
            health: health.clone(),
        };
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            .connection_timeout(DEFAULT_CHECKOUT_TIMEOUT)
            // A SQLite connection is a file handle that cannot go stale; a PostgreSQL one can
            // drop, and `checkout` tests it when it has been idle (`TRUSTED_WHILE_BUSY`).
            .test_on_check_out(false)
            .build(manager.clone())?;
        let group_commit = target.is_sqlite().then(Arc::default);
        let alive = Arc::new(());
        if let DbTarget::Sqlite(path) = &target {
            spawn_checkpointer(path.clone(), Arc::downgrade(&alive));
        }
        let db = Database {
            pool,
            target,
            group_commit,
            checkout_timeout: DEFAULT_CHECKOUT_TIMEOUT,
            read_timeout: None,
            audit_counts: Arc::default(),
            prune_counts: Arc::default(),
            events_pulse: Arc::default(),
            credential_epoch: Arc::default(),
            manager,
            health,
            _alive: alive,
        };
        Ok(db)
    }

    /// The same database, with callers waiting at most `timeout` for a pooled connection.
    pub fn with_checkout_timeout(mut self, timeout: Duration) -> Database {
        self.checkout_timeout = timeout;
        self
    }

    /// The same database, with every statement of a `read` cancelled after `timeout` on
    /// PostgreSQL (`None`: only the connection's `statement_timeout` applies).
    pub fn with_read_timeout(mut self, timeout: Option<Duration>) -> Database {
        self.read_timeout = timeout;
        self
    }

    /// A pooled connection, or `StoreError::Pool` once the checkout timeout has passed; while the
    /// database is known to be down, `StoreError::Down` at once (and a probe in the background).
    fn checkout(&self) -> StoreResult<PooledConnection> {
        if self.health.is_down() {
            self.probe();
            return Err(StoreError::Down);
        }
        // A connection that fails its test is closed and another taken (after a restart of the
        // database, every idle one may be dead); r2d2 opens a new one once none is left.
        for _ in 0..=self.pool.max_size() {
            let mut pooled = self.pool.get_timeout(self.checkout_timeout)?;
            match tested_if_idle(&mut pooled, Instant::now()) {
                Ok(()) => return Ok(pooled),
                Err(err) => tracing::debug!(error = %err, "closing a dead pooled connection"),
            }
        }
        Err(StoreError::Down)
    }

    /// Copies a SQLite database into the new file `to`: one consistent snapshot taken while the
    /// server keeps serving (`VACUUM INTO` reads in one transaction), then checked with
    /// `PRAGMA quick_check`. Answers the backup's size. PostgreSQL is backed up with `pg_dump`.
    pub fn backup_sqlite(&self, to: &std::path::Path) -> StoreResult<u64> {
        use diesel::connection::SimpleConnection;
        if to.exists() {
            return Err(StoreError::Invariant(format!("{} exists already", to.display())));
        }
        let mut pooled = self.checkout()?;
        let DbConnection::Sqlite(conn) = &mut *pooled else {
            return Err(StoreError::Invariant("backup_sqlite on a PostgreSQL database".into()));
        };
        diesel::sql_query("VACUUM INTO ?")
            .bind::<diesel::sql_types::Text, _>(to.to_string_lossy().into_owned())
            .execute(conn)?;
        let target = format!("{}", to.display());
        let mut copy = diesel::SqliteConnection::establish(&target)?;
        #[derive(QueryableByName)]
        struct Check {
            #[diesel(sql_type = diesel::sql_types::Text)]
            quick_check: String,
        }
        let checks: Vec<Check> = diesel::sql_query("PRAGMA quick_check").load(&mut copy)?;
        if checks.iter().any(|c| c.quick_check != "ok") {
            return Err(StoreError::Corrupt(format!("the backup in {target} fails quick_check")));
        }
        copy.batch_execute("PRAGMA journal_mode = DELETE")?;
        Ok(std::fs::metadata(to).map(|m| m.len()).unwrap_or(0))
    }

    /// Whether the database is known to be out of reach right now.
    pub fn is_down(&self) -> bool {
        self.health.is_down()
    }

    /// Records that the database did not answer in time (a readiness check that timed out):
    /// requests fail fast until a connection opens again.
    pub fn mark_down(&self) {
        self.health.mark_down();
        self.probe();
    }

    /// Tries a fresh connection on a thread of its own (one at a time, not too often); opening
    /// it marks the database up again. Never a pooled connection: one of those may hang.
    fn probe(&self) {
        if !self.health.begin_probe() {
            return;
        }
        let manager = self.manager.clone();
        let spawned = std::thread::Builder::new().name("db-probe".into()).spawn(move || {
            if let Ok(mut conn) = manager.open()
                && conn.batch_execute("SELECT 1").is_err()
            {
                manager.health.mark_down();
            }
            manager.health.end_probe();
        });
        if spawned.is_err() {
            self.health.end_probe();
        }
    }

    pub fn target(&self) -> &DbTarget {
        &self.target
    }

    /// What `audit::record` counts the events it writes through this handle in.
    pub fn audit_counts(&self) -> &repo::audit::AuditCounts {
        &self.audit_counts
    }

    /// What housekeeping counts its deletions and runs through this handle in.
    pub fn prune_counts(&self) -> &repo::retention::PruneCounts {
        &self.prune_counts
    }

    /// Rung after every commit of this handle that recorded events.
    pub fn events_pulse(&self) -> &Arc<pulse::Pulse> {
        &self.events_pulse
    }

    /// This node's revocation epoch (see `credential_epoch`).
    pub fn credential_epoch(&self) -> u64 {
        self.credential_epoch.current()
    }

    /// This node's pool right now, for metrics. Cheap: no connection is checked out.
    pub fn pool_stats(&self) -> PoolStats {
        let state = self.pool.state();
        PoolStats {
            idle: state.idle_connections,
            in_use: state.connections.saturating_sub(state.idle_connections),
            max: self.pool.max_size(),
        }
    }

    /// Runs pending migrations on a connection of their own, without the statement timeout: an
    /// index build on a large table may rightly take minutes.
    fn migrate(&self) -> StoreResult<()> {
        let manager = Manager { statement_timeout: None, ..self.manager.clone() };
        let mut conn = manager.open().map_err(connect_error)?;
        let migrations = migrations_for(&conn);
        conn.run_pending_migrations(migrations)
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(())
    }

    /// For readiness probes: the database answers and its schema is the one this binary expects
    /// (another node may have been rolled back, or a restore may predate a migration). On a
    /// fresh connection, not a pooled one: a busy pool is no reason to be unready, and a pooled
    /// connection to a database that stopped answering would hang.
    pub fn check_ready(&self) -> StoreResult<()> {
        if self.health.is_down() {
            self.probe();
            return Err(StoreError::Down);
        }
        let mut conn = self.manager.open().map_err(connect_error)?;
        conn.batch_execute("SELECT 1")?;
        let migrations = migrations_for(&conn);
        let pending = conn
            .has_pending_migration(migrations)
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        if pending {
            return Err(StoreError::Migration("migrations are pending; run scimd migrate".into()));
        }
        Ok(())
    }

    /// A connection for reads.
    pub fn conn(&self) -> StoreResult<PooledConnection> {
        self.checkout()
    }

    /// Runs `f` in one transaction: everything it writes commits together or not at all. On
    /// SQLite `f` may run on another writer's thread (group commit), hence `Send`.
    pub fn write<T, E>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send,
    ) -> Result<T, E>
    where
        T: Send,
        E: From<diesel::result::Error> + From<StoreError> + Send,
    {
        let result = match &self.group_commit {
            Some(group) => group.write(|| self.checkout(), f),
            None => {
                let mut pooled = self.checkout()?;
                <DbConnection as Connection>::transaction(&mut pooled, f)
            }
        };
        if repo::events::take_inserted() && result.is_ok() {
            self.events_pulse.ring();
        }
        // Taken whatever the outcome, so a rolled-back mark does not leak into the next write.
        if credential_epoch::take_revoking() && result.is_ok() {
            self.credential_epoch.bump();
        }
        result
    }

    /// `write`, run again (at most `WRITE_ATTEMPTS` times in all) when PostgreSQL aborts the
    /// transaction for a serialization failure or a deadlock: the conflict is gone once the other
    /// transaction committed, and the client should not have to retry what we can. `f` must be
    /// safe to run again from the start, which a rolled-back transaction makes it.
    pub fn write_retrying<T, E>(
        &self,
        mut f: impl FnMut(&mut DbConnection) -> Result<T, E> + Send,
    ) -> Result<T, E>
    where
        T: Send,
        E: From<diesel::result::Error> + From<StoreError> + MayConflict + Send,
    {
        retry_conflicts(WRITE_ATTEMPTS, || self.write(&mut f))
    }

    /// Runs `f` in one read transaction, so a list and its count see the same snapshot: SQLite's
    /// read transactions are snapshots already; PostgreSQL's default (READ COMMITTED) takes a new
    /// snapshot per statement, so the transaction is raised to REPEATABLE READ, in the same round
    /// trip as its `BEGIN` (and the read's statement timeout with them).
    pub fn read<T, E>(&self, f: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<diesel::result::Error> + From<StoreError>,
    {
        let mut pooled = self.checkout()?;
        let conn: &mut DbConnection = &mut pooled;
        let DbConnection::Postgres(pg) = conn else { return conn.transaction(f) };
        AnsiTransactionManager::begin_transaction_sql(pg, &self.postgres_read_begin())?;
        type Transactions = <DbConnection as Connection>::TransactionManager;
        match f(conn) {
            Ok(value) => {
                Transactions::commit_transaction(conn)?;
                Ok(value)
            }
            Err(err) => {
                // The error that ended the read is the one to report; a connection that cannot
                // roll back is marked broken by diesel.
                let _ = Transactions::rollback_transaction(conn);
                Err(err)
            }
        }
    }

    /// Runs `f` without a snapshot: on PostgreSQL each statement sees what was committed when it
    /// started, and no `BEGIN`/`COMMIT` round trips are spent. For reads whose statements need
    /// not agree with one another (a row by its key, then its memberships); a page and its
    /// count use `read`. Statements are bounded by the connection's `statement_timeout` only.
    pub fn read_latest<T, E>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut pooled = self.checkout()?;
        f(&mut pooled)
    }

    /// What opens a PostgreSQL read: one batch, one round trip.
    fn postgres_read_begin(&self) -> String {
        match self.read_timeout {
            Some(timeout) => format!(
                "BEGIN ISOLATION LEVEL REPEATABLE READ; SET LOCAL statement_timeout = {}",
                timeout.as_millis().max(1)
            ),
            None => "BEGIN ISOLATION LEVEL REPEATABLE READ".to_owned(),
        }
    }
}

fn migrations_for(conn: &DbConnection) -> EmbeddedMigrations {
    match conn {
        DbConnection::Postgres(_) => POSTGRES_MIGRATIONS,
        DbConnection::Sqlite(_) => SQLITE_MIGRATIONS,
    }
}

/// How often the SQLite WAL is checkpointed in the background.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Copies the SQLite WAL back into the database file from a thread of its own. Left to SQLite,
/// the commit that crosses the auto-checkpoint threshold does it, with two fsyncs, while every
/// other writer waits at the write gate. A passive checkpoint never blocks readers or writers.
/// The thread ends once the last clone of its `Database` is dropped.
fn spawn_checkpointer(path: String, alive: std::sync::Weak<()>) {
    let spawned = std::thread::Builder::new().name("sqlite-checkpoint".into()).spawn(move || {
        let mut conn = match diesel::SqliteConnection::establish(&path) {
            Ok(conn) => conn,
            Err(err) => {
                tracing::warn!(error = %err, "no background WAL checkpoints; SQLite will do them");
                return;
            }
        };
        if conn.batch_execute("PRAGMA busy_timeout = 1000;").is_err() {
            return;
        }
        while alive.upgrade().is_some() {
            std::thread::sleep(CHECKPOINT_EVERY);
            if let Err(err) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                tracing::debug!(error = %err, "WAL checkpoint skipped");
            }
        }
    });
    if let Err(err) = spawned {
        tracing::warn!(error = %err, "no background WAL checkpoints; SQLite will do them");
    }
}

/// Rows fetched by key, put back in the order of the page's keys.
pub fn in_page_order<T>(page: &[i64], mut rows: Vec<(i64, T)>) -> Vec<T> {
    let position: std::collections::HashMap<i64, usize> =
        page.iter().enumerate().map(|(i, seq)| (*seq, i)).collect();
    rows.sort_by_key(|(seq, _)| position.get(seq).copied().unwrap_or(usize::MAX));
    rows.into_iter().map(|(_, row)| row).collect()
}

/// True when a diesel error is a unique-constraint violation (the same on both backends).
/// PostgreSQL's SQLSTATE 57014 for a statement past its `statement_timeout` (or a read's
/// deadline): the database is busy, so the client is told to retry (503), not that we failed.
/// diesel reports it only by its message.
fn is_statement_timeout(message: &str) -> bool {
    message.starts_with("canceling statement due to statement timeout")
}

/// How many times in all `Database::write_retrying` runs a transaction that lost a conflict.
pub const WRITE_ATTEMPTS: u32 = 4;

/// Errors that may say "this transaction lost a conflict with another; run it again".
pub trait MayConflict {
    fn is_conflict(&self) -> bool;
}

impl MayConflict for diesel::result::Error {
    /// SQLSTATE 40001 (diesel's `SerializationFailure`) or 40P01, which diesel reports only by
    /// its message (the server's `lc_messages` is English unless configured otherwise).
    fn is_conflict(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
            Error::DatabaseError(_, info) => info.message().starts_with("deadlock detected"),
            _ => false,
        }
    }
}

impl MayConflict for StoreError {
    fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Query(err) if err.is_conflict())
    }
}

/// Runs `attempt` until it succeeds, fails otherwise than by a conflict, or `attempts` ran.
fn retry_conflicts<T, E: MayConflict>(
    attempts: u32,
    mut attempt: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let mut run = 1;
    loop {
        match attempt() {
            Err(err) if err.is_conflict() && run < attempts => {
                tracing::debug!(run, "transaction lost a conflict; running it again");
                run += 1;
            }
            done => return done,
        }
    }
}

pub fn is_unique_violation(err: &diesel::result::Error) -> bool {
    matches!(
        err,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

#[cfg(test)]
mod tests {
    use super::{MayConflict, is_out_of_slots, retry_conflicts, with_connection_options};

    #[derive(Debug, PartialEq)]
    enum Outcome {
        Conflict,
        Other,
    }

    impl MayConflict for Outcome {
        fn is_conflict(&self) -> bool {
            *self == Outcome::Conflict
        }
    }

    #[test]
    fn conflicts_are_retried_a_bounded_number_of_times() {
        let mut runs = 0;
        let result: Result<(), Outcome> = retry_conflicts(4, || {
            runs += 1;
            Err(Outcome::Conflict)
        });
        assert_eq!((result, runs), (Err(Outcome::Conflict), 4));

        let mut runs = 0;
        let result = retry_conflicts(4, || {
            runs += 1;
            if runs < 3 { Err(Outcome::Conflict) } else { Ok(runs) }
        });
        assert_eq!(result, Ok(3));

        let mut runs = 0;
        let result: Result<(), Outcome> = retry_conflicts(4, || {
            runs += 1;
            Err(Outcome::Other)
        });
        assert_eq!((result, runs), (Err(Outcome::Other), 1));
    }

    #[test]
    fn a_transaction_that_loses_a_deadlock_runs_again() {
        use super::{DbConnection, StoreError};
        use diesel::RunQueryDsl;
        use diesel::connection::SimpleConnection;
        let scratch = crate::db::scratch::ScratchDatabase::new("deadlock", 2);
        let db = &scratch.db;
        if !matches!(*db.conn().unwrap(), DbConnection::Postgres(_)) {
            return; // SQLite has one writer at a time: no deadlock to lose.
        }
        db.conn()
            .unwrap()
            .batch_execute("CREATE TABLE pair (id INT PRIMARY KEY, n INT); INSERT INTO pair VALUES (1, 0), (2, 0);")
            .unwrap();
        let barrier = std::sync::Barrier::new(2);
        // Each locks one row, waits for the other to lock the other, then wants that one too.
        let crosswise = |first: i32, second: i32| {
            let mut runs = 0;
            let done = db.write_retrying(|conn| {
                runs += 1;
                let bump = |conn: &mut DbConnection, id: i32| {
                    diesel::sql_query(format!("UPDATE pair SET n = n + 1 WHERE id = {id}"))
                        .execute(conn)
                };
                bump(conn, first)?;
                if runs == 1 {
                    barrier.wait();
                }
                bump(conn, second)?;
                Ok::<_, StoreError>(())
            });
            (done.is_ok(), runs)
        };
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| crosswise(1, 2));
            let b = s.spawn(|| crosswise(2, 1));
            (a.join().unwrap(), b.join().unwrap())
        });
        assert!(a.0 && b.0, "both committed: {a:?} {b:?}");
        // The deadlock's loser ran again (under load it may lose once more; still bounded).
        assert!(a.1 + b.1 >= 3, "the loser ran again: {a:?} {b:?}");
        #[derive(diesel::QueryableByName)]
        struct Sum {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let sum: Sum = diesel::sql_query("SELECT CAST(SUM(n) AS BIGINT) AS n FROM pair")
            .get_result(&mut *db.conn().unwrap())
            .unwrap();
        assert_eq!(sum.n, 4, "each committed its two updates exactly once");
    }

    #[test]
    fn a_server_out_of_connection_slots_is_not_down() {
        let refused = |text: &str| {
            diesel::r2d2::Error::ConnectionError(diesel::ConnectionError::BadConnection(
                text.to_owned(),
            ))
        };
        assert!(is_out_of_slots(&refused("FATAL:  sorry, too many clients already")));
        assert!(is_out_of_slots(&refused("FATAL:  too many connections for database \"x\"")));
        assert!(is_out_of_slots(&refused(
            "FATAL:  remaining connection slots are reserved for superuser"
        )));
        assert!(!is_out_of_slots(&refused("connection to server failed: Connection refused")));
        assert!(!is_out_of_slots(&refused("timeout expired")));
    }

    #[test]
    fn postgres_urls_get_a_connect_timeout_and_keepalives_unless_they_set_them() {
        let url = with_connection_options("postgres://u@db/scimd", 5);
        assert!(url.starts_with("postgres://u@db/scimd?connect_timeout=5&keepalives=1&"), "{url}");
        assert!(url.contains("tcp_user_timeout=30000"), "{url}");
        let url = with_connection_options("postgres://u@db/scimd?sslmode=require", 5);
        assert!(url.starts_with("postgres://u@db/scimd?sslmode=require&connect_timeout=5&"));
        let own = "postgres://u@db/scimd?connect_timeout=9&keepalives=0";
        assert_eq!(with_connection_options(own, 5), own);
        assert!(!with_connection_options("postgres://u@db/x", 0).contains("connect_timeout"));
    }
}
