//! The HTML shell of the dashboard page around `<main>`: header, app selector, search, live-update
//! switch, navigation and footer.

use std::fmt::Write as _;

use super::html::esc;
use super::query::ViewQuery;
use crate::http::enc;
use crate::store::Store;

pub(crate) fn render_page(store: &Store, view: &ViewQuery, main: &str) -> String {
    let mut h = String::with_capacity(main.len() + 4096);
    let app = esc(&view.app);
    let mode = match store.app(&view.app) {
        Some(a) if a.strict() => {
            r#"<p class="mode strict" id="mode"><strong>Strict mode</strong>: REST v2 rules (undefined attributes ignored, wrong types refused, <code>Accept: */*; version=2</code> required)</p>"#
        }
        _ => {
            r#"<p class="mode" id="mode">Default mode: the destination doc's rules (undefined attributes created as string, values converted)</p>"#
        }
    };
    let _ = write!(
        h,
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>usercom-mock dashboard: {app}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/__admin/dashboard/style.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<div class="brand"><h1>usercom-mock</h1><p class="tagline">Local User.com simulator (not User.com)</p>{mode}</div>
<form class="controls" role="search" method="get" action="/">
<div class="field"><label for="app-select">App</label>
<select id="app-select" name="app">"##
    );
    for a in store.apps() {
        let name = esc(&a.name);
        let selected = if *a.name == *view.app {
            " selected"
        } else {
            ""
        };
        let _ = write!(h, r#"<option value="{name}"{selected}>{name}</option>"#);
    }
    let q = view.q.as_deref().map(esc).unwrap_or_default();
    let _ = write!(
        h,
        r##"</select></div>
<div class="field"><label for="search">Search users</label>
<input id="search" name="q" type="search" value="{q}" placeholder="custom_id or email" autocomplete="off"></div>
<button type="submit">Search</button>
</form>
<div class="live">
<button id="live-toggle" type="button" aria-pressed="true">Live updates on</button>
<p id="live-status" role="status" aria-live="polite"></p>
</div>
</header>
<nav aria-label="Sections"><ul>
<li><a href="{home}">Overview</a></li>
<li><a href="{home}#users">Users</a></li>
<li><a href="{home}#companies">Companies</a></li>
<li><a href="{home}#definitions">Definitions</a></li>
<li><a href="{home}#journal">Journal</a></li>
<li><a href="{home}#faults">Faults</a></li>
</ul></nav>
<main id="main" tabindex="-1" data-fragment="/__admin/dashboard/fragment?{query}">
{main}</main>
<footer><p>Data from the admin plane: <a href="/__admin/state?app={app_enc}">state</a>, <a href="/__admin/requests?app={app_enc}">journal</a>, <a href="/__admin/openapi.json">OpenAPI</a>. API keys are never shown.</p></footer>
<script src="/__admin/dashboard/app.js" defer></script>
</body>
</html>
"##,
        home = esc(&view.link("")),
        query = esc(&view.query_string()),
        app_enc = esc(&enc(&view.app)),
    );
    h
}
