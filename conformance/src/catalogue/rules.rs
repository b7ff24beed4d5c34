//! The forwarder rules that make the doc's sentences precise where input is awkward (design.md,
//! "The forwarder"): a trait named like a typed User.com field never sinks the call, an invalid
//! e-mail is dropped and the rest applied, camelCase and snake_case keys land in one attribute,
//! `traits.company` makes the user a member, and `integrations` opt-outs are honoured.
//!
//! Each case quotes the doc sentence it refines and names the rule (`Case::with_rule`).

use serde_json::{json, Map, Value};

use super::{in_steps, one_step, Case, Ctx, Scenario, Step};
use crate::checks::{user, Attribute, Member, Requested, UserExists};
use crate::expect::Expect;

/// Custom traits.
const CUSTOM: &str = "Other custom fields present in traits are added as custom attributes.";

/// Identify mapping.
const IDENTIFY: &str = "Calling .identify() causes User.com to automatically map the call’s traits and context data to appropriate fields in the user profile.";

/// Group semantic traits.
const GROUP_CUSTOM: &str =
    "Any custom traits of the .group() call will follow same logic as Identify method.";

/// The API key (the destination receives what Segment sends it).
const SETTINGS: &str = "Segment lets you change these destination settings from the Segment app without having to touch any code.";

const TYPED_NAME_RULE: &str = "design.md: a trait named like a typed User.com field the doc does not map never sinks the call: converted when valid, else kept as the custom attribute segment_<name>; the rest is applied";

/// The `integrations` rule.
const INTEGRATIONS_RULE: &str = "design.md, Delivery: `integrations` opt-outs (`All: false` without `User.com: true`, or `User.com: false`) are skipped: nothing is sent";

/// The rule cases, in report order.
pub(super) fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (name, bad, stored) in typed_name_table() {
        cases.push(
            Case::new(
                format!("identify_typed_name_trait_{name}_invalid_kept"),
                CUSTOM,
                move |ctx: &Ctx| typed_name_invalid(ctx, name, &bad, stored),
            )
            .with_rule(TYPED_NAME_RULE),
        );
    }
    cases.extend([
        Case::new(
            "identify_typed_name_traits_valid_converted",
            CUSTOM,
            typed_name_valid,
        )
        .with_rule(TYPED_NAME_RULE),
        Case::new(
            "identify_typed_name_traits_null_write_nothing",
            CUSTOM,
            typed_name_null,
        )
        .with_rule("design.md: a null for a typed field the doc does not map is nothing to write: neither the field nor segment_<name> is sent (a segment_<name> kept earlier stays), the rest is applied"),
        Case::new(
            "group_typed_name_trait_tags_invalid_kept",
            GROUP_CUSTOM,
            group_tags_invalid,
        )
        .with_rule(TYPED_NAME_RULE),
        Case::new(
            "identify_invalid_email_dropped_rest_applied",
            IDENTIFY,
            invalid_email,
        )
        .with_rule("design.md: one bad field never loses the message; an invalid e-mail is dropped (counted), the rest of the identify is applied"),
        Case::new(
            "identify_invalid_emails_never_sent",
            IDENTIFY,
            invalid_emails_never_sent,
        )
        .with_rule("design.md: one bad field never loses the message, validated before sending: an address without one `@` between a non-empty local part and domain, or with white space, is never sent (User.com refuses the whole request, and may not name the field); null and \"\" clear the address"),
        Case::new(
            "identify_other_spellings_of_standard_fields_converted",
            IDENTIFY,
            other_spellings,
        )
        .with_rule("design.md: keys are normalised to name_std; a trait whose normalised key is a standard field (First Name → first_name, Gender → gender) is converted like the field's mapped trait (cut to the field's limit, gender words to codes, numbers to text); `name` is derived by User.com and never sent"),
        Case::new(
            "identify_camel_case_wins_over_snake_case",
            IDENTIFY,
            camel_wins,
        )
        .with_rule("design.md: first_name ← firstName|first_name, last_name ← lastName|last_name: the first spelling given (not null) wins"),
        Case::new("identify_camel_and_snake_keys_land_in_one_attribute", CUSTOM, key_normalisation)
            .with_rule("design.md: keys normalised to name_std; camelCase and snake_case of one name land in one key (planName → plan_name)"),
        Case::new("identify_read_only_created_at_kept_as_segment_created_at", CUSTOM, created_at)
            .with_rule("design.md: a trait never overwrites a read-only field (created_at): kept as segment_created_at, whichever spelling (createdAt, created_at)"),
        Case::new("identify_company_trait_makes_member", IDENTIFY, company_trait)
            .with_rule("forwarder rule: traits.company on identify makes the user a member of that company: found by its id (a number as text; a blank id is none), else its name; a bare string is the name"),
        Case::new("identify_long_names_cut_to_the_field_limit", IDENTIFY, long_names)
            .with_rule("forwarder rule: text for a limited standard field is cut to User.com's limit (first_name, last_name: 40 characters; phone_number, city: 64) rather than refused"),
        Case::new("identify_traits_in_context_traits", IDENTIFY, context_traits)
            .with_rule("design.md: identify traits in context.traits (RudderStack's Python SDK sends them only there) are merged under traits; the root wins a key both carry"),
        Case::new("integrations_opt_out_skipped", SETTINGS, integrations)
            .with_rule(INTEGRATIONS_RULE),
    ]);
    cases
}

