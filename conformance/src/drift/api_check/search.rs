//! `/users/search/`: by user key, by e-mail (one object, or an array with `many=true`), by phone.

use serde_json::{json, Value};

use super::{checks, field_eq, has_kind, int_field, status, Check, Ctx, Miss, Source, Verdict};

pub(super) fn checks() -> Vec<Check> {
    checks![
        search_unknown_email_is_404, false, Source::Documented("DOC-users, DOC-codes: a failed search is 404"),
            "?email= of nobody: 404";
        search_unknown_key_is_404, false, Source::Documented("DOC-users, RS-src"),
            "?key= of nobody: 404";
        search_without_parameter_is_400, false, Source::Guess("a search needs key, email or phone_number"),
            "GET /users/search/ without a parameter: 400";
        search_by_email_answers_one_user, true, Source::Documented("DOC-users find-user-by-email"),
            "?email=: 200 with the user object itself";
        search_by_key_answers_one_user, true, Source::Documented("DOC-users find-user-by-key, RS-src"),
            "?key=USER_KEY: 200 with the user object";
        search_email_many_answers_array, true, Source::Documented("DOTNET: ?email=&many=true is a bare array"),
            "?email=&many=true: a bare JSON array of users";
        search_phone_answers_page, true, Source::Guess("usercom-api.md §2.3: a page envelope, what RudderStack expects"),
            "?phone_number=: a page envelope with the user";
    ]
}

async fn search_unknown_email_is_404(cx: Ctx) -> Verdict {
    let a = cx
        .rest()
        .get(&format!(
            "/users/search/?email={}@example.invalid",
            cx.id("nobody")
        ))
        .await?;
    status(&a, 404)
}

async fn search_unknown_key_is_404(cx: Ctx) -> Verdict {
    let a = cx.rest().get("/users/search/?key=zz0drift0zz0").await?;
    status(&a, 404)
}

async fn search_without_parameter_is_400(cx: Ctx) -> Verdict {
    let a = cx.rest().get("/users/search/").await?;
    status(&a, 400)
}

async fn user_with_email(cx: &Ctx, what: &str) -> Result<(i64, String, Value), Miss> {
    let email = format!("{}@example.com", cx.id(what));
    let a = cx.create_user(what, json!({ "email": email })).await?;
    Ok((int_field(&a, "id")?, email, a.body))
}

async fn search_by_email_answers_one_user(cx: Ctx) -> Verdict {
    let (id, email, _) = user_with_email(&cx, "by-email").await?;
    let a = cx
        .rest()
        .get(&format!("/users/search/?email={email}"))
        .await?;
    status(&a, 200)?;
    field_eq(&a.what, &a.body, "id", &id.into())
}

async fn search_by_key_answers_one_user(cx: Ctx) -> Verdict {
    let (id, _, user) = user_with_email(&cx, "by-key").await?;
    has_kind("the created user", &user, "user_key", "string")?;
    let key = user["user_key"].as_str().unwrap_or_default();
    let a = cx.rest().get(&format!("/users/search/?key={key}")).await?;
    status(&a, 200)?;
    field_eq(&a.what, &a.body, "id", &id.into())
}

async fn search_email_many_answers_array(cx: Ctx) -> Verdict {
    let (id, email, _) = user_with_email(&cx, "many").await?;
    let a = cx
        .rest()
        .get(&format!("/users/search/?email={email}&many=true"))
        .await?;
    status(&a, 200)?;
    let Some(items) = a.body.as_array() else {
        return Err(Miss(format!(
            "{}: expected a JSON array, found {}",
            a.what,
            a.brief()
        )));
    };
    if items.iter().any(|u| u.get("id") == Some(&id.into())) {
        Ok(())
    } else {
        Err(Miss(format!("{}: user {id} not in {}", a.what, a.brief())))
    }
}

async fn search_phone_answers_page(cx: Ctx) -> Verdict {
    let phone = format!("+1555{:07}", fastrand::u32(..10_000_000));
    let a = cx
        .create_user("phone", json!({ "phone_number": phone }))
        .await?;
    let id = int_field(&a, "id")?;
    let a = cx
        .rest()
        .get(&format!("/users/search/?phone_number=%2B{}", &phone[1..]))
        .await?;
    status(&a, 200)?;
    has_kind(&a.what, &a.body, "results", "array")?;
    if a.body["results"]
        .as_array()
        .is_some_and(|r| r.iter().any(|u| u.get("id") == Some(&id.into())))
    {
        Ok(())
    } else {
        Err(Miss(format!("{}: user {id} not in {}", a.what, a.brief())))
    }
}
