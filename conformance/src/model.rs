//! A pure reference model of the destination doc: the oracle of the property tests.
//!
//! Written from the doc (and an exact conversion table, which makes the doc's "we'll try to
//! convert" precise), independently of the simulator's coercion and the
//! forwarder's mapping. Given the Segment messages, it says what the User.com app must hold:
//! users by custom id (userId, else anonymousId) with their email, custom attributes,
//! `page_views` and `last_seen`; event occurrences; companies with members and custom
//! attributes; attribute definitions (defined ones keep their type, new ones are strings).
//!
//! [`Model::compare`] checks an [`Observed`] state against it and lists every difference. The
//! model does no I/O: [`crate::sim::Sim::observe`] reads the [`Observed`] state through the REST
//! API.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use crate::expect::{json_eq, parse_instant};

/// A custom attribute's declared type.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueType {
    /// true/false.
    Boolean,
    /// Whole numbers.
    Integer,
    /// Any number.
    Float,
    /// A calendar date.
    Date,
    /// An instant.
    Datetime,
    /// Text (the type of every auto-created attribute).
    String,
    /// One of a list of choices.
    Fixed(Vec<String>),
    /// Any JSON.
    Json,
}

impl ValueType {
    /// The REST API's name for the type.
    pub fn api_name(&self) -> &'static str {
        match self {
            ValueType::Boolean => "boolean",
            ValueType::Integer => "integer",
            ValueType::Float => "float",
            ValueType::Date => "date",
            ValueType::Datetime => "datetime",
            ValueType::String => "string",
            ValueType::Fixed(_) => "fixed",
            ValueType::Json => "json",
        }
    }

    /// Converts `v` to this type; `None` = cannot be converted (the value is ignored).
    pub fn convert(&self, v: &Value) -> Option<Value> {
        match (self, v) {
            (_, Value::Null) => None,
            (ValueType::Integer, Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Some(Value::from(i)),
                (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                    Some(Value::from(f as i64))
                }
                _ => None,
            },
            (ValueType::Integer, Value::String(s)) => s.trim().parse::<i64>().ok().map(Value::from),
            (ValueType::Float, Value::Number(n)) => n.as_f64().map(Value::from),
            (ValueType::Float, Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Value::from),
            (ValueType::Boolean, Value::Bool(b)) => Some(Value::Bool(*b)),
            (ValueType::Boolean, Value::String(s)) => {
                match s.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" => Some(Value::Bool(true)),
                    "false" | "0" => Some(Value::Bool(false)),
                    _ => None,
                }
            }
            (ValueType::Boolean, Value::Number(n)) => match n.as_f64() {
                Some(1.0) => Some(Value::Bool(true)),
                Some(0.0) => Some(Value::Bool(false)),
                _ => None,
            },
            (ValueType::Date, v) => {
                date_of(v).map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
            }
            (ValueType::Datetime, v) => instant_of(v).map(|t| Value::String(t.to_rfc3339())),
            (ValueType::Fixed(choices), Value::String(s)) => choices
                .iter()
                .any(|c| c == s)
                .then(|| Value::String(s.clone())),
            (ValueType::String, v) => stringify(v).map(Value::String),
            (ValueType::Json, v) => Some(v.clone()),
            _ => None,
        }
    }
}

/// How an undefined attribute's value is stored: as text. `null` creates nothing.
pub fn stringify(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

fn date_of(v: &Value) -> Option<NaiveDate> {
    match v {
        Value::String(s) => {
            let s = s.trim();
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .or_else(|| DateTime::parse_from_rfc3339(s).ok().map(|t| t.date_naive()))
        }
        Value::Number(n) => n
            .as_i64()
            .and_then(|i| DateTime::from_timestamp(i, 0))
            .map(|t| t.date_naive()),
        _ => None,
    }
}

fn instant_of(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::Number(n) => n.as_i64().and_then(|i| DateTime::from_timestamp(i, 0)),
        Value::String(_) => parse_instant(v),
        _ => None,
    }
}

/// Which kind of object an attribute belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// User attributes (`clientuser`).
    User,
    /// Company attributes.
    Company,
    /// Event attributes.
    Event,
}

impl Kind {
    /// The REST API's `content_type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::User => "clientuser",
            Kind::Company => "company",
            Kind::Event => "event",
        }
    }
}

