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

use std::cell::RefCell;

use serde_json::{Map, Value};

use super::{add_custom_attributes, text_limited, text_or_null, Dropped, Standard};
use crate::segment::{scan, Message};

/// Fields User.com owns; a trait normalising onto one is renamed `segment_<name>`.
pub const READ_ONLY: [&str; 12] = [
    "id",
    "user_key",
    "page_views",
    "last_seen",
    "first_seen",
    "created_at",
    "updated_at",
    "companies",
    "custom_id",
    "employees",
    "lists",
    "last_contacted",
];

/// Every standard user field the mapping writes; any other key of an upsert is a custom
/// attribute (defined and converted by [`crate::usercom::attributes`]).
pub const STANDARD: [&str; 35] = [
    "email",
    "first_name",
    "last_name",
    "phone_number",
    "gender",
    "country",
    "region",
    "city",
    "user_agent",
    "os",
    "device_name",
    "device_type",
    "language",
    "resolution",
    "ip_address",
    "browser_family",
    "browser_version",
    "timezone",
    "current_url",
    "status",
    "tags",
    "score",
    "unsubscribed",
    "notifications",
    "web_push_subscription",
    "assigned_to",
    "browser",
    "browser_language",
    "os_type",
    "last_ip",
    "gravatar_url",
    "google_url",
    "linkedin_url",
    "twitter_url",
    "facebook_url",
];

/// User.com's limit for `first_name` and `last_name` (DOC-users).
const NAME_MAX: usize = 40;
/// The limit the .NET SDK applies to `phone_number` and `city` "based on user.com requirements".
const SHORT_MAX: usize = 64;

/// The trait keys the table above consumes (`address` only when it is an object; `company` is
/// a membership, see [`super::company::from_identify`]).
const CONSUMED: [&str; 10] = [
    "email",
    "firstName",
    "first_name",
    "lastName",
    "last_name",
    "name",
    "phone",
    "gender",
    "company",
    "address",
];

/// The user fields for an identify message; a mapped trait whose value cannot go into its field
/// (an invalid email, a phone that is an object) is left out and recorded in `dropped`.
pub fn identify_fields_dropping(
    msg: &Message<'_>,
    dropped: &mut Vec<Dropped>,
) -> Map<String, Value> {
    let traits = msg.traits;
    let mut fields = Map::with_capacity(traits.len() + 12);
    let [email, first_camel, first_snake, last_camel, last_snake, name, phone, gender, _company, address] =
        scan(traits, &CONSUMED);
    let mut drop = |field: &str, reason: String| {
        dropped.push(Dropped {
            field: field.to_owned(),
            reason,
        });
    };

    if let Some(v) = email {
        match email_value(v) {
            Some(v) => {
                fields.insert("email".into(), v);
            }
            None => drop("email", format!("{v} is not an e-mail address")),
        }
    }

    let first = prefer(first_camel, first_snake);
    let last = prefer(last_camel, last_snake);
    if first.is_none() && last.is_none() {
        if let Some((f, l)) = name.and_then(Value::as_str).and_then(split_name) {
            fields.insert("first_name".into(), limit(f, NAME_MAX));
            if let Some(l) = l {
                fields.insert("last_name".into(), limit(l, NAME_MAX));
            }
        }
    } else {
        for (field, value) in [("first_name", first), ("last_name", last)] {
            let Some(value) = value else { continue };
            match text_limited(value, NAME_MAX) {
                Some(v) => {
                    fields.insert(field.into(), v);
                }
                None => drop(field, format!("{value} is not text")),
            }
        }
    }

    if let Some(value) = phone {
        match text_limited(value, SHORT_MAX) {
            Some(v) => {
                fields.insert("phone_number".into(), v);
            }
            None => drop("phone", format!("{value} is not text")),
        }
    }
    if let Some(code) = gender.and_then(gender_code) {
        fields.insert("gender".into(), Value::from(code));
    }

    let address = address.and_then(Value::as_object);
    if let Some(address) = address {
        let [country, state, region, city] = scan(address, &["country", "state", "region", "city"]);
        if let Some(v) = country.and_then(text_or_null) {
            fields.insert("country".into(), v);
        }
        if let Some(v) = prefer(state, region).and_then(text_or_null) {
            fields.insert("region".into(), v);
        }
        if let Some(v) = city.and_then(|v| text_limited(v, SHORT_MAX)) {
            fields.insert("city".into(), v);
        }
    }

    add_context_fields(&mut fields, msg);

    // `address` is only consumed when it could be taken apart (see the module docs).
    let consumed = if address.is_some() {
        &CONSUMED[..]
    } else {
        &CONSUMED[..9]
    };
    add_custom_attributes(&mut fields, traits, consumed, &READ_ONLY, standard_field);
    fields
}

