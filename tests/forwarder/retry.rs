//! Retryable and permanent failures, and what ends up in the dead-letter file.

use std::time::Duration;

use serde_json::json;
use usercom_forwarder::error::FORBIDDEN_HINT;
use usercom_forwarder::{Config, Forwarder, Summary};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{self, requests};

const UPSERT: &str = "/api/public/users/update_or_create/";

/// Mounts `first` once, then 200 for the upsert.
async fn fail_once_then_succeed(server: &MockServer, first: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(UPSERT))
        .respond_with(first)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(UPSERT))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"created": true, "id": 1})))
        .mount(server)
        .await;
}

fn with_dead_letter(config: Config, name: &str) -> (Config, std::path::PathBuf) {
    let file = support::temp_dir(name).join("dead.ndjson");
    (
        Config {
            dead_letter: Some(file.clone()),
            ..config
        },
        file,
    )
}

#[tokio::test]
async fn retryable_statuses_are_retried_until_success() {
    for status in [408, 429, 500, 502, 503, 504] {
        let server = support::server().await;
        fail_once_then_succeed(&server, ResponseTemplate::new(status)).await;
        let forwarder = Forwarder::new(support::config(&server.uri())).unwrap();
        let summary = forwarder.send_all(vec![support::identify("u", "m")]).await;
        assert_eq!(summary.delivered, 1, "status {status}: {summary}");
        assert_eq!(requests(&server).await.len(), 2, "status {status}");
    }
}

