//! `scimd doctor`: what commonly breaks a deployment, checked against the configuration and the
//! database it names, each finding with the fix. The judgements are pure functions of what was
//! measured, so each is unit-tested failing; `run` only measures.

use std::time::Instant;

use serde::Serialize;

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{Database, DbConnection, StoreError};
use crate::scim::catalog::CatalogConfig;
use crate::scim::schema::Registry;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Works, but is not what production wants.
    Warn,
    /// Will break, or is broken.
    Fail,
}

/// One finding: which check, how it came out, what was seen, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub status: Status,
    pub detail: String,
    /// Empty when there is nothing to do.
    pub fix: String,
}

fn ok(check: &'static str, detail: impl Into<String>) -> Finding {
    Finding { check, status: Status::Ok, detail: detail.into(), fix: String::new() }
}

fn finding(check: &'static str, status: Status, detail: &str, fix: &str) -> Finding {
    Finding { check, status, detail: detail.to_owned(), fix: fix.to_owned() }
}

/// A signing key older than this should be rotated (no rotation is automatic).
pub const KEY_ROTATION_DAYS: i64 = 180;
/// A database answering slower than this per round trip makes every request slow.
pub const SLOW_DATABASE_MS: f64 = 20.0;
/// Clock skew against the database beyond which token and event times disagree.
pub const MAX_SKEW_MS: i64 = 2_000;

/// What `run` measured, for the judgements.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The reason when the database could not be reached.
    pub reachable: Result<(), String>,
    pub pending_migrations: Option<bool>,
    /// Median of a few `SELECT 1` round trips, in milliseconds.
    pub latency_ms: Option<f64>,
    /// This host's clock minus the database's, in milliseconds (PostgreSQL only).
    pub skew_ms: Option<i64>,
    /// Age of the key that signs new tokens, in days (`None`: no key yet).
    pub signing_key_age_days: Option<i64>,
    /// Why the configured certificate and key do not load (`None`: they do, or none is set).
    pub tls_error: Option<String>,
    /// PostgreSQL's `autovacuum` setting (`None`: SQLite, or not measured).
    pub autovacuum: Option<bool>,
}

impl Measured {
    /// Nothing measured: the database could not be opened, for `why`.
    pub fn unreachable(why: String) -> Measured {
        Measured {
            reachable: Err(why),
            pending_migrations: None,
            latency_ms: None,
            skew_ms: None,
            signing_key_age_days: None,
            tls_error: None,
            autovacuum: None,
        }
    }
}

/// Every check, in the order they are shown.
pub fn judge(settings: &Settings, measured: &Measured) -> Vec<Finding> {
    vec![
        public_url(settings),
        transport(settings, measured),
        password_hashing(settings),
        metrics(settings),
        catalog(settings),
        database(measured),
        migrations(measured),
        latency(measured),
        skew(measured),
        statistics(measured),
        signing_key(measured),
    ]
}

fn public_url(settings: &Settings) -> Finding {
    const CHECK: &str = "public_url";
    match settings.public_url.as_deref() {
        None => finding(
            CHECK,
            Status::Warn,
            "unset: the OAuth issuer, token audience and meta.location follow each request's Host",
            "set public_url (SCIMD_PUBLIC_URL) to the https URL Okta and Entra reach",
        ),
        Some(url) if !url.starts_with("https://") => finding(
            CHECK,
            Status::Fail,
            &format!("{url} is not https: Okta's OIN and Entra's gallery require https"),
            "serve https (tls_cert/tls_key, or a proxy) and set public_url to its https URL",
        ),
        Some(url) => ok(CHECK, url),
    }
}

fn transport(settings: &Settings, measured: &Measured) -> Finding {
    const CHECK: &str = "tls";
    let tls = settings.tls_cert.is_some() && settings.tls_key.is_some();
    let loopback = bind_is_loopback(&settings.bind);
    if let Some(why) = &measured.tls_error {
        return finding(
            CHECK,
            Status::Fail,
            &format!("the certificate or key does not load: {why}"),
            "check tls_cert (PEM chain, leaf first) and tls_key (PKCS#8, RSA or EC) and their permissions",
        );
    }
    if tls {
        return ok(CHECK, "https served directly");
    }
    if !settings.trusted_proxies.is_empty() {
        return ok(CHECK, "behind a trusted proxy that terminates TLS");
    }
    if loopback {
        return ok(CHECK, "plain http on loopback only");
    }
    finding(
        CHECK,
        Status::Fail,
        &format!(
            "plain http on {} with no TLS and no trusted proxy: tokens travel in clear",
            settings.bind
        ),
        "set tls_cert and tls_key, or put a proxy in front (deploy/nginx.conf) and list it in trusted_proxies",
    )
}

