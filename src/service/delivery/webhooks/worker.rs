//! The webhook delivery loop every node runs (`webhook_workers` threads, off the request path):
//! fan new events out into per-(endpoint, tenant) cursors, claim a due cursor with a lease (so
//! nodes share the work and one cursor is delivered by one node at a time), send its events in
//! order — event n+1 only after event n got a 2xx — and retry failures with backoff until the
//! endpoint has failed for `webhook_disable_after_secs`, when it is disabled. A node killed
//! mid-delivery leaves its lease to expire; whoever claims the cursor next resends from the
//! first event not acknowledged (at-least-once).

use std::io::Read;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use rand::Rng;

use super::{signing, targets};
use crate::audit::{self, Actor, Event, Kind};
use crate::clock::{Clock, Millis};
use crate::db::repo::events::{self, EventRow, FeedQuery};
use crate::db::repo::webhooks::{self as repo, CursorRow, EndpointRow, NewDeliveryRow};
use crate::db::{Database, StoreError};
use crate::service::delivery::feed::event_json;
use crate::service::delivery::outbox::TypeFilter;

/// How long a worker with nothing to do sleeps.
const IDLE_POLL: Duration = Duration::from_millis(250);
/// Fan-out runs at least this often even when the feed's head has not moved.
const REFAN_EVERY: Duration = Duration::from_secs(2);
/// Per request: connecting and the whole exchange.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Response bodies are stored up to this many bytes.
pub const MAX_STORED_BODY: usize = 2048;
/// Delivery attempts are kept this long.
pub const DELIVERY_RETENTION_MS: Millis = 7 * 86_400_000;
/// Events read per query, and sent per claim before other cursors get a turn.
const PAGE: i64 = 50;
const PER_CLAIM: usize = 500;
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// After a storage error, wait this long.
const BACKOFF_ON_STORE_ERROR: Duration = Duration::from_secs(1);

/// The wait before retry number `attempts` (1: the first retry), with `jitter` in [0, 1): about
/// 5 s first (always within 10 s), then 30 s doubling up to an hour, each ±20 %.
pub fn backoff(attempts: i64, jitter: f64) -> Millis {
    let base: Millis = match attempts {
        ..=1 => 5_000,
        n => (30_000_i64 << (n - 2).min(7)).min(3_600_000),
    };
    let spread = base / 5;
    base - spread + (2.0 * spread as f64 * jitter.clamp(0.0, 1.0)) as Millis
}

/// What the worker was told at start-up.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub allow_private: bool,
    pub disable_after_ms: Millis,
    pub threads: usize,
    /// A claimed cursor is this node's for this long; renewed after every event.
    pub lease_ms: Millis,
}

/// Deliveries by outcome, for `/metrics` (per node).
#[derive(Debug, Default)]
pub struct DeliveryCounts {
    counts: [AtomicU64; Outcome::ALL.len()],
}

