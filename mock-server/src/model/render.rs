//! The JSON the API and the admin plane answer: the v2 user and company objects, event
//! occurrences, site views, the clock and the whole-app state view. Keys sorted and lists in id
//! order, so identical histories give identical bytes.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::coerce::AttrDef;
use super::events::Occurrence;
use super::schema::{Kind, COMPANY_FIELDS, USER_FIELDS};
use super::site_views::SiteView;
use super::AppData;
use crate::time::{fmt_ts, Clock};

impl AppData {
    fn tags_json(&self, ids: &[u64]) -> Value {
        ids.iter()
            .map(|&id| json!({"id": id, "name": self.tags.get(id as usize - 1).cloned().unwrap_or_default()}))
            .collect::<Vec<_>>()
            .into()
    }

    /// The v2 user object: standard fields (null when unset), profile fields, custom attributes at
    /// top level, counters and companies. Keys sorted, so the output is deterministic.
    pub fn user_json(&self, id: u64) -> Option<Value> {
        let u = self.users.get(&id)?;
        let mut m: BTreeMap<String, Value> = BTreeMap::new();
        // Custom attributes first, so a standard key can never be shadowed by one.
        for (k, v) in &u.custom {
            m.insert(k.clone(), v.clone());
        }
        for (name, kind) in USER_FIELDS {
            let v = u.fields.get(*name).cloned().unwrap_or(Value::Null);
            let v = match (kind, *name) {
                (Kind::Gender, _) => Value::from(match v.as_i64() {
                    Some(2) => "male",
                    Some(3) => "female",
                    _ => "unknown",
                }),
                (Kind::Status, _) => Value::from(if v.as_i64() == Some(2) {
                    "user"
                } else {
                    "visitor"
                }),
                (Kind::Bool, "notifications") if v.is_null() => Value::Bool(true),
                (Kind::Bool, _) if v.is_null() => Value::Bool(false),
                (Kind::Int, "score") if v.is_null() => Value::from(0),
                _ => v,
            };
            m.insert((*name).to_owned(), v);
        }
        let first = u
            .fields
            .get("first_name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let last = u
            .fields
            .get("last_name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let name = format!("{first} {last}").trim().to_owned();
        m.insert(
            "name".into(),
            if name.is_empty() {
                Value::Null
            } else {
                name.into()
            },
        );
        m.insert("id".into(), u.id.into());
        m.insert("user_key".into(), u.user_key.clone().into());
        m.insert("custom_id".into(), u.custom_id.clone().into());
        m.insert("page_views".into(), u.page_views.into());
        m.insert("first_seen".into(), u.first_seen.map(fmt_ts).into());
        m.insert("last_seen".into(), u.last_seen.map(fmt_ts).into());
        m.insert("created_at".into(), fmt_ts(u.created_at).into());
        m.insert("updated_at".into(), fmt_ts(u.updated_at).into());
        m.insert("last_contacted".into(), Value::Null);
        m.insert("lists".into(), json!([]));
        m.insert("tags".into(), self.tags_json(&u.tags));
        let companies: Vec<Value> = self
            .companies
            .values()
            .filter_map(|c| {
                c.members.get(&id).map(|since| {
                    json!({"id": c.id, "member_since": fmt_ts(*since), "name": c.fields.get("name").cloned().unwrap_or(Value::Null)})
                })
            })
            .collect();
        m.insert("companies".into(), companies.into());
        Some(Value::Object(m.into_iter().collect()))
    }

    /// The v2 company object: standard fields, custom attributes at top level, `employees` =
    /// member ids.
    pub fn company_json(&self, id: u64) -> Option<Value> {
        let c = self.companies.get(&id)?;
        let mut m: BTreeMap<String, Value> = BTreeMap::new();
        for (k, v) in &c.custom {
            m.insert(k.clone(), v.clone());
        }
        for (name, _) in COMPANY_FIELDS {
            m.insert(
                (*name).to_owned(),
                c.fields.get(*name).cloned().unwrap_or(Value::Null),
            );
        }
        m.insert("id".into(), c.id.into());
        m.insert("custom_id".into(), c.custom_id.clone().into());
        m.insert("created_at".into(), fmt_ts(c.created_at).into());
        m.insert("updated_at".into(), fmt_ts(c.updated_at).into());
        m.insert("tags".into(), self.tags_json(&c.tags));
        m.insert(
            "employees".into(),
            c.members.keys().copied().collect::<Vec<_>>().into(),
        );
        Some(Value::Object(m.into_iter().collect()))
    }

    fn occurrence_json(&self, o: &Occurrence, with_user: bool) -> Value {
        let name = self
            .event_defs
            .get(o.event as usize - 1)
            .map(|e| e.name.clone())
            .unwrap_or_default();
        let data: Value = if o.data.is_empty() {
            json!({})
        } else {
            serde_json::from_str(&o.data).unwrap_or_else(|_| json!({}))
        };
        let mut v =
            json!({"data": data, "id": o.id, "name": name, "timestamp": fmt_ts(o.timestamp)});
        if with_user {
            v["user_id"] = o.user_id.into();
        }
        v
    }

    /// A user's occurrences as `{id, name, timestamp, data}`, in id order.
    pub fn user_events(&self, user_id: u64) -> Vec<Value> {
        self.occurrences
            .iter()
            .filter(|o| o.user_id == user_id)
            .map(|o| self.occurrence_json(o, false))
            .collect()
    }

    /// The deterministic admin view of everything in the app (keys sorted, lists in id order).
    pub fn state_json(&self) -> Value {
        let users: Vec<Value> = self
            .users
            .keys()
            .filter_map(|&id| self.user_json(id))
            .collect();
        let companies: Vec<Value> = self
            .companies
            .keys()
            .filter_map(|&id| self.company_json(id))
            .collect();
        let events: Vec<Value> = self
            .occurrences
            .iter()
            .map(|o| self.occurrence_json(o, true))
            .collect();
        let site_views: Vec<Value> = self.site_views.iter().map(site_view_json).collect();
        let attributes: Vec<Value> = self.attributes.iter().map(AttrDef::to_json).collect();
        let event_definitions: Vec<Value> = self
            .event_defs
            .iter()
            .map(|e| json!({"id": e.id, "name": e.name}))
            .collect();
        json!({
            "attributes": attributes,
            "clock": clock_json(&self.clock),
            "companies": companies,
            "event_definitions": event_definitions,
            "events": events,
            "site_views": site_views,
            "users": users,
        })
    }
}

/// A site view as JSON.
pub fn site_view_json(s: &SiteView) -> Value {
    json!({
        "id": s.id,
        "page_domain": &*s.page_domain,
        "page_path": &*s.page_path,
        "timestamp": fmt_ts(s.timestamp),
        "title": s.title.as_deref(),
        "user_id": s.user_id,
    })
}

/// The clock as JSON (`now` only when frozen, so the state stays deterministic).
pub fn clock_json(c: &Clock) -> Value {
    match c.frozen {
        Some(t) => json!({"frozen": true, "now": fmt_ts(t)}),
        None => json!({"frozen": false, "offset_seconds": c.offset_us as f64 / 1e6}),
    }
}
