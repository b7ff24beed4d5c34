//! One company: fields, custom attributes and members.

use std::fmt::Write as _;

use serde_json::Value;

use crate::dashboard::data::Data;
use crate::dashboard::html::{
    arr, attrs_table, back, company_label, esc, opt, s, table_close, table_open, time_cell,
    user_label, value,
};
use crate::dashboard::query::ViewQuery;

pub(super) fn company_view(h: &mut String, data: &Data, view: &ViewQuery, id: u64) {
    back(h, view);
    let Some(c) = data.company(id) else {
        let _ = write!(h, "<h2>No company with id {id} in this app</h2>");
        return;
    };
    let _ = write!(
        h,
        r#"<article data-company="{}" aria-labelledby="company-h"><h2 id="company-h">Company {}</h2><dl class="fields">"#,
        esc(s(&c["custom_id"])),
        esc(&company_label(c))
    );
    let custom = data.custom("company", c);
    for (k, v) in c.as_object().into_iter().flatten() {
        if v.is_null() || k == "employees" || custom.iter().any(|(n, _, _)| n == k) {
            continue;
        }
        let _ = write!(h, "<div><dt>{}</dt><dd>{}</dd></div>", esc(k), value(v));
    }
    h.push_str(r#"</dl><h3 id="custom-h">Custom attributes</h3>"#);
    attrs_table(
        h,
        &custom,
        "Custom attributes of this company with their types",
    );
    h.push_str(r#"<h3 id="members-h">Members</h3>"#);
    let members = arr(&c["employees"]);
    if members.is_empty() {
        h.push_str("<p class=\"empty\">No members.</p>");
    } else {
        table_open(
            h,
            "Members of this company",
            &["User", "Email", "Page views", "Member since"],
        );
        for m in members {
            let Some(u) = m.as_u64().and_then(|id| data.user(id)) else {
                continue;
            };
            let since = arr(&u["companies"])
                .iter()
                .find(|x| x["id"] == c["id"])
                .map(|x| x["member_since"].clone())
                .unwrap_or(Value::Null);
            let _ = write!(
                h,
                r#"<tr><th scope="row"><a href="{}">{}</a></th><td>{}</td><td class="num">{}</td><td>{}</td></tr>"#,
                esc(&view.link(&format!("user={}", u["id"]))),
                esc(&user_label(u)),
                opt(&u["email"]),
                u["page_views"].as_u64().unwrap_or_default(),
                time_cell(&since),
            );
        }
        table_close(h);
    }
    h.push_str("</article>\n");
}
