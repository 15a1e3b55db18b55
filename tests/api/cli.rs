//! The operator CLI drives the same database, and `--json` output is what scripts parse.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

fn scimd(database_url: &str, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["--database-url", database_url, "--json"])
        .args(args)
        .env_remove("SCIMD_CONFIG")
        .output()
        .expect("run scimd");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "scimd {args:?} failed: {stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout}"))
}

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
    assert_eq!(app.get_as(&token, "/Users").await.status(), StatusCode::UNAUTHORIZED);

    // Errors are JSON too, with a failing exit code.
    let output = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["--database-url", &url, "--json", "tenant", "create", "initech"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(err["error"].as_str().unwrap().contains("already exists"));
}
