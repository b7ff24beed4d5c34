//! The harness's one integration-test binary: the whole catalogue in process, the external mode
//! against our ingress and against a deliberately wrong forwarder, the fixture snapshots, and the
//! property tests, an acknowledged batch surviving a crash (restart), and the reasons logged for
//! fields left out.

mod catalogue;
mod cli;
mod delivery;
mod drift;
mod properties;
mod reasons;
mod restart;
mod snapshots;
mod support;
mod wrong;
