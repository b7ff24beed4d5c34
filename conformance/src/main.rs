//! `usercom-conformance`: the CI gate and snapshot tool. Thin: parses the CLI, starts tracing,
//! calls the library, maps the outcome to an exit code (0 pass, 1 a case failed, a snapshot
//! differs, a drift check failed or a replayed exchange differs, 2 the harness could not run).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use usercom_conformance::{runner, snapshot, ExternalOptions, RunOptions};
use usercom_forwarder::cli::{init_tracing, parse_duration, parse_listen, LogFormat};

/// Checks a Segment -> User.com forwarder against the User.com destination doc, case by case,
/// using the local User.com simulator as the destination.
///
/// Every flag can also be set by an environment variable, named on its line below (a flag on
/// the command line wins). Exit codes: 0 everything passed, 1 a case failed or a snapshot
/// differs, 2 usage error or the harness could not run. Logging goes to stderr, filtered by
/// RUST_LOG (default: error).
#[derive(Parser, Debug)]
#[command(name = "usercom-conformance", version, about, long_about)]
struct Cli {
    /// Log line format on stderr.
    #[arg(
        long,
        env = "USERCOM_CONFORMANCE_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
        global = true
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the catalogue and print a table of case, doc sentence, pass/fail; exit 1 on any failure.
    ///
    /// Without --forwarder-url the harness runs our forwarder in process against a simulator of
    /// its own (each case in a fresh app). With --forwarder-url it gates another forwarder: the
    /// harness starts the simulator at --mock-listen with --api-key, sends Segment batches to
    /// URL/v1/batch, and checks the simulator; configure that forwarder to send to
    /// http://<mock-listen> with the same key before running.
    Run(RunArgs),
    /// Regenerate fixtures/snapshots/ from fixtures/segment/*.json (User.com requests sent and the
    /// final simulator state, redacted and sorted); with --check, verify instead and exit 1 on
    /// any difference.
    Snapshot(SnapshotArgs),
    /// Check a User.com app's REST API (or the simulator's) against the simulator's behaviours:
    /// shapes, status codes, conversions, counters, auth answers, pagination, trailing slashes,
    /// the v1/v2 dialects. Each check is tagged Documented or GUESS: a failing GUESS means our
    /// simulator is wrong there, a failing documented check that the service changed.
    ///
    /// Without --usercom-url it checks a fresh in-process simulator. Checks that write (create
    /// users, companies, attribute definitions, events, site views, and delete what they
    /// created) run by default only against a loopback URL; against any other host they need
    /// --allow-writes. Use a sandbox app, never a production one. Exit 0 all passed, 1 a check
    /// failed, 2 the app could not be reached or refused the key.
    ApiCheck(ApiCheckArgs),
    /// Replay exchanges recorded by `usercom-mock record` against a fresh in-process simulator,
    /// in order, ids mapped, and report per exchange where the status or the JSON shape (keys,
    /// types, nesting; not values, ids or times) differs. Exit 0 none differ, 1 some differ, 2
    /// the recording could not be read.
    Replay(ReplayArgs),
}

#[derive(Args, Debug)]
struct ApiCheckArgs {
    /// The app to check: https://APP.user.com (or its /api/public root). Without it, a fresh
    /// in-process simulator is checked.
    #[arg(long, value_name = "URL", env = "USERCOM_URL", requires = "api_key")]
    usercom_url: Option<String>,
    /// A REST API key of that app (App settings > Advanced > Public REST API keys).
    #[arg(
        long,
        value_name = "KEY",
        env = "USERCOM_API_KEY",
        hide_env_values = true,
        requires = "usercom_url"
    )]
    api_key: Option<String>,
    /// Run the checks that write to the app, also against a non-loopback URL. Everything they
    /// create is named drift-<run id>-... and deleted at the end where the API allows it.
    #[arg(
        long,
        env = "USERCOM_CONFORMANCE_ALLOW_WRITES",
        conflicts_with = "read_only"
    )]
    allow_writes: bool,
    /// Run only the read-only checks, even against a loopback URL.
    #[arg(long, env = "USERCOM_CONFORMANCE_READ_ONLY")]
    read_only: bool,
    /// In process: check the simulator's strict mode (as strict as User.com's REST API).
    #[arg(
        long,
        env = "USERCOM_CONFORMANCE_STRICT",
        conflicts_with = "usercom_url"
    )]
    strict: bool,
    /// Only checks whose name contains SUBSTR (comma-separated: any of them).
    #[arg(long, value_name = "SUBSTR", env = "USERCOM_CONFORMANCE_FILTER")]
    filter: Option<String>,
    /// The run id in the names of what the checks create (default: random).
    #[arg(long, value_name = "ID", env = "USERCOM_CONFORMANCE_RUN_ID", value_parser = parse_run_id)]
    run_id: Option<String>,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE", env = "USERCOM_CONFORMANCE_JUNIT")]
    junit: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ReplayArgs {
    /// The directory `usercom-mock record --out-dir` wrote (one JSON file per exchange).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Replay against the simulator's strict mode instead of its default mode.
    #[arg(long, env = "USERCOM_CONFORMANCE_STRICT")]
    strict: bool,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE", env = "USERCOM_CONFORMANCE_JUNIT")]
    junit: Option<PathBuf>,
}

