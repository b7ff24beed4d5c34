//! Fault injection: rules that make the simulator misbehave on purpose, so clients can
//! be tested against 5xx answers, throttling, slow answers, dropped connections and lost
//! responses to writes that did happen.
//!
//! A rule has a *match* (method, path prefix, app), an *effect* (a status answer, latency, a
//! connection reset, or a rate limit), a *when* (`before` the request is applied, or `after`:
//! applied, then the answer is lost) and a *how often* (`times`, `probability` + `seed`). The
//! JSON format is in `docs/CONTRACT.md` and the crate README; [`FaultRule::parse`] validates it
//! with 400s naming the bad field.
//!
//! Design:
//! - [`Faults`] keeps the rules behind one `std::sync::Mutex` and an [`AtomicBool`] that says
//!   whether any rule can still fire. Requests read only the flag when no rule is armed, so the
//!   hot path without faults is one atomic load (no lock, no key lookup).
//! - The decision (which rule fires, the random draw, the rate-limit window) is taken
//!   synchronously under the lock, in request arrival order; the effect (sleeping, running the
//!   handler, dropping the connection) happens after the lock is released. With one client
//!   sending sequentially, the same rules and seed give the same faults on the same requests.
//! - Rules are evaluated in id order and at most one rule fires per request. A rate-limit rule
//!   that lets a request through counts it and evaluation goes on (its `X-RateLimit-*` headers are
//!   still added to the answer).
//!
//! The rule format and its validation are in `rule.rs`; the hook into the request pipeline is
//! `crate::http::fault_hook`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::Method;
use serde_json::{json, Map, Value};

use crate::rng::splitmix;
use crate::sync::lock;

mod rule;

pub use rule::{Effect, FaultRule, When};

/// A fixed rate-limit window of one app.
#[derive(Debug)]
struct Window {
    start: Instant,
    count: u64,
}

#[derive(Debug)]
struct Armed {
    id: u64,
    rule: FaultRule,
    hits: u64,
    remaining: Option<u64>,
    rng: u64,
    /// Rate-limit windows by app name (`""` for requests without a known key).
    windows: HashMap<String, Window>,
}

impl Armed {
    fn to_json(&self) -> Value {
        let mut v = self.rule.to_json();
        let m = v.as_object_mut().expect("rule JSON is an object");
        // `id` first for readability (serde_json keeps insertion order in this workspace).
        let mut out = Map::new();
        out.insert("id".into(), self.id.into());
        out.append(m);
        out.insert("hits".into(), self.hits.into());
        out.insert(
            "remaining".into(),
            self.remaining.map_or(Value::Null, Value::from),
        );
        Value::Object(out)
    }

    fn exhausted(&self) -> bool {
        self.remaining == Some(0)
    }

