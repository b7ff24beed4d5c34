//! The harness's one integration-test binary: the whole catalogue in process, the external mode
//! against our ingress and against a deliberately wrong forwarder, the fixture snapshots, and the
//! property tests, and an acknowledged batch surviving a crash (restart).

mod catalogue;
mod cli;
mod delivery;
mod drift;
mod properties;
mod restart;
mod snapshots;
mod support;
mod wrong;
