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

use crate::catalogue::{catalogue, Case, Check, Ctx, Scenario, Setup};
use crate::error::{shorten, Error, Result};
use crate::expect::json_eq;
use crate::report::{CaseResult, Failure, Report};
use crate::sim::{App, Sim};
use crate::target::{Delivery, External, InProcess, Target};

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
    /// Only cases whose id contains this substring.
    pub filter: Option<String>,
    /// How long to poll the simulator for a step's expectations when delivery completion is not
    /// observable.
    pub timeout: Duration,
    /// Cases run at the same time (isolated mode only).
    pub concurrency: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            filter: None,
            timeout: Duration::from_secs(10),
            concurrency: 4,
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
/// with `--filter`), filtered.
pub fn selected_cases(filter: Option<&str>) -> Vec<(String, Case)> {
    catalogue()
        .into_iter()
        .enumerate()
        .map(|(i, c)| (format!("c{i:02}"), c))
        .filter(|(_, c)| filter.is_none_or(|f| c.id.contains(f)))
        .collect()
}

/// The whole (filtered) catalogue against our forwarder, in process, with a simulator of its own.
pub async fn run_in_process(opts: &RunOptions) -> Result<Report> {
    let mock = usercom_mock::MockServer::builder()
        .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
        .start()
        .await
        .map_err(|e| Error::SimulatorStart(e.to_string()))?;
    let sim = Sim::new(&mock.url());
    let target = Target::InProcess(InProcess::new());
    let report = run_catalogue(&sim, &target, AppMode::Isolated, opts).await;
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
    let cases = selected_cases(opts.filter.as_deref());
    let mut report = Report {
        target: target.describe(),
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
        notes: Vec::new(),
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
        )
        .await?;
    }
    for s in &scenario.setup {
        match s {
            Setup::TrustDomains(domains) => sim.set_trusted_domains(&app.name, domains).await?,
            Setup::RevokeKey => sim.revoke_key(&app.api_key).await?,
        }
    }
    for (n, step) in scenario.steps.iter().enumerate() {
        let needs_journal = step
            .checks
            .iter()
            .any(|c| matches!(c, Check::Answered { .. }));
        // The journal's last sequence number before the step. The whole journal is read because
        // the simulator files requests made with a revoked key under no app.
        let mark = if needs_journal {
            Some(
                sim.journal_all()
                    .await?
                    .iter()
                    .filter_map(journal_seq)
                    .max()
                    .unwrap_or(0),
            )
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
        // When completion is not observable, poll until the expectations hold or time runs out.
        let deadline = Instant::now() + opts.timeout;
        loop {
            let mut failures = Vec::new();
            for check in &step.checks {
                if let Some(f) = evaluate(sim, target, app, check, &delivery, mark, result).await? {
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

/// Finds `field` (or the first present of `a|b|c`) at the top level of `obj`.
fn field<'a>(obj: &'a Value, field: &str) -> (String, Option<&'a Value>) {
    let names: Vec<&str> = field.split('|').collect();
    for name in &names {
        if let Some(v) = obj.get(*name).filter(|v| !v.is_null()) {
            return (name.to_string(), Some(v));
        }
    }
    (names[0].to_string(), None)
}

fn found_text(v: Option<&Value>) -> String {
    match v {
        None => "absent".into(),
        Some(Value::Null) => "null".into(),
        Some(v) => shorten(&v.to_string(), 200),
    }
}

fn fail(check: String, expected: String, found: String) -> Option<Failure> {
    Some(Failure {
        check,
        expected,
        found,
    })
}

/// Judges one check; `Ok(None)` = holds.
async fn evaluate(
    sim: &Sim,
    target: &Target,
    app: &App,
    check: &Check,
    delivery: &Delivery,
    journal_mark: Option<u64>,
    result: &mut CaseResult,
) -> Result<Option<Failure>> {
    let key = &app.api_key;
    Ok(match check {
        Check::UserExists { id, exists } => {
            let user = sim.user(key, id).await?;
            if user.is_some() == *exists {
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
            }
        }
        Check::User {
            id,
            field: f,
            expect,
        } => match sim.user(key, id).await? {
            None => fail(
                format!("user {id}: {f}"),
                expect.describe(),
                "no such user (404)".into(),
            ),
            Some(user) => {
                let (name, v) = field(&user, f);
                if expect.holds(v) {
                    None
                } else {
                    fail(
                        format!("user {id}: {name}"),
                        expect.describe(),
                        found_text(v),
                    )
                }
            }
        },
        Check::Events {
            user,
            name,
            count,
            data,
        } => {
            let events = sim.events(key, user).await?;
            let named: Vec<&Value> = events
                .iter()
                .filter(|e| event_name(e) == Some(name.as_str()))
                .collect();
            if named.len() != *count {
                let names: Vec<&str> = events.iter().filter_map(event_name).collect();
                return Ok(fail(
                    format!("user {user}: occurrences of event {name:?}"),
                    count.to_string(),
                    format!("{} (events of the user: {:?})", named.len(), names),
                ));
            }
            let last = named
                .last()
                .map(|e| e.get("data").cloned().unwrap_or(Value::Null));
            for (k, expect) in data {
                let v = last.as_ref().and_then(|d| d.get(k));
                if !expect.holds(v) {
                    return Ok(fail(
                        format!("user {user}: event {name:?} data.{k}"),
                        expect.describe(),
                        format!("{} (data: {})", found_text(v), found_text(last.as_ref())),
                    ));
                }
            }
            None
        }
        Check::Company {
            id,
            field: f,
            expect,
        } => match sim.company(key, id).await? {
            None => fail(
                format!("company {id}: {f}"),
                expect.describe(),
                "no such company (404)".into(),
            ),
            Some(company) => {
                let (name, v) = field(&company, f);
                if expect.holds(v) {
                    None
                } else {
                    fail(
                        format!("company {id}: {name}"),
                        expect.describe(),
                        found_text(v),
                    )
                }
            }
        },
        Check::CompanyUnique { id } => {
            let all = sim.companies(key).await?;
            let n = all
                .iter()
                .filter(|c| c.get("custom_id").and_then(Value::as_str) == Some(id.as_str()))
                .count();
            if n == 1 {
                None
            } else {
                fail(
                    format!("companies with custom_id {id}"),
                    "exactly 1".into(),
                    n.to_string(),
                )
            }
        }
        Check::Member { user, company } => {
            let u = sim.user(key, user).await?;
            let c = sim.company(key, company).await?;
            match (u, c) {
                (Some(u), Some(c)) => {
                    let uid = u.get("id").cloned().unwrap_or(Value::Null);
                    let cid = c.get("id").cloned().unwrap_or(Value::Null);
                    let in_company =
                        c.get("employees")
                            .and_then(Value::as_array)
                            .is_some_and(|a| {
                                a.iter().any(|e| {
                                    json_eq(e, &uid)
                                        || e.get("id").is_some_and(|x| json_eq(x, &uid))
                                })
                            });
                    let in_user = u
                        .get("companies")
                        .and_then(Value::as_array)
                        .is_some_and(|a| {
                            a.iter().any(|e| {
                                json_eq(e, &cid) || e.get("id").is_some_and(|x| json_eq(x, &cid))
                            })
                        });
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
            }
        }
        Check::Attribute {
            content_type,
            name,
            value_type,
        } => {
            let all = sim.attributes(key).await?;
            let def = all.iter().find(|a| {
                a.get("name_std").and_then(Value::as_str) == Some(name.as_str())
                    && a.get("content_type").and_then(Value::as_str) == Some(*content_type)
            });
            match def {
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
            }
        }
        Check::Dropped { reason } => match (&delivery.reasons, delivery.dropped) {
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
                result
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
                result.notes.push(
                    "whether the forwarder reported the 403 is not observable without GET /stats"
                        .into(),
                );
                None
            }
        },
        Check::ApiKeyRequired => match target.check_api_key_required(sim.origin()) {
            Some(Ok(())) => None,
            Some(Err(found)) => fail(
                "the forwarder requires the API key setting".into(),
                "building it without an API key fails with an error naming the key".into(),
                found,
            ),
            None => {
                result.notes.push(
                    "an external forwarder's start-up without a key is not observable; checked that its requests carry the key".into(),
                );
                None
            }
        },
        Check::Answered {
            status,
            at_least,
            at_most,
        } => {
            let journal = sim.journal_all().await?;
            let since = journal_mark.unwrap_or(0);
            let n = journal
                .iter()
                .filter(|e| journal_seq(e).is_some_and(|s| s > since))
                .filter(|e| match e.get("app") {
                    Some(Value::String(a)) => *a == app.name,
                    // Unattributed: a request with an unknown or revoked key.
                    _ => true,
                })
                .filter(|e| journal_status(e) == Some(*status))
                .count();
            if n >= *at_least && n <= *at_most {
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
            }
        }
    })
}

/// The name of an event occurrence (`name`, or the v1-style `event` object/string).
fn event_name(e: &Value) -> Option<&str> {
    e.get("name")
        .and_then(Value::as_str)
        .or_else(|| e.get("event").and_then(Value::as_str))
        .or_else(|| {
            e.get("event")
                .and_then(|x| x.get("name"))
                .and_then(Value::as_str)
        })
}

/// The sequence number of a journal entry.
fn journal_seq(e: &Value) -> Option<u64> {
    e.get("seq").and_then(Value::as_u64)
}

/// The response status of a journal entry, wherever the simulator puts it.
pub(crate) fn journal_status(e: &Value) -> Option<u16> {
    let n = e
        .get("status")
        .or_else(|| e.get("response_status"))
        .or_else(|| e.get("response").and_then(|r| r.get("status")))?;
    n.as_u64().and_then(|n| u16::try_from(n).ok())
}
