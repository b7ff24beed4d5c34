//! Segment input builders for the cases: a [`Ctx`] per case names every id, attribute and event
//! so that cases never collide (even when they share one app), and builds the messages.

use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::AttrDef;

/// Per-run, per-case naming, so cases never collide, even when they share one app.
#[derive(Debug)]
pub struct Ctx {
    run: String,
    tag: String,
    shared_app: bool,
    seq: AtomicU32,
}

impl Ctx {
    /// A context for the case with tag `tag` (short, unique within the catalogue) in run `run`.
    /// `shared_app` = every case writes into the same app (external mode).
    pub fn new(run: &str, tag: &str, shared_app: bool) -> Self {
        Self {
            run: run.to_string(),
            tag: tag.to_string(),
            shared_app,
            seq: AtomicU32::new(0),
        }
    }

    /// A user or group id unique to the run and the case.
    pub fn id(&self, name: &str) -> String {
        format!("{}-{}-{}", self.run, self.tag, name)
    }

    /// An attribute name: the doc's own name when the case has an app to itself, suffixed with
    /// the case tag when apps are shared (attribute definitions are app-wide).
    pub fn attr(&self, name: &str) -> String {
        if self.shared_app {
            format!("{name}_{}", self.tag)
        } else {
            name.to_string()
        }
    }

    /// An event name, made unique the same way as [`Ctx::attr`].
    pub fn event(&self, name: &str) -> String {
        if self.shared_app {
            format!("{name} {}", self.tag)
        } else {
            name.to_string()
        }
    }

    fn message_id(&self) -> String {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        format!("{}-{}-m{n}", self.run, self.tag)
    }

    /// A Segment message of `kind` from `user_id` / `anonymous_id` with extra top-level fields.
    pub fn message(
        &self,
        kind: &str,
        user_id: Option<&str>,
        anonymous_id: Option<&str>,
        fields: Value,
    ) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), json!(kind));
        m.insert("messageId".into(), json!(self.message_id()));
        m.insert("timestamp".into(), json!(DEFAULT_TIME));
        if let Some(u) = user_id {
            m.insert("userId".into(), json!(u));
        }
        if let Some(a) = anonymous_id {
            m.insert("anonymousId".into(), json!(a));
        }
        if let Value::Object(extra) = fields {
            m.extend(extra);
        }
        Value::Object(m)
    }

    /// `identify` for `user` with `traits`.
    pub fn identify(&self, user: &str, traits: Value) -> Value {
        self.message("identify", Some(user), None, json!({ "traits": traits }))
    }

    /// `page` for `user` at `timestamp` on `url`.
    pub fn page(&self, user: &str, timestamp: &str, url: &str) -> Value {
        self.message(
            "page",
            Some(user),
            None,
            json!({
                "timestamp": timestamp,
                "name": "Pricing",
                "properties": {"url": url, "path": path_of(url), "title": "Pricing"},
                "context": {"page": {"url": url, "path": path_of(url), "title": "Pricing"}},
            }),
        )
    }

    /// `track` of `event` for `user` with `properties`.
    pub fn track(&self, user: &str, event: &str, properties: Value) -> Value {
        self.message(
            "track",
            Some(user),
            None,
            json!({ "event": event, "properties": properties }),
        )
    }

    /// `group` of `user` into `group` with `traits`.
    pub fn group(&self, user: &str, group: &str, traits: Value) -> Value {
        self.message(
            "group",
            Some(user),
            None,
            json!({ "groupId": group, "traits": traits }),
        )
    }
}

/// The timestamp of messages that do not set their own.
pub const DEFAULT_TIME: &str = "2024-03-01T12:00:00.000Z";

fn path_of(url: &str) -> String {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
        .unwrap_or_else(|| "/".into())
}

/// An RFC 3339 timestamp of the catalogue as an instant.
pub(super) fn instant(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("catalogue timestamps are valid RFC 3339")
        .with_timezone(&Utc)
}

/// An attribute definition to seed, without choices.
pub(super) fn def(name: String, value_type: &'static str, content_type: &'static str) -> AttrDef {
    AttrDef {
        name,
        value_type,
        content_type,
        choices: Vec::new(),
        multiple: false,
    }
}
