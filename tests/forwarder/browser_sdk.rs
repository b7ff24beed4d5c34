//! Analytics.js 2.0 (`@segment/analytics-next` 1.84.3, the browser SDK) against the ingress.
//!
//! - `the_ingress_answers_what_the_browser_sdk_needs`: CORS (preflight, allowed and refused
//!   origins), the settings document, the single-letter paths, `/v1/b` and `text/plain` bodies,
//!   over HTTP, no browser.
//! - `captured_browser_requests_replay_to_the_same_state`: the requests chromium sent
//!   (`fixtures/browser/analytics-next-1.84.3.json`, preflights and the settings fetch included)
//!   replayed into a fresh ingress leave the same state as the live run;
//!   `dev_prints_the_browser_snippet_and_takes_the_captured_requests` does the same through the
//!   `dev` binary, and checks its banner.
//! - `analytics_next_in_chromium_reaches_the_simulator`: the real SDK in Debian's chromium
//!   (`tests/browser/analytics_next.mjs`), on a page served from another origin than the ingress,
//!   through the `serve` binary into the simulator. Runs when `USERCOM_BROWSER_TESTS=1` (CI sets
//!   it and runs `npm ci --prefix tests/browser`). `USERCOM_BROWSER_CAPTURE=1` also re-records
//!   the fixture.

use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use axum::extract::Path as UrlPath;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use serde_json::{json, Value};
use usercom_forwarder::ingress::{Cors, Ingress, Settings};
use usercom_forwarder::usercom::encode_segment;
use usercom_forwarder::{Config, Forwarder};
use usercom_mock::MockServer;

use crate::e2e::get;

/// The SDK version pinned in `tests/browser/package.json` and named in the capture's file name.
const SDK_VERSION: &str = "1.84.3";
const WRITE_KEY: &str = "test_write_key_123";
const USER: &str = "browser-user-1";
const GROUP: &str = "browser-co-1";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn capture_file() -> PathBuf {
    root().join(format!(
        "fixtures/browser/analytics-next-{SDK_VERSION}.json"
    ))
}

async fn ingress_with(
    settings: Settings,
) -> (MockServer, usercom_forwarder::ingress::IngressHandle) {
    let mock = MockServer::start().await;
    let forwarder = Forwarder::new(Config::new(mock.url(), mock.api_key())).unwrap();
    let ingress = Ingress::start_with("127.0.0.1:0".parse().unwrap(), forwarder, settings)
        .await
        .unwrap();
    (mock, ingress)
}

fn basic(key: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
    )
}

