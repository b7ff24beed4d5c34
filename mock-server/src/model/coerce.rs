//! Custom attribute definitions and the value conversion table (the destination doc, made exact).
//!
//! This is the simulator's own implementation of the rules; the forwarder and the conformance
//! harness implement them independently (design.md, "Independence").
//!
//! | defined type | accepted → stored | ignored |
//! |---|---|---|
//! | (unknown)   | defined as `string`; value stringified (`999` → `"999"`, object → JSON text) | `null` (nothing created) |
//! | `integer`   | integers, floats without fraction, numeric strings (trimmed) → int | `"abc"`, `1.5`, booleans |
//! | `float`     | any number, numeric strings → float | booleans, other strings |
//! | `boolean`   | `true/false`, `"true"/"false"` (any case), `"1"/"0"`, `1/0` | anything else |
//! | `date`      | `YYYY-MM-DD`, RFC 3339 datetime (its date as written), unix seconds → `YYYY-MM-DD` | anything else |
//! | `datetime`  | RFC 3339 (offset or `Z`; naive = UTC), `YYYY-MM-DD` (midnight UTC), unix seconds → RFC 3339 UTC | anything else |
//! | `fixed`     | one of its choices (a list of choices when `allow_multiple_choices`) | anything else |
//! | `string`    | anything, stringified | – |
//! | `json`      | anything, as is | – |

use std::borrow::Cow;

use chrono::{DateTime, Datelike};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::time::{fmt_attr_datetime, from_unix, parse_date, parse_datetime};

/// The value types User.com attributes can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    /// `true` / `false`.
    Boolean,
    /// A whole number.
    Integer,
    /// A number.
    Float,
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339 UTC.
    Datetime,
    /// Text.
    String,
    /// One of a list of choices.
    Fixed,
    /// Any JSON.
    Json,
}

impl ValueType {
    /// Parse the wire name (`"integer"`, …).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "boolean" => ValueType::Boolean,
            "integer" | "number" => ValueType::Integer,
            "float" => ValueType::Float,
            "date" => ValueType::Date,
            "datetime" => ValueType::Datetime,
            "string" => ValueType::String,
            "fixed" => ValueType::Fixed,
            "json" => ValueType::Json,
            _ => return None,
        })
    }

    /// The wire name.
    /// The v1 numeric code of the type (usercom-api.md §3.1: 1 boolean, 2 integer, 3 date,
    /// 4 string, 5 datetime, 6 fixed, 7 float); `json` has none.
    pub fn v1_code(self) -> Option<u8> {
        Some(match self {
            ValueType::Boolean => 1,
            ValueType::Integer => 2,
            ValueType::Date => 3,
            ValueType::String => 4,
            ValueType::Datetime => 5,
            ValueType::Fixed => 6,
            ValueType::Float => 7,
            ValueType::Json => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Boolean => "boolean",
            ValueType::Integer => "integer",
            ValueType::Float => "float",
            ValueType::Date => "date",
            ValueType::Datetime => "datetime",
            ValueType::String => "string",
            ValueType::Fixed => "fixed",
            ValueType::Json => "json",
        }
    }
}

/// What an attribute belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum ContentType {
    /// User (client) attributes.
    Clientuser,
    /// Company attributes.
    Company,
    /// Event attributes (keys of an event's `data`).
    Event,
}

impl ContentType {
    /// Parse the wire name (`"clientuser"`; `"user"` is accepted as the v1 spelling).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "clientuser" | "user" => ContentType::Clientuser,
            "company" => ContentType::Company,
            "event" => ContentType::Event,
            _ => return None,
        })
    }

    /// Strict mode's parse: only the documented content types the simulator models
    /// (`clientuser`, `company`; usercom-api.md §3.2, DOC-attr). `event` is the simulator's own
    /// (a GUESS of the default mode) and `user` the v1 spelling: both refused.
    pub fn parse_strict(s: &str) -> Option<Self> {
        match s {
            "clientuser" => Some(ContentType::Clientuser),
            "company" => Some(ContentType::Company),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Clientuser => "clientuser",
            ContentType::Company => "company",
            ContentType::Event => "event",
        }
    }
}

/// One attribute definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttrDef {
    /// Sequential per app.
    pub id: u64,
    /// Display name as given.
    pub name: String,
    /// The key used in payloads and responses.
    pub name_std: String,
    /// Its type.
    pub value_type: ValueType,
    /// What it belongs to.
    pub content_type: ContentType,
    /// Choices of a `fixed` attribute.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// Whether a `fixed` attribute takes a list of choices.
    #[serde(default)]
    pub allow_multiple_choices: bool,
}

