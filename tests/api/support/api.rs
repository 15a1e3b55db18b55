//! The vendor's application on `/api/v1`: a client holding an API key, keys created through the
//! service, and a checker of responses against the checked-in OpenAPI document's schemas.

use reqwest::{Response, StatusCode};
use serde_json::Value;

use scimd::audit::Actor;
use scimd::service::tenancy::api_keys;

use super::app::TestApp;

/// A client of `/api/v1` holding one bearer credential (normally an API key).
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl ApiClient {
    pub fn key(&self) -> &str {
        &self.key
    }

    /// GET `/api/v1{path}` with the key.
    pub async fn get(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("GET")
    }

    /// A request with a JSON body (PUT, DELETE, …) to `/api/v1{path}` with the key.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut request =
            self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body.to_string());
        }
        request.send().await.expect("request")
    }

    /// PUT `body` and return the JSON answer after checking the status.
    pub async fn put(&self, path: &str, body: &Value, status: StatusCode) -> Value {
        let response = self.send(reqwest::Method::PUT, path, Some(body)).await;
        assert_eq!(response.status(), status, "PUT {path}");
        response.json().await.expect("JSON body")
    }

    /// DELETE and return the JSON answer after checking the status.
    pub async fn delete(&self, path: &str, status: StatusCode) -> Value {
        let response = self.send(reqwest::Method::DELETE, path, None).await;
        assert_eq!(response.status(), status, "DELETE {path}");
        response.json().await.expect("JSON body")
    }

    /// GET and return the JSON body after checking the status and the JSON content type.
    pub async fn json(&self, path: &str, status: StatusCode) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), status, "GET {path}");
        let content_type = response.headers().get("content-type").cloned();
        assert_eq!(content_type.unwrap().to_str().unwrap(), "application/json", "GET {path}");
        response.json().await.expect("JSON body")
    }

    /// GET that must be refused: checks status and `error` code, returns the description.
    pub async fn refused(&self, path: &str, status: StatusCode, error: &str) -> String {
        let body = self.json(path, status).await;
        assert_eq!(body["error"], error, "GET {path}: {body}");
        body["error_description"].as_str().expect("error_description").to_owned()
    }

    /// Follows `next_cursor` from `path` (which carries its own query) to the end.
    pub async fn all_pages(&self, path: &str, limit: u32) -> (Vec<Value>, usize) {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let mut url = format!("{path}{sep}limit={limit}");
            if let Some(c) = &cursor {
                url.push_str(&format!("&after={c}"));
            }
            let page = self.json(&url, StatusCode::OK).await;
            pages += 1;
            out.extend(page["data"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return (out, pages),
            }
        }
    }
}

impl TestApp {
    /// Creates an API key (service path, as the console does) and returns a client holding it.
    pub fn api_key(&self, tenant: Option<&str>, scopes: Option<&str>) -> ApiClient {
        let issued =
            api_keys::create(&self.db, self.clock.as_ref(), &Actor::Cli, "app", tenant, scopes)
                .expect("create API key");
        self.api_client(&issued.key)
    }

    /// Any credential exactly as given on `/api/v1`.
    pub fn api_client(&self, key: &str) -> ApiClient {
        ApiClient {
            http: self.client.clone(),
            base: format!("{}/api/v1", self.address),
            key: key.to_owned(),
        }
    }
}

/// The OpenAPI document as served and checked in.
pub fn openapi() -> Value {
    serde_json::from_str(scimd::http::api::OPENAPI).expect("openapi.json is JSON")
}

/// Checks `value` against the schema of the 200 response of `GET path_template`, resolving
/// `$ref`s; supports what the document uses (type, type lists, required, properties, items, enum).
pub fn check_against_openapi(doc: &Value, path_template: &str, value: &Value) {
    let schema = &doc["paths"][path_template]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    assert!(!schema.is_null(), "no 200 schema for {path_template}");
    let mut errors = Vec::new();
    check(doc, schema, value, "$", &mut errors);
    assert!(errors.is_empty(), "{path_template}: {errors:#?}\n{value:#}");
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let pointer = r.trim_start_matches('#');
            resolve(doc, doc.pointer(pointer).unwrap_or_else(|| panic!("dangling $ref {r}")))
        }
        None => schema,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let actual = type_name(value);
    if !types.is_empty()
        && !types.iter().any(|t| *t == actual || (*t == "number" && actual == "integer"))
    {
        errors.push(format!("{at}: {actual} is not {types:?}"));
        return;
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        errors.push(format!("{at}: {value} not in {options:?}"));
    }
    if let Value::Object(map) = value {
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap();
            if !map.contains_key(name) {
                errors.push(format!("{at}: missing {name}"));
            }
        }
        if let Some(props) = schema["properties"].as_object() {
            for (name, sub) in props {
                if let Some(v) = map.get(name) {
                    check(doc, sub, v, &format!("{at}.{name}"), errors);
                }
            }
        }
    }
    if let (Value::Array(items), Some(sub)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(doc, sub, item, &format!("{at}[{i}]"), errors);
        }
    }
}
