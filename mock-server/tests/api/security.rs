//! Security over real HTTP: every REST endpoint needs a valid key, the admin token, one app never
//! sees or changes another app's data, and secrets never leave the process (journal, state,
//! admin answers, error bodies, logs).

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::{json, Value};
use usercom_mock::MockServer;

use crate::support::{expect, Mock};

/// Every REST route and method (path ids point at objects that exist in the default app).
fn every_endpoint() -> Vec<(Method, &'static str)> {
    use Method as M;
    vec![
        (M::POST, "/users/"),
        (M::GET, "/users/"),
        (M::GET, "/users/1/"),
        (M::PUT, "/users/1/"),
        (M::DELETE, "/users/1/"),
        (M::GET, "/users-by-id/owner/"),
        (M::PUT, "/users-by-id/owner/"),
        (M::DELETE, "/users-by-id/owner/"),
        (M::GET, "/users/search/?email=owner@example.com"),
        (M::POST, "/users/update_or_create/"),
        (M::POST, "/users/1/set_multiple_attributes/"),
        (M::POST, "/users-by-id/owner/set_multiple_attributes/"),
        (M::POST, "/events/"),
        (M::POST, "/users-by-id/owner/events/"),
        (M::GET, "/users/1/events/"),
        (M::GET, "/users-by-id/owner/events/"),
        (M::POST, "/site-views/"),
        (M::POST, "/companies/"),
        (M::GET, "/companies/"),
        (M::GET, "/companies/1/"),
        (M::PUT, "/companies/1/"),
        (M::DELETE, "/companies/1/"),
        (M::GET, "/companies-by-id/acme/"),
        (M::PUT, "/companies-by-id/acme/"),
        (M::DELETE, "/companies-by-id/acme/"),
        (M::POST, "/companies/1/add_member/"),
        (M::POST, "/companies/1/remove_member/"),
        (M::POST, "/attributes/"),
        (M::GET, "/attributes/"),
    ]
}

/// (what, key, extra headers, expected status)
type BadCredential<'a> = (&'a str, Option<&'a str>, &'a [(&'a str, &'a str)], u16);

async fn state(m: &Mock, app: &str) -> Value {
    let r = m
        .admin(Method::GET, &format!("/state?app={app}"), None)
        .await;
    expect(&r, 200);
    r.body
}