#[tokio::test]
async fn the_ingress_answers_what_the_browser_sdk_needs() {
    let shop = "http://shop.example.test:8080";
    let (mock, ingress) = ingress_with(Settings {
        write_key: Some(WRITE_KEY.into()),
        cors: Cors::parse(shop).unwrap(),
        ..Settings::default()
    })
    .await;
    let url = ingress.url();
    let http = reqwest::Client::new();
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };

    // The preflight before every POST (Authorization makes it non-simple).
    let pre = http
        .request(reqwest::Method::OPTIONS, format!("{url}/v1/t"))
        .header("origin", shop)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    assert_eq!(
        header(&pre, "access-control-allow-origin").as_deref(),
        Some(shop)
    );
    assert_eq!(
        header(&pre, "access-control-allow-headers").as_deref(),
        Some("authorization,content-type")
    );
    assert!(header(&pre, "access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert_eq!(
        header(&pre, "access-control-max-age").as_deref(),
        Some("86400")
    );
    assert_eq!(header(&pre, "access-control-allow-credentials"), None);
    assert!(header(&pre, "vary").unwrap().contains("Origin"));

    // The settings document points the SDK back at the ingress, by the host the page used.
    let settings = http
        .get(format!("{url}/v1/projects/{WRITE_KEY}/settings"))
        .header("origin", shop)
        .send()
        .await
        .unwrap();
    assert_eq!(settings.status(), 200);
    assert_eq!(
        header(&settings, "access-control-allow-origin").as_deref(),
        Some(shop)
    );
    let doc: Value = settings.json().await.unwrap();
    let segment = &doc["integrations"]["Segment.io"];
    assert_eq!(
        segment["apiHost"],
        json!(format!("{}/v1", ingress.addr())),
        "{doc}"
    );
    assert_eq!(segment["protocol"], "http");
    assert_eq!(segment["apiKey"], WRITE_KEY);
    let other_key = http
        .get(format!("{url}/v1/projects/someone-else/settings"))
        .send()
        .await
        .unwrap();
    assert_eq!(other_key.status(), 404);

    // The single-letter paths and /v1/b, text/plain bodies, as the SDK sends them.
    let message = |kind: &str, extra: Value| {
        let mut m = json!({"type": kind, "userId": "u-cors", "writeKey": WRITE_KEY,
            "messageId": format!("ajs-next-{kind}"), "timestamp": "2026-12-01T21:00:00.000Z",
            "context": {"page": {"url": "http://shop.example.test:8080/"}}});
        m.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        m
    };
    for (path, body) in [
        (
            "i",
            message("identify", json!({"traits": {"email": "c@example.com"}})),
        ),
        (
            "p",
            message(
                "page",
                json!({"properties": {"url": "http://shop.example.test:8080/"}}),
            ),
        ),
        // screen and alias are accepted on their letters too (then skipped: User.com's
        // destination supports neither).
        ("s", message("screen", json!({"name": "Home"}))),
        (
            "a",
            message(
                "alias",
                json!({"previousId": "anon-1", "messageId": "ajs-next-a"}),
            ),
        ),
        (
            "b",
            json!({"writeKey": WRITE_KEY, "sentAt": "2026-12-01T21:00:01.000Z", "batch": [
                message("track", json!({"event": "Batched", "messageId": "ajs-next-b1"})),
                message("group", json!({"groupId": "co-cors", "traits": {"name": "Cors Ltd"}})),
            ]}),
        ),
    ] {
        let r = http
            .post(format!("{url}/v1/{path}"))
            .header("origin", shop)
            .header("content-type", "text/plain")
            .header("authorization", basic(WRITE_KEY))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "/v1/{path}");
        assert_eq!(
            header(&r, "access-control-allow-origin").as_deref(),
            Some(shop)
        );
        assert!(header(&r, "access-control-expose-headers")
            .unwrap()
            .contains("Retry-After"));
    }
    // The SDK's telemetry endpoint: accepted, not forwarded.
    let metrics = http
        .post(format!("{url}/v1/m"))
        .header("content-type", "text/plain")
        .body(r#"{"series":[]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);

    // Another origin is refused, preflight or not, before anything is accepted.
    for method in [reqwest::Method::OPTIONS, reqwest::Method::POST] {
        let r = http
            .request(method.clone(), format!("{url}/v1/t"))
            .header("origin", "https://evil.example.test")
            .header("access-control-request-method", "POST")
            .header("authorization", basic(WRITE_KEY))
            .body(message("track", json!({"event": "Evil"})).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{method}");
        assert_eq!(header(&r, "access-control-allow-origin"), None);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "origin_not_allowed");
    }

    ingress.forwarder().wait_idle().await;
    let stats = ingress.forwarder().stats();
    assert_eq!(
        (stats.received, stats.delivered, stats.skipped),
        (6, 4, 2),
        "{stats:?}"
    );
    let profile = get(&mock.url(), mock.api_key(), "/users-by-id/u-cors/").await;
    assert_eq!(profile["page_views"], 1, "{profile}");
    ingress.shutdown().await;

    // The default: any origin, answered `*`, credentials never allowed.
    let (_mock, ingress) = ingress_with(Settings::default()).await;
    let pre = http
        .request(reqwest::Method::OPTIONS, format!("{}/v1/b", ingress.url()))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    assert_eq!(
        header(&pre, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert!(header(&pre, "access-control-allow-headers")
        .unwrap()
        .contains("authorization"));
    ingress.shutdown().await;
}

/// What the browser run leaves in the simulator (live, and replayed from the capture): the user
/// with the browser's own context, two page views, both events and the company.
async fn assert_browser_journey(mock_url: &str, key: &str) {
    let profile = get(
        mock_url,
        key,
        &format!("/users-by-id/{}/", encode_segment(USER)),
    )
    .await;
    assert!(profile.is_object(), "user {USER} exists");
    assert_eq!(profile["email"], "ada.browser@example.com", "{profile}");
    assert_eq!(profile["first_name"], "Ada", "{profile}");
    assert_eq!(profile["last_name"], "Browser", "{profile}");
    let field = |name: &str| profile[name].as_str().unwrap_or_default().to_string();
    assert!(field("user_agent").contains("Chrome/"), "{profile}");
    assert_eq!(field("language"), "pl-PL", "{profile}");
    assert_eq!(field("timezone"), "Europe/Warsaw", "{profile}");
    assert_eq!(field("resolution"), "1366x768", "{profile}");
    assert!(
        field("current_url").starts_with("http://127.0.0.1:")
            && field("current_url").contains("/shop.html"),
        "{profile}"
    );
    assert_eq!(profile["page_views"], 2, "{profile}");

    let events = get(
        mock_url,
        key,
        &format!("/users-by-id/{}/events/", encode_segment(USER)),
    )
    .await;
    let mut names: Vec<&str> = events["results"]
        .as_array()
        .map(|r| r.iter().filter_map(|e| e["name"].as_str()).collect())
        .unwrap_or_default();
    names.sort_unstable();
    assert_eq!(names, ["Checkout Started", "Order Completed"], "{events}");

    let company = get(
        mock_url,
        key,
        &format!("/companies-by-id/{}/", encode_segment(GROUP)),
    )
    .await;
    assert_eq!(company["name"], "Browser Ltd", "{company}");
    let members = company["employees"].as_array().cloned().unwrap_or_default();
    assert!(
        members.contains(&profile["id"]),
        "{USER} is a member: {company}"
    );
}

/// The header `name` of a capture (first one, case-insensitive).
fn captured_header<'a>(capture: &'a Value, name: &str) -> Option<&'a str> {
    capture["headers"].as_array()?.iter().find_map(|pair| {
        let name_ok = pair[0].as_str()?.eq_ignore_ascii_case(name);
        name_ok.then(|| pair[1].as_str()).flatten()
    })
}

