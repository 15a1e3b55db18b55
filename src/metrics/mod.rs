//! Metrics for Prometheus, per node: HTTP requests (count, latency, in flight), audit events,
//! the database pool, and build facts. Recording is atomics behind a read lock; `render` writes
//! the text format at scrape time. Served by `http::metrics`.

pub mod events;
pub mod family;
pub mod histogram;
pub mod passwords;
pub mod retention;
pub mod text;
pub mod webhooks;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::clock::{Clock, SystemClock};
use crate::db::PoolStats;
use crate::db::repo::audit::AuditCounts;
use family::Family;
use histogram::{BOUNDS, Histogram};
use text::Exposition;

/// The HTTP side of one server's metrics.
#[derive(Debug, Default)]
pub struct Registry {
    /// By route pattern, method, status and tenant slug.
    requests: Family<4, AtomicU64>,
    /// By route pattern and method.
    durations: Family<2, Histogram>,
    in_flight: AtomicI64,
}

/// What one finished request is counted under.
#[derive(Debug, Clone, Copy)]
pub struct RequestLabels<'a> {
    /// The route's pattern (`/scim/v2/Users/{id}`), never the raw path: ids would make a series
    /// per resource.
    pub route: &'a str,
    pub method: &'a str,
    pub status: &'a str,
    /// The authenticated tenant's slug, or "".
    pub tenant: &'a str,
}

/// A request being handled: in flight until dropped (also when the client goes away and the
/// request's future is dropped), recorded by `finish`.
#[derive(Debug)]
pub struct InFlight {
    registry: Arc<Registry>,
    started: Instant,
}

