//! One event name: its occurrences.

use maud::{html, Markup};
use serde_json::Value;

use super::events::events_table;
use crate::dashboard::data::Data;
use crate::dashboard::html::{back, s};
use crate::dashboard::query::ViewQuery;

pub(super) fn event_view(data: &Data, view: &ViewQuery, name: &str) -> Markup {
    let events: Vec<&Value> = data
        .events()
        .iter()
        .filter(|e| s(&e["name"]) == name)
        .rev()
        .collect();
    html! {
        (back(view))
        article aria-labelledby="event-h" {
            h2 id="event-h" { "Event " q { (name) } }
            (events_table(data, view, &events, true))
        }
        "\n"
    }
}
