//! Users: create, read, update (partial), delete, upsert, the v2 user object, standard-field
//! conversions (gender and status as integers on write, words on read), validation answers.

use serde_json::{json, Value};

use super::{
    checks, field_eq, has_kind, int_field, ok_2xx, status, status_in, Check, Ctx, Miss, Source,
    Verdict,
};
use crate::drift::rest::Opts;

pub(super) fn checks() -> Vec<Check> {
    checks![
        users_create_is_201, true, Source::Guess("DRF's 201 for creates"),
            "POST /users/: 201";
        users_create_answers_v2_object, true, Source::Documented("RS-net v2 bodies"),
            "POST /users/ answers the v2 user: id, user_key, custom_id, email, gender, status, tags, companies, created_at";
        users_gender_status_read_as_words, true, Source::Documented("RS-map, DOTNET enums: 2 -> male, 2 -> user"),
            "gender 2 and status 2 on write read as \"male\" and \"user\"";
        users_name_derived_from_first_and_last, true, Source::Documented("DOC-users examples"),
            "first_name Ada + last_name Lovelace: name \"Ada Lovelace\"";
        users_user_key_is_12_characters, true, Source::Documented("DOC-users: 12 random characters"),
            "user_key has 12 characters";
        users_datetimes_iso_utc_microseconds, true, Source::Documented("RS-net: 2022-09-13T06:16:25.576355Z"),
            "created_at/updated_at are ISO-8601 UTC with microseconds and Z";
        users_put_is_partial, true, Source::Documented("DOC-users update-user; every client sends partial bodies"),
            "PUT /users/{id}/ {city}: city set, email kept";
        users_get_by_custom_id, true, Source::Documented("RS-src, DOTNET: GET /users-by-id/{cid}/"),
            "GET /users-by-id/{custom_id}/: 200 with that user";
        users_put_by_custom_id, true, Source::Documented("DOC-v1, BITBAG: PUT /users-by-id/{cid}/"),
            "PUT /users-by-id/{custom_id}/: 200 and the change is read back";
        users_custom_id_with_at_sign, true, Source::Documented("RS tests: users-by-id/user@123/ unencoded"),
            "a custom id with `@` works raw in the path";
        users_update_or_create_upserts, true, Source::Documented("DOC-users update-or-create-user: {created, id}"),
            "update_or_create: {created: true, id} then {created: false, same id}";
        users_update_or_create_statuses, true, Source::Guess("201 when created, 200 when updated"),
            "update_or_create answers 201 then 200";
        users_delete_then_404, true, Source::Documented("DOTNET, PHP-G: DELETE /users/{id}/"),
            "DELETE /users/{id}/: 2xx, then GET is 404";
        users_delete_is_204, true, Source::Guess("DRF's 204 for deletes"),
            "DELETE /users/{id}/: 204";
        users_invalid_email_is_400, true, Source::Guess("e-mail validation (DRF: Enter a valid email address.)"),
            "POST /users/ with email \"not-an-email\": 400";
        users_400_names_the_field, true, Source::Guess("DRF field map under `errors`"),
            "a 400 for a bad email has errors.email";
        users_gender_word_on_write_is_400, true, Source::Guess("usercom-api.md §2.2: string values on write"),
            "gender \"male\" on write: 400";
        users_duplicate_custom_id_is_400, true, Source::Guess("usercom-api.md §2.4"),
            "POST /users/ with a custom_id in use: 400";
        users_tags_only_added, true, Source::Documented("DOC-v1: tags are only added; RS-net: [{id, name}]"),
            "tags [a] then PUT tags [b]: both, as {id, name} objects";
        users_read_only_fields_ignored, true, Source::Guess("read-only fields are ignored, not refused"),
            "PUT page_views: 99: 2xx and page_views unchanged";
        users_first_last_name_readable, true, Source::Guess("the real API may treat them as write-only"),
            "first_name and last_name are read back";
        users_without_version_header_answer_v2, true, Source::Guess("the simulator serves only v2: v2 shapes, or 400 naming Accept in strict mode (User.com answers v1)"),
            "no Accept version: a v2 user (user_key, no `key`) or a 400 naming Accept";
    ]
}