/// The context part of the table in the module docs.
fn add_context_fields(fields: &mut Map<String, Value>, msg: &Message<'_>) {
    let ctx = msg.context.fields();
    let mut put = |key: &str, value: Option<&str>| {
        if let Some(v) = value {
            fields.insert(key.to_owned(), Value::String(v.to_owned()));
        }
    };
    put("user_agent", ctx.user_agent);
    // Read the memoised answer in place: each value is copied once, into its field.
    with_user_agent(ctx.user_agent.unwrap_or(""), |ua| {
        put("os", ctx.os_name.or(ua.os.as_deref()));
        put("device_name", ctx.device_name);
        put("device_type", ctx.device_type.or(ua.category.as_deref()));
        put("language", ctx.locale);
        if let Some((w, h)) = ctx.screen_size {
            put("resolution", Some(&format!("{w}x{h}")));
        }
        put("ip_address", ctx.ip);
        put("browser_family", ua.name.as_deref());
        put("browser_version", ua.version.as_deref());
    });
    put("timezone", ctx.timezone);
    put("current_url", ctx.page_url);
}

/// What a user agent string says, as `woothee` reads it (`None` where it says `UNKNOWN`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserAgentInfo {
    /// `Windows 10`, `iPhone`, `Mac OSX`, ...
    pub os: Option<String>,
    /// `pc`, `smartphone`, `mobilephone`, `appliance`, `crawler`, `misc`.
    pub category: Option<String>,
    /// Browser family: `Chrome`, `Safari`, `Firefox`, ...
    pub name: Option<String>,
    /// Browser version: `124.0.0.0`.
    pub version: Option<String>,
}

/// User agents remembered per thread (see [`parse_user_agent`]).
const USER_AGENT_MEMO: usize = 8;

thread_local! {
    /// The last few user agents parsed on this thread, and what they said, most recent first.
    /// Keyed by the whole string, so an entry can never be stale: messages from one client
    /// arrive together (one batch, one session), and a repeat then costs a string comparison
    /// instead of a parse (woothee takes 1.5-3 µs, as much as the rest of an identify's mapping).
    /// A few entries rather than one: a batch interleaving two or three clients (a web and a
    /// mobile app) would otherwise miss every time (`cargo bench --bench mapping`, "two UAs").
    static USER_AGENTS: RefCell<Vec<(String, UserAgentInfo)>> = const { RefCell::new(Vec::new()) };
}

/// Parses a user agent with `woothee`, reusing the answer for a recently seen string.
pub fn parse_user_agent(ua: &str) -> UserAgentInfo {
    with_user_agent(ua, UserAgentInfo::clone)
}

/// Calls `f` with what `ua` says (empty: nothing known), parsing it only when it is not among
/// the last [`USER_AGENT_MEMO`] seen on this thread.
fn with_user_agent<R>(ua: &str, f: impl FnOnce(&UserAgentInfo) -> R) -> R {
    if ua.is_empty() {
        return f(&UserAgentInfo::default());
    }
    USER_AGENTS.with(|memo| {
        let mut memo = memo.borrow_mut();
        if let Some(i) = memo.iter().position(|(cached, _)| cached == ua) {
            // Most recent first, so the common single-client case hits at index 0.
            memo[..=i].rotate_right(1);
            return f(&memo[0].1);
        }
        let known =
            |s: &str| (!s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN).then(|| s.to_owned());
        let info = match woothee::parser::Parser::new().parse(ua) {
            Some(r) => UserAgentInfo {
                os: known(r.os),
                category: known(r.category),
                name: known(r.name),
                version: known(r.version),
            },
            None => UserAgentInfo::default(),
        };
        if memo.len() == USER_AGENT_MEMO {
            memo.pop();
        }
        memo.insert(0, (ua.to_owned(), info));
        f(&memo[0].1)
    })
}

/// What a trait whose normalised key is a standard user field becomes: the field, converted
/// like its mapped source would be; a value the field cannot take is kept as `segment_<key>`.
///
/// This covers the typed fields the doc does not map too (`status`, `tags`, `score`,
/// `unsubscribed`, `notifications`, `assigned_to`, the profile URLs): User.com refuses a whole
/// request whose typed field has the wrong type, so a trait such as `status: "active"` would
/// otherwise lose the message. `company_custom_id` would add the user to a company as a side
/// effect: it is always kept as `segment_company_custom_id` (memberships come from group calls
/// and `traits.company`).
fn standard_field(key: &str, v: &Value) -> Standard {
    let converted = match key {
        "first_name" | "last_name" => text_limited(v, NAME_MAX),
        "phone_number" | "city" => text_limited(v, SHORT_MAX),
        "gender" => gender_code(v).map(Value::from),
        // User.com derives `name` from first and last name; a second spelling is dropped.
        "name" => return Standard::Skip,
        "email" => email_value(v),
        "status" => status_code(v),
        "tags" => tag_list(v),
        "score" | "assigned_to" => integer(v),
        "unsubscribed" | "notifications" | "web_push_subscription" => boolean(v),
        "company_custom_id" => return Standard::Rename,
        "country" | "region" | "user_agent" | "os" | "device_name" | "device_type" | "language"
        | "resolution" | "ip_address" | "browser_family" | "browser_version" | "timezone"
        | "current_url" | "browser" | "browser_language" | "os_type" | "last_ip"
        | "gravatar_url" | "google_url" | "linkedin_url" | "twitter_url" | "facebook_url" => {
            text_or_null(v)
        }
        _ => return Standard::Custom,
    };
    Standard::convert(v, converted)
}

