//! The admin plane (`/__admin/…`): test set-up and inspection. Bound with the API (loopback by
//! default); with an admin token the pipeline requires `Authorization: Bearer <token>` first.
//! Every endpoint takes an optional `?app=NAME` (default `default`); for the journal, no `?app`
//! means every entry (requests with an unknown key belong to no app).

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::error::{type_name, Error, Result};
use crate::http::{created, json_object, ok, Params};
use crate::model::clock_json;
use crate::store::Store;
use crate::time::{fmt_ts, parse_datetime};

mod faults;

pub(crate) fn routes() -> Router<Store> {
    Router::new()
        .route("/health", get(health))
        .route("/reset", post(reset))
        .route("/state", get(state))
        .route("/apps", post(create_app).get(list_apps))
        .route("/api-keys/{key}/revoke", post(revoke))
        .route("/trusted-domains", get(get_trusted).put(set_trusted))
        .route("/requests", get(requests).delete(clear_requests))
        .route("/clock", get(get_clock).put(set_clock))
        .route("/clock/advance", post(advance))
        .route(
            "/faults",
            post(faults::create).get(faults::list).delete(faults::clear),
        )
        .route(
            "/faults/{id}",
            get(faults::get_one).delete(faults::delete_one),
        )
}

fn app_param(p: &Params) -> Option<&str> {
    p.0.get("app").map(String::as_str)
}

/// `GET /__admin/health`: the simulator is up (WireMock's path, for tools that probe it).
async fn health(store: axum::extract::State<Store>) -> Response {
    ok(json!({"status": "ok", "apps": store.apps().len()}))
}

async fn reset(store: axum::extract::State<Store>, p: Params) -> Result<Response> {
    store.reset(app_param(&p))?;
    Ok(ok(json!({"reset": app_param(&p).unwrap_or("*")})))
}

async fn state(store: axum::extract::State<Store>, p: Params) -> Result<Response> {
    store.state_json(app_param(&p)).map(ok)
}

async fn list_apps(store: axum::extract::State<Store>) -> Response {
    let apps: Vec<Value> = store
        .apps()
        .iter()
        .map(|a| {
            // Keys as fingerprints only: admin answers never carry a secret.
            let fingerprints: Vec<Value> = store
                .key_fingerprints(a)
                .into_iter()
                .map(|(fp, revoked)| json!({"key": fp, "revoked": revoked}))
                .collect();
            json!({"api_keys": fingerprints, "app": &*a.name, "keys": a.keys().len(), "strict": a.strict()})
        })
        .collect();
    ok(apps.into())
}

async fn create_app(store: axum::extract::State<Store>, body: Bytes) -> Result<Response> {
    let body = json_object(&body)?;
    let name = match body.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(other) => {
            return Err(Error::bad(
                "name",
                format!("expected a string, got {}", type_name(other)),
            ))
        }
    };
    let strict = match body.get("strict") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            return Err(Error::bad(
                "strict",
                format!("expected a boolean, got {}", type_name(other)),
            ))
        }
    };
    if let Some(k) = body
        .keys()
        .find(|k| !matches!(k.as_str(), "name" | "strict"))
    {
        return Err(Error::bad(
            k.as_str(),
            "unknown field: a new app takes only `name` and `strict`",
        ));
    }
    if let Some(name) = name {
        check_app_name(name.trim())?;
    }
    let (app, key) = store.create_app(name, strict)?;
    let strict = store.app(&app).is_some_and(|a| a.strict());
    Ok(created(
        json!({"api_key": key, "app": app, "strict": strict}),
    ))
}

/// An app name becomes part of its API key (`mock-NAME-…`), which travels in an `Authorization`
/// header and may not contain spaces: so a name is visible ASCII only. Checked before anything is
/// created, so a refused name leaves no app behind.
fn check_app_name(name: &str) -> Result<()> {
    match name.chars().find(|c| !c.is_ascii_graphic()) {
        None => Ok(()),
        Some(c) => Err(Error::bad(
            "name",
            format!(
                "{c:?} is not allowed: an app name is part of its API key, so it takes visible \
                 ASCII characters only (no spaces)"
            ),
        )),
    }
}

