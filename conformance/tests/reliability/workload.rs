//! A reproducible mixed workload (identify, page, track, group over many users and companies) and
//! what the simulator must hold once a given subset of it was delivered.
//!
//! The expectation is computed here from the Segment messages alone (the harness never imports
//! the forwarder's mapping): every delivered message makes its user exist; a page adds one page
//! view, a track one occurrence, a group one membership; the last delivered identify of a user
//! sets its `plan`. Each page and track carries its `messageId` (page title, event data `mid`),
//! so an applied-twice request is visible per message.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::support::Observed;

/// Event names used by the workload's tracks.
const EVENTS: [&str; 4] = [
    "Order Completed",
    "Signed Up",
    "Product Viewed",
    "Trial Started",
];

/// `n` messages over `users` users and `companies` companies, every id prefixed with `tag`;
/// `seed` fixes the mix. Roughly 30 % identify, 30 % page, 30 % track, 10 % group.
pub fn mixed(tag: &str, n: usize, users: usize, companies: usize, seed: u64) -> Vec<Value> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let base = 1_714_557_600i64; // 2024-05-01T10:00:00Z
    (0..n)
        .map(|seq| {
            let user = format!("{tag}-u{}", rng.usize(..users.max(1)));
            let mid = format!("{tag}-m{seq}");
            let ts = chrono::DateTime::from_timestamp(base + seq as i64, 0)
                .expect("a valid timestamp")
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            match rng.u8(..10) {
                0..=2 => json!({
                    "type": "identify", "userId": user, "messageId": mid, "timestamp": ts,
                    "traits": {"plan": format!("p{seq}"), "email": format!("{user}@example.com")},
                }),
                3..=5 => json!({
                    "type": "page", "userId": user, "messageId": mid, "timestamp": ts,
                    "name": "Pricing",
                    "properties": {"url": format!("https://shop.example.com/p/{seq}"), "title": mid},
                }),
                6..=8 => json!({
                    "type": "track", "userId": user, "messageId": mid, "timestamp": ts,
                    "event": EVENTS[rng.usize(..EVENTS.len())],
                    "properties": {"mid": mid, "revenue": seq},
                }),
                _ => json!({
                    "type": "group", "userId": user, "messageId": mid, "timestamp": ts,
                    "groupId": format!("{tag}-c{}", rng.usize(..companies.max(1))),
                    "traits": {"name": format!("Company of {seq}")},
                }),
            }
        })
        .collect()
}

/// What a set of delivered messages must leave in the simulator.
#[derive(Debug, Default)]
pub struct Expected {
    pub users: BTreeSet<String>,
    pub page_views: BTreeMap<String, u64>,
    pub events: BTreeMap<(String, String), u64>,
    pub event_mids: BTreeSet<String>,
    pub view_mids: BTreeSet<String>,
    pub companies: BTreeSet<String>,
    pub memberships: BTreeSet<(String, String)>,
    pub plan: BTreeMap<String, String>,
}

impl Expected {
    /// The effect of `delivered`, in input order.
    pub fn of<'a>(delivered: impl IntoIterator<Item = &'a Value>) -> Expected {
        let mut e = Expected::default();
        for m in delivered {
            let user = m["userId"].as_str().unwrap_or("").to_string();
            let mid = m["messageId"].as_str().unwrap_or("").to_string();
            e.users.insert(user.clone());
            match m["type"].as_str() {
                Some("identify") => {
                    if let Some(plan) = m["traits"]["plan"].as_str() {
                        e.plan.insert(user, plan.to_string());
                    }
                }
                Some("page") => {
                    *e.page_views.entry(user).or_default() += 1;
                    e.view_mids.insert(mid);
                }
                Some("track") => {
                    let name = m["event"].as_str().unwrap_or("").to_string();
                    *e.events.entry((user, name)).or_default() += 1;
                    e.event_mids.insert(mid);
                }
                Some("group") => {
                    let group = m["groupId"].as_str().unwrap_or("").to_string();
                    e.companies.insert(group.clone());
                    e.memberships.insert((group, user));
                }
                _ => {}
            }
        }
        e
    }
}

