//! The catalogue: one case per documented behaviour of the destination doc.
//!
//! Every case quotes, verbatim, the sentence of `shared/spec/user-com-destination.md` it checks
//! (a test makes sure each quote really occurs in the doc), builds its Segment input from a
//! [`Ctx`] so every id is unique to the run and to the case, optionally seeds attribute
//! definitions through the REST API, and states its expectations on the simulator's state as
//! read back through the public REST API.
//!
//! The expectations are written by hand from the doc, not computed by any code shared with the
//! simulator or the forwarder: that independence is what makes a passing catalogue mean something.
//!
//! To add a case: write a `fn(&Ctx) -> Scenario`, and add one [`Case`] line to [`catalogue`]
//! with a new id and the sentence it checks. Use `ctx.id(..)` for user and group ids,
//! `ctx.attr(..)` for attribute names and `ctx.event(..)` for event names, so the case can share
//! one app with every other case in external mode.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Map, Value};

use crate::expect::Expect;

/// The hint the destination doc's troubleshooting section gives for a 403, as the forwarder must
/// report it (design.md, "Delivery"). Checked case-insensitively as a substring.
pub const HINT_403: &str = "API key revoked or domain not trusted";

/// One documented behaviour.
#[derive(Clone)]
pub struct Case {
    /// Stable identifier (`snake_case`), used by `--filter` and in reports.
    pub id: String,
    /// The exact sentence of the destination doc this case checks.
    pub sentence: &'static str,
    /// Builds the scenario for one run.
    pub build: Arc<dyn Fn(&Ctx) -> Scenario + Send + Sync>,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case").field("id", &self.id).finish()
    }
}

/// What one case does: seeds, set-up, then steps of input and expectations.
#[derive(Clone, Debug, Default)]
pub struct Scenario {
    /// Attribute definitions created through `POST /api/public/attributes/` before any input.
    pub seed: Vec<AttrDef>,
    /// Admin set-up the REST API cannot do.
    pub setup: Vec<Setup>,
    /// Delivered in order; each step's checks run once its events are delivered.
    pub steps: Vec<Step>,
}

impl Scenario {
    /// True when the case changes app-wide settings (trusted domains, key revocation), so in
    /// external mode (one shared app) it must run alone, after the others.
    pub fn is_exclusive(&self) -> bool {
        !self.setup.is_empty()
    }

    /// True when the case revokes the app's key: in external mode it must run last of all.
    pub fn revokes_key(&self) -> bool {
        self.setup.iter().any(|s| matches!(s, Setup::RevokeKey))
    }
}

/// A custom attribute definition to seed.
#[derive(Clone, Debug)]
pub struct AttrDef {
    /// Attribute name (already `name_std`-shaped).
    pub name: String,
    /// One of boolean, integer, float, date, datetime, string, fixed, json.
    pub value_type: &'static str,
    /// clientuser, company or event.
    pub content_type: &'static str,
    /// Choices for `fixed`.
    pub choices: Vec<String>,
}

/// Set-up through the simulator's admin plane.
#[derive(Clone, Debug)]
pub enum Setup {
    /// Only these domains (and their subdomains) are trusted.
    TrustDomains(Vec<String>),
    /// The forwarder's API key is revoked.
    RevokeKey,
}

/// A batch of input and what must hold after it is delivered.
#[derive(Clone, Debug, Default)]
pub struct Step {
    /// Segment messages, sent as one batch.
    pub events: Vec<Value>,
    /// Expectations after delivery.
    pub checks: Vec<Check>,
}

/// One expectation on the simulator's state (or, for troubleshooting, on the delivery).
#[derive(Clone, Debug)]
pub enum Check {
    /// `GET users-by-id/{id}/` finds (or does not find) the user.
    UserExists {
        /// The user's custom id.
        id: String,
        /// Whether it must exist.
        exists: bool,
    },
    /// A field of the user. `field` may list alternatives (`first_name|name`): the first present
    /// one is checked.
    User {
        /// The user's custom id.
        id: String,
        /// The field (top level of the REST user object).
        field: String,
        /// What it must be.
        expect: Expect,
    },
    /// Occurrences of one event for a user (`GET users-by-id/{id}/events/`).
    Events {
        /// The user's custom id.
        user: String,
        /// The event name.
        name: String,
        /// How many occurrences of that name.
        count: usize,
        /// Expectations on the `data` of the last occurrence of that name.
        data: Vec<(String, Expect)>,
    },
    /// A field of the company found by `GET companies-by-id/{id}/`; `field` may list alternatives.
    Company {
        /// The company's custom id (the groupId).
        id: String,
        /// The field.
        field: String,
        /// What it must be.
        expect: Expect,
    },
    /// Exactly one company with that custom id in `GET /companies/`.
    CompanyUnique {
        /// The company's custom id.
        id: String,
    },
    /// The user is a member of the company: the company's `employees` holds the user's id, or
    /// the user's `companies` holds the company's id.
    Member {
        /// The user's custom id.
        user: String,
        /// The company's custom id.
        company: String,
    },
    /// An attribute definition exists (`GET /attributes/`) with this value type.
    Attribute {
        /// clientuser, company or event.
        content_type: &'static str,
        /// The attribute's `name_std`.
        name: String,
        /// Its `value_type`.
        value_type: Expect,
    },
    /// The forwarder gave up on at least one message with a reason containing `reason`
    /// (in-process: its summary and dead-letter file; external: `/stats` when available, the
    /// reason itself is not observable there).
    Dropped {
        /// A substring of the reason (case-insensitive).
        reason: &'static str,
    },
    /// The forwarder refuses to run without an API key, naming the problem (in-process only:
    /// an external forwarder's start-up is outside the harness).
    ApiKeyRequired,
    /// The simulator answered `status` between `at_least` and `at_most` times during the step
    /// (read from its request journal): "nothing is retried forever".
    Answered {
        /// The status code.
        status: u16,
        /// At least this many times.
        at_least: usize,
        /// At most this many times.
        at_most: usize,
    },
}

