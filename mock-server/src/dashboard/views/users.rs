//! The users table of the overview.

use maud::{html, Markup};
use serde_json::Value;

use crate::dashboard::data::Data;
use crate::dashboard::html::{
    attrs_inline, companies_inline, s, table, time_cell, user_label, value,
};
use crate::dashboard::query::ViewQuery;
use crate::dashboard::TABLE_MAX;

pub(super) fn users_table(data: &Data, view: &ViewQuery, users: &[&Value]) -> Markup {
    let rows = html! {
        @for u in users.iter().take(TABLE_MAX) {
            @let id = u["id"].as_u64().unwrap_or_default();
            @let link = view.link(&format!("user={id}"));
            @let events = data
                .events()
                .iter()
                .filter(|e| e["user_id"].as_u64() == Some(id))
                .count();
            tr data-user=(s(&u["custom_id"])) {
                th scope="row" { a href=(link) { (user_label(u)) } }
                td { (value(&u["email"])) }
                td { (value(&u["name"])) }
                td class="num" data-field="page_views" { (u["page_views"].as_u64().unwrap_or_default()) }
                td { (time_cell(&u["last_seen"])) }
                td { (attrs_inline(&data.custom("clientuser", u))) }
                td { (companies_inline(view, u)) }
                td class="num" { a href={ (link) "#events" } data-field="events" { (events) } }
            }
        }
    };
    html! {
        (table(
            "Users: custom_id, email, name, page views, last seen, custom attributes with their types, companies and events",
            &[
                "custom_id",
                "Email",
                "Name",
                "Page views",
                "Last seen",
                "Custom attributes",
                "Companies",
                "Events",
            ],
            rows,
        ))
        @if users.len() > TABLE_MAX {
            p { "Showing the first " (TABLE_MAX) " of " (users.len()) " users: search to narrow down." }
        }
    }
}
