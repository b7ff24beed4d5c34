//! The delivery contract, in process, against the simulator: how every message ends and is
//! counted, duplicate suppression by `messageId` (its window and its bound), what a dead letter
//! holds and how it is sent again, and a shutdown that dead-letters instead of losing. The
//! catalogue checks what User.com ends up with per documented behaviour; these check that the
//! forwarder accounts for every message on the way (`/stats`, the `send` summary, the file).

use std::time::Duration;

use serde_json::{json, Value};
use usercom_forwarder::{Config, Forwarder, Outcome, Summary};
use usercom_mock::MockServer;

use crate::support::runtime;

fn scratch(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "usercom-harness-{tag}-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

fn config(mock: &MockServer) -> Config {
    Config {
        retry_window: Duration::from_secs(5),
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        ..Config::new(mock.url(), mock.api_key())
    }
}

fn track(user: &str, mid: &str) -> Value {
    json!({"type": "track", "userId": user, "messageId": mid, "event": "Counted",
           "properties": {"mid": mid}})
}

async fn occurrences(mock: &MockServer) -> std::collections::BTreeMap<String, u64> {
    let state: Value = reqwest::get(format!("{}/__admin/state?app=default", mock.url()))
        .await
        .expect("state")
        .json()
        .await
        .expect("state JSON");
    let mut out = std::collections::BTreeMap::new();
    for e in state["events"].as_array().into_iter().flatten() {
        *out.entry(e["data"]["mid"].as_str().unwrap_or("?").to_string())
            .or_insert(0) += 1;
    }
    out
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a dead letter is one JSON line"))
        .collect()
}

/// Every message ends exactly once and is counted where it ended: the summary, the per-message
/// outcomes and `/stats` agree with what the simulator and the dead-letter file hold.
#[test]
fn every_message_is_counted_once_where_it_ended() {
    let rt = runtime();
    rt.block_on(async {
        let mock = MockServer::start().await;
        let dir = scratch("counted");
        let dl = dir.join("dead.ndjson");
        let forwarder = Forwarder::new(Config {
            dead_letter: Some(dl.clone()),
            ..config(&mock)
        })
        .expect("forwarder");
        let messages = vec![
            track("c1", "m1"),
            track("c1", "m2"),
            track("c2", "m3"),
            track("c1", "m1"), // duplicate of the first
            json!({"type": "screen", "userId": "c1", "name": "Home"}), // skipped
            json!({"type": "track", "event": "No one"}), // dead-lettered: no id
            json!({"type": "identify", "userId": "c3", "traits": {"plan": "pro"},
                   "integrations": {"All": false}}), // skipped: opted out
            json!({"type": "identify", "userId": "c3", "traits": {"plan": "pro"}}),
        ];
        let mut outcomes = vec![None; messages.len()];
        let summary = forwarder
            .send_all_with(messages, |i, o| {
                assert!(outcomes[i].is_none(), "message {i} ended twice");
                outcomes[i] = Some(o);
            })
            .await;
        use Outcome::*;
        assert_eq!(
            outcomes,
            [
                Delivered,
                Delivered,
                Delivered,
                Duplicate,
                Skipped,
                DeadLettered,
                Skipped,
                Delivered
            ]
            .map(Some)
        );
        let want = Summary {
            delivered: 4,
            skipped: 2,
            dead_lettered: 1,
            duplicates: 1,
            dropped_fields: 0,
        };
        assert_eq!(summary, want);
        assert_eq!(summary.total(), 8);
        assert_eq!(
            summary.to_string(),
            "delivered=4 skipped=2 dead_lettered=1 duplicates=1 dropped_fields=0"
        );
        assert_eq!(forwarder.summary(), want);
        let stats = forwarder.stats();
        assert_eq!((stats.received, stats.in_flight), (8, 0));
        let seen = occurrences(&mock).await;
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            [("m1".to_string(), 1), ("m2".into(), 1), ("m3".into(), 1)]
        );
        let dead = lines(&dl);
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0]["message"]["event"], "No one");
        assert!(dead[0]["reason"]
            .as_str()
            .unwrap()
            .contains("neither userId nor anonymousId"));
        mock.shutdown().await;
        let _ = std::fs::remove_dir_all(dir);
    });
}

