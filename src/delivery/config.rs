//! The delivery engine's settings: where User.com is, how hard to try, where failures go.
//! (The ingress's own settings, such as the write key, live in [`crate::ingress::Settings`].)

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// How the forwarder reaches User.com and how hard it tries.
#[derive(Clone)]
pub struct Config {
    /// Origin of the User.com app (`https://acme.user.com` or a simulator URL); a trailing
    /// `/api/public` is accepted.
    pub usercom_url: String,
    /// User.com REST API key (sent as `Authorization: Token …`). Never printed.
    pub api_key: String,
    /// Lanes (users) delivered at the same time. Default 8. The HTTP pool keeps as many idle
    /// keep-alive connections.
    ///
    /// Why 8 and not more: against a local simulator the bound is the forwarder's CPU, not
    /// lanes waiting on round trips, so more lanes deliver no more and cost CPU per event
    /// (figures in bench/README.md). Against the real User.com a lane spends most of its time
    /// waiting on the network, so raise `--concurrency` for throughput there; User.com publishes
    /// no rate limit, and 429s are retried with their `Retry-After`.
    pub concurrency: usize,
    /// How long one message may keep retrying before it is dead-lettered. Default 5 minutes.
    pub retry_window: Duration,
    /// Bound on each HTTP request; `None` = unbounded. Default 10 s.
    pub request_timeout: Option<Duration>,
    /// First backoff step; the cap doubles per attempt up to `backoff_max`. Default 250 ms.
    pub backoff_base: Duration,
    /// Largest backoff step. Default 30 s.
    pub backoff_max: Duration,
    /// NDJSON file receiving dead letters (appended). `None`: dead letters are logged at error
    /// level, whole, on stderr.
    pub dead_letter: Option<PathBuf>,
    /// Messages accepted but not yet ended; beyond it `send` waits and the ingress answers 429.
    /// Default 10,000.
    pub queue_capacity: usize,
    /// `messageId`s remembered for duplicate suppression. Default 100,000.
    pub dedup_capacity: usize,
    /// How long a `messageId` is remembered. Default 24 h (Segment's own guarantee).
    pub dedup_window: Duration,
    /// The durable spool (`serve`): accepted messages are on disk before the ingress answers
    /// 200, and a restart replays those that had not ended. `None` (the default, and `send`,
    /// whose input file is already durable): in memory only. See docs/SPOOL.md.
    pub spool: Option<crate::spool::SpoolConfig>,
    /// Before resending an event whose earlier attempt may have been applied (reset, timeout,
    /// 5xx), list the user's events and skip the resend when it is there. Default off: it costs
    /// reads and could merge two identical events in one second (see
    /// [`crate::usercom::read_back`]).
    pub read_back: bool,
    /// Trust the platform's root certificates (the OS store, or `SSL_CERT_FILE`) as well as the
    /// bundled Mozilla roots: for networks whose TLS proxy re-signs traffic with a corporate
    /// root. Default off (the bundled roots only, the same on every machine).
    pub tls_platform_roots: bool,
}

impl Config {
    /// A configuration with the defaults, for this User.com origin and API key.
    pub fn new(usercom_url: impl Into<String>, api_key: impl Into<String>) -> Config {
        Config {
            usercom_url: usercom_url.into(),
            api_key: api_key.into(),
            ..Config::default()
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            usercom_url: String::new(),
            api_key: String::new(),
            concurrency: 8,
            retry_window: Duration::from_secs(300),
            request_timeout: Some(Duration::from_secs(10)),
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            dead_letter: None,
            queue_capacity: 10_000,
            dedup_capacity: 100_000,
            dedup_window: Duration::from_secs(24 * 3600),
            spool: None,
            read_back: false,
            tls_platform_roots: false,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("usercom_url", &self.usercom_url)
            .field("api_key", &"<redacted>")
            .field("concurrency", &self.concurrency)
            .field("retry_window", &self.retry_window)
            .field("request_timeout", &self.request_timeout)
            .field("dead_letter", &self.dead_letter)
            .field("queue_capacity", &self.queue_capacity)
            .field("spool", &self.spool)
            .field("read_back", &self.read_back)
            .field("tls_platform_roots", &self.tls_platform_roots)
            .finish_non_exhaustive()
    }
}
