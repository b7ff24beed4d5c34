//! Property tests: the pure reference model (`usercom_conformance::model`) is the oracle.
//!
//! Each property keeps one tokio runtime and one simulator for all its cases; each case gets a
//! fresh app, so cases never see each other's state. `PROPTEST_CASES` sets the number of cases
//! (default [`DEFAULT_CASES`], small enough for `cargo test --workspace` on two cores).

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, FileFailurePersistence};
use serde_json::{json, Map, Value};
use usercom_conformance::model::{Kind, Model, ValueType};
use usercom_conformance::sim::{App, Sim};
use usercom_mock::MockServer;

use crate::support::runtime;

const DEFAULT_CASES: u32 = 12;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    ProptestConfig {
        cases,
        // Each case is real HTTP through the forwarder; shrinking stays useful but bounded.
        max_shrink_iters: 64,
        // The one regressions file of these properties: `conformance/proptest-regressions/
        // properties.txt` (relative to the package root, where `cargo test` runs the binary).
        // Its seeds re-run before new cases; commit the lines proptest adds to it.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/properties.txt",
        ))),
        ..ProptestConfig::default()
    }
}

/// One runtime and one simulator per test binary, shared by the properties (fresh app per case).
struct Env {
    rt: tokio::runtime::Runtime,
    sim: Sim,
    _mock: MockServer,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let rt = runtime();
        let mock = rt.block_on(MockServer::start());
        let sim = Sim::new(&mock.url());
        Env {
            rt,
            sim,
            _mock: mock,
        }
    })
}

fn forwarder_config(sim: &Sim, app: &App, concurrency: usize) -> usercom_forwarder::Config {
    let mut c = usercom_forwarder::Config::new(sim.origin(), &app.api_key);
    c.concurrency = concurrency;
    c.retry_window = Duration::from_secs(5);
    c.backoff_base = Duration::from_millis(10);
    c.backoff_max = Duration::from_millis(100);
    c
}

async fn send(
    sim: &Sim,
    app: &App,
    msgs: Vec<Value>,
    concurrency: usize,
) -> usercom_forwarder::Summary {
    usercom_forwarder::Forwarder::new(forwarder_config(sim, app, concurrency))
        .expect("forwarder")
        .send_all(msgs)
        .await
}

// ------------------------------------------------------------------------------ generators

const USER_KEYS: &[&str] = &[
    "p_plan", "p_rank", "p_vip", "p_since", "p_born", "p_meta", "p_ratio",
];
const COMPANY_KEYS: &[&str] = &["c_seats", "c_tier"];
const EVENT_KEYS: &[&str] = &["e_amount", "e_sku"];
const EVENTS: &[&str] = &["Order Completed", "Signed Up"];

fn value_type() -> impl Strategy<Value = ValueType> {
    prop_oneof![
        Just(ValueType::Boolean),
        Just(ValueType::Integer),
        Just(ValueType::Float),
        Just(ValueType::Date),
        Just(ValueType::Datetime),
        Just(ValueType::String),
        Just(ValueType::Fixed(vec!["gold".into(), "silver".into()])),
        Just(ValueType::Json),
    ]
}

/// Trait values of every JSON type, biased towards the interesting conversions.
fn trait_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-1000i64..100_000).prop_map(Value::from),
        prop::sample::select(vec![0.5f64, 1.5, -2.25, 10.75]).prop_map(Value::from),
        prop::sample::select(vec![
            "123",
            " 42 ",
            "abc",
            "true",
            "FALSE",
            "1",
            "0",
            "2024-05-01",
            "2024-05-01T10:00:00Z",
            "gold",
            "bronze",
            "żółć",
        ])
        .prop_map(Value::from),
        Just(json!({"a": 1, "b": [true, null]})),
        Just(json!([1, "x"])),
    ]
}

fn traits(keys: &'static [&'static str]) -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(prop::sample::select(keys.to_vec()), trait_value(), 0..4)
        .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// Who sends a message: userId, anonymousId or both, from small pools so ids are shared.
fn who() -> impl Strategy<Value = (Option<u8>, Option<u8>)> {
    prop_oneof![
        (0u8..4).prop_map(|u| (Some(u), None)),
        (0u8..3).prop_map(|a| (None, Some(a))),
        (0u8..4, 0u8..3).prop_map(|(u, a)| (Some(u), Some(a))),
    ]
}

