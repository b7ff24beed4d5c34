//! A thin client for the simulator, used strictly as a black box.
//!
//! Reads go through the public REST API (`/api/public/...`, `Authorization: Token <key>`), exactly
//! as they would against a real User.com app, so the catalogue can one day run against one. The
//! admin plane (`/__admin/...`) is used only for what the REST API cannot do: creating isolated
//! apps, revoking a key, trusted domains, the clock, and (for snapshots and the "no endless retry"
//! check) the request journal and the state dump.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::error::{shorten, Error, Result};
use crate::model::Observed;

/// An app inside the simulator: its admin name and its REST API key.
#[derive(Clone, Debug)]
pub struct App {
    /// The app's name on the admin plane (`?app=NAME`).
    pub name: String,
    /// A key of that app, for the REST API and for the forwarder.
    pub api_key: String,
}

/// A handle on a running simulator, reached over HTTP.
#[derive(Clone, Debug)]
pub struct Sim {
    http: reqwest::Client,
    origin: String,
}

impl Sim {
    /// A client for the simulator whose origin is `origin` (`http://127.0.0.1:PORT`).
    pub fn new(origin: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("a reqwest client with only a timeout always builds");
        Self {
            http,
            origin: origin.trim_end_matches('/').to_string(),
        }
    }

