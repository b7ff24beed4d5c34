//! The request pipeline every request goes through, one middleware function so the order is
//! explicit (outermost first):
//! 1. the admin token, for the admin plane and the dashboard page ([`crate::security`]);
//! 2. read the body with a 1 MiB limit (413 JSON beyond it);
//! 3. fault injection ([`super::fault_hook`]): it sees method, path and the key's app, and can
//!    answer before the handler runs or replace the answer after it;
//! 4. run the router inside a catch-panic guard (a panic becomes a 500 JSON, the last defence: no
//!    code path is expected to panic);
//! 5. turn any non-JSON error response (axum's own 404/405/rejections) into JSON;
//! 6. log one debug line and record the request in the journal (admin-plane requests are not
//!    recorded).

use std::panic::AssertUnwindSafe;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures::{FutureExt, StreamExt};
use serde_json::json;

use super::extract::RequestCtx;
use super::fault_hook;
use crate::error::{Error, Result};
use crate::journal::Entry;
use crate::store::Store;

/// The target of the request log lines, as documented (README, "Logs"): kept fixed so `RUST_LOG`
/// filters written for it keep working wherever the pipeline's code lives.
const LOG_TARGET: &str = "usercom_mock::routes";

/// Request bodies larger than this get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Wrap `routes` in the pipeline and give them the store.
pub(crate) fn with_pipeline(routes: Router<Store>, store: Store) -> Router {
    routes
        .layer(axum::middleware::from_fn_with_state(
            store.clone(),
            pipeline,
        ))
        .with_state(store)
}

async fn read_body(body: Body) -> Result<Bytes> {
    let mut stream = body.into_data_stream();
    // Most bodies arrive in one chunk: keep it as is (no copy); concatenate otherwise.
    let mut first: Option<Bytes> = None;
    let mut buf: Vec<u8> = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| Error::bad("body", format!("could not read the request body: {e}")))?;
        total += chunk.len();
        if total > MAX_BODY_BYTES {
            return Err(Error::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
        match first.take() {
            None if buf.is_empty() => first = Some(chunk),
            Some(f) => {
                buf.extend_from_slice(&f);
                buf.extend_from_slice(&chunk);
            }
            None => buf.extend_from_slice(&chunk),
        }
    }
    Ok(first.unwrap_or_else(|| Bytes::from(buf)))
}

async fn pipeline(State(store): State<Store>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    // The admin plane and the dashboard page (`/`) are tools, not API traffic: not journaled.
    let journaled = !(parts.uri.path().starts_with("/__admin") || parts.uri.path() == "/");
    // Admin token, for the admin plane and the dashboard page (which shows every app's
    // data): checked before the body is read; the 401 never echoes what was sent.
    // `/__admin/health` answers without it: a liveness probe carries no secret.
    if !journaled && parts.uri.path() != "/__admin/health" {
        let token = store.admin_token();
        if let Err(denied) = crate::security::check_admin_token(token.as_deref(), &parts.headers) {
            return denied;
        }
    }
    let at = crate::time::wall_now();
    let started = std::time::Instant::now();
    let declared_too_big = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES as u64);
    let bytes = if declared_too_big {
        Err(Error::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        })
    } else {
        read_body(body).await
    };
    let ctx = RequestCtx::default();
    let method = parts.method.clone();
    // Only kept when the per-request debug line is enabled (it costs nothing otherwise).
    let log_uri =
        tracing::enabled!(target: LOG_TARGET, tracing::Level::DEBUG).then(|| parts.uri.clone());
    // The journal entry owns a compact copy of path, headers and body, taken now (admin requests
    // are not journaled); status, app and notes are filled in once the response is known.
    let empty = Bytes::new();
    let mut entry = journaled.then(|| {
        let body = bytes.as_ref().unwrap_or(&empty);
        Entry::new(
            at,
            None,
            method.clone(),
            &parts.uri,
            &parts.headers,
            body,
            0,
            vec![],
        )
    });
    let (mut fault, mut answered) = (None, true);
    let response = match bytes {
        Err(e) => e.into_response(),
        Ok(bytes) => {
            // Fault injection (`crate::faults`): without an armed rule `target` is one
            // atomic load and `around` just runs the request.
            let target = if journaled {
                fault_hook::target(&store, &parts)
            } else {
                None
            };
            if let Some(app) = target.as_ref().and_then(|t| t.app.as_ref()) {
                ctx.set_app(app);
            }
            parts.extensions.insert(ctx.clone());
            let req = Request::from_parts(parts, Body::from(bytes));
            let run = async move {
                let response = match AssertUnwindSafe(next.run(req)).catch_unwind().await {
                    Ok(r) => r,
                    Err(panic) => {
                        let what = panic
                            .downcast_ref::<&str>()
                            .map(|s| (*s).to_owned())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "panic".to_owned());
                        tracing::error!(target: LOG_TARGET, "handler panicked: {what}");
                        Error::Internal(what).into_response()
                    }
                };
                jsonify_error(response).await
            };
            let outcome = fault_hook::around(&store, target, run).await;
            (fault, answered) = (outcome.fault, outcome.answered);
            outcome.response
        }
    };
    // The path is masked where it carries a key (`/__admin/api-keys/{key}/revoke`).
    // One line per request: method, path, status, latency and app; never a header or a body.
    if let Some(uri) = &log_uri {
        let app = ctx.app();
        tracing::debug!(
            target: LOG_TARGET,
            method = %method,
            path = %crate::security::loggable_path(uri.path()),
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            app = %app.as_deref().unwrap_or("-"),
            "request"
        );
    }
    if let Some(mut entry) = entry.take() {
        (entry.app, entry.notes) = ctx.take();
        // 0: the client got no answer (a connection-reset fault).
        entry.status = if answered {
            response.status().as_u16()
        } else {
            0
        };
        entry.fault = fault;
        store.record(entry);
    }
    response
}

/// Axum answers some errors itself (unmatched method without fallback, extractor rejections) in
/// plain text; every error the simulator sends is JSON.
async fn jsonify_error(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let detail = match std::str::from_utf8(&text).map(str::trim) {
        Ok(t) if !t.is_empty() => t.to_owned(),
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    parts.headers.remove(CONTENT_TYPE);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let mut r = (status, axum::Json(json!({ "detail": detail }))).into_response();
    for (k, v) in parts.headers.iter() {
        r.headers_mut().insert(k, v.clone());
    }
    r
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use axum::routing::get;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_becomes_a_json_500_and_the_server_keeps_going() {
        let store = Store::new(&["k".into()], 10, None, false).unwrap();
        let routes = Router::new().route(
            "/boom",
            get(|| async {
                let v: Vec<u8> = std::hint::black_box(vec![]);
                v[1].to_string()
            }),
        );
        let app = with_pipeline(routes, store.clone());
        let r = app
            .clone()
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(
            v["detail"].as_str().unwrap().contains("internal error"),
            "{v}"
        );
        assert_eq!(store.journal_json(None).len(), 1);
    }
}
