//! The simulator's dashboard in a real browser, fed through the forwarder: Segment batches go into
//! the ingress, the forwarder delivers them to the simulator, and Debian's chromium (driven by
//! playwright-core, `tests/browser/dashboard.mjs`) must show the user, its page_views count and
//! the event, and follow a live update without a reload. Runs when `USERCOM_BROWSER_TESTS=1`
//! (CI sets it and installs chromium and `tests/browser/node_modules`); skipped with a message
//! otherwise. Saves `target/dashboard.png`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::json;
use usercom_forwarder::ingress::Ingress;
use usercom_forwarder::Config;
use usercom_mock::MockServer;

use crate::e2e::journey;

#[tokio::test]
async fn dashboard_shows_what_the_forwarder_delivered_in_a_real_browser() {
    if std::env::var("USERCOM_BROWSER_TESTS").as_deref() != Ok("1") {
        eprintln!(
            "SKIPPED dashboard browser test: set USERCOM_BROWSER_TESTS=1 (needs /usr/bin/chromium \
             or $CHROMIUM, node, and `npm ci --prefix tests/browser`)"
        );
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser`"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "no browser at {chromium}: install Debian's chromium or set CHROMIUM"
    );

    let mock = MockServer::start().await;
    let ingress = Ingress::start(
        "127.0.0.1:0".parse().unwrap(),
        Config::new(mock.url(), mock.api_key()),
    )
    .await
    .unwrap();
    // identify, page, track, group for user-42, plus a second page view.
    let mut batch = journey("user-42", "company-7");
    batch.push(json!({
        "type": "page", "userId": "user-42", "messageId": "user-42-5",
        "timestamp": "2024-05-01T10:05:00Z",
        "properties": {"url": "https://shop.example.com/", "path": "/"},
    }));
    let response = reqwest::Client::new()
        .post(format!("{}/v1/batch", ingress.url()))
        .json(&json!({"batch": batch, "writeKey": "dev"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    ingress.forwarder().wait_idle().await;
    let stats = ingress.forwarder().stats();
    assert_eq!(stats.delivered, 5, "{stats:?}");

    let screenshot = root.join("target/dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let script = root.join("tests/browser/dashboard.mjs");
    let (url, key) = (mock.url(), mock.api_key().to_string());
    let shot = screenshot.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(&script)
            .env("MOCK_URL", url)
            .env("MOCK_API_KEY", key)
            .env("USER_CUSTOM_ID", "user-42")
            .env("EVENT_NAME", "Order Completed")
            .env("COMPANY_NAME", "Acme Ltd")
            .env("SCREENSHOT", &shot)
            .env("CHROMIUM", chromium)
            .output()
    })
    .await
    .unwrap()
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        out.status.success(),
        "browser test failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("without a page reload"), "{stdout}");
    let png = std::fs::read(&screenshot).expect("screenshot saved");
    assert!(png.starts_with(b"\x89PNG"), "screenshot is a PNG");
    ingress.shutdown().await;
}
