//! Strict mode (`--strict`, `.strict(true)`, `POST /__admin/apps {"strict": true}`): every
//! behaviour of the README's "Strict mode" section, over HTTP.

use reqwest::Method;
use serde_json::{json, Value};
use usercom_mock::MockServer;

use crate::support::{expect, Mock, Resp};

const V2: (&str, &str) = ("Accept", "*/*; version=2");

async fn strict() -> Mock {
    Mock::with(MockServer::builder().api_key("strict-key").strict(true)).await
}

/// An API call with `Accept: */*; version=2` and the server's default key.
async fn call(m: &Mock, method: Method, path: &str, body: Option<Value>) -> Resp {
    call_as(m, &m.key(), method, path, body).await
}

async fn call_as(m: &Mock, key: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
    m.raw(
        method,
        &format!("/api/public{path}"),
        Some(key),
        &[V2],
        body.map(|b| b.to_string().into_bytes()),
    )
    .await
}

async fn define(m: &Mock, key: &str, body: Value) {
    let r = call_as(m, key, Method::POST, "/attributes/", Some(body)).await;
    expect(&r, 201);
}

fn notes_of(entry: &Value) -> Vec<String> {
    entry["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| n.as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn requests_without_the_v2_accept_header_are_refused() {
    let m = strict().await;
    let key = m.key();
    let body = || Some(json!({"custom_id": "u1"}).to_string().into_bytes());
    for accept in [
        None,
        Some("application/json"),
        Some("*/*"),
        Some("*/*; version=1"),
    ] {
        let headers: Vec<(&str, &str)> = accept.iter().map(|a| ("Accept", *a)).collect();
        let r = m
            .raw(
                Method::POST,
                "/api/public/users/",
                Some(&key),
                &headers,
                body(),
            )
            .await;
        expect(&r, 400);
        assert_eq!(r.body["field"], "Accept", "{accept:?}: {}", r.text);
        let detail = r.body["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("Accept: strict mode") && detail.contains("*/*; version=2"),
            "{detail}"
        );
        assert!(r.body["errors"]["Accept"][0].is_string(), "{}", r.text);
    }
    // GETs too.
    let r = m
        .raw(Method::GET, "/api/public/users/", Some(&key), &[], None)
        .await;
    expect(&r, 400);
    // Nothing was written by the refused requests.
    let state = m.admin(Method::GET, "/state?app=default", None).await;
    assert_eq!(state.body["users"], json!([]));
    // Authentication comes first: an unknown key is still a 401.
    let r = m
        .raw(Method::GET, "/api/public/users/", Some("nope"), &[], None)
        .await;
    expect(&r, 401);
    // Lenient parsing of the documented header.
    for accept in [
        "*/*; version=2",
        "*/*;version=2",
        " */*; version=2",
        "*/*;  version = \"2\" ",
        "application/json, */*; version=2",
    ] {
        let r = m
            .raw(
                Method::GET,
                "/api/public/users/",
                Some(&key),
                &[("Accept", accept)],
                None,
            )
            .await;
        expect(&r, 200);
    }
}

#[tokio::test]
async fn the_default_mode_needs_no_accept_header() {
    let m = Mock::start().await;
    let r = m
        .raw(Method::GET, "/api/public/users/", Some(&m.key()), &[], None)
        .await;
    expect(&r, 200);
}

#[tokio::test]
async fn payload_keys_must_be_the_attributes_name_std() {
    let m = strict().await;
    let key = m.key();
    define(
        &m,
        &key,
        json!({"name": "VIP Level", "value_type": "string", "content_type": "clientuser"}),
    )
    .await;
    // `VIP Level` and `VIP_level` normalise to `vip_level`, but only the name_std itself is it.
    let r = call(
        &m,
        Method::POST,
        "/users/update_or_create/",
        Some(json!({"custom_id": "u1", "VIP Level": "gold", "VIP_level": "silver"})),
    )
    .await;
    expect(&r, 201);
    let notes = m.last_notes().await;
    for sent in ["VIP Level", "VIP_level"] {
        assert!(
            notes.contains(&format!(
                "clientuser attribute key `{sent}` is not a name_std (`vip_level`): ignored (strict mode matches keys exactly)"
            )),
            "{notes:?}"
        );
    }
    let user = call(&m, Method::GET, "/users-by-id/u1/", None).await;
    assert!(
        user.body.get("vip_level").is_none_or(Value::is_null),
        "{}",
        user.text
    );
    let r = call(
        &m,
        Method::POST,
        "/users/update_or_create/",
        Some(json!({"custom_id": "u1", "vip_level": "gold"})),
    )
    .await;
    expect(&r, 200);
    let user = call(&m, Method::GET, "/users-by-id/u1/", None).await;
    assert_eq!(user.body["vip_level"], "gold", "{}", user.text);
}

#[tokio::test]
async fn a_list_field_takes_a_list_only() {
    let m = strict().await;
    let r = call(
        &m,
        Method::POST,
        "/companies/",
        Some(json!({"custom_id": "c1", "name": "Acme", "phone_numbers": "+48 1"})),
    )
    .await;
    expect(&r, 400);
    assert_eq!(r.body["field"], "phone_numbers", "{}", r.text);
    let r = call(
        &m,
        Method::POST,
        "/companies/",
        Some(json!({"custom_id": "c1", "name": "Acme", "phone_numbers": ["+48 1"]})),
    )
    .await;
    expect(&r, 201);
    assert_eq!(r.body["phone_numbers"], json!(["+48 1"]), "{}", r.text);
}

#[tokio::test]
async fn undefined_attributes_are_not_stored() {
    let m = strict().await;
    let r = call(
        &m,
        Method::POST,
        "/users/",
        Some(json!({"custom_id": "u1", "email": "ada@example.com", "plan": "pro", "Plan Name": 3, "nothing": null})),
    )
    .await;
    expect(&r, 201);
    assert_eq!(r.body["email"], "ada@example.com", "the rest applies");
    assert!(r.body.get("plan").is_none() && r.body.get("plan_name").is_none());
    let notes = m.last_notes().await;
    assert!(
        notes.contains(&"clientuser attribute `plan` is not defined: ignored".to_owned()),
        "{notes:?}"
    );
    assert!(
        notes.contains(
            &"clientuser attribute key `Plan Name` is not a name_std (`plan_name`): ignored (strict mode matches keys exactly)"
                .to_owned()
        ),
        "{notes:?}"
    );
    // No definition was created.
    let attrs = call(&m, Method::GET, "/attributes/", None).await;
    assert_eq!(attrs.body["count"], 0);
    // The same on update_or_create, PUT, set_multiple_attributes, and for companies.
    for (method, path) in [
        (Method::POST, "/users/update_or_create/"),
        (Method::PUT, "/users-by-id/u1/"),
        (Method::POST, "/users-by-id/u1/set_multiple_attributes/"),
    ] {
        let r = call(
            &m,
            method,
            path,
            Some(json!({"custom_id": "u1", "plan": "pro", "first_name": "Ada"})),
        )
        .await;
        assert!(r.status == 200, "{path}: {}", r.text);
        assert!(m
            .last_notes()
            .await
            .iter()
            .any(|n| n.contains("`plan` is not defined")));
    }
    let r = call(
        &m,
        Method::POST,
        "/companies/",
        Some(json!({"custom_id": "c1", "name": "Acme", "industry": "tools"})),
    )
    .await;
    expect(&r, 201);
    assert_eq!(r.body["name"], "Acme");
    assert!(r.body.get("industry").is_none());
    assert!(m
        .last_notes()
        .await
        .contains(&"company attribute `industry` is not defined: ignored".to_owned()));
    let user = call(&m, Method::GET, "/users-by-id/u1/", None).await;
    assert_eq!(user.body["first_name"], "Ada");
    assert!(user.body.get("plan").is_none());
}

#[tokio::test]
async fn v1_spellings_are_not_honoured() {
    let m = strict().await;
    // `user_id` is not the custom id and `custom_attributes` is not a nested map here.
    let r = call(
        &m,
        Method::POST,
        "/users/update_or_create/",
        Some(json!({"user_id": "v1", "custom_attributes": {"plan": "pro"}})),
    )
    .await;
    expect(&r, 201);
    let user = call(&m, Method::GET, &format!("/users/{}/", r.body["id"]), None).await;
    assert_eq!(user.body["custom_id"], Value::Null);
    let notes = m.journal().await;
    let notes = notes_of(&notes[notes.len() - 2]);
    assert!(
        notes
            .iter()
            .any(|n| n.contains("ignored `custom_attributes`")),
        "{notes:?}"
    );
    // `event` content type, `user` (v1 for clientuser) and `number` (v1 for integer) are refused.
    for body in [
        json!({"name": "x", "value_type": "string", "content_type": "event"}),
        json!({"name": "x", "value_type": "string", "content_type": "user"}),
        json!({"name": "x", "value_type": "number", "content_type": "clientuser"}),
    ] {
        let r = call(&m, Method::POST, "/attributes/", Some(body.clone())).await;
        expect(&r, 400);
        let field = r.body["field"].as_str().unwrap();
        assert!(
            field == "content_type" || field == "value_type",
            "{body}: {}",
            r.text
        );
    }
    let r = call(&m, Method::GET, "/attributes/?content_type=event", None).await;
    expect(&r, 400);
    assert_eq!(r.body["field"], "content_type");
}

/// (value_type, value, Ok(stored) | Err(()) = 400)
fn rows() -> Vec<(&'static str, Value, Result<Value, ()>)> {
    vec![
        ("integer", json!(5), Ok(json!(5))),
        ("integer", json!(-7), Ok(json!(-7))),
        ("integer", json!(5.0), Err(())),
        ("integer", json!("5"), Err(())),
        ("integer", json!(1.5), Err(())),
        ("integer", json!(true), Err(())),
        ("float", json!(2), Ok(json!(2.0))),
        ("float", json!(2.5), Ok(json!(2.5))),
        ("float", json!("2.5"), Err(())),
        ("boolean", json!(true), Ok(json!(true))),
        ("boolean", json!(false), Ok(json!(false))),
        ("boolean", json!("true"), Err(())),
        ("boolean", json!(1), Err(())),
        ("date", json!("2024-05-01"), Ok(json!("2024-05-01"))),
        ("date", json!("2024-05-01T10:00:00Z"), Err(())),
        ("date", json!(" 2024-05-01"), Err(())),
        ("date", json!(86400), Err(())),
        (
            "datetime",
            json!("2024-05-01T10:00:00Z"),
            Ok(json!("2024-05-01T10:00:00Z")),
        ),
        (
            "datetime",
            json!("2024-05-01T10:00:00+02:00"),
            Ok(json!("2024-05-01T08:00:00Z")),
        ),
        ("datetime", json!("2024-05-01T10:00:00"), Err(())),
        ("datetime", json!("2024-05-01"), Err(())),
        ("datetime", json!(0), Err(())),
        ("fixed", json!("pro"), Ok(json!("pro"))),
        ("fixed", json!("gold"), Err(())),
        ("fixed", json!(["pro"]), Err(())),
        ("string", json!("x"), Ok(json!("x"))),
        ("string", json!(999), Err(())),
        ("string", json!(true), Err(())),
        ("string", json!({"a": 1}), Err(())),
        ("json", json!({"a": [1, 2]}), Ok(json!({"a": [1, 2]}))),
        ("json", json!(3), Ok(json!(3))),
    ]
}

#[tokio::test]
async fn defined_attributes_take_their_exact_type_or_400() {
    let m = strict().await;
    let key = m.key();
    let types = [
        "integer", "float", "boolean", "date", "datetime", "fixed", "string", "json",
    ];
    for t in types {
        let mut body =
            json!({"name": format!("U {t}"), "value_type": t, "content_type": "clientuser"});
        let mut company =
            json!({"name": format!("C {t}"), "value_type": t, "content_type": "company"});
        if t == "fixed" {
            body["choices"] = json!(["free", "pro"]);
            company["choices"] = json!(["free", "pro"]);
        }
        define(&m, &key, body).await;
        define(&m, &key, company).await;
    }
    expect(
        &call(&m, Method::POST, "/users/", Some(json!({"custom_id": "u"}))).await,
        201,
    );
    expect(
        &call(
            &m,
            Method::POST,
            "/companies/",
            Some(json!({"custom_id": "c", "name": "Acme"})),
        )
        .await,
        201,
    );
    for (t, input, want) in rows() {
        let u_key = format!("u_{t}");
        let c_key = format!("c_{t}");
        for (path, k) in [("/users-by-id/u/", &u_key), ("/companies-by-id/c/", &c_key)] {
            let r = call(&m, Method::PUT, path, Some(json!({ k.as_str(): input }))).await;
            match &want {
                Ok(stored) => {
                    expect(&r, 200);
                    assert_eq!(&r.body[k.as_str()], stored, "{t} {input} on {path}");
                }
                Err(()) => {
                    expect(&r, 400);
                    assert_eq!(r.body["field"], k.as_str(), "{t} {input}: {}", r.text);
                    let detail = r.body["detail"].as_str().unwrap();
                    assert!(
                        detail.starts_with(&format!("{k}: expected"))
                            && detail.contains(&format!("is defined as {t})")),
                        "{detail}"
                    );
                    assert!(r.body["errors"][k.as_str()][0].is_string());
                }
            }
        }
    }
}

#[tokio::test]
async fn a_400_writes_nothing_and_names_the_key_as_sent() {
    let m = strict().await;
    let key = m.key();
    define(
        &m,
        &key,
        json!({"name": "Seats", "value_type": "integer", "content_type": "clientuser"}),
    )
    .await;
    define(
        &m,
        &key,
        json!({"name": "Tier", "value_type": "fixed", "content_type": "clientuser",
                            "choices": ["a", "b"], "allow_multiple_choices": true}),
    )
    .await;
    expect(
        &call(
            &m,
            Method::POST,
            "/users/",
            Some(json!({"custom_id": "u", "email": "a@x.io", "seats": 2})),
        )
        .await,
        201,
    );
    // camelCase / capitalised spellings match by name_std; the error names the key as sent.
    let r = call(
        &m,
        Method::PUT,
        "/users-by-id/u/",
        Some(json!({"email": "b@x.io", "Seats": "3"})),
    )
    .await;
    expect(&r, 400);
    assert_eq!(r.body["field"], "Seats");
    let user = call(&m, Method::GET, "/users-by-id/u/", None).await;
    assert_eq!(user.body["email"], "a@x.io", "nothing applied");
    assert_eq!(user.body["seats"], 2);
    // On create, a 400 creates no user.
    let r = call(
        &m,
        Method::POST,
        "/users/",
        Some(json!({"custom_id": "v", "seats": 1.5})),
    )
    .await;
    expect(&r, 400);
    expect(&call(&m, Method::GET, "/users-by-id/v/", None).await, 404);
    // Multiple choices: a list of choices; null clears.
    let r = call(
        &m,
        Method::PUT,
        "/users-by-id/u/",
        Some(json!({"tier": ["a", "b"]})),
    )
    .await;
    expect(&r, 200);
    assert_eq!(r.body["tier"], json!(["a", "b"]));
    let r = call(
        &m,
        Method::PUT,
        "/users-by-id/u/",
        Some(json!({"tier": ["a", "c"]})),
    )
    .await;
    expect(&r, 400);
    let r = call(
        &m,
        Method::PUT,
        "/users-by-id/u/",
        Some(json!({"seats": null})),
    )
    .await;
    expect(&r, 200);
    assert!(r.body.get("seats").is_none());
    // Typed standard fields are checked as in the default mode.
    let r = call(
        &m,
        Method::PUT,
        "/users-by-id/u/",
        Some(json!({"score": "high"})),
    )
    .await;
    expect(&r, 400);
    assert_eq!(r.body["field"], "score");
}

#[tokio::test]
async fn event_data_is_stored_as_sent_and_names_define_events() {
    let m = strict().await;
    expect(
        &call(&m, Method::POST, "/users/", Some(json!({"custom_id": "e"}))).await,
        201,
    );
    let data = json!({"revenue": "99.5", "Items": [1, 2], "nested": {"a": null}, "none": null});
    let r = call(
        &m,
        Method::POST,
        "/users-by-id/e/events/",
        Some(json!({"name": "Order Completed", "timestamp": 1716800000, "data": data})),
    )
    .await;
    expect(&r, 201);
    assert_eq!(r.body, json!({"created": true, "id": 1}));
    let r = call(
        &m,
        Method::POST,
        "/users-by-id/e/events/",
        Some(json!({"name": "Order Completed"})),
    )
    .await;
    assert_eq!(r.body["created"], false);
    let list = call(&m, Method::GET, "/users-by-id/e/events/", None).await;
    expect(&list, 200);
    assert_eq!(
        list.body["results"][0]["data"], data,
        "as sent, keys and nulls kept"
    );
    assert_eq!(list.body["results"][1]["data"], json!({}));
    // No event attribute was defined.
    let state = m.admin(Method::GET, "/state?app=default", None).await;
    assert_eq!(state.body["attributes"], json!([]));
    assert_eq!(
        state.body["event_definitions"][0]["name"],
        "Order Completed"
    );
    assert_eq!(state.body["strict"], true);
}

#[tokio::test]
async fn attributes_page_with_absolute_next_links_carrying_the_query() {
    let m = strict().await;
    let key = m.key();
    for i in 0..150 {
        let ct = if i % 2 == 0 { "clientuser" } else { "company" };
        define(
            &m,
            &key,
            json!({"name": format!("attr {i}"), "value_type": "string", "content_type": ct}),
        )
        .await;
    }
    // Follow `next` as the forwarder does.
    let mut url = format!("{}/attributes/?content_type=clientuser", m.server.api_url());
    let mut seen = vec![];
    loop {
        let r = m
            .http
            .get(&url)
            .header("Authorization", format!("Token {key}"))
            .header(V2.0, V2.1)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let page: Value = r.json().await.unwrap();
        assert_eq!(page["count"], 75);
        seen.extend(
            page["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["name_std"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with("http://127.0.0.1:"), "{next}");
                assert!(next.contains("content_type=clientuser"), "{next}");
                url = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 75);
    assert_eq!(seen[0], "attr_0");
    let all = call(&m, Method::GET, "/attributes/", None).await;
    assert_eq!(all.body["count"], 150);
    let next = all.body["next"].as_str().unwrap();
    assert!(next.ends_with("/api/public/attributes/?page=2"), "{next}");
    let page2 = call(&m, Method::GET, "/attributes/?page=2", None).await;
    assert_eq!(page2.body["results"].as_array().unwrap().len(), 50);
    assert!(page2.body["previous"]
        .as_str()
        .unwrap()
        .ends_with("?page=1"));
    // A second definition of the same name_std is a 400 naming `name` (both spellings).
    for name in ["attr 0", "attr_0"] {
        let r = call(
            &m,
            Method::POST,
            "/attributes/",
            Some(json!({"name": name, "value_type": "string", "content_type": "clientuser"})),
        )
        .await;
        expect(&r, 400);
        assert_eq!(r.body["field"], "name");
    }
}

#[tokio::test]
async fn strict_and_lenient_apps_side_by_side() {
    // A lenient server hosting a strict app, and the other way round.
    let m = Mock::start().await;
    let a = m
        .admin(
            Method::POST,
            "/apps",
            Some(json!({"name": "tight", "strict": true})),
        )
        .await;
    expect(&a, 201);
    assert_eq!(a.body["strict"], true);
    let strict_key = a.body["api_key"].as_str().unwrap().to_owned();
    let lenient = m.admin(Method::POST, "/apps", None).await;
    assert_eq!(lenient.body["strict"], false);
    let body = json!({"custom_id": "u", "plan": "pro"});
    // The default app (lenient) auto-creates; the strict app ignores.
    let r = m.post("/users/", body.clone()).await;
    expect(&r, 201);
    assert_eq!(r.body["plan"], "pro");
    let r = call_as(&m, &strict_key, Method::POST, "/users/", Some(body.clone())).await;
    expect(&r, 201);
    assert!(r.body.get("plan").is_none());
    let r = m.api_as(&strict_key, Method::GET, "/users/", None).await;
    expect(&r, 400);
    // State and app list show the mode.
    let state = m.admin(Method::GET, "/state", None).await;
    assert_eq!(state.body["apps"]["tight"]["strict"], true);
    assert!(state.body["apps"]["default"].get("strict").is_none());
    let apps = m.admin(Method::GET, "/apps", None).await;
    let modes: Vec<(String, bool)> = apps
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["app"].as_str().unwrap().to_owned(),
                a["strict"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(modes.contains(&("tight".into(), true)) && modes.contains(&("default".into(), false)));
    // Reset keeps the mode.
    expect(&m.admin(Method::POST, "/reset", None).await, 200);
    let state = m.admin(Method::GET, "/state?app=tight", None).await;
    assert_eq!(state.body["strict"], true);
    // A strict server can host a lenient app.
    let s = strict().await;
    let a = s
        .admin(Method::POST, "/apps", Some(json!({"strict": false})))
        .await;
    assert_eq!(a.body["strict"], false);
    let k = a.body["api_key"].as_str().unwrap().to_owned();
    let r = s.api_as(&k, Method::POST, "/users/", Some(body)).await;
    expect(&r, 201);
    assert_eq!(r.body["plan"], "pro");
    let default = s.admin(Method::POST, "/apps", None).await;
    assert_eq!(default.body["strict"], true, "the server's mode by default");
    // Bad input to the admin plane is a 400 naming the field.
    for (body, field) in [
        (json!({"strict": "yes"}), "strict"),
        (json!({"strcit": true}), "strcit"),
    ] {
        let r = s.admin(Method::POST, "/apps", Some(body)).await;
        expect(&r, 400);
        assert_eq!(r.body["field"], field);
    }
}

#[tokio::test]
async fn the_journal_and_the_dashboard_show_the_notes_and_the_mode() {
    let m = strict().await;
    expect(
        &call(
            &m,
            Method::POST,
            "/users/",
            Some(json!({"custom_id": "d", "hobby": "chess"})),
        )
        .await,
        201,
    );
    let page = m
        .http
        .get(format!("{}/?app=default", m.server.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Strict mode"), "header shows the mode");
    assert!(
        page.contains("clientuser attribute `hobby` is not defined: ignored"),
        "the journal note is on the page"
    );
    let lenient = Mock::start().await;
    let page = lenient
        .http
        .get(format!("{}/", lenient.server.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Default mode"));
}

#[tokio::test]
async fn scenario_and_state_file_carry_the_mode() {
    let dir = crate::support::temp_path("strict-scenario");
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("s.json");
    std::fs::write(
        &scenario,
        json!({"apps": {
            "default": {"strict": true,
                        "attributes": [{"name": "plan", "value_type": "string"}],
                        "users": [{"custom_id": "s1", "plan": "pro", "other": 1}]},
            "loose": {"api_keys": ["loose-key"]}
        }})
        .to_string(),
    )
    .unwrap();
    let state_file = dir.join("state.json");
    let m = Mock::with(
        MockServer::builder()
            .api_key("k")
            .scenario_file(&scenario)
            .state_file(&state_file),
    )
    .await;
    let u = call(&m, Method::GET, "/users-by-id/s1/", None).await;
    expect(&u, 200);
    assert_eq!(u.body["plan"], "pro");
    assert!(u.body.get("other").is_none(), "undefined: not stored");
    let loose = m.api_as("loose-key", Method::GET, "/users/", None).await;
    expect(&loose, 200);
    m.server.shutdown().await;
    // Restarted from the state file (no scenario, no --strict): the modes come back.
    let m = Mock::with(MockServer::builder().api_key("k").state_file(&state_file)).await;
    expect(&m.get("/users/").await, 400);
    expect(
        &m.api_as("loose-key", Method::GET, "/users/", None).await,
        200,
    );
    m.server.shutdown().await;
    // With --strict every app is strict.
    let m = Mock::with(
        MockServer::builder()
            .api_key("k")
            .state_file(&state_file)
            .strict(true),
    )
    .await;
    expect(
        &m.api_as("loose-key", Method::GET, "/users/", None).await,
        400,
    );
    drop(m);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn attribute_lists_give_value_types_as_v1_codes() {
    // Strict row 11: the list answers each type's v1 code (json stays a word); the create
    // answers the word; the default mode lists words.
    let types = [
        ("boolean", json!(1)),
        ("integer", json!(2)),
        ("date", json!(3)),
        ("string", json!(4)),
        ("datetime", json!(5)),
        ("fixed", json!(6)),
        ("float", json!(7)),
        ("json", json!("json")),
    ];
    let strict_mock = strict().await;
    let lenient = Mock::with(MockServer::builder().api_key("lenient-key")).await;
    for (m, strict_mode) in [(&strict_mock, true), (&lenient, false)] {
        let key = m.key();
        for &(t, _) in &types {
            let mut body = json!({"name": format!("typed {t}"), "value_type": t, "content_type": "clientuser"});
            if t == "fixed" {
                body["choices"] = json!(["a", "b"]);
            }
            let r = call_as(m, &key, Method::POST, "/attributes/", Some(body)).await;
            expect(&r, 201);
            assert_eq!(r.body["value_type"], t, "the create answers the word");
        }
        let list = call_as(m, &key, Method::GET, "/attributes/", None).await;
        expect(&list, 200);
        for (t, code) in &types {
            let def = list.body["results"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["name_std"] == format!("typed_{t}"))
                .unwrap_or_else(|| panic!("typed_{t} listed: {}", list.body));
            let want = if strict_mode { code.clone() } else { json!(t) };
            assert_eq!(def["value_type"], want, "strict={strict_mode} {t}");
        }
    }
}
