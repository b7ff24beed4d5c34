//! `plan` prints what `send` sends: for every fixture, the requests `plan` shows equal, in
//! order, the requests the simulator's journal records when the same messages are delivered to a
//! fresh app (ids as that app hands them out, each `user_key` by its owner).

use serde_json::{json, Value};
use usercom_forwarder::segment::{self, batch};
use usercom_forwarder::usercom::dry_run::{user_key_placeholder, Planner};
use usercom_forwarder::{mapping, Config, Forwarder};
use usercom_mock::MockServer;

fn fixtures() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/segment");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
}

async fn admin(mock: &MockServer, method: reqwest::Method, path: &str) -> Value {
    reqwest::Client::new()
        .request(method, format!("{}/__admin/{path}", mock.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The planned requests of a file, in order, as `{method, path, body}`.
async fn planned(messages: &[Value]) -> Vec<Value> {
    let mut planner = Planner::default();
    let mut requests = Vec::new();
    for message in messages {
        let decision = mapping::decide(message);
        let line = planner
            .plan(&decision, segment::message_id(message).as_deref())
            .await;
        for request in line["requests"].as_array().unwrap() {
            requests.push(json!({
                "method": request["method"],
                "path": request["path"],
                "body": request["body"],
            }));
        }
    }
    requests
}

#[tokio::test]
async fn plan_shows_exactly_the_requests_send_makes_for_every_fixture() {
    let mock = MockServer::start().await;
    let fixtures = fixtures();
    assert!(fixtures.len() >= 20, "fixtures: {}", fixtures.len());
    let mut with_requests = 0;
    for path in fixtures {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let messages: Vec<Value> =
            usercom_forwarder::input::read_file(&std::fs::read(&path).unwrap())
                .into_iter()
                .filter_map(|item| match item {
                    batch::Item::Message(m) => Some(m),
                    batch::Item::Invalid(_) => None,
                })
                .collect();
        let app = admin(&mock, reqwest::Method::POST, "apps").await;
        let (app, key) = (
            app["app"].as_str().unwrap(),
            app["api_key"].as_str().unwrap(),
        );

        // Delivered one message at a time, so the journal's order is the file's order.
        let forwarder = Forwarder::new(Config::new(mock.url(), key)).unwrap();
        for message in &messages {
            forwarder.send_all(vec![message.clone()]).await;
        }

        let state = admin(&mock, reqwest::Method::GET, &format!("state?app={app}")).await;
        let owners: Vec<(String, String)> = state["users"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|u| {
                Some((
                    u["user_key"].as_str()?.to_string(),
                    u["custom_id"].as_str()?.to_string(),
                ))
            })
            .collect();
        let journal = admin(&mock, reqwest::Method::GET, &format!("requests?app={app}")).await;
        let sent: Vec<Value> = journal["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| {
                let mut body = entry["body"].clone();
                if let Some(key) = body.get("client_user").and_then(Value::as_str) {
                    let owner = owners.iter().find(|(k, _)| k == key).map(|(_, c)| c);
                    body["client_user"] = user_key_placeholder(owner.expect("a known user")).into();
                }
                json!({"method": entry["method"], "path": entry["path"], "body": body})
            })
            .collect();

        let plan = planned(&messages).await;
        assert_eq!(
            plan, sent,
            "{name}: plan (left) differs from what send sent (right)"
        );
        if !sent.is_empty() {
            with_requests += 1;
        }
    }
    assert!(
        with_requests >= 15,
        "fixtures that send something: {with_requests}"
    );
}