/// A `messageId` is applied once within the window; after the window, or once more than
/// `dedup_capacity` newer ids were seen, it is applied again (the bound keeps memory flat).
#[test]
fn duplicate_suppression_has_a_window_and_a_bound() {
    let rt = runtime();
    rt.block_on(async {
        let mock = MockServer::start().await;
        let forwarder = Forwarder::new(Config {
            dedup_capacity: 2,
            dedup_window: Duration::from_millis(300),
            ..config(&mock)
        })
        .expect("forwarder");
        // Within the window and the bound: once.
        let s = forwarder
            .send_all(vec![track("w", "a"), track("w", "a"), track("w", "b")])
            .await;
        assert_eq!((s.delivered, s.duplicates), (2, 1), "{s}");
        // Two newer ids push `a` out of the bound: applied again.
        let s = forwarder
            .send_all(vec![track("w", "c"), track("w", "a")])
            .await;
        assert_eq!((s.delivered, s.duplicates), (2, 0), "{s}");
        // Still within the window and the bound: `c` and `a` are duplicates now.
        let s = forwarder
            .send_all(vec![track("w", "c"), track("w", "a")])
            .await;
        assert_eq!((s.delivered, s.duplicates), (0, 2), "{s}");
        // After the window: applied again.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let s = forwarder.send_all(vec![track("w", "c")]).await;
        assert_eq!((s.delivered, s.duplicates), (1, 0), "{s}");
        let seen = occurrences(&mock).await;
        assert_eq!(seen["a"], 2);
        assert_eq!(seen["b"], 1);
        assert_eq!(seen["c"], 2);
        mock.shutdown().await;
    });
}

/// A dead-lettered message was not applied, so its `messageId` is forgotten: sending the
/// dead-letter file again (as `send dead.ndjson` does) applies each message once.
#[test]
fn a_dead_letter_is_sent_again_whole_and_applied_once() {
    let rt = runtime();
    rt.block_on(async {
        let mock = MockServer::start().await;
        let dir = scratch("replay");
        let dl = dir.join("dead.ndjson");
        reqwest::Client::new()
            .post(format!("{}/__admin/faults", mock.url()))
            .json(
                &json!({"match": {"path_prefix": "/api/public/users-by-id/"},
                          "effect": {"status": 400, "body": {"detail": "refused for the test"}}}),
            )
            .send()
            .await
            .expect("fault");
        let forwarder = Forwarder::new(Config {
            dead_letter: Some(dl.clone()),
            ..config(&mock)
        })
        .expect("forwarder");
        let s = forwarder
            .send_all(vec![track("r", "d1"), track("r", "d2")])
            .await;
        assert_eq!(s.dead_lettered, 2, "{s}");
        let records = lines(&dl);
        assert_eq!(records.len(), 2);
        for r in &records {
            assert_eq!(r["status"], 400, "{r}");
            assert!(r["call"].as_str().unwrap().contains("/events/"), "{r}");
        }
        reqwest::Client::new()
            .delete(format!("{}/__admin/faults", mock.url()))
            .send()
            .await
            .expect("clear");
        // The file read back as `send` reads it: the records unwrap to the messages.
        let text = std::fs::read(&dl).expect("dead letters");
        let again: Vec<Value> = usercom_forwarder::input::read_file(&text)
            .into_iter()
            .map(|item| match item {
                usercom_forwarder::segment::batch::Item::Message(m) => m,
                other => panic!("a dead letter did not read back as a message: {other:?}"),
            })
            .collect();
        assert_eq!(again, vec![track("r", "d1"), track("r", "d2")]);
        // Only a record (a `message` with a `reason`, and no `type`) is unwrapped: an object
        // that merely holds a `message` is taken as it is (and dead-lettered for its lack of a
        // type), never mistaken for a record and its inner message delivered.
        let wrapper = json!({"message": track("r", "d3"), "note": "not a dead letter"});
        let read = usercom_forwarder::input::read_file(wrapper.to_string().as_bytes());
        assert!(
            matches!(read.as_slice(), [usercom_forwarder::segment::batch::Item::Invalid(bad)]
                if bad.raw == wrapper && bad.code == "missing_type"),
            "{read:?}"
        );
        // Same forwarder: the ids were forgotten when they were dead-lettered.
        let s = forwarder.send_all(again).await;
        assert_eq!((s.delivered, s.duplicates), (2, 0), "{s}");
        let seen = occurrences(&mock).await;
        assert_eq!((seen["d1"], seen["d2"]), (1, 1));
        mock.shutdown().await;
        let _ = std::fs::remove_dir_all(dir);
    });
}

