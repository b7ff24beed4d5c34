//! The catalogue end to end: in process (everything must pass), against our own ingress in
//! external mode (everything must pass in one shared app), and against a wrong forwarder (the
//! report must name the failing cases with expected vs found).

use std::time::Duration;

use usercom_conformance::runner::{
    run_external, run_in_process, selected_cases, ExternalOptions, RunOptions,
};

use crate::support::{free_addr, runtime, start_wrong_forwarder};

#[test]
fn whole_catalogue_passes_in_process() {
    let report = runtime()
        .block_on(run_in_process(&RunOptions::default()))
        .expect("the harness runs");
    assert_eq!(report.cases.len(), selected_cases(None).len());
    assert!(report.all_passed(), "{}", report.table());
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
        assert_eq!(report.cases.len(), selected_cases(None).len());
        assert!(report.all_passed(), "{}", report.table());
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
