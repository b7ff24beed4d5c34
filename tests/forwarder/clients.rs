//! The real Segment client libraries (analytics-python 2.4.0, @segment/analytics-node 3.1.0)
//! send through the ingress into the simulator.
//!
//! Runs when `USERCOM_E2E_CLIENTS=1` (CI sets it after installing the clients; then a missing tool
//! is a failure). Set-up, from the repository root:
//! `python3 -m venv .venv && .venv/bin/pip install -r tests/clients/requirements.txt` and
//! `npm ci --prefix tests/clients`.

use std::path::PathBuf;
use std::process::Command;

use usercom_forwarder::ingress::{Ingress, Settings};
use usercom_forwarder::{Config, Forwarder};
use usercom_mock::MockServer;

use crate::e2e::assert_journey_applied;

const WRITE_KEY: &str = "test_write_key_123";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a client script (on a blocking thread: the servers live on this test's runtime).
async fn run_script(program: PathBuf, script: PathBuf, args: Vec<String>) {
    let label = format!("{} {}", program.display(), script.display());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&program).arg(&script).args(&args).output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| {
        panic!("cannot run {label}: {e} (see tests/forwarder/clients.rs for the set-up)")
    });
    assert!(
        output.status.success(),
        "{label} failed ({:?})\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_segment_clients_reach_the_simulator() {
    if std::env::var("USERCOM_E2E_CLIENTS").as_deref() != Ok("1") {
        eprintln!(
            "skipped: set USERCOM_E2E_CLIENTS=1 to run the real Segment clients (Python and Node)"
        );
        return;
    }
    let python = root().join(".venv/bin/python");
    assert!(python.exists(), "{} is missing: python3 -m venv .venv && .venv/bin/pip install -r tests/clients/requirements.txt", python.display());
    let node_client = root().join("tests/clients/node_modules/@segment/analytics-node");
    assert!(
        node_client.exists(),
        "{} is missing: npm ci --prefix tests/clients",
        node_client.display()
    );

    let mock = MockServer::start().await;
    let forwarder = Forwarder::new(Config::new(mock.url(), mock.api_key())).unwrap();
    let settings = Settings {
        write_key: Some(WRITE_KEY.into()),
        ..Settings::default()
    };
    let ingress = Ingress::start_with("127.0.0.1:0".parse().unwrap(), forwarder, settings)
        .await
        .unwrap();
    let args = |user: &str, group: &str| {
        vec![
            ingress.url(),
            WRITE_KEY.to_string(),
            user.to_string(),
            group.to_string(),
        ]
    };

    run_script(
        python,
        root().join("tests/clients/send_python.py"),
        args("py-user", "py-co"),
    )
    .await;
    run_script(
        PathBuf::from("node"),
        root().join("tests/clients/send_node.mjs"),
        args("node-user", "node-co"),
    )
    .await;

    ingress.forwarder().wait_idle().await;
    let stats = ingress.forwarder().stats();
    assert_eq!(
        (stats.received, stats.delivered, stats.dead_lettered),
        (8, 8, 0),
        "{stats:?}"
    );
    assert_journey_applied(
        &mock.url(),
        mock.api_key(),
        "py-user",
        "py-co",
        "Python Ltd",
    )
    .await;
    assert_journey_applied(
        &mock.url(),
        mock.api_key(),
        "node-user",
        "node-co",
        "Node Ltd",
    )
    .await;
    ingress.shutdown().await;
}

/// RudderStack's SDKs (an open-source Segment alternative's clients: rudder-sdk-python 2.1.9,
/// @rudderstack/rudder-sdk-node 3.0.13) through the `serve` binary. The Python SDK sends
/// identify traits only in `context.traits`: the user must still get its e-mail and traits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rudderstack_clients_reach_the_simulator_through_serve() {
    if std::env::var("USERCOM_E2E_CLIENTS").as_deref() != Ok("1") {
        eprintln!("skipped: set USERCOM_E2E_CLIENTS=1 to run RudderStack's Python and Node SDKs");
        return;
    }
    let python = root().join(".venv/bin/python");
    assert!(python.exists(), "{} is missing: python3 -m venv .venv && .venv/bin/pip install -r tests/clients/requirements.txt", python.display());
    let node_client = root().join("tests/clients/node_modules/@rudderstack/rudder-sdk-node");
    assert!(
        node_client.exists(),
        "{} is missing: npm ci --prefix tests/clients",
        node_client.display()
    );

    let mock = MockServer::start().await;
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_usercom-forwarder"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--usercom-url",
            &mock.url(),
            "--write-key",
            WRITE_KEY,
            "--no-spool",
        ])
        .env("USERCOM_API_KEY", mock.api_key())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start usercom-forwarder serve");
    let stdout = serve.stdout.take().expect("stdout");
    // `ingress: URL -> ORIGIN` is the line that says it listens.
    let (ingress, lines) = crate::support::ingress_url(stdout).await;
    let args = |user: &str, group: &str| {
        vec![
            ingress.clone(),
            WRITE_KEY.to_string(),
            user.to_string(),
            group.to_string(),
        ]
    };
    run_script(
        python,
        root().join("tests/clients/send_rudder_python.py"),
        args("rudder-py-user", "rudder-py-co"),
    )
    .await;
    run_script(
        PathBuf::from("node"),
        root().join("tests/clients/send_rudder_node.mjs"),
        args("rudder-node-user", "rudder-node-co"),
    )
    .await;

    // Wait (bounded) until the ingress has delivered all eight.
    let stats = crate::support::wait_for_stats(&ingress, 8).await;
    assert_eq!(
        (&stats["delivered"], &stats["dead_lettered"]),
        (&serde_json::json!(8), &serde_json::json!(0)),
        "{stats}"
    );
    for (user, group, company) in [
        ("rudder-py-user", "rudder-py-co", "Rudder Python Ltd"),
        ("rudder-node-user", "rudder-node-co", "Rudder Node Ltd"),
    ] {
        assert_journey_applied(&mock.url(), mock.api_key(), user, group, company).await;
        let profile: serde_json::Value = reqwest::Client::new()
            .get(format!("{}/api/public/users-by-id/{user}/", mock.url()))
            .header("Authorization", format!("Token {}", mock.api_key()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(profile["first_name"], "Ada", "{profile}");
        assert_eq!(profile["last_name"], "Rudder", "{profile}");
        assert!(profile["plan"].is_string(), "custom trait plan: {profile}");
    }

    let (exit, rest) = crate::support::sigterm_and_drain(serve, lines).await;
    assert!(exit.success(), "{exit:?}");
    assert_eq!(
        rest.last().map(String::as_str),
        Some("delivered=8 skipped=0 dead_lettered=0 duplicates=0 dropped_fields=0")
    );
}
