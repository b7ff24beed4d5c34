//! The catalogue end to end: in process (everything must pass), against our own ingress in
//! external mode (everything must pass in one shared app), and against a wrong forwarder (the
//! report must name the failing cases with expected vs found).

use std::time::Duration;

use usercom_conformance::runner::{
    run_external, run_in_process, run_in_process_with, selected_cases, ExternalOptions, RunOptions,
};
use usercom_conformance::target::InProcess;

use usercom_conformance::Report;

use crate::support::{free_addr, runtime, start_wrong_forwarder};

/// Cases written ahead of a forwarder rule (design.md, "The forwarder") may be listed here while
/// the rule is being built: they may fail, and a listed case that passes is reported so the list
/// shrinks. Empty: every case must pass.
pub const AWAITING_FORWARDER: &[&str] = &[];

/// Every case passes except those [`AWAITING_FORWARDER`]; prints which of those pass already.
pub fn assert_passes_but_awaiting(report: &Report) {
    assert_eq!(report.cases.len(), selected_cases(None).len());
    let unexpected: Vec<&str> = report
        .cases
        .iter()
        .filter(|c| !c.passed() && !AWAITING_FORWARDER.contains(&c.id.as_str()))
        .map(|c| c.id.as_str())
        .collect();
    assert!(
        unexpected.is_empty(),
        "failing cases: {unexpected:?}\n{}",
        report.table()
    );
    let now_passing: Vec<&str> = report
        .cases
        .iter()
        .filter(|c| c.passed() && AWAITING_FORWARDER.contains(&c.id.as_str()))
        .map(|c| c.id.as_str())
        .collect();
    if !now_passing.is_empty() {
        eprintln!(
            "awaited cases that pass now (remove them from AWAITING_FORWARDER): {now_passing:?}"
        );
    }
    for id in AWAITING_FORWARDER {
        assert!(
            report.case(id).is_some(),
            "AWAITING_FORWARDER names {id}, which is not in the catalogue"
        );
    }
}

#[test]
fn whole_catalogue_passes_in_process() {
    let report = runtime()
        .block_on(run_in_process(&RunOptions::default()))
        .expect("the harness runs");
    assert_passes_but_awaiting(&report);
}

/// The same catalogue against the simulator's strict mode (as strict as User.com's REST API):
/// a forwarder that passes only because the default simulator creates attributes, converts
/// values or ignores a missing version header fails here.
#[test]
fn whole_catalogue_passes_in_process_against_the_strict_simulator() {
    let opts = RunOptions {
        strict: true,
        ..RunOptions::default()
    };
    let report = runtime()
        .block_on(run_in_process(&opts))
        .expect("the harness runs");
    assert!(
        report.target.contains("strict simulator"),
        "{}",
        report.target
    );
    let expected = usercom_conformance::catalogue::catalogue().len()
        - usercom_conformance::catalogue::DEFAULT_MODE_ONLY.len();
    assert_eq!(report.cases.len(), expected);
    let failed: Vec<&str> = report
        .cases
        .iter()
        .filter(|c| !c.passed())
        .map(|c| c.id.as_str())
        .collect();
    assert!(
        failed.is_empty(),
        "strict mode: {failed:?}\n{}",
        report.table()
    );
}

#[test]
fn whole_catalogue_passes_in_process_through_our_ingress() {
    // Through an ingress of our forwarder per case (an app per case, concurrently; kept across
    // the case's steps and drained at the end), refusing at once when full: the accept path (`try_accept`) is under test, so an ingress
    // that answers 200 and queues nothing fails every case.
    let in_process = InProcess::new().through_ingress(true);
    let report = runtime()
        .block_on(run_in_process_with(&RunOptions::default(), in_process))
        .expect("the harness runs");
    assert!(report.target.contains("ingress"), "{}", report.target);
    assert_passes_but_awaiting(&report);
}

#[test]
fn whole_catalogue_passes_against_our_ingress_in_external_mode() {
    let rt = runtime();
    rt.block_on(async {
        let mock_addr = free_addr();
        let key = "ext-key-ours";
        let mut config = usercom_forwarder::Config::new(format!("http://{mock_addr}"), key);
        config.retry_window = Duration::from_secs(5);
        config.backoff_base = Duration::from_millis(20);
        config.backoff_max = Duration::from_millis(200);
        let ingress =
            usercom_forwarder::ingress::Ingress::start("127.0.0.1:0".parse().unwrap(), config)
                .await
                .expect("ingress starts");
        let ext = ExternalOptions {
            forwarder_url: ingress.url(),
            mock_listen: mock_addr,
            api_key: key.into(),
            write_key: None,
        };
        let report = run_external(&ext, &RunOptions::default())
            .await
            .expect("the harness runs");
        ingress.shutdown().await;
        assert_passes_but_awaiting(&report);
    });
}

