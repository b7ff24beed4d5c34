//! Realistic, messy Segment traffic loses no message: traits named like User.com's typed fields
//! (`status`, `tags`, `score`, ...), invalid emails, values a defined attribute cannot take,
//! camelCase and snake_case of one name, `traits.company`, numeric timestamps, opted-out
//! messages and pages without a URL. Every message ends delivered (possibly with fields left
//! out, counted) or skipped with a reason; nothing is dead-lettered, against the simulator in
//! its default mode and in its strict mode (as strict as User.com's REST API).
//!
//! The expectation is computed from the Segment messages alone, by the destination doc's rules
//! (the harness never imports the forwarder's mapping).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use usercom_forwarder::Forwarder;

use crate::support::{figure, size, Admin, Observed, TempDir};
use crate::zero_loss::fast_config;

/// What the workload expects, counted while it is generated.
#[derive(Default)]
struct Expected {
    /// Messages that must be skipped (opt-outs, pages without a URL).
    skipped: u64,
    /// A lower bound of the fields that must be left out (invalid emails, unconvertible values).
    dropped_at_least: u64,
    /// Users that must exist.
    users: BTreeSet<String>,
    /// (company, user) memberships from `traits.company` and group calls.
    memberships: BTreeSet<(String, String)>,
    /// custom_id → the plan of the user's last identify.
    plan: BTreeMap<String, String>,
}

fn messy(tag: &str, n: usize, seed: u64) -> (Vec<Value>, Expected) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut expected = Expected::default();
    let base_ms = 1_714_557_600_000i64; // 2024-05-01T10:00:00Z
    let messages = (0..n)
        .map(|seq| {
            let user = format!("{tag}-u{}", rng.usize(..n / 10 + 1));
            let mid = format!("{tag}-m{seq}");
            let opt_out = match rng.u8(..40) {
                0 => Some(json!({"All": false})),
                1 => Some(json!({"User.com": false})),
                _ => None,
            };
            let mut message = match rng.u8(..10) {
                0..=3 => {
                    let plan = format!("p{seq}");
                    let invalid_email = rng.u8(..5) == 0;
                    let email = if invalid_email { json!("not an email") } else { json!(format!("{user}@example.com")) };
                    let seats_bad = rng.u8(..4) == 0;
                    let vip_bad = rng.u8(..4) == 0;
                    let status = ["active", "user", "visitor", "churned"][rng.usize(..4)];
                    let mut pick = |values: Vec<Value>| values[rng.usize(..values.len())].clone();
                    let tags = pick(vec![json!("b2b"), json!(["a", "b"]), json!({"x": 1})]);
                    let score = pick(vec![json!(42), json!("high"), json!("7")]);
                    let unsubscribed = pick(vec![json!(false), json!("maybe")]);
                    let notifications = pick(vec![json!(true), json!(3)]);
                    let mut traits = json!({
                        "email": email, "firstName": "Ada", "plan": plan,
                        "status": status,
                        "tags": tags,
                        "score": score,
                        "unsubscribed": unsubscribed,
                        "notifications": notifications,
                        "assigned_to": "alice", "company_custom_id": "c-x",
                        "createdAt": "2024-01-15T10:00:00Z", "created_at": "2024-01-16",
                        "seats": if seats_bad { json!("many") } else { json!(rng.u8(..50)) },
                        "vip": if vip_bad { json!("yes") } else { json!(rng.bool()) },
                        "planName": "pro", "Favourite Colour": "teal",
                    });
                    let with_company = rng.u8(..4) == 0;
                    let company = format!("{tag}-tc{}", rng.usize(..5));
                    if with_company {
                        traits["company"] = json!({"id": company, "name": "Traits Co", "industry": "Retail"});
                    }
                    if opt_out.is_none() {
                        expected.users.insert(user.clone());
                        expected.plan.insert(user.clone(), plan);
                        expected.dropped_at_least +=
                            u64::from(invalid_email) + u64::from(seats_bad) + u64::from(vip_bad);
                        if with_company {
                            expected.memberships.insert((company, user.clone()));
                        }
                    }
                    json!({"type": "identify", "userId": user, "messageId": mid,
                           "timestamp": base_ms + seq as i64, "traits": traits})
                }
                4..=5 => {
                    let has_url = rng.u8(..5) != 0;
                    let mut properties = json!({"title": mid, "referrer": "https://google.com/"});
                    if has_url {
                        properties["url"] = json!(format!("https://shop.example.com/p/{seq}"));
                    }
                    if opt_out.is_none() {
                        if has_url {
                            expected.users.insert(user.clone());
                        } else {
                            expected.skipped += 1;
                        }
                    }
                    json!({"type": "page", "userId": user, "messageId": mid, "name": "Pricing",
                           "originalTimestamp": "2024-05-01T11:00:00Z", "sentAt": "2024-05-01T11:00:01Z",
                           "receivedAt": "2024-05-01T10:00:01Z", "properties": properties,
                           "category": "Docs"})
                }
                6..=8 => {
                    if opt_out.is_none() {
                        expected.users.insert(user.clone());
                    }
                    json!({"type": "track", "userId": user, "messageId": mid,
                           "timestamp": (base_ms / 1000) + seq as i64,
                           "event": "Order Completed",
                           "properties": {"mid": mid, "revenue": "12.50", "items": [{"sku": 1}]}})
                }
                _ => {
                    let company = format!("{tag}-c{}", rng.usize(..10));
                    let employees = [json!("lots"), json!(12)][rng.usize(..2)].clone();
                    if opt_out.is_none() {
                        expected.users.insert(user.clone());
                        expected.memberships.insert((company.clone(), user.clone()));
                        // `employees: "lots"` cannot be a company size: left out, counted.
                        expected.dropped_at_least += u64::from(employees.is_string());
                    }
                    json!({"type": "group", "userId": user, "groupId": company, "messageId": mid,
                           "traits": {"name": "Acme", "tags": "b2b", "employees": employees,
                                      "status": "active", "foundedAt": "1999"}})
                }
            };
            if let Some(integrations) = opt_out {
                message["integrations"] = integrations;
                expected.skipped += 1;
            }
            message
        })
        .collect();
    (messages, expected)
}

