//! Checks on one company: `GET /api/public/companies-by-id/{id}/` and `GET /companies/`.

use serde_json::Value;

use super::{fail, judge_field, Check, Evaluate, Probe};
use crate::error::Result;
use crate::expect::Expect;
use crate::report::Failure;

/// A field of the company found by `GET companies-by-id/{id}/`.
#[derive(Clone, Debug)]
pub struct CompanyField {
    /// The company's custom id (the groupId).
    pub id: String,
    /// The field.
    pub field: String,
    /// What it must be.
    pub expect: Expect,
}

/// Exactly one company with that custom id in `GET /companies/`.
#[derive(Clone, Debug)]
pub struct CompanyUnique {
    /// The company's custom id.
    pub id: String,
}

/// `field` of the company `id` satisfies `expect`.
pub fn field(id: &str, field: &str, expect: Expect) -> Check {
    CompanyField {
        id: id.to_string(),
        field: field.to_string(),
        expect,
    }
    .into()
}

impl Evaluate for CompanyField {
    async fn evaluate(&self, probe: &mut Probe<'_>) -> Result<Option<Failure>> {
        let company = probe.sim.company(&probe.app.api_key, &self.id).await?;
        Ok(judge_field(
            "company",
            &self.id,
            &self.field,
            &self.expect,
            company,
        ))
    }
}

impl Evaluate for CompanyUnique {
    async fn evaluate(&self, probe: &mut Probe<'_>) -> Result<Option<Failure>> {
        let id = &self.id;
        let all = probe.sim.companies(&probe.app.api_key).await?;
        let n = all
            .iter()
            .filter(|c| c.get("custom_id").and_then(Value::as_str) == Some(id.as_str()))
            .count();
        Ok(if n == 1 {
            None
        } else {
            fail(
                format!("companies with custom_id {id}"),
                "exactly 1".into(),
                n.to_string(),
            )
        })
    }
}
