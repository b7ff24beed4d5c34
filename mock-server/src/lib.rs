//! `usercom-mock`: a stateful local simulator of User.com's public REST API.
//!
//! It speaks the v2 API under `/api/public/` (users, custom ids, search, `update_or_create`,
//! events, site views, companies, attribute definitions) and implements the Segment destination
//! doc's behaviour exactly: auto-created string attributes, typed conversion with dropped values,
//! `page_views` / `last_seen` counters, event definitions, revoked keys and trusted domains. An
//! admin plane under `/__admin/` resets, inspects, journals and moves the clock.
//!
//! Strict mode ([`MockServerBuilder::strict`], `--strict`, or per app with `POST /__admin/apps`
//! `{"strict": true}`) follows User.com's REST v2 pages instead: undefined attributes are not
//! stored, wrong-typed values for defined attributes are a 400, `Accept: */*; version=2` is
//! required (crate README, "Strict mode").
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
//! # Layout
//!
//! Folder and file names follow the data flow of a request, from the socket down to the stored
//! data. Each layer uses only the layers below it (no module imports one that imports it back):
//!
//! 1. `server`: [`MockServer`] binds a port and serves the router of `routes`.
//! 2. `routes/`: the route table, one handler file per User.com resource (`users`, `companies`,
//!    `events`, `site_views`, `attributes`) and the admin plane (`admin`, `admin/faults`);
//!    `dashboard/` (the HTML view at `/`) and `openapi` (the API description) beside it.
//! 3. `http/`: what those share: the request pipeline (admin token, body limit, fault hook,
//!    catch-panic, JSON errors, journal), extractors (key → app, query, pagination), body parsing.
//! 4. `store/`: the apps, API keys, journal and fault rules of one simulator; scenario and state
//!    files.
//! 5. `model/`: one app's data and every state change, one file per entity (`users`,
//!    `companies`, `events`, `site_views`, `attributes`), with the field tables (`schema`), the
//!    attribute conversion table (`coerce`) and the JSON answers (`render`). Beside it `faults/`
//!    (fault rules and which one fires) and `journal` (the request journal).
//! 6. Below everything: `error`, `time` (clocks, timestamp formats), `security` (admin token,
//!    redaction), `rng` (stable generators and hashes), `sync` (lock helpers).
//!
//! So a site view is answered by `routes/site_views.rs` and stored by `model/site_views.rs`.
//!
//! Beside the simulator, [`record`] is a recording proxy for a real User.com app
//! (`usercom-mock record`): its exchanges can be replayed against the simulator to find drift.

mod dashboard;
mod error;
mod faults;
mod http;
mod journal;
mod model;
mod openapi;
pub mod record;
mod rng;
mod routes;
mod security;
mod server;
mod store;
mod sync;
mod time;

pub use error::{Error, Result};
pub use openapi::openapi_json;
pub use server::{MockServer, MockServerBuilder};

/// The API key of the default app when none is given (`--api-key` / `.api_key()`).
pub const DEFAULT_API_KEY: &str = "usercom-mock-default-key";
