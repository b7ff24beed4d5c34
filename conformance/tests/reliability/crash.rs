//! `kill -9` on a real `usercom-forwarder serve` (with its spool) at random moments while the
//! real Segment Python client sends through it; restarted each time on the same port and spool.
//! Every message the client got a 200 for must be in the simulator: exactly once, or (a message
//! applied whose ack had not reached the spool when the process died, then replayed) counted as
//! a possible duplicate. None lost.
//!
//! Runs when `USERCOM_E2E_CLIENTS=1` (CI installs the client into `.venv`, see
//! tests/forwarder/clients.rs); full size (10,000 events, 20 kills) with `USERCOM_LONG_TESTS=1`.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{self, figure, forwarder_bin, size, Admin, Observed, Proc, TempDir};

const WRITE_KEY: &str = "crash-write-key";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// A free port on 127.0.0.1 (bound and released; the forwarder binds it again at each start).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `serve` on a fixed port with this spool; returns once its banner is printed, with its stdout
/// (kept open: the summary line is printed there at exit).
fn start(
    port: u16,
    args: &[String],
    api_key: &str,
    log: &Path,
) -> (Proc, BufReader<std::process::ChildStdout>) {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut child = Command::new(forwarder_bin())
        .arg("serve")
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .env("USERCOM_API_KEY", api_key)
        .env_remove("SEGMENT_WRITE_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn serve");
    let stdout = child.stdout.take().unwrap();
    let mut proc = Proc { child };
    let mut first = String::new();
    let mut reader = BufReader::new(stdout);
    reader.read_line(&mut first).unwrap();
    if !first.starts_with("ingress: ") {
        let status = proc.wait_exit(Duration::from_secs(5));
        panic!(
            "serve did not start ({status}): {first:?}; see {}",
            log.display()
        );
    }
    (proc, reader)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_a_real_client_sends_loses_nothing_acknowledged() {
    if std::env::var("USERCOM_E2E_CLIENTS").as_deref() != Ok("1") {
        eprintln!("skipped: set USERCOM_E2E_CLIENTS=1 to run the kill -9 test with the real Python client");
        return;
    }
    let python = root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: python3 -m venv .venv && .venv/bin/pip install -r tests/clients/requirements.txt",
        python.display()
    );
    let n: usize = size(10_000, 1_000);
    let kills: usize = size(20, 5);
    let send_seconds: f64 = size(20.0, 5.0);

    let mock = support::start_mock(&[]).await;
    let admin = Admin::new(&mock.url());
    // 10 ms per API request and 4 lanes: the forwarder delivers slower than the client sends,
    // so every kill finds messages accepted (spooled) and not yet delivered, and some mid-request.
    admin
        .add_fault(json!({"match": {"path_prefix": "/api/public/"}, "effect": {"latency_ms": 10}}))
        .await;
    let dir = TempDir::new("crash");
    let spool = dir.join("spool");
    let dl = dir.join("dead-letters.ndjson");
    let log = dir.join("serve.log");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let args: Vec<String> = [
        "--usercom-url",
        &mock.url(),
        "--write-key",
        WRITE_KEY,
        "--concurrency",
        "4",
        "--spool",
        spool.to_str().unwrap(),
        "--dead-letter",
        dl.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let http = support::http();
    let replayed_now = |http: reqwest::Client, url: String| async move {
        let stats: Value = http
            .get(format!("{url}/stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        stats["spool"]["replayed"].as_u64().unwrap_or(0)
    };

    let (mut server, mut _stdout) = start(port, &args, mock.api_key(), &log);
    let mut client = Command::new(&python)
        .arg(root().join("tests/clients/crash_python.py"))
        .args([
            url.as_str(),
            WRITE_KEY,
            &n.to_string(),
            "crash",
            &send_seconds.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run the Python client");

    let started = Instant::now();
    let mut rng = fastrand::Rng::with_seed(9);
    let gap = send_seconds / kills as f64;
    let mut replayed = 0u64;
    let mut kill_times = Vec::new();
    for _ in 0..kills {
        let wait = gap * (0.3 + 0.9 * rng.f64());
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        kill_times.push(started.elapsed().as_secs_f64());
        server.child.kill().expect("kill -9");
        server.child.wait().unwrap();
        (server, _stdout) = start(port, &args, mock.api_key(), &log);
        replayed += replayed_now(http.clone(), url.clone()).await;
    }

    // The client finishes (its retries outlast the restarts), then the last server delivers.
    let client_started = Instant::now();
    let report = loop {
        if let Some(status) = client.try_wait().unwrap() {
            assert!(status.success(), "the Python client failed: {status}");
            let mut out = String::new();
            client
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            break serde_json::from_str::<Value>(out.trim()).expect("the client's report");
        }
        assert!(
            client_started.elapsed() < Duration::from_secs(300),
            "the Python client did not finish"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let stats = support::wait_ingress_idle(&http, &url, Duration::from_secs(300)).await;
    server.sigterm();
    assert!(server.wait_exit(Duration::from_secs(60)).success());

    let unacknowledged: std::collections::BTreeSet<String> = report["failed"]
        .as_array()
        .unwrap()
        .iter()
        .chain(report["not_enqueued"].as_array().unwrap())
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect();
    let dead = support::dead_letter_ids(&support::dead_letters(&dl));
    let observed = Observed::from_state(&admin.state("default").await);
    let (mut exactly_once, mut lost, mut duplicated, mut extra_copies) = (0u64, Vec::new(), 0, 0);
    for i in 0..n {
        let mid = format!("crash-m{i}");
        if unacknowledged.contains(&mid) {
            continue;
        }
        let stored = if i % 2 == 0 {
            observed.event_mids.get(&mid)
        } else {
            observed.view_mids.get(&mid)
        }
        .copied()
        .unwrap_or(0);
        match stored {
            0 if dead.contains(&mid) => {}
            0 => lost.push(mid),
            1 => exactly_once += 1,
            k => {
                duplicated += 1;
                extra_copies += k - 1;
            }
        }
    }
    let acknowledged = n - unacknowledged.len();
    figure(
        "crash_kill9",
        json!({"events": n, "kills": kills, "acknowledged": acknowledged,
               "not_acknowledged": unacknowledged.len(), "exactly_once": exactly_once,
               "possible_duplicates": duplicated, "extra_copies": extra_copies,
               "lost": lost.len(), "dead_lettered": dead.len(), "replayed": replayed,
               "users_duplicated": observed.duplicate_users(),
               "seconds": started.elapsed().as_secs_f64(), "kill_at_s": kill_times,
               "last_stats": stats}),
    );
    assert!(
        lost.is_empty(),
        "{} acknowledged events lost (first: {:?}); serve's log: {}",
        lost.len(),
        lost.iter().take(5).collect::<Vec<_>>(),
        log.display()
    );
    assert_eq!(observed.duplicate_users(), 0, "a user created twice");
    assert!(
        extra_copies <= replayed,
        "{extra_copies} extra copies but only {replayed} messages were replayed: a duplicate the spool cannot explain"
    );
    assert!(
        acknowledged >= n * 9 / 10,
        "the client gave up on too much: {} of {n} not acknowledged",
        unacknowledged.len()
    );
    assert!(dead.is_empty(), "dead letters without any fault: {dead:?}");
}
