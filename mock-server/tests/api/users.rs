use reqwest::Method;
use serde_json::json;

use crate::support::{expect, Mock};

#[tokio::test]
async fn create_read_update_delete_by_id() {
    let m = Mock::start().await;
    let r = m
        .post("/users/", json!({"custom_id": "u1", "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "gender": 3}))
        .await;
    expect(&r, 201);
    let id = r.body["id"].as_u64().unwrap();
    assert_eq!(id, 1, "ids are sequential per app");
    let key = r.body["user_key"].as_str().unwrap();
    assert_eq!(key.len(), 12);
    assert!(
        key.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "{key}"
    );
    assert_eq!(r.body["gender"], "female");
    assert_eq!(r.body["name"], "Ada Lovelace");
    assert_eq!(r.body["status"], "visitor");
    assert_eq!(r.body["page_views"], 0);
    assert_eq!(r.body["companies"], json!([]));

    let g = m.get("/users/1/").await;
    expect(&g, 200);
    assert_eq!(g.body, r.body);

    let p = m
        .put(
            "/users/1/",
            json!({"gender": 2, "status": 2, "city": "London"}),
        )
        .await;
    expect(&p, 200);
    assert_eq!(p.body["gender"], "male");
    assert_eq!(p.body["status"], "user");
    assert_eq!(p.body["city"], "London");
    assert_eq!(p.body["email"], "ada@example.com", "PUT is partial");

    let d = m.api(Method::DELETE, "/users/1/", None).await;
    expect(&d, 204);
    expect(&m.get("/users/1/").await, 404);
    expect(&m.api(Method::DELETE, "/users/1/", None).await, 404);
    expect(&m.get("/users/abc/").await, 404);
}

#[tokio::test]
async fn profile_fields_round_trip() {
    let m = Mock::start().await;
    let fields = [
        "user_agent",
        "os",
        "device_name",
        "device_type",
        "language",
        "resolution",
        "ip_address",
        "browser_family",
        "browser_version",
        "timezone",
        "current_url",
    ];
    let mut body = serde_json::Map::new();
    body.insert("custom_id".into(), json!("p1"));
    for f in fields {
        body.insert(f.into(), json!(format!("https://x.example/{f}")));
    }
    let r = m.post("/users/", body.into()).await;
    expect(&r, 201);
    for f in fields {
        assert_eq!(r.body[f], json!(format!("https://x.example/{f}")), "{f}");
    }
    // Every v2 key is present, null when unset.
    for k in [
        "phone_number",
        "country",
        "region",
        "first_seen",
        "last_seen",
        "tags",
        "lists",
        "score",
        "unsubscribed",
    ] {
        assert!(r.body.get(k).is_some(), "missing {k}");
    }
    assert!(r.body["first_seen"].is_null());
}

#[tokio::test]
async fn read_only_fields_are_never_written() {
    let m = Mock::start().await;
    let u = m.user("ro").await;
    let r = m
        .put(
            "/users-by-id/ro/",
            json!({"id": 99, "user_key": "zzzzzzzzzzzz", "page_views": 50, "first_seen": "2020-01-01T00:00:00Z",
                   "last_seen": "2020-01-01T00:00:00Z", "created_at": "2020-01-01T00:00:00Z",
                   "updated_at": "2020-01-01T00:00:00Z", "companies": [1], "employees": [2], "email": "ro@example.com"}),
        )
        .await;
    expect(&r, 200);
    assert_eq!(r.body["id"], u["id"]);
    assert_eq!(r.body["user_key"], u["user_key"]);
    assert_eq!(r.body["page_views"], 0);
    assert!(r.body["first_seen"].is_null());
    assert!(r.body["last_seen"].is_null());
    assert_eq!(r.body["created_at"], u["created_at"]);
    assert_eq!(r.body["companies"], json!([]));
    assert!(
        r.body.get("employees").is_none(),
        "read-only keys do not become custom attributes"
    );
    assert_eq!(r.body["email"], "ro@example.com");
    let notes = m.last_notes().await;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("read-only field `page_views`")),
        "{notes:?}"
    );
}

#[tokio::test]
async fn users_by_custom_id() {
    let m = Mock::start().await;
    m.user("user@123").await;
    let r = m.get("/users-by-id/user@123/").await;
    expect(&r, 200);
    assert_eq!(r.body["custom_id"], "user@123");
    let p = m
        .put("/users-by-id/user@123/", json!({"country": "pl"}))
        .await;
    expect(&p, 200);
    assert_eq!(p.body["country"], "pl");
    expect(&m.get("/users-by-id/nobody/").await, 404);
    expect(&m.put("/users-by-id/nobody/", json!({})).await, 404);
    expect(
        &m.api(Method::DELETE, "/users-by-id/user@123/", None).await,
        204,
    );
    expect(&m.get("/users-by-id/user@123/").await, 404);
}

#[tokio::test]
async fn duplicate_custom_id_is_a_400() {
    let m = Mock::start().await;
    m.user("dup").await;
    let r = m.post("/users/", json!({"custom_id": "dup"})).await;
    expect(&r, 400);
    assert_eq!(r.body["field"], "custom_id");
    m.user("other").await;
    let r = m
        .put("/users-by-id/other/", json!({"custom_id": "dup"}))
        .await;
    expect(&r, 400);
}

#[tokio::test]
async fn search_by_key_and_email() {
    let m = Mock::start().await;
    let a = m
        .post(
            "/users/",
            json!({"custom_id": "a", "email": "same@example.com"}),
        )
        .await
        .body;
    let b = m
        .post(
            "/users/",
            json!({"custom_id": "b", "email": "same@example.com"}),
        )
        .await
        .body;
    let key = a["user_key"].as_str().unwrap();
    let r = m.get(&format!("/users/search/?key={key}")).await;
    expect(&r, 200);
    assert_eq!(r.body["id"], a["id"]);
    let r = m.get("/users/search/?email=same%40example.com").await;
    expect(&r, 200);
    assert_eq!(r.body["id"], a["id"], "one object, the first match");
    let r = m
        .get("/users/search/?email=same%40example.com&many=true")
        .await;
    expect(&r, 200);
    let ids: Vec<_> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].clone())
        .collect();
    assert_eq!(ids, vec![a["id"].clone(), b["id"].clone()]);
    expect(&m.get("/users/search/?key=nosuchkey123").await, 404);
    expect(&m.get("/users/search/?email=none%40example.com").await, 404);
    expect(
        &m.get("/users/search/?email=none%40example.com&many=true")
            .await,
        404,
    );
    let r = m.get("/users/search/").await;
    expect(&r, 400);
    assert_eq!(r.body["field"], "key");
}

