//! Group commit for SQLite's single writer. Writers queue; the first of a burst leads: it runs
//! the queued writers' closures one after another in one transaction, each in a savepoint of its
//! own, and commits once for all of them. A burst of creates pays for one commit's page writes
//! instead of one each, and the write lock passes from writer to writer without a thread switch
//! (each waiting writer sleeps once, until its group ended). A writer's closure still fails alone
//! (its savepoint is rolled back, the group goes on), and a writer is answered only after the commit
//! that holds its changes, so an acknowledged write is exactly as durable as before. PostgreSQL has
//! concurrent writers and takes none of this.
//!
//! The leader runs another thread's closure, which borrows from that thread's stack: the writer
//! waiting in [`GroupCommit::write`] does not return before the leader signalled that it is done
//! with it, as a scoped thread does. That hand-over is the one `unsafe` here.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, Thread};

use diesel::connection::{AnsiTransactionManager, Connection, TransactionManager};

use super::{DbConnection, PooledConnection, StoreError, credential_epoch, repo};

/// Writers in one group at most: the first of them waits for the others' work before its answer.
const MAX_GROUP: usize = 32;

type Transactions = <DbConnection as Connection>::TransactionManager;

#[derive(Default)]
pub struct GroupCommit {
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    /// Writers whose closures have not run yet, oldest first.
    waiting: VecDeque<Queued>,
    /// A writer is leading: the others only queue. Never set with `waiting` empty for long: a
    /// leader that stops hands the lead to the oldest waiting writer.
    leading: bool,
}

/// What a waiting writer is woken with.
const WAITING: u8 = 0;
const DONE: u8 = 1;
const LEAD: u8 = 2;

/// How a waiting writer is woken; shared, so that the leader can wake it after it let go of the
/// writer's stack.
struct Signal {
    state: AtomicU8,
    thread: Thread,
}

impl Signal {
    fn wake(&self, to: u8) {
        self.state.store(to, Ordering::Release);
        self.thread.unpark();
    }

    /// Sleeps until woken with something other than `WAITING`, and takes it.
    fn wait(&self) -> u8 {
        loop {
            match self.state.swap(WAITING, Ordering::Acquire) {
                WAITING => thread::park(),
                woken => return woken,
            }
        }
    }
}

/// A writer in the queue: its closure, on its own thread's stack, and how to wake it.
struct Queued {
    job: *const (dyn Job + 'static),
    signal: Arc<Signal>,
}

// SAFETY: the job is touched by one thread at a time: the leader from taking it off the queue
// until it wakes the writer with `DONE`, the writer itself afterwards (the `Release` store and
// `Acquire` swap of `Signal::state` order the two). Its closure and result are `Send`.
unsafe impl Send for Queued {}

impl Queued {
    /// Runs the closure in a savepoint; false when the transaction is no longer usable.
    fn run(&self, conn: &mut DbConnection) -> bool {
        // SAFETY: see `impl Send for Queued`; the writer is still waiting for `DONE`.
        unsafe { (*self.job).run(conn) }
    }

    /// Gives the writer its answer (`group`: how its group ended) and lets it return.
    fn settle(self, group: Result<(), &str>) {
        // SAFETY: as in `run`; nothing touches the job once the writer is woken.
        unsafe { (*self.job).settle(group) };
        self.signal.wake(DONE);
    }

    /// Answers a writer whose closure never ran: no transaction could be opened.
    fn refuse(self, why: StoreError) {
        // SAFETY: as in `settle`.
        unsafe { (*self.job).refuse(why) };
        self.signal.wake(DONE);
    }
}

/// A writer's closure and, once run, its outcome, seen through its types.
trait Job {
    fn run(&self, conn: &mut DbConnection) -> bool;
    fn settle(&self, group: Result<(), &str>);
    fn refuse(&self, why: StoreError);
}

/// What a closure run on the leader's thread left there for its own thread: events to sequence, a
/// credential revoked (`Database::write` acts on both after the commit).
#[derive(Default)]
struct Marks {
    events: bool,
    revoking: bool,
}

impl Marks {
    fn take() -> Marks {
        Marks { events: repo::events::take_inserted(), revoking: credential_epoch::take_revoking() }
    }

