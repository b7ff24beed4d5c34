//! Zero loss under faults injected *before* the simulator applies a request (503, 429 with
//! Retry-After, latency, connection resets): every message ends delivered or dead-lettered, the
//! counts add up to the input, and the simulator's state equals exactly what was delivered.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use usercom_forwarder::ingress::{Ingress, Settings};
use usercom_forwarder::{Config, Forwarder};

use crate::support::{self, dead_letter_ids, dead_letters, figure, size, Admin, Observed, TempDir};
use crate::workload::{self, reconcile_exact};

/// Short retries so a run under faults ends in seconds: the window is far longer than any run of
/// bad luck at these probabilities, so dead letters stay rare (but are accounted for exactly).
pub fn fast_config(url: &str, key: &str, dead_letter: std::path::PathBuf) -> Config {
    Config {
        concurrency: 16,
        retry_window: Duration::from_secs(20),
        request_timeout: Some(Duration::from_secs(5)),
        backoff_base: Duration::from_millis(5),
        backoff_max: Duration::from_millis(100),
        dead_letter: Some(dead_letter),
        ..Config::new(url, key)
    }
}

/// The fault mix, every rule seeded (the same run every time for a given request order).
fn before_faults(seed: u64) -> Vec<Value> {
    vec![
        json!({"match": {"path_prefix": "/api/public/"}, "when": "before",
               "effect": {"status": 503, "body": {"detail": "injected 503"}},
               "probability": 0.08, "seed": seed}),
        json!({"match": {"path_prefix": "/api/public/"}, "when": "before",
               "effect": {"status": 429, "body": {"detail": "injected 429"}, "retry_after": 1},
               "probability": 0.01, "seed": seed + 1}),
        json!({"match": {"path_prefix": "/api/public/"}, "when": "before",
               "effect": {"latency_ms": [1, 20]},
               "probability": 0.2, "seed": seed + 2}),
        json!({"match": {"path_prefix": "/api/public/"}, "when": "before",
               "effect": {"reset": true},
               "probability": 0.04, "seed": seed + 3}),
    ]
}

/// Hits per effect kind (`503`, `429`, `latency`, `reset`, `rate_limit`), for the figures.
pub async fn hits_by_kind(admin: &Admin) -> Value {
    let mut out = serde_json::Map::new();
    for rule in admin.faults().await {
        let effect = &rule["effect"];
        let kind = if let Some(status) = effect["status"].as_u64() {
            status.to_string()
        } else if !effect["latency_ms"].is_null() {
            "latency".into()
        } else if !effect["reset"].is_null() {
            "reset".into()
        } else if !effect["rate_limit"].is_null() {
            "rate_limit".into()
        } else {
            "other".into()
        };
        let when = rule["when"].as_str().unwrap_or("before");
        let key = format!("{kind}_{when}");
        let hits = rule["hits"].as_u64().unwrap_or(0);
        let total = out.get(&key).and_then(Value::as_u64).unwrap_or(0) + hits;
        out.insert(key, json!(total));
    }
    Value::Object(out)
}

