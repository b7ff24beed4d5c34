//! Delivery rules that show in User.com: transient failures retried until the call lands, a
//! refused request not repeated, a client's retried message applied once.
//!
//! The failures come from the simulator's fault rules (admin plane set-up, the one thing the REST
//! API cannot do), scoped to the case's app and retired after a few requests, so against an
//! external forwarder the case observes the same thing: the state in User.com and the journal.

use serde_json::{json, Value};

use super::{in_steps, Action, Case, Ctx, Scenario, Setup, Step};
use crate::checks::{company, user, Events, Member, Requested, SiteViews};
use crate::expect::Expect;

/// The identify sentence: these cases make it hold despite failures on the way.
const IDENTIFY: &str = "Calling .identify() causes User.com to automatically map the call’s traits and context data to appropriate fields in the user profile.";

/// The group sentence.
const GROUP: &str = "Sending a .group() request allows to create or update a company profile and associate a user with it.";

/// The page-view sentence.
const PAGE_VIEW: &str =
    "It also records a new ‘Page view’ that can be used for filtering and aggregation.";

/// The track sentence.
const TRACK: &str = "Sending a .track() request records a new ‘Event occurrence’ that can be used to filter and bucket users.";

const RETRY_RULE: &str = "design.md, Delivery: retry 408, 429 (honour Retry-After), 5xx except 501 and transport errors, with backoff, inside a bounded window";

const PERMANENT_RULE: &str =
    "design.md, Delivery: 400, 401, 403 and other 4xx are permanent: not sent again";

const DEDUP_RULE: &str =
    "design.md, Delivery: duplicate messageIds (client retries) are applied once";

/// The path of an identify's upsert.
const UPSERT: &str = "/api/public/users/update_or_create/";

/// The path a company is created at.
const COMPANIES: &str = "/api/public/companies/";

/// design.md, "The forwarder": a refused field does not lose the message.
const FIELD_RULE: &str = "design.md: one bad field never loses the message (validated before sending; a 400 naming a field is retried once without it)";

/// A company created meanwhile by another client.
const CREATED_MEANWHILE_RULE: &str = "design.md, group: find the company by custom id, else create it; a create refused because the custom id exists (another client created it meanwhile) finds it and carries on";

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
        Case::new(
            "delivery_dead_lettered_message_applied_when_sent_again",
            IDENTIFY,
            resent_after_refusal,
        )
        .with_rule("design.md, Delivery: duplicate messageIds are applied once; a message that was refused (dead-lettered) was never applied, so the same message sent again (same messageId, as `send <dead-letter file>` does) is applied"),
        Case::new("delivery_refused_event_not_repeated", TRACK, event_refused)
            .with_rule(PERMANENT_RULE),
        Case::new(
            "delivery_refused_membership_not_repeated",
            GROUP,
            membership_refused,
        )
        .with_rule(PERMANENT_RULE),
        Case::new(
            "delivery_refused_company_update_not_repeated",
            GROUP,
            company_update_refused,
        )
        .with_rule(PERMANENT_RULE),
        Case::new(
            "delivery_refused_user_field_dropped_rest_applied",
            IDENTIFY,
            user_field_refused,
        )
        .with_rule(FIELD_RULE),
        Case::new(
            "delivery_server_error_naming_a_field_keeps_the_field",
            IDENTIFY,
            server_error_naming_field,
        )
        .with_rule(RETRY_RULE),
        Case::new(
            "delivery_refused_company_field_dropped_rest_applied",
            GROUP,
            company_field_refused,
        )
        .with_rule(FIELD_RULE),
        Case::new(
            "delivery_company_created_meanwhile_found",
            GROUP,
            company_created_meanwhile,
        )
        .with_rule(CREATED_MEANWHILE_RULE),
        Case::new(
            "delivery_refused_site_view_not_repeated",
            PAGE_VIEW,
            site_view_refused,
        )
        .with_rule(PERMANENT_RULE),
        Case::new(
            "delivery_company_lookup_refused_no_company_created",
            GROUP,
            company_lookup_refused,
        )
        .with_rule(PERMANENT_RULE),
        Case::new(
            "delivery_failure_outlasting_the_window_given_up",
            TRACK,
            outlasting_the_window,
        )
        .with_rule(RETRY_RULE),
        Case::new(
            "delivery_steady_state_one_request_per_message",
            IDENTIFY,
            steady_state,
        )
        .with_rule(CACHE_RULE),
    ]
}

