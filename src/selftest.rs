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
/// The User-Agents the checks send, as each IdP does.
const OKTA: &str = "Okta SCIM Client 1.0.0";
const ENTRA: &str = "Azure-AD-Provisioning/1.0";
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

    /// Sends `request` and records the check `judge` makes of the answer: whether it passed,
    /// and what was seen. Answers the body when the request was answered.
    fn check(
        &mut self,
        name: &'static str,
        request: RequestBuilder,
        hint: &str,
        judge: impl FnOnce(StatusCode, &Value) -> (bool, String),
    ) -> Option<(bool, Value)> {
        let (status, body) = self.send(name, request)?;
        let (passed, detail) = judge(status, &body);
        Some((self.record(name, passed, detail, hint), body))
    }

    fn okta(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.request(method, path, OKTA)
    }

    /// A request carrying a SCIM JSON body.
    fn with_body(
        &self,
        method: reqwest::Method,
        path: &str,
        agent: &str,
        body: &Value,
    ) -> RequestBuilder {
        let content_type = if agent == ENTRA { "application/json" } else { SCIM_JSON };
        self.request(method, path, agent)
            .header("Content-Type", content_type)
            .body(body.to_string())
    }

    fn lookup(&mut self, name: &'static str, expected: u64, hint: &str) {
        let filter =
            format!("/Users?filter={}", encode(&format!("userName eq \"{}\"", self.user_name)));
        self.check(name, self.okta(reqwest::Method::GET, &filter), hint, |status, body| {
            let passed = status == StatusCode::OK && body["totalResults"] == expected;
            (passed, format!("{status}, totalResults {}", body["totalResults"]))
        });
    }

    /// Runs every check in Okta's order, then Entra's; cleans up its user.
    pub fn run(mut self) -> Vec<Check> {
        let config = self.check(
            "service provider config",
            self.okta(reqwest::Method::GET, "/ServiceProviderConfig"),
            "Okta needs PATCH for deactivation",
            |status, body| {
                let supported = &body["patch"]["supported"];
                (
                    status == StatusCode::OK && supported == true,
                    format!("{status}, patch supported: {supported}"),
                )
            },
        );
        if config.is_none() {
            return self.checks;
        }
        self.lookup(
            "lookup before create",
            0,
            "a filter on a userName nobody has must answer 200 with totalResults 0",
        );
        let Some((id, created)) = self.create() else { return self.checks };
        let path = format!("/Users/{id}");
        self.reads(&path, &id);
        self.updates(&path, created);
        self.refusals();
        self.check(
            "clean up",
            self.okta(reqwest::Method::DELETE, &path),
            "the test user could not be deleted; delete it by hand",
            |status, _| (status == StatusCode::NO_CONTENT, format!("{status}")),
        );
        self.checks
    }

    /// Creates the test user; its id and body, unless that failed.
    fn create(&mut self) -> Option<(String, Value)> {
        let user = json!({
            "schemas": [USER_SCHEMA],
            "userName": self.user_name,
            "name": {"givenName": "Self", "familyName": "Test"},
            "emails": [{"primary": true, "value": self.user_name, "type": "work"}],
            "displayName": "Self Test",
            "active": true,
            "password": "Selftest-Placeholder-1"
        });
        let create = self.with_body(reqwest::Method::POST, "/Users", OKTA, &user);
        let user_name = self.user_name.clone();
        let (_, created) = self.check(
            "create user",
            create,
            "POST /Users must answer 201 with the user and its id",
            |status, created| {
                let id = created["id"].as_str().unwrap_or_default();
                let passed = status == StatusCode::CREATED
                    && !id.is_empty()
                    && created["userName"] == user_name.as_str();
                (passed, format!("{status}, id {id}"))
            },
        )?;
        let id = created["id"].as_str().filter(|id| !id.is_empty())?.to_owned();
        Some((id, created))
    }

    /// Okta's reads of the user just created.
    fn reads(&mut self, path: &str, id: &str) {
        self.check(
            "list one user",
            self.okta(reqwest::Method::GET, "/Users?count=1&startIndex=1"),
            "Okta's SPEC test reads GET /Users?count=1&startIndex=1 and needs a complete user",
            |status, body| {
                let first = &body["Resources"][0];
                let complete = ["id", "userName", "active"].iter().all(|k| !first[*k].is_null())
                    && first["name"]["givenName"].is_string()
                    && first["emails"][0]["value"].is_string();
                let passed = status == StatusCode::OK && body["itemsPerPage"] == 1 && complete;
                (passed, format!("{status}, itemsPerPage {}", body["itemsPerPage"]))
            },
        );
        self.check(
            "get user",
            self.okta(reqwest::Method::GET, path),
            "GET /Users/{id} must answer the user",
            |status, body| (status == StatusCode::OK && body["id"] == id, format!("{status}")),
        );
        self.lookup("lookup after create", 1, "userName eq must find the user just created");
    }

    /// Okta's PUT and deactivating PATCH, then Entra's PATCH dialect.
    fn updates(&mut self, path: &str, created: Value) {
        let mut changed = created;
        changed["name"]["givenName"] = json!("Changed");
        let put = self.with_body(reqwest::Method::PUT, path, OKTA, &changed);
        self.check(
            "update user (PUT)",
            put,
            "Okta updates profiles with PUT of the whole user",
            |status, body| {
                let given = &body["name"]["givenName"];
                (
                    status == StatusCode::OK && given == "Changed",
                    format!("{status}, givenName {given}"),
                )
            },
        );
        let patches = [
            (
                "deactivate (PATCH)",
                OKTA,
                json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "value": {"active": false}}]}),
                false,
                "Okta deactivates with PATCH replace active false and reads active false back",
            ),
            (
                "Entra-style PATCH",
                ENTRA,
                json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "Replace", "path": "active", "value": "True"}]}),
                true,
                "Entra sends capitalised ops and \"True\" strings",
            ),
        ];
        for (name, agent, patch, active, hint) in patches {
            let request = self.with_body(reqwest::Method::PATCH, path, agent, &patch);
            self.check(name, request, hint, |status, body| {
                (
                    status == StatusCode::OK && body["active"] == active,
                    format!("{status}, active {}", body["active"]),
                )
            });
        }
    }

    /// The error answers Okta's tests read, and the speed of `/Groups`.
    fn refusals(&mut self) {
        self.check(
            "404 body",
            self.okta(reqwest::Method::GET, "/Users/selftest-no-such-user"),
            "Okta checks a SCIM error body with status \"404\" and a detail",
            |status, body| {
                let passed = status == StatusCode::NOT_FOUND
                    && body["status"] == "404"
                    && body["detail"].is_string();
                (passed, format!("{status}, status {}", body["status"]))
            },
        );
        let started = Instant::now();
        self.check(
            "groups answer fast",
            self.okta(reqwest::Method::GET, "/Groups"),
            "Okta's test expects GET /Groups within 600 ms; check the database latency (scimd doctor)",
            |status, _| {
                let took = started.elapsed();
                (status == StatusCode::OK && took <= OKTA_GROUPS_BUDGET, format!("{status} in {} ms", took.as_millis()))
            },
        );
        let stranger = self
            .client
            .get(format!("{}/Users", self.base))
            .header("Authorization", "non-token")
            .header("User-Agent", OKTA);
        self.check(
            "401 for a bad credential",
            stranger,
            "a request with Authorization: non-token must get a SCIM 401 body",
            |status, body| {
                (
                    status == StatusCode::UNAUTHORIZED && body["status"] == "401",
                    format!("{status}, status {}", body["status"]),
                )
            },
        );
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
