//! group → the company fields for `POST /companies/` or `PUT /companies/{id}/` (the op carries
//! `group_id`; delivery adds it as the company's `custom_id`).
//!
//! | User.com field | from |
//! |---|---|
//! | `name`, `email`, `description` | the traits of the same name |
//! | `phone_numbers` | `traits.phone` as a one-element list (`"+48…"` → `["+48…"]`); a list of phones passes as a list of strings. User.com's company API takes `phone_numbers` as a **list of strings** (usercom-api.md §6); RudderStack sends a bare string there, which we do not copy. |
//! | `address` | an object → `"street, city, state, postalCode, country"`, missing or empty parts skipped; a string → as sent |
//! | `city`, `region`, `country`, `postal_code` | `address.city`, `address.state` (else `.region`), `address.country`, `address.postalCode` (else `.postal_code`), when `address` is an object |
//! | `size` | `traits.employees` as a non-negative integer: numbers (`120`, `120.0`) and numeric strings (`"120"`) convert; anything else (`"lots"`, `-5`, `12.5`) is left out, since `size` is an integer field and a wrong type would fail the whole request |
//!
//! Other traits (`industry`, `website`, `plan`, ...) become company custom attributes by the rules
//! in the [module docs](super); company read-only fields are `id`, `custom_id`, `created_at`,
//! `updated_at` and `employees` (the member list, which only `add_member` changes).

use serde_json::{Map, Value};

use super::user::{integer, prefer, tag_list};
use super::{add_custom_attributes, text_or_null, Dropped, Standard};
use crate::segment::scan;

/// Company fields User.com owns; a trait normalising onto one is renamed `segment_<name>`.
pub const READ_ONLY: [&str; 5] = ["id", "custom_id", "created_at", "updated_at", "employees"];

/// Every standard company field the mapping writes; any other key is a custom attribute.
pub const STANDARD: [&str; 12] = [
    "name",
    "email",
    "phone_numbers",
    "address",
    "city",
    "region",
    "country",
    "postal_code",
    "description",
    "size",
    "tags",
    "assigned_to",
];

const CONSUMED: [&str; 6] = [
    "name",
    "email",
    "phone",
    "address",
    "description",
    "employees",
];

/// identify's `traits.company` (Segment's reserved trait: an object with `id`, `name`, and
/// other company traits) → the company's group id (its `id`, else its `name`) and fields, by the
/// same table as a group call's traits. A bare string is taken as the company's name. A company
/// with neither is recorded in `dropped` (there is nothing to find it by).
pub fn from_identify(
    traits: &Map<String, Value>,
    dropped: &mut Vec<Dropped>,
) -> Option<(String, Map<String, Value>)> {
    let company = traits.get("company").filter(|c| !c.is_null())?;
    let key = |v: Option<&Value>| match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    match company {
        Value::Object(object) => {
            let Some(group_id) = key(object.get("id")).or_else(|| key(object.get("name"))) else {
                dropped.push(Dropped {
                    field: "company".into(),
                    reason: "traits.company has neither an id nor a name".into(),
                });
                return None;
            };
            let mut rest = object.clone();
            rest.remove("id");
            Some((group_id, fields_dropping(&rest, dropped)))
        }
        Value::String(_) => {
            let name = key(Some(company))?;
            let mut fields = Map::new();
            fields.insert("name".into(), Value::String(name.clone()));
            Some((name, fields))
        }
        other => {
            dropped.push(Dropped {
                field: "company".into(),
                reason: format!(
                    "traits.company must be an object with an id or a name, got {other}"
                ),
            });
            None
        }
    }
}

/// The company fields for a group's traits; a mapped trait whose value cannot go into its
/// field is left out and recorded in `dropped`.
pub fn fields_dropping(
    traits: &Map<String, Value>,
    dropped: &mut Vec<Dropped>,
) -> Map<String, Value> {
    let mut fields = Map::with_capacity(traits.len() + 6);
    let [name, email, phone, address, description, employees] = scan(traits, &CONSUMED);

    if let Some(v) = name.and_then(text_or_null) {
        fields.insert("name".into(), v);
    }
    if let Some(v) = email.and_then(text_or_null) {
        fields.insert("email".into(), v);
    }
    if let Some(v) = phone.and_then(phone_list) {
        fields.insert("phone_numbers".into(), v);
    }
    match address {
        Some(Value::Object(address)) => add_address(&mut fields, address),
        Some(other) => {
            if let Some(v) = text_or_null(other) {
                fields.insert("address".into(), v);
            }
        }
        None => {}
    }
    if let Some(v) = description.and_then(text_or_null) {
        fields.insert("description".into(), v);
    }
    if let Some(value) = employees.filter(|v| !v.is_null()) {
        match size(value) {
            Some(v) => {
                fields.insert("size".into(), v);
            }
            None => dropped.push(Dropped {
                field: "employees".into(),
                reason: format!("{value} is not a whole number of employees"),
            }),
        }
    }

    add_custom_attributes(&mut fields, traits, &CONSUMED, &READ_ONLY, standard_field);
    fields
}

