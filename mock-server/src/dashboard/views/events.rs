//! A table of event occurrences (of a user, or of an event name).

use maud::{html, Markup};
use serde_json::Value;

use crate::dashboard::data::Data;
use crate::dashboard::html::{attrs_inline, s, table, time_cell, user_label};
use crate::dashboard::query::ViewQuery;
use crate::dashboard::TABLE_MAX;
use crate::http::enc;

pub(super) fn events_table(
    data: &Data,
    view: &ViewQuery,
    events: &[&Value],
    with_user: bool,
) -> Markup {
    if events.is_empty() {
        return html! { p class="empty" { "No events." } };
    }
    let mut cols = vec!["#", "Event", "Time"];
    if with_user {
        cols.push("User");
    }
    cols.push("Data (type)");
    let rows = html! {
        @for e in events.iter().take(TABLE_MAX) {
            @let name = s(&e["name"]);
            @let attrs: Vec<(&str, &Value, &str)> = e["data"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v, data.event_type(k)))
                .collect();
            tr data-event=(name) {
                th scope="row" { (e["id"]) }
                td { a href=(view.link(&format!("event={}", enc(name)))) { (name) } }
                td { (time_cell(&e["timestamp"])) }
                @if with_user {
                    @let uid = e["user_id"].as_u64().unwrap_or_default();
                    td {
                        a href=(view.link(&format!("user={uid}"))) {
                            (data.user(uid).map(user_label).unwrap_or_else(|| format!("user {uid}")))
                        }
                    }
                }
                td { (attrs_inline(&attrs)) }
            }
        }
    };
    table("Event occurrences, newest first", &cols, rows)
}
