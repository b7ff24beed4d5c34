//! Attribute definitions and custom attribute values: `name_std`, the documented wire format of
//! each type, values flattened into the user and company objects.

use serde_json::{json, Value};

use super::{
    checks, field_eq, has_kind, int_field, ok_2xx, status, status_in, Check, Ctx, Miss, Source,
    Verdict,
};

pub(super) fn checks() -> Vec<Check> {
    checks![
        attributes_create_answers_name_std, true, Source::Documented("DOC-attr create-attribute"),
            "POST /attributes/ answers {id, name, name_std (lower-case, spaces -> _), value_type, content_type}";
        attributes_create_is_201, true, Source::Guess("DRF's 201 for creates"),
            "POST /attributes/: 201";
        attributes_duplicate_name_is_400, true, Source::Guess("a second definition of one name_std is refused"),
            "POST /attributes/ with a name already defined: 400";
        attributes_unknown_content_type_is_400, true, Source::Guess("content types outside the documented list are refused"),
            "content_type \"nonsense\": 400";
        attributes_user_value_flattened, true, Source::Documented("RS-net, DOC-users: custom attributes are top-level keys"),
            "a defined user attribute's value reads back at the top level of the user";
        attributes_wire_formats_round_trip, true, Source::Documented("DOTNET serializer tests: the wire format of each type"),
            "integer 5, float 1.5, boolean true, date 2024-05-01, datetime 2024-05-01T10:00:00Z read back as written";
        attributes_fixed_choice, true, Source::Documented("DOC-attr: fixed = one of its choices"),
            "a fixed attribute takes one of its choices";
        attributes_numeric_string_for_integer, true, Source::Guess("converted (Segment's rule) or refused (strict); never kept as text"),
            "\"7\" for an integer attribute: stored as 7, or a 400 naming the key";
        attributes_undefined_key_not_refused, true, Source::Guess("usercom-api.md §3.3: an undefined key is ignored or created as string, not a 400"),
            "an undefined custom key in a user body: 2xx; the key is absent or a string";
        attributes_set_multiple_attributes, true, Source::Documented("GO, DOTNET: POST /users/{id}/set_multiple_attributes/"),
            "set_multiple_attributes sets a defined attribute";
        attributes_company_value_flattened, true, Source::Documented("RS-net: company custom attributes are top-level keys"),
            "a defined company attribute's value reads back at the top level of the company";
    ]
}

async fn attributes_create_answers_name_std(cx: Ctx) -> Verdict {
    let a = cx
        .define_attribute("Std Name", "string", "clientuser", json!({}))
        .await?;
    has_kind(&a.what, &a.body, "id", "number")?;
    field_eq(&a.what, &a.body, "name", &cx.attr_name("Std Name").into())?;
    field_eq(
        &a.what,
        &a.body,
        "name_std",
        &cx.attr_std("Std Name").into(),
    )?;
    field_eq(&a.what, &a.body, "value_type", &"string".into())?;
    field_eq(&a.what, &a.body, "content_type", &"clientuser".into())
}

async fn attributes_create_is_201(cx: Ctx) -> Verdict {
    let a = cx
        .define_attribute("c201", "string", "clientuser", json!({}))
        .await?;
    status(&a, 201)
}

async fn attributes_duplicate_name_is_400(cx: Ctx) -> Verdict {
    cx.define_attribute("dup", "string", "clientuser", json!({}))
        .await?;
    let body = json!({ "name": cx.attr_name("dup"), "value_type": "string", "content_type": "clientuser" });
    let a = cx.rest().post("/attributes/", &body).await?;
    if let (true, Some(id)) = ((200..300).contains(&a.status), a.get("id").as_i64()) {
        cx.track_attribute(id, cx.attr_name("dup"));
    }
    status(&a, 400)
}

async fn attributes_unknown_content_type_is_400(cx: Ctx) -> Verdict {
    let body =
        json!({ "name": cx.attr_name("ct"), "value_type": "string", "content_type": "nonsense" });
    let a = cx.rest().post("/attributes/", &body).await?;
    if let (true, Some(id)) = ((200..300).contains(&a.status), a.get("id").as_i64()) {
        cx.track_attribute(id, cx.attr_name("ct"));
    }
    status(&a, 400)
}

/// Sets `body` on a fresh user with PUT and reads the user back.
async fn put_and_read(cx: &Ctx, what: &str, body: Value) -> Result<super::Answer, Miss> {
    let u = cx.create_user(what, json!({})).await?;
    let id = int_field(&u, "id")?;
    let p = cx.rest().put(&format!("/users/{id}/"), &body).await?;
    status(&p, 200)?;
    let g = cx.rest().get(&format!("/users/{id}/")).await?;
    status(&g, 200)?;
    Ok(g)
}

