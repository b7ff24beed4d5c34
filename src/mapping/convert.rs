//! Custom attribute values converted to their attribute's type: a pure function of the value
//! and the definition, the destination doc's rule "defined → converted; cannot be converted →
//! ignored" done by the forwarder itself (the REST API stores only what it is sent in the
//! attribute's type; User.com's Segment ingestion did the conversion, the REST API does not).
//!
//! | type | converted | cannot be converted (the key is dropped and counted) |
//! |---|---|---|
//! | `string` | strings as sent; numbers and booleans as text (`999` → `"999"`); objects and lists as their JSON text | – |
//! | `integer` | whole numbers (`5`, `5.0` → `5`); numeric text, trimmed, also with a zero fraction or an exponent (`" 42 "`, `"4.0"`, `"1e3"` → `42`, `4`, `1000`) | fractions (`1.5`), booleans, other text, objects, lists |
//! | `float` | numbers; numeric text, trimmed | booleans, other text, objects, lists |
//! | `boolean` | `true`/`false`; text `true`/`false` (any case), `"1"`/`"0"`; the numbers `1`/`0` | anything else (`"yes"`, `2`) |
//! | `date` | `YYYY-MM-DD`; an RFC 3339 date-time → its date as written; a number → unix seconds' UTC date | anything else |
//! | `datetime` | RFC 3339 (no offset = UTC) → as RFC 3339 UTC; `YYYY-MM-DD` → midnight UTC; a number → unix seconds (fractions kept) | anything else |
//! | `fixed` | one of its choices (numbers and booleans compared as text); with multiple choices allowed, a list of choices | anything else |
//! | `json` | anything, as sent | – |
//!
//! `null` is not converted: for a defined attribute it clears the value (Segment's rule), and
//! an undefined attribute sent as `null` is not created. The harness's reference model and the
//! simulator implement the same table (docs/CONVERSIONS.md) on their own.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Number, Value};

/// An attribute's type, as User.com names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// Text.
    String,
    /// A whole number.
    Integer,
    /// A number.
    Float,
    /// `true`/`false`.
    Boolean,
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339.
    Datetime,
    /// One of a list of choices.
    Fixed,
    /// Any JSON.
    Json,
}

impl ValueType {
    /// From User.com's name (`"integer"`) or the v1 numeric code (1 boolean, 2 integer, 3 date,
    /// 4 string, 5 datetime, 6 fixed, 7 float).
    pub fn parse(v: &Value) -> Option<ValueType> {
        Some(match v {
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "string" => ValueType::String,
                "integer" | "number" => ValueType::Integer,
                "float" => ValueType::Float,
                "boolean" => ValueType::Boolean,
                "date" => ValueType::Date,
                "datetime" => ValueType::Datetime,
                "fixed" => ValueType::Fixed,
                "json" => ValueType::Json,
                _ => return None,
            },
            Value::Number(n) => match n.as_u64()? {
                1 => ValueType::Boolean,
                2 => ValueType::Integer,
                3 => ValueType::Date,
                4 => ValueType::String,
                5 => ValueType::Datetime,
                6 => ValueType::Fixed,
                7 => ValueType::Float,
                _ => return None,
            },
            _ => return None,
        })
    }

    /// User.com's name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::Integer => "integer",
            ValueType::Float => "float",
            ValueType::Boolean => "boolean",
            ValueType::Date => "date",
            ValueType::Datetime => "datetime",
            ValueType::Fixed => "fixed",
            ValueType::Json => "json",
        }
    }
}

/// What the conversion needs to know of an attribute definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// The attribute's type.
    pub value_type: ValueType,
    /// The choices of a `fixed` attribute.
    pub choices: Vec<String>,
    /// Whether a `fixed` attribute takes a list of choices.
    pub multiple: bool,
}

impl Definition {
    /// A plain definition of `value_type` (no choices).
    pub fn of(value_type: ValueType) -> Definition {
        Definition {
            value_type,
            choices: Vec::new(),
            multiple: false,
        }
    }
}

/// `value` in the type of `def`, or why it cannot be (see the module table).
pub fn convert(value: &Value, def: &Definition) -> Result<Value, String> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let converted = match def.value_type {
        ValueType::String => Some(stringify(value)),
        ValueType::Json => Some(value.clone()),
        ValueType::Integer => integer(value),
        ValueType::Float => float(value),
        ValueType::Boolean => boolean(value),
        ValueType::Date => date(value),
        ValueType::Datetime => datetime(value),
        ValueType::Fixed => fixed(value, def),
    };
    converted.ok_or_else(|| {
        let mut shown = value.to_string();
        if shown.len() > 80 {
            let mut end = 80;
            while !shown.is_char_boundary(end) {
                end -= 1;
            }
            shown.truncate(end);
            shown.push('…');
        }
        format!("{shown} cannot be converted to {}", def.value_type.as_str())
    })
}

