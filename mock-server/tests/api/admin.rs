use reqwest::Method;
use serde_json::json;
use usercom_mock::MockServer;

use crate::support::{expect, Mock};

#[tokio::test]
async fn apps_are_isolated_and_state_is_deterministic() {
    let m = Mock::start().await;
    let a = m.admin(Method::POST, "/apps", None).await;
    expect(&a, 201);
    let (name, key) = (
        a.body["app"].as_str().unwrap().to_owned(),
        a.body["api_key"].as_str().unwrap().to_owned(),
    );
    expect(
        &m.api_as(
            &key,
            Method::POST,
            "/users/",
            Some(json!({"custom_id": "iso"})),
        )
        .await,
        201,
    );
    expect(&m.get("/users-by-id/iso/").await, 404);
    let named = m
        .admin(Method::POST, "/apps", Some(json!({"name": "tenant"})))
        .await;
    assert_eq!(named.body["app"], "tenant");
    expect(
        &m.admin(Method::POST, "/apps", Some(json!({"name": "tenant"})))
            .await,
        400,
    );

    m.user("d1").await;
    m.post(
        "/users-by-id/d1/events/",
        json!({"name": "E", "data": {"b": 1, "a": 2}}),
    )
    .await;
    let s1 = m.admin(Method::GET, "/state", None).await;
    expect(&s1, 200);
    let s2 = m.admin(Method::GET, "/state", None).await;
    assert_eq!(s1.text, s2.text, "byte-identical");
    let apps = s1.body["apps"].as_object().unwrap();
    assert!(apps.contains_key("default") && apps.contains_key(&name));
    let d = &apps["default"];
    for k in [
        "users",
        "companies",
        "events",
        "site_views",
        "attributes",
        "event_definitions",
    ] {
        assert!(d[k].is_array(), "{k}");
    }
    assert_eq!(d["event_definitions"], json!([{"id": 1, "name": "E"}]));
    // Keys are sorted in the output text.
    let user_text = serde_json::to_string(&d["users"][0]).unwrap();
    let keys: Vec<String> = d["users"][0].as_object().unwrap().keys().cloned().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "{user_text}");
    let one = m
        .admin(Method::GET, &format!("/state?app={name}"), None)
        .await;
    assert_eq!(one.body["users"][0]["custom_id"], "iso");
    expect(&m.admin(Method::GET, "/state?app=ghost", None).await, 404);
}

#[tokio::test]
async fn reset_clears_state_and_keeps_keys() {
    let m = Mock::start().await;
    m.user("r").await;
    m.post(
        "/attributes/",
        json!({"name": "x", "value_type": "integer"}),
    )
    .await;
    m.admin(
        Method::PUT,
        "/trusted-domains",
        Some(json!(["example.com"])),
    )
    .await;
    let r = m.admin(Method::POST, "/reset", None).await;
    expect(&r, 200);
    let s = m.admin(Method::GET, "/state?app=default", None).await.body;
    assert_eq!(s["users"], json!([]));
    assert_eq!(s["attributes"], json!([]));
    assert_eq!(s["trusted_domains"], json!([]));
    let u = m.user("r").await;
    assert_eq!(u["id"], 1, "ids restart");
    assert!(m.journal().await.len() == 1, "journal cleared on reset");
}

#[tokio::test]
async fn journal_redacts_and_is_bounded() {
    let m = Mock::with(
        MockServer::builder()
            .api_key("secret-key-123")
            .journal_capacity(3),
    )
    .await;
    for i in 0..5 {
        m.post("/users/", json!({"custom_id": format!("j{i}")}))
            .await;
    }
    m.raw(
        Method::GET,
        "/api/public/users/",
        Some("bad-key-456"),
        &[],
        None,
    )
    .await;
    let r = m.admin(Method::GET, "/requests", None).await;
    expect(&r, 200);
    assert!(
        !r.text.contains("secret-key-123") && !r.text.contains("bad-key-456"),
        "{}",
        r.text
    );
    let entries = r.body["requests"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "bounded by --journal-capacity");
    assert_eq!(entries[0]["body"]["custom_id"], "j3");
    assert_eq!(entries[0]["headers"]["authorization"], "Token [redacted]");
    assert_eq!(entries[0]["app"], "default");
    assert_eq!(entries[0]["status"], 201);
    assert_eq!(entries[0]["method"], "POST");
    assert_eq!(entries[0]["path"], "/api/public/users/");
    assert_eq!(entries[2]["status"], 401);
    assert!(entries[2]["app"].is_null());
    let only = m
        .admin(Method::GET, "/requests?app=default", None)
        .await
        .body;
    assert_eq!(only["count"], 2);
    expect(&m.admin(Method::DELETE, "/requests", None).await, 204);
    assert!(m.journal().await.is_empty());
    assert!(m.admin(Method::GET, "/state", None).await.status == 200);
    assert!(
        m.journal().await.is_empty(),
        "admin requests are not journaled"
    );
}