/// A typed User.com user field the doc does not map, an invalid value for it, and the text the
/// value is kept as (a new attribute is a string: the value stringified).
fn typed_name_table() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        ("status", json!("banana"), "banana"),
        ("tags", json!({"a": 1}), "{\"a\":1}"),
        ("score", json!("high"), "high"),
        ("unsubscribed", json!("maybe"), "maybe"),
        ("notifications", json!("maybe"), "maybe"),
        ("assigned_to", json!("nobody"), "nobody"),
        ("company_custom_id", json!({"x": 1}), "{\"x\":1}"),
    ]
}

fn typed_name_invalid(ctx: &Ctx, name: &str, bad: &Value, stored: &str) -> Scenario {
    let u = ctx.id("u");
    let plan = ctx.attr("plan");
    let mut traits = Map::new();
    traits.insert(name.to_string(), bad.clone());
    traits.insert("first_name".into(), json!("Ada"));
    traits.insert(plan.clone(), json!("pro"));
    one_step(
        vec![ctx.identify(&u, Value::Object(traits))],
        vec![
            user::field(&u, &format!("segment_{name}"), Expect::Eq(json!(stored))),
            user::field(&u, "first_name", Expect::Eq(json!("Ada"))),
            user::field(&u, &plan, Expect::Eq(json!("pro"))),
        ],
    )
}

