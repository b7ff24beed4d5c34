//! --scenario and --state-file.

use reqwest::Method;
use serde_json::json;
use usercom_mock::MockServer;

use crate::support::{expect, fixtures, temp_path, Mock};

#[tokio::test]
async fn example_scenario_seeds_and_reset_returns_to_it() {
    let path = fixtures().join("scenarios/example.json");
    let m = Mock::with(MockServer::builder().scenario_file(&path)).await;
    assert_eq!(
        m.key(),
        "scenario-key-1",
        "scenario keys of the default app"
    );
    let u = m.get("/users-by-id/user-42/").await;
    expect(&u, 200);
    assert_eq!(u.body["plan"], "pro");
    assert_eq!(u.body["custom_integer"], 7);
    assert_eq!(u.body["signed_up"], "2029-12-24");
    assert_eq!(u.body["gender"], "female");
    assert_eq!(u.body["created_at"], "2030-01-01T00:00:00.000000Z");
    let c = m.get("/companies-by-id/company-7/").await.body;
    assert_eq!(c["seats"], 5);
    assert_eq!(c["employees"], json!([u.body["id"]]));
    let staging = m
        .api_as("scenario-staging-key", Method::GET, "/users/", None)
        .await;
    expect(&staging, 200);
    let trusted = m
        .admin(Method::GET, "/trusted-domains?app=staging", None)
        .await
        .body;
    assert_eq!(trusted["trusted_domains"], json!(["example.com"]));

    m.put("/users-by-id/user-42/", json!({"plan": "free"}))
        .await;
    m.user("extra").await;
    expect(&m.admin(Method::POST, "/reset", None).await, 200);
    assert_eq!(m.get("/users-by-id/user-42/").await.body["plan"], "pro");
    expect(&m.get("/users-by-id/extra/").await, 404);
}

#[tokio::test]
async fn broken_scenarios_are_reported() {
    let p = temp_path("bad.json");
    std::fs::write(&p, r#"{"apps": {"default": {"users": [{"gender": "x"}]}}}"#).unwrap();
    let e = MockServer::builder()
        .scenario_file(&p)
        .start()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("gender"), "{e}");
    std::fs::write(&p, r#"{"apps": {"default": {"userz": []}}}"#).unwrap();
    let e = MockServer::builder()
        .scenario_file(&p)
        .start()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("userz"), "{e}");
    let e = MockServer::builder()
        .scenario_file(temp_path("missing.json"))
        .start()
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("scenario "), "{e}");
    let _ = std::fs::remove_file(p);
}

#[tokio::test]
async fn state_file_survives_a_restart() {
    let path = temp_path("state.json");
    let m = Mock::with(MockServer::builder().api_key("k").state_file(&path)).await;
    let u = m.user("persisted").await;
    m.post(
        "/attributes/",
        json!({"name": "n", "value_type": "integer", "content_type": "event"}),
    )
    .await;
    m.post(
        "/users-by-id/persisted/events/",
        json!({"name": "E", "data": {"n": "4"}}),
    )
    .await;
    let app = m.admin(Method::POST, "/apps", None).await.body;
    let Mock { server, .. } = m;
    server.try_shutdown().await.expect("state saved");
    assert!(path.exists());

    let m = Mock::with(MockServer::builder().api_key("k").state_file(&path)).await;
    let again = m.get("/users-by-id/persisted/").await;
    expect(&again, 200);
    assert_eq!(again.body["user_key"], u["user_key"]);
    let ev = m.get("/users-by-id/persisted/events/").await.body;
    assert_eq!(ev["results"][0]["data"]["n"], 4);
    assert_eq!(m.user("next").await["id"], 2, "ids continue");
    let other_key = app["api_key"].as_str().unwrap();
    expect(
        &m.api_as(other_key, Method::GET, "/users/", None).await,
        200,
    );
    drop(m); // dropping also saves
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"next\""));
    std::fs::write(&path, "{ corrupt").unwrap();
    let e = MockServer::builder()
        .state_file(&path)
        .start()
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("state file"), "{e}");
    let _ = std::fs::remove_file(path);
}