async fn attributes_user_value_flattened(cx: Ctx) -> Verdict {
    cx.define_attribute("flat", "string", "clientuser", json!({}))
        .await?;
    let key = cx.attr_std("flat");
    let g = put_and_read(&cx, "flat", json!({ key.clone(): "hello" })).await?;
    field_eq(&g.what, &g.body, &key, &"hello".into())
}

async fn attributes_wire_formats_round_trip(cx: Ctx) -> Verdict {
    let cases: [(&str, &str, Value); 5] = [
        ("int", "integer", json!(5)),
        ("float", "float", json!(1.5)),
        ("bool", "boolean", json!(true)),
        ("date", "date", json!("2024-05-01")),
        ("dt", "datetime", json!("2024-05-01T10:00:00Z")),
    ];
    let mut body = serde_json::Map::new();
    for (what, vt, v) in &cases {
        cx.define_attribute(what, vt, "clientuser", json!({}))
            .await?;
        body.insert(cx.attr_std(what), v.clone());
    }
    let g = put_and_read(&cx, "wire", Value::Object(body)).await?;
    for (what, vt, v) in &cases {
        let key = cx.attr_std(what);
        let found = g.get(&key);
        let same = match (*vt, found, v) {
            ("datetime", Value::String(f), Value::String(w)) => {
                let p = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
                p(f).is_some() && p(f) == p(w)
            }
            ("float", Value::Number(f), Value::Number(w)) => f.as_f64() == w.as_f64(),
            _ => found == v,
        };
        if !same {
            return Err(Miss(format!(
                "{}: {vt} attribute `{key}` written as {v}, read back as {}",
                g.what,
                super::short(found)
            )));
        }
    }
    Ok(())
}

async fn attributes_fixed_choice(cx: Ctx) -> Verdict {
    cx.define_attribute(
        "plan",
        "fixed",
        "clientuser",
        json!({ "choices": ["free", "pro"] }),
    )
    .await?;
    let key = cx.attr_std("plan");
    let g = put_and_read(&cx, "fixed", json!({ key.clone(): "pro" })).await?;
    field_eq(&g.what, &g.body, &key, &"pro".into())
}

async fn attributes_numeric_string_for_integer(cx: Ctx) -> Verdict {
    cx.define_attribute("seats", "integer", "clientuser", json!({}))
        .await?;
    let key = cx.attr_std("seats");
    let u = cx.create_user("seats", json!({})).await?;
    let id = int_field(&u, "id")?;
    let p = cx
        .rest()
        .put(&format!("/users/{id}/"), &json!({ key.clone(): "7" }))
        .await?;
    status_in(&p, &[200, 400])?;
    if p.status == 400 {
        return field_eq(&p.what, &p.body, "field", &key.into());
    }
    let g = cx.rest().get(&format!("/users/{id}/")).await?;
    field_eq(&g.what, &g.body, &key, &7.into())
}

async fn attributes_undefined_key_not_refused(cx: Ctx) -> Verdict {
    let key = cx.attr_std("undefined");
    let g = put_and_read(&cx, "undefined", json!({ key.clone(): 42 })).await?;
    match g.body.get(&key) {
        None | Some(Value::String(_)) => Ok(()),
        Some(other) => Err(Miss(format!(
            "{}: `{key}` expected absent or a string, found {}",
            g.what,
            super::short(other)
        ))),
    }
}

async fn attributes_set_multiple_attributes(cx: Ctx) -> Verdict {
    cx.define_attribute("multi", "string", "clientuser", json!({}))
        .await?;
    let key = cx.attr_std("multi");
    let u = cx.create_user("multi", json!({})).await?;
    let id = int_field(&u, "id")?;
    let p = cx
        .rest()
        .post(
            &format!("/users/{id}/set_multiple_attributes/"),
            &json!({ key.clone(): "set" }),
        )
        .await?;
    ok_2xx(&p)?;
    let g = cx.rest().get(&format!("/users/{id}/")).await?;
    field_eq(&g.what, &g.body, &key, &"set".into())
}

async fn attributes_company_value_flattened(cx: Ctx) -> Verdict {
    cx.define_attribute("tier", "string", "company", json!({}))
        .await?;
    let key = cx.attr_std("tier");
    let c = cx.create_company("tier", json!({})).await?;
    let id = int_field(&c, "id")?;
    let p = cx
        .rest()
        .put(
            &format!("/companies/{id}/"),
            &json!({ key.clone(): "gold" }),
        )
        .await?;
    status(&p, 200)?;
    let g = cx.rest().get(&format!("/companies/{id}/")).await?;
    field_eq(&g.what, &g.body, &key, &"gold".into())
}
