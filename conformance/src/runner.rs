//! Runs catalogue cases against a target and the simulator, and judges them.
//!
//! Two ways to share the simulator:
//! * [`AppMode::Isolated`] (in-process): every case gets a fresh app (`POST /__admin/apps`), so
//!   cases run concurrently and may define any attribute they like.
//! * [`AppMode::Shared`] (external): the external forwarder holds one key, so every case writes
//!   into that one app. Ids, attribute and event names carry the case's tag
//!   ([`crate::catalogue::Ctx`]), nothing is reset between cases, cases run one at a time, and the
//!   cases that change app-wide settings run last (trusted domains, then the key revocation,
//!   which nothing can follow).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;

use crate::catalogue::{catalogue, Action, Case, Ctx, Scenario, Setup};
use crate::checks::{journal_mark, Probe};
use crate::error::{Error, Result};
use crate::report::{CaseResult, Failure, Report};
use crate::sim::{App, Sim};
use crate::target::{External, InProcess, Target};

/// How cases use the simulator's apps.
#[derive(Clone, Debug)]
pub enum AppMode {
    /// A fresh app per case.
    Isolated,
    /// Every case in this one app.
    Shared(App),
}

/// Knobs common to both modes.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Only cases whose id contains this substring (or one of its comma-separated parts).
    pub filter: Option<String>,
    /// How long to poll the simulator for a step's expectations when delivery completion is not
    /// observable.
    pub timeout: Duration,
    /// Cases run at the same time (isolated mode only).
    pub concurrency: usize,
    /// Start the simulator in its strict mode (as strict as User.com's REST API: undefined
    /// attributes not stored, wrong-typed values refused, the v2 `Accept` header required).
    pub strict: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            filter: None,
            timeout: Duration::from_secs(10),
            concurrency: 4,
            strict: false,
        }
    }
}

/// Where the external forwarder is and how to start the simulator for it.
#[derive(Clone, Debug)]
pub struct ExternalOptions {
    /// The forwarder's base URL (batches go to `URL/v1/batch`).
    pub forwarder_url: String,
    /// Where the simulator listens (the forwarder must be configured to send there).
    pub mock_listen: SocketAddr,
    /// The key the forwarder sends; the simulator's default app gets it.
    pub api_key: String,
    /// Segment write key, if the forwarder checks one.
    pub write_key: Option<String>,
}

/// A run id unique enough that two runs against one simulator never share an id.
pub fn run_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let tail: String = (0..6)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect();
    format!("r{tail}")
}

/// The catalogue with each case's tag (its index in the full catalogue, so tags do not change
/// with `--filter`), filtered: a case is selected when its id contains the filter, or one of
/// its comma-separated parts (`identify_trait_,group_trait_phone`).
pub fn selected_cases(filter: Option<&str>) -> Vec<(String, Case)> {
    catalogue()
        .into_iter()
        .enumerate()
        .map(|(i, c)| (format!("c{i:02}"), c))
        .filter(|(_, c)| {
            filter.is_none_or(|f| {
                f.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .any(|p| c.id.contains(p))
            })
        })
        .collect()
}

/// The whole (filtered) catalogue against our forwarder, in process, with a simulator of its own.
pub async fn run_in_process(opts: &RunOptions) -> Result<Report> {
    run_in_process_with(opts, InProcess::new()).await
}

/// As [`run_in_process`], with these in-process settings (e.g. `via_ingress`).
pub async fn run_in_process_with(opts: &RunOptions, in_process: InProcess) -> Result<Report> {
    let mock = usercom_mock::MockServer::builder()
        .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
        .strict(opts.strict)
        .start()
        .await
        .map_err(|e| Error::SimulatorStart(e.to_string()))?;
    let sim = Sim::new(&mock.url());
    let report = run_catalogue(
        &sim,
        &Target::InProcess(in_process.clone()),
        AppMode::Isolated,
        opts,
    )
    .await;
    in_process.finish().await;
    mock.shutdown().await;
    Ok(report)
}

