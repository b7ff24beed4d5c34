//! Event occurrences of a user, read with `GET /api/public/users-by-id/{id}/events/`.

use serde_json::Value;

use super::{fail, found_text, Evaluate, Probe};
use crate::error::Result;
use crate::expect::Expect;
use crate::report::Failure;

/// Occurrences of one event for a user (`GET users-by-id/{id}/events/`).
#[derive(Clone, Debug)]
pub struct Events {
    /// The user's custom id.
    pub user: String,
    /// The event name.
    pub name: String,
    /// How many occurrences of that name.
    pub count: usize,
    /// Expectations on the `data` of the last occurrence of that name.
    pub data: Vec<(String, Expect)>,
}

impl Evaluate for Events {
    async fn evaluate(&self, probe: &mut Probe<'_>) -> Result<Option<Failure>> {
        let Self {
            user,
            name,
            count,
            data,
        } = self;
        let events = probe.sim.events(&probe.app.api_key, user).await?;
        let named: Vec<&Value> = events
            .iter()
            .filter(|e| event_name(e) == Some(name.as_str()))
            .collect();
        if named.len() != *count {
            let names: Vec<&str> = events.iter().filter_map(event_name).collect();
            return Ok(fail(
                format!("user {user}: occurrences of event {name:?}"),
                count.to_string(),
                format!("{} (events of the user: {:?})", named.len(), names),
            ));
        }
        let last = named
            .last()
            .map(|e| e.get("data").cloned().unwrap_or(Value::Null));
        for (k, expect) in data {
            let v = last.as_ref().and_then(|d| d.get(k));
            if !expect.holds(v) {
                return Ok(fail(
                    format!("user {user}: event {name:?} data.{k}"),
                    expect.describe(),
                    format!("{} (data: {})", found_text(v), found_text(last.as_ref())),
                ));
            }
        }
        Ok(None)
    }
}

/// The name of an event occurrence (`name`, or the v1-style `event` object/string).
fn event_name(e: &Value) -> Option<&str> {
    e.get("name")
        .and_then(Value::as_str)
        .or_else(|| e.get("event").and_then(Value::as_str))
        .or_else(|| {
            e.get("event")
                .and_then(|x| x.get("name"))
                .and_then(Value::as_str)
        })
}

/// Every occurrence of one event for a user has this time (`timestamp` of
/// `GET users-by-id/{id}/events/`): the event time is the message's, not the delivery's.
#[derive(Clone, Debug)]
pub struct EventTime {
    /// The user's custom id.
    pub user: String,
    /// The event name.
    pub name: String,
    /// What each occurrence's `timestamp` must be (at least one occurrence must exist).
    pub at: Expect,
}

impl Evaluate for EventTime {
    async fn evaluate(&self, probe: &mut Probe<'_>) -> Result<Option<Failure>> {
        let Self { user, name, at } = self;
        let events = probe.sim.events(&probe.app.api_key, user).await?;
        let named: Vec<&Value> = events
            .iter()
            .filter(|e| event_name(e) == Some(name.as_str()))
            .collect();
        if named.is_empty() {
            return Ok(fail(
                format!("user {user}: time of event {name:?}"),
                at.describe(),
                "no occurrence of that event".into(),
            ));
        }
        for e in named {
            let t = e.get("timestamp");
            if !at.holds(t) {
                return Ok(fail(
                    format!("user {user}: time of event {name:?}"),
                    at.describe(),
                    found_text(t),
                ));
            }
        }
        Ok(None)
    }
}
