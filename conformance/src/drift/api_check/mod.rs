//! `api-check`: the simulator's REST behaviours as black-box checks that any User.com app can be
//! put through (the simulator in CI; a user's own sandbox app to find where we differ from it).
//!
//! Each [`Check`] names its source: [`Source::Documented`] (a User.com doc page or a client that
//! shows it, as usercom-api.md §0 keys them) or [`Source::Guess`] (the simulator's choice where
//! nothing is documented). A failing documented check means the service no longer does what its
//! docs (or our reading of them) say; a failing GUESS means our simulator is wrong there.
//!
//! Checks read and write only through the public REST API. Everything they create carries the
//! run's id (`drift-<run>-…`) and is deleted at the end where the API allows it (users,
//! companies, attribute definitions); what could not be deleted is listed in the report. Checks
//! that write are skipped unless writes are allowed ([`Options::allow_writes`]), and one area
//! per file:
//!
//! | file | area |
//! |---|---|
//! | `auth.rs` | keys, schemes, the 401 body |
//! | `transport.rs` | trailing slashes, the v1/v2 dialects, methods, malformed bodies, unknown ids |
//! | `lists.rs` | the page envelope, page size, `next` links, out-of-range pages |
//! | `users.rs` | create/read/update/delete, the v2 user object, conversions of standard fields |
//! | `search.rs` | `/users/search/` by key, e-mail, phone |
//! | `attributes.rs` | definitions, `name_std`, wire formats of custom attribute values |
//! | `events.rs`, `site_views.rs`, `companies.rs` | answers and effects (counters, members) |

use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::future::BoxFuture;
use serde_json::{json, Value};

use super::report::{DriftReport, Outcome, Row};
use super::rest::{Answer, Rest, TransportError};
use crate::error::{Error, Result};

mod attributes;
mod auth;
mod companies;
mod events;
mod lists;
mod search;
mod site_views;
mod transport;
mod users;

/// Where a check's expectation comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Documented: the source key and page or section (usercom-api.md §0).
    Documented(&'static str),
    /// The simulator's guess; the text says what is guessed.
    Guess(&'static str),
}

impl Source {
    /// `Documented (DOC-basic)` / `GUESS (…)`.
    pub fn describe(&self) -> String {
        match self {
            Source::Documented(s) => format!("Documented ({s})"),
            Source::Guess(s) => format!("GUESS ({s})"),
        }
    }

    /// What a failure of a check with this source means.
    pub fn verdict(&self) -> &'static str {
        match self {
            Source::Documented(_) => {
                "documented behaviour not seen: the service changed (or our reading of its docs is wrong)"
            }
            Source::Guess(_) => "GUESS not confirmed: our simulator is wrong here",
        }
    }
}

/// A check's failure: what was expected and what came back, one line.
#[derive(Clone, Debug)]
pub struct Miss(pub String);

impl From<TransportError> for Miss {
    fn from(e: TransportError) -> Self {
        Miss(format!("no HTTP answer: {e}"))
    }
}

/// What a check's body returns.
pub type Verdict = std::result::Result<(), Miss>;

/// One black-box check.
#[derive(Clone)]
pub struct Check {
    /// Its name (`area_what_it_checks`), unique.
    pub name: &'static str,
    /// Where the expectation comes from.
    pub source: Source,
    /// True when it creates, changes or deletes data.
    pub writes: bool,
    /// One line: what it checks.
    pub what: &'static str,
    run: fn(Ctx) -> BoxFuture<'static, Verdict>,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check")
            .field("name", &self.name)
            .field("source", &self.source)
            .field("writes", &self.writes)
            .finish()
    }
}

/// Declares checks: `name, writes, source, "what";` where `name` is an `async fn(Ctx) -> Verdict`
/// in scope.
macro_rules! checks {
    ($( $name:ident, $writes:expr, $source:expr, $what:expr; )*) => {
        vec![ $( $crate::drift::api_check::Check::new(
            stringify!($name), $source, $writes, $what,
            |cx| -> futures::future::BoxFuture<'static, $crate::drift::api_check::Verdict> {
                Box::pin($name(cx))
            },
        ), )* ]
    };
}
pub(crate) use checks;