/// Per-run, per-case naming, so cases never collide, even when they share one app.
#[derive(Debug)]
pub struct Ctx {
    run: String,
    tag: String,
    shared_app: bool,
    seq: AtomicU32,
}

impl Ctx {
    /// A context for the case with tag `tag` (short, unique within the catalogue) in run `run`.
    /// `shared_app` = every case writes into the same app (external mode).
    pub fn new(run: &str, tag: &str, shared_app: bool) -> Self {
        Self {
            run: run.to_string(),
            tag: tag.to_string(),
            shared_app,
            seq: AtomicU32::new(0),
        }
    }

    /// A user or group id unique to the run and the case.
    pub fn id(&self, name: &str) -> String {
        format!("{}-{}-{}", self.run, self.tag, name)
    }

    /// An attribute name: the doc's own name when the case has an app to itself, suffixed with
    /// the case tag when apps are shared (attribute definitions are app-wide).
    pub fn attr(&self, name: &str) -> String {
        if self.shared_app {
            format!("{name}_{}", self.tag)
        } else {
            name.to_string()
        }
    }

    /// An event name, made unique the same way as [`Ctx::attr`].
    pub fn event(&self, name: &str) -> String {
        if self.shared_app {
            format!("{name} {}", self.tag)
        } else {
            name.to_string()
        }
    }

    fn message_id(&self) -> String {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        format!("{}-{}-m{n}", self.run, self.tag)
    }

    /// A Segment message of `kind` from `user_id` / `anonymous_id` with extra top-level fields.
    pub fn message(
        &self,
        kind: &str,
        user_id: Option<&str>,
        anonymous_id: Option<&str>,
        fields: Value,
    ) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), json!(kind));
        m.insert("messageId".into(), json!(self.message_id()));
        m.insert("timestamp".into(), json!(DEFAULT_TIME));
        if let Some(u) = user_id {
            m.insert("userId".into(), json!(u));
        }
        if let Some(a) = anonymous_id {
            m.insert("anonymousId".into(), json!(a));
        }
        if let Value::Object(extra) = fields {
            m.extend(extra);
        }
        Value::Object(m)
    }

    /// `identify` for `user` with `traits`.
    pub fn identify(&self, user: &str, traits: Value) -> Value {
        self.message("identify", Some(user), None, json!({ "traits": traits }))
    }

    /// `page` for `user` at `timestamp` on `url`.
    pub fn page(&self, user: &str, timestamp: &str, url: &str) -> Value {
        self.message(
            "page",
            Some(user),
            None,
            json!({
                "timestamp": timestamp,
                "name": "Pricing",
                "properties": {"url": url, "path": path_of(url), "title": "Pricing"},
                "context": {"page": {"url": url, "path": path_of(url), "title": "Pricing"}},
            }),
        )
    }

    /// `track` of `event` for `user` with `properties`.
    pub fn track(&self, user: &str, event: &str, properties: Value) -> Value {
        self.message(
            "track",
            Some(user),
            None,
            json!({ "event": event, "properties": properties }),
        )
    }

    /// `group` of `user` into `group` with `traits`.
    pub fn group(&self, user: &str, group: &str, traits: Value) -> Value {
        self.message(
            "group",
            Some(user),
            None,
            json!({ "groupId": group, "traits": traits }),
        )
    }
}

/// The timestamp of messages that do not set their own.
pub const DEFAULT_TIME: &str = "2024-03-01T12:00:00.000Z";

fn path_of(url: &str) -> String {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
        .unwrap_or_else(|| "/".into())
}

fn instant(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("catalogue timestamps are valid RFC 3339")
        .with_timezone(&Utc)
}

fn def(name: String, value_type: &'static str, content_type: &'static str) -> AttrDef {
    AttrDef {
        name,
        value_type,
        content_type,
        choices: Vec::new(),
    }
}

fn user_field(id: &str, field: &str, expect: Expect) -> Check {
    Check::User {
        id: id.to_string(),
        field: field.to_string(),
        expect,
    }
}

fn company_field(id: &str, field: &str, expect: Expect) -> Check {
    Check::Company {
        id: id.to_string(),
        field: field.to_string(),
        expect,
    }
}

fn exists(id: &str) -> Check {
    Check::UserExists {
        id: id.to_string(),
        exists: true,
    }
}

fn one_step(events: Vec<Value>, checks: Vec<Check>) -> Scenario {
    Scenario {
        steps: vec![Step { events, checks }],
        ..Scenario::default()
    }
}

