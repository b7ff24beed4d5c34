//! `/events/` and `/users…/events/`: record and list event occurrences. A hot path: each request
//! parses its body outside the lock, then takes the app lock once for a few map operations.

use axum::body::Bytes;
use axum::extract::Path;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::error::{type_name, Error, Result};
use crate::http::{
    created_typed, json_fields, ok, parse_id, req_str, timestamp, Authed, Fields, Pager, Pairs,
    Picked, RequestCtx,
};
use crate::model::AppData;
use crate::store::App;

/// The answer to an event: `{"created": …, "id": …}`. A struct (fields in this order) rather
/// than `json!`: serialised directly, without building and hashing a map per request.
#[derive(Serialize)]
struct EventCreated {
    created: bool,
    id: u64,
}

/// The parts of an event body that do not need the lock.
struct EventBody<'de> {
    name: String,
    at: Option<DateTime<Utc>>,
    data: Option<Pairs<'de>>,
}

/// The fields of an event body: `name`, `timestamp`, `data`, and `user_id` for `POST /events/`.
const FIELDS: [&str; 4] = ["name", "timestamp", "data", "user_id"];

fn event_body<'de, const N: usize>(body: &mut Picked<'de, '_, N>) -> Result<EventBody<'de>> {
    let name = req_str(body, "name")?.trim().to_owned();
    let at = timestamp(body)?;
    let data = match (body.take_object(), body.take("data")) {
        (Some(pairs), _) => Some(pairs),
        (None, None | Some(Value::Null)) => None,
        (None, Some(other)) => {
            return Err(Error::bad(
                "data",
                format!("expected an object, got {}", type_name(&other)),
            ))
        }
    };
    Ok(EventBody { name, at, data })
}

fn record(
    app: &App,
    ctx: &RequestCtx,
    user: impl FnOnce(&AppData) -> Result<u64>,
    ev: EventBody<'_>,
) -> Result<Response> {
    let mut notes = vec![];
    let r = app.with(|d| {
        let uid = user(d)?;
        let at = ev.at.unwrap_or_else(|| d.now());
        Ok(d.record_event(uid, &ev.name, at, ev.data.as_deref(), &mut notes))
    });
    ctx.note(notes);
    let out = r?;
    Ok(created_typed(&EventCreated {
        created: out.created,
        id: out.id,
    }))
}

/// `POST /events/` with `user_id` = internal id.
pub(crate) async fn create(Authed(app): Authed, ctx: RequestCtx, body: Bytes) -> Result<Response> {
    let mut body = json_fields(&body, FIELDS, Some("data"))?;
    let uid = match body.get("user_id") {
        Some(v) => v.as_u64().ok_or_else(|| {
            Error::bad(
                "user_id",
                format!("expected the user's integer id, got {v}"),
            )
        })?,
        None => return Err(Error::bad("user_id", "this field is required")),
    };
    let ev = event_body(&mut body)?;
    record(
        &app,
        &ctx,
        |d| {
            d.user(uid)
                .map(|u| u.id)
                .ok_or_else(|| Error::bad("user_id", format!("no user with id {uid}")))
        },
        ev,
    )
}

/// `POST /users-by-id/{custom_id}/events/` (404 for an unknown user).
pub(crate) async fn create_by_cid(
    Authed(app): Authed,
    ctx: RequestCtx,
    Path(cid): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let [name, timestamp, data, _] = FIELDS;
    let mut body = json_fields(&body, [name, timestamp, data], Some(data))?;
    let ev = event_body(&mut body)?;
    record(
        &app,
        &ctx,
        |d| {
            d.user_id_by_custom_id(&cid)
                .ok_or_else(|| Error::not_found(format!("no user with custom_id `{cid}`")))
        },
        ev,
    )
}

fn list(app: &App, pager: &Pager, user: impl FnOnce(&AppData) -> Result<u64>) -> Result<Response> {
    app.with(|d| {
        let uid = user(d)?;
        let events = d.user_events(uid);
        pager.envelope(events.len(), |start, n| {
            events.into_iter().skip(start).take(n).collect()
        })
    })
    .map(ok)
}

/// `GET /users/{id}/events/` (paginated `{id, name, timestamp, data}`).
pub(crate) async fn list_by_id(
    Authed(app): Authed,
    pager: Pager,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = parse_id(&id, "user")?;
    list(&app, &pager, |d| {
        d.user(id)
            .map(|u| u.id)
            .ok_or_else(|| Error::not_found(format!("no user with id {id}")))
    })
}

/// `GET /users-by-id/{custom_id}/events/`.
pub(crate) async fn list_by_cid(
    Authed(app): Authed,
    pager: Pager,
    Path(cid): Path<String>,
) -> Result<Response> {
    list(&app, &pager, |d| {
        d.user_id_by_custom_id(&cid)
            .ok_or_else(|| Error::not_found(format!("no user with custom_id `{cid}`")))
    })
}