impl Check {
    fn new(
        name: &'static str,
        source: Source,
        writes: bool,
        what: &'static str,
        run: fn(Ctx) -> BoxFuture<'static, Verdict>,
    ) -> Self {
        Self {
            name,
            source,
            writes,
            what,
            run,
        }
    }
}

/// Every check, read-only ones first, in run order.
pub fn all_checks() -> Vec<Check> {
    let mut all = Vec::new();
    all.extend(auth::checks());
    all.extend(transport::checks());
    all.extend(lists::checks());
    all.extend(search::checks());
    all.extend(users::checks());
    all.extend(attributes::checks());
    all.extend(events::checks());
    all.extend(site_views::checks());
    all.extend(companies::checks());
    all.sort_by_key(|c| c.writes);
    all
}

/// How to run the suite.
#[derive(Clone, Debug)]
pub struct Options {
    /// The app's URL (`https://APP.user.com` or its `/api/public` root).
    pub url: String,
    /// A REST API key of the app.
    pub api_key: String,
    /// Run the checks that write (create users, companies, attribute definitions, events, site
    /// views, and delete what they created).
    pub allow_writes: bool,
    /// Only checks whose name contains one of these (comma-separated in the CLI).
    pub filter: Option<String>,
    /// The run id in every id, e-mail and name a check creates (random when `None`).
    pub run_id: Option<String>,
}

/// Shared by the checks of one run: the client, the run id, what was created (for clean-up),
/// and the notes of the running check. The mutexes are held for a push or a drain only, never
/// across an `.await`.
#[derive(Clone)]
pub struct Ctx(Arc<Inner>);

struct Inner {
    rest: Rest,
    run: String,
    created: Mutex<Created>,
    notes: Mutex<Vec<String>>,
}

#[derive(Default)]
struct Created {
    users: Vec<i64>,
    companies: Vec<i64>,
    attributes: Vec<(i64, String)>,
}

impl Ctx {
    /// The client.
    pub fn rest(&self) -> &Rest {
        &self.0.rest
    }

    /// An id unique to this run: `drift-<run>-<what>`.
    pub fn id(&self, what: &str) -> String {
        format!("drift-{}-{what}", self.0.run)
    }

    /// An attribute display name unique to this run (≤ 32 characters: `Drift <run> <what>`).
    pub fn attr_name(&self, what: &str) -> String {
        let mut s = format!("Drift {} {what}", self.0.run);
        s.truncate(32);
        s
    }

    /// The `name_std` of [`Ctx::attr_name`] as the docs define it (lower-case, spaces → `_`).
    pub fn attr_std(&self, what: &str) -> String {
        self.attr_name(what).to_lowercase().replace(' ', "_")
    }

    /// Adds a note to the running check's row.
    pub fn note(&self, n: impl Into<String>) {
        self.0.notes.lock().expect("notes lock").push(n.into());
    }

    fn track_user(&self, id: i64) {
        self.0.created.lock().expect("created lock").users.push(id);
    }

    fn track_company(&self, id: i64) {
        self.0
            .created
            .lock()
            .expect("created lock")
            .companies
            .push(id);
    }

    fn track_attribute(&self, id: i64, name: String) {
        self.0
            .created
            .lock()
            .expect("created lock")
            .attributes
            .push((id, name));
    }

    /// `POST /users/` `{custom_id: id(what), ...extra}`, expecting a 2xx with an integer `id`;
    /// the user is deleted at the end.
    pub async fn create_user(&self, what: &str, extra: Value) -> std::result::Result<Answer, Miss> {
        let mut body = json!({ "custom_id": self.id(what) });
        merge(&mut body, extra);
        let a = self.rest().post("/users/", &body).await?;
        ok_2xx(&a)?;
        let id = int_field(&a, "id")?;
        self.track_user(id);
        Ok(a)
    }