// ------------------------------------------------------------------------------ the sentences

/// Sentences of the destination doc, verbatim (typographic apostrophes and typos included).
pub mod doc {
    /// Getting Started: the API key.
    pub const API_KEY: &str = "To enable sending data to User.com you need to provide API key.";
    /// Identity.
    pub const IDENTITY: &str = "Note that all available methods will try to select user base on userId, falling back to anonymousId if userId is not provided.";
    /// Auto-creation.
    pub const AUTO_CREATE: &str = "If user with given identifier does not exist in your app it will be created automatically.";
    /// Identify mapping.
    pub const IDENTIFY: &str = "Calling .identify() causes User.com to automatically map the call’s traits and context data to appropriate fields in the user profile.";
    /// The trait list.
    pub const TRAITS: &str = "Traits that are mapped are:";
    /// Address bullet.
    pub const ADDRESS: &str = "address is mapped to country, region and city fields if possible.";
    /// Context bullet.
    pub const CONTEXT: &str = "If possible following data is extracted from context and mapped to user profile’s fields: user_agent, os, device_name, device_type, language, resolution, ip_address, browser_family, browser_version, timezone, current_url.";
    /// Unknown custom trait.
    pub const NEW_AS_STRING: &str = "NOTE: if a given trait has no respective custom attribute already defined in in User.com, it will be created with the type string!";
    /// Defined custom trait.
    pub const CONVERT: &str = "However, if a custom attribute already exists, we’ll try to convert given data to defined type, ignoring values that cannot be converted, e.g.:";
    /// The integer example.
    pub const INTEGER_123: &str = "custom_integer attribute will be set to 123 in user’s profile because custom_integer is already defined in User.com with type number";
    /// The new-integer example.
    pub const NEW_999: &str = "custom_integer_new attribute will be created and set to '999' in user profile, because it did not exists before we use default string type for attribute";
    /// Page.
    pub const PAGE: &str = "Sending a .page() request increments page_views counter and updates last_seen timestamp if it is newer than the existing timestamp on a user’s profile.";
    /// Track.
    pub const TRACK: &str = "Sending a .track() request records a new ‘Event occurrence’ that can be used to filter and bucket users.";
    /// Track auto-creation.
    pub const TRACK_CREATE: &str = "NOTE: if an event with a given name is not defined in User.com, it will be created automatically, as will its properties.";
    /// Track type rules.
    pub const TRACK_TYPES: &str = "This mechanism works exactly the same as custom traits that have been explained in Identify section.";
    /// Group.
    pub const GROUP: &str = "Sending a .group() request allows to create or update a company profile and associate a user with it.";
    /// Group auto-creation.
    pub const GROUP_CREATE: &str = "If a company is not found, we will automatically create new company instance and set its groupId to that that identifier.";
    /// Group membership.
    pub const GROUP_MEMBER: &str =
        "The user that owns the userId on this event will be associated with this company.";
    /// Group custom traits.
    pub const GROUP_CUSTOM: &str =
        "Any custom traits of the .group() call will follow same logic as Identify method.";
    /// Group semantic traits.
    pub const GROUP_SEMANTIC: &str =
        "Semantic traits that are mapped are: address, description, email, employees, name, phone.";
    /// Engage audience true.
    pub const ENGAGE_TRUE: &str = "For example, when a user first completes an order in the last 30 days, Engage sends an Identify call with the property order_completed_last_30days: true.";
    /// Engage audience false.
    pub const ENGAGE_FALSE: &str = "When the user no longer satisfies this condition (for example, it’s been more than 30 days since their last order), Engage sets that value to false.";
    /// Engage property naming.
    pub const ENGAGE_PROPERTY: &str = "The property name is the snake_cased version of the audience name, with a true/false value to indicate membership.";
    /// Revoked key.
    pub const REVOKED: &str = "Verify that API key your using in Segment is not revoked by going to App settings > Advanced > Segment API keys at app.user.com.";
    /// Untrusted domain.
    pub const UNTRUSTED: &str =
        "If problems still persist verify that domain the request from is trusted.";
}

// ------------------------------------------------------------------------------ the catalogue

