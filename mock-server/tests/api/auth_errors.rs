//! Auth (401/403, trusted domains) and every error status; malformed input never gives a 500.

use reqwest::Method;
use serde_json::json;

use crate::support::{expect, Mock};

#[tokio::test]
async fn missing_malformed_unknown_and_revoked_keys() {
    let m = Mock::start().await;
    let r = m
        .raw(Method::GET, "/api/public/users/", None, &[], None)
        .await;
    expect(&r, 401);
    assert!(r.body["detail"].as_str().unwrap().contains("not provided"));
    for h in ["Bearer test-key", "Token", "Token a b", "test-key"] {
        let r = m
            .raw(
                Method::GET,
                "/api/public/users/",
                None,
                &[("Authorization", h)],
                None,
            )
            .await;
        expect(&r, 401);
        assert!(r.body["detail"].is_string(), "{h}");
    }
    let r = m.api_as("wrong", Method::GET, "/users/", None).await;
    expect(&r, 401);
    assert_eq!(r.body["detail"], "Invalid token.");
    // Scheme word is case-insensitive.
    let r = m
        .raw(
            Method::GET,
            "/api/public/users/",
            None,
            &[("Authorization", "token test-key")],
            None,
        )
        .await;
    expect(&r, 200);

    let app = m.admin(Method::POST, "/apps", None).await.body;
    let key = app["api_key"].as_str().unwrap();
    expect(&m.api_as(key, Method::GET, "/users/", None).await, 200);
    expect(
        &m.admin(Method::POST, &format!("/api-keys/{key}/revoke"), None)
            .await,
        200,
    );
    let r = m.api_as(key, Method::GET, "/users/", None).await;
    expect(&r, 403);
    assert!(r.body["detail"].as_str().unwrap().contains("revoked"));
    expect(&m.get("/users/").await, 200); // other app's key unaffected
    expect(
        &m.admin(Method::POST, "/api-keys/nope/revoke", None).await,
        404,
    );
}

#[tokio::test]
async fn trusted_domains_by_origin_page_url_and_current_url() {
    let m = Mock::start().await;
    let u = m.user("td").await;
    let key = u["user_key"].as_str().unwrap();
    let r = m
        .admin(
            Method::PUT,
            "/trusted-domains",
            Some(json!(["example.com"])),
        )
        .await;
    expect(&r, 200);
    assert_eq!(r.body["trusted_domains"], json!(["example.com"]));

    let get = |origin: &'static str| {
        let k = m.key();
        let m = &m;
        async move {
            m.raw(
                Method::GET,
                "/api/public/users/",
                Some(&k),
                &[("Origin", origin)],
                None,
            )
            .await
        }
    };
    expect(&get("https://example.com").await, 200);
    expect(&get("https://shop.example.com:8443").await, 200);
    let r = get("https://evil.com").await;
    expect(&r, 403);
    assert!(
        r.body["detail"].as_str().unwrap().contains("evil.com"),
        "{}",
        r.text
    );
    expect(&get("https://notexample.com").await, 403);
    expect(&m.get("/users/").await, 200); // no Origin → fine

    let view = |url: &str| json!({"client_user": key, "page_domain": url, "page_path": "/"});
    expect(
        &m.post("/site-views/", view("https://www.example.com/p"))
            .await,
        201,
    );
    let r = m.post("/site-views/", view("https://other.org/p")).await;
    expect(&r, 403);
    assert!(r.body["detail"].as_str().unwrap().contains("other.org"));
    let r = m
        .put(
            "/users-by-id/td/",
            json!({"current_url": "http://phish.net/x"}),
        )
        .await;
    expect(&r, 403);
    assert!(r.body["detail"].as_str().unwrap().contains("phish.net"));
    expect(
        &m.put(
            "/users-by-id/td/",
            json!({"current_url": "http://example.com/x"}),
        )
        .await,
        200,
    );
    assert_eq!(
        m.get("/users-by-id/td/").await.body["page_views"],
        1,
        "a rejected view is not counted"
    );

    expect(
        &m.admin(Method::PUT, "/trusted-domains", Some(json!([])))
            .await,
        200,
    );
    expect(
        &m.post("/site-views/", view("https://other.org/p")).await,
        201,
    );
    expect(
        &m.admin(Method::PUT, "/trusted-domains", Some(json!({"a": 1})))
            .await,
        400,
    );
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field() {
    let m = Mock::start().await;
    let post_raw = |path: &'static str, body: &'static str| {
        let k = m.key();
        let m = &m;
        async move {
            m.raw(
                Method::POST,
                path,
                Some(&k),
                &[],
                Some(body.as_bytes().to_vec()),
            )
            .await
        }
    };
    let r = post_raw("/api/public/users/", "{not json").await;
    expect(&r, 400);
    assert_eq!(r.body["field"], "body");
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("malformed JSON"));
    let r = post_raw("/api/public/users/", "[1,2]").await;
    expect(&r, 400);
    assert!(r.body["detail"].as_str().unwrap().contains("JSON object"));
    for (body, field) in [
        (json!({"gender": "abc"}), "gender"),
        (json!({"gender": 4}), "gender"),
        (json!({"status": 3}), "status"),
        (json!({"email": "not-an-email"}), "email"),
        (json!({"email": 5}), "email"),
        (json!({"first_name": "x".repeat(41)}), "first_name"),
        (json!({"notifications": "yes"}), "notifications"),
        (json!({"score": "high"}), "score"),
        (json!({"tags": "vip"}), "tags"),
        (json!({"custom_id": {"a": 1}}), "custom_id"),
        (
            json!({"company_custom_id": "no-such-company"}),
            "company_custom_id",
        ),
        (json!({"os": 10}), "os"),
    ] {
        let r = m.post("/users/", body.clone()).await;
        expect(&r, 400);
        assert_eq!(r.body["field"], field, "{body}");
        assert!(r.body["detail"].as_str().unwrap().starts_with(field));
    }
    assert_eq!(m.get("/users/").await.body["count"], 0, "no partial writes");
}

