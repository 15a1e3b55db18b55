//! Minimal W3C WebDriver client (chromedriver + headless Chromium) so the browser tests can
//! drive a real browser through the sign-in, consent and console pages; `in_browser` skips a
//! test where no browser is installed unless SCIMD_REQUIRE_BROWSER is set (CI sets it).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::clients::{OPERATOR_EMAIL, OPERATOR_PASSWORD};

/// W3C key under which an element reference is returned.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running chromedriver process with one open WebDriver session.
pub struct Browser {
    child: Child,
    client: reqwest::blocking::Client,
    base: String,
    session: String,
}

/// A W3C WebDriver element reference (the element id).
pub struct Element(String);

fn locate(env_var: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(env_var)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(default), PathBuf::from);
    path.is_file().then_some(path)
}

fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    let port = listener.local_addr().map_err(|e| format!("local_addr: {e}"))?.port();
    drop(listener);
    Ok(port)
}

impl Browser {
    /// Finds chromedriver (env CHROMEDRIVER, else /usr/bin/chromedriver) and chromium
    /// (env CHROME_BIN, else /usr/bin/chromium); Ok(None) when either is missing.
    pub fn launch() -> Result<Option<Browser>, String> {
        let Some(driver) = locate("CHROMEDRIVER", "/usr/bin/chromedriver") else {
            return Ok(None);
        };
        let Some(chrome) = locate("CHROME_BIN", "/usr/bin/chromium") else {
            return Ok(None);
        };
        let port = free_port()?;
        super::app::install_crypto_provider();
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .no_proxy()
            .build()
            .map_err(|e| format!("building http client: {e}"))?;
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawning {}: {e}", driver.display()))?;
        // From here on, Drop kills the child (and skips DELETE while session is empty).
        let mut browser = Browser {
            child,
            client,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
        };
        browser.wait_ready(Duration::from_secs(10))?;
        browser.session = browser.new_session(&chrome)?;
        Ok(Some(browser))
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("chromedriver exited early: {status}"));
            }
            let last = match self.client.get(format!("{}/status", self.base)).send() {
                Ok(resp) => match resp.json::<Value>() {
                    Ok(v) if v["value"]["ready"].as_bool() == Some(true) => return Ok(()),
                    Ok(v) => format!("not ready: {v}"),
                    Err(e) => format!("bad /status body: {e}"),
                },
                Err(e) => e.to_string(),
            };
            if start.elapsed() >= timeout {
                return Err(format!(
                    "chromedriver not ready after {timeout:?} on {}: {last}",
                    self.base
                ));
            }
            sleep(Duration::from_millis(50));
        }
    }

    fn new_session(&self, chrome: &Path) -> Result<String, String> {
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": chrome.to_string_lossy(),
                        "args": [
                            "--headless=new",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-dev-shm-usage",
                            "--window-size=1280,900"
                        ]
                    }
                }
            }
        });
        let value = self.request(reqwest::Method::POST, "/session", Some(&caps))?;
        value["sessionId"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("new session: no sessionId in {value}"))
    }

    /// Sends one WebDriver command and returns the response's `value`.
    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let what = format!("{method} {path}");
        let mut req = self.client.request(method, &url);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().map_err(|e| format!("{what}: {e}"))?;
        let status = resp.status();
        let text = resp.text().map_err(|e| format!("{what}: reading body: {e}"))?;
        let parsed: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{what}: HTTP {status}, non-JSON body {text:?}: {e}"))?;
        let value = parsed.get("value").cloned().unwrap_or(Value::Null);
        if let Some(error) = value.get("error").and_then(Value::as_str) {
            let message = value.get("message").and_then(Value::as_str).unwrap_or("");
            // chromedriver's message usually repeats the error code; don't print it twice.
            if message.starts_with(error) {
                return Err(format!("{what}: {message}"));
            }
            return Err(format!("{what}: {error}: {message}"));
        }
        if !status.is_success() {
            return Err(format!("{what}: HTTP {status}: {text}"));
        }
        Ok(value)
    }

    fn session_cmd(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        self.request(method, &format!("/session/{}{path}", self.session), body)
    }

    fn get_string(&self, path: &str) -> Result<String, String> {
        let value = self.session_cmd(reqwest::Method::GET, path, None)?;
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("GET {path}: expected a string, got {value}"))
    }

    pub fn goto(&self, url: &str) -> Result<(), String> {
        self.session_cmd(reqwest::Method::POST, "/url", Some(&json!({ "url": url })))
            .map(drop)
            .map_err(|e| format!("goto {url}: {e}"))
    }

    pub fn current_url(&self) -> Result<String, String> {
        self.get_string("/url")
    }

    pub fn page_source(&self) -> Result<String, String> {
        self.get_string("/source")
    }

    pub fn title(&self) -> Result<String, String> {
        self.get_string("/title")
    }

    /// With `SCIMD_SCREENSHOTS=DIR` set, saves the page as `DIR/NAME.png`, so a person can look
    /// at what a journey saw; without it, nothing.
    pub fn screenshot_if_asked(&self, name: &str) -> Result<(), String> {
        use base64::Engine;
        let Some(dir) = std::env::var_os("SCIMD_SCREENSHOTS") else { return Ok(()) };
        let png = self.get_string("/screenshot")?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png)
            .map_err(|e| format!("screenshot {name}: {e}"))?;
        let path = std::path::Path::new(&dir).join(format!("{name}.png"));
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// CSS selector; error message includes the selector when not found.
    pub fn find(&self, css: &str) -> Result<Element, String> {
        let body = json!({ "using": "css selector", "value": css });
        let value = self
            .session_cmd(reqwest::Method::POST, "/element", Some(&body))
            .map_err(|e| format!("find {css:?}: {e}"))?;
        value[ELEMENT_KEY]
            .as_str()
            .map(|id| Element(id.to_owned()))
            .ok_or_else(|| format!("find {css:?}: no element reference in {value}"))
    }

    /// Finds `css`, clears it and types `text` into it.
    pub fn type_into(&self, css: &str, text: &str) -> Result<(), String> {
        let Element(id) = self.find(css)?;
        self.session_cmd(reqwest::Method::POST, &format!("/element/{id}/clear"), Some(&json!({})))
            .map_err(|e| format!("clear {css:?}: {e}"))?;
        self.session_cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(&json!({ "text": text })),
        )
        .map(drop)
        .map_err(|e| format!("type into {css:?}: {e}"))
    }

    pub fn click(&self, css: &str) -> Result<(), String> {
        let Element(id) = self.find(css)?;
        self.session_cmd(reqwest::Method::POST, &format!("/element/{id}/click"), Some(&json!({})))
            .map(drop)
            .map_err(|e| format!("click {css:?}: {e}"))
    }

    /// Runs a script in the page (W3C "execute script") and returns its result.
    pub fn execute(&self, script: &str) -> Result<Value, String> {
        self.session_cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(&json!({ "script": script, "args": [] })),
        )
        .map_err(|e| format!("execute {script:?}: {e}"))
    }

    /// Polls current_url every 50 ms until pred(url) or timeout; returns the url.
    pub fn wait_for_url(
        &self,
        pred: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> Result<String, String> {
        let start = Instant::now();
        loop {
            // Transient errors (e.g. mid-navigation) are retried until the deadline.
            let last = match self.current_url() {
                Ok(url) if pred(&url) => return Ok(url),
                Ok(url) => format!("last url {url}"),
                Err(e) => format!("last error {e}"),
            };
            if start.elapsed() >= timeout {
                return Err(format!("url condition not met after {timeout:?}; {last}"));
            }
            sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ =
                self.request(reqwest::Method::DELETE, &format!("/session/{}", self.session), None);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `journey` in a fresh browser on a blocking thread; `None` when no browser is installed.
pub async fn in_browser<T: Send + 'static>(
    journey: impl FnOnce(&Browser) -> T + Send + 'static,
) -> Option<T> {
    tokio::task::spawn_blocking(move || {
        let Some(browser) = Browser::launch().expect("launch chromium") else {
            assert!(
                std::env::var_os("SCIMD_REQUIRE_BROWSER").is_none(),
                "SCIMD_REQUIRE_BROWSER is set but chromium/chromedriver are missing"
            );
            eprintln!("skipping: install chromium and chromium-driver to run the browser tests");
            return None;
        };
        Some(journey(&browser))
    })
    .await
    .unwrap()
}

/// Polls the page source until it contains `needle` (15 s at most) and returns it.
pub fn wait_for_page(browser: &Browser, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let source = browser.page_source().unwrap_or_default();
        if source.contains(needle) {
            return source;
        }
        assert!(Instant::now() < deadline, "page never showed {needle:?}: {source}");
        sleep(Duration::from_millis(50));
    }
}

/// The operator signs in at `{address}/admin` and lands on the tenants page.
pub fn sign_in_operator(browser: &Browser, address: &str) {
    browser.goto(&format!("{address}/admin")).unwrap();
    wait_for_page(browser, "id=\"sign-in\"");
    browser.type_into("#email", OPERATOR_EMAIL).unwrap();
    browser.type_into("#password", OPERATOR_PASSWORD).unwrap();
    browser.click("#sign-in").unwrap();
    wait_for_page(browser, "id=\"tenants\"");
}