    /// `POST /companies/` `{custom_id: id(what), name, ...extra}`; deleted at the end.
    pub async fn create_company(
        &self,
        what: &str,
        extra: Value,
    ) -> std::result::Result<Answer, Miss> {
        let mut body = json!({ "custom_id": self.id(what), "name": format!("Drift {what}") });
        merge(&mut body, extra);
        let a = self.rest().post("/companies/", &body).await?;
        ok_2xx(&a)?;
        let id = int_field(&a, "id")?;
        self.track_company(id);
        Ok(a)
    }

    /// `POST /attributes/` for `attr_name(what)`; deleted at the end where the API allows it.
    pub async fn define_attribute(
        &self,
        what: &str,
        value_type: &str,
        content_type: &str,
        extra: Value,
    ) -> std::result::Result<Answer, Miss> {
        let mut body = json!({
            "name": self.attr_name(what),
            "value_type": value_type,
            "content_type": content_type,
        });
        merge(&mut body, extra);
        let a = self.rest().post("/attributes/", &body).await?;
        ok_2xx(&a)?;
        let id = int_field(&a, "id")?;
        self.track_attribute(id, self.attr_name(what));
        Ok(a)
    }

    /// Forgets a user deleted by a check (so clean-up does not report its 404).
    pub fn forget_user(&self, id: i64) {
        self.0
            .created
            .lock()
            .expect("created lock")
            .users
            .retain(|u| *u != id);
    }

    /// Forgets a company deleted by a check.
    pub fn forget_company(&self, id: i64) {
        self.0
            .created
            .lock()
            .expect("created lock")
            .companies
            .retain(|c| *c != id);
    }
}

/// Adds `extra`'s keys to `body` (both objects).
fn merge(body: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
        b.extend(e);
    }
}

// ------------------------------------------------------------------ assertions for check bodies

/// The status is exactly `want`.
pub fn status(a: &Answer, want: u16) -> Verdict {
    if a.status == want {
        Ok(())
    } else {
        Err(Miss(format!(
            "{}: expected status {want}, found {}",
            a.what,
            a.brief()
        )))
    }
}

/// The status is one of `want`.
pub fn status_in(a: &Answer, want: &[u16]) -> Verdict {
    if want.contains(&a.status) {
        Ok(())
    } else {
        Err(Miss(format!(
            "{}: expected status one of {want:?}, found {}",
            a.what,
            a.brief()
        )))
    }
}

/// The status is 2xx.
pub fn ok_2xx(a: &Answer) -> Verdict {
    if (200..300).contains(&a.status) {
        Ok(())
    } else {
        Err(Miss(format!(
            "{}: expected a 2xx status, found {}",
            a.what,
            a.brief()
        )))
    }
}

/// The body's `key` is an integer.
pub fn int_field(a: &Answer, key: &str) -> std::result::Result<i64, Miss> {
    a.get(key).as_i64().ok_or_else(|| {
        Miss(format!(
            "{}: expected an integer `{key}`, found {}",
            a.what,
            a.brief()
        ))
    })
}

/// The body (or `v`) has `key` with a value of this JSON kind (`null` counts only for "null").
pub fn has_kind(what: &str, v: &Value, key: &str, kind: &str) -> Verdict {
    match v.get(key) {
        Some(x) if super::shape::kind(x) == kind => Ok(()),
        Some(x) => Err(Miss(format!(
            "{what}: `{key}` expected {kind}, found {} {}",
            super::shape::kind(x),
            short(x)
        ))),
        None => Err(Miss(format!("{what}: `{key}` missing (expected {kind})"))),
    }
}

/// `v[key] == want`.
pub fn field_eq(what: &str, v: &Value, key: &str, want: &Value) -> Verdict {
    let found = v.get(key).unwrap_or(&Value::Null);
    if found == want {
        Ok(())
    } else {
        Err(Miss(format!(
            "{what}: `{key}` expected {want}, found {}",
            short(found)
        )))
    }
}

/// A JSON value, shortened for a report line.
pub fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 160 {
        s.chars().take(160).collect::<String>() + "…"
    } else {
        s
    }
}

/// A 4xx body carries `detail` as a string (DRF's error shape).
pub fn detail_string(a: &Answer) -> Verdict {
    has_kind(&a.what, &a.body, "detail", "string")
}

// ------------------------------------------------------------------ the run

