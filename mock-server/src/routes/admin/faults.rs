//! `/__admin/faults`: arm, list and remove fault-injection rules (the rules themselves are
//! [`crate::faults`]).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::http::{created, json_object, ok};
use crate::store::Store;

fn rule_id(raw: &str) -> Result<u64> {
    raw.parse::<u64>()
        .map_err(|_| Error::not_found(format!("no fault rule with id `{raw}`")))
}

/// `POST /__admin/faults`.
pub(crate) async fn create(State(store): State<Store>, body: Bytes) -> Result<Response> {
    let rule = Value::Object(json_object(&body)?);
    store.add_fault(&rule).map(created)
}

/// `GET /__admin/faults`.
pub(crate) async fn list(State(store): State<Store>) -> Response {
    ok(json!({ "faults": store.faults().list() }))
}

/// `DELETE /__admin/faults`.
pub(crate) async fn clear(State(store): State<Store>) -> Response {
    store.faults().clear();
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /__admin/faults/{id}`.
pub(crate) async fn get_one(
    State(store): State<Store>,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = rule_id(&id)?;
    store
        .faults()
        .get(id)
        .map(ok)
        .ok_or_else(|| Error::not_found(format!("no fault rule with id {id}")))
}

/// `DELETE /__admin/faults/{id}`.
pub(crate) async fn delete_one(
    State(store): State<Store>,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = rule_id(&id)?;
    if store.faults().remove(id) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Error::not_found(format!("no fault rule with id {id}")))
    }
}
