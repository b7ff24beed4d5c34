//! Drift: where the simulator differs from a real User.com app.
//!
//! Two tools, both black-box over HTTP:
//!
//! * [`api_check`]: the simulator's REST behaviours as checks any app can be put through (the
//!   simulator in CI, a user's sandbox app to see where we are wrong). Each check is tagged
//!   documented or GUESS, so a failure says whether the service changed or our guess is wrong.
//! * [`replay`]: exchanges recorded from a real app by `usercom-mock record` are sent again to a
//!   fresh simulator; each answer is compared with the recorded one by status and JSON
//!   [`shape`] (values, ids and times ignored).
//!
//! Both report through [`report::DriftReport`] (a table and JUnit XML). [`rest`] is the small
//! client the checks use.

pub mod api_check;
pub mod replay;
pub mod report;
pub mod rest;
pub mod shape;