/// The expected state of one user.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelUser {
    /// Last email sent.
    pub email: Option<String>,
    /// Custom attributes (already converted).
    pub attrs: BTreeMap<String, Value>,
    /// Page views.
    pub page_views: u64,
    /// Latest page view time.
    pub last_seen: Option<DateTime<Utc>>,
    /// Event occurrences by name.
    pub events: BTreeMap<String, usize>,
}

/// The expected state of one company.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelCompany {
    /// Custom attributes (already converted); only meaningful when one user wrote them.
    pub attrs: BTreeMap<String, Value>,
    /// Member custom ids.
    pub members: BTreeSet<String>,
}

/// Identify traits the doc maps to standard fields (never custom attributes).
pub const STANDARD_TRAITS: &[&str] = &[
    "email",
    "first_name",
    "last_name",
    "firstName",
    "lastName",
    "name",
    "phone",
    "gender",
    "address",
];

/// Group traits the doc maps to company fields.
pub const SEMANTIC_GROUP_TRAITS: &[&str] = &[
    "address",
    "description",
    "email",
    "employees",
    "name",
    "phone",
];

/// The reference model.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// Attribute definitions.
    pub defs: BTreeMap<(Kind, String), ValueType>,
    /// Users by custom id.
    pub users: BTreeMap<String, ModelUser>,
    /// Companies by groupId.
    pub companies: BTreeMap<String, ModelCompany>,
}

impl Model {
    /// A model with these attribute definitions seeded.
    pub fn with_defs(defs: impl IntoIterator<Item = (Kind, String, ValueType)>) -> Self {
        let mut m = Model::default();
        for (k, n, t) in defs {
            m.defs.insert((k, n), t);
        }
        m
    }

    /// Applies custom values under the doc's rules; returns what was written (`Null` = cleared).
    ///
    /// `null` is not in the doc. The model's reading: it creates nothing for an attribute that
    /// does not exist, and clears the value of one that does (Segment's "unset"); the simulator
    /// and the forwarder agree on this today.
    fn apply_custom(
        &mut self,
        kind: Kind,
        traits: &serde_json::Map<String, Value>,
        skip: &[&str],
    ) -> BTreeMap<String, Value> {
        let mut written = BTreeMap::new();
        for (k, v) in traits {
            if skip.contains(&k.as_str()) {
                continue;
            }
            if v.is_null() {
                if self.defs.contains_key(&(kind, k.clone())) {
                    written.insert(k.clone(), Value::Null);
                }
                continue;
            }
            let key = (kind, k.clone());
            let t = self.defs.entry(key).or_insert(ValueType::String).clone();
            if let Some(c) = t.convert(v) {
                written.insert(k.clone(), c);
            }
        }
        written
    }

    /// Applies one Segment message.
    pub fn apply(&mut self, msg: &Value) {
        let id = |k: &str| {
            msg.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let Some(cid) = id("userId").or_else(|| id("anonymousId")) else {
            return;
        };
        let empty = serde_json::Map::new();
        let obj = |k: &str| {
            msg.get(k)
                .and_then(Value::as_object)
                .unwrap_or(&empty)
                .clone()
        };
        match msg.get("type").and_then(Value::as_str) {
            Some("identify") => {
                let traits = obj("traits");
                let written = self.apply_custom(Kind::User, &traits, STANDARD_TRAITS);
                let user = self.users.entry(cid).or_default();
                if let Some(e) = traits.get("email").and_then(Value::as_str) {
                    user.email = Some(e.to_string());
                }
                extend_clearing(&mut user.attrs, written);
            }
            Some("page") => {
                let user = self.users.entry(cid).or_default();
                user.page_views += 1;
                if let Some(t) = msg.get("timestamp").and_then(parse_instant) {
                    user.last_seen = Some(user.last_seen.map_or(t, |old| old.max(t)));
                }
            }
            Some("track") => {
                let props = obj("properties");
                self.apply_custom(Kind::Event, &props, &[]);
                let name = msg
                    .get("event")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                *self
                    .users
                    .entry(cid)
                    .or_default()
                    .events
                    .entry(name)
                    .or_default() += 1;
            }
            Some("group") => {
                let Some(gid) = id("groupId") else { return };
                let traits = obj("traits");
                let written = self.apply_custom(Kind::Company, &traits, SEMANTIC_GROUP_TRAITS);
                self.users.entry(cid.clone()).or_default();
                let company = self.companies.entry(gid).or_default();
                company.members.insert(cid);
                extend_clearing(&mut company.attrs, written);
            }
            _ => {}
        }
    }

    /// Applies every message in order.
    pub fn apply_all<'a>(&mut self, msgs: impl IntoIterator<Item = &'a Value>) {
        for m in msgs {
            self.apply(m);
        }
    }

