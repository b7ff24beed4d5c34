//! Fixture snapshots: `fixtures/segment/NAME.json` → the User.com requests our forwarder sent and
//! the simulator's final state, as one deterministic JSON document.
//!
//! Determinism: each fixture runs in a simulator of its own (sequential ids and seeded user keys
//! start from the same point every time), with its clock frozen at [`FROZEN_NOW`], and the
//! forwarder delivers one user lane at a time, so the request order is the input order. Maps are
//! sorted, and values that still come from the wall clock (a message without a timestamp is
//! stamped "now" by the forwarder) are redacted.
//!
//! The same rendering feeds both the insta test (`tests/harness/snapshots.rs`, `glob!` over the
//! fixtures) and `usercom-conformance snapshot`, which writes the files in insta's format, named
//! as insta names them (`segment@NAME.json.snap`), so either tool can (re)generate them.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::expect::parse_instant;
use crate::sim::{App, Sim};
use crate::target::{InProcess, Target};

/// The simulator's frozen clock during a snapshot run.
pub const FROZEN_NOW: &str = "2030-01-01T00:00:00Z";

/// The insta snapshot name used for fixtures (`segment@<file>.snap`).
pub const SNAPSHOT_NAME: &str = "segment";

/// Reads a fixture: a JSON array of messages, a batch envelope (`{"batch": [...]}`), a capture
/// file (the envelope under `body`), a single message, or NDJSON.
pub fn load_fixture(path: &Path) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let bad = |detail: String| Error::Fixture {
        path: path.to_path_buf(),
        detail,
    };
    let value: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(first) => {
            // NDJSON: one message per non-empty line.
            let mut out = Vec::new();
            for (i, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                out.push(serde_json::from_str(line).map_err(|e| {
                    bad(format!(
                        "neither JSON ({first}) nor NDJSON (line {}: {e})",
                        i + 1
                    ))
                })?);
            }
            return Ok(out);
        }
    };
    messages_of(value).map_err(bad)
}

fn messages_of(value: Value) -> std::result::Result<Vec<Value>, String> {
    match value {
        Value::Array(items) => {
            // An array of captures (several requests) flattens to their messages.
            let mut out = Vec::new();
            for item in items {
                if item.get("body").is_some() || item.get("batch").is_some() {
                    out.extend(messages_of(item)?);
                } else {
                    out.push(item);
                }
            }
            Ok(out)
        }
        Value::Object(mut o) => {
            if let Some(body) = o.remove("body") {
                return messages_of(body);
            }
            if let Some(batch) = o.remove("batch") {
                return match batch {
                    Value::Array(a) => Ok(a),
                    _ => Err("`batch` is not an array".into()),
                };
            }
            if o.contains_key("type") {
                return Ok(vec![Value::Object(o)]);
            }
            Err("expected a message, an array of messages, or {\"batch\": [...]}".into())
        }
        _ => Err("expected a JSON object or array".into()),
    }
}

/// The folder, under the snapshots folder, of the snapshots taken against the strict simulator.
pub const STRICT_DIR: &str = "strict";