fn password_hashing(settings: &Settings) -> Finding {
    const CHECK: &str = "password_hashing";
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match settings.password_hash_concurrency {
        Some(n) if n > 4 * cores => finding(
            CHECK,
            Status::Warn,
            &format!(
                "{n} concurrent argon2id verifications on {cores} cores: about {} MiB at once",
                n * 19
            ),
            "leave password_hash_concurrency unset (one per core) unless sign-ins queue",
        ),
        Some(n) => ok(CHECK, format!("{n} concurrent argon2id verifications")),
        None => ok(CHECK, format!("{cores} concurrent argon2id verifications (one per core)")),
    }
}

fn metrics(settings: &Settings) -> Finding {
    const CHECK: &str = "metrics";
    if settings.metrics_token.is_some() {
        return ok(CHECK, "/metrics needs the bearer token");
    }
    finding(
        CHECK,
        Status::Warn,
        "no metrics_token: /metrics answers loopback peers only, so a remote Prometheus gets 401",
        "set metrics_token (SCIMD_METRICS_TOKEN) and give it to the scraper",
    )
}

fn catalog(settings: &Settings) -> Finding {
    const CHECK: &str = "schemas";
    let catalog = CatalogConfig {
        roles: settings.catalog_roles,
        entitlement_types: settings.entitlement_types.clone(),
    };
    match Registry::configured(&settings.schema_extensions, &catalog) {
        Ok(registry) => ok(
            CHECK,
            format!("{} schemas, {} catalog types", registry.all().len(), registry.catalog().len()),
        ),
        Err(e) => finding(
            CHECK,
            Status::Fail,
            &e,
            "fix the [[schema_extensions]] or [[entitlement_types]] named",
        ),
    }
}

fn database(measured: &Measured) -> Finding {
    const CHECK: &str = "database";
    match &measured.reachable {
        Ok(()) => ok(CHECK, "reachable"),
        Err(why) => finding(
            CHECK,
            Status::Fail,
            why,
            "check database_url, that the database runs, and that this host may connect to it",
        ),
    }
}

fn migrations(measured: &Measured) -> Finding {
    const CHECK: &str = "migrations";
    match measured.pending_migrations {
        Some(false) => ok(CHECK, "up to date"),
        Some(true) => finding(
            CHECK,
            Status::Fail,
            "migrations are pending: /readyz answers 503 until they run",
            "run scimd migrate (scimd serve also runs them at start)",
        ),
        None => finding(CHECK, Status::Warn, "not checked (no database)", ""),
    }
}

fn latency(measured: &Measured) -> Finding {
    const CHECK: &str = "database_latency";
    match measured.latency_ms {
        Some(ms) if ms > SLOW_DATABASE_MS => finding(
            CHECK,
            Status::Warn,
            &format!("{ms:.1} ms per round trip: every request makes several"),
            "run scimd in the database's region and network; check the database's load",
        ),
        Some(ms) => ok(CHECK, format!("{ms:.2} ms per round trip")),
        None => finding(CHECK, Status::Warn, "not measured (no database)", ""),
    }
}

fn skew(measured: &Measured) -> Finding {
    const CHECK: &str = "clock";
    match measured.skew_ms {
        Some(ms) if ms.abs() > MAX_SKEW_MS => finding(
            CHECK,
            Status::Fail,
            &format!(
                "this host's clock is {ms} ms off the database's: token expiry and event times disagree between nodes"
            ),
            "run NTP (chrony, systemd-timesyncd) on every node and on the database host",
        ),
        Some(ms) => ok(CHECK, format!("{ms} ms off the database")),
        None => ok(CHECK, "SQLite: the database is on this host"),
    }
}