/// Sends every request of the capture to the ingress at `url` (whose `host:port` is `host`), as
/// the browser sent it: each must get the answer it got then; preflights must allow every header
/// the browser asked for, and the settings document must point at this ingress.
async fn replay_capture(url: &str, host: &str) {
    let text = std::fs::read_to_string(capture_file()).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (recorded by USERCOM_BROWSER_TESTS=1 USERCOM_BROWSER_CAPTURE=1 cargo test --release --test forwarder browser_sdk)",
            capture_file().display()
        )
    });
    let captures: Vec<Value> = serde_json::from_str(&text).unwrap();
    let http = reqwest::Client::new();
    let mut paths = Vec::new();
    for capture in &captures {
        let method: reqwest::Method = capture["method"].as_str().unwrap().parse().unwrap();
        let path = capture["path"].as_str().unwrap();
        paths.push(format!("{method} {path}"));
        let mut request = http.request(method.clone(), format!("{url}{path}"));
        for name in [
            "origin",
            "content-type",
            "authorization",
            "access-control-request-method",
            "access-control-request-headers",
        ] {
            if let Some(value) = captured_header(capture, name) {
                request = request.header(name, value);
            }
        }
        if let Some(body) = capture.get("body") {
            request = request.body(body.to_string());
        }
        let answer = request.send().await.unwrap();
        let expected = capture["status"].as_u64().unwrap_or(200);
        assert_eq!(
            u64::from(answer.status().as_u16()),
            expected,
            "{method} {path}"
        );
        if method == reqwest::Method::OPTIONS {
            let allowed = answer.headers()["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .to_ascii_lowercase();
            for asked in captured_header(capture, "access-control-request-headers")
                .unwrap_or_default()
                .split(',')
            {
                assert!(allowed.contains(asked.trim()), "{asked} in {allowed}");
            }
        } else if path.ends_with("/settings") {
            let doc: Value = answer.json().await.unwrap();
            assert_eq!(
                doc["integrations"]["Segment.io"]["apiHost"],
                json!(format!("{host}/v1"))
            );
        }
    }
    // The shapes the capture must hold: the settings fetch, preflights, the four single-letter
    // calls and the keepalive batch sent on page unload.
    for expected in [
        format!("GET /v1/projects/{WRITE_KEY}/settings"),
        "OPTIONS /v1/i".to_string(),
        "POST /v1/i".to_string(),
        "POST /v1/p".to_string(),
        "POST /v1/t".to_string(),
        "POST /v1/g".to_string(),
        "POST /v1/b".to_string(),
    ] {
        assert!(paths.contains(&expected), "{expected} in {paths:?}");
    }
}

