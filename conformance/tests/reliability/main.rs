//! Reliability: the forwarder and the simulator under faults, load and bad input (issue 5).
//!
//! Every test prints its figures as `FIGURE <test> <json>` lines (see them with
//! `cargo test -p usercom-conformance --test reliability -- --nocapture`); docs/RELIABILITY.md
//! tabulates a run with `USERCOM_LONG_TESTS=1` (full sizes; otherwise reduced, still asserting).
//! Tests that run the forwarder as a process build `usercom-forwarder` of the same profile on
//! first use.

mod after_apply;
mod bad_input;
mod crash;
mod fidelity;
mod fuzz;
mod load;
mod permanent;
mod security;
mod sigterm;
mod support;
mod workload;
mod zero_loss;
