//! Expectations on single JSON values, with a readable description for reports.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

/// What a field of the simulator's state must look like.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    /// Equal as JSON; numbers compare by value (`123` equals `123.0`).
    Eq(Value),
    /// A string equal to this one, ignoring ASCII case.
    EqIgnoreCase(String),
    /// A string containing this text (ASCII case ignored), or an array with such a string.
    Contains(String),
    /// A string starting with this text.
    StartsWith(String),
    /// A timestamp (RFC 3339 string or unix seconds) denoting this instant.
    Instant(DateTime<Utc>),
    /// A timestamp within this many seconds of this instant (for times the harness cannot know
    /// exactly, such as an ingress's own `receivedAt`).
    Near(DateTime<Utc>, i64),
    /// A date (`YYYY-MM-DD`, or a datetime on that day).
    Date(NaiveDate),
    /// Missing or `null`.
    Absent,
    /// Present and not `null`.
    Present,
    /// An array (or the number of an object's keys) of this length.
    Len(usize),
    /// Any one of these.
    OneOf(Vec<Expect>),
}

impl Expect {
    /// Does `found` satisfy the expectation? `None` means the field is missing.
    pub fn holds(&self, found: Option<&Value>) -> bool {
        let found = found.filter(|v| !v.is_null());
        match (self, found) {
            (Expect::OneOf(all), f) => all.iter().any(|e| e.holds(f)),
            (Expect::Absent, f) => f.is_none(),
            (Expect::Present, f) => f.is_some(),
            (_, None) => false,
            (Expect::Eq(want), Some(v)) => json_eq(want, v),
            (Expect::EqIgnoreCase(want), Some(v)) => {
                v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(want))
            }
            (Expect::Contains(want), Some(v)) => {
                let want = want.to_ascii_lowercase();
                match v {
                    Value::String(s) => s.to_ascii_lowercase().contains(&want),
                    Value::Array(a) => a.iter().any(|x| {
                        x.as_str()
                            .is_some_and(|s| s.to_ascii_lowercase().contains(&want))
                    }),
                    _ => false,
                }
            }
            (Expect::StartsWith(want), Some(v)) => v.as_str().is_some_and(|s| s.starts_with(want)),
            (Expect::Instant(want), Some(v)) => parse_instant(v).is_some_and(|t| t == *want),
            (Expect::Near(want, secs), Some(v)) => {
                parse_instant(v).is_some_and(|t| (t - *want).num_seconds().abs() <= *secs)
            }
            (Expect::Date(want), Some(v)) => parse_date(v).is_some_and(|d| d == *want),
            (Expect::Len(n), Some(v)) => match v {
                Value::Array(a) => a.len() == *n,
                Value::Object(o) => o.len() == *n,
                _ => false,
            },
        }
    }

    /// A short human description ("= 123", "absent").
    pub fn describe(&self) -> String {
        match self {
            Expect::Eq(v) => v.to_string(),
            Expect::EqIgnoreCase(s) => format!("{s:?} (any case)"),
            Expect::Contains(s) => format!("containing {s:?}"),
            Expect::StartsWith(s) => format!("starting with {s:?}"),
            Expect::Instant(t) => format!("the instant {}", t.to_rfc3339()),
            Expect::Near(t, s) => format!("within {s} s of {}", t.to_rfc3339()),
            Expect::Date(d) => format!("the date {d}"),
            Expect::Absent => "absent (missing or null)".into(),
            Expect::Present => "present".into(),
            Expect::Len(n) => format!("{n} element(s)"),
            Expect::OneOf(all) => all
                .iter()
                .map(Expect::describe)
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }
}

/// JSON equality where numbers compare by value and objects ignore key order.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => match (x.as_f64(), y.as_f64()) {
                (Some(f), Some(g)) => (f - g).abs() <= f64::EPSILON * f.abs().max(g.abs()).max(1.0),
                _ => x == y,
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// An instant from an RFC 3339 string (naive = UTC), a `YYYY-MM-DD` date (midnight UTC), or unix
/// seconds.
pub fn parse_instant(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => {
            let s = s.trim();
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Some(t.with_timezone(&Utc));
            }
            if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
                return Some(t.and_utc());
            }
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        }
        Value::Number(n) => {
            let secs = n.as_f64()?;
            DateTime::from_timestamp(secs.floor() as i64, 0)
        }
        _ => None,
    }
}

/// A date from `YYYY-MM-DD` or anything [`parse_instant`] accepts.
pub fn parse_date(v: &Value) -> Option<NaiveDate> {
    if let Some(s) = v.as_str() {
        if let Ok(d) = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
            return Some(d);
        }
    }
    parse_instant(v).map(|t| t.date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value() {
        assert!(Expect::Eq(json!(123)).holds(Some(&json!(123.0))));
        assert!(!Expect::Eq(json!(123)).holds(Some(&json!("123"))));
        assert!(!Expect::Eq(json!("999")).holds(Some(&json!(999))));
    }

    #[test]
    fn absent_means_missing_or_null() {
        assert!(Expect::Absent.holds(None));
        assert!(Expect::Absent.holds(Some(&Value::Null)));
        assert!(!Expect::Absent.holds(Some(&json!(0))));
        assert!(!Expect::Present.holds(Some(&Value::Null)));
    }

    #[test]
    fn instants_parse_every_documented_form() {
        let t = DateTime::parse_from_rfc3339("2024-05-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for v in [
            json!("2024-05-01T00:00:00Z"),
            json!("2024-05-01T02:00:00+02:00"),
            json!("2024-05-01T00:00:00.000000Z"),
            json!("2024-05-01"),
            json!(t.timestamp()),
        ] {
            assert!(Expect::Instant(t).holds(Some(&v)), "{v}");
        }
        assert!(!Expect::Instant(t).holds(Some(&json!("2024-05-02"))));
    }

    #[test]
    fn contains_looks_into_arrays() {
        assert!(Expect::Contains("48".into()).holds(Some(&json!(["+48 123"]))));
        assert!(!Expect::Contains("49".into()).holds(Some(&json!(["+48 123"]))));
    }
}
