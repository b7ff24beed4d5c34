//! A fault rule: its JSON format, validation (400s naming the bad field) and matching.

use axum::http::Method;
use serde_json::{json, Map, Value};

use crate::error::{type_name, Error, Result};

/// Longest latency a rule may add (a minute): longer would look like a hung test, not a slow API.
pub const MAX_LATENCY_MS: u64 = 60_000;
/// Longest rate-limit window (a day).
pub const MAX_WINDOW_MS: u64 = 86_400_000;
/// Largest `retry_after` (a day, in seconds).
pub const MAX_RETRY_AFTER: u64 = 86_400;

/// When a fault acts relative to applying the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// The fault answers instead of the API; nothing is applied.
    Before,
    /// The request is applied, then its answer is replaced (or the connection dropped).
    After,
}

impl When {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            When::Before => "before",
            When::After => "after",
        }
    }
}

/// Which requests a rule applies to (absent fields match anything).
#[derive(Debug, Clone, Default)]
pub struct FaultMatch {
    /// HTTP method, upper-case.
    pub method: Option<Method>,
    /// The request path starts with this.
    pub path_prefix: Option<String>,
    /// The app the request's API key belongs to (revoked keys included).
    pub app: Option<String>,
}

/// What a rule does when it fires.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Answer with this status and JSON body, with `Retry-After` when given.
    Status {
        /// HTTP status (200–599).
        status: u16,
        /// JSON body; absent = `{"detail": "fault injected: …"}`.
        body: Option<Value>,
        /// `Retry-After` seconds.
        retry_after: Option<u64>,
    },
    /// Delay the answer (fixed when `min_ms == max_ms`, else uniform in the range).
    Latency {
        /// Lower bound, milliseconds.
        min_ms: u64,
        /// Upper bound, milliseconds (inclusive).
        max_ms: u64,
        /// Written as a `[min, max]` range (kept so the rule echoes as it was given).
        range: bool,
    },
    /// Close the connection without an HTTP answer.
    Reset,
    /// Let `requests` requests per window and app through; answer the rest 429.
    RateLimit {
        /// Requests allowed per window.
        requests: u64,
        /// Window length, milliseconds.
        window_ms: u64,
        /// `Retry-After` seconds (absent: the seconds left in the window, rounded up).
        retry_after: Option<u64>,
    },
}

impl Effect {
    pub(super) fn to_json(&self) -> Value {
        match self {
            Effect::Status {
                status,
                body,
                retry_after,
            } => {
                let mut m = Map::new();
                m.insert("status".into(), (*status).into());
                if let Some(b) = body {
                    m.insert("body".into(), b.clone());
                }
                if let Some(r) = retry_after {
                    m.insert("retry_after".into(), (*r).into());
                }
                Value::Object(m)
            }
            Effect::Latency {
                min_ms,
                max_ms,
                range,
            } => {
                if *range {
                    json!({ "latency_ms": [min_ms, max_ms] })
                } else {
                    json!({ "latency_ms": min_ms })
                }
            }
            Effect::Reset => json!({ "reset": true }),
            Effect::RateLimit {
                requests,
                window_ms,
                retry_after,
            } => {
                let mut rl = Map::new();
                rl.insert("requests".into(), (*requests).into());
                rl.insert("window_ms".into(), (*window_ms).into());
                if let Some(r) = retry_after {
                    rl.insert("retry_after".into(), (*r).into());
                }
                json!({ "rate_limit": rl })
            }
        }
    }
}

/// A validated rule, as posted (without its id and counters).
#[derive(Debug, Clone)]
pub struct FaultRule {
    /// Which requests it applies to.
    pub matcher: FaultMatch,
    /// What it does.
    pub effect: Effect,
    /// Before or after applying the request.
    pub when: When,
    /// Fire for the next N matching requests, then retire (absent = unlimited).
    pub times: Option<u64>,
    /// Fire on this fraction of matching requests (seeded, deterministic).
    pub probability: Option<f64>,
    /// Seed of the pseudo-random draws (default 0).
    pub seed: Option<u64>,
}

fn allow_keys(obj: &Map<String, Value>, prefix: &str, allowed: &[&str]) -> Result<()> {
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(Error::bad(
                format!("{prefix}{k}"),
                format!("unknown key (expected one of: {})", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

/// A non-negative integer field within `[min, max]`.
fn uint(v: &Value, field: &str, min: u64, max: u64) -> Result<u64> {
    let n = match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            // Accept 5.0 but not 5.5 or negatives.
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64)
                .map(|f| f as u64)
        }),
        _ => {
            return Err(Error::bad(
                field,
                format!("expected an integer, got {}", type_name(v)),
            ))
        }
    };
    match n {
        Some(n) if n >= min && n <= max => Ok(n),
        _ => Err(Error::bad(
            field,
            format!("expected an integer from {min} to {max}, got {v}"),
        )),
    }
}