    /// A uniform draw in [0, 1) from the rule's seeded generator.
    fn draw(&mut self) -> f64 {
        (splitmix(&mut self.rng) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    rules: Vec<Armed>,
}

/// What the fault layer decided for one request.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// The rule that fired, if any.
    pub fired: Option<Fired>,
    /// `X-RateLimit-*` headers of the rate limits the request passed or hit.
    pub headers: Vec<(&'static str, String)>,
}

/// A rule that fired on a request.
#[derive(Debug)]
pub(crate) struct Fired {
    pub id: u64,
    pub when: When,
    pub action: Action,
}

/// The concrete effect (random parts already drawn).
#[derive(Debug)]
pub(crate) enum Action {
    /// Answer with this status/body; `retry_after` as a header.
    Answer {
        status: u16,
        body: Value,
        retry_after: Option<u64>,
        rate_limited: bool,
    },
    /// Sleep this long, then let the request through.
    Delay(Duration),
    /// Drop the connection.
    Reset,
}

/// The rule set of a simulator (one per [`crate::Store`]).
#[derive(Debug, Default)]
pub struct Faults {
    /// True while some rule can still fire: the only thing a request reads when none can.
    armed: AtomicBool,
    inner: Mutex<Inner>,
}

impl Faults {
    /// True when at least one rule can still fire (one atomic load).
    pub fn active(&self) -> bool {
        self.armed.load(Ordering::Acquire)
    }

    fn refresh(&self, inner: &Inner) {
        let armed = inner.rules.iter().any(|r| !r.exhausted());
        self.armed.store(armed, Ordering::Release);
    }

    /// Add a validated rule; returns its JSON (with `id`, `hits`, `remaining`).
    pub fn add(&self, rule: FaultRule) -> Value {
        let mut inner = lock(&self.inner);
        inner.next_id += 1;
        let armed = Armed {
            id: inner.next_id,
            hits: 0,
            remaining: rule.times,
            rng: rule.seed.unwrap_or(0),
            windows: HashMap::new(),
            rule,
        };
        let v = armed.to_json();
        inner.rules.push(armed);
        self.refresh(&inner);
        v
    }

    /// Every rule, in id order (retired ones too, with `remaining: 0`).
    pub fn list(&self) -> Vec<Value> {
        lock(&self.inner).rules.iter().map(Armed::to_json).collect()
    }

    /// One rule by id.
    pub fn get(&self, id: u64) -> Option<Value> {
        lock(&self.inner)
            .rules
            .iter()
            .find(|r| r.id == id)
            .map(Armed::to_json)
    }

    /// Remove every rule; returns how many there were.
    pub fn clear(&self) -> usize {
        let mut inner = lock(&self.inner);
        let n = inner.rules.len();
        inner.rules.clear();
        self.refresh(&inner);
        n
    }

    /// Remove one rule; false when there is no such id.
    pub fn remove(&self, id: u64) -> bool {
        let mut inner = lock(&self.inner);
        let before = inner.rules.len();
        inner.rules.retain(|r| r.id != id);
        let removed = inner.rules.len() != before;
        self.refresh(&inner);
        removed
    }

    /// Decide what happens to a request (called only when [`Faults::active`]). Short and
    /// synchronous: the effect is carried out by the caller after the lock is released.
    pub(crate) fn decide(&self, method: &Method, path: &str, app: Option<&str>) -> Plan {
        let now = Instant::now();
        let mut plan = Plan::default();
        let mut inner = lock(&self.inner);
        for rule in inner.rules.iter_mut() {
            if rule.exhausted() || !rule.rule.matches(method, path, app) {
                continue;
            }
            let action = match rule.rule.effect.clone() {
                Effect::RateLimit {
                    requests,
                    window_ms,
                    retry_after,
                } => {
                    let window = Duration::from_millis(window_ms);
                    let w = rule
                        .windows
                        .entry(app.unwrap_or("").to_owned())
                        .or_insert(Window {
                            start: now,
                            count: 0,
                        });
                    if now.duration_since(w.start) >= window {
                        w.start = now;
                        w.count = 0;
                    }
                    let left = window.saturating_sub(now.duration_since(w.start));
                    let reset_secs = left.as_millis().div_ceil(1000).max(1) as u64;
                    let passes = w.count < requests;
                    if passes {
                        w.count += 1;
                    }
                    plan.headers = vec![
                        ("x-ratelimit-limit", requests.to_string()),
                        (
                            "x-ratelimit-remaining",
                            requests.saturating_sub(w.count).to_string(),
                        ),
                        ("x-ratelimit-reset", reset_secs.to_string()),
                    ];
                    if passes {
                        continue;
                    }
                    Action::Answer {
                        status: 429,
                        body: json!({
                            "detail": format!(
                                "Request was throttled. Expected available in {} seconds.",
                                retry_after.unwrap_or(reset_secs)
                            )
                        }),
                        retry_after: Some(retry_after.unwrap_or(reset_secs)),
                        rate_limited: true,
                    }
                }
                other => {
                    if let Some(p) = rule.rule.probability {
                        if rule.draw() >= p {
                            continue;
                        }
                    }
                    match other {
                        Effect::Status {
                            status,
                            body,
                            retry_after,
                        } => Action::Answer {
                            status,
                            body: body.unwrap_or_else(|| {
                                json!({ "detail": format!("fault injected by rule {}: HTTP {status}", rule.id) })
                            }),
                            retry_after,
                            rate_limited: false,
                        },
                        Effect::Latency { min_ms, max_ms, .. } => {
                            let ms = if max_ms > min_ms {
                                min_ms + splitmix(&mut rule.rng) % (max_ms - min_ms + 1)
                            } else {
                                min_ms
                            };
                            Action::Delay(Duration::from_millis(ms))
                        }
                        Effect::Reset => Action::Reset,
                        Effect::RateLimit { .. } => unreachable!("handled above"),
                    }
                }
            };
            rule.hits += 1;
            if let Some(r) = rule.remaining.as_mut() {
                *r -= 1;
            }
            plan.fired = Some(Fired {
                id: rule.id,
                when: rule.rule.when,
                action,
            });
            break;
        }
        self.refresh(&inner);
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(v: Value) -> FaultRule {
        FaultRule::parse(&v).unwrap()
    }

    #[test]
    fn times_retire_the_rule_and_disarm_the_flag() {
        let f = Faults::default();
        assert!(!f.active());
        f.add(rule(json!({"effect": {"status": 503}, "times": 2})));
        assert!(f.active());
        let fired: Vec<bool> = (0..4)
            .map(|_| f.decide(&Method::GET, "/x", None).fired.is_some())
            .collect();
        assert_eq!(fired, [true, true, false, false]);
        assert!(!f.active());
        assert_eq!(f.list()[0]["remaining"], 0);
        assert_eq!(f.list()[0]["hits"], 2);
    }

    #[test]
    fn probability_is_deterministic_per_seed() {
        let run = |seed: u64| -> Vec<bool> {
            let f = Faults::default();
            f.add(rule(
                json!({"effect": {"status": 503}, "probability": 0.3, "seed": seed}),
            ));
            (0..200)
                .map(|_| f.decide(&Method::GET, "/x", None).fired.is_some())
                .collect()
        };
        let a = run(42);
        assert_eq!(a, run(42));
        assert_ne!(a, run(43));
        let n = a.iter().filter(|x| **x).count();
        assert!((30..=90).contains(&n), "{n} of 200 at p=0.3");
    }

    #[test]
    fn rate_limit_counts_per_app() {
        let f = Faults::default();
        f.add(rule(
            json!({"effect": {"rate_limit": {"requests": 2, "window_ms": 3_600_000}}}),
        ));
        let mut statuses = vec![];
        for app in ["a", "a", "a", "b"] {
            let p = f.decide(&Method::POST, "/x", Some(app));
            statuses.push(p.fired.is_some());
        }
        assert_eq!(statuses, [false, false, true, false]);
    }
}
