//! The command-line surface: `dev`, `serve`, `send`, `plan`. `main.rs` parses [`Cli`] and calls
//! [`run`]; everything here is usable (and tested) without a process.

#[cfg(feature = "dev")]
mod dev;
mod input;
mod plan;
mod send;
mod serve;
mod signal;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::delivery::{Config, Summary};
use crate::usercom::Origin;

/// Segment → User.com destination: forwards identify, page, track and group to User.com's REST API.
///
/// Start with `usercom-forwarder dev`: a local User.com simulator and a Segment-compatible ingress
/// in one process. Logs go to stderr; RUST_LOG filters them (e.g. RUST_LOG=debug).
#[derive(Debug, Parser)]
#[command(name = "usercom-forwarder", version, propagate_version = true)]
pub struct Cli {
    /// Log line format on stderr: human-readable text, or one JSON object per line.
    #[arg(long, env = "USERCOM_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Runtime threads. 1 (the default) runs ingress, mapping and delivery on one thread (large
    /// ingress bodies are parsed on a helper thread): delivery waits on User.com, not on the CPU,
    /// and one thread spends about a quarter less CPU per event than two (bench/README.md).
    /// 0 means one per CPU core.
    #[arg(
        long,
        env = "USERCOM_THREADS",
        default_value_t = 1,
        value_name = "N",
        global = true
    )]
    pub threads: usize,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Local development: start the User.com simulator and the Segment ingress in one process,
    /// print their URLs, the API key and ready-to-paste analytics-python and browser snippets; run until
    /// Ctrl-C, then drain.
    #[cfg(feature = "dev")]
    Dev(DevArgs),
    /// Serve the Segment HTTP Tracking API (POST /v1/batch, /v1/track, ...) and forward every
    /// message to a User.com app.
    Serve(ServeArgs),
    /// Forward Segment messages from a file (NDJSON, a JSON array, a {"batch": [...]} envelope, or
    /// a dead-letter file to replay); prints `delivered=N skipped=N dead_lettered=N duplicates=N dropped_fields=N`
    /// and exits non-zero when anything was dead-lettered.
    Send(SendArgs),
    /// Print the User.com requests each message would cause, as JSON (one line per message);
    /// no network.
    Plan(PlanArgs),
}

/// Which User.com app to talk to.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// Origin of the User.com app, e.g. https://acme.user.com or a simulator's
    /// http://127.0.0.1:4010 (a trailing /api/public is accepted).
    #[arg(
        long,
        env = "USERCOM_URL",
        value_name = "URL",
        required_unless_present = "app_subdomain"
    )]
    pub usercom_url: Option<String>,

    /// The app's subdomain: `acme` means https://acme.user.com.
    #[arg(
        long,
        env = "USERCOM_APP_SUBDOMAIN",
        value_name = "NAME",
        conflicts_with = "usercom_url"
    )]
    pub app_subdomain: Option<String>,

    /// User.com REST API key (App settings > Advanced > API keys); sent as
    /// `Authorization: Token KEY`, never logged.
    #[arg(
        long,
        value_name = "KEY",
        env = "USERCOM_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
}

/// How hard to try, and where failures go.
#[derive(Debug, Clone, Args)]
pub struct DeliveryArgs {
    /// Users delivered at the same time (one user's messages always go in order); also the
    /// number of keep-alive connections kept open to User.com. 8 saturates a 2-core machine
    /// against a local simulator (more lanes only cost CPU there); against the real User.com,
    /// where each request waits a network round trip, throughput grows with it: at 30 ms per
    /// request, 8 lanes deliver at most ~270 requests/s, 32 lanes ~1,000/s.
    #[arg(long, env = "USERCOM_CONCURRENCY", value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,

    /// How long a message keeps retrying (408, 429, 5xx except 501, timeouts, connection
    /// errors) before it is dead-lettered, e.g. 30s, 5m, 1h.
    #[arg(long, env = "USERCOM_RETRY_WINDOW", value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub retry_window: Duration,

    /// Bound on each HTTP request to User.com, e.g. 10s.
    #[arg(long, env = "USERCOM_REQUEST_TIMEOUT", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Append messages that could not be delivered to this NDJSON file
    /// ({"message", "reason", "status", "call", "at"}); replay it with `send FILE`.
    /// Without it, dead letters are logged whole at error level.
    #[arg(long, env = "USERCOM_DEAD_LETTER", value_name = "FILE")]
    pub dead_letter: Option<PathBuf>,

    /// Before resending an event whose first attempt may have been applied (connection reset,
    /// timeout or 5xx after the request went out), list the user's events and skip the resend
    /// when the occurrence is there (same name, second and properties). Fewer duplicated events
    /// for one or more extra GETs per such failure; site views have no read and stay at least
    /// once. Counted in /stats (read_backs, resends_avoided).
    #[arg(long, env = "USERCOM_READ_BACK")]
    pub read_back: bool,