impl DeliveryCounts {
    fn add(&self, outcome: Outcome) {
        self.counts[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// (outcome, count) for every outcome.
    pub fn each(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        Outcome::ALL.iter().map(|o| (o.as_str(), self.counts[*o as usize].load(Ordering::Relaxed)))
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer.
    Delivered,
    /// Any other status (3xx included: redirects are not followed).
    Failed,
    /// No answer: connection refused, timeout, TLS.
    Error,
    /// The target resolved to an address that is not allowed.
    Refused,
}

impl Outcome {
    const ALL: [Outcome; 4] =
        [Outcome::Delivered, Outcome::Failed, Outcome::Error, Outcome::Refused];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
            Outcome::Refused => "refused",
        }
    }
}

/// The handle nodes keep: the threads stop when the last clone is dropped.
#[derive(Clone)]
pub struct WebhookWorker {
    pub counts: Arc<DeliveryCounts>,
    _alive: Arc<()>,
}

impl WebhookWorker {
    pub fn start(db: Database, clock: Arc<dyn Clock>, config: WorkerConfig) -> WebhookWorker {
        crate::tls::install_default_provider();
        let counts = Arc::new(DeliveryCounts::default());
        let alive = Arc::new(());
        let node = uuid::Uuid::new_v4().simple().to_string();
        for n in 0..config.threads.max(1) {
            let (db, clock, config, counts) =
                (db.clone(), clock.clone(), config.clone(), counts.clone());
            let owner = format!("{node}-{n}");
            let weak = Arc::downgrade(&alive);
            // The blocking client owns a runtime of its own: it is built, used and dropped in
            // this thread, never inside the server's async context.
            let spawned =
                std::thread::Builder::new().name(format!("webhooks-{n}")).spawn(move || {
                    let sender = match Sender::new(config.allow_private) {
                        Ok(sender) => sender,
                        Err(err) => {
                            tracing::error!(error = %err, "cannot build the webhook HTTP client");
                            return;
                        }
                    };
                    let mut worker = Worker {
                        db,
                        clock,
                        config,
                        counts,
                        owner,
                        sender,
                        housekeeper: n == 0,
                        fanned: None,
                    };
                    worker.run(&weak);
                });
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot start a webhook worker");
            }
        }
        WebhookWorker { counts, _alive: alive }
    }
}

struct Worker {
    db: Database,
    clock: Arc<dyn Clock>,
    config: WorkerConfig,
    counts: Arc<DeliveryCounts>,
    owner: String,
    sender: Sender,
    /// The first thread of a node also sends replays and applies retention.
    housekeeper: bool,
    /// The head this thread last fanned out to, and when.
    fanned: Option<(i64, Instant)>,
}

