//! A Segment-compatible HTTP Tracking API in front of the delivery queue.
//!
//! Routes: `POST /v1/batch` (and `/v1/import`, its alias for older mobile SDKs), `POST /v1/identify`,
//! `/v1/track`, `/v1/page`, `/v1/screen`, `/v1/group`, `/v1/alias`; `GET /health`, `GET /stats`.
//!
//! The answer is `200 {"success": true}` once the whole request is accepted into the delivery
//! queue, not once delivered: Segment clients expect a quick answer and would otherwise time out
//! and resend. Malformed input gets `400 {"code", "message"}`; a full queue gets `429` with
//! `Retry-After` (the client keeps the batch and retries, so nothing is lost); nothing answers 500.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::delivery::{Config, Forwarder, Summary};
use crate::error::{Error, Result};

/// Largest accepted message, serialised (Segment's limit).
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;
/// Largest accepted request body, after gzip decompression (Segment's limit).
pub const MAX_BATCH_BYTES: usize = 500 * 1024;
/// Most messages in one batch (Segment's limit).
pub const MAX_BATCH_MESSAGES: usize = 2_500;

/// Call types with their own route.
const SINGLE_TYPES: [&str; 6] = ["identify", "track", "page", "screen", "group", "alias"];

#[derive(Clone)]
struct AppState {
    forwarder: Forwarder,
    write_key: Option<Arc<str>>,
}

/// The ingress's routes over `forwarder`; `write_key` = `None` accepts any caller.
pub fn router(forwarder: Forwarder, write_key: Option<String>) -> Router {
    let state = AppState {
        forwarder,
        write_key: write_key.filter(|k| !k.is_empty()).map(Arc::from),
    };
    let mut router = Router::new()
        .route("/v1/batch", post(batch))
        .route("/v1/import", post(batch))
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/stats", get(stats));
    for kind in SINGLE_TYPES {
        router = router.route(
            &format!("/v1/{kind}"),
            post(
                move |state: State<AppState>, headers: HeaderMap, body: Body| async move {
                    single(state, headers, body, kind).await
                },
            ),
        );
    }
    router.fallback(not_found).with_state(state)
}

async fn not_found() -> Response {
    let body = json!({
        "code": "not_found",
        "message": "no such endpoint: use POST /v1/batch (or /v1/identify, /v1/track, /v1/page, /v1/screen, /v1/group, /v1/alias)",
    });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

async fn stats(State(state): State<AppState>) -> Json<Value> {
    Json(json!(state.forwarder.stats()))
}

async fn batch(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    respond(accept_batch(&state, &headers, body).await)
}

async fn single(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
    kind: &'static str,
) -> Response {
    respond(accept_single(&state, &headers, body, kind).await)
}

fn respond(result: Result<()>) -> Response {
    match result {
        Ok(()) => Json(json!({ "success": true })).into_response(),
        Err(e) => {
            tracing::info!(error = %e, "ingress request refused");
            e.into_response()
        }
    }
}

async fn accept_batch(state: &AppState, headers: &HeaderMap, body: Body) -> Result<()> {
    let mut envelope = read_object(headers, body).await?;
    authorize(state, headers, &envelope)?;
    let Some(batch) = envelope.remove("batch") else {
        return Err(Error::bad_request(
            "missing_batch",
            "the body has no \"batch\" array",
        ));
    };
    let messages = split_batch(batch, &envelope)?;
    accept(state, messages).await
}

async fn accept_single(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    kind: &'static str,
) -> Result<()> {
    let mut message = read_object(headers, body).await?;
    authorize(state, headers, &message)?;
    message.remove("writeKey");
    // The route names the type; a body that says otherwise is corrected, as Segment does.
    message.insert("type".into(), Value::String(kind.to_string()));
    let message = Value::Object(message);
    check_message_size(&message, None)?;
    accept(state, vec![message]).await
}

/// Into the delivery queue, waiting up to [`Config::queue_wait`] for room (see there why).
async fn accept(state: &AppState, messages: Vec<Value>) -> Result<()> {
    let wait = state.forwarder.config().queue_wait;
    state.forwarder.accept_within(messages, wait).await
}

/// Validates a `batch` array and merges the envelope's `context` and `integrations` into each.
///
/// This is also how `send` reads a batch envelope from a file.
pub fn split_batch(batch: Value, envelope: &Map<String, Value>) -> Result<Vec<Value>> {
    let Value::Array(items) = batch else {
        return Err(Error::bad_request(
            "invalid_batch",
            "\"batch\" must be an array of messages",
        ));
    };
    if items.len() > MAX_BATCH_MESSAGES {
        return Err(Error::bad_request(
            "batch_too_large",
            format!(
                "the batch has {} messages; at most {MAX_BATCH_MESSAGES} are accepted",
                items.len()
            ),
        ));
    }
    let mut messages = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let Value::Object(mut message) = item else {
            return Err(Error::bad_request(
                "invalid_message",
                format!("batch[{index}] is not a JSON object"),
            ));
        };
        match message.get("type") {
            Some(Value::String(t)) if !t.trim().is_empty() => {}
            _ => {
                return Err(Error::bad_request(
                    "missing_type",
                    format!("batch[{index}] has no \"type\" (identify, track, page, group, ...)"),
                ))
            }
        }
        for key in ["context", "integrations"] {
            merge_defaults(&mut message, key, envelope.get(key));
        }
        let message = Value::Object(message);
        check_message_size(&message, Some(index))?;
        messages.push(message);
    }
    Ok(messages)
}

