//! One insta snapshot per `fixtures/segment/*.json`: the User.com requests our forwarder sent and
//! the simulator's final state, sorted and redacted (see `usercom_conformance::snapshot`).
//! Files live in `fixtures/snapshots/`; review changes with `cargo insta review`, CI runs with
//! `INSTA_UPDATE=no`. `usercom-conformance snapshot [--check]` writes and checks the same files.

use usercom_conformance::snapshot::{render_fixture, snap_contents, snapshot_file, SNAPSHOT_NAME};

use crate::support::runtime;

#[test]
fn segment_fixtures() {
    let rt = runtime();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../../fixtures/snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::glob!("../../../fixtures/segment", "*.json", |path| {
            let rendered = rt
                .block_on(render_fixture(path))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            insta::assert_snapshot!(SNAPSHOT_NAME, rendered);
        });
    });
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
    let a = rt.block_on(render_fixture(&fixture)).expect("render");
    let b = rt.block_on(render_fixture(&fixture)).expect("render");
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
