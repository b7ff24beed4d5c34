//! Logs of the binary: RUST_LOG respected, `--log-format json`, one debug line per request with
//! method, path, status, latency and app, and never the API key.

use std::io::Read;
use std::process::{Command, Stdio};

use serde_json::Value;

const SECRET: &str = "log-test-secret-key-7f3a";

/// Run the binary with `args` and RUST_LOG, make a few requests, stop it; its stderr.
async fn run_and_capture(args: &[&str], rust_log: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_usercom-mock"))
        .args(["--listen", "127.0.0.1:0", "--api-key", SECRET])
        .args(args)
        .env("RUST_LOG", rust_log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    let url = crate::support::listening_url(&mut child);
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{url}/api/public/users/"))
        .header("Authorization", format!("Token {SECRET}"))
        .json(&serde_json::json!({"custom_id": "logged"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = http
        .get(format!("{url}/api/public/users/"))
        .header("Authorization", "Token wrong-key")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The key in an admin path must be masked in the log line too.
    let r = http
        .post(format!("{url}/__admin/api-keys/{SECRET}/revoke"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop(http);
    let mut err = child.stderr.take().unwrap();
    let status = crate::support::stop_binary(child, "TERM").await;
    assert!(status.success(), "{status:?}");
    let mut text = String::new();
    err.read_to_string(&mut text).unwrap();
    text
}

#[tokio::test]
async fn json_logs_have_one_line_per_request_and_no_secret() {
    let stderr = run_and_capture(&["--log-format", "json"], "usercom_mock=debug").await;
    assert!(
        !stderr.contains(SECRET),
        "the API key leaked into the logs:\n{stderr}"
    );
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let requests: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "request")
        .collect();
    assert_eq!(requests.len(), 3, "one line per request:\n{stderr}");
    let create = requests
        .iter()
        .find(|l| l["fields"]["method"] == "POST" && l["fields"]["status"] == 201)
        .unwrap_or_else(|| panic!("no line for the create:\n{stderr}"));
    let f = &create["fields"];
    assert_eq!(f["path"], "/api/public/users/");
    assert_eq!(f["app"], "default");
    assert_eq!(create["level"], "DEBUG");
    assert!(f["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{f}");
    let denied = requests
        .iter()
        .find(|l| l["fields"]["status"] == 401)
        .expect("a line for the 401");
    assert_eq!(
        denied["fields"]["app"], "-",
        "an unknown key belongs to no app"
    );
    assert!(requests.iter().any(|l| l["fields"]["path"]
        .as_str()
        .is_some_and(|p| p.starts_with("/__admin/api-keys/") && p.ends_with("/revoke"))));
}

#[tokio::test]
async fn rust_log_is_respected_and_text_is_the_default() {
    let info = run_and_capture(&[], "info").await;
    assert!(
        !info.contains(" request "),
        "no per-request lines at info:\n{info}"
    );
    assert!(info.contains("INFO"), "{info}");
    let debug = run_and_capture(&[], "usercom_mock=debug").await;
    assert!(!debug.contains(SECRET), "{debug}");
    let line = debug
        .lines()
        .find(|l| l.contains("request") && l.contains("status=201"))
        .unwrap_or_else(|| panic!("no text request line:\n{debug}"));
    for field in [
        "method=POST",
        "path=/api/public/users/",
        "latency_ms=",
        "app=default",
    ] {
        assert!(line.contains(field), "{field} missing in {line}");
    }
}
