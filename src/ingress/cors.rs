//! CORS, so that Analytics.js 2.0 in a browser can post to the ingress from a page's origin.
//!
//! What the browser SDK needs (read from @segment/analytics-next 1.84.3 and checked in chromium
//! by `tests/forwarder/browser_sdk.rs`):
//!
//! | request | what the browser does | what the ingress answers |
//! | --- | --- | --- |
//! | `GET /v1/projects/{key}/settings` | a simple request | the document, with `Access-Control-Allow-Origin` |
//! | `POST /v1/i`, `/v1/t`, ... `/v1/b` | `Authorization: Basic` (and `X-Retry-Count` on retries) make it non-simple: an `OPTIONS` preflight first | preflight `204` with `Allow-Methods`, `Allow-Headers` (the headers asked for, named one by one: a `*` would not cover `Authorization`) and `Max-Age` |
//! | the same on page unload (`keepalive: true`) | preflighted like any other | the same |
//! | a `429` with `Retry-After` | reads `Retry-After`, which a cross-origin script sees only when exposed | `Access-Control-Expose-Headers: Retry-After, X-RateLimit-Reset` |
//!
//! The SDK never sends cookies (its fetches keep the default `credentials: "same-origin"`), so
//! `Access-Control-Allow-Credentials` is never sent and `*` is a valid answer.
//!
//! The policy ([`Cors`], `--cors-origins`): any origin by default, as Segment's own API does (a
//! write key is public: every page that loads the SDK shows it), or a list of origins, echoed
//! back with `Vary: Origin`. A request carrying an `Origin` that is not on the list is refused
//! with `403 {"code": "origin_not_allowed"}` before its body is read, preflight or not: a
//! browser sends `Origin` on every cross-origin request, so a page elsewhere cannot get events
//! in. Clients that are not browsers send no `Origin` and are not affected.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Which page origins may call the ingress from a browser.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Cors {
    /// Any origin (`Access-Control-Allow-Origin: *`). The default.
    #[default]
    AnyOrigin,
    /// Only these origins (`scheme://host[:port]`, lower-case, no trailing slash).
    Origins(Arc<[String]>),
}

/// Headers allowed when a preflight does not say which it wants: the ones the SDK sends.
const DEFAULT_ALLOW_HEADERS: &str = "authorization, content-type, content-encoding, x-retry-count";

/// How long a browser may cache a preflight answer (Chromium caps it at 2 hours).
const MAX_AGE_SECONDS: &str = "86400";

impl Cors {
    /// Parses `--cors-origins`: `*` (any origin), or origins separated by commas or spaces,
    /// e.g. `https://shop.example.com,http://localhost:3000`.
    pub fn parse(text: &str) -> Result<Cors, String> {
        let items: Vec<&str> = text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .collect();
        if items.is_empty() {
            return Err(
                "no origin given: use * for any origin, or e.g. https://shop.example.com".into(),
            );
        }
        if items.contains(&"*") {
            return if items.len() == 1 {
                Ok(Cors::AnyOrigin)
            } else {
                Err("* (any origin) cannot be combined with a list of origins".into())
            };
        }
        let origins = items
            .into_iter()
            .map(normalize_origin)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Cors::Origins(origins.into()))
    }

    fn allows(&self, origin: &str) -> bool {
        match self {
            Cors::AnyOrigin => true,
            Cors::Origins(list) => {
                let origin = origin.trim_end_matches('/').to_ascii_lowercase();
                list.contains(&origin)
            }
        }
    }

    /// Sets `Access-Control-Allow-Origin` (and `Vary`) for a request from an allowed `origin`.
    fn allow_origin(&self, origin: &HeaderValue, headers: &mut HeaderMap) {
        match self {
            Cors::AnyOrigin => {
                headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            }
            Cors::Origins(_) => {
                headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                headers.append(VARY, HeaderValue::from_static("Origin"));
            }
        }
    }
}

impl std::fmt::Display for Cors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cors::AnyOrigin => f.write_str("*"),
            Cors::Origins(list) => f.write_str(&list.join(",")),
        }
    }
}