/// Every case, in report order.
pub fn catalogue() -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    let mut add =
        |id: &str, sentence: &'static str, build: Arc<dyn Fn(&Ctx) -> Scenario + Send + Sync>| {
            cases.push(Case {
                id: id.to_string(),
                sentence,
                build,
            })
        };

    add(
        "identity_user_id_wins",
        doc::IDENTITY,
        Arc::new(identity_user_id_wins),
    );
    add(
        "identity_anonymous_id_fallback",
        doc::IDENTITY,
        Arc::new(identity_anonymous_fallback),
    );
    add(
        "identity_empty_user_id_falls_back",
        doc::IDENTITY,
        Arc::new(identity_empty_user_id),
    );
    add(
        "unknown_user_created_by_identify",
        doc::AUTO_CREATE,
        Arc::new(created_by_identify),
    );
    add(
        "unknown_user_created_by_page",
        doc::AUTO_CREATE,
        Arc::new(created_by_page),
    );
    add(
        "unknown_user_created_by_track",
        doc::AUTO_CREATE,
        Arc::new(created_by_track),
    );
    add(
        "unknown_user_created_by_group",
        doc::AUTO_CREATE,
        Arc::new(created_by_group),
    );

    // Every identify trait mapping, one case each.
    for (trait_name, value, field, expect) in identify_trait_table() {
        let id = format!("identify_trait_{trait_name}");
        add(
            &id,
            doc::TRAITS,
            Arc::new(move |ctx: &Ctx| {
                let u = ctx.id("u");
                let mut traits = Map::new();
                traits.insert(trait_name.to_string(), value.clone());
                one_step(
                    vec![ctx.identify(&u, Value::Object(traits))],
                    vec![user_field(&u, field, expect.clone())],
                )
            }),
        );
    }
    add(
        "identify_camel_case_names",
        doc::IDENTIFY,
        Arc::new(identify_camel_case),
    );
    for (field, expect) in address_table() {
        add(
            &format!("identify_address_{field}"),
            doc::ADDRESS,
            Arc::new(move |ctx: &Ctx| {
                let u = ctx.id("u");
                one_step(
                    vec![ctx.identify(
                        &u,
                        json!({"address": {"street": "Marszałkowska 1", "city": "Warsaw", "state": "Mazowieckie", "postalCode": "00-001", "country": "Poland"}}),
                    )],
                    vec![user_field(&u, field, expect.clone())],
                )
            }),
        );
    }
    for (field, expect) in context_table() {
        add(
            &format!("identify_context_{field}"),
            doc::CONTEXT,
            Arc::new(move |ctx: &Ctx| {
                let u = ctx.id("u");
                let msg = ctx.message(
                    "identify",
                    Some(&u),
                    None,
                    json!({"traits": {"email": "ctx@example.com"}, "context": full_context()}),
                );
                one_step(vec![msg], vec![user_field(&u, field, expect.clone())])
            }),
        );
    }

    add(
        "custom_trait_new_is_string_999",
        doc::NEW_999,
        Arc::new(custom_new_999),
    );
    add(
        "custom_trait_new_types_stringified",
        doc::NEW_AS_STRING,
        Arc::new(custom_new_types),
    );
    add(
        "custom_trait_defined_integer_123",
        doc::INTEGER_123,
        Arc::new(custom_integer_123),
    );
    for (value_type, sent, expect) in defined_type_table() {
        add(
            &format!("custom_trait_defined_{value_type}"),
            doc::CONVERT,
            Arc::new(move |ctx: &Ctx| {
                let u = ctx.id("u");
                let name = ctx.attr(&format!("custom_{value_type}"));
                let mut d = def(name.clone(), value_type, "clientuser");
                if value_type == "fixed" {
                    d.choices = vec!["gold".into(), "silver".into()];
                }
                let mut traits = Map::new();
                traits.insert(name.clone(), sent.clone());
                Scenario {
                    seed: vec![d],
                    setup: vec![],
                    steps: vec![Step {
                        events: vec![ctx.identify(&u, Value::Object(traits))],
                        checks: vec![
                            user_field(&u, &name, expect.clone()),
                            Check::Attribute {
                                content_type: "clientuser",
                                name,
                                value_type: Expect::Eq(json!(value_type)),
                            },
                        ],
                    }],
                }
            }),
        );
    }
    for (value_type, bad) in unconvertible_table() {
        add(
            &format!("custom_trait_unconvertible_{value_type}_ignored"),
            doc::CONVERT,
            Arc::new(move |ctx: &Ctx| {
                let u = ctx.id("u");
                let name = ctx.attr(&format!("strict_{value_type}"));
                let mut d = def(name.clone(), value_type, "clientuser");
                if value_type == "fixed" {
                    d.choices = vec!["gold".into(), "silver".into()];
                }
                let other = ctx.attr("other_note");
                let mut traits = Map::new();
                traits.insert(name.clone(), bad.clone());
                traits.insert("email".into(), json!("rest@example.com"));
                traits.insert(other.clone(), json!("kept"));
                Scenario {
                    seed: vec![d],
                    setup: vec![],
                    steps: vec![Step {
                        events: vec![ctx.identify(&u, Value::Object(traits))],
                        checks: vec![
                            user_field(&u, &name, Expect::Absent),
                            user_field(&u, "email", Expect::Eq(json!("rest@example.com"))),
                            user_field(&u, &other, Expect::Eq(json!("kept"))),
                        ],
                    }],
                }
            }),
        );
    }
    add(
        "custom_trait_unconvertible_keeps_old_value",
        doc::CONVERT,
        Arc::new(unconvertible_keeps_old),
    );

    add("page_counts_page_views", doc::PAGE, Arc::new(page_counts));
    add(
        "page_last_seen_moves_forward",
        doc::PAGE,
        Arc::new(page_forward),
    );
    add(
        "page_older_view_leaves_last_seen",
        doc::PAGE,
        Arc::new(page_older),
    );

    add(
        "track_records_occurrence",
        doc::TRACK,
        Arc::new(track_records),
    );
    add(
        "track_creates_event_and_properties",
        doc::TRACK_CREATE,
        Arc::new(track_creates),
    );
    add(
        "track_defined_property_converted",
        doc::TRACK_TYPES,
        Arc::new(track_defined),
    );
    add(
        "track_unconvertible_property_ignored",
        doc::TRACK_TYPES,
        Arc::new(track_unconvertible),
    );

    add(
        "group_creates_company",
        doc::GROUP_CREATE,
        Arc::new(group_creates),
    );
    add("group_updates_company", doc::GROUP, Arc::new(group_updates));
    add(
        "group_associates_user",
        doc::GROUP_MEMBER,
        Arc::new(group_associates),
    );
    for (trait_name, value, field, expect) in group_trait_table() {
        add(
            &format!("group_trait_{trait_name}"),
            doc::GROUP_SEMANTIC,
            Arc::new(move |ctx: &Ctx| {
                let u = ctx.id("u");
                let g = ctx.id("g");
                let mut traits = Map::new();
                traits.insert("name".into(), json!("Acme"));
                traits.insert(trait_name.to_string(), value.clone());
                one_step(
                    vec![ctx.group(&u, &g, Value::Object(traits))],
                    vec![company_field(&g, field, expect.clone())],
                )
            }),
        );
    }
    add(
        "group_custom_trait_new_is_string",
        doc::GROUP_CUSTOM,
        Arc::new(group_custom_new),
    );
    add(
        "group_custom_trait_defined_integer",
        doc::GROUP_CUSTOM,
        Arc::new(group_custom_defined),
    );

    add(
        "engage_audience_true_then_false",
        doc::ENGAGE_FALSE,
        Arc::new(engage_new),
    );
    add(
        "engage_audience_lands_as_attribute",
        doc::ENGAGE_TRUE,
        Arc::new(engage_lands),
    );
    add(
        "engage_audience_defined_boolean_flips",
        doc::ENGAGE_PROPERTY,
        Arc::new(engage_boolean),
    );

    add(
        "api_key_used_on_every_request",
        doc::API_KEY,
        Arc::new(api_key_used),
    );
    add(
        "untrusted_domain_403_reported",
        doc::UNTRUSTED,
        Arc::new(untrusted_domain),
    );
    add(
        "revoked_key_403_reported",
        doc::REVOKED,
        Arc::new(revoked_key),
    );
    cases
}

