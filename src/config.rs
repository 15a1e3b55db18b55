//! Typed settings: built-in defaults, then an optional TOML file, then `SCIMD_*` environment
//! variables, then command-line flags. One `Settings` value is passed down; there is no global.
//! One table below declares every setting once: its type, default, file key (the field name),
//! environment variable, and whether `Debug` must hide it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cidr::Cidr;
use crate::scim::catalog::EntitlementTypeConfig;
use crate::scim::custom_schema::ExtensionConfig;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://scimd.db";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl<'de> Deserialize<'de> for LogFormat {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_log_format("log_format", &text).map_err(serde::de::Error::custom)
    }
}

/// Declares `Settings`, its defaults, the file's shape, the environment variables and a `Debug`
/// that hides secrets, from one list. An entry reads
/// `name: Type [hide] = default, env = "SCIMD_NAME";` where `[hide]` (`secret`: the whole
/// value, `url`: a URL's password) and the `env` part are optional; without `env` a setting is
/// read from the file only.
macro_rules! settings {
    ($(
        $(#[$doc:meta])*
        $field:ident : $ty:ty $([$hide:ident])? = $default:expr $(, env = $env:literal)? ;
    )*) => {
        #[derive(Clone)]
        pub struct Settings {
            $( $(#[$doc])* pub $field: $ty, )*
        }

        impl Default for Settings {
            fn default() -> Self {
                Settings { $( $field: $default, )* }
            }
        }

        /// The TOML file's shape: every key optional, unknown keys refused so typos surface.
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct FileSettings {
            $( $field: Option<$ty>, )*
            /// Deprecated: `true` trusts every peer, as `trusted_proxies = ["0.0.0.0/0", "::/0"]`.
            trust_forwarded_headers: Option<bool>,
        }

        impl Settings {
            fn apply_file(&mut self, f: FileSettings) -> Result<(), ConfigError> {
                $( if let Some(v) = f.$field { self.$field = v; } )*
                if f.trust_forwarded_headers == Some(true) {
                    self.trust_every_proxy();
                }
                Ok(())
            }

            /// Sets the setting an environment variable names; false when it names none.
            fn apply_env_var(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
                match key {
                    $($( $env => self.$field = EnvValue::from_env(key, value)?, )?)*
                    _ => return self.rate_limits.apply_env_var(key, value),
                }
                Ok(true)
            }
        }

        impl fmt::Debug for Settings {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("Settings")
                    $( .field(stringify!($field), &hidden!(self.$field $(, $hide)?)) )*
                    .finish()
            }
        }
    };
}

/// What `Debug` shows of a setting: the value, or for secrets only whether one is set.
macro_rules! hidden {
    ($value:expr) => {
        &$value as &dyn fmt::Debug
    };
    ($value:expr, secret) => {
        Hidden::Secret($value.is_some())
    };
    ($value:expr, url) => {
        Hidden::Url(redact_password(&$value))
    };
}

enum Hidden {
    Secret(bool),
    Url(String),
}

impl fmt::Debug for Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hidden::Secret(true) => f.write_str("Some(<redacted>)"),
            Hidden::Secret(false) => f.write_str("None"),
            Hidden::Url(url) => fmt::Debug::fmt(url, f),
        }
    }
}

