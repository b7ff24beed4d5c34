//! Checks on one user, read with `GET /api/public/users-by-id/{id}/`.

use super::{fail, judge_field, Check, Evaluate, Probe};
use crate::error::{shorten, Result};
use crate::expect::Expect;
use crate::report::Failure;

/// `GET users-by-id/{id}/` finds (or does not find) the user.
#[derive(Clone, Debug)]
pub struct UserExists {
    /// The user's custom id.
    pub id: String,
    /// Whether it must exist.
    pub exists: bool,
}

/// A field of the user.
#[derive(Clone, Debug)]
pub struct UserField {
    /// The user's custom id.
    pub id: String,
    /// The field (top level of the REST user object).
    pub field: String,
    /// What it must be.
    pub expect: Expect,
}

/// The user `id` exists.
pub fn exists(id: &str) -> Check {
    UserExists {
        id: id.to_string(),
        exists: true,
    }
    .into()
}

/// `field` of the user `id` satisfies `expect`.
pub fn field(id: &str, field: &str, expect: Expect) -> Check {
    UserField {
        id: id.to_string(),
        field: field.to_string(),
        expect,
    }
    .into()
}

impl Evaluate for UserExists {
    async fn evaluate(&self, probe: &mut Probe<'_>) -> Result<Option<Failure>> {
        let Self { id, exists } = self;
        let user = probe.sim.user(&probe.app.api_key, id).await?;
        Ok(if user.is_some() == *exists {
            None
        } else {
            fail(
                format!("user {id}"),
                if *exists { "to exist" } else { "not to exist" }.into(),
                match user {
                    Some(u) => format!("exists: {}", shorten(&u.to_string(), 200)),
                    None => "no such user (404)".into(),
                },
            )
        })
    }
}

impl Evaluate for UserField {
    async fn evaluate(&self, probe: &mut Probe<'_>) -> Result<Option<Failure>> {
        let user = probe.sim.user(&probe.app.api_key, &self.id).await?;
        Ok(judge_field(
            "user",
            &self.id,
            &self.field,
            &self.expect,
            user,
        ))
    }
}