// ------------------------------------------------------------------------------ tables

type TraitRow = (&'static str, Value, &'static str, Expect);

fn identify_trait_table() -> Vec<TraitRow> {
    vec![
        (
            "email",
            json!("ada@example.com"),
            "email",
            Expect::Eq(json!("ada@example.com")),
        ),
        (
            "first_name",
            json!("Ada"),
            "first_name|name",
            Expect::Contains("Ada".into()),
        ),
        (
            "last_name",
            json!("Lovelace"),
            "last_name|name",
            Expect::Contains("Lovelace".into()),
        ),
        (
            "phone",
            json!("+48 22 123 45 67"),
            "phone_number",
            Expect::Eq(json!("+48 22 123 45 67")),
        ),
        (
            "gender",
            json!("female"),
            "gender",
            gender_expect("female", 3),
        ),
    ]
}

/// Gender reads as "male"/"female"/"unknown" (usercom-api.md §2.2); a simulator answering the
/// write-side integer is accepted too.
fn gender_expect(word: &str, code: i64) -> Expect {
    Expect::OneOf(vec![
        Expect::EqIgnoreCase(word.to_string()),
        Expect::Eq(json!(code)),
    ])
}

fn address_table() -> Vec<(&'static str, Expect)> {
    vec![
        ("country", Expect::Eq(json!("Poland"))),
        ("region", Expect::Eq(json!("Mazowieckie"))),
        ("city", Expect::Eq(json!("Warsaw"))),
    ]
}

const UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const PAGE_URL: &str = "https://shop.example.com/pricing?plan=pro";

fn full_context() -> Value {
    json!({
        "ip": "203.0.113.7",
        "userAgent": UA,
        "locale": "pl-PL",
        "timezone": "Europe/Warsaw",
        "os": {"name": "Windows", "version": "10"},
        "device": {"name": "Work laptop", "type": "desktop"},
        "screen": {"width": 1920, "height": 1080, "density": 1},
        "page": {"url": PAGE_URL, "path": "/pricing", "title": "Pricing"},
        "library": {"name": "usercom-conformance", "version": "0.1.0"}
    })
}

fn context_table() -> Vec<(&'static str, Expect)> {
    vec![
        ("user_agent", Expect::Eq(json!(UA))),
        ("os", Expect::Contains("windows".into())),
        ("device_name", Expect::Eq(json!("Work laptop"))),
        ("device_type", Expect::EqIgnoreCase("desktop".into())),
        ("language", Expect::Contains("pl".into())),
        ("resolution", Expect::Eq(json!("1920x1080"))),
        ("ip_address", Expect::Eq(json!("203.0.113.7"))),
        ("browser_family", Expect::Contains("chrome".into())),
        ("browser_version", Expect::StartsWith("124".into())),
        ("timezone", Expect::Eq(json!("Europe/Warsaw"))),
        ("current_url", Expect::Eq(json!(PAGE_URL))),
    ]
}