    fn restore(self) {
        if self.events {
            repo::events::mark_inserted();
        }
        if self.revoking {
            credential_epoch::mark_revoking();
        }
    }
}

struct Writer<F, T, E> {
    slot: UnsafeCell<Slot<F, T, E>>,
}

struct Slot<F, T, E> {
    f: Option<F>,
    outcome: Option<thread::Result<Result<T, E>>>,
    marks: Marks,
}

impl<F, T, E> Job for Writer<F, T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error> + From<StoreError>,
{
    fn run(&self, conn: &mut DbConnection) -> bool {
        // SAFETY: only the leader touches the slot while the writer waits.
        let slot = unsafe { &mut *self.slot.get() };
        let Some(f) = slot.f.take() else { return true };
        let mut kept = false;
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            let (result, intact) = in_savepoint(conn, f);
            kept = intact;
            result
        }));
        slot.marks = Marks::take();
        // A panic left its savepoint open; a savepoint that could not be released or rolled back
        // to, or a transaction diesel saw break, ends the group either way.
        let usable = outcome.is_ok()
            && kept
            && Transactions::transaction_manager_status_mut(conn).transaction_depth().is_ok();
        slot.outcome = Some(outcome);
        usable
    }

    fn settle(&self, group: Result<(), &str>) {
        // SAFETY: as in `run`.
        let slot = unsafe { &mut *self.slot.get() };
        if let (Err(why), Some(Ok(Ok(_)))) = (group, &slot.outcome) {
            let lost =
                StoreError::Invariant(format!("the transaction of this write failed: {why}"));
            slot.outcome = Some(error_of(lost));
        }
    }

    fn refuse(&self, why: StoreError) {
        // SAFETY: as in `run`.
        let slot = unsafe { &mut *self.slot.get() };
        slot.f = None;
        slot.outcome = Some(error_of(why));
    }
}

/// Runs `f` in a savepoint of the group's transaction: released when `f` succeeds, rolled back to
/// when it fails, so a failing writer undoes only its own changes. The three statements are
/// prepared once per connection (diesel's nested `transaction` sends its savepoints as text,
/// parsed anew every time: a tenth of a small write's instructions). Also answers whether the
/// transaction is still as the next writer expects it.
fn in_savepoint<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> (Result<T, E>, bool)
where
    E: From<diesel::result::Error>,
{
    if let Err(err) = savepoint::run(conn, savepoint::Statement::Open) {
        return (Err(err.into()), true);
    }
    match f(conn) {
        Ok(value) => match savepoint::run(conn, savepoint::Statement::Release) {
            Ok(()) => (Ok(value), true),
            Err(err) => (Err(err.into()), false),
        },
        Err(err) => {
            let undone = savepoint::run(conn, savepoint::Statement::RollBackTo)
                .and_then(|()| savepoint::run(conn, savepoint::Statement::Release));
            (Err(err), undone.is_ok())
        }
    }
}

/// A writer's savepoint statements, each a type of its own so diesel keeps it prepared.
mod savepoint {
    use diesel::prelude::*;
    use diesel::query_builder::{AstPass, QueryFragment, QueryId};
    use diesel::sqlite::Sqlite;

    use crate::db::DbConnection;

