//! The HTML shell of the dashboard page around `<main>`: header, app selector, search, live-update
//! switch, navigation and footer.

use maud::{html, Markup, DOCTYPE};

use super::query::ViewQuery;
use crate::http::enc;
use crate::store::Store;

/// The whole page around `main` (already rendered, and escaped, by [`super::views`]).
pub(crate) fn render_page(store: &Store, view: &ViewQuery, main: Markup) -> Markup {
    let strict = store.app(&view.app).is_some_and(|a| a.strict());
    let home = view.link("");
    let app_enc = enc(&view.app);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "usercom-mock dashboard: " (view.app) }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/__admin/dashboard/style.css";
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    div class="brand" {
                        h1 { "usercom-mock" }
                        p class="tagline" { "Local User.com simulator (not User.com)" }
                        @if strict {
                            p class="mode strict" id="mode" {
                                strong { "Strict mode" }
                                ": REST v2 rules (undefined attributes ignored, wrong types refused, "
                                code { "Accept: */*; version=2" }
                                " required)"
                            }
                        } @else {
                            p class="mode" id="mode" {
                                "Default mode: the destination doc's rules (undefined attributes created as string, values converted)"
                            }
                        }
                    }
                    form class="controls" role="search" method="get" action="/" {
                        div class="field" {
                            label for="app-select" { "App" }
                            select id="app-select" name="app" {
                                @for a in store.apps() {
                                    option value=(a.name) selected[*a.name == *view.app] { (a.name) }
                                }
                            }
                        }
                        div class="field" {
                            label for="search" { "Search users" }
                            input id="search" name="q" type="search" value=(view.q.as_deref().unwrap_or_default())
                                placeholder="custom_id or email" autocomplete="off";
                        }
                        button type="submit" { "Search" }
                    }
                    div class="live" {
                        button id="live-toggle" type="button" aria-pressed="true" { "Live updates on" }
                        p id="live-status" role="status" aria-live="polite" {}
                    }
                }
                nav aria-label="Sections" {
                    ul {
                        li { a href=(home) { "Overview" } }
                        li { a href={ (home) "#users" } { "Users" } }
                        li { a href={ (home) "#companies" } { "Companies" } }
                        li { a href={ (home) "#definitions" } { "Definitions" } }
                        li { a href={ (home) "#journal" } { "Journal" } }
                        li { a href={ (home) "#faults" } { "Faults" } }
                    }
                }
                main id="main" tabindex="-1" data-fragment={ "/__admin/dashboard/fragment?" (view.query_string()) } {
                    (main)
                }
                footer {
                    p {
                        "Data from the admin plane: "
                        a href={ "/__admin/state?app=" (app_enc) } { "state" } ", "
                        a href={ "/__admin/requests?app=" (app_enc) } { "journal" } ", "
                        a href="/__admin/openapi.json" { "OpenAPI" }
                        ". API keys are never shown."
                    }
                }
                script src="/__admin/dashboard/app.js" defer {}
            }
        }
    }
}
