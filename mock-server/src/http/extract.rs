//! Extractors shared by the API routes and the dashboard: the per-request context, the API key's
//! app ([`Authed`]), query parameters and pagination.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{FromRequestParts, Query};
use axum::http::header::{ACCEPT, AUTHORIZATION, HOST, ORIGIN};
use axum::http::request::Parts;
use serde_json::{json, Value};

use super::enc;
use crate::error::{Error, Result};
use crate::store::{App, AuthFailure, Store};
use crate::sync::lock;

/// Page size of list endpoints (User.com: "up to 100 results per page").
pub const PAGE_SIZE: usize = 100;

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
    /// The app the request's key resolved to, if any.
    pub(crate) fn app(&self) -> Option<Arc<str>> {
        lock(&self.0).app.clone()
    }
    /// The app and the notes, for the journal entry (leaves the context empty).
    pub(crate) fn take(&self) -> (Option<Arc<str>>, Vec<String>) {
        let inner = std::mem::take(&mut *lock(&self.0));
        (inner.app, inner.notes)
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
        if app.strict() {
            check_v2_accept(parts.headers.get(ACCEPT).map(|v| v.as_bytes()))?;
        }
        Ok(Authed(app))
    }
}

/// Strict mode: the request must ask for the v2 dialect with `Accept: */*; version=2`
/// (usercom-api.md §1.3, DOC-basic). Without it User.com answers in the v1 dialect, whose shapes
/// differ; the simulator serves only v2, so it refuses the request with a 400 naming `Accept`
/// rather than answer shapes the real API would not send.
fn check_v2_accept(header: Option<&[u8]>) -> Result<()> {
    let got = match header {
        None => "no Accept header".to_owned(),
        Some(h) if accepts_v2(&String::from_utf8_lossy(h)) => return Ok(()),
        Some(h) => format!("`Accept: {}`", String::from_utf8_lossy(h)),
    };
    Err(Error::bad(
        "Accept",
        format!(
            "strict mode: User.com's REST API answers in the v2 dialect only with `Accept: */*; version=2`; got {got}"
        ),
    ))
}

/// Whether an `Accept` value asks for v2: one of its media ranges is `*/*` with the parameter
/// `version=2`. Parsed leniently (usercom-api.md §1.3: `*/*;version=2` and `' */*; version=2'`
/// are both sent by real clients): whitespace anywhere between the parts, parameter names in any
/// case, the value optionally quoted, other parameters (`q=`) ignored.
pub(crate) fn accepts_v2(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        media == "*/*"
            && parts.any(|p| match p.split_once('=') {
                Some((k, v)) => {
                    k.trim().eq_ignore_ascii_case("version")
                        && v.trim().trim_matches('"').trim() == "2"
                }
                None => false,
            })
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_v2_is_parsed_leniently() {
        for ok in [
            "*/*; version=2",
            "*/*;version=2",
            " */*; version=2",
            "*/*  ;  version = 2 ",
            "*/*; VERSION=\"2\"",
            "*/*; q=0.9; version=2",
            "application/json, */*; version=2",
        ] {
            assert!(accepts_v2(ok), "{ok:?}");
        }
        for bad in [
            "",
            "*/*",
            "application/json",
            "application/json; version=2",
            "*/*; version=1",
            "*/*; version=20",
            "*/*; versions=2",
            "*/*, version=2",
            "text/*; version=2",
        ] {
            assert!(!accepts_v2(bad), "{bad:?}");
        }
        assert!(check_v2_accept(None)
            .unwrap_err()
            .to_string()
            .starts_with("Accept: strict mode"));
    }
}
