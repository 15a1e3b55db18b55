//! Typed settings: built-in defaults, then an optional TOML file, then `SCIMD_*` environment
//! variables, then command-line flags. One `Settings` value is passed down; there is no global.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cidr::Cidr;
use crate::scim::custom_schema::ExtensionConfig;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://scimd.db";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `sqlite://path` (or a bare path) or `postgres://…`.
    pub database_url: String,
    /// Address the HTTP server listens on; port 0 picks a free one.
    pub bind: String,
    /// The externally visible base URL (`https://scim.example.com`), used in `Location` and
    /// `meta.location`. When unset, it is derived from each request's Host header.
    pub public_url: Option<String>,
    /// Largest request body accepted, in bytes; bigger ones get 413.
    pub max_body_bytes: usize,
    /// Largest page a list request may ask for (`count` is capped to this).
    pub max_page_size: u32,
    /// Page size when a list request gives no `count`.
    pub default_page_size: u32,
    pub db_pool_size: u32,
    pub workers: Option<usize>,
    pub log_format: LogFormat,
    /// Lifetime of JWT access tokens, in seconds (default 1 h).
    pub access_token_ttl_secs: u64,
    /// A refresh token unused this long expires, in seconds (default 90 days).
    pub refresh_idle_ttl_secs: u64,
    /// Every refresh token of a grant expires this long after consent, if set (default: never).
    pub refresh_absolute_ttl_secs: Option<u64>,
    /// Lifetime of authorization codes, in seconds (default 60, at most 600).
    pub auth_code_ttl_secs: u64,
    /// Lifetime of a tenant admin's login session on the consent pages, in seconds (default 1 h).
    pub session_ttl_secs: u64,
    /// Peers (addresses or CIDR ranges) whose `Forwarded` / `X-Forwarded-*` headers are believed:
    /// the client address (login throttling per IP would otherwise count every user as the
    /// proxy), the scheme and the host. From anyone else those headers are ignored.
    pub trusted_proxies: Vec<Cidr>,
    /// PEM certificate chain and private key: when both are set, the server speaks https itself.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// `Strict-Transport-Security` max-age on responses to https requests; 0 sends none.
    pub hsts_max_age_secs: u64,
    /// Time a client has to send a request's head before it gets 408 (slowloris), in seconds.
    pub client_request_timeout_secs: u64,
    /// Time a closing connection has to finish its shutdown before it is dropped, in seconds.
    pub client_disconnect_timeout_secs: u64,
    /// Idle keep-alive connections are closed after this long, in seconds; 0 disables keep-alive.
    /// Longer than the usual 60 s of load balancers, so that they, not we, close idle connections.
    pub keep_alive_secs: u64,
    /// Concurrent connections per worker; more wait in the listen backlog (actix default: 25 000).
    pub max_connections: Option<usize>,
    /// PostgreSQL `statement_timeout`, in seconds (0 = none): a runaway query is cancelled, and
    /// its transaction rolls back, instead of holding a pooled connection forever.
    pub db_statement_timeout_secs: u64,
    /// How long a request waits for a free pooled database connection, in seconds, before it is
    /// answered 503 with `Retry-After` (rather than queueing without bound).
    pub db_pool_timeout_secs: u64,
    /// Most operations one `/Bulk` request may carry (`maxOperations`).
    pub bulk_max_operations: u32,
    /// Largest `/Bulk` request body, in bytes (`maxPayloadSize`).
    pub bulk_max_payload_bytes: usize,
    /// Answer every group PATCH with 204 and no body (Okta accepts it), instead of 200 with the
    /// group: for very large groups the full member list would be megabytes per change.
    pub group_patch_no_content: bool,
    /// Bearer token a scraper must send to `/metrics`; without it, only loopback peers may scrape.
    pub metrics_token: Option<String>,
    /// Extension schemas for custom attributes (`[[schema_extensions]]`, file only).
    pub schema_extensions: Vec<ExtensionConfig>,
    /// Request budgets shared by every node (0 turns one off).
    pub rate_limits: RateLimits,
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
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            scim_per_tenant: 12_000,
            token_per_client: 600,
            token_per_ip: 600,
            login_per_ip: 60,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            bind: DEFAULT_BIND.to_owned(),
            public_url: None,
            max_body_bytes: 1024 * 1024,
            max_page_size: 1000,
            default_page_size: 100,
            db_pool_size: 16,
            workers: None,
            log_format: LogFormat::Text,
            access_token_ttl_secs: 3600,
            refresh_idle_ttl_secs: 90 * 86_400,
            refresh_absolute_ttl_secs: None,
            auth_code_ttl_secs: 60,
            session_ttl_secs: 3600,
            trusted_proxies: Vec::new(),
            tls_cert: None,
            tls_key: None,
            hsts_max_age_secs: 31_536_000,
            client_request_timeout_secs: 5,
            client_disconnect_timeout_secs: 5,
            keep_alive_secs: 75,
            max_connections: None,
            db_statement_timeout_secs: 30,
            db_pool_timeout_secs: 10,
            bulk_max_operations: 1000,
            bulk_max_payload_bytes: 1024 * 1024,
            group_patch_no_content: false,
            metrics_token: None,
            schema_extensions: Vec::new(),
            rate_limits: RateLimits::default(),
        }
    }
}

