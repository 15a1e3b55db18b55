//! A SCIM request as the HTTP layer hands it over: the parts it already holds, both bodies as
//! shared bytes (no copy, no parse). The writer thread turns it into the recorded row (secrets
//! removed, bodies cut, the error's fields read), so none of that runs on the request path.

use bytes::Bytes;
use serde_json::Value;

use crate::db::repo::request_log::RequestRow;

/// The longest path (with query) and User-Agent kept.
const PATH_MAX: usize = 2_048;
const USER_AGENT_MAX: usize = 256;
/// The longest error detail kept.
const DETAIL_MAX: usize = 1_000;
/// Bytes read past a body's limit, so that a character cut by the limit is whole (then cut).
const UTF8_SLACK: usize = 4;
/// What a secret value becomes in a recorded body.
const REDACTED: &str = "[redacted]";

/// One answered request of a known tenant, as taken by the middleware.
#[derive(Debug, Clone)]
pub struct CapturedRequest {
    pub tenant_id: String,
    /// The credential that made it (`st:<id>`, `grant:<id>`), once admitted.
    pub credential: Option<String>,
    pub at: i64,
    pub latency_ms: i64,
    pub method: String,
    pub path: String,
    pub user_agent: String,
    pub request_id: String,
    pub status: u16,
    /// Why it failed, when the handler said so (the SCIM error's detail).
    pub failure: Option<String>,
    pub request_body: Option<Bytes>,
    pub response_body: Bytes,
}

impl CapturedRequest {
    /// What of a response body needs keeping, for a `limit`: the body itself, shared, when it is
    /// short (nearly always); a copy of its first bytes when it is long, so that a large answer
    /// (a group of 50 000 members) is not held whole while it waits in the queue.
    pub fn response_prefix(body: Bytes, limit: usize) -> Bytes {
        let keep = limit.saturating_add(UTF8_SLACK);
        if body.len() <= keep { body } else { Bytes::copy_from_slice(&body[..keep]) }
    }

    /// The bytes it holds while queued: its bodies, and the path and User-Agent the client chose
    /// (cut only on the writer, so counted here against the queue's bound).
    pub fn size(&self) -> usize {
        self.request_body.as_ref().map_or(0, Bytes::len)
            + self.response_body.len()
            + self.path.len()
            + self.user_agent.len()
    }

    /// The row as recorded: the request body with its secrets removed, both bodies cut at
    /// `limit` bytes, an error answer's `scimType` and `detail`.
    pub fn into_row(self, limit: usize) -> RequestRow {
        let error: Option<Value> = (self.status >= 400)
            .then(|| serde_json::from_slice(&self.response_body).ok())
            .flatten();
        let field = |name: &str| error.as_ref().and_then(|e| e[name].as_str()).map(str::to_owned);
        let detail = self.failure.or_else(|| field("detail"));
        RequestRow {
            seq: 0,
            tenant_id: self.tenant_id,
            at: self.at,
            method: self.method,
            path: truncate(self.path, PATH_MAX),
            status: i64::from(self.status),
            scim_type: field("scimType"),
            detail: detail.map(|d| truncate(d, DETAIL_MAX)),
            latency_ms: self.latency_ms,
            credential: self.credential,
            client: client_of(&self.user_agent).to_owned(),
            user_agent: truncate(self.user_agent, USER_AGENT_MAX),
            request_id: self.request_id,
            request_body: self.request_body.and_then(|b| redact(&b, limit)),
            // Responses never carry secrets (`password` is never returned), so they are only
            // cut, not parsed: a 50 000-member group costs no JSON parse here.
            response_body: (!self.response_body.is_empty())
                .then(|| truncate(text_of(&self.response_body, limit + UTF8_SLACK), limit)),
        }
    }
}

#[cfg(test)]
impl CapturedRequest {
    /// An empty capture, for tests to fill in.
    pub fn default_for_tests() -> CapturedRequest {
        CapturedRequest {
            tenant_id: "t".into(),
            credential: None,
            at: 0,
            latency_ms: 0,
            method: "GET".into(),
            path: "/".into(),
            user_agent: String::new(),
            request_id: String::new(),
            status: 200,
            failure: None,
            request_body: None,
            response_body: Bytes::new(),
        }
    }
}

