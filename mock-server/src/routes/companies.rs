//! `/companies/…` and `/companies-by-id/…`.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::{type_name, Error, Result};
use crate::http::{created, json_object, ok, parse_id, Authed, Pager, RequestCtx};
use crate::model::AppData;
use crate::store::App;

fn company_or_404(d: &AppData, id: u64) -> Result<Value> {
    d.company_json(id)
        .ok_or_else(|| Error::not_found(format!("no company with id {id}")))
}

fn id_by_cid(d: &AppData, cid: &str) -> Result<u64> {
    d.company_id_by_custom_id(cid)
        .ok_or_else(|| Error::not_found(format!("no company with custom_id `{cid}`")))
}

/// `GET /companies/` (paginated).
pub(crate) async fn list(Authed(app): Authed, pager: Pager) -> Result<Response> {
    app.with(|d| {
        let ids: Vec<u64> = d.company_ids().collect();
        pager.envelope(ids.len(), |start, n| {
            ids.iter()
                .skip(start)
                .take(n)
                .filter_map(|&id| d.company_json(id))
                .collect()
        })
    })
    .map(ok)
}

/// `POST /companies/` → 201.
pub(crate) async fn create(Authed(app): Authed, ctx: RequestCtx, body: Bytes) -> Result<Response> {
    let body = json_object(&body)?;
    let mut notes = vec![];
    let r = app.with(|d| {
        let id = d.create_company(&body, &mut notes)?;
        company_or_404(d, id)
    });
    ctx.note(notes);
    r.map(created)
}

fn put(
    app: &App,
    ctx: &RequestCtx,
    id: impl FnOnce(&AppData) -> Result<u64>,
    body: &Bytes,
) -> Result<Response> {
    let body = json_object(body)?;
    let mut notes = vec![];
    let r = app.with(|d| {
        let id = id(d)?;
        d.update_company(id, &body, &mut notes)?;
        company_or_404(d, id)
    });
    ctx.note(notes);
    r.map(ok)
}

/// `GET /companies/{id}/`.
pub(crate) async fn get_by_id(Authed(app): Authed, Path(id): Path<String>) -> Result<Response> {
    let id = parse_id(&id, "company")?;
    app.with(|d| company_or_404(d, id)).map(ok)
}

/// `PUT /companies/{id}/`.
pub(crate) async fn put_by_id(
    Authed(app): Authed,
    ctx: RequestCtx,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let id = parse_id(&id, "company")?;
    put(&app, &ctx, |_| Ok(id), &body)
}

/// `DELETE /companies/{id}/` → 204.
pub(crate) async fn delete_by_id(Authed(app): Authed, Path(id): Path<String>) -> Result<Response> {
    let id = parse_id(&id, "company")?;
    app.with(|d| d.delete_company(id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /companies-by-id/{custom_id}/`.
pub(crate) async fn get_by_cid(Authed(app): Authed, Path(cid): Path<String>) -> Result<Response> {
    app.with(|d| company_or_404(d, id_by_cid(d, &cid)?)).map(ok)
}

/// `PUT /companies-by-id/{custom_id}/`.
pub(crate) async fn put_by_cid(
    Authed(app): Authed,
    ctx: RequestCtx,
    Path(cid): Path<String>,
    body: Bytes,
) -> Result<Response> {
    put(&app, &ctx, |d| id_by_cid(d, &cid), &body)
}

/// `DELETE /companies-by-id/{custom_id}/` → 204.
pub(crate) async fn delete_by_cid(
    Authed(app): Authed,
    Path(cid): Path<String>,
) -> Result<Response> {
    app.with(|d| d.delete_company(id_by_cid(d, &cid)?))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn membership(app: &App, id: &str, body: &Bytes, member: bool) -> Result<Response> {
    let company = parse_id(id, "company")?;
    let body = json_object(body)?;
    let by_id = match body.get("user_id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| {
            Error::bad(
                "user_id",
                format!("expected an integer, got {}", type_name(v)),
            )
        })?),
    };
    let by_cid = match body.get("user_custom_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => {
            return Err(Error::bad(
                "user_custom_id",
                format!("expected a string, got {}", type_name(v)),
            ))
        }
    };
    app.with(|d| {
        let uid = match (by_id, &by_cid) {
            (Some(uid), _) => uid,
            (None, Some(cid)) => d.user_id_by_custom_id(cid).ok_or_else(|| {
                Error::bad("user_custom_id", format!("no user with custom_id `{cid}`"))
            })?,
            (None, None) => {
                return Err(Error::bad("user_id", "give `user_id` or `user_custom_id`"))
            }
        };
        d.set_membership(company, uid, member)?;
        company_or_404(d, company)
    })
    .map(ok)
}

/// `POST /companies/{id}/add_member/` (idempotent) → the company.
pub(crate) async fn add_member(
    Authed(app): Authed,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response> {
    membership(&app, &id, &body, true)
}

/// `POST /companies/{id}/remove_member/` (idempotent) → the company.
pub(crate) async fn remove_member(
    Authed(app): Authed,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response> {
    membership(&app, &id, &body, false)
}