async fn users_create_is_201(cx: Ctx) -> Verdict {
    let a = cx.create_user("c201", json!({})).await?;
    status(&a, 201)
}

async fn users_create_answers_v2_object(cx: Ctx) -> Verdict {
    let email = format!("{}@example.com", cx.id("v2"));
    let a = cx
        .create_user("v2", json!({ "email": email, "gender": 3, "status": 1 }))
        .await?;
    let w = &a.what;
    has_kind(w, &a.body, "id", "number")?;
    for k in [
        "user_key",
        "custom_id",
        "email",
        "gender",
        "status",
        "created_at",
        "updated_at",
    ] {
        has_kind(w, &a.body, k, "string")?;
    }
    for k in ["tags", "companies"] {
        has_kind(w, &a.body, k, "array")?;
    }
    field_eq(w, &a.body, "custom_id", &cx.id("v2").into())?;
    field_eq(w, &a.body, "email", &email.into())
}

async fn users_gender_status_read_as_words(cx: Ctx) -> Verdict {
    let a = cx
        .create_user("words", json!({ "gender": 2, "status": 2 }))
        .await?;
    let id = int_field(&a, "id")?;
    let a = cx.rest().get(&format!("/users/{id}/")).await?;
    status(&a, 200)?;
    field_eq(&a.what, &a.body, "gender", &"male".into())?;
    field_eq(&a.what, &a.body, "status", &"user".into())
}

async fn users_name_derived_from_first_and_last(cx: Ctx) -> Verdict {
    let a = cx
        .create_user(
            "name",
            json!({ "first_name": "Ada", "last_name": "Lovelace" }),
        )
        .await?;
    field_eq(&a.what, &a.body, "name", &"Ada Lovelace".into())
}

async fn users_user_key_is_12_characters(cx: Ctx) -> Verdict {
    let a = cx.create_user("key", json!({})).await?;
    match a.get("user_key").as_str() {
        Some(k) if k.chars().count() == 12 => Ok(()),
        other => Err(Miss(format!(
            "{}: expected a 12-character user_key, found {other:?}",
            a.what
        ))),
    }
}

/// `2022-09-13T06:16:25.576355Z`: UTC, `Z`, six fraction digits.
fn iso_micro_z(s: &str) -> bool {
    let ok_prefix = chrono::DateTime::parse_from_rfc3339(s).is_ok();
    let frac = s
        .strip_suffix('Z')
        .and_then(|s| s.rsplit_once('.'))
        .map(|(_, f)| f.len() == 6 && f.bytes().all(|b| b.is_ascii_digit()));
    ok_prefix && frac == Some(true)
}

async fn users_datetimes_iso_utc_microseconds(cx: Ctx) -> Verdict {
    let a = cx.create_user("times", json!({})).await?;
    for k in ["created_at", "updated_at"] {
        match a.get(k).as_str() {
            Some(s) if iso_micro_z(s) => {}
            other => {
                return Err(Miss(format!(
                    "{}: `{k}` expected like 2022-09-13T06:16:25.576355Z, found {other:?}",
                    a.what
                )))
            }
        }
    }
    Ok(())
}

async fn users_put_is_partial(cx: Ctx) -> Verdict {
    let email = format!("{}@example.com", cx.id("partial"));
    let a = cx.create_user("partial", json!({ "email": email })).await?;
    let id = int_field(&a, "id")?;
    let a = cx
        .rest()
        .put(&format!("/users/{id}/"), &json!({ "city": "Gdańsk" }))
        .await?;
    status(&a, 200)?;
    let a = cx.rest().get(&format!("/users/{id}/")).await?;
    field_eq(&a.what, &a.body, "city", &"Gdańsk".into())?;
    field_eq(&a.what, &a.body, "email", &email.into())
}

