//! `usercom-mock`: run the User.com simulator as a standalone process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use usercom_mock::record::{RecordOptions, Recorder};
use usercom_mock::{MockServer, DEFAULT_API_KEY};

/// A stateful local User.com REST API simulator.
///
/// Serves User.com's public REST API (v2 shapes) under /api/public/ and an admin plane under
/// /__admin/ (reset, state, apps, revoke, trusted domains, request journal, clock, fault
/// injection). The admin plane listens with the API (loopback by default). The first
/// line on stdout is `usercom-mock listening on http://ADDR`. Stops cleanly on SIGINT/SIGTERM.
/// Logging goes to stderr and is filtered by RUST_LOG (default: info).
///
/// Every flag can also be set by an environment variable, named on its line below (a flag on
/// the command line wins). Exit codes: 0 clean shutdown, 1 the state could not be saved at
/// shutdown, 2 usage or start-up error (bad flag, port in use, invalid scenario or fault rule).
#[derive(Debug, Parser)]
#[command(name = "usercom-mock", version, about, long_about)]
struct Cli {
    /// Without a subcommand, the simulator runs.
    #[command(subcommand)]
    command: Option<Command>,

    /// Address to listen on: HOST:PORT, or a bare port for 127.0.0.1:PORT. Port 0 picks a free
    /// port (read it from the first output line).
    #[arg(
        short = 'p',
        long,
        env = "USERCOM_MOCK_LISTEN",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR",
        value_parser = parse_listen
    )]
    listen: SocketAddr,

    /// API key of the default app; repeat for several keys. Without any, a fixed default key is
    /// used and printed. The environment variable takes a comma-separated list.
    #[arg(
        long = "api-key",
        value_name = "KEY",
        env = "USERCOM_MOCK_API_KEY",
        hide_env_values = true,
        value_delimiter = ','
    )]
    api_keys: Vec<String>,

    /// How many requests the journal (GET /__admin/requests) keeps; 0 disables it.
    #[arg(
        long,
        env = "USERCOM_MOCK_JOURNAL_CAPACITY",
        default_value_t = 10_000,
        value_name = "N"
    )]
    journal_capacity: usize,

    /// Seed apps, keys, attribute definitions, users and companies from this JSON file (format in
    /// the crate README). Reset (POST /__admin/reset) returns to it.
    #[arg(long, env = "USERCOM_MOCK_SCENARIO", value_name = "FILE")]
    scenario: Option<PathBuf>,

    /// Load all state from FILE at start (if it exists) and save it there at shutdown.
    #[arg(long, env = "USERCOM_MOCK_STATE_FILE", value_name = "FILE")]
    state_file: Option<PathBuf>,

    /// Arm a fault-injection rule at start; repeatable. JSON as for POST /__admin/faults, e.g.
    /// '{"match":{"method":"POST"},"effect":{"status":503,"retry_after":2},"times":3}'.
    /// Effects: status (+ body, retry_after), latency_ms (N or [MIN, MAX]), reset,
    /// rate_limit {requests, window_ms, retry_after}; "when": "before" | "after"; "times": N;
    /// "probability": P with "seed": S. An invalid rule stops start-up naming the field.
    /// The environment variable holds one rule, or a JSON array of rules.
    #[arg(long = "fault", env = "USERCOM_MOCK_FAULT", value_name = "JSON", value_parser = parse_json)]
    faults: Vec<serde_json::Value>,

    /// Require `Authorization: Bearer TOKEN` on every /__admin/ request (401 otherwise).
    /// Prefer the environment variable: command lines are visible to other local users.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "USERCOM_MOCK_ADMIN_TOKEN",
        hide_env_values = true
    )]
    admin_token: Option<String>,

    /// Strict mode: as strict as User.com's REST v2 API (undefined custom attributes are not
    /// stored, a wrong-typed value for a defined attribute is a 400, a request without
    /// `Accept: */*; version=2` is a 400). Without it, the destination doc's rules apply
    /// (undefined attributes are created as string, values converted). Applies to every app;
    /// POST /__admin/apps {"strict": false} makes a lenient one beside them.
    #[arg(long, env = "USERCOM_MOCK_STRICT")]
    strict: bool,

    /// Log line format on stderr.
    #[arg(long, env = "USERCOM_MOCK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    /// Threads serving requests. 1 (the default) runs everything on one thread: a request is a
    /// few microseconds of in-memory work, so one thread serves tens of thousands of requests a
    /// second and leaves the other cores to the code under test (measured in bench/README.md:
    /// about a third less CPU per request than two worker threads on a 2-core machine).
    /// 0 means one per CPU core.
    #[arg(
        long,
        env = "USERCOM_MOCK_THREADS",
        default_value_t = 1,
        value_name = "N"
    )]
    threads: usize,
}

