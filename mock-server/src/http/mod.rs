//! Request plumbing shared by the API routes ([`crate::routes`]) and the dashboard
//! ([`crate::dashboard`]): the pipeline every request goes through, extractors, body parsing and
//! answers.

use std::fmt::Write as _;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

mod body;
mod extract;
mod fault_hook;
pub(crate) mod pipeline;

pub(crate) use body::{json_object, opt_str, parse_id, req_str, timestamp};
pub(crate) use extract::{Authed, Pager, Params, RequestCtx};

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

/// Percent-encode a query value (pagination links, dashboard links).
pub(crate) fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