/// Journal entries that carry a fired fault, and all API requests.
pub async fn journal_counts(admin: &Admin) -> (u64, u64) {
    let journal = admin.journal().await;
    let faults = journal.iter().filter(|e| !e["fault"].is_null()).count() as u64;
    (journal.len() as u64, faults)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_loss_send_all_with_faults_before_apply() {
    let n = size(5_000, 1_000);
    let mock = support::start_mock(&[]).await;
    let admin = Admin::new(&mock.url());
    for rule in before_faults(101) {
        admin.add_fault(rule).await;
    }
    let messages = workload::mixed("zs", n, n / 10, n / 100 + 1, 7);
    let dir = TempDir::new("zero-send");
    let dl = dir.join("dead-letters.ndjson");
    let forwarder =
        Forwarder::new(fast_config(&mock.url(), mock.api_key(), dl.clone())).expect("forwarder");

    let start = Instant::now();
    let summary = tokio::time::timeout(
        Duration::from_secs(120),
        forwarder.send_all(messages.clone()),
    )
    .await
    .expect("send_all ended within 120 s");
    let elapsed = start.elapsed();
    let hits = hits_by_kind(&admin).await;
    let fired = admin.fault_hits().await;
    let (requests, journaled_faults) = journal_counts(&admin).await;
    admin.clear_faults().await;

    assert_eq!(summary.total(), n as u64, "every message ends: {summary}");
    assert_eq!((summary.skipped, summary.duplicates), (0, 0), "{summary}");
    let records = dead_letters(&dl);
    assert_eq!(
        records.len() as u64,
        summary.dead_lettered,
        "dead-letter file vs summary"
    );
    for r in &records {
        assert!(
            r["reason"].as_str().is_some_and(|s| !s.is_empty()),
            "a dead letter without reason: {r}"
        );
    }
    let (delivered, dead) = workload::split(&messages, &dead_letter_ids(&records));
    assert_eq!(delivered.len() as u64, summary.delivered);
    assert!(fired > 0, "no fault fired: the test proves nothing");
    assert_eq!(
        journaled_faults, fired,
        "every fired fault is in the journal"
    );

    let observed = Observed::from_state(&admin.state("default").await);
    let problems = reconcile_exact("send_all", &observed, &delivered, &dead);
    assert!(problems.is_empty(), "{problems:#?}");
    figure(
        "zero_loss_send_all",
        json!({
            "events": n, "delivered": summary.delivered, "dead_lettered": summary.dead_lettered,
            "faults_fired": fired, "faults_by_kind": hits, "api_requests": requests,
            "users": observed.users.len(), "page_views": observed.total_page_views(),
            "occurrences": observed.occurrences(), "memberships": observed.memberships.len(),
            "duplicates": observed.duplicates(), "seconds": elapsed.as_secs_f64(),
        }),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_loss_ingress_with_faults_before_apply() {
    let n = size(5_000, 1_000);
    let mock = support::start_mock(&[]).await;
    let admin = Admin::new(&mock.url());
    for rule in before_faults(201) {
        admin.add_fault(rule).await;
    }
    // A rate limit too: 429 with Retry-After and X-RateLimit-* when the forwarder goes too fast;
    // at most 300 of them, as each costs its lane a 1 s wait (the run stays well under a minute).
    admin
        .add_fault(json!({"match": {"path_prefix": "/api/public/"},
                          "effect": {"rate_limit": {"requests": 60, "window_ms": 100, "retry_after": 1}},
                          "times": 300}))
        .await;
    let messages = workload::mixed("zi", n, n / 10, n / 100 + 1, 8);
    let dir = TempDir::new("zero-ingress");
    let dl = dir.join("dead-letters.ndjson");
    // A small queue and a short wait for room, so the ingress also pushes back (429) and the
    // client must resend batches (accepted all or nothing: a resend never doubles).
    let config = Config {
        queue_capacity: 150,
        ..fast_config(&mock.url(), mock.api_key(), dl.clone())
    };
    let settings = Settings {
        queue_wait: Duration::from_millis(20),
        ..Settings::default()
    };
    let forwarder = Forwarder::new(config).expect("forwarder");
    let ingress = Ingress::start_with("127.0.0.1:0".parse().unwrap(), forwarder, settings)
        .await
        .expect("ingress");
    let client = support::http();

    let start = Instant::now();
    let mut pushed_back = 0u64;
    for batch in messages.chunks(100) {
        let body = json!({"batch": batch, "context": {"library": {"name": "reliability"}}});
        loop {
            let resp = client
                .post(format!("{}/v1/batch", ingress.url()))
                .json(&body)
                .send()
                .await
                .expect("post a batch");
            match resp.status().as_u16() {
                200 => break,
                429 => {
                    pushed_back += 1;
                    assert!(
                        resp.headers().contains_key("retry-after"),
                        "a 429 from the ingress without Retry-After"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => panic!(
                    "the ingress answered {other} to a valid batch: {}",
                    resp.text().await.unwrap_or_default()
                ),
            }
        }
    }
    tokio::time::timeout(Duration::from_secs(120), ingress.forwarder().wait_idle())
        .await
        .expect("the ingress drained within 120 s");
    let elapsed = start.elapsed();
    let stats: Value = client
        .get(format!("{}/stats", ingress.url()))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats JSON");
    let summary = ingress.shutdown().await;
    let hits = hits_by_kind(&admin).await;
    let fired = admin.fault_hits().await;
    let (requests, _) = journal_counts(&admin).await;
    admin.clear_faults().await;

    assert_eq!(stats["received"], json!(n), "{stats}");
    assert_eq!(stats["in_flight"], json!(0), "{stats}");
    assert_eq!(summary.total(), n as u64, "every message ends: {summary}");
    assert_eq!((summary.skipped, summary.duplicates), (0, 0), "{summary}");
    let records = dead_letters(&dl);
    assert_eq!(records.len() as u64, summary.dead_lettered);
    let (delivered, dead) = workload::split(&messages, &dead_letter_ids(&records));
    assert_eq!(delivered.len() as u64, summary.delivered);
    assert!(fired > 0, "no fault fired: the test proves nothing");

    let observed = Observed::from_state(&admin.state("default").await);
    let problems = reconcile_exact("ingress", &observed, &delivered, &dead);
    assert!(problems.is_empty(), "{problems:#?}");
    figure(
        "zero_loss_ingress",
        json!({
            "events": n, "delivered": summary.delivered, "dead_lettered": summary.dead_lettered,
            "faults_fired": fired, "faults_by_kind": hits, "api_requests": requests,
            "ingress_429": pushed_back,
            "users": observed.users.len(), "page_views": observed.total_page_views(),
            "occurrences": observed.occurrences(), "memberships": observed.memberships.len(),
            "duplicates": observed.duplicates(), "seconds": elapsed.as_secs_f64(),
        }),
    );
}