#[tokio::test]
async fn clock_set_freeze_and_advance() {
    let m = Mock::start().await;
    let r = m
        .admin(
            Method::PUT,
            "/clock",
            Some(json!({"now": "2030-01-01T00:00:00Z", "frozen": true})),
        )
        .await;
    expect(&r, 200);
    assert_eq!(r.body["now"], "2030-01-01T00:00:00.000000Z");
    let u = m.user("clock").await;
    assert_eq!(u["created_at"], "2030-01-01T00:00:00.000000Z");
    let r = m
        .admin(Method::POST, "/clock/advance", Some(json!({"seconds": 90})))
        .await;
    expect(&r, 200);
    assert_eq!(r.body["now"], "2030-01-01T00:01:30.000000Z");
    m.post("/users-by-id/clock/events/", json!({"name": "tick"}))
        .await;
    let ev = m.get("/users-by-id/clock/events/").await.body;
    assert_eq!(ev["results"][0]["timestamp"], "2030-01-01T00:01:30.000000Z");
    let u = m
        .put("/users-by-id/clock/", json!({"city": "x"}))
        .await
        .body;
    assert_eq!(u["updated_at"], "2030-01-01T00:01:30.000000Z");
    // Running clock from a set point: moves forward from there.
    let r = m
        .admin(
            Method::PUT,
            "/clock",
            Some(json!({"now": "2040-06-01T00:00:00Z", "frozen": false})),
        )
        .await;
    assert!(r.body["now"]
        .as_str()
        .unwrap()
        .starts_with("2040-06-01T00:0"));
    assert_eq!(r.body["frozen"], false);
    for (body, field) in [
        (json!({}), "now"),
        (json!({"now": "tomorrow"}), "now"),
        (
            json!({"now": "2030-01-01T00:00:00Z", "frozen": "yes"}),
            "frozen",
        ),
    ] {
        let r = m.admin(Method::PUT, "/clock", Some(body)).await;
        expect(&r, 400);
        assert_eq!(r.body["field"], field);
    }
    let r = m
        .admin(
            Method::POST,
            "/clock/advance",
            Some(json!({"seconds": "ten"})),
        )
        .await;
    expect(&r, 400);
    expect(
        &m.admin(
            Method::PUT,
            "/clock?app=ghost",
            Some(json!({"now": "2030-01-01T00:00:00Z"})),
        )
        .await,
        404,
    );
}

/// `GET /__admin/requests?since=SEQ&limit=N`: only entries after `since`, at most the newest
/// `limit`, and `total` = what the journal holds, so a poller fetches only what is new.
#[tokio::test]
async fn the_journal_pages_by_since_and_limit() {
    let m = Mock::start().await;
    for i in 0..5 {
        m.user(&format!("paged-{i}")).await;
    }
    let all = admin_get(&m, "/requests?app=default").await;
    let total = all["total"].as_u64().unwrap();
    assert_eq!(all["count"].as_u64(), Some(total));
    let seqs: Vec<u64> = all["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert!(
        seqs.len() >= 5 && seqs.windows(2).all(|w| w[0] < w[1]),
        "{seqs:?}"
    );
    let newest_two = admin_get(&m, "/requests?app=default&limit=2").await;
    let got: Vec<u64> = newest_two["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(got, seqs[seqs.len() - 2..]);
    assert_eq!(newest_two["count"], 2);
    assert_eq!(newest_two["total"].as_u64(), Some(total));
    let since = seqs[seqs.len() - 3];
    let after = m
        .admin(
            Method::GET,
            &format!("/requests?app=default&since={since}"),
            None,
        )
        .await
        .body;
    let got: Vec<u64> = after["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(got, seqs[seqs.len() - 2..]);
    let r = m
        .raw(Method::GET, "/__admin/requests?limit=many", None, &[], None)
        .await;
    expect(&r, 400);
    assert_eq!(r.body["field"], "limit", "{}", r.text);
}

async fn admin_get(m: &Mock, path: &str) -> serde_json::Value {
    let r = m.admin(Method::GET, path, None).await;
    expect(&r, 200);
    r.body
}

#[tokio::test]
async fn an_app_name_that_cannot_be_part_of_a_key_is_a_400_and_creates_nothing() {
    let m = Mock::start().await;
    let apps_before = m.admin(Method::GET, "/apps", None).await.body;
    for bad in ["a b", "tab\there", "line\nbreak", "café", "nul\u{0}"] {
        let r = m
            .admin(Method::POST, "/apps", Some(json!({"name": bad})))
            .await;
        expect(&r, 400);
        assert_eq!(r.body["field"], "name", "{bad:?}: {}", r.text);
        let detail = r.body["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("name: ") && detail.contains("visible ASCII"),
            "{bad:?}: {detail}"
        );
    }
    assert_eq!(
        m.admin(Method::GET, "/apps", None).await.body,
        apps_before,
        "a refused name leaves no app behind"
    );
    // The refused names are free: nothing half-created holds them.
    let r = m
        .admin(Method::POST, "/apps", Some(json!({"name": "a-b"})))
        .await;
    expect(&r, 201);
    // Surrounding spaces are trimmed, as before; markup characters are visible ASCII and allowed
    // (the dashboard escapes them).
    let r = m
        .admin(Method::POST, "/apps", Some(json!({"name": "  <b>x</b>  "})))
        .await;
    expect(&r, 201);
    assert_eq!(r.body["app"], "<b>x</b>");
    let key = r.body["api_key"].as_str().unwrap().to_owned();
    expect(&m.api_as(&key, Method::GET, "/users/", None).await, 200);
}