/// The whole (filtered) catalogue against an external forwarder: starts the simulator at
/// `mock_listen` with `api_key` and runs every case in its default app.
pub async fn run_external(ext: &ExternalOptions, opts: &RunOptions) -> Result<Report> {
    if ext.api_key.trim().is_empty() {
        return Err(Error::Config("--api-key must not be empty".into()));
    }
    let mock = usercom_mock::MockServer::builder()
        .listen(ext.mock_listen)
        .api_key(ext.api_key.as_str())
        .strict(opts.strict)
        .start()
        .await
        .map_err(|e| Error::SimulatorStart(format!("at {}: {e}", ext.mock_listen)))?;
    let sim = Sim::new(&mock.url());
    let target = Target::External(External::new(
        &ext.forwarder_url,
        ext.write_key.clone(),
        opts.timeout,
    ));
    let app = App {
        name: "default".into(),
        api_key: ext.api_key.clone(),
    };
    let report = run_catalogue(&sim, &target, AppMode::Shared(app), opts).await;
    mock.shutdown().await;
    Ok(report)
}

/// Runs the selected cases against `target` and the simulator `sim`.
pub async fn run_catalogue(sim: &Sim, target: &Target, mode: AppMode, opts: &RunOptions) -> Report {
    let run = run_id();
    let mut cases = selected_cases(opts.filter.as_deref());
    if opts.strict {
        cases.retain(|(_, c)| !crate::catalogue::DEFAULT_MODE_ONLY.contains(&c.id.as_str()));
    }
    let mode_label = if opts.strict {
        "strict simulator"
    } else {
        "default simulator"
    };
    let mut report = Report {
        target: format!("{}, {mode_label}", target.describe()),
        cases: Vec::new(),
    };
    match &mode {
        AppMode::Isolated => {
            let results: Vec<CaseResult> = futures::stream::iter(cases.iter())
                .map(|(tag, case)| run_case(sim, target, None, &run, tag, case, opts))
                .buffered(opts.concurrency.max(1))
                .collect()
                .await;
            report.cases = results;
        }
        AppMode::Shared(app) => {
            // Plain cases first, then those changing app-wide settings, the key revocation last.
            let mut ordered: Vec<(usize, &(String, Case))> = cases.iter().enumerate().collect();
            ordered.sort_by_key(|(i, (tag, case))| {
                let s = (case.build)(&Ctx::new(&run, tag, true));
                (s.revokes_key(), s.is_exclusive(), *i)
            });
            let mut results: Vec<(usize, CaseResult)> = Vec::new();
            for (i, (tag, case)) in ordered {
                results.push((
                    i,
                    run_case(sim, target, Some(app), &run, tag, case, opts).await,
                ));
            }
            results.sort_by_key(|(i, _)| *i);
            report.cases = results.into_iter().map(|(_, r)| r).collect();
        }
    }
    report
}

/// Runs one case; any harness error becomes a failure of that case (so one broken case never
/// hides the others).
pub async fn run_case(
    sim: &Sim,
    target: &Target,
    shared: Option<&App>,
    run: &str,
    tag: &str,
    case: &Case,
    opts: &RunOptions,
) -> CaseResult {
    let started = Instant::now();
    let ctx = Ctx::new(run, tag, shared.is_some());
    let scenario = (case.build)(&ctx);
    let mut result = CaseResult {
        id: case.id.clone(),
        sentence: case.sentence.to_string(),
        failures: Vec::new(),
        notes: case
            .rule
            .map(|r| format!("rule: {r}"))
            .into_iter()
            .collect(),
        duration: Duration::ZERO,
    };
    let app = match shared {
        Some(app) => Ok(app.clone()),
        None => sim.create_app().await,
    };
    match app {
        Ok(app) => {
            if let Err(e) = run_scenario(sim, target, &app, &scenario, opts, &mut result).await {
                result.failures.push(Failure {
                    check: "harness".into(),
                    expected: "the case to run".into(),
                    found: e.to_string(),
                });
            }
            // In a shared app, undo app-wide set-up the next case must not see.
            if shared.is_some()
                && scenario
                    .setup
                    .iter()
                    .any(|s| matches!(s, Setup::TrustDomains(_)))
            {
                if let Err(e) = sim.set_trusted_domains(&app.name, &[]).await {
                    result
                        .notes
                        .push(format!("could not reset trusted domains: {e}"));
                }
            }
        }
        Err(e) => result.failures.push(Failure {
            check: "harness: create an app".into(),
            expected: "POST /__admin/apps to succeed".into(),
            found: e.to_string(),
        }),
    }
    result.duration = started.elapsed();
    result
}