/// Runs one fixture's messages through our forwarder into a fresh simulator (strict: as strict
/// as User.com's REST API) and renders the snapshot document (pretty JSON, sorted, redacted).
pub async fn render_messages(messages: Vec<Value>, strict: bool) -> Result<String> {
    let mock = usercom_mock::MockServer::builder()
        .listen(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .strict(strict)
        .start()
        .await
        .map_err(|e| Error::SimulatorStart(e.to_string()))?;
    let sim = Sim::new(&mock.url());
    let app = App {
        name: "default".into(),
        api_key: mock.api_key().to_string(),
    };
    let rendered = async {
        sim.set_clock(&app.name, FROZEN_NOW, true).await?;
        let started = Utc::now();
        let target = Target::InProcess(InProcess::new().with_concurrency(1));
        let delivery = target.deliver(sim.origin(), &app, messages).await?;
        let requests: Vec<Value> = sim
            .journal(&app.name)
            .await?
            .into_iter()
            .map(keep_stable_headers)
            .collect();
        let state = sim.state(&app.name).await?;
        let window = (started, Utc::now());
        let doc = serde_json::json!({
            "requests": requests,
            "state": state,
            "dead_lettered": delivery.dropped.unwrap_or(0),
        });
        Ok::<_, Error>(to_pretty(&normalize(doc, window)))
    }
    .await;
    mock.shutdown().await;
    rendered
}

/// Renders the fixture at `path`.
pub async fn render_fixture(path: &Path, strict: bool) -> Result<String> {
    render_messages(load_fixture(path)?, strict).await
}

/// Headers worth snapshotting (the ones the destination contract fixes); `host`,
/// `content-length` and `user-agent` change with the port, the body and the version.
const STABLE_HEADERS: &[&str] = &["accept", "authorization", "content-type"];

fn keep_stable_headers(mut entry: Value) -> Value {
    if let Some(Value::Object(h)) = entry.get_mut("headers") {
        h.retain(|k, _| STABLE_HEADERS.contains(&k.to_ascii_lowercase().as_str()));
    }
    entry
}

fn to_pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("a JSON value always serializes")
}

/// Keys whose values are request latencies or similar, never stable.
const DURATION_KEYS: &[&str] = &[
    "duration",
    "duration_ms",
    "elapsed",
    "elapsed_ms",
    "latency",
    "latency_ms",
];

/// Sorts every map and redacts durations and wall-clock values: instants inside `window` (the
/// real time the fixture ran, widened by a few seconds), which a fixture's own timestamps and
/// the frozen simulator clock never fall in.
pub fn normalize(v: Value, window: (DateTime<Utc>, DateTime<Utc>)) -> Value {
    let now = window;
    match v {
        Value::Object(o) => {
            let mut entries: Vec<(String, Value)> = o.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut out = Map::new();
            for (k, v) in entries {
                let v = if DURATION_KEYS.contains(&k.as_str()) && v.is_number() {
                    Value::String("[duration]".into())
                } else if k.eq_ignore_ascii_case("authorization")
                    || k.eq_ignore_ascii_case("api_key")
                {
                    Value::String("[redacted]".into())
                } else {
                    normalize(v, now)
                };
                out.insert(k, v);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(|x| normalize(x, now)).collect()),
        Value::String(ref s) if is_wall_clock(&v, now) && s.len() >= 10 => {
            Value::String("[now]".into())
        }
        Value::Number(_) if is_wall_clock(&v, now) => Value::String("[now]".into()),
        other => other,
    }
}

fn is_wall_clock(v: &Value, (from, to): (DateTime<Utc>, DateTime<Utc>)) -> bool {
    // Only big numbers can be unix seconds; small ones (counts, ids) are never touched.
    if let Value::Number(n) = v {
        if n.as_f64().is_none_or(|f| f < 1.0e9) {
            return false;
        }
    }
    if let Value::String(s) = v {
        // Plain dates are never wall-clock readings precise enough to matter.
        if s.len() <= 10 {
            return false;
        }
    }
    let slack = chrono::Duration::seconds(5);
    parse_instant(v).is_some_and(|t| t >= from - slack && t <= to + slack)
}

/// What `sync_dir` did.
#[derive(Debug, Default)]
pub struct SyncOutcome {
    /// Snapshots already up to date.
    pub unchanged: Vec<PathBuf>,
    /// Snapshots written (or, with `--check`, that would be).
    pub changed: Vec<PathBuf>,
    /// Fixtures that could not be rendered, with the reason.
    pub errors: Vec<(PathBuf, String)>,
}

impl SyncOutcome {
    /// Human-readable lines.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.unchanged {
            out.push(format!("ok       {}", p.display()));
        }
        for p in &self.changed {
            out.push(format!("changed  {}", p.display()));
        }
        for (p, e) in &self.errors {
            out.push(format!("error    {}: {e}", p.display()));
        }
        out.push(format!(
            "{} unchanged, {} changed, {} errors",
            self.unchanged.len(),
            self.changed.len(),
            self.errors.len()
        ));
        out
    }

    /// Success: no errors, and in check mode nothing changed.
    pub fn ok(&self, check: bool) -> bool {
        self.errors.is_empty() && (!check || self.changed.is_empty())
    }
}