fn string<'a>(v: &'a Value, field: &str) -> Result<&'a str> {
    v.as_str()
        .ok_or_else(|| Error::bad(field, format!("expected a string, got {}", type_name(v))))
}

impl FaultRule {
    /// Validate a rule's JSON. Errors are 400s naming the field (`effect.latency_ms`, …).
    pub fn parse(v: &Value) -> Result<FaultRule> {
        let obj = v.as_object().ok_or_else(|| {
            Error::bad(
                "body",
                format!("a fault rule is a JSON object, got {}", type_name(v)),
            )
        })?;
        allow_keys(
            obj,
            "",
            &["match", "effect", "when", "times", "probability", "seed"],
        )?;
        let matcher = match obj.get("match") {
            None | Some(Value::Null) => FaultMatch::default(),
            Some(Value::Object(m)) => parse_match(m)?,
            Some(other) => {
                return Err(Error::bad(
                    "match",
                    format!("expected an object, got {}", type_name(other)),
                ))
            }
        };
        let effect = match obj.get("effect") {
            Some(Value::Object(e)) => parse_effect(e)?,
            None | Some(Value::Null) => {
                return Err(Error::bad(
                    "effect",
                    "this field is required (one of status, latency_ms, reset, rate_limit)",
                ))
            }
            Some(other) => {
                return Err(Error::bad(
                    "effect",
                    format!("expected an object, got {}", type_name(other)),
                ))
            }
        };
        let when = match obj.get("when") {
            None | Some(Value::Null) => When::Before,
            Some(v) => match string(v, "when")? {
                "before" => When::Before,
                "after" => When::After,
                other => {
                    return Err(Error::bad(
                        "when",
                        format!("expected \"before\" or \"after\", got \"{other}\""),
                    ))
                }
            },
        };
        let times = match obj.get("times") {
            None | Some(Value::Null) => None,
            Some(v) => Some(uint(v, "times", 1, u64::MAX)?),
        };
        let probability = match obj.get("probability") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(p) if (0.0..=1.0).contains(&p) => Some(p),
                _ => {
                    return Err(Error::bad(
                        "probability",
                        format!("expected a number from 0 to 1, got {n}"),
                    ))
                }
            },
            Some(other) => {
                return Err(Error::bad(
                    "probability",
                    format!("expected a number from 0 to 1, got {}", type_name(other)),
                ))
            }
        };
        let seed = match obj.get("seed") {
            None | Some(Value::Null) => None,
            Some(v) => Some(uint(v, "seed", 0, u64::MAX)?),
        };
        if seed.is_some() && probability.is_none() {
            return Err(Error::bad("seed", "a seed only applies with `probability`"));
        }
        if let Effect::RateLimit { .. } = effect {
            if when == When::After {
                return Err(Error::bad(
                    "when",
                    "a rate limit answers before the request is applied; `when` must be \"before\"",
                ));
            }
            if probability.is_some() {
                return Err(Error::bad(
                    "probability",
                    "a rate limit is deterministic by itself; drop `probability`",
                ));
            }
        }
        Ok(FaultRule {
            matcher,
            effect,
            when,
            times,
            probability,
            seed,
        })
    }

    pub(super) fn matches(&self, method: &Method, path: &str, app: Option<&str>) -> bool {
        let m = &self.matcher;
        m.method.as_ref().is_none_or(|x| x == method)
            && m.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
            && m.app.as_deref().is_none_or(|a| app == Some(a))
    }

    /// The rule as JSON (what was posted, normalised).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        let mut mm = Map::new();
        if let Some(x) = &self.matcher.method {
            mm.insert("method".into(), x.as_str().into());
        }
        if let Some(x) = &self.matcher.path_prefix {
            mm.insert("path_prefix".into(), x.as_str().into());
        }
        if let Some(x) = &self.matcher.app {
            mm.insert("app".into(), x.as_str().into());
        }
        m.insert("match".into(), Value::Object(mm));
        m.insert("effect".into(), self.effect.to_json());
        m.insert("when".into(), self.when.as_str().into());
        if let Some(t) = self.times {
            m.insert("times".into(), t.into());
        }
        if let Some(p) = self.probability {
            m.insert("probability".into(), p.into());
            m.insert("seed".into(), self.seed.unwrap_or(0).into());
        }
        Value::Object(m)
    }
}

