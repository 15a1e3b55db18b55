//! The console's "Connect Entra ID" page over HTTP: a client-credentials client created, its
//! secret shown once and used at the token endpoint, rotated and revoked through the forms;
//! federation refused with a message, not a 500; expiring secrets on the fleet dashboard.

use reqwest::StatusCode;
use serde_json::Value;

use scimd::service::oauth::tenant_clients;

use crate::support::*;

/// The value of the read-only input `id` on a page (a shown client id or secret).
fn shown_value(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\" type=\"text\" readonly value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {id}: {html}")) + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// Client credentials at the token endpoint with HTTP Basic, as Entra sends them.
async fn token_with(app: &TestApp, client_id: &str, secret: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .post(format!("{}/oauth/token", app.address))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "scim")])
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// The ids of a client's secrets, oldest first.
fn secret_ids(app: &TestApp, client_id: &str) -> Vec<String> {
    let client = tenant_clients::show(&app.db, app.clock.as_ref(), client_id).unwrap();
    let mut secrets = client.secrets;
    secrets.sort_by(|a, b| a.created.cmp(&b.created).then(a.secret_id.cmp(&b.secret_id)));
    secrets.into_iter().map(|s| s.secret_id).collect()
}

#[tokio::test]
async fn console_entra_client_is_created_rotated_and_revoked_through_the_forms() {
    let app = spawn_app().await;
    create_operator(&app);
    let op = app.operator().await;
    let html = op.page("/admin/tenants/acme", StatusCode::OK).await;
    assert!(html.contains("/admin/tenants/acme/entra\">Connect Entra ID"), "{html}");
    let html = op.page("/admin/tenants/acme/entra", StatusCode::OK).await;
    assert!(html.contains(&format!("value=\"{}/scim/v2\"", app.address)), "{html}");
    assert!(html.contains(&format!("value=\"{}/oauth/token\"", app.address)));
    assert!(html.contains("data-copy=\"tenant-url\"") && html.contains("data-copy=\"token-url\""));
    assert!(html.contains("no SCIM request seen yet") && html.contains("id=\"no-clients\""));

    let response = op
        .post(
            "/admin/tenants/acme/entra/clients",
            &[("name", "Entra prod"), ("access_ttl_minutes", "60"), ("secret_days", "730")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    let client_id = shown_value(&html, "client-id");
    let first = shown_secret(&html);
    assert!(first.starts_with("scimd_cs_"), "{first}");
    assert!(html.contains("data-copy=\"client-id\"") && html.contains("data-copy=\"secret\""));

    let (status, body) = token_with(&app, &client_id, &first).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["expires_in"], 3600);
    assert!(body.get("refresh_token").is_none(), "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get_as(&access, "/Users").await.status(), StatusCode::OK);

    // The page lists the client with its secret's hint, never the secret; the status line moved.
    let html = op.page("/admin/tenants/acme/entra", StatusCode::OK).await;
    assert!(!html.contains(&first));
    assert!(html.contains("Entra prod") && html.contains("client secret"));
    assert!(
        html.contains("60 minutes") && html.contains(&format!("…{}", &first[first.len() - 4..]))
    );
    assert!(html.contains("working"), "{html}");
    // Connect Okta lists vendor-wide clients only.
    let okta = op.page("/admin/tenants/acme/connect", StatusCode::OK).await;
    assert!(!okta.contains(&client_id) && okta.contains("/admin/tenants/acme/entra"));

    // A second secret beside the first, then the first revoked.
    let path = format!("/admin/tenants/acme/entra/clients/{client_id}/secrets");
    let response = op.post(&path, &[("secret_days", "365")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let second = shown_secret(&response.text().await.unwrap());
    assert_ne!(first, second);
    let ids = secret_ids(&app, &client_id);
    assert_eq!(ids.len(), 2);
    let html = op.page("/admin/tenants/acme/entra", StatusCode::OK).await;
    assert!(html.contains("data-confirm="), "revoking asks first");
    let response = op.post(&format!("{path}/{}/revoke", ids[0]), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"].to_str().unwrap(),
        "/admin/tenants/acme/entra?done=secret-revoked"
    );
    let html = op.page("/admin/tenants/acme/entra?done=secret-revoked", StatusCode::OK).await;
    assert!(html.contains("Secret revoked") && html.contains("revoked<br>20"), "{html}");

    let (status, body) = token_with(&app, &client_id, &first).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client");
    assert!(body["error_description"].as_str().unwrap().contains("revoked"), "{body}");
    let (status, body) = token_with(&app, &client_id, &second).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Another tenant's page cannot act on this client.
    app.other_tenant("globex");
    let foreign = format!("/admin/tenants/globex/entra/clients/{client_id}/secrets");
    assert_eq!(op.post(&foreign, &[]).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(secret_ids(&app, &client_id).len(), 2);
}

#[tokio::test]
async fn console_entra_refusals_come_back_on_the_page() {
    let app = spawn_app().await;
    create_operator(&app);
    let op = app.operator().await;
    let fields = [
        ("name", "Entra federated"),
        ("access_ttl_minutes", "60"),
        ("issuer", "https://login.microsoftonline.com/t/v2.0"),
        ("subject", "00000000-0000-0000-0000-000000000001"),
        ("audience", "api://scimd"),
        ("jwks_uri", "ftp://x"),
    ];
    let response = op.post("/admin/tenants/acme/entra/federated", &fields).await;
    let status = response.status();
    let html = response.text().await.unwrap();
    assert!(status == StatusCode::OK || status == StatusCode::BAD_REQUEST, "{status}: {html}");
    assert!(html.contains("id=\"error\"") && html.contains("not an http(s) scheme"), "{html}");
    // What was typed is kept, and nothing was created.
    assert!(html.contains("value=\"api://scimd\"") && html.contains("value=\"ftp://x\""));
    assert!(tenant_clients::list(&app.db, app.clock.as_ref(), Some("acme")).unwrap().is_empty());

    // Out-of-range and non-numeric values are refused the same way.
    for (ttl, days) in [("4", "730"), ("60", "2000"), ("sixty", "730")] {
        let response = op
            .post(
                "/admin/tenants/acme/entra/clients",
                &[("name", "Entra"), ("access_ttl_minutes", ttl), ("secret_days", days)],
            )
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{ttl} {days}");
        let html = response.text().await.unwrap();
        assert!(html.contains("id=\"error\"") && !html.contains("id=\"secret\""), "{html}");
    }

    // With an https JWKS URL the federated client is created: its id shown, no secret.
    let mut good = fields;
    good[5] = ("jwks_uri", "https://login.microsoftonline.com/t/discovery/v2.0/keys");
    let response = op.post("/admin/tenants/acme/entra/federated", &good).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    let client_id = shown_value(&html, "client-id");
    assert!(!html.contains("id=\"secret\""));
    assert!(html.contains("federated (workload identity)") && html.contains("api://scimd"));
    let client = tenant_clients::show(&app.db, app.clock.as_ref(), &client_id).unwrap();
    assert_eq!(client.audience.as_deref(), Some("api://scimd"));
}

#[tokio::test]
async fn console_dashboard_lists_client_secrets_expiring_soon() {
    let app = spawn_app().await;
    create_operator(&app);
    let op = app.operator().await;
    let html = op.page("/admin", StatusCode::OK).await;
    assert!(
        html.contains("Client secrets expiring within 30 days") && html.contains("expiring-none")
    );

    let response = op
        .post("/admin/tenants/acme/entra/clients", &[("name", "Soon gone"), ("secret_days", "10")])
        .await;
    let html = response.text().await.unwrap();
    let client_id = shown_value(&html, "client-id");
    let secret = shown_secret(&html);
    // A long-lived one is not listed.
    op.post("/admin/tenants/acme/entra/clients", &[("name", "Long lived"), ("secret_days", "730")])
        .await;

    let html = op.page("/admin", StatusCode::OK).await;
    let section = &html[html.find("id=\"expiring\"").expect("an expiring table")..];
    assert!(section.contains("/admin/tenants/acme/entra\">acme</a>"), "{section}");
    assert!(section.contains("Soon gone") && section.contains(&client_id));
    assert!(section.contains(&format!("…{}", &secret[secret.len() - 4..])));
    assert!(section.contains("expiring") && !section.contains("Long lived"));
    // The tenant's page lists it too; another tenant's does not.
    let html = op.page("/admin/tenants/acme", StatusCode::OK).await;
    assert!(html.contains("id=\"expiring\"") && html.contains("Soon gone"));
    app.other_tenant("globex");
    let html = op.page("/admin/tenants/globex", StatusCode::OK).await;
    assert!(!html.contains("Soon gone"));
    // The Entra page flags it.
    let html = op.page("/admin/tenants/acme/entra", StatusCode::OK).await;
    assert!(html.contains("<span class=\"warn\">expiring</span>"), "{html}");
}