    macro_rules! statement {
        ($name:ident, $sql:literal) => {
            #[derive(Debug, Clone, Copy, QueryId)]
            pub struct $name;

            impl $name {
                const SQL: &'static str = $sql;
            }

            impl QueryFragment<Sqlite> for $name {
                fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
                    out.push_sql(Self::SQL);
                    Ok(())
                }
            }

            impl RunQueryDsl<SqliteConnection> for $name {}
        };
    }

    statement!(Open, "SAVEPOINT writer");
    statement!(Release, "RELEASE writer");
    statement!(RollBackTo, "ROLLBACK TO writer");

    #[derive(Debug, Clone, Copy)]
    pub enum Statement {
        Open,
        Release,
        RollBackTo,
    }

    /// Group commit runs on SQLite only; on another backend the same statements go as text.
    pub fn run(conn: &mut DbConnection, statement: Statement) -> QueryResult<()> {
        let DbConnection::Sqlite(sqlite) = conn else {
            let sql = match statement {
                Statement::Open => Open::SQL,
                Statement::Release => Release::SQL,
                Statement::RollBackTo => RollBackTo::SQL,
            };
            return diesel::connection::SimpleConnection::batch_execute(conn, sql);
        };
        match statement {
            Statement::Open => Open.execute(sqlite),
            Statement::Release => Release.execute(sqlite),
            Statement::RollBackTo => RollBackTo.execute(sqlite),
        }
        .map(drop)
    }
}

/// The writer's error for a store failure; a panic in its conversion goes to the writer too, so
/// the leader always gets to wake every writer it holds.
fn error_of<T, E: From<StoreError>>(why: StoreError) -> thread::Result<Result<T, E>> {
    panic::catch_unwind(AssertUnwindSafe(|| Err(E::from(why))))
}

