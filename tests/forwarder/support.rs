//! Shared helpers: configurations for tests, message builders, wiremock shortcuts.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use usercom_forwarder::Config;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The API key every wiremock test uses.
pub const KEY: &str = "test-api-key-0123456789";

/// A config for `url` with fast retries (real time): 1 ms first step, 20 ms cap, 5 s window.
pub fn config(url: &str) -> Config {
    Config {
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(20),
        retry_window: Duration::from_secs(5),
        request_timeout: Some(Duration::from_secs(5)),
        ..Config::new(url, KEY)
    }
}

/// A config for tests with a paused clock: no request timeout (a pending timeout timer would be
/// fired by the auto-advancing clock while we wait for the server thread).
pub fn paused_config(url: &str) -> Config {
    Config {
        request_timeout: None,
        ..Config::new(url, KEY)
    }
}

pub fn identify(user: &str, message_id: &str) -> Value {
    json!({
        "type": "identify",
        "userId": user,
        "messageId": message_id,
        "timestamp": "2024-05-01T10:00:00Z",
        "traits": {"email": format!("{user}@example.com"), "plan": "pro"},
    })
}

pub fn page(user: &str, message_id: &str) -> Value {
    json!({
        "type": "page",
        "userId": user,
        "messageId": message_id,
        "name": "Pricing",
        "timestamp": "2024-05-01T10:00:00Z",
        "properties": {"url": "https://shop.example.com/pricing", "path": "/pricing", "title": "Pricing"},
    })
}

pub fn track(user: &str, message_id: &str) -> Value {
    json!({
        "type": "track",
        "userId": user,
        "messageId": message_id,
        "event": "Order Completed",
        "timestamp": "2024-05-01T10:00:00Z",
        "properties": {"revenue": 42},
    })
}

pub fn group(user: &str, group: &str, message_id: &str) -> Value {
    json!({
        "type": "group",
        "userId": user,
        "groupId": group,
        "messageId": message_id,
        "traits": {"name": "Acme", "employees": 12},
    })
}

/// Answers `status` with a JSON body for `METHOD path`.
pub async fn answer(server: &MockServer, verb: &str, p: &str, status: u16, body: Value) {
    Mock::given(method(verb))
        .and(path(p))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

/// The attribute definitions every wiremock upstream knows: `plan`, a user string attribute
/// (the custom trait of [`identify`]).
pub fn definitions() -> Value {
    json!([{"id": 1, "name": "plan", "name_std": "plan", "value_type": "string",
            "content_type": "clientuser"}])
}

/// A wiremock upstream that answers the attribute catalogue: `GET /attributes/` lists
/// [`definitions`], `POST /attributes/` defines what it is sent.
pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/public/attributes/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"count": 1, "next": null, "previous": null, "results": definitions()}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/public/attributes/"))
        .respond_with(|request: &wiremock::Request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            let mut answer = body.clone();
            answer["id"] = json!(99);
            answer["name_std"] = body["name"].clone();
            ResponseTemplate::new(201).set_body_json(answer)
        })
        .mount(&server)
        .await;
    server
}

/// `(METHOD, path)` of every request the server received, in order, but the attribute
/// catalogue's (tested on their own in `requests::custom_traits_*`).
pub async fn requests(server: &MockServer) -> Vec<(String, String)> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() != "/api/public/attributes/")
        .map(|r| (r.method.to_string(), r.url.path().to_string()))
        .collect()
}

/// Bodies of the requests to `path`, in order.
pub async fn bodies(server: &MockServer, p: &str) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == p)
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}