    /// Trust the platform's root certificates (the OS store; `SSL_CERT_FILE` or
    /// `SSL_CERT_DIR` when set) as well as the bundled Mozilla roots: for networks whose TLS
    /// proxy re-signs traffic with a corporate root. Off: the bundled roots only.
    #[arg(long, env = "USERCOM_TLS_PLATFORM_ROOTS")]
    pub tls_platform_roots: bool,
}

/// `serve` options.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on for Segment clients (`HOST:PORT`, or a bare port for 127.0.0.1; port 0 picks a free port).
    #[arg(
        short = 'p',
        long,
        env = "USERCOM_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:4000",
        value_parser = parse_listen
    )]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub target: TargetArgs,

    /// Accept only requests carrying this Segment write key (HTTP Basic `KEY:` or "writeKey" in
    /// the body); without it every caller is accepted.
    #[arg(
        long,
        value_name = "KEY",
        env = "SEGMENT_WRITE_KEY",
        hide_env_values = true
    )]
    pub write_key: Option<String>,

    /// Page origins whose scripts may send here from a browser (CORS), separated by commas,
    /// e.g. `https://shop.example.com,http://localhost:3000`; `*` (the default) allows any
    /// origin. A browser request from another origin is answered 403. Cookies are never needed.
    #[arg(long, env = "USERCOM_CORS_ORIGINS", value_name = "ORIGINS", default_value = "*", value_parser = crate::ingress::Cors::parse)]
    pub cors_origins: crate::ingress::Cors,

    #[command(flatten)]
    pub delivery: DeliveryArgs,

    /// Messages accepted but not yet delivered; beyond it clients get 429 + Retry-After.
    #[arg(
        long,
        env = "USERCOM_QUEUE_CAPACITY",
        value_name = "N",
        default_value_t = 10_000
    )]
    pub queue_capacity: usize,

    /// When the queue is full, how long a request waits for room before it is answered 429 +
    /// Retry-After (0s = at once). Waiting is cheaper than a refusal: a refused Segment client
    /// resends the whole batch, which is then read and parsed again. Keep it under your clients'
    /// request timeout (Segment's libraries use 10-15 s).
    #[arg(long, env = "USERCOM_QUEUE_WAIT", value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub queue_wait: Duration,

    /// On Ctrl-C/SIGTERM, how long to keep delivering before dead-lettering the rest.
    #[arg(long, env = "USERCOM_DRAIN_TIMEOUT", value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub drain_timeout: Duration,

    #[command(flatten)]
    pub spool: SpoolArgs,

    /// Don't use a spool: a batch is answered 200 once it is in the in-memory queue, and a
    /// crash (kill -9, out of memory, power cut) loses what was accepted and not yet delivered.
    #[arg(long, env = "USERCOM_NO_SPOOL", conflicts_with = "spool")]
    pub no_spool: bool,
}

/// The durable spool (docs/SPOOL.md).
#[derive(Debug, Clone, Args)]
pub struct SpoolArgs {
    /// Spool directory: each batch is written (and fsynced) there before the 200, and a
    /// restart replays what had not been delivered. `serve` uses one by default:
    /// $STATE_DIRECTORY/spool-PORT (systemd), else $XDG_STATE_HOME/usercom-forwarder/spool-PORT,
    /// else ~/.local/state/usercom-forwarder/spool-PORT; with --listen port 0, a directory
    /// under the temp dir removed on a clean stop. `dev` uses a spool only when given this.
    /// One process per directory (it is locked).
    #[arg(long, env = "USERCOM_SPOOL", value_name = "DIR")]
    pub spool: Option<PathBuf>,

    /// Largest size of the spool on disk (e.g. 512MiB, 2GiB); beyond it clients get 503 +
    /// Retry-After until delivery catches up. Its live content is bounded by the queue
    /// (--queue-capacity messages); the rest is history awaiting deletion.
    #[arg(long, env = "USERCOM_SPOOL_MAX", value_name = "SIZE", default_value = "1GiB", value_parser = parse_size)]
    pub spool_max: u64,

    /// When a spooled batch counts as durable: `fsync` (fdatasync before the 200: survives a
    /// power cut) or `write` (in the page cache: survives a crash or kill of the process, not
    /// of the host). Also applies to the dead-letter file.
    #[arg(long, env = "USERCOM_SPOOL_SYNC", value_enum, value_name = "POLICY", default_value_t = SpoolSync::Fsync)]
    pub spool_sync: SpoolSync,
}

/// `--spool-sync` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SpoolSync {
    /// fdatasync before the 200.
    Fsync,
    /// write(2) before the 200, no fsync.
    Write,
}

