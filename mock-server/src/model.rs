//! The per-app data model and every state transition the REST API can cause.
//!
//! All functions here are synchronous and run under the app's mutex (see [`crate::store`]): a
//! request locks its app once, validates, applies, builds its small response and unlocks. That
//! makes each request atomic (in particular `update_or_create` per `custom_id`) without any lock
//! held across an `.await`.
//!
//! Validation always happens before the first mutation, so a 400 leaves the state untouched.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::coerce::{self, AttrDef, ContentType, ValueType};
use crate::error::{Error, Result};
use crate::time::{fmt_ts, Clock};

/// Notes collected while applying a request (dropped attributes, ignored read-only fields); they
/// end up in the request journal.
pub type Notes = Vec<String>;

/// How a standard (non-custom) field is validated on write.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// A string (or null), with a maximum length in characters (0 = none).
    Str(usize),
    /// An e-mail address (or null / empty).
    Email,
    /// Integer 1 = unknown, 2 = male, 3 = female; reads as the word.
    Gender,
    /// Integer 1 = visitor, 2 = user; reads as the word.
    Status,
    /// A boolean.
    Bool,
    /// An integer.
    Int,
    /// A list of strings (a single string is accepted and wrapped).
    StrList,
}

/// The user's writable standard fields: v2 fields (usercom-api.md §2.2, §2.4) and the profile
/// fields the destination doc names.
const USER_FIELDS: &[(&str, Kind)] = &[
    ("assigned_to", Kind::Int),
    ("browser", Kind::Str(0)),
    ("browser_family", Kind::Str(0)),
    ("browser_language", Kind::Str(0)),
    ("browser_version", Kind::Str(0)),
    ("city", Kind::Str(64)),
    ("country", Kind::Str(0)),
    ("current_url", Kind::Str(0)),
    ("device_name", Kind::Str(0)),
    ("device_type", Kind::Str(0)),
    ("email", Kind::Email),
    ("facebook_url", Kind::Str(0)),
    ("first_name", Kind::Str(40)),
    ("gender", Kind::Gender),
    ("google_url", Kind::Str(0)),
    ("gravatar_url", Kind::Str(0)),
    ("ip_address", Kind::Str(0)),
    ("language", Kind::Str(0)),
    ("last_ip", Kind::Str(0)),
    ("last_name", Kind::Str(40)),
    ("linkedin_url", Kind::Str(0)),
    ("notifications", Kind::Bool),
    ("os", Kind::Str(0)),
    ("os_type", Kind::Str(0)),
    ("phone_number", Kind::Str(64)),
    ("region", Kind::Str(0)),
    ("resolution", Kind::Str(0)),
    ("score", Kind::Int),
    ("status", Kind::Status),
    ("timezone", Kind::Str(0)),
    ("twitter_url", Kind::Str(0)),
    ("unsubscribed", Kind::Bool),
    ("user_agent", Kind::Str(0)),
    ("web_push_subscription", Kind::Bool),
];

/// Never written by a request body (ignored with a journal note).
const USER_READ_ONLY: &[&str] = &[
    "id",
    "user_key",
    "page_views",
    "first_seen",
    "last_seen",
    "created_at",
    "updated_at",
    "companies",
    "employees",
    "name",
    "lists",
    "last_contacted",
];

const COMPANY_FIELDS: &[(&str, Kind)] = &[
    ("address", Kind::Str(0)),
    ("assigned_to", Kind::Int),
    ("city", Kind::Str(0)),
    ("country", Kind::Str(0)),
    ("description", Kind::Str(0)),
    ("email", Kind::Str(0)),
    ("name", Kind::Str(0)),
    ("phone_numbers", Kind::StrList),
    ("postal_code", Kind::Str(0)),
    ("region", Kind::Str(0)),
    ("size", Kind::Int),
];

const COMPANY_READ_ONLY: &[&str] = &["id", "employees", "created_at", "updated_at"];

/// Names an attribute definition may not take (they are standard or read-only fields).
pub fn reserved_name(ct: ContentType, name_std: &str) -> bool {
    let special = [
        "custom_id",
        "tags",
        "user_id",
        "company_custom_id",
        "custom_attributes",
    ];
    match ct {
        ContentType::Clientuser => {
            USER_FIELDS.iter().any(|(n, _)| *n == name_std)
                || USER_READ_ONLY.contains(&name_std)
                || special.contains(&name_std)
        }
        ContentType::Company => {
            COMPANY_FIELDS.iter().any(|(n, _)| *n == name_std)
                || COMPANY_READ_ONLY.contains(&name_std)
                || special.contains(&name_std)
        }
        ContentType::Event => false,
    }
}