/// An e-mail address as User.com takes it: text with one `@` between a non-empty local part and
/// a non-empty domain, no white space; `null` and `""` clear the field. `None`: not an address.
pub fn email_value(v: &Value) -> Option<Value> {
    match v {
        Value::Null => Some(Value::Null),
        Value::String(s) if s.is_empty() => Some(v.clone()),
        Value::String(s) => {
            let valid = match s.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty() && !domain.is_empty() && !domain.contains('@')
                }
                None => false,
            } && !s.contains(char::is_whitespace);
            valid.then(|| v.clone())
        }
        _ => None,
    }
}

/// `status`: 1 = visitor, 2 = user (User.com's write codes), from the code or the word.
fn status_code(v: &Value) -> Option<Value> {
    let code = match v {
        Value::Number(n) => n.as_u64().filter(|c| matches!(c, 1 | 2))?,
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "visitor" => 1,
            "2" | "user" => 2,
            _ => return None,
        },
        _ => return None,
    };
    Some(Value::from(code))
}

/// `tags`: a list of tag names (a single name is a one-tag list).
pub(super) fn tag_list(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(Value::Array(vec![v.clone()])),
        Value::Array(items)
            if items
                .iter()
                .all(|i| i.as_str().is_some_and(|s| !s.trim().is_empty())) =>
        {
            Some(v.clone())
        }
        _ => None,
    }
}

/// A whole number, from a number or a string of one (`"42"`).
pub(super) fn integer(v: &Value) -> Option<Value> {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(v.clone()),
        Value::Number(n) => n
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| Value::from(f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok().map(Value::from),
        _ => None,
    }
}

/// A boolean, from a boolean or the words `true`/`false`.
fn boolean(v: &Value) -> Option<Value> {
    match v {
        Value::Bool(_) => Some(v.clone()),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => None,
    }
}

/// `a` unless it is absent or `null`, then `b`; a `null` is returned only when neither has more.
pub(super) fn prefer<'a>(a: Option<&'a Value>, b: Option<&'a Value>) -> Option<&'a Value> {
    match (a, b) {
        (Some(x), _) if !x.is_null() => a,
        (_, Some(y)) if !y.is_null() => b,
        _ => a.or(b),
    }
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
    fn user_agent_parse_and_repeat_agree() {
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                      (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
        let expected_chrome = UserAgentInfo {
            os: Some("Windows 10".into()),
            category: Some("pc".into()),
            name: Some("Chrome".into()),
            version: Some("124.0.0.0".into()),
        };
        assert_eq!(parse_user_agent(chrome), expected_chrome);
        // A repeat (served by the one-entry memo) answers the same.
        assert_eq!(parse_user_agent(chrome), expected_chrome);
        let phone = parse_user_agent(iphone);
        assert_eq!(phone.name.as_deref(), Some("Safari"));
        assert_eq!(phone.category.as_deref(), Some("smartphone"));
        // Switching back re-parses rather than answering for the iPhone.
        assert_eq!(parse_user_agent(chrome), expected_chrome);
        assert_eq!(parse_user_agent(""), UserAgentInfo::default());
        assert_eq!(
            parse_user_agent("analytics-python/2.4.0"),
            UserAgentInfo::default()
        );
    }

    #[test]
    fn user_agent_memo_answers_for_the_string_asked_beyond_its_size() {
        let ua = |n: usize| {
            format!(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                 (KHTML, like Gecko) Chrome/{n}.0.0.0 Safari/537.36"
            )
        };
        let versions = 100..100 + 2 * USER_AGENT_MEMO + 1;
        // Forwards then backwards: hits, misses and evictions, each answer for its own string.
        for n in versions.clone().chain(versions.rev()) {
            let info = parse_user_agent(&ua(n));
            assert_eq!(info.version, Some(format!("{n}.0.0.0")), "user agent #{n}");
            assert_eq!(info.name.as_deref(), Some("Chrome"));
        }
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
    fn prefer_non_null_in_order() {
        let (x, y, null) = (json!("x"), json!("y"), Value::Null);
        assert_eq!(prefer(Some(&x), Some(&y)), Some(&x));
        assert_eq!(prefer(Some(&null), Some(&y)), Some(&y));
        assert_eq!(prefer(None, Some(&y)), Some(&y));
        assert_eq!(prefer(Some(&null), None), Some(&null));
        assert_eq!(prefer(None, Some(&null)), Some(&null));
        assert_eq!(prefer(None, None), None);
    }
}
