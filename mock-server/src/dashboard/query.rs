//! What the URL asks the dashboard to show (`?app=`, `?q=`, `?user=`, `?company=`, `?event=`,
//! `?journal=`), and links to other views.

use std::collections::HashMap;

use super::{JOURNAL_DEFAULT, JOURNAL_MAX};
use crate::error::{Error, Result};
use crate::http::enc;
use crate::store::DEFAULT_APP;

/// What the URL asks to see.
#[derive(Debug, Default)]
pub(crate) struct ViewQuery {
    pub(crate) app: String,
    pub(crate) q: Option<String>,
    pub(crate) user: Option<u64>,
    pub(crate) company: Option<u64>,
    pub(crate) event: Option<String>,
    pub(crate) journal: usize,
}

impl ViewQuery {
    pub(crate) fn parse(p: &HashMap<String, String>) -> Result<Self> {
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
    pub(crate) fn query_string(&self) -> String {
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
    pub(crate) fn link(&self, extra: &str) -> String {
        let base = format!("/?app={}", enc(&self.app));
        if extra.is_empty() {
            base
        } else {
            format!("{base}&{extra}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
