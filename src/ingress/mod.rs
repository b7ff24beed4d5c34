//! A Segment-compatible HTTP Tracking API in front of the delivery queue.
//!
//! Routes: `POST /v1/batch` (and `/v1/import`, its alias for older mobile SDKs), `POST /v1/identify`,
//! `/v1/track`, `/v1/page`, `/v1/screen`, `/v1/group`, `/v1/alias`; `GET /health`, `GET /stats`.
//!
//! For Analytics.js 2.0 in a browser (`@segment/analytics-next`, whose `cdnURL` is pointed at the
//! ingress): `GET /v1/projects/{writeKey}/settings` ([`project_settings`]), the single-letter
//! paths it posts to (`/v1/i`, `/v1/t`, `/v1/p`, `/v1/s`, `/v1/g`, `/v1/a`, and `/v1/b` for its
//! batching mode), `POST /v1/m` (its telemetry, accepted and ignored) and CORS ([`cors`]).
//! Bodies are read as JSON whatever their `Content-Type`: the browser SDK sends `text/plain`
//! (which keeps a request simple for the browser), the server libraries `application/json`.
//!
//! The answer is `200 {"success": true}` once the whole request is accepted into the delivery
//! queue (and, with a spool, written and synced to it: docs/SPOOL.md), not once delivered:
//! Segment clients expect a quick answer and would otherwise time out and resend. Malformed input gets `400 {"code", "message"}`; a full queue gets `429` with
//! `Retry-After` (the client keeps the batch and retries, so nothing is lost); a spool that cannot
//! take the batch (full, disk full, unwritable) gets `503` with `Retry-After`; nothing answers 500.

mod cors;
mod project_settings;

pub use cors::Cors;

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
use crate::segment::batch::{self, Item, MAX_BATCH_BYTES, MAX_BATCH_MESSAGES};

/// The ingress's own settings (delivery's are [`Config`]).
#[derive(Clone)]
pub struct Settings {
    /// When set, only requests carrying this Segment write key are accepted. Never printed.
    pub write_key: Option<String>,
    /// How long a request waits for queue room before it is answered 429. Default 5 s.
    ///
    /// Why wait at all: a Segment client answered 429 sends the whole batch again after a
    /// pause, and each resend is read, gunzipped, parsed and validated again only to be refused;
    /// under a flood the forwarder would spend more CPU refusing batches than delivering them.
    /// Holding the request until room frees up is back-pressure without that waste; the bound
    /// stays well under Segment clients' request timeouts (10–15 s), so they see a 429 rather
    /// than a timeout when User.com really is too slow. `Duration::ZERO` = refuse at once.
    pub queue_wait: Duration,
    /// On shutdown, how long to keep delivering before dead-lettering the rest. Default 30 s.
    pub drain_timeout: Duration,
    /// Which page origins browsers may send from (CORS). Default: any.
    pub cors: Cors,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            write_key: None,
            queue_wait: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(30),
            cors: Cors::default(),
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("write_key", &self.write_key.as_ref().map(|_| "<redacted>"))
            .field("queue_wait", &self.queue_wait)
            .field("drain_timeout", &self.drain_timeout)
            .field("cors", &self.cors)
            .finish()
    }
}

/// Call types with their own route: `/v1/{type}`, and `/v1/{letter}`, the short path
/// Analytics.js 2.0 posts to (the type's first letter).
const SINGLE_TYPES: [(&str, &str); 6] = [
    ("identify", "i"),
    ("track", "t"),
    ("page", "p"),
    ("screen", "s"),
    ("group", "g"),
    ("alias", "a"),
];

#[derive(Clone)]
struct AppState {
    forwarder: Forwarder,
    write_key: Option<Arc<str>>,
    queue_wait: Duration,
}

/// The ingress's routes over `forwarder`.
pub fn router(forwarder: Forwarder, settings: &Settings) -> Router {
    let state = AppState {
        forwarder,
        write_key: settings
            .write_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .map(Arc::from),
        queue_wait: settings.queue_wait,
    };
    let mut router = Router::new()
        .route("/v1/batch", post(batch))
        .route("/v1/import", post(batch))
        // Analytics.js 2.0's batching mode (`deliveryStrategy: {strategy: "batching"}`).
        .route("/v1/b", post(batch))
        // Its telemetry, should a page turn it on: accepted, not forwarded.
        .route("/v1/m", post(|| async { Json(json!({ "success": true })) }))
        .route(
            "/v1/projects/{write_key}/settings",
            get(project_settings::settings),
        )
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/stats", get(stats));
    for (kind, letter) in SINGLE_TYPES {
        let handler = move |state: State<AppState>, headers: HeaderMap, body: Body| async move {
            single(state, headers, body, kind).await
        };
        router = router
            .route(&format!("/v1/{kind}"), post(handler))
            .route(&format!("/v1/{letter}"), post(handler));
    }
    router
        .fallback(not_found)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            settings.cors.clone(),
            cors::handle,
        ))
}

