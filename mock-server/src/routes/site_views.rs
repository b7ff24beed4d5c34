//! `/site-views/`: a page view of a user, counted on the user (`page_views`, `last_seen`). A hot
//! path: the body is parsed outside the lock, then the app lock is taken once.

use axum::body::Bytes;
use axum::response::Response;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::http::{created_typed, json_fields, opt_str, req_str, timestamp, Authed};
use crate::time::fmt_ts;

/// The answer to a site view (keys in the order `json!` used to write them: sorted).
#[derive(Serialize)]
struct SiteViewCreated<'a> {
    client_user: &'a str,
    id: u64,
    page_domain: &'a str,
    page_path: &'a str,
    timestamp: String,
    title: Option<&'a str>,
}

/// `POST /site-views/`: `client_user` = user_key, `page_domain` = page URL, `page_path`, `title`,
/// `timestamp`.
pub(crate) async fn create(Authed(app): Authed, body: Bytes) -> Result<Response> {
    let body = json_fields(
        &body,
        [
            "client_user",
            "page_domain",
            "page_path",
            "title",
            "timestamp",
        ],
        None,
    )?;
    let key = req_str(&body, "client_user")?;
    let page_domain = opt_str(&body, "page_domain")?.unwrap_or("");
    let page_path = opt_str(&body, "page_path")?.unwrap_or("");
    let title = opt_str(&body, "title")?;
    let at = timestamp(&body)?;
    if !page_domain.is_empty() {
        app.check_trusted(page_domain, "from the page URL in page_domain")?;
    }
    let (id, at) = app.with(|d| {
        let uid = d
            .user_id_by_key(key)
            .ok_or_else(|| Error::bad("client_user", format!("no user with user_key `{key}`")))?;
        let at = at.unwrap_or_else(|| d.now());
        Ok::<_, Error>((
            d.record_site_view(uid, at, page_domain, page_path, title),
            at,
        ))
    })?;
    Ok(created_typed(&SiteViewCreated {
        client_user: key,
        id,
        page_domain,
        page_path,
        timestamp: fmt_ts(at),
        title,
    }))
}