/// A shutdown stops intake at once and, at its deadline, dead-letters what could not be
/// delivered ("shut down before delivery"), so delivered + dead-lettered = accepted.
#[test]
fn a_drain_refuses_new_batches_and_dead_letters_what_is_left() {
    let rt = runtime();
    rt.block_on(async {
        let mock = MockServer::builder()
            .fault(json!({"match": {"path_prefix": "/api/public/"},
                          "effect": {"latency_ms": 150}}))
            .start()
            .await
            .expect("simulator");
        let dir = scratch("drain");
        let dl = dir.join("dead.ndjson");
        let forwarder = Forwarder::new(Config {
            concurrency: 1,
            dead_letter: Some(dl.clone()),
            ..config(&mock)
        })
        .expect("forwarder");
        let batch: Vec<Value> = (0..20).map(|i| track("s", &format!("s{i}"))).collect();
        forwarder.try_accept(batch).expect("accepted");
        assert_eq!(forwarder.stats().received, 20);
        let summary = forwarder.drain(Duration::from_millis(400)).await;
        assert!(
            forwarder.try_accept(vec![track("s", "late")]).is_err(),
            "accepted after the drain began"
        );
        assert_eq!(forwarder.stats().in_flight, 0);
        assert_eq!(summary.delivered + summary.dead_lettered, 20, "{summary}");
        assert!(summary.delivered >= 1, "{summary}");
        assert!(
            summary.dead_lettered >= 1,
            "the deadline should have cut: {summary}"
        );
        let dead = lines(&dl);
        assert_eq!(dead.len() as u64, summary.dead_lettered);
        assert!(dead
            .iter()
            .all(|r| r["reason"].as_str().unwrap().contains("shut down")));
        // Nothing both dead-lettered and applied.
        let seen = occurrences(&mock).await;
        for r in &dead {
            let mid = r["message"]["messageId"].as_str().unwrap();
            assert!(!seen.contains_key(mid), "{mid} dead-lettered and applied");
        }
        assert_eq!(seen.len() as u64, summary.delivered);
        mock.shutdown().await;
        let _ = std::fs::remove_dir_all(dir);
    });
}

/// Input that is not even a message (a bad line of a file) is dead-lettered with its reason and
/// counted; the handle shows its settings, never the API key.
#[test]
fn unreadable_input_is_dead_lettered_and_the_handle_hides_the_key() {
    let rt = runtime();
    rt.block_on(async {
        let mock = MockServer::start().await;
        let dir = scratch("input");
        let dl = dir.join("dead.ndjson");
        let forwarder = Forwarder::new(Config {
            concurrency: 3,
            dead_letter: Some(dl.clone()),
            ..config(&mock)
        })
        .expect("forwarder");
        assert_eq!(forwarder.config().concurrency, 3);
        assert_eq!(forwarder.config().usercom_url, mock.url());
        let shown = format!("{forwarder:?}");
        assert!(
            shown.contains("Forwarder") && shown.contains("concurrency: 3"),
            "{shown}"
        );
        assert!(
            !shown.contains(mock.api_key()),
            "the API key leaked: {shown}"
        );
        forwarder.dead_letter_input(json!("not json {"), "line 3: invalid JSON");
        let stats = forwarder.stats();
        assert_eq!((stats.received, stats.dead_lettered), (1, 1));
        let dead = lines(&dl);
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0]["message"], "not json {");
        assert_eq!(dead[0]["reason"], "line 3: invalid JSON");
        mock.shutdown().await;
        let _ = std::fs::remove_dir_all(dir);
    });
}