fn defined_type_table() -> Vec<(&'static str, Value, Expect)> {
    vec![
        ("float", json!("2.5"), Expect::Eq(json!(2.5))),
        ("boolean", json!("true"), Expect::Eq(json!(true))),
        (
            "date",
            json!("2024-05-01T10:00:00Z"),
            Expect::Date(NaiveDate::from_ymd_opt(2024, 5, 1).expect("valid date")),
        ),
        (
            "datetime",
            json!("2024-05-01"),
            Expect::Instant(instant("2024-05-01T00:00:00Z")),
        ),
        ("fixed", json!("gold"), Expect::Eq(json!("gold"))),
        ("string", json!(42), Expect::Eq(json!("42"))),
        ("json", json!({"a": [1, 2]}), Expect::Present),
    ]
}

fn unconvertible_table() -> Vec<(&'static str, Value)> {
    vec![
        ("integer", json!("abc")),
        ("float", json!("not a number")),
        ("boolean", json!("maybe")),
        ("date", json!("not a date")),
        ("datetime", json!("yesterday-ish")),
        ("fixed", json!("bronze")),
    ]
}

fn group_trait_table() -> Vec<TraitRow> {
    vec![
        (
            "address",
            json!({"street": "Prosta 20", "city": "Warsaw", "state": "Mazowieckie", "postalCode": "00-850", "country": "Poland"}),
            "address",
            Expect::Contains("Warsaw".into()),
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
            "phone_numbers|phone_number|phone",
            Expect::Contains("+48 22 765 43 21".into()),
        ),
    ]
}

// ------------------------------------------------------------------------------ cases

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
            user_field(&u, "email", Expect::Eq(json!("both@example.com"))),
            Check::UserExists {
                id: a,
                exists: false,
            },
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
        vec![user_field(
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
        vec![user_field(
            &a,
            "email",
            Expect::Eq(json!("null@example.com")),
        )],
    )
}

fn created_by_identify(ctx: &Ctx) -> Scenario {
    let u = ctx.id("new");
    one_step(vec![ctx.identify(&u, json!({}))], vec![exists(&u)])
}

fn created_by_page(ctx: &Ctx) -> Scenario {
    let u = ctx.id("new");
    one_step(
        vec![ctx.page(&u, "2024-03-01T10:00:00Z", "https://shop.example.com/")],
        vec![
            exists(&u),
            user_field(&u, "page_views", Expect::Eq(json!(1))),
        ],
    )
}

fn created_by_track(ctx: &Ctx) -> Scenario {
    let u = ctx.id("new");
    let e = ctx.event("Signed Up");
    one_step(
        vec![ctx.track(&u, &e, json!({}))],
        vec![
            exists(&u),
            Check::Events {
                user: u.clone(),
                name: e,
                count: 1,
                data: vec![],
            },
        ],
    )
}

fn created_by_group(ctx: &Ctx) -> Scenario {
    let u = ctx.id("new");
    let g = ctx.id("g");
    one_step(
        vec![ctx.group(&u, &g, json!({"name": "Acme"}))],
        vec![
            exists(&u),
            Check::Member {
                user: u.clone(),
                company: g,
            },
        ],
    )
}

fn identify_camel_case(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    one_step(
        vec![ctx.identify(
            &u,
            json!({"firstName": "Grace", "lastName": "Hopper", "email": "grace@example.com"}),
        )],
        vec![
            user_field(&u, "first_name|name", Expect::Contains("Grace".into())),
            user_field(&u, "last_name|name", Expect::Contains("Hopper".into())),
        ],
    )
}

fn custom_new_999(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let name = ctx.attr("custom_integer_new");
    let mut traits = Map::new();
    traits.insert(name.clone(), json!(999));
    one_step(
        vec![ctx.identify(&u, Value::Object(traits))],
        vec![
            user_field(&u, &name, Expect::Eq(json!("999"))),
            Check::Attribute {
                content_type: "clientuser",
                name,
                value_type: Expect::Eq(json!("string")),
            },
        ],
    )
}

fn custom_new_types(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let rows = [
        ("new_bool", json!(true), json!("true")),
        ("new_float", json!(1.5), json!("1.5")),
        ("new_text", json!("hello"), json!("hello")),
    ];
    let mut traits = Map::new();
    let mut checks = Vec::new();
    for (name, sent, want) in rows {
        let name = ctx.attr(name);
        traits.insert(name.clone(), sent);
        checks.push(user_field(&u, &name, Expect::Eq(want)));
        checks.push(Check::Attribute {
            content_type: "clientuser",
            name,
            value_type: Expect::Eq(json!("string")),
        });
    }
    one_step(vec![ctx.identify(&u, Value::Object(traits))], checks)
}

fn custom_integer_123(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let name = ctx.attr("custom_integer");
    let new = ctx.attr("custom_integer_new");
    let mut traits = Map::new();
    traits.insert(name.clone(), json!("123"));
    traits.insert(new.clone(), json!(999));
    Scenario {
        seed: vec![def(name.clone(), "integer", "clientuser")],
        setup: vec![],
        steps: vec![Step {
            events: vec![ctx.identify(&u, Value::Object(traits))],
            checks: vec![
                user_field(&u, &name, Expect::Eq(json!(123))),
                user_field(&u, &new, Expect::Eq(json!("999"))),
            ],
        }],
    }
}