fn typed_name_valid(ctx: &Ctx) -> Scenario {
    let (u, v, w, x) = (ctx.id("u"), ctx.id("v"), ctx.id("w"), ctx.id("x"));
    // Each value in a spelling the field's conversion takes (User.com reads `status` back as its
    // word and `tags` as tag objects: a tag list shows as no `segment_tags`).
    let mut checks = vec![
        user::field(&u, "score", Expect::Eq(json!(12))),
        user::field(&u, "unsubscribed", Expect::Eq(json!(true))),
        user::field(&u, "status", Expect::Eq(json!("user"))),
        user::field(&u, "notifications", Expect::Eq(json!(false))),
        user::field(&u, "assigned_to", Expect::Eq(json!(7))),
        user::field(&u, "web_push_subscription", Expect::Eq(json!(true))),
        user::field(&u, "first_name", Expect::Eq(json!("Ada"))),
        user::field(&v, "status", Expect::Eq(json!("visitor"))),
        user::field(&v, "unsubscribed", Expect::Eq(json!(true))),
        user::field(&v, "score", Expect::Eq(json!(3))),
        user::field(&w, "status", Expect::Eq(json!("user"))),
        user::field(&w, "score", Expect::Eq(json!(9_007_199_254_740_993_i64))),
        // (Every user's score starts at 0: it stays there.)
        user::field(&x, "score", Expect::Eq(json!(0))),
        user::field(&x, "segment_score", Expect::Eq(json!("7.5"))),
    ];
    for (who, name) in [
        (&u, "score"),
        (&u, "status"),
        (&u, "tags"),
        (&u, "notifications"),
        (&u, "assigned_to"),
        (&u, "web_push_subscription"),
        (&v, "status"),
        (&v, "tags"),
        (&v, "unsubscribed"),
        (&v, "score"),
        (&w, "status"),
        (&w, "score"),
    ] {
        checks.push(user::field(who, &format!("segment_{name}"), Expect::Absent));
    }
    one_step(
        vec![
            ctx.identify(
                &u,
                json!({"score": "12", "unsubscribed": "true", "first_name": "Ada",
                       "status": "user", "notifications": "false", "tags": "vip",
                       "assigned_to": 7.0, "web_push_subscription": "TRUE"}),
            ),
            ctx.identify(
                &v,
                json!({"status": "1", "tags": ["a", "b"], "unsubscribed": true, "score": " 3 "}),
            ),
            // A code as a number; an integer beyond 2^53 kept exactly (a float would round it).
            ctx.identify(&w, json!({"status": 2, "score": 9_007_199_254_740_993_i64})),
            // A fraction is not a whole number: kept as segment_score.
            ctx.identify(&x, json!({"score": 7.5})),
        ],
        checks,
    )
}

fn typed_name_null(ctx: &Ctx) -> Scenario {
    // `u` sends only nulls; `w` first sends values the fields cannot take (kept as
    // `segment_<name>`), then nulls, which must leave those attributes as they are.
    let (u, w) = (ctx.id("u"), ctx.id("w"));
    let mut checks = vec![user::field(&u, "first_name", Expect::Eq(json!("Ada")))];
    let (mut nulls, mut invalid, mut first) = (Map::new(), Map::new(), Vec::new());
    nulls.insert("first_name".into(), json!("Ada"));
    // `company_custom_id` is not a typed field here: it is always kept as
    // `segment_company_custom_id` (a null then clears that attribute where it exists).
    for (name, bad, stored) in typed_name_table()
        .into_iter()
        .filter(|(n, _, _)| *n != "company_custom_id")
    {
        nulls.insert(name.into(), Value::Null);
        invalid.insert(name.into(), bad);
        let kept = format!("segment_{name}");
        first.push(user::field(&w, &kept, Expect::Eq(json!(stored))));
        // (No check on the attribute definitions: in external mode every case shares one app,
        // where other cases define `segment_<name>`.)
        checks.push(user::field(&u, &kept, Expect::Absent));
        checks.push(user::field(&w, &kept, Expect::Eq(json!(stored))));
        checks.push(Requested::never(kept, Value::Null));
    }
    in_steps(vec![
        Step::new(vec![ctx.identify(&w, Value::Object(invalid))], first),
        Step::new(
            vec![
                ctx.identify(&u, Value::Object(nulls.clone())),
                ctx.identify(&w, Value::Object(nulls)),
            ],
            checks,
        ),
    ])
}

fn group_tags_invalid(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let g = ctx.id("g");
    one_step(
        vec![ctx.group(
            &u,
            &g,
            json!({"name": "Acme", "tags": {"a": 1}, "description": "Anvils"}),
        )],
        vec![
            crate::checks::company::field(&g, "segment_tags", Expect::Eq(json!("{\"a\":1}"))),
            crate::checks::company::field(&g, "name", Expect::Eq(json!("Acme"))),
            crate::checks::company::field(&g, "description", Expect::Eq(json!("Anvils"))),
            Member {
                user: u,
                company: g,
            }
            .into(),
        ],
    )
}

