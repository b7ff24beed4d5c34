//! The conversion table, row by row: a custom trait of `identify` sent to an attribute already
//! defined with each type, at the edges of "try to convert ... ignoring values that cannot be
//! converted" (docs/CONVERSIONS.md makes that sentence exact; these rows are written from it by
//! hand). One case per type; each row is its own attribute, so a failure names the row.
//!
//! Against the simulator's strict mode (User.com's REST API converts nothing), only a forwarder
//! that converts by the table itself passes; in the default mode the simulator converts too.

use chrono::NaiveDate;
use serde_json::{json, Map, Value};

use super::inputs::{def, instant};
use super::{seeded_step, AttrDef, Case, Ctx, Scenario};
use crate::checks::user;
use crate::expect::Expect;

/// Defined custom trait.
const CONVERT: &str = "However, if a custom attribute already exists, we’ll try to convert given data to defined type, ignoring values that cannot be converted, e.g.:";

/// What the rows rest on.
const RULE: &str = "docs/CONVERSIONS.md: the one conversion table (numbers with exponents and decimals after trimming, integers in the signed 64-bit range, booleans 1/0 and true/false, dates exactly YYYY-MM-DD or RFC 3339 or unix seconds, fixed choices compared as JSON text)";

/// One row: the value sent, and what is stored (`None`: ignored, nothing stored).
type Row = (Value, Option<Expect>);