/// Without ANALYZE, PostgreSQL keeps the plans it cached for scimd's prepared statements while
/// the tables were empty: in our benchmark a create's uniqueness lookup then read every user of
/// the tenant, and creates fell from 520/s to 320/s within 24 000 users.
fn statistics(measured: &Measured) -> Finding {
    const CHECK: &str = "planner_statistics";
    match measured.autovacuum {
        Some(false) => finding(
            CHECK,
            Status::Warn,
            "autovacuum is off: tables are never analyzed, so query plans stay those made while \
             they were small, and reads slow down as they grow",
            "turn autovacuum on (PostgreSQL's default), or run ANALYZE after bulk loads and on a \
             schedule",
        ),
        Some(true) => ok(CHECK, "autovacuum on"),
        None => ok(CHECK, "nothing to check (SQLite, or no database)"),
    }
}

fn signing_key(measured: &Measured) -> Finding {
    const CHECK: &str = "signing_key";
    match measured.signing_key_age_days {
        Some(days) if days > KEY_ROTATION_DAYS => finding(
            CHECK,
            Status::Warn,
            &format!("the active signing key is {days} days old"),
            "scimd keys rotate (tokens signed by the old key stay valid until they expire)",
        ),
        Some(days) => ok(CHECK, format!("active key {days} days old")),
        None => finding(
            CHECK,
            Status::Warn,
            "no signing key yet",
            "scimd serve creates one at start; or run scimd keys rotate",
        ),
    }
}

