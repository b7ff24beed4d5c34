//! `usercom-mock record`: a recording proxy in front of a real User.com app.
//!
//! Every request that reaches the proxy is sent on to the upstream (same method, path, query,
//! headers and body) and its answer is returned unchanged, so any client (the forwarder, a test
//! suite, a script) can be pointed at the proxy instead of the app. Each exchange is also written
//! to the output directory as one JSON file, numbered in arrival order (`000001.json`, ...):
//!
//! ```json
//! {"seq": 1, "at": "2026-12-01T21:00:00.000000Z", "duration_ms": 12.5,
//!  "request":  {"method": "POST", "path": "/api/public/users/", "query": null,
//!               "headers": {"accept": "*/*; version=2", "authorization": "Token [redacted]",
//!                           "content-type": "application/json"},
//!               "body": {"custom_id": "u-1"}},
//!  "response": {"status": 201, "headers": {"content-type": "application/json"},
//!               "body": {"id": 52, "user_key": "ngze13ffndcv", "...": "..."}}}
//! ```
//!
//! What is kept: the method, path, query, the headers that matter to the API (`accept`,
//! `content-type`, `authorization`, `origin`; answers: `content-type`, `location`,
//! `retry-after`, `x-ratelimit-*`), bodies as JSON (as a string when not JSON).
//!
//! Secrets never reach the files: the `Authorization` value is kept as its scheme plus
//! `[redacted]`; every token seen in an `Authorization` header, and every `--redact` value, is
//! replaced by `[redacted]` wherever it appears (path, query, headers, bodies of both sides;
//! secrets shorter than 8 characters only as whole values); JSON values under keys that name a
//! secret (`api_key`, `token`, `password`, `secret`, ...) are replaced too.
//!
//! This module is beside the simulator, not part of it: it shares no state with `routes/` or
//! `model/`, only the crate's error type.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};

/// The largest request body the proxy forwards (User.com's own limit is lower).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Request headers kept in the recording.
const KEPT_REQUEST_HEADERS: [&str; 4] = ["accept", "content-type", "authorization", "origin"];

/// Headers never forwarded (hop-by-hop, or recomputed by the client library).
/// `accept-encoding` is dropped so the upstream answers uncompressed and bodies can be recorded.
const NOT_FORWARDED: [&str; 11] = [
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-connection",
    "accept-encoding",
];

/// JSON keys whose values are secrets whatever they hold.
const SECRET_KEYS: [&str; 7] = [
    "api_key",
    "apikey",
    "token",
    "password",
    "secret",
    "authorization",
    "write_key",
];

/// What to record and where.
#[derive(Clone)]
pub struct RecordOptions {
    /// The app's origin (`https://APP.user.com`); a trailing `/api/public` is ignored.
    pub upstream: String,
    /// The directory the exchanges are written to (created; must hold no recording yet).
    pub out_dir: PathBuf,
    /// Values to redact besides the tokens seen in `Authorization` headers.
    pub redact: Vec<String>,
    /// Timeout of one upstream request.
    pub timeout: Duration,
}

