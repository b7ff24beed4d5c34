//! The views of `<main>`: the overview (apps, users, companies, definitions, journal, faults)
//! and the detail views of one user, company or event. One file per view.

use maud::{html, Markup};

use super::data::Data;
use super::html::plural;
use super::query::ViewQuery;
use crate::error::Result;
use crate::store::Store;

mod company;
mod definitions;
mod event;
mod events;
mod journal;
mod overview;
mod user;
mod users;

/// The inner HTML of `<main>` for a view.
pub(crate) fn render_main(store: &Store, view: &ViewQuery) -> Result<Markup> {
    let data = Data::load(store, view)?;
    let clock = &data.state["clock"];
    let frozen = clock["frozen"].as_bool() == Some(true);
    // A running clock is shown to the second and ticks in the browser (app.js), so an idle page
    // keeps the same content (and ETag) instead of changing every poll. `data-running=""` is what
    // the ETag leaves out (`etag_basis`).
    let running = (!frozen).then_some("");
    Ok(html! {
        p class="clock" {
            "App " strong { (view.app) } " · clock "
            time datetime=(data.now) data-field="clock" data-running=[running] { (clock_text(&data.now)) }
            " (" (if frozen { "frozen" } else { "running" }) ")"
        }
        "\n"
        p class="counts" data-counts {
            (plural(data.users().len(), "user")) " · "
            (plural(data.companies().len(), "company")) " · "
            (plural(data.events().len(), "event")) " · "
            (plural(data.journal.len(), "request")) " journaled"
        }
        "\n"
        @if let Some(id) = view.user {
            (user::user_view(&data, view, id))
        } @else if let Some(id) = view.company {
            (company::company_view(&data, view, id))
        } @else if let Some(name) = &view.event {
            (event::event_view(&data, view, name))
        } @else {
            (overview::overview(&data, view))
        }
    })
}

/// `2030-01-01 10:00:00 UTC` from an RFC 3339 time (seconds precision, for people).
pub(super) fn clock_text(rfc3339: &str) -> String {
    match rfc3339.get(..19) {
        Some(s) => format!("{} UTC", s.replace('T', " ")),
        None => rfc3339.to_owned(),
    }
}
