//! The simulator's request journal (`GET /__admin/requests`): how often it answered a status
//! during a step, which is how "nothing is retried forever" is checked.

use serde_json::Value;

use super::{fail, Check, Evaluate, Probe};
use crate::error::Result;
use crate::report::Failure;
use crate::sim::Sim;

/// The simulator answered `status` between `at_least` and `at_most` times during the step
/// (read from its request journal): "nothing is retried forever".
#[derive(Clone, Debug)]
pub struct Answered {
    /// The status code.
    pub status: u16,
    /// At least this many times.
    pub at_least: usize,
    /// At most this many times.
    pub at_most: usize,
}

impl Evaluate for Answered {
    async fn evaluate(&self, probe: &mut Probe<'_>) -> Result<Option<Failure>> {
        let Self {
            status,
            at_least,
            at_most,
        } = self;
        let n = step_entries(probe)
            .await?
            .iter()
            .filter(|e| journal_status(e) == Some(*status))
            .count();
        Ok(if n >= *at_least && n <= *at_most {
            None
        } else {
            let range = if at_least == at_most {
                format!("exactly {at_least}")
            } else {
                format!("between {at_least} and {at_most}")
            };
            fail(
                format!("simulator responses with status {status} during the step"),
                range,
                n.to_string(),
            )
        })
    }

    fn needs_journal_mark(&self) -> bool {
        true
    }
}

/// Every request of the app the case writes into, or attributed to no app (an unknown or
/// revoked key), since the step began.
async fn step_entries(probe: &Probe<'_>) -> Result<Vec<Value>> {
    let since = probe.journal_mark.unwrap_or(0);
    Ok(probe
        .sim
        .journal_all()
        .await?
        .into_iter()
        .filter(|e| journal_seq(e).is_some_and(|s| s > since))
        .filter(|e| match e.get("app") {
            Some(Value::String(a)) => *a == probe.app.name,
            // Unattributed: a request with an unknown or revoked key.
            _ => true,
        })
        .collect())
}

/// Every request the forwarder made during the step carried `Accept: */*; version=2` and
/// `Authorization: Token …` (design.md: "Every request carries `Authorization: Token <api
/// key>`, `Accept: */*; version=2`"), and there was at least one. That the token is the app's
/// key shows in the journal filing the request under the app (the journal redacts the key).
#[derive(Clone, Debug)]
pub struct Headers;

impl Evaluate for Headers {
    async fn evaluate(&self, probe: &mut Probe<'_>) -> Result<Option<Failure>> {
        let entries = step_entries(probe).await?;
        if entries.is_empty() {
            return Ok(fail(
                "requests to User.com during the step".into(),
                "at least one".into(),
                "none".into(),
            ));
        }
        for e in &entries {
            let what = format!(
                "{} {}",
                e.get("method").and_then(Value::as_str).unwrap_or("?"),
                e.get("path").and_then(Value::as_str).unwrap_or("?")
            );
            let accept = header(e, "accept");
            let accept_ok = accept.as_deref().is_some_and(|a| {
                let a = a.replace(' ', "").to_ascii_lowercase();
                a.contains("version=2")
            });
            if !accept_ok {
                return Ok(fail(
                    format!("{what}: Accept header"),
                    "\"*/*; version=2\"".into(),
                    format!("{accept:?}"),
                ));
            }
            let auth = header(e, "authorization");
            if !auth.as_deref().is_some_and(|a| a.starts_with("Token ")) {
                return Ok(fail(
                    format!("{what}: Authorization header"),
                    "\"Token <api key>\"".into(),
                    format!("{auth:?}"),
                ));
            }
            if e.get("app").and_then(Value::as_str) != Some(probe.app.name.as_str()) {
                return Ok(fail(
                    format!("{what}: the key"),
                    format!("the key of app {}", probe.app.name),
                    format!("a key of no app (answered {:?})", journal_status(e)),
                ));
            }
        }
        Ok(None)
    }

    fn needs_journal_mark(&self) -> bool {
        true
    }
}

