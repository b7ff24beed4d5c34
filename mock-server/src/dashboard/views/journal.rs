//! The request journal, newest first, with notes and faults highlighted.

use std::fmt::Write as _;

use serde_json::Value;

use crate::dashboard::data::Data;
use crate::dashboard::html::{arr, esc, s, table_close, table_open, time_cell, truncate};
use crate::dashboard::query::ViewQuery;
use crate::dashboard::JOURNAL_MAX;

pub(super) fn journal(h: &mut String, data: &Data, view: &ViewQuery) {
    h.push_str(r#"<section aria-labelledby="journal-h"><h2 id="journal-h"><span id="journal">Request journal</span></h2>"#);
    let entries: Vec<&Value> = data.journal.iter().rev().take(view.journal).collect();
    if entries.is_empty() {
        h.push_str("<p class=\"empty\">No requests yet.</p></section>\n");
        return;
    }
    let _ = write!(
        h,
        r#"<p>Newest first; {} of {} shown. Rows with <span class="badge note">notes</span> had attributes dropped or fields ignored; <span class="badge fault">fault</span> rows were answered by fault injection.</p>"#,
        entries.len(),
        data.journal.len()
    );
    table_open(
        h,
        "Request journal, newest first",
        &["#", "Time", "Request", "Status", "Notes"],
    );
    for e in &entries {
        let notes: Vec<&str> = arr(&e["notes"]).iter().map(s).collect();
        let fault = e.get("fault").filter(|f| !f.is_null());
        let status = e["status"].as_u64().unwrap_or_default();
        let mut class = vec![];
        if !notes.is_empty() {
            class.push("has-notes");
        }
        if fault.is_some() {
            class.push("has-fault");
        }
        let query = e["query"]
            .as_str()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        let _ = write!(
            h,
            r#"<tr class="{cls}"><th scope="row">{seq}</th><td>{at}</td><td><code>{m} {path}{query}</code>"#,
            cls = class.join(" "),
            seq = e["seq"],
            at = time_cell(&e["at"]),
            m = esc(s(&e["method"])),
            path = esc(s(&e["path"])),
            query = esc(&query),
        );
        if !e["body"].is_null() {
            let body = serde_json::to_string_pretty(&e["body"]).unwrap_or_default();
            let _ = write!(
                h,
                "<details><summary>body</summary><pre>{}</pre></details>",
                esc(&truncate(&body, 4000))
            );
        }
        let _ = write!(
            h,
            r#"</td><td class="status s{}">{status}</td><td>"#,
            status / 100
        );
        for n in &notes {
            let _ = write!(h, r#"<mark class="note">{}</mark> "#, esc(n));
        }
        if let Some(f) = fault {
            let _ = write!(
                h,
                r#"<mark class="fault">fault: <code>{}</code></mark>"#,
                esc(&f.to_string())
            );
        }
        h.push_str("</td></tr>");
    }
    table_close(h);
    if data.journal.len() > entries.len() {
        let more = (view.journal * 4).min(JOURNAL_MAX);
        let _ = write!(
            h,
            r##"<p><a href="{}#journal">Show up to {more} entries</a></p>"##,
            esc(&view.link(&format!("journal={more}")))
        );
    }
    h.push_str("</section>\n");
}
