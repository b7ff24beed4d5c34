//! The command-line surface: `dev`, `serve`, `send`, `plan`. `main.rs` parses [`Cli`] and calls
//! [`run`]; everything here is usable (and tested) without a process.

use std::io::{IsTerminal, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Map, Value};

use crate::delivery::{Config, Forwarder, Summary};
use crate::ingress::Ingress;
use crate::mapping;
use crate::usercom::Origin;

/// Segment → User.com destination: forwards identify, page, track and group to User.com's REST API.
///
/// Start with `usercom-forwarder dev`: a local User.com simulator and a Segment-compatible ingress
/// in one process. Logs go to stderr; RUST_LOG filters them (e.g. RUST_LOG=debug).
#[derive(Debug, Parser)]
#[command(name = "usercom-forwarder", version, propagate_version = true)]
pub struct Cli {
    /// Log line format on stderr: human-readable text, or one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Runtime threads. 1 (the default) runs ingress, mapping and delivery on one thread (large
    /// ingress bodies are parsed on a helper thread): delivery waits on User.com, not on the CPU,
    /// and one thread spends about a quarter less CPU per event than two (bench/README.md).
    /// 0 means one per CPU core.
    #[arg(long, default_value_t = 1, value_name = "N", global = true)]
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
    /// print their URLs, the API key and a ready-to-paste analytics-python snippet; run until
    /// Ctrl-C, then drain.
    Dev(DevArgs),
    /// Serve the Segment HTTP Tracking API (POST /v1/batch, /v1/track, ...) and forward every
    /// message to a User.com app.
    Serve(ServeArgs),
    /// Forward Segment messages from a file (NDJSON, a JSON array, a {"batch": [...]} envelope, or
    /// a dead-letter file to replay); prints `delivered=N skipped=N dead_lettered=N duplicates=N`
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
    #[arg(long, value_name = "URL", required_unless_present = "app_subdomain")]
    pub usercom_url: Option<String>,

    /// The app's subdomain: `acme` means https://acme.user.com.
    #[arg(long, value_name = "NAME", conflicts_with = "usercom_url")]
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
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,

    /// How long a message keeps retrying (408, 429, 5xx except 501, timeouts, connection
    /// errors) before it is dead-lettered, e.g. 30s, 5m, 1h.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub retry_window: Duration,

    /// Bound on each HTTP request to User.com, e.g. 10s.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Append messages that could not be delivered to this NDJSON file
    /// ({"message", "reason", "status", "call", "at"}); replay it with `send FILE`.
    /// Without it, dead letters are logged whole at error level.
    #[arg(long, value_name = "FILE")]
    pub dead_letter: Option<PathBuf>,
}

/// `serve` options.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on for Segment clients (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4000")]
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

    #[command(flatten)]
    pub delivery: DeliveryArgs,

    /// Messages accepted but not yet delivered; beyond it clients get 429 + Retry-After.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub queue_capacity: usize,

    /// When the queue is full, how long a request waits for room before it is answered 429 +
    /// Retry-After (0s = at once). Waiting is cheaper than a refusal: a refused Segment client
    /// resends the whole batch, which is then read and parsed again. Keep it under your clients'
    /// request timeout (Segment's libraries use 10-15 s).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub queue_wait: Duration,

    /// On Ctrl-C/SIGTERM, how long to keep delivering before dead-lettering the rest.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
}

/// `dev` options.
#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    /// Address of the ingress (where Segment clients send; port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4000")]
    pub listen: SocketAddr,

    /// Address of the User.com simulator (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4010")]
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

    #[command(flatten)]
    pub delivery: DeliveryArgs,
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
    #[arg(long, value_name = "FILE", conflicts_with = "input")]
    pub replay: Option<String>,

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
    #[arg(long)]
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
            Command::Dev(_) | Command::Serve(_) => "info",
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