#[derive(Clone, Debug)]
enum Op {
    Identify {
        who: (Option<u8>, Option<u8>),
        email: Option<u8>,
        traits: Map<String, Value>,
    },
    Page {
        who: (Option<u8>, Option<u8>),
        hour: u32,
    },
    Track {
        who: (Option<u8>, Option<u8>),
        event: u8,
        props: Map<String, Value>,
        hour: u32,
    },
    Group {
        who: (Option<u8>, Option<u8>),
        group: u8,
        traits: Map<String, Value>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (who(), prop::option::of(0u8..2), traits(USER_KEYS)).prop_map(|(who, email, traits)| Op::Identify { who, email, traits }),
        2 => (who(), 0u32..2000).prop_map(|(who, hour)| Op::Page { who, hour }),
        2 => (who(), 0u8..2, traits(EVENT_KEYS), 0u32..2000).prop_map(|(who, event, props, hour)| Op::Track { who, event, props, hour }),
        1 => (who(), 0u8..2, traits(COMPANY_KEYS)).prop_map(|(who, group, traits)| Op::Group { who, group, traits }),
    ]
}

fn defs() -> impl Strategy<Value = Vec<(Kind, String, ValueType)>> {
    let user =
        prop::collection::btree_map(prop::sample::select(USER_KEYS.to_vec()), value_type(), 0..5);
    let company = prop::collection::btree_map(
        prop::sample::select(COMPANY_KEYS.to_vec()),
        value_type(),
        0..2,
    );
    let event = prop::collection::btree_map(
        prop::sample::select(EVENT_KEYS.to_vec()),
        value_type(),
        0..2,
    );
    (user, company, event).prop_map(|(u, c, e)| {
        let mut out = Vec::new();
        out.extend(u.into_iter().map(|(k, t)| (Kind::User, k.to_string(), t)));
        out.extend(
            c.into_iter()
                .map(|(k, t)| (Kind::Company, k.to_string(), t)),
        );
        out.extend(e.into_iter().map(|(k, t)| (Kind::Event, k.to_string(), t)));
        out
    })
}