impl SpoolArgs {
    /// The spool configuration for `dir`.
    pub fn config(&self, dir: PathBuf) -> crate::spool::SpoolConfig {
        crate::spool::SpoolConfig {
            max_bytes: self.spool_max,
            sync: match self.spool_sync {
                SpoolSync::Fsync => crate::spool::SyncPolicy::Fsync,
                SpoolSync::Write => crate::spool::SyncPolicy::Write,
            },
            ..crate::spool::SpoolConfig::new(dir)
        }
    }
}

/// `serve`'s default spool directory for a listen port (see `--spool`); `None` for port 0,
/// whose default is a per-process temporary directory.
pub fn default_spool_dir(port: u16) -> Option<PathBuf> {
    if port == 0 {
        return None;
    }
    let env_dir = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let state = env_dir("STATE_DIRECTORY")
        .or_else(|| env_dir("XDG_STATE_HOME").map(|d| d.join("usercom-forwarder")))
        .or_else(|| env_dir("HOME").map(|d| d.join(".local/state/usercom-forwarder")))
        .unwrap_or_else(|| PathBuf::from(".usercom-forwarder"));
    Some(state.join(format!("spool-{port}")))
}

/// A listen address: `HOST:PORT` (`0.0.0.0:4000`, `[::1]:4000`), or a bare port, which means
/// 127.0.0.1 (loopback: nothing is exposed unless asked for).
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse().map_err(|_| {
        format!("{text:?} is not an address: expected HOST:PORT (127.0.0.1:4000) or a port (4000)")
    })
}

/// Parses sizes: `1048576`, `64KiB`, `512MiB`, `2GiB`, `1GB` (powers of 1000 for KB/MB/GB).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size; use e.g. 512MiB, 2GiB"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => return Err(format!("unknown size unit {other:?}; use KiB, MiB or GiB")),
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// `dev` options.
#[cfg(feature = "dev")]
#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    /// Address of the ingress (where Segment clients send; port 0 picks a free port).
    #[arg(
        short = 'p',
        long,
        env = "USERCOM_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:4000",
        value_parser = parse_listen
    )]
    pub listen: SocketAddr,

    /// Address of the User.com simulator (`HOST:PORT`, or a bare port for 127.0.0.1; port 0 picks
    /// a free port).
    #[arg(
        long,
        env = "USERCOM_MOCK_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:4010",
        value_parser = parse_listen
    )]
    pub mock_listen: SocketAddr,

    /// API key of the simulator's default app (default: the simulator's documented default key).
    #[arg(
        long,
        value_name = "KEY",
        env = "USERCOM_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,

    /// Require this Segment write key at the ingress (default: accept any).
    #[arg(
        long,
        value_name = "KEY",
        env = "SEGMENT_WRITE_KEY",
        hide_env_values = true
    )]
    pub write_key: Option<String>,

    /// Page origins whose scripts may send here from a browser (CORS), separated by commas,
    /// e.g. `https://shop.example.com,http://localhost:3000`; `*` (the default) allows any
    /// origin. A browser request from another origin is answered 403. Cookies are never needed.
    #[arg(long, env = "USERCOM_CORS_ORIGINS", value_name = "ORIGINS", default_value = "*", value_parser = crate::ingress::Cors::parse)]
    pub cors_origins: crate::ingress::Cors,

    #[command(flatten)]
    pub delivery: DeliveryArgs,

    #[command(flatten)]
    pub spool: SpoolArgs,
}

/// `send` options.
#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// Input file, or `-` for stdin: NDJSON, a JSON array, a {"batch": [...]} envelope, or a
    /// dead-letter file (its {"message": ...} lines are unwrapped and sent again); gzipped input
    /// is decompressed. Bad lines (invalid JSON or UTF-8) are dead-lettered, the rest is sent.
    #[arg(value_name = "FILE", required_unless_present = "replay")]
    pub input: Option<String>,

    /// Replay a dead-letter file (the same as giving it as FILE).
    #[arg(
        long,
        env = "USERCOM_REPLAY",
        value_name = "FILE",
        conflicts_with = "input"
    )]
    pub replay: Option<String>,

    /// Keep a checkpoint of the progress (FILE.checkpoint, or --checkpoint) and continue from it:
    /// a run interrupted by Ctrl-C, kill -9 or a reboot, run again with --resume, sends only what
    /// had not ended (delivered, skipped or dead-lettered). Give it from the first run on. A
    /// changed input is refused; a finished one sends nothing (delete the checkpoint to resend).
    #[arg(long, env = "USERCOM_RESUME")]
    pub resume: bool,

    /// Where --resume keeps its checkpoint (default: FILE.checkpoint beside the input).
    #[arg(
        long,
        env = "USERCOM_CHECKPOINT",
        value_name = "PATH",
        requires = "resume"
    )]
    pub checkpoint: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub delivery: DeliveryArgs,
}

