//! Custom traits of `identify`: an unknown trait creates a string attribute; a defined one is
//! converted to the defined type, and a value that cannot be converted is ignored.

use chrono::NaiveDate;
use serde_json::{json, Map, Value};

use super::inputs::{def, instant};
use super::{one_step, seeded_step, AttrDef, Case, Ctx, Scenario, Step};
use crate::checks::{user, Attribute, Requested};
use crate::expect::Expect;

/// Unknown custom trait.
const NEW_AS_STRING: &str = "NOTE: if a given trait has no respective custom attribute already defined in in User.com, it will be created with the type string!";

/// Defined custom trait.
const CONVERT: &str = "However, if a custom attribute already exists, we’ll try to convert given data to defined type, ignoring values that cannot be converted, e.g.:";

/// The integer example.
const INTEGER_123: &str = "custom_integer attribute will be set to 123 in user’s profile because custom_integer is already defined in User.com with type number";

/// The new-integer example.
const NEW_999: &str = "custom_integer_new attribute will be created and set to '999' in user profile, because it did not exists before we use default string type for attribute";

/// The custom-trait cases, in report order.
pub(super) fn cases() -> Vec<Case> {
    let mut cases = vec![
        Case::new("custom_trait_new_is_string_999", NEW_999, custom_new_999),
        Case::new(
            "custom_trait_new_types_stringified",
            NEW_AS_STRING,
            custom_new_types,
        ),
        Case::new(
            "custom_trait_defined_integer_123",
            INTEGER_123,
            custom_integer_123,
        ),
    ];
    for (value_type, sent, expect) in defined_type_table() {
        cases.push(Case::new(
            format!("custom_trait_defined_{value_type}"),
            CONVERT,
            move |ctx: &Ctx| {
                let u = ctx.id("u");
                let name = ctx.attr(&format!("custom_{value_type}"));
                let mut traits = Map::new();
                traits.insert(name.clone(), sent.clone());
                seeded_step(
                    vec![user_def(name.clone(), value_type)],
                    vec![ctx.identify(&u, Value::Object(traits))],
                    vec![
                        user::field(&u, &name, expect.clone()),
                        Attribute {
                            content_type: "clientuser",
                            name,
                            value_type: Expect::Eq(json!(value_type)),
                        }
                        .into(),
                    ],
                )
            },
        ));
    }
    for (value_type, bad) in unconvertible_table() {
        cases.push(Case::new(
            format!("custom_trait_unconvertible_{value_type}_ignored"),
            CONVERT,
            move |ctx: &Ctx| {
                let u = ctx.id("u");
                let name = ctx.attr(&format!("strict_{value_type}"));
                let other = ctx.attr("other_note");
                let mut traits = Map::new();
                traits.insert(name.clone(), bad.clone());
                traits.insert("email".into(), json!("rest@example.com"));
                traits.insert(other.clone(), json!("kept"));
                seeded_step(
                    vec![user_def(name.clone(), value_type)],
                    vec![ctx.identify(&u, Value::Object(traits))],
                    vec![
                        user::field(&u, &name, Expect::Absent),
                        user::field(&u, "email", Expect::Eq(json!("rest@example.com"))),
                        user::field(&u, &other, Expect::Eq(json!("kept"))),
                    ],
                )
            },
        ));
    }
    cases.push(Case::new(
        "custom_trait_unconvertible_keeps_old_value",
        CONVERT,
        unconvertible_keeps_old,
    ));
    cases.push(
        Case::new(
            "custom_trait_new_defined_by_the_forwarder",
            NEW_AS_STRING,
            defined_by_forwarder,
        )
        .with_rule("design.md: the REST API does not create attributes; the forwarder defines a missing one itself (POST /attributes/ as string, content type clientuser), once"),
    );
    cases
}

/// A user attribute definition of `value_type`; a `fixed` one has the choices gold and silver.
fn user_def(name: String, value_type: &'static str) -> AttrDef {
    let mut d = def(name, value_type, "clientuser");
    if value_type == "fixed" {
        d.choices = vec!["gold".into(), "silver".into()];
    }
    d
}

