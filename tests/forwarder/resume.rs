//! `send --resume` through the built binary: a run killed with `kill -9` part-way through a file,
//! run again with `--resume`, sends only what had not ended; a finished file sends nothing; a
//! changed file and stdin are refused with a reason.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use usercom_mock::MockServer;

use crate::support::{occurrences, temp_dir};

const N: usize = 1500;

fn send(url: &str, input: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_usercom-forwarder"));
    c.arg("send")
        .arg(input)
        .args(["--usercom-url", url, "--api-key", crate::support::KEY])
        .args(extra)
        .env_remove("USERCOM_API_KEY")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn write_tracks(path: &Path) {
    let lines: Vec<String> = (0..N)
        .map(|i| {
            let mid = format!("m{i}");
            json!({"type": "track", "userId": format!("u{}", i % 40), "messageId": mid,
                   "event": "Resumed", "properties": {"mid": mid}})
            .to_string()
        })
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// Every request slowed a little, so a run of N events lasts seconds and a kill lands mid-way.
async fn slow_simulator() -> MockServer {
    MockServer::builder()
        .api_key(crate::support::KEY)
        .fault(json!({"match": {"method": "POST"}, "effect": {"latency_ms": [1, 6]}}))
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_kill_9_sends_only_what_had_not_ended() {
    let mock = slow_simulator().await;
    let dir = temp_dir("resume-kill");
    let input = dir.join("events.ndjson");
    write_tracks(&input);
    let checkpoint = dir.join("events.ndjson.checkpoint");

    // Run 1, killed once a third of the events are in.
    let mut child = send(&mock.url(), &input, &["--resume", "--concurrency", "4"])
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let seen = occurrences(&mock.url()).await.len();
        if seen >= N / 3 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "send ended before the kill ({seen} of {N} events in)"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "too slow: {seen}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("kill -9");
    child.wait().unwrap();
    // Requests the killed process had in flight finish (or not) on the simulator's side.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = occurrences(&mock.url()).await;
    let in_before: u64 = before.values().sum();

    let saved: Value = serde_json::from_slice(&std::fs::read(&checkpoint).unwrap()).unwrap();
    let ended =
        saved["ended_below"].as_u64().unwrap() as usize + saved["ended"].as_array().unwrap().len();
    assert!(ended > 0 && ended < N, "checkpoint after the kill: {saved}");
    // Whatever ended per the checkpoint was delivered: the checkpoint never runs ahead.
    for i in 0..saved["ended_below"].as_u64().unwrap() {
        assert!(
            before.contains_key(&format!("m{i}")),
            "m{i} recorded as ended, not delivered"
        );
    }

    // Run 2: only what had not ended is sent.
    let output = send(&mock.url(), &input, &["--resume"]).output().unwrap();
    let (out, err) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}\n{err}");
    assert!(
        err.contains(&format!("{ended} of {N} item(s) ended in earlier runs")),
        "{err}"
    );
    assert_eq!(
        out.lines().last().unwrap_or_default(),
        format!(
            "delivered={} skipped=0 dead_lettered=0 duplicates=0 dropped_fields=0",
            N - ended
        ),
        "{err}"
    );

    // Nothing lost; what is counted twice is exactly what was delivered but not yet checkpointed.
    let after = occurrences(&mock.url()).await;
    assert_eq!(after.len(), N, "events missing after the resume");
    let total: u64 = after.values().sum();
    assert_eq!(total, in_before + (N - ended) as u64);
    let again = total - N as u64;
    eprintln!(
        "resume after kill -9: {in_before} of {N} delivered at the kill, checkpoint {ended}, resent {}, sent twice {again}",
        N - ended
    );
    assert!(
        (again as usize) < N / 3,
        "the checkpoint saved little: {again} sent twice"
    );

    // Run 3: the file is finished; nothing is sent.
    let output = send(&mock.url(), &input, &["--resume"]).output().unwrap();
    let (out, err) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.starts_with("nothing to send: every message of"),
        "{out}"
    );
    assert_eq!(occurrences(&mock.url()).await.values().sum::<u64>(), total);
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_refuses_a_changed_file_and_stdin() {
    let mock = MockServer::builder()
        .api_key(crate::support::KEY)
        .start()
        .await
        .unwrap();
    let dir = temp_dir("resume-changed");
    let input = dir.join("in.ndjson");
    std::fs::write(
        &input,
        "{\"type\":\"track\",\"userId\":\"a\",\"event\":\"E\",\"properties\":{\"mid\":\"x1\"}}\nnot json\n",
    )
    .unwrap();
    let cp = dir.join("elsewhere.checkpoint");
    let cp_arg = cp.to_str().unwrap();
    let output = send(&mock.url(), &input, &["--resume", "--checkpoint", cp_arg])
        .output()
        .unwrap();
    let (out, err) = text(&output);
    // The bad line is dead-lettered (exit 1) and recorded as ended, like the event.
    assert_eq!(output.status.code(), Some(1), "{out}\n{err}");
    assert!(cp.exists(), "--checkpoint names where it goes");
    assert!(!dir.join("in.ndjson.checkpoint").exists());

    std::fs::write(
        &input,
        "{\"type\":\"track\",\"userId\":\"a\",\"event\":\"E\",\"properties\":{\"mid\":\"x2\"}}\n",
    )
    .unwrap();
    let output = send(&mock.url(), &input, &["--resume", "--checkpoint", cp_arg])
        .output()
        .unwrap();
    let (out, err) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{out}\n{err}");
    assert!(
        err.contains("the file changed since the interrupted run"),
        "{err}"
    );
    assert!(err.contains("Delete the checkpoint"), "{err}");

    let output = Command::new(env!("CARGO_BIN_EXE_usercom-forwarder"))
        .args(["send", "-", "--resume", "--usercom-url", &mock.url()])
        .args(["--api-key", crate::support::KEY])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (out, err) = text(&output);
    assert_ne!(output.status.code(), Some(0), "{out}");
    assert!(err.contains("--resume needs a file"), "{err}");

    // x2 never went out; x1 once.
    let mids = occurrences(&mock.url()).await;
    assert_eq!(mids.get("x1"), Some(&1));
    assert_eq!(mids.get("x2"), None);
    mock.shutdown().await;
}
