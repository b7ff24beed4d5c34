//! `group`: creates or updates the company, associates the user, maps semantic traits; custom
//! traits follow the custom-trait rules.

use serde_json::{json, Map, Value};

use super::inputs::def;
use super::{one_step, seeded_step, Case, Ctx, Scenario, Step, TraitRow};
use crate::checks::{company, Answered, Attribute, CompanyUnique, Member};
use crate::expect::Expect;

/// Group.
const GROUP: &str = "Sending a .group() request allows to create or update a company profile and associate a user with it.";

/// Group auto-creation.
const GROUP_CREATE: &str = "If a company is not found, we will automatically create new company instance and set its groupId to that that identifier.";

/// Group membership.
const GROUP_MEMBER: &str =
    "The user that owns the userId on this event will be associated with this company.";

/// Group custom traits.
const GROUP_CUSTOM: &str =
    "Any custom traits of the .group() call will follow same logic as Identify method.";

/// Group semantic traits.
const GROUP_SEMANTIC: &str =
    "Semantic traits that are mapped are: address, description, email, employees, name, phone.";

/// The `group` cases, in report order.
pub(super) fn cases() -> Vec<Case> {
    let mut cases = vec![
        Case::new("group_creates_company", GROUP_CREATE, group_creates),
        Case::new("group_updates_company", GROUP, group_updates),
        Case::new("group_associates_user", GROUP_MEMBER, group_associates),
    ];
    for (trait_name, value, field, expect) in group_trait_table() {
        cases.push(Case::new(
            format!("group_trait_{trait_name}"),
            GROUP_SEMANTIC,
            move |ctx: &Ctx| {
                let u = ctx.id("u");
                let g = ctx.id("g");
                let mut traits = Map::new();
                traits.insert("name".into(), json!("Acme"));
                traits.insert(trait_name.to_string(), value.clone());
                one_step(
                    vec![ctx.group(&u, &g, Value::Object(traits))],
                    vec![company::field(&g, field, expect.clone())],
                )
            },
        ));
    }
    cases.push(
        Case::new("group_trait_phone_not_a_custom_attribute", GROUP_SEMANTIC, group_phone_not_custom)
            .with_rule("User.com companies keep phones in phone_numbers, a list of strings (usercom-api.md §6); the doc maps phone, so it never becomes a custom attribute"),
    );
    for (field, expect) in company_address_table() {
        cases.push(
            Case::new(format!("group_address_split_{field}"), GROUP_SEMANTIC, move |ctx: &Ctx| {
                let u = ctx.id("u");
                let g = ctx.id("g");
                one_step(
                    vec![ctx.group(&u, &g, json!({"name": "Acme", "address": company_address()}))],
                    vec![company::field(&g, field, expect.clone())],
                )
            })
            .with_rule("design.md: a company address object also fills city, region (state), country and postal_code (postalCode)"),
        );
    }
    cases.push(
        Case::new(
            "group_employees_numeric_string_is_size",
            GROUP_SEMANTIC,
            group_employees_string,
        )
        .with_rule("design.md: size ← employees; size is User.com's integer employee count"),
    );
    cases.push(
        Case::new(
            "group_employees_invalid_rest_applied",
            GROUP_SEMANTIC,
            group_employees_invalid,
        )
        .with_rule("design.md: one bad field never loses the message; employees that is not a count is left out, the rest of the group applied"),
    );
    cases.push(Case::new(
        "group_custom_trait_new_is_string",
        GROUP_CUSTOM,
        group_custom_new,
    ));
    cases.push(Case::new(
        "group_custom_trait_defined_integer",
        GROUP_CUSTOM,
        group_custom_defined,
    ));
    cases.push(
        Case::new("group_employees_table", GROUP_SEMANTIC, group_employees_table)
            .with_rule("design.md: size ← employees as a non-negative integer in the signed 64-bit range: numbers without a fraction and numeric strings after trimming; anything else is left out (not sent: no request is answered 400) and the rest applied"),
    );
    cases.push(
        Case::new("group_phone_and_address_values", GROUP_SEMANTIC, group_phone_and_address)
            .with_rule("design.md: phone_numbers ← phone as a list of strings (numbers as their text, blank entries left out); the address line joins street, city, state, postalCode, country (numbers as their text)"),
    );
    cases.push(
        Case::new("group_traits_named_like_company_fields", GROUP_SEMANTIC, group_field_names)
            .with_rule("design.md: a trait whose name is a standard company field fills that field with the field's own conversion (text, a list of phone strings, an integer size or assigned_to), not a custom attribute"),
    );
    cases
}