/// Which IdP a User-Agent is.
fn client_of(user_agent: &str) -> &'static str {
    let ua = user_agent.to_ascii_lowercase();
    if ua.contains("okta") {
        "okta"
    } else if ua.contains("azure") || ua.contains("microsoft") || ua.contains("entra") {
        "entra"
    } else {
        "other"
    }
}

/// Keys whose values never reach the log, whatever their case (`password` is writeOnly in
/// SCIM; the others would be credentials in a body).
const SECRET_KEYS: &[&str] = &["password", "client_secret", "secret", "token", "access_token"];

/// A body as recorded: JSON with every secret value replaced, cut at `limit` bytes (on a
/// character boundary, marked); a body that is not JSON is kept only as its size.
fn redact(body: &[u8], limit: usize) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            scrub(&mut value);
            value.to_string()
        }
        Err(_) => return Some(format!("[{} bytes, not JSON]", body.len())),
    };
    Some(truncate(text, limit))
}

fn is_secret_name(name: &str) -> bool {
    SECRET_KEYS.iter().any(|s| name.eq_ignore_ascii_case(s))
        || name.to_ascii_lowercase().ends_with(":password")
}

fn scrub(value: &mut Value) {
    match value {
        Value::Object(map) => {
            // A PATCH operation whose path names a secret carries it as its plain `value`.
            let secret_path = map.get("path").and_then(Value::as_str).is_some_and(is_secret_name);
            if secret_path && let Some(inner) = map.get_mut("value") {
                *inner = Value::String(REDACTED.into());
            }
            for (key, inner) in map.iter_mut() {
                if is_secret_name(key) && !inner.is_null() {
                    *inner = Value::String(REDACTED.into());
                } else {
                    scrub(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        _ => {}
    }
}

/// `text` cut at `limit` bytes on a character boundary, with a marker when cut.
fn truncate(mut text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    let mut at = limit;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text.truncate(at);
    text.push_str("…[truncated]");
    text
}

/// The first `max` bytes of a body as text. Our answers are UTF-8, so the strict check (whose
/// ASCII path is fast) nearly always passes; a cut through a character, or bytes that are not
/// UTF-8, take the lossy path.
fn text_of(bytes: &[u8], max: usize) -> String {
    let prefix = &bytes[..bytes.len().min(max)];
    match std::str::from_utf8(prefix) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(prefix).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_leave_bodies_whatever_their_case_or_depth() {
        let body = br#"{"userName":"a","Password":"hunter2","urn:x:User":{"password":"p"},"emails":[{"value":"a@b"}],"Operations":[{"op":"replace","value":{"password":"q"}}]}"#;
        let out = redact(body, 10_000).unwrap();
        assert!(
            !out.contains("hunter2") && !out.contains("\"p\"") && !out.contains("\"q\""),
            "{out}"
        );
        assert_eq!(out.matches(REDACTED).count(), 3, "{out}");
        assert!(out.contains("a@b"));
        // A PATCH of `password` by path carries the secret as the operation's plain value.
        let path = br#"{"Operations":[{"op":"replace","path":"PASSWORD","value":"s3cret"},{"op":"replace","path":"displayName","value":"kept"}]}"#;
        let out = redact(path, 10_000).unwrap();
        assert!(!out.contains("s3cret") && out.contains("kept"), "{out}");
        assert_eq!(redact(b"", 10), None);
        assert_eq!(redact(b"not json", 10).as_deref(), Some("[8 bytes, not JSON]"));
    }

    #[test]
    fn long_bodies_are_cut_on_a_character_boundary() {
        let cut = truncate("é".repeat(10), 5);
        assert_eq!(cut, "éé…[truncated]");
        assert_eq!(truncate("short".into(), 5), "short");
    }

    #[test]
    fn clients_are_told_apart_by_user_agent() {
        assert_eq!(client_of("Okta SCIM Client 1.0.0"), "okta");
        assert_eq!(client_of("OKTA SCIM Integration"), "okta");
        assert_eq!(client_of("Azure-AD-Provisioning/1.0"), "entra");
        assert_eq!(client_of("curl/8.0"), "other");
    }

    #[test]
    fn bodies_become_text_whole_cut_or_repaired() {
        assert_eq!(text_of(b"{\"a\":1}", 100), "{\"a\":1}");
        assert_eq!(text_of(b"abcdef", 3), "abc");
        // A cut through "é" (two bytes) leaves a replacement character; the caller reads 4 bytes
        // past its limit, so `truncate` cuts it off again.
        assert_eq!(text_of("aé".as_bytes(), 2), "a\u{fffd}");
        assert_eq!(text_of(b"a\xffb", 10), "a\u{fffd}b");
    }

    #[test]
    fn a_successful_read_keeps_its_answer_cut_and_no_error() {
        let captured = CapturedRequest {
            path: format!("/scim/v2/Users?filter={}", "x".repeat(3_000)),
            user_agent: format!("Okta SCIM Client {}", "9".repeat(300)),
            response_body: Bytes::from(format!("{{\"userName\":\"{}\"}}", "é".repeat(20))),
            ..CapturedRequest::default_for_tests()
        };
        let row = captured.into_row(16);
        assert_eq!(row.client, "okta", "named before the User-Agent is cut");
        assert!(row.path.len() < PATH_MAX + 20 && row.path.ends_with("…[truncated]"));
        assert!(row.user_agent.len() < USER_AGENT_MAX + 20);
        assert_eq!(row.response_body.as_deref(), Some("{\"userName\":\"é…[truncated]"));
        assert_eq!((row.scim_type, row.detail, row.request_body), (None, None, None));
    }

    #[test]
    fn a_long_answer_is_queued_as_a_copy_of_its_start_a_short_one_shared() {
        let short = Bytes::from(vec![b'a'; 100]);
        let kept = CapturedRequest::response_prefix(short.clone(), 100);
        assert_eq!(kept.as_ptr(), short.as_ptr(), "not copied");
        let queued = CapturedRequest {
            path: "/p".into(),
            user_agent: "ua".into(),
            request_body: Some(Bytes::from_static(b"{}")),
            response_body: kept,
            ..CapturedRequest::default_for_tests()
        };
        assert_eq!(queued.size(), 2 + 2 + 2 + 100, "every part the client chose is counted");
        let long = Bytes::from(vec![b'a'; 1_000_000]);
        let kept = CapturedRequest::response_prefix(long.clone(), 100);
        assert_eq!(kept.len(), 100 + UTF8_SLACK);
        assert_ne!(kept.as_ptr(), long.as_ptr(), "copied, so the long answer is freed");
    }

    #[test]
    fn a_refusal_keeps_its_scim_type_and_detail_and_the_request_without_secrets() {
        let body = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"userName is taken"}"#;
        let captured = CapturedRequest {
            method: "POST".into(),
            status: 409,
            request_body: Some(Bytes::from_static(br#"{"userName":"a","password":"pw1"}"#)),
            response_body: Bytes::from_static(body.as_bytes()),
            ..CapturedRequest::default_for_tests()
        };
        let row = captured.clone().into_row(8_192);
        assert_eq!(row.scim_type.as_deref(), Some("uniqueness"));
        assert_eq!(row.detail.as_deref(), Some("userName is taken"));
        let request = row.request_body.unwrap();
        assert!(!request.contains("pw1") && request.contains(REDACTED), "{request}");
        assert_eq!(row.response_body.as_deref(), Some(body));
        // The handler's own reason wins over the body's detail, and is bounded.
        let named = CapturedRequest { failure: Some("r".repeat(2_000)), ..captured };
        let detail = named.into_row(8_192).detail.unwrap();
        assert!(detail.starts_with("rrr") && detail.len() < 1_100, "{}", detail.len());
        // An answer that is not JSON is kept as text, with no error fields.
        let plain = CapturedRequest {
            status: 502,
            response_body: Bytes::from_static(b"bad gateway"),
            ..CapturedRequest::default_for_tests()
        };
        let row = plain.into_row(8_192);
        assert_eq!((row.scim_type, row.detail), (None, None));
        assert_eq!(row.response_body.as_deref(), Some("bad gateway"));
    }
}
