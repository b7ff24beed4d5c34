//! The conformance harness for the Segment → User.com destination.
//!
//! It runs a forwarder (ours in process, or anyone's over HTTP) against the User.com simulator
//! and checks, case by case, that the behaviour documented in the destination doc
//! (`shared/spec/user-com-destination.md`, vendored in `conformance/spec/`) holds.
//!
//! What it is, in the order data flows: a [`catalogue`] of cases quoting the doc (Segment input
//! plus expectations), a [`target`] that feeds the input to the forwarder, the [`sim`] client
//! that reads the simulator back over HTTP, the [`checks`] that judge what it read, a [`runner`]
//! tying these together for both modes, and a [`report`] in three formats. Beside it: a pure
//! reference [`model`] used as the oracle by the property tests, and [`snapshot`] rendering for
//! `fixtures/segment/*.json`. The [`drift`] tools check the simulator itself against a real
//! User.com app: `api-check` (black-box REST checks) and `replay` (recorded exchanges).
//!
//! What it is not: it never imports the simulator's or the forwarder's behaviour code (coercion,
//! mapping, counters). The simulator is a black box reached over HTTP (REST for reads, the admin
//! plane only for set-up), the forwarder a black box fed with Segment messages. If two of them
//! shared code, a bug in it would pass every test.

pub mod catalogue;
pub mod checks;
pub mod drift;
pub mod error;
pub mod expect;
pub mod model;
pub mod report;
pub mod runner;
pub mod sim;
pub mod snapshot;
pub mod spec;
pub mod target;

pub use error::{Error, Result};
pub use report::Report;
pub use runner::{run_external, run_in_process, ExternalOptions, RunOptions};
