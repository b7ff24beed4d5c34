//! Attribute and event definitions, with their types and use.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::dashboard::data::Data;
use crate::dashboard::html::{arr, content_label, esc, s, table_close, table_open};
use crate::dashboard::query::ViewQuery;
use crate::http::enc;

pub(super) fn definitions(h: &mut String, data: &Data, view: &ViewQuery) {
    h.push_str(r#"<section aria-labelledby="defs-h"><h2 id="defs-h"><span id="definitions">Definitions</span></h2>"#);
    h.push_str(r#"<h3 id="attrs-h">Attribute definitions</h3>"#);
    let attrs = arr(&data.state["attributes"]);
    if attrs.is_empty() {
        h.push_str("<p class=\"empty\">No attribute definitions.</p>");
    } else {
        table_open(
            h,
            "Attribute definitions with their types",
            &["name_std", "Name", "Belongs to", "Type", "Choices"],
        );
        for a in attrs {
            let choices: Vec<&str> = arr(&a["choices"]).iter().map(s).collect();
            let _ = write!(
                h,
                r#"<tr><th scope="row"><code>{}</code></th><td>{}</td><td>{}</td><td><span class="type">{}</span></td><td>{}</td></tr>"#,
                esc(s(&a["name_std"])),
                esc(s(&a["name"])),
                esc(content_label(s(&a["content_type"]))),
                esc(s(&a["value_type"])),
                esc(&choices.join(", ")),
            );
        }
        table_close(h);
    }
    h.push_str(r#"<h3 id="evdefs-h">Event definitions</h3>"#);
    let defs = arr(&data.state["event_definitions"]);
    if defs.is_empty() {
        h.push_str("<p class=\"empty\">No events yet.</p>");
    } else {
        table_open(
            h,
            "Event definitions: occurrences and the data attributes used, with their types",
            &["Event", "Occurrences", "Data attributes (type)"],
        );
        for d in defs {
            let name = s(&d["name"]);
            let occ: Vec<&Value> = data
                .events()
                .iter()
                .filter(|e| s(&e["name"]) == name)
                .collect();
            let mut keys: BTreeMap<&str, &str> = BTreeMap::new();
            for e in &occ {
                for k in e["data"].as_object().into_iter().flatten().map(|(k, _)| k) {
                    keys.insert(k, data.event_type(k));
                }
            }
            let keys: Vec<String> = keys.iter().map(|(k, t)| format!("{k} ({t})")).collect();
            let _ = write!(
                h,
                r#"<tr data-event="{n}"><th scope="row"><a href="{link}">{n}</a></th><td class="num">{}</td><td>{}</td></tr>"#,
                occ.len(),
                esc(&keys.join(", ")),
                n = esc(name),
                link = esc(&view.link(&format!("event={}", enc(name)))),
            );
        }
        table_close(h);
    }
    h.push_str("</section>\n");
}