/// A type's name and its rows.
type Table = (&'static str, fn() -> Vec<Row>);

/// The conversion-table cases, in report order.
pub(super) fn cases() -> Vec<Case> {
    let tables: [Table; 7] = [
        ("integer", integer_rows),
        ("float", float_rows),
        ("boolean", boolean_rows),
        ("date", date_rows),
        ("datetime", datetime_rows),
        ("fixed", fixed_rows),
        ("string", string_rows),
    ];
    let mut cases: Vec<Case> = tables
        .into_iter()
        .map(|(value_type, rows)| {
            Case::new(
                format!("conversion_table_{value_type}"),
                CONVERT,
                move |ctx: &Ctx| table_case(ctx, value_type, rows(), false),
            )
            .with_rule(RULE)
        })
        .collect();
    cases.push(
        Case::new(
            "conversion_table_fixed_multiple_choices",
            CONVERT,
            |ctx: &Ctx| table_case(ctx, "fixed", multiple_rows(), true),
        )
        .with_rule(RULE),
    );
    cases
}

fn integer_rows() -> Vec<Row> {
    let eq = |v: Value| Some(Expect::Eq(v));
    vec![
        (json!(-3), eq(json!(-3))),
        (json!(5.0), eq(json!(5))),
        (json!(1e16), eq(json!(10_000_000_000_000_000_i64))),
        (json!("4.0"), eq(json!(4))),
        (json!("1e3"), eq(json!(1000))),
        (json!(" 123 "), eq(json!(123))),
        // Above 2^53: kept exactly (a float would round it to ...992).
        (
            json!(9_007_199_254_740_993_i64),
            eq(json!(9_007_199_254_740_993_i64)),
        ),
        (json!("+7"), eq(json!(7))),
        (json!(1.5), None),
        (json!("2.5"), None),
        (json!(1e19), None),
        (json!(9_223_372_036_854_775_808_u64), None),
        (json!("1e400"), None),
        (json!(true), None),
        (json!("abc"), None),
    ]
}

fn float_rows() -> Vec<Row> {
    let eq = |v: Value| Some(Expect::Eq(v));
    vec![
        (json!(3), eq(json!(3.0))),
        (json!(-0.75), eq(json!(-0.75))),
        (json!("2.5"), eq(json!(2.5))),
        (json!("1e3"), eq(json!(1000.0))),
        (json!(" 0.25 "), eq(json!(0.25))),
        (json!("NaN"), None),
        (json!("inf"), None),
        (json!("٤٢"), None),
        (json!("0x10"), None),
        (json!(true), None),
    ]
}

fn boolean_rows() -> Vec<Row> {
    let yes = || Some(Expect::Eq(json!(true)));
    let no = || Some(Expect::Eq(json!(false)));
    vec![
        (json!("TRUE"), yes()),
        (json!(" false "), no()),
        (json!("1"), yes()),
        (json!("0"), no()),
        (json!(1), yes()),
        (json!(0), no()),
        (json!(1.0), yes()),
        (json!(0.0), no()),
        (json!(2), None),
        (json!(0.5), None),
        (json!("yes"), None),
        (json!("1.0"), None),
    ]
}

fn date_rows() -> Vec<Row> {
    let day = |y, m, d| {
        Some(Expect::Date(
            NaiveDate::from_ymd_opt(y, m, d).expect("valid date"),
        ))
    };
    vec![
        (json!("2024-05-01"), day(2024, 5, 1)),
        (json!(" 2024-05-02 "), day(2024, 5, 2)),
        // The date as written in its own offset (04:30 on the 2nd in UTC).
        (json!("2024-05-01T23:30:00-05:00"), day(2024, 5, 1)),
        // Unix seconds: 2024-05-01T00:00:00Z, and half a day later.
        (json!(1_714_521_600), day(2024, 5, 1)),
        (json!(1_714_564_800.5), day(2024, 5, 1)),
        (json!("2024-05-01T10:00:00"), None),
        (json!("1714521600"), None),
        (json!("2024-5-1"), None),
        (json!("2024-05-1"), None),
        (json!(true), None),
    ]
}

fn datetime_rows() -> Vec<Row> {
    let at = |s: &str| Some(Expect::Instant(instant(s)));
    vec![
        (
            json!("2024-05-01T10:00:00+02:00"),
            at("2024-05-01T08:00:00Z"),
        ),
        (json!("2024-05-01T10:00:00"), at("2024-05-01T10:00:00Z")),
        (json!("2024-05-01 10:00:00"), at("2024-05-01T10:00:00Z")),
        (
            json!("2024-05-01T10:00:00.250"),
            at("2024-05-01T10:00:00.250Z"),
        ),
        (json!("2024-05-01"), at("2024-05-01T00:00:00Z")),
        (json!(1_714_521_600), at("2024-05-01T00:00:00Z")),
        (json!(1_714_521_600.5), at("2024-05-01T00:00:00.500Z")),
        (json!("1700000000"), None),
        (json!(1e20), None),
        (json!("2024-05-1 10:00:00"), None),
        (json!(true), None),
    ]
}

fn fixed_rows() -> Vec<Row> {
    let eq = |v: Value| Some(Expect::Eq(v));
    vec![
        (json!("gold"), eq(json!("gold"))),
        (json!(1), eq(json!("1"))),
        (json!(true), eq(json!("true"))),
        (json!("bronze"), None),
        (json!(2), None),
        (json!(["gold"]), None),
    ]
}

fn multiple_rows() -> Vec<Row> {
    let eq = |v: Value| Some(Expect::Eq(v));
    vec![
        (json!(["gold", "silver"]), eq(json!(["gold", "silver"]))),
        (json!("gold"), eq(json!(["gold"]))),
        (json!([1, "gold"]), eq(json!(["1", "gold"]))),
        (json!(["gold", "bronze"]), None),
    ]
}

fn string_rows() -> Vec<Row> {
    let eq = |v: Value| Some(Expect::Eq(v));
    vec![
        (json!("  as sent  "), eq(json!("  as sent  "))),
        (json!(42), eq(json!("42"))),
        (json!(1.5), eq(json!("1.5"))),
        (json!(false), eq(json!("false"))),
        (json!({"a": 1}), eq(json!("{\"a\":1}"))),
        (json!([1, "x"]), eq(json!("[1,\"x\"]"))),
    ]
}

/// One identify carrying every row of a type, each to its own attribute defined with that type.
fn table_case(ctx: &Ctx, value_type: &'static str, rows: Vec<Row>, multiple: bool) -> Scenario {
    let u = ctx.id("u");
    let short = &value_type[..3];
    let mut seed: Vec<AttrDef> = Vec::new();
    let mut traits = Map::new();
    let mut checks = Vec::new();
    for (i, (sent, stored)) in rows.into_iter().enumerate() {
        let name = ctx.attr(&format!("{short}{}_{i}", if multiple { "m" } else { "" }));
        let mut d = def(name.clone(), value_type, "clientuser");
        if value_type == "fixed" {
            d.choices = vec!["gold".into(), "silver".into(), "1".into(), "true".into()];
            d.multiple = multiple;
        }
        seed.push(d);
        traits.insert(name.clone(), sent);
        checks.push(user::field(&u, &name, stored.unwrap_or(Expect::Absent)));
    }
    // The user is created either way: an unconvertible value does not lose the message.
    traits.insert("email".into(), json!("table@example.com"));
    checks.push(user::field(
        &u,
        "email",
        Expect::Eq(json!("table@example.com")),
    ));
    seeded_step(seed, vec![ctx.identify(&u, Value::Object(traits))], checks)
}