impl std::fmt::Debug for RecordOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordOptions")
            .field("upstream", &self.upstream)
            .field("out_dir", &self.out_dir)
            .field("redact", &format_args!("{} (redacted)", self.redact.len()))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RecordOptions {
    /// Upstream and directory, no extra secrets, a 30 s timeout.
    pub fn new(upstream: impl Into<String>, out_dir: impl Into<PathBuf>) -> Self {
        Self {
            upstream: upstream.into(),
            out_dir: out_dir.into(),
            redact: Vec::new(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// A running recording proxy. Dropping it stops the proxy.
pub struct Recorder {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("addr", &self.addr)
            .field("upstream", &self.shared.upstream)
            .field("out_dir", &self.shared.out_dir)
            .finish_non_exhaustive()
    }
}

struct Shared {
    http: reqwest::Client,
    upstream: String,
    out_dir: PathBuf,
    seq: AtomicU64,
    /// Tokens seen so far plus `--redact` values. Read on every write, extended when a new token
    /// arrives; a `RwLock` because nearly every request only reads it.
    secrets: RwLock<Vec<String>>,
}

impl Recorder {
    /// Binds `listen` and starts proxying to `opts.upstream`.
    pub async fn start(listen: SocketAddr, opts: RecordOptions) -> Result<Recorder> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| Error::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: listen,
            source,
        })?;
        let shared = Arc::new(Shared::new(opts)?);
        let (tx, rx) = oneshot::channel::<()>();
        let app = axum::Router::new()
            .fallback(proxy)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        Ok(Recorder {
            addr,
            shared,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// `http://ADDR`: give this to the client instead of the app's URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Exchanges recorded so far.
    pub fn recorded(&self) -> u64 {
        self.shared.seq.load(Ordering::SeqCst)
    }

    /// The directory the exchanges go to.
    pub fn out_dir(&self) -> &Path {
        &self.shared.out_dir
    }

    /// Stops accepting, lets in-flight exchanges finish (and be written), then returns.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Shared {
    fn new(opts: RecordOptions) -> Result<Self> {
        let upstream = opts.upstream.trim_end_matches('/');
        let upstream = upstream
            .strip_suffix("/api/public")
            .unwrap_or(upstream)
            .to_string();
        if !(upstream.starts_with("http://") || upstream.starts_with("https://")) {
            return Err(Error::Config(format!(
                "--upstream must be an http:// or https:// URL, got {upstream:?}"
            )));
        }
        std::fs::create_dir_all(&opts.out_dir).map_err(|e| {
            Error::Config(format!("{}: cannot create: {e}", opts.out_dir.display()))
        })?;
        let holds_recording = std::fs::read_dir(&opts.out_dir)
            .map_err(|e| Error::Config(format!("{}: cannot read: {e}", opts.out_dir.display())))?
            .filter_map(|e| e.ok())
            .any(|e| e.path().extension().is_some_and(|x| x == "json"));
        if holds_recording {
            return Err(Error::Config(format!(
                "{} already holds a recording (*.json): choose an empty directory",
                opts.out_dir.display()
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(opts.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            upstream,
            out_dir: opts.out_dir,
            seq: AtomicU64::new(0),
            secrets: RwLock::new(opts.redact.into_iter().filter(|s| !s.is_empty()).collect()),
        })
    }

    fn learn_secret(&self, token: &str) {
        if token.is_empty() || token == "[redacted]" {
            return;
        }
        let known = self
            .secrets
            .read()
            .map(|s| s.iter().any(|x| x == token))
            .unwrap_or(false);
        if !known {
            if let Ok(mut s) = self.secrets.write() {
                s.push(token.to_string());
                // Longest first, so a secret containing another is replaced whole.
                s.sort_by_key(|x| std::cmp::Reverse(x.len()));
            }
        }
    }

    fn redactor(&self) -> Redactor {
        Redactor(self.secrets.read().map(|s| s.clone()).unwrap_or_default())
    }
}

/// Replaces secrets in strings and JSON.
struct Redactor(Vec<String>);

impl Redactor {
    fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for secret in &self.0 {
            if secret.len() >= 8 {
                out = out.replace(secret.as_str(), "[redacted]");
            } else if out == *secret {
                out = "[redacted]".into();
            }
        }
        out
    }

    fn json(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.json(x)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| {
                        let lower = k.to_ascii_lowercase();
                        let secret = SECRET_KEYS.iter().any(|s| lower.contains(s));
                        let x = if secret && !x.is_null() {
                            Value::String("[redacted]".into())
                        } else {
                            self.json(x)
                        };
                        (self.text(k), x)
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// An `Authorization` value: its scheme, then `[redacted]`.
    fn authorization(&self, v: &str) -> String {
        match v.split_once(' ') {
            Some((scheme, _)) => format!("{scheme} [redacted]"),
            None => "[redacted]".into(),
        }
    }

    fn headers(&self, headers: &HeaderMap, kept: &dyn Fn(&str) -> bool) -> Map<String, Value> {
        let mut out = Map::new();
        for (name, value) in headers {
            let name = name.as_str();
            if !kept(name) {
                continue;
            }
            let value = String::from_utf8_lossy(value.as_bytes());
            let value = if name == "authorization" {
                self.authorization(&value)
            } else {
                self.text(&value)
            };
            out.insert(name.to_string(), Value::String(value));
        }
        out
    }
}

/// A body as JSON, a string when it is not JSON, `Null` when empty.
fn body_json(bytes: &[u8]) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

fn kept_response_header(name: &str) -> bool {
    matches!(name, "content-type" | "location" | "retry-after") || name.starts_with("x-ratelimit-")
}

/// The one handler: forward, answer, record.
async fn proxy(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let seq = shared.seq.fetch_add(1, Ordering::SeqCst) + 1;
    let at = chrono::Utc::now();
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    if let Some(auth) = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    {
        if let Some((_, token)) = auth.split_once(' ') {
            shared.learn_secret(token.trim());
        }
    }
    let request_body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({ "detail": format!("record: request body not read: {e}") }),
            )
        }
    };

    let url = match &query {
        Some(q) => format!("{}{path}?{q}", shared.upstream),
        None => format!("{}{path}", shared.upstream),
    };
    let mut upstream_req = shared.http.request(parts.method.clone(), &url);
    for (name, value) in &parts.headers {
        if !NOT_FORWARDED.contains(&name.as_str()) {
            upstream_req = upstream_req.header(name, value);
        }
    }
    if !request_body.is_empty() {
        upstream_req = upstream_req.body(request_body.clone());
    }
    let (status, headers, answer_body, error) = match upstream_req.send().await {
        Ok(resp) => {
            let status = resp.status();
            let headers = resp.headers().clone();
            match resp.bytes().await {
                Ok(b) => (status, headers, b, None),
                Err(e) => (
                    StatusCode::BAD_GATEWAY,
                    HeaderMap::new(),
                    axum::body::Bytes::new(),
                    Some(format!("reading the upstream answer: {e}")),
                ),
            }
        }
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            HeaderMap::new(),
            axum::body::Bytes::new(),
            Some(format!("upstream request failed: {e}")),
        ),
    };
    let answer_body = match &error {
        Some(e) => axum::body::Bytes::from(
            json!({ "detail": format!("record: {}", shared.redactor().text(e)) }).to_string(),
        ),
        None => answer_body,
    };

    let redact = shared.redactor();
    let mut exchange = json!({
        "seq": seq,
        "at": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "duration_ms": (started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
        "request": {
            "method": parts.method.as_str(),
            "path": redact.text(&path),
            "query": query.as_deref().map(|q| redact.text(q)),
            "headers": redact.headers(&parts.headers, &|n| KEPT_REQUEST_HEADERS.contains(&n)),
            "body": redact.json(&body_json(&request_body)),
        },
        "response": {
            "status": status.as_u16(),
            "headers": redact.headers(&headers, &kept_response_header),
            "body": redact.json(&body_json(&answer_body)),
        },
    });
    if let Some(e) = &error {
        exchange["error"] = Value::String(redact.text(e));
    }
    let file = shared.out_dir.join(format!("{seq:06}.json"));
    let text = serde_json::to_string_pretty(&exchange).unwrap_or_default() + "\n";
    if let Err(e) = tokio::fs::write(&file, text).await {
        tracing::error!(file = %file.display(), "record: cannot write the exchange: {e}");
    }

    let mut response = Response::new(Body::from(answer_body));
    *response.status_mut() = status;
    if error.is_some() {
        response.headers_mut().insert(
            HeaderName::from_static("content-type"),
            HeaderValue::from_static("application/json"),
        );
    } else {
        for (name, value) in &headers {
            if !NOT_FORWARDED.contains(&name.as_str()) && name.as_str() != "content-encoding" {
                response.headers_mut().append(name.clone(), value.clone());
            }
        }
    }
    response
}

fn plain(status: StatusCode, body: Value) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        HeaderName::from_static("content-type"),
        HeaderValue::from_static("application/json"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_everywhere() {
        let r = Redactor(vec!["k-0123456789abcdef".into(), "short".into()]);
        assert_eq!(r.text("/x/k-0123456789abcdef/y"), "/x/[redacted]/y");
        assert_eq!(r.text("short"), "[redacted]");
        assert_eq!(r.text("shorter text"), "shorter text");
        assert_eq!(
            r.json(&json!({"api_key": "anything", "n": {"Token": 5}, "s": ["k-0123456789abcdef"]})),
            json!({"api_key": "[redacted]", "n": {"Token": "[redacted]"}, "s": ["[redacted]"]})
        );
        assert_eq!(
            r.authorization("Token k-0123456789abcdef"),
            "Token [redacted]"
        );
    }
}