fn defined_type_table() -> Vec<(&'static str, Value, Expect)> {
    vec![
        ("float", json!("2.5"), Expect::Eq(json!(2.5))),
        ("boolean", json!("true"), Expect::Eq(json!(true))),
        (
            "date",
            json!("2024-05-01T10:00:00Z"),
            Expect::Date(NaiveDate::from_ymd_opt(2024, 5, 1).expect("valid date")),
        ),
        (
            "datetime",
            json!("2024-05-01"),
            Expect::Instant(instant("2024-05-01T00:00:00Z")),
        ),
        ("fixed", json!("gold"), Expect::Eq(json!("gold"))),
        ("string", json!(42), Expect::Eq(json!("42"))),
        ("json", json!({"a": [1, 2]}), Expect::Present),
    ]
}

fn unconvertible_table() -> Vec<(&'static str, Value)> {
    vec![
        ("integer", json!("abc")),
        ("float", json!("not a number")),
        ("boolean", json!("maybe")),
        ("date", json!("not a date")),
        ("datetime", json!("yesterday-ish")),
        ("fixed", json!("bronze")),
    ]
}

fn custom_new_999(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let name = ctx.attr("custom_integer_new");
    let mut traits = Map::new();
    traits.insert(name.clone(), json!(999));
    one_step(
        vec![ctx.identify(&u, Value::Object(traits))],
        vec![
            user::field(&u, &name, Expect::Eq(json!("999"))),
            Attribute {
                content_type: "clientuser",
                name,
                value_type: Expect::Eq(json!("string")),
            }
            .into(),
        ],
    )
}

fn custom_new_types(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let rows = [
        ("new_bool", json!(true), json!("true")),
        ("new_float", json!(1.5), json!("1.5")),
        ("new_text", json!("hello"), json!("hello")),
    ];
    let mut traits = Map::new();
    let mut checks = Vec::new();
    for (name, sent, want) in rows {
        let name = ctx.attr(name);
        traits.insert(name.clone(), sent);
        checks.push(user::field(&u, &name, Expect::Eq(want)));
        checks.push(
            Attribute {
                content_type: "clientuser",
                name,
                value_type: Expect::Eq(json!("string")),
            }
            .into(),
        );
    }
    one_step(vec![ctx.identify(&u, Value::Object(traits))], checks)
}

fn custom_integer_123(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let name = ctx.attr("custom_integer");
    let new = ctx.attr("custom_integer_new");
    let mut traits = Map::new();
    traits.insert(name.clone(), json!("123"));
    traits.insert(new.clone(), json!(999));
    seeded_step(
        vec![def(name.clone(), "integer", "clientuser")],
        vec![ctx.identify(&u, Value::Object(traits))],
        vec![
            user::field(&u, &name, Expect::Eq(json!(123))),
            user::field(&u, &new, Expect::Eq(json!("999"))),
        ],
    )
}

fn unconvertible_keeps_old(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let name = ctx.attr("lucky_number");
    let mut first = Map::new();
    first.insert(name.clone(), json!(7));
    let mut second = Map::new();
    second.insert(name.clone(), json!("seven"));
    second.insert("email".into(), json!("second@example.com"));
    Scenario {
        seed: vec![def(name.clone(), "integer", "clientuser")],
        setup: vec![],
        steps: vec![
            Step::new(
                vec![ctx.identify(&u, Value::Object(first))],
                vec![user::field(&u, &name, Expect::Eq(json!(7)))],
            ),
            Step::new(
                vec![ctx.identify(&u, Value::Object(second))],
                vec![
                    user::field(&u, &name, Expect::Eq(json!(7))),
                    user::field(&u, "email", Expect::Eq(json!("second@example.com"))),
                ],
            ),
        ],
    }
}

fn defined_by_forwarder(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let v = ctx.id("v");
    let name = ctx.attr("referral_code");
    let mut traits = Map::new();
    traits.insert(name.clone(), json!("SPRING"));
    one_step(
        vec![
            ctx.identify(&u, Value::Object(traits.clone())),
            ctx.identify(&v, Value::Object(traits)),
        ],
        vec![
            user::field(&u, &name, Expect::Eq(json!("SPRING"))),
            user::field(&v, &name, Expect::Eq(json!("SPRING"))),
            Requested::exactly(
                1,
                "POST",
                "/attributes/",
                Some(("name".into(), json!(name))),
            ),
            Attribute {
                content_type: "clientuser",
                name,
                value_type: Expect::Eq(json!("string")),
            }
            .into(),
        ],
    )
}
