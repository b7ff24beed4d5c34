//! `/users/…` and `/users-by-id/…`.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::http::{created, json_object, ok, parse_id, Authed, Pager, Params, RequestCtx};
use crate::model::AppData;
use crate::store::App;

/// A user body may carry `current_url`: its host must be trusted (destination doc, 403).
fn check_current_url(app: &App, body: &Map<String, Value>) -> Result<()> {
    if let Some(Value::String(url)) = body.get("current_url") {
        app.check_trusted(url, "from current_url")?;
    }
    Ok(())
}

fn user_or_404(d: &AppData, id: u64) -> Result<Value> {
    d.user_json(id)
        .ok_or_else(|| Error::not_found(format!("no user with id {id}")))
}

fn id_by_cid(d: &AppData, cid: &str) -> Result<u64> {
    d.user_id_by_custom_id(cid)
        .ok_or_else(|| Error::not_found(format!("no user with custom_id `{cid}`")))
}

/// `GET /users/` (paginated).
pub(crate) async fn list(Authed(app): Authed, pager: Pager) -> Result<Response> {
    app.with(|d| {
        let ids: Vec<u64> = d.user_ids().collect();
        pager.envelope(ids.len(), |start, n| {
            ids.iter()
                .skip(start)
                .take(n)
                .filter_map(|&id| d.user_json(id))
                .collect()
        })
    })
    .map(ok)
}

/// `POST /users/` → 201 with the user.
pub(crate) async fn create(Authed(app): Authed, ctx: RequestCtx, body: Bytes) -> Result<Response> {
    let body = json_object(&body)?;
    check_current_url(&app, &body)?;
    let mut notes = vec![];
    let r = app.with(|d| {
        let id = d.create_user(&body, &mut notes)?;
        user_or_404(d, id)
    });
    ctx.note(notes);
    r.map(created)
}

/// `GET /users/search/?key=|email=[&many=true]|phone_number=`.
pub(crate) async fn search(Authed(app): Authed, Params(q): Params) -> Result<Response> {
    let many = q
        .get("many")
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    app.with(|d| {
        if let Some(key) = q.get("key") {
            let id = d
                .user_id_by_key(key)
                .ok_or_else(|| Error::not_found(format!("no user with user_key `{key}`")))?;
            return user_or_404(d, id).map(ok);
        }
        if let Some(email) = q.get("email") {
            let ids = d.user_ids_by_email(email);
            if ids.is_empty() {
                return Err(Error::not_found(format!("no user with email `{email}`")));
            }
            if many {
                return Ok(ok(ids
                    .iter()
                    .filter_map(|&id| d.user_json(id))
                    .collect::<Vec<_>>()
                    .into()));
            }
            return user_or_404(d, ids[0]).map(ok);
        }
        if let Some(phone) = q.get("phone_number") {
            // GUESS (usercom-api.md §2.3): a paginated envelope, which RudderStack expects.
            let results: Vec<Value> = d
                .user_ids()
                .filter(|&id| {
                    d.user(id)
                        .and_then(|u| u.fields.get("phone_number"))
                        .and_then(Value::as_str)
                        == Some(phone.as_str())
                })
                .filter_map(|id| d.user_json(id))
                .collect();
            if results.is_empty() {
                return Err(Error::not_found(format!(
                    "no user with phone_number `{phone}`"
                )));
            }
            return Ok(ok(
                json!({"count": results.len(), "next": null, "previous": null, "results": results}),
            ));
        }
        Err(Error::bad(
            "key",
            "give one of the query parameters `key`, `email` or `phone_number`",
        ))
    })
}

/// `POST /users/update_or_create/` → `{"created", "id"}` (201 when created, else 200).
pub(crate) async fn update_or_create(
    Authed(app): Authed,
    ctx: RequestCtx,
    body: Bytes,
) -> Result<Response> {
    let body = json_object(&body)?;
    check_current_url(&app, &body)?;
    let mut notes = vec![];
    let r = app.with(|d| d.update_or_create(&body, &mut notes));
    ctx.note(notes);
    let (was_created, id) = r?;
    let status = if was_created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        axum::Json(json!({"created": was_created, "id": id})),
    )
        .into_response())
}

fn get_user(app: &App, id: u64) -> Result<Response> {
    app.with(|d| user_or_404(d, id)).map(ok)
}

fn put_user(app: &App, ctx: &RequestCtx, id: u64, body: &Bytes) -> Result<Response> {
    let body = json_object(body)?;
    check_current_url(app, &body)?;
    let mut notes = vec![];
    let r = app.with(|d| {
        d.update_user(id, &body, &mut notes)?;
        user_or_404(d, id)
    });
    ctx.note(notes);
    r.map(ok)
}

fn delete_user(app: &App, id: u64) -> Result<Response> {
    app.with(|d| d.delete_user(id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /users/{id}/`.
pub(crate) async fn get_by_id(Authed(app): Authed, Path(id): Path<String>) -> Result<Response> {
    get_user(&app, parse_id(&id, "user")?)
}

/// `PUT /users/{id}/` and `POST /users/{id}/set_multiple_attributes/`: both are partial updates
/// (only the keys sent change), so one handler serves both.
pub(crate) async fn put_by_id(
    Authed(app): Authed,
    ctx: RequestCtx,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response> {
    put_user(&app, &ctx, parse_id(&id, "user")?, &body)
}

/// `DELETE /users/{id}/` → 204.
pub(crate) async fn delete_by_id(Authed(app): Authed, Path(id): Path<String>) -> Result<Response> {
    delete_user(&app, parse_id(&id, "user")?)
}

/// `GET /users-by-id/{custom_id}/`.
pub(crate) async fn get_by_cid(Authed(app): Authed, Path(cid): Path<String>) -> Result<Response> {
    app.with(|d| user_or_404(d, id_by_cid(d, &cid)?)).map(ok)
}

/// `PUT /users-by-id/{custom_id}/` and `POST /users-by-id/{custom_id}/set_multiple_attributes/`
/// (partial updates, as by id).
pub(crate) async fn put_by_cid(
    Authed(app): Authed,
    ctx: RequestCtx,
    Path(cid): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let id = app.with(|d| id_by_cid(d, &cid))?;
    put_user(&app, &ctx, id, &body)
}

/// `DELETE /users-by-id/{custom_id}/` → 204.
pub(crate) async fn delete_by_cid(
    Authed(app): Authed,
    Path(cid): Path<String>,
) -> Result<Response> {
    app.with(|d| d.delete_user(id_by_cid(d, &cid)?))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