/// A transient failure (503, 429 with `Retry-After`, a reset) is retried inside the retry
/// window and the message is delivered once; a permanent one (400) is not retried.
#[test]
fn transient_failures_are_retried_permanent_ones_are_not() {
    let rt = runtime();
    rt.block_on(async {
        let mock = MockServer::start().await;
        let http = reqwest::Client::new();
        for rule in [
            json!({"match": {"path_prefix": "/api/public/users-by-id/t1/"}, "effect": {"status": 503}, "times": 2}),
            json!({"match": {"path_prefix": "/api/public/users-by-id/t2/"}, "effect": {"status": 429, "retry_after": 1}, "times": 1}),
            json!({"match": {"path_prefix": "/api/public/users-by-id/t3/"}, "effect": {"reset": true}, "times": 1}),
            json!({"match": {"path_prefix": "/api/public/users-by-id/t4/"}, "effect": {"status": 400}, "times": 5}),
        ] {
            http.post(format!("{}/__admin/faults", mock.url()))
                .json(&rule)
                .send()
                .await
                .expect("fault");
        }
        let forwarder = Forwarder::new(config(&mock)).expect("forwarder");
        let started = std::time::Instant::now();
        let s = forwarder
            .send_all(vec![
                track("t1", "x1"),
                track("t2", "x2"),
                track("t3", "x3"),
                track("t4", "x4"),
            ])
            .await;
        assert_eq!((s.delivered, s.dead_lettered), (3, 1), "{s}");
        // The 429's Retry-After is a floor: the retry waited at least a second.
        assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
        let seen = occurrences(&mock).await;
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            [("x1".to_string(), 1), ("x2".into(), 1), ("x3".into(), 1)]
        );
        let faults: Value = reqwest::get(format!("{}/__admin/faults", mock.url()))
            .await
            .expect("faults")
            .json()
            .await
            .expect("faults JSON");
        let hits: Vec<u64> = faults["faults"]
            .as_array()
            .expect("faults")
            .iter()
            .map(|f| f["hits"].as_u64().unwrap_or(0))
            .collect();
        // t1: both 503s; t2, t3: one each; t4: the 400 once, never retried.
        assert_eq!(hits, [2, 1, 1, 1]);

        // A failure that never ends is dead-lettered when the retry window closes.
        http.post(format!("{}/__admin/faults", mock.url()))
            .json(&json!({"match": {"path_prefix": "/api/public/users-by-id/t5/"}, "effect": {"status": 503}}))
            .send()
            .await
            .expect("fault");
        let short = Forwarder::new(Config {
            retry_window: Duration::from_millis(300),
            ..config(&mock)
        })
        .expect("forwarder");
        let s = tokio::time::timeout(Duration::from_secs(10), short.send_all(vec![track("t5", "x5")]))
            .await
            .expect("the retry window must end the retries");
        assert_eq!(s.dead_lettered, 1, "{s}");
        mock.shutdown().await;
    });
}

/// The forwarder caches user and company ids; when a cached one is gone at User.com (deleted,
/// an app reset), the next call that uses it finds out (400/404), looks it up again and
/// delivers, instead of dead-lettering the message.
#[test]
fn stale_cached_ids_are_looked_up_again() {
    let rt = runtime();
    rt.block_on(async {
        let mock = MockServer::start().await;
        let http = reqwest::Client::new();
        let forwarder = Forwarder::new(config(&mock)).expect("forwarder");
        let page = |mid: &str| {
            json!({"type": "page", "userId": "cached", "messageId": mid,
                   "properties": {"url": "https://shop.example/x", "title": "X"}})
        };
        let group = |mid: &str| {
            json!({"type": "group", "userId": "cached", "groupId": "gc", "messageId": mid,
                   "traits": {"name": "Cached Co"}})
        };
        let s = forwarder.send_all(vec![page("p1"), group("g1")]).await;
        assert_eq!(s.delivered, 2, "{s}");
        for path in ["users-by-id/cached/", "companies-by-id/gc/"] {
            let r = http
                .delete(format!("{}/api/public/{path}", mock.url()))
                .header("Authorization", format!("Token {}", mock.api_key()))
                .header("Accept", "*/*; version=2")
                .send()
                .await
                .expect("delete");
            assert!(r.status().is_success(), "DELETE {path}: {}", r.status());
        }
        let s = forwarder
            .send_all(vec![page("p2"), group("g2"), track("cached", "t1")])
            .await;
        assert_eq!((s.delivered, s.dead_lettered), (3, 0), "{s}");
        let state: Value = reqwest::get(format!("{}/__admin/state?app=default", mock.url()))
            .await
            .expect("state")
            .json()
            .await
            .expect("state JSON");
        let users: Vec<&Value> = state["users"]
            .as_array()
            .expect("users")
            .iter()
            .filter(|u| u["custom_id"] == "cached")
            .collect();
        assert_eq!(users.len(), 1, "{users:?}");
        assert_eq!(
            users[0]["page_views"], 1,
            "the new user has the one new view"
        );
        let companies: Vec<&Value> = state["companies"]
            .as_array()
            .expect("companies")
            .iter()
            .filter(|c| c["custom_id"] == "gc")
            .collect();
        assert_eq!(companies.len(), 1);
        let member_ids: Vec<&Value> = companies[0]["employees"]
            .as_array()
            .map(|m| m.iter().collect())
            .unwrap_or_default();
        assert_eq!(member_ids.len(), 1, "{:?}", companies[0]);
        mock.shutdown().await;
    });
}

