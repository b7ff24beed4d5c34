//! `track`: records event occurrences; properties follow the custom-trait rules.

use serde_json::{json, Map, Value};

use super::inputs::def;
use super::{one_step, seeded_step, Case, Ctx, Scenario};
use crate::checks::{Attribute, Events};
use crate::expect::Expect;

/// Track.
const TRACK: &str = "Sending a .track() request records a new ‘Event occurrence’ that can be used to filter and bucket users.";

/// Track auto-creation.
const TRACK_CREATE: &str = "NOTE: if an event with a given name is not defined in User.com, it will be created automatically, as will its properties.";

/// Track type rules.
const TRACK_TYPES: &str = "This mechanism works exactly the same as custom traits that have been explained in Identify section.";

/// The `track` cases, in report order.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::new("track_records_occurrence", TRACK, track_records),
        Case::new(
            "track_creates_event_and_properties",
            TRACK_CREATE,
            track_creates,
        ),
        Case::new(
            "track_defined_property_converted",
            TRACK_TYPES,
            track_defined,
        ),
        Case::new(
            "track_unconvertible_property_ignored",
            TRACK_TYPES,
            track_unconvertible,
        ),
    ]
}

fn track_records(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let e = ctx.event("Order Completed");
    one_step(
        vec![
            ctx.identify(&u, json!({})),
            ctx.track(&u, &e, json!({})),
            ctx.track(&u, &e, json!({})),
        ],
        vec![Events {
            user: u.clone(),
            name: e,
            count: 2,
            data: vec![],
        }
        .into()],
    )
}

fn track_creates(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let e = ctx.event("Coupon Applied");
    let code = ctx.attr("coupon_code");
    let pct = ctx.attr("discount_pct");
    let mut props = Map::new();
    props.insert(code.clone(), json!("SPRING"));
    props.insert(pct.clone(), json!(15));
    one_step(
        vec![ctx.track(&u, &e, Value::Object(props))],
        vec![
            Events {
                user: u.clone(),
                name: e,
                count: 1,
                data: vec![
                    (code.clone(), Expect::Eq(json!("SPRING"))),
                    (pct.clone(), Expect::Eq(json!("15"))),
                ],
            }
            .into(),
            Attribute {
                content_type: "event",
                name: pct,
                value_type: Expect::Eq(json!("string")),
            }
            .into(),
        ],
    )
}

fn track_defined(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let e = ctx.event("Cart Updated");
    let qty = ctx.attr("quantity");
    let mut props = Map::new();
    props.insert(qty.clone(), json!("3"));
    seeded_step(
        vec![def(qty.clone(), "integer", "event")],
        vec![ctx.track(&u, &e, Value::Object(props))],
        vec![Events {
            user: u.clone(),
            name: e,
            count: 1,
            data: vec![(qty, Expect::Eq(json!(3)))],
        }
        .into()],
    )
}

fn track_unconvertible(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let e = ctx.event("Cart Emptied");
    let qty = ctx.attr("item_count");
    let note = ctx.attr("note");
    let mut props = Map::new();
    props.insert(qty.clone(), json!("lots"));
    props.insert(note.clone(), json!("kept"));
    seeded_step(
        vec![def(qty.clone(), "integer", "event")],
        vec![ctx.track(&u, &e, Value::Object(props))],
        vec![Events {
            user: u.clone(),
            name: e,
            count: 1,
            data: vec![(qty, Expect::Absent), (note, Expect::Eq(json!("kept")))],
        }
        .into()],
    )
}
