//! Faults *after* the simulator applied a request (its response replaced by a 503, or the
//! connection reset): the forwarder cannot know the write happened and retries it. Users and
//! companies must never be duplicated (update_or_create is idempotent; the forwarder looks a
//! company up before creating it); occurrences and site views have no idempotency key in
//! User.com's API, so a retried one may be stored twice. The test measures those duplicates and
//! proves nothing delivered is missing; a second run does the same with `--read-back`
//! (`Config::read_back`), which lists the user's events before resending one, and measures
//! what is left and what the reads cost.

use std::time::{Duration, Instant};

use serde_json::json;
use usercom_forwarder::Forwarder;

use crate::support::{self, dead_letter_ids, dead_letters, figure, size, Admin, Observed, TempDir};
use crate::workload::{self, Expected};
use crate::zero_loss::{fast_config, hits_by_kind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_after_apply_never_duplicate_users_or_companies_and_duplicates_are_measured() {
    let run = run(false).await;
    // Bound: a request is repeated only after a fault, so duplicates never exceed faults fired.
    assert!(
        run.dup_occ + run.dup_views <= run.fired,
        "{} + {} duplicates from {} faults",
        run.dup_occ,
        run.dup_views,
        run.fired
    );
}

/// With `read_back`, an event whose answer was lost is looked for before it is sent again: no
/// occurrence is doubled (site views have no read, so they still may be), nothing is lost, and
/// the cost is one events listing per ambiguous event failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_back_mode_leaves_no_duplicated_occurrence() {
    let run = run(true).await;
    assert_eq!(run.dup_occ, 0, "occurrences doubled despite the read-back");
    assert!(
        run.stats.read_backs > 0,
        "no read-back happened: the test proves nothing"
    );
    assert!(
        run.stats.resends_avoided > 0 && run.stats.resends_avoided <= run.stats.read_backs,
        "{:?}",
        run.stats
    );
    assert!(run.dup_views <= run.fired);
    // Each check is one GET of the user's events here (few events per user: one page).
    assert_eq!(run.event_listings, run.stats.read_backs);
}

struct Run {
    fired: u64,
    dup_occ: u64,
    dup_views: u64,
    stats: usercom_forwarder::Stats,
    event_listings: u64,
}

async fn run(read_back: bool) -> Run {
    let n = size(3_000, 1_000);
    let mock = support::start_mock(&[]).await;
    let admin = Admin::new(&mock.url());
    for rule in [
        json!({"match": {"path_prefix": "/api/public/"}, "when": "after",
               "effect": {"status": 503, "body": {"detail": "injected: response lost"}},
               "probability": 0.06, "seed": 301}),
        json!({"match": {"path_prefix": "/api/public/"}, "when": "after",
               "effect": {"reset": true},
               "probability": 0.04, "seed": 302}),
    ] {
        admin.add_fault(rule).await;
    }
    // Companies are few and shared by many users: the read-before-create path is exercised hard.
    let messages = workload::mixed("aa", n, n / 10, 5, 9);
    let dir = TempDir::new("after-apply");
    let dl = dir.join("dead-letters.ndjson");
    let config = usercom_forwarder::Config {
        read_back,
        ..fast_config(&mock.url(), mock.api_key(), dl.clone())
    };
    let forwarder = Forwarder::new(config).expect("forwarder");

    let start = Instant::now();
    let summary = tokio::time::timeout(
        Duration::from_secs(120),
        forwarder.send_all(messages.clone()),
    )
    .await
    .expect("send_all ended within 120 s");
    let elapsed = start.elapsed();
    let hits = hits_by_kind(&admin).await;
    let fired = admin.fault_hits().await;
    admin.clear_faults().await;

    assert_eq!(summary.total(), n as u64, "every message ends: {summary}");
    let records = dead_letters(&dl);
    assert_eq!(records.len() as u64, summary.dead_lettered);
    assert!(fired > 0, "no fault fired: the test proves nothing");
    let dead_ids = dead_letter_ids(&records);
    let (delivered, dead) = workload::split(&messages, &dead_ids);
    let want = Expected::of(delivered.iter().copied());
    let observed = Observed::from_state(&admin.state("default").await);

    // Never duplicated, whatever the faults.
    assert_eq!(observed.duplicate_users(), 0, "users duplicated");
    assert_eq!(observed.duplicate_companies(), 0, "companies duplicated");
    // Nothing delivered is missing.
    let users: std::collections::BTreeSet<_> = observed.users.keys().cloned().collect();
    assert!(want.users.is_subset(&users), "a delivered user is missing");
    for mid in &want.event_mids {
        assert!(
            observed.event_mids.contains_key(mid),
            "delivered track {mid} has no occurrence"
        );
    }
    for mid in &want.view_mids {
        assert!(
            observed.view_mids.contains_key(mid),
            "delivered page {mid} has no site view"
        );
    }
    assert!(
        want.memberships.is_subset(&observed.memberships),
        "a delivered membership is missing"
    );
    for (user, plan) in &want.plan {
        assert_eq!(
            observed.plan.get(user).and_then(|v| v.as_str()),
            Some(plan.as_str()),
            "the last identify of {user} did not win"
        );
    }
    // Counters stay consistent with what is stored, duplicates included.
    let stored: std::collections::BTreeMap<_, _> = observed
        .page_views
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    assert_eq!(
        stored, observed.site_views,
        "page_views vs stored site views"
    );

    // Dead letters whose write nevertheless happened (the last attempt's answer was lost).
    let applied_dead = dead
        .iter()
        .filter(|m| {
            let mid = m["messageId"].as_str().unwrap_or("");
            observed.event_mids.contains_key(mid) || observed.view_mids.contains_key(mid)
        })
        .count();
    let dup_occ = observed.duplicated_occurrences();
    let dup_views = observed.duplicated_site_views();
    let stats = forwarder.stats();
    let journal = admin.journal().await;
    let requests = journal.len() as u64;
    let event_listings = journal
        .iter()
        .filter(|e| {
            e["method"] == "GET" && e["path"].as_str().is_some_and(|p| p.ends_with("/events/"))
        })
        .count() as u64;
    figure(
        if read_back {
            "faults_after_apply_read_back"
        } else {
            "faults_after_apply"
        },
        json!({
            "read_back": read_back, "api_requests": requests, "event_listings": event_listings,
            "read_backs": stats.read_backs, "resends_avoided": stats.resends_avoided,
            "events": n, "delivered": summary.delivered, "dead_lettered": summary.dead_lettered,
            "faults_fired": fired, "faults_by_kind": hits,
            "tracks_delivered": want.event_mids.len(), "pages_delivered": want.view_mids.len(),
            "duplicated_occurrences": dup_occ, "duplicated_site_views": dup_views,
            "duplicated_users": observed.duplicate_users(),
            "duplicated_companies": observed.duplicate_companies(),
            "dead_lettered_but_applied": applied_dead,
            "seconds": elapsed.as_secs_f64(),
        }),
    );
    Run {
        fired,
        dup_occ,
        dup_views,
        stats,
        event_listings,
    }
}