    /// Every difference between this model and `seen`. `exact_companies` lists the companies
    /// whose attributes only one user wrote (others may legitimately end with any writer's value,
    /// since different users are delivered concurrently).
    pub fn compare(&self, seen: &Observed, exact_companies: &BTreeSet<String>) -> Vec<String> {
        let mut diffs = Vec::new();
        for (cid, want) in &self.users {
            let matching: Vec<&Value> = seen
                .users
                .iter()
                .filter(|u| u.get("custom_id").and_then(Value::as_str) == Some(cid))
                .collect();
            if matching.len() != 1 {
                diffs.push(format!(
                    "user {cid}: expected exactly 1, found {}",
                    matching.len()
                ));
                continue;
            }
            let got = matching[0];
            if let Some(e) = &want.email {
                if got.get("email") != Some(&Value::String(e.clone())) {
                    diffs.push(format!(
                        "user {cid}: email expected {e:?}, found {:?}",
                        got.get("email")
                    ));
                }
            }
            for (k, v) in &want.attrs {
                let t = self
                    .defs
                    .get(&(Kind::User, k.clone()))
                    .cloned()
                    .unwrap_or(ValueType::String);
                if !same_typed(&t, v, got.get(k)) {
                    diffs.push(format!(
                        "user {cid}: {k} ({}) expected {v}, found {:?}",
                        t.api_name(),
                        got.get(k)
                    ));
                }
            }
            let pv = got.get("page_views").and_then(Value::as_u64).unwrap_or(0);
            if pv != want.page_views {
                diffs.push(format!(
                    "user {cid}: page_views expected {}, found {pv}",
                    want.page_views
                ));
            }
            if let Some(t) = want.last_seen {
                let found = got.get("last_seen").and_then(parse_instant);
                if found != Some(t) {
                    diffs.push(format!(
                        "user {cid}: last_seen expected {t}, found {:?}",
                        got.get("last_seen")
                    ));
                }
            }
            let events = seen.events.get(cid).cloned().unwrap_or_default();
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for e in &events {
                if let Some(n) = e.get("name").and_then(Value::as_str) {
                    *counts.entry(n.to_string()).or_default() += 1;
                }
            }
            if counts != want.events {
                diffs.push(format!(
                    "user {cid}: events expected {:?}, found {counts:?}",
                    want.events
                ));
            }
        }
        let known: BTreeSet<&str> = self.users.keys().map(String::as_str).collect();
        for u in &seen.users {
            if let Some(c) = u.get("custom_id").and_then(Value::as_str) {
                if !known.contains(c) {
                    diffs.push(format!("user {c}: not expected to exist"));
                }
            }
        }
        for (gid, want) in &self.companies {
            let matching: Vec<&Value> = seen
                .companies
                .iter()
                .filter(|c| c.get("custom_id").and_then(Value::as_str) == Some(gid))
                .collect();
            if matching.len() != 1 {
                diffs.push(format!(
                    "company {gid}: expected exactly 1, found {}",
                    matching.len()
                ));
                continue;
            }
            let got = matching[0];
            let employees: BTreeSet<i64> = got
                .get("employees")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e.as_i64().or_else(|| e.get("id").and_then(Value::as_i64)))
                        .collect()
                })
                .unwrap_or_default();
            let want_ids: BTreeSet<i64> = want
                .members
                .iter()
                .filter_map(|m| {
                    seen.users
                        .iter()
                        .find(|u| u.get("custom_id").and_then(Value::as_str) == Some(m))
                        .and_then(|u| u.get("id").and_then(Value::as_i64))
                })
                .collect();
            if employees != want_ids {
                diffs.push(format!(
                    "company {gid}: employees expected {want_ids:?}, found {employees:?}"
                ));
            }
            if exact_companies.contains(gid) {
                for (k, v) in &want.attrs {
                    let t = self
                        .defs
                        .get(&(Kind::Company, k.clone()))
                        .cloned()
                        .unwrap_or(ValueType::String);
                    if !same_typed(&t, v, got.get(k)) {
                        diffs.push(format!(
                            "company {gid}: {k} ({}) expected {v}, found {:?}",
                            t.api_name(),
                            got.get(k)
                        ));
                    }
                }
            }
        }
        for ((kind, name), t) in &self.defs {
            let def = seen.attributes.iter().find(|a| {
                a.get("name_std").and_then(Value::as_str) == Some(name)
                    && a.get("content_type").and_then(Value::as_str) == Some(kind.content_type())
            });
            match def
                .and_then(|d| d.get("value_type"))
                .and_then(Value::as_str)
            {
                Some(vt) if vt == t.api_name() => {}
                other => diffs.push(format!(
                    "{} attribute {name}: value_type expected {}, found {other:?}",
                    kind.content_type(),
                    t.api_name()
                )),
            }
        }
        diffs
    }
}