/// The user's calls answer 503 for the next 300 requests, longer than a bounded retry window
/// lasts with a growing backoff: the forwarder retries (more than once) without hammering
/// (fewer than 200 tries), then gives up: nothing is recorded and the message is dead-lettered
/// with the status. A forwarder that retries without backoff, or past its window, uses the 300
/// failures up and records the event. Externally the give-up shows in `/stats` once the
/// forwarder's own window ends (our `serve`: 300 s by default; the harness's forwarders: 5 s).
fn outlasting_the_window(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let e = ctx.event("Outlasted");
    Scenario {
        seed: vec![],
        setup: vec![Setup::Fault(json!({
            "match": {"method": "POST", "path_prefix": format!("/api/public/users-by-id/{u}/")},
            "effect": {"status": 503},
            "times": 300,
        }))],
        steps: vec![Step::new(
            vec![ctx.track(&u, &e, json!({"n": 1}))],
            vec![
                crate::checks::Requested {
                    method: Some("POST"),
                    path: format!("/users-by-id/{u}/"),
                    body_has: None,
                    at_least: 2,
                    at_most: 199,
                }
                .into(),
                Events {
                    user: u.clone(),
                    name: e.clone(),
                    count: 0,
                    data: vec![],
                }
                .into(),
                crate::checks::forwarder::Dropped { reason: "503" }.into(),
            ],
        )],
    }
}

/// design.md's id cache, made checkable from the journal.
const CACHE_RULE: &str = "design.md, Delivery: a small cache (custom_id → id, user_key; groupId → company id) makes the steady state one request per message; once a user (its id and, after a first page view, its user_key, which update_or_create does not answer) and a company have been seen, nothing is looked up again: an identify, a page and a track cost one request each, a group its company update and at most its membership";

/// A user and a company are seen (an identify; another user's group); then an identify, a
/// track and a group of theirs cost no look-up (no GET at all); the first page view costs at most one (the
/// user_key), and later ones none, also after an identify. All of it lands.
fn steady_state(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let g = ctx.id("g");
    let e = ctx.event("Steady");
    let url = "https://shop.example/steady";
    let request =
        |method: Option<&'static str>, path: &str, at_least, at_most| -> crate::checks::Check {
            crate::checks::Requested {
                method,
                path: path.into(),
                body_has: None,
                at_least,
                at_most,
            }
            .into()
        };
    let page = || ctx.page(&u, crate::catalogue::DEFAULT_TIME, url);
    // The user is seen by its identify alone (its id comes from the upsert's answer), the
    // company by another user's group.
    let seen = Step::new(
        vec![
            ctx.identify(&u, json!({"email": "steady@example.com"})),
            ctx.group(&ctx.id("v"), &g, json!({"name": "Steady Ltd"})),
        ],
        vec![company::field(&g, "name", Expect::Eq(json!("Steady Ltd")))],
    );
    let steady = Step::new(
        vec![
            ctx.identify(&u, json!({"first_name": "Stella"})),
            ctx.track(&u, &e, json!({"n": 1})),
            ctx.group(&u, &g, json!({"name": "Steady Group"})),
        ],
        vec![
            request(Some("GET"), "", 0, 0),
            request(None, "", 3, 4),
            user::field(&u, "first_name", Expect::Eq(json!("Stella"))),
            company::field(&g, "name", Expect::Eq(json!("Steady Group"))),
            Events {
                user: u.clone(),
                name: e.clone(),
                count: 1,
                data: vec![],
            }
            .into(),
        ],
    );
    let first_page = Step::new(
        vec![page()],
        vec![
            request(Some("GET"), "", 0, 1),
            request(Some("POST"), "/site-views/", 1, 1),
        ],
    );
    // The identify first: its upsert answers the same id, and the user_key stays known.
    let later_page = Step::new(
        vec![ctx.identify(&u, json!({"last_name": "Steady"})), page()],
        vec![
            request(Some("GET"), "", 0, 0),
            request(None, "", 2, 2),
            user::field(&u, "page_views", Expect::Eq(json!(2))),
            user::field(&u, "last_name", Expect::Eq(json!("Steady"))),
        ],
    );
    in_steps(vec![seen, steady, first_page, later_page])
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
        steps: vec![Step::new(
            vec![ctx.identify(&u, json!({"email": "retried@example.com"}))],
            vec![
                user::field(&u, "email", Expect::Eq(json!("retried@example.com"))),
                Requested::exactly(
                    4,
                    "POST",
                    "/users/update_or_create/",
                    Some(("custom_id".into(), json!(u))),
                ),
            ],
        )],
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
        steps: vec![Step::new(
            vec![ctx.identify(&u, json!({"email": "refused@example.com"}))],
            vec![
                Requested::exactly(
                    1,
                    "POST",
                    "/users/update_or_create/",
                    Some(("custom_id".into(), json!(u))),
                ),
                user::UserExists {
                    id: u.clone(),
                    exists: false,
                }
                .into(),
            ],
        )],
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
    in_steps(vec![Step::new(
        vec![first.clone(), first.clone(), other, first],
        vec![count(2)],
    )])
}

