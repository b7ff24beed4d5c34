//! Who a message is about, and auto-creation: every call selects the user by userId, falling back
//! to anonymousId, and creates the user when it does not exist yet.

use serde_json::json;

use super::{one_step, Case, Ctx, Scenario};
use crate::checks::{user, Events, Member, UserExists};
use crate::expect::Expect;

/// Identity.
const IDENTITY: &str = "Note that all available methods will try to select user base on userId, falling back to anonymousId if userId is not provided.";

/// Auto-creation.
const AUTO_CREATE: &str =
    "If user with given identifier does not exist in your app it will be created automatically.";

/// The identity and auto-creation cases, in report order.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::new("identity_user_id_wins", IDENTITY, identity_user_id_wins),
        Case::new(
            "identity_anonymous_id_fallback",
            IDENTITY,
            identity_anonymous_fallback,
        ),
        Case::new(
            "identity_empty_user_id_falls_back",
            IDENTITY,
            identity_empty_user_id,
        ),
        Case::new(
            "unknown_user_created_by_identify",
            AUTO_CREATE,
            created_by_identify,
        ),
        Case::new("unknown_user_created_by_page", AUTO_CREATE, created_by_page),
        Case::new(
            "unknown_user_created_by_track",
            AUTO_CREATE,
            created_by_track,
        ),
        Case::new(
            "unknown_user_created_by_group",
            AUTO_CREATE,
            created_by_group,
        ),
    ]
}

fn identity_user_id_wins(ctx: &Ctx) -> Scenario {
    let u = ctx.id("user");
    let a = ctx.id("anon");
    let msg = ctx.message(
        "identify",
        Some(&u),
        Some(&a),
        json!({"traits": {"email": "both@example.com"}}),
    );
    one_step(
        vec![msg],
        vec![
            user::field(&u, "email", Expect::Eq(json!("both@example.com"))),
            UserExists {
                id: a,
                exists: false,
            }
            .into(),
        ],
    )
}

fn identity_anonymous_fallback(ctx: &Ctx) -> Scenario {
    let a = ctx.id("anon");
    let msg = ctx.message(
        "identify",
        None,
        Some(&a),
        json!({"traits": {"email": "anon@example.com"}}),
    );
    one_step(
        vec![msg],
        vec![user::field(
            &a,
            "email",
            Expect::Eq(json!("anon@example.com")),
        )],
    )
}

fn identity_empty_user_id(ctx: &Ctx) -> Scenario {
    let a = ctx.id("anon");
    // Segment's Python client sends `"userId": null` when unset; an empty string is "not provided"
    // too (design.md: "userId if present and non-empty").
    let msg = ctx.message(
        "identify",
        None,
        Some(&a),
        json!({"userId": null, "traits": {"email": "null@example.com"}}),
    );
    one_step(
        vec![msg],
        vec![user::field(
            &a,
            "email",
            Expect::Eq(json!("null@example.com")),
        )],
    )
}

fn created_by_identify(ctx: &Ctx) -> Scenario {
    let u = ctx.id("new");
    one_step(vec![ctx.identify(&u, json!({}))], vec![user::exists(&u)])
}

fn created_by_page(ctx: &Ctx) -> Scenario {
    let u = ctx.id("new");
    one_step(
        vec![ctx.page(&u, "2024-03-01T10:00:00Z", "https://shop.example.com/")],
        vec![
            user::exists(&u),
            user::field(&u, "page_views", Expect::Eq(json!(1))),
        ],
    )
}

fn created_by_track(ctx: &Ctx) -> Scenario {
    let u = ctx.id("new");
    let e = ctx.event("Signed Up");
    one_step(
        vec![ctx.track(&u, &e, json!({}))],
        vec![
            user::exists(&u),
            Events {
                user: u.clone(),
                name: e,
                count: 1,
                data: vec![],
            }
            .into(),
        ],
    )
}

fn created_by_group(ctx: &Ctx) -> Scenario {
    let u = ctx.id("new");
    let g = ctx.id("g");
    one_step(
        vec![ctx.group(&u, &g, json!({"name": "Acme"}))],
        vec![
            user::exists(&u),
            Member {
                user: u.clone(),
                company: g,
            }
            .into(),
        ],
    )
}