/// `scheme://host[:port]`, lower-cased, without a trailing slash; a path is refused (an
/// `Origin` header never has one, so such an entry could never match).
fn normalize_origin(text: &str) -> Result<String, String> {
    let origin = text.trim_end_matches('/').to_ascii_lowercase();
    let Some((scheme, rest)) = origin.split_once("://") else {
        return Err(format!(
            "{text:?} is not an origin: expected scheme://host[:port], e.g. https://shop.example.com"
        ));
    };
    if scheme.is_empty() || rest.is_empty() || rest.contains(['/', '?', '#']) {
        return Err(format!(
            "{text:?} is not an origin: expected scheme://host[:port] without a path"
        ));
    }
    Ok(origin)
}

/// The middleware: answers preflights, refuses origins not allowed, adds the CORS headers to
/// every other answer to a request that carries an `Origin`.
pub(super) async fn handle(State(cors): State<Cors>, request: Request, next: Next) -> Response {
    let Some(origin) = request.headers().get(ORIGIN).cloned() else {
        return next.run(request).await;
    };
    if !origin.to_str().is_ok_and(|o| cors.allows(o)) {
        let body = json!({
            "code": "origin_not_allowed",
            "message": format!(
                "requests from the origin {} are not allowed: add it to --cors-origins (USERCOM_CORS_ORIGINS)",
                String::from_utf8_lossy(origin.as_bytes())
            ),
        });
        return (StatusCode::FORBIDDEN, Json(body)).into_response();
    }
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        return preflight_answer(&cors, &origin, request.headers());
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    cors.allow_origin(&origin, headers);
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Retry-After, X-RateLimit-Reset"),
    );
    response
}

fn preflight_answer(cors: &Cors, origin: &HeaderValue, request: &HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    cors.allow_origin(origin, headers);
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    // Whatever the page wants to send is fine (the ingress reads only the ones it knows); named
    // one by one because `*` does not cover `Authorization`.
    let asked = request
        .get(ACCESS_CONTROL_REQUEST_HEADERS)
        .filter(|v| !v.as_bytes().trim_ascii().is_empty())
        .cloned()
        .unwrap_or(HeaderValue::from_static(DEFAULT_ALLOW_HEADERS));
    headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, asked);
    headers.insert(
        ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE_SECONDS),
    );
    // Chromium's Private Network Access: a public page calling an ingress on a private
    // address asks first, and needs this answer.
    if request
        .get("access-control-request-private-network")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"))
    {
        headers.insert(
            "access-control-allow-private-network",
            HeaderValue::from_static("true"),
        );
    }
    headers.append(
        VARY,
        HeaderValue::from_static("Access-Control-Request-Method, Access-Control-Request-Headers"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_any_or_a_list() {
        assert_eq!(Cors::parse("*").unwrap(), Cors::AnyOrigin);
        assert_eq!(Cors::parse(" * ").unwrap(), Cors::AnyOrigin);
        let list = Cors::parse("https://Shop.example.com/, http://127.0.0.1:8080").unwrap();
        assert_eq!(
            list,
            Cors::Origins(
                vec![
                    "https://shop.example.com".to_string(),
                    "http://127.0.0.1:8080".to_string()
                ]
                .into()
            )
        );
        assert_eq!(
            list.to_string(),
            "https://shop.example.com,http://127.0.0.1:8080"
        );
        assert!(list.allows("https://shop.example.com"));
        assert!(list.allows("HTTPS://SHOP.EXAMPLE.COM"));
        assert!(!list.allows("https://shop.example.com:8443"));
        assert!(!list.allows("null"));
        assert!(Cors::AnyOrigin.allows("null"));
    }

    #[test]
    fn refuses_what_is_not_an_origin() {
        for bad in [
            "",
            " , ",
            "shop.example.com",
            "https://shop.example.com/app",
            "*,https://a.b",
        ] {
            assert!(Cors::parse(bad).is_err(), "{bad:?}");
        }
    }
}
