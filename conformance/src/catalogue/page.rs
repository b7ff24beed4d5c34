//! `page`: counts page views and moves `last_seen` forward only.

use serde_json::json;

use super::inputs::instant;
use super::{one_step, Case, Ctx, Scenario, Step};
use crate::checks::{user, SiteViews};
use crate::expect::Expect;

/// Page.
const PAGE: &str = "Sending a .page() request increments page_views counter and updates last_seen timestamp if it is newer than the existing timestamp on a user’s profile.";

/// Page view.
const PAGE_VIEW: &str =
    "It also records a new ‘Page view’ that can be used for filtering and aggregation.";

/// The `page` cases, in report order.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::new("page_counts_page_views", PAGE, page_counts),
        Case::new("page_last_seen_moves_forward", PAGE, page_forward),
        Case::new("page_older_view_leaves_last_seen", PAGE, page_older),
        Case::new("page_records_site_view", PAGE_VIEW, page_site_view)
            .with_rule("design.md: a page view is POST /site-views/ with the page URL, title and the message's timestamp"),
        Case::new("page_site_view_url_from_context", PAGE_VIEW, page_url_from_context)
            .with_rule("design.md: the page URL from properties.url or context.page.url"),
        Case::new("page_title_falls_back_to_name", PAGE_VIEW, page_title_from_name)
            .with_rule("forwarder rule: title from properties.title, else the page name"),
        Case::new("page_without_url_skipped", PAGE_VIEW, page_without_url)
            .with_rule("forwarder rule: a page with no URL anywhere is skipped: no site view, no page view"),
        Case::new("page_path_from_the_url", PAGE_VIEW, page_path_from_url)
            .with_rule("forwarder rule: the site view's path is properties.path, else context.page.path, else the URL's own path without query or fragment (`/` when it has none)"),
        Case::new("page_details_kept_on_the_user", PAGE_VIEW, page_details)
            .with_rule("forwarder rule: the page's referrer, category and search (no site view field holds them) are kept on the user as last_page_referrer, last_page_category and last_page_search; blank ones are not written"),
    ]
}

fn page_path_from_url(ctx: &Ctx) -> Scenario {
    let cases = [
        (
            "deep",
            "https://shop.example.com/docs/intro?x=1#top",
            "/docs/intro",
        ),
        ("bare", "https://shop.example.com?ref=ad", "/"),
        ("frag", "https://shop.example.com#pricing", "/"),
        ("slash", "https://shop.example.com/", "/"),
        ("short", "http://x.io/p?q=1", "/p"),
    ];
    let mut events = Vec::new();
    let mut checks = Vec::new();
    for (name, url, path) in cases {
        let u = ctx.id(name);
        // Only properties.url: no path anywhere, so the forwarder derives it.
        events.push(ctx.message(
            "page",
            Some(&u),
            None,
            json!({"properties": {"url": url, "title": "T"}}),
        ));
        checks.push(
            SiteViews {
                user: u,
                count: 1,
                url: Some(Expect::Eq(json!(url))),
                path: Some(Expect::Eq(json!(path))),
                title: None,
                at: None,
            }
            .into(),
        );
    }
    one_step(events, checks)
}

fn page_details(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let blank = ctx.id("blank");
    let page = |user: &str, extra: serde_json::Value| {
        let mut body = json!({"category": "Docs", "properties": {"url": VIEW_URL, "title": "T"}});
        for (k, v) in extra.as_object().into_iter().flatten() {
            body["properties"][k] = v.clone();
        }
        ctx.message("page", Some(user), None, body)
    };
    one_step(
        vec![
            page(
                &u,
                json!({"referrer": "https://search.example/?q=anvil", "search": "anvil"}),
            ),
            page(&blank, json!({"referrer": "  ", "search": ""})),
        ],
        vec![
            user::field(
                &u,
                "last_page_referrer",
                Expect::Eq(json!("https://search.example/?q=anvil")),
            ),
            user::field(&u, "last_page_category", Expect::Eq(json!("Docs"))),
            user::field(&u, "last_page_search", Expect::Eq(json!("anvil"))),
            user::field(&blank, "last_page_category", Expect::Eq(json!("Docs"))),
            user::field(&blank, "last_page_referrer", Expect::Absent),
            user::field(&blank, "last_page_search", Expect::Absent),
            user::field(&blank, "page_views", Expect::Eq(json!(1))),
        ],
    )
}

const VIEW_URL: &str = "https://shop.example.com/pricing?plan=pro";

