//! Test support: a simulator on 127.0.0.1:0 per test, one reused HTTP client, small helpers.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use usercom_mock::MockServer;

/// A running simulator plus a client. Each test gets its own server (wiremock-rs style).
pub struct Mock {
    pub server: MockServer,
    pub http: reqwest::Client,
}

/// A response: status and body (JSON, or `Value::Null` when empty; a non-JSON body panics the
/// test because every simulator answer must be JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

impl Mock {
    pub async fn start() -> Mock {
        Mock::with(MockServer::builder().api_key("test-key")).await
    }

    pub async fn with(builder: usercom_mock::MockServerBuilder) -> Mock {
        let server = builder.start().await.expect("mock starts");
        Mock {
            server,
            http: reqwest::Client::new(),
        }
    }

    pub fn key(&self) -> String {
        self.server.api_key().to_owned()
    }

    /// Raw request: `path` relative to the server root; `key` None = no Authorization header.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        let mut rb = self
            .http
            .request(method, format!("{}{path}", self.server.url()));
        if let Some(k) = key {
            rb = rb.header("Authorization", format!("Token {k}"));
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.header("Content-Type", "application/json").body(b);
        }
        let r = rb.send().await.expect("request sent");
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = r.text().await.expect("body read");
        let body = if text.is_empty() {
            Value::Null
        } else {
            assert!(
                ct.starts_with("application/json"),
                "non-JSON answer {status} {ct}: {text}"
            );
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("invalid JSON ({e}): {text}"))
        };
        Resp { status, body, text }
    }

    /// An API call under /api/public with this server's default key.
    pub async fn api(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let key = self.key();
        self.api_as(&key, method, path, body).await
    }

    /// An API call with a given key.
    pub async fn api_as(&self, key: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.raw(
            method,
            &format!("/api/public{path}"),
            Some(key),
            &[],
            body.map(|b| b.to_string().into_bytes()),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.api(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.api(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.api(Method::PUT, path, Some(body)).await
    }

    /// An admin-plane call.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.raw(
            method,
            &format!("/__admin{path}"),
            None,
            &[],
            body.map(|b| b.to_string().into_bytes()),
        )
        .await
    }

    /// Create a user by custom id and return its JSON.
    pub async fn user(&self, cid: &str) -> Value {
        let r = self
            .post("/users/", serde_json::json!({"custom_id": cid}))
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        r.body
    }

    /// The journal entries (all apps).
    pub async fn journal(&self) -> Vec<Value> {
        let r = self.admin(Method::GET, "/requests", None).await;
        assert_eq!(r.status, 200);
        r.body["requests"].as_array().cloned().unwrap_or_default()
    }

    /// Notes of the last journal entry.
    pub async fn last_notes(&self) -> Vec<String> {
        let j = self.journal().await;
        let last = j.last().expect("a journal entry");
        last["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_owned())
            .collect()
    }
}

/// Assert a status, printing the body when it differs.
#[track_caller]
pub fn expect(r: &Resp, status: u16) {
    assert_eq!(r.status, status, "unexpected status; body: {}", r.text);
}

pub fn ok_status(s: u16) -> StatusCode {
    StatusCode::from_u16(s).unwrap()
}

/// A fresh path under the system temp dir.
pub fn temp_path(name: &str) -> std::path::PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "usercom-mock-test-{}-{n}-{name}",
        std::process::id()
    ))
}

/// The repository's fixtures directory.
pub fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Reads the binary's first stdout line (`usercom-mock listening on http://ADDR`) and returns the
/// URL; the child's stdout is taken.
pub fn listening_url(child: &mut std::process::Child) -> String {
    use std::io::{BufRead, BufReader};
    let mut out = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    line.trim()
        .strip_prefix("usercom-mock listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned()
}

/// Sends `signal` (`"TERM"`, `"INT"`) to the binary and waits for it off the runtime thread;
/// the exit status (a clean shutdown is a success).
pub async fn stop_binary(mut child: std::process::Child, signal: &str) -> std::process::ExitStatus {
    let sent = std::process::Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal} failed");
    tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap()
}
