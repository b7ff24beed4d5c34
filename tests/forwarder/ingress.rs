//! The Segment-compatible ingress: auth, gzip, limits, malformed input, stats, drain.

use std::io::Write;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use usercom_forwarder::ingress::{Ingress, IngressHandle, Settings};
use usercom_forwarder::{Config, Forwarder};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{self, requests, upstream};

async fn start(config: Config) -> IngressHandle {
    start_with(config, Settings::default()).await
}

async fn start_with(config: Config, settings: Settings) -> IngressHandle {
    let forwarder = Forwarder::new(config).unwrap();
    Ingress::start_with("127.0.0.1:0".parse().unwrap(), forwarder, settings)
        .await
        .unwrap()
}

async fn post(
    url: &str,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut request = reqwest::Client::new()
        .post(url)
        .body(body)
        .header("content-type", "application/json");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, headers)
}

fn basic(key: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
    )
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn batch(messages: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({"batch": messages, "sentAt": "2024-05-01T10:00:00Z"})).unwrap()
}

#[tokio::test]
async fn a_batch_is_accepted_and_delivered() {
    let server = upstream().await;
    let ingress = start(support::config(&server.uri())).await;
    let body = batch(vec![
        support::identify("u1", "m1"),
        support::track("u1", "m2"),
    ]);
    let (status, reply, _) = post(&format!("{}/v1/batch", ingress.url()), body, &[]).await;
    assert_eq!((status, reply), (200, json!({"success": true})));
    ingress.forwarder().wait_idle().await;
    let stats = ingress.forwarder().stats();
    assert_eq!(
        (stats.received, stats.delivered, stats.in_flight),
        (2, 2, 0)
    );
    let paths: Vec<String> = requests(&server)
        .await
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    assert_eq!(
        paths,
        [
            "/api/public/users/update_or_create/",
            "/api/public/users-by-id/u1/events/"
        ]
    );
}