/// Runs a parsed command. `Ok(code)` carries the exit code (1 when `send` dead-lettered);
/// `Err` is a start-up problem, printed by `main` with exit code 2.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Dev(args) => dev(args).await,
        Command::Serve(args) => serve(args).await,
        Command::Send(args) => send(args).await,
        Command::Plan(args) => plan(args),
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
        ..Config::default()
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let origin = origin(&args.target)?;
    let key = api_key(&args.target)?;
    let config = Config {
        write_key: args.write_key.filter(|k| !k.is_empty()),
        queue_capacity: args.queue_capacity.max(crate::ingress::MAX_BATCH_MESSAGES),
        queue_wait: args.queue_wait,
        drain_timeout: args.drain_timeout,
        ..config(&origin, key, &args.delivery)
    };
    let ingress = Ingress::start(args.listen, config).await?;
    println!("ingress: {} -> {}", ingress.url(), origin);
    std::io::stdout().flush().ok();
    shutdown_signal().await;
    tracing::info!("stopping: draining the delivery queue");
    let summary = ingress.shutdown().await;
    println!("{}", summary_line(&summary));
    Ok(ExitCode::SUCCESS)
}

async fn dev(args: DevArgs) -> anyhow::Result<ExitCode> {
    let mut builder = usercom_mock::MockServer::builder().listen(args.mock_listen);
    if let Some(key) = args.api_key.as_deref().filter(|k| !k.trim().is_empty()) {
        builder = builder.api_key(key.trim());
    }
    let mock = builder
        .start()
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the simulator on {}: {e}", args.mock_listen))?;
    let origin = Origin::from_url(&mock.url())?;
    let write_key = args.write_key.filter(|k| !k.is_empty());
    let config = Config {
        write_key: write_key.clone(),
        ..config(&origin, mock.api_key().to_string(), &args.delivery)
    };
    let ingress = Ingress::start(args.listen, config).await?;
    print!(
        "{}",
        dev_banner(
            &mock.url(),
            mock.api_key(),
            &ingress.url(),
            write_key.as_deref()
        )
    );
    std::io::stdout().flush().ok();
    shutdown_signal().await;
    tracing::info!("stopping: draining the delivery queue");
    let summary = ingress.shutdown().await;
    mock.shutdown().await;
    println!("{}", summary_line(&summary));
    Ok(ExitCode::SUCCESS)
}

