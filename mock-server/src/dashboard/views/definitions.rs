//! Attribute and event definitions, with their types and use.

use std::collections::BTreeMap;

use maud::{html, Markup};
use serde_json::Value;

use crate::dashboard::data::Data;
use crate::dashboard::html::{arr, content_label, s, table};
use crate::dashboard::query::ViewQuery;
use crate::http::enc;

pub(super) fn definitions(data: &Data, view: &ViewQuery) -> Markup {
    let attrs = arr(&data.state["attributes"]);
    let attr_rows = html! {
        @for a in attrs {
            @let choices: Vec<&str> = arr(&a["choices"]).iter().map(s).collect();
            tr {
                th scope="row" { code { (s(&a["name_std"])) } }
                td { (s(&a["name"])) }
                td { (content_label(s(&a["content_type"]))) }
                td { span class="type" { (s(&a["value_type"])) } }
                td { (choices.join(", ")) }
            }
        }
    };
    let defs = arr(&data.state["event_definitions"]);
    let def_rows = html! {
        @for d in defs {
            @let name = s(&d["name"]);
            @let occ: Vec<&Value> = data
                .events()
                .iter()
                .filter(|e| s(&e["name"]) == name)
                .collect();
            @let keys: BTreeMap<&str, &str> = occ
                .iter()
                .flat_map(|e| e["data"].as_object().into_iter().flatten())
                .map(|(k, _)| (k.as_str(), data.event_type(k)))
                .collect();
            @let keys: Vec<String> = keys.iter().map(|(k, t)| format!("{k} ({t})")).collect();
            tr data-event=(name) {
                th scope="row" { a href=(view.link(&format!("event={}", enc(name)))) { (name) } }
                td class="num" { (occ.len()) }
                td { (keys.join(", ")) }
            }
        }
    };
    html! {
        section aria-labelledby="defs-h" {
            h2 id="defs-h" { span id="definitions" { "Definitions" } }
            h3 id="attrs-h" { "Attribute definitions" }
            @if attrs.is_empty() {
                p class="empty" { "No attribute definitions." }
            } @else {
                (table(
                    "Attribute definitions with their types",
                    &["name_std", "Name", "Belongs to", "Type", "Choices"],
                    attr_rows,
                ))
            }
            h3 id="evdefs-h" { "Event definitions" }
            @if defs.is_empty() {
                p class="empty" { "No events yet." }
            } @else {
                (table(
                    "Event definitions: occurrences and the data attributes used, with their types",
                    &["Event", "Occurrences", "Data attributes (type)"],
                    def_rows,
                ))
            }
        }
        "\n"
    }
}
