//! The users table of the overview.

use std::fmt::Write as _;

use serde_json::Value;

use crate::dashboard::data::Data;
use crate::dashboard::html::{
    attrs_inline, companies_inline, esc, opt, s, table_close, table_open, time_cell, user_label,
};
use crate::dashboard::query::ViewQuery;
use crate::dashboard::TABLE_MAX;

pub(super) fn users_table(h: &mut String, data: &Data, view: &ViewQuery, users: &[&Value]) {
    table_open(
        h,
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
    );
    for u in users.iter().take(TABLE_MAX) {
        let id = u["id"].as_u64().unwrap_or_default();
        let events = data
            .events()
            .iter()
            .filter(|e| e["user_id"].as_u64() == Some(id))
            .count();
        let _ = write!(
            h,
            r#"<tr data-user="{cid}"><th scope="row"><a href="{link}">{label}</a></th><td>{email}</td><td>{name}</td><td class="num" data-field="page_views">{pv}</td><td>{seen}</td><td>"#,
            cid = esc(s(&u["custom_id"])),
            link = esc(&view.link(&format!("user={id}"))),
            label = esc(&user_label(u)),
            email = opt(&u["email"]),
            name = opt(&u["name"]),
            pv = u["page_views"].as_u64().unwrap_or_default(),
            seen = time_cell(&u["last_seen"]),
        );
        attrs_inline(h, &data.custom("clientuser", u));
        h.push_str("</td><td>");
        companies_inline(h, view, u);
        let _ = write!(
            h,
            r##"</td><td class="num"><a href="{}#events" data-field="events">{events}</a></td></tr>"##,
            esc(&view.link(&format!("user={id}")))
        );
    }
    table_close(h);
    if users.len() > TABLE_MAX {
        let _ = write!(
            h,
            "<p>Showing the first {TABLE_MAX} of {} users: search to narrow down.</p>",
            users.len()
        );
    }
}