#[tokio::test]
async fn unknown_route_wrong_method_and_oversized_body() {
    let m = Mock::start().await;
    let r = m.get("/nothing-here/").await;
    expect(&r, 404);
    assert!(r.body["detail"].as_str().unwrap().contains("no route"));
    let r = m.get("/users").await;
    expect(&r, 404);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("end with a slash"),
        "{}",
        r.text
    );
    // `GET /` is the dashboard (tests/api/dashboard.rs); other methods there are a JSON 405.
    expect(&m.raw(Method::POST, "/", None, &[], None).await, 405);

    let r = m.api(Method::PATCH, "/users/", Some(json!({}))).await;
    expect(&r, 405);
    assert!(r.body["detail"].as_str().unwrap().contains("PATCH"));
    expect(&m.api(Method::GET, "/site-views/", None).await, 405);
    expect(
        &m.api(Method::DELETE, "/users/update_or_create/", None)
            .await,
        405,
    );
    expect(&m.admin(Method::GET, "/reset", None).await, 405);

    let big = format!(
        "{{\"custom_id\":\"big\",\"blob\":\"{}\"}}",
        "x".repeat(1024 * 1024)
    );
    let r = m
        .raw(
            Method::POST,
            "/api/public/users/",
            Some(&m.key()),
            &[],
            Some(big.into_bytes()),
        )
        .await;
    expect(&r, 413);
    assert!(r.body["detail"].as_str().unwrap().contains("larger than"));
    // Just under the limit is fine.
    let ok = format!(
        "{{\"custom_id\":\"ok\",\"blob\":\"{}\"}}",
        "x".repeat(1024 * 1024 - 100)
    );
    expect(
        &m.raw(
            Method::POST,
            "/api/public/users/",
            Some(&m.key()),
            &[],
            Some(ok.into_bytes()),
        )
        .await,
        201,
    );
}

#[tokio::test]
async fn malformed_inputs_never_produce_a_500() {
    let m = Mock::start().await;
    let u = m.user("fuzz").await;
    m.post("/companies/", json!({"custom_id": "fz", "name": "F"}))
        .await;
    let key = u["user_key"].as_str().unwrap().to_owned();
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{".to_vec(),
        b"\"str\"".to_vec(),
        b"12".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x7b],
        br#"{"name":{},"user_id":"x","data":"y","timestamp":[],"client_user":{}}"#.to_vec(),
        br#"{"custom_id":1e400}"#.to_vec(),
        br#"{"user_id":-1,"name":"n","timestamp":1e300}"#.to_vec(),
        br#"{"user_id":18446744073709551615,"name":"n","timestamp":-1e20}"#.to_vec(),
        format!(r#"{{"client_user":"{key}","timestamp":9e18}}"#).into_bytes(),
        br#"{"gender":1.5,"tags":[1],"custom_attributes":5,"":1,"  ":2}"#.to_vec(),
        br#"{"value_type":"fixed","name":"q","choices":[{}]}"#.to_vec(),
        br#"{"seconds":1e308,"now":"x"}"#.to_vec(),
        "{\"name\":\"\u{0}\u{202e}\",\"custom_id\":\"\u{1F600}\"}"
            .as_bytes()
            .to_vec(),
    ];
    let paths = [
        (Method::POST, "/api/public/users/"),
        (Method::POST, "/api/public/users/update_or_create/"),
        (Method::PUT, "/api/public/users/1/"),
        (Method::PUT, "/api/public/users-by-id/fuzz/"),
        (Method::POST, "/api/public/users/1/set_multiple_attributes/"),
        (Method::POST, "/api/public/users-by-id/fuzz/events/"),
        (Method::POST, "/api/public/events/"),
        (Method::POST, "/api/public/site-views/"),
        (Method::POST, "/api/public/companies/"),
        (Method::PUT, "/api/public/companies-by-id/fz/"),
        (Method::POST, "/api/public/companies/1/add_member/"),
        (Method::POST, "/api/public/attributes/"),
        (Method::GET, "/api/public/users/search/?key=%ff&email=%00"),
        (Method::GET, "/api/public/users/?page=18446744073709551616"),
        (Method::GET, "/api/public/users/99999999999999999999999/"),
        (Method::GET, "/api/public/users-by-id/%FF%FE/"),
        (Method::PUT, "/__admin/clock"),
        (Method::POST, "/__admin/clock/advance"),
        (Method::PUT, "/__admin/trusted-domains"),
        (Method::POST, "/__admin/apps"),
        (Method::GET, "/__admin/state?app=%FF"),
    ];
    for (method, path) in &paths {
        for body in &bodies {
            let r = m
                .raw(
                    method.clone(),
                    path,
                    Some(&m.key()),
                    &[],
                    Some(body.clone()),
                )
                .await;
            assert!(
                r.status < 500,
                "{method} {path} {:?} → {} {}",
                String::from_utf8_lossy(body),
                r.status,
                r.text
            );
        }
    }
    // The server is still healthy and consistent.
    expect(&m.get("/users-by-id/fuzz/").await, 200);
}
