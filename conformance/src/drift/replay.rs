//! `replay DIR`: sends exchanges recorded by `usercom-mock record` to a fresh simulator, in
//! order, and reports per exchange where the simulator's answer differs from the recorded one in
//! status or JSON shape (keys, types, nesting; see [`super::shape`]).
//!
//! Ids differ between any two apps, so they are mapped as the replay goes: every `id`,
//! `user_id`, `user_key`, `client_user` and `employees` value of a recorded answer is paired
//! with the value at the same place in the simulator's answer, and later requests are rewritten
//! with the simulator's values (path segments, `?key=`, and those body keys). Custom ids are the
//! client's own and are sent as recorded. The recording's keys were redacted; requests that
//! carried a key get the simulator's key, except those the upstream refused with 401, which get
//! an unknown token so the refusal replays too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::report::{DriftReport, Outcome, Row};
use super::shape;
use crate::error::{Error, Result};

/// One recorded exchange, as `usercom-mock record` writes it.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// Its number in the recording (1, 2, ...).
    pub seq: u64,
    /// The file it came from.
    pub file: PathBuf,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path (`/api/public/users/`).
    pub path: String,
    /// The query string without `?`, if any.
    pub query: Option<String>,
    /// Request headers kept by the recorder (lower-case names).
    pub headers: Map<String, Value>,
    /// The request body (JSON, a string when it was not JSON, `Null` when empty).
    pub body: Value,
    /// The recorded status.
    pub status: u16,
    /// The recorded answer body.
    pub answer: Value,
}

/// Reads every `*.json` exchange of `dir`, ordered by `seq`.
pub fn load(dir: &Path) -> Result<Vec<Exchange>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let bad = |detail: String| Error::Fixture {
            path: path.clone(),
            detail,
        };
        let v: Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let req = &v["request"];
        let resp = &v["response"];
        let (Some(seq), Some(method), Some(p), Some(status)) = (
            v["seq"].as_u64(),
            req["method"].as_str(),
            req["path"].as_str(),
            resp["status"].as_u64(),
        ) else {
            return Err(bad(
                "not an exchange: expected seq, request.method, request.path, response.status"
                    .into(),
            ));
        };
        out.push(Exchange {
            seq,
            file: path.clone(),
            method: method.to_string(),
            path: p.to_string(),
            query: req["query"].as_str().map(str::to_string),
            headers: req["headers"].as_object().cloned().unwrap_or_default(),
            body: req["body"].clone(),
            status: status as u16,
            answer: resp["body"].clone(),
        });
    }
    out.sort_by_key(|e| e.seq);
    Ok(out)
}

/// How to replay.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The recording.
    pub dir: PathBuf,
    /// Start the fresh simulator in strict mode.
    pub strict: bool,
}

/// Upstream id → simulator id, learnt from pairs of answers.
#[derive(Default, Debug)]
struct IdMap(HashMap<String, Value>);

/// Keys whose values name objects (and so differ between apps).
const ID_KEYS: [&str; 5] = ["id", "user_id", "user_key", "client_user", "employees"];

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

impl IdMap {
    /// Pairs the id values found at the same places of `recorded` and `local`.
    fn learn(&mut self, recorded: &Value, local: &Value, under_id_key: bool) {
        match (recorded, local) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, va) in a {
                    if let Some(vb) = b.get(k) {
                        self.learn(va, vb, ID_KEYS.contains(&k.as_str()));
                    }
                }
            }
            (Value::Array(a), Value::Array(b)) => {
                for (va, vb) in a.iter().zip(b) {
                    self.learn(va, vb, under_id_key);
                }
            }
            (a, b) if under_id_key => {
                if let (Some(ka), Some(_)) = (scalar_text(a), scalar_text(b)) {
                    self.0.insert(ka, b.clone());
                }
            }
            _ => {}
        }
    }

    fn text(&self, s: &str) -> Option<String> {
        self.0.get(s).and_then(scalar_text)
    }

    /// The path with mapped id segments; the segment after `users-by-id`/`companies-by-id` is a
    /// custom id and stays.
    fn path(&self, path: &str) -> String {
        let mut prev = "";
        path.split('/')
            .map(|seg| {
                let out = if matches!(prev, "users-by-id" | "companies-by-id") {
                    seg.to_string()
                } else {
                    self.text(seg).unwrap_or_else(|| seg.to_string())
                };
                prev = seg;
                out
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The query with a mapped `key=` (a user key search).
    fn query(&self, query: &str) -> String {
        query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some(("key", v)) => format!("key={}", self.text(v).unwrap_or_else(|| v.into())),
                _ => pair.to_string(),
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The body with mapped values under the id keys.
    fn body(&self, v: &Value, under_id_key: bool) -> Value {
        match v {
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), self.body(x, ID_KEYS.contains(&k.as_str()))))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.body(x, under_id_key)).collect()),
            x if under_id_key => scalar_text(x)
                .and_then(|t| self.0.get(&t).cloned())
                .unwrap_or_else(|| x.clone()),
            x => x.clone(),
        }
    }
}