/// A value as text: strings as sent, numbers and booleans as written, objects and lists as
/// their JSON text.
pub fn stringify(value: &Value) -> Value {
    match value {
        Value::String(_) | Value::Null => value.clone(),
        other => Value::String(other.to_string()),
    }
}

fn number_text(s: &str) -> Option<f64> {
    let s = s.trim();
    // Only plain decimal notation: `inf`, `NaN`, hex and the like are not numbers here.
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'));
    plain
        .then(|| s.parse::<f64>().ok())
        .flatten()
        .filter(|f| f.is_finite())
}

/// A float with no fraction in the signed 64-bit range (2^63 itself is out: `i64::MAX as f64`
/// rounds up to it).
fn whole(f: f64) -> Option<Value> {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    (f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f)).then(|| Value::from(f as i64))
}

fn integer(value: &Value) -> Option<Value> {
    match value {
        // In the signed 64-bit range only: a larger unsigned integer is out of range (it is
        // not an i64, and its float is not below 2^63 either).
        Value::Number(n) if n.is_i64() => Some(value.clone()),
        Value::Number(n) => whole(n.as_f64()?),
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(i) => Some(Value::from(i)),
            Err(_) => whole(number_text(s)?),
        },
        _ => None,
    }
}

fn float(value: &Value) -> Option<Value> {
    match value {
        Value::Number(_) => Some(value.clone()),
        Value::String(s) => Number::from_f64(number_text(s)?).map(Value::Number),
        _ => None,
    }
}

fn boolean(value: &Value) -> Option<Value> {
    match value {
        Value::Bool(_) => Some(value.clone()),
        Value::Number(n) => {
            let f = n.as_f64()?;
            if f == 1.0 {
                Some(Value::Bool(true))
            } else if f == 0.0 {
                Some(Value::Bool(false))
            } else {
                None
            }
        }
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(Value::Bool(true)),
            "false" | "0" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => None,
    }
}

fn instant(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(n) => {
            let seconds = n.as_f64().filter(|f| f.is_finite() && f.abs() < 1.0e13)?;
            DateTime::<Utc>::from_timestamp_millis((seconds * 1000.0).round() as i64)
        }
        Value::String(s) => {
            let s = s.trim();
            if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
                return Some(dt.with_timezone(&Utc));
            }
            // A naive date-time (UTC), `T` or a space between date and time.
            if s.len() > 10 && plain_date(&s[..10]).is_some() {
                for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
                    if let Ok(naive) = NaiveDateTime::parse_from_str(s, format) {
                        return Some(naive.and_utc());
                    }
                }
                return None;
            }
            Some(plain_date(s)?.and_hms_opt(0, 0, 0)?.and_utc())
        }
        _ => None,
    }
}

/// `YYYY-MM-DD`, exactly that shape (chrono alone would also take `2024-5-1`).
fn plain_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    shape
        .then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
}

fn date(value: &Value) -> Option<Value> {
    let day = match value {
        Value::String(s) => {
            let s = s.trim();
            // A date-time keeps the date as written (its own offset), not the UTC date; a
            // naive date-time is not a date (whose day would it be?).
            match DateTime::parse_from_rfc3339(s) {
                Ok(dt) => dt.date_naive(),
                Err(_) => plain_date(s)?,
            }
        }
        Value::Number(_) => instant(value)?.date_naive(),
        _ => return None,
    };
    Some(Value::String(day.to_string()))
}

fn datetime(value: &Value) -> Option<Value> {
    let at = instant(value)?;
    Some(Value::String(
        at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    ))
}

