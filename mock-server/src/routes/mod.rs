//! The HTTP surface: `router(store)` and the request pipeline every request goes through.
//!
//! Pipeline (outermost first), one middleware function so the order is explicit:
//! 1. read the body with a 1 MiB limit (413 JSON beyond it);
//! 2. *(hook)* fault injection will slot in here: it sees method, path and the resolved app, and
//!    can answer before the handler runs or alter the response after it;
//! 3. run the router inside a catch-panic guard (a panic becomes a 500 JSON, the last defence: no
//!    code path is expected to panic);
//! 4. turn any non-JSON error response (axum's own 404/405/rejections) into JSON;
//! 5. record the request in the journal (admin-plane requests are not recorded).
//!
//! The `routes/` files mirror the User.com endpoints.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures::{FutureExt, StreamExt};
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::journal::Entry;
use crate::model::type_name;
use crate::store::{lock, App, AuthFailure, Store};

mod admin;
mod attributes;
mod companies;
mod events;
mod users;

/// Request bodies larger than this get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Page size of list endpoints (User.com: "up to 100 results per page").
pub const PAGE_SIZE: usize = 100;

/// The whole HTTP surface (REST API + admin plane + pipeline) over `store`, for serving on a
/// listener or calling in process.
pub fn router(store: Store) -> Router {
    with_pipeline(routes(), store)
}

/// Registers API routes under `/api/public` with their full path rather than `nest`ing a router:
/// one routing level less per request (no prefix stripping, one service clone and one boxed
/// future fewer: ~9% of the instructions of an event request). Paths stay written relative, as
/// the User.com docs write them.
struct ApiRoutes(Router<Store>);

impl ApiRoutes {
    fn route(self, path: &str, method_router: axum::routing::MethodRouter<Store>) -> Self {
        ApiRoutes(self.0.route(&format!("/api/public{path}"), method_router))
    }
}