fn ts(hour: u32) -> String {
    let base = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap();
    (base
        + chrono::Duration::hours(i64::from(hour))
        + chrono::Duration::seconds(i64::from(hour % 60)))
    .with_timezone(&chrono::Utc)
    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Turns ops into Segment messages with ids unique to this case (`pfx`).
fn messages(pfx: &str, ops: &[Op]) -> Vec<Value> {
    ops.iter()
        .enumerate()
        .map(|(i, op)| {
            let (who, mut m) = match op {
                Op::Identify { who, email, traits } => {
                    let mut t = traits.clone();
                    if let Some(e) = email {
                        t.insert("email".into(), json!(format!("e{e}@example.com")));
                    }
                    (who, json!({"type": "identify", "traits": t, "timestamp": ts(0)}))
                }
                Op::Page { who, hour } => (
                    who,
                    json!({"type": "page", "timestamp": ts(*hour), "properties": {"url": "https://shop.example.com/p", "path": "/p"}}),
                ),
                Op::Track { who, event, props, hour } => (
                    who,
                    json!({"type": "track", "event": EVENTS[*event as usize], "properties": props, "timestamp": ts(*hour)}),
                ),
                Op::Group { who, group, traits } => {
                    let mut t = traits.clone();
                    t.insert("name".into(), json!(format!("Company {group}")));
                    (who, json!({"type": "group", "groupId": format!("{pfx}-g{group}"), "traits": t, "timestamp": ts(0)}))
                }
            };
            m["messageId"] = json!(format!("{pfx}-m{i}"));
            if let Some(u) = who.0 {
                m["userId"] = json!(format!("{pfx}-u{u}"));
            }
            if let Some(a) = who.1 {
                m["anonymousId"] = json!(format!("{pfx}-a{a}"));
            }
            m
        })
        .collect()
}

/// Companies whose custom attributes only one user wrote (others may end with any writer's value).
fn single_writer_companies(msgs: &[Value]) -> BTreeSet<String> {
    let mut writers: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for m in msgs.iter().filter(|m| m["type"] == "group") {
        let cid = m["userId"]
            .as_str()
            .or_else(|| m["anonymousId"].as_str())
            .unwrap_or_default();
        writers
            .entry(m["groupId"].as_str().unwrap_or_default().to_string())
            .or_default()
            .insert(cid.to_string());
    }
    writers
        .into_iter()
        .filter(|(_, w)| w.len() == 1)
        .map(|(g, _)| g)
        .collect()
}

// ------------------------------------------------------------------------------ properties

proptest! {
    #![proptest_config(config())]

    /// Arbitrary sequences through the forwarder into the simulator end in the model's state.
    #[test]
    fn simulator_state_matches_the_reference_model(defs in defs(), ops in prop::collection::vec(op(), 1..16)) {
        let env = env();
        let diffs = env.rt.block_on(async {
            let app = env.sim.create_app().await.expect("app");
            for (kind, name, t) in &defs {
                let choices: Vec<String> = match t { ValueType::Fixed(c) => c.clone(), _ => vec![] };
                env.sim.define_attribute(&app.api_key, name, t.api_name(), kind.content_type(), &choices).await.expect("define");
            }
            let msgs = messages(&app.name, &ops);
            let mut model = Model::with_defs(defs.clone());
            model.apply_all(&msgs);
            let summary = send(&env.sim, &app, msgs.clone(), 8).await;
            assert_eq!(summary.dead_lettered, 0, "nothing should be dead-lettered: {summary}");
            let seen = env.sim.observe(&app.api_key, model.users.keys()).await.expect("read state");
            model.compare(&seen, &single_writer_companies(&msgs))
        });
        prop_assert!(diffs.is_empty(), "simulator differs from the model:\n{}", diffs.join("\n"));
    }

    /// Page views delivered in any order give the same `page_views` and `last_seen`.
    #[test]
    fn shuffled_page_views_give_the_same_counts_and_last_seen(
        views in prop::collection::vec((0u8..3, 0u32..5000), 1..20).prop_shuffle(),
        seed in any::<u64>(),
    ) {
        let env = env();
        let (a, b, model) = env.rt.block_on(async {
            let ops: Vec<Op> = views.iter().map(|(u, h)| Op::Page { who: (Some(*u), None), hour: *h }).collect();
            let mut shuffled = ops.clone();
            fastrand::Rng::with_seed(seed).shuffle(&mut shuffled);
            let mut out = Vec::new();
            let mut model = Model::default();
            for ops in [ops, shuffled] {
                let app = env.sim.create_app().await.expect("app");
                // Same ids in both apps, so the states compare directly.
                let msgs = messages("shuffle", &ops);
                if out.is_empty() { model.apply_all(&msgs); }
                send(&env.sim, &app, msgs, 8).await;
                let users = env.sim.users(&app.api_key).await.expect("users");
                let mut view: Vec<(String, Value, Value)> = users.iter().map(|u| (
                    u["custom_id"].as_str().unwrap_or_default().to_string(),
                    u["page_views"].clone(),
                    json!(usercom_conformance::expect::parse_instant(&u["last_seen"]).map(|t| t.to_rfc3339())),
                )).collect();
                view.sort_by(|x, y| x.0.cmp(&y.0));
                out.push(view);
            }
            (out.remove(0), out.remove(0), model)
        });
        prop_assert_eq!(&a, &b);
        for (cid, pv, ls) in &a {
            let want = &model.users[cid];
            prop_assert_eq!(pv.as_u64(), Some(want.page_views));
            prop_assert_eq!(ls, &json!(want.last_seen.map(|t| t.to_rfc3339())));
        }
    }

    /// Several forwarders delivering at once never make two users with one custom id, nor two
    /// companies with one groupId.
    #[test]
    fn concurrency_never_duplicates_users_or_companies(
        ops in prop::collection::vec(prop_oneof![
            (0u8..3).prop_map(|u| Op::Identify { who: (Some(u), None), email: None, traits: Map::new() }),
            (0u8..3, 0u8..2).prop_map(|(u, g)| Op::Group { who: (Some(u), None), group: g, traits: Map::new() }),
            (0u8..3).prop_map(|u| Op::Page { who: (Some(u), None), hour: 1 }),
        ], 2..24),
        parts in 2usize..5,
    ) {
        let env = env();
        let (users, companies, model, dead, refused) = env.rt.block_on(async {
            let app = env.sim.create_app().await.expect("app");
            let msgs = messages(&app.name, &ops);
            let mut model = Model::default();
            model.apply_all(&msgs);
            // Round-robin split: each forwarder has its own caches and locks, so only the
            // simulator's atomicity and the forwarder's handling of races stand between them.
            let mut chunks = vec![Vec::new(); parts];
            for (i, m) in msgs.into_iter().enumerate() { chunks[i % parts].push(m); }
            let summaries = futures::future::join_all(chunks.into_iter().map(|c| send(&env.sim, &app, c, 8))).await;
            // The refused requests, to explain a failure.
            let refused: Vec<String> = env.sim.journal(&app.name).await.expect("journal").iter()
                .filter(|e| e["status"].as_u64().is_some_and(|s| s >= 400 && s != 404))
                .map(|e| format!("{} {} -> {} (sent {})", e["method"], e["path"], e["status"], e["body"]))
                .collect();
            let dead: u64 = summaries.iter().map(|s| s.dead_lettered).sum();
            (env.sim.users(&app.api_key).await.expect("users"), env.sim.companies(&app.api_key).await.expect("companies"), model, dead, refused)
        });
        let ids = |v: &[Value]| v.iter().map(|x| x["custom_id"].as_str().unwrap_or_default().to_string()).collect::<Vec<_>>();
        let mut user_ids = ids(&users);
        user_ids.sort();
        let mut unique = user_ids.clone();
        unique.dedup();
        prop_assert_eq!(&unique, &user_ids, "duplicate users");
        let mut company_ids = ids(&companies);
        company_ids.sort();
        let mut unique = company_ids.clone();
        unique.dedup();
        prop_assert_eq!(&unique, &company_ids, "duplicate companies");
        // And nothing lost to the race: every message delivered, every user and company there.
        prop_assert_eq!(dead, 0, "messages dead-lettered under concurrency; refused requests: {:#?}", refused);
        let want: Vec<String> = model.users.keys().cloned().collect();
        prop_assert_eq!(user_ids, want, "users (sorted custom ids)");
        let want: Vec<String> = model.companies.keys().cloned().collect();
        prop_assert_eq!(company_ids, want, "companies (sorted custom ids)");
    }
}

/// Arbitrary JSON, up to a small depth.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        prop::sample::select(vec![
            "identify", "track", "page", "group", "screen", "alias", "batch", "type", "userId"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    prop::sample::select(vec![
                        "type",
                        "userId",
                        "anonymousId",
                        "batch",
                        "traits",
                        "event",
                        "groupId",
                        "timestamp",
                        "properties",
                        "context",
                        "messageId"
                    ])
                    .prop_map(String::from),
                    ".{0,6}",
                ],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The ingress used by the fuzzing property: started once, pointed at the shared simulator.
