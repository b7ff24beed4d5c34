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

/// User.com's `name_std`: trimmed, lower-case, spaces → underscores.
pub fn name_std(name: &str) -> String {
    name_std_cow(name).into_owned()
}

/// [`name_std`] without allocating when the name already is its own `name_std` (the common case:
/// ASCII, lower-case, no whitespace), which the event hot path hits for every `data` key.
pub fn name_std_cow(name: &str) -> Cow<'_, str> {
    let already = name
        .bytes()
        .all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase());
    if already {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(name.trim().to_lowercase().replace(' ', "_"))
    }
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

fn whole_float(f: f64) -> Option<i64> {
    if f.is_finite() && f.fract() == 0.0 && f >= i64::MIN as f64 && f <= i64::MAX as f64 {
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
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
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
        assert_eq!(name_std(" My Attr "), "my_attr");
        assert!(matches!(name_std_cow("plan_2"), Cow::Borrowed("plan_2")));
        assert_eq!(name_std_cow("Plan\tx "), "plan\tx");
        assert_eq!(name_std_cow("ÄB c"), "äb_c");
        assert_eq!(name_std_cow("\u{b}x\u{b}"), "x");
    }
}
