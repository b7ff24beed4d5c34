//! Events: definitions (created by the first use of a name) and occurrences.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::coerce::ContentType;
use super::{AppData, Notes};

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

/// Result of recording an event.
#[derive(Debug, Clone, Copy)]
pub struct EventOutcome {
    /// Occurrence id.
    pub id: u64,
    /// True when this name was used for the first time (the event definition was created).
    pub created: bool,
}

impl AppData {
    /// Record an event occurrence. Default mode: `data` keys go through the `event` attribute
    /// rules (auto-created as string, converted; the destination doc). Strict mode: `data` is
    /// stored as sent (usercom-api.md §4: a free JSON object), without attribute definitions.
    pub fn record_event(
        &mut self,
        user_id: u64,
        name: &str,
        at: DateTime<Utc>,
        data: Option<&[(Cow<'_, str>, Value)]>,
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
        let as_sent = match data {
            Some(data) if self.strict && !data.is_empty() => Some(data_text(data).into_boxed_str()),
            _ => None,
        };
        if let Some(data) = data.filter(|_| !self.strict) {
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
        let text: Box<str> = if let Some(text) = as_sent {
            text
        } else if stored.is_empty() {
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
