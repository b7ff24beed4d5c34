//! `plan`: the User.com requests each message of a file would cause, with no network: the
//! real applier run against a stand-in for a fresh app ([`crate::usercom::dry_run`]).

use std::io::Write;
use std::process::ExitCode;

use super::input::read_input;
use super::PlanArgs;
use crate::mapping;
use crate::segment::{self, batch};
use crate::usercom::dry_run::Planner;

pub(super) async fn plan(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let text = read_input(&args.input)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut planner = Planner::default();
    for item in crate::input::read_file(&text) {
        let value = match item {
            batch::Item::Message(message) => {
                let decision = mapping::decide(&message);
                let message_id = segment::message_id(&message);
                planner.plan(&decision, message_id.as_deref()).await
            }
            batch::Item::Invalid(invalid) => {
                serde_json::json!({ "outcome": "reject", "reason": invalid.reason, "requests": [] })
            }
        };
        let line = if args.pretty {
            serde_json::to_string_pretty(&value)?
        } else {
            serde_json::to_string(&value)?
        };
        writeln!(out, "{line}")?;
    }
    Ok(ExitCode::SUCCESS)
}
