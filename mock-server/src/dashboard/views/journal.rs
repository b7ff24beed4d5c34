//! The request journal, newest first, with notes and faults highlighted.

use maud::{html, Markup};
use serde_json::Value;

use crate::dashboard::data::Data;
use crate::dashboard::html::{arr, s, table, time_cell, truncate};
use crate::dashboard::query::ViewQuery;
use crate::dashboard::JOURNAL_MAX;

pub(super) fn journal(data: &Data, view: &ViewQuery) -> Markup {
    let entries: Vec<&Value> = data.journal.iter().rev().take(view.journal).collect();
    let rows = html! {
        @for e in &entries {
            @let notes: Vec<&str> = arr(&e["notes"]).iter().map(s).collect();
            @let fault = e.get("fault").filter(|f| !f.is_null());
            @let status = e["status"].as_u64().unwrap_or_default();
            @let class = [
                (!notes.is_empty()).then_some("has-notes"),
                fault.is_some().then_some("has-fault"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
            tr class=(class) {
                th scope="row" { (e["seq"]) }
                td { (time_cell(&e["at"])) }
                td {
                    code {
                        (s(&e["method"])) " " (s(&e["path"]))
                        @if let Some(q) = e["query"].as_str() { "?" (q) }
                    }
                    @if !e["body"].is_null() {
                        details {
                            summary { "body" }
                            pre { (truncate(&serde_json::to_string_pretty(&e["body"]).unwrap_or_default(), 4000)) }
                        }
                    }
                }
                td class={ "status s" (status / 100) } { (status) }
                td {
                    @for n in &notes { mark class="note" { (n) } " " }
                    @if let Some(f) = fault { mark class="fault" { "fault: " code { (f) } } }
                }
            }
        }
    };
    html! {
        section aria-labelledby="journal-h" {
            h2 id="journal-h" { span id="journal" { "Request journal" } }
            @if entries.is_empty() {
                p class="empty" { "No requests yet." }
            } @else {
                p {
                    "Newest first; " (entries.len()) " of " (data.journal.len()) " shown. Rows with "
                    span class="badge note" { "notes" }
                    " had attributes dropped or fields ignored; "
                    span class="badge fault" { "fault" }
                    " rows were answered by fault injection."
                }
                (table("Request journal, newest first", &["#", "Time", "Request", "Status", "Notes"], rows))
                @if data.journal.len() > entries.len() {
                    @let more = (view.journal * 4).min(JOURNAL_MAX);
                    p { a href={ (view.link(&format!("journal={more}"))) "#journal" } { "Show up to " (more) " entries" } }
                }
            }
        }
        "\n"
    }
}