fn kind_of(table: &'static [(&'static str, Kind)], key: &str) -> Option<(&'static str, Kind)> {
    // The tables are sorted by name: binary search keeps lookups cheap.
    table
        .binary_search_by(|(n, _)| (*n).cmp(key))
        .ok()
        .map(|i| table[i])
}

fn validate(field: &str, kind: Kind, v: &Value) -> Result<Value> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let type_err =
        |expected: &str| Error::bad(field, format!("expected {expected}, got {}", type_name(v)));
    match kind {
        Kind::Str(max) => {
            let s = v.as_str().ok_or_else(|| type_err("a string"))?;
            if max > 0 && s.chars().count() > max {
                return Err(Error::bad(field, format!("longer than {max} characters")));
            }
            Ok(v.clone())
        }
        Kind::Email => {
            let s = v.as_str().ok_or_else(|| type_err("a string"))?;
            if !s.is_empty() {
                let ok = match s.split_once('@') {
                    Some((local, domain)) => {
                        !local.is_empty()
                            && !domain.is_empty()
                            && !domain.contains('@')
                            && !s.contains(char::is_whitespace)
                    }
                    None => false,
                };
                if !ok {
                    return Err(Error::bad(
                        field,
                        format!("`{s}` is not a valid e-mail address"),
                    ));
                }
            }
            Ok(v.clone())
        }
        Kind::Gender => match v.as_i64() {
            Some(n @ 1..=3) => Ok(Value::from(n)),
            _ => Err(Error::bad(
                field,
                format!("expected 1 (unknown), 2 (male) or 3 (female), got {v}"),
            )),
        },
        Kind::Status => match v.as_i64() {
            Some(n @ 1..=2) => Ok(Value::from(n)),
            _ => Err(Error::bad(
                field,
                format!("expected 1 (visitor) or 2 (user), got {v}"),
            )),
        },
        Kind::Bool => v
            .is_boolean()
            .then(|| v.clone())
            .ok_or_else(|| type_err("a boolean")),
        Kind::Int => v
            .as_i64()
            .map(Value::from)
            .ok_or_else(|| type_err("an integer")),
        Kind::StrList => match v {
            Value::String(s) => Ok(json!([s])),
            Value::Array(items) if items.iter().all(Value::is_string) => Ok(v.clone()),
            _ => Err(type_err("a list of strings")),
        },
    }
}

/// A JSON value's type, for error messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// An optional string field (`custom_id`, …): string or null; numbers are accepted and written as
/// their decimal text because ids often arrive as numbers.
fn opt_id(field: &str, v: &Value) -> Result<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Some(n.to_string())),
        other => Err(Error::bad(
            field,
            format!("expected a string, got {}", type_name(other)),
        )),
    }
}

fn tag_list(field: &str, v: &Value) -> Result<Vec<String>> {
    match v {
        Value::Null => Ok(vec![]),
        Value::Array(items) => items
            .iter()
            .map(|t| {
                t.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Error::bad(field, "expected a list of tag names (strings)"))
            })
            .collect(),
        other => Err(Error::bad(
            field,
            format!("expected a list of strings, got {}", type_name(other)),
        )),
    }
}

/// A user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    /// Sequential per app.
    pub id: u64,
    /// 12 lowercase alphanumerics from the app's seeded generator.
    pub user_key: String,
    /// The client's id, unique per app.
    pub custom_id: Option<String>,
    /// Standard fields as validated (gender/status as their integer codes).
    pub fields: BTreeMap<String, Value>,
    /// Custom attributes by `name_std`, converted to their defined type.
    pub custom: BTreeMap<String, Value>,
    /// Tag ids.
    pub tags: Vec<u64>,
    /// Site views counted.
    pub page_views: u64,
    /// First site view.
    pub first_seen: Option<DateTime<Utc>>,
    /// Latest site view time (never moves back).
    pub last_seen: Option<DateTime<Utc>>,
    /// Creation time (app clock).
    pub created_at: DateTime<Utc>,
    /// Last write through the API (app clock).
    pub updated_at: DateTime<Utc>,
}

/// A company.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Company {
    /// Sequential per app.
    pub id: u64,
    /// The client's id (`groupId`), unique per app.
    pub custom_id: Option<String>,
    /// Standard fields.
    pub fields: BTreeMap<String, Value>,
    /// Custom attributes by `name_std`.
    pub custom: BTreeMap<String, Value>,
    /// Tag ids.
    pub tags: Vec<u64>,
    /// Member user id → member since.
    pub members: BTreeMap<u64, DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last write.
    pub updated_at: DateTime<Utc>,
}

/// An event definition (created by the first occurrence of a name).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventDef {
    /// Sequential per app.
    pub id: u64,
    /// The event name as first sent.
    pub name: String,
}

