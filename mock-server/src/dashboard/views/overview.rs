//! The overview: apps, users (optionally filtered by the search), companies, definitions, the
//! journal and the active faults.

use maud::{html, Markup};
use serde_json::Value;

use super::definitions::definitions;
use super::journal::journal;
use super::users::users_table;
use crate::dashboard::data::Data;
use crate::dashboard::html::{attrs_inline, company_label, members_inline, s, table};
use crate::dashboard::query::ViewQuery;
use crate::dashboard::TABLE_MAX;
use crate::http::enc;

pub(super) fn overview(data: &Data, view: &ViewQuery) -> Markup {
    let apps = html! {
        @for (name, keys) in &data.apps {
            tr {
                th scope="row" { a href={ "/?app=" (enc(name)) } { (name) } }
                td { (keys) }
            }
        }
    };
    let users: Vec<&Value> = data
        .users()
        .iter()
        .filter(|u| match &view.q {
            None => true,
            Some(q) => {
                let q = q.to_lowercase();
                [&u["custom_id"], &u["email"]]
                    .iter()
                    .any(|f| f.as_str().is_some_and(|v| v.to_lowercase().contains(&q)))
            }
        })
        .collect();
    let companies = html! {
        @for c in data.companies().iter().take(TABLE_MAX) {
            tr data-company=(s(&c["custom_id"])) {
                th scope="row" {
                    a href=(view.link(&format!("company={}", c["id"]))) { (company_label(c)) }
                }
                td { (s(&c["custom_id"])) }
                td { (members_inline(data, view, c)) }
                td { (attrs_inline(&data.custom("company", c))) }
            }
        }
    };
    html! {
        section aria-labelledby="apps-h" {
            h2 id="apps-h" { "Apps" }
            (table("Apps and their number of API keys (the keys are not shown)", &["App", "API keys"], apps))
        }
        "\n"
        section aria-labelledby="users-h" {
            h2 id="users-h" { span id="users" { "Users" } }
            @if let Some(q) = &view.q {
                p {
                    (users.len()) " user" (if users.len() == 1 { "" } else { "s" })
                    " matching " q { (q) } " by custom_id or email. "
                    a href=(view.link("")) { "Clear the search" }
                }
            }
            @if users.is_empty() {
                p class="empty" { "No users." }
            } @else {
                (users_table(data, view, &users))
            }
        }
        "\n"
        section aria-labelledby="companies-h" {
            h2 id="companies-h" { span id="companies" { "Companies" } }
            @if data.companies().is_empty() {
                p class="empty" { "No companies." }
            } @else {
                (table(
                    "Companies with their members",
                    &["Company", "custom_id", "Members", "Custom attributes"],
                    companies,
                ))
            }
        }
        "\n"
        (definitions(data, view))
        (journal(data, view))
        section aria-labelledby="faults-h" {
            h2 id="faults-h" { span id="faults" { "Active faults" } }
            div id="faults-body" data-faults {
                p class="empty" {
                    "Fault rules are loaded from "
                    a href="/__admin/faults" { "/__admin/faults" }
                    " by the page script."
                }
            }
        }
        "\n"
    }
}
