//! `track`: records event occurrences; properties follow the custom-trait rules.

use serde_json::{json, Map, Value};

use super::inputs::{def, instant, DEFAULT_TIME};
use super::{one_step, seeded_step, Case, Ctx, Scenario};
use crate::checks::{Attribute, Dropped, EventTime, Events};
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
        Case::new(
            "track_time_is_the_message_timestamp",
            TRACK,
            track_time_timestamp,
        )
        .with_rule(TIME_RULE),
        Case::new(
            "track_time_numeric_seconds_and_milliseconds",
            TRACK,
            track_time_numeric,
        )
        .with_rule(TIME_RULE),
        Case::new(
            "track_time_skew_corrected_without_timestamp",
            TRACK,
            track_time_skew,
        )
        .with_rule(TIME_RULE),
        Case::new("track_blank_event_name_refused", TRACK, track_blank_name)
            .with_rule("forwarder rule: a track without a usable event name (missing, not a string, blank) is dead-lettered with the reason; the user's other messages are delivered"),
    ]
}

fn track_blank_name(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let e = ctx.event("Named");
    one_step(
        vec![
            ctx.track(&u, "   ", json!({"n": 1})),
            ctx.track(&u, &e, json!({"n": 2})),
        ],
        vec![
            Dropped {
                reason: "empty event name",
            }
            .into(),
            Events {
                user: u.clone(),
                name: e,
                count: 1,
                data: vec![],
            }
            .into(),
            Events {
                user: u,
                name: "   ".into(),
                count: 0,
                data: vec![],
            }
            .into(),
        ],
    )
}

/// The event time rule.
const TIME_RULE: &str = "design.md, Delivery: event time = timestamp, else receivedAt − (sentAt − originalTimestamp), else originalTimestamp, else receivedAt; unix seconds on the wire; a numeric timestamp above 1e11 is milliseconds";

/// An occurrence's time: `timestamp` wins over `sentAt`, `originalTimestamp` and the delivery
/// time.
fn track_time_timestamp(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let e = ctx.event("Timed");
    let msg = ctx.message(
        "track",
        Some(&u),
        None,
        json!({"event": e, "properties": {}, "timestamp": "2024-03-01T12:00:00.000Z",
               "originalTimestamp": "2024-03-01T11:00:00.000Z", "sentAt": "2024-03-01T13:00:00.000Z"}),
    );
    one_step(
        vec![msg],
        vec![EventTime {
            user: u,
            name: e,
            at: Expect::Instant(instant("2024-03-01T12:00:00Z")),
        }
        .into()],
    )
}

fn track_time_numeric(ctx: &Ctx) -> Scenario {
    let secs = ctx.id("secs");
    let millis = ctx.id("millis");
    let e = ctx.event("Numeric Time");
    let at = |user: &str, ts: Value| {
        ctx.message(
            "track",
            Some(user),
            None,
            json!({"event": e, "properties": {}, "timestamp": ts}),
        )
    };
    let want = || Expect::Instant(instant("2024-03-01T12:00:00Z"));
    one_step(
        vec![
            at(&secs, json!(1_709_294_400)),
            at(&millis, json!(1_709_294_400_000i64)),
        ],
        vec![
            EventTime {
                user: secs,
                name: e.clone(),
                at: want(),
            }
            .into(),
            EventTime {
                user: millis,
                name: e.clone(),
                at: want(),
            }
            .into(),
        ],
    )
}

/// No `timestamp`: a client whose clock is an hour fast stamps `originalTimestamp` and `sentAt`
/// an hour ahead; the event happened 10 minutes before it was sent, so it lands 10 minutes before
/// it was received. `receivedAt` is now (an ingress stamps its own, which is also now), so the
/// expectation is "10 minutes ago", within a minute.
fn track_time_skew(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let e = ctx.event("Skewed");
    let now = chrono::Utc::now();
    let fmt =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let hour = chrono::Duration::hours(1);
    let ten = chrono::Duration::minutes(10);
    let mut msg = ctx.message(
        "track",
        Some(&u),
        None,
        json!({"event": e, "properties": {},
               "originalTimestamp": fmt(now + hour - ten), "sentAt": fmt(now + hour), "receivedAt": fmt(now)}),
    );
    if let Some(m) = msg.as_object_mut() {
        m.remove("timestamp");
    }
    one_step(
        vec![msg],
        vec![EventTime {
            user: u,
            name: e,
            at: Expect::Near(now - ten, 60),
        }
        .into()],
    )
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
        vec![
            Events {
                user: u.clone(),
                name: e.clone(),
                count: 2,
                data: vec![],
            }
            .into(),
            // "records a new ‘Event occurrence’": at the time the event happened.
            EventTime {
                user: u,
                name: e,
                at: Expect::Instant(instant(DEFAULT_TIME)),
            }
            .into(),
        ],
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