/// A database URL as it may be logged: the password, if any, replaced.
fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("<redacted>"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

settings! {
    /// `sqlite://path` (or a bare path) or `postgres://…`.
    database_url: String [url] = DEFAULT_DATABASE_URL.to_owned(), env = "SCIMD_DATABASE_URL";
    /// Address the HTTP server listens on; port 0 picks a free one.
    bind: String = DEFAULT_BIND.to_owned(), env = "SCIMD_BIND";
    /// The externally visible base URL (`https://scim.example.com`), used in `Location` and
    /// `meta.location`. When unset, it is derived from each request's Host header.
    public_url: Option<String> = None, env = "SCIMD_PUBLIC_URL";
    /// Without `public_url`, the server refuses to start on a non-loopback address unless this
    /// says the host-derived issuer and locations are intended (a proxy that fixes `Host`).
    allow_host_derived_urls: bool = false, env = "SCIMD_ALLOW_HOST_DERIVED_URLS";
    /// Largest request body accepted, in bytes; bigger ones get 413.
    max_body_bytes: usize = 1024 * 1024, env = "SCIMD_MAX_BODY_BYTES";
    /// Largest page a list request may ask for (`count` is capped to this).
    max_page_size: u32 = 1000, env = "SCIMD_MAX_PAGE_SIZE";
    /// Page size when a list request gives no `count`.
    default_page_size: u32 = 100, env = "SCIMD_DEFAULT_PAGE_SIZE";
    db_pool_size: u32 = 16, env = "SCIMD_DB_POOL_SIZE";
    workers: Option<usize> = None, env = "SCIMD_WORKERS";
    log_format: LogFormat = LogFormat::Text, env = "SCIMD_LOG_FORMAT";
    /// Lifetime of JWT access tokens, in seconds (default 1 h).
    access_token_ttl_secs: u64 = 3600, env = "SCIMD_ACCESS_TOKEN_TTL_SECS";
    /// A refresh token unused this long expires, in seconds (default 90 days).
    refresh_idle_ttl_secs: u64 = 90 * 86_400, env = "SCIMD_REFRESH_IDLE_TTL_SECS";
    /// Every refresh token of a grant expires this long after consent, if set (default: never;
    /// 0 also means never).
    refresh_absolute_ttl_secs: Option<u64> = None, env = "SCIMD_REFRESH_ABSOLUTE_TTL_SECS";
    /// Children of one refresh token issued within this many seconds of each other coexist, and
    /// a token superseded less than this long ago is still honoured: concurrent refreshers of
    /// one grant never lose it (default 60, like Okta's grace period). Past it, reuse is reuse.
    refresh_grace_secs: u64 = 60, env = "SCIMD_REFRESH_GRACE_SECS";
    /// Password (argon2id, 19 MiB each) verifications one node runs at once; more are answered
    /// 503 with `Retry-After`. Default: one per CPU core.
    password_hash_concurrency: Option<usize> = None, env = "SCIMD_PASSWORD_HASH_CONCURRENCY";
    /// Lifetime of authorization codes, in seconds (default 60, at most 600).
    auth_code_ttl_secs: u64 = 60, env = "SCIMD_AUTH_CODE_TTL_SECS";
    /// Lifetime of a tenant admin's login session on the consent pages, in seconds (default 1 h).
    session_ttl_secs: u64 = 3600, env = "SCIMD_SESSION_TTL_SECS";
    /// Peers (addresses or CIDR ranges) whose `Forwarded` / `X-Forwarded-*` headers are believed:
    /// the client address (login throttling per IP would otherwise count every user as the
    /// proxy), the scheme and the host. From anyone else those headers are ignored.
    trusted_proxies: Vec<Cidr> = Vec::new(), env = "SCIMD_TRUSTED_PROXIES";
    /// PEM certificate chain and private key: when both are set, the server speaks https itself.
    tls_cert: Option<PathBuf> = None, env = "SCIMD_TLS_CERT";
    tls_key: Option<PathBuf> = None, env = "SCIMD_TLS_KEY";
    /// `Strict-Transport-Security` max-age on responses to https requests; 0 sends none.
    hsts_max_age_secs: u64 = 31_536_000, env = "SCIMD_HSTS_MAX_AGE_SECS";
    /// Time a client has to send a request's head before it gets 408 (slowloris), in seconds.
    client_request_timeout_secs: u64 = 5, env = "SCIMD_CLIENT_REQUEST_TIMEOUT_SECS";
    /// Time a closing connection has to finish its shutdown before it is dropped, in seconds.
    client_disconnect_timeout_secs: u64 = 5, env = "SCIMD_CLIENT_DISCONNECT_TIMEOUT_SECS";
    /// Idle keep-alive connections are closed after this long, in seconds; 0 disables keep-alive.
    /// Longer than the usual 60 s of load balancers, so that they, not we, close idle connections.
    keep_alive_secs: u64 = 75, env = "SCIMD_KEEP_ALIVE_SECS";
    /// Time a request's body has to arrive once its head has, in seconds (0 = no limit); a slower
    /// body gets 408 and its connection is closed.
    body_read_timeout_secs: u64 = 15, env = "SCIMD_BODY_READ_TIMEOUT_SECS";
    /// Connections one client address (an IPv6 client: its /64) may hold open at once; requests on
    /// further ones get 429 and are closed. Trusted proxies are exempt; 0 = no cap.
    max_connections_per_address: usize = 128, env = "SCIMD_MAX_CONNECTIONS_PER_ADDRESS";
    /// Concurrent connections per worker; more wait in the listen backlog (actix default: 25 000).
    max_connections: Option<usize> = None, env = "SCIMD_MAX_CONNECTIONS";
    /// PostgreSQL `statement_timeout`, in seconds (0 = none): a runaway query is cancelled, and
    /// its transaction rolls back, instead of holding a pooled connection forever.
    db_statement_timeout_secs: u64 = 30, env = "SCIMD_DB_STATEMENT_TIMEOUT_SECS";
    /// PostgreSQL: each statement of a read (a SCIM GET or list, a directory API page) is
    /// cancelled after this many seconds and answered 503 with `Retry-After`; 0 = only
    /// `db_statement_timeout_secs`. Shorter than that, so slow filters hand their connection back.
    db_read_timeout_secs: u64 = 10, env = "SCIMD_DB_READ_TIMEOUT_SECS";
    /// How long a request waits for a free pooled database connection, in seconds, before it is
    /// answered 503 with `Retry-After` (rather than queueing without bound).
    db_pool_timeout_secs: u64 = 10, env = "SCIMD_DB_POOL_TIMEOUT_SECS";
    /// PostgreSQL: how long opening a connection may take, in seconds (libpq's `connect_timeout`;
    /// it treats 1 as 2; 0 = no limit). Connections also send TCP keepalives.
    db_connect_timeout_secs: u64 = crate::db::DEFAULT_CONNECT_TIMEOUT_SECS, env = "SCIMD_DB_CONNECT_TIMEOUT_SECS";
    /// `/readyz` answers 503 when its database check takes longer than this, in seconds, and
    /// requests then fail fast with 503 until the database answers again.
    readyz_timeout_secs: u64 = 2, env = "SCIMD_READYZ_TIMEOUT_SECS";
    /// Most values one multi-valued attribute of a user or group may hold (`emails`, `addresses`,
    /// an extension's lists; not a group's `members`): more is a 400 naming the attribute. One
    /// tenant's 20 000-email users would otherwise slow every filter on the node.
    max_multi_values: usize = 1000, env = "SCIMD_MAX_MULTI_VALUES";
    /// SCIM requests of one tenant that may use the database at once on this node (each holds
    /// one pooled connection); further ones wait up to `db_pool_timeout_secs`, then get 429 with
    /// `Retry-After`. 0 = half of `db_pool_size` (at least 1), so no tenant can take the pool.
    tenant_max_connections: usize = 0, env = "SCIMD_TENANT_MAX_CONNECTIONS";
    /// Most operations one `/Bulk` request may carry (`maxOperations`).
    bulk_max_operations: u32 = 1000, env = "SCIMD_BULK_MAX_OPERATIONS";
    /// Largest `/Bulk` request body, in bytes (`maxPayloadSize`).
    bulk_max_payload_bytes: usize = 1024 * 1024, env = "SCIMD_BULK_MAX_PAYLOAD_BYTES";
    /// Answer every group PATCH with 204 and no body (Okta accepts it), instead of 200 with the
    /// group: for very large groups the full member list would be megabytes per change.
    group_patch_no_content: bool = false, env = "SCIMD_GROUP_PATCH_NO_CONTENT";
    /// How long the event log keeps events, in days (at least 1); a feed cursor older than
    /// that is answered 410.
    event_retention_days: u64 = 30, env = "SCIMD_EVENT_RETENTION_DAYS";
    /// How long the audit trail keeps events, in days; 0 keeps them forever. Export first
    /// (`scimd audit --json`) what must outlive it.
    audit_retention_days: u64 = 365, env = "SCIMD_AUDIT_RETENTION_DAYS";
    /// AES-256-GCM secret (32 bytes, base64) that seals the signing keys' private parts in the
    /// database; unset, they are stored as they are. Or read from `signing_key_secret_file`.
    signing_key_secret: Option<String> [secret] = None, env = "SCIMD_SIGNING_KEY_SECRET";
    /// A file holding `signing_key_secret` (e.g. a mounted secret); not both.
    signing_key_secret_file: Option<PathBuf> = None, env = "SCIMD_SIGNING_KEY_SECRET_FILE";
    /// The secret before a rotation of `signing_key_secret`: it only opens keys sealed with it.
    signing_key_previous_secret: Option<String> [secret] = None, env = "SCIMD_SIGNING_KEY_PREVIOUS_SECRET";
    /// How long the request inspector keeps each tenant's SCIM requests, in days; 0 turns the
    /// inspector off.
    request_log_retention_days: u64 = 7, env = "SCIMD_REQUEST_LOG_RETENTION_DAYS";
    /// Most requests the inspector keeps per tenant (the newest).
    request_log_max_per_tenant: u64 = 50_000, env = "SCIMD_REQUEST_LOG_MAX_PER_TENANT";
    /// Longest request or response body the inspector keeps, in bytes (longer ones are cut).
    request_log_body_bytes: usize = 8_192, env = "SCIMD_REQUEST_LOG_BODY_BYTES";
    /// Bearer token a scraper must send to `/metrics`; without it, only loopback peers may scrape.
    metrics_token: Option<String> [secret] = None, env = "SCIMD_METRICS_TOKEN";
    /// Send webhooks to private, loopback, link-local and other non-public addresses, and over
    /// plain http (for tests and closed networks; never on a multi-tenant host).
    allow_private_webhook_targets: bool = false, env = "SCIMD_ALLOW_PRIVATE_WEBHOOK_TARGETS";
    /// Fetch client JWKS (`private_key_jwt`, workload identity federation) over plain http too
    /// (tests and closed networks); by default only https URLs are accepted and fetched.
    allow_insecure_jwks_uri: bool = false, env = "SCIMD_ALLOW_INSECURE_JWKS_URI";
    /// Longest lifetime (`exp` minus `iat`) of a client assertion we accept, in seconds. Entra's
    /// federated assertions are its own access tokens, which live 60 to 90 minutes.
    client_assertion_max_lifetime_secs: u64 = 7200, env = "SCIMD_CLIENT_ASSERTION_MAX_LIFETIME_SECS";
    /// An endpoint whose deliveries have failed for this long is disabled, in seconds (3 days).
    webhook_disable_after_secs: u64 = 3 * 86_400, env = "SCIMD_WEBHOOK_DISABLE_AFTER_SECS";
    /// Webhook delivery threads per node: how many endpoints one node sends to at once.
    webhook_workers: usize = 2, env = "SCIMD_WEBHOOK_WORKERS";
    /// How long a node holds a delivery cursor it claimed without renewing it, in seconds: after
    /// a node dies, its cursors wait this long for another node. Keep it above the 10 s timeout.
    webhook_lease_secs: u64 = 30, env = "SCIMD_WEBHOOK_LEASE_SECS";
    /// Extension schemas for custom attributes (`[[schema_extensions]]`, file only).
    schema_extensions: Vec<ExtensionConfig> = Vec::new();
    /// Serve Okta's Role type at `/Roles`; users' `roles` are then held as rows and checked
    /// against the catalog the vendor's app writes (otherwise they are free-form values).
    catalog_roles: bool = false, env = "SCIMD_CATALOG_ROLES";
    /// Okta entitlement types (`[[entitlement_types]]`, file only), each served at its endpoint;
    /// with any, users' `entitlements` are held as rows and checked against the catalog.
    entitlement_types: Vec<EntitlementTypeConfig> = Vec::new();
    /// Request budgets shared by every node (0 turns one off); a `[rate_limits]` table, and
    /// `SCIMD_RATE_LIMIT_*` variables.
    rate_limits: RateLimits = RateLimits::default();
}

/// Requests per minute; each is enforced across all nodes through the database.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// SCIM requests per tenant.
    pub scim_per_tenant: u64,
    /// /oauth/token, /oauth/revoke and /oauth/introspect requests per client id.
    pub token_per_client: u64,
    /// The same endpoints per client IP address.
    pub token_per_ip: u64,
    /// Sign-in form posts (consent, console, account pages) per client IP address; failed
    /// sign-ins also lock the account and the address (see the README).
    pub login_per_ip: u64,
    /// `/api/v1` requests per vendor API key.
    pub api_per_key: u64,
    /// SCIM requests refused for their credential, per client address: past it, 429 and no
    /// audit row (a flood of made-up tokens cannot grow the trail or hold the writers).
    pub scim_auth_failures_per_ip: u64,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            scim_per_tenant: 12_000,
            token_per_client: 600,
            token_per_ip: 600,
            login_per_ip: 60,
            api_per_key: 6_000,
            scim_auth_failures_per_ip: 120,
        }
    }
}