/// Batch-level `context`/`integrations` are defaults: a message's own keys win.
pub(crate) fn merge_defaults(
    message: &mut Map<String, Value>,
    key: &str,
    defaults: Option<&Value>,
) {
    let Some(Value::Object(defaults)) = defaults else {
        return;
    };
    match message.get_mut(key) {
        Some(Value::Object(own)) => {
            for (k, v) in defaults {
                if !own.contains_key(k) {
                    own.insert(k.clone(), v.clone());
                }
            }
        }
        Some(Value::Null) | None => {
            message.insert(key.to_string(), Value::Object(defaults.clone()));
        }
        Some(_) => {}
    }
}

fn check_message_size(message: &Value, index: Option<usize>) -> Result<()> {
    /// Counts the bytes serialisation would write, without keeping them (no allocation).
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    let size = match serde_json::to_writer(&mut counter, message) {
        Ok(()) => counter.0,
        Err(_) => 0,
    };
    if size > MAX_MESSAGE_BYTES {
        let which = index.map_or_else(|| "the message".to_string(), |i| format!("batch[{i}]"));
        return Err(Error::bad_request(
            "message_too_large",
            format!(
                "{which} is {size} bytes; at most {MAX_MESSAGE_BYTES} bytes (32 KB) per message"
            ),
        ));
    }
    Ok(())
}

/// Reads the body (gunzipping when asked), bounded, and parses a JSON object.
async fn read_object(headers: &HeaderMap, body: Body) -> Result<Map<String, Value>> {
    let too_large = || {
        Error::bad_request(
            "request_too_large",
            format!("the request body exceeds {MAX_BATCH_BYTES} bytes (500 KB)"),
        )
    };
    let raw: Bytes = axum::body::to_bytes(body, MAX_BATCH_BYTES)
        .await
        .map_err(|_| too_large())?;
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    // Inflating and parsing a batch is the ingress's CPU work (~13% of the forwarder's CPU under
    // load, most of it in serde_json). With the default one-thread runtime it would share the
    // thread that drives delivery, so a body past a few KB is parsed on the blocking pool, on
    // another core; a small body is not worth the thread hand-off.
    if raw.len() < OFFLOAD_PARSE_BYTES {
        return parse_object(&encoding, &raw);
    }
    tokio::task::spawn_blocking(move || parse_object(&encoding, &raw))
        .await
        .unwrap_or_else(|e| {
            Err(Error::bad_request(
                "invalid_body",
                format!("the body could not be parsed: {e}"),
            ))
        })
}

/// Bodies at least this large are parsed on the blocking pool (see [`read_object`]).
const OFFLOAD_PARSE_BYTES: usize = 16 * 1024;

/// Decodes (`Content-Encoding`, already lower-cased) and parses a JSON object.
fn parse_object(encoding: &str, raw: &[u8]) -> Result<Map<String, Value>> {
    let too_large = || {
        Error::bad_request(
            "request_too_large",
            format!("the decompressed body exceeds {MAX_BATCH_BYTES} bytes (500 KB)"),
        )
    };
    let bytes: std::borrow::Cow<'_, [u8]> = match encoding {
        "" | "identity" => std::borrow::Cow::Borrowed(raw),
        "gzip" | "x-gzip" => {
            // Read at most one byte past the limit: a gzip bomb stops there, memory stays bounded.
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(raw)
                .take(MAX_BATCH_BYTES as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| {
                    Error::bad_request("invalid_gzip", format!("the gzip body cannot be read: {e}"))
                })?;
            if out.len() > MAX_BATCH_BYTES {
                return Err(too_large());
            }
            std::borrow::Cow::Owned(out)
        }
        other => {
            return Err(Error::bad_request(
                "unsupported_encoding",
                format!("Content-Encoding {other:?} is not supported (use gzip or none)"),
            ))
        }
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(Error::bad_request(
            "invalid_body",
            "the body must be a JSON object",
        )),
        Err(e) => Err(Error::bad_request(
            "invalid_json",
            format!("the body is not valid JSON: {e}"),
        )),
    }
}

