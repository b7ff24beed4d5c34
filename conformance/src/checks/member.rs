//! Membership of a user in a company, seen from either side.

use serde_json::Value;

use super::{fail, found_text, Evaluate, Probe};
use crate::error::Result;
use crate::expect::json_eq;
use crate::report::Failure;

/// The user is a member of the company: the company's `employees` holds the user's id, or the
/// user's `companies` holds the company's id.
#[derive(Clone, Debug)]
pub struct Member {
    /// The user's custom id.
    pub user: String,
    /// The company's custom id.
    pub company: String,
}

/// True when `list` (an array of ids or of objects with an `id`) holds `id`.
fn holds_id(list: Option<&Value>, id: &Value) -> bool {
    list.and_then(Value::as_array).is_some_and(|a| {
        a.iter()
            .any(|e| json_eq(e, id) || e.get("id").is_some_and(|x| json_eq(x, id)))
    })
}

impl Evaluate for Member {
    async fn evaluate(&self, probe: &mut Probe<'_>) -> Result<Option<Failure>> {
        let Self { user, company } = self;
        let key = &probe.app.api_key;
        let u = probe.sim.user(key, user).await?;
        let c = probe.sim.company(key, company).await?;
        Ok(match (u, c) {
            (Some(u), Some(c)) => {
                let uid = u.get("id").cloned().unwrap_or(Value::Null);
                let cid = c.get("id").cloned().unwrap_or(Value::Null);
                let in_company = holds_id(c.get("employees"), &uid);
                let in_user = holds_id(u.get("companies"), &cid);
                if in_company || in_user {
                    None
                } else {
                    fail(
                        format!("user {user} member of company {company}"),
                        format!("company employees to hold user id {uid}, or user companies to hold company id {cid}"),
                        format!(
                            "employees {}, user companies {}",
                            found_text(c.get("employees")),
                            found_text(u.get("companies"))
                        ),
                    )
                }
            }
            (u, c) => fail(
                format!("user {user} member of company {company}"),
                "both to exist".into(),
                format!(
                    "user {}, company {}",
                    if u.is_some() {
                        "exists"
                    } else {
                        "missing (404)"
                    },
                    if c.is_some() {
                        "exists"
                    } else {
                        "missing (404)"
                    }
                ),
            ),
        })
    }
}