/// A fresh temporary directory under the target dir (kept on failure for inspection).
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{name}-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Parses an NDJSON file.
pub fn read_ndjson(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// An upstream that accepts an identify and a track for user `u1`.
pub async fn upstream() -> MockServer {
    let server = server().await;
    answer(
        &server,
        "POST",
        "/api/public/users/update_or_create/",
        200,
        json!({"created": true, "id": 1}),
    )
    .await;
    answer(
        &server,
        "POST",
        "/api/public/users-by-id/u1/events/",
        201,
        json!({"id": 1}),
    )
    .await;
    server
}

/// Occurrences of each `mid` event property in the state of the simulator at `url` (app
/// `default`): how many times each message's event was recorded.
pub async fn occurrences(url: &str) -> std::collections::BTreeMap<String, u64> {
    let state: Value = reqwest::get(format!("{url}/__admin/state?app=default"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut mids = std::collections::BTreeMap::new();
    for e in state["events"].as_array().into_iter().flatten() {
        if let Some(mid) = e["data"]["mid"].as_str() {
            *mids.entry(mid.to_string()).or_insert(0) += 1;
        }
    }
    mids
}

/// The `dev` banner, as printed on stdout up to a chosen line.
pub struct Banner {
    pub text: String,
}

/// The rest of `dev`'s stdout after the banner (keep draining it so the process never blocks).
pub type RestOfStdout = std::io::Lines<std::io::BufReader<std::process::ChildStdout>>;

impl Banner {
    /// Reads the banner up to and including the first line for which `last` holds (blocking
    /// reads on a blocking thread), and hands back the rest of stdout.
    pub async fn read(
        stdout: std::process::ChildStdout,
        last: fn(&str) -> bool,
    ) -> (Banner, RestOfStdout) {
        use std::io::BufRead;
        tokio::task::spawn_blocking(move || {
            let mut lines = std::io::BufReader::new(stdout).lines();
            let mut text = String::new();
            for line in lines.by_ref() {
                let line = line.unwrap();
                text.push_str(&line);
                text.push('\n');
                if last(&line) {
                    break;
                }
            }
            (Banner { text }, lines)
        })
        .await
        .unwrap()
    }

    /// The last word of the line starting with `label` (a URL, key or setting).
    pub fn field(&self, label: &str) -> String {
        self.text
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or_else(|| panic!("no {label} in banner:\n{}", self.text))
            .to_string()
    }
}

/// SIGTERM to a `serve`/`dev` process, then the rest of its stdout (the summary line is the
/// last) and its exit status, read on a blocking thread.
pub async fn sigterm_and_drain(
    mut child: std::process::Child,
    rest: impl Iterator<Item = std::io::Result<String>> + Send + 'static,
) -> (std::process::ExitStatus, Vec<String>) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -TERM {}", child.id());
    tokio::task::spawn_blocking(move || {
        let rest: Vec<String> = rest.map_while(Result::ok).collect();
        (child.wait().unwrap(), rest)
    })
    .await
    .unwrap()
}

/// Polls `GET {ingress}/stats` (bounded: 300 × 50 ms) until `received` messages have arrived and
/// none is in flight; returns the last answer, for the caller's assertions.
pub async fn wait_for_stats(ingress: &str, received: u64) -> Value {
    let mut stats = Value::Null;
    for _ in 0..300 {
        stats = reqwest::get(format!("{ingress}/stats"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if stats["received"] == received && stats["in_flight"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stats
}

/// Reads a `serve` process's stdout up to its `ingress: URL -> ORIGIN` line (the line that says
/// it listens); returns the URL and the rest of the lines, which the caller keeps draining.
pub async fn ingress_url(
    stdout: std::process::ChildStdout,
) -> (
    String,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) {
    tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let url = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| {
                l.strip_prefix("ingress: ")
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_owned)
            })
            .expect("serve prints its ingress URL");
        (url, lines)
    })
    .await
    .unwrap()
}

/// A child process that is killed and reaped if the test panics before handing it on, so a
/// failed assertion never leaves a `serve` or `dev` running after the test binary ends.
pub struct Reaped(Option<std::process::Child>);

impl Reaped {
    pub fn new(child: std::process::Child) -> Self {
        Reaped(Some(child))
    }

    pub fn child(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("the child is still held")
    }

    /// The child, no longer killed on drop (to stop it gracefully).
    pub fn into_inner(mut self) -> std::process::Child {
        self.0.take().expect("the child is still held")
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
