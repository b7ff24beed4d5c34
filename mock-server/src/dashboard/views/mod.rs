//! The views of `<main>`: the overview (apps, users, companies, definitions, journal, faults)
//! and the detail views of one user, company or event. One file per view.

use std::fmt::Write as _;

use super::data::Data;
use super::html::{esc, plural};
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
pub(crate) fn render_main(store: &Store, view: &ViewQuery) -> Result<String> {
    let data = Data::load(store, view)?;
    let mut h = String::with_capacity(16 * 1024);
    let clock = &data.state["clock"];
    let frozen = clock["frozen"].as_bool() == Some(true);
    // A running clock is shown to the second and ticks in the browser (app.js), so an idle page
    // keeps the same content (and ETag) instead of changing every poll.
    let _ = write!(
        h,
        r#"<p class="clock">App <strong>{app}</strong> · clock <time datetime="{now}" data-field="clock"{running}>{shown}</time> ({mode})</p>
<p class="counts" data-counts>{users} · {companies} · {events} · {requests} journaled</p>
"#,
        app = esc(&view.app),
        now = esc(&data.now),
        running = if frozen { "" } else { r#" data-running="""# },
        shown = esc(&clock_text(&data.now)),
        mode = if frozen { "frozen" } else { "running" },
        users = plural(data.users().len(), "user"),
        companies = plural(data.companies().len(), "company"),
        events = plural(data.events().len(), "event"),
        requests = plural(data.journal.len(), "request"),
    );
    if let Some(id) = view.user {
        user::user_view(&mut h, &data, view, id);
    } else if let Some(id) = view.company {
        company::company_view(&mut h, &data, view, id);
    } else if let Some(name) = &view.event {
        event::event_view(&mut h, &data, view, name);
    } else {
        overview::overview(&mut h, &data, view);
    }
    Ok(h)
}

/// `2030-01-01 10:00:00 UTC` from an RFC 3339 time (seconds precision, for people).
pub(super) fn clock_text(rfc3339: &str) -> String {
    match rfc3339.get(..19) {
        Some(s) => format!("{} UTC", s.replace('T', " ")),
        None => rfc3339.to_owned(),
    }
}