fn ingress_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let env = env();
        env.rt.block_on(async {
            let app = env.sim.create_app().await.expect("app");
            let ingress = usercom_forwarder::ingress::Ingress::start(
                "127.0.0.1:0".parse().unwrap(),
                forwarder_config(&env.sim, &app, 8),
            )
            .await
            .expect("ingress");
            let url = ingress.url();
            // Kept running for the whole test binary.
            std::mem::forget(ingress);
            url
        })
    })
}

fn check_answer(status: u16, body: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        status == 200 || status == 400,
        "status {status}, body {body}"
    );
    if status == 400 {
        let v: Value = serde_json::from_str(body)
            .map_err(|e| TestCaseError::fail(format!("400 body is not JSON ({e}): {body}")))?;
        let reason = v.get("message").and_then(Value::as_str).unwrap_or_default();
        prop_assert!(!reason.trim().is_empty(), "400 without a reason: {body}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: config().cases * 8, ..config() })]

    /// Arbitrary bytes into the ingress: 200, or 400 with a reason; never a 500.
    #[test]
    fn ingress_answers_arbitrary_bytes_with_200_or_400(
        body in prop::collection::vec(any::<u8>(), 0..600),
        path in prop::sample::select(vec!["/v1/batch", "/v1/identify", "/v1/track", "/v1/page", "/v1/group", "/v1/screen", "/v1/alias"]),
    ) {
        let url = ingress_url();
        let env = env();
        let (status, text) = env.rt.block_on(async {
            let r = reqwest::Client::new().post(format!("{url}{path}")).header("Content-Type", "application/json").body(body).send().await.expect("send");
            let s = r.status().as_u16();
            (s, r.text().await.unwrap_or_default())
        });
        check_answer(status, &text)?;
    }

    /// Arbitrary JSON into the ingress, bare or inside a batch envelope: 200, or 400 with a reason.
    #[test]
    fn ingress_answers_arbitrary_json_with_200_or_400(
        value in arb_json(),
        wrap in any::<bool>(),
        path in prop::sample::select(vec!["/v1/batch", "/v1/identify", "/v1/track", "/v1/page", "/v1/group"]),
    ) {
        let url = ingress_url();
        let env = env();
        let body = if wrap { json!({"batch": [value]}) } else { value };
        let (status, text) = env.rt.block_on(async {
            let r = reqwest::Client::new().post(format!("{url}{path}")).json(&body).send().await.expect("send");
            let s = r.status().as_u16();
            (s, r.text().await.unwrap_or_default())
        });
        check_answer(status, &text)?;
    }
}
