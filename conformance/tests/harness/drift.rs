//! Drift tools without the internet: a second simulator, started with two deliberate
//! differences, stands in for the real User.com app. `api-check` and `record` + `replay` must
//! each report exactly those differences, and nothing against an unaltered simulator.
//!
//! The two differences, as fault rules applied *after* the request (so the data changes exactly
//! as in the unaltered simulator and only the answers differ):
//! * a status: `POST /site-views/` answers 200 instead of 201 (the body keeps its shape);
//! * a shape: `POST /users-by-id/{cid}/events/` answers `{"id": "evt-1", "created": true}`, a
//!   string where the id is a number.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use usercom_conformance::drift::{api_check, replay};
use usercom_conformance::sim::App;
use usercom_conformance::snapshot::load_fixture;
use usercom_conformance::target::{InProcess, Target};
use usercom_mock::record::{RecordOptions, Recorder};
use usercom_mock::MockServer;

use crate::support::runtime;

const SITE_VIEWS: &str = "/api/public/site-views/";
const USERS_BY_ID: &str = "/api/public/users-by-id/";

fn altered_rules() -> Vec<Value> {
    vec![
        json!({
            "match": {"method": "POST", "path_prefix": SITE_VIEWS},
            "when": "after",
            "effect": {"status": 200, "body": {
                "client_user": "abcdefghijkl", "id": 1, "page_domain": "https://example.com/",
                "page_path": "/", "timestamp": "2030-01-01T00:00:00.000000Z", "title": null
            }}
        }),
        json!({
            "match": {"method": "POST", "path_prefix": USERS_BY_ID},
            "when": "after",
            "effect": {"status": 201, "body": {"id": "evt-1", "created": true}}
        }),
    ]
}

async fn simulator(strict: bool, altered: bool) -> MockServer {
    let mut b = MockServer::builder()
        .listen(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .strict(strict);
    if altered {
        for rule in altered_rules() {
            b = b.fault(rule);
        }
    }
    b.start().await.expect("simulator starts")
}

async fn api_check_of(
    mock: &MockServer,
    allow_writes: bool,
) -> usercom_conformance::drift::report::DriftReport {
    api_check::run(&api_check::Options {
        url: mock.url(),
        api_key: mock.api_key().to_string(),
        allow_writes,
        filter: None,
        run_id: Some("t1".into()),
    })
    .await
    .expect("api-check runs")
}

#[test]
fn api_check_passes_against_the_simulator_in_both_modes() {
    let rt = runtime();
    for strict in [false, true] {
        let report = rt.block_on(async {
            let mock = simulator(strict, false).await;
            let report = api_check_of(&mock, true).await;
            // Clean-up: the users and companies it made are gone.
            let users = reqwest::Client::new()
                .get(format!("{}/users/", mock.api_url()))
                .header("Authorization", format!("Token {}", mock.api_key()))
                .header("Accept", "*/*; version=2")
                .send()
                .await
                .expect("GET /users/")
                .json::<Value>()
                .await
                .expect("JSON");
            assert_eq!(users["count"], 0, "users left behind: {users}");
            mock.shutdown().await;
            report
        });
        let table = report.table();
        assert!(report.ok(), "strict={strict}\n{table}");
        assert!(
            report.rows.len() >= 45,
            "{} checks\n{table}",
            report.rows.len()
        );
        assert!(
            report
                .rows
                .iter()
                .all(|r| r.outcome == usercom_conformance::drift::report::Outcome::Pass),
            "a check was skipped\n{table}"
        );
    }
}

#[test]
fn api_check_reports_exactly_the_altered_behaviours() {
    let rt = runtime();
    let report = rt.block_on(async {
        let mock = simulator(false, true).await;
        let report = api_check_of(&mock, true).await;
        mock.shutdown().await;
        report
    });
    let table = report.table();
    assert_eq!(
        report.failed_ids(),
        vec!["events_by_custom_id_answer", "site_views_create_is_201"],
        "\n{table}"
    );
    // A documented check failing means the service changed; a GUESS failing, our simulator.
    assert!(
        table.contains(
            "FAIL events_by_custom_id_answer: documented behaviour not seen: the service changed"
        ),
        "{table}"
    );
    assert!(
        table.contains("`id` expected number, found string \"evt-1\""),
        "{table}"
    );
    assert!(
        table.contains(
            "FAIL site_views_create_is_201: GUESS not confirmed: our simulator is wrong here"
        ),
        "{table}"
    );
    assert!(
        table.contains("POST /api/public/site-views/: expected status 201, found 200"),
        "{table}"
    );
    let junit = report.junit();
    assert!(junit.contains("failures=\"2\""), "{junit}");
}

#[test]
fn api_check_without_writes_changes_nothing() {
    let rt = runtime();
    rt.block_on(async {
        let mock = simulator(false, false).await;
        let report = api_check_of(&mock, false).await;
        assert!(report.ok(), "{}", report.table());
        let skipped = report
            .rows
            .iter()
            .filter(|r| {
                matches!(
                    r.outcome,
                    usercom_conformance::drift::report::Outcome::Skipped(_)
                )
            })
            .count();
        assert!(
            skipped > 20 && skipped < report.rows.len(),
            "{}",
            report.table()
        );
        // Nothing was written: the app's journal holds only GETs and the one refused PUT.
        let journal: Value = reqwest::Client::new()
            .get(format!("{}/__admin/requests?app=default", mock.url()))
            .send()
            .await
            .expect("journal")
            .json()
            .await
            .expect("JSON");
        for entry in journal["requests"].as_array().expect("requests") {
            let status = entry["status"].as_u64().unwrap_or(0);
            assert!(
                entry["method"] == "GET" || status >= 400,
                "a write went through: {entry}"
            );
        }
        mock.shutdown().await;
    });
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/segment");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/segment")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() > 10, "fixtures missing: {}", files.len());
    files
}