async fn users_get_by_custom_id(cx: Ctx) -> Verdict {
    let a = cx.create_user("by-cid", json!({})).await?;
    let id = int_field(&a, "id")?;
    let a = cx
        .rest()
        .get(&format!("/users-by-id/{}/", cx.id("by-cid")))
        .await?;
    status(&a, 200)?;
    field_eq(&a.what, &a.body, "id", &id.into())
}

async fn users_put_by_custom_id(cx: Ctx) -> Verdict {
    cx.create_user("put-cid", json!({})).await?;
    let path = format!("/users-by-id/{}/", cx.id("put-cid"));
    let a = cx
        .rest()
        .put(&path, &json!({ "country": "Poland" }))
        .await?;
    status(&a, 200)?;
    let a = cx.rest().get(&path).await?;
    field_eq(&a.what, &a.body, "country", &"Poland".into())
}

async fn users_custom_id_with_at_sign(cx: Ctx) -> Verdict {
    let a = cx.create_user("at@123", json!({})).await?;
    let id = int_field(&a, "id")?;
    let a = cx
        .rest()
        .get(&format!("/users-by-id/{}/", cx.id("at@123")))
        .await?;
    status(&a, 200)?;
    field_eq(&a.what, &a.body, "id", &id.into())
}

async fn upsert_twice(cx: &Ctx, what: &str) -> Result<(super::Answer, super::Answer), Miss> {
    let body = json!({ "custom_id": cx.id(what), "city": "Kraków" });
    let first = cx.rest().post("/users/update_or_create/", &body).await?;
    ok_2xx(&first)?;
    let id = int_field(&first, "id")?;
    cx.track_user(id);
    let second = cx.rest().post("/users/update_or_create/", &body).await?;
    ok_2xx(&second)?;
    Ok((first, second))
}

async fn users_update_or_create_upserts(cx: Ctx) -> Verdict {
    let (first, second) = upsert_twice(&cx, "upsert").await?;
    field_eq(&first.what, &first.body, "created", &true.into())?;
    field_eq(&second.what, &second.body, "created", &false.into())?;
    field_eq(&second.what, &second.body, "id", first.get("id"))
}

async fn users_update_or_create_statuses(cx: Ctx) -> Verdict {
    let (first, second) = upsert_twice(&cx, "upsert-st").await?;
    status(&first, 201)?;
    status(&second, 200)
}

async fn create_and_delete(cx: &Ctx, what: &str) -> Result<(i64, super::Answer), Miss> {
    let a = cx.create_user(what, json!({})).await?;
    let id = int_field(&a, "id")?;
    let d = cx.rest().delete(&format!("/users/{id}/")).await?;
    if (200..300).contains(&d.status) {
        cx.forget_user(id);
    }
    Ok((id, d))
}

async fn users_delete_then_404(cx: Ctx) -> Verdict {
    let (id, d) = create_and_delete(&cx, "delete").await?;
    ok_2xx(&d)?;
    let a = cx.rest().get(&format!("/users/{id}/")).await?;
    status(&a, 404)
}

async fn users_delete_is_204(cx: Ctx) -> Verdict {
    let (_, d) = create_and_delete(&cx, "delete-204").await?;
    status(&d, 204)
}

async fn bad_email(cx: &Ctx) -> Result<super::Answer, Miss> {
    let body = json!({ "custom_id": cx.id("bad-email"), "email": "not-an-email" });
    let a = cx.rest().post("/users/", &body).await?;
    if let (true, Some(id)) = ((200..300).contains(&a.status), a.get("id").as_i64()) {
        cx.track_user(id);
    }
    Ok(a)
}

async fn users_invalid_email_is_400(cx: Ctx) -> Verdict {
    let a = bad_email(&cx).await?;
    status(&a, 400)
}

async fn users_400_names_the_field(cx: Ctx) -> Verdict {
    let a = bad_email(&cx).await?;
    status(&a, 400)?;
    has_kind(&a.what, &a.body, "errors", "object")?;
    has_kind(&a.what, &a.body["errors"], "email", "array")
}

