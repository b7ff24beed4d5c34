//! Site views: the answer, and their effect on the user's `page_views` and `last_seen`.
//!
//! Only `site_views_create_is_201` checks the status of `POST /site-views/` exactly (the others
//! accept any 2xx; there is no check of a refused site view): the harness tests alter that status
//! in a second simulator and expect exactly that check to fail.

use serde_json::{json, Value};

use super::{
    checks, field_eq, has_kind, int_field, ok_2xx, status, Check, Ctx, Miss, Source, Verdict,
};

pub(super) fn checks() -> Vec<Check> {
    checks![
        site_views_create_is_201, true, Source::Guess("DRF's 201 for creates; the answer is undocumented"),
            "POST /site-views/ {client_user, page_domain, page_path, timestamp}: 201";
        site_views_count_page_views, true, Source::Guess("usercom-api.md §5: each view adds one to page_views"),
            "two site views: page_views 2";
        site_views_last_seen_never_moves_back, true, Source::Guess("usercom-api.md §5: last_seen = max(last_seen, view time)"),
            "a view at T2 then one at T1 < T2: last_seen is T2";
    ]
}

/// A fresh user: (internal id, user_key).
async fn user(cx: &Ctx, what: &str) -> Result<(i64, String), Miss> {
    let u = cx.create_user(what, json!({})).await?;
    has_kind(&u.what, &u.body, "user_key", "string")?;
    Ok((
        int_field(&u, "id")?,
        u.body["user_key"].as_str().unwrap_or_default().to_string(),
    ))
}

async fn view(cx: &Ctx, key: &str, at: &str) -> Result<super::Answer, Miss> {
    Ok(cx
        .rest()
        .post(
            "/site-views/",
            &json!({
                "client_user": key,
                "page_domain": "https://shop.example.com/pricing",
                "page_path": "/pricing",
                "timestamp": at,
            }),
        )
        .await?)
}

async fn site_views_create_is_201(cx: Ctx) -> Verdict {
    let (_, key) = user(&cx, "sv-201").await?;
    let a = view(&cx, &key, "2024-05-01T10:00:00Z").await?;
    status(&a, 201)
}

async fn site_views_count_page_views(cx: Ctx) -> Verdict {
    let (id, key) = user(&cx, "sv-count").await?;
    ok_2xx(&view(&cx, &key, "2024-05-01T10:00:00Z").await?)?;
    ok_2xx(&view(&cx, &key, "2024-05-01T10:05:00Z").await?)?;
    let g = cx.rest().get(&format!("/users/{id}/")).await?;
    field_eq(&g.what, &g.body, "page_views", &2.into())
}

async fn site_views_last_seen_never_moves_back(cx: Ctx) -> Verdict {
    let (id, key) = user(&cx, "sv-last").await?;
    ok_2xx(&view(&cx, &key, "2030-05-01T12:00:00Z").await?)?;
    ok_2xx(&view(&cx, &key, "2030-05-01T09:00:00Z").await?)?;
    let g = cx.rest().get(&format!("/users/{id}/")).await?;
    let last = g
        .get("last_seen")
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    let want = chrono::DateTime::parse_from_rfc3339("2030-05-01T12:00:00Z").ok();
    if last.is_some() && last == want {
        Ok(())
    } else {
        Err(Miss(format!(
            "{}: last_seen expected 2030-05-01T12:00:00Z, found {}",
            g.what,
            super::short(g.body.get("last_seen").unwrap_or(&Value::Null))
        )))
    }
}