fn page_site_view(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let at = "2024-03-02T09:15:30Z";
    one_step(
        vec![ctx.page(&u, at, VIEW_URL)],
        vec![
            SiteViews {
                user: u.clone(),
                count: 1,
                url: Some(Expect::Eq(json!(VIEW_URL))),
                path: None,
                title: Some(Expect::Eq(json!("Pricing"))),
                at: Some(Expect::Instant(instant(at))),
            }
            .into(),
            user::field(&u, "page_views", Expect::Eq(json!(1))),
        ],
    )
}

fn page_url_from_context(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let url = "https://shop.example.com/from-context";
    let msg = ctx.message(
        "page",
        Some(&u),
        None,
        json!({"name": "Context", "properties": {"title": "Context"}, "context": {"page": {"url": url, "path": "/from-context"}}}),
    );
    one_step(
        vec![msg],
        vec![SiteViews {
            user: u,
            count: 1,
            url: Some(Expect::Eq(json!(url))),
            path: None,
            title: Some(Expect::Eq(json!("Context"))),
            at: None,
        }
        .into()],
    )
}

fn page_title_from_name(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let url = "https://shop.example.com/docs";
    let msg = ctx.message(
        "page",
        Some(&u),
        None,
        json!({"name": "Docs", "properties": {"url": url, "path": "/docs"}}),
    );
    one_step(
        vec![msg],
        vec![SiteViews {
            user: u,
            count: 1,
            url: Some(Expect::Eq(json!(url))),
            path: None,
            title: Some(Expect::Eq(json!("Docs"))),
            at: None,
        }
        .into()],
    )
}

fn page_without_url(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let bare = ctx.message(
        "page",
        Some(&u),
        None,
        json!({"name": "Nowhere", "properties": {"title": "Nowhere"}}),
    );
    Scenario {
        steps: vec![
            Step::new(
                vec![ctx.page(&u, "2024-03-01T10:00:00Z", VIEW_URL)],
                vec![user::field(&u, "page_views", Expect::Eq(json!(1)))],
            ),
            Step::new(
                vec![bare, ctx.page(&u, "2024-03-01T11:00:00Z", VIEW_URL)],
                vec![
                    user::field(&u, "page_views", Expect::Eq(json!(2))),
                    SiteViews {
                        user: u.clone(),
                        count: 2,
                        url: Some(Expect::Eq(json!(VIEW_URL))),
                        path: None,
                        title: None,
                        at: None,
                    }
                    .into(),
                ],
            ),
        ],
        ..Scenario::default()
    }
}

fn page_counts(ctx: &Ctx) -> Scenario {
    let u = ctx.id("u");
    let events = (1..=3)
        .map(|i| {
            ctx.page(
                &u,
                &format!("2024-03-0{i}T10:00:00Z"),
                "https://shop.example.com/a",
            )
        })
        .collect();
    one_step(
        events,
        vec![user::field(&u, "page_views", Expect::Eq(json!(3)))],
    )
}

fn page_forward(ctx: &Ctx) -> Scenario {
    two_views(
        ctx,
        ("2024-03-01T10:00:00Z", "https://shop.example.com/a"),
        ("2024-03-05T08:30:00Z", "https://shop.example.com/b"),
        "2024-03-05T08:30:00Z",
    )
}

fn page_older(ctx: &Ctx) -> Scenario {
    two_views(
        ctx,
        ("2024-03-05T08:30:00Z", "https://shop.example.com/b"),
        ("2024-02-01T00:00:00Z", "https://shop.example.com/old"),
        "2024-03-05T08:30:00Z",
    )
}

/// Two page views `(timestamp, url)`, one step each: `last_seen` is the first view's time after
/// the first step, `last_seen_after` and two views after the second.
fn two_views(
    ctx: &Ctx,
    first: (&str, &str),
    second: (&str, &str),
    last_seen_after: &str,
) -> Scenario {
    let u = ctx.id("u");
    let last_seen = |t: &str| user::field(&u, "last_seen", Expect::Instant(instant(t)));
    Scenario {
        steps: vec![
            Step::new(
                vec![ctx.page(&u, first.0, first.1)],
                vec![last_seen(first.0)],
            ),
            Step::new(
                vec![ctx.page(&u, second.0, second.1)],
                vec![
                    last_seen(last_seen_after),
                    user::field(&u, "page_views", Expect::Eq(json!(2))),
                ],
            ),
        ],
        ..Scenario::default()
    }
}
