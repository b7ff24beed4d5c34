//! The Segment → User.com destination.
//!
//! Data flows one way, and the modules say so:
//! [`segment`] (Segment messages and batches in) → [`mapping`] (pure: a message → the planned
//! User.com operations) → [`delivery`] (per-user ordering, concurrency, retry, dead letters) →
//! [`usercom`] (each operation as User.com calls, and the HTTP client that sends them).
//!
//! [`ingress`] serves Segment's HTTP Tracking API in front of the delivery queue; [`input`] reads
//! files of messages for `send` and `plan`; [`cli`] holds the command-line surface that `main.rs`
//! parses.

pub mod cli;
pub mod delivery;
pub mod error;
pub mod ingress;
pub mod input;
pub mod mapping;
pub mod segment;
pub mod spool;
pub mod usercom;

pub use delivery::{Config, Forwarder, Outcome, Stats, Summary};
pub use error::{Error, Result};
