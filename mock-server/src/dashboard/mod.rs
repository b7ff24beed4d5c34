//! The live web dashboard served at `GET /`.
//!
//! It is a *view* of the admin plane, not new logic: every figure on the page comes from the same
//! JSON the admin plane answers (`/__admin/state`, `/__admin/requests`, `/__admin/apps`,
//! `/__admin/clock`), rendered to plain HTML on the server. Navigation is ordinary links and a GET
//! form (`?app=`, `?q=`, `?user=ID`, `?company=ID`, `?event=NAME`, `?journal=N`), so the page works
//! without JavaScript. A small script (`app.js`, embedded with `include_str!`, no build step and
//! no external URL) polls `GET /__admin/dashboard/fragment?…` every second with `If-None-Match`
//! and swaps `<main>` only when its content changed, keeping focus; it also shows the active
//! fault-injection rules from `GET /__admin/faults` when that endpoint exists.
//!
//! Secrets: the page never shows API keys. The app list shows key *counts*, the journal's
//! `Authorization` header is already redacted by [`crate::journal`], and the page does not render
//! request headers at all.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::routes::Params;
use crate::store::{Store, DEFAULT_APP};
use crate::time::fmt_ts;

const APP_JS: &str = include_str!("app.js");
const STYLE_CSS: &str = include_str!("style.css");

/// Default and maximum number of journal entries shown (newest first).
const JOURNAL_DEFAULT: usize = 50;
const JOURNAL_MAX: usize = 2000;
/// Rows shown in the users and companies tables before "refine your search".
const TABLE_MAX: usize = 500;

/// `GET /` (the page), `GET /__admin/dashboard/fragment` (its `<main>`, for live updates) and the
/// two embedded assets.
pub(crate) fn routes() -> Router<Store> {
    Router::new()
        .route("/", get(page))
        .route("/__admin/dashboard/fragment", get(fragment))
        .route(
            "/__admin/dashboard/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/__admin/dashboard/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")],
        body,
    )
        .into_response()
}

/// What the URL asks to see.
#[derive(Debug, Default)]
struct ViewQuery {
    app: String,
    q: Option<String>,
    user: Option<u64>,
    company: Option<u64>,
    event: Option<String>,
    journal: usize,
}

