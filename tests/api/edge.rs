//! The HTTP edge as clients meet it: credential forms Okta sends, response headers, bad bytes
//! in any string, slow and broken bodies, per-address limits.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::okta;

const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
use crate::support::*;

#[tokio::test]
async fn a_static_token_without_a_scheme_is_accepted_as_okta_header_mode_sends_it() {
    let app = spawn_app().await;
    let bare =
        |value: String| app.client.get(app.url("/Users")).header("Authorization", value).send();
    assert_eq!(bare(app.token.clone()).await.unwrap().status(), StatusCode::OK);
    // Writes work the same way.
    let created = app
        .client
        .post(app.url("/Users"))
        .header("Authorization", app.token.as_str())
        .header("Content-Type", "application/scim+json")
        .json(&okta_user("bare@acme.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    // A bare value that is not a static token still needs the Bearer scheme.
    let response = bare("eyJhbGciOiJFZERTQSJ9.e30.sig".into()).await.unwrap();
    let header = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(header.contains("Bearer scheme"), "{header}");
    // An unknown or revoked bare token is refused like a bearer one.
    let response = bare("scimd_st_not-a-real-token".into()).await.unwrap();
    let body = expect_error(response, StatusCode::UNAUTHORIZED, None).await;
    assert!(body["detail"].as_str().unwrap().contains("not recognised"), "{body}");
    // The Connect page tells the operator that both of Okta's header modes work.
    create_operator(&app);
    let html = app.operator().await.page("/admin/tenants/acme/connect", StatusCode::OK).await;
    assert!(html.contains("Authorization: Bearer scimd_st_…"), "{html}");
    assert!(html.contains("Authorization: scimd_st_…"), "{html}");
}

#[tokio::test]
async fn scim_and_oauth_json_is_nosniff_and_scim_is_never_stored() {
    let app = spawn_app().await;
    let unauthenticated = app.client.get(app.url("/Users")).send().await.unwrap();
    let token_error = app
        .client
        .post(format!("{}/oauth/token", app.address))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let metadata = app.get_public("/.well-known/oauth-authorization-server").await;
    for (what, response) in [
        ("list", app.get("/Users").await),
        ("discovery", app.get("/ServiceProviderConfig").await),
        ("scim 401", unauthenticated),
        ("scim 404", app.get("/Users/nope").await),
    ] {
        let h = response.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(h["cache-control"], "no-store", "{what}");
    }
    for (what, response) in [("token error", token_error), ("metadata", metadata)] {
        assert_eq!(response.headers()["x-content-type-options"], "nosniff", "{what}");
    }
}

#[tokio::test]
async fn nul_in_any_string_is_a_400_in_each_surfaces_format() {
    let app = spawn_app().await;
    let user = app.create_user("nul@acme.com").await;
    let id = user["id"].as_str().unwrap();
    let mut body = okta_user("a\u{0}b@acme.com");
    for response in [
        app.post("/Users", &body).await,
        app.put(&format!("/Users/{id}"), &{
            body["userName"] = json!("nul@acme.com");
            body["title"] = json!("x\u{0}");
            body.clone()
        })
        .await,
        app.patch(
            &format!("/Users/{id}"),
            &json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "path": "displayName", "value": "\u{0}"}]}),
        )
        .await,
        app.post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "k@acme.com", "a\u{0}": 1}),
        )
        .await,
    ] {
        expect_error(response, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
    }
    for path in ["/Users?filter=userName%20eq%20%22a%00%22", "/Users/%00", "/Groups?attributes=%00"]
    {
        expect_error(app.get(path).await, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
    }
    // The directory API in its own JSON.
    let api = app.api_key(Some("acme"), None);
    let response = api.get("/tenants/acme/users?email=a%00b").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error_description"].as_str().unwrap().contains("NUL"), "{body}");
    // Nothing was stored and the server still works on both backends.
    let listed = expect_json(app.get("/Users").await, StatusCode::OK).await;
    assert_eq!(listed["totalResults"], 1);

    // OAuth: client_id with NUL at the token endpoint (body and Basic) is invalid_request JSON.
    let token = format!("{}/oauth/token", app.address);
    let in_body = app
        .client
        .post(&token)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", "a\u{0}"),
            ("client_secret", "s"),
        ])
        .send()
        .await
        .unwrap();
    let in_basic = app
        .client
        .post(&token)
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .basic_auth("a\u{0}", Some("s"))
        .send()
        .await
        .unwrap();
    for response in [in_body, in_basic] {
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{body}");
    }
    // /oauth/authorize: a page, since no client is trusted yet.
    let b = okta::browser(&app);
    let response = b.authorize("response_type=code&client_id=a%00b").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    // A sign-in email with NUL: the sign-in page's 400, nothing stored.
    let sign_in = page(&b, "/account/login", StatusCode::OK).await;
    let posted =
        submit(&b, &sign_in, "/account/login", &[("email", "a\u{0}@acme.com"), ("password", "p")])
            .await;
    assert_eq!(posted.status(), StatusCode::BAD_REQUEST);
    assert!(posted.text().await.unwrap().contains("NUL"));
    assert!(app.audit_events("login.failed").is_empty());
}

