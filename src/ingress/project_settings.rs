//! `GET /v1/projects/{writeKey}/settings`: the settings document Analytics.js 2.0 loads before it
//! sends anything.
//!
//! The browser SDK (`@segment/analytics-next`) fetches `{cdnURL}/v1/projects/{writeKey}/settings`
//! on `load` (`cdnURL` defaults to `https://cdn.segment.com`); the document's
//! `integrations["Segment.io"]` tells it where to send events: `{protocol}://{apiHost}/{letter}`
//! (`/i`, `/t`, `/p`, `/g`, `/a`, `/s`, and `/b` for batches), so `apiHost` carries the `/v1`.
//! Pointing `cdnURL` at the ingress is the one change a page needs: this answer points the SDK
//! back at the same ingress, under the host name the page used to reach it (`Host`, or
//! `X-Forwarded-Host`/`X-Forwarded-Proto` behind a reverse proxy, which is also how an
//! `https` page gets an `https` API host).
//!
//! What the document holds, and why each member:
//!
//! | member | value | why |
//! | --- | --- | --- |
//! | `integrations["Segment.io"]` | `apiKey` (the write key), `apiHost`, `protocol`, `addBundledMetadata`, `unbundledIntegrations: []`, `maybeBundledConfigIds: {}` | the only destination: the SDK loads no device-mode integrations (one key = Segment.io alone) |
//! | `metrics` | `{"sampleRate": 0}` | the SDK's own telemetry would otherwise go to `https://api.segment.io/v1/m` (its host is not taken from `apiHost`); `POST /v1/m` is still accepted and ignored |
//! | `remotePlugins`, `enabledMiddleware`, `middlewareSettings` | empty | nothing else to download |
//!
//! With `--write-key` set, another key gets `404` (Segment's CDN answers an unknown key with a 404
//! too, and the SDK then does not load).

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{constant_time_eq, AppState};

pub(super) async fn settings(
    State(state): State<AppState>,
    Path(write_key): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(expected) = &state.write_key {
        if !constant_time_eq(write_key.as_bytes(), expected.as_bytes()) {
            let body = json!({
                "code": "unknown_write_key",
                "message": "no settings for this write key (the ingress accepts one write key: --write-key)",
            });
            return (StatusCode::NOT_FOUND, Json(body)).into_response();
        }
    }
    let Some(host) = public_host(&headers) else {
        let body = json!({
            "code": "missing_host",
            "message": "the request has no usable Host header, so the settings cannot say where to send events",
        });
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    };
    let protocol = forwarded_proto(&headers).unwrap_or("http");
    let mut response = Json(document(&write_key, &host, protocol)).into_response();
    // The document depends on the host the page used; short caching keeps a page that moves
    // between ingresses (ports in tests, dev vs serve) from reading a stale one.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    response.headers_mut().append(
        header::VARY,
        HeaderValue::from_static("Host, X-Forwarded-Host, X-Forwarded-Proto"),
    );
    response
}

/// The settings document for `write_key`, sending events to `{protocol}://{host}/v1/...`.
pub(super) fn document(write_key: &str, host: &str, protocol: &str) -> Value {
    json!({
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": format!("{host}/v1"),
                "protocol": protocol,
                "addBundledMetadata": true,
                "unbundledIntegrations": [],
                "maybeBundledConfigIds": {},
            }
        },
        "metrics": {"sampleRate": 0},
        "remotePlugins": [],
        "enabledMiddleware": {},
        "middlewareSettings": {},
        "legacyVideoPluginsEnabled": false,
    })
}

/// `X-Forwarded-Host` (first value) or `Host`, when it looks like `host[:port]`.
fn public_host(headers: &HeaderMap) -> Option<String> {
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let host = first("x-forwarded-host").or_else(|| first(header::HOST.as_str()))?;
    let plausible = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'));
    plausible.then(|| host.to_string())
}

/// `X-Forwarded-Proto` when it is `http` or `https`.
fn forwarded_proto(headers: &HeaderMap) -> Option<&'static str> {
    let value = headers.get("x-forwarded-proto")?.to_str().ok()?;
    match value.split(',').next()?.trim() {
        p if p.eq_ignore_ascii_case("https") => Some("https"),
        p if p.eq_ignore_ascii_case("http") => Some("http"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_points_the_sdk_back_at_the_ingress() {
        let doc = document("wk", "127.0.0.1:4000", "http");
        let segment = &doc["integrations"]["Segment.io"];
        assert_eq!(segment["apiHost"], "127.0.0.1:4000/v1");
        assert_eq!(segment["protocol"], "http");
        assert_eq!(segment["apiKey"], "wk");
        assert_eq!(doc["integrations"].as_object().unwrap().len(), 1);
        assert_eq!(doc["metrics"]["sampleRate"], 0);
    }

    #[test]
    fn the_host_is_the_one_the_page_used() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("localhost:4000"));
        assert_eq!(public_host(&headers).as_deref(), Some("localhost:4000"));
        assert_eq!(forwarded_proto(&headers), None);
        headers.insert(
            "x-forwarded-host",
            HeaderValue::from_static("events.example.com, proxy.internal"),
        );
        headers.insert("x-forwarded-proto", HeaderValue::from_static("HTTPS"));
        assert_eq!(public_host(&headers).as_deref(), Some("events.example.com"));
        assert_eq!(forwarded_proto(&headers), Some("https"));
        headers.insert("x-forwarded-host", HeaderValue::from_static("a/b\"c"));
        assert_eq!(public_host(&headers), None);
    }
}
