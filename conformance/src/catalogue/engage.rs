//! Segment Engage audiences: an `identify` with a snake_cased boolean trait per audience.

use serde_json::{json, Map, Value};

use super::inputs::def;
use super::{one_step, Case, Ctx, Scenario, Step};
use crate::checks::{user, Attribute};
use crate::expect::Expect;

/// Engage audience true.
const ENGAGE_TRUE: &str = "For example, when a user first completes an order in the last 30 days, Engage sends an Identify call with the property order_completed_last_30days: true.";

/// Engage audience false.
const ENGAGE_FALSE: &str = "When the user no longer satisfies this condition (for example, it’s been more than 30 days since their last order), Engage sets that value to false.";

/// Engage property naming.
const ENGAGE_PROPERTY: &str = "The property name is the snake_cased version of the audience name, with a true/false value to indicate membership.";

/// The Engage cases, in report order.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::new("engage_audience_true_then_false", ENGAGE_FALSE, engage_new),
        Case::new(
            "engage_audience_lands_as_attribute",
            ENGAGE_TRUE,
            engage_lands,
        ),
        Case::new(
            "engage_audience_defined_boolean_flips",
            ENGAGE_PROPERTY,
            engage_boolean,
        ),
    ]
}

fn engage_traits(name: &str, value: bool) -> Value {
    let mut traits = Map::new();
    traits.insert(name.to_string(), json!(value));
    Value::Object(traits)
}

fn engage_new(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let name = ctx.attr("order_completed_last_30days");
    // Not defined beforehand: created as a string attribute, so the booleans land stringified.
    Scenario {
        steps: vec![
            Step::new(
                vec![ctx.identify(&u, engage_traits(&name, true))],
                vec![user::field(&u, &name, Expect::Eq(json!("true")))],
            ),
            Step::new(
                vec![ctx.identify(&u, engage_traits(&name, false))],
                vec![user::field(&u, &name, Expect::Eq(json!("false")))],
            ),
        ],
        ..Scenario::default()
    }
}

fn engage_lands(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let name = ctx.attr("order_completed_last_30days");
    one_step(
        vec![ctx.identify(&u, engage_traits(&name, true))],
        vec![Attribute {
            content_type: "clientuser",
            name,
            // Not defined beforehand: the doc's rule for a new trait, a string attribute.
            value_type: Expect::Eq(json!("string")),
        }
        .into()],
    )
}

fn engage_boolean(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let name = ctx.attr("high_value_customers");
    Scenario {
        seed: vec![def(name.clone(), "boolean", "clientuser")],
        setup: vec![],
        steps: vec![
            Step::new(
                vec![ctx.identify(&u, engage_traits(&name, true))],
                vec![user::field(&u, &name, Expect::Eq(json!(true)))],
            ),
            Step::new(
                vec![ctx.identify(&u, engage_traits(&name, false))],
                vec![user::field(&u, &name, Expect::Eq(json!(false)))],
            ),
        ],
    }
}