#[tokio::test]
async fn captured_browser_requests_replay_to_the_same_state() {
    let (mock, ingress) = ingress_with(Settings {
        write_key: Some(WRITE_KEY.into()),
        ..Settings::default()
    })
    .await;
    replay_capture(&ingress.url(), &ingress.addr().to_string()).await;
    ingress.forwarder().wait_idle().await;
    let stats = ingress.forwarder().stats();
    assert_eq!(
        (stats.received, stats.delivered, stats.dead_lettered),
        (6, 6, 0),
        "{stats:?}"
    );
    assert_browser_journey(&mock.url(), mock.api_key()).await;
    ingress.shutdown().await;
}

/// `dev` as a real process: its banner shows the browser snippet, and the captured browser
/// requests sent to its ingress leave the same state in its embedded simulator.
#[tokio::test]
async fn dev_prints_the_browser_snippet_and_takes_the_captured_requests() {
    let mut dev = crate::support::Reaped::new(
        Command::new(env!("CARGO_BIN_EXE_usercom-forwarder"))
            .args([
                "dev",
                "--listen",
                "127.0.0.1:0",
                "--mock-listen",
                "127.0.0.1:0",
                "--write-key",
                WRITE_KEY,
            ])
            .env_remove("USERCOM_API_KEY")
            .env_remove("USERCOM_CORS_ORIGINS")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start usercom-forwarder dev"),
    );
    let stdout = dev.child().stdout.take().expect("stdout");
    let (banner, lines) =
        crate::support::Banner::read(stdout, |line| line.starts_with("Then look at")).await;
    let field = |label: &str| banner.field(label);
    let ingress = field("Segment ingress");
    let mock_url = field("Simulator dashboard")
        .trim_end_matches('/')
        .to_string();
    let api_key = field("User.com API key");
    assert_eq!(field("Browser page origins (CORS):"), "*");
    for snippet in [
        "import { AnalyticsBrowser } from \"@segment/analytics-next\";".to_string(),
        format!("AnalyticsBrowser.load({{ writeKey: \"{WRITE_KEY}\", cdnURL: \"{ingress}\" }});"),
        "analytics.page();".to_string(),
    ] {
        assert!(
            banner.text.contains(&snippet),
            "{snippet} in\n{}",
            banner.text
        );
    }

    replay_capture(&ingress, ingress.trim_start_matches("http://")).await;
    let stats = crate::support::wait_for_stats(&ingress, 6).await;
    assert_eq!(stats["delivered"], 6, "{stats}");
    assert_browser_journey(&mock_url, &api_key).await;

    let (exit, rest) = crate::support::sigterm_and_drain(dev.into_inner(), lines).await;
    assert!(exit.success(), "{exit:?}");
    assert_eq!(
        rest.last().map(String::as_str),
        Some("delivered=6 skipped=0 dead_lettered=0 duplicates=0 dropped_fields=0")
    );
}

