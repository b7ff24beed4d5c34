//! One event name: its occurrences.

use std::fmt::Write as _;

use serde_json::Value;

use super::events::events_table;
use crate::dashboard::data::Data;
use crate::dashboard::html::{back, esc, s};
use crate::dashboard::query::ViewQuery;

pub(super) fn event_view(h: &mut String, data: &Data, view: &ViewQuery, name: &str) {
    back(h, view);
    let _ = write!(
        h,
        r#"<article aria-labelledby="event-h"><h2 id="event-h">Event <q>{}</q></h2>"#,
        esc(name)
    );
    let events: Vec<&Value> = data
        .events()
        .iter()
        .filter(|e| s(&e["name"]) == name)
        .rev()
        .collect();
    events_table(h, data, view, &events, true);
    h.push_str("</article>\n");
}