    /// The simulator's origin (`http://127.0.0.1:PORT`), which is what a forwarder is given.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Sends one request and returns (status, parsed JSON body or `Value::Null`).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(u16, Value)> {
        let what = format!("{method} {path}");
        let mut req = self
            .http
            .request(method, format!("{}{}", self.origin, path))
            .header("Accept", "*/*; version=2");
        if let Some(key) = key {
            req = req.header("Authorization", format!("Token {key}"));
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|source| Error::Http {
            what: what.clone(),
            source,
        })?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|source| Error::Http { what, source })?;
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, value))
    }

    /// Like [`Sim::call`] but any status outside 2xx is an error.
    async fn call_ok(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value> {
        let (status, value) = self.call(method.clone(), path, key, body).await?;
        if (200..300).contains(&status) {
            Ok(value)
        } else {
            Err(Error::Status {
                what: format!("{method} {path}"),
                status,
                body: shorten(&value.to_string(), 300),
            })
        }
    }

    // ---------------------------------------------------------------- admin plane (set-up)

    /// `POST /__admin/apps`: a fresh, isolated app with its own key, in the simulator's mode.
    pub async fn create_app(&self) -> Result<App> {
        self.post_app(json!({})).await
    }

    /// `POST /__admin/apps {"strict": strict}`: a fresh app in the given mode, whatever mode
    /// the simulator was started in (strict: as strict as User.com's REST API).
    pub async fn create_app_in(&self, strict: bool) -> Result<App> {
        self.post_app(json!({ "strict": strict })).await
    }

    async fn post_app(&self, body: Value) -> Result<App> {
        let v = self
            .call_ok(reqwest::Method::POST, "/__admin/apps", None, Some(&body))
            .await?;
        let name = v.get("app").and_then(Value::as_str);
        let key = v.get("api_key").and_then(Value::as_str);
        match (name, key) {
            (Some(name), Some(key)) => Ok(App {
                name: name.to_string(),
                api_key: key.to_string(),
            }),
            _ => Err(Error::Body {
                what: "POST /__admin/apps".into(),
                detail: format!(
                    "expected {{\"app\", \"api_key\"}}, got {}",
                    shorten(&v.to_string(), 200)
                ),
            }),
        }
    }

    /// `POST /__admin/api-keys/{key}/revoke`.
    pub async fn revoke_key(&self, key: &str) -> Result<()> {
        self.call_ok(
            reqwest::Method::POST,
            &format!("/__admin/api-keys/{key}/revoke"),
            None,
            None,
        )
        .await
        .map(drop)
    }

    /// `POST /__admin/faults`: arms a fault rule; returns its id.
    pub async fn add_fault(&self, rule: &Value) -> Result<u64> {
        let created = self
            .call_ok(reqwest::Method::POST, "/__admin/faults", None, Some(rule))
            .await?;
        created["id"].as_u64().ok_or_else(|| Error::Body {
            what: "POST /__admin/faults".into(),
            detail: format!("no rule id in {}", shorten(&created.to_string(), 200)),
        })
    }

    /// `DELETE /__admin/faults/{id}`.
    pub async fn remove_fault(&self, id: u64) -> Result<()> {
        self.call_ok(
            reqwest::Method::DELETE,
            &format!("/__admin/faults/{id}"),
            None,
            None,
        )
        .await
        .map(drop)
    }

    /// `PUT /__admin/trusted-domains?app=NAME` (`[]` = every domain trusted).
    pub async fn set_trusted_domains(&self, app: &str, domains: &[String]) -> Result<()> {
        self.call_ok(
            reqwest::Method::PUT,
            &format!("/__admin/trusted-domains?app={app}"),
            None,
            Some(&json!(domains)),
        )
        .await
        .map(drop)
    }

    /// `PUT /__admin/clock?app=NAME`: sets (and optionally freezes) the simulator's clock.
    pub async fn set_clock(&self, app: &str, now: &str, frozen: bool) -> Result<()> {
        self.call_ok(
            reqwest::Method::PUT,
            &format!("/__admin/clock?app={app}"),
            None,
            Some(&json!({"now": now, "frozen": frozen})),
        )
        .await
        .map(drop)
    }

    /// `GET /__admin/state?app=NAME`: the app's whole state (deterministic JSON).
    pub async fn state(&self, app: &str) -> Result<Value> {
        self.call_ok(
            reqwest::Method::GET,
            &format!("/__admin/state?app={app}"),
            None,
            None,
        )
        .await
    }

    /// `GET /__admin/requests` without `?app`: every journal entry, including requests whose key
    /// resolved to no app (unknown or revoked keys).
    pub async fn journal_all(&self) -> Result<Vec<Value>> {
        let v = self
            .call_ok(reqwest::Method::GET, "/__admin/requests", None, None)
            .await?;
        list_of(v, "GET /__admin/requests")
    }

    /// `GET /__admin/requests?app=NAME`: the request journal, oldest first.
    ///
    /// Accepts either a bare array or an object carrying the array under `requests`.
    pub async fn journal(&self, app: &str) -> Result<Vec<Value>> {
        let v = self
            .call_ok(
                reqwest::Method::GET,
                &format!("/__admin/requests?app={app}"),
                None,
                None,
            )
            .await?;
        list_of(v, "GET /__admin/requests")
    }

    // ---------------------------------------------------------------- REST API (reads, seeds)

    /// `POST /api/public/attributes/`: defines a custom attribute (the REST way to seed).
    pub async fn define_attribute(
        &self,
        key: &str,
        name: &str,
        value_type: &str,
        content_type: &str,
        choices: &[String],
        multiple: bool,
    ) -> Result<Value> {
        let mut body =
            json!({"name": name, "value_type": value_type, "content_type": content_type});
        if !choices.is_empty() {
            body["choices"] = json!(choices);
        }
        if multiple {
            body["allow_multiple_choices"] = json!(true);
        }
        self.call_ok(
            reqwest::Method::POST,
            "/api/public/attributes/",
            Some(key),
            Some(&body),
        )
        .await
    }

    /// `POST /api/public/users/update_or_create/` with `body` (which carries `custom_id`): used by
    /// the conversion-table property to hand values to the simulator directly.
    pub async fn upsert_user(&self, key: &str, body: &Value) -> Result<Value> {
        self.call_ok(
            reqwest::Method::POST,
            "/api/public/users/update_or_create/",
            Some(key),
            Some(body),
        )
        .await
    }

    /// `DELETE /api/public/users-by-id/{custom_id}/` (a 404 is fine: nothing to delete).
    pub async fn delete_user(&self, key: &str, custom_id: &str) -> Result<()> {
        self.delete_optional(key, &format!("/api/public/users-by-id/{}/", enc(custom_id)))
            .await
    }

    /// `POST /api/public/companies/` with `custom_id` and `name`.
    pub async fn create_company(&self, key: &str, custom_id: &str, name: &str) -> Result<()> {
        self.call_ok(
            reqwest::Method::POST,
            "/api/public/companies/",
            Some(key),
            Some(&json!({"custom_id": custom_id, "name": name})),
        )
        .await
        .map(drop)
    }

    /// `DELETE /api/public/companies-by-id/{custom_id}/` (a 404 is fine: nothing to delete).
    pub async fn delete_company(&self, key: &str, custom_id: &str) -> Result<()> {
        self.delete_optional(
            key,
            &format!("/api/public/companies-by-id/{}/", enc(custom_id)),
        )
        .await
    }

    async fn delete_optional(&self, key: &str, path: &str) -> Result<()> {
        let (status, v) = self
            .call(reqwest::Method::DELETE, path, Some(key), None)
            .await?;
        match status {
            200..=299 | 404 => Ok(()),
            _ => Err(Error::Status {
                what: format!("DELETE {path}"),
                status,
                body: shorten(&v.to_string(), 300),
            }),
        }
    }

    /// `GET /api/public/users-by-id/{custom_id}/`; `None` on 404.
    pub async fn user(&self, key: &str, custom_id: &str) -> Result<Option<Value>> {
        self.get_optional(key, &format!("/api/public/users-by-id/{}/", enc(custom_id)))
            .await
    }

    /// The site views of the user `custom_id` of app `app` (key `key`), oldest first: the REST
    /// API has no read of site views, so they come from the state dump (admin plane), filtered by
    /// the user's internal id. Empty when the user does not exist.
    pub async fn site_views(&self, app: &str, key: &str, custom_id: &str) -> Result<Vec<Value>> {
        let Some(user) = self.user(key, custom_id).await? else {
            return Ok(Vec::new());
        };
        let id = user.get("id").cloned().unwrap_or(Value::Null);
        let state = self.state(app).await?;
        Ok(crate::checks::site_views::views_of(&state, &id))
    }

    /// `GET /api/public/companies-by-id/{custom_id}/`; `None` on 404.
    pub async fn company(&self, key: &str, custom_id: &str) -> Result<Option<Value>> {
        self.get_optional(
            key,
            &format!("/api/public/companies-by-id/{}/", enc(custom_id)),
        )
        .await
    }

    /// `GET /api/public/users-by-id/{custom_id}/events/`, every page; empty on 404.
    pub async fn events(&self, key: &str, custom_id: &str) -> Result<Vec<Value>> {
        self.get_all_pages(
            key,
            &format!("/api/public/users-by-id/{}/events/", enc(custom_id)),
        )
        .await
    }

    /// `GET /api/public/attributes/`, every page, each `value_type` as its word (a strict
    /// simulator lists v1 numeric codes, as User.com's v1 lists do: 1 boolean, 2 integer, 3 date,
    /// 4 string, 5 datetime, 6 fixed, 7 float).
    pub async fn attributes(&self, key: &str) -> Result<Vec<Value>> {
        let mut defs = self.get_all_pages(key, "/api/public/attributes/").await?;
        for d in &mut defs {
            if let Some(word) = d
                .get("value_type")
                .and_then(Value::as_u64)
                .and_then(type_word)
            {
                d["value_type"] = Value::from(word);
            }
        }
        Ok(defs)
    }

    /// `GET /api/public/users/`, every page.
    pub async fn users(&self, key: &str) -> Result<Vec<Value>> {
        self.get_all_pages(key, "/api/public/users/").await
    }

    /// `GET /api/public/companies/`, every page.
    pub async fn companies(&self, key: &str) -> Result<Vec<Value>> {
        self.get_all_pages(key, "/api/public/companies/").await
    }

    /// The state of `app` as the reference model compares it: users, companies, attribute
    /// definitions, and the events and site views of each of `user_ids`.
    pub async fn observe(
        &self,
        app: &App,
        user_ids: impl IntoIterator<Item = &String>,
    ) -> Result<Observed> {
        let key = &app.api_key;
        let users = self.users(key).await?;
        let state = self.state(&app.name).await?;
        let mut events = BTreeMap::new();
        let mut site_views = BTreeMap::new();
        for id in user_ids {
            events.insert(id.clone(), self.events(key, id).await?);
            let internal = users
                .iter()
                .find(|u| u.get("custom_id").and_then(Value::as_str) == Some(id.as_str()))
                .and_then(|u| u.get("id").cloned());
            if let Some(internal) = internal {
                site_views.insert(
                    id.clone(),
                    crate::checks::site_views::views_of(&state, &internal),
                );
            }
        }
        Ok(Observed {
            users,
            companies: self.companies(key).await?,
            events,
            attributes: self.attributes(key).await?,
            site_views,
        })
    }

    async fn get_optional(&self, key: &str, path: &str) -> Result<Option<Value>> {
        let (status, v) = self
            .call(reqwest::Method::GET, path, Some(key), None)
            .await?;
        match status {
            200 => Ok(Some(v)),
            404 => Ok(None),
            _ => Err(Error::Status {
                what: format!("GET {path}"),
                status,
                body: shorten(&v.to_string(), 300),
            }),
        }
    }

    /// Follows DRF-style pagination (`{count, next, previous, results}`); a bare array is one
    /// page; a 404 is an empty list (an unknown user has no events).
    async fn get_all_pages(&self, key: &str, first: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut path = first.to_string();
        // A bound on pages so a simulator bug (a `next` loop) cannot hang the harness.
        for _ in 0..1000 {
            let (status, v) = self
                .call(reqwest::Method::GET, &path, Some(key), None)
                .await?;
            if status == 404 && out.is_empty() {
                return Ok(out);
            }
            if status != 200 {
                return Err(Error::Status {
                    what: format!("GET {path}"),
                    status,
                    body: shorten(&v.to_string(), 300),
                });
            }
            let next = v.get("next").and_then(Value::as_str).map(str::to_string);
            out.extend(list_of(v, &format!("GET {path}"))?);
            match next {
                Some(next) => {
                    // `next` is absolute; keep the path and query only.
                    path = match next.find("/api/public/") {
                        Some(i) => next[i..].to_string(),
                        None => next,
                    };
                }
                None => return Ok(out),
            }
        }
        Ok(out)
    }
}

/// A list from either a bare array or an object holding it under `results` / `requests`.
fn list_of(v: Value, what: &str) -> Result<Vec<Value>> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Object(mut o) => {
            for k in ["results", "requests", "entries"] {
                if let Some(Value::Array(a)) = o.remove(k) {
                    return Ok(a);
                }
            }
            Err(Error::Body {
                what: what.into(),
                detail: "expected a list or {\"results\": [...]}".into(),
            })
        }
        other => Err(Error::Body {
            what: what.into(),
            detail: format!("expected a list, got {}", shorten(&other.to_string(), 200)),
        }),
    }
}

/// Percent-encodes a custom id for a path segment (ids are generated by the harness and only
/// use `[A-Za-z0-9._-]`, but a fixture may bring `@` or spaces).
/// The word of a v1 numeric `value_type` code.
fn type_word(code: u64) -> Option<&'static str> {
    Some(match code {
        1 => "boolean",
        2 => "integer",
        3 => "date",
        4 => "string",
        5 => "datetime",
        6 => "fixed",
        7 => "float",
        _ => return None,
    })
}

fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
