//! Events: `{id, created}` answers, `created` only on a name's first use, the occurrence list.
//!
//! Only `events_by_custom_id_answer` posts under `/users-by-id/`: the harness tests alter that
//! one answer in a second simulator and expect exactly that check to fail.

use serde_json::json;

use super::{
    checks, field_eq, has_kind, int_field, ok_2xx, status, Check, Ctx, Miss, Source, Verdict,
};

pub(super) fn checks() -> Vec<Check> {
    checks![
        events_by_custom_id_answer, true, Source::Documented("DOC-events: {\"id\", \"created\"}"),
            "POST /users-by-id/{cid}/events/: {id: int, created: bool}";
        events_created_only_on_first_use, true, Source::Documented("DOC-events: created = the event definition was created"),
            "POST /events/ twice with one new name: created true, then false";
        events_create_is_201, true, Source::Guess("DRF's 201 for creates"),
            "POST /events/: 201";
        events_unknown_user_id_is_400, true, Source::Guess("a body reference to an unknown user is a 400"),
            "POST /events/ with an unknown user_id: 400";
        events_list_items, true, Source::Guess("occurrences as {id, name, timestamp, data}; DOTNET shows other keys"),
            "GET /users/{id}/events/: a page of {id, name, timestamp, data}, unix seconds read back as that instant";
    ]
}

async fn events_by_custom_id_answer(cx: Ctx) -> Verdict {
    cx.create_user("evt-cid", json!({})).await?;
    let a = cx
        .rest()
        .post(
            &format!("/users-by-id/{}/events/", cx.id("evt-cid")),
            &json!({ "name": cx.id("evt-cid"), "timestamp": 1716800000, "data": {"plan": "pro"} }),
        )
        .await?;
    ok_2xx(&a)?;
    has_kind(&a.what, &a.body, "id", "number")?;
    has_kind(&a.what, &a.body, "created", "boolean")
}

async fn post_event(cx: &Ctx, user: i64, name: &str) -> Result<super::Answer, Miss> {
    Ok(cx
        .rest()
        .post(
            "/events/",
            &json!({ "user_id": user, "name": name, "timestamp": 1716800000, "data": {"n": 1} }),
        )
        .await?)
}

async fn events_created_only_on_first_use(cx: Ctx) -> Verdict {
    let u = cx.create_user("evt-first", json!({})).await?;
    let id = int_field(&u, "id")?;
    let name = cx.id("evt-first");
    let first = post_event(&cx, id, &name).await?;
    ok_2xx(&first)?;
    field_eq(&first.what, &first.body, "created", &true.into())?;
    let second = post_event(&cx, id, &name).await?;
    ok_2xx(&second)?;
    field_eq(&second.what, &second.body, "created", &false.into())
}

async fn events_create_is_201(cx: Ctx) -> Verdict {
    let u = cx.create_user("evt-201", json!({})).await?;
    let a = post_event(&cx, int_field(&u, "id")?, &cx.id("evt-201")).await?;
    status(&a, 201)
}

async fn events_unknown_user_id_is_400(cx: Ctx) -> Verdict {
    let a = post_event(&cx, 2147480001, &cx.id("evt-nobody")).await?;
    status(&a, 400)
}

async fn events_list_items(cx: Ctx) -> Verdict {
    let u = cx.create_user("evt-list", json!({})).await?;
    let id = int_field(&u, "id")?;
    ok_2xx(&post_event(&cx, id, &cx.id("evt-list")).await?)?;
    let a = cx.rest().get(&format!("/users/{id}/events/")).await?;
    status(&a, 200)?;
    has_kind(&a.what, &a.body, "results", "array")?;
    let Some(item) = a.body["results"].get(0) else {
        return Err(Miss(format!(
            "{}: no occurrence listed: {}",
            a.what,
            a.brief()
        )));
    };
    has_kind(&a.what, item, "id", "number")?;
    field_eq(&a.what, item, "name", &cx.id("evt-list").into())?;
    has_kind(&a.what, item, "data", "object")?;
    let at = item
        .get("timestamp")
        .and_then(|t| t.as_str())
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    match at {
        Some(t) if t.timestamp() == 1716800000 => Ok(()),
        _ => Err(Miss(format!(
            "{}: timestamp expected 2024-05-27T08:53:20Z (unix 1716800000), found {}",
            a.what,
            super::short(item.get("timestamp").unwrap_or(&serde_json::Value::Null))
        ))),
    }
}