fn parse_match(m: &Map<String, Value>) -> Result<FaultMatch> {
    allow_keys(m, "match.", &["method", "path_prefix", "app"])?;
    let mut out = FaultMatch::default();
    if let Some(v) = m.get("method").filter(|v| !v.is_null()) {
        let s = string(v, "match.method")?;
        let method = Method::from_bytes(s.trim().to_ascii_uppercase().as_bytes())
            .ok()
            .filter(|_| !s.trim().is_empty())
            .ok_or_else(|| Error::bad("match.method", format!("`{s}` is not an HTTP method")))?;
        out.method = Some(method);
    }
    if let Some(v) = m.get("path_prefix").filter(|v| !v.is_null()) {
        let s = string(v, "match.path_prefix")?;
        if !s.starts_with('/') {
            return Err(Error::bad(
                "match.path_prefix",
                format!("must start with `/` (a path such as /api/public/users/), got `{s}`"),
            ));
        }
        out.path_prefix = Some(s.to_owned());
    }
    if let Some(v) = m.get("app").filter(|v| !v.is_null()) {
        let s = string(v, "match.app")?;
        if s.trim().is_empty() {
            return Err(Error::bad("match.app", "must not be empty"));
        }
        out.app = Some(s.to_owned());
    }
    Ok(out)
}

const EFFECTS: &str = "status (with optional body, retry_after), latency_ms, reset, rate_limit";