impl ViewQuery {
    fn parse(p: &HashMap<String, String>) -> Result<Self> {
        let nonempty = |k: &str| {
            p.get(k)
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        let id = |k: &str| -> Result<Option<u64>> {
            nonempty(k)
                .map(|s| {
                    s.parse::<u64>()
                        .map_err(|_| Error::bad(k, format!("`{s}` is not a numeric id")))
                })
                .transpose()
        };
        let journal = match nonempty("journal") {
            None => JOURNAL_DEFAULT,
            Some(s) => s
                .parse::<usize>()
                .map_err(|_| Error::bad("journal", format!("`{s}` is not a number")))?
                .min(JOURNAL_MAX),
        };
        Ok(ViewQuery {
            app: nonempty("app").unwrap_or_else(|| DEFAULT_APP.to_owned()),
            q: nonempty("q"),
            user: id("user")?,
            company: id("company")?,
            event: nonempty("event"),
            journal,
        })
    }

    /// The query string of this view (for the fragment URL), `&`-joined and encoded.
    fn query_string(&self) -> String {
        let mut parts = vec![format!("app={}", enc(&self.app))];
        if let Some(q) = &self.q {
            parts.push(format!("q={}", enc(q)));
        }
        if let Some(u) = self.user {
            parts.push(format!("user={u}"));
        }
        if let Some(c) = self.company {
            parts.push(format!("company={c}"));
        }
        if let Some(e) = &self.event {
            parts.push(format!("event={}", enc(e)));
        }
        if self.journal != JOURNAL_DEFAULT {
            parts.push(format!("journal={}", self.journal));
        }
        parts.join("&")
    }

    /// A link to another view of the same app.
    fn link(&self, extra: &str) -> String {
        let base = format!("/?app={}", enc(&self.app));
        if extra.is_empty() {
            base
        } else {
            format!("{base}&{extra}")
        }
    }
}

/// `GET /`: the whole page. With an admin token (`--admin-token`) it is guarded like the admin
/// plane it shows (the pipeline guards `/__admin/…`, so the fragment and assets already are).
async fn page(
    State(store): State<Store>,
    Params(p): Params,
    headers: HeaderMap,
) -> Result<Response> {
    if let Err(denied) =
        crate::security::check_admin_token(store.admin_token().as_deref(), &headers)
    {
        return Ok(denied);
    }
    let view = ViewQuery::parse(&p)?;
    let main = render_main(&store, &view)?;
    let html = render_page(&store, &view, &main);
    Ok((
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response())
}

/// `GET /__admin/dashboard/fragment?…`: the inner HTML of `<main>` for the same query, with an
/// `ETag`; `If-None-Match` with the current tag answers 304, so an idle page costs one small
/// request a second.
async fn fragment(
    State(store): State<Store>,
    Params(p): Params,
    headers: HeaderMap,
) -> Result<Response> {
    let view = ViewQuery::parse(&p)?;
    let main = render_main(&store, &view)?;
    let tag = format!("\"{:016x}\"", fnv1a(etag_basis(&main).as_bytes()));
    let etag = HeaderValue::from_str(&tag).map_err(|e| Error::Internal(e.to_string()))?;
    if headers
        .get(IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == tag.as_bytes())
    {
        return Ok((StatusCode::NOT_MODIFIED, [(ETAG, etag)]).into_response());
    }
    Ok((
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (ETAG, etag),
        ],
        main,
    )
        .into_response())
}

/// The content an ETag covers: `<main>` without the value of a *running* clock (the browser ticks
/// it), so the tag changes only when data, the clock's mode or its offset changes.
fn etag_basis(main: &str) -> std::borrow::Cow<'_, str> {
    let marker = r#"data-field="clock" data-running="">"#;
    let Some(at) = main.find(marker) else {
        return main.into();
    };
    let Some(start) = main[..at].rfind("<time datetime=\"") else {
        return main.into();
    };
    let end = main[at..].find("</time>").map_or(main.len(), |e| at + e);
    format!("{}{}", &main[..start], &main[end..]).into()
}

/// `2030-01-01 10:00:00 UTC` from an RFC 3339 time (seconds precision, for people).
fn clock_text(rfc3339: &str) -> String {
    match rfc3339.get(..19) {
        Some(s) => format!("{} UTC", s.replace('T', " ")),
        None => rfc3339.to_owned(),
    }
}

/// FNV-1a, 64 bit: a cheap content tag (not a security boundary).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn render_page(store: &Store, view: &ViewQuery, main: &str) -> String {
    let mut h = String::with_capacity(main.len() + 4096);
    let app = esc(&view.app);
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
<div class="brand"><h1>usercom-mock</h1><p class="tagline">Local User.com simulator (not User.com)</p></div>
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

/// Everything the views need, read once from the admin-plane JSON.
struct Data {
    state: Value,
    journal: Vec<Value>,
    now: String,
    /// Attribute types by content type then `name_std`.
    types: HashMap<String, HashMap<String, String>>,
    apps: Vec<(String, usize)>,
}

impl Data {
    fn load(store: &Store, view: &ViewQuery) -> Result<Data> {
        let app = store.app_or_404(Some(&view.app))?;
        let state = store.state_json(Some(&view.app))?;
        let now = app.with(|d| fmt_ts(d.now()));
        // This app's requests plus the ones no app claimed (unknown or missing keys): those are
        // exactly the failures a developer looks for.
        let journal: Vec<Value> = store
            .journal_json(None)
            .into_iter()
            .filter(|e| e["app"].is_null() || e["app"].as_str() == Some(&view.app))
            .collect();
        let mut types: HashMap<String, HashMap<String, String>> = HashMap::new();
        for a in arr(&state["attributes"]) {
            types
                .entry(s(&a["content_type"]).to_owned())
                .or_default()
                .insert(s(&a["name_std"]).to_owned(), s(&a["value_type"]).to_owned());
        }
        let apps = store
            .apps()
            .iter()
            .map(|a| (a.name.to_string(), a.keys().len()))
            .collect();
        Ok(Data {
            state,
            journal,
            now,
            types,
            apps,
        })
    }