fn routes() -> Router<Store> {
    ApiRoutes(Router::new())
        .route("/users/", get(users::list).post(users::create))
        .route("/users/search/", get(users::search))
        .route("/users/update_or_create/", post(users::update_or_create))
        .route(
            "/users/{id}/",
            get(users::get_by_id)
                .put(users::put_by_id)
                .delete(users::delete_by_id),
        )
        .route(
            "/users/{id}/set_multiple_attributes/",
            post(users::put_by_id),
        )
        .route("/users/{id}/events/", get(events::list_by_id))
        .route(
            "/users-by-id/{cid}/",
            get(users::get_by_cid)
                .put(users::put_by_cid)
                .delete(users::delete_by_cid),
        )
        .route(
            "/users-by-id/{cid}/set_multiple_attributes/",
            post(users::put_by_cid),
        )
        .route(
            "/users-by-id/{cid}/events/",
            get(events::list_by_cid).post(events::create_by_cid),
        )
        .route("/events/", post(events::create))
        .route("/site-views/", post(events::site_view))
        .route("/companies/", get(companies::list).post(companies::create))
        .route(
            "/companies/{id}/",
            get(companies::get_by_id)
                .put(companies::put_by_id)
                .delete(companies::delete_by_id),
        )
        .route("/companies/{id}/add_member/", post(companies::add_member))
        .route(
            "/companies/{id}/remove_member/",
            post(companies::remove_member),
        )
        .route(
            "/companies-by-id/{cid}/",
            get(companies::get_by_cid)
                .put(companies::put_by_cid)
                .delete(companies::delete_by_cid),
        )
        .route(
            "/attributes/",
            get(attributes::list).post(attributes::create),
        )
        .0
        .nest("/__admin", admin::routes())
        .merge(crate::dashboard::routes())
        .merge(crate::openapi::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

pub(crate) fn with_pipeline(routes: Router<Store>, store: Store) -> Router {
    routes
        .layer(axum::middleware::from_fn_with_state(
            store.clone(),
            pipeline,
        ))
        .with_state(store)
}

async fn not_found(req: Request) -> Error {
    let path = req.uri().path();
    let hint = if path.starts_with("/api/public/") && !path.ends_with('/') {
        format!("; User.com paths end with a slash: did you mean {path}/ ?")
    } else {
        String::new()
    };
    Error::not_found(format!("no route for {} {path}{hint}", req.method()))
}

async fn method_not_allowed(req: Request) -> Error {
    Error::MethodNotAllowed(format!(
        "method {} is not allowed on {}",
        req.method(),
        req.uri().path()
    ))
}

/// Per-request context shared between the pipeline and the handlers: which app the key resolved
/// to, and the notes the handler wants journaled.
#[derive(Clone, Default)]
pub(crate) struct RequestCtx(Arc<Mutex<CtxInner>>);

#[derive(Default)]
struct CtxInner {
    app: Option<Arc<str>>,
    notes: Vec<String>,
}

impl RequestCtx {
    pub(crate) fn set_app(&self, app: &Arc<str>) {
        lock(&self.0).app = Some(app.clone());
    }
    /// Append journal notes.
    pub(crate) fn note(&self, notes: Vec<String>) {
        if !notes.is_empty() {
            lock(&self.0).notes.extend(notes);
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestCtx {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        _: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestCtx>()
            .cloned()
            .unwrap_or_default())
    }
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
    // Admin token (issue 5), for the admin plane and the dashboard page (which shows every app's
    // data): checked before the body is read; the 401 never echoes what was sent.
    if !journaled {
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
    let log_uri = tracing::enabled!(tracing::Level::DEBUG).then(|| parts.uri.clone());
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
            // Fault injection (issue 5, `crate::faults`): without an armed rule `target` is one
            // atomic load and `around` just runs the request.
            let target = if journaled {
                crate::faults::http::target(&store, &parts)
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
                        tracing::error!("handler panicked: {what}");
                        Error::Internal(what).into_response()
                    }
                };
                jsonify_error(response).await
            };
            let outcome = crate::faults::http::around(&store, target, run).await;
            (fault, answered) = (outcome.fault, outcome.answered);
            outcome.response
        }
    };
    // The path is masked where it carries a key (`/__admin/api-keys/{key}/revoke`).
    // One line per request: method, path, status, latency and app; never a header or a body.
    if let Some(uri) = &log_uri {
        let app = lock(&ctx.0).app.clone();
        tracing::debug!(
            method = %method,
            path = %crate::security::loggable_path(uri.path()),
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            app = %app.as_deref().unwrap_or("-"),
            "request"
        );
    }
    if let Some(mut entry) = entry.take() {
        let inner = std::mem::take(&mut *lock(&ctx.0));
        entry.app = inner.app;
        entry.notes = inner.notes;
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

/// The app an `Authorization: Token <key>` header resolves to. Also enforces trusted domains for
/// the `Origin` header.
pub(crate) struct Authed(pub Arc<App>);

impl FromRequestParts<Store> for Authed {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, store: &Store) -> Result<Self> {
        let ctx = parts
            .extensions
            .get::<RequestCtx>()
            .cloned()
            .unwrap_or_default();
        let Some(header) = parts.headers.get(AUTHORIZATION) else {
            return Err(Error::Unauthorized(
                "Authentication credentials were not provided.".into(),
            ));
        };
        let header = header.to_str().map_err(|_| {
            Error::Unauthorized(
                "Invalid token header. Token string should not contain invalid characters.".into(),
            )
        })?;
        let mut words = header.split_whitespace();
        let key = match (words.next(), words.next(), words.next()) {
            (Some(scheme), Some(key), None) if scheme.eq_ignore_ascii_case("token") => key,
            (Some(scheme), None, _) if scheme.eq_ignore_ascii_case("token") => {
                return Err(Error::Unauthorized(
                    "Invalid token header. No credentials provided.".into(),
                ))
            }
            (Some(scheme), Some(_), Some(_)) if scheme.eq_ignore_ascii_case("token") => {
                return Err(Error::Unauthorized(
                    "Invalid token header. Token string should not contain spaces.".into(),
                ))
            }
            _ => {
                return Err(Error::Unauthorized(
                    "Invalid authorization header: expected `Authorization: Token <api key>`."
                        .into(),
                ))
            }
        };
        let app = match store.authenticate(key) {
            Ok(app) => app,
            Err(AuthFailure::Unknown) => return Err(Error::Unauthorized("Invalid token.".into())),
            Err(AuthFailure::Revoked(app)) => {
                // Journaled under the key's app, so `?app=NAME` shows the refused request.
                ctx.set_app(&app.name);
                return Err(Error::Forbidden(
                    "API key revoked: check App settings > Advanced > Segment API keys".into(),
                ));
            }
        };
        ctx.set_app(&app.name);
        if let Some(origin) = parts.headers.get(ORIGIN) {
            let origin = String::from_utf8_lossy(origin.as_bytes());
            app.check_trusted(&origin, "from the Origin header")?;
        }
        Ok(Authed(app))
    }
}

/// The request body as a JSON object (an empty body is an empty object).
pub(crate) fn json_object(bytes: &Bytes) -> Result<Map<String, Value>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(Error::bad(
            "body",
            format!("expected a JSON object, got {}", type_name(&other)),
        )),
        Err(e) => Err(Error::bad("body", format!("malformed JSON: {e}"))),
    }
}