fn invalid_email(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let note = ctx.attr("note");
    let mut traits = Map::new();
    traits.insert("email".into(), json!("not an email"));
    traits.insert("first_name".into(), json!("Ada"));
    traits.insert(note.clone(), json!("kept"));
    one_step(
        vec![ctx.identify(&u, Value::Object(traits))],
        vec![
            user::field(&u, "email", Expect::Absent),
            user::field(&u, "first_name", Expect::Eq(json!("Ada"))),
            user::field(&u, &note, Expect::Eq(json!("kept"))),
        ],
    )
}

/// Addresses User.com refuses, one user each: none reaches User.com, the rest of each identify
/// lands. Then two users with an address clear it with `null` and with `""`.
fn invalid_emails_never_sent(ctx: &Ctx) -> Scenario {
    let bad = [
        "@example.com",
        "ada@",
        "ada@b@example.com",
        "ada lovelace@example.com",
    ];
    let mut events = Vec::new();
    let mut checks = Vec::new();
    for (n, address) in bad.iter().enumerate() {
        let u = ctx.id(&format!("bad{n}"));
        events.push(ctx.identify(&u, json!({"email": address, "first_name": "Ada"})));
        checks.push(user::field(&u, "email", Expect::Absent));
        checks.push(user::field(&u, "first_name", Expect::Eq(json!("Ada"))));
        checks.push(Requested::never("email", json!(address)));
    }
    let (nulled, emptied) = (ctx.id("nulled"), ctx.id("emptied"));
    events.push(ctx.identify(&nulled, json!({"email": "nulled@example.com"})));
    events.push(ctx.identify(&emptied, json!({"email": "emptied@example.com"})));
    checks.push(user::field(
        &nulled,
        "email",
        Expect::Eq(json!("nulled@example.com")),
    ));
    checks.push(user::field(
        &emptied,
        "email",
        Expect::Eq(json!("emptied@example.com")),
    ));
    let cleared = || Expect::OneOf(vec![Expect::Absent, Expect::Eq(json!(""))]);
    in_steps(vec![
        Step::new(events, checks),
        Step::new(
            vec![
                ctx.identify(&nulled, json!({"email": null, "last_name": "N"})),
                ctx.identify(&emptied, json!({"email": "", "last_name": "E"})),
            ],
            vec![
                user::field(&nulled, "email", cleared()),
                user::field(&nulled, "last_name", Expect::Eq(json!("N"))),
                user::field(&emptied, "email", cleared()),
                user::field(&emptied, "last_name", Expect::Eq(json!("E"))),
            ],
        ),
    ])
}

/// Standard fields under other spellings, each with a value that needs the field's conversion.
fn other_spellings(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    one_step(
        vec![ctx.identify(
            &u,
            json!({
                "First Name": "Ä".repeat(45),
                "LastName": "b".repeat(41),
                "Phone Number": "9".repeat(70),
                "City": "c".repeat(70),
                "Gender": "F",
                "Country": 48,
                "Name": "Someone Else",
                "email": "spellings@example.com",
                "Email": "not an address",
            }),
        )],
        vec![
            user::field(&u, "first_name", Expect::Eq(json!("Ä".repeat(40)))),
            user::field(&u, "last_name", Expect::Eq(json!("b".repeat(40)))),
            user::field(&u, "phone_number", Expect::Eq(json!("9".repeat(64)))),
            user::field(&u, "city", Expect::Eq(json!("c".repeat(64)))),
            user::field(&u, "gender", Expect::Eq(json!("female"))),
            user::field(&u, "country", Expect::Eq(json!("48"))),
            user::field(&u, "email", Expect::Eq(json!("spellings@example.com"))),
            user::field(&u, "segment_first_name", Expect::Absent),
            user::field(&u, "segment_gender", Expect::Absent),
            // Not an address: kept under a non-colliding name (the mapped `email` is set).
            user::field(&u, "segment_email", Expect::Eq(json!("not an address"))),
            Requested::never("name", json!("Someone Else")),
        ],
    )
}

