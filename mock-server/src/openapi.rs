//! The OpenAPI 3.1 description of the simulator, generated with `utoipa` and served at
//! `GET /__admin/openapi.json` (committed as `docs/openapi.json`; a test fails when that copy is
//! stale, `UPDATE_OPENAPI=1` rewrites it).
//!
//! Why the description lives here rather than on the handlers: the handlers read raw bodies and
//! build `serde_json::Value` answers (they must accept anything and answer 400 naming the field),
//! so there are no request/response structs to derive from. The types below are the documented
//! shapes of those values; `tests/api/openapi.rs` keeps them honest by checking that every
//! documented operation is routed, that every route in `src/routes/` is documented, and
//! (with schemathesis, `scripts/schemathesis.sh`) that real responses match the schemas.
//!
//! One file for one job, the document: its schema types (first half) and its operations (the
//! `paths` module) must be read and changed together, so it stays whole despite its length.

#![allow(dead_code)] // the `paths` functions exist only for their `#[utoipa::path]` attributes

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoResponses, Modify, OpenApi, PartialSchema, ToSchema};

use crate::store::Store;

/// The document as pretty JSON with a trailing newline (the exact bytes of `docs/openapi.json`).
pub fn openapi_json() -> String {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let mut s = doc.to_pretty_json().unwrap_or_else(|e| {
        format!("{{\"error\": \"could not render the OpenAPI document: {e}\"}}")
    });
    s.push('\n');
    s
}

pub(crate) fn routes() -> Router<Store> {
    Router::new().route("/__admin/openapi.json", get(serve))
}

async fn serve() -> Response {
    ([(CONTENT_TYPE, "application/json")], openapi_json()).into_response()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "usercom-mock: User.com REST API simulator",
        description = "A stateful local simulator of User.com's public REST API (v2 shapes) under \
            /api/public/, plus its admin plane under /__admin/. It is not User.com: where the real \
            API is undocumented the simulator guesses (see mock-server/README.md, Documented vs \
            GUESS). Every API path ends with a slash and needs `Authorization: Token <key>`.",
        license(name = "MIT")
    ),
    paths(
        paths::users_list, paths::users_create, paths::users_search, paths::users_upsert,
        paths::user_get, paths::user_put, paths::user_delete, paths::user_set_attrs,
        paths::user_events,
        paths::user_cid_get, paths::user_cid_put, paths::user_cid_delete,
        paths::user_cid_set_attrs, paths::user_cid_events, paths::user_cid_event_create,
        paths::events_create, paths::site_views_create,
        paths::companies_list, paths::companies_create,
        paths::company_get, paths::company_put, paths::company_delete,
        paths::company_add_member, paths::company_remove_member,
        paths::company_cid_get, paths::company_cid_put, paths::company_cid_delete,
        paths::attributes_list, paths::attributes_create,
        paths::admin_health, paths::admin_reset, paths::admin_state, paths::admin_apps_create, paths::admin_apps_list,
        paths::admin_revoke, paths::admin_trusted_get, paths::admin_trusted_put,
        paths::admin_requests, paths::admin_requests_clear,
        paths::admin_clock_get, paths::admin_clock_put, paths::admin_clock_advance,
        paths::admin_faults_create, paths::admin_faults_list, paths::admin_faults_clear,
        paths::admin_fault_get, paths::admin_fault_delete,
        paths::admin_openapi, paths::dashboard, paths::dashboard_fragment,
    ),
    // Referenced only from the hand-written one-of schemas and the error response sets, so
    // registered by name here.
    components(schemas(User, UserPage, AllStates, AppState, ApiError)),
    modifiers(&TokenAuth),
    tags(
        (name = "users", description = "Users, by internal id or custom_id"),
        (name = "events", description = "Events and site views"),
        (name = "companies", description = "Companies and their members"),
        (name = "attributes", description = "Custom attribute definitions"),
        (name = "admin", description = "The simulator's admin plane (with --admin-token: Bearer, or Basic with the token as password)"),
        (name = "faults", description = "Fault injection rules (admin plane)"),
        (name = "dashboard", description = "The live HTML dashboard"),
    )
)]
struct ApiDoc;

/// `Authorization: Token <key>` (DRF token authentication).
struct TokenAuth;

