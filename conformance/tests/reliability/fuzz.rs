//! Property tests over arbitrary bytes and arbitrary JSON values, into the ingress and into the
//! simulator's REST endpoints: never a 5xx, never a hang (every request has a timeout), and every
//! message the ingress accepted ends. (cargo-fuzz needs a nightly toolchain; proptest runs on
//! stable in CI.) `PROPTEST_CASES` overrides the number of cases per property.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};
use usercom_forwarder::ingress::{Ingress, IngressHandle};

use crate::support::{self, figure, size, Admin};
use crate::zero_loss::fast_config;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(size(2_000, 300))
}

fn runner() -> TestRunner {
    TestRunner::new(PtConfig {
        cases: cases(),
        failure_persistence: None,
        ..PtConfig::default()
    })
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,24}".prop_map(Value::from),
        prop::sample::select(vec![
            "",
            " ",
            "2024-05-01T10:00:00Z",
            "0001-01-01",
            "https://x.example.com/a?b#c",
            "Plan",
            "plan",
            "null",
            "1e999"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z _.$]{0,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A Segment-shaped message whose every field may hold anything.
fn arb_message() -> impl Strategy<Value = Value> {
    let fields = prop::sample::select(vec![
        "userId",
        "anonymousId",
        "messageId",
        "event",
        "name",
        "groupId",
        "traits",
        "properties",
        "context",
        "timestamp",
        "originalTimestamp",
        "integrations",
        "previousId",
    ]);
    (
        prop::sample::select(vec![
            "identify", "track", "page", "group", "screen", "alias", "x",
        ]),
        prop::option::of("[a-z0-9-]{1,12}"),
        prop::collection::vec((fields, arb_json()), 0..6),
    )
        .prop_map(|(kind, user, extra)| {
            let mut m = Map::new();
            m.insert("type".into(), json!(kind));
            if let Some(user) = user {
                m.insert("userId".into(), json!(format!("fz-{user}")));
            }
            for (k, v) in extra {
                m.insert(k.to_string(), v);
            }
            Value::Object(m)
        })
}

struct Env {
    rt: tokio::runtime::Runtime,
    mock: Option<usercom_mock::MockServer>,
    ingress: Option<IngressHandle>,
    client: reqwest::Client,
}

impl Drop for Env {
    fn drop(&mut self) {
        // The servers' handles stop their tasks on drop: do it inside the runtime.
        let _guard = self.rt.enter();
        drop(self.ingress.take());
        drop(self.mock.take());
    }
}

fn env() -> Env {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dl = std::env::temp_dir().join(format!(
        "usercom-reliability-fuzz-{}.ndjson",
        std::process::id()
    ));
    let (mock, ingress) = rt.block_on(async {
        let mock = support::start_mock(&[]).await;
        let config = usercom_forwarder::Config {
            retry_window: Duration::from_secs(3),
            dead_letter: None,
            ..fast_config(&mock.url(), mock.api_key(), dl)
        };
        let ingress = Ingress::start("127.0.0.1:0".parse().unwrap(), config)
            .await
            .unwrap();
        (mock, ingress)
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    Env {
        rt,
        mock: Some(mock),
        ingress: Some(ingress),
        client,
    }
}

impl Env {
    fn mock(&self) -> &usercom_mock::MockServer {
        self.mock.as_ref().unwrap()
    }

    fn ingress_url(&self) -> String {
        self.ingress.as_ref().unwrap().url()
    }

    /// POSTs `body`; a 5xx or a transport failure (hang → timeout) fails the case.
    fn post(
        &self,
        url: &str,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> Result<u16, TestCaseError> {
        self.rt.block_on(async {
            let mut req = self.client.post(url).body(body);
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| TestCaseError::fail(format!("{url}: {e}")))?;
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            if status >= 500 {
                return Err(TestCaseError::fail(format!(
                    "{url} answered {status}: {text}"
                )));
            }
            Ok(status)
        })
    }

    /// Waits until every accepted message ended, then checks the counters add up.
    fn finish(mut self, test: &str, tried: u64) {
        let ingress = self.ingress.take().unwrap();
        let stats = self.rt.block_on(support::wait_ingress_idle(
            &self.client,
            &ingress.url(),
            Duration::from_secs(120),
        ));
        let summary = self.rt.block_on(ingress.shutdown());
        assert_eq!(
            summary.total(),
            stats["received"].as_u64().unwrap(),
            "{stats}"
        );
        let journal = self.rt.block_on(Admin::new(&self.mock().url()).journal());
        let errors = journal
            .iter()
            .filter(|e| e["status"].as_u64().unwrap_or(0) >= 500)
            .count();
        assert_eq!(
            errors, 0,
            "the simulator answered 5xx to what the forwarder sent"
        );
        figure(
            test,
            json!({"inputs": tried, "accepted_messages": stats["received"], "summary": summary.to_string()}),
        );
    }
}

#[test]
fn arbitrary_bytes_and_json_into_the_ingress_never_5xx() {
    let env = env();
    let tried = Arc::new(AtomicU64::new(0));
    let routes = [
        "/v1/batch",
        "/v1/track",
        "/v1/identify",
        "/v1/page",
        "/v1/group",
        "/v1/screen",
        "/v1/import",
    ];
    let base = env.ingress_url();

    let mut r = runner();
    r.run(
        &(
            prop::collection::vec(any::<u8>(), 0..2048),
            any::<bool>(),
            prop::sample::select(routes.to_vec()),
        ),
        |(bytes, gz, route)| {
            tried.fetch_add(1, Ordering::Relaxed);
            let mut headers = vec![("Content-Type", "application/json".to_string())];
            if gz {
                headers.push(("Content-Encoding", "gzip".into()));
            }
            env.post(&format!("{base}{route}"), bytes, &headers)?;
            Ok(())
        },
    )
    .unwrap();

    let mut r = runner();
    r.run(
        &(arb_json(), prop::sample::select(routes.to_vec())),
        |(value, route)| {
            tried.fetch_add(1, Ordering::Relaxed);
            let body = serde_json::to_vec(&value).unwrap();
            env.post(
                &format!("{base}{route}"),
                body,
                &[("Content-Type", "application/json".into())],
            )?;
            Ok(())
        },
    )
    .unwrap();

    let mut r = runner();
    r.run(&prop::collection::vec(arb_message(), 1..8), |messages| {
        tried.fetch_add(1, Ordering::Relaxed);
        let body = serde_json::to_vec(&json!({"batch": messages})).unwrap();
        let status = env.post(&format!("{base}/v1/batch"), body, &[])?;
        prop_assert!(status == 200 || status == 400, "status {status}");
        Ok(())
    })
    .unwrap();

    env.finish("fuzz_ingress", tried.load(Ordering::Relaxed));
}

#[test]
fn arbitrary_bytes_and_json_into_the_simulator_rest_api_never_5xx() {
    let env = env();
    let tried = Arc::new(AtomicU64::new(0));
    let api = env.mock().api_url();
    let key = env.mock().api_key().to_string();
    // A user and a company to aim the id routes at.
    let (user_id, company_id) = env.rt.block_on(async {
        let c = &env.client;
        let u: Value = c
            .post(format!("{api}/users/update_or_create/"))
            .header("Authorization", format!("Token {key}"))
            .json(&json!({"custom_id": "fz-target"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let co: Value = c
            .post(format!("{api}/companies/"))
            .header("Authorization", format!("Token {key}"))
            .json(&json!({"custom_id": "fz-co", "name": "F"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (u["id"].as_u64().unwrap(), co["id"].as_u64().unwrap())
    });
    let paths: Vec<String> = vec![
        "/users/".into(),
        "/users/update_or_create/".into(),
        format!("/users/{user_id}/"),
        format!("/users/{user_id}/set_multiple_attributes/"),
        "/users-by-id/fz-target/".into(),
        "/users-by-id/fz-target/set_multiple_attributes/".into(),
        "/users-by-id/fz-target/events/".into(),
        "/events/".into(),
        "/site-views/".into(),
        "/companies/".into(),
        format!("/companies/{company_id}/"),
        "/companies-by-id/fz-co/".into(),
        format!("/companies/{company_id}/add_member/"),
        format!("/companies/{company_id}/remove_member/"),
        "/attributes/".into(),
    ];
    let auth = format!("Token {key}");

    let mut r = runner();
    r.run(
        &(
            prop::sample::select(paths.clone()),
            prop::collection::vec(any::<u8>(), 0..1024),
            any::<bool>(),
        ),
        |(path, bytes, put)| {
            tried.fetch_add(1, Ordering::Relaxed);
            let url = format!("{api}{path}");
            let headers = [
                ("Authorization", auth.clone()),
                ("Content-Type", "application/json".into()),
            ];
            if put {
                env.rt.block_on(async {
                    let resp = env
                        .client
                        .put(&url)
                        .headers(to_headers(&headers))
                        .body(bytes)
                        .send()
                        .await
                        .map_err(|e| TestCaseError::fail(format!("{url}: {e}")))?;
                    let status = resp.status().as_u16();
                    if status >= 500 {
                        return Err(TestCaseError::fail(format!("PUT {url} answered {status}")));
                    }
                    Ok(())
                })?;
            } else {
                env.post(&url, bytes, &headers)?;
            }
            Ok(())
        },
    )
    .unwrap();

    let mut r = runner();
    r.run(
        &(prop::sample::select(paths.clone()), arb_json()),
        |(path, value)| {
            tried.fetch_add(1, Ordering::Relaxed);
            let body = serde_json::to_vec(&value).unwrap();
            env.post(
                &format!("{api}{path}"),
                body,
                &[
                    ("Authorization", auth.clone()),
                    ("Content-Type", "application/json".into()),
                ],
            )?;
            Ok(())
        },
    )
    .unwrap();

    // Arbitrary path segments and queries on the GET routes.
    let mut r = runner();
    r.run(&(".{0,40}", ".{0,40}"), |(segment, query)| {
        tried.fetch_add(1, Ordering::Relaxed);
        let seg = encode(&segment);
        let q = encode(&query);
        for url in [
            format!("{api}/users-by-id/{seg}/"),
            format!("{api}/users/search/?key={q}&email={q}&phone_number={q}"),
            format!("{api}/users/?page={q}"),
            format!("{api}/companies-by-id/{seg}/"),
            format!("{api}/attributes/?content_type={q}"),
        ] {
            let status = env.rt.block_on(async {
                env.client
                    .get(&url)
                    .header("Authorization", &auth)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            });
            match status {
                Ok(s) if s < 500 => {}
                other => return Err(TestCaseError::fail(format!("GET {url}: {other:?}"))),
            }
        }
        Ok(())
    })
    .unwrap();

    let tried = tried.load(Ordering::Relaxed);
    let journal = env.rt.block_on(Admin::new(&env.mock().url()).journal());
    let errors = journal
        .iter()
        .filter(|e| e["status"].as_u64().unwrap_or(0) >= 500)
        .count();
    assert_eq!(errors, 0);
    figure("fuzz_simulator", json!({"inputs": tried}));
    drop(env);
}

fn to_headers(pairs: &[(&str, String)]) -> reqwest::header::HeaderMap {
    let mut map = reqwest::header::HeaderMap::new();
    for (k, v) in pairs {
        map.insert(
            reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            reqwest::header::HeaderValue::from_str(v).unwrap(),
        );
    }
    map
}

/// Percent-encodes every byte outside `[A-Za-z0-9-._~]`.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
