//! The operator CLI drives the same database, and `--json` output is what scripts parse.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::cli::{audit_lines, scimd, scimd_stdin};
use crate::support::*;

#[tokio::test]
async fn cli_tenant_and_token_lifecycle() {
    let app = spawn_app().await;
    let url = app.settings.database_url.clone();
    let tenant = scimd(&url, &["tenant", "create", "initech", "--name", "Initech"]);
    assert_eq!(tenant["slug"], "initech");
    let listed = scimd(&url, &["tenant", "list"]);
    assert!(listed["tenants"].as_array().unwrap().iter().any(|t| t["slug"] == "initech"));

    let issued = scimd(&url, &["token", "issue", "--tenant", "initech", "--label", "okta"]);
    let token = issued["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("scimd_st_"));
    // The token works against the running server at once.
    assert_eq!(app.get_as(&token, "/Users").await.status(), StatusCode::OK);

    let tokens = scimd(&url, &["token", "list", "--tenant", "initech"]);
    assert!(!tokens.to_string().contains(&token), "token list must not reveal secrets");
    assert_eq!(tokens["tokens"][0]["id"], issued["id"]);

    let revoked = scimd(&url, &["token", "revoke", issued["id"].as_str().unwrap()]);
    assert!(revoked["revoked"].is_string());
    // The CLI is another process: the server's credential cache lets it go within a second.
    app.refused_within_a_second(&app.address, &token, std::time::Instant::now()).await;

    // Errors are JSON too, with a failing exit code.
    let output = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["--database-url", &url, "--json", "tenant", "create", "initech"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(err["error"].as_str().unwrap().contains("already exists"));
}

#[tokio::test]
async fn cli_tenant_admin_is_the_name_and_admin_its_alias() {
    let app = spawn_app().await;
    let url = app.settings.database_url.clone();
    let created = scimd_stdin(
        &url,
        &[
            "tenant-admin",
            "create",
            "--tenant",
            "acme",
            "--email",
            "it@acme.test",
            "--password-stdin",
        ],
        "a long enough password\n",
    );
    assert_eq!(created["email"], "it@acme.test");
    let by_name = scimd(&url, &["tenant-admin", "list", "--tenant", "acme"]);
    let by_alias = scimd(&url, &["admin", "list", "--tenant", "acme"]);
    assert_eq!(by_name, by_alias);
    assert_eq!(by_name["admins"][0]["email"], "it@acme.test");

    let help = Command::new(env!("CARGO_BIN_EXE_scimd")).arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("tenant-admin") && help.contains("[alias: admin]"), "{help}");
}

#[tokio::test]
async fn cli_admins_clients_keys_grants_and_audit() {
    let app = spawn_app().await;
    let url = app.settings.database_url.clone();
    let admin = scimd_stdin(
        &url,
        &["admin", "create", "--tenant", "acme", "--email", "ops@acme.test", "--password-stdin"],
        "a long enough password\n",
    );
    assert_eq!(admin["email"], "ops@acme.test");
    let listed = scimd(&url, &["admin", "list", "--tenant", "acme"]);
    assert_eq!(listed["admins"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains("argon2"), "no hashes in output");

    let client = scimd(&url, &["client", "create", "--name", "Okta", "--okta-app", "acme_scim"]);
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    assert!(client["client_secret"].as_str().unwrap().starts_with("scimd_cs_"));
    let uris: Vec<&str> =
        client["redirect_uris"].as_array().unwrap().iter().map(|u| u.as_str().unwrap()).collect();
    assert_eq!(uris.len(), 4, "the plain-http okta1.com cell only on request: {uris:?}");
    for host in ["okta.com", "okta-emea.com", "oktapreview.com", "trexcloud.com"] {
        assert!(
            uris.iter().any(|u| u
                .contains(&format!("system-admin.{host}/admin/app/cpc/acme_scim/oauth/callback"))),
            "{host}"
        );
    }
    let listed = scimd(&url, &["client", "list"]);
    assert!(!listed.to_string().contains("client_secret"));
    let rotated = scimd(&url, &["client", "rotate-secret", &client_id]);
    assert_ne!(rotated["client_secret"], client["client_secret"]);

    // The old secret stops working at once, the new one works.
    let token_url = format!("{}/oauth/token", app.address);
    let form = [("grant_type", "refresh_token"), ("refresh_token", "scimd_rt_x")];
    let old = app
        .client
        .post(&token_url)
        .basic_auth(&client_id, client["client_secret"].as_str())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let new = app
        .client
        .post(&token_url)
        .basic_auth(&client_id, rotated["client_secret"].as_str())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        new.status(),
        StatusCode::BAD_REQUEST,
        "authenticated; the refresh token is what is wrong"
    );

    let key = scimd(&url, &["keys", "rotate"]);
    let keys = scimd(&url, &["keys", "list"]);
    assert_eq!(keys["keys"].as_array().unwrap().len(), 2);
    assert_eq!(keys["keys"][0]["kid"], key["kid"]);
    assert!(!keys.to_string().contains("private"));

    let grants = scimd(&url, &["grant", "list", "--tenant", "acme"]);
    assert_eq!(grants["grants"], serde_json::json!([]));
    scimd(&url, &["client", "delete", &client_id]);
    assert!(scimd(&url, &["client", "list"])["clients"].as_array().unwrap().is_empty());

    let audit = audit_lines(&url, &["--since", "1h"]);
    let events: Vec<&str> = audit.iter().map(|e| e["event"].as_str().unwrap()).collect();
    for expected in [
        "admin.created",
        "client.created",
        "client.secret_rotated",
        "client.auth_failed",
        "key.rotated",
        "client.deleted",
    ] {
        assert!(events.contains(&expected), "{expected} missing from {events:?}");
    }
    let acme_only = audit_lines(&url, &["--tenant", "acme"]);
    assert!(!acme_only.is_empty());
    assert!(acme_only.iter().all(|e| e["tenant"] == "acme"));
    let rotated = audit_lines(&url, &["--event", "key.rotated"]);
    assert_eq!(rotated.len(), 1, "{rotated:?}");
    // Oldest first, and --limit caps the export across pages.
    let all = audit_lines(&url, &["--limit", "0"]);
    let times: Vec<&str> = all.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_eq!(audit_lines(&url, &["--limit", "2"]).len(), 2);
    assert!(!format!("{all:?}").contains("scimd_cs_"), "no secret in the trail");
}

#[tokio::test]
async fn cli_creates_operators_with_the_password_on_stdin() {
    use std::io::Write;
    let app = spawn_app().await;
    let url = app.settings.database_url.clone();
    let mut child = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["--database-url", &url, "--json", "operator", "create", "--email"])
        .args(["ops@vendor.test", "--password-stdin"])
        .env_remove("SCIMD_CONFIG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run scimd");
    child.stdin.take().unwrap().write_all(b"correct horse battery\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let created: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(created["email"], "ops@vendor.test");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("horse"));
    let listed = scimd(&url, &["operator", "list"]);
    assert_eq!(listed["operators"][0]["email"], "ops@vendor.test");
    let events = audit_lines(&url, &["--event", "operator.created"]);
    assert_eq!(events.len(), 1);
}

/// `scimd backup` copies a serving SQLite database; a server on the copy serves the same data
/// to the same token. PostgreSQL is refused with the pg_dump procedure's pointer.
#[tokio::test]
async fn a_backup_taken_while_serving_restores_to_a_server_with_the_same_data() {
    let app = spawn_app().await;
    let url = app.settings.database_url.clone();
    let user =
        expect_json(app.post("/Users", &okta_user("ada@acme.test")).await, StatusCode::CREATED)
            .await;
    let dir = tempfile_dir();
    let to = dir.join("backup.db");
    let output = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["--database-url", &url, "--json", "backup", "--to"])
        .arg(&to)
        .env_remove("SCIMD_CONFIG")
        .output()
        .expect("run scimd");
    if !app.db.target().is_sqlite() {
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stdout).contains("pg_dump"));
        return;
    }
    let done: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(output.status.success(), "{done}");
    assert!(done["bytes"].as_u64().unwrap() > 0, "{done}");
    // Writes after the backup are not in it.
    expect_json(app.post("/Users", &okta_user("late@acme.test")).await, StatusCode::CREATED).await;
    // A second backup to the same file is refused, not merged.
    let again = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["--database-url", &url, "--json", "backup", "--to"])
        .arg(&to)
        .output()
        .unwrap();
    assert!(!again.status.success());

    let restored = scimd::config::Settings {
        bind: "127.0.0.1:0".into(),
        database_url: format!("sqlite://{}", to.display()),
        ..app.settings.clone()
    };
    let db = scimd::db::Database::connect(&restored.database_url, 2).unwrap();
    let node = scimd::startup::Application::build_with(restored, app.clock.clone(), db).unwrap();
    let address = format!("http://127.0.0.1:{}", node.port());
    tokio::spawn(node.run_until_stopped());
    let scim = |path: String| {
        app.client.get(format!("{address}/scim/v2{path}")).bearer_auth(&app.token).send()
    };
    let read =
        expect_json(scim(format!("/Users/{}", id_of(&user))).await.unwrap(), StatusCode::OK).await;
    assert_eq!(read["userName"], "ada@acme.test");
    let all = expect_json(scim("/Users".into()).await.unwrap(), StatusCode::OK).await;
    assert_eq!(all["totalResults"], 1, "the later user is not in the backup");
    std::fs::remove_dir_all(dir).ok();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("scimd-backup-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `scimd doctor --json`: every check with its status and fix; a database with pending
/// migrations fails (exit 1) instead of being migrated behind the operator's back.
#[tokio::test]
async fn doctor_reports_each_check_and_fails_on_pending_migrations() {
    let app = spawn_app().await;
    let run = |url: &str, extra: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_scimd"));
        command.args(["--database-url", url, "--json", "doctor"]).env_remove("SCIMD_CONFIG");
        for (key, value) in extra {
            command.env(key, value);
        }
        let output = command.output().expect("run scimd");
        let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
        (output.status.code(), report)
    };
    let status = |report: &Value, check: &str| {
        let found = report["checks"].as_array().unwrap().iter().find(|c| c["check"] == check);
        found.unwrap_or_else(|| panic!("no {check} in {report}"))["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (code, report) = run(&app.settings.database_url, &[("SCIMD_BIND", "127.0.0.1:8080")]);
    assert_eq!(code, Some(0), "{report}");
    for check in ["database", "migrations", "signing_key", "clock", "schemas"] {
        assert_eq!(status(&report, check), "ok", "{check}: {report}");
    }
    assert_eq!(status(&report, "public_url"), "warn");
    // PostgreSQL without autovacuum (as on CI's server) is warned about; SQLite has no setting.
    let autovacuum_off = match &mut *app.db.conn().unwrap() {
        scimd::db::DbConnection::Postgres(pg) => {
            use diesel::RunQueryDsl;
            #[derive(diesel::QueryableByName)]
            struct Setting {
                #[diesel(sql_type = diesel::sql_types::Text)]
                autovacuum: String,
            }
            let setting: Setting =
                diesel::sql_query("SHOW autovacuum").get_result(pg).expect("SHOW autovacuum");
            setting.autovacuum == "off"
        }
        scimd::db::DbConnection::Sqlite(_) => false,
    };
    let expected = if autovacuum_off { "warn" } else { "ok" };
    assert_eq!(status(&report, "planner_statistics"), expected, "{report}");
    // Plain http on every interface with neither TLS nor a proxy, and an http public_url.
    let exposed = [("SCIMD_BIND", "0.0.0.0:8080"), ("SCIMD_PUBLIC_URL", "http://scim.example.com")];
    let (code, report) = run(&app.settings.database_url, &exposed);
    assert_eq!(code, Some(1));
    assert_eq!(
        (status(&report, "tls"), status(&report, "public_url")),
        ("fail".into(), "fail".into())
    );
    assert!(report["checks"].to_string().contains("trusted_proxies"), "the fix is named");

    if app.db.target().is_sqlite() {
        let fresh =
            std::env::temp_dir().join(format!("scimd-doctor-{}.db", uuid::Uuid::new_v4().simple()));
        let (code, report) = run(&format!("sqlite://{}", fresh.display()), &[]);
        assert_eq!(code, Some(1));
        assert_eq!(status(&report, "migrations"), "fail", "{report}");
        std::fs::remove_file(fresh).ok();
    }
}

/// `scimd selftest` replays Okta's SPEC sequence and Entra's checks against the running server
/// with a temporary token and user, and leaves neither behind.
#[tokio::test]
async fn selftest_passes_against_a_running_server_and_cleans_up() {
    let app = spawn_app().await;
    let url = app.settings.database_url.clone();
    let selftest = |base: String| {
        let url = app.settings.database_url.clone();
        tokio::task::spawn_blocking(move || {
            let args = ["--database-url", &url, "--json", "selftest", "--tenant", "acme", "--url"];
            Command::new(env!("CARGO_BIN_EXE_scimd"))
                .args(args)
                .arg(&base)
                .env_remove("SCIMD_CONFIG")
                .output()
                .expect("run scimd")
        })
    };
    let output = selftest(format!("{}/scim/v2", app.address)).await.unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    let checks = report["checks"].as_array().unwrap();
    assert!(checks.len() >= 12, "{report}");
    // Every check but the one Okta times (a property of the machine, not asserted here).
    for check in checks.iter().filter(|c| c["name"] != "groups answer fast") {
        assert_eq!(check["passed"], true, "{check}");
    }
    // Its user and its token are gone.
    let users = expect_json(app.get("/Users").await, StatusCode::OK).await;
    assert_eq!(users["totalResults"], 0, "{users}");
    let tokens = scimd(&url, &["token", "list", "--tenant", "acme"]);
    let live: Vec<&Value> =
        tokens["tokens"].as_array().unwrap().iter().filter(|t| t["revoked"].is_null()).collect();
    assert_eq!(live.len(), 1, "only the test's own token is live: {tokens}");

    // A server that is not there: the first check fails with a hint, and the exit status says so.
    let output = selftest("http://127.0.0.1:9/scim/v2".into()).await.unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert!(report["checks"][0]["hint"].as_str().unwrap().contains("--url"), "{report}");
}
