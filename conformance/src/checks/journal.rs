//! The simulator's request journal (`GET /__admin/requests`): how often it answered a status
//! during a step, which is how "nothing is retried forever" is checked.

use serde_json::Value;

use super::{fail, Evaluate, Probe};
use crate::error::Result;
use crate::report::Failure;
use crate::sim::Sim;

/// The simulator answered `status` between `at_least` and `at_most` times during the step
/// (read from its request journal): "nothing is retried forever".
#[derive(Clone, Debug)]
pub struct Answered {
    /// The status code.
    pub status: u16,
    /// At least this many times.
    pub at_least: usize,
    /// At most this many times.
    pub at_most: usize,
}

impl Evaluate for Answered {
    async fn evaluate(&self, probe: &mut Probe<'_>) -> Result<Option<Failure>> {
        let Self {
            status,
            at_least,
            at_most,
        } = self;
        let journal = probe.sim.journal_all().await?;
        let since = probe.journal_mark.unwrap_or(0);
        let n = journal
            .iter()
            .filter(|e| journal_seq(e).is_some_and(|s| s > since))
            .filter(|e| match e.get("app") {
                Some(Value::String(a)) => *a == probe.app.name,
                // Unattributed: a request with an unknown or revoked key.
                _ => true,
            })
            .filter(|e| journal_status(e) == Some(*status))
            .count();
        Ok(if n >= *at_least && n <= *at_most {
            None
        } else {
            let range = if at_least == at_most {
                format!("exactly {at_least}")
            } else {
                format!("between {at_least} and {at_most}")
            };
            fail(
                format!("simulator responses with status {status} during the step"),
                range,
                n.to_string(),
            )
        })
    }

    fn needs_journal_mark(&self) -> bool {
        true
    }
}

/// The journal's last sequence number now (0 when empty). The whole journal is read because
/// the simulator files requests made with a revoked key under no app.
pub(crate) async fn journal_mark(sim: &Sim) -> Result<u64> {
    Ok(sim
        .journal_all()
        .await?
        .iter()
        .filter_map(journal_seq)
        .max()
        .unwrap_or(0))
}

/// The sequence number of a journal entry.
fn journal_seq(e: &Value) -> Option<u64> {
    e.get("seq").and_then(Value::as_u64)
}

/// The response status of a journal entry, wherever the simulator puts it.
fn journal_status(e: &Value) -> Option<u16> {
    let n = e
        .get("status")
        .or_else(|| e.get("response_status"))
        .or_else(|| e.get("response").and_then(|r| r.get("status")))?;
    n.as_u64().and_then(|n| u16::try_from(n).ok())
}