/// Replays `opts.dir` against a fresh in-process simulator and reports every exchange.
pub async fn replay(opts: &Options) -> Result<DriftReport> {
    let exchanges = load(&opts.dir)?;
    if exchanges.is_empty() {
        return Err(Error::Config(format!(
            "{}: no recorded exchanges (*.json) in it",
            opts.dir.display()
        )));
    }
    let mock = usercom_mock::MockServer::builder()
        .listen(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .strict(opts.strict)
        .start()
        .await
        .map_err(|e| Error::SimulatorStart(e.to_string()))?;
    let report = replay_against(&exchanges, &mock.url(), mock.api_key()).await;
    mock.shutdown().await;
    let mut report = report?;
    report.title = format!(
        "replay of {} against a fresh {} simulator",
        opts.dir.display(),
        if opts.strict {
            "strict"
        } else {
            "default-mode"
        }
    );
    Ok(report)
}

/// Replays `exchanges` against the simulator at `origin` (app of `key`).
pub async fn replay_against(
    exchanges: &[Exchange],
    origin: &str,
    key: &str,
) -> Result<DriftReport> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client with a timeout and no redirects always builds");
    let origin = origin.trim_end_matches('/');
    let mut ids = IdMap::default();
    let mut report = DriftReport::default();
    for ex in exchanges {
        let started = Instant::now();
        let path = ids.path(&ex.path);
        let url = match &ex.query {
            Some(q) if !q.is_empty() => format!("{origin}{path}?{}", ids.query(q)),
            _ => format!("{origin}{path}"),
        };
        let method =
            reqwest::Method::from_bytes(ex.method.as_bytes()).map_err(|_| Error::Fixture {
                path: ex.file.clone(),
                detail: format!("not an HTTP method: {:?}", ex.method),
            })?;
        let mut req = http.request(method, &url);
        for (name, value) in &ex.headers {
            let Some(value) = value.as_str() else {
                continue;
            };
            if name.eq_ignore_ascii_case("authorization") {
                // Keys were redacted when recorded: ours, or an unknown one where the upstream
                // refused the recorded key.
                let token = if ex.status == 401 {
                    "replay-unknown-token".to_string()
                } else {
                    key.to_string()
                };
                let scheme = value.split_whitespace().next().unwrap_or("Token");
                req = req.header("Authorization", format!("{scheme} {token}"));
            } else {
                req = req.header(name.as_str(), value);
            }
        }
        match &ex.body {
            Value::Null => {}
            Value::String(s) => req = req.body(s.clone()),
            other => req = req.body(ids.body(other, false).to_string()),
        }
        let what = format!("{} {path}", ex.method);
        let resp = req.send().await.map_err(|source| Error::Http {
            what: what.clone(),
            source,
        })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|source| Error::Http {
            what: what.clone(),
            source,
        })?;
        let local = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        let mut details = Vec::new();
        if status != ex.status {
            details.push(format!(
                "status: recorded {}, simulator {status}",
                ex.status
            ));
        }
        details.extend(
            shape::diff(&ex.answer, &local)
                .into_iter()
                .map(|d| format!("shape: {d} (recorded vs simulator)")),
        );
        ids.learn(&ex.answer, &local, false);
        let outcome = if details.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Fail {
                verdict: "the simulator answers differently from the recorded service".into(),
                details,
            }
        };
        report.rows.push(Row {
            id: format!("{:04}", ex.seq),
            about: match &ex.query {
                Some(q) if !q.is_empty() => format!("{} {}?{q}", ex.method, ex.path),
                _ => format!("{} {}", ex.method, ex.path),
            },
            outcome,
            notes: Vec::new(),
            duration: started.elapsed(),
        });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ids_are_learnt_from_answers_and_rewritten_in_requests() {
        let mut ids = IdMap::default();
        ids.learn(
            &json!({"id": 7, "user_key": "abc", "custom_id": "u-1", "companies": [{"id": 3}], "employees": [9]}),
            &json!({"id": 1, "user_key": "xyz", "custom_id": "u-1", "companies": [{"id": 2}], "employees": [4]}),
            false,
        );
        assert_eq!(ids.path("/api/public/users/7/"), "/api/public/users/1/");
        assert_eq!(
            ids.path("/api/public/companies/3/add_member/"),
            "/api/public/companies/2/add_member/"
        );
        // a custom id that looks like an id stays
        assert_eq!(
            ids.path("/api/public/users-by-id/7/"),
            "/api/public/users-by-id/7/"
        );
        assert_eq!(ids.query("key=abc&x=7"), "key=xyz&x=7");
        assert_eq!(
            ids.body(
                &json!({"user_id": 7, "client_user": "abc", "size": 7, "ids": [9]}),
                false
            ),
            json!({"user_id": 1, "client_user": "xyz", "size": 7, "ids": [9]})
        );
    }
}
