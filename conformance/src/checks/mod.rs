//! What a step expects, one kind of check per file.
//!
//! Each file holds one kind's data and how it is judged: against the simulator's state, read
//! through its public REST API (or, for "nothing is retried forever", its request journal), or
//! against what the harness could see of the delivery. The expectations are written by hand from
//! the destination doc; nothing here is shared with the simulator or the forwarder.
//!
//! To add a kind: a new file with a struct and its [`Evaluate`] impl, then one line in the
//! `check_kinds!` list below (the line names the [`Check`] variant and the struct).

pub mod attribute;
pub mod company;
pub mod events;
pub mod forwarder;
pub mod journal;
pub mod member;
pub mod site_views;
pub mod user;

pub use attribute::Attribute;
pub use company::{CompanyField, CompanyUnique};
pub use events::{EventTime, Events};
pub use forwarder::{ApiKeyRequired, Dropped};
pub(crate) use journal::journal_mark;
pub use journal::{Answered, Headers, Requested};
pub use member::Member;
pub use site_views::SiteViews;
pub use user::{UserExists, UserField};

use serde_json::Value;

use crate::error::{shorten, Result};
use crate::report::Failure;
use crate::sim::{App, Sim};
use crate::target::{Delivery, Target};

/// What a check may look at while it is judged.
pub(crate) struct Probe<'a> {
    /// The simulator (REST reads, journal).
    pub sim: &'a Sim,
    /// The forwarder under test.
    pub target: &'a Target,
    /// The app the case writes into.
    pub app: &'a App,
    /// How the step's delivery ended, as far as the harness can see.
    pub delivery: &'a Delivery,
    /// The journal's last sequence number before the step, when a check asked for it.
    pub journal_mark: Option<u64>,
    /// Remarks for the case's report (what could not be observed, and what was checked instead).
    pub notes: &'a mut Vec<String>,
}

/// One kind of check.
pub(crate) trait Evaluate {
    /// Judges the check; `Ok(None)` = it holds. `Err` = the harness could not read what it needs.
    async fn evaluate(&self, probe: &mut Probe<'_>) -> Result<Option<Failure>>;

    /// True when the check needs [`Probe::journal_mark`] (the runner then reads the journal
    /// before delivering the step).
    fn needs_journal_mark(&self) -> bool {
        false
    }
}

/// Declares [`Check`] (one variant per kind), `From<Kind> for Check`, and the dispatch.
macro_rules! check_kinds {
    ($($(#[$doc:meta])* $variant:ident($kind:ty),)*) => {
        /// One expectation on the simulator's state (or, for troubleshooting, on the delivery).
        #[derive(Clone, Debug)]
        pub enum Check {
            $($(#[$doc])* $variant($kind),)*
        }

        $(impl From<$kind> for Check {
            fn from(check: $kind) -> Self {
                Check::$variant(check)
            }
        })*

        impl Check {
            /// Judges the check; `Ok(None)` = it holds.
            pub(crate) async fn evaluate(&self, probe: &mut Probe<'_>) -> Result<Option<Failure>> {
                match self {
                    $(Check::$variant(c) => c.evaluate(probe).await,)*
                }
            }

            /// True when the check reads the request journal since the step began.
            pub fn needs_journal_mark(&self) -> bool {
                match self {
                    $(Check::$variant(c) => c.needs_journal_mark(),)*
                }
            }
        }
    };
}

check_kinds! {
    /// `GET users-by-id/{id}/` finds (or does not find) the user.
    UserExists(UserExists),
    /// A field of the user.
    User(UserField),
    /// Occurrences of one event for a user.
    Events(Events),
    /// A field of a company.
    Company(CompanyField),
    /// Exactly one company with that custom id.
    CompanyUnique(CompanyUnique),
    /// The user is a member of the company.
    Member(Member),
    /// An attribute definition exists with this value type.
    Attribute(Attribute),
    /// The forwarder gave up on a message, with a reason.
    Dropped(Dropped),
    /// The forwarder refuses to run without an API key.
    ApiKeyRequired(ApiKeyRequired),
    /// The simulator answered a status a bounded number of times during the step.
    Answered(Answered),
    /// The time of a user's occurrences of one event.
    EventTime(EventTime),
    /// A user's site views (count, URL, title, time of the last one).
    SiteViews(SiteViews),
    /// Every request of the step carried the version header and the `Token` authorization.
    Headers(Headers),
    /// How many requests of one method and path the forwarder made during the step.
    Requested(Requested),
}

/// How a found value reads in a report.
fn found_text(v: Option<&Value>) -> String {
    match v {
        None => "absent".into(),
        Some(Value::Null) => "null".into(),
        Some(v) => shorten(&v.to_string(), 200),
    }
}

fn fail(check: String, expected: String, found: String) -> Option<Failure> {
    Some(Failure {
        check,
        expected,
        found,
    })
}

/// Judges `field` of an object read by custom id (`what` = "user" or "company"); `None` = holds.
/// `field` is one name: a check never accepts one of several fields (a forwarder writing the
/// first name into `last_name` must fail `first_name`, not pass through the derived `name`).
fn judge_field(
    what: &str,
    id: &str,
    field: &str,
    expect: &crate::expect::Expect,
    obj: Option<Value>,
) -> Option<Failure> {
    match obj {
        None => fail(
            format!("{what} {id}: {field}"),
            expect.describe(),
            format!("no such {what} (404)"),
        ),
        Some(obj) => {
            // Unset fields read as `null`: reported as absent.
            let v = obj.get(field).filter(|v| !v.is_null());
            if expect.holds(v) {
                None
            } else {
                fail(
                    format!("{what} {id}: {field}"),
                    expect.describe(),
                    found_text(v),
                )
            }
        }
    }
}
