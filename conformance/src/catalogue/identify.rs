//! `identify`: the documented mapping of standard traits, the address and the context to user
//! fields, one case per field.

use serde_json::{json, Map, Value};

use super::{one_step, Case, Ctx, Scenario, TraitRow};
use crate::checks::user;
use crate::expect::Expect;

/// Identify mapping.
const IDENTIFY: &str = "Calling .identify() causes User.com to automatically map the call’s traits and context data to appropriate fields in the user profile.";

/// The trait list.
const TRAITS: &str = "Traits that are mapped are:";

/// Address bullet.
const ADDRESS: &str = "address is mapped to country, region and city fields if possible.";

/// Context bullet.
const CONTEXT: &str = "If possible following data is extracted from context and mapped to user profile’s fields: user_agent, os, device_name, device_type, language, resolution, ip_address, browser_family, browser_version, timezone, current_url.";

/// The `identify` mapping cases, in report order.
pub(super) fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // Every identify trait mapping, one case each.
    for (trait_name, value, field, expect) in identify_trait_table() {
        cases.push(Case::new(
            format!("identify_trait_{trait_name}"),
            TRAITS,
            move |ctx: &Ctx| {
                let u = ctx.id("u");
                let mut traits = Map::new();
                traits.insert(trait_name.to_string(), value.clone());
                one_step(
                    vec![ctx.identify(&u, Value::Object(traits))],
                    vec![user::field(&u, field, expect.clone())],
                )
            },
        ));
    }
    for (suffix, sent, word) in gender_table() {
        cases.push(Case::new(
            format!("identify_gender_{suffix}"),
            TRAITS,
            move |ctx: &Ctx| {
                let u = ctx.id("u");
                one_step(
                    vec![ctx.identify(&u, json!({ "gender": sent }))],
                    vec![user::field(&u, "gender", Expect::Eq(json!(word)))],
                )
            },
        ));
    }
    cases.push(Case::new(
        "identify_camel_case_names",
        IDENTIFY,
        identify_camel_case,
    ));
    cases.push(Case::new(
        "identify_name_split_when_no_first_or_last",
        IDENTIFY,
        identify_name_split,
    ));
    cases.push(Case::new(
        "identify_null_camel_name_falls_back_to_snake",
        IDENTIFY,
        identify_null_camel,
    ));
    for (field, expect) in address_table() {
        cases.push(Case::new(
            format!("identify_address_{field}"),
            ADDRESS,
            move |ctx: &Ctx| {
                let u = ctx.id("u");
                one_step(
                    vec![ctx.identify(
                        &u,
                        json!({"address": {"street": "Marszałkowska 1", "city": "Warsaw", "state": "Mazowieckie", "postalCode": "00-001", "country": "Poland"}}),
                    )],
                    vec![user::field(&u, field, expect.clone())],
                )
            },
        ));
    }
    for (field, expect) in context_table() {
        cases.push(Case::new(
            format!("identify_context_{field}"),
            CONTEXT,
            move |ctx: &Ctx| {
                let u = ctx.id("u");
                let msg = ctx.message(
                    "identify",
                    Some(&u),
                    None,
                    json!({"traits": {"email": "ctx@example.com"}, "context": full_context()}),
                );
                one_step(vec![msg], vec![user::field(&u, field, expect.clone())])
            },
        ));
    }
    cases.push(
        Case::new(
            "identify_context_user_agents_per_user",
            CONTEXT,
            identify_user_agents,
        )
        .with_rule("\"if possible\": browser_family and browser_version are parsed from each message's own userAgent; an agent nobody can parse adds no browser fields"),
    );
    cases
}

fn identify_trait_table() -> Vec<TraitRow> {
    vec![
        (
            "email",
            json!("ada@example.com"),
            "email",
            Expect::Eq(json!("ada@example.com")),
        ),
        (
            "first_name",
            json!("Ada"),
            "first_name",
            Expect::Eq(json!("Ada")),
        ),
        (
            "last_name",
            json!("Lovelace"),
            "last_name",
            Expect::Eq(json!("Lovelace")),
        ),
        (
            "phone",
            json!("+48 22 123 45 67"),
            "phone_number",
            Expect::Eq(json!("+48 22 123 45 67")),
        ),
    ]
}

/// Every gender value the mapping distinguishes (design.md: male/m → male, female/f → female,
/// anything else → unknown; case-insensitive), as User.com reads it back: the word
/// (usercom-api.md §2.2). Case id suffix, value sent, word read back.
fn gender_table() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        ("male", json!("male"), "male"),
        ("female", json!("female"), "female"),
        ("m", json!("m"), "male"),
        ("f", json!("f"), "female"),
        ("upper_case_male", json!("MALE"), "male"),
        ("upper_case_f", json!("F"), "female"),
        ("other_is_unknown", json!("non-binary"), "unknown"),
    ]
}

fn address_table() -> Vec<(&'static str, Expect)> {
    vec![
        ("country", Expect::Eq(json!("Poland"))),
        ("region", Expect::Eq(json!("Mazowieckie"))),
        ("city", Expect::Eq(json!("Warsaw"))),
    ]
}

const UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

const PAGE_URL: &str = "https://shop.example.com/pricing?plan=pro";

fn full_context() -> Value {
    json!({
        "ip": "203.0.113.7",
        "userAgent": UA,
        "locale": "pl-PL",
        "timezone": "Europe/Warsaw",
        "os": {"name": "Windows", "version": "10"},
        "device": {"name": "Work laptop", "type": "desktop"},
        "screen": {"width": 1920, "height": 1080, "density": 1},
        "page": {"url": PAGE_URL, "path": "/pricing", "title": "Pricing"},
        "library": {"name": "usercom-conformance", "version": "0.1.0"}
    })
}

fn context_table() -> Vec<(&'static str, Expect)> {
    vec![
        ("user_agent", Expect::Eq(json!(UA))),
        ("os", Expect::Contains("windows".into())),
        ("device_name", Expect::Eq(json!("Work laptop"))),
        ("device_type", Expect::EqIgnoreCase("desktop".into())),
        ("language", Expect::Contains("pl".into())),
        ("resolution", Expect::Eq(json!("1920x1080"))),
        ("ip_address", Expect::Eq(json!("203.0.113.7"))),
        ("browser_family", Expect::Contains("chrome".into())),
        ("browser_version", Expect::StartsWith("124".into())),
        ("timezone", Expect::Eq(json!("Europe/Warsaw"))),
        ("current_url", Expect::Eq(json!(PAGE_URL))),
    ]
}

const IPHONE_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

const FIREFOX_UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0";

const BOT_UA: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

/// Users in one batch, each with another user agent (one nobody can parse, one known by name only).
fn identify_user_agents(ctx: &Ctx) -> Scenario {
    let [a, b, c, d, e] = [
        ctx.id("a"),
        ctx.id("b"),
        ctx.id("c"),
        ctx.id("d"),
        ctx.id("e"),
    ];
    let with_ua = |user: &str, ua: &str| {
        ctx.message(
            "identify",
            Some(user),
            None,
            json!({"traits": {"email": "ua@example.com"}, "context": {"userAgent": ua}}),
        )
    };
    one_step(
        vec![
            with_ua(&a, UA),
            with_ua(&b, IPHONE_UA),
            with_ua(&c, FIREFOX_UA),
            with_ua(&d, "totally-custom-agent/1.0"),
            with_ua(&e, BOT_UA),
        ],
        vec![
            user::field(&a, "browser_family", Expect::Contains("chrome".into())),
            user::field(&b, "browser_family", Expect::Contains("safari".into())),
            user::field(&b, "browser_version", Expect::StartsWith("17".into())),
            user::field(&c, "browser_family", Expect::Contains("firefox".into())),
            user::field(&c, "browser_version", Expect::StartsWith("125".into())),
            user::field(
                &d,
                "user_agent",
                Expect::Eq(json!("totally-custom-agent/1.0")),
            ),
            user::field(&d, "browser_family", Expect::Absent),
            user::field(&d, "browser_version", Expect::Absent),
            // Known by name only: what cannot be read from it is left out, not sent as a
            // placeholder such as "UNKNOWN".
            user::field(&e, "browser_family", Expect::Contains("googlebot".into())),
            user::field(&e, "browser_version", Expect::Absent),
            user::field(&e, "os", Expect::Absent),
        ],
    )
}

fn identify_camel_case(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    one_step(
        vec![ctx.identify(
            &u,
            json!({"firstName": "Grace", "lastName": "Hopper", "email": "grace@example.com"}),
        )],
        vec![
            user::field(&u, "first_name", Expect::Eq(json!("Grace"))),
            user::field(&u, "last_name", Expect::Eq(json!("Hopper"))),
            user::field(&u, "email", Expect::Eq(json!("grace@example.com"))),
        ],
    )
}

/// design.md: "(only `name` given → split at the first space)".
fn identify_name_split(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let v = ctx.id("v");
    one_step(
        vec![
            ctx.identify(&u, json!({"name": "Ada King Lovelace"})),
            ctx.identify(&v, json!({"name": "Plato"})),
        ],
        vec![
            user::field(&u, "first_name", Expect::Eq(json!("Ada"))),
            user::field(&u, "last_name", Expect::Eq(json!("King Lovelace"))),
            user::field(&v, "first_name", Expect::Eq(json!("Plato"))),
            user::field(&v, "last_name", Expect::Absent),
        ],
    )
}

/// design.md: `first_name`/`last_name` ← `firstName|first_name`, `lastName|last_name`: a `null`
/// camelCase spelling is "not given", so the snake_case one applies (and a name given in either
/// spelling means `name` is not split).
fn identify_null_camel(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    one_step(
        vec![ctx.identify(
            &u,
            json!({"firstName": null, "first_name": "Edsger", "lastName": null, "last_name": "Dijkstra", "name": "Someone Else"}),
        )],
        vec![
            user::field(&u, "first_name", Expect::Eq(json!("Edsger"))),
            user::field(&u, "last_name", Expect::Eq(json!("Dijkstra"))),
        ],
    )
}