/// The TOML file's shape: every key optional, unknown keys refused so typos surface.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    database_url: Option<String>,
    bind: Option<String>,
    public_url: Option<String>,
    max_body_bytes: Option<usize>,
    max_page_size: Option<u32>,
    default_page_size: Option<u32>,
    db_pool_size: Option<u32>,
    workers: Option<usize>,
    log_format: Option<String>,
    access_token_ttl_secs: Option<u64>,
    refresh_idle_ttl_secs: Option<u64>,
    refresh_absolute_ttl_secs: Option<u64>,
    auth_code_ttl_secs: Option<u64>,
    session_ttl_secs: Option<u64>,
    /// Deprecated: `true` trusts every peer, as `trusted_proxies = ["0.0.0.0/0", "::/0"]`.
    trust_forwarded_headers: Option<bool>,
    trusted_proxies: Option<Vec<Cidr>>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    hsts_max_age_secs: Option<u64>,
    client_request_timeout_secs: Option<u64>,
    client_disconnect_timeout_secs: Option<u64>,
    keep_alive_secs: Option<u64>,
    max_connections: Option<usize>,
    db_statement_timeout_secs: Option<u64>,
    db_pool_timeout_secs: Option<u64>,
    bulk_max_operations: Option<u32>,
    bulk_max_payload_bytes: Option<usize>,
    group_patch_no_content: Option<bool>,
    metrics_token: Option<String>,
    schema_extensions: Option<Vec<ExtensionConfig>>,
    rate_limits: Option<RateLimits>,
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

    fn apply_file(&mut self, f: FileSettings) -> Result<(), ConfigError> {
        if let Some(v) = f.database_url {
            self.database_url = v;
        }
        if let Some(v) = f.bind {
            self.bind = v;
        }
        if let Some(v) = f.public_url {
            self.public_url = Some(v);
        }
        if let Some(v) = f.max_body_bytes {
            self.max_body_bytes = v;
        }
        if let Some(v) = f.max_page_size {
            self.max_page_size = v;
        }
        if let Some(v) = f.default_page_size {
            self.default_page_size = v;
        }
        if let Some(v) = f.db_pool_size {
            self.db_pool_size = v;
        }
        if let Some(v) = f.workers {
            self.workers = Some(v);
        }
        if let Some(v) = f.log_format {
            self.log_format = parse_log_format("log_format", &v)?;
        }
        if let Some(v) = f.access_token_ttl_secs {
            self.access_token_ttl_secs = v;
        }
        if let Some(v) = f.refresh_idle_ttl_secs {
            self.refresh_idle_ttl_secs = v;
        }
        if let Some(v) = f.refresh_absolute_ttl_secs {
            self.refresh_absolute_ttl_secs = (v > 0).then_some(v);
        }
        if let Some(v) = f.auth_code_ttl_secs {
            self.auth_code_ttl_secs = v;
        }
        if let Some(v) = f.session_ttl_secs {
            self.session_ttl_secs = v;
        }
        if let Some(v) = f.trusted_proxies {
            self.trusted_proxies = v;
        }
        if f.trust_forwarded_headers == Some(true) {
            self.trust_every_proxy();
        }
        if let Some(v) = f.tls_cert {
            self.tls_cert = Some(v);
        }
        if let Some(v) = f.tls_key {
            self.tls_key = Some(v);
        }
        if let Some(v) = f.hsts_max_age_secs {
            self.hsts_max_age_secs = v;
        }
        if let Some(v) = f.client_request_timeout_secs {
            self.client_request_timeout_secs = v;
        }
        if let Some(v) = f.client_disconnect_timeout_secs {
            self.client_disconnect_timeout_secs = v;
        }
        if let Some(v) = f.keep_alive_secs {
            self.keep_alive_secs = v;
        }
        if let Some(v) = f.max_connections {
            self.max_connections = Some(v);
        }
        if let Some(v) = f.db_statement_timeout_secs {
            self.db_statement_timeout_secs = v;
        }
        if let Some(v) = f.db_pool_timeout_secs {
            self.db_pool_timeout_secs = v;
        }
        if let Some(v) = f.bulk_max_operations {
            self.bulk_max_operations = v;
        }
        if let Some(v) = f.bulk_max_payload_bytes {
            self.bulk_max_payload_bytes = v;
        }
        if let Some(v) = f.group_patch_no_content {
            self.group_patch_no_content = v;
        }
        if let Some(v) = f.metrics_token {
            self.metrics_token = Some(v);
        }
        if let Some(v) = f.schema_extensions {
            self.schema_extensions = v;
        }
        if let Some(v) = f.rate_limits {
            self.rate_limits = v;
        }
        Ok(())
    }

    fn apply_env(&mut self, env: &[(String, String)]) -> Result<(), ConfigError> {
        let mut trust_every_proxy = false;
        for (key, value) in env {
            match key.as_str() {
                "SCIMD_DATABASE_URL" => self.database_url = value.clone(),
                "SCIMD_BIND" => self.bind = value.clone(),
                "SCIMD_PUBLIC_URL" => self.public_url = Some(value.clone()),
                "SCIMD_MAX_BODY_BYTES" => self.max_body_bytes = parse_number(key, value)?,
                "SCIMD_MAX_PAGE_SIZE" => self.max_page_size = parse_number(key, value)?,
                "SCIMD_DEFAULT_PAGE_SIZE" => self.default_page_size = parse_number(key, value)?,
                "SCIMD_DB_POOL_SIZE" => self.db_pool_size = parse_number(key, value)?,
                "SCIMD_WORKERS" => self.workers = Some(parse_number(key, value)?),
                "SCIMD_LOG_FORMAT" => self.log_format = parse_log_format(key, value)?,
                "SCIMD_ACCESS_TOKEN_TTL_SECS" => {
                    self.access_token_ttl_secs = parse_number(key, value)?
                }
                "SCIMD_REFRESH_IDLE_TTL_SECS" => {
                    self.refresh_idle_ttl_secs = parse_number(key, value)?
                }
                "SCIMD_REFRESH_ABSOLUTE_TTL_SECS" => {
                    let secs: u64 = parse_number(key, value)?;
                    self.refresh_absolute_ttl_secs = (secs > 0).then_some(secs);
                }
                "SCIMD_AUTH_CODE_TTL_SECS" => self.auth_code_ttl_secs = parse_number(key, value)?,
                "SCIMD_SESSION_TTL_SECS" => self.session_ttl_secs = parse_number(key, value)?,
                "SCIMD_TRUST_FORWARDED_HEADERS" => trust_every_proxy = parse_bool(key, value)?,
                "SCIMD_TRUSTED_PROXIES" => self.trusted_proxies = parse_cidrs(key, value)?,
                "SCIMD_TLS_CERT" => self.tls_cert = non_empty_path(value),
                "SCIMD_TLS_KEY" => self.tls_key = non_empty_path(value),
                "SCIMD_HSTS_MAX_AGE_SECS" => self.hsts_max_age_secs = parse_number(key, value)?,
                "SCIMD_CLIENT_REQUEST_TIMEOUT_SECS" => {
                    self.client_request_timeout_secs = parse_number(key, value)?
                }
                "SCIMD_CLIENT_DISCONNECT_TIMEOUT_SECS" => {
                    self.client_disconnect_timeout_secs = parse_number(key, value)?
                }
                "SCIMD_KEEP_ALIVE_SECS" => self.keep_alive_secs = parse_number(key, value)?,
                "SCIMD_MAX_CONNECTIONS" => self.max_connections = Some(parse_number(key, value)?),
                "SCIMD_DB_STATEMENT_TIMEOUT_SECS" => {
                    self.db_statement_timeout_secs = parse_number(key, value)?
                }
                "SCIMD_DB_POOL_TIMEOUT_SECS" => {
                    self.db_pool_timeout_secs = parse_number(key, value)?
                }
                "SCIMD_GROUP_PATCH_NO_CONTENT" => {
                    self.group_patch_no_content = parse_bool(key, value)?;
                }
                "SCIMD_METRICS_TOKEN" => self.metrics_token = Some(value.clone()),
                "SCIMD_BULK_MAX_OPERATIONS" => self.bulk_max_operations = parse_number(key, value)?,
                "SCIMD_BULK_MAX_PAYLOAD_BYTES" => {
                    self.bulk_max_payload_bytes = parse_number(key, value)?
                }
                "SCIMD_RATE_LIMIT_SCIM_PER_TENANT" => {
                    self.rate_limits.scim_per_tenant = parse_number(key, value)?
                }
                "SCIMD_RATE_LIMIT_TOKEN_PER_CLIENT" => {
                    self.rate_limits.token_per_client = parse_number(key, value)?
                }
                "SCIMD_RATE_LIMIT_TOKEN_PER_IP" => {
                    self.rate_limits.token_per_ip = parse_number(key, value)?
                }
                "SCIMD_RATE_LIMIT_LOGIN_PER_IP" => {
                    self.rate_limits.login_per_ip = parse_number(key, value)?
                }
                _ => {}
            }
        }
        // After the loop, so that it adds to SCIMD_TRUSTED_PROXIES whatever the variables' order.
        if trust_every_proxy {
            self.trust_every_proxy();
        }
        Ok(())
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

fn non_empty_path(value: &str) -> Option<PathBuf> {
    (!value.trim().is_empty()).then(|| PathBuf::from(value))
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
}
