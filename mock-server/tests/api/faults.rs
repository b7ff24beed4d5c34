//! Fault injection over real HTTP: every effect, before/after, times and seeded probability,
//! rate-limit headers, journal records, validation, and the `--fault` flag of the binary.

use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::{json, Value};
use usercom_mock::MockServer;

use crate::support::{expect, Mock};

/// Arm a rule, asserting 201, and return its JSON.
async fn arm(m: &Mock, rule: Value) -> Value {
    let r = m.admin(Method::POST, "/faults", Some(rule)).await;
    expect(&r, 201);
    r.body
}

/// The last journal entry.
async fn last_entry(m: &Mock) -> Value {
    m.journal().await.pop().expect("a journal entry")
}

async fn users(m: &Mock) -> Vec<Value> {
    let r = m.admin(Method::GET, "/state?app=default", None).await;
    r.body["users"].as_array().cloned().unwrap()
}

/// A raw reqwest POST with the default key, returning the reqwest result itself (so resets show
/// up as errors).
async fn send(m: &Mock, path: &str, body: Value) -> reqwest::Result<reqwest::Response> {
    m.http
        .post(format!("{}{path}", m.server.api_url()))
        .header("Authorization", format!("Token {}", m.key()))
        .json(&body)
        .send()
        .await
}