/// Serves `tests/browser/pages/` at `/` and `tests/browser/node_modules/` at `/node_modules/`:
/// the shop page's origin, distinct from the ingress's.
async fn start_page_server() -> (String, tokio::task::JoinHandle<()>) {
    async fn file(UrlPath(path): UrlPath<String>) -> axum::response::Response {
        let base = root().join("tests/browser");
        let relative = Path::new(&path);
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return StatusCode::NOT_FOUND.into_response();
        }
        let full = if relative.starts_with("node_modules") {
            base.join(relative)
        } else {
            base.join("pages").join(relative)
        };
        let kind = match full.extension().and_then(|e| e.to_str()) {
            Some("html") => "text/html; charset=utf-8",
            Some("js") => "text/javascript; charset=utf-8",
            _ => "application/octet-stream",
        };
        match tokio::fs::read(&full).await {
            Ok(bytes) => ([(header::CONTENT_TYPE, kind)], bytes).into_response(),
            Err(_) => StatusCode::NOT_FOUND.into_response(),
        }
    }
    let app = axum::Router::new().route("/{*path}", axum::routing::get(file));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (origin, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_next_in_chromium_reaches_the_simulator() {
    if std::env::var("USERCOM_BROWSER_TESTS").as_deref() != Ok("1") {
        eprintln!(
            "SKIPPED Analytics.js 2.0 browser test: set USERCOM_BROWSER_TESTS=1 (needs \
             /usr/bin/chromium or $CHROMIUM, node, and `npm ci --prefix tests/browser`)"
        );
        return;
    }
    let sdk = root().join("tests/browser/node_modules/@segment/analytics-next/package.json");
    let installed: Value =
        serde_json::from_str(&std::fs::read_to_string(&sdk).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: run `npm ci --prefix tests/browser`",
                sdk.display()
            )
        }))
        .unwrap();
    assert_eq!(installed["version"], SDK_VERSION, "the pinned SDK version");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "no browser at {chromium}: install Debian's chromium or set CHROMIUM"
    );

    let mock = MockServer::start().await;
    let (page_origin, page_server) = start_page_server().await;
    // The `serve` binary, as a deployment runs it, allowing only the shop page's origin.
    let mut serve = crate::support::Reaped::new(
        Command::new(env!("CARGO_BIN_EXE_usercom-forwarder"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--usercom-url",
                &mock.url(),
                "--write-key",
                WRITE_KEY,
                "--cors-origins",
                &page_origin,
                "--no-spool",
            ])
            .env("USERCOM_API_KEY", mock.api_key())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start usercom-forwarder serve"),
    );
    let stdout = serve.child().stdout.take().expect("stdout");
    let (ingress, lines) = crate::support::ingress_url(stdout).await;

    let capture = std::env::var("USERCOM_BROWSER_CAPTURE").as_deref() == Ok("1");
    let script = root().join("tests/browser/analytics_next.mjs");
    let page_url = format!("{page_origin}/shop.html");
    let ingress_url = ingress.clone();
    let out = tokio::task::spawn_blocking(move || {
        let mut node = Command::new("node");
        node.arg(&script)
            .env("PAGE_URL", page_url)
            .env("INGRESS_URL", ingress_url)
            .env("WRITE_KEY", WRITE_KEY)
            .env("USER_ID", USER)
            .env("GROUP_ID", GROUP)
            .env("CHROMIUM", chromium);
        if capture {
            node.env("CAPTURE_TO", capture_file());
        }
        node.output()
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

    // Wait (bounded) until the ingress has delivered all six.
    let stats = crate::support::wait_for_stats(&ingress, 6).await;
    assert_eq!(
        (
            &stats["received"],
            &stats["delivered"],
            &stats["dead_lettered"]
        ),
        (&json!(6), &json!(6), &json!(0)),
        "{stats}"
    );
    assert_browser_journey(&mock.url(), mock.api_key()).await;

    let (exit, rest) = crate::support::sigterm_and_drain(serve.into_inner(), lines).await;
    assert!(exit.success(), "{exit:?}");
    assert_eq!(
        rest.last().map(String::as_str),
        Some("delivered=6 skipped=0 dead_lettered=0 duplicates=0 dropped_fields=0")
    );
    page_server.abort();
}
