//! A webhook receiver for the tests: a plain TCP listener speaking just enough HTTP/1.1, which
//! records every request (headers and body) and answers with the statuses the test scripts
//! (200 once the script is used up), or keeps a request hanging to stand for a slow receiver.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Status(u16),
    /// Read the request, record it, never answer (the sender times out or is killed).
    Hang,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("JSON webhook body")
    }
    pub fn id(&self) -> String {
        self.headers.get("webhook-id").cloned().unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Answer>,
    received: Vec<Received>,
}

pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let url = format!("http://127.0.0.1:{}/hooks", listener.local_addr().unwrap().port());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || handle(stream, &shared));
            }
        });
        Receiver { url, state }
    }

    /// The next answers, in order; 200 after them.
    pub fn script(&self, answers: &[Answer]) {
        self.state.lock().unwrap().script.extend(answers.iter().copied());
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Waits (20 s at most) until `n` requests arrived, and returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {n} webhook requests, got {}: {:?}",
                received.len(),
                received.iter().map(Received::id).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The `webhook-id`s received, in arrival order.
    pub fn ids(&self) -> Vec<String> {
        self.received().iter().map(Received::id).collect()
    }
}

fn handle(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream);
    let mut headers = BTreeMap::new();
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let answer = {
        let mut state = state.lock().unwrap();
        state
            .received
            .push(Received { headers, body: String::from_utf8_lossy(&body).into_owned() });
        state.script.pop_front().unwrap_or(Answer::Status(200))
    };
    let mut stream = reader.into_inner();
    match answer {
        Answer::Status(code) => {
            let body = format!("answer {code}");
            // A redirect points back here: followed, it would be recorded as another request.
            let location = if (300..400).contains(&code) { "location: /elsewhere\r\n" } else { "" };
            let _ = write!(
                stream,
                "HTTP/1.1 {code} Scripted\r\ncontent-type: text/plain\r\n{location}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Answer::Hang => std::thread::sleep(Duration::from_secs(60)),
    }
}

/// A Python with the `standardwebhooks` package (PyPI), the independent verifier: the one in
/// SCIMD_TEST_PYTHON, or a venv under ~/.cache made on first use. None (the test skips) when it
/// cannot be had, unless CI=true, where that is a failure.
pub fn standardwebhooks_python() -> Option<String> {
    let has_package = |python: &str| {
        std::process::Command::new(python)
            .args(["-c", "import standardwebhooks"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if let Ok(python) = std::env::var("SCIMD_TEST_PYTHON") {
        assert!(
            has_package(&python),
            "SCIMD_TEST_PYTHON={python} lacks the standardwebhooks package"
        );
        return Some(python);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".into());
    let venv = format!("{home}/.cache/scimd-standardwebhooks-venv");
    let python = format!("{venv}/bin/python");
    if !has_package(&python) {
        let made = std::process::Command::new("python3").args(["-m", "venv", &venv]).status();
        if made.is_ok_and(|s| s.success()) {
            let _ = std::process::Command::new(format!("{venv}/bin/pip"))
                .args(["install", "-q", "standardwebhooks"])
                .status();
        }
    }
    if has_package(&python) {
        return Some(python);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but no Python with the standardwebhooks package (pip install standardwebhooks, or set SCIMD_TEST_PYTHON)"
    );
    eprintln!("skipping the independent signature check: no Python with standardwebhooks");
    None
}

/// Verifies each (headers, body) with `standardwebhooks.Webhook(secret).verify`; true where it
/// was accepted.
pub fn verify_with_standardwebhooks(
    python: &str,
    secret: &str,
    messages: &[(BTreeMap<String, String>, String)],
) -> Vec<bool> {
    const SCRIPT: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
request = json.load(sys.stdin)
hook = Webhook(request["secret"])
results = []
for message in request["messages"]:
    try:
        hook.verify(message["body"], message["headers"])
        results.append(True)
    except WebhookVerificationError:
        results.append(False)
print(json.dumps(results))
"#;
    let input = serde_json::json!({
        "secret": secret,
        "messages": messages.iter().map(|(h, b)| serde_json::json!({"headers": h, "body": b})).collect::<Vec<_>>(),
    });
    let mut child = std::process::Command::new(python)
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run python");
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "verifier failed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    serde_json::from_slice(&output.stdout).expect("verifier answer")
}