impl InFlight {
    pub fn finish(self, labels: RequestLabels<'_>) {
        self.registry.record(labels, self.started.elapsed());
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.registry.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Registry {
    pub fn new() -> Registry {
        process_start_time();
        Registry::default()
    }

    pub fn enter(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight { registry: self.clone(), started: Instant::now() }
    }

    pub fn record(&self, labels: RequestLabels<'_>, elapsed: Duration) {
        let RequestLabels { route, method, status, tenant } = labels;
        self.requests.with([route, method, status, tenant], |counter| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        self.durations.with([route, method], |histogram| histogram.observe(elapsed));
    }

    /// The whole exposition; `pool` and the audit `events` are the caller's, sampled at scrape time.
    pub fn render(&self, pool: PoolStats, events: &AuditCounts) -> String {
        let mut out = Exposition::default();
        out.family("scimd_build_info", "gauge", "Always 1; the version of this binary.");
        out.sample("scimd_build_info", &[("version", env!("CARGO_PKG_VERSION"))], 1u64);
        out.family(
            "scimd_process_start_time_seconds",
            "gauge",
            "Start time of the process since the Unix epoch, in seconds.",
        );
        out.sample("scimd_process_start_time_seconds", &[], process_start_time());
        self.render_http(&mut out);
        events::render(&mut out, events);
        render_pool(&mut out, pool);
        out.finish()
    }

    fn render_http(&self, out: &mut Exposition) {
        const REQUESTS: &str = "scimd_http_requests_total";
        out.family(
            REQUESTS,
            "counter",
            "HTTP requests answered, by route pattern, method, status and tenant.",
        );
        self.requests.each(|[route, method, status, tenant], counter| {
            let labels =
                [("route", *route), ("method", *method), ("status", *status), ("tenant", *tenant)];
            out.sample(REQUESTS, &labels, counter.load(Ordering::Relaxed));
        });

        const DURATION: &str = "scimd_http_request_duration_seconds";
        out.family(
            DURATION,
            "histogram",
            "Time to produce the response (body streaming excluded), by route pattern and method.",
        );
        let bounds: Vec<String> = BOUNDS.iter().map(f64::to_string).collect();
        self.durations.each(|[route, method], histogram| {
            let snapshot = histogram.snapshot();
            let les = bounds.iter().map(String::as_str).chain(["+Inf"]);
            for (le, count) in les.zip(snapshot.cumulative) {
                let labels = [("route", *route), ("method", *method), ("le", le)];
                out.sample("scimd_http_request_duration_seconds_bucket", &labels, count);
            }
            let labels = [("route", *route), ("method", *method)];
            out.sample("scimd_http_request_duration_seconds_sum", &labels, snapshot.sum_seconds);
            out.sample("scimd_http_request_duration_seconds_count", &labels, snapshot.count());
        });

        out.family(
            "scimd_http_requests_in_flight",
            "gauge",
            "HTTP requests being handled now, this scrape included.",
        );
        out.sample("scimd_http_requests_in_flight", &[], self.in_flight.load(Ordering::Relaxed));
    }
}

fn render_pool(out: &mut Exposition, pool: PoolStats) {
    const CONNECTIONS: &str = "scimd_db_pool_connections";
    out.family(CONNECTIONS, "gauge", "Open database connections of this node, idle or in use.");
    out.sample(CONNECTIONS, &[("state", "idle")], u64::from(pool.idle));
    out.sample(CONNECTIONS, &[("state", "in_use")], u64::from(pool.in_use));
    out.family(
        "scimd_db_pool_max_connections",
        "gauge",
        "Size limit of this node's database pool (db_pool_size).",
    );
    out.sample("scimd_db_pool_max_connections", &[], u64::from(pool.max));
}

/// Seconds since the epoch when metrics were first set up: at server start.
fn process_start_time() -> f64 {
    static STARTED: OnceLock<f64> = OnceLock::new();
    *STARTED.get_or_init(|| SystemClock.now() as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels<'a>(route: &'a str, status: &'a str, tenant: &'a str) -> RequestLabels<'a> {
        RequestLabels { route, method: "GET", status, tenant }
    }

    #[test]
    fn render_has_every_family_with_consistent_histograms() {
        let registry = Arc::new(Registry::new());
        let guard = registry.enter();
        registry.record(labels("/scim/v2/Users", "200", "acme"), Duration::from_millis(3));
        registry.record(labels("/scim/v2/Users", "200", "acme"), Duration::from_millis(30));
        registry.record(labels("/scim/v2/Users", "401", ""), Duration::from_micros(200));
        let text =
            registry.render(PoolStats { idle: 2, in_use: 1, max: 4 }, &AuditCounts::default());
        drop(guard);
        for line in [
            "scimd_http_requests_total{route=\"/scim/v2/Users\",method=\"GET\",status=\"200\",tenant=\"acme\"} 2",
            "scimd_http_requests_total{route=\"/scim/v2/Users\",method=\"GET\",status=\"401\",tenant=\"\"} 1",
            "scimd_http_request_duration_seconds_bucket{route=\"/scim/v2/Users\",method=\"GET\",le=\"0.001\"} 1",
            "scimd_http_request_duration_seconds_bucket{route=\"/scim/v2/Users\",method=\"GET\",le=\"0.005\"} 2",
            "scimd_http_request_duration_seconds_bucket{route=\"/scim/v2/Users\",method=\"GET\",le=\"10\"} 3",
            "scimd_http_request_duration_seconds_bucket{route=\"/scim/v2/Users\",method=\"GET\",le=\"+Inf\"} 3",
            "scimd_http_request_duration_seconds_count{route=\"/scim/v2/Users\",method=\"GET\"} 3",
            "scimd_http_requests_in_flight 1",
            "scimd_db_pool_connections{state=\"idle\"} 2",
            "scimd_db_pool_connections{state=\"in_use\"} 1",
            "scimd_db_pool_max_connections 4",
            "scimd_token_events_total{event=\"token.reuse_detected\"}",
            "# TYPE scimd_token_events_total counter",
            "scimd_build_info{version=\"",
        ] {
            assert!(text.lines().any(|l| l.starts_with(line)), "missing {line} in\n{text}");
        }
        assert_eq!(registry.in_flight.load(Ordering::Relaxed), 0);
    }
}
