//! This node's event worker: gives committed events their feed positions as soon as a local
//! writer rings (and every `IDLE_POLL` for other nodes' events), publishes the head for
//! long-polling readers, and applies the event log's retention. Every node runs one; on
//! PostgreSQL they take turns through an advisory lock, so adding nodes never reorders the feed.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::clock::Clock;
use crate::db::pulse::Pulse;
use crate::db::repo::events;
use crate::db::{Database, StoreError};

/// How long the worker sleeps when nobody rings: the delay for events written on other nodes.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// How long the worker lets commits gather after a ring before it sequences them.
const GATHER: Duration = Duration::from_millis(10);
/// Events given positions per transaction.
const BATCH: i64 = 1_000;
/// How often retention runs.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// After a storage error, wait this long before trying again (and log at most this often).
const BACKOFF: Duration = Duration::from_secs(1);

/// What the rest of the node sees of its worker: the feed head, and a handle that stops the
/// thread when the last clone is dropped.
#[derive(Clone)]
pub struct EventWorker {
    head: watch::Receiver<i64>,
    _alive: Arc<Stop>,
}

/// Dropped with the last clone of the worker: wakes the thread so it sees it must end now,
/// rather than finishing its idle wait first.
struct Stop(Arc<Pulse>);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.ring();
    }
}

impl EventWorker {
    /// Starts the worker thread; `retention_ms` is how long events are kept.
    pub fn start(db: Database, clock: Arc<dyn Clock>, retention_ms: i64) -> EventWorker {
        let initial = db.read(|conn| Ok::<_, StoreError>(events::head(conn)?)).unwrap_or(0);
        let (sender, head) = watch::channel(initial);
        let alive = Arc::new(Stop(db.events_pulse().clone()));
        let weak = Arc::downgrade(&alive);
        let spawned = std::thread::Builder::new()
            .name("event-sequencer".into())
            .spawn(move || run(&db, clock.as_ref(), retention_ms, &sender, &weak));
        if let Err(err) = spawned {
            tracing::error!(error = %err, "cannot start the event sequencer");
        }
        EventWorker { head, _alive: alive }
    }

    /// A receiver that changes whenever this node has sequenced new events.
    pub fn head(&self) -> watch::Receiver<i64> {
        self.head.clone()
    }
}

fn run(
    db: &Database,
    clock: &dyn Clock,
    retention_ms: i64,
    head: &watch::Sender<i64>,
    alive: &Weak<Stop>,
) {
    let mut last_prune = Instant::now();
    while alive.upgrade().is_some() {
        let sequenced = db.write(|conn| -> Result<_, StoreError> {
            let sequenced = events::sequence(conn, BATCH)?;
            Ok((sequenced, events::head(conn)?))
        });
        match sequenced {
            Ok((sequenced, at)) => {
                if sequenced > 0 {
                    head.send_replace(at);
                }
                if sequenced as i64 == BATCH {
                    continue;
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "event sequencing failed; retrying");
                std::thread::sleep(BACKOFF);
                continue;
            }
        }
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = Instant::now();
            match apply_retention(db, clock.now(), retention_ms) {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "event log retention"),
                Err(err) => tracing::warn!(error = %err, "event log retention failed"),
            }
        }
        if db.events_pulse().wait(IDLE_POLL) {
            // Let the writes of a burst gather: one sequencing transaction for many commits
            // keeps the sequencer off the writers' lock under load.
            std::thread::sleep(GATHER);
        }
    }
}

/// Deletes the events older than `retention_ms` (a prefix of the feed); returns how many.
pub fn apply_retention(db: &Database, now: i64, retention_ms: i64) -> Result<usize, StoreError> {
    let cutoff = now.saturating_sub(retention_ms);
    db.write(|conn| Ok::<_, StoreError>(events::prune(conn, cutoff)?))
}
