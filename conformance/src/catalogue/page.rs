//! `page`: counts page views and moves `last_seen` forward only.

use serde_json::json;

use super::inputs::instant;
use super::{one_step, Case, Ctx, Scenario, Step};
use crate::checks::user;
use crate::expect::Expect;

/// Page.
const PAGE: &str = "Sending a .page() request increments page_views counter and updates last_seen timestamp if it is newer than the existing timestamp on a user’s profile.";

/// The `page` cases, in report order.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::new("page_counts_page_views", PAGE, page_counts),
        Case::new("page_last_seen_moves_forward", PAGE, page_forward),
        Case::new("page_older_view_leaves_last_seen", PAGE, page_older),
    ]
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
            Step {
                events: vec![ctx.page(&u, first.0, first.1)],
                checks: vec![last_seen(first.0)],
            },
            Step {
                events: vec![ctx.page(&u, second.0, second.1)],
                checks: vec![
                    last_seen(last_seen_after),
                    user::field(&u, "page_views", Expect::Eq(json!(2))),
                ],
            },
        ],
        ..Scenario::default()
    }
}
