//! The request inspector: what each tenant's IdP sent and what it got back. Requests are queued
//! by the HTTP layer and written off the request path by one thread per node, in batches; the
//! same thread applies retention (by age, and by count per tenant). A crash loses at most the
//! queue (about a second of diagnostics), never SCIM data.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::clock::Clock;
use crate::db::repo::request_log::{self, HourCount, RequestFilter, RequestRow};
use crate::db::{Database, StoreError};

mod capture;

pub use capture::CapturedRequest;

/// An hour, in milliseconds: the fleet dashboard's bucket.
pub const HOUR_MS: i64 = 3_600_000;
/// Hourly totals kept, in hours.
const HOURLY_KEPT: i64 = 48;

/// A GET that found nothing is how IdPs look before they create: not an error to chart.
fn is_lookup_miss(row: &RequestRow) -> bool {
    row.status == 404 && row.method == "GET"
}

/// How often the queue is written, and how many requests go in one transaction at most.
const FLUSH_EVERY: Duration = Duration::from_millis(500);
const FLUSH_CHUNK: usize = 1_024;
/// How often retention runs (for the tenants written since), and how often for every tenant.
/// A tenant that has had a tenth of its count written since its last pruning is pruned after
/// that flush, so a busy tenant exceeds its count by at most that tenth, in small steady deletes.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// Requests queued at most, and bytes of bodies; beyond either the oldest are dropped (and
/// counted), so a database that cannot keep up never costs memory without bound.
const QUEUE_MAX: usize = 10_000;
const QUEUE_MAX_BYTES: usize = 32 * 1024 * 1024;
/// This node's queue of requests to record.
pub struct Inspector {
    queue: Mutex<Queue>,
    dropped: AtomicU64,
    /// Rows written per tenant since its last retention run: only these tenants can be over
    /// their count.
    written: Mutex<HashMap<String, i64>>,
    /// The longest body kept, in bytes.
    body_limit: usize,
}

#[derive(Default)]
struct Queue {
    requests: VecDeque<CapturedRequest>,
    bytes: usize,
}

impl Inspector {
    pub fn new(body_limit: usize) -> Inspector {
        Inspector {
            queue: Mutex::default(),
            dropped: AtomicU64::new(0),
            written: Mutex::default(),
            body_limit,
        }
    }

    /// Queues a request: the request path's whole share of the inspector's work.
    pub fn push(&self, request: CapturedRequest) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        queue.bytes += request.size();
        queue.requests.push_back(request);
        while queue.requests.len() > QUEUE_MAX || queue.bytes > QUEUE_MAX_BYTES {
            let Some(oldest) = queue.requests.pop_front() else { break };
            queue.bytes -= oldest.size();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Requests dropped because the queue was full, since start.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The oldest `most` requests queued, taken off the queue.
    fn take(&self, most: usize) -> Vec<CapturedRequest> {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let most = most.min(queue.requests.len());
        let taken: Vec<CapturedRequest> = queue.requests.drain(..most).collect();
        queue.bytes -= taken.iter().map(CapturedRequest::size).sum::<usize>();
        taken
    }

    fn queued(&self) -> usize {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).requests.len()
    }

    /// Writes what is queued now (tests call it to read their own writes), a chunk per
    /// transaction: a chunk's rows and segments are small enough to reuse the memory the chunk
    /// before freed, where one flush of a busy half second would touch megabytes of fresh pages.
    pub fn flush(&self, db: &Database) -> Result<usize, StoreError> {
        let mut due = self.queued();
        let mut written = 0;
        while due > 0 {
            let taken = self.take(due.min(FLUSH_CHUNK));
            if taken.is_empty() {
                break;
            }
            due -= taken.len();
            written += self.write_chunk(db, taken)?;
        }
        Ok(written)
    }

