//! SCIM vocabulary of the tests: schema URNs, the bodies Okta sends, and assertions on SCIM
//! answers (status, content type, error shape).

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

pub const SCIM_JSON: &str = "application/scim+json";
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The custom extension test servers are configured with by default (each server has its own).
pub const ACME_EXTENSION: &str = "urn:acme:params:scim:schemas:extension:acme:2.0:User";

/// The body Okta sends to create a user (Okta SCIM 2.0 reference).
pub fn okta_user(user_name: &str) -> Value {
    let (given, family) =
        user_name.split_once('@').map(|(l, _)| (l, "Tester")).unwrap_or((user_name, "Tester"));
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": format!("{given} {family}"),
        "locale": "en-US",
        "externalId": format!("00u{}", given),
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

pub fn patch_body(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

/// Asserts the status and a SCIM content type, and returns the JSON body.
pub async fn expect_json(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap_or("").to_owned());
    let text = response.text().await.expect("body");
    assert_eq!(actual, status, "unexpected status; body: {text}");
    assert!(
        content_type.as_deref().is_some_and(|c| c.starts_with(SCIM_JSON)),
        "content type {content_type:?} for body {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("invalid JSON ({e}): {text}"))
}

/// Asserts a SCIM error response with this status and scimType, returning its body.
pub async fn expect_error(
    response: Response,
    status: StatusCode,
    scim_type: Option<&str>,
) -> Value {
    let body = expect_json(response, status).await;
    assert_eq!(body["schemas"], json!([ERROR_SCHEMA]), "{body}");
    assert_eq!(body["status"], json!(status.as_u16().to_string()), "{body}");
    assert_eq!(body["scimType"].as_str(), scim_type, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    body
}

pub fn id_of(resource: &Value) -> String {
    resource["id"].as_str().expect("id").to_owned()
}

/// Percent-encodes a query parameter value (filters, redirect URIs).
pub fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
