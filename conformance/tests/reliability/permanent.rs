//! Permanent errors (400, 403 for a revoked key) go to the dead-letter file with the reason and
//! status, are sent exactly once (counted in the simulator's journal), and
//! `usercom-forwarder send <dead-letter file>` delivers them once the cause is fixed.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use usercom_forwarder::Forwarder;

use crate::support::{self, dead_letters, figure, forwarder_bin, Admin, Observed, TempDir};
use crate::zero_loss::fast_config;

fn track(user: &str, mid: &str) -> Value {
    json!({"type": "track", "userId": user, "messageId": mid, "event": "Order Completed",
           "properties": {"mid": mid}, "timestamp": "2024-05-01T10:00:00Z"})
}

fn identify(user: &str, mid: &str) -> Value {
    json!({"type": "identify", "userId": user, "messageId": mid, "traits": {"plan": mid}})
}

/// Journal entries (every app) whose path starts with `prefix` and whose method is `method`.
fn count(journal: &[Value], method: &str, prefix: &str) -> usize {
    journal
        .iter()
        .filter(|e| e["method"] == json!(method))
        .filter(|e| e["path"].as_str().is_some_and(|p| p.starts_with(prefix)))
        .count()
}

/// Runs the built binary `send FILE` against the simulator; returns (exit code, stdout, stderr).
fn send_file(
    file: &std::path::Path,
    url: &str,
    key: &str,
    dead: &std::path::Path,
) -> (i32, String, String) {
    let out = Command::new(forwarder_bin())
        .arg("send")
        .arg(file)
        .args(["--usercom-url", url, "--retry-window", "10s"])
        .arg("--dead-letter")
        .arg(dead)
        .env("USERCOM_API_KEY", key)
        .output()
        .expect("run usercom-forwarder send");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_400_is_dead_lettered_once_with_reason_and_replayed_after_the_fix() {
    let mock = support::start_mock(&[]).await;
    let admin = Admin::new(&mock.url());
    let dir = TempDir::new("perm-400");
    let dl = dir.join("dead-letters.ndjson");
    admin
        .add_fault(json!({
            "match": {"method": "POST", "path_prefix": "/api/public/users-by-id/"},
            "effect": {"status": 400, "body": {"detail": "name: rejected by the reliability test", "field": "name"}},
            "when": "before",
        }))
        .await;
    let tracks: Vec<Value> = (0..10)
        .map(|i| track(&format!("p4-u{i}"), &format!("p4-t{i}")))
        .collect();
    let identifies: Vec<Value> = (0..10)
        .map(|i| identify(&format!("p4-u{i}"), &format!("p4-i{i}")))
        .collect();
    // identifies first (they create the users), then the tracks that will be refused.
    let mut messages = identifies.clone();
    messages.extend(tracks.iter().cloned());
    let forwarder =
        Forwarder::new(fast_config(&mock.url(), mock.api_key(), dl.clone())).expect("forwarder");
    let summary = forwarder.send_all(messages).await;
    assert_eq!(
        (summary.delivered, summary.dead_lettered),
        (10, 10),
        "{summary}"
    );

    // Not retried: one events request per track.
    let journal = admin.journal().await;
    let event_posts = count(&journal, "POST", "/api/public/users-by-id/");
    assert_eq!(
        event_posts, 10,
        "a 400 was retried: {event_posts} event requests for 10 tracks"
    );
    let records = dead_letters(&dl);
    assert_eq!(records.len(), 10);
    for r in &records {
        assert_eq!(r["status"], json!(400), "{r}");
        let reason = r["reason"].as_str().unwrap_or("");
        assert!(
            reason.contains("400") && reason.contains("rejected by the reliability test"),
            "reason: {reason}"
        );
        assert!(
            r["call"].as_str().is_some_and(|c| c.contains("/events/")),
            "{r}"
        );
        assert_eq!(r["message"]["type"], json!("track"));
    }

    // The fix: the fault is cleared; replay the file with the binary.
    admin.clear_faults().await;
    let replay_dead = dir.join("replay-dead.ndjson");
    let (code, stdout, stderr) = send_file(&dl, &mock.url(), mock.api_key(), &replay_dead);
    assert_eq!(
        code, 0,
        "send of the dead-letter file failed: {stdout}{stderr}"
    );
    assert!(
        stdout.contains("delivered=10 skipped=0 dead_lettered=0"),
        "{stdout}"
    );
    let observed = Observed::from_state(&admin.state("default").await);
    assert_eq!(observed.event_mids.len(), 10);
    assert!(
        observed.event_mids.values().all(|n| *n == 1),
        "a replayed event was applied twice"
    );
    figure(
        "permanent_400",
        json!({"messages": 20, "dead_lettered": records.len(), "requests_for_refused": event_posts,
               "replayed_delivered": 10}),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_key_403_is_dead_lettered_once_and_replayed_with_a_new_key() {
    // Two keys of one app: the first gets revoked, the second is "the new key".
    let mock = support::start_mock(&["perm-old-key", "perm-new-key"]).await;
    let admin = Admin::new(&mock.url());
    let dir = TempDir::new("perm-403");
    let dl = dir.join("dead-letters.ndjson");
    admin.revoke("perm-old-key").await;
    let messages: Vec<Value> = (0..8)
        .map(|i| identify(&format!("p3-u{i}"), &format!("p3-i{i}")))
        .chain((0..4).map(|i| track(&format!("p3-u{i}"), &format!("p3-t{i}"))))
        .collect();
    let forwarder =
        Forwarder::new(fast_config(&mock.url(), "perm-old-key", dl.clone())).expect("forwarder");
    let summary = forwarder.send_all(messages).await;
    assert_eq!(
        (summary.delivered, summary.dead_lettered),
        (0, 12),
        "{summary}"
    );

    // One request per message: a 403 is not retried.
    let journal = admin.journal().await;
    assert_eq!(
        journal.len(),
        12,
        "a 403 was retried: {} requests for 12 messages",
        journal.len()
    );
    assert!(journal.iter().all(|e| e["status"] == json!(403)));
    let records = dead_letters(&dl);
    assert_eq!(records.len(), 12);
    for r in &records {
        assert_eq!(r["status"], json!(403), "{r}");
        let reason = r["reason"].as_str().unwrap_or("");
        assert!(
            reason.contains("403") && reason.contains("API key revoked"),
            "the reason should carry the 403 hint: {reason}"
        );
        assert!(
            !reason.contains("perm-old-key"),
            "the key leaked into the reason"
        );
    }
    let text = std::fs::read_to_string(&dl).unwrap();
    assert!(!text.contains("perm-old-key") && !text.contains("perm-new-key"));

    let replay_dead = dir.join("replay-dead.ndjson");
    let (code, stdout, stderr) = send_file(&dl, &mock.url(), "perm-new-key", &replay_dead);
    assert_eq!(code, 0, "replay failed: {stdout}{stderr}");
    assert!(
        stdout.contains("delivered=12 skipped=0 dead_lettered=0"),
        "{stdout}"
    );
    let observed = Observed::from_state(&admin.state("default").await);
    assert_eq!(observed.users.len(), 8);
    assert_eq!(observed.occurrences(), 4);
    assert_eq!(observed.plan.get("p3-u7"), Some(&json!("p3-i7")));
    figure(
        "permanent_403",
        json!({"messages": 12, "dead_lettered": 12, "requests": journal.len(),
               "replayed_delivered": 12}),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_errors_are_retried_until_the_window_closes_then_dead_lettered() {
    // The counterpart: a 503 that never ends is retried (several requests), then dead-lettered
    // with its status when the window closes; the replay delivers it.
    let mock = support::start_mock(&[]).await;
    let admin = Admin::new(&mock.url());
    let dir = TempDir::new("perm-503");
    let dl = dir.join("dead-letters.ndjson");
    admin
        .add_fault(json!({"match": {"method": "POST", "path_prefix": "/api/public/users/update_or_create/"},
                          "effect": {"status": 503, "body": {"detail": "down"}}}))
        .await;
    let config = usercom_forwarder::Config {
        retry_window: Duration::from_millis(600),
        ..fast_config(&mock.url(), mock.api_key(), dl.clone())
    };
    let forwarder = Forwarder::new(config).expect("forwarder");
    let summary = forwarder.send_all(vec![identify("p5-u", "p5-i")]).await;
    assert_eq!(summary.dead_lettered, 1, "{summary}");
    let attempts = count(
        &admin.journal().await,
        "POST",
        "/api/public/users/update_or_create/",
    );
    assert!(attempts >= 2, "a 503 was not retried ({attempts} request)");
    let records = dead_letters(&dl);
    assert_eq!(records[0]["status"], json!(503));
    admin.clear_faults().await;
    let (code, stdout, stderr) = send_file(&dl, &mock.url(), mock.api_key(), &dir.join("r.ndjson"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let observed = Observed::from_state(&admin.state("default").await);
    assert_eq!(observed.plan.get("p5-u"), Some(&json!("p5-i")));
    figure("retryable_503", json!({"attempts_within_600ms": attempts}));
}