fn parse_effect(e: &Map<String, Value>) -> Result<Effect> {
    let kinds: Vec<&str> = ["status", "latency_ms", "reset", "rate_limit"]
        .into_iter()
        .filter(|k| e.contains_key(*k))
        .collect();
    match kinds.as_slice() {
        [] => {
            let got = e
                .keys()
                .next()
                .map_or("nothing".to_owned(), |k| format!("`{k}`"));
            Err(Error::bad(
                "effect",
                format!("unknown effect {got}: expected one of {EFFECTS}"),
            ))
        }
        [one] => match *one {
            "status" => {
                allow_keys(e, "effect.", &["status", "body", "retry_after"])?;
                let status = uint(&e["status"], "effect.status", 200, 599)? as u16;
                let body = e.get("body").filter(|b| !b.is_null()).cloned();
                let retry_after = match e.get("retry_after").filter(|v| !v.is_null()) {
                    Some(v) => Some(uint(v, "effect.retry_after", 0, MAX_RETRY_AFTER)?),
                    None => None,
                };
                Ok(Effect::Status {
                    status,
                    body,
                    retry_after,
                })
            }
            "latency_ms" => {
                allow_keys(e, "effect.", &["latency_ms"])?;
                let f = "effect.latency_ms";
                match &e["latency_ms"] {
                    Value::Array(r) if r.len() == 2 => {
                        let lo = uint(&r[0], f, 0, MAX_LATENCY_MS)?;
                        let hi = uint(&r[1], f, 0, MAX_LATENCY_MS)?;
                        if lo > hi {
                            return Err(Error::bad(
                                f,
                                format!("range [{lo}, {hi}] is empty: the first bound must not exceed the second"),
                            ));
                        }
                        Ok(Effect::Latency {
                            min_ms: lo,
                            max_ms: hi,
                            range: true,
                        })
                    }
                    Value::Array(_) => Err(Error::bad(
                        f,
                        "a range is a list of two integers [min, max]",
                    )),
                    v => {
                        let ms = uint(v, f, 0, MAX_LATENCY_MS)?;
                        Ok(Effect::Latency {
                            min_ms: ms,
                            max_ms: ms,
                            range: false,
                        })
                    }
                }
            }
            "reset" => {
                allow_keys(e, "effect.", &["reset"])?;
                match &e["reset"] {
                    Value::Bool(true) => Ok(Effect::Reset),
                    other => Err(Error::bad(
                        "effect.reset",
                        format!("expected true, got {other}"),
                    )),
                }
            }
            _ => {
                allow_keys(e, "effect.", &["rate_limit"])?;
                let rl = e["rate_limit"].as_object().ok_or_else(|| {
                    Error::bad(
                        "effect.rate_limit",
                        format!(
                            "expected an object {{\"requests\", \"window_ms\", \"retry_after\"?}}, got {}",
                            type_name(&e["rate_limit"])
                        ),
                    )
                })?;
                allow_keys(
                    rl,
                    "effect.rate_limit.",
                    &["requests", "window_ms", "retry_after"],
                )?;
                let field = |k: &str| {
                    rl.get(k).filter(|v| !v.is_null()).ok_or_else(|| {
                        Error::bad(format!("effect.rate_limit.{k}"), "this field is required")
                    })
                };
                let requests = uint(
                    field("requests")?,
                    "effect.rate_limit.requests",
                    1,
                    u64::from(u32::MAX),
                )?;
                let window_ms = uint(
                    field("window_ms")?,
                    "effect.rate_limit.window_ms",
                    1,
                    MAX_WINDOW_MS,
                )?;
                let retry_after = match rl.get("retry_after").filter(|v| !v.is_null()) {
                    Some(v) => Some(uint(
                        v,
                        "effect.rate_limit.retry_after",
                        0,
                        MAX_RETRY_AFTER,
                    )?),
                    None => None,
                };
                Ok(Effect::RateLimit {
                    requests,
                    window_ms,
                    retry_after,
                })
            }
        },
        many => Err(Error::bad(
            "effect",
            format!(
                "give exactly one effect, got {} (one of {EFFECTS})",
                many.join(" and ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(v: Value) -> FaultRule {
        FaultRule::parse(&v).unwrap()
    }

    fn err(v: Value) -> String {
        FaultRule::parse(&v).unwrap_err().to_string()
    }

    #[test]
    fn parses_every_effect_and_echoes_it() {
        for v in [
            json!({"effect": {"status": 503, "body": {"detail": "x"}, "retry_after": 2}}),
            json!({"effect": {"latency_ms": 150}}),
            json!({"effect": {"latency_ms": [50, 200]}}),
            json!({"effect": {"reset": true}, "when": "after"}),
            json!({"effect": {"rate_limit": {"requests": 10, "window_ms": 1000, "retry_after": 1}}}),
        ] {
            let r = rule(v.clone());
            assert_eq!(r.to_json()["effect"], v["effect"]);
        }
        let r = rule(
            json!({"match": {"method": "post", "path_prefix": "/api/public/"},
                            "effect": {"status": 500}, "times": 3, "probability": 0.5, "seed": 7}),
        );
        assert_eq!(r.matcher.method, Some(Method::POST));
        assert_eq!(r.to_json()["seed"], 7);
    }

    #[test]
    fn rejects_bad_rules_naming_the_field() {
        let cases = [
            (
                json!({"effect": {"explode": true}}),
                "unknown effect `explode`",
            ),
            (json!({}), "effect: this field is required"),
            (
                json!({"effect": {"status": 503}, "probability": 1.5}),
                "probability: expected a number from 0 to 1",
            ),
            (
                json!({"effect": {"status": 503}, "probability": "often"}),
                "probability: expected a number",
            ),
            (
                json!({"effect": {"status": 99}}),
                "effect.status: expected an integer from 200 to 599",
            ),
            (
                json!({"effect": {"status": 503, "reset": true}}),
                "give exactly one effect",
            ),
            (json!({"effect": {"latency_ms": [200, 50]}}), "is empty"),
            (json!({"effect": {"latency_ms": 1e9}}), "effect.latency_ms"),
            (
                json!({"effect": {"reset": false}}),
                "effect.reset: expected true",
            ),
            (
                json!({"effect": {"rate_limit": {"requests": 0, "window_ms": 10}}}),
                "effect.rate_limit.requests",
            ),
            (
                json!({"effect": {"rate_limit": {"requests": 1}}}),
                "effect.rate_limit.window_ms: this field is required",
            ),
            (
                json!({"effect": {"rate_limit": {"requests": 1, "window_ms": 5}}, "when": "after"}),
                "when:",
            ),
            (
                json!({"effect": {"status": 503}, "when": "during"}),
                "when: expected \"before\" or \"after\"",
            ),
            (
                json!({"effect": {"status": 503}, "times": 0}),
                "times: expected an integer from 1",
            ),
            (
                json!({"effect": {"status": 503}, "seed": 3}),
                "seed: a seed only applies",
            ),
            (
                json!({"effect": {"status": 503}, "match": {"path_prefix": "api"}}),
                "match.path_prefix: must start with `/`",
            ),
            (
                json!({"effect": {"status": 503}, "match": {"verb": "GET"}}),
                "match.verb: unknown key",
            ),
            (
                json!({"effect": {"status": 503}, "extra": 1}),
                "extra: unknown key",
            ),
            (json!([1]), "body: a fault rule is a JSON object"),
        ];
        for (v, want) in cases {
            let e = err(v.clone());
            assert!(e.contains(want), "{v} -> {e} (wanted {want})");
        }
    }
}
