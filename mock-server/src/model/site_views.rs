//! Site views (page views): stored, and counted on their user (`page_views`, `first_seen`,
//! `last_seen`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppData;

/// One site view (page view).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteView {
    /// Sequential per app.
    pub id: u64,
    /// Internal user id.
    pub user_id: u64,
    /// View time.
    pub timestamp: DateTime<Utc>,
    /// The page URL (`page_domain` carries the full URL in User.com's API).
    pub page_domain: Box<str>,
    /// The path.
    pub page_path: Box<str>,
    /// The title, when sent.
    pub title: Option<Box<str>>,
}

impl AppData {
    /// `POST /site-views/`: count the view, move `last_seen` forward only, set `first_seen` once.
    pub fn record_site_view(
        &mut self,
        user_id: u64,
        at: DateTime<Utc>,
        page_domain: &str,
        page_path: &str,
        title: Option<&str>,
    ) -> u64 {
        self.ids.site_view += 1;
        let id = self.ids.site_view;
        if let Some(u) = self.users.get_mut(&user_id) {
            u.page_views += 1;
            if u.last_seen.is_none_or(|t| at > t) {
                u.last_seen = Some(at);
            }
            if u.first_seen.is_none() {
                u.first_seen = Some(at);
            }
        }
        self.site_views.push(SiteView {
            id,
            user_id,
            timestamp: at,
            page_domain: page_domain.into(),
            page_path: page_path.into(),
            title: title.map(Into::into),
        });
        id
    }
}
