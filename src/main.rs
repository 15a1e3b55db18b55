//! The `scimd` binary: the server (`scimd serve`, the default) and the operator CLI.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use serde::Serialize;

use scimd::clock::{Clock, SystemClock};
use scimd::config::{LogFormat, Settings};
use scimd::db::Database;
use scimd::service::{credentials, tenants};
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
    /// Serve HTTP (the default).
    Serve {
        /// Listen address (overrides SCIMD_BIND).
        #[arg(long)]
        bind: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage tenants (customer organisations).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage static bearer tokens (Okta "HTTP Header" authentication).
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant.
    Create {
        slug: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// List tenants.
    List,
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
    match cli.command.unwrap_or(Command::Serve { bind: None }) {
        Command::Serve { bind } => {
            if let Some(bind) = bind {
                settings.bind = bind;
            }
            serve(settings, clock)
        }
        Command::Migrate => {
            Database::connect(&settings.database_url, 1)?;
            print(cli.json, &serde_json::json!({"migrated": true}), || {
                "migrations are up to date".into()
            });
            Ok(())
        }
        Command::Tenant(cmd) => {
            let db = Database::connect(&settings.database_url, 2)?;
            tenant_command(&db, clock.as_ref(), cmd, cli.json)
        }
        Command::Token(cmd) => {
            let db = Database::connect(&settings.database_url, 2)?;
            token_command(&db, clock.as_ref(), cmd, cli.json)
        }
    }
}

fn serve(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<()> {
    init_logging(&settings.log_format);
    let bind = settings.bind.clone();
    let database = settings.database_url.clone();
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings, clock)?;
        tracing::info!(%bind, port = app.port(), backend = %backend_name(&database), "scimd listening");
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

fn tenant_command(
    db: &Database,
    clock: &dyn Clock,
    cmd: TenantCommand,
    json: bool,
) -> anyhow::Result<()> {
    match cmd {
        TenantCommand::Create { slug, name } => {
            let t = tenants::create(db, clock, &slug, name.as_deref())?;
            print(json, &t, || {
                format!(
                    "created tenant '{}' ({})\nnext: scimd token issue --tenant {}",
                    t.slug, t.id, t.slug
                )
            });
        }
        TenantCommand::List => {
            let all = tenants::list(db)?;
            print(json, &serde_json::json!({ "tenants": all }), || {
                let mut out = format!("{:<24} {:<30} {:<8} CREATED", "SLUG", "NAME", "STATUS");
                for t in &all {
                    let status = if t.disabled { "disabled" } else { "active" };
                    out.push_str(&format!(
                        "\n{:<24} {:<30} {:<8} {}",
                        t.slug, t.name, status, t.created
                    ));
                }
                out
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
            let t = credentials::issue(db, clock, &tenant, &label)?;
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
            print(json, &serde_json::json!({ "tokens": all }), || {
                let mut out = format!(
                    "{:<38} {:<16} {:<16} {:<26} {:<26} REVOKED",
                    "ID", "LABEL", "HINT", "CREATED", "LAST USED"
                );
                for t in &all {
                    out.push_str(&format!(
                        "\n{:<38} {:<16} {:<16} {:<26} {:<26} {}",
                        t.id,
                        t.label,
                        t.hint,
                        t.created,
                        t.last_used.as_deref().unwrap_or("never"),
                        t.revoked.as_deref().unwrap_or("-")
                    ));
                }
                out
            });
        }
        TokenCommand::Revoke { token_id } => {
            let t = credentials::revoke(db, clock, &token_id)?;
            print(json, &t, || format!("revoked token {} ({})", t.id, t.label));
        }
    }
    Ok(())
}
