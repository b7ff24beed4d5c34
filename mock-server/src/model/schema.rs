//! The standard fields of users and companies: which keys a request body may write, how each is
//! validated, which are read-only, and which names an attribute definition may not take.
//!
//! Every other key of a user or company body is a custom attribute (see [`super::coerce`]).

use serde_json::{json, Value};

use super::coerce::ContentType;
use crate::error::{type_name, Error, Result};

/// How a standard (non-custom) field is validated on write.
#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
    /// A string (or null), with a maximum length in characters (0 = none).
    Str(usize),
    /// An e-mail address (or null / empty).
    Email,
    /// Integer 1 = unknown, 2 = male, 3 = female; reads as the word.
    Gender,
    /// Integer 1 = visitor, 2 = user; reads as the word.
    Status,
    /// A boolean.
    Bool,
    /// An integer.
    Int,
    /// A list of strings (a single string is accepted and wrapped).
    StrList,
}

/// The user's writable standard fields: v2 fields (usercom-api.md §2.2, §2.4) and the profile
/// fields the destination doc names.
pub(super) const USER_FIELDS: &[(&str, Kind)] = &[
    ("assigned_to", Kind::Int),
    ("browser", Kind::Str(0)),
    ("browser_family", Kind::Str(0)),
    ("browser_language", Kind::Str(0)),
    ("browser_version", Kind::Str(0)),
    ("city", Kind::Str(64)),
    ("country", Kind::Str(0)),
    ("current_url", Kind::Str(0)),
    ("device_name", Kind::Str(0)),
    ("device_type", Kind::Str(0)),
    ("email", Kind::Email),
    ("facebook_url", Kind::Str(0)),
    ("first_name", Kind::Str(40)),
    ("gender", Kind::Gender),
    ("google_url", Kind::Str(0)),
    ("gravatar_url", Kind::Str(0)),
    ("ip_address", Kind::Str(0)),
    ("language", Kind::Str(0)),
    ("last_ip", Kind::Str(0)),
    ("last_name", Kind::Str(40)),
    ("linkedin_url", Kind::Str(0)),
    ("notifications", Kind::Bool),
    ("os", Kind::Str(0)),
    ("os_type", Kind::Str(0)),
    ("phone_number", Kind::Str(64)),
    ("region", Kind::Str(0)),
    ("resolution", Kind::Str(0)),
    ("score", Kind::Int),
    ("status", Kind::Status),
    ("timezone", Kind::Str(0)),
    ("twitter_url", Kind::Str(0)),
    ("unsubscribed", Kind::Bool),
    ("user_agent", Kind::Str(0)),
    ("web_push_subscription", Kind::Bool),
];

/// Never written by a request body (ignored with a journal note).
pub(super) const USER_READ_ONLY: &[&str] = &[
    "id",
    "user_key",
    "page_views",
    "first_seen",
    "last_seen",
    "created_at",
    "updated_at",
    "companies",
    "employees",
    "name",
    "lists",
    "last_contacted",
];

pub(super) const COMPANY_FIELDS: &[(&str, Kind)] = &[
    ("address", Kind::Str(0)),
    ("assigned_to", Kind::Int),
    ("city", Kind::Str(0)),
    ("country", Kind::Str(0)),
    ("description", Kind::Str(0)),
    ("email", Kind::Str(0)),
    ("name", Kind::Str(0)),
    ("phone_numbers", Kind::StrList),
    ("postal_code", Kind::Str(0)),
    ("region", Kind::Str(0)),
    ("size", Kind::Int),
];

pub(super) const COMPANY_READ_ONLY: &[&str] = &["id", "employees", "created_at", "updated_at"];

