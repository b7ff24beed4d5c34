//! Request plumbing shared by the API routes ([`crate::routes`]) and the dashboard
//! ([`crate::dashboard`]): the pipeline every request goes through, extractors, body parsing and
//! answers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use percent_encoding::{utf8_percent_encode, AsciiSet, PercentEncode, NON_ALPHANUMERIC};
use serde_json::Value;

mod body;
mod extract;
mod fault_hook;
pub(crate) mod pipeline;

pub(crate) use body::{
    json_fields, json_object, opt_str, parse_id, req_str, timestamp, Fields, Pairs, Picked,
};
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

/// What stays as it is in a query value: RFC 3986's unreserved characters. Everything else,
/// including `&`, `=`, `/`, `+` and every non-ASCII byte, is percent-encoded.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encode a query value (pagination links, dashboard links), as UTF-8.
pub(crate) fn enc(s: &str) -> PercentEncode<'_> {
    utf8_percent_encode(s, QUERY_VALUE)
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_keep_only_unreserved_characters() {
        assert_eq!(
            super::enc("a b&c=d/é-_.~").to_string(),
            "a%20b%26c%3Dd%2F%C3%A9-_.~"
        );
    }
}