    fn users(&self) -> &[Value] {
        arr(&self.state["users"])
    }
    fn companies(&self) -> &[Value] {
        arr(&self.state["companies"])
    }
    fn events(&self) -> &[Value] {
        arr(&self.state["events"])
    }
    fn user(&self, id: u64) -> Option<&Value> {
        self.users().iter().find(|u| u["id"].as_u64() == Some(id))
    }
    fn company(&self, id: u64) -> Option<&Value> {
        self.companies()
            .iter()
            .find(|c| c["id"].as_u64() == Some(id))
    }
    /// The custom attributes of an object (keys defined for `content_type`) with their types.
    fn custom<'a>(
        &'a self,
        content_type: &str,
        obj: &'a Value,
    ) -> Vec<(&'a str, &'a Value, &'a str)> {
        let Some(types) = self.types.get(content_type) else {
            return vec![];
        };
        let mut out: Vec<_> = obj
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| types.get(k).map(|t| (k.as_str(), v, t.as_str())))
            .collect();
        out.sort_by_key(|(k, _, _)| *k);
        out
    }
    fn event_type(&self, key: &str) -> &str {
        self.types
            .get("event")
            .and_then(|t| t.get(key))
            .map_or("?", String::as_str)
    }
}

/// The inner HTML of `<main>` for a view.
fn render_main(store: &Store, view: &ViewQuery) -> Result<String> {
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
        user_view(&mut h, &data, view, id);
    } else if let Some(id) = view.company {
        company_view(&mut h, &data, view, id);
    } else if let Some(name) = &view.event {
        event_view(&mut h, &data, view, name);
    } else {
        overview(&mut h, &data, view);
    }
    Ok(h)
}

