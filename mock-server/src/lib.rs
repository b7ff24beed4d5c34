//! `usercom-mock`: a stateful local simulator of User.com's public REST API.
//!
//! It speaks the v2 API under `/api/public/` (users, custom ids, search, `update_or_create`,
//! events, site views, companies, attribute definitions) and implements the Segment destination
//! doc's behaviour exactly: auto-created string attributes, typed conversion with dropped values,
//! `page_views` / `last_seen` counters, event definitions, revoked keys and trusted domains. An
//! admin plane under `/__admin/` resets, inspects, journals and moves the clock.
//!
//! It is **not** User.com: where the real API is undocumented the simulator makes a documented
//! guess (see the crate README, "Guesses"). It never answers 500 on bad input.
//!
//! ```no_run
//! # async fn demo() {
//! let mock = usercom_mock::MockServer::start().await;
//! let url = format!("{}/users/", mock.api_url()); // POST here with `Authorization: Token <key>`
//! # let _ = (url, mock.api_key());
//! mock.shutdown().await;
//! # }
//! ```
//!
//! Layout: [`store`] (apps, keys, journal, scenario/state files) → [`model`] (per-app data and
//! every state transition) with [`coerce`] (the attribute conversion table) and [`time`]; the HTTP
//! surface is [`router`]; [`MockServer`] serves it on a port.

pub mod coerce;
mod dashboard;
pub mod error;
pub mod faults;
pub mod journal;
pub mod model;
pub mod openapi;
pub mod routes;
pub mod security;
pub mod server;
pub mod store;
pub mod time;

pub use error::{Error, Result};
pub use routes::router;
pub use server::{serve, MockServer, MockServerBuilder};
pub use store::{Scenario, Store};

/// The async runtime of the binaries (`usercom-mock` and `usercom-forwarder`, whose `dev`
/// embeds the simulator) for `--threads N`: 1 is a `current_thread` runtime (the default of both;
/// why in `bench/README.md`), 0 one worker per CPU core, N that many workers.
pub fn runtime_with_threads(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    if threads > 1 {
        builder.worker_threads(threads);
    }
    builder.enable_all().build()
}

/// The API key of the default app when none is given (`--api-key` / `.api_key()`).
pub const DEFAULT_API_KEY: &str = "usercom-mock-default-key";