/// The forwarder made between `at_least` and `at_most` requests with `method` to a path starting
/// with `path` during the step, whose body (when `body_has` is set) holds that key with that
/// value. `path` is relative to `/api/public` (`"/attributes/"`); `""` matches every path.
#[derive(Clone, Debug)]
pub struct Requested {
    /// `POST`, `GET`, ...; `None` = any method.
    pub method: Option<&'static str>,
    /// A path prefix under `/api/public`.
    pub path: String,
    /// A key and value the body must hold.
    pub body_has: Option<(String, Value)>,
    /// At least this many.
    pub at_least: usize,
    /// At most this many.
    pub at_most: usize,
}

impl Requested {
    /// Exactly `n` requests of `method` to a path starting with `path`, whose body (when
    /// `body_has` is set) holds that key with that value.
    pub fn exactly(
        n: usize,
        method: &'static str,
        path: &str,
        body_has: Option<(String, Value)>,
    ) -> Check {
        Requested {
            method: Some(method),
            path: path.to_owned(),
            body_has,
            at_least: n,
            at_most: n,
        }
        .into()
    }

    /// No request at all (any method, any path) whose body holds `key` with `value`: what the
    /// forwarder must never send.
    pub fn never(key: impl Into<String>, value: Value) -> Check {
        Requested {
            method: None,
            path: String::new(),
            body_has: Some((key.into(), value)),
            at_least: 0,
            at_most: 0,
        }
        .into()
    }
}

impl Evaluate for Requested {
    async fn evaluate(&self, probe: &mut Probe<'_>) -> Result<Option<Failure>> {
        let prefix = format!("/api/public{}", self.path);
        let entries = step_entries(probe).await?;
        let matching: Vec<&Value> = entries
            .iter()
            .filter(|e| {
                self.method
                    .is_none_or(|m| e.get("method").and_then(Value::as_str) == Some(m))
            })
            .filter(|e| {
                e.get("path")
                    .and_then(Value::as_str)
                    .is_some_and(|p| p.starts_with(&prefix))
            })
            .filter(|e| match &self.body_has {
                None => true,
                Some((k, v)) => body_of(e).get(k.as_str()).is_some_and(|b| b == v),
            })
            .collect();
        let n = matching.len();
        Ok(if n >= self.at_least && n <= self.at_most {
            None
        } else {
            let what = format!(
                "{} {prefix}{}",
                self.method.unwrap_or("any"),
                match &self.body_has {
                    Some((k, v)) => format!(" with {k} = {v}"),
                    None => String::new(),
                }
            );
            let seen: Vec<String> = entries
                .iter()
                .map(|e| {
                    format!(
                        "{} {}",
                        e.get("method").and_then(Value::as_str).unwrap_or("?"),
                        e.get("path").and_then(Value::as_str).unwrap_or("?")
                    )
                })
                .collect();
            fail(
                format!("requests {what} during the step"),
                if self.at_least == self.at_most {
                    format!("exactly {}", self.at_least)
                } else {
                    format!("between {} and {}", self.at_least, self.at_most)
                },
                format!("{n} (requests of the step: {seen:?})"),
            )
        })
    }

    fn needs_journal_mark(&self) -> bool {
        true
    }
}

/// A header of a journal entry (names are lower-case there).
fn header(e: &Value, name: &str) -> Option<String> {
    let h = e.get("headers")?;
    let v = h.get(name).or_else(|| {
        h.as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })?;
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => a.first().and_then(Value::as_str).map(str::to_string),
        other => Some(other.to_string()),
    }
}

/// A journal entry's body as JSON (the journal keeps it as JSON or as text).
fn body_of(e: &Value) -> Value {
    match e.get("body") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
        Some(v) => v.clone(),
        None => Value::Null,
    }
}

/// The journal's last sequence number now (0 when empty). The whole journal is read because
/// the simulator files requests made with a revoked key under no app.
pub(crate) async fn journal_mark(sim: &Sim) -> Result<u64> {
    Ok(sim
        .journal_all()
        .await?
        .iter()
        .filter_map(journal_seq)
        .max()
        .unwrap_or(0))
}

/// The sequence number of a journal entry.
fn journal_seq(e: &Value) -> Option<u64> {
    e.get("seq").and_then(Value::as_u64)
}

/// The response status of a journal entry, wherever the simulator puts it.
fn journal_status(e: &Value) -> Option<u16> {
    let n = e
        .get("status")
        .or_else(|| e.get("response_status"))
        .or_else(|| e.get("response").and_then(|r| r.get("status")))?;
    n.as_u64().and_then(|n| u16::try_from(n).ok())
}
