//! The API key and the troubleshooting section: the key is sent on every request and required;
//! a 403 (revoked key, untrusted domain) is reported with the documented hint and not retried
//! forever. These cases change app-wide settings, so in external mode they run last.

use serde_json::json;

use super::{one_step, Case, Ctx, Scenario, Setup, Step};
use crate::checks::{user, Answered, ApiKeyRequired, Check, Dropped, Headers};
use crate::expect::Expect;

/// The hint the destination doc's troubleshooting section gives for a 403, as the forwarder must
/// report it (design.md, "Delivery"). Checked case-insensitively as a substring.
pub const HINT_403: &str = "API key revoked or domain not trusted";

/// Getting Started: the API key.
const API_KEY: &str = "To enable sending data to User.com you need to provide API key.";

/// Revoked key.
const REVOKED: &str = "Verify that API key your using in Segment is not revoked by going to App settings > Advanced > Segment API keys at app.user.com.";

/// Untrusted domain.
const UNTRUSTED: &str = "If problems still persist verify that domain the request from is trusted.";

/// The key and troubleshooting cases, in report order.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::new("api_key_used_on_every_request", API_KEY, api_key_used),
        Case::new(
            "every_request_carries_token_and_version_headers",
            API_KEY,
            headers_on_every_request,
        )
        .with_rule("design.md: every request carries `Authorization: Token <api key>` and `Accept: */*; version=2` (checked in the simulator's journal)"),
        Case::new("untrusted_domain_403_reported", UNTRUSTED, untrusted_domain),
        Case::new("revoked_key_403_reported", REVOKED, revoked_key),
    ]
}

fn api_key_used(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    // The simulator answers 401 to a request without the app's key; the user only exists if the
    // forwarder sent the key it was configured with.
    one_step(
        vec![ctx.identify(&u, json!({"email": "keyed@example.com"}))],
        vec![
            user::field(&u, "email", Expect::Eq(json!("keyed@example.com"))),
            ApiKeyRequired.into(),
            Answered {
                status: 401,
                at_least: 0,
                at_most: 0,
            }
            .into(),
        ],
    )
}

fn untrusted_domain(ctx: &Ctx) -> Scenario {
    let good = ctx.id("trusted");
    let bad = ctx.id("untrusted");
    Scenario {
        seed: vec![],
        setup: vec![Setup::TrustDomains(vec!["shop.example.com".into()])],
        steps: vec![
            // Positive control: a page on a trusted domain goes through.
            Step::new(
                vec![ctx.page(&good, "2024-03-01T10:00:00Z", "https://shop.example.com/ok")],
                vec![user::field(&good, "page_views", Expect::Eq(json!(1)))],
            ),
            Step::new(
                vec![ctx.page(
                    &bad,
                    "2024-03-01T10:00:00Z",
                    "https://evil.example.net/phish",
                )],
                refused_and_reported(),
            ),
        ],
    }
}

fn revoked_key(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    Scenario {
        seed: vec![],
        setup: vec![Setup::RevokeKey],
        // The user cannot be read back with a revoked key; the journal shows nothing passed.
        steps: vec![Step::new(
            vec![ctx.identify(&u, json!({"email": "revoked@example.com"}))],
            refused_and_reported(),
        )],
    }
}

/// After a 403: the forwarder gave up with the documented hint, and did not retry: a 403 is
/// permanent (design.md, Delivery: "400, 401, 403 and other 4xx are permanent"), so the simulator
/// answered 403 exactly once for the one message.
fn refused_and_reported() -> Vec<Check> {
    vec![
        Dropped { reason: HINT_403 }.into(),
        Answered {
            status: 403,
            at_least: 1,
            at_most: 1,
        }
        .into(),
    ]
}

/// Every request of a step with every call type carries the version header and the key.
fn headers_on_every_request(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let g = ctx.id("g");
    let plan = ctx.attr("plan");
    let mut traits = serde_json::Map::new();
    traits.insert("email".into(), json!("headers@example.com"));
    traits.insert(plan, json!("pro"));
    one_step(
        vec![
            ctx.identify(&u, serde_json::Value::Object(traits)),
            ctx.page(&u, "2024-03-01T10:00:00Z", "https://shop.example.com/h"),
            ctx.track(&u, &ctx.event("Header Checked"), json!({"n": 1})),
            ctx.group(&u, &g, json!({"name": "Acme"})),
        ],
        vec![
            Headers.into(),
            user::field(&u, "page_views", Expect::Eq(json!(1))),
        ],
    )
}