/// Both spellings of a name, neither null: the camelCase one is listed first and wins.
fn camel_wins(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    one_step(
        vec![ctx.identify(
            &u,
            json!({"firstName": "Grace", "first_name": "Not Grace", "lastName": "Hopper", "last_name": "Not Hopper"}),
        )],
        vec![
            user::field(&u, "first_name", Expect::Eq(json!("Grace"))),
            user::field(&u, "last_name", Expect::Eq(json!("Hopper"))),
        ],
    )
}

fn key_normalisation(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    // `planName_c07` → `plan_name_c07`; in an app of its own, `planName` → `plan_name`.
    let camel = ctx.attr("planName");
    let snake = ctx.attr("plan_name");
    let glued = ctx.attr("planname");
    // All capitals: `VIP` → `vip` (in external mode `VIP_c07` → `vip_c07`).
    let caps = ctx.attr("VIP");
    let caps_std = ctx.attr("vip");
    let mut traits = Map::new();
    traits.insert(camel, json!("pro"));
    traits.insert(caps, json!("yes"));
    one_step(
        vec![ctx.identify(&u, Value::Object(traits))],
        vec![
            user::field(&u, &snake, Expect::Eq(json!("pro"))),
            user::field(&u, &caps_std, Expect::Eq(json!("yes"))),
            Attribute {
                content_type: "clientuser",
                name: snake,
                value_type: Expect::Eq(json!("string")),
            }
            .into(),
            Attribute {
                content_type: "clientuser",
                name: glued,
                value_type: Expect::Absent,
            }
            .into(),
        ],
    )
}

fn created_at(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let v = ctx.id("v");
    let t = "2020-01-02T03:04:05Z";
    one_step(
        vec![
            ctx.identify(&u, json!({"createdAt": t})),
            ctx.identify(&v, json!({"created_at": t})),
        ],
        vec![
            user::field(&u, "segment_created_at", Expect::Eq(json!(t))),
            user::field(&v, "segment_created_at", Expect::Eq(json!(t))),
            user::field(&u, "created_at", Expect::Present),
        ],
    )
}

fn company_trait(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let v = ctx.id("v");
    let g = ctx.id("g");
    let (by_name, by_string, by_number, blank_id) = (
        ctx.id("byname"),
        ctx.id("bystring"),
        ctx.id("bynumber"),
        ctx.id("blankid"),
    );
    let (globex, initech, hooli) = (ctx.id("Globex"), ctx.id("Initech"), ctx.id("Hooli"));
    Scenario {
        steps: vec![
            Step::new(vec![ctx.group(&v, &g, json!({"name": "Acme"}))], vec![crate::checks::company::field(
                    &g,
                    "name",
                    Expect::Eq(json!("Acme")),
                )]),
            Step::new(vec![
                    ctx.identify(
                        &u,
                        json!({"email": "member@example.com", "company": {"id": g, "name": "Acme"}}),
                    ),
                    // No id: found by its name. A bare string is the name. A numeric id is
                    // the id as text. A blank id counts as none.
                    ctx.identify(&by_name, json!({"company": {"name": globex}})),
                    ctx.identify(&by_string, json!({"company": initech})),
                    ctx.identify(&by_number, json!({"company": {"id": 424_242, "name": "Numbered"}})),
                    ctx.identify(&blank_id, json!({"company": {"id": "  ", "name": hooli}})),
                ], vec![
                    Member {
                        user: u.clone(),
                        company: g,
                    }
                    .into(),
                    user::field(&u, "email", Expect::Eq(json!("member@example.com"))),
                    Member {
                        user: by_name,
                        company: globex.clone(),
                    }
                    .into(),
                    Member {
                        user: by_string,
                        company: initech.clone(),
                    }
                    .into(),
                    crate::checks::company::field(&initech, "name", Expect::Eq(json!(initech))),
                    Member {
                        user: by_number,
                        company: "424242".into(),
                    }
                    .into(),
                    Member {
                        user: blank_id,
                        company: hooli.clone(),
                    }
                    .into(),
                ]),
        ],
        ..Scenario::default()
    }
}

