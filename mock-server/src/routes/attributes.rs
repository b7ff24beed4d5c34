//! `/attributes/`: custom attribute definitions (user, company and event attributes).

use axum::body::Bytes;
use axum::response::Response;
use serde_json::Value;

use crate::error::{type_name, Error, Result};
use crate::http::{created, json_object, ok, opt_str, req_str, Authed, Pager};
use crate::model::coerce::{AttrDef, ContentType, ValueType};
use crate::store::App;

/// A `content_type` value: `clientuser`, `company` (documented), and in the default mode also the
/// simulator's `event` and the v1 spelling `user`.
fn content_type(app: &App, s: &str) -> Result<ContentType> {
    if app.strict() {
        ContentType::parse_strict(s).ok_or_else(|| {
            Error::bad(
                "content_type",
                format!("`{s}` is not one of clientuser, company (strict mode: User.com's documented content types the simulator models)"),
            )
        })
    } else {
        ContentType::parse(s).ok_or_else(|| {
            Error::bad(
                "content_type",
                format!("`{s}` is not one of clientuser, company, event"),
            )
        })
    }
}

/// `GET /attributes/[?content_type=…]` (paginated, id order).
pub(crate) async fn list(Authed(app): Authed, pager: Pager) -> Result<Response> {
    let ct = match pager.param("content_type") {
        None => None,
        Some(s) => Some(content_type(&app, s)?),
    };
    // Strict mode lists each type as its v1 numeric code (GUESS, strict row 11: v1 list
    // responses carry numbers and which a v2 list carries is not documented), so a client must
    // read both spellings; `json` has no code and stays a word.
    let codes = app.strict();
    app.with(|d| {
        let defs: Vec<&AttrDef> = d.attributes(ct).collect();
        pager.envelope(defs.len(), |start, n| {
            defs.iter()
                .skip(start)
                .take(n)
                .map(|a| {
                    let mut v = a.to_json();
                    match a.value_type.v1_code() {
                        Some(code) if codes => v["value_type"] = code.into(),
                        _ => {}
                    }
                    v
                })
                .collect()
        })
    })
    .map(ok)
}

/// `POST /attributes/` `{name, value_type, content_type, choices, allow_multiple_choices}` → 201
/// with `name_std` added.
pub(crate) async fn create(Authed(app): Authed, body: Bytes) -> Result<Response> {
    let body = json_object(&body)?;
    let name = req_str(&body, "name")?;
    let vt = req_str(&body, "value_type")?;
    // `number` is the v1 spelling of `integer` (usercom-api.md §3.1): not in strict mode.
    let value_type = ValueType::parse(vt)
        .filter(|_| !(app.strict() && vt == "number"))
        .ok_or_else(|| {
            Error::bad(
                "value_type",
                format!(
                "`{vt}` is not one of boolean, integer, float, date, datetime, string, fixed, json"
            ),
            )
        })?;
    let content_type = match opt_str(&body, "content_type")? {
        None => ContentType::Clientuser,
        Some(s) => content_type(&app, s)?,
    };
    let choices: Vec<String> = match body.get("choices") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(items)) => items
            .iter()
            .map(|c| match c {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(Error::bad(
                    "choices",
                    format!("expected strings, got {}", type_name(other)),
                )),
            })
            .collect::<Result<_>>()?,
        Some(other) => {
            return Err(Error::bad(
                "choices",
                format!("expected a list, got {}", type_name(other)),
            ))
        }
    };
    let multi = match body.get("allow_multiple_choices") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(Error::bad(
                "allow_multiple_choices",
                format!("expected a boolean, got {}", type_name(other)),
            ))
        }
    };
    app.with(|d| {
        d.define_attribute(name, value_type, content_type, choices, multi)
            .map(AttrDef::to_json)
    })
    .map(created)
}