async fn users_gender_word_on_write_is_400(cx: Ctx) -> Verdict {
    let body = json!({ "custom_id": cx.id("gender-word"), "gender": "male" });
    let a = cx.rest().post("/users/", &body).await?;
    if let (true, Some(id)) = ((200..300).contains(&a.status), a.get("id").as_i64()) {
        cx.track_user(id);
    }
    status(&a, 400)
}

async fn users_duplicate_custom_id_is_400(cx: Ctx) -> Verdict {
    cx.create_user("dup", json!({})).await?;
    let a = cx
        .rest()
        .post("/users/", &json!({ "custom_id": cx.id("dup") }))
        .await?;
    if let (true, Some(id)) = ((200..300).contains(&a.status), a.get("id").as_i64()) {
        cx.track_user(id);
    }
    status(&a, 400)
}

fn tag_names(user: &Value) -> Result<Vec<String>, Miss> {
    let tags = user.get("tags").and_then(Value::as_array).ok_or_else(|| {
        Miss(format!(
            "expected `tags` as a list, found {}",
            super::short(user)
        ))
    })?;
    tags.iter()
        .map(|t| {
            t.get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| Miss(format!("a tag is not {{id, name}}: {}", super::short(t))))
        })
        .collect()
}

async fn users_tags_only_added(cx: Ctx) -> Verdict {
    let (a, b) = (cx.id("tag-a"), cx.id("tag-b"));
    let u = cx.create_user("tags", json!({ "tags": [a] })).await?;
    let id = int_field(&u, "id")?;
    let p = cx
        .rest()
        .put(&format!("/users/{id}/"), &json!({ "tags": [b] }))
        .await?;
    status(&p, 200)?;
    let g = cx.rest().get(&format!("/users/{id}/")).await?;
    let names = tag_names(&g.body).map_err(|m| Miss(format!("{}: {}", g.what, m.0)))?;
    if names.contains(&a) && names.contains(&b) {
        Ok(())
    } else {
        Err(Miss(format!(
            "{}: expected tags {a} and {b}, found {names:?}",
            g.what
        )))
    }
}

async fn users_read_only_fields_ignored(cx: Ctx) -> Verdict {
    let u = cx.create_user("read-only", json!({})).await?;
    let id = int_field(&u, "id")?;
    let before = u.get("page_views").clone();
    let p = cx
        .rest()
        .put(&format!("/users/{id}/"), &json!({ "page_views": 99 }))
        .await?;
    ok_2xx(&p)?;
    let g = cx.rest().get(&format!("/users/{id}/")).await?;
    field_eq(&g.what, &g.body, "page_views", &before)
}

async fn users_first_last_name_readable(cx: Ctx) -> Verdict {
    let u = cx
        .create_user(
            "names",
            json!({ "first_name": "Grace", "last_name": "Hopper" }),
        )
        .await?;
    let id = int_field(&u, "id")?;
    let g = cx.rest().get(&format!("/users/{id}/")).await?;
    field_eq(&g.what, &g.body, "first_name", &"Grace".into())?;
    field_eq(&g.what, &g.body, "last_name", &"Hopper".into())
}

async fn users_without_version_header_answer_v2(cx: Ctx) -> Verdict {
    let u = cx.create_user("dialect", json!({})).await?;
    let id = int_field(&u, "id")?;
    let opts = Opts {
        accept: None,
        ..Opts::default()
    };
    let g = cx
        .rest()
        .send(reqwest::Method::GET, &format!("/users/{id}/"), None, &opts)
        .await?;
    status_in(&g, &[200, 400])?;
    if g.status == 400 {
        return field_eq(&g.what, &g.body, "field", &"Accept".into());
    }
    has_kind(&g.what, &g.body, "user_key", "string")?;
    if g.body.get("key").is_some() {
        return Err(Miss(format!(
            "{}: a v1 `key` field in the answer: {}",
            g.what,
            g.brief()
        )));
    }
    Ok(())
}