async fn revoke(store: axum::extract::State<Store>, Path(key): Path<String>) -> Result<Response> {
    let app = store.revoke(&key)?;
    Ok(ok(json!({"app": app, "revoked": true})))
}

async fn get_trusted(store: axum::extract::State<Store>, p: Params) -> Result<Response> {
    let app = store.app_or_404(app_param(&p))?;
    Ok(ok(
        json!({"app": &*app.name, "trusted_domains": app.trusted_domains()}),
    ))
}

async fn set_trusted(
    store: axum::extract::State<Store>,
    p: Params,
    body: Bytes,
) -> Result<Response> {
    let app = store.app_or_404(app_param(&p))?;
    let list: Vec<String> = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(items)) => items
            .into_iter()
            .map(|d| match d {
                Value::String(s) => Ok(s),
                other => Err(Error::bad(
                    "trusted_domains",
                    format!("expected strings, got {}", type_name(&other)),
                )),
            })
            .collect::<Result<_>>()?,
        Ok(other) => {
            return Err(Error::bad(
                "body",
                format!("expected a JSON list of domains, got {}", type_name(&other)),
            ))
        }
        Err(e) => return Err(Error::bad("body", format!("malformed JSON: {e}"))),
    };
    let domains = app.set_trusted_domains(&list)?;
    Ok(ok(json!({"app": &*app.name, "trusted_domains": domains})))
}

async fn requests(store: axum::extract::State<Store>, p: Params) -> Result<Response> {
    let app = app_param(&p);
    if let Some(a) = app {
        store.app_or_404(Some(a))?;
    }
    let number = |name: &str| -> Result<Option<u64>> {
        match p.0.get(name) {
            None => Ok(None),
            Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
                Error::bad(
                    name,
                    format!("`{v}` is not a whole number ({name}: see GET /__admin/requests)"),
                )
            }),
        }
    };
    let since = number("since")?;
    let limit = number("limit")?.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let (entries, total) = store.journal_page(app, since, limit);
    Ok(ok(
        json!({"count": entries.len(), "total": total, "requests": entries}),
    ))
}

async fn clear_requests(store: axum::extract::State<Store>, p: Params) -> Result<Response> {
    store.clear_journal(app_param(&p));
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn clock_view(store: &Store, p: &Params) -> Result<Value> {
    let app = store.app_or_404(app_param(p))?;
    Ok(app.with(|d| {
        let mut v = clock_json(&d.clock);
        v["now"] = fmt_ts(d.now()).into();
        v["app"] = (&*app.name).into();
        v
    }))
}

async fn get_clock(store: axum::extract::State<Store>, p: Params) -> Result<Response> {
    clock_view(&store, &p).map(ok)
}

async fn set_clock(store: axum::extract::State<Store>, p: Params, body: Bytes) -> Result<Response> {
    let app = store.app_or_404(app_param(&p))?;
    let body = json_object(&body)?;
    let now = match body.get("now") {
        Some(Value::String(s)) => parse_datetime(s)
            .ok_or_else(|| Error::bad("now", format!("`{s}` is not an RFC 3339 time")))?,
        Some(other) => {
            return Err(Error::bad(
                "now",
                format!("expected an RFC 3339 string, got {}", type_name(other)),
            ))
        }
        None => return Err(Error::bad("now", "this field is required")),
    };
    let frozen = match body.get("frozen") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(Error::bad(
                "frozen",
                format!("expected a boolean, got {}", type_name(other)),
            ))
        }
    };
    app.with(|d| d.clock.set(now, frozen));
    clock_view(&store, &p).map(ok)
}

async fn advance(store: axum::extract::State<Store>, p: Params, body: Bytes) -> Result<Response> {
    let app = store.app_or_404(app_param(&p))?;
    let body = json_object(&body)?;
    let secs = match body.get("seconds") {
        Some(Value::Number(n)) => n.as_f64().filter(|f| f.is_finite() && f.abs() < 1e12),
        Some(other) => {
            return Err(Error::bad(
                "seconds",
                format!("expected a number, got {}", type_name(other)),
            ))
        }
        None => return Err(Error::bad("seconds", "this field is required")),
    }
    .ok_or_else(|| Error::bad("seconds", "out of range"))?;
    app.with(|d| d.clock.advance(secs));
    clock_view(&store, &p).map(ok)
}