fn fixed(value: &Value, def: &Definition) -> Option<Value> {
    let choice = |v: &Value| -> Option<Value> {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) => v.to_string(),
            _ => return None,
        };
        def.choices.contains(&text).then_some(Value::String(text))
    };
    match value {
        Value::Array(items) if def.multiple => items
            .iter()
            .map(choice)
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
        other => {
            let one = choice(other)?;
            Some(if def.multiple {
                Value::Array(vec![one])
            } else {
                one
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conv(value: Value, value_type: ValueType) -> Option<Value> {
        convert(&value, &Definition::of(value_type)).ok()
    }

    #[test]
    fn the_table() {
        use ValueType::*;
        for (value, ty, expected) in [
            (json!(999), String, Some(json!("999"))),
            (json!(true), String, Some(json!("true"))),
            (json!({"a": [1]}), String, Some(json!("{\"a\":[1]}"))),
            (json!("x"), String, Some(json!("x"))),
            (json!(5), Integer, Some(json!(5))),
            (json!(5.0), Integer, Some(json!(5))),
            (json!(" 42 "), Integer, Some(json!(42))),
            (json!("4.0"), Integer, Some(json!(4))),
            (json!("1e3"), Integer, Some(json!(1000))),
            (json!(1.5), Integer, None),
            (json!(1e16), Integer, Some(json!(10_000_000_000_000_000i64))),
            (
                json!(-1e18),
                Integer,
                Some(json!(-1_000_000_000_000_000_000i64)),
            ),
            (json!(1e19), Integer, None),
            (
                json!(9_223_372_036_854_775_807i64),
                Integer,
                Some(json!(i64::MAX)),
            ),
            (json!(9_223_372_036_854_775_808u64), Integer, None),
            (json!(u64::MAX), Integer, None),
            (json!("abc"), Integer, None),
            (json!("2024-5-1"), Date, None),
            (json!("2024-05-01T10:00:00"), Date, None),
            (json!(" 2024-05-01 "), Date, Some(json!("2024-05-01"))),
            (
                json!("2024-05-01T23:30:00-05:00"),
                Date,
                Some(json!("2024-05-01")),
            ),
            (json!("2024-5-1"), Datetime, None),
            (
                json!("2024-05-01 10:00:00"),
                Datetime,
                Some(json!("2024-05-01T10:00:00Z")),
            ),
            (
                json!("2024-05-01T10:00:00.5"),
                Datetime,
                Some(json!("2024-05-01T10:00:00.500Z")),
            ),
            (
                json!("2024-05-01"),
                Datetime,
                Some(json!("2024-05-01T00:00:00Z")),
            ),
            (json!("2024-05-01Tnoon"), Datetime, None),
            (json!(true), Integer, None),
            (json!("inf"), Float, None),
            (json!("2.5"), Float, Some(json!(2.5))),
            (json!(3), Float, Some(json!(3))),
            (json!(false), Float, None),
            (json!("TRUE"), Boolean, Some(json!(true))),
            (json!("0"), Boolean, Some(json!(false))),
            (json!(1), Boolean, Some(json!(true))),
            (json!(1.0), Boolean, Some(json!(true))),
            (json!(2), Boolean, None),
            (json!("yes"), Boolean, None),
            (json!("2024-05-01"), Date, Some(json!("2024-05-01"))),
            (
                json!("2024-05-01T23:30:00-05:00"),
                Date,
                Some(json!("2024-05-01")),
            ),
            (json!(86_400), Date, Some(json!("1970-01-02"))),
            (json!("May 1st"), Date, None),
            (
                json!("2024-05-01T10:00:00+02:00"),
                Datetime,
                Some(json!("2024-05-01T08:00:00Z")),
            ),
            (
                json!("2024-05-01T10:00:00"),
                Datetime,
                Some(json!("2024-05-01T10:00:00Z")),
            ),
            (
                json!("2024-05-01"),
                Datetime,
                Some(json!("2024-05-01T00:00:00Z")),
            ),
            (
                json!(0.5),
                Datetime,
                Some(json!("1970-01-01T00:00:00.500Z")),
            ),
            (json!(true), Datetime, None),
            (json!([1, "a"]), Json, Some(json!([1, "a"]))),
            (json!(null), Integer, Some(json!(null))),
        ] {
            assert_eq!(conv(value.clone(), ty), expected, "{value} as {ty:?}");
        }
    }

    #[test]
    fn fixed_choices() {
        let one = Definition {
            value_type: ValueType::Fixed,
            choices: vec!["gold".into(), "1".into()],
            multiple: false,
        };
        assert_eq!(convert(&json!("gold"), &one), Ok(json!("gold")));
        assert_eq!(convert(&json!(1), &one), Ok(json!("1")));
        assert!(convert(&json!("silver"), &one).is_err());
        assert!(convert(&json!(["gold"]), &one).is_err());
        let many = Definition {
            multiple: true,
            ..one
        };
        assert_eq!(
            convert(&json!(["gold", 1]), &many),
            Ok(json!(["gold", "1"]))
        );
        assert_eq!(convert(&json!("gold"), &many), Ok(json!(["gold"])));
        assert!(convert(&json!(["gold", "x"]), &many).is_err());
    }

    #[test]
    fn refusals_name_the_value_and_the_type() {
        let err = convert(&json!("abc"), &Definition::of(ValueType::Integer)).unwrap_err();
        assert_eq!(err, "\"abc\" cannot be converted to integer");
    }

    #[test]
    fn value_types_by_name_or_code() {
        assert_eq!(
            ValueType::parse(&json!("Integer")),
            Some(ValueType::Integer)
        );
        assert_eq!(ValueType::parse(&json!(7)), Some(ValueType::Float));
        assert_eq!(ValueType::parse(&json!("money")), None);
    }
}