fn integrations(ctx: &Ctx) -> Scenario {
    let control = ctx.id("control");
    let all_off = ctx.id("alloff");
    let ours_off = ctx.id("oursoff");
    let ours_on = ctx.id("ourson");
    let ours_null = ctx.id("oursnull");
    let ours_options = ctx.id("oursopts");
    let with = |user: &str, integrations: Value| {
        ctx.message(
            "identify",
            Some(user),
            None,
            json!({"traits": {"email": "x@example.com"}, "integrations": integrations}),
        )
    };
    let track_off = ctx.message(
        "track",
        Some(&all_off),
        None,
        json!({"event": ctx.event("Opted Out"), "properties": {}, "integrations": {"All": false}}),
    );
    one_step(
        vec![
            with(&control, json!({})),
            with(&all_off, json!({"All": false})),
            with(&ours_off, json!({"User.com": false})),
            with(&ours_on, json!({"All": false, "User.com": true})),
            // `null` says nothing: `All: false` decides. An object (per-destination options)
            // switches it on, as `true` does.
            with(&ours_null, json!({"All": false, "User.com": null})),
            with(
                &ours_options,
                json!({"All": false, "User.com": {"apiKey": "other"}}),
            ),
            track_off,
        ],
        vec![
            // First, before the checks below read users over REST themselves (their GETs are
            // journaled too): the opted-out track sent nothing for its user.
            Requested {
                method: None,
                path: format!("/users-by-id/{all_off}/"),
                body_has: None,
                at_least: 0,
                at_most: 0,
            }
            .into(),
            user::exists(&control),
            user::exists(&ours_on),
            user::exists(&ours_options),
            UserExists {
                id: ours_null,
                exists: false,
            }
            .into(),
            UserExists {
                id: all_off.clone(),
                exists: false,
            }
            .into(),
            UserExists {
                id: ours_off,
                exists: false,
            }
            .into(),
        ],
    )
}

fn long_names(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let first = "Ä".repeat(45); // 45 characters, 90 bytes: the limit counts characters
    let last = "b".repeat(40); // exactly at the limit: kept whole
    let city = "c".repeat(70);
    one_step(
        vec![ctx.identify(
            &u,
            json!({"first_name": first, "last_name": last, "address": {"city": city}}),
        )],
        vec![
            user::field(&u, "first_name", Expect::Eq(json!("Ä".repeat(40)))),
            user::field(&u, "last_name", Expect::Eq(json!("b".repeat(40)))),
            user::field(&u, "city", Expect::Eq(json!("c".repeat(64)))),
        ],
    )
}

fn context_traits(ctx: &Ctx) -> Scenario {
    let only = ctx.id("only");
    let both = ctx.id("both");
    let plan = ctx.attr("plan");
    let seats = ctx.attr("seats");
    let mut under = Map::new();
    under.insert("email".into(), json!("ctx@example.com"));
    under.insert("first_name".into(), json!("Ada"));
    under.insert(plan.clone(), json!("pro"));
    let mut root = Map::new();
    root.insert(plan.clone(), json!("enterprise"));
    root.insert(seats.clone(), json!("5"));
    let identify = |user: &str, traits: Option<&Map<String, Value>>| {
        let mut body = json!({"context": {"traits": under}});
        if let Some(t) = traits {
            body["traits"] = Value::Object(t.clone());
        }
        ctx.message("identify", Some(user), None, body)
    };
    one_step(
        vec![identify(&only, None), identify(&both, Some(&root))],
        vec![
            user::field(&only, "email", Expect::Eq(json!("ctx@example.com"))),
            user::field(&only, "first_name", Expect::Eq(json!("Ada"))),
            user::field(&only, &plan, Expect::Eq(json!("pro"))),
            user::field(&both, &plan, Expect::Eq(json!("enterprise"))),
            user::field(&both, &seats, Expect::Eq(json!("5"))),
            user::field(&both, "email", Expect::Eq(json!("ctx@example.com"))),
        ],
    )
}
