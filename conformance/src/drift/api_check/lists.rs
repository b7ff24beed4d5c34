//! Lists: DRF's page envelope, at most 100 per page, absolute `next`/`previous` links.

use serde_json::{json, Value};

use super::{checks, has_kind, ok_2xx, status, Check, Ctx, Miss, Source, Verdict};

pub(super) fn checks() -> Vec<Check> {
    checks![
        lists_users_page_envelope, false, Source::Documented("DOC-basic: count, next, previous, results"),
            "GET /users/: {count: int, next, previous, results: []}";
        lists_companies_page_envelope, false, Source::Documented("DOTNET PaginatedResult"),
            "GET /companies/: the page envelope";
        lists_attributes_page_envelope, false, Source::Documented("DOTNET PaginatedResult"),
            "GET /attributes/: the page envelope";
        lists_links_absolute_or_null, false, Source::Documented("DOC-basic: next/previous are absolute URLs or null"),
            "next/previous of every list are null or absolute URLs";
        lists_at_most_100_per_page, false, Source::Documented("DOC-basic: up to 100 results per page"),
            "no list page holds more than 100 results";
        lists_attribute_definition_shape, false, Source::Documented("DOC-attr: id, name, name_std, value_type, content_type"),
            "every attribute definition has id, name, name_std, value_type (a word, or a v1 code 1-7), content_type";
        lists_attributes_filter_by_content_type, false, Source::Guess("?content_type= filters the definitions"),
            "GET /attributes/?content_type=clientuser lists clientuser definitions only";
        lists_page_out_of_range_is_404, false, Source::Guess("page-number pagination (the real API is cursor-based)"),
            "GET /users/?page=100000: 404";
        lists_second_page_follows_next, true, Source::Documented("DOC-basic: pagination by `next`"),
            "with more than 100 users, `next` leads to a second page (creates users up to 101)";
    ]
}

fn envelope(what: &str, body: &Value) -> Verdict {
    has_kind(what, body, "count", "number")?;
    has_kind(what, body, "results", "array")?;
    for k in ["next", "previous"] {
        match body.get(k) {
            Some(Value::Null) | Some(Value::String(_)) => {}
            other => {
                return Err(Miss(format!(
                    "{what}: `{k}` expected null or a URL, found {other:?}"
                )))
            }
        }
    }
    Ok(())
}

async fn list_envelope(cx: &Ctx, path: &str) -> Verdict {
    let a = cx.rest().get(path).await?;
    status(&a, 200)?;
    envelope(&a.what, &a.body)
}

async fn lists_users_page_envelope(cx: Ctx) -> Verdict {
    list_envelope(&cx, "/users/").await
}

async fn lists_companies_page_envelope(cx: Ctx) -> Verdict {
    list_envelope(&cx, "/companies/").await
}

async fn lists_attributes_page_envelope(cx: Ctx) -> Verdict {
    list_envelope(&cx, "/attributes/").await
}

async fn lists_links_absolute_or_null(cx: Ctx) -> Verdict {
    for path in ["/users/", "/companies/", "/attributes/"] {
        let a = cx.rest().get(path).await?;
        ok_2xx(&a)?;
        for k in ["next", "previous"] {
            if let Some(s) = a.get(k).as_str() {
                if !(s.starts_with("http://") || s.starts_with("https://")) {
                    return Err(Miss(format!(
                        "{}: `{k}` expected an absolute URL, found {s:?}",
                        a.what
                    )));
                }
            }
        }
    }
    Ok(())
}

async fn lists_at_most_100_per_page(cx: Ctx) -> Verdict {
    for path in ["/users/", "/companies/", "/attributes/"] {
        let a = cx.rest().get(path).await?;
        ok_2xx(&a)?;
        let n = a.get("results").as_array().map_or(0, Vec::len);
        if n > 100 {
            return Err(Miss(format!("{}: {n} results on one page", a.what)));
        }
    }
    Ok(())
}

async fn lists_attribute_definition_shape(cx: Ctx) -> Verdict {
    let a = cx.rest().get("/attributes/").await?;
    status(&a, 200)?;
    let defs = a.get("results").as_array().cloned().unwrap_or_default();
    if defs.is_empty() {
        cx.note("the app has no attribute definitions: nothing to look at");
    }
    for d in &defs {
        let what = format!(
            "{} definition {}",
            a.what,
            super::short(d.get("id").unwrap_or(&Value::Null))
        );
        has_kind(&what, d, "id", "number")?;
        for k in ["name", "name_std", "content_type"] {
            has_kind(&what, d, k, "string")?;
        }
        // A word, or a v1 numeric code 1-7 (usercom-api.md §3.1; the strict simulator lists
        // codes: which a v2 list carries is not documented).
        let vt = d.get("value_type").unwrap_or(&Value::Null);
        if !(vt.is_string() || vt.as_u64().is_some_and(|c| (1..=7).contains(&c))) {
            has_kind(&what, d, "value_type", "string")?;
        }
    }
    Ok(())
}

async fn lists_attributes_filter_by_content_type(cx: Ctx) -> Verdict {
    let a = cx
        .rest()
        .get("/attributes/?content_type=clientuser")
        .await?;
    status(&a, 200)?;
    for d in a.get("results").as_array().into_iter().flatten() {
        if d.get("content_type") != Some(&json!("clientuser")) {
            return Err(Miss(format!(
                "{}: a definition of another content type: {}",
                a.what,
                super::short(d)
            )));
        }
    }
    Ok(())
}

async fn lists_page_out_of_range_is_404(cx: Ctx) -> Verdict {
    let a = cx.rest().get("/users/?page=100000").await?;
    status(&a, 404)
}

async fn lists_second_page_follows_next(cx: Ctx) -> Verdict {
    let first = cx.rest().get("/users/").await?;
    status(&first, 200)?;
    let count = first.get("count").as_u64().unwrap_or(0);
    for i in count..101 {
        cx.create_user(&format!("page-{i}"), json!({})).await?;
    }
    let first = cx.rest().get("/users/").await?;
    status(&first, 200)?;
    let Some(next) = first.get("next").as_str().map(str::to_string) else {
        return Err(Miss(format!(
            "{}: expected a `next` link with more than 100 users, found {}",
            first.what,
            super::short(first.get("next"))
        )));
    };
    // `next` is absolute; the client takes paths relative to the API root.
    let rel = next
        .split_once("/api/public")
        .map_or(next.clone(), |(_, rest)| rest.to_string());
    let second = cx.rest().get(&rel).await?;
    status(&second, 200)?;
    envelope(&second.what, &second.body)?;
    if second.get("results").as_array().is_none_or(Vec::is_empty) {
        return Err(Miss(format!("{}: the second page is empty", second.what)));
    }
    if second.get("previous").is_null() {
        return Err(Miss(format!(
            "{}: the second page has no `previous` link",
            second.what
        )));
    }
    Ok(())
}