/// The snapshot file for a fixture file name, as insta's `glob!` names it.
pub fn snapshot_file(snapshots: &Path, fixture_name: &str) -> PathBuf {
    snapshots.join(format!("{SNAPSHOT_NAME}@{fixture_name}.snap"))
}

/// An insta-format snapshot file (metadata header, then the contents).
pub fn snap_file_text(fixture_rel: &str, contents: &str) -> String {
    format!(
        "---\nsource: conformance/tests/harness/snapshots.rs\nexpression: rendered\ninput_file: {fixture_rel}\n---\n{}\n",
        contents.trim_end()
    )
}

/// The contents of an insta snapshot file (what follows the metadata header).
pub fn snap_contents(file_text: &str) -> &str {
    let rest = file_text.strip_prefix("---\n").unwrap_or(file_text);
    match rest.find("\n---\n") {
        Some(i) => rest[i + 5..].trim_end(),
        None => file_text.trim_end(),
    }
}

/// Regenerates (or with `check`, verifies) the snapshot of every `*.json` in `fixtures`, taken
/// against the simulator's default mode or (`strict`) its strict mode.
pub async fn sync_dir(
    fixtures: &Path,
    snapshots: &Path,
    check: bool,
    strict: bool,
) -> Result<SyncOutcome> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures)
        .map_err(|e| Error::io(fixtures, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Config(format!(
            "no *.json fixture in {}",
            fixtures.display()
        )));
    }
    if !check {
        std::fs::create_dir_all(snapshots).map_err(|e| Error::io(snapshots, e))?;
    }
    let mut outcome = SyncOutcome::default();
    for fixture in files {
        let name = fixture
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let snap = snapshot_file(snapshots, &name);
        let rendered = match render_fixture(&fixture, strict).await {
            Ok(r) => r,
            Err(e) => {
                outcome.errors.push((fixture.clone(), e.to_string()));
                continue;
            }
        };
        let existing = std::fs::read_to_string(&snap).ok();
        if existing.as_deref().map(snap_contents) == Some(rendered.trim_end()) {
            outcome.unchanged.push(snap);
            continue;
        }
        if !check {
            let rel = format!("fixtures/segment/{name}");
            std::fs::write(&snap, snap_file_text(&rel, &rendered))
                .map_err(|e| Error::io(&snap, e))?;
        }
        outcome.changed.push(snap);
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fixture_shapes_all_load() {
        for v in [
            json!([{"type": "identify", "userId": "a"}]),
            json!({"batch": [{"type": "identify", "userId": "a"}]}),
            json!({"method": "POST", "body": {"batch": [{"type": "identify", "userId": "a"}]}}),
            json!({"type": "identify", "userId": "a"}),
        ] {
            assert_eq!(messages_of(v).unwrap().len(), 1);
        }
        assert!(messages_of(json!({"foo": 1})).is_err());
    }

    #[test]
    fn normalize_sorts_and_redacts_only_wall_clock_values() {
        let now = Utc::now();
        let v = json!({"b": now.to_rfc3339(), "a": "2024-03-01T12:00:00Z", "n": now.timestamp(), "c": 3, "duration_ms": 4});
        let out = normalize(v, (now, now));
        assert_eq!(
            to_pretty(&out),
            to_pretty(
                &json!({"a": "2024-03-01T12:00:00Z", "b": "[now]", "c": 3, "duration_ms": "[duration]", "n": "[now]"})
            )
        );
        let keys: Vec<_> = out.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["a", "b", "c", "duration_ms", "n"]);
    }

    #[test]
    fn snap_file_round_trips() {
        let text = snap_file_text("fixtures/segment/x.json", "{\n  \"a\": 1\n}\n");
        assert_eq!(snap_contents(&text), "{\n  \"a\": 1\n}");
        assert!(text.starts_with("---\nsource: "));
    }
}