/// A path id that must be an integer; anything else cannot name a resource (404).
pub(crate) fn parse_id(raw: &str, what: &str) -> Result<u64> {
    raw.parse::<u64>()
        .map_err(|_| Error::not_found(format!("no {what} with id `{raw}`")))
}

/// Query-string parameters, with a JSON 400 on malformed input.
pub(crate) struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Error;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .map(|q| Params(q.0))
            .map_err(|e| Error::bad("query", e.body_text()))
    }
}

/// `?page=N` plus what is needed to build absolute `next`/`previous` links.
pub(crate) struct Pager {
    page: usize,
    base: String,
    params: HashMap<String, String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Pager {
    type Rejection = Error;
    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self> {
        let Params(params) = Params::from_request_parts(parts, s).await?;
        let page = match params.get("page") {
            None => 1,
            Some(p) => p
                .parse::<usize>()
                .ok()
                .filter(|&p| p >= 1)
                .ok_or_else(|| Error::not_found("Invalid page."))?,
        };
        let host = parts
            .headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        Ok(Pager {
            page,
            base: format!("http://{host}{}", parts.uri.path()),
            params,
        })
    }
}

impl Pager {
    /// A query parameter of the list request.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// DRF-style envelope `{count, next, previous, results}` for `total` items, rendering only
    /// the items on this page.
    pub(crate) fn envelope(
        &self,
        total: usize,
        render: impl FnOnce(usize, usize) -> Vec<Value>,
    ) -> Result<Value> {
        let pages = total.div_ceil(PAGE_SIZE).max(1);
        if self.page > pages {
            return Err(Error::not_found("Invalid page."));
        }
        let start = (self.page - 1) * PAGE_SIZE;
        let link = |p: usize| -> Value {
            let mut q: Vec<(String, String)> = self
                .params
                .iter()
                .filter(|(k, _)| k.as_str() != "page")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            q.sort();
            q.push(("page".into(), p.to_string()));
            let qs: Vec<String> = q
                .iter()
                .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
                .collect();
            Value::String(format!("{}?{}", self.base, qs.join("&")))
        };
        Ok(json!({
            "count": total,
            "next": if self.page < pages { link(self.page + 1) } else { Value::Null },
            "previous": if self.page > 1 { link(self.page - 1) } else { Value::Null },
            "results": render(start, PAGE_SIZE),
        }))
    }
}

/// Minimal percent-encoding for query values in pagination links.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// 200 with a JSON body.
pub(crate) fn ok(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

/// 201 with a JSON body.
pub(crate) fn created(v: Value) -> Response {
    (StatusCode::CREATED, axum::Json(v)).into_response()
}

/// 201 with any serialisable body (a struct: no intermediate `Value` map on hot paths).
pub(crate) fn created_typed<T: serde::Serialize>(v: &T) -> Response {
    (StatusCode::CREATED, axum::Json(v)).into_response()
}

/// An optional string field of a body.
pub(crate) fn opt_str<'a>(body: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(Error::bad(
            field,
            format!("expected a string, got {}", type_name(other)),
        )),
    }
}

/// A required, non-empty string field of a body.
pub(crate) fn req_str<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a str> {
    match opt_str(body, field)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(Error::bad(field, "must not be empty")),
        None => Err(Error::bad(field, "this field is required")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_becomes_a_json_500_and_the_server_keeps_going() {
        let store = Store::new(&["k".into()], 10, None).unwrap();
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

    #[tokio::test]
    async fn router_works_in_process() {
        let store = Store::new(&["k".into()], 10, None).unwrap();
        let r = router(store)
            .oneshot(
                Request::post("/api/public/users/")
                    .header("authorization", "Token k")
                    .body(Body::from(r#"{"custom_id":"a"}"#))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
}