fn add_address(fields: &mut Map<String, Value>, address: &Map<String, Value>) {
    let [street, city, state, region, postal_camel, postal_snake, country] = scan(
        address,
        &[
            "street",
            "city",
            "state",
            "region",
            "postalCode",
            "postal_code",
            "country",
        ],
    );
    let region = prefer(state, region);
    let postal_code = prefer(postal_camel, postal_snake);

    let mut line = String::new();
    for part in [street, city, region, postal_code, country] {
        let part = match part {
            Some(Value::String(s)) => s.trim(),
            Some(Value::Number(n)) => &n.to_string(),
            _ => continue,
        };
        if part.is_empty() {
            continue;
        }
        if !line.is_empty() {
            line.push_str(", ");
        }
        line.push_str(part);
    }
    if !line.is_empty() {
        fields.insert("address".into(), Value::String(line));
    }
    for (to, from) in [
        ("city", city),
        ("region", region),
        ("country", country),
        ("postal_code", postal_code),
    ] {
        if let Some(v) = from.and_then(text_or_null) {
            fields.insert(to.to_owned(), v);
        }
    }
}

/// `phone` → `phone_numbers`: a list of non-empty strings; `None` when there is none.
fn phone_list(v: &Value) -> Option<Value> {
    let one = |v: &Value| match v {
        Value::String(s) if !s.trim().is_empty() => Some(Value::String(s.clone())),
        Value::Number(n) => Some(Value::String(n.to_string())),
        _ => None,
    };
    match v {
        Value::Array(items) => {
            let list: Vec<Value> = items.iter().filter_map(one).collect();
            (!list.is_empty()).then_some(Value::Array(list))
        }
        other => one(other).map(|p| Value::Array(vec![p])),
    }
}

/// `employees` → `size`: a non-negative integer, from a number or a numeric string.
pub fn size(v: &Value) -> Option<Value> {
    // Largest f64 below 2^63 that still converts exactly.
    const MAX: f64 = 9.223_372_036_854_775e18;
    let from_f64 =
        |f: f64| (f >= 0.0 && f.fract() == 0.0 && f <= MAX).then(|| Value::from(f as i64));
    match v {
        Value::Number(n) => match (n.as_u64(), n.as_f64()) {
            (Some(u), _) if u <= i64::MAX as u64 => Some(Value::from(u)),
            (Some(_), _) => None,
            (None, Some(f)) => from_f64(f),
            (None, None) => None,
        },
        Value::String(s) => {
            let s = s.trim();
            match s.parse::<u64>() {
                Ok(u) if u <= i64::MAX as u64 => Some(Value::from(u)),
                Ok(_) => None,
                Err(_) => s
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .and_then(from_f64),
            }
        }
        _ => None,
    }
}

/// What a trait whose normalised key is a standard company field becomes (see [`super`]):
/// converted when it can be, else kept as `segment_<key>`.
fn standard_field(key: &str, v: &Value) -> Standard {
    let converted = match key {
        "name" | "email" | "address" | "city" | "region" | "country" | "postal_code"
        | "description" => text_or_null(v),
        "phone_numbers" => phone_list(v),
        "size" => size(v),
        "tags" => tag_list(v),
        "assigned_to" => integer(v),
        _ => return Standard::Custom,
    };
    Standard::convert(v, converted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn size_conversions() {
        for (input, expected) in [
            (json!(120), Some(json!(120))),
            (json!(0), Some(json!(0))),
            (json!(120.0), Some(json!(120))),
            (json!("120"), Some(json!(120))),
            (json!(" 45 "), Some(json!(45))),
            (json!("1e3"), Some(json!(1000))),
            (
                json!(9_223_372_036_854_775_807i64),
                Some(json!(9_223_372_036_854_775_807i64)),
            ),
            (json!(18_446_744_073_709_551_615u64), None),
            (json!(1e300), None),
            (json!(-5), None),
            (json!(12.5), None),
            (json!("lots"), None),
            (json!("NaN"), None),
            (json!("inf"), None),
            (json!(""), None),
            (json!(true), None),
            (json!(null), None),
            (json!([1]), None),
        ] {
            assert_eq!(size(&input), expected, "{input}");
        }
    }

    #[test]
    fn phone_list_shapes() {
        assert_eq!(phone_list(&json!("+48 500")), Some(json!(["+48 500"])));
        assert_eq!(phone_list(&json!(48500)), Some(json!(["48500"])));
        assert_eq!(
            phone_list(&json!(["1", 2, null, "", {}])),
            Some(json!(["1", "2"]))
        );
        assert_eq!(phone_list(&json!("")), None);
        assert_eq!(phone_list(&json!(null)), None);
        assert_eq!(phone_list(&json!([])), None);
        assert_eq!(phone_list(&json!({"a": "1"})), None);
    }
}