fn overview(h: &mut String, data: &Data, view: &ViewQuery) {
    // Apps.
    h.push_str(r#"<section aria-labelledby="apps-h"><h2 id="apps-h">Apps</h2>"#);
    table_open(
        h,
        "Apps and their number of API keys (the keys are not shown)",
        &["App", "API keys"],
    );
    for (name, keys) in &data.apps {
        let _ = write!(
            h,
            r#"<tr><th scope="row"><a href="/?app={}">{}</a></th><td>{keys}</td></tr>"#,
            esc(&enc(name)),
            esc(name)
        );
    }
    table_close(h);
    h.push_str("</section>\n");

    // Users (optionally filtered by the search).
    let users: Vec<&Value> = data
        .users()
        .iter()
        .filter(|u| match &view.q {
            None => true,
            Some(q) => {
                let q = q.to_lowercase();
                [&u["custom_id"], &u["email"]]
                    .iter()
                    .any(|f| f.as_str().is_some_and(|v| v.to_lowercase().contains(&q)))
            }
        })
        .collect();
    let _ = write!(
        h,
        r#"<section aria-labelledby="users-h"><h2 id="users-h"><span id="users">Users</span></h2>"#
    );
    if let Some(q) = &view.q {
        let _ = write!(
            h,
            r#"<p>{} user{} matching <q>{}</q> by custom_id or email. <a href="{}">Clear the search</a></p>"#,
            users.len(),
            if users.len() == 1 { "" } else { "s" },
            esc(q),
            esc(&view.link(""))
        );
    }
    if users.is_empty() {
        h.push_str("<p class=\"empty\">No users.</p>");
    } else {
        users_table(h, data, view, &users);
    }
    h.push_str("</section>\n");

    // Companies.
    h.push_str(r#"<section aria-labelledby="companies-h"><h2 id="companies-h"><span id="companies">Companies</span></h2>"#);
    if data.companies().is_empty() {
        h.push_str("<p class=\"empty\">No companies.</p>");
    } else {
        table_open(
            h,
            "Companies with their members",
            &["Company", "custom_id", "Members", "Custom attributes"],
        );
        for c in data.companies().iter().take(TABLE_MAX) {
            let _ = write!(
                h,
                r#"<tr data-company="{cid}"><th scope="row"><a href="{link}">{name}</a></th><td>{cid}</td><td>"#,
                cid = esc(s(&c["custom_id"])),
                link = esc(&view.link(&format!("company={}", c["id"]))),
                name = esc(&company_label(c)),
            );
            members_inline(h, data, view, c);
            h.push_str("</td><td>");
            attrs_inline(h, &data.custom("company", c));
            h.push_str("</td></tr>");
        }
        table_close(h);
    }
    h.push_str("</section>\n");

    definitions(h, data, view);
    journal(h, data, view);
    h.push_str(
        r#"<section aria-labelledby="faults-h"><h2 id="faults-h"><span id="faults">Active faults</span></h2><div id="faults-body" data-faults><p class="empty">Fault rules are loaded from <a href="/__admin/faults">/__admin/faults</a> by the page script.</p></div></section>
"#,
    );
}

fn users_table(h: &mut String, data: &Data, view: &ViewQuery, users: &[&Value]) {
    table_open(
        h,
        "Users: custom_id, email, name, page views, last seen, custom attributes with their types, companies and events",
        &[
            "custom_id",
            "Email",
            "Name",
            "Page views",
            "Last seen",
            "Custom attributes",
            "Companies",
            "Events",
        ],
    );
    for u in users.iter().take(TABLE_MAX) {
        let id = u["id"].as_u64().unwrap_or_default();
        let events = data
            .events()
            .iter()
            .filter(|e| e["user_id"].as_u64() == Some(id))
            .count();
        let _ = write!(
            h,
            r#"<tr data-user="{cid}"><th scope="row"><a href="{link}">{label}</a></th><td>{email}</td><td>{name}</td><td class="num" data-field="page_views">{pv}</td><td>{seen}</td><td>"#,
            cid = esc(s(&u["custom_id"])),
            link = esc(&view.link(&format!("user={id}"))),
            label = esc(&user_label(u)),
            email = opt(&u["email"]),
            name = opt(&u["name"]),
            pv = u["page_views"].as_u64().unwrap_or_default(),
            seen = time_cell(&u["last_seen"]),
        );
        attrs_inline(h, &data.custom("clientuser", u));
        h.push_str("</td><td>");
        companies_inline(h, view, u);
        let _ = write!(
            h,
            r##"</td><td class="num"><a href="{}#events" data-field="events">{events}</a></td></tr>"##,
            esc(&view.link(&format!("user={id}")))
        );
    }
    table_close(h);
    if users.len() > TABLE_MAX {
        let _ = write!(
            h,
            "<p>Showing the first {TABLE_MAX} of {} users: search to narrow down.</p>",
            users.len()
        );
    }
}

fn definitions(h: &mut String, data: &Data, view: &ViewQuery) {
    h.push_str(r#"<section aria-labelledby="defs-h"><h2 id="defs-h"><span id="definitions">Definitions</span></h2>"#);
    h.push_str(r#"<h3 id="attrs-h">Attribute definitions</h3>"#);
    let attrs = arr(&data.state["attributes"]);
    if attrs.is_empty() {
        h.push_str("<p class=\"empty\">No attribute definitions.</p>");
    } else {
        table_open(
            h,
            "Attribute definitions with their types",
            &["name_std", "Name", "Belongs to", "Type", "Choices"],
        );
        for a in attrs {
            let choices: Vec<&str> = arr(&a["choices"]).iter().map(s).collect();
            let _ = write!(
                h,
                r#"<tr><th scope="row"><code>{}</code></th><td>{}</td><td>{}</td><td><span class="type">{}</span></td><td>{}</td></tr>"#,
                esc(s(&a["name_std"])),
                esc(s(&a["name"])),
                esc(content_label(s(&a["content_type"]))),
                esc(s(&a["value_type"])),
                esc(&choices.join(", ")),
            );
        }
        table_close(h);
    }
    h.push_str(r#"<h3 id="evdefs-h">Event definitions</h3>"#);
    let defs = arr(&data.state["event_definitions"]);
    if defs.is_empty() {
        h.push_str("<p class=\"empty\">No events yet.</p>");
    } else {
        table_open(
            h,
            "Event definitions: occurrences and the data attributes used, with their types",
            &["Event", "Occurrences", "Data attributes (type)"],
        );
        for d in defs {
            let name = s(&d["name"]);
            let occ: Vec<&Value> = data
                .events()
                .iter()
                .filter(|e| s(&e["name"]) == name)
                .collect();
            let mut keys: BTreeMap<&str, &str> = BTreeMap::new();
            for e in &occ {
                for k in e["data"].as_object().into_iter().flatten().map(|(k, _)| k) {
                    keys.insert(k, data.event_type(k));
                }
            }
            let keys: Vec<String> = keys.iter().map(|(k, t)| format!("{k} ({t})")).collect();
            let _ = write!(
                h,
                r#"<tr data-event="{n}"><th scope="row"><a href="{link}">{n}</a></th><td class="num">{}</td><td>{}</td></tr>"#,
                occ.len(),
                esc(&keys.join(", ")),
                n = esc(name),
                link = esc(&view.link(&format!("event={}", enc(name)))),
            );
        }
        table_close(h);
    }
    h.push_str("</section>\n");
}

fn journal(h: &mut String, data: &Data, view: &ViewQuery) {
    h.push_str(r#"<section aria-labelledby="journal-h"><h2 id="journal-h"><span id="journal">Request journal</span></h2>"#);
    let entries: Vec<&Value> = data.journal.iter().rev().take(view.journal).collect();
    if entries.is_empty() {
        h.push_str("<p class=\"empty\">No requests yet.</p></section>\n");
        return;
    }
    let _ = write!(
        h,
        r#"<p>Newest first; {} of {} shown. Rows with <span class="badge note">notes</span> had attributes dropped or fields ignored; <span class="badge fault">fault</span> rows were answered by fault injection.</p>"#,
        entries.len(),
        data.journal.len()
    );
    table_open(
        h,
        "Request journal, newest first",
        &["#", "Time", "Request", "Status", "Notes"],
    );
    for e in &entries {
        let notes: Vec<&str> = arr(&e["notes"]).iter().map(s).collect();
        let fault = e.get("fault").filter(|f| !f.is_null());
        let status = e["status"].as_u64().unwrap_or_default();
        let mut class = vec![];
        if !notes.is_empty() {
            class.push("has-notes");
        }
        if fault.is_some() {
            class.push("has-fault");
        }
        let query = e["query"]
            .as_str()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        let _ = write!(
            h,
            r#"<tr class="{cls}"><th scope="row">{seq}</th><td>{at}</td><td><code>{m} {path}{query}</code>"#,
            cls = class.join(" "),
            seq = e["seq"],
            at = time_cell(&e["at"]),
            m = esc(s(&e["method"])),
            path = esc(s(&e["path"])),
            query = esc(&query),
        );
        if !e["body"].is_null() {
            let body = serde_json::to_string_pretty(&e["body"]).unwrap_or_default();
            let _ = write!(
                h,
                "<details><summary>body</summary><pre>{}</pre></details>",
                esc(&truncate(&body, 4000))
            );
        }
        let _ = write!(
            h,
            r#"</td><td class="status s{}">{status}</td><td>"#,
            status / 100
        );
        for n in &notes {
            let _ = write!(h, r#"<mark class="note">{}</mark> "#, esc(n));
        }
        if let Some(f) = fault {
            let _ = write!(
                h,
                r#"<mark class="fault">fault: <code>{}</code></mark>"#,
                esc(&f.to_string())
            );
        }
        h.push_str("</td></tr>");
    }
    table_close(h);
    if data.journal.len() > entries.len() {
        let more = (view.journal * 4).min(JOURNAL_MAX);
        let _ = write!(
            h,
            r##"<p><a href="{}#journal">Show up to {more} entries</a></p>"##,
            esc(&view.link(&format!("journal={more}")))
        );
    }
    h.push_str("</section>\n");
}

fn user_view(h: &mut String, data: &Data, view: &ViewQuery, id: u64) {
    back(h, view);
    let Some(u) = data.user(id) else {
        let _ = write!(h, "<h2>No user with id {id} in this app</h2>");
        return;
    };
    let _ = write!(
        h,
        r#"<article data-user="{cid}" aria-labelledby="user-h"><h2 id="user-h">User {label}</h2>"#,
        cid = esc(s(&u["custom_id"])),
        label = esc(&user_label(u)),
    );
    // Standard fields: everything that is set and is not a custom attribute or a list shown below.
    let custom = data.custom("clientuser", u);
    let skip = ["companies", "tags", "lists"];
    h.push_str(r#"<h3 id="fields-h">Fields</h3><dl class="fields">"#);
    for (k, v) in u.as_object().into_iter().flatten() {
        if v.is_null() || skip.contains(&k.as_str()) || custom.iter().any(|(c, _, _)| c == k) {
            continue;
        }
        let _ = write!(
            h,
            r#"<div><dt>{}</dt><dd data-field="{}">{}</dd></div>"#,
            esc(k),
            esc(k),
            value(v)
        );
    }
    h.push_str("</dl>");
    h.push_str(r#"<h3 id="custom-h">Custom attributes</h3>"#);
    attrs_table(
        h,
        &custom,
        "Custom attributes of this user with their types",
    );
    h.push_str(r#"<h3 id="companies-h2">Companies</h3>"#);
    let companies = arr(&u["companies"]);
    if companies.is_empty() {
        h.push_str("<p class=\"empty\">Not a member of any company.</p>");
    } else {
        table_open(h, "Companies of this user", &["Company", "Member since"]);
        for c in companies {
            let _ = write!(
                h,
                r#"<tr><th scope="row"><a href="{}">{}</a></th><td>{}</td></tr>"#,
                esc(&view.link(&format!("company={}", c["id"]))),
                esc(&opt_text(&c["name"], &format!("company {}", c["id"]))),
                time_cell(&c["member_since"]),
            );
        }
        table_close(h);
    }
    h.push_str(r#"<h3 id="events">Events</h3>"#);
    let events: Vec<&Value> = data
        .events()
        .iter()
        .filter(|e| e["user_id"].as_u64() == Some(id))
        .rev()
        .collect();
    events_table(h, data, view, &events, false);
    h.push_str(r#"<h3 id="views-h">Site views</h3>"#);
    let views: Vec<&Value> = arr(&data.state["site_views"])
        .iter()
        .filter(|v| v["user_id"].as_u64() == Some(id))
        .rev()
        .collect();
    if views.is_empty() {
        h.push_str("<p class=\"empty\">No site views.</p>");
    } else {
        table_open(
            h,
            "Site views of this user, newest first",
            &["#", "Time", "Page", "Title"],
        );
        for v in views.iter().take(TABLE_MAX) {
            let _ = write!(
                h,
                r#"<tr><th scope="row">{}</th><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                v["id"],
                time_cell(&v["timestamp"]),
                esc(&format!("{}{}", s(&v["page_domain"]), s(&v["page_path"]))),
                opt(&v["title"]),
            );
        }
        table_close(h);
    }
    h.push_str("</article>\n");
}

fn company_view(h: &mut String, data: &Data, view: &ViewQuery, id: u64) {
    back(h, view);
    let Some(c) = data.company(id) else {
        let _ = write!(h, "<h2>No company with id {id} in this app</h2>");
        return;
    };
    let _ = write!(
        h,
        r#"<article data-company="{}" aria-labelledby="company-h"><h2 id="company-h">Company {}</h2><dl class="fields">"#,
        esc(s(&c["custom_id"])),
        esc(&company_label(c))
    );
    let custom = data.custom("company", c);
    for (k, v) in c.as_object().into_iter().flatten() {
        if v.is_null() || k == "employees" || custom.iter().any(|(n, _, _)| n == k) {
            continue;
        }
        let _ = write!(h, "<div><dt>{}</dt><dd>{}</dd></div>", esc(k), value(v));
    }
    h.push_str(r#"</dl><h3 id="custom-h">Custom attributes</h3>"#);
    attrs_table(
        h,
        &custom,
        "Custom attributes of this company with their types",
    );
    h.push_str(r#"<h3 id="members-h">Members</h3>"#);
    let members = arr(&c["employees"]);
    if members.is_empty() {
        h.push_str("<p class=\"empty\">No members.</p>");
    } else {
        table_open(
            h,
            "Members of this company",
            &["User", "Email", "Page views", "Member since"],
        );
        for m in members {
            let Some(u) = m.as_u64().and_then(|id| data.user(id)) else {
                continue;
            };
            let since = arr(&u["companies"])
                .iter()
                .find(|x| x["id"] == c["id"])
                .map(|x| x["member_since"].clone())
                .unwrap_or(Value::Null);
            let _ = write!(
                h,
                r#"<tr><th scope="row"><a href="{}">{}</a></th><td>{}</td><td class="num">{}</td><td>{}</td></tr>"#,
                esc(&view.link(&format!("user={}", u["id"]))),
                esc(&user_label(u)),
                opt(&u["email"]),
                u["page_views"].as_u64().unwrap_or_default(),
                time_cell(&since),
            );
        }
        table_close(h);
    }
    h.push_str("</article>\n");
}

fn event_view(h: &mut String, data: &Data, view: &ViewQuery, name: &str) {
    back(h, view);
    let _ = write!(
        h,
        r#"<article aria-labelledby="event-h"><h2 id="event-h">Event <q>{}</q></h2>"#,
        esc(name)
    );
    let events: Vec<&Value> = data
        .events()
        .iter()
        .filter(|e| s(&e["name"]) == name)
        .rev()
        .collect();
    events_table(h, data, view, &events, true);
    h.push_str("</article>\n");
}

fn events_table(h: &mut String, data: &Data, view: &ViewQuery, events: &[&Value], with_user: bool) {
    if events.is_empty() {
        h.push_str("<p class=\"empty\">No events.</p>");
        return;
    }
    let mut cols = vec!["#", "Event", "Time"];
    if with_user {
        cols.push("User");
    }
    cols.push("Data (type)");
    table_open(h, "Event occurrences, newest first", &cols);
    for e in events.iter().take(TABLE_MAX) {
        let name = s(&e["name"]);
        let _ = write!(
            h,
            r#"<tr data-event="{n}"><th scope="row">{id}</th><td><a href="{link}">{n}</a></td><td>{t}</td>"#,
            id = e["id"],
            n = esc(name),
            link = esc(&view.link(&format!("event={}", enc(name)))),
            t = time_cell(&e["timestamp"]),
        );
        if with_user {
            let uid = e["user_id"].as_u64().unwrap_or_default();
            let label = data
                .user(uid)
                .map(user_label)
                .unwrap_or_else(|| format!("user {uid}"));
            let _ = write!(
                h,
                r#"<td><a href="{}">{}</a></td>"#,
                esc(&view.link(&format!("user={uid}"))),
                esc(&label)
            );
        }
        h.push_str("<td>");
        let attrs: Vec<(&str, &Value, &str)> = e["data"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v, data.event_type(k)))
            .collect();
        attrs_inline(h, &attrs);
        h.push_str("</td></tr>");
    }
    table_close(h);
}

// ----- small rendering helpers ------------------------------------------------------------------

fn back(h: &mut String, view: &ViewQuery) {
    let _ = write!(
        h,
        r#"<p><a href="{}">← Back to the overview</a></p>"#,
        esc(&view.link(""))
    );
}

fn table_open(h: &mut String, caption: &str, cols: &[&str]) {
    // The wrapper scrolls horizontally on narrow windows; it is focusable so keyboard users can
    // scroll it too.
    let _ = write!(
        h,
        r#"<div class="table-wrap" role="region" aria-label="{c}" tabindex="0"><table><caption>{c}</caption><thead><tr>"#,
        c = esc(caption)
    );
    for c in cols {
        let _ = write!(h, r#"<th scope="col">{}</th>"#, esc(c));
    }
    h.push_str("</tr></thead><tbody>");
}

fn table_close(h: &mut String) {
    h.push_str("</tbody></table></div>");
}

fn attrs_table(h: &mut String, attrs: &[(&str, &Value, &str)], caption: &str) {
    if attrs.is_empty() {
        h.push_str("<p class=\"empty\">None.</p>");
        return;
    }
    table_open(h, caption, &["Attribute", "Value", "Type"]);
    for (k, v, t) in attrs {
        let _ = write!(
            h,
            r#"<tr><th scope="row"><code>{}</code></th><td data-attr="{}">{}</td><td><span class="type">{}</span></td></tr>"#,
            esc(k),
            esc(k),
            value(v),
            esc(t)
        );
    }
    table_close(h);
}

fn attrs_inline(h: &mut String, attrs: &[(&str, &Value, &str)]) {
    if attrs.is_empty() {
        h.push_str(r#"<span class="muted">none</span>"#);
        return;
    }
    h.push_str(r#"<ul class="attrs">"#);
    for (k, v, t) in attrs {
        let _ = write!(
            h,
            r#"<li><code>{}</code>: {} <span class="type">{}</span></li>"#,
            esc(k),
            value(v),
            esc(t)
        );
    }
    h.push_str("</ul>");
}

fn companies_inline(h: &mut String, view: &ViewQuery, u: &Value) {
    let cs = arr(&u["companies"]);
    if cs.is_empty() {
        h.push_str(r#"<span class="muted">none</span>"#);
        return;
    }
    let links: Vec<String> = cs
        .iter()
        .map(|c| {
            format!(
                r#"<a href="{}">{}</a>"#,
                esc(&view.link(&format!("company={}", c["id"]))),
                esc(&opt_text(&c["name"], &format!("company {}", c["id"])))
            )
        })
        .collect();
    h.push_str(&links.join(", "));
}

fn members_inline(h: &mut String, data: &Data, view: &ViewQuery, c: &Value) {
    let ms = arr(&c["employees"]);
    if ms.is_empty() {
        h.push_str(r#"<span class="muted">none</span>"#);
        return;
    }
    let links: Vec<String> = ms
        .iter()
        .filter_map(|m| m.as_u64())
        .map(|id| {
            let label = data
                .user(id)
                .map(user_label)
                .unwrap_or_else(|| format!("user {id}"));
            format!(
                r#"<a href="{}">{}</a>"#,
                esc(&view.link(&format!("user={id}"))),
                esc(&label)
            )
        })
        .collect();
    h.push_str(&links.join(", "));
}

fn user_label(u: &Value) -> String {
    match (u["custom_id"].as_str(), u["email"].as_str()) {
        (Some(c), _) => c.to_owned(),
        (None, Some(e)) if !e.is_empty() => e.to_owned(),
        _ => format!("#{} (no custom_id)", u["id"]),
    }
}

fn company_label(c: &Value) -> String {
    opt_text(
        &c["name"],
        &opt_text(&c["custom_id"], &format!("#{}", c["id"])),
    )
}

fn content_label(ct: &str) -> &str {
    match ct {
        "clientuser" => "user (clientuser)",
        other => other,
    }
}

/// `1 user`, `2 users`, `2 companies`.
fn plural(n: usize, word: &str) -> String {
    match (n, word.strip_suffix('y')) {
        (1, _) => format!("1 {word}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {word}s"),
    }
}

fn opt_text(v: &Value, fallback: &str) -> String {
    v.as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or(fallback)
        .to_owned()
}

/// A cell value: strings as text, `null` as a dash, everything else as its JSON.
fn value(v: &Value) -> String {
    match v {
        Value::Null => r#"<span class="muted">–</span>"#.to_owned(),
        Value::String(s) => esc(&truncate(s, 500)),
        Value::Bool(_) | Value::Number(_) => esc(&v.to_string()),
        other => format!("<code>{}</code>", esc(&truncate(&other.to_string(), 500))),
    }
}

fn opt(v: &Value) -> String {
    value(v)
}

fn time_cell(v: &Value) -> String {
    match v.as_str() {
        Some(t) => format!(r#"<time datetime="{t}">{t}</time>"#, t = esc(t)),
        None => value(v),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn arr(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// HTML-escape text for element content and double-quoted attributes.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encode a query value.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_attribute_quotes() {
        assert_eq!(
            esc(r#"<script>"x" & 'y'</script>"#),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(enc("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn view_query_rejects_non_numeric_ids_and_caps_the_journal() {
        let q = |pairs: &[(&str, &str)]| {
            ViewQuery::parse(
                &pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )
        };
        assert!(q(&[("user", "abc")]).is_err());
        let v = q(&[("journal", "999999"), ("q", "  ")]).unwrap();
        assert_eq!(v.journal, JOURNAL_MAX);
        assert_eq!(v.q, None);
        assert_eq!(v.app, DEFAULT_APP);
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("ééé", 3), "é…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