/// One bad field never loses the message, nor do two: each 400 that names a field still in
/// the request drops that field (counted) and sends the rest again.
#[test]
fn each_refused_field_is_dropped_and_the_rest_delivered() {
    let rt = runtime();
    rt.block_on(async {
        let mock = MockServer::start().await;
        let http = reqwest::Client::new();
        for field in ["bad_a", "bad_b"] {
            http.post(format!("{}/__admin/faults", mock.url()))
                .json(&json!({"match": {"method": "POST", "path_prefix": "/api/public/users/update_or_create/"},
                              "effect": {"status": 400, "body": {"field": field, "detail": format!("{field}: refused")}},
                              "times": 1}))
                .send()
                .await
                .expect("fault");
        }
        let forwarder = Forwarder::new(config(&mock)).expect("forwarder");
        let s = forwarder
            .send_all(vec![json!({"type": "identify", "userId": "two-bad",
                "traits": {"bad_a": "x", "bad_b": "y", "plan": "pro"}})])
            .await;
        assert_eq!((s.delivered, s.dead_lettered, s.dropped_fields), (1, 0, 2), "{s}");
        assert_eq!(forwarder.stats().dropped_fields, 2);
        // A run's summary counts its own dropped fields, not the handle's earlier ones.
        let again = forwarder
            .send_all(vec![json!({"type": "identify", "userId": "two-bad", "traits": {"plan": "max"}})])
            .await;
        assert_eq!((again.delivered, again.dropped_fields), (1, 0), "{again}");
        assert_eq!(forwarder.stats().dropped_fields, 2);
        let user: Value = http
            .get(format!("{}/api/public/users-by-id/two-bad/", mock.url()))
            .header("Authorization", format!("Token {}", mock.api_key()))
            .header("Accept", "*/*; version=2")
            .send()
            .await
            .expect("user")
            .json()
            .await
            .expect("user JSON");
        assert_eq!(user["plan"], "max", "{user}");
        assert!(user["bad_a"].is_null() && user["bad_b"].is_null(), "{user}");
        mock.shutdown().await;
    });
}

/// Backoff grows exponentially (with full jitter) inside the retry window: a failure that never
/// ends is tried about a dozen times in a one-second window with a 20 ms base and a 200 ms cap,
/// not hammered (a fixed or zero delay would try a hundred times or more), and is dead-lettered
/// when the window closes.
#[test]
fn retries_back_off_exponentially_until_the_window_closes() {
    let rt = runtime();
    rt.block_on(async {
        let mock = MockServer::start().await;
        let http = reqwest::Client::new();
        http.post(format!("{}/__admin/faults", mock.url()))
            .json(&json!({"match": {"path_prefix": "/api/public/users-by-id/b1/"}, "effect": {"status": 503}}))
            .send()
            .await
            .expect("fault");
        let forwarder = Forwarder::new(Config {
            retry_window: Duration::from_secs(1),
            backoff_base: Duration::from_millis(20),
            backoff_max: Duration::from_millis(200),
            ..config(&mock)
        })
        .expect("forwarder");
        let started = std::time::Instant::now();
        let s = tokio::time::timeout(Duration::from_secs(10), forwarder.send_all(vec![track("b1", "y1")]))
            .await
            .expect("the retry window must end the retries");
        assert_eq!((s.delivered, s.dead_lettered), (0, 1), "{s}");
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        let faults: Value = reqwest::get(format!("{}/__admin/faults", mock.url()))
            .await
            .expect("faults")
            .json()
            .await
            .expect("faults JSON");
        let attempts = faults["faults"][0]["hits"].as_u64().expect("hits");
        // Expected about 12 (delays drawn from 0..=20, 40, 80, 160, then 200 ms).
        assert!(
            (3..=40).contains(&attempts),
            "{attempts} attempts in a 1 s window: the backoff does not grow"
        );
        mock.shutdown().await;
    });
}