/// Runs the suite against `opts.url` and reports each check. Exits early (an `Err`) only when
/// the app cannot be reached or refuses the key, which is a usage problem rather than a drift.
pub async fn run(opts: &Options) -> Result<DriftReport> {
    let rest = Rest::new(&opts.url, &opts.api_key);
    preflight(&rest).await?;
    let run = opts
        .run_id
        .clone()
        .unwrap_or_else(|| format!("{:08x}", fastrand::u32(..)));
    let cx = Ctx(Arc::new(Inner {
        rest,
        run,
        created: Mutex::new(Created::default()),
        notes: Mutex::new(Vec::new()),
    }));
    let filters: Vec<&str> = opts
        .filter
        .as_deref()
        .map(|f| {
            f.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut report = DriftReport {
        title: format!("api-check of {}", cx.rest().api_root()),
        ..DriftReport::default()
    };
    for check in all_checks() {
        if !filters.is_empty() && !filters.iter().any(|f| check.name.contains(f)) {
            continue;
        }
        let about = format!("{} [{}]", check.what, check.source.describe());
        let started = Instant::now();
        let outcome = if check.writes && !opts.allow_writes {
            Outcome::Skipped(
                "writes to the app: run with --allow-writes (the default against a loopback URL)"
                    .into(),
            )
        } else {
            match (check.run)(cx.clone()).await {
                Ok(()) => Outcome::Pass,
                Err(Miss(detail)) => Outcome::Fail {
                    verdict: check.source.verdict().into(),
                    details: vec![detail],
                },
            }
        };
        let notes = std::mem::take(&mut *cx.0.notes.lock().expect("notes lock"));
        report.rows.push(Row {
            id: check.name.into(),
            about,
            outcome,
            notes,
            duration: started.elapsed(),
        });
    }
    if report.rows.is_empty() {
        return Err(Error::Config(format!(
            "no check name contains {:?}",
            opts.filter.clone().unwrap_or_default()
        )));
    }
    report.notes = clean_up(&cx).await;
    Ok(report)
}

/// One authenticated read: the URL answers and the key is accepted, else a usage error.
async fn preflight(rest: &Rest) -> Result<()> {
    let a = rest.get("/users/").await.map_err(|e| Error::Http {
        what: format!("{} (is --usercom-url right?)", e.what),
        source: e.source,
    })?;
    match a.status {
        200 => Ok(()),
        401 | 403 => Err(Error::Status {
            what: format!("{}: the app refused the API key", a.what),
            status: a.status,
            body: a.brief(),
        }),
        _ => Err(Error::Status {
            what: format!("{} (expected the app's page of users)", a.what),
            status: a.status,
            body: a.brief(),
        }),
    }
}

/// Deletes what the run created (users, companies, then attribute definitions) and returns a
/// note for each thing left behind.
async fn clean_up(cx: &Ctx) -> Vec<String> {
    let created = std::mem::take(&mut *cx.0.created.lock().expect("created lock"));
    let mut notes = Vec::new();
    let mut deleted = 0;
    // A 404 means a user or company is gone already; a definition only counts as deleted on a
    // 2xx (a 404 there may be an API without `DELETE /attributes/{id}/`).
    let mut left = |what: String,
                    gone_on_404: bool,
                    a: std::result::Result<Answer, TransportError>| match a {
        Ok(a) if (200..300).contains(&a.status) || (gone_on_404 && a.status == 404) => deleted += 1,
        Ok(a) => notes.push(format!("left behind: {what} ({})", a.brief())),
        Err(e) => notes.push(format!("left behind: {what} ({e})")),
    };
    for id in created.users {
        left(
            format!("user {id}"),
            true,
            cx.rest().delete(&format!("/users/{id}/")).await,
        );
    }
    for id in created.companies {
        left(
            format!("company {id}"),
            true,
            cx.rest().delete(&format!("/companies/{id}/")).await,
        );
    }
    for (id, name) in created.attributes {
        left(
            format!("attribute definition {id} `{name}`"),
            false,
            cx.rest().delete(&format!("/attributes/{id}/")).await,
        );
    }
    notes.push(format!("clean-up: {deleted} created objects deleted"));
    notes
}