    fn write_chunk(&self, db: &Database, taken: Vec<CapturedRequest>) -> Result<usize, StoreError> {
        let rows: Vec<RequestRow> =
            taken.into_iter().map(|request| request.into_row(self.body_limit)).collect();
        let hourly = hourly_counts(&rows);
        // Packed before the write: under the single writer each segment is only copied.
        let segments = request_log::pack(&rows);
        db.write(|conn| {
            request_log::insert(conn, &segments)?;
            request_log::add_hourly(conn, &hourly)?;
            Ok::<_, StoreError>(())
        })?;
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        for ((tenant, _), count) in hourly {
            *written.entry(tenant).or_default() += count.requests;
        }
        Ok(rows.len())
    }

    /// The tenants with at least `rows` written since they were last taken, taken now.
    fn take_written(&self, rows: i64) -> Vec<String> {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let due: Vec<String> =
            written.iter().filter(|(_, n)| **n >= rows).map(|(t, _)| t.clone()).collect();
        for tenant in &due {
            written.remove(tenant);
        }
        due
    }
}

/// Requests and errors by tenant and hour. A busy flush is mostly one tenant's requests in one
/// hour after another, so a run of them is counted before its key is looked up (and copied).
fn hourly_counts(rows: &[RequestRow]) -> HashMap<(String, i64), HourCount> {
    let mut hourly: HashMap<(String, i64), HourCount> = HashMap::new();
    let mut add = |tenant: &str, hour: i64, run: HourCount| {
        let count =
            hourly.entry((tenant.to_owned(), hour)).or_insert(HourCount { requests: 0, errors: 0 });
        count.requests += run.requests;
        count.errors += run.errors;
    };
    let mut run: Option<(&str, i64, HourCount)> = None;
    for row in rows {
        let hour = row.at / HOUR_MS;
        let error = i64::from(row.status >= 400 && !is_lookup_miss(row));
        match &mut run {
            Some((tenant, at, count)) if *tenant == row.tenant_id && *at == hour => {
                count.requests += 1;
                count.errors += error;
            }
            _ => {
                if let Some((tenant, at, count)) = run.take() {
                    add(tenant, at, count);
                }
                run = Some((&row.tenant_id, hour, HourCount { requests: 1, errors: error }));
            }
        }
    }
    if let Some((tenant, at, count)) = run {
        add(tenant, at, count);
    }
    hourly
}

/// How long and how much of each tenant's log is kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub max_age_ms: i64,
    pub max_per_tenant: i64,
}

/// Deletes what is older than the retention or beyond its count per tenant: of `tenants`, or of
/// every tenant with `None` (counting every tenant's rows: the writer does it only hourly).
pub fn apply_retention(
    db: &Database,
    clock: &dyn Clock,
    keep: Retention,
    tenants: Option<&[String]>,
) -> Result<usize, StoreError> {
    let cutoff = clock.now() - keep.max_age_ms;
    db.write(|conn| {
        request_log::fold_legacy(conn, LEGACY_FOLD)?;
        let old = request_log::prune_older(conn, cutoff)?;
        request_log::prune_hourly(conn, clock.now() / HOUR_MS - HOURLY_KEPT)?;
        let over = request_log::prune_over(conn, keep.max_per_tenant.max(1), tenants)?;
        Ok::<_, StoreError>(old + over)
    })
}

/// Rows of the previous release's table folded into segments per retention run, so that one
/// run's transaction stays short; a previous-release node writing faster than this during an
/// upgrade leaves the rest for the next runs, after it is replaced.
const LEGACY_FOLD: i64 = 20_000;

/// Keeps `tenants` within their count, after a flush that filled them by a tenth.
fn prune_counts(db: &Database, keep: Retention, tenants: &[String]) -> Result<usize, StoreError> {
    let keep = keep.max_per_tenant.max(1);
    db.write(|conn| Ok::<_, StoreError>(request_log::prune_over(conn, keep, Some(tenants))?))
}

/// Requests a page shows at most.
pub const PAGE: i64 = 50;