fn unconvertible_keeps_old(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let name = ctx.attr("lucky_number");
    let mut first = Map::new();
    first.insert(name.clone(), json!(7));
    let mut second = Map::new();
    second.insert(name.clone(), json!("seven"));
    second.insert("email".into(), json!("second@example.com"));
    Scenario {
        seed: vec![def(name.clone(), "integer", "clientuser")],
        setup: vec![],
        steps: vec![
            Step {
                events: vec![ctx.identify(&u, Value::Object(first))],
                checks: vec![user_field(&u, &name, Expect::Eq(json!(7)))],
            },
            Step {
                events: vec![ctx.identify(&u, Value::Object(second))],
                checks: vec![
                    user_field(&u, &name, Expect::Eq(json!(7))),
                    user_field(&u, "email", Expect::Eq(json!("second@example.com"))),
                ],
            },
        ],
    }
}

fn page_counts(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let events = (1..=3)
        .map(|i| {
            ctx.page(
                &u,
                &format!("2024-03-0{i}T10:00:00Z"),
                "https://shop.example.com/a",
            )
        })
        .collect();
    one_step(
        events,
        vec![user_field(&u, "page_views", Expect::Eq(json!(3)))],
    )
}

fn page_forward(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    Scenario {
        steps: vec![
            Step {
                events: vec![ctx.page(&u, "2024-03-01T10:00:00Z", "https://shop.example.com/a")],
                checks: vec![user_field(
                    &u,
                    "last_seen",
                    Expect::Instant(instant("2024-03-01T10:00:00Z")),
                )],
            },
            Step {
                events: vec![ctx.page(&u, "2024-03-05T08:30:00Z", "https://shop.example.com/b")],
                checks: vec![
                    user_field(
                        &u,
                        "last_seen",
                        Expect::Instant(instant("2024-03-05T08:30:00Z")),
                    ),
                    user_field(&u, "page_views", Expect::Eq(json!(2))),
                ],
            },
        ],
        ..Scenario::default()
    }
}

fn page_older(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    Scenario {
        steps: vec![
            Step {
                events: vec![ctx.page(&u, "2024-03-05T08:30:00Z", "https://shop.example.com/b")],
                checks: vec![user_field(
                    &u,
                    "last_seen",
                    Expect::Instant(instant("2024-03-05T08:30:00Z")),
                )],
            },
            Step {
                events: vec![ctx.page(&u, "2024-02-01T00:00:00Z", "https://shop.example.com/old")],
                checks: vec![
                    user_field(
                        &u,
                        "last_seen",
                        Expect::Instant(instant("2024-03-05T08:30:00Z")),
                    ),
                    user_field(&u, "page_views", Expect::Eq(json!(2))),
                ],
            },
        ],
        ..Scenario::default()
    }
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
        vec![Check::Events {
            user: u.clone(),
            name: e,
            count: 2,
            data: vec![],
        }],
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
            Check::Events {
                user: u.clone(),
                name: e,
                count: 1,
                data: vec![
                    (code.clone(), Expect::Eq(json!("SPRING"))),
                    (pct.clone(), Expect::Eq(json!("15"))),
                ],
            },
            Check::Attribute {
                content_type: "event",
                name: pct,
                value_type: Expect::Eq(json!("string")),
            },
        ],
    )
}

fn track_defined(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let e = ctx.event("Cart Updated");
    let qty = ctx.attr("quantity");
    let mut props = Map::new();
    props.insert(qty.clone(), json!("3"));
    Scenario {
        seed: vec![def(qty.clone(), "integer", "event")],
        setup: vec![],
        steps: vec![Step {
            events: vec![ctx.track(&u, &e, Value::Object(props))],
            checks: vec![Check::Events {
                user: u.clone(),
                name: e,
                count: 1,
                data: vec![(qty, Expect::Eq(json!(3)))],
            }],
        }],
    }
}

fn track_unconvertible(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let e = ctx.event("Cart Emptied");
    let qty = ctx.attr("item_count");
    let note = ctx.attr("note");
    let mut props = Map::new();
    props.insert(qty.clone(), json!("lots"));
    props.insert(note.clone(), json!("kept"));
    Scenario {
        seed: vec![def(qty.clone(), "integer", "event")],
        setup: vec![],
        steps: vec![Step {
            events: vec![ctx.track(&u, &e, Value::Object(props))],
            checks: vec![Check::Events {
                user: u.clone(),
                name: e,
                count: 1,
                data: vec![(qty, Expect::Absent), (note, Expect::Eq(json!("kept")))],
            }],
        }],
    }
}

fn group_creates(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let g = ctx.id("g");
    one_step(
        vec![ctx.group(&u, &g, json!({"name": "Initech"}))],
        vec![
            company_field(&g, "custom_id", Expect::Eq(json!(g))),
            company_field(&g, "name", Expect::Eq(json!("Initech"))),
        ],
    )
}