/// `employees` → `size`, one company per row (`None`: no size stored).
fn group_employees_table(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let rows: Vec<(Value, Option<i64>)> = vec![
        (json!(50.0), Some(50)),
        (json!(0), Some(0)),
        (json!(" 7 "), Some(7)),
        (json!("1e2"), Some(100)),
        (json!("12.5"), None),
        (json!(12.5), None),
        (json!(-5), None),
        (json!(-5.0), None),
        (json!("-5"), None),
        (json!(1e19), None),
        // Integers beyond the signed 64-bit range, as a number and as text.
        (json!(u64::MAX), None),
        (json!("9223372036854775808"), None),
        (json!("lots"), None),
        (json!(true), None),
    ];
    let mut events = Vec::new();
    let mut checks = Vec::new();
    for (i, (employees, size)) in rows.into_iter().enumerate() {
        let g = ctx.id(&format!("g{i}"));
        events.push(ctx.group(
            &u,
            &g,
            json!({"name": format!("Row {i}"), "employees": employees}),
        ));
        checks.push(company::field(
            &g,
            "name",
            Expect::Eq(json!(format!("Row {i}"))),
        ));
        checks.push(company::field(
            &g,
            "size",
            size.map_or(Expect::Absent, |n| Expect::Eq(json!(n))),
        ));
    }
    // "Left out" means never sent: a value User.com would refuse is not tried first.
    checks.push(
        Answered {
            status: 400,
            at_least: 0,
            at_most: 0,
        }
        .into(),
    );
    one_step(events, checks)
}

fn group_phone_and_address(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let [a, b, c] = [ctx.id("ga"), ctx.id("gb"), ctx.id("gc")];
    one_step(
        vec![
            ctx.group(
                &u,
                &a,
                json!({"name": "A", "phone": ["+48 1", "  ", 48_500_100_200_i64],
                "address": {"street": "Main 1", "city": "Oslo", "postalCode": 12345}}),
            ),
            ctx.group(&u, &b, json!({"name": "B", "phone": 48_500_100_200_i64})),
            ctx.group(&u, &c, json!({"name": "C", "phone": "   "})),
        ],
        vec![
            company::field(
                &a,
                "phone_numbers",
                Expect::Eq(json!(["+48 1", "48500100200"])),
            ),
            company::field(&a, "address", Expect::Eq(json!("Main 1, Oslo, 12345"))),
            company::field(&a, "city", Expect::Eq(json!("Oslo"))),
            company::field(&b, "phone_numbers", Expect::Eq(json!(["48500100200"]))),
            company::field(&c, "name", Expect::Eq(json!("C"))),
            company::field(&c, "phone_numbers", Expect::Absent),
        ],
    )
}

fn group_field_names(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let g = ctx.id("g");
    one_step(
        vec![ctx.group(
            &u,
            &g,
            json!({"name": "Fields", "description": 42, "region": true,
                   "phone_numbers": "+1 555 0100", "size": "40", "assigned_to": "12"}),
        )],
        vec![
            company::field(&g, "assigned_to", Expect::Eq(json!(12))),
            company::field(&g, "description", Expect::Eq(json!("42"))),
            company::field(&g, "region", Expect::Eq(json!("true"))),
            company::field(&g, "phone_numbers", Expect::Eq(json!(["+1 555 0100"]))),
            company::field(&g, "size", Expect::Eq(json!(40))),
        ],
    )
}

fn group_trait_table() -> Vec<TraitRow> {
    vec![
        (
            "address",
            json!({"street": "Prosta 20", "city": "Warsaw", "state": "Mazowieckie", "postalCode": "00-850", "country": "Poland"}),
            "address",
            Expect::Eq(json!("Prosta 20, Warsaw, Mazowieckie, 00-850, Poland")),
        ),
        (
            "description",
            json!("Makes anvils"),
            "description",
            Expect::Eq(json!("Makes anvils")),
        ),
        (
            "email",
            json!("office@acme.example"),
            "email",
            Expect::Eq(json!("office@acme.example")),
        ),
        ("employees", json!(250), "size", Expect::Eq(json!(250))),
        ("name", json!("Acme"), "name", Expect::Eq(json!("Acme"))),
        (
            "phone",
            json!("+48 22 765 43 21"),
            "phone_numbers",
            Expect::Eq(json!(["+48 22 765 43 21"])),
        ),
    ]
}

fn company_address() -> Value {
    json!({"street": "Prosta 20", "city": "Kraków", "state": "Małopolskie", "postalCode": "30-001", "country": "Poland"})
}

