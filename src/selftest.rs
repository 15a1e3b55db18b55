//! `scimd selftest`: Okta's OIN SPEC test sequence and Entra's connection checks run against a
//! running server over HTTP, as those IdPs would run them, so a vendor sees before submitting
//! what their tests will see. It brings a temporary static token and a test user of its own, and
//! removes both afterwards.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde::Serialize;
use serde_json::{Value, json};

const SCIM_JSON: &str = "application/scim+json; charset=utf-8";
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Okta's CRUD test reads `/Groups` and expects an answer within this.
const OKTA_GROUPS_BUDGET: Duration = Duration::from_millis(600);

/// One check: what was tried, whether it passed, and a hint when it did not.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
    pub hint: String,
}

/// The sequence against `base` (`https://host/scim/v2`) with `token`, as `user_name`.
pub struct SelfTest {
    client: Client,
    base: String,
    token: String,
    user_name: String,
    checks: Vec<Check>,
}

impl SelfTest {
    pub fn new(base: &str, token: &str, user_name: &str) -> Result<SelfTest, reqwest::Error> {
        let client = Client::builder().timeout(Duration::from_secs(30)).build()?;
        Ok(SelfTest {
            client,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            user_name: user_name.to_owned(),
            checks: Vec::new(),
        })
    }

    fn request(&self, method: reqwest::Method, path: &str, agent: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Accept", "application/scim+json")
            .header("User-Agent", agent)
    }

    fn record(&mut self, name: &'static str, passed: bool, detail: String, hint: &str) -> bool {
        let hint = if passed { String::new() } else { hint.to_owned() };
        self.checks.push(Check { name, passed, detail, hint });
        passed
    }

    /// Sends a request; a transport failure becomes a failed check and `None`.
    fn send(&mut self, name: &'static str, request: RequestBuilder) -> Option<(StatusCode, Value)> {
        match request.send() {
            Ok(response) => Some(read(response)),
            Err(e) => {
                let detail = format!("no answer: {e}");
                self.record(name, false, detail, "is scimd serving at this URL? check --url");
                None
            }
        }
    }

