//! The simulator under load: 32 concurrent clients against one app for 20 s (3 s without
//! `USERCOM_LONG_TESTS=1`), a mix of site views, events and update_or_create over shared custom
//! ids. The final counters must equal the successful requests exactly, and every shared custom id
//! must have been created exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{self, figure, size, Admin, Observed};

const CLIENTS: usize = 32;
/// Custom ids shared by every client's update_or_create (contention on one app's lock).
const SHARED_IDS: usize = 64;

#[derive(Default)]
struct Tally {
    requests: u64,
    failures: Vec<String>,
    views: BTreeMap<String, u64>,
    events: BTreeMap<String, u64>,
    upserted: BTreeSet<String>,
    created: BTreeMap<String, u64>,
}

async fn client_loop(
    n: usize,
    api: String,
    key: String,
    user_key: String,
    until: Instant,
) -> Tally {
    let http = support::http();
    let own = format!("load-own-{n}");
    let mut rng = fastrand::Rng::with_seed(n as u64);
    let mut t = Tally::default();
    while Instant::now() < until {
        let (path, body, kind) = match rng.u8(..3) {
            0 => (
                format!("{api}/site-views/"),
                json!({"client_user": user_key, "page_domain": "https://load.example.com/x", "page_path": "/x"}),
                0,
            ),
            1 => (
                format!("{api}/users-by-id/{own}/events/"),
                json!({"name": "Load", "timestamp": 1_714_557_600, "data": {"n": n}}),
                1,
            ),
            _ => {
                let id = format!("load-shared-{}", rng.usize(..SHARED_IDS));
                (
                    format!("{api}/users/update_or_create/"),
                    json!({"custom_id": id, "plan": format!("c{n}")}),
                    2,
                )
            }
        };
        t.requests += 1;
        let resp = http
            .post(&path)
            .header("Authorization", format!("Token {key}"))
            .json(&body)
            .send()
            .await;
        let resp = match resp {
            Ok(resp) => resp,
            Err(e) => {
                t.failures.push(format!("{path}: {e}"));
                continue;
            }
        };
        let status = resp.status().as_u16();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            t.failures.push(format!("{path}: {status} {answer}"));
            continue;
        }
        match kind {
            0 => *t.views.entry(own.clone()).or_default() += 1,
            1 => *t.events.entry(own.clone()).or_default() += 1,
            _ => {
                let id = body["custom_id"].as_str().unwrap().to_string();
                if answer["created"] == json!(true) {
                    *t.created.entry(id.clone()).or_default() += 1;
                }
                t.upserted.insert(id);
            }
        }
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_counts_exactly_under_32_concurrent_clients() {
    let duration = size(Duration::from_secs(20), Duration::from_secs(3));
    // The journal is off: we measure the API, and the counts come from the state.
    let mock = usercom_mock::MockServer::builder()
        .journal_capacity(0)
        .start()
        .await
        .expect("simulator");
    let admin = Admin::new(&mock.url());
    let api = mock.api_url();
    let key = mock.api_key().to_string();
    let http = support::http();

    // Each client owns one user (site views need its user_key) created up front.
    let mut user_keys = Vec::new();
    for n in 0..CLIENTS {
        let resp: Value = http
            .post(format!("{api}/users/update_or_create/"))
            .header("Authorization", format!("Token {key}"))
            .json(&json!({"custom_id": format!("load-own-{n}")}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = resp["id"].as_u64().expect("user id");
        let user: Value = http
            .get(format!("{api}/users/{id}/"))
            .header("Authorization", format!("Token {key}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        user_keys.push(user["user_key"].as_str().expect("user_key").to_string());
    }

    let start = Instant::now();
    let until = start + duration;
    let tasks: Vec<_> = user_keys
        .into_iter()
        .enumerate()
        .map(|(n, uk)| tokio::spawn(client_loop(n, api.clone(), key.clone(), uk, until)))
        .collect();
    let mut total = Tally::default();
    for task in tasks {
        let t = tokio::time::timeout(duration + Duration::from_secs(60), task)
            .await
            .expect("a client hung")
            .expect("a client panicked");
        total.requests += t.requests;
        total.failures.extend(t.failures);
        for (k, v) in t.views {
            *total.views.entry(k).or_default() += v;
        }
        for (k, v) in t.events {
            *total.events.entry(k).or_default() += v;
        }
        total.upserted.extend(t.upserted);
        for (k, v) in t.created {
            *total.created.entry(k).or_default() += v;
        }
    }
    let elapsed = start.elapsed();
    let ok = total.requests - total.failures.len() as u64;
    assert!(
        total.failures.is_empty(),
        "{} failed requests, e.g. {:?}",
        total.failures.len(),
        &total.failures[..total.failures.len().min(5)]
    );

    let observed = Observed::from_state(&admin.state("default").await);
    let views: BTreeMap<String, u64> = observed
        .page_views
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    assert_eq!(views, total.views, "page_views vs successful site views");
    assert_eq!(
        observed.site_views, total.views,
        "stored site views vs successful ones"
    );
    let events: BTreeMap<String, u64> = observed
        .events
        .iter()
        .map(|((user, _), n)| (user.clone(), *n))
        .collect();
    assert_eq!(
        events, total.events,
        "occurrences vs successful event posts"
    );
    assert_eq!(observed.duplicate_users(), 0, "a custom id made two users");
    let shared: BTreeSet<String> = observed
        .users
        .keys()
        .filter(|u| u.starts_with("load-shared-"))
        .cloned()
        .collect();
    assert_eq!(
        shared, total.upserted,
        "users vs successful update_or_create ids"
    );
    assert!(
        total.created.values().all(|n| *n == 1) && total.created.len() == total.upserted.len(),
        "each shared custom id must answer created:true exactly once"
    );
    let rps = ok as f64 / elapsed.as_secs_f64();
    figure(
        "simulator_load",
        json!({"clients": CLIENTS, "seconds": elapsed.as_secs_f64(), "requests": total.requests,
               "successful": ok, "req_per_s": rps.round(),
               "site_views": total.views.values().sum::<u64>(),
               "events": total.events.values().sum::<u64>(),
               "upserted_ids": total.upserted.len()}),
    );
}
