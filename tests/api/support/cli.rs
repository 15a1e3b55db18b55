//! The `scimd` binary run as an operator runs it, with `--json` output parsed.

use std::process::Command;

use serde_json::Value;

/// `scimd --database-url <url> --json <args>`: its single JSON object, after checking success.
pub fn scimd(database_url: &str, args: &[&str]) -> Value {
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

/// `scimd audit --json`: one JSON object per line.
pub fn audit_lines(database_url: &str, args: &[&str]) -> Vec<Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["--database-url", database_url, "--json", "audit"])
        .args(args)
        .env_remove("SCIMD_CONFIG")
        .output()
        .expect("run scimd");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// `scimd` with `input` on its standard input (passwords are never arguments).
pub fn scimd_stdin(database_url: &str, args: &[&str], input: &str) -> Value {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["--database-url", database_url, "--json"])
        .args(args)
        .env_remove("SCIMD_CONFIG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run scimd");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "scimd {args:?} failed: {stdout}");
    serde_json::from_str(stdout.trim()).unwrap()
}