/// A fault rule for the case's app on the next `times` company creations.
fn create_company_fault(effect: Value, when: &str, times: u64) -> Setup {
    Setup::Fault(json!({
        "match": {"method": "POST", "path_prefix": COMPANIES},
        "effect": effect,
        "when": when,
        "times": times,
    }))
}

/// The e-mail address of [`plan_identify_answered`]'s user.
const PLAN_USER_EMAIL: &str = "plan-user@example.com";

/// A new user's identify (an e-mail, `first_name` Ada and a custom `plan` of "pro") whose first
/// upsert is answered `status` with a body naming `plan` in DRF's shape (`{"<plan>":
/// [message]}`). Gives the user's id, the attribute's name, the fault and the identify.
fn plan_identify_answered(ctx: &Ctx, status: u16, message: &str) -> (String, String, Setup, Value) {
    let u = ctx.id("u");
    let plan = ctx.attr("plan");
    let mut body = serde_json::Map::new();
    body.insert(plan.clone(), json!([message]));
    let mut traits = serde_json::Map::new();
    traits.insert("email".into(), json!(PLAN_USER_EMAIL));
    traits.insert("first_name".into(), json!("Ada"));
    traits.insert(plan.clone(), json!("pro"));
    let fault = upsert_fault(json!({"status": status, "body": Value::Object(body)}), 1);
    let identify = ctx.identify(&u, Value::Object(traits));
    (u, plan, fault, identify)
}

/// The upsert is refused once with a 400 naming one custom attribute (as User.com's DRF
/// validation does): the forwarder sends it again without that field, and the rest lands.
fn user_field_refused(ctx: &Ctx) -> Scenario {
    let (u, plan, fault, identify) = plan_identify_answered(ctx, 400, "Refused by a fault rule.");
    Scenario {
        seed: vec![],
        setup: vec![fault],
        steps: vec![Step::new(
            vec![identify],
            vec![
                user::field(&u, "email", Expect::Eq(json!(PLAN_USER_EMAIL))),
                user::field(&u, "first_name", Expect::Eq(json!("Ada"))),
                user::field(&u, &plan, Expect::Absent),
                Requested::exactly(
                    2,
                    "POST",
                    "/users/update_or_create/",
                    Some(("custom_id".into(), json!(u))),
                ),
                Requested::exactly(
                    1,
                    "POST",
                    "/users/update_or_create/",
                    Some((plan, json!("pro"))),
                ),
            ],
        )],
    }
}