/// Splits `messages` by whether their `messageId` is in `dead`.
pub fn split<'a>(
    messages: &'a [Value],
    dead: &BTreeSet<String>,
) -> (Vec<&'a Value>, Vec<&'a Value>) {
    messages
        .iter()
        .partition(|m| !dead.contains(m["messageId"].as_str().unwrap_or("")))
}

/// Exact reconciliation when every fault struck *before* the request was applied.
///
/// Page views, occurrences and memberships must equal what the delivered messages cause, exactly
/// (a page or track is applied by its last request, so a dead-lettered one left nothing; a
/// dead-lettered group may have created its company and user, never the membership). Users and
/// companies must be those of delivered messages, plus at most those that dead-lettered messages
/// created before failing, and never twice.
pub fn reconcile_exact(
    what: &str,
    observed: &Observed,
    delivered: &[&Value],
    dead: &[&Value],
) -> Vec<String> {
    let want = Expected::of(delivered.iter().copied());
    let partial = Expected::of(dead.iter().copied());
    let mut problems = Vec::new();
    let mut check = |ok: bool, text: String| {
        if !ok {
            problems.push(format!("{what}: {text}"));
        }
    };

    check(
        observed.duplicate_users() == 0,
        format!("{} duplicated users", observed.duplicate_users()),
    );
    check(
        observed.duplicate_companies() == 0,
        format!("{} duplicated companies", observed.duplicate_companies()),
    );
    let users: BTreeSet<String> = observed.users.keys().cloned().collect();
    let missing: Vec<_> = want.users.difference(&users).take(5).collect();
    check(missing.is_empty(), format!("users missing: {missing:?}"));
    let extra: Vec<_> = users
        .iter()
        .filter(|u| !want.users.contains(*u) && !partial.users.contains(*u))
        .take(5)
        .collect();
    check(extra.is_empty(), format!("users nobody sent: {extra:?}"));

    let page_views: BTreeMap<String, u64> = observed
        .page_views
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    check(
        page_views == want.page_views,
        format!(
            "page_views differ: {} observed vs {} expected in total; first differences {:?}",
            observed.total_page_views(),
            want.page_views.values().sum::<u64>(),
            first_differences(&page_views, &want.page_views)
        ),
    );
    check(
        observed.site_views == page_views,
        "stored site views differ from page_views".into(),
    );
    check(
        observed.events == want.events,
        format!(
            "occurrences differ: {} observed vs {} expected; first differences {:?}",
            observed.occurrences(),
            want.events.values().sum::<u64>(),
            first_differences(&observed.events, &want.events)
        ),
    );
    check(
        observed.event_mids.keys().cloned().collect::<BTreeSet<_>>() == want.event_mids
            && observed.event_mids.values().all(|n| *n == 1),
        "occurrences are not exactly one per delivered track".into(),
    );
    check(
        observed.view_mids.keys().cloned().collect::<BTreeSet<_>>() == want.view_mids
            && observed.view_mids.values().all(|n| *n == 1),
        "site views are not exactly one per delivered page".into(),
    );
    check(
        observed.memberships == want.memberships,
        format!(
            "memberships differ: {} observed vs {} expected",
            observed.memberships.len(),
            want.memberships.len()
        ),
    );
    let companies: BTreeSet<String> = observed.companies.keys().cloned().collect();
    check(
        want.companies.is_subset(&companies)
            && companies
                .iter()
                .all(|c| want.companies.contains(c) || partial.companies.contains(c)),
        format!(
            "companies differ: {} observed vs {} expected",
            companies.len(),
            want.companies.len()
        ),
    );
    let wrong_plans: Vec<_> = want
        .plan
        .iter()
        .filter(|(u, p)| observed.plan.get(*u).and_then(Value::as_str) != Some(p.as_str()))
        .take(5)
        .collect();
    check(
        wrong_plans.is_empty(),
        format!("last identify did not win (order broken) for {wrong_plans:?}"),
    );
    problems
}

fn first_differences<K: Ord + Clone + std::fmt::Debug>(
    a: &BTreeMap<K, u64>,
    b: &BTreeMap<K, u64>,
) -> Vec<(K, u64, u64)> {
    let keys: BTreeSet<&K> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let (x, y) = (
                a.get(k).copied().unwrap_or(0),
                b.get(k).copied().unwrap_or(0),
            );
            (x != y).then(|| (k.clone(), x, y))
        })
        .take(5)
        .collect()
}