impl Worker {
    fn run(&mut self, alive: &Weak<()>) {
        let mut last_prune: Option<Instant> = None;
        while alive.upgrade().is_some() {
            match self.tick(alive) {
                Ok(true) => continue,
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "webhook delivery failed; retrying");
                    std::thread::sleep(BACKOFF_ON_STORE_ERROR);
                    continue;
                }
            }
            if self.housekeeper && last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(Instant::now());
                self.prune();
            }
            // In slices, so a dropped server's threads are gone within one slice.
            let slept = Instant::now();
            while slept.elapsed() < IDLE_POLL && alive.strong_count() > 0 {
                std::thread::sleep(Duration::from_millis(25));
            }
        }
    }

    /// One round; true when there was work (so the next round starts at once).
    fn tick(&mut self, alive: &Weak<()>) -> Result<bool, StoreError> {
        self.fan_out()?;
        // One thread per node sends replays, so a node sends them in the order they were asked.
        let mut worked = self.housekeeper && self.replays()?;
        let now = self.clock.now();
        let due = self.db.read(|conn| Ok::<_, StoreError>(repo::due_cursors(conn, now, 16)?))?;
        for cursor in due {
            if alive.upgrade().is_none() {
                break;
            }
            let key = (cursor.endpoint_id.as_str(), cursor.tenant_id.as_str());
            let now = self.clock.now();
            let claimed = self.db.write(|conn| {
                Ok::<_, StoreError>(repo::claim(
                    conn,
                    key.0,
                    key.1,
                    &self.owner,
                    now,
                    now + self.config.lease_ms,
                )?)
            })?;
            if claimed {
                worked = true;
                self.deliver(key)?;
            }
        }
        Ok(worked)
    }

    /// Gives every enabled endpoint's new events a pending cursor per tenant.
    /// Only when the feed's head moved, or every `REFAN_EVERY` (for an endpoint enabled again
    /// with events behind it), so an idle node costs one small query per poll.
    fn fan_out(&mut self) -> Result<(), StoreError> {
        let head = self.db.read(|conn| Ok::<_, StoreError>(events::head(conn)?))?;
        let stale =
            self.fanned.is_none_or(|(at, when)| at != head || when.elapsed() >= REFAN_EVERY);
        if !stale {
            return Ok(());
        }
        let endpoints = self.db.read(|conn| Ok::<_, StoreError>(repo::enabled_endpoints(conn)?))?;
        let now = self.clock.now();
        for endpoint in endpoints.iter().filter(|e| e.fanout_position < head) {
            self.db.write(|conn| Ok::<_, StoreError>(repo::fan_out(conn, endpoint, head, now)?))?;
        }
        self.fanned = Some((head, Instant::now()));
        Ok(())
    }

    /// Sends a claimed cursor's events in order until none is left, one fails, or the lease is
    /// lost; then releases it.
    fn deliver(&self, key: (&str, &str)) -> Result<(), StoreError> {
        let cursor =
            self.db.read(|conn| Ok::<_, StoreError>(repo::find_cursor(conn, key.0, key.1)?))?;
        let Some(cursor) = cursor else { return Ok(()) };
        let mut position = cursor.position;
        let mut sent = 0;
        while sent < PER_CLAIM {
            // The endpoint afresh each page: it may have been disabled or re-keyed meanwhile.
            let query =
                FeedQuery { after: position, tenant_id: Some(key.1), types: None, limit: PAGE };
            let (endpoint, page) = self.db.read(|conn| {
                Ok::<_, StoreError>((
                    repo::find_endpoint(conn, key.0)?,
                    events::page(conn, &query)?,
                ))
            })?;
            let Some(endpoint) = endpoint.filter(|e| e.enabled) else { break };
            if page.is_empty() {
                break;
            }
            let filter =
                TypeFilter::parse(&endpoint.event_types).unwrap_or_else(|_| TypeFilter::all());
            // Events the filter excludes are passed over in one move of the cursor.
            let mut skipped = None;
            for event in &page {
                let Some(at) = event.position else { continue };
                if !filter.matches(&event.event.event_type) {
                    skipped = Some(at);
                    continue;
                }
                if let Some(to) = skipped.take() {
                    if !self.advance(key, to)? {
                        return Ok(());
                    }
                    position = to;
                }
                sent += 1;
                let attempt = cursor_attempts(&cursor, position) + 1;
                let result = self.sender.send(&endpoint, event, self.clock.now());
                self.record(&endpoint, event, attempt, &result)?;
                if result.outcome != Outcome::Delivered {
                    return self.failed(&endpoint, &cursor, position, attempt);
                }
                if !self.advance(key, at)? {
                    return Ok(());
                }
                position = at;
            }
            if let Some(to) = skipped {
                if !self.advance(key, to)? {
                    return Ok(());
                }
                position = to;
            }
        }
        self.db.write(|conn| Ok::<_, StoreError>(repo::release(conn, key, &self.owner)?))
    }

    /// Moves the claimed cursor to `to` and renews the lease; false when the lease was lost.
    fn advance(&self, key: (&str, &str), to: i64) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let until = now + self.config.lease_ms;
        let kept = self
            .db
            .write(|conn| Ok::<_, StoreError>(repo::advance(conn, key, &self.owner, to, until)?))?;
        if !kept {
            tracing::warn!(endpoint = key.0, "webhook cursor lease lost; another node continues");
        }
        Ok(kept)
    }

    /// Schedules the retry of the event after `position`, or disables an endpoint that has failed
    /// for longer than the window.
    fn failed(
        &self,
        endpoint: &EndpointRow,
        cursor: &CursorRow,
        position: i64,
        attempt: i64,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let since = match cursor.failing_since {
            Some(since) if cursor.position == position => since,
            _ => now,
        };
        let next = now + backoff(attempt, rand::rng().random::<f64>());
        let key = (cursor.endpoint_id.as_str(), cursor.tenant_id.as_str());
        let give_up = now - since >= self.config.disable_after_ms;
        // The endpoint's row before the cursor's, the order fan-out locks them in (PostgreSQL).
        self.db.write(|conn| {
            if give_up {
                let hours = self.config.disable_after_ms / 3_600_000;
                let reason = format!("deliveries failed for more than {hours} hours");
                repo::set_enabled(conn, &endpoint.id, false, Some(&reason))?;
                let mut event = Event::new(Kind::WebhookDisabled, &Actor::System)
                    .detail("endpoint", endpoint.id.clone())
                    .detail("url", endpoint.url.clone())
                    .detail("reason", reason);
                if let Some(tenant) = &endpoint.tenant_id {
                    event = event.tenant(tenant.clone());
                }
                audit::record(conn, self.db.audit_counts(), now, event)?;
            }
            repo::fail(conn, key, &self.owner, attempt, since, next)?;
            Ok::<_, StoreError>(())
        })?;
        if give_up {
            tracing::warn!(endpoint = %endpoint.id, "webhook endpoint disabled after failing too long");
        }
        Ok(())
    }

    fn record(
        &self,
        endpoint: &EndpointRow,
        event: &EventRow,
        attempt: i64,
        result: &Attempt,
    ) -> Result<(), StoreError> {
        self.counts.add(result.outcome);
        self.record_as(endpoint, event, attempt, result, result.outcome.as_str())
    }

    fn record_as(
        &self,
        endpoint: &EndpointRow,
        event: &EventRow,
        attempt: i64,
        result: &Attempt,
        outcome: &str,
    ) -> Result<(), StoreError> {
        let row = NewDeliveryRow {
            endpoint_id: endpoint.id.clone(),
            event_id: event.event.id.clone(),
            tenant_id: event.event.tenant_id.clone(),
            attempt,
            outcome: outcome.to_owned(),
            status_code: result.status,
            latency_ms: result.latency_ms,
            response_body: result.body.clone(),
            at: self.clock.now(),
        };
        self.db.write(|conn| Ok::<_, StoreError>(repo::insert_delivery(conn, &row)?))
    }

    /// Sends queued replays once each; true when there were some.
    fn replays(&self) -> Result<bool, StoreError> {
        let queued = self.db.read(|conn| Ok::<_, StoreError>(repo::queued_replays(conn, 16)?))?;
        let mut worked = false;
        for (seq, endpoint_id, event_id) in queued {
            let taken = self.db.write(|conn| {
                if !repo::take_replay(conn, seq)? {
                    return Ok::<_, StoreError>(None);
                }
                Ok(Some((
                    repo::find_endpoint(conn, &endpoint_id)?,
                    repo::find_event(conn, &event_id)?,
                )))
            })?;
            let Some((Some(endpoint), Some(event))) = taken else { continue };
            worked = true;
            let result = self.sender.send(&endpoint, &event, self.clock.now());
            self.counts.add(result.outcome);
            let outcome =
                if result.outcome == Outcome::Delivered { "replayed" } else { "replay_failed" };
            self.record_as(&endpoint, &event, 0, &result, outcome)?;
        }
        Ok(worked)
    }

    fn prune(&self) {
        let before = self.clock.now() - DELIVERY_RETENTION_MS;
        let pruned = self.db.write(|conn| {
            Ok::<_, StoreError>(
                repo::prune_deliveries(conn, before)? + repo::prune_replays(conn, before)?,
            )
        });
        match pruned {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "webhook delivery retention"),
            Err(err) => tracing::warn!(error = %err, "webhook delivery retention failed"),
        }
    }
}

