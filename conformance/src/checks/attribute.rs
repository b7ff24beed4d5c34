//! Attribute definitions, read with `GET /api/public/attributes/`.

use serde_json::Value;

use super::{fail, found_text, Evaluate, Probe};
use crate::error::Result;
use crate::expect::Expect;
use crate::report::Failure;

/// An attribute definition exists (`GET /attributes/`) with this value type; with
/// `value_type: Expect::Absent`, no definition of that name exists.
#[derive(Clone, Debug)]
pub struct Attribute {
    /// clientuser, company or event.
    pub content_type: &'static str,
    /// The attribute's `name_std`.
    pub name: String,
    /// Its `value_type`.
    pub value_type: Expect,
}

impl Evaluate for Attribute {
    async fn evaluate(&self, probe: &mut Probe<'_>) -> Result<Option<Failure>> {
        let Self {
            content_type,
            name,
            value_type,
        } = self;
        let all = probe.sim.attributes(&probe.app.api_key).await?;
        let def = all.iter().find(|a| {
            a.get("name_std").and_then(Value::as_str) == Some(name.as_str())
                && a.get("content_type").and_then(Value::as_str) == Some(*content_type)
        });
        Ok(match def {
            None if value_type.holds(None) => None,
            Some(d) if *value_type == Expect::Absent => fail(
                format!("{content_type} attribute {name}"),
                "not defined".into(),
                format!("defined: {}", found_text(Some(d))),
            ),
            None => fail(
                format!("{content_type} attribute {name}"),
                format!("defined with value_type {}", value_type.describe()),
                "not defined".into(),
            ),
            Some(d) if !value_type.holds(d.get("value_type")) => fail(
                format!("{content_type} attribute {name}: value_type"),
                value_type.describe(),
                found_text(d.get("value_type")),
            ),
            Some(_) => None,
        })
    }
}
