//! Who a message is about, and auto-creation: every call selects the user by userId, falling back
//! to anonymousId, and creates the user when it does not exist yet.

use serde_json::json;

use super::{in_steps, one_step, Action, Case, Ctx, Scenario, Step};
use crate::checks::{company, user, CompanyUnique, Events, Member, SiteViews, UserExists};
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
        Case::new(
            "deleted_user_and_company_created_again",
            AUTO_CREATE,
            created_again,
        )
        .with_rule("A user or company deleted in User.com (from its dashboard or by another integration) \"does not exist in your app\" any more: the next page, track, group or identify for it creates it again, whatever the forwarder remembers of its old id"),
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

/// Four users and a company the forwarder has seen (and may remember the ids of), deleted in
/// User.com through its REST API, then sent a page, a track, a group and an identify.
fn created_again(ctx: &Ctx) -> Scenario {
    let [a, b, c, d] = [
        ctx.id("page"),
        ctx.id("track"),
        ctx.id("group"),
        ctx.id("ident"),
    ];
    let g = ctx.id("g");
    let e = ctx.event("Signed Up");
    let url = "https://shop.example.com/again";
    let first = vec![
        ctx.identify(&a, json!({"email": "a@example.com"})),
        ctx.identify(&b, json!({"email": "b@example.com"})),
        ctx.identify(&c, json!({"email": "c@example.com"})),
        ctx.identify(&d, json!({"email": "d@example.com"})),
        ctx.page(&a, "2024-03-01T10:00:00Z", "https://shop.example.com/"),
        ctx.track(&b, &e, json!({})),
        ctx.group(&c, &g, json!({"name": "Acme"})),
    ];
    let first_checks = vec![
        SiteViews {
            user: a.clone(),
            count: 1,
            url: None,
            path: None,
            title: None,
            at: None,
        }
        .into(),
        Member {
            user: c.clone(),
            company: g.clone(),
        }
        .into(),
    ];
    let mut before: Vec<Action> = [&a, &b, &c, &d]
        .into_iter()
        .map(|u| Action::DeleteUser(u.clone()))
        .collect();
    before.push(Action::DeleteCompany(g.clone()));
    let again = vec![
        ctx.page(&a, "2024-03-02T10:00:00Z", url),
        ctx.track(&b, &e, json!({})),
        ctx.group(&c, &g, json!({"name": "Acme Again"})),
        ctx.identify(&d, json!({"email": "d2@example.com"})),
    ];
    let checks = vec![
        SiteViews {
            user: a.clone(),
            count: 1,
            url: Some(Expect::Eq(json!(url))),
            path: None,
            title: None,
            at: None,
        }
        .into(),
        Events {
            user: b.clone(),
            name: e,
            count: 1,
            data: vec![],
        }
        .into(),
        company::field(&g, "name", Expect::Eq(json!("Acme Again"))),
        CompanyUnique { id: g.clone() }.into(),
        Member {
            user: c.clone(),
            company: g,
        }
        .into(),
        user::field(&c, "email", Expect::Absent),
        user::field(&d, "email", Expect::Eq(json!("d2@example.com"))),
    ];
    in_steps(vec![
        Step::new(first, first_checks),
        Step {
            before,
            events: again,
            checks,
        },
    ])
}