async fn run_scenario(
    sim: &Sim,
    target: &Target,
    app: &App,
    scenario: &Scenario,
    opts: &RunOptions,
    result: &mut CaseResult,
) -> Result<()> {
    for d in &scenario.seed {
        sim.define_attribute(
            &app.api_key,
            &d.name,
            d.value_type,
            d.content_type,
            &d.choices,
            d.multiple,
        )
        .await?;
    }
    let mut faults = Vec::new();
    for s in &scenario.setup {
        match s {
            Setup::TrustDomains(domains) => sim.set_trusted_domains(&app.name, domains).await?,
            Setup::RevokeKey => sim.revoke_key(&app.api_key).await?,
            Setup::Fault(rule) => faults.push(add_case_fault(sim, app, rule).await?),
        }
    }
    let outcome = run_steps(sim, target, app, scenario, opts, result, &mut faults).await;
    // Rules that have not fired their `times` yet must not reach the next case.
    for id in faults {
        if let Err(e) = sim.remove_fault(id).await {
            result
                .notes
                .push(format!("could not remove fault rule {id}: {e}"));
        }
    }
    outcome
}

/// Adds a case's fault rule, scoped to its app; the id, to remove it after the case.
async fn add_case_fault(sim: &Sim, app: &App, rule: &Value) -> Result<u64> {
    let mut rule = rule.clone();
    rule["match"]["app"] = Value::String(app.name.clone());
    sim.add_fault(&rule).await
}

async fn run_steps(
    sim: &Sim,
    target: &Target,
    app: &App,
    scenario: &Scenario,
    opts: &RunOptions,
    result: &mut CaseResult,
    faults: &mut Vec<u64>,
) -> Result<()> {
    for (n, step) in scenario.steps.iter().enumerate() {
        for action in &step.before {
            match action {
                Action::DeleteUser(id) => sim.delete_user(&app.api_key, id).await?,
                Action::DeleteCompany(id) => sim.delete_company(&app.api_key, id).await?,
                Action::CreateCompany { custom_id, name } => {
                    sim.create_company(&app.api_key, custom_id, name).await?
                }
                Action::Fault(rule) => faults.push(add_case_fault(sim, app, rule).await?),
            }
        }
        // The journal's last sequence number after the step's own actions (the harness's
        // requests are not the forwarder's), for the checks that count requests during it.
        let mark = if step.checks.iter().any(|c| c.needs_journal_mark()) {
            Some(journal_mark(sim).await?)
        } else {
            None
        };
        let delivery = target
            .deliver(sim.origin(), app, step.events.clone())
            .await?;
        result.notes.extend(delivery.notes.iter().cloned());
        if let Some((status, body)) = &delivery.refused {
            result.failures.push(Failure {
                check: format!("step {}: the forwarder accepts the batch", n + 1),
                expected: "200 from POST /v1/batch".into(),
                found: format!("{status} {body}"),
            });
            return Ok(());
        }
        if let Some(found) = &delivery.unaccounted {
            result.failures.push(Failure {
                check: format!(
                    "step {}: the forwarder accounts for every message exactly once",
                    n + 1
                ),
                expected: "delivered + skipped + dead-lettered + duplicates = messages sent, one dead-letter record each".into(),
                found: found.clone(),
            });
        }
        // When completion is not observable, poll until the expectations hold or time runs out.
        let deadline = Instant::now() + opts.timeout;
        loop {
            let mut failures = Vec::new();
            let mut probe = Probe {
                sim,
                target,
                app,
                delivery: &delivery,
                journal_mark: mark,
                notes: &mut result.notes,
            };
            for check in &step.checks {
                if let Some(f) = check.evaluate(&mut probe).await? {
                    failures.push(f);
                }
            }
            if failures.is_empty() || delivery.settled || Instant::now() >= deadline {
                for f in &mut failures {
                    if scenario.steps.len() > 1 {
                        f.check = format!("step {}: {}", n + 1, f.check);
                    }
                }
                let failed = !failures.is_empty();
                result.failures.extend(failures);
                if failed {
                    // Later steps build on this one; their results would only add noise.
                    return Ok(());
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}
