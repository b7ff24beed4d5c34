//! One user: fields, custom attributes, companies, events and site views.

use std::fmt::Write as _;

use serde_json::Value;

use super::events::events_table;
use crate::dashboard::data::Data;
use crate::dashboard::html::{
    arr, attrs_table, back, esc, opt, opt_text, s, table_close, table_open, time_cell, user_label,
    value,
};
use crate::dashboard::query::ViewQuery;
use crate::dashboard::TABLE_MAX;

pub(super) fn user_view(h: &mut String, data: &Data, view: &ViewQuery, id: u64) {
    back(h, view);
    let Some(u) = data.user(id) else {
        let _ = write!(h, "<h2>No user with id {id} in this app</h2>");
        return;
    };
    let _ = write!(
        h,
        r#"<article data-user="{cid}" aria-labelledby="user-h"><h2 id="user-h">User {label}</h2>"#,
        cid = esc(s(&u["custom_id"])),
        label = esc(&user_label(u)),
    );
    // Standard fields: everything that is set and is not a custom attribute or a list shown below.
    let custom = data.custom("clientuser", u);
    let skip = ["companies", "tags", "lists"];
    h.push_str(r#"<h3 id="fields-h">Fields</h3><dl class="fields">"#);
    for (k, v) in u.as_object().into_iter().flatten() {
        if v.is_null() || skip.contains(&k.as_str()) || custom.iter().any(|(c, _, _)| c == k) {
            continue;
        }
        let _ = write!(
            h,
            r#"<div><dt>{}</dt><dd data-field="{}">{}</dd></div>"#,
            esc(k),
            esc(k),
            value(v)
        );
    }
    h.push_str("</dl>");
    h.push_str(r#"<h3 id="custom-h">Custom attributes</h3>"#);
    attrs_table(
        h,
        &custom,
        "Custom attributes of this user with their types",
    );
    h.push_str(r#"<h3 id="companies-h2">Companies</h3>"#);
    let companies = arr(&u["companies"]);
    if companies.is_empty() {
        h.push_str("<p class=\"empty\">Not a member of any company.</p>");
    } else {
        table_open(h, "Companies of this user", &["Company", "Member since"]);
        for c in companies {
            let _ = write!(
                h,
                r#"<tr><th scope="row"><a href="{}">{}</a></th><td>{}</td></tr>"#,
                esc(&view.link(&format!("company={}", c["id"]))),
                esc(&opt_text(&c["name"], &format!("company {}", c["id"]))),
                time_cell(&c["member_since"]),
            );
        }
        table_close(h);
    }
    h.push_str(r#"<h3 id="events">Events</h3>"#);
    let events: Vec<&Value> = data
        .events()
        .iter()
        .filter(|e| e["user_id"].as_u64() == Some(id))
        .rev()
        .collect();
    events_table(h, data, view, &events, false);
    h.push_str(r#"<h3 id="views-h">Site views</h3>"#);
    let views: Vec<&Value> = arr(&data.state["site_views"])
        .iter()
        .filter(|v| v["user_id"].as_u64() == Some(id))
        .rev()
        .collect();
    if views.is_empty() {
        h.push_str("<p class=\"empty\">No site views.</p>");
    } else {
        table_open(
            h,
            "Site views of this user, newest first",
            &["#", "Time", "Page", "Title"],
        );
        for v in views.iter().take(TABLE_MAX) {
            let _ = write!(
                h,
                r#"<tr><th scope="row">{}</th><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                v["id"],
                time_cell(&v["timestamp"]),
                esc(&format!("{}{}", s(&v["page_domain"]), s(&v["page_path"]))),
                opt(&v["title"]),
            );
        }
        table_close(h);
    }
    h.push_str("</article>\n");
}
