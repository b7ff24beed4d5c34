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
use serde_json::{json, Value};

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

    /// Converts `v` to this type by the table in `docs/CONVERSIONS.md`; `None` = cannot be
    /// converted (the value is ignored). `null` is `None` here (the caller clears).
    pub fn convert(&self, v: &Value) -> Option<Value> {
        if v.is_null() {
            return None;
        }
        match self {
            ValueType::Integer => integer_of(v).map(Value::from),
            ValueType::Float => float_of(v).map(Value::from),
            ValueType::Boolean => boolean_of(v).map(Value::Bool),
            ValueType::Date => date_of(v).map(|d| Value::String(d.format("%Y-%m-%d").to_string())),
            ValueType::Datetime => instant_of(v)
                .map(|t| Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))),
            ValueType::Fixed(choices) => {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return None,
                };
                choices.contains(&text).then_some(Value::String(text))
            }
            ValueType::String => stringify(v).map(Value::String),
            ValueType::Json => Some(v.clone()),
        }
    }
}

/// How an undefined attribute's value is stored: as text. `null` creates nothing.
pub fn stringify(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// 2^63 as a float: the first value past the signed 64-bit range.
const TWO_63: f64 = 9_223_372_036_854_775_808.0;

/// A whole float in the signed 64-bit range.
fn whole(f: f64) -> Option<i64> {
    (f.is_finite() && f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f)).then_some(f as i64)
}

/// A finite number read from a trimmed string (ASCII digits, sign, decimals, exponent).
fn number_text(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|f| f.is_finite())
}

fn integer_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Some(i),
            None if n.is_u64() => None,
            None => whole(n.as_f64()?),
        },
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(i) => Some(i),
            Err(_) => whole(number_text(s)?),
        },
        _ => None,
    }
}

fn float_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        Value::String(s) => number_text(s),
        _ => None,
    }
}

fn boolean_of(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_f64() {
            Some(1.0) => Some(true),
            Some(0.0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Unix seconds (a fraction kept to the microsecond, rounded) as an instant, when in range.
fn unix(secs: f64) -> Option<DateTime<Utc>> {
    if !secs.is_finite() {
        return None;
    }
    let floor = secs.floor();
    if !(-TWO_63..TWO_63).contains(&floor) {
        return None;
    }
    let micros = (((secs - floor) * 1_000_000.0).round() as u32).min(999_999);
    DateTime::from_timestamp(floor as i64, micros * 1000)
}

/// Exactly `YYYY-MM-DD` after trimming.
fn bare_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    (s.len() == 10)
        .then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
}

fn date_of(v: &Value) -> Option<NaiveDate> {
    match v {
        Value::Number(n) => unix(n.as_f64()?).map(|t| t.date_naive()),
        Value::String(s) => bare_date(s).or_else(|| {
            DateTime::parse_from_rfc3339(s.trim())
                .ok()
                .map(|t| t.date_naive())
        }),
        _ => None,
    }
}

fn instant_of(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::Number(n) => unix(n.as_f64()?),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Some(t.with_timezone(&Utc));
            }
            for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
                if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
                    return Some(t.and_utc());
                }
            }
            bare_date(s)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        }
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
    /// Standard and context fields the doc maps (`first_name`, `gender` as the word User.com
    /// reads back, `country`, `user_agent`, ...), by User.com field name; `email` is above.
    pub fields: BTreeMap<String, Value>,
    /// Custom attributes (already converted).
    pub attrs: BTreeMap<String, Value>,
    /// Page views.
    pub page_views: u64,
    /// Latest page view time.
    pub last_seen: Option<DateTime<Utc>>,
    /// Site views ("It also records a new ‘Page view’"), in order.
    pub site_views: Vec<SiteView>,
    /// Event occurrences, in order.
    pub events: Vec<Occurrence>,
}

/// One recorded page view.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteView {
    /// The full page URL.
    pub url: String,
    /// Its title (`properties.title`, else the page `name`).
    pub title: Option<String>,
    /// The message's time.
    pub at: DateTime<Utc>,
}

