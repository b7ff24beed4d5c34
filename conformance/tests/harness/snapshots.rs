//! One insta snapshot per `fixtures/segment/*.json`: the User.com requests our forwarder sent and
//! the simulator's final state, sorted and redacted (see `usercom_conformance::snapshot`).
//! Files live in `fixtures/snapshots/`; review changes with `cargo insta review`, CI runs with
//! `INSTA_UPDATE=no`. `usercom-conformance snapshot [--check]` writes and checks the same files.

use usercom_conformance::snapshot::{render_fixture, snap_contents, snapshot_file, SNAPSHOT_NAME};

use crate::support::runtime;

fn fixtures_against(strict: bool, snapshot_path: &str) {
    let rt = runtime();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(snapshot_path);
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::glob!("../../../fixtures/segment", "*.json", |path| {
            let rendered = rt
                .block_on(render_fixture(path, strict))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            insta::assert_snapshot!(SNAPSHOT_NAME, rendered);
        });
    });
}

#[test]
fn segment_fixtures() {
    fixtures_against(false, "../../../fixtures/snapshots");
}

/// The same fixtures against the strict simulator (`fixtures/snapshots/strict/`): what User.com's
/// REST API would be sent and would keep. Beside the default ones, they show the forwarder
/// creating its attributes itself (`POST /attributes/`) and event data stored as sent.
#[test]
fn segment_fixtures_against_the_strict_simulator() {
    fixtures_against(true, "../../../fixtures/snapshots/strict");
}

/// The forwarder does the destination's work itself: against the strict simulator (which
/// neither creates attributes nor converts values), every fixture ends with the same users,
/// companies and custom attribute values as against the default one. Only event data may differ
/// (stored as sent: the REST API has no event attribute types). The fixtures that dead-letter a
/// message (bad input) dead-letter it in both modes.
#[test]
fn strict_and_default_end_in_the_same_users_and_companies() {
    let rt = runtime();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/segment");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/segment")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() > 10, "fixtures missing: {}", files.len());
    for path in files {
        let state = |strict| -> serde_json::Value {
            let text = rt
                .block_on(render_fixture(&path, strict))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let doc: serde_json::Value = serde_json::from_str(&text).expect("snapshot is JSON");
            let s = &doc["state"];
            serde_json::json!({"users": s["users"], "companies": s["companies"], "dead_lettered": doc["dead_lettered"]})
        };
        let (default, strict) = (state(false), state(true));
        assert_eq!(
            default,
            strict,
            "{}: users and companies differ between the modes",
            path.display()
        );
    }
}

#[test]
fn rendering_is_deterministic() {
    // Two runs of the same fixture, each in its own simulator, give the same document.
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/segment/python-batch-mixed.json");
    if !fixture.exists() {
        return;
    }
    let rt = runtime();
    let a = rt
        .block_on(render_fixture(&fixture, false))
        .expect("render");
    let b = rt
        .block_on(render_fixture(&fixture, false))
        .expect("render");
    assert_eq!(a, b);
    assert!(!a.contains("127.0.0.1"), "a port leaked into the snapshot");
}

#[test]
fn cli_and_insta_agree_on_file_names() {
    // The CLI writes where insta's glob! looks: `segment@<fixture file name>.snap`.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/snapshots");
    let p = snapshot_file(&dir, "python-identify.json");
    assert!(p.ends_with("segment@python-identify.json.snap"));
    if let Ok(text) = std::fs::read_to_string(&p) {
        assert!(snap_contents(&text).starts_with('{'), "{}", p.display());
    }
}