#[tokio::test]
async fn update_or_create_upserts_on_custom_id() {
    let m = Mock::start().await;
    let r = m
        .post(
            "/users/update_or_create/",
            json!({"custom_id": "uoc", "email": "a@example.com"}),
        )
        .await;
    expect(&r, 201);
    assert_eq!(r.body, json!({"created": true, "id": 1}));
    let r = m
        .post(
            "/users/update_or_create/",
            json!({"custom_id": "uoc", "first_name": "A"}),
        )
        .await;
    expect(&r, 200);
    assert_eq!(r.body, json!({"created": false, "id": 1}));
    let u = m.get("/users-by-id/uoc/").await.body;
    assert_eq!(u["email"], "a@example.com");
    assert_eq!(u["first_name"], "A");
}

#[tokio::test]
async fn set_multiple_attributes_by_id_and_custom_id() {
    let m = Mock::start().await;
    m.user("sma").await;
    let r = m
        .post(
            "/users/1/set_multiple_attributes/",
            json!({"plan": "pro", "seats": 5}),
        )
        .await;
    expect(&r, 200);
    assert_eq!(r.body["plan"], "pro");
    assert_eq!(r.body["seats"], "5", "unknown attribute → string");
    let r = m
        .post(
            "/users-by-id/sma/set_multiple_attributes/",
            json!({"plan": "team"}),
        )
        .await;
    expect(&r, 200);
    assert_eq!(r.body["plan"], "team");
    expect(
        &m.post(
            "/users-by-id/nobody/set_multiple_attributes/",
            json!({"a": 1}),
        )
        .await,
        404,
    );
}

#[tokio::test]
async fn list_is_paginated_by_100() {
    let m = Mock::start().await;
    for i in 0..205 {
        let r = m
            .post(
                "/users/update_or_create/",
                json!({"custom_id": format!("u{i}")}),
            )
            .await;
        expect(&r, 201);
    }
    let p1 = m.get("/users/").await;
    expect(&p1, 200);
    assert_eq!(p1.body["count"], 205);
    assert_eq!(p1.body["results"].as_array().unwrap().len(), 100);
    assert!(p1.body["previous"].is_null());
    let next = p1.body["next"].as_str().unwrap().to_owned();
    assert!(
        next.starts_with(&m.server.url()) && next.ends_with("page=2"),
        "{next}"
    );
    let p3 = m.get("/users/?page=3").await;
    assert_eq!(p3.body["results"].as_array().unwrap().len(), 5);
    assert_eq!(p3.body["results"][0]["custom_id"], "u200");
    assert!(p3.body["next"].is_null());
    assert!(p3.body["previous"].as_str().unwrap().ends_with("page=2"));
    expect(&m.get("/users/?page=4").await, 404);
    expect(&m.get("/users/?page=zero").await, 404);
}

#[tokio::test]
async fn user_keys_are_deterministic() {
    let m = Mock::start().await;
    let mut keys = vec![];
    for _ in 0..2 {
        let app = m.admin(Method::POST, "/apps", None).await;
        expect(&app, 201);
        let key = app.body["api_key"].as_str().unwrap().to_owned();
        // Same app name would seed identically; different names differ. Compare via reset.
        let mut ks = vec![];
        for i in 0..3 {
            let r = m
                .api_as(
                    &key,
                    Method::POST,
                    "/users/",
                    Some(json!({"custom_id": format!("k{i}")})),
                )
                .await;
            ks.push(r.body["user_key"].as_str().unwrap().to_owned());
        }
        let name = app.body["app"].as_str().unwrap().to_owned();
        expect(
            &m.admin(Method::POST, &format!("/reset?app={name}"), None)
                .await,
            200,
        );
        for (i, k) in ks.iter().enumerate() {
            let r = m
                .api_as(
                    &key,
                    Method::POST,
                    "/users/",
                    Some(json!({"custom_id": format!("k{i}")})),
                )
                .await;
            assert_eq!(
                r.body["user_key"].as_str().unwrap(),
                k,
                "same calls after reset → same keys"
            );
        }
        keys.push(ks);
    }
    assert_ne!(keys[0], keys[1], "apps have their own seeds");
}
