//! The catalogue: one case per documented behaviour of the destination doc.
//!
//! Every case quotes, verbatim, the sentence of `shared/spec/user-com-destination.md` it checks
//! (a test makes sure each quote really occurs in the doc), builds its Segment input from a
//! [`Ctx`] so every id is unique to the run and to the case, optionally seeds attribute
//! definitions through the REST API, and states its expectations ([`Check`]s) on the simulator's
//! state as read back through the public REST API.
//!
//! The expectations are written by hand from the doc, not computed by any code shared with the
//! simulator or the forwarder: that independence is what makes a passing catalogue mean something.
//!
//! The cases live by call, one file each, each exporting its own list: [`identity`] (userId /
//! anonymousId, auto-creation), [`identify`] (standard traits, address, context),
//! [`custom_traits`], [`page`], [`track`], [`group`], [`engage`] and [`auth`] (the API key and
//! the 403 troubleshooting). [`catalogue`] concatenates the lists in report order.
//!
//! To add a case: in the file of its call, quote the sentence as a `const`, write a
//! `fn(&Ctx) -> Scenario`, and add one [`Case::new`] line to that file's `cases()`. Use
//! `ctx.id(..)` for user and group ids, `ctx.attr(..)` for attribute names and `ctx.event(..)`
//! for event names, so the case can share one app with every other case in external mode.
//!
//! A case's tag (`c00`, `c01`, ...) is its index in [`catalogue`], and the tag is part of every
//! id the case makes: add new cases at the end of a file's list, or accept that the tags of the
//! cases after it shift (harmless: every run has its own run id).

mod auth;
mod conversions;
mod custom_traits;
mod delivery;
mod engage;
mod group;
mod identify;
mod identity;
mod inputs;
mod page;
mod rules;
mod track;

use std::sync::Arc;

use serde_json::Value;

pub use auth::HINT_403;
pub use inputs::{Ctx, DEFAULT_TIME};

use crate::checks::Check;
use crate::expect::Expect;

/// Cases that only apply to the simulator's default mode (the behaviour the destination doc
/// describes for User.com's own Segment ingestion), not to its strict mode (User.com's REST
/// API): event property types. The REST API takes an event's `data` as free JSON and documents
/// no event attribute definitions (content types: activity, clientuser, company, deal,
/// product, ticket), so a forwarder can neither define nor convert event properties there; it
/// sends them as they are, and `track_records_occurrence` checks that in both modes.
pub const DEFAULT_MODE_ONLY: [&str; 3] = [
    "track_creates_event_and_properties",
    "track_defined_property_converted",
    "track_unconvertible_property_ignored",
];

/// Every case, in report order: each file's list, one line per file.
pub fn catalogue() -> Vec<Case> {
    [
        identity::cases(),
        identify::cases(),
        custom_traits::cases(),
        conversions::cases(),
        page::cases(),
        track::cases(),
        group::cases(),
        engage::cases(),
        rules::cases(),
        delivery::cases(),
        auth::cases(),
    ]
    .concat()
}

/// One documented behaviour.
#[derive(Clone)]
pub struct Case {
    /// Stable identifier (`snake_case`), used by `--filter` and in reports.
    pub id: String,
    /// The exact sentence of the destination doc this case checks.
    pub sentence: &'static str,
    /// Builds the scenario for one run.
    pub build: Arc<dyn Fn(&Ctx) -> Scenario + Send + Sync>,
    /// Where the doc sentence is not precise enough to say what to check: the rule that makes it
    /// precise (design.md's forwarder rules, or a reading of the doc), shown in the report.
    pub rule: Option<&'static str>,
}

impl Case {
    /// The case `id`, checking `sentence`, whose scenario `build` makes.
    pub fn new(
        id: impl Into<String>,
        sentence: &'static str,
        build: impl Fn(&Ctx) -> Scenario + Send + Sync + 'static,
    ) -> Self {
        Self {
            id: id.into(),
            sentence,
            build: Arc::new(build),
            rule: None,
        }
    }

    /// The same case, made precise by `rule` (shown in the report as a note).
    pub fn with_rule(mut self, rule: &'static str) -> Self {
        self.rule = Some(rule);
        self
    }
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
            || self
                .steps
                .iter()
                .any(|s| s.before.iter().any(|a| matches!(a, Action::Fault(_))))
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
    /// A `fixed` attribute that takes a list of choices (`allow_multiple_choices`).
    pub multiple: bool,
}

/// Set-up through the simulator's admin plane.
#[derive(Clone, Debug)]
pub enum Setup {
    /// Only these domains (and their subdomains) are trusted.
    TrustDomains(Vec<String>),
    /// The forwarder's API key is revoked.
    RevokeKey,
    /// A fault-injection rule (`POST /__admin/faults`) for the case's app: the runner sets
    /// `match.app`, and removes the rule after the case.
    Fault(Value),
}

/// Something another User.com client does between two steps, through the public REST API.
#[derive(Clone, Debug)]
pub enum Action {
    /// `DELETE /users-by-id/{custom_id}/`: the user is removed in User.com (by its dashboard or
    /// another integration) while the forwarder may still remember its id.
    DeleteUser(String),
    /// `DELETE /companies-by-id/{custom_id}/`.
    DeleteCompany(String),
    /// `POST /companies/` with this `custom_id` and `name`: a company made in User.com by
    /// someone else, which the forwarder has never seen (so it must look it up).
    CreateCompany { custom_id: String, name: String },
    /// A fault-injection rule from this step on (as [`Setup::Fault`]: for the case's app,
    /// removed after the case), for a failure that must hit a later step's requests only.
    Fault(Value),
}

/// A batch of input and what must hold after it is delivered.
#[derive(Clone, Debug, Default)]
pub struct Step {
    /// Done through the REST API before the step's events are sent.
    pub before: Vec<Action>,
    /// Segment messages, sent as one batch.
    pub events: Vec<Value>,
    /// Expectations after delivery.
    pub checks: Vec<Check>,
}

impl Step {
    /// A step with nothing done before its events.
    pub fn new(events: Vec<Value>, checks: Vec<Check>) -> Step {
        Step {
            before: Vec::new(),
            events,
            checks,
        }
    }
}

/// A scenario of these steps, with no seed and no set-up.
fn in_steps(steps: Vec<Step>) -> Scenario {
    Scenario {
        seed: Vec::new(),
        setup: Vec::new(),
        steps,
    }
}

/// A table row: trait name, value sent, the one field read back, expectation.
type TraitRow = (&'static str, Value, &'static str, Expect);

/// A scenario of one step.
fn one_step(events: Vec<Value>, checks: Vec<Check>) -> Scenario {
    seeded_step(Vec::new(), events, checks)
}

/// A scenario of one step after seeding these attribute definitions.
fn seeded_step(seed: Vec<AttrDef>, events: Vec<Value>, checks: Vec<Check>) -> Scenario {
    Scenario {
        seed,
        setup: Vec::new(),
        steps: vec![Step::new(events, checks)],
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

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
