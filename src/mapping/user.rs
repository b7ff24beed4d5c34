//! identify → the fields of one `POST /users/update_or_create/` (the op carries `custom_id`).
//!
//! | User.com field | from |
//! |---|---|
//! | `email` | `traits.email` |
//! | `first_name`, `last_name` | `firstName`, else `first_name` (resp. `lastName`/`last_name`); when neither name is given, `name` split at the first space (`"Ada King Lovelace"` → `Ada` / `King Lovelace`; a single word is only a first name). Cut to 40 characters (User.com's limit). |
//! | `phone_number` | `traits.phone`, cut to 64 characters |
//! | `gender` | `male`/`m` → 2, `female`/`f` → 3, anything else → 1 (unknown), case-insensitive; the numbers 1, 2, 3 (or their strings) pass through; `null` → left out |
//! | `country`, `region`, `city` | `traits.address.country`, `.state` (else `.region`), `.city` (64 characters), when `address` is an object |
//! | `user_agent` | `context.userAgent` |
//! | `os` | `context.os.name`, else parsed from the user agent |
//! | `device_name` | `context.device.name`, else `context.device.model` |
//! | `device_type` | `context.device.type`, else the user agent's category as `woothee` names it: `pc`, `smartphone`, `mobilephone`, `appliance`, `crawler`, `misc` |
//! | `language` | `context.locale` |
//! | `resolution` | `"{width}x{height}"` from `context.screen` |
//! | `ip_address` | `context.ip` |
//! | `browser_family`, `browser_version` | parsed from the user agent (`Chrome`, `124.0.0.0`) |
//! | `timezone` | `context.timezone` |
//! | `current_url` | `context.page.url` |
//!
//! Values the parser cannot tell (`UNKNOWN`) are left out. Context fields are only taken from
//! identify calls (the destination doc lists them there).
//!
//! An `address` that is not an object (a one-line string, say) has no country/region/city to
//! take apart; it is kept whole as the custom attribute `address` (users have no standard
//! `address` field), so nothing the sender wrote is lost. The object's `street` and `postalCode`
//! have no user field and are not sent.
//!
//! Other traits: custom attributes, see the [module docs](super).

use serde_json::{Map, Value};

use super::{add_custom_attributes, text_limited, text_or_null};
use crate::segment::Message;

/// Fields User.com owns; a trait normalising onto one is renamed `segment_<name>`.
pub const READ_ONLY: [&str; 9] = [
    "id",
    "user_key",
    "page_views",
    "last_seen",
    "first_seen",
    "created_at",
    "updated_at",
    "companies",
    "custom_id",
];

/// User.com's limit for `first_name` and `last_name` (DOC-users).
const NAME_MAX: usize = 40;
/// The limit the .NET SDK applies to `phone_number` and `city` "based on user.com requirements".
const SHORT_MAX: usize = 64;

/// The user fields for an identify message.
pub fn identify_fields(msg: &Message<'_>) -> Map<String, Value> {
    let traits = msg.traits;
    let mut fields = Map::with_capacity(traits.len() + 12);

    if let Some(v) = traits.get("email").and_then(text_or_null) {
        fields.insert("email".into(), v);
    }

    let first = first_present(traits, &["firstName", "first_name"]);
    let last = first_present(traits, &["lastName", "last_name"]);
    if first.is_none() && last.is_none() {
        if let Some((f, l)) = traits
            .get("name")
            .and_then(Value::as_str)
            .and_then(split_name)
        {
            fields.insert("first_name".into(), limit(f, NAME_MAX));
            if let Some(l) = l {
                fields.insert("last_name".into(), limit(l, NAME_MAX));
            }
        }
    } else {
        if let Some(v) = first.and_then(|v| text_limited(v, NAME_MAX)) {
            fields.insert("first_name".into(), v);
        }
        if let Some(v) = last.and_then(|v| text_limited(v, NAME_MAX)) {
            fields.insert("last_name".into(), v);
        }
    }

    if let Some(v) = traits.get("phone").and_then(|v| text_limited(v, SHORT_MAX)) {
        fields.insert("phone_number".into(), v);
    }
    if let Some(code) = traits.get("gender").and_then(gender_code) {
        fields.insert("gender".into(), Value::from(code));
    }

    let address = traits.get("address").and_then(Value::as_object);
    if let Some(address) = address {
        if let Some(v) = address.get("country").and_then(text_or_null) {
            fields.insert("country".into(), v);
        }
        if let Some(v) = first_present(address, &["state", "region"]).and_then(text_or_null) {
            fields.insert("region".into(), v);
        }
        if let Some(v) = address.get("city").and_then(|v| text_limited(v, SHORT_MAX)) {
            fields.insert("city".into(), v);
        }
    }

    add_context_fields(&mut fields, msg);

    // `address` is only consumed when it could be taken apart (see the module docs).
    const CONSUMED: [&str; 9] = [
        "email",
        "firstName",
        "first_name",
        "lastName",
        "last_name",
        "name",
        "phone",
        "gender",
        "address",
    ];
    let consumed = if address.is_some() {
        &CONSUMED[..]
    } else {
        &CONSUMED[..8]
    };
    add_custom_attributes(&mut fields, traits, consumed, &READ_ONLY, standard_field);
    fields
}