/// Run ids go into custom ids, e-mails and attribute names: short, lower-case letters, digits.
fn parse_run_id(s: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.len() <= 12
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        Ok(s.to_string())
    } else {
        Err("1-12 lower-case letters or digits".into())
    }
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Only cases whose id contains SUBSTR (comma-separated: any of them).
    #[arg(long, value_name = "SUBSTR", env = "USERCOM_CONFORMANCE_FILTER")]
    filter: Option<String>,
    /// Also write a JUnit XML report here (for CI test reporting).
    #[arg(long, value_name = "FILE", env = "USERCOM_CONFORMANCE_JUNIT")]
    junit: Option<PathBuf>,
    /// Also write a Markdown report here.
    #[arg(long, value_name = "FILE", env = "USERCOM_CONFORMANCE_MARKDOWN")]
    markdown: Option<PathBuf>,
    /// Base URL of an external Segment-compatible forwarder to gate (batches go to URL/v1/batch;
    /// GET URL/stats, when served, tells when delivery is done).
    #[arg(
        long,
        value_name = "URL",
        env = "USERCOM_CONFORMANCE_FORWARDER_URL",
        requires_all = ["mock_listen", "api_key"]
    )]
    forwarder_url: Option<String>,
    /// External mode: address the simulator listens on (the external forwarder's User.com URL
    /// must be http://ADDR). A bare port means 127.0.0.1:PORT.
    #[arg(
        long,
        value_name = "ADDR",
        env = "USERCOM_CONFORMANCE_MOCK_LISTEN",
        value_parser = parse_listen,
        requires = "forwarder_url"
    )]
    mock_listen: Option<SocketAddr>,
    /// External mode: the User.com API key the external forwarder sends; the simulator accepts it.
    #[arg(
        long,
        value_name = "KEY",
        env = "USERCOM_API_KEY",
        hide_env_values = true,
        requires = "forwarder_url"
    )]
    api_key: Option<String>,
    /// External mode: Segment write key to send to the forwarder (Basic auth and `writeKey`).
    #[arg(
        long,
        value_name = "KEY",
        env = "SEGMENT_WRITE_KEY",
        hide_env_values = true
    )]
    write_key: Option<String>,
    /// How long to wait for a step's delivery (external mode, or when /stats is not served):
    /// a duration such as 10s, 1m30s, 500ms.
    #[arg(
        long,
        value_name = "DURATION",
        env = "USERCOM_CONFORMANCE_TIMEOUT",
        value_parser = parse_duration,
        default_value = "10s"
    )]
    timeout: Duration,
    /// In process: deliver through our forwarder's own Segment ingress (`POST /v1/batch`)
    /// rather than its library call, so the accept path is under test too.
    #[arg(
        long,
        env = "USERCOM_CONFORMANCE_VIA_INGRESS",
        conflicts_with = "forwarder_url"
    )]
    via_ingress: bool,
    /// Cases run at the same time in process (each has its own app).
    #[arg(
        long,
        value_name = "N",
        env = "USERCOM_CONFORMANCE_CONCURRENCY",
        default_value_t = 4
    )]
    concurrency: usize,
    /// Start the simulator in strict mode: as strict as User.com's REST API (undefined custom
    /// attributes are not stored, wrong-typed values are refused, `Accept: */*; version=2` is
    /// required). A forwarder that passes both modes does not rely on the simulator doing work
    /// the real service won't. Works in process and in external mode. The three cases of event
    /// property types apply to the default mode only (the REST API has no event attributes).
    #[arg(long, env = "USERCOM_CONFORMANCE_STRICT")]
    strict: bool,
}