fn company_address_table() -> Vec<(&'static str, Expect)> {
    vec![
        ("city", Expect::Eq(json!("Kraków"))),
        ("region", Expect::Eq(json!("Małopolskie"))),
        ("country", Expect::Eq(json!("Poland"))),
        ("postal_code", Expect::Eq(json!("30-001"))),
    ]
}

fn group_phone_not_custom(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let g = ctx.id("g");
    one_step(
        vec![ctx.group(&u, &g, json!({"name": "Acme", "phone": "+48 12 000 00 00"}))],
        vec![
            company::field(&g, "phone_numbers", Expect::Eq(json!(["+48 12 000 00 00"]))),
            company::field(&g, "phone", Expect::Absent),
            Attribute {
                content_type: "company",
                name: "phone".into(),
                value_type: Expect::Absent,
            }
            .into(),
        ],
    )
}

fn group_employees_string(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let g = ctx.id("g");
    one_step(
        vec![ctx.group(&u, &g, json!({"name": "Acme", "employees": "120"}))],
        vec![company::field(&g, "size", Expect::Eq(json!(120)))],
    )
}

fn group_employees_invalid(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let g = ctx.id("g");
    let note = ctx.attr("company_note");
    let mut traits = Map::new();
    traits.insert("name".into(), json!("Acme"));
    traits.insert("employees".into(), json!("lots"));
    traits.insert("description".into(), json!("Anvils"));
    traits.insert(note.clone(), json!("kept"));
    one_step(
        vec![ctx.group(&u, &g, Value::Object(traits))],
        vec![
            company::field(&g, "size", Expect::Absent),
            company::field(&g, "name", Expect::Eq(json!("Acme"))),
            company::field(&g, "description", Expect::Eq(json!("Anvils"))),
            company::field(&g, &note, Expect::Eq(json!("kept"))),
            Member {
                user: u,
                company: g,
            }
            .into(),
        ],
    )
}

fn group_creates(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let g = ctx.id("g");
    one_step(
        vec![ctx.group(&u, &g, json!({"name": "Initech"}))],
        vec![
            company::field(&g, "custom_id", Expect::Eq(json!(g))),
            company::field(&g, "name", Expect::Eq(json!("Initech"))),
        ],
    )
}

fn group_updates(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let v = ctx.id("v");
    let g = ctx.id("g");
    Scenario {
        steps: vec![
            Step::new(
                vec![ctx.group(&u, &g, json!({"name": "Initech"}))],
                vec![company::field(&g, "name", Expect::Eq(json!("Initech")))],
            ),
            Step::new(
                vec![ctx.group(&v, &g, json!({"name": "Initech Global", "employees": 12}))],
                vec![
                    company::field(&g, "name", Expect::Eq(json!("Initech Global"))),
                    company::field(&g, "size", Expect::Eq(json!(12))),
                    CompanyUnique { id: g.clone() }.into(),
                    Member {
                        user: u,
                        company: g.clone(),
                    }
                    .into(),
                    Member {
                        user: v,
                        company: g,
                    }
                    .into(),
                ],
            ),
        ],
        ..Scenario::default()
    }
}

fn group_associates(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let g = ctx.id("g");
    one_step(
        vec![
            ctx.identify(&u, json!({"email": "member@example.com"})),
            ctx.group(&u, &g, json!({"name": "Hooli"})),
        ],
        vec![Member {
            user: u.clone(),
            company: g,
        }
        .into()],
    )
}

fn group_custom_new(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let g = ctx.id("g");
    let tier = ctx.attr("tier_level");
    let mut traits = Map::new();
    traits.insert("name".into(), json!("Acme"));
    traits.insert(tier.clone(), json!(3));
    one_step(
        vec![ctx.group(&u, &g, Value::Object(traits))],
        vec![
            company::field(&g, &tier, Expect::Eq(json!("3"))),
            Attribute {
                content_type: "company",
                name: tier,
                value_type: Expect::Eq(json!("string")),
            }
            .into(),
        ],
    )
}

fn group_custom_defined(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let g = ctx.id("g");
    let seats = ctx.attr("seats");
    let mut traits = Map::new();
    traits.insert("name".into(), json!("Acme"));
    traits.insert(seats.clone(), json!("40"));
    seeded_step(
        vec![def(seats.clone(), "integer", "company")],
        vec![ctx.group(&u, &g, Value::Object(traits))],
        vec![company::field(&g, &seats, Expect::Eq(json!(40)))],
    )
}