/// The context part of the table in the module docs.
fn add_context_fields(fields: &mut Map<String, Value>, msg: &Message<'_>) {
    let ctx = &msg.context;
    let user_agent = ctx.user_agent();
    // One parse per identify (about 1.4 µs); page and track never get here.
    let parsed = user_agent.and_then(|ua| woothee::parser::Parser::new().parse(ua));
    let known = |s: &str| -> Option<String> {
        (!s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN).then(|| s.to_owned())
    };
    let (ua_os, ua_category, ua_name, ua_version) = match &parsed {
        Some(r) => (
            known(r.os),
            known(r.category),
            known(r.name),
            known(r.version),
        ),
        None => (None, None, None, None),
    };

    let mut put = |key: &str, value: Option<String>| {
        if let Some(v) = value {
            fields.insert(key.to_owned(), Value::String(v));
        }
    };
    put("user_agent", user_agent.map(str::to_owned));
    put("os", ctx.os_name().map(str::to_owned).or(ua_os));
    put("device_name", ctx.device_name().map(str::to_owned));
    put(
        "device_type",
        ctx.device_type().map(str::to_owned).or(ua_category),
    );
    put("language", ctx.locale().map(str::to_owned));
    put(
        "resolution",
        ctx.screen_size().map(|(w, h)| format!("{w}x{h}")),
    );
    put("ip_address", ctx.ip().map(str::to_owned));
    put("browser_family", ua_name);
    put("browser_version", ua_version);
    put("timezone", ctx.timezone().map(str::to_owned));
    put("current_url", ctx.page_url().map(str::to_owned));
}

/// A custom trait whose normalised key is a standard user field: `Some(converted)` (the
/// conversion that field's mapped source gets; `Some(None)` = drop it), `None` = not standard.
fn standard_field(key: &str, v: &Value) -> Option<Option<Value>> {
    Some(match key {
        "first_name" | "last_name" => text_limited(v, NAME_MAX),
        "phone_number" | "city" => text_limited(v, SHORT_MAX),
        "gender" => gender_code(v).map(Value::from),
        // User.com derives `name` from first and last name; a second spelling is dropped.
        "name" => None,
        "email" | "country" | "region" | "user_agent" | "os" | "device_name" | "device_type"
        | "language" | "resolution" | "ip_address" | "browser_family" | "browser_version"
        | "timezone" | "current_url" => text_or_null(v),
        _ => return None,
    })
}

/// The first of `keys` holding a non-null value; else `null` when one of them is present.
fn first_present<'a>(obj: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    let mut seen_null = None;
    for key in keys {
        match obj.get(*key) {
            Some(Value::Null) => seen_null = seen_null.or(obj.get(*key)),
            Some(v) => return Some(v),
            None => {}
        }
    }
    seen_null
}

/// `"Ada King Lovelace"` → (`Ada`, `King Lovelace`); `"Ada"` → (`Ada`, none); blank → none.
fn split_name(name: &str) -> Option<(&str, Option<&str>)> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    Some(match name.split_once(char::is_whitespace) {
        Some((first, rest)) => {
            let rest = rest.trim();
            (first, (!rest.is_empty()).then_some(rest))
        }
        None => (name, None),
    })
}

fn limit(s: &str, max: usize) -> Value {
    Value::String(s.chars().take(max).collect())
}

/// User.com's write codes: 1 = unknown, 2 = male, 3 = female. `null` → `None` (left out).
pub fn gender_code(v: &Value) -> Option<u8> {
    Some(match v {
        Value::Null => return None,
        Value::Number(n) => match n.as_u64() {
            Some(c @ 1..=3) => c as u8,
            _ => 1,
        },
        Value::String(s) => {
            let s = s.trim();
            if s.eq_ignore_ascii_case("male") || s.eq_ignore_ascii_case("m") {
                2
            } else if s.eq_ignore_ascii_case("female") || s.eq_ignore_ascii_case("f") {
                3
            } else {
                match s {
                    "2" => 2,
                    "3" => 3,
                    _ => 1,
                }
            }
        }
        Value::Bool(_) | Value::Array(_) | Value::Object(_) => 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gender_variants() {
        for (input, code) in [
            (json!("male"), 2),
            (json!("Male"), 2),
            (json!("M"), 2),
            (json!(" m "), 2),
            (json!("FEMALE"), 3),
            (json!("f"), 3),
            (json!("Female"), 3),
            (json!("other"), 1),
            (json!(""), 1),
            (json!("mężczyzna"), 1),
            (json!(1), 1),
            (json!(2), 2),
            (json!(3), 3),
            (json!("2"), 2),
            (json!("3"), 3),
            (json!(4), 1),
            (json!(0), 1),
            (json!(-2), 1),
            (json!(2.5), 1),
            (json!(true), 1),
            (json!({"x": 1}), 1),
        ] {
            assert_eq!(gender_code(&input), Some(code), "{input}");
        }
        assert_eq!(gender_code(&Value::Null), None);
    }

    #[test]
    fn split_name_rules() {
        assert_eq!(split_name("Ada Lovelace"), Some(("Ada", Some("Lovelace"))));
        assert_eq!(
            split_name("  Ada  King Lovelace "),
            Some(("Ada", Some("King Lovelace")))
        );
        assert_eq!(split_name("Ada"), Some(("Ada", None)));
        assert_eq!(split_name("   "), None);
        assert_eq!(
            split_name("Zoë Łukasiewicz"),
            Some(("Zoë", Some("Łukasiewicz")))
        );
    }

    #[test]
    fn first_present_prefers_non_null_in_order() {
        let m = json!({"a": null, "b": "x"});
        let m = m.as_object().unwrap();
        assert_eq!(first_present(m, &["a", "b"]), Some(&json!("x")));
        assert_eq!(first_present(m, &["a", "c"]), Some(&Value::Null));
        assert_eq!(first_present(m, &["c"]), None);
    }
}