/// Checks the write key when one is configured: Basic auth (`KEY:`) or `writeKey` in the body.
fn authorize(state: &AppState, headers: &HeaderMap, body: &Map<String, Value>) -> Result<()> {
    let Some(expected) = &state.write_key else {
        return Ok(());
    };
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("Basic "))
        .and_then(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        })
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .map(|user_pass| match user_pass.split_once(':') {
            Some((user, _)) => user.to_string(),
            None => user_pass,
        });
    let from_body = body.get("writeKey").and_then(Value::as_str);
    let matches = |candidate: &str| constant_time_eq(candidate.as_bytes(), expected.as_bytes());
    if from_header.as_deref().is_some_and(matches) || from_body.is_some_and(matches) {
        return Ok(());
    }
    let why = if from_header.is_none() && from_body.is_none() {
        "no write key: send it as HTTP Basic auth (username = write key, empty password) or as \"writeKey\" in the body"
    } else {
        "wrong write key"
    };
    Err(Error::Unauthorized(why.to_string()))
}

/// Comparison whose time does not depend on where the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Starts the ingress on a socket.
#[derive(Debug)]
pub struct Ingress;

impl Ingress {
    /// Binds `addr` (port 0 allowed), builds a [`Forwarder`] from `config` and serves.
    pub async fn start(addr: SocketAddr, config: Config) -> Result<IngressHandle> {
        let forwarder = Forwarder::new(config)?;
        Self::start_with(addr, forwarder).await
    }

    /// As [`Ingress::start`], over an existing forwarder.
    pub async fn start_with(addr: SocketAddr, forwarder: Forwarder) -> Result<IngressHandle> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::io(format!("cannot listen on {addr}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io(format!("cannot listen on {addr}"), e))?;
        let app = router(forwarder.clone(), forwarder.config().write_key.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "ingress server stopped with an error");
            }
        });
        tracing::info!(url = %format!("http://{addr}"), "ingress listening");
        Ok(IngressHandle {
            addr,
            forwarder,
            stop: Some(stop),
            server: Some(server),
        })
    }
}

/// A running ingress. Dropping it stops accepting connections (without draining).
#[derive(Debug)]
pub struct IngressHandle {
    addr: SocketAddr,
    forwarder: Forwarder,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl IngressHandle {
    /// `http://IP:PORT` of the ingress (point a Segment client's `host` here).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The forwarder behind the ingress (stats, waiting for idleness in tests).
    pub fn forwarder(&self) -> &Forwarder {
        &self.forwarder
    }

    /// Graceful stop: refuses new messages (503), stops accepting connections, lets open
    /// requests finish, then drains the queue within the configured drain timeout and
    /// dead-letters what it could not deliver. Returns the counters since start.
    pub async fn shutdown(mut self) -> Summary {
        self.forwarder.close();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            // Keep-alive connections close after their current request; bound the wait anyway.
            let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
        }
        let deadline = self.forwarder.config().drain_timeout;
        self.forwarder.drain(deadline).await
    }
}

impl Drop for IngressHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_context_is_a_default_not_an_override() {
        let envelope = json!({
            "context": {"ip": "1.2.3.4", "locale": "en-US"},
            "integrations": {"All": true},
        });
        let batch = json!([
            {"type": "track", "event": "A", "context": {"ip": "9.9.9.9"}},
            {"type": "identify"},
        ]);
        let messages = split_batch(batch, envelope.as_object().unwrap()).unwrap();
        assert_eq!(
            messages[0]["context"],
            json!({"ip": "9.9.9.9", "locale": "en-US"})
        );
        assert_eq!(messages[1]["context"]["ip"], "1.2.3.4");
        assert_eq!(messages[1]["integrations"], json!({"All": true}));
    }

    #[test]
    fn batch_items_need_a_type_and_an_object() {
        let empty = Map::new();
        let err = split_batch(json!([{"type": "track"}, {"event": "x"}]), &empty).unwrap_err();
        assert!(err.to_string().contains("batch[1]"), "{err}");
        let err = split_batch(json!([1]), &empty).unwrap_err();
        assert!(
            err.to_string().contains("batch[0] is not a JSON object"),
            "{err}"
        );
        assert!(split_batch(json!({}), &empty).is_err());
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
