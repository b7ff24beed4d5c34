//! Small HTML rendering helpers shared by the views: escaping, tables, cells, labels.

use std::fmt::Write as _;

use serde_json::Value;

use super::data::Data;
use super::query::ViewQuery;

pub(crate) fn back(h: &mut String, view: &ViewQuery) {
    let _ = write!(
        h,
        r#"<p><a href="{}">← Back to the overview</a></p>"#,
        esc(&view.link(""))
    );
}

pub(crate) fn table_open(h: &mut String, caption: &str, cols: &[&str]) {
    // The wrapper scrolls horizontally on narrow windows; it is focusable so keyboard users can
    // scroll it too.
    let _ = write!(
        h,
        r#"<div class="table-wrap" role="region" aria-label="{c}" tabindex="0"><table><caption>{c}</caption><thead><tr>"#,
        c = esc(caption)
    );
    for c in cols {
        let _ = write!(h, r#"<th scope="col">{}</th>"#, esc(c));
    }
    h.push_str("</tr></thead><tbody>");
}

pub(crate) fn table_close(h: &mut String) {
    h.push_str("</tbody></table></div>");
}

pub(crate) fn attrs_table(h: &mut String, attrs: &[(&str, &Value, &str)], caption: &str) {
    if attrs.is_empty() {
        h.push_str("<p class=\"empty\">None.</p>");
        return;
    }
    table_open(h, caption, &["Attribute", "Value", "Type"]);
    for (k, v, t) in attrs {
        let _ = write!(
            h,
            r#"<tr><th scope="row"><code>{}</code></th><td data-attr="{}">{}</td><td><span class="type">{}</span></td></tr>"#,
            esc(k),
            esc(k),
            value(v),
            esc(t)
        );
    }
    table_close(h);
}

pub(crate) fn attrs_inline(h: &mut String, attrs: &[(&str, &Value, &str)]) {
    if attrs.is_empty() {
        h.push_str(r#"<span class="muted">none</span>"#);
        return;
    }
    h.push_str(r#"<ul class="attrs">"#);
    for (k, v, t) in attrs {
        let _ = write!(
            h,
            r#"<li><code>{}</code>: {} <span class="type">{}</span></li>"#,
            esc(k),
            value(v),
            esc(t)
        );
    }
    h.push_str("</ul>");
}

pub(crate) fn companies_inline(h: &mut String, view: &ViewQuery, u: &Value) {
    let cs = arr(&u["companies"]);
    if cs.is_empty() {
        h.push_str(r#"<span class="muted">none</span>"#);
        return;
    }
    let links: Vec<String> = cs
        .iter()
        .map(|c| {
            format!(
                r#"<a href="{}">{}</a>"#,
                esc(&view.link(&format!("company={}", c["id"]))),
                esc(&opt_text(&c["name"], &format!("company {}", c["id"])))
            )
        })
        .collect();
    h.push_str(&links.join(", "));
}

pub(crate) fn members_inline(h: &mut String, data: &Data, view: &ViewQuery, c: &Value) {
    let ms = arr(&c["employees"]);
    if ms.is_empty() {
        h.push_str(r#"<span class="muted">none</span>"#);
        return;
    }
    let links: Vec<String> = ms
        .iter()
        .filter_map(|m| m.as_u64())
        .map(|id| {
            let label = data
                .user(id)
                .map(user_label)
                .unwrap_or_else(|| format!("user {id}"));
            format!(
                r#"<a href="{}">{}</a>"#,
                esc(&view.link(&format!("user={id}"))),
                esc(&label)
            )
        })
        .collect();
    h.push_str(&links.join(", "));
}

pub(crate) fn user_label(u: &Value) -> String {
    match (u["custom_id"].as_str(), u["email"].as_str()) {
        (Some(c), _) => c.to_owned(),
        (None, Some(e)) if !e.is_empty() => e.to_owned(),
        _ => format!("#{} (no custom_id)", u["id"]),
    }
}

pub(crate) fn company_label(c: &Value) -> String {
    opt_text(
        &c["name"],
        &opt_text(&c["custom_id"], &format!("#{}", c["id"])),
    )
}

pub(crate) fn content_label(ct: &str) -> &str {
    match ct {
        "clientuser" => "user (clientuser)",
        other => other,
    }
}

/// `1 user`, `2 users`, `2 companies`.
pub(crate) fn plural(n: usize, word: &str) -> String {
    match (n, word.strip_suffix('y')) {
        (1, _) => format!("1 {word}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {word}s"),
    }
}

pub(crate) fn opt_text(v: &Value, fallback: &str) -> String {
    v.as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or(fallback)
        .to_owned()
}

/// A cell value: strings as text, `null` as a dash, everything else as its JSON.
pub(crate) fn value(v: &Value) -> String {
    match v {
        Value::Null => r#"<span class="muted">–</span>"#.to_owned(),
        Value::String(s) => esc(&truncate(s, 500)),
        Value::Bool(_) | Value::Number(_) => esc(&v.to_string()),
        other => format!("<code>{}</code>", esc(&truncate(&other.to_string(), 500))),
    }
}

pub(crate) fn opt(v: &Value) -> String {
    value(v)
}

pub(crate) fn time_cell(v: &Value) -> String {
    match v.as_str() {
        Some(t) => format!(r#"<time datetime="{t}">{t}</time>"#, t = esc(t)),
        None => value(v),
    }
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

pub(crate) fn arr(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

pub(crate) fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// HTML-escape text for element content and double-quoted attributes.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::enc;

    #[test]
    fn escaping_covers_markup_and_attribute_quotes() {
        assert_eq!(
            esc(r#"<script>"x" & 'y'</script>"#),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(enc("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("ééé", 3), "é…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