async fn run(strict: bool) {
    let n = size(5_000, 1_000);
    let mock = usercom_mock::MockServer::builder()
        .journal_capacity(200_000)
        .strict(strict)
        .start()
        .await
        .expect("start the simulator");
    let admin = Admin::new(&mock.url());
    // Two attributes the app defines itself: values that do not fit them are dropped.
    for (name, value_type) in [("seats", "integer"), ("vip", "boolean")] {
        let response = crate::support::http()
            .post(format!("{}/attributes/", mock.api_url()))
            .header("authorization", format!("Token {}", mock.api_key()))
            .header("accept", "*/*; version=2")
            .json(&json!({"name": name, "value_type": value_type, "content_type": "clientuser"}))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "define {name}: {}",
            response.status()
        );
    }
    let tag = if strict { "fs" } else { "fd" };
    let (messages, expected) = messy(tag, n, 12);
    let dir = TempDir::new("fidelity");
    let dl = dir.join("dead-letters.ndjson");
    let forwarder = Forwarder::new(fast_config(&mock.url(), mock.api_key(), dl.clone())).unwrap();
    let summary = forwarder.send_all(messages).await;
    let stats = forwarder.stats();

    let dead = crate::support::dead_letters(&dl);
    assert_eq!(
        summary.dead_lettered,
        0,
        "strict={strict}: {summary}; first: {:?}",
        dead.first()
    );
    assert_eq!(
        summary.skipped, expected.skipped,
        "strict={strict}: {summary}"
    );
    assert_eq!(
        summary.delivered + summary.skipped,
        n as u64,
        "strict={strict}: {summary}"
    );
    assert!(
        stats.dropped_fields >= expected.dropped_at_least,
        "strict={strict}: {} dropped, at least {} expected",
        stats.dropped_fields,
        expected.dropped_at_least
    );

    let state = admin.state("default").await;
    let observed = Observed::from_state(&state);
    let missing: Vec<&String> = expected
        .users
        .iter()
        .filter(|u| !observed.users.contains_key(*u))
        .collect();
    assert!(
        missing.is_empty(),
        "strict={strict}: users never created: {missing:?}"
    );
    assert_eq!(observed.duplicate_users(), 0);
    let lost: Vec<_> = expected
        .memberships
        .difference(&observed.memberships)
        .collect();
    assert!(
        lost.is_empty(),
        "strict={strict}: memberships lost: {lost:?}"
    );
    for (user, plan) in &expected.plan {
        assert_eq!(
            observed.plan.get(user),
            Some(&json!(plan)),
            "strict={strict}: plan of {user}"
        );
    }
    // The typed standard fields kept their types; what did not fit is under segment_*.
    for u in state["users"].as_array().unwrap() {
        for field in ["status", "score", "unsubscribed", "notifications"] {
            let v = &u[field];
            assert!(
                !v.is_string() || field == "status",
                "strict={strict}: {field} = {v}"
            );
        }
    }
    figure(
        if strict {
            "fidelity_strict"
        } else {
            "fidelity_default"
        },
        json!({"messages": n, "delivered": summary.delivered, "skipped": summary.skipped,
               "dead_lettered": summary.dead_lettered, "dropped_fields": stats.dropped_fields,
               "users": observed.users.len(), "memberships": observed.memberships.len()}),
    );
}

#[tokio::test]
async fn messy_traffic_loses_no_message_default_mode() {
    run(false).await;
}

#[tokio::test]
async fn messy_traffic_loses_no_message_strict_mode() {
    run(true).await;
}
