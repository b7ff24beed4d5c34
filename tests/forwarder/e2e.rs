//! End to end against the `usercom-mock` simulator, in process (and `dev` as a real process).
//! State is read back through the simulator's public REST API, as a user of User.com would.

use std::process::{Command, Stdio};

use serde_json::{json, Value};
use usercom_forwarder::ingress::Ingress;
use usercom_forwarder::usercom::encode_segment;
use usercom_forwarder::{Config, Forwarder, Summary};
use usercom_mock::MockServer;

/// `GET {api_url}{path}` with the key; the parsed body (`Null` on 404).
pub async fn get(mock_url: &str, key: &str, path: &str) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{mock_url}/api/public{path}"))
        .header("authorization", format!("Token {key}"))
        .header("accept", "*/*; version=2")
        .send()
        .await
        .unwrap();
    if response.status() == 404 {
        return Value::Null;
    }
    assert!(
        response.status().is_success(),
        "GET {path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

/// The four calls for one user and one company.
pub fn journey(user: &str, group: &str) -> Vec<Value> {
    vec![
        json!({
            "type": "identify", "userId": user, "messageId": format!("{user}-1"),
            "timestamp": "2024-05-01T10:00:00Z",
            "traits": {"email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace", "plan": "pro",
                        "address": {"country": "Poland", "city": "Kraków"}},
            "context": {"locale": "pl-PL", "ip": "203.0.113.7"},
        }),
        json!({
            "type": "page", "userId": user, "messageId": format!("{user}-2"), "name": "Pricing",
            "timestamp": "2024-05-01T10:01:00Z",
            "properties": {"url": "https://shop.example.com/pricing", "path": "/pricing", "title": "Pricing"},
        }),
        json!({
            "type": "track", "userId": user, "messageId": format!("{user}-3"), "event": "Order Completed",
            "timestamp": "2024-05-01T10:02:00Z", "properties": {"order_id": "o-1"},
        }),
        json!({
            "type": "group", "userId": user, "groupId": group, "messageId": format!("{user}-4"),
            "traits": {"name": "Acme Ltd", "employees": 12},
        }),
    ]
}

/// Checks what [`journey`] must leave in the simulator.
pub async fn assert_journey_applied(
    mock_url: &str,
    key: &str,
    user: &str,
    group: &str,
    company_name: &str,
) {
    let profile = get(
        mock_url,
        key,
        &format!("/users-by-id/{}/", encode_segment(user)),
    )
    .await;
    assert!(profile.is_object(), "user {user} exists");
    assert_eq!(profile["custom_id"], json!(user));
    assert!(
        profile["email"]
            .as_str()
            .is_some_and(|e| e.ends_with("@example.com")),
        "{profile}"
    );
    assert_eq!(profile["page_views"], json!(1), "{profile}");
    let companies = profile["companies"].as_array().cloned().unwrap_or_default();
    assert_eq!(companies.len(), 1, "{profile}");
    assert_eq!(companies[0]["name"], json!(company_name));

    let events = get(
        mock_url,
        key,
        &format!("/users-by-id/{}/events/", encode_segment(user)),
    )
    .await;
    let names: Vec<&str> = events["results"]
        .as_array()
        .map(|r| r.iter().filter_map(|e| e["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["Order Completed"], "{events}");

    let company = get(
        mock_url,
        key,
        &format!("/companies-by-id/{}/", encode_segment(group)),
    )
    .await;
    assert_eq!(company["name"], json!(company_name), "{company}");
    let members = company["employees"].as_array().cloned().unwrap_or_default();
    assert!(
        members.contains(&profile["id"]),
        "user {user} is a member: {company}"
    );
}

#[tokio::test]
async fn send_all_applies_identify_page_track_group() {
    let mock = MockServer::start().await;
    let forwarder = Forwarder::new(Config::new(mock.url(), mock.api_key())).unwrap();
    let user = "e2e/user 1?";
    let summary = forwarder.send_all(journey(user, "acme/1")).await;
    assert_eq!(
        summary,
        Summary {
            delivered: 4,
            ..Summary::default()
        }
    );
    assert_journey_applied(&mock.url(), mock.api_key(), user, "acme/1", "Acme Ltd").await;
    let profile = get(
        &mock.url(),
        mock.api_key(),
        &format!("/users-by-id/{}/", encode_segment(user)),
    )
    .await;
    assert_eq!(profile["country"], "Poland", "{profile}");
    assert_eq!(profile["city"], "Kraków", "{profile}");
}

#[tokio::test]
async fn many_users_in_parallel_each_end_up_applied_once() {
    let mock = MockServer::start().await;
    let config = Config {
        concurrency: 8,
        ..Config::new(mock.url(), mock.api_key())
    };
    let forwarder = Forwarder::new(config).unwrap();
    let mut messages = Vec::new();
    for i in 0..20 {
        messages.extend(journey(&format!("user-{i}"), "shared-co"));
    }
    let summary = forwarder.send_all(messages).await;
    assert_eq!(summary.delivered, 80, "{summary}");
    for i in [0, 7, 19] {
        assert_journey_applied(
            &mock.url(),
            mock.api_key(),
            &format!("user-{i}"),
            "shared-co",
            "Acme Ltd",
        )
        .await;
    }
    let company = get(&mock.url(), mock.api_key(), "/companies-by-id/shared-co/").await;
    assert_eq!(
        company["employees"].as_array().unwrap().len(),
        20,
        "one company, twenty members"
    );
}

#[tokio::test]
async fn ingress_to_simulator_and_client_retries_are_applied_once() {
    let mock = MockServer::start().await;
    let ingress = Ingress::start(
        "127.0.0.1:0".parse().unwrap(),
        Config::new(mock.url(), mock.api_key()),
    )
    .await
    .unwrap();
    let body = json!({"batch": journey("ingress-user", "co-9"), "writeKey": "any"});
    for _ in 0..2 {
        // The second POST is a client retry: same messageIds.
        let response = reqwest::Client::new()
            .post(format!("{}/v1/batch", ingress.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        ingress.forwarder().wait_idle().await;
    }
    let stats = ingress.forwarder().stats();
    assert_eq!((stats.delivered, stats.duplicates), (4, 4), "{stats:?}");
    assert_journey_applied(
        &mock.url(),
        mock.api_key(),
        "ingress-user",
        "co-9",
        "Acme Ltd",
    )
    .await;
    let summary = ingress.shutdown().await;
    assert_eq!(summary.dead_lettered, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_runs_simulator_and_ingress_and_drains_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_usercom-forwarder"))
        .args([
            "dev",
            "--listen",
            "127.0.0.1:0",
            "--mock-listen",
            "127.0.0.1:0",
            "--write-key",
            "wk",
        ])
        .env_remove("USERCOM_API_KEY")
        .env_remove("SEGMENT_WRITE_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // Read the banner up to the snippet (blocking reads on a blocking thread).
    let (banner, lines) =
        crate::support::Banner::read(stdout, |line| line.contains("analytics.flush()")).await;
    let field = |label: &str| banner.field(label);
    let ingress_url = field("Segment ingress");
    let dashboard = field("Simulator dashboard");
    let api_key = field("User.com API key");
    assert_eq!(field("Segment write key"), "wk");
    assert!(
        banner
            .text
            .contains("import segment.analytics as analytics"),
        "{}",
        banner.text
    );
    assert!(
        banner
            .text
            .contains(&format!("analytics.host = \"{ingress_url}\"")),
        "{}",
        banner.text
    );
    let mock_url = dashboard.trim_end_matches('/').to_string();

    let response = reqwest::Client::new()
        .post(format!("{ingress_url}/v1/batch"))
        .basic_auth("wk", Some(""))
        .json(&json!({"batch": journey("dev-user", "dev-co")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Wait (bounded) until the ingress reports everything delivered.
    let stats = crate::support::wait_for_stats(&ingress_url, 4).await;
    assert_eq!(stats["delivered"], json!(4), "{stats}");
    assert_journey_applied(&mock_url, &api_key, "dev-user", "dev-co", "Acme Ltd").await;

    let (exit, rest) = crate::support::sigterm_and_drain(child, lines).await;
    assert!(exit.success(), "{exit:?}");
    assert_eq!(
        rest.last().map(String::as_str),
        Some("delivered=4 skipped=0 dead_lettered=0 duplicates=0 dropped_fields=0")
    );
}
