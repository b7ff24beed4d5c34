//! Time: the per-app clock tests can set, freeze and advance, and the time formats the API accepts.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// A per-app clock. Real time by default; tests can move it (an offset) or freeze it.
///
/// It lives inside the app's state (under the app's mutex) so that parallel tests using separate
/// apps in one process each control their own time.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Clock {
    /// When set, `now()` always returns this instant (advanced only by `advance`).
    pub frozen: Option<DateTime<Utc>>,
    /// Added to the real time when not frozen, in microseconds.
    pub offset_us: i64,
}

impl Clock {
    /// The app's current time.
    pub fn now(&self) -> DateTime<Utc> {
        match self.frozen {
            Some(t) => t,
            None => wall_now() + chrono::Duration::microseconds(self.offset_us),
        }
    }

    /// Set the clock to `now`; frozen or running from there.
    pub fn set(&mut self, now: DateTime<Utc>, frozen: bool) {
        if frozen {
            self.frozen = Some(now);
            self.offset_us = 0;
        } else {
            self.frozen = None;
            // Rounded up to the next microsecond: a truncated offset would make `now()` read
            // just before the instant that was set (by up to 1 µs) when read right after it.
            let d = now - wall_now();
            self.offset_us = match d.num_nanoseconds() {
                Some(ns) => ns.saturating_add(999).div_euclid(1000),
                None => d.num_microseconds().map_or(0, |us| us.saturating_add(1)),
            };
        }
    }

    /// Move the clock by `seconds` (may be negative or fractional).
    pub fn advance(&mut self, seconds: f64) {
        let us = (seconds * 1_000_000.0) as i64;
        let d = chrono::Duration::microseconds(us);
        match &mut self.frozen {
            Some(t) => *t += d,
            None => self.offset_us = self.offset_us.saturating_add(us),
        }
    }
}

/// The real time, read so that it never goes backwards within the process: the wall clock at
/// first use plus a monotonic [`std::time::Instant`] since then.
///
/// Why: `last_seen` must never move back and a running test clock must move forward from where
/// it was set; a wall-clock step (NTP, a VM resumed) would break both if we read `Utc::now()`
/// each time.
pub fn wall_now() -> DateTime<Utc> {
    static BASE: std::sync::OnceLock<(DateTime<Utc>, std::time::Instant)> =
        std::sync::OnceLock::new();
    let (wall, mono) = BASE.get_or_init(|| (Utc::now(), std::time::Instant::now()));
    *wall + chrono::Duration::from_std(mono.elapsed()).unwrap_or(chrono::TimeDelta::MAX)
}

/// Response format for instants: ISO-8601 UTC with microseconds and `Z`, as User.com answers.
pub fn fmt_ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Format for `datetime` attribute values: RFC 3339 UTC, `Z`, fractions only when present.
pub fn fmt_attr_datetime(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Unix seconds (possibly fractional) → instant, if in chrono's range.
pub fn from_unix(secs: f64) -> Option<DateTime<Utc>> {
    if !secs.is_finite() {
        return None;
    }
    let whole = secs.floor();
    let micros = ((secs - whole) * 1_000_000.0).round() as u32;
    if whole < i64::MIN as f64 || whole > i64::MAX as f64 {
        return None;
    }
    Utc.timestamp_opt(whole as i64, micros.min(999_999) * 1000)
        .single()
}

/// A datetime string: RFC 3339 with offset or `Z`, naive (`YYYY-MM-DDTHH:MM:SS[.f]`, taken as
/// UTC; a space instead of `T` is accepted) or a bare date (midnight UTC).
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(Utc.from_utc_datetime(&n));
        }
    }
    parse_date(s).map(|d| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default()))
}

/// A bare `YYYY-MM-DD` date (exactly that shape).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// A timestamp field as clients send it: unix seconds (number or numeric string) or any string
/// [`parse_datetime`] accepts. `None` when it is neither.
pub fn parse_timestamp(v: &serde_json::Value) -> Option<DateTime<Utc>> {
    match v {
        serde_json::Value::Number(n) => n.as_f64().and_then(from_unix),
        serde_json::Value::String(s) => match s.trim().parse::<f64>() {
            Ok(secs) => from_unix(secs),
            Err(_) => parse_datetime(s),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_clock_never_reads_before_the_instant_it_was_set_to() {
        let mut clock = Clock::default();
        for target in ["2040-06-01T00:00:00Z", "2001-02-03T04:05:06.789Z"] {
            let target = parse_datetime(target).unwrap();
            for _ in 0..10_000 {
                clock.set(target, false);
                let now = clock.now();
                assert!(now >= target, "{now} < {target}");
                assert!(now - target < chrono::Duration::seconds(1), "{now}");
            }
        }
    }

    #[test]
    fn parses_the_documented_shapes() {
        let z = parse_datetime("2024-05-01T10:00:00Z").unwrap();
        assert_eq!(fmt_attr_datetime(z), "2024-05-01T10:00:00Z");
        let off = parse_datetime("2021-01-04T14:13:05.801+05:30").unwrap();
        assert_eq!(fmt_ts(off), "2021-01-04T08:43:05.801000Z");
        let naive = parse_datetime("2024-05-01T10:00:00").unwrap();
        assert_eq!(naive, z);
        let date = parse_datetime("2024-05-01").unwrap();
        assert_eq!(fmt_attr_datetime(date), "2024-05-01T00:00:00Z");
        assert!(parse_datetime("yesterday").is_none());
        assert_eq!(
            parse_timestamp(&serde_json::json!(1663080164)).unwrap(),
            parse_datetime("2022-09-13T14:42:44Z").unwrap()
        );
    }

    #[test]
    fn frozen_clock_advances_only_when_told() {
        let mut c = Clock::default();
        let t = parse_datetime("2030-01-01T00:00:00Z").unwrap();
        c.set(t, true);
        assert_eq!(c.now(), t);
        c.advance(90.5);
        assert_eq!(fmt_attr_datetime(c.now()), "2030-01-01T00:01:30.500Z");
    }
}