impl AttrDef {
    /// The API representation.
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        if self.value_type == ValueType::Fixed {
            m.insert(
                "allow_multiple_choices".into(),
                self.allow_multiple_choices.into(),
            );
            m.insert("choices".into(), self.choices.clone().into());
        }
        m.insert("content_type".into(), self.content_type.as_str().into());
        m.insert("id".into(), self.id.into());
        m.insert("name".into(), self.name.clone().into());
        m.insert("name_std".into(), self.name_std.clone().into());
        m.insert("value_type".into(), self.value_type.as_str().into());
        Value::Object(m)
    }
}

/// User.com's `name_std`, the one rule the forwarder and the simulator share:
///
/// - lower-case (Unicode rules: `"Ünïcode Key"` → `"ünïcode_key"`);
/// - each whitespace character becomes `_` (User.com's documented rule, usercom-api.md §3.2:
///   `"My Attribute"` → `"my_attribute"`);
/// - an upper-case letter that follows a lower-case letter or a digit starts a new word, so the
///   camelCase and snake_case spellings of one name land in one attribute: `"createdAt"` and
///   `"created_at"` → `"created_at"`, `"planName"` → `"plan_name"`, `"userID"` → `"user_id"`;
/// - every other character is kept as it is (`-`, `.`, `$`, digits), and nothing is trimmed:
///   `" plan"` → `"_plan"` (trimming is not documented by User.com).
pub fn name_std(name: &str) -> String {
    name_std_cow(name).into_owned()
}

/// [`name_std`] without allocating when the name already is its own `name_std` (the common case:
/// ASCII, no upper-case letter, no whitespace), which the event hot path hits for every `data`
/// key.
pub fn name_std_cow(name: &str) -> Cow<'_, str> {
    let already = name
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase() && !char::from(b).is_whitespace());
    if already {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 4);
    let mut previous: Option<char> = None;
    for c in name.chars() {
        if c.is_whitespace() {
            out.push('_');
        } else if c.is_uppercase() {
            if previous.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit()) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        previous = Some(c);
    }
    Cow::Owned(out)
}

