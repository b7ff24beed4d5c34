//! A table of event occurrences (of a user, or of an event name).

use std::fmt::Write as _;

use serde_json::Value;

use crate::dashboard::data::Data;
use crate::dashboard::html::{
    attrs_inline, esc, s, table_close, table_open, time_cell, user_label,
};
use crate::dashboard::query::ViewQuery;
use crate::dashboard::TABLE_MAX;
use crate::http::enc;

pub(super) fn events_table(
    h: &mut String,
    data: &Data,
    view: &ViewQuery,
    events: &[&Value],
    with_user: bool,
) {
    if events.is_empty() {
        h.push_str("<p class=\"empty\">No events.</p>");
        return;
    }
    let mut cols = vec!["#", "Event", "Time"];
    if with_user {
        cols.push("User");
    }
    cols.push("Data (type)");
    table_open(h, "Event occurrences, newest first", &cols);
    for e in events.iter().take(TABLE_MAX) {
        let name = s(&e["name"]);
        let _ = write!(
            h,
            r#"<tr data-event="{n}"><th scope="row">{id}</th><td><a href="{link}">{n}</a></td><td>{t}</td>"#,
            id = e["id"],
            n = esc(name),
            link = esc(&view.link(&format!("event={}", enc(name)))),
            t = time_cell(&e["timestamp"]),
        );
        if with_user {
            let uid = e["user_id"].as_u64().unwrap_or_default();
            let label = data
                .user(uid)
                .map(user_label)
                .unwrap_or_else(|| format!("user {uid}"));
            let _ = write!(
                h,
                r#"<td><a href="{}">{}</a></td>"#,
                esc(&view.link(&format!("user={uid}"))),
                esc(&label)
            );
        }
        h.push_str("<td>");
        let attrs: Vec<(&str, &Value, &str)> = e["data"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v, data.event_type(k)))
            .collect();
        attrs_inline(h, &attrs);
        h.push_str("</td></tr>");
    }
    table_close(h);
}