impl RateLimits {
    /// `SCIMD_RATE_LIMIT_<FIELD>`; false for any other variable.
    fn apply_env_var(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        let field = match key {
            "SCIMD_RATE_LIMIT_SCIM_PER_TENANT" => &mut self.scim_per_tenant,
            "SCIMD_RATE_LIMIT_TOKEN_PER_CLIENT" => &mut self.token_per_client,
            "SCIMD_RATE_LIMIT_TOKEN_PER_IP" => &mut self.token_per_ip,
            "SCIMD_RATE_LIMIT_LOGIN_PER_IP" => &mut self.login_per_ip,
            "SCIMD_RATE_LIMIT_API_PER_KEY" => &mut self.api_per_key,
            "SCIMD_RATE_LIMIT_SCIM_AUTH_FAILURES_PER_IP" => &mut self.scim_auth_failures_per_ip,
            _ => return Ok(false),
        };
        *field = parse_number(key, value)?;
        Ok(true)
    }
}

/// How a setting's type is read from an environment variable's text.
trait EnvValue: Sized {
    fn from_env(key: &str, value: &str) -> Result<Self, ConfigError>;
}

macro_rules! numbers_from_env {
    ($($ty:ty),*) => {$(
        impl EnvValue for $ty {
            fn from_env(key: &str, value: &str) -> Result<Self, ConfigError> {
                parse_number(key, value)
            }
        }
    )*};
}
numbers_from_env!(u32, u64, usize);

