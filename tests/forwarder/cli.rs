//! The built binary: `send`, `plan`, start-up errors and `--help`.
//!
//! The wiremock server runs on its own thread, so blocking on the child process here is fine.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{self, answer, KEY};

fn bin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_usercom-forwarder"));
    command
        .env_remove("USERCOM_API_KEY")
        .env_remove("SEGMENT_WRITE_KEY")
        .env_remove("RUST_LOG");
    command
}

fn run(command: &mut Command, stdin: Option<&str>) -> Output {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the binary starts");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn last_line(output: &Output) -> String {
    text(&output.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

fn write_lines(dir: &Path, name: &str, lines: &[String]) -> std::path::PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    file
}

#[test]
fn help_explains_every_command_and_flag() {
    let output = run(bin().arg("--help"), None);
    assert!(output.status.success());
    let help = text(&output.stdout);
    for word in [
        "dev",
        "serve",
        "send",
        "plan",
        "--log-format",
        "--threads",
        "RUST_LOG",
    ] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
    let output = run(bin().args(["send", "--help"]), None);
    let help = text(&output.stdout);
    for word in [
        "--usercom-url",
        "--app-subdomain",
        "--api-key",
        "USERCOM_API_KEY",
        "--dead-letter",
        "--retry-window",
        "--concurrency",
        "--replay",
        "--request-timeout",
    ] {
        assert!(help.contains(word), "send --help lacks {word}:\n{help}");
    }
    let output = run(bin().args(["serve", "--help"]), None);
    let help = text(&output.stdout);
    for word in [
        "--listen",
        "--write-key",
        "SEGMENT_WRITE_KEY",
        "--drain-timeout",
    ] {
        assert!(help.contains(word), "serve --help lacks {word}:\n{help}");
    }
    let output = run(bin().args(["dev", "--help"]), None);
    assert!(text(&output.stdout).contains("--mock-listen"));
}

#[test]
fn a_missing_api_key_is_a_clear_start_up_error() {
    for command in ["serve", "send"] {
        let mut cmd = bin();
        cmd.args([command, "--usercom-url", "http://127.0.0.1:9"]);
        if command == "send" {
            cmd.arg("-");
        } else {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        let output = run(&mut cmd, Some(""));
        assert_eq!(output.status.code(), Some(2), "{command}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("--api-key") && stderr.contains("USERCOM_API_KEY"),
            "{stderr}"
        );
    }
}

#[test]
fn a_target_is_required_and_urls_are_checked() {
    let output = run(bin().args(["serve", "--api-key", "k"]), None);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("--usercom-url"),
        "{}",
        text(&output.stderr)
    );

    let output = run(
        bin().args([
            "send",
            "-",
            "--api-key",
            "k",
            "--usercom-url",
            "acme.user.com",
        ]),
        Some(""),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("not a URL"),
        "{}",
        text(&output.stderr)
    );

    let output = run(
        bin().args([
            "send",
            "-",
            "--api-key",
            "k",
            "--usercom-url",
            "http://x",
            "--app-subdomain",
            "acme",
        ]),
        Some(""),
    );
    assert_eq!(
        output.status.code(),
        Some(2),
        "the two target flags exclude each other"
    );
}

#[tokio::test]
async fn send_forwards_a_file_and_dead_letters_bad_lines() {
    let server = support::upstream().await;
    let dir = support::temp_dir("cli-send");
    let input = write_lines(
        &dir,
        "in.ndjson",
        &[
            support::identify("u1", "m1").to_string(),
            json!({"type": "screen", "userId": "u1"}).to_string(),
            "this is not json".to_string(),
            support::track("u1", "m2").to_string(),
            support::track("u1", "m2").to_string(),
        ],
    );
    let dead = dir.join("dead.ndjson");
    let output = run(
        bin()
            .arg("send")
            .arg(&input)
            .args(["--usercom-url", &server.uri(), "--dead-letter"])
            .arg(&dead)
            .env("USERCOM_API_KEY", KEY),
        None,
    );
    assert_eq!(
        last_line(&output),
        "delivered=2 skipped=1 dead_lettered=1 duplicates=1 dropped_fields=0",
        "{}",
        text(&output.stderr)
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "dead letters make the exit code non-zero"
    );
    let lines = support::read_ndjson(&dead);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["message"], json!("this is not json"));
    assert!(
        lines[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("line 3: invalid JSON"),
        "{}",
        lines[0]
    );
    assert!(
        !text(&output.stderr).contains(KEY),
        "the API key is never printed"
    );
}

/// `--threads` (1 by default: one thread) changes only how many threads run the work: on
/// each thread count, every call of several users' journeys lands in the simulator. (Multi-thread
/// test runtime: the in-process simulator must keep serving while `run` blocks on the process.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_delivers_everything_on_any_thread_count() {
    let dir = support::temp_dir("cli-threads");
    for threads in ["1", "0", "3"] {
        let mock = usercom_mock::MockServer::start().await;
        let users: Vec<String> = (0..6).map(|i| format!("threads-{threads}-{i}")).collect();
        let lines: Vec<String> = users
            .iter()
            .flat_map(|u| crate::e2e::journey(u, "acme/threads"))
            .map(|m| m.to_string())
            .collect();
        let input = write_lines(&dir, &format!("in-{threads}.ndjson"), &lines);
        let output = run(
            bin()
                .args(["--threads", threads, "send"])
                .arg(&input)
                .args(["--usercom-url", &mock.url()])
                .env("USERCOM_API_KEY", mock.api_key()),
            None,
        );
        assert_eq!(
            last_line(&output),
            "delivered=24 skipped=0 dead_lettered=0 duplicates=0 dropped_fields=0",
            "--threads {threads}: {}",
            text(&output.stderr)
        );
        assert_eq!(output.status.code(), Some(0), "--threads {threads}");
        for user in &users {
            crate::e2e::assert_journey_applied(
                &mock.url(),
                mock.api_key(),
                user,
                "acme/threads",
                "Acme Ltd",
            )
            .await;
        }
    }
}