/// A value stringified for a `string` attribute: strings as they are, everything else as its JSON
/// text (`999` → `"999"`, `true` → `"true"`, `{"a":1}` → `"{\"a\":1}"`).
pub fn stringify(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Convert `v` to the attribute's type. `None` = cannot be converted: the caller drops the key and
/// notes it in the journal. `null` is not passed here (callers handle it first).
pub fn convert(def: &AttrDef, v: &Value) -> Option<Value> {
    match def.value_type {
        ValueType::String => Some(Value::String(stringify(v))),
        ValueType::Json => Some(v.clone()),
        ValueType::Integer => to_integer(v).map(Value::from),
        ValueType::Float => {
            to_float(v).and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
        }
        ValueType::Boolean => to_bool(v).map(Value::Bool),
        ValueType::Date => to_date(v).map(Value::String),
        ValueType::Datetime => to_datetime(v).map(Value::String),
        ValueType::Fixed => to_fixed(def, v),
    }
}

/// Strict mode's rule for a defined attribute: the value must already have the attribute's wire
/// type (usercom-api.md §3.1: date `"2024-05-01"`, datetime `"2024-05-01T10:00:00Z"`, booleans
/// and numbers as JSON literals); nothing is converted. `Err` is the message of the 400 (the
/// caller names the field). `null` is not passed here (it clears the attribute).
///
/// | type | accepted | stored |
/// |---|---|---|
/// | `string` | a JSON string | as is |
/// | `integer` | a JSON integer (`5`, not `5.0` or `"5"`) | as is |
/// | `float` | a JSON number | as a float |
/// | `boolean` | `true` / `false` | as is |
/// | `date` | a string `YYYY-MM-DD` | as is |
/// | `datetime` | a string, RFC 3339 with `Z` or an offset | RFC 3339 UTC with `Z` |
/// | `fixed` | one of the choices as a string (a list of them when `allow_multiple_choices`) | as is |
/// | `json` | anything | as is |
pub fn check_strict(def: &AttrDef, v: &Value) -> Result<Value, String> {
    let got = || crate::error::type_name(v);
    match def.value_type {
        ValueType::Json => Ok(v.clone()),
        ValueType::String => match v {
            Value::String(_) => Ok(v.clone()),
            _ => Err(format!("expected a string, got {}", got())),
        },
        ValueType::Integer => match v.as_i64() {
            Some(i) => Ok(Value::from(i)),
            None => Err(format!("expected an integer, got {}", shown(v))),
        },
        ValueType::Float => match v.as_f64() {
            Some(f) if v.is_number() => serde_json::Number::from_f64(f)
                .map(Value::Number)
                .ok_or_else(|| format!("expected a finite number, got {v}")),
            _ => Err(format!("expected a number, got {}", got())),
        },
        ValueType::Boolean => match v {
            Value::Bool(_) => Ok(v.clone()),
            _ => Err(format!("expected true or false, got {}", shown(v))),
        },
        ValueType::Date => match v {
            Value::String(s)
                if s.len() == 10 && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() =>
            {
                Ok(v.clone())
            }
            _ => Err(format!("expected a date `YYYY-MM-DD`, got {}", shown(v))),
        },
        ValueType::Datetime => match v {
            Value::String(s) => DateTime::parse_from_rfc3339(s)
                .map(|t| Value::String(fmt_attr_datetime(t.to_utc())))
                .map_err(|_| {
                    format!("expected an RFC 3339 datetime with `Z` or an offset, got {v}")
                }),
            _ => Err(format!(
                "expected an RFC 3339 datetime string, got {}",
                got()
            )),
        },
        ValueType::Fixed => {
            let choice = |item: &Value| match item {
                Value::String(s) if def.choices.contains(s) => Ok(()),
                other => Err(format!(
                    "expected one of the choices {}, got {}",
                    def.choices.join(", "),
                    shown(other)
                )),
            };
            match v {
                Value::Array(items) if def.allow_multiple_choices => {
                    items.iter().try_for_each(choice)?;
                    Ok(v.clone())
                }
                Value::Array(_) => Err(format!(
                    "expected one choice (the attribute does not allow multiple choices), got {}",
                    got()
                )),
                other => choice(other).map(|()| v.clone()),
            }
        }
    }
}

/// A value for an error message: short scalars as JSON, containers by their type.
fn shown(v: &Value) -> String {
    match v {
        Value::Array(_) | Value::Object(_) => crate::error::type_name(v).to_owned(),
        Value::String(s) if s.chars().count() > 40 => "a long string".to_owned(),
        other => other.to_string(),
    }
}

fn to_integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(i)
            } else if n.is_u64() {
                None // above i64::MAX: not representable
            } else {
                whole_float(n.as_f64()?)
            }
        }
        Value::String(s) => {
            let t = s.trim();
            if let Ok(i) = t.parse::<i64>() {
                return Some(i);
            }
            whole_float(t.parse::<f64>().ok()?)
        }
        _ => None,
    }
}

/// A float with no fraction in the signed 64-bit range. 2^63 is out: `i64::MAX as f64` rounds
/// up to 2^63, so the upper bound is strict.
fn whole_float(f: f64) -> Option<i64> {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f.is_finite() && f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f) {
        Some(f as i64)
    } else {
        None
    }
}

fn to_float(v: &Value) -> Option<f64> {
    let f = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    f.is_finite().then_some(f)
}

fn to_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        // `1.0` is the `1` of another client: JSON has one number type.
        Value::Number(n) => {
            let f = n.as_f64()?;
            if f == 1.0 {
                Some(true)
            } else if f == 0.0 {
                Some(false)
            } else {
                None
            }
        }
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn to_date(v: &Value) -> Option<String> {
    let d = match v {
        Value::Number(n) => from_unix(n.as_f64()?)?.date_naive(),
        Value::String(s) => match parse_date(s) {
            Some(d) => d,
            // An RFC 3339 datetime: its date as written (in its own offset).
            None => DateTime::parse_from_rfc3339(s.trim()).ok()?.date_naive(),
        },
        _ => return None,
    };
    Some(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))
}

fn to_datetime(v: &Value) -> Option<String> {
    let t = match v {
        Value::Number(n) => from_unix(n.as_f64()?)?,
        Value::String(s) => parse_datetime(s)?,
        _ => return None,
    };
    Some(fmt_attr_datetime(t))
}