/// A 503 whose body names a field (a proxy's or a framework's error page may name anything) is
/// a transient failure, not a refusal of that field: the same request is sent again, field
/// included, and the field lands.
fn server_error_naming_field(ctx: &Ctx) -> Scenario {
    let (u, plan, fault, identify) = plan_identify_answered(ctx, 503, "Temporarily unavailable.");
    Scenario {
        seed: vec![],
        setup: vec![fault],
        steps: vec![Step::new(
            vec![identify],
            vec![
                user::field(&u, "email", Expect::Eq(json!(PLAN_USER_EMAIL))),
                user::field(&u, "first_name", Expect::Eq(json!("Ada"))),
                user::field(&u, &plan, Expect::Eq(json!("pro"))),
                Requested::exactly(
                    2,
                    "POST",
                    "/users/update_or_create/",
                    Some((plan, json!("pro"))),
                ),
            ],
        )],
    }
}

/// The company's creation is refused once with a 400 naming `description`: it is created
/// without it, with its other fields, and the user joins it.
fn company_field_refused(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let g = ctx.id("g");
    Scenario {
        seed: vec![],
        setup: vec![create_company_fault(
            json!({"status": 400, "body": {"description": ["Refused by a fault rule."]}}),
            "before",
            1,
        )],
        steps: vec![Step::new(
            vec![ctx.group(
                &u,
                &g,
                json!({"name": "Acme", "description": "Anvils", "industry": "Tools"}),
            )],
            vec![
                company::field(&g, "name", Expect::Eq(json!("Acme"))),
                company::field(&g, "description", Expect::Absent),
                Member {
                    user: u,
                    company: g,
                }
                .into(),
            ],
        )],
    }
}

/// The company is created, but the answer is replaced by the 400 User.com gives a duplicate
/// custom id (as when another client created it between the forwarder's look-up and its
/// create): the forwarder finds it, updates it and adds the user, and creates no second one.
fn company_created_meanwhile(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let g = ctx.id("g");
    Scenario {
        seed: vec![],
        setup: vec![create_company_fault(
            json!({"status": 400, "body": {"detail": "Company with this custom_id already exists."}}),
            "after",
            1,
        )],
        steps: vec![Step::new(
            vec![ctx.group(&u, &g, json!({"name": "Acme", "description": "Anvils"}))],
            vec![
                company::field(&g, "name", Expect::Eq(json!("Acme"))),
                company::field(&g, "description", Expect::Eq(json!("Anvils"))),
                crate::checks::CompanyUnique { id: g.clone() }.into(),
                Member {
                    user: u,
                    company: g,
                }
                .into(),
            ],
        )],
    }
}

/// A company someone else created in User.com, looked up by a group whose look-up is refused
/// with a 400: a failed look-up is not an absent company, so the forwarder neither creates a
/// second one nor asks again (the message is dead-lettered, the company left as it was).
fn company_lookup_refused(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let g = ctx.id("g");
    Scenario {
        seed: vec![],
        setup: vec![],
        steps: vec![Step {
            before: vec![
                Action::CreateCompany {
                    custom_id: g.clone(),
                    name: "Existing".into(),
                },
                Action::Fault(refused_once("GET", "/api/public/companies-by-id/")),
            ],
            events: vec![ctx.group(&u, &g, json!({"name": "Acme"}))],
            checks: vec![
                Requested::exactly(1, "GET", &format!("/companies-by-id/{g}/"), None),
                Requested::exactly(0, "POST", "/companies/", None),
                crate::checks::CompanyUnique { id: g.clone() }.into(),
                company::field(&g, "name", Expect::Eq(json!("Existing"))),
            ],
        }],
    }
}

/// A 400 that names no field, for the next request of `method` under `prefix`.
fn refused_once(method: &str, prefix: &str) -> Value {
    json!({
        "match": {"method": method, "path_prefix": prefix},
        "effect": {"status": 400, "body": {"detail": "refused by a fault rule"}},
        "times": 1,
    })
}

