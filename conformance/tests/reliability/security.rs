//! Security: every REST endpoint needs a valid key; one app's key never reads or writes another
//! app's data; the API key and the write key never appear in the forwarder's logs (debug level),
//! its dead-letter file, its output, or the simulator's journal and state.

use std::io::Read;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{self, dead_letters, figure, forwarder_bin, spawn_serve, Admin, TempDir};

/// (method, path, body) → (status, body).
async fn call(
    http: &reqwest::Client,
    api: &str,
    auth: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = http.request(method, format!("{api}{path}"));
    if let Some(auth) = auth {
        req = req.header("Authorization", auth);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_apps_key_never_reads_or_writes_another_apps_data() {
    let mock = support::start_mock(&["sec-key-a"]).await;
    let admin = Admin::new(&mock.url());
    let api = mock.api_url();
    let http = support::http();
    let a = Some("Token sec-key-a");
    let (b_app, b_key) = admin.create_app().await;
    let b_auth = format!("Token {b_key}");
    let b = Some(b_auth.as_str());

    // App A's data, written with A's key.
    let (s, u) = call(
        &http,
        &api,
        a,
        "POST",
        "/users/update_or_create/",
        Some(json!({"custom_id": "sec-u1", "email": "a@example.com", "plan": "gold"})),
    )
    .await;
    assert!(s < 300, "{s} {u}");
    let uid = u["id"].as_u64().unwrap();
    let (_, user) = call(&http, &api, a, "GET", &format!("/users/{uid}/"), None).await;
    let user_key = user["user_key"].as_str().unwrap().to_string();
    let (s, c) = call(
        &http,
        &api,
        a,
        "POST",
        "/companies/",
        Some(json!({"custom_id": "sec-c1", "name": "A Corp"})),
    )
    .await;
    assert!(s < 300, "{s} {c}");
    let cid = c["id"].as_u64().unwrap();
    call(
        &http,
        &api,
        a,
        "POST",
        &format!("/companies/{cid}/add_member/"),
        Some(json!({"user_id": uid})),
    )
    .await;
    call(
        &http,
        &api,
        a,
        "POST",
        "/users-by-id/sec-u1/events/",
        Some(json!({"name": "Secret Event"})),
    )
    .await;
    call(
        &http,
        &api,
        a,
        "POST",
        "/site-views/",
        Some(json!({"client_user": user_key, "page_domain": "https://a.example.com/"})),
    )
    .await;
    let a_before = admin.state("default").await;

    // Every way B's key could reach A's objects.
    let attempts: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", "/users-by-id/sec-u1/".into(), None),
        (
            "PUT",
            "/users-by-id/sec-u1/".into(),
            Some(json!({"plan": "hacked"})),
        ),
        ("DELETE", "/users-by-id/sec-u1/".into(), None),
        (
            "POST",
            "/users-by-id/sec-u1/set_multiple_attributes/".into(),
            Some(json!({"plan": "hacked"})),
        ),
        ("GET", "/users-by-id/sec-u1/events/".into(), None),
        (
            "POST",
            "/users-by-id/sec-u1/events/".into(),
            Some(json!({"name": "Injected"})),
        ),
        ("GET", format!("/users/{uid}/"), None),
        (
            "PUT",
            format!("/users/{uid}/"),
            Some(json!({"plan": "hacked"})),
        ),
        ("DELETE", format!("/users/{uid}/"), None),
        (
            "POST",
            format!("/users/{uid}/set_multiple_attributes/"),
            Some(json!({"plan": "hacked"})),
        ),
        ("GET", format!("/users/{uid}/events/"), None),
        ("GET", format!("/users/search/?key={user_key}"), None),
        ("GET", "/users/search/?email=a@example.com".into(), None),
        (
            "POST",
            "/events/".into(),
            Some(json!({"user_id": uid, "name": "Injected"})),
        ),
        (
            "POST",
            "/site-views/".into(),
            Some(json!({"client_user": user_key, "page_domain": "https://b.example.com/"})),
        ),
        ("GET", format!("/companies/{cid}/"), None),
        (
            "PUT",
            format!("/companies/{cid}/"),
            Some(json!({"name": "hacked"})),
        ),
        ("DELETE", format!("/companies/{cid}/"), None),
        ("GET", "/companies-by-id/sec-c1/".into(), None),
        (
            "PUT",
            "/companies-by-id/sec-c1/".into(),
            Some(json!({"name": "hacked"})),
        ),
        (
            "POST",
            format!("/companies/{cid}/add_member/"),
            Some(json!({"user_id": uid})),
        ),
        (
            "POST",
            format!("/companies/{cid}/remove_member/"),
            Some(json!({"user_id": uid})),
        ),
    ];
    let mut statuses = serde_json::Map::new();
    for (method, path, body) in &attempts {
        let (status, answer) = call(&http, &api, b, method, path, body.clone()).await;
        statuses.insert(format!("{method} {path}"), json!(status));
        let text = answer.to_string();
        assert!(
            status == 400 || status == 404,
            "B's key on A's object: {method} {path} answered {status}: {answer}"
        );
        assert!(
            // (an error may echo the query it was given; it must not show A's stored data)
            !text.contains("gold") && !text.contains("A Corp") && !text.contains("Secret Event"),
            "A's data leaked in an error: {text}"
        );
    }
    // B's lists hold nothing of A's.
    for path in ["/users/", "/companies/", "/attributes/"] {
        let (status, page) = call(&http, &api, b, "GET", path, None).await;
        assert_eq!(status, 200);
        assert_eq!(page["count"], json!(0), "B sees A's {path}: {page}");
    }
    // B's own user with the same custom id is B's, and A's stays as it was.
    let (s, _) = call(
        &http,
        &api,
        b,
        "POST",
        "/users/update_or_create/",
        Some(json!({"custom_id": "sec-u1", "plan": "b-plan"})),
    )
    .await;
    assert!(s < 300);
    assert_eq!(
        admin.state("default").await,
        a_before,
        "A's state changed through B's key"
    );
    let b_state = admin.state(&b_app).await;
    assert_eq!(b_state["users"].as_array().unwrap().len(), 1);
    assert_eq!(b_state["companies"], json!([]));
    assert_eq!(b_state["events"], json!([]));

    // Without a valid key nothing answers (401), a revoked key gets 403.
    let endpoints = [
        ("GET", "/users/"),
        ("POST", "/users/"),
        ("POST", "/users/update_or_create/"),
        ("GET", "/users-by-id/sec-u1/"),
        ("GET", "/users/search/?email=a@example.com"),
        ("POST", "/events/"),
        ("POST", "/users-by-id/sec-u1/events/"),
        ("POST", "/site-views/"),
        ("GET", "/companies/"),
        ("POST", "/companies/"),
        ("GET", "/attributes/"),
        ("POST", "/attributes/"),
    ];
    let (_, spare_key) = admin.create_app().await;
    admin.revoke(&spare_key).await;
    let revoked = format!("Token {spare_key}");
    let mut auth_checks = 0;
    for (method, path) in endpoints {
        for (auth, want) in [
            (None, 401),
            (Some("Token not-a-key"), 401),
            (Some("Bearer sec-key-a"), 401),
            (Some("Token "), 401),
            (Some(revoked.as_str()), 403),
        ] {
            let (status, body) = call(&http, &api, auth, method, path, Some(json!({}))).await;
            assert_eq!(status, want, "{method} {path} with {auth:?}: {body}");
            assert!(
                body["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "no detail: {body}"
            );
            auth_checks += 1;
        }
    }
    assert_eq!(admin.state("default").await, a_before);
    figure(
        "security_cross_app",
        json!({"cross_app_attempts": attempts.len(), "auth_checks": auth_checks, "statuses": statuses}),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_appear_in_logs_dead_letters_journal_or_state() {
    const API_KEY: &str = "sk-live-SECRETapikey-4711";
    const WRITE_KEY: &str = "wk-SECRETwritekey-0815";
    let mock = support::start_mock(&[API_KEY]).await;
    let admin = Admin::new(&mock.url());
    let dir = TempDir::new("secrets");
    let dl = dir.join("dead-letters.ndjson");
    let stderr_path = dir.join("serve-stderr.log");
    let args: Vec<String> = [
        "--usercom-url",
        &mock.url(),
        "--retry-window",
        "2s",
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
        &[
            ("USERCOM_API_KEY", API_KEY),
            ("SEGMENT_WRITE_KEY", WRITE_KEY),
            ("RUST_LOG", "debug"),
        ],
        Some(&stderr_path),
    );
    let http = support::http();
    let batch = |msgs: Value| json!({"batch": msgs});
    let good = json!([
        {"type": "identify", "userId": "sk-u1", "messageId": "sk-1", "traits": {"email": "s@example.com"}},
        {"type": "track", "userId": "sk-u1", "messageId": "sk-2", "event": "Secret Test"},
        {"type": "page", "userId": "sk-u1", "messageId": "sk-3", "properties": {"url": "https://s.example.com/"}},
        {"type": "group", "userId": "sk-u1", "messageId": "sk-4", "groupId": "sk-c1"},
        {"type": "track", "userId": "sk-u1", "messageId": "sk-5"}
    ]);
    // Right key as Basic auth; right key in the body; wrong key (401).
    let r = http
        .post(format!("{url}/v1/batch"))
        .basic_auth(WRITE_KEY, Some(""))
        .json(&batch(good))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let mut in_body = batch(json!([{"type": "identify", "userId": "sk-u2", "messageId": "sk-6"}]));
    in_body["writeKey"] = json!(WRITE_KEY);
    let r = http
        .post(format!("{url}/v1/batch"))
        .json(&in_body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = http
        .post(format!("{url}/v1/track"))
        .json(&json!({"writeKey": WRITE_KEY, "userId": "sk-u3", "event": "Single"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = http
        .post(format!("{url}/v1/batch"))
        .basic_auth("wk-wrong", Some(""))
        .json(&batch(json!([])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let refusal = r.text().await.unwrap();
    support::wait_ingress_idle(&http, &url, Duration::from_secs(30)).await;
    // Then the API key is revoked: the next messages fail with 403 and are dead-lettered.
    admin.revoke(API_KEY).await;
    let r = http.post(format!("{url}/v1/batch")).basic_auth(WRITE_KEY, Some(""))
        .json(&batch(json!([{"type": "track", "userId": "sk-u1", "messageId": "sk-7", "event": "After Revoke"}])))
        .send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    support::wait_ingress_idle(&http, &url, Duration::from_secs(30)).await;
    proc.sigterm();
    // The revoked key dead-lettered a message, so serve ends with exit code 1.
    assert_eq!(proc.wait_exit(Duration::from_secs(30)).code(), Some(1));
    let mut out = String::new();
    stdout.read_to_string(&mut out).unwrap();

    // `send` with the revoked key, at debug level too.
    let input = dir.join("input.ndjson");
    std::fs::write(&input, "{\"type\":\"identify\",\"userId\":\"sk-u9\"}\n").unwrap();
    let send = Command::new(forwarder_bin())
        .arg("send")
        .arg(&input)
        .args([
            "--usercom-url",
            &mock.url(),
            "--api-key",
            API_KEY,
            "--retry-window",
            "2s",
        ])
        .arg("--dead-letter")
        .arg(dir.join("send-dead.ndjson"))
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    assert_eq!(send.status.code(), Some(1), "the revoked key dead-letters");

    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    let records = dead_letters(&dl);
    assert!(
        records.iter().any(|r| r["status"] == json!(403)),
        "no 403 dead letter: {records:?}"
    );
    assert!(
        records
            .iter()
            .any(|r| r["message"]["messageId"] == json!("sk-5")),
        "no rejected track"
    );
    let places = [
        ("serve stderr (RUST_LOG=debug)", stderr.clone()),
        ("serve stdout", out),
        ("401 answer", refusal),
        ("dead-letter file", std::fs::read_to_string(&dl).unwrap()),
        (
            "send stdout",
            String::from_utf8_lossy(&send.stdout).into_owned(),
        ),
        (
            "send stderr (RUST_LOG=debug)",
            String::from_utf8_lossy(&send.stderr).into_owned(),
        ),
        (
            "send dead-letter file",
            std::fs::read_to_string(dir.join("send-dead.ndjson")).unwrap_or_default(),
        ),
        (
            "simulator journal",
            serde_json::to_string(&admin.journal().await).unwrap(),
        ),
        ("simulator state", admin.state_all().await.to_string()),
    ];
    let mut scanned = 0usize;
    for (place, text) in &places {
        scanned += text.len();
        for secret in [API_KEY, WRITE_KEY, "SECRETapikey", "SECRETwritekey"] {
            assert!(!text.contains(secret), "{secret:?} appears in the {place}");
        }
    }
    // Not vacuous: debug logging was on, and the journal has the (redacted) requests.
    assert!(
        stderr.lines().count() > 10,
        "serve logged almost nothing at debug level:\n{stderr}"
    );
    assert!(places[7].1.contains("[redacted]"));
    figure(
        "security_secrets",
        json!({"places_scanned": places.len(), "bytes_scanned": scanned,
               "serve_stderr_lines": stderr.lines().count()}),
    );
}