/// `HOST:PORT`, or a bare port for `127.0.0.1:PORT` (the forwarder's `--listen` reads the same).
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse().map_err(|_| {
        format!("{text:?} is not an address: expected HOST:PORT (127.0.0.1:8080) or a port (8080)")
    })
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Record a real User.com app: proxy every request to --upstream and write each exchange
    /// (request, status, the headers that matter, body) to --out-dir as one JSON file, numbered
    /// in order, with API keys and tokens redacted. Point any client (the forwarder, a test
    /// suite, a script) at the printed URL instead of the app. `usercom-conformance replay DIR`
    /// then compares the recording with the simulator. Stops on SIGINT/SIGTERM.
    Record(RecordArgs),
}

#[derive(Debug, Args)]
struct RecordArgs {
    /// The real app: https://APP.user.com (a trailing /api/public is ignored).
    #[arg(long, value_name = "URL", env = "USERCOM_MOCK_RECORD_UPSTREAM")]
    upstream: String,

    /// Address the proxy listens on (HOST:PORT, or a bare port for 127.0.0.1:PORT); port 0
    /// picks a free one. The first stdout line is exactly
    /// `usercom-mock record listening on http://ADDR`.
    #[arg(
        short = 'p',
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:8081",
        env = "USERCOM_MOCK_RECORD_LISTEN",
        value_parser = parse_listen
    )]
    listen: SocketAddr,

    /// Directory for the exchanges (created; it must not hold a recording already).
    #[arg(long, value_name = "DIR", env = "USERCOM_MOCK_RECORD_OUT_DIR")]
    out_dir: PathBuf,

    /// Another secret to redact wherever it appears (besides every token sent in an
    /// Authorization header); repeatable, or comma-separated in the environment variable.
    #[arg(
        long = "redact",
        value_name = "SECRET",
        env = "USERCOM_MOCK_RECORD_REDACT",
        hide_env_values = true,
        value_delimiter = ','
    )]
    redact: Vec<String>,

    /// How long to wait for one upstream answer (then the client gets a 502, recorded too):
    /// a duration such as 30s, 2m, 500ms.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "30s",
        env = "USERCOM_MOCK_RECORD_TIMEOUT",
        value_parser = parse_duration
    )]
    timeout: std::time::Duration,
}

/// Human durations (`30s`, `2m`, `500ms`), as every binary of the workspace reads them.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration ({e}); use e.g. 30s, 2m, 500ms"))
}