/// What `dev` prints on start.
pub fn dev_banner(
    mock_url: &str,
    api_key: &str,
    ingress_url: &str,
    write_key: Option<&str>,
) -> String {
    let shown_write_key = write_key.unwrap_or("(none required: any write key is accepted)");
    let snippet_key = write_key.unwrap_or("dev");
    format!(
        "\
usercom-forwarder dev: a local User.com simulator and a Segment ingress

  Segment ingress (client host):  {ingress_url}
  Segment write key:              {shown_write_key}
  User.com simulator (API):       {mock_url}/api/public/
  Simulator dashboard:            {mock_url}/
  User.com API key:               {api_key}

Paste into Python (pip install segment-analytics-python==2.4.0):

    import segment.analytics as analytics
    analytics.write_key = \"{snippet_key}\"
    analytics.host = \"{ingress_url}\"
    analytics.identify(\"user-42\", {{\"email\": \"ada@example.com\", \"firstName\": \"Ada\"}})
    analytics.page(\"user-42\", properties={{\"url\": \"https://shop.example.com/pricing\"}})
    analytics.track(\"user-42\", \"Order Completed\", {{\"revenue\": 42}})
    analytics.group(\"user-42\", \"company-7\", {{\"name\": \"Example Ltd\"}})
    analytics.flush()

Then look at {mock_url}/ . Ctrl-C stops (the delivery queue is drained first).
"
    )
}

async fn send(args: SendArgs) -> anyhow::Result<ExitCode> {
    let origin = origin(&args.target)?;
    let key = api_key(&args.target)?;
    let source = args
        .replay
        .or(args.input)
        .context("no input: give FILE, `-` for stdin, or --replay FILE")?;
    let text = read_input(&source)?;
    let forwarder = Forwarder::new(config(&origin, key, &args.delivery))?;

    let mut messages = Vec::new();
    let mut summary = Summary::default();
    for item in parse_input_bytes(&text) {
        match item {
            Input::Message(message) => messages.push(message),
            Input::Invalid { raw, reason } => {
                forwarder.dead_letter_input(raw, &reason);
                summary.dead_lettered += 1;
            }
        }
    }

    let progress = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(messages.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let sent = forwarder
        .send_all_with(messages, |_| {
            if let Some(bar) = &progress {
                bar.inc(1);
            }
        })
        .await;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    summary.delivered += sent.delivered;
    summary.skipped += sent.skipped;
    summary.dead_lettered += sent.dead_lettered;
    summary.duplicates += sent.duplicates;

    println!("{}", summary_line(&summary));
    if summary.dead_lettered > 0 {
        match &args.delivery.dead_letter {
            Some(path) => eprintln!(
                "{} message(s) dead-lettered to {}; replay with: usercom-forwarder send {} ...",
                summary.dead_lettered,
                path.display(),
                path.display()
            ),
            None => eprintln!(
                "{} message(s) dead-lettered (logged above); pass --dead-letter FILE to keep them for a replay",
                summary.dead_lettered
            ),
        }
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn plan(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let text = read_input(&args.input)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for item in parse_input_bytes(&text) {
        let value = match item {
            Input::Message(message) => mapping::preview(&mapping::decide(&message)),
            Input::Invalid { reason, .. } => {
                serde_json::json!({ "outcome": "reject", "reason": reason })
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

/// The final line of `send`, `serve` and `dev`.
pub fn summary_line(summary: &Summary) -> String {
    summary.to_string()
}

/// Largest decompressed size of a gzipped input file.
const MAX_DECOMPRESSED: u64 = 1 << 30;

/// Reads the input whole, as bytes; a gzip file (`events.ndjson.gz`) is decompressed.
fn read_input(source: &str) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if source == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read stdin")?;
    } else {
        bytes = std::fs::read(source).with_context(|| format!("cannot read {source}"))?;
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        // Bounded, so a gzip bomb is an error rather than an out-of-memory kill.
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes.as_slice())
            .take(MAX_DECOMPRESSED + 1)
            .read_to_end(&mut text)
            .with_context(|| format!("{source} looks gzipped but cannot be decompressed"))?;
        if text.len() as u64 > MAX_DECOMPRESSED {
            anyhow::bail!(
                "{source} decompresses to more than {} MiB: split it or decompress it first",
                MAX_DECOMPRESSED >> 20
            );
        }
        bytes = text;
    }
    Ok(bytes)
}

/// As [`parse_input`], for raw bytes. Input that is not valid UTF-8 is read line by line: each
/// bad line is dead-lettered with its reason (its text kept with the bad bytes replaced), and
/// every good line is still delivered. One bad byte never costs the whole file.
pub fn parse_input_bytes(bytes: &[u8]) -> Vec<Input> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return parse_input(text);
    }
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.trim_ascii().is_empty())
        .map(|(n, line)| match std::str::from_utf8(line) {
            Ok(text) => parse_line(text, n + 1),
            Err(e) => Input::Invalid {
                raw: Value::String(String::from_utf8_lossy(line).into_owned()),
                reason: format!(
                    "line {}: not valid UTF-8 (bad byte at column {})",
                    n + 1,
                    e.valid_up_to() + 1
                ),
            },
        })
        .collect()
}

fn parse_line(line: &str, number: usize) -> Input {
    match serde_json::from_str::<Value>(line) {
        Ok(value) => classify(value, &format!("line {number}")),
        Err(e) => Input::Invalid {
            raw: Value::String(line.to_string()),
            reason: format!("line {number}: invalid JSON: {e}"),
        },
    }
}

/// One item of an input file.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A message to send.
    Message(Value),
    /// Something that is not a message (bad JSON line, a number, ...): dead-lettered with
    /// `reason`, `raw` kept as found.
    Invalid {
        /// The item as read (a JSON value, or the line's text as a string).
        raw: Value,
        /// Why it is not a message, with its position.
        reason: String,
    },
}

/// Reads NDJSON, a JSON array, a `{"batch": [...]}` envelope or a single message (detected from
/// the content); dead-letter records (`{"message": ..., "reason": ...}`) are unwrapped.
pub fn parse_input(text: &str) -> Vec<Input> {
    if text.trim().is_empty() {
        return Vec::new();
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| classify(item, &format!("item {}", i + 1)))
            .collect(),
        Ok(Value::Object(mut object)) => match object.remove("batch") {
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(mut message) => {
                        for key in ["context", "integrations"] {
                            crate::ingress::merge_defaults(&mut message, key, object.get(key));
                        }
                        Input::Message(Value::Object(message))
                    }
                    other => invalid(other, &format!("batch[{i}]")),
                })
                .collect(),
            Some(other) => {
                object.insert("batch".into(), other);
                vec![Input::Invalid {
                    raw: Value::Object(object),
                    reason: "\"batch\" is not an array of messages".into(),
                }]
            }
            None => vec![classify(Value::Object(object), "the document")],
        },
        Ok(other) => vec![invalid(other, "the document")],
        Err(_) => text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(n, line)| parse_line(line, n + 1))
            .collect(),
    }
}

