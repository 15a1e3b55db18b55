//! The `scimd` binary: the server (`scimd serve`, the default) and the operator CLI.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use serde::Serialize;

use scimd::audit::Actor;
use scimd::clock::{Clock, SystemClock};
use scimd::config::{LogFormat, Settings};
use scimd::db::Database;
use scimd::service::accounts::{operators, tenant_admins};
use scimd::service::oauth::{clients, grants, keys, tenant_clients};
use scimd::service::operations::audit_log;
use scimd::service::tenancy::{api_keys, credentials, tenants};
use scimd::startup::Application;

#[derive(Debug, Parser)]
#[command(name = "scimd", version, about = "SCIM 2.0 provisioning server for Okta and Entra ID")]
struct Cli {
    /// Config file (TOML); default ./scimd.toml when it exists.
    #[arg(long, global = true, env = "SCIMD_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL: sqlite://path or postgres://user@host/db (overrides SCIMD_DATABASE_URL).
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Print one JSON object instead of text, for scripts.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve HTTP (the default), or HTTPS with --tls-cert and --tls-key.
    Serve {
        /// Listen address (overrides SCIMD_BIND).
        #[arg(long)]
        bind: Option<String>,
        /// PEM certificate chain, leaf first (overrides SCIMD_TLS_CERT); needs --tls-key.
        #[arg(long)]
        tls_cert: Option<PathBuf>,
        /// PEM private key: PKCS#8, RSA or EC (overrides SCIMD_TLS_KEY).
        #[arg(long)]
        tls_key: Option<PathBuf>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage tenants (customer organisations).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage static bearer tokens (Okta "HTTP Header" authentication).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage API keys of the vendor's application (`/api/v1`; never accepted on SCIM).
    #[command(subcommand)]
    Apikey(ApikeyCommand),
    /// Manage tenant admin accounts (who log in and consent on the authorize page).
    // `admin` was the first spelling: scripts keep working, and --help shows the alias.
    #[command(subcommand, name = "tenant-admin", visible_alias = "admin")]
    TenantAdmin(TenantAdminCommand),
    /// Manage OAuth clients: the vendor's Okta OIN app, and tenants' own clients (Entra).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage JWT signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// List or revoke OAuth grants (one per consent).
    #[command(subcommand)]
    Grant(GrantCommand),
    /// Manage operator accounts (who sign in to the console at /admin).
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Manage webhook endpoints (signed deliveries of the event log to the vendor's app).
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Check what commonly breaks a deployment (configuration, database, clock, keys), each
    /// finding with its fix; exits 1 when a check fails.
    Doctor,
    /// Run Okta's SPEC test sequence and Entra's connection checks against a running server,
    /// with a temporary token and test user of its own (both removed); exit 1 on a failure.
    Selftest {
        /// The tenant to test as.
        #[arg(long)]
        tenant: String,
        /// The SCIM base URL, e.g. https://scim.example.com/scim/v2 (default: from public_url,
        /// else the bind address).
        #[arg(long)]
        url: Option<String>,
    },
    /// Copy a SQLite database to a new file while the server keeps serving (PostgreSQL: pg_dump).
    Backup {
        /// The backup file to create (it must not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// Show the audit trail, oldest first; with --json, one JSON object per line (JSON Lines).
    Audit {
        /// Tenant slug.
        #[arg(long)]
        tenant: Option<String>,
        /// Event type, e.g. token.refreshed.
        #[arg(long)]
        event: Option<String>,
        /// Actor, e.g. operator:<id>, admin:<id>, client:<id>.
        #[arg(long)]
        actor: Option<String>,
        /// Grant id.
        #[arg(long)]
        grant: Option<String>,
        /// From this RFC 3339 time or span back from now (30m, 24h, 7d), inclusive.
        #[arg(long)]
        since: Option<String>,
        /// Until this RFC 3339 time or span back from now, exclusive.
        #[arg(long)]
        until: Option<String>,
        /// At most this many events (0: all).
        #[arg(long, default_value_t = 1000)]
        limit: i64,
    },
}

#[derive(Debug, Subcommand)]
enum WebhookCommand {
    /// Register an endpoint; its signing secret is printed (and can be rotated).
    Create {
        /// https URL (http only with allow_private_webhook_targets).
        #[arg(long)]
        url: String,
        /// Only this tenant's events (default: every tenant).
        #[arg(long)]
        tenant: Option<String>,
        /// Event types, e.g. user.*,group.member_added (default: every type).
        #[arg(long, default_value = "")]
        events: String,
    },
    /// List endpoints (never their secrets).
    List,
    /// Stop deliveries; events keep accumulating and are sent once enabled again.
    Disable { id: String },
    /// Resume deliveries where they stopped.
    Enable { id: String },
    /// Delete an endpoint, its cursors and its delivery history.
    Delete { id: String },
    /// Issue a new secret; the old one keeps signing beside it for the grace period.
    RotateSecret {
        id: String,
        #[arg(long, default_value_t = 24)]
        grace_hours: u64,
    },
    /// Send past events again: one (--event) or those of a time range (--since [--until]).
    Replay {
        id: String,
        #[arg(long, conflicts_with_all = ["since", "until"], required_unless_present = "since")]
        event: Option<String>,
        /// RFC 3339 time or span back from now (30m, 24h, 7d), inclusive.
        #[arg(long)]
        since: Option<String>,
        /// RFC 3339 time or span back from now, exclusive (default: now).
        #[arg(long)]
        until: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Create an operator; the password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from stdin (the only way: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List operators.
    List,
    /// Disable an operator (by id or email): their sessions end and they cannot sign in.
    Disable { operator: String },
    /// Enable a disabled operator again.
    Enable { operator: String },
    /// Set a new random password (printed once) and end the operator's sessions.
    ResetPassword { operator: String },
}

#[derive(Debug, Subcommand)]
enum ApikeyCommand {
    /// Create a key; it is printed once and stored only as a hash.
    Create {
        #[arg(long)]
        label: String,
        /// Confine the key to this tenant; without it the key sees every tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Comma-separated: directory:read, events:read, webhooks:write, catalog:write
        /// (default: directory:read,events:read).
        #[arg(long)]
        scope: Option<String>,
    },
    /// List keys (never the secrets), optionally of one tenant.
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a key by id; effective immediately.
    Revoke { key_id: String },
}

#[derive(Debug, Subcommand)]
enum TenantAdminCommand {
    /// Create a tenant admin; the password is read from standard input.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        /// Read the password from stdin (the only way: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List a tenant's admins.
    List {
        #[arg(long)]
        tenant: String,
    },
}

/// `client create`'s arguments.
#[derive(Debug, clap::Args)]
struct NewClientArgs {
    #[arg(long)]
    name: String,
    /// An exact redirect URI (repeatable).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Register Okta's https callback URIs for this OIN app name.
    #[arg(long)]
    okta_app: Option<String>,
    /// Also register Okta's plain-http callback (`http://system-admin.okta1.com:1802/…`)
    /// of that app; only if the app really is on that cell.
    #[arg(long, requires = "okta_app")]
    okta_http_callback: bool,
    /// Refuse authorization requests without PKCE (S256).
    #[arg(long)]
    require_pkce: bool,
    /// The tenant a client-credentials client belongs to (its tokens reach only it).
    #[arg(long, requires = "grant")]
    tenant: Option<String>,
    /// `authorization_code` (default: vendor-wide) or `client_credentials` (needs --tenant).
    #[arg(long)]
    grant: Option<String>,
    /// Lifetime of its access tokens, 5-360 minutes (default 60; Entra requires 60-360).
    #[arg(long)]
    access_ttl_minutes: Option<u32>,
    /// Days until its first secret expires, 1-1095 (default 730).
    #[arg(long)]
    secret_expires_in_days: Option<u32>,
    /// Scopes of its tokens (default "scim:read scim:write").
    #[arg(long)]
    scope: Option<String>,
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Register a client; its secret is printed once and stored as SHA-256. Vendor-wide with
    /// redirect URIs (Okta's authorization code), or with `--tenant` and `--grant
    /// client_credentials` one tenant's own (Microsoft Entra's gallery rule).
    Create(NewClientArgs),
    /// A tenant's client trusted through workload identity federation: Entra signs an assertion
    /// (RFC 7523) that must carry this issuer, subject and audience, checked with the issuer's keys.
    Federate {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        /// The assertion's `iss`, e.g. https://login.microsoftonline.com/<tenant id>/v2.0
        #[arg(long)]
        issuer: String,
        /// The assertion's `sub` (Entra's provisioning workload identity).
        #[arg(long)]
        subject: String,
        /// The assertion's `aud`, e.g. api://<app id>.
        #[arg(long)]
        audience: String,
        /// Where the issuer's signing keys are, e.g.
        /// https://login.microsoftonline.com/<tenant id>/discovery/v2.0/keys
        #[arg(long)]
        jwks_uri: String,
        #[arg(long)]
        access_ttl_minutes: Option<u32>,
        #[arg(long)]
        scope: Option<String>,
    },
    /// List clients with their secrets (id, hint, created, expires, last used; never the secret).
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// One client with its secrets and what its assertions must say.
    Show { client_id: String },
    /// Add a secret beside the client's others (printed once): rotate without downtime.
    AddSecret {
        client_id: String,
        /// Days until it expires, 1-1095 (default 730).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// Revoke one secret at once.
    RevokeSecret { client_id: String, secret_id: String },
    /// Authenticate the client with `private_key_jwt` from now on (its secrets stop working).
    SetJwks {
        client_id: String,
        #[arg(long, conflicts_with = "jwks_file", required_unless_present = "jwks_file")]
        jwks_uri: Option<String>,
        /// A file holding the client's JWKS (public keys).
        #[arg(long)]
        jwks_file: Option<std::path::PathBuf>,
    },
    /// Issue a new secret; every old one stops working at once.
    RotateSecret { client_id: String },
    /// Delete a client and every grant and token it holds.
    Delete { client_id: String },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Add a new signing key: published at once, signing 15 s later (every node knows it by
    /// then); older keys stay published until their tokens have expired.
    Rotate,
    /// List signing keys.
    List,
    /// Delete a key at once (it leaked): tokens it signed stop working on every node within 5 s.
    Revoke {
        /// A key id is base64url and may begin with `-`.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

#[derive(Debug, Subcommand)]
enum GrantCommand {
    /// List grants, optionally of one tenant.
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a grant: its refresh and access tokens stop working at once.
    Revoke { grant_id: String },
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant.
    Create {
        slug: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// List tenants; with --health, each one's connection status, counts and last day's
    /// requests, the ones needing attention first.
    List {
        #[arg(long)]
        health: bool,
        /// Only tenants whose slug or name contains this.
        #[arg(long, default_value = "")]
        search: String,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Issue a token; it is printed once and stored only as a hash.
    Issue {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "okta")]
        label: String,
    },
    /// List a tenant's tokens (never the secrets).
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Revoke a token by id; effective immediately.
    Revoke { token_id: String },
}

/// Memory a burst took (argon2's blocks, a Bulk request's documents) goes back to the system
/// once freed; glibc's allocator kept it in its arenas (BENCHMARKS.md, "Memory after bursts").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if json {
                println!("{}", serde_json::json!({ "error": err.to_string() }));
            } else {
                eprintln!("error: {err:#}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load(cli.config.as_deref())?;
    if let Some(url) = cli.database_url {
        settings.database_url = url;
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let default = Command::Serve { bind: None, tls_cert: None, tls_key: None };
    match cli.command.unwrap_or(default) {
        Command::Serve { bind, tls_cert, tls_key } => {
            if let Some(bind) = bind {
                settings.bind = bind;
            }
            if let Some(path) = tls_cert {
                settings.tls_cert = Some(path);
            }
            if let Some(path) = tls_key {
                settings.tls_key = Some(path);
            }
            settings.validate()?;
            serve(settings, clock)
        }
        Command::Doctor => doctor(&settings, clock.as_ref(), cli.json),
        Command::Migrate => {
            Database::connect(&settings.database_url, 1)?;
            print(cli.json, &serde_json::json!({"migrated": true}), || {
                "migrations are up to date".into()
            });
            Ok(())
        }
        admin_command => administer(&settings, clock.as_ref(), admin_command, cli.json),
    }
}

/// Every command but `serve` and `migrate`: one small pool, one command, done.
fn administer(
    settings: &Settings,
    clock: &dyn Clock,
    command: Command,
    json: bool,
) -> anyhow::Result<()> {
    let db = Database::connect(&settings.database_url, 2)?;
    match command {
        Command::Tenant(cmd) => tenant_command(&db, clock, cmd, json),
        Command::Token(cmd) => token_command(&db, clock, cmd, json),
        Command::Apikey(cmd) => apikey_command(&db, clock, cmd, json),
        Command::TenantAdmin(cmd) => tenant_admin_command(&db, clock, cmd, json),
        Command::Client(cmd) => client_command(&db, clock, cmd, settings, json),
        Command::Keys(cmd) => keys_command(&db, clock, cmd, settings, json),
        Command::Grant(cmd) => grant_command(&db, clock, cmd, json),
        Command::Operator(cmd) => operator_command(&db, clock, cmd, json),
        Command::Webhook(cmd) => webhook_command(&db, clock, settings, cmd, json),
        Command::Audit { tenant, event, actor, grant, since, until, limit } => {
            let query = audit_log::AuditQuery { tenant, event, actor, grant, since, until };
            audit(&db, clock, &query, limit, json)
        }
        Command::Backup { to } => backup(&db, &to, json),
        Command::Selftest { tenant, url } => selftest(settings, &db, clock, &tenant, url, json),
        Command::Serve { .. } | Command::Migrate | Command::Doctor => {
            unreachable!("handled by run")
        }
    }
}

/// Opens the database without migrating it, so pending migrations are reported, not applied.
fn doctor(settings: &Settings, clock: &dyn Clock, json: bool) -> anyhow::Result<()> {
    use scimd::service::operations::doctor::{self, Measured, Status};
    let measured = match Database::open(&settings.database_url, 1, 5, 5) {
        Ok(db) => {
            doctor::measure(&db.with_checkout_timeout(std::time::Duration::from_secs(5)), clock)
        }
        Err(e) => Measured::unreachable(e.to_string()),
    };
    let measured = Measured { tls_error: doctor::tls_error(settings), ..measured };
    let findings = doctor::judge(settings, &measured);
    let failed = findings.iter().any(|f| f.status == Status::Fail);
    print(json, &serde_json::json!({"ok": !failed, "checks": findings}), || {
        let rows = findings.iter().map(|f| {
            let status = match f.status {
                Status::Ok => "ok",
                Status::Warn => "WARN",
                Status::Fail => "FAIL",
            };
            [f.check.to_owned(), status.to_owned(), f.detail.clone(), f.fix.clone()]
        });
        scimd::text_table::render(["check", "status", "detail", "fix"], rows)
    });
    if failed {
        std::process::exit(1);
    }
    Ok(())
}

fn selftest(
    settings: &Settings,
    db: &Database,
    clock: &dyn Clock,
    tenant: &str,
    url: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    scimd::tls::install_default_provider();
    let base = url.unwrap_or_else(|| match &settings.public_url {
        Some(public) => format!("{}/scim/v2", public.trim_end_matches('/')),
        None => format!("http://{}/scim/v2", settings.bind),
    });
    let issued = credentials::issue(db, clock, &Actor::Cli, tenant, "selftest (temporary)")?;
    let user_name = format!("selftest-{}@scimd.invalid", uuid::Uuid::new_v4().simple());
    let checks = scimd::selftest::SelfTest::new(&base, &issued.token, &user_name)
        .map(scimd::selftest::SelfTest::run);
    credentials::revoke(db, clock, &Actor::Cli, None, &issued.id)?;
    let checks = checks?;
    let failed = checks.iter().any(|c| !c.passed);
    print(json, &serde_json::json!({"url": base, "ok": !failed, "checks": checks}), || {
        let rows = checks.iter().map(|c| {
            let result = if c.passed { "pass" } else { "FAIL" };
            [c.name.to_owned(), result.to_owned(), c.detail.clone(), c.hint.clone()]
        });
        scimd::text_table::render(["check", "result", "detail", "hint"], rows)
    });
    if failed {
        std::process::exit(1);
    }
    Ok(())
}

fn backup(db: &Database, to: &std::path::Path, json: bool) -> anyhow::Result<()> {
    if !db.target().is_sqlite() {
        anyhow::bail!(
            "scimd backup copies SQLite databases; back PostgreSQL up with pg_dump --format=custom \
             (README \"Backup and restore\")"
        );
    }
    let bytes = db.backup_sqlite(to)?;
    let path = to.display().to_string();
    print(json, &serde_json::json!({"backup": path, "bytes": bytes}), || {
        format!("backed up to {path} ({bytes} bytes, quick_check ok)")
    });
    Ok(())
}

fn serve(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<()> {
    init_logging(&settings.log_format);
    let bind = settings.bind.clone();
    let database = settings.database_url.clone();
    let scheme = if settings.tls_cert.is_some() { "https" } else { "http" };
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings, clock)?;
        tracing::info!(%bind, port = app.port(), %scheme, backend = %backend_name(&database), "scimd listening");
        app.run_until_stopped().await?;
        Ok(())
    })
}

fn backend_name(url: &str) -> &'static str {
    if url.starts_with("postgres") { "postgresql" } else { "sqlite" }
}

fn init_logging(format: &LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SCIMD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Prints `value` as JSON, or the text `human()` builds.
fn print<T: Serialize>(json: bool, value: &T, human: impl FnOnce() -> String) {
    if json {
        println!(
            "{}",
            serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        );
    } else {
        println!("{}", human());
    }
}

/// A `list` command's answer: `{"<key>": [...]}` with `--json`, else a table.
fn print_list<T: Serialize, const N: usize>(
    json: bool,
    key: &str,
    items: &[T],
    headings: [&str; N],
    row: impl Fn(&T) -> [String; N],
) {
    print(json, &serde_json::json!({ key: items }), || {
        scimd::text_table::render(headings, items.iter().map(row))
    });
}

fn tenant_command(
    db: &Database,
    clock: &dyn Clock,
    cmd: TenantCommand,
    json: bool,
) -> anyhow::Result<()> {
    match cmd {
        TenantCommand::Create { slug, name } => {
            let t = tenants::create(db, clock, &Actor::Cli, &slug, name.as_deref())?;
            print(json, &t, || {
                format!(
                    "created tenant '{}' ({})\nnext: scimd token issue --tenant {}",
                    t.slug, t.id, t.slug
                )
            });
        }
        TenantCommand::List { health: true, search } => {
            let page = scimd::service::tenancy::health::page(db, clock, &search, 0, usize::MAX)?;
            let headings = [
                "SLUG",
                "STATUS",
                "LAST SUCCESS",
                "24H REQUESTS",
                "24H FAILURES",
                "USERS",
                "REASON",
            ];
            let row = |t: &scimd::service::tenancy::health::TenantHealth| {
                let status = serde_json::to_value(t.status).ok();
                [
                    t.slug.clone(),
                    status.and_then(|s| s.as_str().map(str::to_owned)).unwrap_or_default(),
                    t.last_success_at.clone().unwrap_or_default(),
                    t.requests_24h.to_string(),
                    t.failures_24h.to_string(),
                    t.users.to_string(),
                    t.last_failure_reason.clone().unwrap_or_default(),
                ]
            };
            // Credentials that need attention: client secrets expiring within 30 days.
            let expiring = tenant_clients::expiring(db, clock, None, 1000)?;
            let body = serde_json::json!({ "tenants": page.tenants, "expiring_secrets": expiring });
            print(json, &body, || {
                let mut out = scimd::text_table::render(headings, page.tenants.iter().map(row));
                for e in &expiring {
                    out.push_str(&format!(
                        "\n{}: client {} ({}) secret {} …{} {} {}",
                        e.tenant.as_deref().unwrap_or("(vendor-wide)"),
                        e.client_id,
                        e.client_name,
                        e.secret.secret_id,
                        e.secret.hint,
                        e.secret.status,
                        e.secret.expires.as_deref().unwrap_or("")
                    ));
                }
                out
            });
        }
        TenantCommand::List { health: false, search } => {
            let mut all = tenants::list(db)?;
            let needle = search.to_lowercase();
            all.retain(|t| t.slug.contains(&needle) || t.name.to_lowercase().contains(&needle));
            print_list(json, "tenants", &all, ["SLUG", "NAME", "STATUS", "CREATED"], |t| {
                let status = if t.disabled { "disabled" } else { "active" };
                [t.slug.clone(), t.name.clone(), status.into(), t.created.clone()]
            });
        }
    }
    Ok(())
}

fn token_command(
    db: &Database,
    clock: &dyn Clock,
    cmd: TokenCommand,
    json: bool,
) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Issue { tenant, label } => {
            let t = credentials::issue(db, clock, &Actor::Cli, &tenant, &label)?;
            print(json, &t, || {
                format!(
                    "token id: {}\ntoken:    {}\n\nThis is the only time the token is shown; it is stored as a hash.\n\
                     In Okta: Provisioning > Integration > Authentication Mode \"HTTP Header\", paste it as the Bearer token.",
                    t.id, t.token
                )
            });
        }
        TokenCommand::List { tenant } => {
            let all = credentials::list(db, &tenant)?;
            let headings = ["ID", "LABEL", "HINT", "CREATED", "LAST USED", "REVOKED"];
            print_list(json, "tokens", &all, headings, |t| {
                [
                    t.id.clone(),
                    t.label.clone(),
                    t.hint.clone(),
                    t.created.clone(),
                    t.last_used.clone().unwrap_or_else(|| "never".into()),
                    t.revoked.clone().unwrap_or_else(|| "-".into()),
                ]
            });
        }
        TokenCommand::Revoke { token_id } => {
            let t = credentials::revoke(db, clock, &Actor::Cli, None, &token_id)?;
            print(json, &t, || format!("revoked token {} ({})", t.id, t.label));
        }
    }
    Ok(())
}

fn apikey_command(
    db: &Database,
    clock: &dyn Clock,
    cmd: ApikeyCommand,
    json: bool,
) -> anyhow::Result<()> {
    match cmd {
        ApikeyCommand::Create { label, tenant, scope } => {
            let k = api_keys::create(
                db,
                clock,
                &Actor::Cli,
                &label,
                tenant.as_deref(),
                scope.as_deref(),
            )?;
            print(
                json,
                &serde_json::json!({"id": k.id, "key": k.key, "label": k.label, "tenant": k.tenant, "scopes": k.scopes}),
                || {
                    format!(
                        "key id: {}\nkey:    {}\nsees:   {}\nscopes: {}\n\nThis is the only time the key is shown; it is stored as a hash.\n\
                     Send it as 'Authorization: Bearer <key>' to /api/v1.",
                        k.id,
                        k.key,
                        k.tenant
                            .as_deref()
                            .map_or("every tenant".to_owned(), |t| format!("tenant {t}")),
                        k.scopes.join(" ")
                    )
                },
            );
        }
        ApikeyCommand::List { tenant } => {
            let all = api_keys::list(db, tenant.as_deref())?;
            let headings =
                ["ID", "LABEL", "TENANT", "SCOPES", "HINT", "CREATED", "LAST USED", "REVOKED"];
            print_list(json, "api_keys", &all, headings, |k| {
                [
                    k.id.clone(),
                    k.label.clone(),
                    k.tenant.clone().unwrap_or_else(|| "*".into()),
                    k.scopes.join(" "),
                    k.hint.clone(),
                    k.created.clone(),
                    k.last_used.clone().unwrap_or_else(|| "never".into()),
                    k.revoked.clone().unwrap_or_else(|| "-".into()),
                ]
            });
        }
        ApikeyCommand::Revoke { key_id } => {
            let k = api_keys::revoke(db, clock, &Actor::Cli, &key_id)?;
            print(json, &k, || format!("revoked API key {} ({})", k.id, k.label));
        }
    }
    Ok(())
}

/// Prints the matching events oldest first, a page at a time, so an export of millions of
/// events runs in constant memory.
fn audit(
    db: &Database,
    clock: &dyn Clock,
    query: &audit_log::AuditQuery,
    limit: i64,
    json: bool,
) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if !json {
        writeln!(out, "{:<26} {:<24} {:<16} {:<44} DETAIL", "AT", "EVENT", "TENANT", "ACTOR")?;
    }
    let mut left = if limit > 0 { limit } else { i64::MAX };
    let mut cursor: Option<String> = None;
    while left > 0 {
        let page = audit_log::page(db, clock, query, cursor.as_deref(), false, left.min(1000))?;
        for e in &page.events {
            if json {
                writeln!(out, "{}", serde_json::to_string(e)?)?;
            } else {
                let tenant = e.tenant.as_deref().unwrap_or("-");
                writeln!(
                    out,
                    "{:<26} {:<24} {:<16} {:<44} {}",
                    e.at, e.event, tenant, e.actor, e.detail
                )?;
            }
        }
        left -= i64::try_from(page.events.len()).unwrap_or(left);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    out.flush()?;
    Ok(())
}

fn read_password_line() -> anyhow::Result<String> {
    let mut password = String::new();
    std::io::stdin().read_line(&mut password)?;
    Ok(password.trim_end_matches(['\r', '\n']).to_owned())
}

fn operator_command(
    db: &Database,
    clock: &dyn Clock,
    cmd: OperatorCommand,
    json: bool,
) -> anyhow::Result<()> {
    match cmd {
        OperatorCommand::Create { email, password_stdin: _ } => {
            let operator = operators::create(db, clock, &email, &read_password_line()?)?;
            print(json, &operator, || {
                format!("created operator {} ({}); sign in at /admin", operator.email, operator.id)
            });
        }
        OperatorCommand::List => {
            let all = operators::list(db)?;
            print_list(json, "operators", &all, ["ID", "EMAIL", "DISABLED", "CREATED"], |o| {
                [o.id.clone(), o.email.clone(), o.disabled.to_string(), o.created.clone()]
            });
        }
        OperatorCommand::Disable { operator } => {
            let o = operators::set_disabled(db, clock, &Actor::Cli, &operator, true)?;
            print(json, &o, || {
                format!("disabled operator {} ({}); signed out everywhere", o.email, o.id)
            });
        }
        OperatorCommand::Enable { operator } => {
            let o = operators::set_disabled(db, clock, &Actor::Cli, &operator, false)?;
            print(json, &o, || format!("enabled operator {} ({})", o.email, o.id));
        }
        OperatorCommand::ResetPassword { operator } => {
            let issued = operators::reset_password(db, clock, &Actor::Cli, &operator)?;
            print(json, &issued, || {
                format!(
                    "new password for {} (shown once; their sessions ended): {}",
                    issued.operator.email, issued.password
                )
            });
        }
    }
    Ok(())
}

fn tenant_admin_command(
    db: &Database,
    clock: &dyn Clock,
    cmd: TenantAdminCommand,
    json: bool,
) -> anyhow::Result<()> {
    match cmd {
        TenantAdminCommand::Create { tenant, email, password_stdin: _ } => {
            let password = read_password_line()?;
            let admin = tenant_admins::create(db, clock, &Actor::Cli, &tenant, &email, &password)?;
            print(json, &admin, || {
                format!(
                    "created admin {} for tenant '{}' ({})",
                    admin.email, admin.tenant, admin.id
                )
            });
        }
        TenantAdminCommand::List { tenant } => {
            let all = tenant_admins::list(db, &tenant)?;
            print_list(json, "admins", &all, ["ID", "EMAIL", "CREATED"], |a| {
                [a.id.clone(), a.email.clone(), a.created.clone()]
            });
        }
    }
    Ok(())
}

fn client_command(
    db: &Database,
    clock: &dyn Clock,
    cmd: ClientCommand,
    settings: &Settings,
    json: bool,
) -> anyhow::Result<()> {
    let insecure = settings.allow_insecure_jwks_uri;
    match cmd {
        ClientCommand::Create(args) => create_client(db, clock, args, json)?,
        ClientCommand::Federate {
            tenant,
            name,
            issuer,
            subject,
            audience,
            jwks_uri,
            access_ttl_minutes,
            scope,
        } => {
            let new = tenant_clients::NewTenantClient {
                tenant: &tenant,
                name: &name,
                access_ttl_minutes,
                scope: scope.as_deref(),
            };
            let federation = tenant_clients::Federation {
                issuer: &issuer,
                subject: &subject,
                audience: &audience,
                jwks_uri: &jwks_uri,
            };
            let c = tenant_clients::federate(db, clock, &Actor::Cli, &new, &federation, insecure)?;
            print(json, &c, || federated_text(&c));
        }
        ClientCommand::List { tenant } => {
            let all = tenant_clients::list(db, clock, tenant.as_deref())?;
            print(json, &serde_json::json!({ "clients": all }), || {
                all.iter().map(client_text).collect::<Vec<_>>().join("\n\n")
            });
        }
        ClientCommand::Show { client_id } => {
            let c = tenant_clients::show(db, clock, &client_id)?;
            print(json, &c, || client_text(&c));
        }
        ClientCommand::AddSecret { client_id, expires_in_days } => {
            let s =
                tenant_clients::add_secret(db, clock, &Actor::Cli, &client_id, expires_in_days)?;
            print(json, &s, || {
                format!(
                    "client_id:         {}\nclient_secret:     {}\nsecret_id:         {}\nsecret_expires_at: {}\n\nThe secret is shown only now. The client's other secrets keep working until they expire or are revoked.",
                    s.client_id,
                    s.client_secret,
                    s.secret_id,
                    s.secret_expires_at.as_deref().unwrap_or("never")
                )
            });
        }
        ClientCommand::RevokeSecret { client_id, secret_id } => {
            let s = tenant_clients::revoke_secret(db, clock, &Actor::Cli, &client_id, &secret_id)?;
            print(json, &s, || format!("secret {} of client {client_id} is revoked", s.secret_id));
        }
        ClientCommand::SetJwks { client_id, jwks_uri, jwks_file } => {
            let source = jwks_source(jwks_uri, jwks_file)?;
            let c =
                tenant_clients::set_jwks(db, clock, &Actor::Cli, &client_id, &source, insecure)?;
            print(json, &c, || client_text(&c));
        }
        ClientCommand::RotateSecret { client_id } => {
            let c = clients::rotate_secret(db, clock, &Actor::Cli, &client_id)?;
            print(json, &c, || issued_client_text(&c));
        }
        ClientCommand::Delete { client_id } => {
            let c = clients::delete(db, clock, &Actor::Cli, &client_id)?;
            print(json, &c, || {
                format!("deleted client {} ({}) and its grants", c.client_id, c.name)
            });
        }
    }
    Ok(())
}

/// A federated client as `client federate` prints it.
fn federated_text(c: &tenant_clients::FederatedClient) -> String {
    format!(
        "client_id: {}\ntenant:    {}\ntrusts assertions from {} about {} for {}, keys at {}",
        c.client_id, c.tenant, c.issuer, c.subject, c.audience, c.jwks_uri
    )
}

/// Where `client set-jwks` takes a client's keys from: a URI, or a JWKS file read now.
fn jwks_source(
    uri: Option<String>,
    file: Option<std::path::PathBuf>,
) -> anyhow::Result<tenant_clients::JwksSource> {
    Ok(match (uri, file) {
        (Some(uri), _) => tenant_clients::JwksSource::Uri(uri),
        (None, Some(path)) => tenant_clients::JwksSource::Inline(
            std::fs::read_to_string(&path)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
        ),
        (None, None) => anyhow::bail!("give --jwks-uri or --jwks-file"),
    })
}

/// A vendor-wide client as created or rotated: its secret, shown once.
fn issued_client_text(c: &clients::IssuedClient) -> String {
    format!(
        "client_id:     {}\nclient_secret: {}\nredirect URIs:\n  {}\n\nThe secret is shown only now; it is stored as a SHA-256 hash.",
        c.client_id,
        c.client_secret,
        c.redirect_uris.join("\n  ")
    )
}

/// `client create`: a vendor-wide authorization-code client, or one tenant's client-credentials
/// client.
fn create_client(
    db: &Database,
    clock: &dyn Clock,
    args: NewClientArgs,
    json: bool,
) -> anyhow::Result<()> {
    let NewClientArgs {
        name,
        redirect_uris,
        okta_app,
        okta_http_callback,
        require_pkce,
        tenant,
        grant,
        access_ttl_minutes,
        secret_expires_in_days,
        scope,
    } = args;
    match (grant.as_deref(), tenant) {
        (Some("client_credentials"), Some(tenant)) => {
            if !redirect_uris.is_empty() || okta_app.is_some() || require_pkce {
                anyhow::bail!("a client_credentials client has no redirect URIs and no PKCE");
            }
            let new = tenant_clients::NewTenantClient {
                tenant: &tenant,
                name: &name,
                access_ttl_minutes,
                scope: scope.as_deref(),
            };
            let c = tenant_clients::create(db, clock, &Actor::Cli, &new, secret_expires_in_days)?;
            print(json, &c, || {
                format!(
                    "client_id:         {}\nclient_secret:     {}\nsecret_id:         {}\nsecret_expires_at: {}\ntenant:            {}\naccess tokens:     {} minutes, scope \"{}\"\n\nThe secret is shown only now; it is stored as a SHA-256 hash.",
                    c.client_id,
                    c.client_secret,
                    c.secret_id,
                    c.secret_expires_at.as_deref().unwrap_or("never"),
                    c.tenant,
                    c.access_ttl_minutes,
                    c.scope
                )
            });
        }
        (Some("client_credentials"), None) => {
            anyhow::bail!("a client_credentials client belongs to one tenant: give --tenant")
        }
        (None | Some("authorization_code"), None) => {
            if access_ttl_minutes.is_some() || secret_expires_in_days.is_some() || scope.is_some() {
                anyhow::bail!(
                    "--access-ttl-minutes, --secret-expires-in-days and --scope are for \
                     --grant client_credentials"
                );
            }
            let new = clients::NewClient {
                name: &name,
                redirect_uris: &redirect_uris,
                okta_app: okta_app.as_deref(),
                okta_http_callback,
                require_pkce,
            };
            let c = clients::create(db, clock, &Actor::Cli, &new)?;
            print(json, &c, || issued_client_text(&c));
        }
        (Some("authorization_code"), Some(_)) => anyhow::bail!(
            "an authorization_code client is vendor-wide: the tenant is chosen at consent"
        ),
        (Some(other), _) => {
            anyhow::bail!("--grant must be authorization_code or client_credentials, not '{other}'")
        }
        (None, Some(_)) => anyhow::bail!("--tenant needs --grant client_credentials"),
    }
    Ok(())
}

/// A client and its secrets as `client list` and `client show` print them.
fn client_text(c: &tenant_clients::TenantClientView) -> String {
    let mut out = format!(
        "{}  {}  tenant {}  {}  {}{}",
        c.client_id,
        c.name,
        c.tenant.as_deref().unwrap_or("(vendor-wide)"),
        c.grant_type,
        c.auth_method,
        if c.revoked { "  REVOKED" } else { "" }
    );
    if let Some(issuer) = &c.issuer {
        out.push_str(&format!(
            "\n  trusts iss {issuer}, sub {}, aud {}",
            c.subject.as_deref().unwrap_or("-"),
            c.audience.as_deref().unwrap_or("-")
        ));
    }
    if let Some(uri) = &c.jwks_uri {
        out.push_str(&format!("\n  keys at {uri}"));
    }
    if !c.secrets.is_empty() {
        let table = scimd::text_table::render(
            ["SECRET ID", "HINT", "CREATED", "EXPIRES", "LAST USED", "STATUS"],
            c.secrets.iter().map(|s| {
                [
                    s.secret_id.clone(),
                    format!("…{}", s.hint),
                    s.created.clone(),
                    s.expires.clone().unwrap_or_else(|| "never".into()),
                    s.last_used.clone().unwrap_or_else(|| "-".into()),
                    s.status.to_owned(),
                ]
            }),
        );
        for line in table.lines() {
            out.push_str("\n  ");
            out.push_str(line);
        }
    }
    out
}

fn keys_command(
    db: &Database,
    clock: &dyn Clock,
    cmd: KeysCommand,
    settings: &Settings,
    json: bool,
) -> anyhow::Result<()> {
    let ttl_ms = settings.access_token_ttl_ms();
    let sealer = settings.sealer()?;
    match cmd {
        KeysCommand::Rotate => {
            let k = keys::rotate(db, clock, &Actor::Cli, ttl_ms, &sealer)?;
            print(json, &k, || {
                format!(
                    "new signing key {} ({}), published now, signing in {} s; older keys stay \
                     published until their tokens expire",
                    k.kid,
                    k.alg,
                    keys::PUBLISH_LEAD / 1000
                )
            });
        }
        KeysCommand::Revoke { kid } => {
            let k = keys::revoke(db, clock, &Actor::Cli, &kid, ttl_ms, &sealer)?;
            print(json, &k, || {
                format!(
                    "signing key {} deleted; tokens it signed stop working on every node within {} s",
                    k.kid,
                    keys::KEY_CACHE_MAX_AGE / 1000
                )
            });
        }
        KeysCommand::List => {
            let all = keys::list(db, clock, ttl_ms)?;
            print_list(
                json,
                "keys",
                &all,
                ["KID", "ALG", "CREATED", "RETIRED", "PUBLISHED"],
                |k| {
                    [
                        k.kid.clone(),
                        k.alg.clone(),
                        k.created.clone(),
                        k.retired.clone().unwrap_or_else(|| "-".into()),
                        k.published.to_string(),
                    ]
                },
            );
        }
    }
    Ok(())
}

fn grant_command(
    db: &Database,
    clock: &dyn Clock,
    cmd: GrantCommand,
    json: bool,
) -> anyhow::Result<()> {
    match cmd {
        GrantCommand::List { tenant } => {
            let all = grants::list(db, tenant.as_deref())?;
            let headings = ["ID", "TENANT", "CLIENT", "SCOPE", "CREATED", "REVOKED"];
            print_list(json, "grants", &all, headings, |g| {
                [
                    g.id.clone(),
                    g.tenant.clone(),
                    g.client_id.clone(),
                    g.scope.clone(),
                    g.created.clone(),
                    g.revoked.clone().unwrap_or_else(|| "-".into()),
                ]
            });
        }
        GrantCommand::Revoke { grant_id } => {
            grants::revoke(db, clock, &Actor::Cli, None, &grant_id, "revoked by an operator")?;
            print(json, &serde_json::json!({ "revoked": grant_id }), || {
                format!("revoked grant {grant_id}")
            });
        }
    }
    Ok(())
}

/// A webhook endpoint as created or rotated: its signing secret, shown once.
fn issued_webhook_text(
    e: &scimd::service::delivery::webhooks::endpoints::IssuedEndpoint,
) -> String {
    let mut text = format!(
        "endpoint: {}\nurl:      {}\ntenant:   {}\nevents:   {}\nsecret:   {}",
        e.id,
        e.url,
        e.tenant.as_deref().unwrap_or("*"),
        e.events,
        e.secret
    );
    if let Some(until) = &e.previous_secret_until {
        text.push_str(&format!("\nthe previous secret also signs until {until}"));
    }
    text.push_str("\n\nVerify deliveries with this secret (Standard Webhooks).");
    text
}

/// One endpoint as a row of `webhook list`.
fn webhook_row(e: &scimd::service::delivery::webhooks::endpoints::EndpointView) -> [String; 8] {
    let status = match (&e.enabled, &e.disabled_reason) {
        (true, _) => "enabled".to_owned(),
        (false, Some(reason)) => format!("disabled: {reason}"),
        (false, None) => "disabled".to_owned(),
    };
    let last = e.last_delivery.as_ref().map_or_else(
        || "-".to_owned(),
        |d| match d.status_code {
            Some(code) => format!("{} {code} {}ms", d.outcome, d.latency_ms),
            None => d.outcome.clone(),
        },
    );
    [
        e.id.clone(),
        e.url.clone(),
        e.tenant.clone().unwrap_or_else(|| "*".into()),
        e.events.clone(),
        status,
        e.pending.to_string(),
        last,
        e.next_retry.clone().unwrap_or_else(|| "-".into()),
    ]
}

fn webhook_command(
    db: &Database,
    clock: &dyn Clock,
    settings: &Settings,
    cmd: WebhookCommand,
    json: bool,
) -> anyhow::Result<()> {
    use scimd::service::delivery::webhooks::endpoints::{self, NewEndpoint, Replay};
    match cmd {
        WebhookCommand::Create { url, tenant, events } => {
            let new = NewEndpoint { url: &url, tenant: tenant.as_deref(), events: &events };
            let allow = settings.allow_private_webhook_targets;
            let e = endpoints::create(db, clock, &Actor::Cli, &new, allow)?;
            print(json, &e, || issued_webhook_text(&e));
        }
        WebhookCommand::List => {
            let all = endpoints::list(db, clock)?;
            let headings =
                ["ID", "URL", "TENANT", "EVENTS", "STATUS", "PENDING", "LAST", "NEXT RETRY"];
            print_list(json, "webhooks", &all, headings, webhook_row);
        }
        WebhookCommand::Disable { id } => {
            endpoints::disable(db, clock, &Actor::Cli, &id, "disabled by an operator")?;
            print(json, &serde_json::json!({ "disabled": id }), || format!("disabled {id}"));
        }
        WebhookCommand::Enable { id } => {
            endpoints::enable(db, clock, &Actor::Cli, &id)?;
            print(json, &serde_json::json!({ "enabled": id }), || format!("enabled {id}"));
        }
        WebhookCommand::Delete { id } => {
            endpoints::delete(db, clock, &Actor::Cli, &id)?;
            print(json, &serde_json::json!({ "deleted": id }), || format!("deleted {id}"));
        }
        WebhookCommand::RotateSecret { id, grace_hours } => {
            let e = endpoints::rotate_secret(db, clock, &Actor::Cli, &id, grace_hours)?;
            print(json, &e, || issued_webhook_text(&e));
        }
        WebhookCommand::Replay { id, event, since, until } => {
            let which = match (&event, &since) {
                (Some(event), _) => Replay::Event(event),
                (None, Some(since)) => {
                    let now = clock.now();
                    let since = audit_log::parse_since(since, now)?;
                    let until = match &until {
                        Some(until) => audit_log::parse_since(until, now)?,
                        None => now,
                    };
                    Replay::Range { since, until }
                }
                (None, None) => anyhow::bail!("give --event EVT_ID or --since TIME"),
            };
            let queued = endpoints::replay(db, clock, &Actor::Cli, &id, &which)?;
            print(json, &serde_json::json!({ "queued": queued }), || {
                format!("queued {queued} event(s) for re-delivery to {id}")
            });
        }
    }
    Ok(())
}
