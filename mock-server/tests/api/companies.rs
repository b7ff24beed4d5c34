use reqwest::Method;
use serde_json::json;

use crate::support::{expect, Mock};

#[tokio::test]
async fn company_crud_and_lookup_by_custom_id() {
    let m = Mock::start().await;
    let r = m
        .post("/companies/", json!({"custom_id": "group@795", "name": "Rudder", "email": "b@example.com", "size": 40, "phone_numbers": "123", "address": "6th floor"}))
        .await;
    expect(&r, 201);
    let id = r.body["id"].as_u64().unwrap();
    assert_eq!(r.body["size"], 40);
    assert_eq!(r.body["phone_numbers"], json!(["123"]));
    assert_eq!(r.body["employees"], json!([]));
    assert_eq!(m.get(&format!("/companies/{id}/")).await.body, r.body);
    let g = m.get("/companies-by-id/group@795/").await;
    expect(&g, 200);
    assert_eq!(g.body["id"], id);
    let p = m
        .put(
            &format!("/companies/{id}/"),
            json!({"description": "d", "employees": [9]}),
        )
        .await;
    expect(&p, 200);
    assert_eq!(p.body["description"], "d");
    assert_eq!(p.body["employees"], json!([]), "employees is read-only");
    let p = m
        .put(
            "/companies-by-id/group@795/",
            json!({"name": "Rudder Ventures"}),
        )
        .await;
    assert_eq!(p.body["name"], "Rudder Ventures");
    let dup = m
        .post(
            "/companies/",
            json!({"custom_id": "group@795", "name": "x"}),
        )
        .await;
    expect(&dup, 400);
    assert_eq!(dup.body["field"], "custom_id");
    let bad = m
        .post("/companies/", json!({"custom_id": "c2", "size": "ten"}))
        .await;
    expect(&bad, 400);
    assert_eq!(bad.body["field"], "size");
    expect(&m.get("/companies-by-id/nope/").await, 404);
    expect(&m.put("/companies-by-id/nope/", json!({})).await, 404);
    expect(&m.get("/companies/99/").await, 404);
    expect(
        &m.api(Method::DELETE, &format!("/companies/{id}/"), None)
            .await,
        204,
    );
    expect(&m.get("/companies-by-id/group@795/").await, 404);
}

#[tokio::test]
async fn membership_is_idempotent_and_shows_on_both_sides() {
    let m = Mock::start().await;
    let u = m.user("member").await;
    let u2 = m.user("member2").await;
    let c = m
        .post("/companies/", json!({"custom_id": "co", "name": "Co"}))
        .await
        .body;
    let path = format!("/companies/{}/add_member/", c["id"]);
    for _ in 0..2 {
        let r = m.post(&path, json!({"user_id": u["id"]})).await;
        expect(&r, 200);
        assert_eq!(r.body["employees"], json!([u["id"]]));
    }
    let r = m.post(&path, json!({"user_custom_id": "member2"})).await;
    assert_eq!(r.body["employees"], json!([u["id"], u2["id"]]));
    let user = m.get("/users-by-id/member/").await.body;
    assert_eq!(user["companies"][0]["id"], c["id"]);
    assert_eq!(user["companies"][0]["name"], "Co");
    assert!(user["companies"][0]["member_since"].is_string());

    let rm = format!("/companies/{}/remove_member/", c["id"]);
    for _ in 0..2 {
        let r = m.post(&rm, json!({"user_id": u["id"]})).await;
        expect(&r, 200);
        assert_eq!(r.body["employees"], json!([u2["id"]]));
    }
    assert_eq!(
        m.get("/users-by-id/member/").await.body["companies"],
        json!([])
    );
    for (body, field) in [
        (json!({}), "user_id"),
        (json!({"user_id": "x"}), "user_id"),
        (json!({"user_id": 999}), "user_id"),
        (json!({"user_custom_id": "ghost"}), "user_custom_id"),
    ] {
        let r = m.post(&path, body.clone()).await;
        expect(&r, 400);
        assert_eq!(r.body["field"], field, "{body}");
    }
    expect(
        &m.post("/companies/999/add_member/", json!({"user_id": u["id"]}))
            .await,
        404,
    );
    // company_custom_id on a user write adds the membership too.
    let r = m
        .put("/users-by-id/member/", json!({"company_custom_id": "co"}))
        .await;
    assert_eq!(r.body["companies"][0]["id"], c["id"]);
}

#[tokio::test]
async fn companies_list_is_paginated() {
    let m = Mock::start().await;
    for i in 0..101 {
        expect(
            &m.post(
                "/companies/",
                json!({"custom_id": format!("c{i}"), "name": "n"}),
            )
            .await,
            201,
        );
    }
    let p = m.get("/companies/").await.body;
    assert_eq!(p["count"], 101);
    assert_eq!(p["results"].as_array().unwrap().len(), 100);
    let p2 = m.get("/companies/?page=2").await.body;
    assert_eq!(p2["results"][0]["custom_id"], "c100");
}

#[tokio::test]
async fn attribute_definitions() {
    let m = Mock::start().await;
    let r = m.post("/attributes/", json!({"name": "API string attribute", "value_type": "string", "content_type": "clientuser"})).await;
    expect(&r, 201);
    assert_eq!(r.body["name_std"], "api_string_attribute");
    assert_eq!(r.body["content_type"], "clientuser");
    let r = m.post("/attributes/", json!({"name": "Plan", "value_type": "fixed", "content_type": "company", "choices": ["a", "b"]})).await;
    expect(&r, 201);
    assert_eq!(r.body["choices"], json!(["a", "b"]));
    for (body, field) in [
        (json!({"value_type": "string"}), "name"),
        (json!({"name": "x"}), "value_type"),
        (json!({"name": "x", "value_type": "money"}), "value_type"),
        (
            json!({"name": "x", "value_type": "string", "content_type": "deal"}),
            "content_type",
        ),
        (json!({"name": "x", "value_type": "fixed"}), "choices"),
        (
            json!({"name": "API string attribute", "value_type": "integer"}),
            "name",
        ),
        (json!({"name": "email", "value_type": "string"}), "name"),
        (
            json!({"name": "a name that is far too long for user.com", "value_type": "string"}),
            "name",
        ),
    ] {
        let r = m.post("/attributes/", body.clone()).await;
        expect(&r, 400);
        assert_eq!(r.body["field"], field, "{body}");
    }
    let all = m.get("/attributes/").await.body;
    assert_eq!(all["count"], 2);
    let co = m.get("/attributes/?content_type=company").await.body;
    assert_eq!(co["count"], 1);
    expect(&m.get("/attributes/?content_type=bogus").await, 400);
}