/// One event occurrence, stored compactly: the name as a definition id and the converted data as
/// its JSON text (events are written far more often than read).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Occurrence {
    /// Sequential per app.
    pub id: u64,
    /// Internal user id.
    pub user_id: u64,
    /// Event definition id.
    pub event: u64,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// The converted `data` object as JSON text (`""` for an empty object).
    pub data: Box<str>,
}

/// One site view (page view).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteView {
    /// Sequential per app.
    pub id: u64,
    /// Internal user id.
    pub user_id: u64,
    /// View time.
    pub timestamp: DateTime<Utc>,
    /// The page URL (`page_domain` carries the full URL in User.com's API).
    pub page_domain: Box<str>,
    /// The path.
    pub page_path: Box<str>,
    /// The title, when sent.
    pub title: Option<Box<str>>,
}

/// Per-app id counters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ids {
    user: u64,
    company: u64,
    attribute: u64,
    event_def: u64,
    occurrence: u64,
    site_view: u64,
    tag: u64,
}

/// Everything an app holds. Indexes are rebuilt after loading ([`AppData::reindex`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppData {
    /// The app's clock.
    pub clock: Clock,
    ids: Ids,
    rng: u64,
    users: BTreeMap<u64, User>,
    companies: BTreeMap<u64, Company>,
    attributes: Vec<AttrDef>,
    event_defs: Vec<EventDef>,
    occurrences: Vec<Occurrence>,
    site_views: Vec<SiteView>,
    tags: Vec<String>,
    #[serde(skip)]
    idx: Indexes,
}

#[derive(Debug, Clone, Default)]
struct Indexes {
    user_by_custom_id: FastMap<String, u64>,
    user_by_key: FastMap<String, u64>,
    company_by_custom_id: FastMap<String, u64>,
    /// Attribute definition index by `name_std`, one map per content type (indexed by
    /// [`ct_slot`]) so a lookup takes a `&str` instead of building an owned key.
    attr: [FastMap<String, usize>; 3],
    event_by_name: FastMap<String, u64>,
    tag_by_name: FastMap<String, u64>,
}

/// A `HashMap` with [`FastHasher`]: the per-request index lookups (user by custom id or key,
/// attribute by name, event by name, API key) hash short strings, where SipHash cost ~3% of
/// all instructions per request.
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// A small multiply-rotate hasher (the FxHash construction, 8 bytes per step) for the in-memory
/// indexes. Not DoS-resistant: the simulator is a local test tool and its keys come from the
/// tests driving it; a pathological key set only makes lookups slower, never wrong.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl FastHasher {
    const K: u64 = 0xf135_7aea_2e62_a9c5;

    fn add(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(Self::K);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // The multiply leaves the best-mixed bits at the top; hashbrown takes its bucket index
        // from the low bits and its tag from the top 7, so rotate high bits down.
        self.0.rotate_left(26)
    }
}

