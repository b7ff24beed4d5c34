use reqwest::Method;
use serde_json::json;

use crate::support::{expect, Mock};

#[tokio::test]
async fn events_by_custom_id_and_internal_id() {
    let m = Mock::start().await;
    let u = m.user("e1").await;
    let r = m
        .post("/users-by-id/e1/events/", json!({"name": "Order Completed", "timestamp": 1663080164, "data": {"order_id": "o-1"}}))
        .await;
    expect(&r, 201);
    assert_eq!(r.body, json!({"created": true, "id": 1}));
    let r = m
        .post(
            "/users-by-id/e1/events/",
            json!({"name": "Order Completed"}),
        )
        .await;
    assert_eq!(r.body, json!({"created": false, "id": 2}));
    let r = m.post("/events/", json!({"user_id": u["id"], "name": "Signed Up", "timestamp": "2022-09-13T20:12:44.757+05:30"})).await;
    expect(&r, 201);
    assert_eq!(r.body["created"], true);

    let list = m.get("/users-by-id/e1/events/").await;
    expect(&list, 200);
    assert_eq!(list.body["count"], 3);
    let first = &list.body["results"][0];
    assert_eq!(first["name"], "Order Completed");
    assert_eq!(first["timestamp"], "2022-09-13T14:42:44.000000Z");
    assert_eq!(first["data"], json!({"order_id": "o-1"}));
    assert_eq!(
        list.body["results"][2]["timestamp"],
        "2022-09-13T14:42:44.757000Z"
    );
    let by_id = m.get(&format!("/users/{}/events/", u["id"])).await;
    assert_eq!(by_id.body["results"], list.body["results"]);

    expect(
        &m.post("/users-by-id/nobody/events/", json!({"name": "x"}))
            .await,
        404,
    );
    expect(&m.get("/users-by-id/nobody/events/").await, 404);
    expect(&m.get("/users/999/events/").await, 404);
    let r = m
        .post("/events/", json!({"user_id": 999, "name": "x"}))
        .await;
    expect(&r, 400);
    assert_eq!(r.body["field"], "user_id");
}

#[tokio::test]
async fn event_bad_input_names_the_field() {
    let m = Mock::start().await;
    m.user("e2").await;
    for (body, field) in [
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": 5}), "name"),
        (json!({"name": "x", "data": [1]}), "data"),
        (json!({"name": "x", "timestamp": "not a time"}), "timestamp"),
        (json!({"name": "x", "timestamp": true}), "timestamp"),
    ] {
        let r = m.post("/users-by-id/e2/events/", body.clone()).await;
        expect(&r, 400);
        assert_eq!(r.body["field"], field, "{body}");
    }
    let r = m.post("/events/", json!({"name": "x"})).await;
    assert_eq!(r.body["field"], "user_id");
    let r = m
        .post("/events/", json!({"name": "x", "user_id": "1"}))
        .await;
    assert_eq!(r.body["field"], "user_id");
}

#[tokio::test]
async fn site_views_count_and_move_last_seen_forward_only() {
    let m = Mock::start().await;
    let u = m.user("sv").await;
    let key = u["user_key"].as_str().unwrap();
    let view = |ts: serde_json::Value| json!({"client_user": key, "page_domain": "https://pagecall.com/testing", "page_path": "/testing", "title": "T", "timestamp": ts});
    let r = m
        .post("/site-views/", view(json!("2021-01-04T14:13:05.801+05:30")))
        .await;
    expect(&r, 201);
    assert_eq!(r.body["client_user"], key);
    assert_eq!(r.body["timestamp"], "2021-01-04T08:43:05.801000Z");
    let u1 = m.get("/users-by-id/sv/").await.body;
    assert_eq!(u1["page_views"], 1);
    assert_eq!(u1["first_seen"], "2021-01-04T08:43:05.801000Z");
    assert_eq!(u1["last_seen"], "2021-01-04T08:43:05.801000Z");

    // Later view (unix seconds) moves last_seen forward.
    expect(&m.post("/site-views/", view(json!(1700000000))).await, 201);
    let u2 = m.get("/users-by-id/sv/").await.body;
    assert_eq!(u2["page_views"], 2);
    assert_eq!(u2["last_seen"], "2023-11-14T22:13:20.000000Z");
    assert_eq!(u2["first_seen"], u1["first_seen"]);

    // Earlier view counts but never moves last_seen back (nor first_seen).
    expect(
        &m.post("/site-views/", view(json!("2000-01-01T00:00:00Z")))
            .await,
        201,
    );
    let u3 = m.get("/users-by-id/sv/").await.body;
    assert_eq!(u3["page_views"], 3);
    assert_eq!(u3["last_seen"], u2["last_seen"]);
    assert_eq!(u3["first_seen"], u1["first_seen"]);

    let state = m.admin(Method::GET, "/state?app=default", None).await.body;
    assert_eq!(state["site_views"].as_array().unwrap().len(), 3);
    assert_eq!(
        state["site_views"][0]["page_domain"],
        "https://pagecall.com/testing"
    );
}

#[tokio::test]
async fn site_view_bad_input() {
    let m = Mock::start().await;
    let u = m.user("sv2").await;
    let key = u["user_key"].as_str().unwrap();
    for (body, field, status) in [
        (json!({}), "client_user", 400),
        (json!({"client_user": 5}), "client_user", 400),
        (json!({"client_user": "nosuchkey000"}), "client_user", 400),
        (
            json!({"client_user": key, "timestamp": "later"}),
            "timestamp",
            400,
        ),
        (
            json!({"client_user": key, "page_domain": ["x"]}),
            "page_domain",
            400,
        ),
    ] {
        let r = m.post("/site-views/", body.clone()).await;
        expect(&r, status);
        assert_eq!(r.body["field"], field, "{body}");
    }
    // Timestamp absent → the app's clock.
    expect(
        &m.admin(
            Method::PUT,
            "/clock",
            Some(json!({"now": "2031-02-03T04:05:06Z", "frozen": true})),
        )
        .await,
        200,
    );
    expect(
        &m.post("/site-views/", json!({"client_user": key})).await,
        201,
    );
    assert_eq!(
        m.get("/users-by-id/sv2/").await.body["last_seen"],
        "2031-02-03T04:05:06.000000Z"
    );
}