#[tokio::test]
async fn permanent_statuses_are_dead_lettered_after_one_request() {
    for status in [400, 401, 403, 404, 409, 422, 501] {
        let server = support::server().await;
        fail_once_then_succeed(
            &server,
            // A body that names no field of the request (a 400 naming one is answered by
            // sending again without it: `requests::a_400_naming_a_field_is_sent_again_without_it`).
            ResponseTemplate::new(status).set_body_json(json!({"detail": "Refused."})),
        )
        .await;
        let (config, file) = with_dead_letter(support::config(&server.uri()), "permanent");
        let forwarder = Forwarder::new(config).unwrap();
        let message = support::identify("u", "m");
        let summary = forwarder.send_all(vec![message.clone()]).await;
        assert_eq!(summary.dead_lettered, 1, "status {status}: {summary}");
        assert_eq!(
            requests(&server).await.len(),
            1,
            "status {status} must not be retried"
        );
        let lines = support::read_ndjson(&file);
        assert_eq!(lines.len(), 1, "status {status}");
        let line = &lines[0];
        assert_eq!(line["message"], message);
        assert_eq!(line["status"], json!(status));
        assert_eq!(line["call"], json!(format!("POST {UPSERT}")));
        assert!(
            line["at"].as_str().is_some_and(|at| at.ends_with('Z')),
            "{line}"
        );
        let reason = line["reason"].as_str().unwrap();
        assert!(reason.starts_with("identify: "), "{reason}");
        assert!(reason.contains(&status.to_string()), "{reason}");
        if status == 400 {
            assert!(
                reason.contains("Refused."),
                "the answer's body is in the reason: {reason}"
            );
        }
        assert_eq!(reason.contains(FORBIDDEN_HINT), status == 403, "{reason}");
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let server = support::server().await;
    fail_once_then_succeed(
        &server,
        ResponseTemplate::new(429).insert_header("retry-after", "7"),
    )
    .await;
    let forwarder = Forwarder::new(support::paused_config(&server.uri())).unwrap();
    let start = tokio::time::Instant::now();
    let summary = forwarder.send_all(vec![support::identify("u", "m")]).await;
    assert_eq!(summary.delivered, 1);
    // Virtual time: the retry waited at least what the server asked for.
    assert!(
        start.elapsed() >= Duration::from_secs(7),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn backoff_keeps_retrying_within_the_window_then_dead_letters() {
    let server = support::server().await;
    Mock::given(method("POST"))
        .and(path(UPSERT))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let config = Config {
        retry_window: Duration::from_secs(3600),
        ..support::paused_config(&server.uri())
    };
    let (config, file) = with_dead_letter(config, "window");
    let forwarder = Forwarder::new(config).unwrap();
    let summary = forwarder.send_all(vec![support::identify("u", "m")]).await;
    assert_eq!(summary.dead_lettered, 1);
    assert!(requests(&server).await.len() >= 3, "retried several times");
    assert_eq!(support::read_ndjson(&file)[0]["status"], json!(503));
}

#[tokio::test]
async fn retry_after_longer_than_the_window_gives_up_at_once() {
    let server = support::server().await;
    Mock::given(method("POST"))
        .and(path(UPSERT))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .mount(&server)
        .await;
    let forwarder = Forwarder::new(support::config(&server.uri())).unwrap();
    let summary = forwarder.send_all(vec![support::identify("u", "m")]).await;
    assert_eq!(summary.dead_lettered, 1);
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn timeouts_are_retried() {
    let server = support::server().await;
    fail_once_then_succeed(
        &server,
        ResponseTemplate::new(200)
            .set_body_json(json!({"created": true, "id": 1}))
            .set_delay(Duration::from_secs(3)),
    )
    .await;
    let config = Config {
        request_timeout: Some(Duration::from_millis(200)),
        ..support::config(&server.uri())
    };
    let forwarder = Forwarder::new(config).unwrap();
    let summary = forwarder.send_all(vec![support::identify("u", "m")]).await;
    assert_eq!(summary.delivered, 1, "{summary}");
}

#[tokio::test]
async fn persistent_timeouts_are_dead_lettered_with_the_reason() {
    let server = support::server().await;
    Mock::given(method("POST"))
        .and(path(UPSERT))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let config = Config {
        request_timeout: Some(Duration::from_millis(100)),
        retry_window: Duration::from_millis(300),
        ..support::config(&server.uri())
    };
    let (config, file) = with_dead_letter(config, "timeout");
    let forwarder = Forwarder::new(config).unwrap();
    let summary = forwarder.send_all(vec![support::identify("u", "m")]).await;
    assert_eq!(summary.dead_lettered, 1);
    let line = &support::read_ndjson(&file)[0];
    assert!(
        line["reason"].as_str().unwrap().contains("timed out"),
        "{line}"
    );
    assert_eq!(line["status"], json!(null));
}

#[tokio::test]
async fn refused_connections_are_retried_then_dead_lettered() {
    // A port that was free a moment ago: nothing listens there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = Config {
        retry_window: Duration::from_millis(200),
        ..support::config(&format!("http://{addr}"))
    };
    let (config, file) = with_dead_letter(config, "refused");
    let forwarder = Forwarder::new(config).unwrap();
    let summary = forwarder.send_all(vec![support::track("u", "m")]).await;
    assert_eq!(
        summary,
        Summary {
            dead_lettered: 1,
            ..Summary::default()
        }
    );
    let line = &support::read_ndjson(&file)[0];
    let reason = line["reason"].as_str().unwrap();
    assert!(reason.contains("cannot connect"), "{reason}");
    assert!(!reason.contains(support::KEY), "the key never appears");
}

#[tokio::test]
async fn a_dead_lettered_message_can_be_sent_again() {
    let server = support::server().await;
    fail_once_then_succeed(&server, ResponseTemplate::new(400)).await;
    let forwarder = Forwarder::new(support::config(&server.uri())).unwrap();
    let first = forwarder.send_all(vec![support::identify("u", "m")]).await;
    assert_eq!(first.dead_lettered, 1);
    // The same messageId was not applied, so it is not a duplicate the second time.
    let second = forwarder.send_all(vec![support::identify("u", "m")]).await;
    assert_eq!(second.delivered, 1, "{second}");
}