fn invalid(raw: Value, place: &str) -> Input {
    Input::Invalid {
        reason: format!("{place} is not a JSON object (a Segment message)"),
        raw,
    }
}

/// A message, or a dead-letter record unwrapped to its message.
fn classify(value: Value, place: &str) -> Input {
    let Value::Object(object) = value else {
        return invalid(value, place);
    };
    if let Some(message) = dead_letter_message(&object) {
        return match message {
            Value::Object(_) => Input::Message(message),
            // A dead-lettered unparseable line: try it again, it may have been fixed by hand.
            Value::String(line) => match serde_json::from_str::<Value>(&line) {
                Ok(Value::Object(parsed)) => Input::Message(Value::Object(parsed)),
                _ => Input::Invalid {
                    reason: format!("{place}: dead-lettered text is still not a JSON object"),
                    raw: Value::String(line),
                },
            },
            other => invalid(other, place),
        };
    }
    Input::Message(Value::Object(object))
}

fn dead_letter_message(object: &Map<String, Value>) -> Option<Value> {
    if object.contains_key("type") || !object.contains_key("reason") {
        return None;
    }
    object.get("message").cloned()
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(items: &[Input]) -> Vec<&Value> {
        items
            .iter()
            .filter_map(|i| match i {
                Input::Message(m) => Some(m),
                Input::Invalid { .. } => None,
            })
            .collect()
    }

    #[test]
    fn input_formats_are_detected() {
        let ndjson =
            "{\"type\":\"track\",\"userId\":\"a\"}\n\n{\"type\":\"page\",\"userId\":\"b\"}\n";
        assert_eq!(messages(&parse_input(ndjson)).len(), 2);
        let array = r#"[{"type":"track"},{"type":"page"},{"type":"group"}]"#;
        assert_eq!(messages(&parse_input(array)).len(), 3);
        let envelope = r#"{"batch":[{"type":"track"}],"context":{"ip":"1.1.1.1"},"writeKey":"w"}"#;
        let items = parse_input(envelope);
        assert_eq!(messages(&items)[0]["context"]["ip"], "1.1.1.1");
        let single = r#"{"type":"identify","userId":"u"}"#;
        assert_eq!(messages(&parse_input(single)).len(), 1);
    }

    #[test]
    fn bad_lines_are_kept_with_a_reason() {
        let items = parse_input("{\"type\":\"track\"}\nnot json\n42\n");
        assert_eq!(items.len(), 3);
        match &items[1] {
            Input::Invalid { raw, reason } => {
                assert_eq!(raw, &json!("not json"));
                assert!(reason.starts_with("line 2: invalid JSON"), "{reason}");
            }
            other => panic!("expected invalid, got {other:?}"),
        }
        assert!(matches!(&items[2], Input::Invalid { reason, .. } if reason.contains("line 3")));
    }

    #[test]
    fn a_line_with_invalid_utf8_is_dead_lettered_and_the_rest_delivered() {
        let mut bytes = b"{\"type\":\"track\",\"userId\":\"a\",\"event\":\"E\"}\n".to_vec();
        bytes.extend_from_slice(b"{\"type\":\"identify\",\"userId\":\"b\xff\"}\n");
        bytes.extend_from_slice(b"{\"type\":\"page\",\"userId\":\"c\"}\n");
        let items = parse_input_bytes(&bytes);
        assert_eq!(items.len(), 3);
        assert_eq!(messages(&items).len(), 2);
        match &items[1] {
            Input::Invalid { raw, reason } => {
                assert_eq!(reason, "line 2: not valid UTF-8 (bad byte at column 31)");
                assert!(raw.as_str().unwrap().contains('\u{fffd}'), "{raw}");
            }
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn dead_letter_records_are_unwrapped() {
        let line = json!({"message": {"type": "track", "userId": "u"}, "reason": "x", "status": 500, "call": null, "at": "t"});
        let items = parse_input(&format!("{line}\n{line}\n"));
        assert_eq!(
            messages(&items),
            vec![&json!({"type": "track", "userId": "u"})]
                .into_iter()
                .chain([&json!({"type": "track", "userId": "u"})])
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn durations_are_human() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert!(parse_duration("five").is_err());
    }

    #[test]
    fn help_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