#[tokio::test]
async fn every_rest_endpoint_needs_a_valid_key() {
    let m = Mock::start().await;
    m.post(
        "/users/",
        json!({"custom_id": "owner", "email": "owner@example.com"}),
    )
    .await;
    expect(
        &m.post("/companies/", json!({"custom_id": "acme", "name": "Acme"}))
            .await,
        201,
    );
    let revoked = m.admin(Method::POST, "/apps", None).await.body["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    expect(
        &m.admin(Method::POST, &format!("/api-keys/{revoked}/revoke"), None)
            .await,
        200,
    );
    let before = state(&m, "default").await;
    let body = || Some(br#"{"custom_id":"intruder","name":"x","user_id":1}"#.to_vec());
    let endpoints = every_endpoint();
    for (method, path) in &endpoints {
        let path = format!("/api/public{path}");
        let cases: [BadCredential; 5] = [
            ("no header", None, &[], 401),
            ("unknown key", Some("not-a-key"), &[], 401),
            ("revoked key", Some(&revoked), &[], 403),
            (
                "wrong scheme",
                None,
                &[("Authorization", "Bearer test-key")],
                401,
            ),
            ("empty token", None, &[("Authorization", "Token")], 401),
        ];
        for (what, key, headers, want) in cases {
            let r = m.raw(method.clone(), &path, key, headers, body()).await;
            assert_eq!(r.status, want, "{what}: {method} {path} -> {}", r.text);
            assert!(r.body["detail"].is_string(), "{what}: {method} {path}");
        }
    }
    assert_eq!(
        state(&m, "default").await,
        before,
        "nothing changed without a valid key"
    );
    println!(
        "{} endpoints x 5 bad credentials: all refused",
        endpoints.len()
    );
}

#[tokio::test]
async fn revoked_key_requests_are_journaled_under_their_app() {
    let m = Mock::start().await;
    let app = m
        .admin(Method::POST, "/apps", Some(json!({"name": "gone"})))
        .await
        .body;
    let key = app["api_key"].as_str().unwrap().to_owned();
    expect(
        &m.admin(Method::POST, &format!("/api-keys/{key}/revoke"), None)
            .await,
        200,
    );
    expect(&m.api_as(&key, Method::GET, "/users/", None).await, 403);
    let j = m.admin(Method::GET, "/requests?app=gone", None).await.body;
    assert_eq!(j["count"], 1, "{j}");
    assert_eq!(j["requests"][0]["status"], 403);
    assert_eq!(j["requests"][0]["app"], "gone");
    // An unknown key still belongs to no app.
    expect(
        &m.api_as("who-knows", Method::GET, "/users/", None).await,
        401,
    );
    let all = m.journal().await;
    assert_eq!(all.last().unwrap()["app"], Value::Null);
}

#[tokio::test]
async fn admin_token_guards_the_admin_plane_only() {
    let token = "adm-token-5d1e9c";
    let m = Mock::with(MockServer::builder().api_key("test-key").admin_token(token)).await;
    for path in [
        "/__admin/state",
        "/__admin/requests",
        "/__admin/faults",
        "/__admin/apps",
    ] {
        let r = m.raw(Method::GET, path, None, &[], None).await;
        expect(&r, 401);
        assert!(
            r.body["detail"].as_str().unwrap().contains("Bearer"),
            "{}",
            r.text
        );
        let r = m
            .raw(
                Method::GET,
                path,
                None,
                &[("Authorization", "Bearer guess-123")],
                None,
            )
            .await;
        expect(&r, 401);
        assert!(
            !r.text.contains("guess-123"),
            "the 401 does not echo: {}",
            r.text
        );
        let auth = format!("Bearer {token}");
        let r = m
            .raw(Method::GET, path, None, &[("Authorization", &auth)], None)
            .await;
        expect(&r, 200);
    }
    // The dashboard page shows every app's data: guarded too. A browser can only prompt for
    // Basic: the token as the password (any user name) opens it.
    let page = format!("{}/", m.server.url());
    let denied = m.http.get(&page).send().await.unwrap();
    assert_eq!(denied.status(), 401);
    let challenges: Vec<String> = denied
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        challenges.iter().any(|c| c.starts_with("Basic")),
        "{challenges:?}"
    );
    let r = m.http.get(&page).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = m
        .http
        .get(&page)
        .basic_auth("admin", Some(token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = m
        .http
        .get(&page)
        .basic_auth("admin", Some("guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Health answers without the token (a liveness probe), and says nothing secret.
    let r = m.raw(Method::GET, "/__admin/health", None, &[], None).await;
    expect(&r, 200);
    assert_eq!(r.body["status"], "ok");
    // Writes too: a reset without the token changes nothing.
    m.user("keep-me").await;
    expect(
        &m.raw(Method::POST, "/__admin/reset", None, &[], None).await,
        401,
    );
    let auth = format!("Bearer {token}");
    let s = m
        .raw(
            Method::GET,
            "/__admin/state?app=default",
            None,
            &[("Authorization", &auth)],
            None,
        )
        .await;
    assert_eq!(s.body["users"].as_array().unwrap().len(), 1);
    // The API keeps using its own keys, no admin token needed.
    expect(&m.get("/users/").await, 200);
    let h = m
        .http
        .get(format!("{}/__admin/state", m.server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(h.status(), 401);
    assert!(h.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    // An invalid token is a start-up error that does not echo it.
    let err = MockServer::builder()
        .admin_token("has space")
        .start()
        .await
        .expect_err("a token with a space");
    assert!(!err.to_string().contains("has space"), "{err}");
}

#[tokio::test]
async fn binary_takes_the_admin_token_from_flag_or_environment() {
    for via_env in [false, true] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_usercom-mock"));
        cmd.args(["--listen", "127.0.0.1:0", "--api-key", "bin-key"]);
        if via_env {
            cmd.env("USERCOM_MOCK_ADMIN_TOKEN", "env-admin-token");
        } else {
            cmd.args(["--admin-token", "env-admin-token"]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().rsplit(' ').next().unwrap().to_owned();
        let http = reqwest::Client::new();
        let plain = http
            .get(format!("{url}/__admin/state"))
            .send()
            .await
            .unwrap();
        let authed = http
            .get(format!("{url}/__admin/state"))
            .bearer_auth("env-admin-token")
            .send()
            .await
            .unwrap();
        crate::support::stop_binary(child, "TERM").await;
        assert_eq!(plain.status(), 401, "via_env={via_env}");
        assert_eq!(authed.status(), 200, "via_env={via_env}");
    }
}

/// Two apps with overlapping id ranges: app A (default) has users 1..=3 and companies 1..=2, app B
/// has one user and one company (id 1 each). B's key must never reach A's objects.
#[tokio::test]
async fn one_apps_key_never_reads_or_writes_another_apps_data() {
    let m = Mock::start().await;
    for i in 1..=3 {
        let r = m
            .post(
                "/users/",
                json!({"custom_id": format!("a-user-{i}"), "email": format!("a{i}@example.com"),
                       "phone_number": format!("+4860000000{i}")}),
            )
            .await;
        expect(&r, 201);
    }
    for i in 1..=2 {
        let r = m
            .post(
                "/companies/",
                json!({"custom_id": format!("a-co-{i}"), "name": "A Corp"}),
            )
            .await;
        expect(&r, 201);
    }
    expect(
        &m.post(
            "/companies/2/add_member/",
            json!({"user_custom_id": "a-user-3"}),
        )
        .await,
        200,
    );
    expect(
        &m.post("/users-by-id/a-user-3/events/", json!({"name": "A Event"}))
            .await,
        201,
    );
    expect(
        &m.post(
            "/attributes/",
            json!({"name": "A Secret Attr", "value_type": "string"}),
        )
        .await,
        201,
    );
    let a_user3 = m.get("/users/3/").await.body;
    let a_key3 = a_user3["user_key"].as_str().unwrap().to_owned();
    let a_before = state(&m, "default").await;

    let b = m
        .admin(Method::POST, "/apps", Some(json!({"name": "b"})))
        .await
        .body;
    let bk = b["api_key"].as_str().unwrap().to_owned();
    let b_call = |method: Method, path: String, body: Option<Value>| {
        let bk = bk.clone();
        let m = &m;
        async move { m.api_as(&bk, method, &path, body).await }
    };
    expect(
        &b_call(
            Method::POST,
            "/users/".into(),
            Some(json!({"custom_id": "b-user"})),
        )
        .await,
        201,
    );
    expect(
        &b_call(
            Method::POST,
            "/companies/".into(),
            Some(json!({"custom_id": "b-co", "name": "B"})),
        )
        .await,
        201,
    );

    let upd = Some(json!({"first_name": "Pwned"}));
    let a_ids: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/users/3/".into(), None),
        (Method::PUT, "/users/3/".into(), upd.clone()),
        (Method::DELETE, "/users/3/".into(), None),
        (
            Method::POST,
            "/users/3/set_multiple_attributes/".into(),
            upd.clone(),
        ),
        (Method::GET, "/users/3/events/".into(), None),
        (Method::GET, "/users-by-id/a-user-3/".into(), None),
        (Method::PUT, "/users-by-id/a-user-3/".into(), upd.clone()),
        (Method::DELETE, "/users-by-id/a-user-3/".into(), None),
        (
            Method::POST,
            "/users-by-id/a-user-3/set_multiple_attributes/".into(),
            upd.clone(),
        ),
        (Method::GET, "/users-by-id/a-user-3/events/".into(), None),
        (
            Method::POST,
            "/users-by-id/a-user-3/events/".into(),
            Some(json!({"name": "X"})),
        ),
        (
            Method::GET,
            "/users/search/?email=a3@example.com".into(),
            None,
        ),
        (Method::GET, format!("/users/search/?key={a_key3}"), None),
        (Method::GET, "/companies/2/".into(), None),
        (
            Method::PUT,
            "/companies/2/".into(),
            Some(json!({"name": "Pwned"})),
        ),
        (Method::DELETE, "/companies/2/".into(), None),
        (
            Method::POST,
            "/companies/2/add_member/".into(),
            Some(json!({"user_custom_id": "b-user"})),
        ),
        (
            Method::POST,
            "/companies/2/remove_member/".into(),
            Some(json!({"user_id": 1})),
        ),
        (Method::GET, "/companies-by-id/a-co-2/".into(), None),
        (
            Method::PUT,
            "/companies-by-id/a-co-2/".into(),
            Some(json!({"name": "Pwned"})),
        ),
        (Method::DELETE, "/companies-by-id/a-co-2/".into(), None),
    ];
    let a_text = a_before.to_string();
    for (method, path, body) in &a_ids {
        let r = b_call(method.clone(), path.clone(), body.clone()).await;
        assert_eq!(r.status, 404, "B {method} {path} -> {}", r.text);
        // Only an error message (which may echo the id asked for), never an object of A.
        let keys: Vec<&String> = r.body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["detail"], "{}", r.text);
    }
    // References to A's objects inside B's bodies are unknown to B (400 naming the field).
    for (path, body, field) in [
        ("/events/", json!({"user_id": 3, "name": "X"}), "user_id"),
        (
            "/site-views/",
            json!({"client_user": a_key3}),
            "client_user",
        ),
        (
            "/companies/1/add_member/",
            json!({"user_custom_id": "a-user-3"}),
            "user_custom_id",
        ),
        ("/companies/1/add_member/", json!({"user_id": 3}), "user_id"),
        (
            "/users/",
            json!({"custom_id": "b2", "company_custom_id": "a-co-1"}),
            "company_custom_id",
        ),
    ] {
        let r = b_call(Method::POST, path.into(), Some(body.clone())).await;
        assert_eq!(r.status, 400, "B POST {path} {body} -> {}", r.text);
        assert_eq!(r.body["field"], field, "{}", r.text);
    }
    // Phone search answers an empty page or 404, never A's user.
    let r = b_call(
        Method::GET,
        "/users/search/?phone_number=%2B486000000003".into(),
        None,
    )
    .await;
    assert!(r.status == 404 || r.body["count"] == 0, "{}", r.text);
    // Lists show B's own objects only.
    for path in ["/users/", "/companies/", "/attributes/"] {
        let r = b_call(Method::GET, path.into(), None).await;
        expect(&r, 200);
        assert!(
            !r.text.contains("a-user") && !r.text.contains("a-co-") && !r.text.contains("A Secret"),
            "B lists {path}: {}",
            r.text
        );
    }
    // B's own id 1 is B's object, not A's.
    let r = b_call(Method::GET, "/users/1/".into(), None).await;
    assert_eq!(r.body["custom_id"], "b-user");

    assert_eq!(
        state(&m, "default").await.to_string(),
        a_text,
        "A untouched"
    );
    println!("{} cross-app reads/writes refused", a_ids.len() + 5);
}

/// Every place a secret could leak to, after a session that used every kind of secret.
#[tokio::test]
async fn secrets_never_appear_in_journal_state_admin_answers_or_errors() {
    let api_key = "sk-live-default-7f3a9b";
    let admin_token = "admin-token-c0ffee42";
    let m = Mock::with(
        MockServer::builder()
            .api_key(api_key)
            .admin_token(admin_token),
    )
    .await;
    let admin_auth = format!("Bearer {admin_token}");
    let admin = |method: Method, path: &'static str, body: Option<Value>| {
        let admin_auth = admin_auth.clone();
        let m = &m;
        async move {
            m.raw(
                method,
                &format!("/__admin{path}"),
                None,
                &[("Authorization", admin_auth.as_str())],
                body.map(|b| b.to_string().into_bytes()),
            )
            .await
        }
    };
    let other = admin(Method::POST, "/apps", None).await.body;
    let other_key = other["api_key"].as_str().unwrap().to_owned();
    let revoked = admin(Method::POST, "/apps", None).await.body["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = m
        .raw(
            Method::POST,
            &format!("/__admin/api-keys/{revoked}/revoke"),
            None,
            &[("Authorization", admin_auth.as_str())],
            None,
        )
        .await;
    expect(&r, 200);
    let secrets = [api_key, admin_token, other_key.as_str(), revoked.as_str()];

    let mut seen: Vec<String> = vec![r.text];
    // Normal traffic, errors, and secrets sent in places other than Authorization.
    for key in [
        api_key,
        other_key.as_str(),
        revoked.as_str(),
        "unknown-key-1234",
    ] {
        for (method, path, body) in [
            (
                Method::POST,
                "/users/".to_owned(),
                Some(br#"{"custom_id":"u"}"#.to_vec()),
            ),
            (
                Method::POST,
                "/users/".to_owned(),
                Some(b"{broken".to_vec()),
            ),
            (
                Method::POST,
                "/users/".to_owned(),
                Some(br#"{"email":5}"#.to_vec()),
            ),
            (Method::GET, "/users/999/".to_owned(), None),
            (
                Method::GET,
                format!("/users/search/?email=x@y.z&api_key={key}"),
                None,
            ),
            (
                Method::POST,
                "/attributes/".to_owned(),
                Some(br#"{"name":"a","value_type":"nope"}"#.to_vec()),
            ),
        ] {
            let r = m
                .raw(
                    method,
                    &format!("/api/public{path}"),
                    Some(key),
                    &[("X-Api-Key", key), ("X-Admin", &admin_auth)],
                    body,
                )
                .await;
            assert!(r.status < 500, "{}", r.text);
            seen.push(r.text);
        }
    }
    // Admin-plane mistakes.
    seen.push(
        admin(
            Method::POST,
            "/faults",
            Some(json!({"effect": {"status": 1}})),
        )
        .await
        .text,
    );
    seen.push(
        m.raw(
            Method::GET,
            "/__admin/state",
            None,
            &[("Authorization", "Bearer wrong")],
            None,
        )
        .await
        .text,
    );
    // Every dump.
    for path in [
        "/requests",
        "/state",
        "/apps",
        "/faults",
        "/trusted-domains",
        "/clock",
    ] {
        let r = admin(Method::GET, path, None).await;
        expect(&r, 200);
        seen.push(r.text);
    }
    let journal = admin(Method::GET, "/requests", None).await.body;
    assert!(journal["count"].as_u64().unwrap() >= 24, "{journal}");
    let apps = admin(Method::GET, "/apps", None).await.body;
    let fp = apps[0]["api_keys"][0]["key"].as_str().unwrap();
    assert!(fp.contains("(redacted"), "{apps}");
    assert!(apps.to_string().contains("\"revoked\":true"), "{apps}");

    // Debug renderings (what a careless `{:?}` would log).
    seen.push(format!("{:?}", m.server));
    seen.push(format!(
        "{:?}",
        MockServer::builder()
            .api_key(api_key)
            .admin_token(admin_token)
    ));
    let haystack = seen.join("\n");
    for s in secrets {
        assert!(!haystack.contains(s), "secret `{s}` leaked");
    }
    assert!(
        haystack.contains("[redacted]"),
        "the journal shows where secrets were"
    );
    println!(
        "{} answers/dumps ({} bytes) scanned for {} secrets: none found",
        seen.len(),
        haystack.len(),
        secrets.len()
    );
}

#[tokio::test]
async fn secrets_never_appear_in_the_logs_and_the_state_file_is_private() {
    let state_file = crate::support::temp_path("secret-state.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_usercom-mock"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            "log-secret-key-91b2",
            "--admin-token",
            "log-admin-token-77aa",
            "--state-file",
        ])
        .arg(&state_file)
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    let mut stderr = child.stderr.take().unwrap();
    let drain = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let http = reqwest::Client::new();
    let made: Value = http
        .post(format!("{url}/__admin/apps"))
        .bearer_auth("log-admin-token-77aa")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let other = made["api_key"].as_str().unwrap().to_owned();
    for key in [
        "log-secret-key-91b2",
        other.as_str(),
        "log-unknown-key-0000",
    ] {
        let _ = http
            .post(format!("{url}/api/public/users/"))
            .header("Authorization", format!("Token {key}"))
            .body("{broken")
            .send()
            .await
            .unwrap();
        let _ = http
            .post(format!("{url}/api/public/users/"))
            .header("Authorization", format!("Token {key}"))
            .json(&json!({"custom_id": "logged"}))
            .send()
            .await
            .unwrap();
    }
    let r = http
        .post(format!("{url}/__admin/api-keys/{other}/revoke"))
        .bearer_auth("log-admin-token-77aa")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!("{url}/__admin/state"))
        .bearer_auth("wrong-admin-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let status = crate::support::stop_binary(child, "TERM").await;
    assert!(status.success());
    let logs = drain.join().unwrap();
    assert!(
        logs.contains("/api/public/users/") && logs.contains("/__admin/api-keys/[redacted]/revoke"),
        "trace logging was on and saw the requests:\n{logs}"
    );
    for s in [
        "log-secret-key-91b2",
        "log-admin-token-77aa",
        other.as_str(),
        "log-unknown-key-0000",
        "wrong-admin-token",
    ] {
        assert!(!logs.contains(s), "`{s}` in the logs:\n{logs}");
    }
    println!("{} bytes of trace logs scanned: no secret", logs.len());

    // The state file must hold the keys (to restore them), so only its owner may read it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "state file mode {mode:o}");
    }
    let _ = std::fs::remove_file(state_file);
}