/// Records our forwarder's traffic for every fixture, sent through `record` to `upstream`.
async fn record_fixtures(upstream: &MockServer, dir: &Path) -> u64 {
    let recorder = Recorder::start(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        RecordOptions::new(upstream.url(), dir),
    )
    .await
    .expect("recorder starts");
    let app = App {
        name: "default".into(),
        api_key: upstream.api_key().to_string(),
    };
    let target = Target::InProcess(InProcess::new().with_concurrency(1));
    for path in fixtures() {
        let messages = load_fixture(&path).expect("fixture");
        target
            .deliver(&recorder.url(), &app, messages)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let n = recorder.recorded();
    recorder.shutdown().await;
    n
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "usercom-drift-{name}-{}-{}",
        std::process::id(),
        fastrand::u32(..)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn record_then_replay_against_a_fresh_simulator_reports_no_difference() {
    let rt = runtime();
    let dir = scratch("same");
    let (recorded, key, report) = rt.block_on(async {
        let upstream = simulator(false, false).await;
        let n = record_fixtures(&upstream, &dir).await;
        let key = upstream.api_key().to_string();
        upstream.shutdown().await;
        let report = replay::replay(&replay::Options {
            dir: dir.clone(),
            strict: false,
        })
        .await
        .expect("replay runs");
        (n, key, report)
    });
    assert!(recorded > 50, "only {recorded} exchanges recorded");
    assert_eq!(report.rows.len() as u64, recorded);
    assert!(report.ok(), "{}", report.table());
    // The key never reaches the files.
    for entry in std::fs::read_dir(&dir).expect("dir") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("file");
        assert!(!text.contains(&key), "the API key was recorded: {text}");
        assert!(text.contains("Token [redacted]"), "{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replay_of_an_altered_upstream_reports_exactly_the_altered_exchanges() {
    let rt = runtime();
    let dir = scratch("altered");
    let report = rt.block_on(async {
        let upstream = simulator(false, true).await;
        record_fixtures(&upstream, &dir).await;
        upstream.shutdown().await;
        replay::replay(&replay::Options {
            dir: dir.clone(),
            strict: false,
        })
        .await
        .expect("replay runs")
    });
    // The exchanges the two rules changed, from the recording itself.
    let exchanges = replay::load(&dir).expect("recording");
    let altered =
        |e: &replay::Exchange, prefix: &str| e.method == "POST" && e.path.starts_with(prefix);
    let expected: Vec<String> = exchanges
        .iter()
        .filter(|e| altered(e, SITE_VIEWS) || altered(e, USERS_BY_ID))
        .map(|e| format!("{:04}", e.seq))
        .collect();
    assert!(
        exchanges.iter().any(|e| altered(e, SITE_VIEWS)),
        "no site view recorded"
    );
    assert!(
        exchanges.iter().any(|e| altered(e, USERS_BY_ID)),
        "no event recorded"
    );
    let table = report.table();
    assert_eq!(report.failed_ids(), expected, "\n{table}");
    let (mut shapes, mut refusals_replaced) = (0, 0);
    for e in &exchanges {
        let Some(row) = report.row(&format!("{:04}", e.seq)) else {
            panic!("exchange {} not reported", e.seq)
        };
        let usercom_conformance::drift::report::Outcome::Fail { details, .. } = &row.outcome else {
            continue;
        };
        if altered(e, SITE_VIEWS) {
            assert_eq!(
                details,
                &["status: recorded 200, simulator 201"],
                "exchange {}",
                e.seq
            );
        } else if details[0] == "status: recorded 201, simulator 404" {
            // An event for a user who did not exist yet: the rule replaced that 404 too.
            refusals_replaced += 1;
        } else {
            assert_eq!(
                details,
                &["shape: $.id: string expected, found number (recorded vs simulator)"],
                "exchange {}",
                e.seq
            );
            shapes += 1;
        }
    }
    assert!(
        shapes > 0,
        "no event exchange with only the shape difference"
    );
    eprintln!("{shapes} event answers differ in shape, {refusals_replaced} replaced a 404");
    assert!(report
        .junit()
        .contains(&format!("failures=\"{}\"", expected.len())));
    let _ = std::fs::remove_dir_all(&dir);
}