#[derive(Args, Debug)]
struct SnapshotArgs {
    /// Verify instead of writing: exit 1 when a snapshot is missing or differs.
    #[arg(long, env = "USERCOM_CONFORMANCE_CHECK")]
    check: bool,
    /// The fixture directory (`*.json`: a JSON array of messages, a batch envelope, one message,
    /// NDJSON, or a capture file with the batch under `body`).
    #[arg(
        long,
        value_name = "DIR",
        env = "USERCOM_CONFORMANCE_FIXTURES",
        default_value = "fixtures/segment"
    )]
    fixtures: PathBuf,
    /// Where the insta snapshot files live (the strict ones in its `strict/` folder).
    #[arg(
        long,
        value_name = "DIR",
        env = "USERCOM_CONFORMANCE_SNAPSHOTS",
        default_value = "fixtures/snapshots"
    )]
    snapshots: PathBuf,
    /// Take the snapshots against the simulator's strict mode (as strict as User.com's REST
    /// API), in DIR/strict/, instead of its default mode.
    #[arg(long, env = "USERCOM_CONFORMANCE_STRICT")]
    strict: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format, "error");
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = rt.block_on(async {
        match cli.command {
            Command::Run(args) => run(args).await,
            Command::Snapshot(args) => snap(args).await,
            Command::ApiCheck(args) => api_check(args).await,
            Command::Replay(args) => replay(args).await,
        }
    });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: RunArgs) -> anyhow::Result<bool> {
    let opts = RunOptions {
        filter: args.filter,
        timeout: args.timeout,
        concurrency: args.concurrency,
        strict: args.strict,
    };
    if runner::selected_cases(opts.filter.as_deref()).is_empty() {
        anyhow::bail!("no case id contains {:?}", opts.filter.unwrap_or_default());
    }
    let report = match (args.forwarder_url, args.mock_listen, args.api_key) {
        (Some(url), Some(listen), Some(key)) => {
            let ext = ExternalOptions {
                forwarder_url: url,
                mock_listen: listen,
                api_key: key,
                write_key: args.write_key,
            };
            eprintln!(
                "simulator at http://{} (key from --api-key); forwarder at {}",
                ext.mock_listen, ext.forwarder_url
            );
            usercom_conformance::run_external(&ext, &opts).await?
        }
        (None, _, _) => {
            let in_process =
                usercom_conformance::target::InProcess::new().through_ingress(args.via_ingress);
            usercom_conformance::runner::run_in_process_with(&opts, in_process).await?
        }
        _ => anyhow::bail!("--forwarder-url needs --mock-listen and --api-key"),
    };
    print!("{}", report.table());
    if let Some(path) = &args.junit {
        write(path, &report.junit())?;
    }
    if let Some(path) = &args.markdown {
        write(path, &report.markdown())?;
    }
    Ok(report.all_passed())
}

fn write(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

async fn snap(args: SnapshotArgs) -> anyhow::Result<bool> {
    let dir = if args.strict {
        args.snapshots.join(snapshot::STRICT_DIR)
    } else {
        args.snapshots.clone()
    };
    let outcome = snapshot::sync_dir(&args.fixtures, &dir, args.check, args.strict).await?;
    for line in outcome.lines() {
        println!("{line}");
    }
    Ok(outcome.ok(args.check))
}

async fn api_check(args: ApiCheckArgs) -> anyhow::Result<bool> {
    use usercom_conformance::drift::{api_check, rest};
    // Keeps an in-process simulator alive for the run.
    let mut local = None;
    let (url, key) = match (args.usercom_url, args.api_key) {
        (Some(url), Some(key)) => (url, key),
        _ => {
            let mock = usercom_mock::MockServer::builder()
                .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
                .strict(args.strict)
                .start()
                .await
                .map_err(|e| anyhow::anyhow!("cannot start the simulator: {e}"))?;
            let pair = (mock.url(), mock.api_key().to_string());
            local = Some(mock);
            pair
        }
    };
    let loopback = rest::is_loopback(&url);
    let allow_writes = args.allow_writes || (loopback && !args.read_only);
    eprintln!(
        "checking {} ({})",
        rest::api_root(&url),
        if allow_writes {
            "read and write checks"
        } else if loopback {
            "read-only checks: --read-only"
        } else {
            "read-only checks: add --allow-writes to run the checks that write"
        }
    );
    let opts = api_check::Options {
        url,
        api_key: key,
        allow_writes,
        filter: args.filter,
        run_id: args.run_id,
    };
    let report = api_check::run(&opts).await;
    if let Some(mock) = local {
        mock.shutdown().await;
    }
    let report = report?;
    print!("{}", report.table());
    if let Some(path) = &args.junit {
        write(path, &report.junit())?;
    }
    Ok(report.ok())
}

async fn replay(args: ReplayArgs) -> anyhow::Result<bool> {
    let opts = usercom_conformance::drift::replay::Options {
        dir: args.dir,
        strict: args.strict,
    };
    let report = usercom_conformance::drift::replay::replay(&opts).await?;
    print!("{}", report.table());
    if let Some(path) = &args.junit {
        write(path, &report.junit())?;
    }
    Ok(report.ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn every_flag_has_an_environment_variable() {
        fn walk(cmd: &clap::Command, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if arg.get_long().is_some() && !builtin && arg.get_env().is_none() {
                    missing.push(format!("{} --{}", cmd.get_name(), arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), &mut missing);
        assert!(missing.is_empty(), "flags without an env var: {missing:?}");
    }

    #[test]
    fn timeouts_are_human_durations() {
        let cli =
            Cli::try_parse_from(["usercom-conformance", "run", "--timeout", "1m30s"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.timeout, Duration::from_secs(90));
        let err = Cli::try_parse_from(["usercom-conformance", "run", "--timeout", "soon"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a duration"), "{err}");
    }

    #[test]
    fn help_is_consistent() {
        Cli::command().debug_assert();
    }
}
