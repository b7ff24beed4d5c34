//! The forwarder's integration tests: one binary, one module per surface.
//!
//! - `requests`: the exact User.com requests per operation (wiremock).
//! - `retry`: every retryable and permanent status, timeouts, refused connections, dead letters.
//! - `ingress`: the Segment HTTP Tracking API (auth, gzip, limits, malformed input, stats, drain).
//! - `cli`: the built binary (`send`, `plan`, start-up errors, `--help`).
//! - `plan`: what `plan` prints equals what `send` sends, for every fixture.
//! - `spool`: `serve`'s durable spool (kill -9 and a restart, a full disk).
//! - `resume`: `send --resume` (kill -9 part-way through a file, then resume).
//! - `e2e`: against the `usercom-mock` simulator, in process.
//! - `clients`: the real Segment Python and Node clients (set `USERCOM_E2E_CLIENTS=1`).
//! - `dashboard`: the simulator dashboard in a real browser, fed by the forwarder (set
//!   `USERCOM_BROWSER_TESTS=1`).
//! - `browser_sdk`: Analytics.js 2.0 (the browser SDK): CORS, its settings document and paths,
//!   its captured requests replayed, and the real SDK in chromium (set `USERCOM_BROWSER_TESTS=1`).
//! - `tls`: `--tls-platform-roots` against an HTTPS stand-in signed by a throw-away CA.

mod browser_sdk;
mod cli;
mod clients;
mod dashboard;
mod e2e;
mod ingress;
mod plan;
mod requests;
mod resume;
mod retry;
mod spool;
mod support;
mod tls;