#[tokio::test]
async fn long_strings_answer_alike_on_both_backends() {
    let app = spawn_app().await;
    let long = "é".repeat(1100); // 2 200 bytes, 1 100 characters
    // Attributes with columns of their own are capped, on every backend.
    let mut named = okta_user(&format!("{long}@acme.com"));
    expect_error(app.post("/Users", &named).await, StatusCode::BAD_REQUEST, Some("invalidValue"))
        .await;
    named = okta_user("ext@acme.com");
    named["externalId"] = json!(long);
    expect_error(app.post("/Users", &named).await, StatusCode::BAD_REQUEST, Some("invalidValue"))
        .await;
    let group = json!({"schemas": [GROUP_SCHEMA], "displayName": long});
    expect_error(app.post("/Groups", &group).await, StatusCode::BAD_REQUEST, Some("invalidValue"))
        .await;
    // Every other string is indexed whatever its length, and found by equality and substring.
    // Random text: PostgreSQL compresses index entries, so repetitive text would fit anyway.
    let noise = |chars: usize| {
        let hex: String =
            (0..chars / 32 + 1).map(|_| uuid::Uuid::new_v4().simple().to_string()).collect();
        hex[..chars].to_owned()
    };
    let title = format!("{}Needle", noise(3000));
    let cert = noise(3000);
    let mut user = okta_user("long@acme.com");
    user["title"] = json!(title);
    user["x509Certificates"] = json!([{"value": cert}]);
    let created = expect_json(app.post("/Users", &user).await, StatusCode::CREATED).await;
    for filter in [
        format!("title eq \"{}\"", title.to_uppercase()),
        "title co \"needle\"".to_owned(),
        format!("x509Certificates.value eq \"{cert}\""),
    ] {
        let page = app
            .static_token_client()
            .post("/Users/.search", &json!({"schemas": [SEARCH_REQUEST], "filter": filter}))
            .await;
        let page = expect_json(page, StatusCode::OK).await;
        assert_eq!(page["totalResults"], 1, "{}", &filter[..40]);
        assert_eq!(page["Resources"][0]["id"], created["id"]);
    }
    let other = format!("{}Needle", &title[..2999]);
    let page = app
        .static_token_client()
        .post(
            "/Users/.search",
            &json!({"schemas": [SEARCH_REQUEST], "filter": format!("title eq \"{other}\"")}),
        )
        .await;
    assert_eq!(expect_json(page, StatusCode::OK).await["totalResults"], 0);
}

#[tokio::test]
async fn sign_in_budgets_count_an_ipv6_client_by_its_64() {
    // A clock that stands still: the three posts fall in one budget window however slow the
    // machine (a minute boundary between them would start a fresh budget).
    let (app, _clock) = spawn_app_manual(|s| {
        s.rate_limits.login_per_ip = 2;
        s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    create_operator(&app);
    let b = okta::browser(&app);
    let html = b.get("/admin/login").await.text().await.unwrap();
    let csrf = okta::hidden(&html, "csrf");
    let form = [("email", OPERATOR_EMAIL), ("password", "wrong password"), ("csrf", &csrf)];
    let from = |client: &'static str| {
        b.http
            .post(format!("{}/admin/login", b.base))
            .header("X-Forwarded-For", client)
            .form(&form)
            .send()
    };
    // Three addresses of one /64: one budget.
    let mut statuses = Vec::new();
    for client in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"] {
        statuses.push(from(client).await.unwrap().status());
    }
    assert_eq!(
        statuses,
        [StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS]
    );
    // The next /64 has its own.
    assert_eq!(from("2001:db8:1:3::1").await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

/// Sends `request` over a raw connection and returns the server's first answer, once complete
/// (by its `content-length`) or when the server closes; a hang fails after a generous bound.
async fn raw_exchange(port: u16, request: String) -> String {
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(60))).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if complete(&answer) {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    eprintln!("RESET after {} bytes", answer.len());
                    break;
                }
                Err(e) => panic!("no answer: {e}; so far {:?}", String::from_utf8_lossy(&answer)),
            }
        }
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap()
}

