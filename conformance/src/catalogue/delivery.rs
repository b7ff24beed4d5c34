//! Delivery rules that show in User.com: transient failures retried until the call lands, a
//! refused request not repeated, a client's retried message applied once.
//!
//! The failures come from the simulator's fault rules (admin plane set-up, the one thing the REST
//! API cannot do), scoped to the case's app and retired after a few requests, so against an
//! external forwarder the case observes the same thing: the state in User.com and the journal.

use serde_json::{json, Value};

use super::{Case, Ctx, Scenario, Setup, Step};
use crate::checks::{user, Events, Requested};
use crate::expect::Expect;

/// The identify sentence: these cases make it hold despite failures on the way.
const IDENTIFY: &str = "Calling .identify() causes User.com to automatically map the call’s traits and context data to appropriate fields in the user profile.";

/// The track sentence.
const TRACK: &str = "Sending a .track() request records a new ‘Event occurrence’ that can be used to filter and bucket users.";

const RETRY_RULE: &str = "design.md, Delivery: retry 408, 429 (honour Retry-After), 5xx except 501 and transport errors, with backoff, inside a bounded window";

const PERMANENT_RULE: &str =
    "design.md, Delivery: 400, 401, 403 and other 4xx are permanent: not sent again";

const DEDUP_RULE: &str =
    "design.md, Delivery: duplicate messageIds (client retries) are applied once";

/// The path of an identify's upsert.
const UPSERT: &str = "/api/public/users/update_or_create/";

/// The delivery cases, in report order.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::new("delivery_transient_failures_retried", IDENTIFY, retried).with_rule(RETRY_RULE),
        Case::new(
            "delivery_refused_request_not_repeated",
            IDENTIFY,
            not_repeated,
        )
        .with_rule(PERMANENT_RULE),
        Case::new("delivery_duplicate_message_ids_applied_once", TRACK, dedup)
            .with_rule(DEDUP_RULE),
    ]
}

/// A fault rule for the case's app (the runner fills in `match.app`): the next `times` POSTs of
/// an identify's upsert get `effect`.
fn upsert_fault(effect: Value, times: u64) -> Setup {
    Setup::Fault(json!({
        "match": {"method": "POST", "path_prefix": UPSERT},
        "effect": effect,
        "times": times,
    }))
}

/// 503, then 429, then a reset connection (each before anything is applied): the fourth try
/// lands.
fn retried(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    Scenario {
        seed: vec![],
        setup: vec![
            upsert_fault(json!({"status": 503}), 1),
            upsert_fault(json!({"status": 429}), 1),
            upsert_fault(json!({"reset": true}), 1),
        ],
        steps: vec![Step {
            events: vec![ctx.identify(&u, json!({"email": "retried@example.com"}))],
            checks: vec![
                user::field(&u, "email", Expect::Eq(json!("retried@example.com"))),
                Requested {
                    method: Some("POST"),
                    path: "/users/update_or_create/".into(),
                    body_has: Some(("custom_id".into(), json!(u))),
                    at_least: 4,
                    at_most: 4,
                }
                .into(),
            ],
        }],
    }
}

/// A 400 that names no field: nothing the forwarder can change makes it pass, so it is not
/// sent again (the one try is refused, the user never created).
fn not_repeated(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    Scenario {
        seed: vec![],
        setup: vec![upsert_fault(
            json!({"status": 400, "body": {"detail": "refused by a fault rule"}}),
            1,
        )],
        steps: vec![Step {
            events: vec![ctx.identify(&u, json!({"email": "refused@example.com"}))],
            checks: vec![
                Requested {
                    method: Some("POST"),
                    path: "/users/update_or_create/".into(),
                    body_has: Some(("custom_id".into(), json!(u))),
                    at_least: 1,
                    at_most: 1,
                }
                .into(),
                user::UserExists {
                    id: u.clone(),
                    exists: false,
                }
                .into(),
            ],
        }],
    }
}

/// The same track message three times in one batch (a client that retried twice), among
/// another.
fn dedup(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let e = ctx.event("Order Completed");
    let first = ctx.track(&u, &e, json!({"order_id": "A-1"}));
    let other = ctx.track(&u, &e, json!({"order_id": "A-2"}));
    let count = |n| -> crate::checks::Check {
        Events {
            user: u.clone(),
            name: e.clone(),
            count: n,
            data: vec![],
        }
        .into()
    };
    Scenario {
        seed: vec![],
        setup: vec![],
        steps: vec![Step {
            events: vec![first.clone(), first.clone(), other, first],
            checks: vec![count(2)],
        }],
    }
}