impl Modify for TokenAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Token <api key>`; the key selects the app. Apps in strict mode also require \
                 `Accept: */*; version=2` (400 naming `Accept` otherwise)",
            ))),
        );
    }
}

// ----- schemas ------------------------------------------------------------------------------------

/// An error answer. 400s name the field and carry DRF-style `errors`.
#[derive(ToSchema)]
pub struct ApiError {
    /// Human-readable problem (`field: problem` for 400s).
    detail: String,
    /// The offending field (400 only; `body` for the body as a whole).
    field: Option<String>,
    /// `{field: [problem]}` (400 only).
    errors: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

/// Errors of an authenticated API call.
#[derive(IntoResponses)]
enum ApiErrors {
    /// Malformed JSON, a wrong type, a missing field, or a reference to an unknown object.
    #[response(status = 400)]
    BadRequest(ApiError),
    /// Missing, malformed or unknown API key.
    #[response(status = 401)]
    Unauthorized(ApiError),
    /// Revoked key, or a domain that is not trusted.
    #[response(status = 403)]
    Forbidden(ApiError),
    /// No such object (or page).
    #[response(status = 404)]
    NotFound(ApiError),
    /// Body over 1 MiB.
    #[response(status = 413)]
    TooLarge(ApiError),
}

/// Errors of an admin-plane call.
#[derive(IntoResponses)]
enum AdminErrors {
    /// Malformed input.
    #[response(status = 400)]
    BadRequest(ApiError),
    /// `--admin-token` is set and the request does not carry it.
    #[response(status = 401)]
    Unauthorized(ApiError),
    /// Unknown app (`?app=`) or key.
    #[response(status = 404)]
    NotFound(ApiError),
}

/// `{id, name}` of a tag.
#[derive(ToSchema)]
struct Tag {
    id: u64,
    name: String,
}

/// A company membership as listed on the user.
#[derive(ToSchema)]
struct Membership {
    id: u64,
    name: Option<String>,
    #[schema(format = DateTime)]
    member_since: String,
}

/// `unknown`, `male` or `female` (written as 1, 2, 3).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
enum Gender {
    Unknown,
    Male,
    Female,
}

/// `visitor` or `user` (written as 1, 2).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
enum UserStatus {
    Visitor,
    User,
}

/// The v2 user object. Custom attributes appear as extra top-level keys (their `name_std`).
#[derive(ToSchema)]
struct User {
    id: u64,
    /// 12 lower-case letters and digits.
    user_key: String,
    custom_id: Option<String>,
    /// Derived from first and last name.
    name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    gender: Gender,
    status: UserStatus,
    phone_number: Option<String>,
    country: Option<String>,
    region: Option<String>,
    city: Option<String>,
    timezone: Option<String>,
    score: i64,
    unsubscribed: bool,
    notifications: bool,
    web_push_subscription: bool,
    browser_language: Option<String>,
    gravatar_url: Option<String>,
    google_url: Option<String>,
    linkedin_url: Option<String>,
    twitter_url: Option<String>,
    facebook_url: Option<String>,
    last_ip: Option<String>,
    browser: Option<String>,
    os_type: Option<String>,
    assigned_to: Option<i64>,
    lists: Vec<Value>,
    tags: Vec<Tag>,
    last_contacted: Option<String>,
    user_agent: Option<String>,
    os: Option<String>,
    device_name: Option<String>,
    device_type: Option<String>,
    language: Option<String>,
    resolution: Option<String>,
    ip_address: Option<String>,
    browser_family: Option<String>,
    browser_version: Option<String>,
    current_url: Option<String>,
    page_views: u64,
    #[schema(format = DateTime)]
    first_seen: Option<String>,
    #[schema(format = DateTime)]
    last_seen: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    companies: Vec<Membership>,
}

/// A user write: standard fields (type-checked) and custom attributes (converted by their
/// definition, unknown ones created as strings). Read-only fields are ignored.
#[derive(ToSchema)]
struct UserWrite {
    custom_id: Option<String>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    /// 1 unknown, 2 male, 3 female.
    gender: Option<u8>,
    /// 1 visitor, 2 user.
    status: Option<u8>,
    phone_number: Option<String>,
    /// Add the user to this existing company.
    company_custom_id: Option<String>,
    /// Tag names to add.
    tags: Option<Vec<String>>,
}

/// A page of users.
#[derive(ToSchema)]
struct UserPage {
    count: u64,
    next: Option<String>,
    previous: Option<String>,
    results: Vec<User>,
}

/// `update_or_create` answer.
#[derive(ToSchema)]
struct Upserted {
    created: bool,
    id: u64,
}

/// A user search answer: one user, a list (`email` with `many=true`) or a page
/// (`phone_number`).
struct SearchResult;

impl PartialSchema for SearchResult {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(Ref::from_schema_name("User"))
            .item(ArrayBuilder::new().items(Ref::from_schema_name("User")))
            .item(Ref::from_schema_name("UserPage"))
            .description(Some(
                "One user, a list (`many=true`) or a page (`phone_number`)",
            ))
            .into()
    }
}
impl ToSchema for SearchResult {}

/// An event occurrence.
#[derive(ToSchema)]
struct Occurrence {
    id: u64,
    name: String,
    #[schema(format = DateTime)]
    timestamp: String,
    /// Default mode: converted data (keys follow the `event` attribute rules). Strict mode: the
    /// data as sent.
    data: std::collections::BTreeMap<String, Value>,
}

/// A page of occurrences.
#[derive(ToSchema)]
struct OccurrencePage {
    count: u64,
    next: Option<String>,
    previous: Option<String>,
    results: Vec<Occurrence>,
}

/// A timestamp: ISO-8601 (offset or `Z`; naive = UTC) or unix seconds.
struct Timestamp;

impl PartialSchema for Timestamp {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .description(Some(
                "ISO-8601 (offset or `Z`; naive = UTC) or unix seconds; absent: the app's clock",
            ))
            .into()
    }
}
impl ToSchema for Timestamp {}

/// An event for a user given by custom_id in the path.
#[derive(ToSchema)]
struct EventWrite {
    name: String,
    timestamp: Option<Timestamp>,
    data: Option<std::collections::BTreeMap<String, Value>>,
}

/// An event for a user given by internal id.
#[derive(ToSchema)]
struct EventByIdWrite {
    /// The user's internal id.
    user_id: u64,
    name: String,
    timestamp: Option<Timestamp>,
    data: Option<std::collections::BTreeMap<String, Value>>,
}

/// Event creation answer: `created` is true on the first use of the name.
#[derive(ToSchema)]
struct EventCreated {
    created: bool,
    id: u64,
}

/// A site view (page view) write.
#[derive(ToSchema)]
struct SiteViewWrite {
    /// The user's `user_key`.
    client_user: String,
    /// The page URL.
    page_domain: Option<String>,
    page_path: Option<String>,
    title: Option<String>,
    timestamp: Option<Timestamp>,
}

/// A stored site view.
#[derive(ToSchema)]
struct SiteView {
    id: u64,
    client_user: String,
    page_domain: String,
    page_path: String,
    title: Option<String>,
    #[schema(format = DateTime)]
    timestamp: String,
}

/// The v2 company object; custom attributes appear as extra top-level keys.
#[derive(ToSchema)]
struct Company {
    id: u64,
    custom_id: Option<String>,
    name: Option<String>,
    email: Option<String>,
    phone_numbers: Option<Vec<String>>,
    address: Option<String>,
    city: Option<String>,
    region: Option<String>,
    country: Option<String>,
    postal_code: Option<String>,
    description: Option<String>,
    /// Employee count.
    size: Option<i64>,
    assigned_to: Option<i64>,
    tags: Vec<Tag>,
    /// Member user ids.
    employees: Vec<u64>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

/// A company write (partial for PUT).
#[derive(ToSchema)]
struct CompanyWrite {
    custom_id: Option<String>,
    name: Option<String>,
    email: Option<String>,
    size: Option<i64>,
    tags: Option<Vec<String>>,
}

/// A page of companies.
#[derive(ToSchema)]
struct CompanyPage {
    count: u64,
    next: Option<String>,
    previous: Option<String>,
    results: Vec<Company>,
}

/// Add or remove a member: by internal id or by custom_id.
#[derive(ToSchema)]
struct MemberWrite {
    user_id: Option<u64>,
    user_custom_id: Option<String>,
}

/// Attribute value types.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
enum ValueType {
    Boolean,
    Integer,
    Float,
    Date,
    Datetime,
    String,
    Fixed,
    Json,
}

/// What an attribute belongs to. `event` is the default mode's own (refused in strict mode).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
enum ContentType {
    Clientuser,
    Company,
    Event,
}

/// An attribute definition.
#[derive(ToSchema)]
struct Attribute {
    id: u64,
    name: String,
    name_std: String,
    value_type: ValueType,
    content_type: ContentType,
    /// `fixed` only.
    choices: Option<Vec<String>>,
    /// `fixed` only.
    allow_multiple_choices: Option<bool>,
}

/// An attribute definition write.
#[derive(ToSchema)]
struct AttributeWrite {
    name: String,
    value_type: ValueType,
    /// Default `clientuser`.
    content_type: Option<ContentType>,
    choices: Option<Vec<String>>,
    allow_multiple_choices: Option<bool>,
}

/// A listed attribute definition: as `Attribute`, but a strict app lists `value_type` as its v1
/// numeric code (strict row 11).
#[derive(ToSchema)]
struct ListedAttribute {
    id: u64,
    name: String,
    name_std: String,
    value_type: ListedValueType,
    content_type: ContentType,
    /// `fixed` only.
    choices: Option<Vec<String>>,
    /// `fixed` only.
    allow_multiple_choices: Option<bool>,
}

/// A listed `value_type`: the word, or (strict mode) the v1 numeric code.
struct ListedValueType;

impl PartialSchema for ListedValueType {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(Ref::from_schema_name("ValueType"))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(7)),
            )
            .description(Some(
                "The word; in strict mode the v1 code (1 boolean, 2 integer, 3 date, 4 string, \
                 5 datetime, 6 fixed, 7 float; `json` stays the word)",
            ))
            .into()
    }
}
impl ToSchema for ListedValueType {}

/// A page of attribute definitions.
#[derive(ToSchema)]
struct AttributePage {
    count: u64,
    next: Option<String>,
    previous: Option<String>,
    results: Vec<ListedAttribute>,
}

// ----- admin schemas ------------------------------------------------------------------------------

/// `POST /__admin/reset` answer: the app reset, or `*`.
#[derive(ToSchema)]
struct ResetDone {
    reset: String,
}

/// An app's clock: `now` when frozen, `offset_seconds` from wall time when running.
#[derive(ToSchema)]
struct StateClock {
    frozen: bool,
    #[schema(format = DateTime)]
    now: Option<String>,
    offset_seconds: Option<f64>,
}

/// An occurrence with its user, as in the state view.
#[derive(ToSchema)]
struct StateEvent {
    id: u64,
    user_id: u64,
    name: String,
    #[schema(format = DateTime)]
    timestamp: String,
    data: std::collections::BTreeMap<String, Value>,
}

/// A site view in the state view.
#[derive(ToSchema)]
struct StateSiteView {
    id: u64,
    user_id: u64,
    page_domain: String,
    page_path: String,
    title: Option<String>,
    #[schema(format = DateTime)]
    timestamp: String,
}

/// An event definition.
#[derive(ToSchema)]
struct EventDefinition {
    id: u64,
    name: String,
}

/// Everything in one app (deterministic: keys sorted, lists in id order).
#[derive(ToSchema)]
struct AppState {
    users: Vec<User>,
    companies: Vec<Company>,
    events: Vec<StateEvent>,
    site_views: Vec<StateSiteView>,
    attributes: Vec<Attribute>,
    event_definitions: Vec<EventDefinition>,
    trusted_domains: Vec<String>,
    clock: StateClock,
    /// `true` for an app in strict mode; absent in the default mode.
    strict: Option<bool>,
}

/// Every app by name.
#[derive(ToSchema)]
struct AllStates {
    apps: std::collections::BTreeMap<String, AppState>,
}

/// `GET /__admin/state`: every app, or one with `?app=`.
struct StateView;

impl PartialSchema for StateView {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(Ref::from_schema_name("AllStates"))
            .item(Ref::from_schema_name("AppState"))
            .description(Some(
                "Every app (`{apps}`), or one app's object with `?app=`",
            ))
            .into()
    }
}
impl ToSchema for StateView {}

/// A new app and its key.
#[derive(ToSchema)]
struct NewApp {
    app: String,
    api_key: String,
    /// The app's mode.
    strict: bool,
}

/// Optional name and mode of a new app.
#[derive(ToSchema)]
struct NewAppWrite {
    name: Option<String>,
    /// Strict mode (REST v2 rules); absent: the server's mode (`--strict`).
    strict: Option<bool>,
}

/// An app and its number of keys (keys are not listed).
#[derive(ToSchema)]
struct AppSummary {
    app: String,
    keys: u64,
    /// The app's mode.
    strict: bool,
}

/// A revoked key's app.
#[derive(ToSchema)]
struct Revoked {
    app: String,
    revoked: bool,
}

/// An app's trusted domains (empty: every domain is trusted).
#[derive(ToSchema)]
struct TrustedDomains {
    app: String,
    trusted_domains: Vec<String>,
}

/// One journaled request. `Authorization` shows as `Token [redacted]`.
#[derive(ToSchema)]
struct JournalEntry {
    seq: u64,
    #[schema(format = DateTime)]
    at: String,
    app: Option<String>,
    method: String,
    path: String,
    query: Option<String>,
    headers: std::collections::BTreeMap<String, String>,
    /// The JSON body, the text of a non-JSON body, or null.
    body: Value,
    status: u16,
    /// Dropped attributes and ignored read-only fields.
    notes: Vec<String>,
}

/// The journal, oldest first.
#[derive(ToSchema)]
struct Journal {
    /// Entries in this answer.
    count: u64,
    /// Entries matching `app` and `since`, before `limit`.
    total: u64,
    requests: Vec<JournalEntry>,
}

/// `GET /__admin/health`.
#[derive(ToSchema)]
struct Health {
    /// Always `ok`.
    status: String,
    /// How many apps the simulator holds.
    apps: u64,
}

/// An app's clock.
#[derive(ToSchema)]
struct ClockView {
    app: String,
    frozen: bool,
    #[schema(format = DateTime)]
    now: String,
    offset_seconds: Option<f64>,
}

/// Set the clock: freeze at `now`, or run from `now`.
#[derive(ToSchema)]
struct ClockWrite {
    #[schema(format = DateTime)]
    now: String,
    frozen: Option<bool>,
}

/// Move the clock (fractional and negative allowed).
#[derive(ToSchema)]
struct ClockAdvance {
    seconds: f64,
}

/// A fault-injection rule (docs/CONTRACT.md, "Fault injection"): `match` (method, path_prefix,
/// app), `effect` (status/body/retry_after, latency_ms, reset, or rate_limit), `when`
/// (`before`|`after`), `times`, `probability` and `seed`.
#[derive(ToSchema)]
struct FaultRuleWrite {
    #[schema(rename = "match")]
    matcher: Option<std::collections::BTreeMap<String, Value>>,
    effect: std::collections::BTreeMap<String, Value>,
    when: Option<String>,
    times: Option<u64>,
    probability: Option<f64>,
    seed: Option<u64>,
}

/// A stored fault rule: the rule plus `id`, `hits` and `remaining`.
#[derive(ToSchema)]
struct FaultRule {
    id: u64,
    hits: u64,
    remaining: Option<u64>,
    #[schema(rename = "match")]
    matcher: Option<std::collections::BTreeMap<String, Value>>,
    effect: Option<std::collections::BTreeMap<String, Value>>,
    when: Option<String>,
}

/// The active fault rules.
#[derive(ToSchema)]
struct FaultList {
    faults: Vec<FaultRule>,
}

// ----- operations ---------------------------------------------------------------------------------

/// The documented operations. Each function stands for one route of `src/routes/` (or of the
/// dashboard/OpenAPI modules); `tests/api/openapi.rs` checks the two lists agree.
mod paths {
    use super::*;

    #[utoipa::path(get, path = "/api/public/users/", tag = "users", security(("token" = [])),
        params(("page" = Option<u64>, Query, description = "Page number, from 1 (100 per page)")),
        responses((status = 200, description = "A page of users", body = UserPage), ApiErrors))]
    fn users_list() {}

    #[utoipa::path(post, path = "/api/public/users/", tag = "users", security(("token" = [])),
        request_body = UserWrite,
        responses((status = 201, description = "The created user", body = User), ApiErrors))]
    fn users_create() {}

    #[utoipa::path(get, path = "/api/public/users/search/", tag = "users", security(("token" = [])),
        params(
            ("key" = Option<String>, Query, description = "user_key"),
            ("email" = Option<String>, Query, description = "exact e-mail"),
            ("many" = Option<bool>, Query, description = "with email: every match as a list"),
            ("phone_number" = Option<String>, Query, description = "answers a page envelope"),
        ),
        responses((status = 200, description = "The user(s)", body = SearchResult), ApiErrors))]
    fn users_search() {}

    #[utoipa::path(post, path = "/api/public/users/update_or_create/", tag = "users",
        security(("token" = [])), request_body = UserWrite,
        responses(
            (status = 200, description = "Updated", body = Upserted),
            (status = 201, description = "Created", body = Upserted),
            ApiErrors))]
    fn users_upsert() {}

    #[utoipa::path(get, path = "/api/public/users/{id}/", tag = "users", security(("token" = [])),
        params(("id" = u64, Path, description = "Internal user id")),
        responses((status = 200, description = "The user", body = User), ApiErrors))]
    fn user_get() {}

    #[utoipa::path(put, path = "/api/public/users/{id}/", tag = "users", security(("token" = [])),
        params(("id" = u64, Path, description = "Internal user id")), request_body = UserWrite,
        responses((status = 200, description = "The updated user", body = User), ApiErrors))]
    fn user_put() {}

    #[utoipa::path(delete, path = "/api/public/users/{id}/", tag = "users",
        security(("token" = [])), params(("id" = u64, Path, description = "Internal user id")),
        responses((status = 204, description = "Deleted"), ApiErrors))]
    fn user_delete() {}

    #[utoipa::path(post, path = "/api/public/users/{id}/set_multiple_attributes/", tag = "users",
        security(("token" = [])), params(("id" = u64, Path, description = "Internal user id")),
        request_body = UserWrite,
        responses((status = 200, description = "The updated user", body = User), ApiErrors))]
    fn user_set_attrs() {}

    #[utoipa::path(get, path = "/api/public/users/{id}/events/", tag = "events",
        security(("token" = [])),
        params(("id" = u64, Path, description = "Internal user id"),
               ("page" = Option<u64>, Query, description = "Page number, from 1")),
        responses((status = 200, description = "The user's events", body = OccurrencePage),
                  ApiErrors))]
    fn user_events() {}

    #[utoipa::path(get, path = "/api/public/users-by-id/{cid}/", tag = "users",
        security(("token" = [])), params(("cid" = String, Path, description = "custom_id")),
        responses((status = 200, description = "The user", body = User), ApiErrors))]
    fn user_cid_get() {}

    #[utoipa::path(put, path = "/api/public/users-by-id/{cid}/", tag = "users",
        security(("token" = [])), params(("cid" = String, Path, description = "custom_id")),
        request_body = UserWrite,
        responses((status = 200, description = "The updated user", body = User), ApiErrors))]
    fn user_cid_put() {}

    #[utoipa::path(delete, path = "/api/public/users-by-id/{cid}/", tag = "users",
        security(("token" = [])), params(("cid" = String, Path, description = "custom_id")),
        responses((status = 204, description = "Deleted"), ApiErrors))]
    fn user_cid_delete() {}

    #[utoipa::path(post, path = "/api/public/users-by-id/{cid}/set_multiple_attributes/",
        tag = "users", security(("token" = [])),
        params(("cid" = String, Path, description = "custom_id")), request_body = UserWrite,
        responses((status = 200, description = "The updated user", body = User), ApiErrors))]
    fn user_cid_set_attrs() {}

    #[utoipa::path(get, path = "/api/public/users-by-id/{cid}/events/", tag = "events",
        security(("token" = [])),
        params(("cid" = String, Path, description = "custom_id"),
               ("page" = Option<u64>, Query, description = "Page number, from 1")),
        responses((status = 200, description = "The user's events", body = OccurrencePage),
                  ApiErrors))]
    fn user_cid_events() {}

    #[utoipa::path(post, path = "/api/public/users-by-id/{cid}/events/", tag = "events",
        security(("token" = [])), params(("cid" = String, Path, description = "custom_id")),
        request_body = EventWrite,
        responses((status = 201, description = "Recorded", body = EventCreated), ApiErrors))]
    fn user_cid_event_create() {}

    #[utoipa::path(post, path = "/api/public/events/", tag = "events", security(("token" = [])),
        request_body = EventByIdWrite,
        responses((status = 201, description = "Recorded", body = EventCreated), ApiErrors))]
    fn events_create() {}

    #[utoipa::path(post, path = "/api/public/site-views/", tag = "events",
        security(("token" = [])), request_body = SiteViewWrite,
        responses((status = 201, description = "Counted: page_views + 1", body = SiteView),
                  ApiErrors))]
    fn site_views_create() {}

    #[utoipa::path(get, path = "/api/public/companies/", tag = "companies",
        security(("token" = [])),
        params(("page" = Option<u64>, Query, description = "Page number, from 1")),
        responses((status = 200, description = "A page of companies", body = CompanyPage),
                  ApiErrors))]
    fn companies_list() {}

    #[utoipa::path(post, path = "/api/public/companies/", tag = "companies",
        security(("token" = [])), request_body = CompanyWrite,
        responses((status = 201, description = "The created company", body = Company), ApiErrors))]
    fn companies_create() {}

    #[utoipa::path(get, path = "/api/public/companies/{id}/", tag = "companies",
        security(("token" = [])), params(("id" = u64, Path, description = "Company id")),
        responses((status = 200, description = "The company", body = Company), ApiErrors))]
    fn company_get() {}

    #[utoipa::path(put, path = "/api/public/companies/{id}/", tag = "companies",
        security(("token" = [])), params(("id" = u64, Path, description = "Company id")),
        request_body = CompanyWrite,
        responses((status = 200, description = "The updated company", body = Company), ApiErrors))]
    fn company_put() {}

    #[utoipa::path(delete, path = "/api/public/companies/{id}/", tag = "companies",
        security(("token" = [])), params(("id" = u64, Path, description = "Company id")),
        responses((status = 204, description = "Deleted"), ApiErrors))]
    fn company_delete() {}

    #[utoipa::path(post, path = "/api/public/companies/{id}/add_member/", tag = "companies",
        security(("token" = [])), params(("id" = u64, Path, description = "Company id")),
        request_body = MemberWrite,
        responses((status = 200, description = "The company (idempotent)", body = Company),
                  ApiErrors))]
    fn company_add_member() {}

    #[utoipa::path(post, path = "/api/public/companies/{id}/remove_member/", tag = "companies",
        security(("token" = [])), params(("id" = u64, Path, description = "Company id")),
        request_body = MemberWrite,
        responses((status = 200, description = "The company (idempotent)", body = Company),
                  ApiErrors))]
    fn company_remove_member() {}

    #[utoipa::path(get, path = "/api/public/companies-by-id/{cid}/", tag = "companies",
        security(("token" = [])), params(("cid" = String, Path, description = "custom_id")),
        responses((status = 200, description = "The company", body = Company), ApiErrors))]
    fn company_cid_get() {}

    #[utoipa::path(put, path = "/api/public/companies-by-id/{cid}/", tag = "companies",
        security(("token" = [])), params(("cid" = String, Path, description = "custom_id")),
        request_body = CompanyWrite,
        responses((status = 200, description = "The updated company", body = Company), ApiErrors))]
    fn company_cid_put() {}

    #[utoipa::path(delete, path = "/api/public/companies-by-id/{cid}/", tag = "companies",
        security(("token" = [])), params(("cid" = String, Path, description = "custom_id")),
        responses((status = 204, description = "Deleted"), ApiErrors))]
    fn company_cid_delete() {}

    #[utoipa::path(get, path = "/api/public/attributes/", tag = "attributes",
        security(("token" = [])),
        params(("content_type" = Option<ContentType>, Query, description = "Only this kind"),
               ("page" = Option<u64>, Query, description = "Page number, from 1")),
        responses((status = 200, description = "Definitions", body = AttributePage), ApiErrors))]
    fn attributes_list() {}

    #[utoipa::path(post, path = "/api/public/attributes/", tag = "attributes",
        security(("token" = [])), request_body = AttributeWrite,
        responses((status = 201, description = "The definition with name_std", body = Attribute),
                  ApiErrors))]
    fn attributes_create() {}

    #[utoipa::path(get, path = "/__admin/health", tag = "admin",
        responses((status = 200, description = "The simulator is up (no admin token needed)",
                   body = Health)))]
    fn admin_health() {}

    #[utoipa::path(post, path = "/__admin/reset", tag = "admin",
        params(("app" = Option<String>, Query, description = "Only this app")),
        responses((status = 200, description = "Reset", body = ResetDone), AdminErrors))]
    fn admin_reset() {}

    #[utoipa::path(get, path = "/__admin/state", tag = "admin",
        params(("app" = Option<String>, Query, description = "Only this app")),
        responses((status = 200, description = "Every app, or one", body = StateView),
                  AdminErrors))]
    fn admin_state() {}

    #[utoipa::path(post, path = "/__admin/apps", tag = "admin", request_body = NewAppWrite,
        responses((status = 201, description = "A fresh isolated app", body = NewApp),
                  AdminErrors))]
    fn admin_apps_create() {}

    #[utoipa::path(get, path = "/__admin/apps", tag = "admin",
        responses((status = 200, description = "Apps and key counts", body = Vec<AppSummary>)))]
    fn admin_apps_list() {}

    #[utoipa::path(post, path = "/__admin/api-keys/{key}/revoke", tag = "admin",
        params(("key" = String, Path, description = "The API key")),
        responses((status = 200, description = "Revoked", body = Revoked), AdminErrors))]
    fn admin_revoke() {}

    #[utoipa::path(get, path = "/__admin/trusted-domains", tag = "admin",
        params(("app" = Option<String>, Query, description = "App (default `default`)")),
        responses((status = 200, description = "Trusted domains", body = TrustedDomains),
                  AdminErrors))]
    fn admin_trusted_get() {}

    #[utoipa::path(put, path = "/__admin/trusted-domains", tag = "admin",
        params(("app" = Option<String>, Query, description = "App (default `default`)")),
        request_body = Vec<String>,
        responses((status = 200, description = "Trusted domains", body = TrustedDomains),
                  AdminErrors))]
    fn admin_trusted_put() {}

    #[utoipa::path(get, path = "/__admin/requests", tag = "admin",
        params(("app" = Option<String>, Query, description = "Only this app (default: every entry)"),
               ("since" = Option<u64>, Query, description = "Only entries with a larger seq"),
               ("limit" = Option<u64>, Query, description = "At most this many entries (oldest first)")),
        responses((status = 200, description = "The journal, oldest first", body = Journal),
                  AdminErrors))]
    fn admin_requests() {}

    #[utoipa::path(delete, path = "/__admin/requests", tag = "admin",
        params(("app" = Option<String>, Query, description = "Only this app")),
        responses((status = 204, description = "Cleared"), AdminErrors))]
    fn admin_requests_clear() {}

    #[utoipa::path(get, path = "/__admin/clock", tag = "admin",
        params(("app" = Option<String>, Query, description = "App (default `default`)")),
        responses((status = 200, description = "The clock", body = ClockView), AdminErrors))]
    fn admin_clock_get() {}

    #[utoipa::path(put, path = "/__admin/clock", tag = "admin",
        params(("app" = Option<String>, Query, description = "App (default `default`)")),
        request_body = ClockWrite,
        responses((status = 200, description = "The clock", body = ClockView), AdminErrors))]
    fn admin_clock_put() {}

    #[utoipa::path(post, path = "/__admin/clock/advance", tag = "admin",
        params(("app" = Option<String>, Query, description = "App (default `default`)")),
        request_body = ClockAdvance,
        responses((status = 200, description = "The clock", body = ClockView), AdminErrors))]
    fn admin_clock_advance() {}

    #[utoipa::path(post, path = "/__admin/faults", tag = "faults", request_body = FaultRuleWrite,
        responses((status = 201, description = "The stored rule", body = FaultRule), AdminErrors))]
    fn admin_faults_create() {}

    #[utoipa::path(get, path = "/__admin/faults", tag = "faults",
        responses((status = 200, description = "Active rules", body = FaultList)))]
    fn admin_faults_list() {}

    #[utoipa::path(delete, path = "/__admin/faults", tag = "faults",
        responses((status = 204, description = "Every rule removed")))]
    fn admin_faults_clear() {}

    #[utoipa::path(get, path = "/__admin/faults/{id}", tag = "faults",
        params(("id" = u64, Path, description = "Rule id")),
        responses((status = 200, description = "The rule", body = FaultRule), AdminErrors))]
    fn admin_fault_get() {}

    #[utoipa::path(delete, path = "/__admin/faults/{id}", tag = "faults",
        params(("id" = u64, Path, description = "Rule id")),
        responses((status = 204, description = "Removed"), AdminErrors))]
    fn admin_fault_delete() {}

    #[utoipa::path(get, path = "/__admin/openapi.json", tag = "admin",
        responses((status = 200, description = "This document", content_type = "application/json",
                   body = Value)))]
    fn admin_openapi() {}

    #[utoipa::path(get, path = "/", tag = "dashboard",
        params(
            ("app" = Option<String>, Query, description = "App (default `default`)"),
            ("q" = Option<String>, Query, description = "Search users by custom_id or e-mail"),
            ("user" = Option<u64>, Query, description = "Show one user"),
            ("company" = Option<u64>, Query, description = "Show one company"),
            ("event" = Option<String>, Query, description = "Show one event's occurrences"),
            ("journal" = Option<u64>, Query, description = "Journal entries shown (max 2000)"),
        ),
        responses((status = 200, description = "The dashboard page", content_type = "text/html",
                   body = String), AdminErrors))]
    fn dashboard() {}

    #[utoipa::path(get, path = "/__admin/dashboard/fragment", tag = "dashboard",
        params(
            ("app" = Option<String>, Query, description = "As for the page"),
            ("q" = Option<String>, Query, description = "As for the page"),
            ("user" = Option<u64>, Query, description = "As for the page"),
            ("company" = Option<u64>, Query, description = "As for the page"),
            ("event" = Option<String>, Query, description = "As for the page"),
            ("journal" = Option<u64>, Query, description = "As for the page"),
            ("If-None-Match" = Option<String>, Header, description = "The last ETag"),
        ),
        responses(
            (status = 200, description = "The page's <main> content", content_type = "text/html",
             body = String),
            (status = 304, description = "Unchanged since the given ETag"),
            AdminErrors))]
    fn dashboard_fragment() {}
}