impl EnvValue for String {
    fn from_env(_: &str, value: &str) -> Result<Self, ConfigError> {
        Ok(value.to_owned())
    }
}

impl EnvValue for bool {
    fn from_env(key: &str, value: &str) -> Result<Self, ConfigError> {
        parse_bool(key, value)
    }
}

impl EnvValue for PathBuf {
    fn from_env(_: &str, value: &str) -> Result<Self, ConfigError> {
        Ok(PathBuf::from(value))
    }
}

impl EnvValue for LogFormat {
    fn from_env(key: &str, value: &str) -> Result<Self, ConfigError> {
        parse_log_format(key, value)
    }
}

impl EnvValue for Vec<Cidr> {
    fn from_env(key: &str, value: &str) -> Result<Self, ConfigError> {
        parse_cidrs(key, value)
    }
}

/// An empty variable unsets an optional setting.
impl<T: EnvValue> EnvValue for Option<T> {
    fn from_env(key: &str, value: &str) -> Result<Self, ConfigError> {
        if value.trim().is_empty() { Ok(None) } else { T::from_env(key, value).map(Some) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid value for {key}: {message}")]
    Value { key: String, message: String },
}

/// Seconds as clock milliseconds, saturating (a setting cannot overflow the clock).
fn millis(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX / 1000).saturating_mul(1000)
}

impl Settings {
    /// Loads settings from `file` (or `./scimd.toml` when present) and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let default_file = Path::new("scimd.toml");
        let file = match file {
            Some(path) => Some(path),
            None if default_file.exists() => Some(default_file),
            None => None,
        };
        let mut settings = Settings::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
            let parsed: FileSettings = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
            settings.apply_file(parsed)?;
        }
        settings.apply_env(&env)?;
        settings.validate()?;
        Ok(settings)
    }

    fn apply_env(&mut self, env: &[(String, String)]) -> Result<(), ConfigError> {
        let mut trust_every_proxy = false;
        for (key, value) in env {
            if key == "SCIMD_TRUST_FORWARDED_HEADERS" {
                trust_every_proxy = parse_bool(key, value)?;
            } else {
                self.apply_env_var(key, value)?;
            }
        }
        // After the loop, so that it adds to SCIMD_TRUSTED_PROXIES whatever the variables' order.
        if trust_every_proxy {
            self.trust_every_proxy();
        }
        Ok(())
    }

    /// Lifetime of access tokens, in clock milliseconds.
    pub fn access_token_ttl_ms(&self) -> i64 {
        millis(self.access_token_ttl_secs)
    }

    /// How long an unused refresh token lives, in clock milliseconds.
    pub fn refresh_idle_ttl_ms(&self) -> i64 {
        millis(self.refresh_idle_ttl_secs)
    }

    /// How long after consent every refresh token of a grant expires, if ever.
    pub fn refresh_absolute_ttl_ms(&self) -> Option<i64> {
        self.refresh_absolute_ttl_secs.map(millis)
    }

    /// What seals and opens the signing keys' private parts.
    pub fn sealer(&self) -> Result<crate::oauth::seal::Sealer, crate::oauth::seal::SealError> {
        crate::oauth::seal::Sealer::new(
            self.signing_key_secret.as_deref(),
            self.signing_key_previous_secret.as_deref(),
        )
    }

    /// The refresh rotation grace window, in clock milliseconds.
    pub fn refresh_grace_ms(&self) -> i64 {
        millis(self.refresh_grace_secs)
    }

    /// Lifetime of authorization codes, in clock milliseconds.
    pub fn auth_code_ttl_ms(&self) -> i64 {
        millis(self.auth_code_ttl_secs)
    }

    /// Lifetime of sign-in sessions, in clock milliseconds.
    pub fn event_retention_ms(&self) -> i64 {
        (self.event_retention_days.max(1) as i64).saturating_mul(86_400_000)
    }

    pub fn session_ttl_ms(&self) -> i64 {
        millis(self.session_ttl_secs)
    }

    /// The deprecated `trust_forwarded_headers = true`: every peer is a trusted proxy.
    fn trust_every_proxy(&mut self) {
        for any in Cidr::ANY {
            if !self.trusted_proxies.contains(&any) {
                self.trusted_proxies.push(any);
            }
        }
    }

    /// True when forwarded headers are believed from any peer at all: only safe when nothing but
    /// the proxy can reach the listening port.
    pub fn trusts_every_peer(&self) -> bool {
        self.trusted_proxies.iter().any(Cidr::is_everything)
    }

    /// Checks values that no type can express, and normalises some; `load` calls it, and callers
    /// that change settings afterwards (command-line flags) call it again.
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        // 0 means "no absolute limit", as leaving it out does.
        self.refresh_absolute_ttl_secs = self.refresh_absolute_ttl_secs.filter(|secs| *secs > 0);
        if let Some(url) = &self.public_url {
            let parsed = url::Url::parse(url).map_err(|e| ConfigError::Value {
                key: "public_url".into(),
                message: e.to_string(),
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError::Value {
                    key: "public_url".into(),
                    message: "must be an http(s) URL".into(),
                });
            }
            self.public_url = Some(url.trim_end_matches('/').to_owned());
        }
        if self.max_page_size == 0 || self.default_page_size == 0 {
            return Err(ConfigError::Value {
                key: "max_page_size/default_page_size".into(),
                message: "must be at least 1".into(),
            });
        }
        self.default_page_size = self.default_page_size.min(self.max_page_size);
        let positive = [
            ("access_token_ttl_secs", self.access_token_ttl_secs),
            ("refresh_idle_ttl_secs", self.refresh_idle_ttl_secs),
            ("auth_code_ttl_secs", self.auth_code_ttl_secs),
            ("session_ttl_secs", self.session_ttl_secs),
            ("db_pool_timeout_secs", self.db_pool_timeout_secs),
            ("max_multi_values", self.max_multi_values as u64),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::Value {
                    key: key.into(),
                    message: "must be at least 1".into(),
                });
            }
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::Value {
                key: "tls_cert/tls_key".into(),
                message: "set both (certificate chain and private key) or neither".into(),
            });
        }
        if let Some(path) = self.signing_key_secret_file.clone() {
            if self.signing_key_secret.is_some() {
                return Err(ConfigError::Value {
                    key: "signing_key_secret_file".into(),
                    message: "set signing_key_secret or signing_key_secret_file, not both".into(),
                });
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|source| ConfigError::Read { path: path.clone(), source })?;
            self.signing_key_secret = Some(text.trim().to_owned());
            self.signing_key_secret_file = None;
        }
        self.sealer().map_err(|e| ConfigError::Value {
            key: "signing_key_secret".into(),
            message: e.to_string(),
        })?;
        if self.max_connections == Some(0) {
            return Err(ConfigError::Value {
                key: "max_connections".into(),
                message: "must be at least 1".into(),
            });
        }
        if self.auth_code_ttl_secs > 600 {
            return Err(ConfigError::Value {
                key: "auth_code_ttl_secs".into(),
                message: "at most 600 (RFC 6749 §4.1.2 recommends 10 minutes at most)".into(),
            });
        }
        Ok(())
    }
}

