//! Housekeeping: every growing table's retention, run by one thread per node every
//! `RUN_EVERY`, one node at a time (a PostgreSQL advisory lock; SQLite's writer gate), counted in
//! `/metrics`. The event log (`delivery::sequencer`), the request log (`inspector`) and webhook
//! attempts (`webhooks::worker`) keep their own retention, next to the thread that writes them.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::repo::{client_credentials, retention, throttle};
use crate::db::{Database, StoreError};
use crate::service::accounts::throttle::WINDOW as THROTTLE_WINDOW;
use crate::service::oauth::tenant_clients;

/// How often a node tries to run housekeeping.
const RUN_EVERY: Duration = Duration::from_secs(300);
/// An expired code is kept a day longer: a late replay is still recognised as reuse.
const CODE_AFTER_EXPIRY_MS: i64 = 86_400_000;
/// Rate-limit windows are a minute; older rows decide nothing.
const RATE_WINDOW_KEEP_MS: i64 = 10 * 60_000;
/// Audit events deleted per transaction.
const AUDIT_BATCH: i64 = 5_000;

/// What is kept, from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Refresh tokens are kept `refresh_idle_ttl` after they were issued: older ones can only be
    /// refused (idle-expired had they stayed live), so what reuse detection needs is a token
    /// retired within that time (presenting one revokes the grant); after it, it is refused as
    /// unknown. The lineage view reads the audit trail for older generations.
    pub refresh_idle_ttl_ms: i64,
    /// `audit_retention_days`; `None` keeps the trail forever.
    pub audit_retention_ms: Option<i64>,
}

impl Policy {
    pub fn of(settings: &Settings) -> Policy {
        Policy {
            refresh_idle_ttl_ms: settings.refresh_idle_ttl_ms(),
            audit_retention_ms: (settings.audit_retention_days > 0).then(|| {
                i64::try_from(settings.audit_retention_days)
                    .unwrap_or(i64::MAX / 86_400_000)
                    .saturating_mul(86_400_000)
            }),
        }
    }
}

/// Rows one run deleted, by table.
pub type Pruned = Vec<(&'static str, usize)>;

/// One run at `now`: `None` when another node holds the housekeeping lock. Counted in
/// `db.prune_counts()` after each commit.
pub fn run_once(db: &Database, now: i64, policy: &Policy) -> Result<Option<Pruned>, StoreError> {
    let pruned = db.write(|conn| {
        if !retention::try_lock(conn)? {
            return Ok::<_, StoreError>(None);
        }
        let (web, operators) = retention::sessions(conn, now)?;
        Ok(Some(vec![
            ("oauth_codes", retention::codes(conn, now - CODE_AFTER_EXPIRY_MS)?),
            ("web_sessions", web),
            ("operator_sessions", operators),
            ("login_throttle", throttle::prune(conn, now - THROTTLE_WINDOW, now)?),
            ("rate_limits", retention::rate_limits(conn, now - RATE_WINDOW_KEEP_MS)?),
            (
                "refresh_tokens",
                retention::stale_refresh_tokens(
                    conn,
                    now.saturating_sub(policy.refresh_idle_ttl_ms),
                )?,
            ),
            ("revoked_access_tokens", retention::revoked_access_tokens(conn, now)?),
            ("used_assertions", client_credentials::prune_used_assertions(conn, now)?),
            (
                "client_secret_expiries_recorded",
                tenant_clients::record_expiries(conn, db.audit_counts(), now)?,
            ),
        ]))
    })?;
    let Some(mut pruned) = pruned else {
        db.prune_counts().ran("skipped");
        return Ok(None);
    };
    if let Some(keep) = policy.audit_retention_ms {
        let cutoff = now.saturating_sub(keep);
        let mut audit = 0;
        loop {
            let n = db.write(|conn| {
                if !retention::try_lock(conn)? {
                    return Ok::<_, StoreError>(0);
                }
                Ok(retention::audit_events(conn, cutoff, AUDIT_BATCH)?)
            })?;
            audit += n;
            if (n as i64) < AUDIT_BATCH {
                break;
            }
        }
        pruned.push(("audit_events", audit));
    }
    for (table, n) in &pruned {
        db.prune_counts().add(table, *n);
    }
    db.prune_counts().ran("done");
    Ok(Some(pruned))
}

/// This node's housekeeping thread; it ends when the handle is dropped.
pub struct Housekeeper {
    _stop: mpsc::Sender<()>,
}

impl Housekeeper {
    pub fn start(db: Database, clock: Arc<dyn Clock>, policy: Policy) -> Housekeeper {
        let (stop, stopped) = mpsc::channel::<()>();
        let spawned = std::thread::Builder::new().name("housekeeping".into()).spawn(move || {
            loop {
                match stopped.recv_timeout(RUN_EVERY) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
                match run_once(&db, clock.now(), &policy) {
                    Ok(Some(pruned)) if pruned.iter().any(|(_, n)| *n > 0) => {
                        tracing::info!(?pruned, "housekeeping");
                    }
                    Ok(_) => {}
                    Err(err) => {
                        db.prune_counts().ran("failed");
                        tracing::warn!(error = %err, "housekeeping failed");
                    }
                }
            }
        });
        if let Err(err) = spawned {
            tracing::error!(error = %err, "cannot start housekeeping");
        }
        Housekeeper { _stop: stop }
    }
}