#[tokio::test]
async fn send_replays_a_dead_letter_file() {
    let server = support::server().await;
    Mock::given(method("POST"))
        .and(path("/api/public/users/update_or_create/"))
        // A 400 that names no field: nothing to leave out, so the message is dead-lettered.
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"detail": "Bad request."})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    answer(
        &server,
        "POST",
        "/api/public/users/update_or_create/",
        200,
        json!({"created": true, "id": 1}),
    )
    .await;
    let dir = support::temp_dir("cli-replay");
    let input = write_lines(
        &dir,
        "in.ndjson",
        &[support::identify("u1", "m1").to_string()],
    );
    let dead = dir.join("dead.ndjson");
    let target = [
        "--usercom-url".to_string(),
        server.uri(),
        "--api-key".into(),
        KEY.into(),
    ];

    let first = run(
        bin()
            .arg("send")
            .arg(&input)
            .args(&target)
            .arg("--dead-letter")
            .arg(&dead)
            .args(["--log-format", "json"]),
        None,
    );
    let logs: Vec<Value> = text(&first.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        logs.iter().any(|l| l["level"] == "WARN"),
        "JSON log lines on stderr: {}",
        text(&first.stderr)
    );
    assert_eq!(
        last_line(&first),
        "delivered=0 skipped=0 dead_lettered=1 duplicates=0 dropped_fields=0"
    );
    assert_eq!(first.status.code(), Some(1));
    assert_eq!(support::read_ndjson(&dead)[0]["status"], json!(400));

    let second = run(
        bin().arg("send").arg("--replay").arg(&dead).args(&target),
        None,
    );
    assert_eq!(
        last_line(&second),
        "delivered=1 skipped=0 dead_lettered=0 duplicates=0 dropped_fields=0",
        "{}",
        text(&second.stderr)
    );
    assert!(second.status.success());
    let bodies = support::bodies(&server, "/api/public/users/update_or_create/").await;
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        bodies[0], bodies[1],
        "the replay sends the original message"
    );
}

#[tokio::test]
async fn send_reads_a_batch_envelope_from_stdin() {
    let server = support::server().await;
    answer(
        &server,
        "POST",
        "/api/public/users/update_or_create/",
        200,
        json!({"created": true, "id": 1}),
    )
    .await;
    let envelope = json!({
        "batch": [{"type": "identify", "userId": "u1", "traits": {"email": "a@example.com"}}],
        "context": {"locale": "pl-PL"},
        "writeKey": "w",
    });
    let output = run(
        bin().args([
            "send",
            "-",
            "--usercom-url",
            &server.uri(),
            "--api-key",
            KEY,
        ]),
        Some(&envelope.to_string()),
    );
    assert_eq!(
        last_line(&output),
        "delivered=1 skipped=0 dead_lettered=0 duplicates=0 dropped_fields=0",
        "{}",
        text(&output.stderr)
    );
    assert!(output.status.success());
    let body = &support::bodies(&server, "/api/public/users/update_or_create/").await[0];
    assert_eq!(
        body["language"], "pl-PL",
        "the envelope's context reached the message: {body}"
    );
}

#[test]
fn plan_prints_one_json_plan_per_message_without_network() {
    let input = [
        support::identify("u1", "m1").to_string(),
        json!({"type": "screen", "userId": "u1"}).to_string(),
        "{broken".to_string(),
    ]
    .join("\n");
    let output = run(bin().args(["plan", "-"]), Some(&input));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let plans: Vec<Value> = text(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(plans.len(), 3);
    assert_eq!(plans[0]["outcome"], "deliver");
    // The custom trait `plan` is defined first (the stand-in app has no attribute yet).
    let paths: Vec<&str> = plans[0]["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "/api/public/attributes/",
            "/api/public/attributes/",
            "/api/public/users/update_or_create/"
        ]
    );
    assert_eq!(plans[1]["outcome"], "skip");
    assert_eq!(plans[2]["outcome"], "reject");
    assert!(plans[2]["reason"].as_str().unwrap().contains("line 3"));
}
