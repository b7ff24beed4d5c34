//! The live web dashboard served at `GET /`.
//!
//! It is a *view* of the admin plane, not new logic: every figure on the page comes from the same
//! JSON the admin plane answers (`/__admin/state`, `/__admin/requests`, `/__admin/apps`,
//! `/__admin/clock`), rendered to plain HTML on the server. Navigation is ordinary links and a GET
//! form (`?app=`, `?q=`, `?user=ID`, `?company=ID`, `?event=NAME`, `?journal=N`), so the page works
//! without JavaScript. A small script (`app.js`, embedded with `include_str!`, no build step and
//! no external URL) polls `GET /__admin/dashboard/fragment?…` every second with `If-None-Match`
//! and swaps `<main>` only when its content changed, keeping focus; it also shows the active
//! fault-injection rules from `GET /__admin/faults` when that endpoint exists.
//!
//! Secrets: the page never shows API keys. The app list shows key *counts*, the journal's
//! `Authorization` header is already redacted by [`crate::journal`], and the page does not render
//! request headers at all.
//!
//! Layout: this file routes and caches (ETags); [`query`] parses what the URL asks for, [`data`]
//! loads it from the admin plane, [`page`] is the HTML shell around `<main>`, [`views`] renders
//! `<main>` (one file per view) with the helpers of [`html`]. All markup is written as `maud`
//! templates, which escape every interpolated value: client-controlled data (attribute names and
//! values, paths, event names, app names) cannot become markup by a forgotten call.

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::{Error, Result};
use crate::http::Params;
use crate::rng::fnv1a;
use crate::store::Store;

mod data;
mod html;
mod page;
mod query;
mod views;

use query::ViewQuery;

const APP_JS: &str = include_str!("app.js");
const STYLE_CSS: &str = include_str!("style.css");

/// Default and maximum number of journal entries shown (newest first).
pub(crate) const JOURNAL_DEFAULT: usize = 50;
pub(crate) const JOURNAL_MAX: usize = 2000;
/// Rows shown in the users and companies tables before "refine your search".
pub(crate) const TABLE_MAX: usize = 500;

/// `GET /` (the page), `GET /__admin/dashboard/fragment` (its `<main>`, for live updates) and the
/// two embedded assets.
pub(crate) fn routes() -> Router<Store> {
    Router::new()
        .route("/", get(page))
        .route("/__admin/dashboard/fragment", get(fragment))
        .route(
            "/__admin/dashboard/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/__admin/dashboard/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")],
        body,
    )
        .into_response()
}

/// `GET /`: the whole page. With an admin token (`--admin-token`) it is guarded like the admin
/// plane it shows (the pipeline guards `/__admin/…`, so the fragment and assets already are).
async fn page(
    State(store): State<Store>,
    Params(p): Params,
    headers: HeaderMap,
) -> Result<Response> {
    if let Err(denied) =
        crate::security::check_admin_token(store.admin_token().as_deref(), &headers)
    {
        return Ok(denied);
    }
    let view = ViewQuery::parse(&p)?;
    let main = views::render_main(&store, &view)?;
    let html = page::render_page(&store, &view, main).into_string();
    Ok((
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response())
}

/// `GET /__admin/dashboard/fragment?…`: the inner HTML of `<main>` for the same query, with an
/// `ETag`; `If-None-Match` with the current tag answers 304, so an idle page costs one small
/// request a second.
async fn fragment(
    State(store): State<Store>,
    Params(p): Params,
    headers: HeaderMap,
) -> Result<Response> {
    let view = ViewQuery::parse(&p)?;
    let main = views::render_main(&store, &view)?.into_string();
    let tag = format!("\"{:016x}\"", fnv1a(etag_basis(&main).as_bytes()));
    let etag = HeaderValue::from_str(&tag).map_err(|e| Error::Internal(e.to_string()))?;
    if headers
        .get(IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == tag.as_bytes())
    {
        return Ok((StatusCode::NOT_MODIFIED, [(ETAG, etag)]).into_response());
    }
    Ok((
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (ETAG, etag),
        ],
        main,
    )
        .into_response())
}

/// The content an ETag covers: `<main>` without the value of a *running* clock (the browser ticks
/// it), so the tag changes only when data, the clock's mode or its offset changes.
fn etag_basis(main: &str) -> std::borrow::Cow<'_, str> {
    let marker = r#"data-field="clock" data-running="">"#;
    let Some(at) = main.find(marker) else {
        return main.into();
    };
    let Some(start) = main[..at].rfind("<time datetime=\"") else {
        return main.into();
    };
    let end = main[at..].find("</time>").map_or(main.len(), |e| at + e);
    format!("{}{}", &main[..start], &main[end..]).into()
}
