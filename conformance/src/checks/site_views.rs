//! A user's site views ("It also records a new ‘Page view’"). The REST API has no read of site
//! views, so they are read from the simulator's state dump (`GET /__admin/state?app=NAME`),
//! filtered by the user's internal id (from `GET users-by-id/{id}/`). This works in both modes:
//! the harness always starts the simulator itself.

use serde_json::Value;

use super::{fail, found_text, Evaluate, Probe};
use crate::error::Result;
use crate::expect::Expect;
use crate::report::Failure;

/// The user's site views: how many, and the URL, path, title and time of the last one recorded.
#[derive(Clone, Debug)]
pub struct SiteViews {
    /// The user's custom id.
    pub user: String,
    /// How many site views the user has.
    pub count: usize,
    /// The last view's full URL (`page_domain`), when checked.
    pub url: Option<Expect>,
    /// The last view's `page_path`, when checked.
    pub path: Option<Expect>,
    /// The last view's `title`, when checked.
    pub title: Option<Expect>,
    /// The last view's `timestamp`, when checked.
    pub at: Option<Expect>,
}

impl Evaluate for SiteViews {
    async fn evaluate(&self, probe: &mut Probe<'_>) -> Result<Option<Failure>> {
        let user = &self.user;
        let views = probe
            .sim
            .site_views(&probe.app.name, &probe.app.api_key, user)
            .await?;
        if views.len() != self.count {
            return Ok(fail(
                format!("user {user}: site views"),
                self.count.to_string(),
                format!(
                    "{} (page_domain of each: {:?})",
                    views.len(),
                    views
                        .iter()
                        .map(|v| found_text(v.get("page_domain")))
                        .collect::<Vec<_>>()
                ),
            ));
        }
        let last = views.last();
        for (field, expect) in [
            ("page_domain", &self.url),
            ("page_path", &self.path),
            ("title", &self.title),
            ("timestamp", &self.at),
        ] {
            let Some(expect) = expect else { continue };
            let v = last.and_then(|l| l.get(field));
            if !expect.holds(v) {
                return Ok(fail(
                    format!("user {user}: last site view {field}"),
                    expect.describe(),
                    format!("{} (view: {})", found_text(v), found_text(last)),
                ));
            }
        }
        Ok(None)
    }
}

/// The site views of a state dump that belong to the user with internal id `id`, in id order.
pub(crate) fn views_of(state: &Value, id: &Value) -> Vec<Value> {
    let all = state
        .get("site_views")
        .map(|v| match v {
            Value::Array(a) => a.clone(),
            Value::Object(o) => o.values().cloned().collect(),
            _ => Vec::new(),
        })
        .unwrap_or_default();
    let mut mine: Vec<Value> = all
        .into_iter()
        .filter(|v| {
            v.get("user_id")
                .is_some_and(|u| crate::expect::json_eq(u, id))
        })
        .collect();
    mine.sort_by_key(|v| v.get("id").and_then(Value::as_u64).unwrap_or(0));
    mine
}
