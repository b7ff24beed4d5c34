//! Small HTML building blocks shared by the views (tables, cells, labels), as `maud` templates.
//!
//! Every value interpolated with `(…)` is escaped by `maud`, in text and in attributes alike, so a
//! view cannot forget to escape client-controlled data (attribute names and values, paths, event
//! names). No template here uses `PreEscaped`: keep it that way.

use maud::{html, Markup};
use serde_json::Value;

use super::data::Data;
use super::query::ViewQuery;

pub(crate) fn back(view: &ViewQuery) -> Markup {
    html! {
        p { a href=(view.link("")) { "← Back to the overview" } }
    }
}

/// A captioned table with column headers around `rows` (`<tr>`s).
pub(crate) fn table(caption: &str, cols: &[&str], rows: Markup) -> Markup {
    // The wrapper scrolls horizontally on narrow windows; it is focusable so keyboard users can
    // scroll it too.
    html! {
        div class="table-wrap" role="region" aria-label=(caption) tabindex="0" {
            table {
                caption { (caption) }
                thead { tr { @for c in cols { th scope="col" { (c) } } } }
                tbody { (rows) }
            }
        }
    }
}

pub(crate) fn attrs_table(attrs: &[(&str, &Value, &str)], caption: &str) -> Markup {
    if attrs.is_empty() {
        return html! { p class="empty" { "None." } };
    }
    let rows = html! {
        @for (k, v, t) in attrs {
            tr {
                th scope="row" { code { (k) } }
                td data-attr=(k) { (value(v)) }
                td { span class="type" { (t) } }
            }
        }
    };
    table(caption, &["Attribute", "Value", "Type"], rows)
}

pub(crate) fn attrs_inline(attrs: &[(&str, &Value, &str)]) -> Markup {
    html! {
        @if attrs.is_empty() {
            span class="muted" { "none" }
        } @else {
            ul class="attrs" {
                @for (k, v, t) in attrs {
                    li { code { (k) } ": " (value(v)) " " span class="type" { (t) } }
                }
            }
        }
    }
}

pub(crate) fn companies_inline(view: &ViewQuery, u: &Value) -> Markup {
    let cs = arr(&u["companies"]);
    html! {
        @if cs.is_empty() {
            span class="muted" { "none" }
        }
        @for (i, c) in cs.iter().enumerate() {
            @if i > 0 { ", " }
            a href=(view.link(&format!("company={}", c["id"]))) {
                (opt_text(&c["name"], &format!("company {}", c["id"])))
            }
        }
    }
}

pub(crate) fn members_inline(data: &Data, view: &ViewQuery, c: &Value) -> Markup {
    let ids: Vec<u64> = arr(&c["employees"])
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    html! {
        @if arr(&c["employees"]).is_empty() {
            span class="muted" { "none" }
        }
        @for (i, id) in ids.iter().enumerate() {
            @if i > 0 { ", " }
            a href=(view.link(&format!("user={id}"))) {
                (data.user(*id).map(user_label).unwrap_or_else(|| format!("user {id}")))
            }
        }
    }
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
pub(crate) fn value(v: &Value) -> Markup {
    html! {
        @match v {
            Value::Null => { span class="muted" { "–" } }
            Value::String(s) => { (truncate(s, 500)) }
            Value::Bool(_) | Value::Number(_) => { (v) }
            other => { code { (truncate(&other.to_string(), 500)) } }
        }
    }
}

pub(crate) fn time_cell(v: &Value) -> Markup {
    html! {
        @if let Some(t) = v.as_str() {
            time datetime=(t) { (t) }
        } @else {
            (value(v))
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_in_text_and_attributes() {
        let v = Value::String(r#"<script>"x" & 'y'</script>"#.into());
        assert_eq!(
            value(&v).into_string(),
            "&lt;script&gt;&quot;x&quot; &amp; 'y'&lt;/script&gt;"
        );
        let attrs = [(r#"a"><b"#, &v, "string")];
        assert!(attrs_table(&attrs, "c")
            .into_string()
            .contains(r#"data-attr="a&quot;&gt;&lt;b""#));
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("ééé", 3), "é…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