/// A page of one tenant's recorded requests, newest first, older than `before` (an id), without
/// their bodies.
pub fn page(
    db: &Database,
    tenant_id: &str,
    filter: &RequestFilter,
    before: Option<i64>,
) -> Result<Vec<RequestRow>, StoreError> {
    db.read(|conn| Ok(request_log::page(conn, tenant_id, filter, before, PAGE)?))
}

/// One recorded request of a tenant.
pub fn find(db: &Database, tenant_id: &str, seq: i64) -> Result<Option<RequestRow>, StoreError> {
    db.read(|conn| Ok(request_log::find(conn, tenant_id, seq)?))
}

/// The writer thread: stops within `FLUSH_EVERY` once the inspector is dropped, writing what
/// is left.
pub fn start_writer(
    inspector: &Arc<Inspector>,
    db: Database,
    clock: Arc<dyn Clock>,
    keep: Retention,
) {
    let weak: Weak<Inspector> = Arc::downgrade(inspector);
    let spawned = std::thread::Builder::new().name("request-inspector".into()).spawn(move || {
        let mut pruned = Instant::now() - PRUNE_EVERY;
        let mut swept = Instant::now() - SWEEP_EVERY;
        loop {
            std::thread::sleep(FLUSH_EVERY);
            let Some(inspector) = weak.upgrade() else { return };
            if let Err(err) = inspector.flush(&db) {
                tracing::warn!(error = %err, "could not write the request log");
            }
            let crowded = inspector.take_written((keep.max_per_tenant / 10).max(1));
            if !crowded.is_empty()
                && let Err(err) = prune_counts(&db, keep, &crowded)
            {
                tracing::warn!(error = %err, "could not prune the request log");
            }
            if pruned.elapsed() >= PRUNE_EVERY {
                pruned = Instant::now();
                let touched = inspector.take_written(1);
                // Hourly, every tenant (rows another node or an earlier run left over).
                let everyone = swept.elapsed() >= SWEEP_EVERY;
                if everyone {
                    swept = Instant::now();
                }
                let tenants = (!everyone).then_some(touched.as_slice());
                if let Err(err) = apply_retention(&db, clock.as_ref(), keep, tenants) {
                    tracing::warn!(error = %err, "could not prune the request log");
                }
            }
        }
    });
    if let Err(err) = spawned {
        tracing::error!(error = %err, "cannot start the request inspector");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_full_of_bytes_drops_the_oldest() {
        let inspector = Inspector::new(8_192);
        // With its one-byte path, each request holds exactly 1 MiB.
        let big = bytes::Bytes::from("x".repeat(1024 * 1024 - 1));
        for n in 0..40 {
            inspector.push(CapturedRequest {
                at: n,
                request_body: Some(big.clone()),
                ..CapturedRequest::default_for_tests()
            });
        }
        assert_eq!(inspector.dropped(), 8, "32 MiB at most");
        assert_eq!(inspector.take(usize::MAX)[0].at, 8);
    }

    #[test]
    fn hours_are_counted_per_tenant_across_interleaved_runs() {
        let row = |tenant: &str, at: i64, status: i64, method: &str| RequestRow {
            tenant_id: tenant.into(),
            at,
            status,
            method: method.into(),
            ..RequestRow::default_for_tests()
        };
        let rows = [
            row("a", 10, 200, "GET"),
            row("a", 20, 500, "GET"),
            row("b", 30, 404, "GET"),
            row("a", 40, 404, "DELETE"),
            row("a", HOUR_MS + 1, 201, "POST"),
            row("b", 50, 409, "POST"),
        ];
        let counts = hourly_counts(&rows);
        let get = |tenant: &str, hour: i64| counts[&(tenant.to_owned(), hour)];
        assert_eq!(counts.len(), 3);
        assert_eq!(get("a", 0), HourCount { requests: 3, errors: 2 }, "a 404 DELETE is an error");
        assert_eq!(get("a", 1), HourCount { requests: 1, errors: 0 });
        assert_eq!(get("b", 0), HourCount { requests: 2, errors: 1 }, "a lookup miss is not");
    }

    #[test]
    fn a_full_queue_drops_the_oldest() {
        let inspector = Inspector::new(8_192);
        let row = |n: i64| CapturedRequest { at: n, ..CapturedRequest::default_for_tests() };
        for n in 0..(QUEUE_MAX as i64 + 3) {
            inspector.push(row(n));
        }
        assert_eq!(inspector.dropped(), 3);
        let taken = inspector.take(usize::MAX);
        assert_eq!((taken.len(), taken[0].at), (QUEUE_MAX, 3));
    }

    #[test]
    fn batches_are_written_whole_and_the_count_is_kept_for_the_tenants_written() {
        let scratch = crate::db::scratch::ScratchDatabase::new("inspector", 1);
        let clock = crate::clock::ManualClock::new(1_800_000_000_000);
        let inspector = Inspector::new(8_192);
        let row = |tenant: &str, n: i64| CapturedRequest {
            tenant_id: tenant.into(),
            at: clock.now() + n,
            ..CapturedRequest::default_for_tests()
        };
        // More than one segment holds.
        for n in 0..(INSERT_ROWS_FOR_TEST + 5) {
            inspector.push(row("t1", n));
        }
        for n in 0..5 {
            inspector.push(row("t2", n));
        }
        assert_eq!(inspector.flush(&scratch.db).unwrap(), INSERT_ROWS_FOR_TEST as usize + 10);
        // Due after a flush: the tenants with at least so many rows written since last taken.
        assert_eq!(inspector.take_written(INSERT_ROWS_FOR_TEST + 5), ["t1"]);
        assert_eq!(inspector.take_written(1), ["t2"]);
        assert!(inspector.take_written(1).is_empty());
        let count = |tenant: &str| {
            page(&scratch.db, tenant, &RequestFilter::default(), None).unwrap().len()
        };
        let keep = Retention { max_age_ms: i64::MAX / 2, max_per_tenant: 3 };
        apply_retention(&scratch.db, clock.as_ref(), keep, Some(&["t1".to_owned()])).unwrap();
        assert_eq!((count("t1"), count("t2")), (3, 5), "only the tenant named");
        apply_retention(&scratch.db, clock.as_ref(), keep, None).unwrap();
        assert_eq!((count("t1"), count("t2")), (3, 3), "every tenant");
    }

    #[test]
    fn a_flush_writes_everything_queued_in_chunks_and_keeps_the_byte_count() {
        let scratch = crate::db::scratch::ScratchDatabase::new("inspector_chunks", 1);
        let inspector = Inspector::new(8_192);
        let body = bytes::Bytes::from_static(b"{}");
        let queued = FLUSH_CHUNK * 2 + 7;
        for n in 0..queued {
            let response_body = body.clone();
            inspector.push(CapturedRequest {
                at: n as i64,
                response_body,
                ..CapturedRequest::default_for_tests()
            });
        }
        assert_eq!(inspector.take(3).len(), 3);
        // Each holds its two-byte answer and its one-byte path.
        assert_eq!(inspector.queue.lock().unwrap().bytes, (queued - 3) * 3, "bytes of the rest");
        assert_eq!(inspector.flush(&scratch.db).unwrap(), queued - 3);
        assert_eq!(inspector.queue.lock().unwrap().bytes, 0);
        let stored = scratch.db.read(|conn| Ok::<_, StoreError>(request_log::count(conn)?));
        assert_eq!(stored.unwrap(), (queued - 3) as i64);
        assert_eq!(inspector.flush(&scratch.db).unwrap(), 0, "nothing left");
    }

    /// More requests than one segment holds.
    const INSERT_ROWS_FOR_TEST: i64 = 70;
}