fn bind_is_loopback(bind: &str) -> bool {
    let host = bind.rsplit_once(':').map_or(bind, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether the configured certificate and key load, as `scimd serve` would load them.
pub fn tls_error(settings: &Settings) -> Option<String> {
    let (Some(cert), Some(key)) = (&settings.tls_cert, &settings.tls_key) else { return None };
    crate::tls::server_config(cert, key).err().map(|e| e.to_string())
}

/// Measures what the judgements need from `db` (opened without migrating).
pub fn measure(db: &Database, clock: &dyn Clock) -> Measured {
    let mut measured = Measured { reachable: Ok(()), ..Measured::unreachable(String::new()) };
    match db.check_ready() {
        Ok(()) => measured.pending_migrations = Some(false),
        Err(StoreError::Migration(text)) if text.contains("pending") => {
            measured.pending_migrations = Some(true)
        }
        Err(e) => {
            measured.reachable = Err(e.to_string());
            return measured;
        }
    }
    let mut rounds: Vec<f64> = (0..5)
        .filter_map(|_| {
            let start = Instant::now();
            db.read(round_trip).ok().map(|()| start.elapsed().as_secs_f64() * 1000.0)
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    measured.latency_ms = rounds.get(rounds.len() / 2).copied();
    measured.skew_ms = db.read(database_now).ok().flatten().map(|db_now| clock.now() - db_now);
    measured.autovacuum = db.read(autovacuum).ok().flatten();
    if measured.pending_migrations == Some(false) {
        let now = clock.now();
        measured.signing_key_age_days = db
            .read(|conn| Ok::<_, StoreError>(crate::db::repo::keys::active(conn)?))
            .ok()
            .flatten()
            .map(|key| (now - key.created_at) / 86_400_000);
    }
    measured
}

fn round_trip(conn: &mut DbConnection) -> Result<(), StoreError> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute("SELECT 1")?;
    Ok(())
}

/// The database's clock in Unix milliseconds (PostgreSQL; SQLite shares this host's).
fn database_now(conn: &mut DbConnection) -> Result<Option<i64>, StoreError> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Now {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        ms: i64,
    }
    let DbConnection::Postgres(pg) = conn else { return Ok(None) };
    let now: Now =
        diesel::sql_query("SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint AS ms")
            .get_result(pg)?;
    Ok(Some(now.ms))
}

/// PostgreSQL's `autovacuum` setting (SQLite has none).
fn autovacuum(conn: &mut DbConnection) -> Result<Option<bool>, StoreError> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        autovacuum: String,
    }
    let DbConnection::Postgres(pg) = conn else { return Ok(None) };
    let setting: Setting = diesel::sql_query("SHOW autovacuum").get_result(pg)?;
    Ok(Some(setting.autovacuum == "on"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> (Settings, Measured) {
        let settings = Settings {
            public_url: Some("https://scim.example.com".into()),
            bind: "0.0.0.0:443".into(),
            tls_cert: Some("cert.pem".into()),
            tls_key: Some("key.pem".into()),
            metrics_token: Some("t".into()),
            ..Settings::default()
        };
        let measured = Measured {
            reachable: Ok(()),
            pending_migrations: Some(false),
            latency_ms: Some(0.4),
            skew_ms: Some(12),
            signing_key_age_days: Some(3),
            tls_error: None,
            autovacuum: Some(true),
        };
        (settings, measured)
    }

    fn status_of(findings: &[Finding], check: &str) -> Status {
        findings.iter().find(|f| f.check == check).map(|f| f.status).unwrap()
    }

    #[test]
    fn a_healthy_deployment_is_all_ok() {
        let (settings, measured) = healthy();
        let findings = judge(&settings, &measured);
        assert!(findings.iter().all(|f| f.status == Status::Ok), "{findings:#?}");
        assert!(findings.iter().all(|f| f.fix.is_empty()));
    }

    #[test]
    fn each_check_fails_on_what_breaks_it_and_names_the_fix() {
        type Breaks = fn(&mut Settings, &mut Measured);
        let cases: Vec<(&str, Status, Breaks)> = vec![
            ("public_url", Status::Warn, |s, _| s.public_url = None),
            ("public_url", Status::Fail, |s, _| {
                s.public_url = Some("http://scim.example.com".into())
            }),
            ("tls", Status::Fail, |s, _| {
                s.tls_cert = None;
                s.tls_key = None;
            }),
            ("tls", Status::Fail, |_, m| m.tls_error = Some("no such file".into())),
            ("password_hashing", Status::Warn, |s, _| s.password_hash_concurrency = Some(100_000)),
            ("metrics", Status::Warn, |s, _| s.metrics_token = None),
            ("schemas", Status::Fail, |s, _| {
                s.catalog_roles = true;
                s.entitlement_types = vec![crate::scim::catalog::EntitlementTypeConfig {
                    id: "Role".into(),
                    name: "Role".into(),
                    endpoint: "/R".into(),
                    description: String::new(),
                }];
            }),
            ("database", Status::Fail, |_, m| m.reachable = Err("connection refused".into())),
            ("migrations", Status::Fail, |_, m| m.pending_migrations = Some(true)),
            ("database_latency", Status::Warn, |_, m| m.latency_ms = Some(48.0)),
            ("clock", Status::Fail, |_, m| m.skew_ms = Some(-9_000)),
            ("planner_statistics", Status::Warn, |_, m| m.autovacuum = Some(false)),
            ("signing_key", Status::Warn, |_, m| m.signing_key_age_days = Some(400)),
            ("signing_key", Status::Warn, |_, m| m.signing_key_age_days = None),
        ];
        for (check, expected, breaks) in cases {
            let (mut settings, mut measured) = healthy();
            breaks(&mut settings, &mut measured);
            let findings = judge(&settings, &measured);
            assert_eq!(status_of(&findings, check), expected, "{check}: {findings:#?}");
            let broken: Vec<&Finding> =
                findings.iter().filter(|f| f.status != Status::Ok).collect();
            assert_eq!(broken.len(), 1, "only {check} is affected: {broken:#?}");
            assert!(!broken[0].fix.is_empty() || check == "migrations", "{check} names a fix");
        }
    }

    #[test]
    fn plain_http_is_fine_on_loopback_or_behind_a_trusted_proxy() {
        let (mut settings, measured) = healthy();
        settings.tls_cert = None;
        settings.bind = "127.0.0.1:8080".into();
        assert_eq!(status_of(&judge(&settings, &measured), "tls"), Status::Ok);
        settings.bind = "[::1]:8080".into();
        assert_eq!(status_of(&judge(&settings, &measured), "tls"), Status::Ok);
        settings.bind = "0.0.0.0:8080".into();
        assert_eq!(status_of(&judge(&settings, &measured), "tls"), Status::Fail);
        settings.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        assert_eq!(status_of(&judge(&settings, &measured), "tls"), Status::Ok);
    }
}
