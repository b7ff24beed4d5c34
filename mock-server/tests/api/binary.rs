//! The built binary: first line, a request, SIGTERM, clean exit.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn binary_prints_its_url_serves_and_stops_on_sigterm() {
    let state = crate::support::temp_path("bin-state.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_usercom-mock"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            "bin-key",
            "--state-file",
        ])
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary runs");
    let url = crate::support::listening_url(&mut child);
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );

    let http = reqwest::Client::new();
    let r = http
        .post(format!("{url}/api/public/users/"))
        .header("Authorization", "Token bin-key")
        .json(&serde_json::json!({"custom_id": "from-binary"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    drop(http);

    let status = crate::support::stop_binary(child, "TERM").await;
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
    let saved = std::fs::read_to_string(&state).expect("state saved at shutdown");
    assert!(saved.contains("from-binary"));
    let _ = std::fs::remove_file(state);
}

#[test]
fn binary_prints_the_default_key_and_help_explains_every_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_usercom-mock"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--api-key",
        "--journal-capacity",
        "--scenario",
        "--state-file",
        "--log-format",
        "--threads",
        "--strict",
        "RUST_LOG",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_usercom-mock"))
        .args(["--listen", "not-an-address"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[tokio::test]
async fn binary_without_keys_prints_the_default_key() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_usercom-mock"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (mut first, mut second) = (String::new(), String::new());
    out.read_line(&mut first).unwrap();
    out.read_line(&mut second).unwrap();
    assert!(first.starts_with("usercom-mock listening on http://127.0.0.1:"));
    assert!(second.contains(usercom_mock::DEFAULT_API_KEY), "{second}");
    let status = crate::support::stop_binary(child, "INT").await;
    assert!(status.success(), "{status:?}");
}

/// `--threads`: 1 (the default) serves on the main thread alone; N > 1 adds N runtime workers.
#[tokio::test]
async fn threads_flag_sets_the_serving_threads() {
    for (flag, expect_threads) in [(None, 1..=1), (Some("3"), 4..=16)] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_usercom-mock"));
        cmd.args(["--listen", "127.0.0.1:0", "--api-key", "threads-key"]);
        if let Some(n) = flag {
            cmd.args(["--threads", n]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = crate::support::listening_url(&mut child);
        let http = reqwest::Client::new();
        let sends = (0..20).map(|i| {
            http.post(format!("{url}/api/public/users/update_or_create/"))
                .header("Authorization", "Token threads-key")
                .json(&serde_json::json!({"custom_id": format!("t-{}", i % 5)}))
                .send()
        });
        for r in futures::future::join_all(sends).await {
            assert!(r.unwrap().status().is_success());
        }
        let users: serde_json::Value = http
            .get(format!("{url}/api/public/users/"))
            .header("Authorization", "Token threads-key")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(users["count"], 5, "{flag:?}: {users}");
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
        let threads: usize = status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|n| n.trim().parse().ok())
            .expect("Threads: line");
        assert!(
            expect_threads.contains(&threads),
            "--threads {flag:?}: {threads} OS threads, expected {expect_threads:?}"
        );
        let status = crate::support::stop_binary(child, "TERM").await;
        assert!(status.success(), "{flag:?}: {status:?}");
    }
}

#[tokio::test]
async fn binary_strict_flag_makes_every_app_strict() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_usercom-mock"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            "bin-strict",
            "--strict",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary runs");
    let url = crate::support::listening_url(&mut child);
    let http = reqwest::Client::new();
    let state: serde_json::Value = http
        .get(format!("{url}/__admin/state?app=default"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["strict"], true);
    let send = |accept: &'static str| {
        http.post(format!("{url}/api/public/users/"))
            .header("Authorization", "Token bin-strict")
            .header("Accept", accept)
            .json(&serde_json::json!({"custom_id": "s", "plan": "pro"}))
            .send()
    };
    assert_eq!(send("application/json").await.unwrap().status(), 400);
    let r = send("*/*; version=2").await.unwrap();
    assert_eq!(r.status(), 201);
    let user: serde_json::Value = r.json().await.unwrap();
    assert!(user.get("plan").is_none(), "undefined attribute not stored");
    drop(http);
    let status = crate::support::stop_binary(child, "TERM").await;
    assert!(status.success(), "{status:?}");
}

/// Container use: the same settings from environment variables alone (USERCOM_MOCK_<FLAG>),
/// and a usage error exits 2.
#[tokio::test]
async fn binary_reads_every_setting_from_the_environment() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_usercom-mock"))
        .env("USERCOM_MOCK_LISTEN", "0")
        .env("USERCOM_MOCK_API_KEY", "env-key-1,env-key-2")
        .env("USERCOM_MOCK_STRICT", "true")
        .env("USERCOM_MOCK_JOURNAL_CAPACITY", "3")
        .env(
            "USERCOM_MOCK_FAULT",
            r#"[{"match":{"path_prefix":"/api/public/companies/"},"effect":{"status":418},"times":1}]"#,
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary runs");
    let url = crate::support::listening_url(&mut child);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let http = reqwest::Client::new();
    for key in ["env-key-1", "env-key-2"] {
        let r = http
            .get(format!("{url}/api/public/users/"))
            .header("Authorization", format!("Token {key}"))
            .header("Accept", "*/*; version=2")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "key {key} from USERCOM_MOCK_API_KEY");
    }
    let r = http
        .get(format!("{url}/api/public/companies/"))
        .header("Authorization", "Token env-key-1")
        .header("Accept", "*/*; version=2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 418, "fault rule from USERCOM_MOCK_FAULT");
    let state: serde_json::Value = http
        .get(format!("{url}/__admin/state?app=default"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["strict"], true, "USERCOM_MOCK_STRICT");
    let journal: serde_json::Value = http
        .get(format!("{url}/__admin/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kept = journal["requests"].as_array().map(Vec::len);
    assert_eq!(kept, Some(3), "USERCOM_MOCK_JOURNAL_CAPACITY: {journal}");
    drop(http);
    let status = crate::support::stop_binary(child, "TERM").await;
    assert!(status.success(), "{status:?}");

    let bad = Command::new(env!("CARGO_BIN_EXE_usercom-mock"))
        .env("USERCOM_MOCK_THREADS", "many")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "usage errors exit 2");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("--threads"), "{stderr}");
}
