//! "Nothing acknowledged is lost": a batch our ingress answered 200 (with its spool, as `serve`
//! runs) survives a crash of the process before any of it reached User.com, and the next start
//! delivers every message exactly once.
//!
//! The crash is a whole tokio runtime dropped mid-flight (`shutdown_timeout`): the ingress,
//! the lanes and their retries vanish without a drain, as under `kill -9`, leaving only what
//! the spool put on disk. (`conformance/tests/reliability/crash.rs` does it with real SIGKILLs.)

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use usercom_forwarder::ingress::{Ingress, Settings};
use usercom_forwarder::spool::SpoolConfig;
use usercom_forwarder::{Config, Forwarder};
use usercom_mock::MockServer;

use crate::support::runtime;

const N: usize = 60;

fn config(url: &str, key: &str, spool: &std::path::Path) -> Config {
    Config {
        // Room for exactly one batch: a batch as large as the queue is taken whole.
        queue_capacity: N,
        retry_window: Duration::from_secs(60),
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        spool: Some(SpoolConfig::new(spool)),
        ..Config::new(url, key)
    }
}

fn batch() -> Vec<Value> {
    (0..N)
        .map(|i| {
            let mid = format!("r{i}");
            if i % 3 == 0 {
                json!({"type": "page", "userId": format!("ru{}", i % 7), "messageId": mid,
                       "properties": {"url": format!("https://shop.example/p/{i}")}})
            } else {
                json!({"type": "track", "userId": format!("ru{}", i % 7), "messageId": mid,
                       "event": "Restarted", "properties": {"mid": mid}})
            }
        })
        .collect()
}

async fn stats(url: &str) -> Value {
    reqwest::get(format!("{url}/stats"))
        .await
        .expect("GET /stats")
        .json()
        .await
        .expect("stats JSON")
}

#[test]
fn a_batch_answered_200_survives_a_crash_before_delivery() {
    let dir = std::env::temp_dir().join(format!(
        "usercom-harness-restart-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    let spool = dir.join("spool");
    let rt = runtime();
    let mock = rt.block_on(async {
        MockServer::builder()
            // Every API request refused before it is applied: nothing can be delivered yet.
            .fault(json!({"match": {"path_prefix": "/api/public/"},
                          "effect": {"status": 503}}))
            .start()
            .await
            .expect("simulator")
    });
    let (url, key) = (mock.url(), mock.api_key().to_string());

    // First life: accept the batch, answer 200, then crash before anything is delivered.
    let first = runtime();
    first.block_on(async {
        let forwarder = Forwarder::new(config(&url, &key, &spool)).expect("forwarder");
        let settings = Settings {
            queue_wait: Duration::ZERO,
            ..Settings::default()
        };
        let ingress = Ingress::start_with(([127, 0, 0, 1], 0).into(), forwarder, settings)
            .await
            .expect("ingress");
        let answer = reqwest::Client::new()
            .post(format!("{}/v1/batch", ingress.url()))
            .json(&json!({ "batch": batch() }))
            .send()
            .await
            .expect("POST /v1/batch");
        assert_eq!(answer.status(), 200, "{:?}", answer.text().await);
        let s = stats(&ingress.url()).await;
        assert_eq!(s["received"], json!(N), "{s}");
        assert_eq!(s["delivered"], json!(0), "{s}");
        assert_eq!(
            s["spool"]["pending"],
            json!(N),
            "every acknowledged message on disk: {s}"
        );
        drop(ingress);
    });
    // Every task dropped where it stood (waiting only for the runtime's threads to let go).
    first.shutdown_timeout(Duration::from_secs(10));

    // Second life: User.com is back; the same spool is replayed.
    rt.block_on(async {
        reqwest::Client::new()
            .delete(format!("{url}/__admin/faults"))
            .send()
            .await
            .expect("clear faults");
        let forwarder = Forwarder::new(config(&url, &key, &spool)).expect("forwarder");
        let ingress =
            Ingress::start_with(([127, 0, 0, 1], 0).into(), forwarder, Settings::default())
                .await
                .expect("ingress after the crash");
        let started = Instant::now();
        let s = loop {
            let s = stats(&ingress.url()).await;
            if s["delivered"] == json!(N) && s["in_flight"] == json!(0) {
                break s;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "not replayed: {s}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(s["spool"]["replayed"], json!(N), "{s}");
        assert_eq!(s["dead_lettered"], json!(0), "{s}");
        let summary = ingress.shutdown().await;
        assert_eq!(summary.delivered, N as u64);

        // Exactly once: every track one occurrence, every page one site view.
        let state: Value = reqwest::get(format!("{url}/__admin/state?app=default"))
            .await
            .expect("state")
            .json()
            .await
            .expect("state JSON");
        let mut mids: BTreeMap<String, u64> = BTreeMap::new();
        for e in state["events"].as_array().into_iter().flatten() {
            *mids
                .entry(e["data"]["mid"].as_str().unwrap_or("?").to_string())
                .or_default() += 1;
        }
        let tracks = (0..N).filter(|i| i % 3 != 0).count();
        assert_eq!(mids.len(), tracks, "occurrences: {mids:?}");
        assert!(
            mids.values().all(|&n| n == 1),
            "an occurrence twice: {mids:?}"
        );
        let views = state["site_views"].as_array().map_or(0, Vec::len);
        assert_eq!(views, N - tracks, "site views");

        // Everything ended, so the spool is empty: a third start replays nothing.
        let forwarder = Forwarder::new(config(&url, &key, &spool)).expect("forwarder");
        assert_eq!(
            forwarder.replay(),
            0,
            "the spool kept messages that had ended"
        );
    });
    mock_shutdown(&rt, mock);
    let _ = std::fs::remove_dir_all(&dir);
}

fn mock_shutdown(rt: &tokio::runtime::Runtime, mock: MockServer) {
    rt.block_on(mock.shutdown());
}