/// The attempts already made on the event after `position`.
fn cursor_attempts(cursor: &CursorRow, position: i64) -> i64 {
    if cursor.position == position { cursor.attempts } else { 0 }
}

/// One attempt's result.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub outcome: Outcome,
    pub status: Option<i64>,
    pub latency_ms: i64,
    pub body: Option<String>,
}

/// The HTTP side: one client per worker thread, no redirects, a 10 s timeout, and a resolver
/// that refuses names resolving to an address that is not allowed.
struct Sender {
    client: reqwest::blocking::Client,
    allow_private: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(targets::TargetError);

struct CheckedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = (host.as_str(), 0).to_socket_addrs()?.collect();
            for addr in &addrs {
                targets::check_ip(addr.ip(), allow_private).map_err(Refused)?;
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

impl Sender {
    fn new(allow_private: bool) -> reqwest::Result<Sender> {
        let mut builder = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent(concat!("scimd-webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(CheckedResolver { allow_private }));
        for cert in crate::service::outbound::system_roots() {
            builder = builder.add_root_certificate(cert);
        }
        Ok(Sender { client: builder.build()?, allow_private })
    }

    fn send(&self, endpoint: &EndpointRow, event: &EventRow, now: Millis) -> Attempt {
        let started = Instant::now();
        let latency =
            |started: Instant| i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let refused = |message: String| Attempt {
            outcome: Outcome::Refused,
            status: None,
            latency_ms: 0,
            body: Some(truncate(message.as_bytes())),
        };
        let url = match targets::check_url(&endpoint.url, self.allow_private) {
            Ok(url) => url,
            Err(err) => return refused(err.to_string()),
        };
        let body = event_json(event).to_string();
        let timestamp = now.div_euclid(1000);
        let mut secrets = vec![endpoint.secret.as_str()];
        if let (Some(previous), Some(until)) = (&endpoint.previous_secret, endpoint.previous_until)
            && until > now
        {
            secrets.push(previous);
        }
        let signature = match signing::signature_header(&secrets, &event.event.id, timestamp, &body)
        {
            Ok(signature) => signature,
            Err(err) => return refused(err.to_string()),
        };
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &event.event.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send();
        match response {
            Ok(response) => {
                let status = response.status();
                let mut stored = Vec::with_capacity(256);
                let _ = response.take(MAX_STORED_BODY as u64).read_to_end(&mut stored);
                Attempt {
                    outcome: if status.is_success() { Outcome::Delivered } else { Outcome::Failed },
                    status: Some(i64::from(status.as_u16())),
                    latency_ms: latency(started),
                    body: Some(truncate(&stored)),
                }
            }
            Err(err) => {
                let refusal = std::error::Error::source(&err).and_then(find_refusal);
                match refusal {
                    Some(message) => refused(message),
                    None => Attempt {
                        outcome: Outcome::Error,
                        status: None,
                        latency_ms: latency(started),
                        body: Some(truncate(crate::service::outbound::describe(&err).as_bytes())),
                    },
                }
            }
        }
    }
}

/// Our resolver's refusal somewhere in an error's chain.
fn find_refusal(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused.to_string());
        }
        current = e.source();
    }
    None
}

fn truncate(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_STORED_BODY)]);
    text.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_retry_comes_within_ten_seconds() {
        for jitter in [0.0, 0.5, 0.999, 1.0] {
            let wait = backoff(1, jitter);
            assert!((4_000..=10_000).contains(&wait), "{wait}");
        }
    }

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour_with_jitter() {
        let middle: Vec<Millis> = (1..=12).map(|n| backoff(n, 0.5)).collect();
        assert_eq!(&middle[..5], &[5_000, 30_000, 60_000, 120_000, 240_000]);
        assert!(middle.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(backoff(50, 0.5), 3_600_000);
        assert!(backoff(50, 1.0) <= 4_320_000 && backoff(50, 0.0) >= 2_880_000);
        assert_ne!(backoff(3, 0.1), backoff(3, 0.9));
    }

    #[test]
    fn three_days_of_retries_is_a_bounded_number_of_attempts() {
        let mut elapsed = 0;
        let mut attempts = 0;
        while elapsed < 3 * 86_400_000 {
            attempts += 1;
            elapsed += backoff(attempts, 0.5);
        }
        assert!((70..=90).contains(&attempts), "{attempts}");
    }
}