fn group_updates(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let v = ctx.id("v");
    let g = ctx.id("g");
    Scenario {
        steps: vec![
            Step {
                events: vec![ctx.group(&u, &g, json!({"name": "Initech"}))],
                checks: vec![company_field(&g, "name", Expect::Eq(json!("Initech")))],
            },
            Step {
                events: vec![ctx.group(&v, &g, json!({"name": "Initech Global", "employees": 12}))],
                checks: vec![
                    company_field(&g, "name", Expect::Eq(json!("Initech Global"))),
                    company_field(&g, "size", Expect::Eq(json!(12))),
                    Check::CompanyUnique { id: g.clone() },
                    Check::Member {
                        user: u,
                        company: g.clone(),
                    },
                    Check::Member {
                        user: v,
                        company: g,
                    },
                ],
            },
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
        vec![Check::Member {
            user: u.clone(),
            company: g,
        }],
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
            company_field(&g, &tier, Expect::Eq(json!("3"))),
            Check::Attribute {
                content_type: "company",
                name: tier,
                value_type: Expect::Eq(json!("string")),
            },
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
    Scenario {
        seed: vec![def(seats.clone(), "integer", "company")],
        setup: vec![],
        steps: vec![Step {
            events: vec![ctx.group(&u, &g, Value::Object(traits))],
            checks: vec![company_field(&g, &seats, Expect::Eq(json!(40)))],
        }],
    }
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
            Step {
                events: vec![ctx.identify(&u, engage_traits(&name, true))],
                checks: vec![user_field(&u, &name, Expect::Eq(json!("true")))],
            },
            Step {
                events: vec![ctx.identify(&u, engage_traits(&name, false))],
                checks: vec![user_field(&u, &name, Expect::Eq(json!("false")))],
            },
        ],
        ..Scenario::default()
    }
}

fn engage_lands(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let name = ctx.attr("order_completed_last_30days");
    one_step(
        vec![ctx.identify(&u, engage_traits(&name, true))],
        vec![Check::Attribute {
            content_type: "clientuser",
            name,
            value_type: Expect::Present,
        }],
    )
}

fn engage_boolean(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let name = ctx.attr("high_value_customers");
    Scenario {
        seed: vec![def(name.clone(), "boolean", "clientuser")],
        setup: vec![],
        steps: vec![
            Step {
                events: vec![ctx.identify(&u, engage_traits(&name, true))],
                checks: vec![user_field(&u, &name, Expect::Eq(json!(true)))],
            },
            Step {
                events: vec![ctx.identify(&u, engage_traits(&name, false))],
                checks: vec![user_field(&u, &name, Expect::Eq(json!(false)))],
            },
        ],
    }
}

fn api_key_used(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    // The simulator answers 401 to a request without the app's key; the user only exists if the
    // forwarder sent the key it was configured with.
    one_step(
        vec![ctx.identify(&u, json!({"email": "keyed@example.com"}))],
        vec![
            user_field(&u, "email", Expect::Eq(json!("keyed@example.com"))),
            Check::ApiKeyRequired,
            Check::Answered {
                status: 401,
                at_least: 0,
                at_most: 0,
            },
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
            Step {
                // Positive control: a page on a trusted domain goes through.
                events: vec![ctx.page(
                    &good,
                    "2024-03-01T10:00:00Z",
                    "https://shop.example.com/ok",
                )],
                checks: vec![user_field(&good, "page_views", Expect::Eq(json!(1)))],
            },
            Step {
                events: vec![ctx.page(
                    &bad,
                    "2024-03-01T10:00:00Z",
                    "https://evil.example.net/phish",
                )],
                checks: vec![
                    Check::Dropped { reason: HINT_403 },
                    Check::Answered {
                        status: 403,
                        at_least: 1,
                        at_most: 3,
                    },
                ],
            },
        ],
    }
}

fn revoked_key(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    Scenario {
        seed: vec![],
        setup: vec![Setup::RevokeKey],
        steps: vec![Step {
            events: vec![ctx.identify(&u, json!({"email": "revoked@example.com"}))],
            // The user cannot be read back with a revoked key; the journal shows nothing passed.
            checks: vec![
                Check::Dropped { reason: HINT_403 },
                Check::Answered {
                    status: 403,
                    at_least: 1,
                    at_most: 3,
                },
            ],
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique() {
        let cases = catalogue();
        let mut ids: Vec<_> = cases.iter().map(|c| c.id.clone()).collect();
        ids.sort();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "duplicate case ids");
    }

    #[test]
    fn every_case_has_input_and_checks() {
        for case in catalogue() {
            let s = (case.build)(&Ctx::new("r", "c00", true));
            assert!(!s.steps.is_empty(), "{}", case.id);
            for step in &s.steps {
                assert!(!step.events.is_empty(), "{}: a step without input", case.id);
                assert!(
                    !step.checks.is_empty(),
                    "{}: a step without checks",
                    case.id
                );
            }
        }
    }

    #[test]
    fn shared_names_fit_user_com_limits() {
        // Attribute names are 1-32 characters (usercom-api.md §3.2), including the case suffix.
        let ctx = Ctx::new("r", "c99", true);
        assert!(ctx.attr("order_completed_last_30days").len() <= 32);
        let ctx = Ctx::new("r", "c99", false);
        assert_eq!(ctx.attr("custom_integer"), "custom_integer");
    }

    #[test]
    fn message_ids_are_unique_within_a_case() {
        let ctx = Ctx::new("r", "c01", false);
        let a = ctx.identify("u", json!({}));
        let b = ctx.identify("u", json!({}));
        assert_ne!(a["messageId"], b["messageId"]);
    }
}
