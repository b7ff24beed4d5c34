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
        Just(ValueType::Fixed(vec![
            "gold".into(),
            "silver".into(),
            "1".into(),
            "true".into()
        ])),
        Just(ValueType::Json),
    ]
}

/// Trait values of every JSON type, made to hit the edges of the conversion table
/// (`docs/CONVERSIONS.md`) on purpose: numeric strings with exponents, decimals, signs and
/// whitespace, non-ASCII digits, huge and out-of-range numbers, `1.0`/`0`, dates and datetimes
/// in every accepted (and some refused) format, fractional unix seconds, nulls, nested objects.
fn trait_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::from),
        2 => prop::sample::select(edge_numbers()),
        4 => prop::sample::select(edge_strings()).prop_map(Value::from),
        1 => prop::sample::select(vec![
            json!({"a": 1, "b": [true, null]}),
            json!([1, "x"]),
            json!({"x": {"y": [1, {"z": null}]}}),
            json!(["gold"]),
            json!({}),
        ]),
        1 => (-1000i64..100_000).prop_map(Value::from),
        // Floats of up to 12 significant digits: serde_json without `float_roundtrip` (the
        // workspace's build) may read a 17-digit float 1 ULP off, which changes its text on
        // every JSON hop (found by this property; see docs/CONVERSIONS.md).
        1 => (-1_000_000_000i64..1_000_000_000).prop_map(|n| Value::from(n as f64 / 1000.0)),
    ]
}

fn edge_numbers() -> Vec<Value> {
    vec![
        json!(0),
        json!(1),
        json!(-1),
        json!(0.0),
        json!(1.0),
        json!(0.5),
        json!(4.0),
        json!(-2.25),
        json!(1.5),
        json!(1e3),
        json!(1e19),
        json!(1e20),
        json!(1e300),
        json!(1_700_000_000),
        json!(1_700_000_000.123),
        json!(-1.5),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(9_223_372_036_854_775_808u64),
    ]
}

fn edge_strings() -> Vec<&'static str> {
    vec![
        "123",
        " 42 ",
        "\u{a0}7\u{a0}",
        "4.0",
        "1e3",
        "1.5e1",
        "+7",
        "-0",
        ".5",
        "2.5",
        "abc",
        "",
        "true",
        "FALSE",
        " True ",
        "1",
        "0",
        "1.0",
        "yes",
        "NaN",
        "inf",
        "1e400",
        "\u{664}\u{662}",
        "9223372036854775807",
        "9223372036854775808",
        "0x10",
        "1_000",
        "2024-05-01",
        " 2024-05-01 ",
        "2024-5-1",
        "2024-05-01T10:00:00Z",
        "2024-05-01T23:30:00-05:00",
        "2024-05-01T10:00:00",
        "2024-05-01 10:00:00",
        "2024-05-01T10:00:00.123456Z",
        "1700000000",
        "gold",
        "silver",
        "bronze",
        "żółć",
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
        /// One of [`standard_traits`] (the last one is a full `context` instead).
        std: Option<u8>,
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
        3 => (who(), prop::option::of(0u8..2), traits(USER_KEYS), prop::option::of(0u8..4)).prop_map(|(who, email, traits, std)| Op::Identify { who, email, traits, std }),
        2 => (who(), 0u32..2000).prop_map(|(who, hour)| Op::Page { who, hour }),
        2 => (who(), 0u8..2, traits(EVENT_KEYS), 0u32..2000).prop_map(|(who, event, props, hour)| Op::Track { who, event, props, hour }),
        1 => (who(), 0u8..2, traits(COMPANY_KEYS), prop::option::of((trait_value(), any::<bool>()))).prop_map(|(who, group, mut traits, semantic)| {
            if let Some((employees, with_address)) = semantic {
                traits.insert("employees".into(), employees);
                traits.insert("phone".into(), json!("+48 22 000 00 00"));
                traits.insert("description".into(), json!("Anvils"));
                traits.insert("email".into(), json!("office@acme.example"));
                if with_address {
                    traits.insert("address".into(), json!({"street": "Prosta 20", "city": "Warsaw", "state": "Mazowieckie", "postalCode": "00-850", "country": "Poland"}));
                }
            }
            Op::Group { who, group, traits }
        }),
    ]
}