/// The event of a track for a user nobody has seen is refused with a 400: it is not sent again
/// (not even after creating the user, which only a 404 calls for), so no occurrence is stored.
fn event_refused(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let e = ctx.event("Refused");
    Scenario {
        seed: vec![],
        setup: vec![Setup::Fault(refused_once(
            "POST",
            "/api/public/users-by-id/",
        ))],
        steps: vec![Step::new(
            vec![ctx.track(&u, &e, json!({"n": 1}))],
            vec![
                Events {
                    user: u.clone(),
                    name: e,
                    count: 0,
                    data: vec![],
                }
                .into(),
                Requested::exactly(1, "POST", &format!("/users-by-id/{u}/events/"), None),
            ],
        )],
    }
}

/// A company the forwarder knows; a new user's `add_member` is refused with a 400 (neither id
/// came from memory, so nothing is stale): not sent again, the user does not become a member.
fn membership_refused(ctx: &Ctx) -> Scenario {
    let (first, u, g) = (ctx.id("first"), ctx.id("u"), ctx.id("g"));
    in_steps(vec![
        Step::new(
            vec![ctx.group(&first, &g, json!({"name": "Acme"}))],
            vec![Member {
                user: first,
                company: g.clone(),
            }
            .into()],
        ),
        Step {
            before: vec![Action::Fault(refused_once("POST", COMPANIES))],
            events: vec![ctx.group(&u, &g, json!({}))],
            checks: vec![
                user::field(
                    &u,
                    "companies",
                    Expect::OneOf(vec![Expect::Absent, Expect::Len(0)]),
                ),
                Requested::exactly(
                    1,
                    "POST",
                    "/companies/",
                    Some(("user_custom_id".into(), json!(u))),
                ),
            ],
        },
    ])
}

/// A page view refused with a 400 that names no field, for a user whose key the forwarder has
/// just looked up: not sent again, so no view is recorded.
fn site_view_refused(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    Scenario {
        seed: vec![],
        setup: vec![Setup::Fault(refused_once(
            "POST",
            "/api/public/site-views/",
        ))],
        steps: vec![Step::new(
            vec![ctx.message(
                "page",
                Some(&u),
                None,
                json!({"properties": {"url": "https://shop.example.com/refused", "title": "T"}}),
            )],
            vec![
                SiteViews {
                    user: u.clone(),
                    count: 0,
                    url: None,
                    path: None,
                    title: None,
                    at: None,
                }
                .into(),
                Requested::exactly(1, "POST", "/site-views/", None),
            ],
        )],
    }
}

/// A company the forwarder knows; its update is refused with a 400 that names no field: not
/// sent again, the company keeps its name.
fn company_update_refused(ctx: &Ctx) -> Scenario {
    let (u, g) = (ctx.id("u"), ctx.id("g"));
    in_steps(vec![
        Step::new(
            vec![ctx.group(&u, &g, json!({"name": "Acme"}))],
            vec![company::field(&g, "name", Expect::Eq(json!("Acme")))],
        ),
        Step {
            before: vec![Action::Fault(refused_once("PUT", COMPANIES))],
            events: vec![ctx.group(&u, &g, json!({"name": "Acme Renamed"}))],
            checks: vec![
                company::field(&g, "name", Expect::Eq(json!("Acme"))),
                Requested::exactly(
                    1,
                    "PUT",
                    "/companies/",
                    Some(("name".into(), json!("Acme Renamed"))),
                ),
            ],
        },
    ])
}

/// An identify refused once (dead-lettered), then the same message, same messageId, sent again
/// to the same forwarder: this time it is applied.
fn resent_after_refusal(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let msg = ctx.identify(&u, json!({"email": "resent@example.com"}));
    Scenario {
        seed: vec![],
        setup: vec![upsert_fault(
            json!({"status": 400, "body": {"detail": "refused by a fault rule"}}),
            1,
        )],
        steps: vec![
            Step::new(
                vec![msg.clone()],
                vec![user::UserExists {
                    id: u.clone(),
                    exists: false,
                }
                .into()],
            ),
            Step::new(
                vec![msg],
                vec![user::field(
                    &u,
                    "email",
                    Expect::Eq(json!("resent@example.com")),
                )],
            ),
        ],
    }
}