/// `--read-back` reads an event back only after an ambiguous failure of it (applied, then the
/// answer lost), and then does not send it again; a failure that says nothing was applied (a
/// 429) and a plain success cost no read-back, and neither do other calls. Without
/// `--read-back`, the lost answer is resent (the documented possible duplicate).
#[test]
fn read_back_only_after_an_ambiguous_failure_of_an_event() {
    let rt = runtime();
    rt.block_on(async {
        let mock = MockServer::start().await;
        let http = reqwest::Client::new();
        for rule in [
            json!({"match": {"method": "POST", "path_prefix": "/api/public/users-by-id/rb1/events/"}, "effect": {"reset": true}, "when": "after", "times": 1}),
            json!({"match": {"method": "POST", "path_prefix": "/api/public/users-by-id/rb2/events/"}, "effect": {"status": 429}, "times": 1}),
            json!({"match": {"method": "POST", "path_prefix": "/api/public/users-by-id/rb5/events/"}, "effect": {"reset": true}, "when": "after", "times": 1}),
        ] {
            let r = http
                .post(format!("{}/__admin/faults", mock.url()))
                .json(&rule)
                .send()
                .await
                .expect("fault");
            assert!(r.status().is_success(), "{rule}: {}", r.status());
        }
        let reading = Forwarder::new(Config {
            read_back: true,
            ..config(&mock)
        })
        .expect("forwarder");
        // The users exist first (an event for an unknown user is answered 404 before anything
        // is recorded, whatever happens to the answer).
        let known: Vec<Value> = ["rb1", "rb2", "rb3", "rb5"]
            .iter()
            .map(|u| json!({"type": "identify", "userId": u, "traits": {"plan": "pro"}}))
            .collect();
        assert_eq!(reading.send_all(known).await.delivered, 4);
        // Read-back matches an occurrence by name, time and data: the events carry their time.
        let timed = |user: &str, mid: &str| {
            let mut m = track(user, mid);
            m["timestamp"] = json!("2026-12-01T10:00:00Z");
            m
        };
        let s = reading
            .send_all(vec![timed("rb1", "z1"), timed("rb2", "z2"), timed("rb3", "z3")])
            .await;
        assert_eq!(s.delivered, 3, "{s}");
        let stats = reading.stats();
        assert_eq!((stats.read_backs, stats.resends_avoided), (1, 1), "{stats:?}");
        // An identify whose answer is lost is sent again, never read back (only events are).
        http.post(format!("{}/__admin/faults", mock.url()))
            .json(&json!({"match": {"method": "POST", "path_prefix": "/api/public/users/update_or_create/"}, "effect": {"reset": true}, "when": "after", "times": 1}))
            .send()
            .await
            .expect("fault");
        let s = reading
            .send_all(vec![json!({"type": "identify", "userId": "rb4", "traits": {"plan": "pro"}})])
            .await;
        assert_eq!(s.delivered, 1, "{s}");
        assert_eq!(reading.stats().read_backs, 1, "{:?}", reading.stats());

        let resending = Forwarder::new(config(&mock)).expect("forwarder");
        let s = resending.send_all(vec![timed("rb5", "z5")]).await;
        assert_eq!(s.delivered, 1, "{s}");
        assert_eq!(resending.stats().read_backs, 0);
        let seen = occurrences(&mock).await;
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            [("z1".to_string(), 1), ("z2".into(), 1), ("z3".into(), 1), ("z5".into(), 2)]
        );
        mock.shutdown().await;
    });
}

/// `wait_idle` (what a drain and `/stats` idle wait on) returns once the last accepted message
/// has ended, also when they end one after another on one user's lane.
#[test]
fn waiting_for_idle_ends_with_the_last_message() {
    let rt = runtime();
    rt.block_on(async {
        let mock = MockServer::builder()
            .fault(json!({"match": {"path_prefix": "/api/public/"},
                          "effect": {"latency_ms": 60}}))
            .start()
            .await
            .expect("simulator");
        let forwarder = Forwarder::new(config(&mock)).expect("forwarder");
        let batch: Vec<Value> = (0..4).map(|i| track("idle", &format!("i{i}"))).collect();
        forwarder.try_accept(batch).expect("accepted");
        assert!(forwarder.stats().in_flight > 0, "{:?}", forwarder.stats());
        tokio::time::timeout(Duration::from_secs(10), forwarder.wait_idle())
            .await
            .expect("wait_idle must return when the last message ends");
        let stats = forwarder.stats();
        assert_eq!((stats.in_flight, stats.delivered), (0, 4), "{stats:?}");
        mock.shutdown().await;
    });
}
