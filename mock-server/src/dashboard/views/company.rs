//! One company: fields, custom attributes and members.

use maud::{html, Markup};
use serde_json::Value;

use crate::dashboard::data::Data;
use crate::dashboard::html::{
    arr, attrs_table, back, company_label, s, table, time_cell, user_label, value,
};
use crate::dashboard::query::ViewQuery;

pub(super) fn company_view(data: &Data, view: &ViewQuery, id: u64) -> Markup {
    let Some(c) = data.company(id) else {
        return html! {
            (back(view))
            h2 { "No company with id " (id) " in this app" }
        };
    };
    let custom = data.custom("company", c);
    let fields = c.as_object().into_iter().flatten().filter(|(k, v)| {
        !v.is_null() && *k != "employees" && !custom.iter().any(|(n, _, _)| n == k)
    });
    let members = arr(&c["employees"]);
    let rows = html! {
        @for u in members.iter().filter_map(|m| m.as_u64().and_then(|id| data.user(id))) {
            @let since = arr(&u["companies"])
                .iter()
                .find(|x| x["id"] == c["id"])
                .map(|x| x["member_since"].clone())
                .unwrap_or(Value::Null);
            tr {
                th scope="row" { a href=(view.link(&format!("user={}", u["id"]))) { (user_label(u)) } }
                td { (value(&u["email"])) }
                td class="num" { (u["page_views"].as_u64().unwrap_or_default()) }
                td { (time_cell(&since)) }
            }
        }
    };
    html! {
        (back(view))
        article data-company=(s(&c["custom_id"])) aria-labelledby="company-h" {
            h2 id="company-h" { "Company " (company_label(c)) }
            dl class="fields" {
                @for (k, v) in fields {
                    div { dt { (k) } dd { (value(v)) } }
                }
            }
            h3 id="custom-h" { "Custom attributes" }
            (attrs_table(&custom, "Custom attributes of this company with their types"))
            h3 id="members-h" { "Members" }
            @if members.is_empty() {
                p class="empty" { "No members." }
            } @else {
                (table(
                    "Members of this company",
                    &["User", "Email", "Page views", "Member since"],
                    rows,
                ))
            }
        }
        "\n"
    }
}