#[tokio::test]
async fn single_routes_and_import_are_accepted() {
    let server = upstream().await;
    let ingress = start(support::config(&server.uri())).await;
    // The route names the type, whatever the body says.
    let mut message = support::track("u1", "m1");
    message.as_object_mut().unwrap().remove("type");
    let (status, _, _) = post(
        &format!("{}/v1/track", ingress.url()),
        serde_json::to_vec(&message).unwrap(),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    let body = batch(vec![support::identify("u1", "m2")]);
    let (status, _, _) = post(&format!("{}/v1/import", ingress.url()), body, &[]).await;
    assert_eq!(status, 200);
    for kind in ["screen", "alias"] {
        let (status, _, _) = post(
            &format!("{}/v1/{kind}", ingress.url()),
            br#"{"userId":"u1"}"#.to_vec(),
            &[],
        )
        .await;
        assert_eq!(status, 200, "{kind}");
    }
    ingress.forwarder().wait_idle().await;
    let stats = ingress.forwarder().stats();
    assert_eq!((stats.delivered, stats.skipped), (2, 2), "{stats:?}");
}

#[tokio::test]
async fn the_write_key_is_checked_when_configured() {
    let server = upstream().await;
    let settings = Settings {
        write_key: Some("wk-123".into()),
        ..Settings::default()
    };
    let ingress = start_with(support::config(&server.uri()), settings).await;
    let url = format!("{}/v1/batch", ingress.url());
    let message = || {
        batch(vec![support::identify(
            "u1",
            &fastrand::u64(..).to_string(),
        )])
    };

    let (status, reply, _) = post(&url, message(), &[]).await;
    assert_eq!(status, 401);
    assert_eq!(reply["code"], "unauthorized");
    assert!(
        reply["message"].as_str().unwrap().contains("writeKey"),
        "{reply}"
    );

    let (status, _, _) = post(&url, message(), &[("authorization", &basic("wrong"))]).await;
    assert_eq!(status, 401);

    let (status, _, _) = post(&url, message(), &[("authorization", &basic("wk-123"))]).await;
    assert_eq!(status, 200);

    let with_body_key =
        serde_json::to_vec(&json!({"batch": [support::identify("u1", "x")], "writeKey": "wk-123"}))
            .unwrap();
    let (status, _, _) = post(&url, with_body_key, &[]).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn gzip_bodies_are_read_and_bombs_refused() {
    let server = upstream().await;
    let ingress = start(support::config(&server.uri())).await;
    let url = format!("{}/v1/batch", ingress.url());
    let body = gzip(&batch(vec![support::identify("u1", "m1")]));
    let (status, _, _) = post(&url, body, &[("content-encoding", "gzip")]).await;
    assert_eq!(status, 200);

    // 20 MB of spaces compress to ~20 KB: refused after 500 KB of output.
    let mut bomb = b"{\"batch\": [".to_vec();
    bomb.extend(std::iter::repeat_n(b' ', 20 * 1024 * 1024));
    bomb.extend(b"]}");
    let (status, reply, _) = post(&url, gzip(&bomb), &[("content-encoding", "gzip")]).await;
    assert_eq!(status, 400);
    assert_eq!(reply["code"], "request_too_large");

    let (status, reply, _) =
        post(&url, b"not gzip".to_vec(), &[("content-encoding", "gzip")]).await;
    assert_eq!(
        (status, reply["code"].clone()),
        (400, json!("invalid_gzip"))
    );

    let (status, reply, _) = post(&url, b"{}".to_vec(), &[("content-encoding", "br")]).await;
    assert_eq!(
        (status, reply["code"].clone()),
        (400, json!("unsupported_encoding"))
    );
}

#[tokio::test]
async fn limits_and_malformed_input_are_400_with_a_reason() {
    let server = upstream().await;
    let ingress = start(support::config(&server.uri())).await;
    let url = format!("{}/v1/batch", ingress.url());
    let big = json!({"type": "track", "userId": "u1", "event": "x", "properties": {"blob": "x".repeat(33 * 1024)}});
    // Past 16 KB the body is parsed off the runtime thread: the same answers must come back.
    let mut big_broken = b"{\"batch\": [".to_vec();
    big_broken.extend(std::iter::repeat_n(b' ', 40 * 1024));
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (b"{not json".to_vec(), "invalid_json", "not valid JSON"),
        (big_broken, "invalid_json", "not valid JSON"),
        (
            format!("[{}]", "1,".repeat(10 * 1024) + "1").into_bytes(),
            "invalid_body",
            "JSON object",
        ),
        (b"[1, 2]".to_vec(), "invalid_body", "JSON object"),
        (b"{\"writeKey\": \"x\"}".to_vec(), "missing_batch", "batch"),
        (b"{\"batch\": {}}".to_vec(), "invalid_batch", "array"),
        (
            b"{\"batch\": [{\"userId\": \"u\"}]}".to_vec(),
            "missing_type",
            "batch[0]",
        ),
        (
            batch(vec![support::identify("u1", "m"), big]),
            "message_too_large",
            "batch[1]",
        ),
        (
            batch(vec![json!({"type": "track"}); 2_501]),
            "batch_too_large",
            "2501",
        ),
        (
            batch(vec![
                json!({"type": "track", "p": "x".repeat(20 * 1024)});
                30
            ]),
            "request_too_large",
            "500 KB",
        ),
    ];
    for (body, code, needle) in cases {
        let (status, reply, _) = post(&url, body, &[]).await;
        assert_eq!(status, 400, "{code}: {reply}");
        assert_eq!(reply["code"], code, "{reply}");
        assert!(
            reply["message"].as_str().unwrap().contains(needle),
            "{code}: {reply}"
        );
    }
    let stats = ingress.forwarder().stats();
    assert_eq!(
        stats.received, 0,
        "nothing was accepted from a refused request"
    );
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn a_full_queue_answers_429_with_retry_after() {
    let server = upstream().await;
    let config = Config {
        queue_capacity: 1,
        ..support::config(&server.uri())
    };
    let ingress = start(config).await;
    let body = batch(vec![
        support::identify("u1", "a"),
        support::identify("u1", "b"),
    ]);
    let (status, reply, headers) = post(&format!("{}/v1/batch", ingress.url()), body, &[]).await;
    assert_eq!(status, 429);
    assert_eq!(reply["code"], "queue_full");
    assert!(headers.contains_key("retry-after"));
    assert_eq!(ingress.forwarder().stats().received, 0, "all or nothing");
}

#[tokio::test]
async fn health_stats_and_unknown_routes() {
    let server = upstream().await;
    let ingress = start(support::config(&server.uri())).await;
    let client = reqwest::Client::new();
    let health: Value = client
        .get(format!("{}/health", ingress.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"status": "ok"}));

    let body = batch(vec![
        support::identify("u1", "same"),
        support::identify("u1", "same"),
        json!({"type": "screen", "userId": "u1"}),
        json!({"type": "track", "event": "no ids"}),
    ]);
    let (status, _, _) = post(&format!("{}/v1/batch", ingress.url()), body, &[]).await;
    assert_eq!(status, 200);
    ingress.forwarder().wait_idle().await;
    let stats: Value = client
        .get(format!("{}/stats", ingress.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats,
        json!({"received": 4, "delivered": 1, "skipped": 1, "dead_lettered": 1, "duplicates": 1, "dropped_fields": 0, "in_flight": 0, "read_backs": 0, "resends_avoided": 0})
    );

    let response = client
        .post(format!("{}/v2/whatever", ingress.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["code"], "not_found");
}

#[tokio::test]
async fn shutdown_drains_the_queue() {
    let server = support::server().await;
    Mock::given(method("POST"))
        .and(path("/api/public/users/update_or_create/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"created": true, "id": 1}))
                .set_delay(Duration::from_millis(50)),
        )
        .mount(&server)
        .await;
    let ingress = start(support::config(&server.uri())).await;
    let url = ingress.url();
    let messages = (0..10)
        .map(|i| support::identify(&format!("u{i}"), &format!("m{i}")))
        .collect();
    let (status, _, _) = post(&format!("{url}/v1/batch"), batch(messages), &[]).await;
    assert_eq!(status, 200);
    let summary = ingress.shutdown().await;
    assert_eq!(summary.delivered, 10, "{summary}");
    assert!(
        reqwest::Client::new()
            .get(format!("{url}/health"))
            .send()
            .await
            .is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn what_cannot_be_delivered_by_the_drain_deadline_is_dead_lettered() {
    let server = support::server().await;
    Mock::given(method("POST"))
        .and(path("/api/public/users/update_or_create/"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let dead = support::temp_dir("drain").join("dead.ndjson");
    let config = Config {
        retry_window: Duration::from_secs(300),
        concurrency: 1,
        dead_letter: Some(dead.clone()),
        ..support::config(&server.uri())
    };
    let settings = Settings {
        drain_timeout: Duration::from_millis(100),
        ..Settings::default()
    };
    let ingress = start_with(config, settings).await;
    let messages = vec![
        support::identify("a", "1"),
        support::identify("b", "2"),
        support::identify("a", "3"),
    ];
    let (status, _, _) = post(&format!("{}/v1/batch", ingress.url()), batch(messages), &[]).await;
    assert_eq!(status, 200);
    let summary = ingress.shutdown().await;
    assert_eq!(summary.dead_lettered, 3, "{summary}");
    let lines = support::read_ndjson(&dead);
    assert_eq!(lines.len(), 3);
    let ids: std::collections::BTreeSet<&str> = lines
        .iter()
        .map(|l| l["message"]["messageId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1", "2", "3"].into_iter().collect());
}