/// Merges written values; a `Null` removes the key.
fn extend_clearing(attrs: &mut BTreeMap<String, Value>, written: BTreeMap<String, Value>) {
    for (k, v) in written {
        if v.is_null() {
            attrs.remove(&k);
        } else {
            attrs.insert(k, v);
        }
    }
}

/// Compares a converted model value with what the simulator shows, by the attribute's type.
fn same_typed(t: &ValueType, want: &Value, got: Option<&Value>) -> bool {
    let Some(got) = got.filter(|g| !g.is_null()) else {
        return false;
    };
    match t {
        ValueType::Datetime => {
            parse_instant(want).is_some() && parse_instant(want) == parse_instant(got)
        }
        ValueType::Date => crate::expect::parse_date(want) == crate::expect::parse_date(got),
        _ => json_eq(want, got),
    }
}

/// The simulator's state as read through the REST API (by [`crate::sim::Sim::observe`]).
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// `GET /users/`.
    pub users: Vec<Value>,
    /// `GET /companies/`.
    pub companies: Vec<Value>,
    /// `GET /users-by-id/{id}/events/` per user custom id.
    pub events: BTreeMap<String, Vec<Value>>,
    /// `GET /attributes/`.
    pub attributes: Vec<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_docs_own_example() {
        let mut m =
            Model::with_defs([(Kind::User, "custom_integer".to_string(), ValueType::Integer)]);
        m.apply(&json!({"type": "identify", "userId": "u", "traits": {"custom_integer": "123", "custom_integer_new": 999}}));
        let u = &m.users["u"];
        assert_eq!(u.attrs["custom_integer"], json!(123));
        assert_eq!(u.attrs["custom_integer_new"], json!("999"));
        assert_eq!(
            m.defs[&(Kind::User, "custom_integer_new".to_string())],
            ValueType::String
        );
    }

    #[test]
    fn unconvertible_values_are_ignored_not_written() {
        let mut m = Model::with_defs([(Kind::User, "n".to_string(), ValueType::Integer)]);
        m.apply(&json!({"type": "identify", "userId": "u", "traits": {"n": 7}}));
        m.apply(
            &json!({"type": "identify", "userId": "u", "traits": {"n": "seven", "email": "e@x"}}),
        );
        assert_eq!(m.users["u"].attrs["n"], json!(7));
        assert_eq!(m.users["u"].email.as_deref(), Some("e@x"));
    }

    #[test]
    fn last_seen_only_moves_forward_and_anonymous_fallback() {
        let mut m = Model::default();
        for ts in ["2024-03-05T00:00:00Z", "2024-01-01T00:00:00Z"] {
            m.apply(&json!({"type": "page", "userId": null, "anonymousId": "a", "timestamp": ts}));
        }
        let u = &m.users["a"];
        assert_eq!(u.page_views, 2);
        assert_eq!(
            u.last_seen.unwrap().to_rfc3339(),
            "2024-03-05T00:00:00+00:00"
        );
    }

    #[test]
    fn conversion_table() {
        use ValueType::*;
        assert_eq!(Integer.convert(&json!(" 123 ")), Some(json!(123)));
        assert_eq!(Integer.convert(&json!(4.0)), Some(json!(4)));
        assert_eq!(Integer.convert(&json!(1.5)), None);
        assert_eq!(Integer.convert(&json!(true)), None);
        assert_eq!(Boolean.convert(&json!("FALSE")), Some(json!(false)));
        assert_eq!(Boolean.convert(&json!(1)), Some(json!(true)));
        assert_eq!(
            Date.convert(&json!("2024-05-01T10:00:00Z")),
            Some(json!("2024-05-01"))
        );
        assert_eq!(Fixed(vec!["a".into()]).convert(&json!("b")), None);
        assert_eq!(String.convert(&json!({"a": 1})), Some(json!("{\"a\":1}")));
        assert_eq!(Json.convert(&json!([1])), Some(json!([1])));
    }
}