/// Names an attribute definition may not take (they are standard or read-only fields).
pub fn reserved_name(ct: ContentType, name_std: &str) -> bool {
    let special = [
        "custom_id",
        "tags",
        "user_id",
        "company_custom_id",
        "custom_attributes",
    ];
    match ct {
        ContentType::Clientuser => {
            USER_FIELDS.iter().any(|(n, _)| *n == name_std)
                || USER_READ_ONLY.contains(&name_std)
                || special.contains(&name_std)
        }
        ContentType::Company => {
            COMPANY_FIELDS.iter().any(|(n, _)| *n == name_std)
                || COMPANY_READ_ONLY.contains(&name_std)
                || special.contains(&name_std)
        }
        ContentType::Event => false,
    }
}

pub(super) fn kind_of(
    table: &'static [(&'static str, Kind)],
    key: &str,
) -> Option<(&'static str, Kind)> {
    // The tables are sorted by name: binary search keeps lookups cheap.
    table
        .binary_search_by(|(n, _)| (*n).cmp(key))
        .ok()
        .map(|i| table[i])
}

/// A standard field's value, checked against its kind. `strict`: a list field takes a list only
/// (the default mode also takes one string as a list of one).
pub(super) fn validate(field: &str, kind: Kind, v: &Value, strict: bool) -> Result<Value> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let type_err =
        |expected: &str| Error::bad(field, format!("expected {expected}, got {}", type_name(v)));
    match kind {
        Kind::Str(max) => {
            let s = v.as_str().ok_or_else(|| type_err("a string"))?;
            if max > 0 && s.chars().count() > max {
                return Err(Error::bad(field, format!("longer than {max} characters")));
            }
            Ok(v.clone())
        }
        Kind::Email => {
            let s = v.as_str().ok_or_else(|| type_err("a string"))?;
            if !s.is_empty() {
                let ok = match s.split_once('@') {
                    Some((local, domain)) => {
                        !local.is_empty()
                            && !domain.is_empty()
                            && !domain.contains('@')
                            && !s.contains(char::is_whitespace)
                    }
                    None => false,
                };
                if !ok {
                    return Err(Error::bad(
                        field,
                        format!("`{s}` is not a valid e-mail address"),
                    ));
                }
            }
            Ok(v.clone())
        }
        Kind::Gender => match v.as_i64() {
            Some(n @ 1..=3) => Ok(Value::from(n)),
            _ => Err(Error::bad(
                field,
                format!("expected 1 (unknown), 2 (male) or 3 (female), got {v}"),
            )),
        },
        Kind::Status => match v.as_i64() {
            Some(n @ 1..=2) => Ok(Value::from(n)),
            _ => Err(Error::bad(
                field,
                format!("expected 1 (visitor) or 2 (user), got {v}"),
            )),
        },
        Kind::Bool => v
            .is_boolean()
            .then(|| v.clone())
            .ok_or_else(|| type_err("a boolean")),
        Kind::Int => v
            .as_i64()
            .map(Value::from)
            .ok_or_else(|| type_err("an integer")),
        Kind::StrList => match v {
            Value::String(s) if !strict => Ok(json!([s])),
            Value::Array(items) if items.iter().all(Value::is_string) => Ok(v.clone()),
            _ => Err(type_err("a list of strings")),
        },
    }
}

/// An optional string field (`custom_id`, …): string or null; numbers are accepted and written as
/// their decimal text because ids often arrive as numbers.
pub(super) fn opt_id(field: &str, v: &Value) -> Result<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Some(n.to_string())),
        other => Err(Error::bad(
            field,
            format!("expected a string, got {}", type_name(other)),
        )),
    }
}

pub(super) fn tag_list(field: &str, v: &Value) -> Result<Vec<String>> {
    match v {
        Value::Null => Ok(vec![]),
        Value::Array(items) => items
            .iter()
            .map(|t| {
                t.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Error::bad(field, "expected a list of tag names (strings)"))
            })
            .collect(),
        other => Err(Error::bad(
            field,
            format!("expected a list of strings, got {}", type_name(other)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_for_binary_search() {
        for t in [USER_FIELDS, COMPANY_FIELDS] {
            assert!(
                t.windows(2).all(|w| w[0].0 < w[1].0),
                "field table must stay sorted"
            );
        }
    }
}