/// FNV-1a: a stable seed from the app name (std's hasher is randomised per process).
fn seed_for(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// splitmix64: tiny, well-distributed, and stable across crate versions (unlike a library RNG
/// whose algorithm may change), which keeps `user_key`s reproducible.
pub(crate) fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Patch parsed from a user body (validated, not yet applied).
#[derive(Default)]
struct UserPatch {
    custom_id: Option<Option<String>>,
    fields: Vec<(&'static str, Value)>,
    tags: Vec<String>,
    company: Option<u64>,
    custom: Vec<(String, Value)>,
}

#[derive(Default)]
struct CompanyPatch {
    custom_id: Option<Option<String>>,
    fields: Vec<(&'static str, Value)>,
    tags: Vec<String>,
    custom: Vec<(String, Value)>,
}

/// Result of recording an event.
#[derive(Debug, Clone, Copy)]
pub struct EventOutcome {
    /// Occurrence id.
    pub id: u64,
    /// True when this name was used for the first time (the event definition was created).
    pub created: bool,
}

impl AppData {
    /// An empty app whose user-key generator is seeded from its name.
    pub fn new(name: &str) -> Self {
        AppData {
            clock: Clock::default(),
            ids: Ids::default(),
            rng: seed_for(name),
            users: BTreeMap::new(),
            companies: BTreeMap::new(),
            attributes: Vec::new(),
            event_defs: Vec::new(),
            occurrences: Vec::new(),
            site_views: Vec::new(),
            tags: Vec::new(),
            idx: Indexes::default(),
        }
    }

    /// Rebuild the lookup indexes (after deserialising a state file).
    pub fn reindex(&mut self) {
        let mut idx = Indexes::default();
        for u in self.users.values() {
            if let Some(c) = &u.custom_id {
                idx.user_by_custom_id.insert(c.clone(), u.id);
            }
            idx.user_by_key.insert(u.user_key.clone(), u.id);
        }
        for c in self.companies.values() {
            if let Some(cid) = &c.custom_id {
                idx.company_by_custom_id.insert(cid.clone(), c.id);
            }
        }
        for (i, a) in self.attributes.iter().enumerate() {
            idx.attr[ct_slot(a.content_type)].insert(a.name_std.clone(), i);
        }
        for e in &self.event_defs {
            idx.event_by_name.insert(e.name.clone(), e.id);
        }
        for (i, t) in self.tags.iter().enumerate() {
            idx.tag_by_name.insert(t.clone(), i as u64 + 1);
        }
        self.idx = idx;
    }

    /// The app's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn next_user_key(&mut self) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        loop {
            let key: String = (0..12)
                .map(|_| ALPHABET[(splitmix(&mut self.rng) % 36) as usize] as char)
                .collect();
            if !self.idx.user_by_key.contains_key(&key) {
                return key;
            }
        }
    }

    // ----- attributes -------------------------------------------------------------------------

    /// Define an attribute. Errors name the field: an existing `name_std` for the content type, a
    /// reserved name, or a `fixed` type without choices.
    pub fn define_attribute(
        &mut self,
        name: &str,
        value_type: ValueType,
        content_type: ContentType,
        choices: Vec<String>,
        allow_multiple_choices: bool,
    ) -> Result<&AttrDef> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 32 {
            return Err(Error::bad("name", "must be 1 to 32 characters"));
        }
        let std = coerce::name_std(name);
        if reserved_name(content_type, &std) {
            return Err(Error::bad(
                "name",
                format!("`{std}` is a standard field, not a custom attribute"),
            ));
        }
        if self.idx.attr[ct_slot(content_type)].contains_key(&std) {
            return Err(Error::bad(
                "name",
                format!(
                    "a {} attribute `{std}` already exists",
                    content_type.as_str()
                ),
            ));
        }
        if value_type == ValueType::Fixed && choices.is_empty() {
            return Err(Error::bad(
                "choices",
                "required (a non-empty list) for a fixed attribute",
            ));
        }
        Ok(self.push_attr(
            name.to_owned(),
            std,
            value_type,
            content_type,
            choices,
            allow_multiple_choices,
        ))
    }

    fn push_attr(
        &mut self,
        name: String,
        name_std: String,
        value_type: ValueType,
        content_type: ContentType,
        choices: Vec<String>,
        allow_multiple_choices: bool,
    ) -> &AttrDef {
        self.ids.attribute += 1;
        let def = AttrDef {
            id: self.ids.attribute,
            name,
            name_std: name_std.clone(),
            value_type,
            content_type,
            choices,
            allow_multiple_choices,
        };
        self.idx.attr[ct_slot(content_type)].insert(name_std, self.attributes.len());
        self.attributes.push(def);
        &self.attributes[self.attributes.len() - 1]
    }

    /// Attribute definitions, optionally of one content type, in id order.
    pub fn attributes(&self, ct: Option<ContentType>) -> impl Iterator<Item = &AttrDef> {
        self.attributes
            .iter()
            .filter(move |a| ct.is_none_or(|c| a.content_type == c))
    }

    /// The conversion rule for one custom key. Returns the value to store (`Some(Value::Null)`
    /// clears a defined attribute) or `None` when nothing is written. The name borrows `key`
    /// when `key` already is its own `name_std` (no allocation on the hot path).
    fn convert_custom<'k>(
        &mut self,
        ct: ContentType,
        key: &'k str,
        v: &Value,
        notes: &mut Notes,
    ) -> Option<(Cow<'k, str>, Value)> {
        let std = coerce::name_std_cow(key);
        if std.is_empty() {
            notes.push(format!(
                "ignored {} attribute with an empty name",
                ct.as_str()
            ));
            return None;
        }
        match self.idx.attr[ct_slot(ct)].get(&*std) {
            Some(&i) => {
                if v.is_null() {
                    return Some((std, Value::Null));
                }
                let def = &self.attributes[i];
                match coerce::convert(def, v) {
                    Some(c) => Some((std, c)),
                    None => {
                        notes.push(format!(
                            "dropped {} attribute `{std}`: {v} cannot be converted to {}",
                            ct.as_str(),
                            def.value_type.as_str()
                        ));
                        None
                    }
                }
            }
            None if v.is_null() => None,
            None => {
                // The destination doc: an unknown attribute is created with type string.
                self.push_attr(
                    key.trim().to_owned(),
                    std.clone().into_owned(),
                    ValueType::String,
                    ct,
                    vec![],
                    false,
                );
                notes.push(format!(
                    "defined {} attribute `{std}` as string",
                    ct.as_str()
                ));
                Some((std, Value::String(coerce::stringify(v))))
            }
        }
    }

    fn tag_ids(&mut self, names: &[String]) -> Vec<u64> {
        names
            .iter()
            .map(|n| match self.idx.tag_by_name.get(n) {
                Some(&id) => id,
                None => {
                    self.tags.push(n.clone());
                    self.ids.tag = self.tags.len() as u64;
                    self.idx.tag_by_name.insert(n.clone(), self.ids.tag);
                    self.ids.tag
                }
            })
            .collect()
    }

    fn tags_json(&self, ids: &[u64]) -> Value {
        ids.iter()
            .map(|&id| json!({"id": id, "name": self.tags.get(id as usize - 1).cloned().unwrap_or_default()}))
            .collect::<Vec<_>>()
            .into()
    }

    // ----- users --------------------------------------------------------------------------------

    /// Find a user by internal id.
    pub fn user(&self, id: u64) -> Option<&User> {
        self.users.get(&id)
    }

    /// Find a user id by custom id.
    pub fn user_id_by_custom_id(&self, cid: &str) -> Option<u64> {
        self.idx.user_by_custom_id.get(cid).copied()
    }

    /// Find a user id by user key.
    pub fn user_id_by_key(&self, key: &str) -> Option<u64> {
        self.idx.user_by_key.get(key).copied()
    }

    /// Users with this e-mail (exact match), in id order.
    pub fn user_ids_by_email(&self, email: &str) -> Vec<u64> {
        self.users
            .values()
            .filter(|u| u.fields.get("email").and_then(Value::as_str) == Some(email))
            .map(|u| u.id)
            .collect()
    }

    /// All user ids in order.
    pub fn user_ids(&self) -> impl ExactSizeIterator<Item = u64> + '_ {
        self.users.keys().copied()
    }

    fn parse_user_patch(
        &self,
        body: &Map<String, Value>,
        this: Option<u64>,
        notes: &mut Notes,
    ) -> Result<UserPatch> {
        let mut p = UserPatch::default();
        for (key, v) in body {
            if let Some((name, kind)) = kind_of(USER_FIELDS, key) {
                p.fields.push((name, validate(key, kind, v)?));
                continue;
            }
            match key.as_str() {
                "custom_id" => p.custom_id = Some(opt_id(key, v)?),
                "tags" => p.tags = tag_list(key, v)?,
                "company_custom_id" => {
                    if let Some(cid) = opt_id(key, v)? {
                        let id = self
                            .idx
                            .company_by_custom_id
                            .get(&cid)
                            .copied()
                            .ok_or_else(|| {
                                Error::bad(key, format!("no company with custom_id `{cid}`"))
                            })?;
                        p.company = Some(id);
                    }
                }
                "custom_attributes" => match v {
                    // Sent by some clients (usercom-node-sdk): a nested map of custom attributes.
                    Value::Object(m) => p
                        .custom
                        .extend(m.iter().map(|(k, v)| (k.clone(), v.clone()))),
                    Value::Null => {}
                    other => {
                        return Err(Error::bad(
                            key,
                            format!("expected an object, got {}", type_name(other)),
                        ))
                    }
                },
                k if USER_READ_ONLY.contains(&k) => {
                    notes.push(format!("ignored read-only field `{k}`"))
                }
                _ => p.custom.push((key.clone(), v.clone())),
            }
        }
        // v1 clients send the custom id as `user_id`; honour it when `custom_id` is absent.
        if p.custom_id.is_none() {
            if let Some(i) = p.custom.iter().position(|(k, _)| k == "user_id") {
                let (_, v) = p.custom.remove(i);
                p.custom_id = Some(opt_id("user_id", &v)?);
            }
        }
        if let Some(Some(cid)) = &p.custom_id {
            if let Some(&owner) = self.idx.user_by_custom_id.get(cid) {
                if Some(owner) != this {
                    return Err(Error::bad(
                        "custom_id",
                        format!("`{cid}` is already used by user {owner}"),
                    ));
                }
            }
        }
        Ok(p)
    }

    fn apply_user_patch(&mut self, id: u64, p: UserPatch, notes: &mut Notes) {
        let now = self.now();
        let custom: Vec<(String, Value)> = p
            .custom
            .iter()
            .filter_map(|(k, v)| {
                self.convert_custom(ContentType::Clientuser, k, v, notes)
                    .map(|(k, v)| (k.into_owned(), v))
            })
            .collect();
        let tags = self.tag_ids(&p.tags);
        if let Some(cid) = p.company {
            if let Some(c) = self.companies.get_mut(&cid) {
                c.members.entry(id).or_insert(now);
            }
        }
        let Some(user) = self.users.get_mut(&id) else {
            return;
        };
        if let Some(new_cid) = p.custom_id {
            if let Some(old) = user.custom_id.take() {
                self.idx.user_by_custom_id.remove(&old);
            }
            if let Some(c) = &new_cid {
                self.idx.user_by_custom_id.insert(c.clone(), id);
            }
            user.custom_id = new_cid;
        }
        for (name, v) in p.fields {
            user.fields.insert(name.to_owned(), v);
        }
        for (k, v) in custom {
            if v.is_null() {
                user.custom.remove(&k);
            } else {
                user.custom.insert(k, v);
            }
        }
        for t in tags {
            // Tags are only ever added (usercom-api.md §2.4).
            if !user.tags.contains(&t) {
                user.tags.push(t);
            }
        }
        user.updated_at = now;
    }

    fn insert_user(&mut self) -> u64 {
        let now = self.now();
        self.ids.user += 1;
        let id = self.ids.user;
        let key = self.next_user_key();
        self.idx.user_by_key.insert(key.clone(), id);
        self.users.insert(
            id,
            User {
                id,
                user_key: key,
                custom_id: None,
                fields: BTreeMap::new(),
                custom: BTreeMap::new(),
                tags: vec![],
                page_views: 0,
                first_seen: None,
                last_seen: None,
                created_at: now,
                updated_at: now,
            },
        );
        id
    }

    /// `POST /users/`: create a user. A `custom_id` already in use is a 400.
    pub fn create_user(&mut self, body: &Map<String, Value>, notes: &mut Notes) -> Result<u64> {
        let patch = self.parse_user_patch(body, None, notes)?;
        let id = self.insert_user();
        self.apply_user_patch(id, patch, notes);
        Ok(id)
    }

    /// `PUT /users/{id}/` and `set_multiple_attributes`: partial update.
    pub fn update_user(
        &mut self,
        id: u64,
        body: &Map<String, Value>,
        notes: &mut Notes,
    ) -> Result<()> {
        if !self.users.contains_key(&id) {
            return Err(Error::not_found(format!("no user with id {id}")));
        }
        let patch = self.parse_user_patch(body, Some(id), notes)?;
        self.apply_user_patch(id, patch, notes);
        Ok(())
    }

    /// `POST /users/update_or_create/`: upsert on `custom_id` → (created, id). Atomic because the
    /// whole call runs under the app's lock.
    pub fn update_or_create(
        &mut self,
        body: &Map<String, Value>,
        notes: &mut Notes,
    ) -> Result<(bool, u64)> {
        let cid = match body.get("custom_id").or_else(|| body.get("user_id")) {
            Some(v) => opt_id("custom_id", v)?,
            None => None,
        };
        match cid.and_then(|c| self.user_id_by_custom_id(&c)) {
            Some(id) => self.update_user(id, body, notes).map(|()| (false, id)),
            None => self.create_user(body, notes).map(|id| (true, id)),
        }
    }

    /// `DELETE`: remove the user, their memberships, events and site views.
    pub fn delete_user(&mut self, id: u64) -> Result<()> {
        let user = self
            .users
            .remove(&id)
            .ok_or_else(|| Error::not_found(format!("no user with id {id}")))?;
        self.idx.user_by_key.remove(&user.user_key);
        if let Some(c) = &user.custom_id {
            self.idx.user_by_custom_id.remove(c);
        }
        for c in self.companies.values_mut() {
            c.members.remove(&id);
        }
        self.occurrences.retain(|o| o.user_id != id);
        self.site_views.retain(|s| s.user_id != id);
        Ok(())
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

    // ----- site views and events ------------------------------------------------------------------

    /// `POST /site-views/`: count the view, move `last_seen` forward only, set `first_seen` once.
    pub fn record_site_view(
        &mut self,
        user_id: u64,
        at: DateTime<Utc>,
        page_domain: &str,
        page_path: &str,
        title: Option<&str>,
    ) -> u64 {
        self.ids.site_view += 1;
        let id = self.ids.site_view;
        if let Some(u) = self.users.get_mut(&user_id) {
            u.page_views += 1;
            if u.last_seen.is_none_or(|t| at > t) {
                u.last_seen = Some(at);
            }
            if u.first_seen.is_none() {
                u.first_seen = Some(at);
            }
        }
        self.site_views.push(SiteView {
            id,
            user_id,
            timestamp: at,
            page_domain: page_domain.into(),
            page_path: page_path.into(),
            title: title.map(Into::into),
        });
        id
    }

    /// Record an event occurrence; `data` keys go through the `event` attribute rules.
    pub fn record_event(
        &mut self,
        user_id: u64,
        name: &str,
        at: DateTime<Utc>,
        data: Option<&Map<String, Value>>,
        notes: &mut Notes,
    ) -> EventOutcome {
        let (event, created) = match self.idx.event_by_name.get(name) {
            Some(&id) => (id, false),
            None => {
                self.ids.event_def += 1;
                let id = self.ids.event_def;
                self.event_defs.push(EventDef {
                    id,
                    name: name.to_owned(),
                });
                self.idx.event_by_name.insert(name.to_owned(), id);
                (id, true)
            }
        };
        // The converted pairs in first-seen key order, a later value replacing an earlier one of
        // the same `name_std` (what inserting into a JSON map did), written straight to text.
        let mut stored: Vec<(Cow<'_, str>, Value)> = Vec::new();
        if let Some(data) = data {
            stored.reserve(data.len());
            for (k, v) in data {
                if let Some((k, v)) = self.convert_custom(ContentType::Event, k, v, notes) {
                    if v.is_null() {
                        continue;
                    }
                    match stored.iter_mut().find(|(s, _)| *s == k) {
                        Some(slot) => slot.1 = v,
                        None => stored.push((k, v)),
                    }
                }
            }
        }
        let text: Box<str> = if stored.is_empty() {
            Box::from("")
        } else {
            data_text(&stored).into_boxed_str()
        };
        self.ids.occurrence += 1;
        let id = self.ids.occurrence;
        self.occurrences.push(Occurrence {
            id,
            user_id,
            event,
            timestamp: at,
            data: text,
        });
        EventOutcome { id, created }
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

    // ----- companies ----------------------------------------------------------------------------

    /// Find a company id by custom id.
    pub fn company_id_by_custom_id(&self, cid: &str) -> Option<u64> {
        self.idx.company_by_custom_id.get(cid).copied()
    }

    /// All company ids in order.
    pub fn company_ids(&self) -> impl ExactSizeIterator<Item = u64> + '_ {
        self.companies.keys().copied()
    }

    fn parse_company_patch(
        &self,
        body: &Map<String, Value>,
        this: Option<u64>,
        notes: &mut Notes,
    ) -> Result<CompanyPatch> {
        let mut p = CompanyPatch::default();
        for (key, v) in body {
            if let Some((name, kind)) = kind_of(COMPANY_FIELDS, key) {
                p.fields.push((name, validate(key, kind, v)?));
                continue;
            }
            match key.as_str() {
                "custom_id" => p.custom_id = Some(opt_id(key, v)?),
                "tags" => p.tags = tag_list(key, v)?,
                k if COMPANY_READ_ONLY.contains(&k) => {
                    notes.push(format!("ignored read-only field `{k}`"))
                }
                _ => p.custom.push((key.clone(), v.clone())),
            }
        }
        if let Some(Some(cid)) = &p.custom_id {
            if let Some(&owner) = self.idx.company_by_custom_id.get(cid) {
                if Some(owner) != this {
                    return Err(Error::bad(
                        "custom_id",
                        format!("`{cid}` is already used by company {owner}"),
                    ));
                }
            }
        }
        Ok(p)
    }

    fn apply_company_patch(&mut self, id: u64, p: CompanyPatch, notes: &mut Notes) {
        let now = self.now();
        let custom: Vec<(String, Value)> = p
            .custom
            .iter()
            .filter_map(|(k, v)| {
                self.convert_custom(ContentType::Company, k, v, notes)
                    .map(|(k, v)| (k.into_owned(), v))
            })
            .collect();
        let tags = self.tag_ids(&p.tags);
        let Some(c) = self.companies.get_mut(&id) else {
            return;
        };
        if let Some(new_cid) = p.custom_id {
            if let Some(old) = c.custom_id.take() {
                self.idx.company_by_custom_id.remove(&old);
            }
            if let Some(n) = &new_cid {
                self.idx.company_by_custom_id.insert(n.clone(), id);
            }
            c.custom_id = new_cid;
        }
        for (name, v) in p.fields {
            c.fields.insert(name.to_owned(), v);
        }
        for (k, v) in custom {
            if v.is_null() {
                c.custom.remove(&k);
            } else {
                c.custom.insert(k, v);
            }
        }
        for t in tags {
            if !c.tags.contains(&t) {
                c.tags.push(t);
            }
        }
        c.updated_at = now;
    }

    /// `POST /companies/`.
    pub fn create_company(&mut self, body: &Map<String, Value>, notes: &mut Notes) -> Result<u64> {
        let patch = self.parse_company_patch(body, None, notes)?;
        let now = self.now();
        self.ids.company += 1;
        let id = self.ids.company;
        self.companies.insert(
            id,
            Company {
                id,
                custom_id: None,
                fields: BTreeMap::new(),
                custom: BTreeMap::new(),
                tags: vec![],
                members: BTreeMap::new(),
                created_at: now,
                updated_at: now,
            },
        );
        self.apply_company_patch(id, patch, notes);
        Ok(id)
    }

    /// `PUT /companies/{id}/`: partial update.
    pub fn update_company(
        &mut self,
        id: u64,
        body: &Map<String, Value>,
        notes: &mut Notes,
    ) -> Result<()> {
        if !self.companies.contains_key(&id) {
            return Err(Error::not_found(format!("no company with id {id}")));
        }
        let patch = self.parse_company_patch(body, Some(id), notes)?;
        self.apply_company_patch(id, patch, notes);
        Ok(())
    }

    /// `DELETE /companies/{id}/`.
    pub fn delete_company(&mut self, id: u64) -> Result<()> {
        let c = self
            .companies
            .remove(&id)
            .ok_or_else(|| Error::not_found(format!("no company with id {id}")))?;
        if let Some(cid) = c.custom_id {
            self.idx.company_by_custom_id.remove(&cid);
        }
        Ok(())
    }

    /// Add (idempotent) or remove a member. Returns whether anything changed.
    pub fn set_membership(&mut self, company: u64, user: u64, member: bool) -> Result<bool> {
        if !self.users.contains_key(&user) {
            return Err(Error::bad("user_id", format!("no user with id {user}")));
        }
        let now = self.now();
        let c = self
            .companies
            .get_mut(&company)
            .ok_or_else(|| Error::not_found(format!("no company with id {company}")))?;
        Ok(if member {
            match c.members.entry(user) {
                std::collections::btree_map::Entry::Occupied(_) => false,
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(now);
                    true
                }
            }
        } else {
            c.members.remove(&user).is_some()
        })
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

    // ----- admin view -----------------------------------------------------------------------------

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

/// Index of a content type in [`Indexes::attr`].
fn ct_slot(ct: ContentType) -> usize {
    match ct {
        ContentType::Clientuser => 0,
        ContentType::Company => 1,
        ContentType::Event => 2,
    }
}

/// `{"k":v,…}` as compact JSON text (the same bytes as serialising the equivalent map).
fn data_text(pairs: &[(Cow<'_, str>, Value)]) -> String {
    let mut out = Vec::with_capacity(16 * pairs.len() + 2);
    out.push(b'{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Writing into a Vec cannot fail, and a `Value` always serialises.
        let _ = serde_json::to_writer(&mut out, &**k);
        out.push(b':');
        let _ = serde_json::to_writer(&mut out, v);
    }
    out.push(b'}');
    String::from_utf8(out).unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn fast_map_finds_what_it_stores() {
        let mut m: FastMap<String, usize> = FastMap::default();
        let keys: Vec<String> = (0..2000)
            .map(|i| format!("k{i}").repeat(1 + i % 5))
            .chain(["".to_owned(), "a".to_owned(), "a\0".to_owned()])
            .collect();
        for (i, k) in keys.iter().enumerate() {
            m.insert(k.clone(), i);
        }
        assert_eq!(m.len(), keys.len());
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(m.get(k.as_str()), Some(&i), "{k}");
        }
        assert_eq!(m.get("missing"), None);
    }

    #[test]
    fn tables_are_sorted_for_binary_search() {
        for t in [USER_FIELDS, COMPANY_FIELDS] {
            assert!(
                t.windows(2).all(|w| w[0].0 < w[1].0),
                "field table must stay sorted"
            );
        }
    }

    #[test]
    fn user_keys_are_seeded_and_well_formed() {
        let mut a = AppData::new("default");
        let mut b = AppData::new("default");
        let mut n = vec![];
        let k1 = a.create_user(&obj(json!({})), &mut n).unwrap();
        let k2 = b.create_user(&obj(json!({})), &mut n).unwrap();
        let (ka, kb) = (&a.user(k1).unwrap().user_key, &b.user(k2).unwrap().user_key);
        assert_eq!(ka, kb);
        assert_eq!(ka.len(), 12);
        assert!(ka
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    }

    #[test]
    fn bad_field_leaves_state_untouched() {
        let mut a = AppData::new("x");
        let mut n = vec![];
        let err = a
            .create_user(&obj(json!({"plan": "pro", "gender": "abc"})), &mut n)
            .unwrap_err();
        assert!(err.to_string().starts_with("gender:"), "{err}");
        assert_eq!(a.user_ids().len(), 0);
        assert_eq!(a.attributes(None).count(), 0);
    }
}