#[tokio::test]
async fn status_before_answers_instead_of_the_api_and_applies_nothing() {
    let m = Mock::start().await;
    let rule = arm(
        &m,
        json!({
            "match": {"method": "POST", "path_prefix": "/api/public/users/"},
            "effect": {"status": 503, "body": {"detail": "maintenance"}, "retry_after": 2},
            "times": 1
        }),
    )
    .await;
    assert_eq!(rule["id"], 1);
    assert_eq!(rule["hits"], 0);
    assert_eq!(rule["remaining"], 1);
    assert_eq!(rule["when"], "before");

    let r = send(&m, "/users/", json!({"custom_id": "u1"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "2");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"detail": "maintenance"}));
    assert!(
        users(&m).await.is_empty(),
        "a `before` fault applies nothing"
    );

    let e = last_entry(&m).await;
    assert_eq!(e["status"], 503);
    assert_eq!(
        e["app"], "default",
        "the key's app, although no handler ran"
    );
    assert_eq!(
        e["fault"],
        json!({"id": 1, "when": "before", "effect": "status", "status": 503, "retry_after": 2})
    );

    // `times: 1` retired the rule: the retry goes through.
    let r = send(&m, "/users/", json!({"custom_id": "u1"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(last_entry(&m).await.get("fault").is_none());
    let listed = m.admin(Method::GET, "/faults", None).await.body;
    assert_eq!(listed["faults"][0]["hits"], 1);
    assert_eq!(listed["faults"][0]["remaining"], 0);
}

#[tokio::test]
async fn status_after_applies_the_write_and_loses_the_answer() {
    let m = Mock::start().await;
    arm(
        &m,
        json!({"match": {"path_prefix": "/api/public/users/update_or_create/"},
               "effect": {"status": 502}, "when": "after", "times": 1}),
    )
    .await;
    let r = send(
        &m,
        "/users/update_or_create/",
        json!({"custom_id": "lost", "email": "lost@example.com"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 502);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("fault injected"),
        "{body}"
    );
    let u = users(&m).await;
    assert_eq!(u.len(), 1, "the write happened although the client saw 502");
    assert_eq!(u[0]["email"], "lost@example.com");
    let e = last_entry(&m).await;
    assert_eq!(e["status"], 502);
    assert_eq!(e["fault"]["applied_status"], 201);
    assert_eq!(e["fault"]["when"], "after");
}

#[tokio::test]
async fn reset_before_drops_the_connection_and_applies_nothing() {
    let m = Mock::start().await;
    arm(&m, json!({"effect": {"reset": true}, "times": 1})).await;
    let err = send(&m, "/users/", json!({"custom_id": "r1"}))
        .await
        .expect_err("a reset is a connection error, not an HTTP answer");
    assert!(err.status().is_none(), "no status: {err:?}");
    // hyper's "connection closed before message completed": no status line ever arrived.
    assert!(err.is_request() && !err.is_timeout(), "{err:?}");
    assert!(users(&m).await.is_empty());
    let e = last_entry(&m).await;
    assert_eq!(e["status"], 0, "0 = no answer");
    assert_eq!(e["fault"]["effect"], "reset");
    assert!(e["fault"].get("applied_status").is_none());
    // The server keeps serving.
    let r = send(&m, "/users/", json!({"custom_id": "r1"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn reset_after_applies_the_write_then_drops_the_connection() {
    let m = Mock::start().await;
    arm(
        &m,
        json!({"match": {"method": "POST"}, "effect": {"reset": true}, "when": "after", "times": 1}),
    )
    .await;
    let err = send(&m, "/users/", json!({"custom_id": "ghost"}))
        .await
        .expect_err("connection reset after apply");
    assert!(err.status().is_none(), "{err:?}");
    let u = users(&m).await;
    assert_eq!(u.len(), 1, "applied although the client saw a reset");
    assert_eq!(u[0]["custom_id"], "ghost");
    let e = last_entry(&m).await;
    assert_eq!(e["status"], 0);
    assert_eq!(e["fault"]["effect"], "reset");
    assert_eq!(e["fault"]["applied_status"], 201);
}

#[tokio::test]
async fn latency_fixed_and_ranged_lets_requests_through_deterministically() {
    let m = Mock::start().await;
    arm(
        &m,
        json!({"match": {"method": "GET"}, "effect": {"latency_ms": 40}, "times": 1}),
    )
    .await;
    let started = std::time::Instant::now();
    expect(&m.get("/users/").await, 200);
    // A lower bound only (sleep guarantees it), so this cannot flake.
    assert!(started.elapsed() >= std::time::Duration::from_millis(40));
    let e = last_entry(&m).await;
    assert_eq!(
        e["fault"],
        json!({"id": 1, "when": "before", "effect": "latency", "latency_ms": 40})
    );
    assert_eq!(e["status"], 200);

    // A range: every draw within it, and the same sequence on a fresh server.
    let draws = |m: Mock| async move {
        arm(&m, json!({"effect": {"latency_ms": [1, 9]}, "times": 12})).await;
        for _ in 0..12 {
            expect(&m.get("/users/").await, 200);
        }
        m.journal()
            .await
            .iter()
            .filter_map(|e| e["fault"]["latency_ms"].as_u64())
            .collect::<Vec<u64>>()
    };
    let a = draws(Mock::start().await).await;
    let b = draws(Mock::start().await).await;
    assert_eq!(a.len(), 12);
    assert!(a.iter().all(|ms| (1..=9).contains(ms)), "{a:?}");
    assert_eq!(a, b, "same rule, same draws");
    let distinct: std::collections::BTreeSet<_> = a.iter().collect();
    assert!(distinct.len() > 1, "a range, not a constant: {a:?}");
}

#[tokio::test]
async fn latency_after_applies_then_answers_normally() {
    let m = Mock::start().await;
    arm(
        &m,
        json!({"effect": {"latency_ms": 5}, "when": "after", "times": 1}),
    )
    .await;
    let r = send(&m, "/users/", json!({"custom_id": "slow"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let e = last_entry(&m).await;
    assert_eq!(e["fault"]["effect"], "latency");
    assert_eq!(e["fault"]["when"], "after");
    assert_eq!(e["status"], 201);
}

/// Which of `n` sequential GETs were answered by the rule.
async fn pattern(rule: Value, n: usize) -> Vec<bool> {
    let m = Mock::start().await;
    arm(&m, rule).await;
    let mut out = vec![];
    for _ in 0..n {
        let r = m.get("/users/").await;
        assert!(r.status == 200 || r.status == 503, "{r:?}");
        out.push(r.status == 503);
    }
    out
}

#[tokio::test]
async fn probability_with_a_seed_is_deterministic_and_times_caps_it() {
    let rule = |seed: u64| json!({"effect": {"status": 503}, "probability": 0.4, "seed": seed});
    let a = pattern(rule(7), 60).await;
    let b = pattern(rule(7), 60).await;
    let c = pattern(rule(8), 60).await;
    assert_eq!(a, b, "same seed, same requests faulted");
    assert_ne!(a, c, "another seed, another subset");
    let fired = a.iter().filter(|x| **x).count();
    println!("probability 0.4, seed 7: {fired} of 60 requests faulted");
    assert!((8..=40).contains(&fired), "{fired} of 60");

    // times + probability: at most `times` fires, then the rule retires.
    let capped = pattern(
        json!({"effect": {"status": 503}, "probability": 0.5, "seed": 1, "times": 3}),
        60,
    )
    .await;
    assert_eq!(capped.iter().filter(|x| **x).count(), 3);

    // probability 0 never fires, 1 always does.
    assert!(
        !pattern(json!({"effect": {"status": 503}, "probability": 0}), 10)
            .await
            .contains(&true)
    );
    assert!(
        !pattern(json!({"effect": {"status": 503}, "probability": 1}), 10)
            .await
            .contains(&false)
    );
}

#[tokio::test]
async fn rate_limit_sends_429_with_retry_after_and_rate_limit_headers_per_app() {
    let m = Mock::start().await;
    arm(
        &m,
        json!({"effect": {"rate_limit": {"requests": 3, "window_ms": 3_600_000, "retry_after": 7}}}),
    )
    .await;
    let mut seen = vec![];
    for i in 0..5 {
        let r = send(&m, "/users/", json!({"custom_id": format!("rl-{i}")}))
            .await
            .unwrap();
        let h = r.headers().clone();
        let header = |n: &str| h.get(n).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(header("x-ratelimit-limit").as_deref(), Some("3"));
        let reset: u64 = header("x-ratelimit-reset").unwrap().parse().unwrap();
        assert!((1..=3600).contains(&reset), "{reset}");
        seen.push((
            r.status().as_u16(),
            header("x-ratelimit-remaining").unwrap(),
            header("retry-after"),
        ));
    }
    assert_eq!(
        seen,
        vec![
            (201, "2".into(), None),
            (201, "1".into(), None),
            (201, "0".into(), None),
            (429, "0".into(), Some("7".into())),
            (429, "0".into(), Some("7".into())),
        ]
    );
    assert_eq!(
        users(&m).await.len(),
        3,
        "throttled requests applied nothing"
    );
    let e = last_entry(&m).await;
    assert_eq!(e["status"], 429);
    assert_eq!(e["fault"]["effect"], "rate_limit");
    assert_eq!(e["fault"]["retry_after"], 7);

    // Windows are per app: another app still has its full allowance.
    let other = m.admin(Method::POST, "/apps", None).await.body;
    let key = other["api_key"].as_str().unwrap();
    expect(&m.api_as(key, Method::GET, "/users/", None).await, 200);
}

#[tokio::test]
async fn rules_match_on_method_path_prefix_and_app() {
    let m = Mock::start().await;
    let other = m
        .admin(Method::POST, "/apps", Some(json!({"name": "victim"})))
        .await;
    let key = other.body["api_key"].as_str().unwrap().to_owned();
    arm(
        &m,
        json!({"match": {"app": "victim", "method": "post", "path_prefix": "/api/public/site-views/"},
               "effect": {"status": 500}}),
    )
    .await;
    // Another app, another method, another path: untouched.
    expect(&m.post("/site-views/", json!({})).await, 400);
    expect(&m.api_as(&key, Method::GET, "/users/", None).await, 200);
    expect(
        &m.api_as(
            &key,
            Method::POST,
            "/users/",
            Some(json!({"custom_id": "v"})),
        )
        .await,
        201,
    );
    // The matching request.
    let r = m
        .api_as(&key, Method::POST, "/site-views/", Some(json!({})))
        .await;
    expect(&r, 500);
    let j = m
        .admin(Method::GET, "/requests?app=victim", None)
        .await
        .body;
    assert_eq!(j["requests"].as_array().unwrap().len(), 3);
    // Admin requests are never faulted, even by a rule matching everything.
    arm(&m, json!({"effect": {"status": 503}})).await;
    expect(&m.admin(Method::GET, "/state", None).await, 200);
    expect(&m.get("/users/").await, 503);
}

#[tokio::test]
async fn admin_endpoints_list_get_delete_and_validate_rules() {
    let m = Mock::start().await;
    let a = arm(&m, json!({"effect": {"status": 503}, "times": 2})).await;
    let b = arm(
        &m,
        json!({"effect": {"latency_ms": [1, 2]}, "probability": 0.5, "seed": 9}),
    )
    .await;
    assert_eq!((a["id"].as_u64(), b["id"].as_u64()), (Some(1), Some(2)));
    assert_eq!(b["remaining"], Value::Null, "unlimited");
    let one = m.admin(Method::GET, "/faults/2", None).await;
    expect(&one, 200);
    assert_eq!(one.body["effect"], json!({"latency_ms": [1, 2]}));
    assert_eq!(one.body["seed"], 9);
    expect(&m.admin(Method::GET, "/faults/99", None).await, 404);
    expect(&m.admin(Method::GET, "/faults/abc", None).await, 404);
    expect(&m.admin(Method::DELETE, "/faults/1", None).await, 204);
    expect(&m.admin(Method::DELETE, "/faults/1", None).await, 404);
    let list = m.admin(Method::GET, "/faults", None).await.body;
    assert_eq!(list["faults"].as_array().unwrap().len(), 1);
    expect(&m.admin(Method::DELETE, "/faults", None).await, 204);
    assert_eq!(
        m.admin(Method::GET, "/faults", None).await.body,
        json!({"faults": []})
    );
    expect(&m.get("/users/").await, 200);

    for (rule, field, words) in [
        (
            json!({"effect": {"explode": true}}),
            "effect",
            "unknown effect `explode`",
        ),
        (
            json!({"effect": {"status": 503}, "probability": 2}),
            "probability",
            "from 0 to 1",
        ),
        (
            json!({"effect": {"status": 503}, "match": {"app": "nope"}}),
            "match.app",
            "no app named `nope`",
        ),
        (
            json!({"effect": {"latency_ms": -5}}),
            "effect.latency_ms",
            "integer",
        ),
        (
            json!({"effect": {"rate_limit": {"requests": 2}}}),
            "effect.rate_limit.window_ms",
            "required",
        ),
        (
            json!({"effect": {"status": 503}, "when": "later"}),
            "when",
            "before",
        ),
        (
            json!({"effect": {"status": 503}, "times": "twice"}),
            "times",
            "integer",
        ),
    ] {
        let r = m.admin(Method::POST, "/faults", Some(rule.clone())).await;
        expect(&r, 400);
        assert_eq!(r.body["field"], field, "{rule} -> {}", r.text);
        assert!(
            r.body["detail"].as_str().unwrap().contains(words),
            "{rule} -> {}",
            r.text
        );
    }
    let r = m
        .raw(
            Method::POST,
            "/__admin/faults",
            None,
            &[],
            Some(b"{not json".to_vec()),
        )
        .await;
    expect(&r, 400);
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("malformed JSON"));
    assert_eq!(
        m.admin(Method::GET, "/faults", None).await.body,
        json!({"faults": []}),
        "rejected rules are not armed"
    );
}

#[tokio::test]
async fn builder_faults_are_armed_at_start_and_invalid_ones_stop_it() {
    let m = Mock::with(
        MockServer::builder()
            .api_key("test-key")
            .fault(json!({"effect": {"status": 429, "retry_after": 1}, "times": 1})),
    )
    .await;
    expect(&m.get("/users/").await, 429);
    expect(&m.get("/users/").await, 200);
    let err = MockServer::builder()
        .fault(json!({"effect": {"status": 503}, "probability": -1}))
        .start()
        .await
        .expect_err("invalid rule");
    let msg = err.to_string();
    assert!(
        msg.contains("fault rule #1") && msg.contains("probability"),
        "{msg}"
    );
}

#[tokio::test]
async fn binary_fault_flag_arms_rules_and_rejects_bad_ones() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_usercom-mock"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            "bin-key",
            "--fault",
            r#"{"match":{"method":"POST"},"effect":{"status":503,"retry_after":3},"times":1}"#,
            "--fault",
            r#"{"match":{"method":"GET"},"effect":{"reset":true},"times":1}"#,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary runs");
    let url = crate::support::listening_url(&mut child);
    let http = reqwest::Client::new();
    let post = || {
        http.post(format!("{url}/api/public/users/"))
            .header("Authorization", "Token bin-key")
            .json(&json!({"custom_id": "b"}))
            .send()
    };
    let r = post().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "3");
    assert_eq!(post().await.unwrap().status(), 201);
    let get = http
        .get(format!("{url}/api/public/users/"))
        .header("Authorization", "Token bin-key")
        .send()
        .await;
    assert!(get.is_err(), "the GET reset rule drops the connection");
    let rules: Value = http
        .get(format!("{url}/__admin/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rules["faults"].as_array().unwrap().len(), 2);
    assert_eq!(rules["faults"][0]["hits"], 1);
    let status = crate::support::stop_binary(child, "TERM").await;
    assert!(status.success(), "{status:?}");

    // An invalid rule stops start-up with a message naming the field; non-JSON is a usage error.
    let bad = Command::new(env!("CARGO_BIN_EXE_usercom-mock"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--fault",
            r#"{"effect":{"teleport":1}}"#,
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("fault rule #1") && err.contains("unknown effect `teleport`"),
        "{err}"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_usercom-mock"))
        .args(["--listen", "127.0.0.1:0", "--fault", "{oops"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not valid JSON"));
    let help = Command::new(env!("CARGO_BIN_EXE_usercom-mock"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--fault") && help.contains("--admin-token"),
        "{help}"
    );
}
