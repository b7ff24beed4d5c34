//! The HTTP side of fault injection: the pipeline's hook ([`target`] + [`around`]) that carries
//! out what [`crate::faults::Faults`] decides. The rules are managed over `/__admin/faults`
//! (`routes/admin/faults.rs`).
//!
//! Connection resets: axum's service cannot fail, so a reset is a response whose body fails on
//! its first poll. hyper has then buffered the status line and headers but not flushed them; the
//! body error makes it abort the connection, and the client sees the connection closed with no
//! answer (reqwest: a request error, not a status).

use std::future::Future;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::header::{HeaderName, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::faults::{Action, When};
use crate::store::Store;

/// What the fault layer needs to know about a request.
#[derive(Debug)]
pub(crate) struct Target {
    method: Method,
    path: String,
    /// The app of the request's key (revoked keys included), if the key is known.
    pub app: Option<Arc<str>>,
}

/// The API key of an `Authorization: Token <key>` header, if well-formed.
pub(crate) fn api_key(parts: &Parts) -> Option<&str> {
    let h = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let mut words = h.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(scheme), Some(key), None) if scheme.eq_ignore_ascii_case("token") => Some(key),
        _ => None,
    }
}

/// `Some` only when a rule is armed (one atomic load otherwise) and the request is not an
/// admin-plane request (faults never lock the operator out).
pub(crate) fn target(store: &Store, parts: &Parts) -> Option<Target> {
    if !store.faults().active() || parts.uri.path().starts_with("/__admin") {
        return None;
    }
    let app = api_key(parts)
        .and_then(|k| store.app_of_any_key(k))
        .map(|a| a.name.clone());
    Some(Target {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        app,
    })
}

/// The result of running a request through the fault layer.
pub(crate) struct Outcome {
    /// What to send (for a reset: a response whose body fails, which drops the connection).
    pub response: Response,
    /// The journal's `fault` object, when a rule fired.
    pub fault: Option<Value>,
    /// False when the client gets no HTTP answer (connection reset).
    pub answered: bool,
}

/// Run `run` (the rest of the pipeline: handler, catch-panic, JSON errors) under the faults
/// that apply to `target`. Without a target this is just `run.await`.
pub(crate) async fn around(
    store: &Store,
    target: Option<Target>,
    run: impl Future<Output = Response>,
) -> Outcome {
    let Some(t) = target else {
        return Outcome {
            response: run.await,
            fault: None,
            answered: true,
        };
    };
    let plan = store.faults().decide(&t.method, &t.path, t.app.as_deref());
    let mut out = match plan.fired {
        None => Outcome {
            response: run.await,
            fault: None,
            answered: true,
        },
        Some(f) => {
            let mut record = json!({ "id": f.id, "when": f.when.as_str() });
            let applied = match f.when {
                When::After if !matches!(f.action, Action::Delay(_)) => {
                    let r = run.await;
                    record["applied_status"] = r.status().as_u16().into();
                    // The handler's answer is dropped: the client loses it.
                    None
                }
                _ => Some(run),
            };
            match f.action {
                Action::Answer {
                    status,
                    body,
                    retry_after,
                    rate_limited,
                } => {
                    record["effect"] = if rate_limited { "rate_limit" } else { "status" }.into();
                    record["status"] = status.into();
                    if let Some(s) = retry_after {
                        record["retry_after"] = s.into();
                    }
                    drop(applied);
                    Outcome {
                        response: answer(status, body, retry_after),
                        fault: Some(record),
                        answered: true,
                    }
                }
                Action::Delay(d) => {
                    record["effect"] = "latency".into();
                    record["latency_ms"] = (d.as_millis() as u64).into();
                    let run = applied.expect("latency never pre-runs the request");
                    let response = if f.when == When::Before {
                        tokio::time::sleep(d).await;
                        run.await
                    } else {
                        let r = run.await;
                        tokio::time::sleep(d).await;
                        r
                    };
                    Outcome {
                        response,
                        fault: Some(record),
                        answered: true,
                    }
                }
                Action::Reset => {
                    record["effect"] = "reset".into();
                    drop(applied);
                    Outcome {
                        response: reset(),
                        fault: Some(record),
                        answered: false,
                    }
                }
            }
        }
    };
    for (name, value) in plan.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            out.response
                .headers_mut()
                .insert(HeaderName::from_static(name), v);
        }
    }
    out
}

fn answer(status: u16, body: Value, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut r = (status, axum::Json(body)).into_response();
    if let Some(s) = retry_after {
        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

/// A response that makes hyper drop the connection (see the module docs).
fn reset() -> Response {
    let failing = futures::stream::once(async {
        Err::<Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault injection: connection reset",
        ))
    });
    Response::new(Body::from_stream(failing))
}
