//! `--read-back`: before resending an event whose earlier attempt may have been applied (the
//! connection broke or timed out after the request went out, or User.com answered 5xx), list the
//! user's occurrences and skip the resend when the event is there.
//!
//! Why only events: users (`update_or_create`), companies (looked up before every create),
//! memberships and attributes are idempotent already; site views have no read in the REST API.
//!
//! What counts as "there": an occurrence with the same event name, the same unix second, and
//! (when the listing carries the data) the same properties, compared loosely because User.com
//! may store a property converted by its event attribute's type (`"5"` for `5`). The cost: one
//! `GET /users-by-id/{id}/events/` page walk per ambiguous failure of an event, up to
//! [`MAX_PAGES`] pages. The risk: a user who really did the same event with the same properties
//! twice in one second, one of them failing ambiguously, is recorded once.
//! GUESS: the listing's item shape. The simulator answers `{id, name, timestamp, data}`; a .NET
//! client reads `{id, event, timestamp, items}`. Both spellings are read; an item with neither a
//! name nor a time matches nothing (the event is sent again: at least once still holds).

use chrono::DateTime;
use serde_json::{Map, Value};

use super::apply::Applier;
use super::requests::{self, Call};
use super::Transport;
use crate::error::Result;
use crate::mapping::Op;

/// A bound on the pages read for one check.
pub const MAX_PAGES: usize = 20;

impl<T: Transport> Applier<T> {
    /// Whether `op` (an [`Op::Event`] with a timestamp) is already recorded at User.com. Any
    /// other operation, an event without a timestamp (User.com stamps it: nothing to match) or
    /// an unknown user (404) is `false`: send it.
    pub async fn event_recorded(&self, op: &Op) -> Result<bool> {
        let Op::Event {
            custom_id,
            name,
            timestamp: Some(timestamp),
            data,
        } = op
        else {
            return Ok(false);
        };
        let mut query: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let call = Call::ListEvents {
                custom_id,
                query: query.as_deref(),
            };
            let bytes = match self.transport().send(&call).await {
                Ok(bytes) => bytes,
                Err(e) if e.is_not_found() => return Ok(false),
                Err(e) => return Err(e),
            };
            let (items, next) = requests::read_page(&call, &bytes)?;
            if items
                .iter()
                .any(|item| is_occurrence_of(item, name, *timestamp, data))
            {
                return Ok(true);
            }
            match next {
                Some(next) => query = Some(next),
                None => break,
            }
        }
        Ok(false)
    }
}

/// Whether a listed occurrence is the event `name` at `timestamp` (unix seconds) with `data`.
pub fn is_occurrence_of(
    item: &Value,
    name: &str,
    timestamp: i64,
    data: &Map<String, Value>,
) -> bool {
    let listed_name = item
        .get("name")
        .or_else(|| item.get("event"))
        .and_then(Value::as_str);
    if listed_name != Some(name) || unix_seconds(item.get("timestamp")) != Some(timestamp) {
        return false;
    }
    match item
        .get("data")
        .or_else(|| item.get("items"))
        .and_then(Value::as_object)
    {
        Some(listed) => same_data(listed, data),
        None => true,
    }
}

/// A listed time: unix seconds (a number) or an RFC 3339 string.
fn unix_seconds(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.floor() as i64)),
        Value::String(s) => DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp()),
        _ => None,
    }
}

/// The same non-null properties, each equal as JSON or as text (`5` and `"5"`, `true` and
/// `"true"`: User.com may have converted the value to its attribute's type).
fn same_data(listed: &Map<String, Value>, sent: &Map<String, Value>) -> bool {
    let present = |m: &Map<String, Value>| m.values().filter(|v| !v.is_null()).count();
    present(listed) == present(sent)
        && sent.iter().filter(|(_, v)| !v.is_null()).all(|(k, v)| {
            listed
                .get(k)
                .is_some_and(|l| l == v || as_text(l) == as_text(v))
        })
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn an_occurrence_matches_by_name_second_and_data() {
        let sent = data(json!({"plan": "pro", "seats": 5, "gone": null}));
        let listed = json!({"id": 1, "name": "Upgraded", "timestamp": "2024-05-01T10:00:00Z",
                            "data": {"plan": "pro", "seats": "5"}});
        let t = 1_714_557_600;
        assert!(is_occurrence_of(&listed, "Upgraded", t, &sent));
        assert!(!is_occurrence_of(&listed, "Upgraded", t + 1, &sent));
        assert!(!is_occurrence_of(&listed, "Downgraded", t, &sent));
        let other = data(json!({"plan": "basic", "seats": 5}));
        assert!(!is_occurrence_of(&listed, "Upgraded", t, &other));
        let more = data(json!({"plan": "pro", "seats": 5, "extra": 1}));
        assert!(!is_occurrence_of(&listed, "Upgraded", t, &more));
    }

    #[test]
    fn the_other_spelling_and_unix_times_are_read() {
        let listed = json!({"id": 1, "event": "Upgraded", "timestamp": 1_714_557_600,
                            "items": {"plan": "pro"}});
        assert!(is_occurrence_of(
            &listed,
            "Upgraded",
            1_714_557_600,
            &data(json!({"plan": "pro"}))
        ));
        // No data in the listing: name and second decide.
        let bare = json!({"name": "Upgraded", "timestamp": 1_714_557_600.9});
        assert!(is_occurrence_of(
            &bare,
            "Upgraded",
            1_714_557_600,
            &data(json!({"x": 1}))
        ));
        // No time: never a match.
        let timeless = json!({"name": "Upgraded"});
        assert!(!is_occurrence_of(&timeless, "Upgraded", 0, &Map::new()));
    }
}