/// `plan` options.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Input file, or `-` for stdin (same formats as `send`).
    #[arg(value_name = "FILE")]
    pub input: String,

    /// Pretty-print each plan over several lines.
    #[arg(long, env = "USERCOM_PRETTY")]
    pub pretty: bool,
}

/// Parses human durations: `30s`, `5m`, `1h 30m`, `250ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration ({e}); use e.g. 30s, 5m, 1h"))
}

impl Command {
    /// Default log level when RUST_LOG is unset: servers tell what they do, batch commands stay
    /// quiet unless something goes wrong.
    pub fn default_log_filter(&self) -> &'static str {
        match self {
            #[cfg(feature = "dev")]
            Command::Dev(_) => "info",
            Command::Serve(_) => "info",
            Command::Send(_) | Command::Plan(_) => "warn",
        }
    }
}

/// Installs the tracing subscriber: stderr, RUST_LOG (EnvFilter) or `default_filter`.
pub fn init_tracing(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // A second install (tests) is harmless: keep the first.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The async runtime for `--threads N`: 1 is a `current_thread` runtime (the default; why in
/// the `--threads` help), 0 one worker per CPU core, N that many workers.
pub fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
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

/// Runs a parsed command. `Ok(code)` carries the exit code (1 when `send` dead-lettered);
/// `Err` is a start-up problem, printed by `main` with exit code 2.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        #[cfg(feature = "dev")]
        Command::Dev(args) => dev::dev(args).await,
        Command::Serve(args) => serve::serve(args).await,
        Command::Send(args) => send::send(args).await,
        Command::Plan(args) => plan::plan(args).await,
    }
}

fn origin(target: &TargetArgs) -> anyhow::Result<Origin> {
    let origin = match (&target.usercom_url, &target.app_subdomain) {
        (Some(url), _) => Origin::from_url(url)?,
        (None, Some(name)) => Origin::from_subdomain(name)?,
        (None, None) => {
            bail!("no User.com app given: pass --usercom-url URL or --app-subdomain NAME")
        }
    };
    Ok(origin)
}

fn api_key(target: &TargetArgs) -> anyhow::Result<String> {
    match target.api_key.as_deref().map(str::trim) {
        Some(key) if !key.is_empty() => Ok(key.to_string()),
        _ => bail!(
            "missing User.com API key: pass --api-key KEY or set the USERCOM_API_KEY environment variable"
        ),
    }
}

fn config(origin: &Origin, api_key: String, delivery: &DeliveryArgs) -> Config {
    Config {
        usercom_url: origin.to_string(),
        api_key,
        concurrency: usize::from(delivery.concurrency),
        retry_window: delivery.retry_window,
        request_timeout: Some(delivery.request_timeout),
        dead_letter: delivery.dead_letter.clone(),
        read_back: delivery.read_back,
        tls_platform_roots: delivery.tls_platform_roots,
        ..Config::default()
    }
}

/// The final line of `send`, `serve` and `dev`.
pub fn summary_line(summary: &Summary) -> String {
    summary.to_string()
}

/// The exit code of a run that delivered (`send`, `serve`, `dev`), by the one convention of the
/// three binaries: 0 everything ended well, 1 something was dead-lettered (failures found),
/// 2 a usage or start-up error (clap's own, and `main`'s for errors before any delivery).
pub fn exit_code(summary: &Summary) -> ExitCode {
    if summary.dead_lettered > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_human() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert!(parse_duration("five").is_err());
    }

    #[test]
    fn listen_takes_an_address_or_a_port() {
        assert_eq!(
            parse_listen("4000").unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 4000))
        );
        assert_eq!(
            parse_listen("0.0.0.0:80").unwrap(),
            SocketAddr::from(([0, 0, 0, 0], 80))
        );
        assert!(parse_listen("[::1]:4000").unwrap().is_ipv6());
        let err = parse_listen("localhost").unwrap_err();
        assert!(err.contains("HOST:PORT"), "{err}");
        assert!(parse_listen("70000").is_err());
    }

    #[test]
    fn every_flag_has_an_environment_variable() {
        use clap::CommandFactory;
        fn walk(cmd: &clap::Command, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let flag = arg.get_long().is_some();
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if flag && !builtin && arg.get_env().is_none() {
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
    fn sizes_are_human() {
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("1GB").unwrap(), 1_000_000_000);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }

    #[test]
    fn the_default_spool_is_per_port() {
        assert_eq!(default_spool_dir(0), None);
        let dir = default_spool_dir(4000).unwrap();
        assert!(dir.ends_with("spool-4000"), "{}", dir.display());
    }

    #[test]
    fn help_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