fn parse_number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::Value {
        key: key.to_owned(),
        message: format!("'{value}' is not a number"),
    })
}

/// A comma-separated list of addresses and CIDR ranges; empty entries are skipped.
fn parse_cidrs(key: &str, value: &str) -> Result<Vec<Cidr>, ConfigError> {
    value
        .split(',')
        .filter(|item| !item.trim().is_empty())
        .map(|item| {
            item.parse().map_err(|e: crate::cidr::InvalidCidr| ConfigError::Value {
                key: key.to_owned(),
                message: e.to_string(),
            })
        })
        .collect()
}

fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Value {
            key: key.to_owned(),
            message: format!("'{value}': expected true or false"),
        }),
    }
}

fn parse_log_format(key: &str, value: &str) -> Result<LogFormat, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(ConfigError::Value {
            key: key.to_owned(),
            message: format!("'{value}': expected text or json"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_and_unknown_file_keys_are_refused() {
        let mut s = Settings::default();
        let file: FileSettings =
            toml::from_str("bind = \"0.0.0.0:9000\"\nmax_page_size = 50").unwrap_or_default();
        s.apply_file(file).ok();
        assert_eq!(s.bind, "0.0.0.0:9000");
        s.apply_env(&[("SCIMD_BIND".into(), "127.0.0.1:1".into())]).ok();
        assert_eq!(s.bind, "127.0.0.1:1");
        assert!(s.validate().is_ok());
        assert_eq!(s.default_page_size, 50);
        assert!(toml::from_str::<FileSettings>("bnd = 1").is_err());
        assert!(s.apply_env(&[("SCIMD_MAX_PAGE_SIZE".into(), "lots".into())]).is_err());
    }

    #[test]
    fn schema_extensions_and_bulk_limits_come_from_the_file() {
        let text = r#"
            bulk_max_operations = 5
            [[schema_extensions]]
            id = "urn:acme:params:scim:schemas:extension:acme:2.0:User"
            resourceType = "User"
            name = "AcmeUser"
            attributes = [{ name = "badge", type = "integer" }]
        "#;
        let file: Result<FileSettings, _> = toml::from_str(text);
        let mut s = Settings::default();
        assert!(file.is_ok_and(|f| s.apply_file(f).is_ok()));
        assert_eq!(s.bulk_max_operations, 5);
        assert_eq!(s.schema_extensions.len(), 1);
        assert_eq!(s.schema_extensions[0].attributes[0].kind, "integer");
    }

    #[test]
    fn rate_limits_come_from_a_table_and_the_environment() {
        let file: FileSettings =
            toml::from_str("[rate_limits]\nscim_per_tenant = 5").unwrap_or_default();
        let mut s = Settings::default();
        assert!(s.apply_file(file).is_ok());
        assert_eq!(s.rate_limits.scim_per_tenant, 5);
        assert_eq!(s.rate_limits.token_per_client, RateLimits::default().token_per_client);
        assert!(s.apply_env(&[("SCIMD_RATE_LIMIT_LOGIN_PER_IP".into(), "0".into())]).is_ok());
        assert_eq!(s.rate_limits.login_per_ip, 0);
        assert_eq!(s.rate_limits.api_per_key, 6_000);
        assert!(s.apply_env(&[("SCIMD_RATE_LIMIT_API_PER_KEY".into(), "7".into())]).is_ok());
        assert_eq!(s.rate_limits.api_per_key, 7);
        assert!(toml::from_str::<FileSettings>("[rate_limits]\nscim = 5").is_err());
    }

    #[test]
    fn trusted_proxies_come_from_file_and_env_and_the_old_flag_trusts_everyone() {
        let file: Result<FileSettings, _> =
            toml::from_str("trusted_proxies = [\"10.0.0.0/8\", \"fd00::1\"]");
        let mut s = Settings::default();
        assert!(file.is_ok_and(|f| s.apply_file(f).is_ok()));
        assert_eq!(s.trusted_proxies.len(), 2);
        assert!(!s.trusts_every_peer());
        let bad = toml::from_str::<FileSettings>("trusted_proxies = [\"10.0.0.0/33\"]");
        assert!(bad.is_err_and(|e| e.to_string().contains("10.0.0.0/33")));

        let env = |pairs: &[(&str, &str)]| {
            let mut s = Settings::default();
            let env: Vec<(String, String)> =
                pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            s.apply_env(&env).map(|()| s)
        };
        let s = env(&[("SCIMD_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8,")]).unwrap();
        assert_eq!(
            s.trusted_proxies,
            vec!["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()]
        );
        // The deprecated flag adds "everyone", whichever variable comes first.
        let s = env(&[
            ("SCIMD_TRUST_FORWARDED_HEADERS", "true"),
            ("SCIMD_TRUSTED_PROXIES", "127.0.0.1"),
        ])
        .unwrap();
        assert!(s.trusts_every_peer());
        assert_eq!(s.trusted_proxies.len(), 3);
        assert!(env(&[("SCIMD_TRUSTED_PROXIES", "proxy.local")]).is_err());
        let file: Result<FileSettings, _> = toml::from_str("trust_forwarded_headers = true");
        let mut s = Settings::default();
        assert!(file.is_ok_and(|f| s.apply_file(f).is_ok()));
        assert!(s.trusts_every_peer());
    }

    #[test]
    fn the_signing_key_secret_comes_from_a_file_and_must_be_32_bytes() {
        let path = std::env::temp_dir().join(format!("scimd-seal-{}", std::process::id()));
        std::fs::write(&path, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n").unwrap();
        let mut s = Settings { signing_key_secret_file: Some(path.clone()), ..Settings::default() };
        s.validate().unwrap();
        assert_eq!(
            s.signing_key_secret.as_deref(),
            Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
        );
        assert!(!format!("{s:?}").contains("AAECAwQF"), "hidden");
        let mut both = Settings { signing_key_secret_file: Some(path.clone()), ..s.clone() };
        assert!(both.validate().is_err_and(|e| e.to_string().contains("not both")));
        let _ = std::fs::remove_file(path);
        let mut bad = Settings { signing_key_secret: Some("short".into()), ..Settings::default() };
        assert!(bad.validate().is_err_and(|e| e.to_string().contains("32 bytes")));
    }

    #[test]
    fn tls_needs_both_certificate_and_key() {
        let mut s = Settings { tls_cert: Some("cert.pem".into()), ..Settings::default() };
        assert!(s.validate().is_err_and(|e| e.to_string().contains("tls_cert/tls_key")));
        s.tls_key = Some("key.pem".into());
        assert!(s.validate().is_ok());
        let mut s = Settings::default();
        s.apply_env(&[("SCIMD_TLS_KEY".into(), "key.pem".into())]).ok();
        assert!(s.validate().is_err());
        let mut s = Settings { max_connections: Some(0), ..Settings::default() };
        assert!(s.validate().is_err());
    }

    #[test]
    fn debug_hides_secrets_and_database_passwords() {
        let s = Settings {
            database_url: "postgres://scimd:hunter2@db.internal/scimd".into(),
            metrics_token: Some("scrape-secret".into()),
            ..Settings::default()
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("scrape-secret"), "{shown}");
        assert!(shown.contains("postgres://scimd:%3Credacted%3E@db.internal/scimd"), "{shown}");
        assert!(shown.contains("metrics_token: Some(<redacted>)"), "{shown}");
        assert!(shown.contains("bind: \"127.0.0.1:8080\""), "{shown}");
        let shown = format!("{:?}", Settings::default());
        assert!(shown.contains("metrics_token: None") && shown.contains("sqlite://scimd.db"));
    }

    #[test]
    fn each_variable_sets_its_setting() {
        let env = |key: &str, value: &str| {
            let mut s = Settings::default();
            s.apply_env(&[(key.to_owned(), value.to_owned())]).map(|()| s)
        };
        assert_eq!(env("SCIMD_DB_POOL_TIMEOUT_SECS", "3").unwrap().db_pool_timeout_secs, 3);
        assert_eq!(env("SCIMD_WORKERS", "2").unwrap().workers, Some(2));
        assert_eq!(env("SCIMD_LOG_FORMAT", "JSON").unwrap().log_format, LogFormat::Json);
        assert!(env("SCIMD_LOG_FORMAT", "xml").is_err());
        assert!(env("SCIMD_GROUP_PATCH_NO_CONTENT", "on").unwrap().group_patch_no_content);
        assert_eq!(env("SCIMD_TLS_CERT", "c.pem").unwrap().tls_cert, Some("c.pem".into()));
        // An empty variable unsets an optional setting.
        assert_eq!(env("SCIMD_METRICS_TOKEN", "").unwrap().metrics_token, None);
        assert_eq!(env("SCIMD_TLS_CERT", " ").unwrap().tls_cert, None);
        // Unknown variables are someone else's.
        assert_eq!(env("SCIMD_NOT_A_SETTING", "x").unwrap().bind, DEFAULT_BIND);
        let file: FileSettings = toml::from_str("log_format = \"json\"").unwrap();
        let mut s = Settings::default();
        s.apply_file(file).unwrap();
        assert_eq!(s.log_format, LogFormat::Json);
        assert!(toml::from_str::<FileSettings>("log_format = \"xml\"").is_err());
    }

    #[test]
    fn durations_in_clock_milliseconds() {
        let mut s = Settings {
            access_token_ttl_secs: 3600,
            refresh_absolute_ttl_secs: Some(0),
            ..Settings::default()
        };
        s.validate().unwrap();
        assert_eq!(s.access_token_ttl_ms(), 3_600_000);
        assert_eq!(s.session_ttl_ms(), 3_600_000);
        assert_eq!(s.auth_code_ttl_ms(), 60_000);
        assert_eq!(s.refresh_idle_ttl_ms(), 90 * 86_400_000);
        assert_eq!(s.refresh_absolute_ttl_ms(), None);
        s.refresh_absolute_ttl_secs = Some(10);
        assert_eq!(s.refresh_absolute_ttl_ms(), Some(10_000));
        s.access_token_ttl_secs = u64::MAX;
        assert!(s.access_token_ttl_ms() > 0);
    }
}