/// Whether `answer` holds a whole response head and as much body as it announces.
fn complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else { return false };
    let length = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(str::to_owned))
        .and_then(|v| v.trim().parse::<usize>().ok());
    length.is_some_and(|n| body.len() >= n)
}

fn head(method: &str, path: &str, token: Option<&str>, extra: &str) -> String {
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}{extra}\r\n")
}

#[tokio::test]
async fn a_body_that_trickles_past_the_read_timeout_is_a_408_and_the_connection_closes() {
    let app = spawn_app_with(|s| s.body_read_timeout_secs = 1).await;
    // Part of the body, then nothing: the server gives up instead of waiting forever.
    let scim = head(
        "POST",
        "/scim/v2/Users",
        Some(&app.token),
        "Content-Type: application/scim+json\r\nContent-Length: 500\r\n",
    ) + "{\"schemas\":";
    let answer = raw_exchange(app.port, scim).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/scim+json") && answer.contains("did not arrive in time"));
    assert!(answer.contains("connection: close"), "{answer}");
    let token = head(
        "POST",
        "/oauth/token",
        None,
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n",
    ) + "grant_type=";
    let answer = raw_exchange(app.port, token).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains("\"error\":\"invalid_request\"") && answer.contains("in time"),
        "{answer}"
    );
    let form = head(
        "POST",
        "/admin/login",
        None,
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n",
    ) + "email=";
    let answer = raw_exchange(app.port, form).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // A complete body is unaffected.
    assert_eq!(app.post("/Users", &okta_user("fast@acme.com")).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn one_address_may_hold_only_so_many_connections() {
    let app = spawn_app_with(|s| s.max_connections_per_address = 2).await;
    let get = |path: &str| head("GET", path, Some(&app.token), "");
    // Two connections, each counted by a first request and then kept open.
    let mut held = Vec::new();
    for _ in 0..2 {
        let (stream, answer) = {
            let request = get("/scim/v2/ServiceProviderConfig");
            let port = app.port;
            tokio::task::spawn_blocking(move || {
                use std::io::{Read, Write};
                let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                stream.set_read_timeout(Some(std::time::Duration::from_secs(60))).unwrap();
                stream.write_all(request.as_bytes()).unwrap();
                let (mut answer, mut buf) = (Vec::new(), [0u8; 4096]);
                while !complete(&answer) {
                    let n = stream.read(&mut buf).unwrap();
                    assert!(n > 0, "closed early");
                    answer.extend_from_slice(&buf[..n]);
                }
                (stream, String::from_utf8_lossy(&answer).into_owned())
            })
            .await
            .unwrap()
        };
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        held.push(stream);
    }
    // A third is refused in the surface's own format, and closed.
    let answer = raw_exchange(app.port, get("/scim/v2/Users")).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(answer.contains("application/scim+json") && answer.contains("too many connections"));
    assert!(answer.contains("connection: close"), "{answer}");
    let token = head("POST", "/oauth/token", None, "Content-Length: 0\r\n");
    let answer = raw_exchange(app.port, token).await;
    assert!(answer.starts_with("HTTP/1.1 429") && answer.contains("temporarily_unavailable"));
    // Once they close, the address may connect again.
    drop(held);
    let mut status = StatusCode::TOO_MANY_REQUESTS;
    for _ in 0..100 {
        status = http_client()
            .get(app.url("/Users"))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap()
            .status();
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_bulk_request_counts_each_operation_against_the_tenants_budget() {
    let app = spawn_app_with(|s| s.rate_limits.scim_per_tenant = 10).await;
    let bulk = |n: usize, tag: &str| {
        let operations: Vec<_> = (0..n)
            .map(|i| {
                json!({"method": "POST", "path": "/Users", "bulkId": format!("{tag}{i}"),
                "data": okta_user(&format!("{tag}{i}@acme.com"))})
            })
            .collect();
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": operations})
    };
    // Eight operations: eight of the ten requests this minute.
    assert_eq!(app.post("/Bulk", &bulk(8, "a")).await.status(), StatusCode::OK);
    // Five more do not fit (the refused request itself still counts once); nothing is written.
    let refused = app.post("/Bulk", &bulk(5, "b")).await;
    assert!(refused.headers().contains_key("retry-after"));
    expect_error(refused, StatusCode::TOO_MANY_REQUESTS, None).await;
    let listed = expect_json(app.get("/Users?count=1").await, StatusCode::OK).await;
    assert_eq!(listed["totalResults"], 8);
    assert_eq!(app.get("/Users").await.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn without_public_url_host_derived_documents_are_private_and_a_public_bind_is_refused() {
    let app = spawn_app().await;
    let metadata = app.get_public("/.well-known/oauth-authorization-server").await;
    assert_eq!(metadata.headers()["cache-control"], "private, max-age=300");
    assert!(metadata.headers()["vary"].to_str().unwrap().contains("Host"));
    let fixed = spawn_app_with(|s| s.public_url = Some("https://scim.example.com".into())).await;
    let metadata = fixed.get_public("/.well-known/oauth-authorization-server").await;
    assert_eq!(metadata.headers()["cache-control"], "public, max-age=300");

    // Bound to every interface with neither public_url nor the opt-in: refused at start-up.
    let build = |configure: &dyn Fn(&mut scimd::config::Settings)| {
        let mut settings = app.settings.clone();
        settings.bind = "0.0.0.0:0".into();
        configure(&mut settings);
        scimd::startup::Application::build_with(settings, app.clock.clone(), app.db.clone())
    };
    let refused = build(&|_| {}).err().expect("a public bind without public_url is refused");
    assert!(refused.to_string().contains("public_url"), "{refused}");
    assert!(build(&|s| s.allow_host_derived_urls = true).is_ok());
    assert!(build(&|s| s.public_url = Some("https://scim.example.com".into())).is_ok());
}

/// Rows of a sessions table.
fn sessions_in(app: &TestApp, table: &str) -> i64 {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.db.conn().unwrap();
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
        .get_result::<Count>(&mut *conn)
        .unwrap()
        .n
}

#[tokio::test]
async fn a_new_sign_in_ends_the_browsers_previous_session_of_the_realm() {
    let app = spawn_app().await;
    create_operator(&app);
    okta::setup(&app);
    let b = okta::browser(&app);
    for (realm, email, password, table) in [
        ("/admin/login", OPERATOR_EMAIL, OPERATOR_PASSWORD, "operator_sessions"),
        ("/account/login", okta::ADMIN_EMAIL, okta::ADMIN_PASSWORD, "web_sessions"),
    ] {
        for _ in 0..3 {
            let html = page(&b, realm, StatusCode::OK).await;
            let signed_in =
                submit(&b, &html, realm, &[("email", email), ("password", password)]).await;
            assert_eq!(signed_in.status(), StatusCode::SEE_OTHER, "{realm}");
        }
        assert_eq!(sessions_in(&app, table), 1, "{realm}: one browser, one session");
    }
}

#[tokio::test]
async fn a_disabled_tenants_admin_is_refused_before_any_session_exists() {
    let app = spawn_app().await;
    okta::setup(&app);
    scimd::service::tenancy::tenants::set_disabled(
        &app.db,
        app.clock.as_ref(),
        &scimd::audit::Actor::Cli,
        "acme",
        true,
    )
    .unwrap();
    let b = okta::browser(&app);
    let html = page(&b, "/account/login", StatusCode::OK).await;
    let refused = submit(
        &b,
        &html,
        "/account/login",
        &[("email", okta::ADMIN_EMAIL), ("password", okta::ADMIN_PASSWORD)],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.text().await.unwrap().contains("disabled"));
    assert_eq!(sessions_in(&app, "web_sessions"), 0);
    assert!(app.audit_events("login.succeeded").is_empty());
    let failed = app.audit_events("login.failed");
    assert_eq!(failed.len(), 1);
    assert!(failed[0].to_string().contains("tenant disabled"), "{}", failed[0]);
}

#[tokio::test]
async fn forms_refused_for_their_csrf_token_are_audited() {
    let app = spawn_app().await;
    let operator_id = create_operator(&app);
    let op = app.operator().await;
    let forged = op.post_form("/admin/tenants/acme/connect/token", &[("csrf", "forged")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // A sign-in post without its double-submit pair (a login CSRF attempt).
    let b = okta::browser(&app);
    let forged_sign_in = b
        .post_form("/account/login", &[("email", "a@acme.com"), ("password", "p"), ("csrf", "x")])
        .await;
    assert_eq!(forged_sign_in.status(), StatusCode::FORBIDDEN);
    let events = app.audit_events("csrf.rejected");
    assert_eq!(events.len(), 2, "{events:?}");
    let text = serde_json::to_string(&events).unwrap();
    assert!(text.contains(&format!("operator:{operator_id}")), "{text}");
    assert!(text.contains("/admin/tenants/acme/connect/token") && text.contains("/account/login"));
    assert!(text.contains("anonymous"), "{text}");
}

/// A browser over https to a server with its own certificate: cookies kept, redirects not
/// followed.
fn https_browser(app: &TestApp, certs: &crate::support::tls::CertFiles) -> okta::Browser {
    install_crypto_provider();
    let pem = std::fs::read(&certs.cert).unwrap();
    okta::Browser {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .resolve("localhost", std::net::SocketAddr::from(([127, 0, 0, 1], app.port)))
            .build()
            .unwrap(),
        base: app.address.clone(),
    }
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn over_https_every_cookie_is_host_prefixed_and_an_unprefixed_one_is_ignored() {
    let certs = crate::support::tls::CertFiles::new();
    let app = spawn_app_with(|s| certs.configure(s)).await;
    okta::setup(&app);
    create_operator(&app);
    let b = https_browser(&app, &certs);
    let sign_in = b.get("/account/login").await;
    let cookies = set_cookies(&sign_in);
    assert!(cookies.iter().any(|c| c.starts_with("__Host-scimd_csrf=")), "{cookies:?}");
    assert!(cookies.iter().all(|c| c.contains("Secure") && c.contains("Path=/")), "{cookies:?}");
    let html = sign_in.text().await.unwrap();
    let signed_in = submit(
        &b,
        &html,
        "/account/login",
        &[("email", okta::ADMIN_EMAIL), ("password", okta::ADMIN_PASSWORD)],
    )
    .await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookies = set_cookies(&signed_in);
    assert!(cookies.iter().any(|c| c.starts_with("__Host-scimd_session=")), "{cookies:?}");
    page(&b, "/account", StatusCode::OK).await;
    // The console's session too, at Path=/ as the prefix requires; the console works with it.
    let html = page(&b, "/admin/login", StatusCode::OK).await;
    let signed_in = submit(
        &b,
        &html,
        "/admin/login",
        &[("email", OPERATOR_EMAIL), ("password", OPERATOR_PASSWORD)],
    )
    .await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookies = set_cookies(&signed_in);
    assert!(
        cookies.iter().any(|c| c.starts_with("__Host-scimd_operator=") && c.ends_with("Path=/")),
        "{cookies:?}"
    );
    page(&b, "/admin", StatusCode::OK).await;

    // A tossed, unprefixed CSRF cookie with a matching form field counts for nothing.
    let fresh = https_browser(&app, &certs);
    let tossed = fresh
        .http
        .post(format!("{}/account/login", app.address))
        .header("Cookie", "scimd_csrf=attacker")
        .form(&[
            ("email", okta::ADMIN_EMAIL),
            ("password", okta::ADMIN_PASSWORD),
            ("csrf", "attacker"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(tossed.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_sign_in_csrf_pair_the_server_did_not_mint_is_refused() {
    let app = spawn_app().await;
    okta::setup(&app);
    // Cookie and field agree, but the value is the attacker's own (a planted cookie).
    let planted = app
        .client
        .post(format!("{}/account/login", app.address))
        .header("Cookie", "scimd_csrf=attacker-chosen")
        .form(&[
            ("email", okta::ADMIN_EMAIL),
            ("password", okta::ADMIN_PASSWORD),
            ("csrf", "attacker-chosen"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(planted.status(), StatusCode::FORBIDDEN);
    // The page replaces such a cookie with one of its own, and that one signs in.
    let b = okta::browser(&app);
    let page_response = b
        .http
        .get(format!("{}/account/login", app.address))
        .header("Cookie", "scimd_csrf=attacker-chosen")
        .send()
        .await
        .unwrap();
    let minted = set_cookies(&page_response);
    assert!(minted.iter().any(|c| c.starts_with("scimd_csrf=") && c.contains('.')), "{minted:?}");
    let html = page_response.text().await.unwrap();
    assert!(!html.contains("attacker-chosen"));
    let signed_in = submit(
        &b,
        &html,
        "/account/login",
        &[("email", okta::ADMIN_EMAIL), ("password", okta::ADMIN_PASSWORD)],
    )
    .await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn codes_and_refresh_tokens_refused_for_their_client_or_unknown_are_audited() {
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let redirect_uris = [okta::CALLBACK.to_owned()];
    let new = scimd::service::oauth::clients::NewClient {
        name: "Another app",
        redirect_uris: &redirect_uris,
        okta_app: Some("other_scim"),
        okta_http_callback: false,
        require_pkce: false,
    };
    let other = scimd::service::oauth::clients::create(
        &app.db,
        app.clock.as_ref(),
        &scimd::audit::Actor::Cli,
        &new,
    )
    .unwrap();
    let other = okta::Fixture { client_id: other.client_id, client_secret: other.client_secret };
    let code = okta::browser(&app).code(&fx, &[]).await;
    let basic = okta::ClientAuth::Basic;
    // Another client presents the code, then a made-up one.
    let stolen = okta::exchange(&app, &other, basic, &code, None).await;
    assert_eq!(okta::oauth_error(stolen, StatusCode::BAD_REQUEST).await.0, "invalid_grant");
    let made_up = okta::exchange(&app, &fx, basic, "scimd_ac_made-up", None).await;
    assert_eq!(okta::oauth_error(made_up, StatusCode::BAD_REQUEST).await.0, "invalid_grant");
    let rejected = serde_json::to_string(&app.audit_events("code.rejected")).unwrap();
    assert!(rejected.contains("issued to another client"), "{rejected}");
    assert!(rejected.contains(&format!("client:{}", other.client_id)), "{rejected}");
    assert!(rejected.contains("unknown code"), "{rejected}");
    // The rightful client still redeems it; then the same two refusals for its refresh token.
    let issued = okta::tokens(okta::exchange(&app, &fx, basic, &code, None).await).await;
    let refresh_token = issued["refresh_token"].as_str().unwrap();
    let stolen = okta::refresh(&app, &other, basic, refresh_token).await;
    assert_eq!(okta::oauth_error(stolen, StatusCode::BAD_REQUEST).await.0, "invalid_grant");
    okta::refresh_fails(&app, &fx, "scimd_rt_made-up").await;
    let rejected = serde_json::to_string(&app.audit_events("token.refresh_rejected")).unwrap();
    assert!(rejected.contains("issued to another client"), "{rejected}");
    assert!(rejected.contains("unknown refresh token"), "{rejected}");
}

#[tokio::test]
async fn a_malformed_chunked_body_is_a_400_in_each_surfaces_format() {
    let app = spawn_app_with(|s| s.max_body_bytes = 4_000).await;
    let chunked = "Transfer-Encoding: chunked\r\n";
    let scim_post = |body: &str| {
        let content = format!("Content-Type: application/scim+json\r\n{chunked}");
        head("POST", "/scim/v2/Users", Some(&app.token), &content) + body
    };
    // A chunk-size line that is not hexadecimal, after one good chunk and before the end.
    for broken in
        ["5\r\n{\"sch\r\nzz\r\nemas\r\n0\r\n\r\n", "zz\r\n{}\r\n0\r\n\r\n", "2\r\n{}XX"].repeat(100)
    {
        let scim = scim_post(broken);
        let answer = raw_exchange(app.port, scim).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{broken:?}: {answer}");
        assert!(answer.contains("application/scim+json"), "{answer}");
        let token = head(
            "POST",
            "/oauth/token",
            None,
            &format!("Content-Type: application/x-www-form-urlencoded\r\n{chunked}"),
        ) + broken;
        let answer = raw_exchange(app.port, token).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(answer.contains("\"error\":\"invalid_request\""), "{answer}");
    }
    // Read ahead only up to the limit: a larger chunked body is still the handler's 413, and a
    // well-formed one is served.
    let big = format!("1388\r\n{}\r\n0\r\n\r\n", "x".repeat(5_000));
    let scim = scim_post(&big);
    let answer = raw_exchange(app.port, scim).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let user = okta_user("chunked@acme.com").to_string();
    let good = format!("{:x}\r\n{user}\r\n0\r\n\r\n", user.len());
    let scim = scim_post(&good);
    let answer = raw_exchange(app.port, scim).await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
}