fn to_fixed(def: &AttrDef, v: &Value) -> Option<Value> {
    let one = |v: &Value| -> Option<String> {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return None,
        };
        def.choices.contains(&s).then_some(s)
    };
    match v {
        Value::Array(items) if def.allow_multiple_choices => items
            .iter()
            .map(one)
            .collect::<Option<Vec<_>>>()
            .map(Value::from),
        other => one(other).map(Value::String),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(t: ValueType) -> AttrDef {
        AttrDef {
            id: 1,
            name: "x".into(),
            name_std: "x".into(),
            value_type: t,
            content_type: ContentType::Clientuser,
            choices: vec!["free".into(), "pro".into()],
            allow_multiple_choices: false,
        }
    }

    #[test]
    fn integer_row() {
        let d = def(ValueType::Integer);
        assert_eq!(convert(&d, &json!(5)), Some(json!(5)));
        assert_eq!(convert(&d, &json!(5.0)), Some(json!(5)));
        assert_eq!(convert(&d, &json!(" 123 ")), Some(json!(123)));
        assert_eq!(convert(&d, &json!("abc")), None);
        assert_eq!(convert(&d, &json!(1.5)), None);
        assert_eq!(convert(&d, &json!(true)), None);
        // 2^63 is out of range, as a float and as text (not saturated to i64::MAX).
        assert_eq!(convert(&d, &json!(2f64.powi(63))), None);
        assert_eq!(convert(&d, &json!("9223372036854775808")), None);
        assert_eq!(convert(&d, &json!(-2f64.powi(63))), Some(json!(i64::MIN)));
    }

    #[test]
    fn other_rows() {
        assert_eq!(
            convert(&def(ValueType::Float), &json!("2.5")),
            Some(json!(2.5))
        );
        assert_eq!(
            convert(&def(ValueType::Boolean), &json!("TRUE")),
            Some(json!(true))
        );
        assert_eq!(
            convert(&def(ValueType::Boolean), &json!(0)),
            Some(json!(false))
        );
        assert_eq!(convert(&def(ValueType::Boolean), &json!("yes")), None);
        assert_eq!(
            convert(&def(ValueType::Boolean), &json!(1.0)),
            Some(json!(true))
        );
        assert_eq!(
            convert(&def(ValueType::Boolean), &json!(0.0)),
            Some(json!(false))
        );
        assert_eq!(convert(&def(ValueType::Boolean), &json!(0.5)), None);
        assert_eq!(
            convert(&def(ValueType::Date), &json!("2024-05-01T23:30:00-05:00")),
            Some(json!("2024-05-01"))
        );
        assert_eq!(
            convert(&def(ValueType::Datetime), &json!(0)),
            Some(json!("1970-01-01T00:00:00Z"))
        );
        assert_eq!(
            convert(&def(ValueType::Fixed), &json!("pro")),
            Some(json!("pro"))
        );
        assert_eq!(convert(&def(ValueType::Fixed), &json!("gold")), None);
        assert_eq!(stringify(&json!({"a": 1})), r#"{"a":1}"#);
    }

    #[test]
    fn name_std_rule() {
        // Documented: lower-case, whitespace → `_`.
        assert_eq!(name_std("My Attribute"), "my_attribute");
        assert_eq!(name_std("API string attribute"), "api_string_attribute");
        // camelCase and snake_case of one name share one key.
        assert_eq!(name_std("createdAt"), "created_at");
        assert_eq!(name_std("created_at"), "created_at");
        assert_eq!(name_std("planName"), "plan_name");
        assert_eq!(name_std("userID"), "user_id");
        assert_eq!(name_std("CreatedAt"), "created_at");
        assert_eq!(name_std("ABC"), "abc");
        assert_eq!(name_std("plan2Name"), "plan2_name");
        // Each whitespace character is one `_`; nothing is trimmed.
        assert_eq!(name_std(" My Attr "), "_my_attr_");
        assert_eq!(name_std("two  spaces"), "two__spaces");
        assert_eq!(name_std("Tab\tAnd\nNewline"), "tab_and_newline");
        assert_eq!(name_std("a\u{b}B\u{c}c\rD"), "a_b_c_d");
        assert_eq!(name_std("non\u{a0}breaking"), "non_breaking");
        // Every other character is kept; Unicode lower-casing.
        assert_eq!(name_std("a-b.c$d"), "a-b.c$d");
        assert_eq!(name_std("Ünïcode Key"), "ünïcode_key");
        assert_eq!(name_std("ZAŻÓŁĆ GĘŚLĄ"), "zażółć_gęślą");
        assert_eq!(name_std("ÄB c"), "äb_c");
        // Already normalised: borrowed, and the rule is idempotent.
        assert!(matches!(name_std_cow("plan_2"), Cow::Borrowed("plan_2")));
        assert!(matches!(name_std_cow("a-b.c$d"), Cow::Borrowed(_)));
        for n in ["userID", " My Attr ", "ZAŻÓŁĆ GĘŚLĄ", "a\u{b}B", "x\u{b}"] {
            let once = name_std(n);
            assert_eq!(name_std(&once), once, "{n:?}");
        }
        assert_eq!(name_std("x\u{b}"), "x_");
    }
}