#[test]
fn a_wrong_forwarder_fails_with_the_case_and_expected_vs_found() {
    let rt = runtime();
    rt.block_on(async {
        let mock_addr = free_addr();
        let key = "ext-key-wrong";
        let (url, task) = start_wrong_forwarder(format!("http://{mock_addr}"), key.into()).await;
        let ext = ExternalOptions {
            forwarder_url: url,
            mock_listen: mock_addr,
            api_key: key.into(),
            write_key: None,
        };
        let opts = RunOptions {
            timeout: Duration::from_secs(2),
            ..RunOptions::default()
        };
        let report = run_external(&ext, &opts).await.expect("the harness runs");
        task.abort();

        // It does create users for identify, so that case holds...
        let created = report
            .case("unknown_user_created_by_identify")
            .expect("case ran");
        assert!(created.passed(), "{}", report.table());
        // ...but it drops traits: the email case fails, naming the field, the expected value and
        // what the simulator holds instead.
        let email = report.case("identify_trait_email").expect("case ran");
        assert!(!email.passed());
        let f = &email.failures[0];
        assert!(f.check.contains("email"), "{f:?}");
        assert_eq!(f.expected, "\"ada@example.com\"");
        assert_eq!(f.found, "absent");
        // Pages never reach User.com: the user is never created.
        let page = report
            .case("unknown_user_created_by_page")
            .expect("case ran");
        assert!(
            page.failures.iter().any(|f| f.found.contains("404")),
            "{:?}",
            page.failures
        );
        assert!(!report.all_passed());

        let table = report.table();
        assert!(table.contains("FAIL identify_trait_email"), "{table}");
        assert!(table.contains("expected: \"ada@example.com\""), "{table}");
        let junit = report.junit();
        assert!(junit.contains("name=\"identify_trait_email\""), "{junit}");
        assert!(junit.contains("<failure"), "{junit}");
        assert!(report.markdown().contains("### `identify_trait_email`"));
    });
}

#[test]
fn a_forwarder_url_pointing_at_nothing_fails_every_case() {
    let rt = runtime();
    rt.block_on(async {
        let ext = ExternalOptions {
            forwarder_url: format!("http://{}", free_addr()),
            mock_listen: free_addr(),
            api_key: "k".into(),
            write_key: None,
        };
        let opts = RunOptions {
            filter: Some("identify_trait_".into()),
            timeout: Duration::from_secs(1),
            ..RunOptions::default()
        };
        let report = run_external(&ext, &opts).await.expect("the harness runs");
        assert!(!report.cases.is_empty());
        for c in &report.cases {
            assert!(!c.passed(), "{} passed against nothing", c.id);
            assert!(
                c.failures[0].found.contains("/v1/batch"),
                "{:?}",
                c.failures
            );
        }
    });
}

#[test]
fn each_plausible_wrong_forwarder_fails_the_cases_aimed_at_its_mistake() {
    let rt = runtime();
    let mut survivors = Vec::new();
    for (mistake, cases) in crate::wrong::table() {
        let report = rt.block_on(async {
            let mock_addr = free_addr();
            let key = "ext-key-mistake";
            let (url, guard) =
                crate::wrong::start(mistake, format!("http://{mock_addr}"), key).await;
            let ext = ExternalOptions {
                forwarder_url: url,
                mock_listen: mock_addr,
                api_key: key.into(),
                write_key: None,
            };
            let opts = RunOptions {
                filter: Some(cases.join(",")),
                timeout: Duration::from_secs(3),
                ..RunOptions::default()
            };
            let report = run_external(&ext, &opts).await.expect("the harness runs");
            guard.stop().await;
            report
        });
        // The report a user would read: every aimed case failing, with expected vs found.
        eprintln!("--- {mistake:?}\n{}", report.table());
        for id in cases {
            match report.case(id) {
                Some(c) if !c.passed() => {
                    assert!(
                        c.failures.iter().all(|f| !f.expected.is_empty()),
                        "{mistake:?}: {id}: {:?}",
                        c.failures
                    );
                }
                Some(_) => survivors.push(format!("{mistake:?} passes {id}")),
                None => survivors.push(format!("{mistake:?}: no case {id}")),
            }
        }
    }
    assert!(
        survivors.is_empty(),
        "wrong forwarders that pass: {survivors:#?}"
    );
}
