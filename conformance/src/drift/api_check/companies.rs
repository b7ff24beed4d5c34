//! Companies: the v2 company object, partial updates by custom id, members, delete.

use serde_json::{json, Value};

use super::{
    checks, field_eq, has_kind, int_field, ok_2xx, status, Check, Ctx, Miss, Source, Verdict,
};

pub(super) fn checks() -> Vec<Check> {
    checks![
        companies_create_is_201, true, Source::Guess("DRF's 201 for creates"),
            "POST /companies/: 201";
        companies_create_answers_v2_object, true, Source::Documented("RS-net v2 company body"),
            "POST /companies/ answers id, name, custom_id, size, employees [], tags [], created_at";
        companies_put_by_custom_id_is_partial, true, Source::Documented("DOC-co update-company-by-id"),
            "PUT /companies-by-id/{cid}/ {city}: city set, name kept";
        companies_add_member, true, Source::Documented("RS-src add_member {user_id}; RS-net employees and user companies"),
            "add_member: the user id in employees, {id, name, member_since} in the user's companies";
        companies_remove_member, true, Source::Guess("remove_member/ mirrors add_member/"),
            "remove_member: the user leaves employees";
        companies_phone_string_is_wrapped, true, Source::Guess("a single phone_numbers string becomes a list (RS sends a string), or is refused (strict); never kept as text"),
            "phone_numbers \"+48 1\": read back as [\"+48 1\"], or 400 naming phone_numbers";
        companies_delete_then_404, true, Source::Documented("DOTNET, PHP-G: DELETE /companies/{id}/"),
            "DELETE /companies/{id}/: 2xx, then GET is 404";
    ]
}

async fn companies_create_is_201(cx: Ctx) -> Verdict {
    let c = cx.create_company("co-201", json!({})).await?;
    status(&c, 201)
}

async fn companies_create_answers_v2_object(cx: Ctx) -> Verdict {
    let c = cx.create_company("co-v2", json!({ "size": 40 })).await?;
    let w = &c.what;
    has_kind(w, &c.body, "id", "number")?;
    for k in ["name", "custom_id", "created_at"] {
        has_kind(w, &c.body, k, "string")?;
    }
    for k in ["employees", "tags"] {
        has_kind(w, &c.body, k, "array")?;
    }
    field_eq(w, &c.body, "size", &40.into())?;
    field_eq(w, &c.body, "custom_id", &cx.id("co-v2").into())
}

async fn companies_put_by_custom_id_is_partial(cx: Ctx) -> Verdict {
    cx.create_company("co-put", json!({})).await?;
    let path = format!("/companies-by-id/{}/", cx.id("co-put"));
    let p = cx.rest().put(&path, &json!({ "city": "Wrocław" })).await?;
    status(&p, 200)?;
    let g = cx.rest().get(&path).await?;
    field_eq(&g.what, &g.body, "city", &"Wrocław".into())?;
    field_eq(&g.what, &g.body, "name", &"Drift co-put".into())
}

fn employees(v: &Value) -> Vec<Value> {
    v.get("employees")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

async fn member(cx: &Ctx, what: &str) -> Result<(i64, i64), Miss> {
    let c = cx.create_company(what, json!({})).await?;
    let u = cx.create_user(what, json!({})).await?;
    let (cid, uid) = (int_field(&c, "id")?, int_field(&u, "id")?);
    let a = cx
        .rest()
        .post(
            &format!("/companies/{cid}/add_member/"),
            &json!({ "user_id": uid, "user_custom_id": cx.id(what) }),
        )
        .await?;
    ok_2xx(&a)?;
    Ok((cid, uid))
}

async fn companies_add_member(cx: Ctx) -> Verdict {
    let (cid, uid) = member(&cx, "co-member").await?;
    let c = cx.rest().get(&format!("/companies/{cid}/")).await?;
    if !employees(&c.body).contains(&uid.into()) {
        return Err(Miss(format!(
            "{}: user {uid} not in employees: {}",
            c.what,
            c.brief()
        )));
    }
    let u = cx.rest().get(&format!("/users/{uid}/")).await?;
    let companies = u.get("companies").as_array().cloned().unwrap_or_default();
    let Some(entry) = companies.iter().find(|e| e.get("id") == Some(&cid.into())) else {
        return Err(Miss(format!(
            "{}: company {cid} not in companies: {}",
            u.what,
            u.brief()
        )));
    };
    has_kind(&u.what, entry, "name", "string")?;
    has_kind(&u.what, entry, "member_since", "string")
}

async fn companies_remove_member(cx: Ctx) -> Verdict {
    let (cid, uid) = member(&cx, "co-leave").await?;
    let r = cx
        .rest()
        .post(
            &format!("/companies/{cid}/remove_member/"),
            &json!({ "user_id": uid }),
        )
        .await?;
    ok_2xx(&r)?;
    let c = cx.rest().get(&format!("/companies/{cid}/")).await?;
    if employees(&c.body).contains(&uid.into()) {
        return Err(Miss(format!("{}: user {uid} still in employees", c.what)));
    }
    Ok(())
}

async fn companies_phone_string_is_wrapped(cx: Ctx) -> Verdict {
    // Refused (the strict simulator): nothing is created, so nothing to clean up.
    let body = json!({ "custom_id": cx.id("co-phone"), "name": "Drift co-phone", "phone_numbers": "+48 1" });
    let a = cx.rest().post("/companies/", &body).await?;
    if a.status == 400 {
        return field_eq(&a.what, &a.body, "field", &"phone_numbers".into());
    }
    ok_2xx(&a)?;
    let id = int_field(&a, "id")?;
    cx.track_company(id);
    let g = cx.rest().get(&format!("/companies/{id}/")).await?;
    field_eq(&g.what, &g.body, "phone_numbers", &json!(["+48 1"]))
}

async fn companies_delete_then_404(cx: Ctx) -> Verdict {
    let c = cx.create_company("co-delete", json!({})).await?;
    let id = int_field(&c, "id")?;
    let d = cx.rest().delete(&format!("/companies/{id}/")).await?;
    ok_2xx(&d)?;
    cx.forget_company(id);
    let g = cx.rest().get(&format!("/companies/{id}/")).await?;
    status(&g, 404)
}
