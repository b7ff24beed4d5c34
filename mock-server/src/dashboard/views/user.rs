//! One user: fields, custom attributes, companies, events and site views.

use maud::{html, Markup};
use serde_json::Value;

use super::events::events_table;
use crate::dashboard::data::Data;
use crate::dashboard::html::{
    arr, attrs_table, back, opt_text, s, table, time_cell, user_label, value,
};
use crate::dashboard::query::ViewQuery;
use crate::dashboard::TABLE_MAX;

pub(super) fn user_view(data: &Data, view: &ViewQuery, id: u64) -> Markup {
    let Some(u) = data.user(id) else {
        return html! {
            (back(view))
            h2 { "No user with id " (id) " in this app" }
        };
    };
    // Standard fields: everything that is set and is not a custom attribute or a list shown below.
    let custom = data.custom("clientuser", u);
    let skip = ["companies", "tags", "lists"];
    let fields = u.as_object().into_iter().flatten().filter(|(k, v)| {
        !v.is_null() && !skip.contains(&k.as_str()) && !custom.iter().any(|(c, _, _)| c == k)
    });
    let companies = arr(&u["companies"]);
    let events: Vec<&Value> = data
        .events()
        .iter()
        .filter(|e| e["user_id"].as_u64() == Some(id))
        .rev()
        .collect();
    let views: Vec<&Value> = arr(&data.state["site_views"])
        .iter()
        .filter(|v| v["user_id"].as_u64() == Some(id))
        .rev()
        .collect();
    html! {
        (back(view))
        article data-user=(s(&u["custom_id"])) aria-labelledby="user-h" {
            h2 id="user-h" { "User " (user_label(u)) }
            h3 id="fields-h" { "Fields" }
            dl class="fields" {
                @for (k, v) in fields {
                    div { dt { (k) } dd data-field=(k) { (value(v)) } }
                }
            }
            h3 id="custom-h" { "Custom attributes" }
            (attrs_table(&custom, "Custom attributes of this user with their types"))
            h3 id="companies-h2" { "Companies" }
            @if companies.is_empty() {
                p class="empty" { "Not a member of any company." }
            } @else {
                (table("Companies of this user", &["Company", "Member since"], html! {
                    @for c in companies {
                        tr {
                            th scope="row" {
                                a href=(view.link(&format!("company={}", c["id"]))) {
                                    (opt_text(&c["name"], &format!("company {}", c["id"])))
                                }
                            }
                            td { (time_cell(&c["member_since"])) }
                        }
                    }
                }))
            }
            h3 id="events" { "Events" }
            (events_table(data, view, &events, false))
            h3 id="views-h" { "Site views" }
            @if views.is_empty() {
                p class="empty" { "No site views." }
            } @else {
                (table("Site views of this user, newest first", &["#", "Time", "Page", "Title"], html! {
                    @for v in views.iter().take(TABLE_MAX) {
                        tr {
                            th scope="row" { (v["id"]) }
                            td { (time_cell(&v["timestamp"])) }
                            td { (s(&v["page_domain"])) (s(&v["page_path"])) }
                            td { (value(&v["title"])) }
                        }
                    }
                }))
            }
        }
        "\n"
    }
}
