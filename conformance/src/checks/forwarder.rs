//! Checks on the forwarder itself rather than on the simulator: what it reports when it gives
//! up, and whether it starts without an API key. Parts of both are only observable in process;
//! externally they fall back to what `GET /stats` shows, or to a note.

use super::{fail, Evaluate, Probe};
use crate::error::Result;
use crate::report::Failure;

/// The forwarder gave up on at least one message with a reason containing `reason`
/// (in-process: its summary and dead-letter file; external: `/stats` when available, the
/// reason itself is not observable there).
#[derive(Clone, Debug)]
pub struct Dropped {
    /// A substring of the reason (case-insensitive).
    pub reason: &'static str,
}

/// The forwarder refuses to run without an API key, naming the problem (in-process only:
/// an external forwarder's start-up is outside the harness).
#[derive(Clone, Debug)]
pub struct ApiKeyRequired;

impl Evaluate for Dropped {
    async fn evaluate(&self, probe: &mut Probe<'_>) -> Result<Option<Failure>> {
        let reason = self.reason;
        Ok(match (&probe.delivery.reasons, probe.delivery.dropped) {
            (Some(reasons), dropped) => {
                let hit = reasons.iter().any(|r| {
                    r.to_ascii_lowercase()
                        .contains(&reason.to_ascii_lowercase())
                });
                if hit {
                    None
                } else {
                    fail(
                        "the forwarder reports the documented hint".into(),
                        format!("a dead-lettered message with a reason containing {reason:?}"),
                        format!("{} dropped, reasons {:?}", dropped.unwrap_or(0), reasons),
                    )
                }
            }
            (None, Some(n)) => {
                probe
                    .notes
                    .push("the hint text is not observable on an external forwarder; checked that it gave up (dead_lettered) instead".into());
                if n >= 1 {
                    None
                } else {
                    fail(
                        "the forwarder gives up on the refused message".into(),
                        "dead_lettered to grow by at least 1 (GET /stats)".into(),
                        format!("grew by {n}"),
                    )
                }
            }
            (None, None) => {
                probe.notes.push(
                    "whether the forwarder reported the 403 is not observable without GET /stats"
                        .into(),
                );
                None
            }
        })
    }
}

impl Evaluate for ApiKeyRequired {
    async fn evaluate(&self, probe: &mut Probe<'_>) -> Result<Option<Failure>> {
        Ok(
            match probe.target.check_api_key_required(probe.sim.origin()) {
                Some(Ok(())) => None,
                Some(Err(found)) => fail(
                    "the forwarder requires the API key setting".into(),
                    "building it without an API key fails with an error naming the key".into(),
                    found,
                ),
                None => {
                    probe.notes.push(
                        "an external forwarder's start-up without a key is not observable; checked that its requests carry the key".into(),
                    );
                    None
                }
            },
        )
    }
}