/// One event occurrence.
#[derive(Clone, Debug, PartialEq)]
pub struct Occurrence {
    /// The event name.
    pub name: String,
    /// The message's time (whole seconds: unix seconds on the wire).
    pub at: DateTime<Utc>,
    /// The properties, converted by the event attributes' types (`null` ones left out).
    pub data: BTreeMap<String, Value>,
}

/// The expected state of one company.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelCompany {
    /// Mapped fields (`name`, `email`, `phone_numbers`, `description`, `size`, `address`,
    /// `city`, `region`, `country`, `postal_code`); only meaningful when one user wrote them.
    pub fields: BTreeMap<String, Value>,
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
    /// The simulator's strict mode (User.com's REST API): event data is stored as sent, since
    /// the REST API has no event attribute definitions to convert it by.
    pub strict: bool,
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
                user.fields
                    .extend(identify_fields(&traits, &obj("context")));
                extend_clearing(&mut user.attrs, written);
            }
            Some("page") => {
                let props = obj("properties");
                let context = obj("context");
                let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
                let url = text(props.get("url"))
                    .or_else(|| text(context.get("page").and_then(|p| p.get("url"))));
                let title = text(props.get("title")).or_else(|| text(msg.get("name")));
                let at = msg.get("timestamp").and_then(parse_instant);
                let user = self.users.entry(cid).or_default();
                user.page_views += 1;
                if let Some(t) = at {
                    user.last_seen = Some(user.last_seen.map_or(t, |old| old.max(t)));
                }
                if let (Some(url), Some(at)) = (url, at) {
                    user.site_views.push(SiteView { url, title, at });
                }
            }
            Some("track") => {
                let props = obj("properties");
                let written = if self.strict {
                    props.clone().into_iter().collect()
                } else {
                    self.apply_custom(Kind::Event, &props, &[])
                };
                let name = msg
                    .get("event")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let at = msg
                    .get("timestamp")
                    .and_then(parse_instant)
                    .and_then(|t| DateTime::from_timestamp(t.timestamp(), 0))
                    .unwrap_or_default();
                let data = written.into_iter().filter(|(_, v)| !v.is_null()).collect();
                self.users
                    .entry(cid)
                    .or_default()
                    .events
                    .push(Occurrence { name, at, data });
            }
            Some("group") => {
                let Some(gid) = id("groupId") else { return };
                let traits = obj("traits");
                let written = self.apply_custom(Kind::Company, &traits, SEMANTIC_GROUP_TRAITS);
                self.users.entry(cid.clone()).or_default();
                let company = self.companies.entry(gid).or_default();
                company.members.insert(cid);
                company.fields.extend(group_fields(&traits));
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
            for (k, v) in &want.fields {
                let found = got.get(k).filter(|g| !g.is_null());
                if !found.is_some_and(|g| json_eq(v, g)) {
                    diffs.push(format!("user {cid}: {k} expected {v}, found {found:?}"));
                }
            }
            // Occurrences: (name, time, data) as multisets (one user's messages are applied in
            // order, but the listing order is the simulator's).
            let found_events = seen.events.get(cid).cloned().unwrap_or_default();
            let mut want_ev: Vec<String> = want
                .events
                .iter()
                .map(|o| {
                    let data: serde_json::Map<String, Value> =
                        o.data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    occurrence_key(&o.name, Some(o.at), &Value::Object(data))
                })
                .collect();
            let mut got_ev: Vec<String> = found_events
                .iter()
                .map(|e| {
                    occurrence_key(
                        e.get("name").and_then(Value::as_str).unwrap_or_default(),
                        e.get("timestamp").and_then(parse_instant),
                        e.get("data").unwrap_or(&Value::Null),
                    )
                })
                .collect();
            want_ev.sort();
            got_ev.sort();
            if want_ev != got_ev {
                diffs.push(format!(
                    "user {cid}: occurrences (name @ time data) expected {want_ev:#?}, found {got_ev:#?}"
                ));
            }
            let views = seen.site_views.get(cid).cloned().unwrap_or_default();
            let mut want_views: Vec<String> = want
                .site_views
                .iter()
                .map(|v| format!("{} @ {} {:?}", v.url, v.at.to_rfc3339(), v.title))
                .collect();
            let mut got_views: Vec<String> = views
                .iter()
                .map(|v| {
                    format!(
                        "{} @ {} {:?}",
                        v.get("page_domain")
                            .and_then(Value::as_str)
                            .unwrap_or_default(),
                        v.get("timestamp")
                            .and_then(parse_instant)
                            .map(|t| t.to_rfc3339())
                            .unwrap_or_default(),
                        v.get("title").and_then(Value::as_str)
                    )
                })
                .collect();
            want_views.sort();
            got_views.sort();
            if want_views != got_views {
                diffs.push(format!(
                    "user {cid}: site views expected {want_views:?}, found {got_views:?}"
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
                for (k, v) in &want.fields {
                    let found = got.get(k).filter(|g| !g.is_null());
                    if !found.is_some_and(|g| json_eq(v, g)) {
                        diffs.push(format!("company {gid}: {k} expected {v}, found {found:?}"));
                    }
                }
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

/// The standard and context fields of an identify (design.md, "Per call"), by User.com name.
/// `null` standard traits are not generated by the properties and are left out here.
pub fn identify_fields(
    traits: &serde_json::Map<String, Value>,
    context: &serde_json::Map<String, Value>,
) -> BTreeMap<String, Value> {
    let mut f = BTreeMap::new();
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(|s| Value::String(s.to_string()))
    };
    let first = text(traits.get("firstName")).or_else(|| text(traits.get("first_name")));
    let last = text(traits.get("lastName")).or_else(|| text(traits.get("last_name")));
    if first.is_none() && last.is_none() {
        if let Some(name) = traits.get("name").and_then(Value::as_str) {
            let name = name.trim();
            if let Some((a, b)) = name.split_once(char::is_whitespace) {
                f.insert("first_name".into(), json!(a));
                if !b.trim().is_empty() {
                    f.insert("last_name".into(), json!(b.trim()));
                }
            } else if !name.is_empty() {
                f.insert("first_name".into(), json!(name));
            }
        }
    }
    f.extend(first.map(|v| ("first_name".to_string(), v)));
    f.extend(last.map(|v| ("last_name".to_string(), v)));
    if let Some(p) = text(traits.get("phone")) {
        f.insert("phone_number".into(), p);
    }
    if let Some(g) = traits.get("gender").filter(|g| !g.is_null()) {
        let word = match g.as_str().map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            Some("male" | "m") => "male",
            Some("female" | "f") => "female",
            _ => "unknown",
        };
        f.insert("gender".into(), json!(word));
    }
    if let Some(a) = traits.get("address").and_then(Value::as_object) {
        let region = text(a.get("state")).or_else(|| text(a.get("region")));
        for (to, v) in [
            ("country", text(a.get("country"))),
            ("region", region),
            ("city", text(a.get("city"))),
        ] {
            if let Some(v) = v {
                f.insert(to.into(), v);
            }
        }
    }
    let at = |path: &[&str]| {
        let mut v = context.get(path[0])?;
        for k in &path[1..] {
            v = v.get(*k)?;
        }
        v.as_str().map(|s| Value::String(s.to_string()))
    };
    for (to, path) in [
        ("user_agent", &["userAgent"][..]),
        ("os", &["os", "name"]),
        ("device_name", &["device", "name"]),
        ("device_type", &["device", "type"]),
        ("language", &["locale"]),
        ("ip_address", &["ip"]),
        ("timezone", &["timezone"]),
        ("current_url", &["page", "url"]),
    ] {
        if let Some(v) = at(path) {
            f.insert(to.into(), v);
        }
    }
    if let Some(screen) = context.get("screen") {
        if let (Some(w), Some(h)) = (screen.get("width"), screen.get("height")) {
            f.insert("resolution".into(), json!(format!("{w}x{h}")));
        }
    }
    f
}

/// The company fields of a group (design.md, "Per call"), by User.com name.
pub fn group_fields(traits: &serde_json::Map<String, Value>) -> BTreeMap<String, Value> {
    let mut f = BTreeMap::new();
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(|s| Value::String(s.to_string()))
    };
    for k in ["name", "email", "description"] {
        if let Some(v) = text(traits.get(k)) {
            f.insert(k.to_string(), v);
        }
    }
    if let Some(p) = traits
        .get("phone")
        .and_then(Value::as_str)
        .filter(|p| !p.trim().is_empty())
    {
        f.insert("phone_numbers".into(), json!([p]));
    }
    if let Some(size) = traits
        .get("employees")
        .and_then(integer_of)
        .filter(|n| *n >= 0)
    {
        f.insert("size".into(), json!(size));
    }
    match traits.get("address") {
        Some(Value::Object(a)) => {
            let part = |k: &str| {
                a.get(k)
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
            };
            let region = part("state").or_else(|| part("region"));
            let postal = part("postalCode").or_else(|| part("postal_code"));
            let line: Vec<&str> = [
                part("street"),
                part("city"),
                region,
                postal,
                part("country"),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !line.is_empty() {
                f.insert("address".into(), json!(line.join(", ")));
            }
            for (to, v) in [
                ("city", part("city")),
                ("region", region),
                ("country", part("country")),
                ("postal_code", postal),
            ] {
                if let Some(v) = v {
                    f.insert(to.into(), json!(v));
                }
            }
        }
        Some(Value::String(s)) => {
            f.insert("address".into(), json!(s));
        }
        _ => {}
    }
    f
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
    /// Site views per user custom id (the state dump: the REST API has no read of them).
    pub site_views: BTreeMap<String, Vec<Value>>,
}

/// A comparable text for one occurrence: name, instant, and data with numbers as floats and
/// `null` values left out (absent and `null` are one thing).
fn occurrence_key(name: &str, at: Option<DateTime<Utc>>, data: &Value) -> String {
    fn canon(v: &Value) -> Value {
        match v {
            Value::Number(n) => n.as_f64().map_or(v.clone(), |f| json!(f)),
            Value::Array(a) => Value::Array(a.iter().map(canon).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), canon(v)))
                    .collect::<BTreeMap<_, _>>()
                    .into_iter()
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    let data = match data {
        Value::Null => Value::Object(Default::default()),
        other => canon(other),
    };
    format!(
        "{name} @ {} {data}",
        at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "?".into())
    )
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
        // The edges of docs/CONVERSIONS.md.
        assert_eq!(Integer.convert(&json!("4.0")), Some(json!(4)));
        assert_eq!(Integer.convert(&json!("1e3")), Some(json!(1000)));
        assert_eq!(Integer.convert(&json!("\u{a0}7\u{a0}")), Some(json!(7)));
        assert_eq!(Integer.convert(&json!("\u{664}\u{662}")), None);
        assert_eq!(Integer.convert(&json!("9223372036854775808")), None);
        assert_eq!(Integer.convert(&json!(u64::MAX)), None);
        assert_eq!(Integer.convert(&json!("1e400")), None);
        assert_eq!(Float.convert(&json!("NaN")), None);
        assert_eq!(Boolean.convert(&json!(1.0)), Some(json!(true)));
        assert_eq!(Boolean.convert(&json!("1.0")), None);
        assert_eq!(Date.convert(&json!("2024-05-01T10:00:00")), None);
        assert_eq!(
            Date.convert(&json!("2024-05-01T23:30:00-05:00")),
            Some(json!("2024-05-01"))
        );
        assert_eq!(
            Datetime.convert(&json!(0.5)),
            Some(json!("1970-01-01T00:00:00.500Z"))
        );
        assert_eq!(Datetime.convert(&json!("1700000000")), None);
        assert_eq!(Datetime.convert(&json!(1e20)), None);
        assert_eq!(Fixed(vec!["1".into()]).convert(&json!(1)), Some(json!("1")));
        assert_eq!(String.convert(&json!({"a": 1})), Some(json!("{\"a\":1}")));
        assert_eq!(Json.convert(&json!([1])), Some(json!([1])));
    }
}
