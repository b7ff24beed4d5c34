//! SIGTERM on a real `usercom-forwarder serve` process while the simulator is slow: the ingress
//! stops accepting, drains within its deadline, writes what it could not deliver to the
//! dead-letter file, and delivered + dead-lettered == accepted, with nothing both.

use std::io::Read;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{
    self, dead_letter_ids, dead_letters, figure, size, spawn_serve, Admin, Observed, TempDir,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_within_the_deadline_and_dead_letters_the_rest() {
    let mock = support::start_mock(&[]).await;
    let admin = Admin::new(&mock.url());
    // Every API request takes 100 ms: with 4 lanes the forwarder delivers ~40 messages/s, far
    // fewer than it accepts, so work is pending when SIGTERM comes.
    admin
        .add_fault(json!({"match": {"path_prefix": "/api/public/"}, "effect": {"latency_ms": 100}}))
        .await;
    let dir = TempDir::new("sigterm");
    let dl = dir.join("dead-letters.ndjson");
    let drain = Duration::from_secs(2);
    let args: Vec<String> = [
        "--usercom-url",
        &mock.url(),
        "--concurrency",
        "4",
        "--retry-window",
        "30s",
        "--request-timeout",
        "10s",
        "--drain-timeout",
        "2s",
        "--dead-letter",
        dl.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (mut proc, url, mut stdout) = spawn_serve(
        &args,
        &[("USERCOM_API_KEY", mock.api_key())],
        Some(&dir.join("stderr.log")),
    );
    let client = support::http();

    // Tracks only: one request each, so "applied" is visible per message (data.mid).
    let batches = size(20, 10);
    let mut accepted: Vec<String> = Vec::new();
    for b in 0..batches {
        let batch: Vec<Value> = (0..50)
            .map(|i| {
                let mid = format!("st-{b}-{i}");
                json!({"type": "track", "userId": format!("st-u{}", (b * 50 + i) % 200),
                       "messageId": mid, "event": "Drained", "properties": {"mid": mid}})
            })
            .collect();
        let resp = client
            .post(format!("{url}/v1/batch"))
            .json(&json!({"batch": batch}))
            .send()
            .await
            .expect("post a batch");
        assert_eq!(
            resp.status().as_u16(),
            200,
            "batch {b} refused before SIGTERM"
        );
        accepted.extend(
            batch
                .iter()
                .map(|m| m["messageId"].as_str().unwrap().to_string()),
        );
    }
    let before: Value = client
        .get(format!("{url}/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        before["in_flight"].as_u64().unwrap_or(0) > 0,
        "nothing pending: {before}"
    );

    let term_at = Instant::now();
    proc.sigterm();
    // The ingress stops accepting: every post from now on is refused (503) or cannot connect.
    // A post racing the signal may still be accepted; it is then part of `accepted`.
    let mut refused = 0;
    let mut late = 0;
    while refused < 3 && term_at.elapsed() < Duration::from_secs(5) {
        let mid = format!("st-late-{late}");
        late += 1;
        let msg = json!({"type": "track", "userId": "st-late", "messageId": mid, "event": "Late",
                         "properties": {"mid": mid}});
        match client
            .post(format!("{url}/v1/batch"))
            .json(&json!({"batch": [msg]}))
            .send()
            .await
        {
            Ok(resp) if resp.status().as_u16() == 200 => {
                assert_eq!(refused, 0, "accepted a batch after having refused one");
                accepted.push(mid);
            }
            Ok(resp) => {
                assert_eq!(
                    resp.status().as_u16(),
                    503,
                    "refusal while draining should be 503"
                );
                refused += 1;
            }
            Err(_) => refused += 1,
        }
    }
    assert!(refused >= 3, "the ingress kept accepting after SIGTERM");
    let status = proc.wait_exit(drain + Duration::from_secs(20));
    let exited_after = term_at.elapsed();
    // What missed the deadline is dead-lettered, and serve says so with exit code 1.
    assert_eq!(status.code(), Some(1), "serve exited with {status}");
    let mut out = String::new();
    stdout.read_to_string(&mut out).unwrap();
    let summary_line = out.lines().last().unwrap_or("").to_string();

    let records = dead_letters(&dl);
    let dead = dead_letter_ids(&records);
    for r in &records {
        let reason = r["reason"].as_str().unwrap_or("");
        assert!(
            reason.contains("shut down"),
            "unexpected dead-letter reason: {reason}"
        );
    }
    let observed = Observed::from_state(&admin.state("default").await);
    let applied: std::collections::BTreeSet<String> = observed.event_mids.keys().cloned().collect();
    assert!(
        observed.event_mids.values().all(|n| *n == 1),
        "an event applied twice"
    );
    assert!(
        applied.is_disjoint(&dead),
        "a message both applied and dead-lettered"
    );
    let all: std::collections::BTreeSet<String> = accepted.iter().cloned().collect();
    let ended: std::collections::BTreeSet<String> = applied.union(&dead).cloned().collect();
    assert_eq!(
        ended, all,
        "delivered + dead-lettered must be exactly the accepted messages"
    );
    assert_eq!(
        summary_line,
        format!(
            "delivered={} skipped=0 dead_lettered={} duplicates=0 dropped_fields=0",
            applied.len(),
            dead.len()
        ),
        "serve's summary line"
    );
    assert!(
        !dead.is_empty(),
        "nothing was left to dead-letter: the drain was not exercised"
    );
    figure(
        "sigterm",
        json!({"accepted": all.len(), "delivered": applied.len(), "dead_lettered": dead.len(),
               "drain_timeout_s": drain.as_secs_f64(),
               "exit_after_sigterm_s": exited_after.as_secs_f64()}),
    );
}