/// Standard identify traits in the spellings the doc and design.md name (the index is
/// `Op::Identify::std`; index 3 sends a full context instead).
fn standard_traits(i: u8) -> Value {
    match i {
        0 => {
            json!({"first_name": "Ada", "last_name": "Lovelace", "phone": "+48 22 123 45 67", "gender": "f",
                    "address": {"street": "Marszałkowska 1", "city": "Warsaw", "state": "Mazowieckie", "postalCode": "00-001", "country": "Poland"}})
        }
        1 => {
            json!({"firstName": "Grace", "lastName": null, "last_name": "Hopper", "gender": "MALE"})
        }
        2 => {
            json!({"name": "Ada King Lovelace", "gender": "x", "address": {"region": "Małopolskie", "city": "Kraków"}})
        }
        _ => json!({}),
    }
}

fn full_context() -> Value {
    json!({
        "ip": "203.0.113.7",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "locale": "pl-PL",
        "timezone": "Europe/Warsaw",
        "os": {"name": "Windows", "version": "10"},
        "device": {"name": "Work laptop", "type": "desktop"},
        "screen": {"width": 1920, "height": 1080},
        "page": {"url": "https://shop.example.com/ctx", "path": "/ctx"}
    })
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
                Op::Identify { who, email, traits, std } => {
                    let mut t = traits.clone();
                    if let Some(Value::Object(s)) = std.map(standard_traits) {
                        t.extend(s);
                    }
                    if let Some(e) = email {
                        t.insert("email".into(), json!(format!("e{e}@example.com")));
                    }
                    let mut m = json!({"type": "identify", "traits": t, "timestamp": ts(0)});
                    if *std == Some(3) {
                        m["context"] = full_context();
                    }
                    (who, m)
                }
                // Title from properties.title on even hours, from the page name on odd ones.
                Op::Page { who, hour } => (
                    who,
                    if hour % 2 == 0 {
                        json!({"type": "page", "name": "Shop", "timestamp": ts(*hour), "properties": {"url": format!("https://shop.example.com/p{}", hour % 3), "path": "/p", "title": "Product"}})
                    } else {
                        json!({"type": "page", "name": "Shop", "timestamp": ts(*hour), "properties": {"url": "https://shop.example.com/p", "path": "/p"}})
                    },
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
        let diffs = state_against_model(false, defs, &ops);
        prop_assert!(diffs.is_empty(), "simulator differs from the model:\n{}", diffs.join("\n"));
    }

    /// The same against the simulator's strict mode (as strict as User.com's REST API): the
    /// forwarder must create every custom attribute and convert every value itself, since the
    /// strict simulator neither auto-creates nor converts.
    #[test]
    fn strict_simulator_state_matches_the_reference_model(defs in defs(), ops in prop::collection::vec(op(), 1..16)) {
        let diffs = state_against_model(true, defs, &ops);
        prop_assert!(diffs.is_empty(), "strict simulator differs from the model:\n{}", diffs.join("\n"));
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
            (0u8..3, traits(USER_KEYS)).prop_map(|(u, traits)| Op::Identify { who: (Some(u), None), email: None, traits, std: None }),
            (0u8..3, 0u8..2, traits(COMPANY_KEYS)).prop_map(|(u, g, traits)| Op::Group { who: (Some(u), None), group: g, traits }),
            (0u8..3).prop_map(|u| Op::Page { who: (Some(u), None), hour: 1 }),
        ], 2..24),
        parts in 2usize..5,
        // Strict: the forwarders also race to create the same attribute definitions.
        strict in any::<bool>(),
    ) {
        let env = env();
        let (users, companies, model, dead, refused) = env.rt.block_on(async {
            let app = env.sim.create_app_in(strict).await.expect("app");
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

/// Sends `ops` through the forwarder into a fresh app (strict or not) with `defs` defined, and
/// returns the differences between the simulator's state and the reference model's.
fn state_against_model(
    strict: bool,
    defs: Vec<(Kind, String, ValueType)>,
    ops: &[Op],
) -> Vec<String> {
    // The REST API has no event attribute definitions: the strict simulator refuses the
    // content type `event`, and stores event data as sent.
    let defs: Vec<_> = defs
        .into_iter()
        .filter(|(kind, _, _)| !strict || *kind != Kind::Event)
        .collect();
    let env = env();
    env.rt.block_on(async {
        let app = env.sim.create_app_in(strict).await.expect("app");
        for (kind, name, t) in &defs {
            let choices: Vec<String> = match t {
                ValueType::Fixed(c) => c.clone(),
                _ => vec![],
            };
            env.sim
                .define_attribute(
                    &app.api_key,
                    name,
                    t.api_name(),
                    kind.content_type(),
                    &choices,
                    false,
                )
                .await
                .expect("define");
        }
        let msgs = messages(&app.name, ops);
        let mut model = Model::with_defs(defs);
        model.strict = strict;
        model.apply_all(&msgs);
        let summary = send(&env.sim, &app, msgs.clone(), 8).await;
        assert_eq!(
            summary.dead_lettered, 0,
            "nothing should be dead-lettered (strict={strict}): {summary}"
        );
        let seen = env
            .sim
            .observe(&app, model.users.keys())
            .await
            .expect("read state");
        model.compare(&seen, &single_writer_companies(&msgs))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: config().cases * 4, ..config() })]

    /// The model and the simulator agree on every (type, value) pair the generators produce:
    /// each pair is sent straight to the simulator (REST, no forwarder) as one attribute of one
    /// user, defined with that type (or not defined: a new string attribute), and read back.
    #[test]
    fn conversion_table_matches_the_simulator(
        pairs in prop::collection::vec((prop::option::of(value_type()), trait_value()), 1..24),
    ) {
        let env = env();
        let diffs = env.rt.block_on(async {
            let app = env.sim.create_app().await.expect("app");
            let mut body = Map::new();
            body.insert("custom_id".into(), json!("u"));
            let mut model = Model::default();
            for (i, (t, v)) in pairs.iter().enumerate() {
                let name = format!("a{i}");
                if let Some(t) = t {
                    let choices = match t { ValueType::Fixed(c) => c.clone(), _ => Vec::new() };
                    env.sim.define_attribute(&app.api_key, &name, t.api_name(), "clientuser", &choices, false).await.expect("define");
                    model.defs.insert((Kind::User, name.clone()), t.clone());
                }
                body.insert(name, v.clone());
            }
            env.sim.upsert_user(&app.api_key, &Value::Object(body.clone())).await.expect("upsert");
            let mut traits = body.clone();
            traits.remove("custom_id");
            model.apply(&json!({"type": "identify", "userId": "u", "traits": traits}));
            let seen = env.sim.observe(&app, model.users.keys()).await.expect("read state");
            let mut diffs = Vec::new();
            diffs.extend(model.compare(&seen, &BTreeSet::new()));
            // A value the model ignores must not be stored either (compare only sees expected keys).
            let got = seen.users.iter().find(|u| u["custom_id"] == "u").cloned().unwrap_or_default();
            let want = &model.users["u"];
            for (i, (t, v)) in pairs.iter().enumerate() {
                let name = format!("a{i}");
                if !want.attrs.contains_key(&name) && !got[&name].is_null() {
                    let t = t.clone().unwrap_or(ValueType::String);
                    let d = format!("user u: {name} ({}) from {v}: expected ignored, found {}", t.api_name(), got[&name]);
                    diffs.push(d);
                }
            }
            diffs
        });
        prop_assert!(diffs.is_empty(), "simulator and model differ on the conversion table:\n{}\npairs: {:?}", diffs.join("\n"), pairs);
    }
}

/// Every edge value of the generators, against every type, in one deterministic sweep (the
/// property above samples; this one makes sure no edge value is left out of any run).
#[test]
fn conversion_table_sweep_matches_the_simulator() {
    conversion_sweep(false);
}

/// The same sweep through the forwarder into the strict simulator, which converts nothing: what
/// lands is the forwarder's own conversion (`src/mapping/convert.rs`), judged by the same table.
#[test]
fn conversion_table_sweep_through_the_forwarder_matches_the_model() {
    conversion_sweep(true);
}

/// `via_forwarder`: an identify through the forwarder into a strict app; else the values go
/// straight to the simulator (REST) in a default app.
fn conversion_sweep(via_forwarder: bool) {
    let env = env();
    let types = [
        ValueType::Boolean,
        ValueType::Integer,
        ValueType::Float,
        ValueType::Date,
        ValueType::Datetime,
        ValueType::String,
        ValueType::Fixed(vec![
            "gold".into(),
            "silver".into(),
            "1".into(),
            "true".into(),
        ]),
        ValueType::Json,
    ];
    let values: Vec<Value> = edge_numbers()
        .into_iter()
        .chain(edge_strings().into_iter().map(Value::from))
        .chain([
            Value::Null,
            json!(true),
            json!(false),
            json!({"a": [1, null]}),
            json!(["gold"]),
        ])
        .collect();
    let diffs = env.rt.block_on(async {
        let mut diffs = Vec::new();
        for t in &types {
            let app = env.sim.create_app_in(via_forwarder).await.expect("app");
            let choices = match t {
                ValueType::Fixed(c) => c.clone(),
                _ => Vec::new(),
            };
            let mut model = Model::default();
            let mut body = Map::new();
            body.insert("custom_id".into(), json!("u"));
            for (i, v) in values.iter().enumerate() {
                let name = format!("a{i}");
                env.sim
                    .define_attribute(
                        &app.api_key,
                        &name,
                        t.api_name(),
                        "clientuser",
                        &choices,
                        false,
                    )
                    .await
                    .expect("define");
                model.defs.insert((Kind::User, name.clone()), t.clone());
                body.insert(name, v.clone());
            }
            if via_forwarder {
                let mut traits = body.clone();
                traits.remove("custom_id");
                let msg = json!({"type": "identify", "userId": "u", "traits": traits});
                let dl =
                    std::env::temp_dir().join(format!("sweep-dead-{}.ndjson", fastrand::u64(..)));
                let mut config = forwarder_config(&env.sim, &app, 1);
                config.dead_letter = Some(dl.clone());
                let summary = usercom_forwarder::Forwarder::new(config)
                    .expect("forwarder")
                    .send_all(vec![msg])
                    .await;
                let dead = std::fs::read_to_string(&dl).unwrap_or_default();
                let _ = std::fs::remove_file(&dl);
                assert_eq!(summary.delivered, 1, "{}: {summary}: {dead}", t.api_name());
            } else {
                env.sim
                    .upsert_user(&app.api_key, &Value::Object(body.clone()))
                    .await
                    .expect("upsert");
            }
            model.apply(&json!({"type": "identify", "userId": "u", "traits": body}));
            let seen = env
                .sim
                .observe(&app, model.users.keys())
                .await
                .expect("read state");
            let got = seen
                .users
                .iter()
                .find(|u| u["custom_id"] == "u")
                .cloned()
                .unwrap_or_default();
            let want = &model.users["u"];
            for (i, v) in values.iter().enumerate() {
                let name = format!("a{i}");
                let w = want.attrs.get(&name);
                let g = Some(&got[&name]).filter(|g| !g.is_null());
                let same = match (w, g) {
                    (None, None) => true,
                    (Some(w), Some(g)) => match t {
                        ValueType::Datetime => {
                            usercom_conformance::expect::parse_instant(w)
                                == usercom_conformance::expect::parse_instant(g)
                        }
                        _ => usercom_conformance::expect::json_eq(w, g),
                    },
                    _ => false,
                };
                if !same {
                    let d = format!("{} from {v}: model {w:?}, simulator {g:?}", t.api_name());
                    diffs.push(d);
                }
            }
        }
        diffs
    });
    assert!(
        diffs.is_empty(),
        "simulator and model differ:\n{}",
        diffs.join("\n")
    );
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