fn parse_json(s: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(s).map_err(|e| format!("not valid JSON: {e}"))
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: piped or captured logs stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// SIGINT or SIGTERM. The handlers are installed *now* (not on first poll), so a signal sent
/// right after the "listening" line is printed is never missed (it would otherwise kill the
/// process with the default action instead of shutting down cleanly).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let int = signal(SignalKind::interrupt()).ok();
        let term = signal(SignalKind::terminate()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(int) => {},
                _ = wait(term) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    init_tracing(cli.log_format);
    match runtime_with_threads(cli.threads) {
        Ok(runtime) => match cli.command.take() {
            Some(Command::Record(args)) => runtime.block_on(record(args)),
            None => runtime.block_on(serve(cli)),
        },
        Err(e) => {
            eprintln!("usercom-mock: cannot start the async runtime: {e}");
            ExitCode::from(2)
        }
    }
}

async fn serve(cli: Cli) -> ExitCode {
    let mut builder = MockServer::builder()
        .listen(cli.listen)
        .journal_capacity(cli.journal_capacity)
        .strict(cli.strict);
    for k in &cli.api_keys {
        builder = builder.api_key(k);
    }
    if let Some(p) = &cli.scenario {
        builder = builder.scenario_file(p);
    }
    if let Some(p) = &cli.state_file {
        builder = builder.state_file(p);
    }
    for rule in cli.faults {
        // A JSON array (handy in the environment variable) arms each of its rules.
        match rule {
            serde_json::Value::Array(rules) => {
                for rule in rules {
                    builder = builder.fault(rule);
                }
            }
            rule => builder = builder.fault(rule),
        }
    }
    if let Some(t) = cli.admin_token {
        builder = builder.admin_token(t);
    }
    let server = match builder.start().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("usercom-mock: {e}");
            return ExitCode::from(2);
        }
    };
    let stop = shutdown_signal();
    println!("usercom-mock listening on {}", server.url());
    if server.api_key() == DEFAULT_API_KEY {
        println!("API key (default app): {DEFAULT_API_KEY}  (choose your own with --api-key)");
    }
    stop.await;
    tracing::info!("shutting down");
    match server.try_shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("usercom-mock: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn record(args: RecordArgs) -> ExitCode {
    let opts = RecordOptions {
        redact: args.redact,
        timeout: args.timeout,
        ..RecordOptions::new(args.upstream, args.out_dir)
    };
    let recorder = match Recorder::start(args.listen, opts).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("usercom-mock record: {e}");
            return ExitCode::from(2);
        }
    };
    let stop = shutdown_signal();
    println!("usercom-mock record listening on {}", recorder.url());
    println!("recording to {}", recorder.out_dir().display());
    stop.await;
    let n = recorder.recorded();
    recorder.shutdown().await;
    eprintln!("usercom-mock record: {n} exchanges recorded");
    ExitCode::SUCCESS
}

/// The async runtime for `--threads N`: 1 is a `current_thread` runtime (the default: one
/// thread serves tens of thousands of requests a second and leaves the other cores to the code
/// under test), 0 one worker per CPU core, N that many workers.
fn runtime_with_threads(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    if threads > 1 {
        builder.worker_threads(threads);
    }
    builder.enable_all().build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn every_flag_has_an_environment_variable() {
        let cli = Cli::command();
        let missing: Vec<_> = std::iter::once(&cli)
            .chain(cli.get_subcommands())
            .flat_map(|cmd| cmd.get_arguments().map(move |a| (cmd.get_name(), a)))
            .filter(|(_, a)| a.get_long().is_some())
            .filter(|(_, a)| !matches!(a.get_id().as_str(), "help" | "version"))
            .filter(|(_, a)| a.get_env().is_none())
            .map(|(cmd, a)| format!("{cmd} --{}", a.get_id()))
            .collect();
        assert!(missing.is_empty(), "flags without an env var: {missing:?}");
    }

    #[test]
    fn record_timeout_is_a_human_duration() {
        let parse = |t: &str| {
            Cli::try_parse_from([
                "usercom-mock",
                "record",
                "--upstream",
                "http://127.0.0.1:9",
                "--out-dir",
                "x",
                "--timeout",
                t,
            ])
        };
        let cli = parse("1m30s").unwrap();
        let Some(Command::Record(args)) = cli.command else {
            panic!("not record")
        };
        assert_eq!(args.timeout, std::time::Duration::from_secs(90));
        let err = parse("soon").unwrap_err().to_string();
        assert!(err.contains("not a duration"), "{err}");
    }

    #[test]
    fn listen_takes_an_address_or_a_port() {
        let cli = Cli::try_parse_from(["usercom-mock", "-p", "9000"]).unwrap();
        assert_eq!(cli.listen, SocketAddr::from(([127, 0, 0, 1], 9000)));
        let cli = Cli::try_parse_from(["usercom-mock", "--listen", "0.0.0.0:80"]).unwrap();
        assert_eq!(cli.listen, SocketAddr::from(([0, 0, 0, 0], 80)));
        let err = Cli::try_parse_from(["usercom-mock", "-p", "localhost"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("HOST:PORT"), "{err}");
    }

    #[test]
    fn help_is_consistent() {
        Cli::command().debug_assert();
    }
}
