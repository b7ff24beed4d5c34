//! The overview: apps, users (optionally filtered by the search), companies, definitions, the
//! journal and the active faults.

use std::fmt::Write as _;

use serde_json::Value;

use super::definitions::definitions;
use super::journal::journal;
use super::users::users_table;
use crate::dashboard::data::Data;
use crate::dashboard::html::{
    attrs_inline, company_label, esc, members_inline, s, table_close, table_open,
};
use crate::dashboard::query::ViewQuery;
use crate::dashboard::TABLE_MAX;
use crate::http::enc;

pub(super) fn overview(h: &mut String, data: &Data, view: &ViewQuery) {
    // Apps.
    h.push_str(r#"<section aria-labelledby="apps-h"><h2 id="apps-h">Apps</h2>"#);
    table_open(
        h,
        "Apps and their number of API keys (the keys are not shown)",
        &["App", "API keys"],
    );
    for (name, keys) in &data.apps {
        let _ = write!(
            h,
            r#"<tr><th scope="row"><a href="/?app={}">{}</a></th><td>{keys}</td></tr>"#,
            esc(&enc(name)),
            esc(name)
        );
    }
    table_close(h);
    h.push_str("</section>\n");

    // Users (optionally filtered by the search).
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
    let _ = write!(
        h,
        r#"<section aria-labelledby="users-h"><h2 id="users-h"><span id="users">Users</span></h2>"#
    );
    if let Some(q) = &view.q {
        let _ = write!(
            h,
            r#"<p>{} user{} matching <q>{}</q> by custom_id or email. <a href="{}">Clear the search</a></p>"#,
            users.len(),
            if users.len() == 1 { "" } else { "s" },
            esc(q),
            esc(&view.link(""))
        );
    }
    if users.is_empty() {
        h.push_str("<p class=\"empty\">No users.</p>");
    } else {
        users_table(h, data, view, &users);
    }
    h.push_str("</section>\n");

    // Companies.
    h.push_str(r#"<section aria-labelledby="companies-h"><h2 id="companies-h"><span id="companies">Companies</span></h2>"#);
    if data.companies().is_empty() {
        h.push_str("<p class=\"empty\">No companies.</p>");
    } else {
        table_open(
            h,
            "Companies with their members",
            &["Company", "custom_id", "Members", "Custom attributes"],
        );
        for c in data.companies().iter().take(TABLE_MAX) {
            let _ = write!(
                h,
                r#"<tr data-company="{cid}"><th scope="row"><a href="{link}">{name}</a></th><td>{cid}</td><td>"#,
                cid = esc(s(&c["custom_id"])),
                link = esc(&view.link(&format!("company={}", c["id"]))),
                name = esc(&company_label(c)),
            );
            members_inline(h, data, view, c);
            h.push_str("</td><td>");
            attrs_inline(h, &data.custom("company", c));
            h.push_str("</td></tr>");
        }
        table_close(h);
    }
    h.push_str("</section>\n");

    definitions(h, data, view);
    journal(h, data, view);
    h.push_str(
        r#"<section aria-labelledby="faults-h"><h2 id="faults-h"><span id="faults">Active faults</span></h2><div id="faults-body" data-faults><p class="empty">Fault rules are loaded from <a href="/__admin/faults">/__admin/faults</a> by the page script.</p></div></section>
"#,
    );
}