impl GroupCommit {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in a group's transaction (each group opened with `open`) and returns once that
    /// transaction ended: `f`'s own result if it committed. A panic in `f` is resumed here.
    pub fn write<T, E>(
        &self,
        open: impl Fn() -> Result<PooledConnection, StoreError>,
        f: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send,
    ) -> Result<T, E>
    where
        T: Send,
        E: From<diesel::result::Error> + From<StoreError> + Send,
    {
        let writer = Writer {
            slot: UnsafeCell::new(Slot { f: Some(f), outcome: None, marks: Marks::default() }),
        };
        let signal = Arc::new(Signal { state: AtomicU8::new(WAITING), thread: thread::current() });
        let job: *const (dyn Job + '_) = &writer;
        // SAFETY: only the lifetime is erased. The leader uses the pointer until it wakes this
        // writer with `DONE`, and this function does not return (nor unwind) before that.
        let job = unsafe {
            std::mem::transmute::<*const (dyn Job + '_), *const (dyn Job + 'static)>(job)
        };
        let mut lead = {
            let mut queue = self.lock();
            queue.waiting.push_back(Queued { job, signal: signal.clone() });
            !std::mem::replace(&mut queue.leading, true)
        };
        loop {
            if lead {
                self.lead(&open, &signal);
            }
            match signal.wait() {
                DONE => break,
                _ => lead = true,
            }
        }
        let slot = writer.slot.into_inner();
        slot.marks.restore();
        match slot.outcome {
            Some(Ok(result)) => result,
            Some(Err(panicked)) => panic::resume_unwind(panicked),
            None => Err(StoreError::Invariant("a queued write was never run".into()).into()),
        }
    }

    /// Runs groups until the writer of `own` is done, then hands the lead to the oldest writer
    /// still waiting (or gives it up when none is). Nothing unwinds out of here: a panic outside
    /// the writers' closures fails the group it happened in, and the lead goes on.
    fn lead(&self, open: &dyn Fn() -> Result<PooledConnection, StoreError>, own: &Signal) {
        while own.state.load(Ordering::Acquire) == WAITING {
            let mut ran = Vec::new();
            let group = panic::catch_unwind(AssertUnwindSafe(|| self.run_group(open, &mut ran)));
            let ended = match &group {
                Ok(Ok(())) => Ok(()),
                Ok(Err(why)) => Err(why.as_str()),
                Err(_) => Err("the group's leader panicked"),
            };
            for writer in ran {
                writer.settle(ended);
            }
        }
        let mut queue = self.lock();
        match queue.waiting.front() {
            Some(next) => next.signal.wake(LEAD),
            None => queue.leading = false,
        }
    }

    /// Opens a transaction, runs waiting writers in it (at most `MAX_GROUP`, moved to `ran`) and
    /// ends it: committed, or rolled back with why.
    fn run_group(
        &self,
        open: &dyn Fn() -> Result<PooledConnection, StoreError>,
        ran: &mut Vec<Queued>,
    ) -> Result<(), String> {
        let mut conn = match begin(open) {
            Ok(conn) => conn,
            Err(err) => {
                // Every writer waiting now would wait for the same database: all are refused.
                let refused: Vec<Queued> = self.lock().waiting.drain(..).collect();
                let why = err.to_string();
                let unavailable = err.is_unavailable();
                let mut first = Some(err);
                for writer in refused {
                    let err = first.take().unwrap_or_else(|| match unavailable {
                        true => StoreError::Down,
                        false => StoreError::Invariant(format!("no write transaction: {why}")),
                    });
                    writer.refuse(err);
                }
                return Ok(());
            }
        };
        let mut usable = true;
        while usable && ran.len() < MAX_GROUP {
            let Some(next) = self.lock().waiting.pop_front() else { break };
            // In `ran` before it runs: whatever happens next, its writer is answered.
            ran.push(next);
            usable = ran.last().is_none_or(|writer| writer.run(&mut conn));
        }
        let ended = match usable {
            true => Transactions::commit_transaction(&mut conn).map_err(|e| e.to_string()),
            false => Err("a writer of the group panicked or broke its transaction".to_owned()),
        };
        if ended.is_err() {
            let _ = Transactions::rollback_transaction(&mut conn);
        }
        ended
    }
}

/// Opens a group's transaction with SQLite's write lock taken (`BEGIN IMMEDIATE`): a deferred
/// transaction that reads first and writes later fails at once (SQLITE_BUSY, no waiting) when
/// another process (the CLI beside a running server) committed in between; taking the lock first
/// waits out the busy timeout instead, and writes no page for it.
fn begin(
    open: &dyn Fn() -> Result<PooledConnection, StoreError>,
) -> Result<PooledConnection, StoreError> {
    let mut conn = open()?;
    match &mut *conn {
        DbConnection::Sqlite(sqlite) => {
            AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?
        }
        other => Transactions::begin_transaction(other)?,
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use diesel::RunQueryDsl;

    use crate::db::scratch::ScratchDatabase;
    use crate::db::{Database, StoreError};

    fn insert(db: &Database, n: i64) -> Result<(), StoreError> {
        db.write(|conn| {
            diesel::sql_query(format!("INSERT INTO group_commit_test (n) VALUES ({n})"))
                .execute(conn)
                .map(drop)
                .map_err(StoreError::from)
        })
    }

    fn numbers(db: &Database) -> Vec<i64> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = db.conn().unwrap();
        let rows: Vec<Row> = diesel::sql_query("SELECT n FROM group_commit_test ORDER BY n")
            .load(&mut *conn)
            .unwrap();
        rows.into_iter().map(|row| row.n).collect()
    }

    fn scratch() -> ScratchDatabase {
        let scratch = ScratchDatabase::new("group_commit", 8);
        scratch
            .db
            .write(|conn| {
                diesel::sql_query("CREATE TABLE group_commit_test (n BIGINT NOT NULL)")
                    .execute(conn)
                    .map_err(StoreError::from)
            })
            .unwrap();
        scratch
    }

    /// Threads writing at once, as concurrent requests do: every write is there afterwards, and
    /// each was there when its `write` returned (read back on another connection at once).
    #[test]
    fn concurrent_writers_are_each_committed_when_answered() {
        let scratch = scratch();
        std::thread::scope(|s| {
            for t in 0..8 {
                let db = &scratch.db;
                s.spawn(move || {
                    for i in 0..40 {
                        let n = t * 1000 + i;
                        insert(db, n).unwrap();
                        assert!(numbers(db).contains(&n), "{n} was answered before it committed");
                    }
                });
            }
        });
        assert_eq!(numbers(&scratch.db).len(), 320);
    }

    /// What a closure marks on the thread that ran it (the leader's, for most writers of a group)
    /// reaches its own writer: every write that revoked bumps the node's credential epoch once,
    /// and no other write does.
    #[test]
    fn each_writers_marks_reach_its_own_write() {
        let scratch = scratch();
        let before = scratch.db.credential_epoch.current();
        std::thread::scope(|s| {
            for t in 0..8_i64 {
                let db = &scratch.db;
                s.spawn(move || {
                    for i in 0..40 {
                        let revoking = (t + i) % 4 == 0;
                        let epoch = db.credential_epoch.current();
                        db.write(|conn| {
                            if revoking {
                                crate::db::credential_epoch::mark_revoking();
                            }
                            diesel::sql_query("INSERT INTO group_commit_test VALUES (1)")
                                .execute(conn)
                                .map_err(StoreError::from)
                        })
                        .unwrap();
                        if revoking {
                            assert!(
                                db.credential_epoch.current() > epoch,
                                "writer {t}: not bumped"
                            );
                        }
                        assert!(!crate::db::credential_epoch::take_revoking(), "a mark was left");
                    }
                });
            }
        });
        assert_eq!(scratch.db.credential_epoch.current() - before, 8 * 10);
    }

    /// A writer that fails loses only its own changes, whoever it shared a transaction with.
    #[test]
    fn a_failing_writer_changes_nothing_and_the_others_commit() {
        let scratch = scratch();
        std::thread::scope(|s| {
            for t in 0..6_i64 {
                let db = &scratch.db;
                s.spawn(move || {
                    for i in 0..30 {
                        let n = t * 1000 + i;
                        let failed: Result<(), StoreError> = db.write(|conn| {
                            diesel::sql_query(format!(
                                "INSERT INTO group_commit_test VALUES ({n})"
                            ))
                            .execute(conn)?;
                            match n % 3 {
                                0 => Err(StoreError::Invariant("refused".into())),
                                _ => Ok(()),
                            }
                        });
                        assert_eq!(failed.is_err(), n % 3 == 0);
                    }
                });
            }
        });
        let kept = numbers(&scratch.db);
        assert_eq!(kept.len(), 6 * 20);
        assert!(kept.iter().all(|n| n % 3 != 0), "{kept:?}");
    }

    /// A writer that finds no free connection (or the database down) is refused, and the writers
    /// after it carry on.
    #[test]
    fn a_writer_without_a_connection_frees_the_turn() {
        let scratch = ScratchDatabase::new("group_commit_checkout", 1);
        let db = scratch.db.clone().with_checkout_timeout(std::time::Duration::from_millis(50));
        let held = db.conn().unwrap();
        let refused: Result<(), StoreError> = db.write(|_| Ok(()));
        assert!(refused.is_err());
        drop(held);
        let done: Result<(), StoreError> = db.write(|_| Ok(()));
        assert!(done.is_ok(), "{done:?}");
    }

    /// A writer whose closure panics ends its group (rolled back, the others of it told so), and
    /// the writers after it carry on: nobody waits for ever.
    #[test]
    fn a_panicking_writer_hangs_nobody() {
        let scratch = scratch();
        let outcomes: Vec<Result<(), StoreError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8_i64)
                .map(|t| {
                    let db = &scratch.db;
                    s.spawn(move || match t {
                        3 => {
                            let panicked =
                                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                    let _: Result<(), StoreError> = db.write(|_| panic!("boom"));
                                }));
                            assert!(panicked.is_err());
                            Ok(())
                        }
                        _ => insert(db, t),
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        // Writers that shared the panicking one's transaction were told it was rolled back.
        let kept = numbers(&scratch.db);
        for (t, outcome) in outcomes.iter().enumerate() {
            let t = t as i64;
            if t != 3 {
                assert_eq!(outcome.is_ok(), kept.contains(&t), "writer {t}: {outcome:?}");
            }
        }
        insert(&scratch.db, 100).unwrap();
        assert!(numbers(&scratch.db).contains(&100));
    }
}