async fn not_found() -> Response {
    let body = json!({
        "code": "not_found",
        "message": "no such endpoint: use POST /v1/batch (or /v1/identify, /v1/track, /v1/page, /v1/screen, /v1/group, /v1/alias, or Analytics.js 2.0's /v1/b, /v1/i, /v1/t, /v1/p, /v1/s, /v1/g, /v1/a; its settings are GET /v1/projects/{writeKey}/settings)",
    });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

async fn stats(State(state): State<AppState>) -> Json<Value> {
    let mut stats = json!(state.forwarder.stats());
    if let Some(spool) = state.forwarder.spool_stats() {
        stats["spool"] = json!(spool);
    }
    Json(stats)
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
        Err(e @ (Error::SpoolFull { .. } | Error::SpoolUnavailable(_))) => {
            // Not the client's fault and not routine: say why at warn level.
            tracing::warn!(error = %e, "ingress request refused (503): the batch could not be spooled");
            e.into_response()
        }
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
    if let Err((code, message)) = batch::check_message(&message, "the message") {
        return Err(Error::BadRequest { code, message });
    }
    accept(state, vec![message]).await
}

/// Into the delivery queue, waiting up to [`Settings::queue_wait`] for room (see there why).
///
/// Each message is stamped `receivedAt` first, overwriting the client's: the ingress stands
/// where Segment's API stands, and Segment's clock-skew correction measures the device's clock
/// against the server's arrival time (see `segment::Message::event_time`).
async fn accept(state: &AppState, mut messages: Vec<Value>) -> Result<()> {
    let now =
        Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    for message in &mut messages {
        if let Value::Object(message) = message {
            message.insert("receivedAt".into(), now.clone());
        }
    }
    state
        .forwarder
        .accept_within(messages, state.queue_wait)
        .await
}

/// A request's `batch`: at most [`MAX_BATCH_MESSAGES`] messages, each valid by
/// [`batch::check_message`]; one bad item refuses the request, naming it (the client keeps the
/// batch, as it does with Segment).
fn split_batch(batch: Value, envelope: &Map<String, Value>) -> Result<Vec<Value>> {
    let refuse = |invalid: batch::Invalid| Error::BadRequest {
        code: invalid.code,
        message: invalid.reason,
    };
    if let Some(items) = batch.as_array() {
        if items.len() > MAX_BATCH_MESSAGES {
            return Err(Error::bad_request(
                "batch_too_large",
                format!(
                    "the batch has {} messages; at most {MAX_BATCH_MESSAGES} are accepted",
                    items.len()
                ),
            ));
        }
    }
    batch::split(batch, envelope)
        .map_err(refuse)?
        .into_iter()
        .map(|item| match item {
            Item::Message(message) => Ok(message),
            Item::Invalid(invalid) => Err(refuse(invalid)),
        })
        .collect()
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
    // Inflating and parsing a batch is the ingress's CPU work (most of it in serde_json). With
    // the default one-thread runtime it would share the thread that drives delivery, so a body
    // past a few KB is parsed on the blocking pool, on another core; a small body is not worth
    // the thread hand-off.
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
        .and_then(|v| basic_credentials(v.trim()))
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

/// The credentials of a `Basic` authorization value; the scheme name is case-insensitive
/// (RFC 9110 §11.1), so `basic` and `BASIC` work too.
fn basic_credentials(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("basic")
        .then(|| rest.trim_start())
}

/// Comparison whose time does not depend on where the first difference is (`subtle`'s
/// constant-time equality; a length difference returns at once, and the length of a write key
/// is no secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(a.ct_eq(b))
}

/// Starts the ingress on a socket.
#[derive(Debug)]
pub struct Ingress;

impl Ingress {
    /// Binds `addr` (port 0 allowed), builds a [`Forwarder`] from `config` and serves with the
    /// default [`Settings`] (any write key accepted).
    pub async fn start(addr: SocketAddr, config: Config) -> Result<IngressHandle> {
        let forwarder = Forwarder::new(config)?;
        Self::start_with(addr, forwarder, Settings::default()).await
    }

    /// As [`Ingress::start`], over an existing forwarder, with these settings.
    pub async fn start_with(
        addr: SocketAddr,
        forwarder: Forwarder,
        settings: Settings,
    ) -> Result<IngressHandle> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::io(format!("cannot listen on {addr}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io(format!("cannot listen on {addr}"), e))?;
        // What the spool held from an earlier run goes into the lanes before anything new.
        forwarder.replay();
        let app = router(forwarder.clone(), &settings);
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
            drain_timeout: settings.drain_timeout,
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
    drain_timeout: Duration,
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
        self.forwarder.drain(self.drain_timeout).await
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
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn the_basic_scheme_is_case_insensitive() {
        for value in ["Basic a2V5Og==", "basic a2V5Og==", "BASIC  a2V5Og=="] {
            assert_eq!(basic_credentials(value), Some("a2V5Og=="), "{value}");
        }
        assert_eq!(basic_credentials("Bearer a2V5Og=="), None);
        assert_eq!(basic_credentials("Basic"), None);
    }
}