    /// Runs every check in Okta's order, then Entra's; cleans up its user.
    pub fn run(mut self) -> Vec<Check> {
        let okta = "Okta SCIM Client 1.0.0";
        let entra = "Azure-AD-Provisioning/1.0";
        let filter =
            format!("/Users?filter={}", encode(&format!("userName eq \"{}\"", self.user_name)));

        let Some((status, body)) = self.send(
            "service provider config",
            self.request(reqwest::Method::GET, "/ServiceProviderConfig", okta),
        ) else {
            return self.checks;
        };
        self.record(
            "service provider config",
            status == StatusCode::OK && body["patch"]["supported"] == true,
            format!("{status}, patch supported: {}", body["patch"]["supported"]),
            "Okta needs PATCH for deactivation",
        );

        if let Some((status, body)) =
            self.send("lookup before create", self.request(reqwest::Method::GET, &filter, okta))
        {
            self.record(
                "lookup before create",
                status == StatusCode::OK && body["totalResults"] == 0,
                format!("{status}, totalResults {}", body["totalResults"]),
                "a filter on a userName nobody has must answer 200 with totalResults 0",
            );
        }

        let user = json!({
            "schemas": [USER_SCHEMA],
            "userName": self.user_name,
            "name": {"givenName": "Self", "familyName": "Test"},
            "emails": [{"primary": true, "value": self.user_name, "type": "work"}],
            "displayName": "Self Test",
            "active": true,
            "password": "Selftest-Placeholder-1"
        });
        let create = self
            .request(reqwest::Method::POST, "/Users", okta)
            .header("Content-Type", SCIM_JSON)
            .body(user.to_string());
        let Some((status, created)) = self.send("create user", create) else { return self.checks };
        let id = created["id"].as_str().unwrap_or_default().to_owned();
        let ok = status == StatusCode::CREATED
            && !id.is_empty()
            && created["userName"] == self.user_name;
        self.record(
            "create user",
            ok,
            format!("{status}, id {id}"),
            "POST /Users must answer 201 with the user and its id",
        );
        if id.is_empty() {
            return self.checks;
        }
        let path = format!("/Users/{id}");

        if let Some((status, body)) = self.send(
            "list one user",
            self.request(reqwest::Method::GET, "/Users?count=1&startIndex=1", okta),
        ) {
            let first = &body["Resources"][0];
            let complete = ["id", "userName", "active"].iter().all(|k| !first[*k].is_null())
                && first["name"]["givenName"].is_string()
                && first["emails"][0]["value"].is_string();
            self.record(
                "list one user",
                status == StatusCode::OK && body["itemsPerPage"] == 1 && complete,
                format!("{status}, itemsPerPage {}", body["itemsPerPage"]),
                "Okta's SPEC test reads GET /Users?count=1&startIndex=1 and needs a complete user",
            );
        }
        if let Some((status, body)) =
            self.send("get user", self.request(reqwest::Method::GET, &path, okta))
        {
            self.record(
                "get user",
                status == StatusCode::OK && body["id"] == id.as_str(),
                format!("{status}"),
                "GET /Users/{id} must answer the user",
            );
        }
        if let Some((status, body)) =
            self.send("lookup after create", self.request(reqwest::Method::GET, &filter, okta))
        {
            self.record(
                "lookup after create",
                status == StatusCode::OK && body["totalResults"] == 1,
                format!("{status}, totalResults {}", body["totalResults"]),
                "userName eq must find the user just created",
            );
        }
        let mut changed = created.clone();
        changed["name"]["givenName"] = json!("Changed");
        let put = self
            .request(reqwest::Method::PUT, &path, okta)
            .header("Content-Type", SCIM_JSON)
            .body(changed.to_string());
        if let Some((status, body)) = self.send("update user (PUT)", put) {
            self.record(
                "update user (PUT)",
                status == StatusCode::OK && body["name"]["givenName"] == "Changed",
                format!("{status}, givenName {}", body["name"]["givenName"]),
                "Okta updates profiles with PUT of the whole user",
            );
        }
        let deactivate = json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "value": {"active": false}}]});
        let patch = self
            .request(reqwest::Method::PATCH, &path, okta)
            .header("Content-Type", SCIM_JSON)
            .body(deactivate.to_string());
        if let Some((status, body)) = self.send("deactivate (PATCH)", patch) {
            self.record(
                "deactivate (PATCH)",
                status == StatusCode::OK && body["active"] == false,
                format!("{status}, active {}", body["active"]),
                "Okta deactivates with PATCH replace active false and reads active false back",
            );
        }
        let entra_patch = json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "Replace", "path": "active", "value": "True"}]});
        let patch = self
            .request(reqwest::Method::PATCH, &path, entra)
            .header("Content-Type", "application/json")
            .body(entra_patch.to_string());
        if let Some((status, body)) = self.send("Entra-style PATCH", patch) {
            self.record(
                "Entra-style PATCH",
                status == StatusCode::OK && body["active"] == true,
                format!("{status}, active {}", body["active"]),
                "Entra sends capitalised ops and \"True\" strings",
            );
        }
        let missing = "/Users/selftest-no-such-user";
        if let Some((status, body)) =
            self.send("404 body", self.request(reqwest::Method::GET, missing, okta))
        {
            self.record(
                "404 body",
                status == StatusCode::NOT_FOUND
                    && body["status"] == "404"
                    && body["detail"].is_string(),
                format!("{status}, status {}", body["status"]),
                "Okta checks a SCIM error body with status \"404\" and a detail",
            );
        }
        let started = Instant::now();
        if let Some((status, _)) =
            self.send("groups answer fast", self.request(reqwest::Method::GET, "/Groups", okta))
        {
            let took = started.elapsed();
            self.record(
                "groups answer fast",
                status == StatusCode::OK && took <= OKTA_GROUPS_BUDGET,
                format!("{status} in {} ms", took.as_millis()),
                "Okta's test expects GET /Groups within 600 ms; check the database latency (scimd doctor)",
            );
        }
        let stranger = self
            .client
            .get(format!("{}/Users", self.base))
            .header("Authorization", "non-token")
            .header("User-Agent", okta);
        if let Some((status, body)) = self.send("401 for a bad credential", stranger) {
            self.record(
                "401 for a bad credential",
                status == StatusCode::UNAUTHORIZED && body["status"] == "401",
                format!("{status}, status {}", body["status"]),
                "a request with Authorization: non-token must get a SCIM 401 body",
            );
        }
        if let Some((status, _)) =
            self.send("clean up", self.request(reqwest::Method::DELETE, &path, okta))
        {
            self.record(
                "clean up",
                status == StatusCode::NO_CONTENT,
                format!("{status}"),
                "the test user could not be deleted; delete it by hand",
            );
        }
        self.checks
    }
}

fn read(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.json::<Value>().unwrap_or(Value::Null);
    (status, body)
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
