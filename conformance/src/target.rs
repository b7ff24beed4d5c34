//! The forwarder under test, seen as a black box: messages in, and (when observable) how they
//! ended.
//!
//! * [`Target::InProcess`]: our forwarder library (`usercom_forwarder::Forwarder::send_all`),
//!   one instance per app, kept across a case's steps (so what it remembers between them, such as
//!   the ids of users it has seen, is under test like a long-running forwarder's), pointed at the
//!   app the case uses. `send_all` returns when every message has ended, and the dead-letter file
//!   tells why a message was dropped. Through the ingress likewise: one ingress per app, kept
//!   across the case's steps and stopped (with its drain) when the run ends.
//! * [`Target::External`]: any Segment-compatible ingress at `URL`; batches go to
//!   `URL/v1/batch`. Completion is read from `GET URL/stats` (`in_flight == 0`) when the
//!   forwarder serves it; otherwise the runner polls the simulator until the expectations hold
//!   or the timeout passes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::error::{shorten, Error, Result};
use crate::sim::App;

/// How a delivery ended, as far as the harness can see.
#[derive(Clone, Debug, Default)]
pub struct Delivery {
    /// True when the harness knows every message has ended (in-process, or `/stats` drained).
    pub settled: bool,
    /// Messages the forwarder gave up on, when observable.
    pub dropped: Option<u64>,
    /// The forwarder's reasons for them, when observable (in-process dead-letter file).
    pub reasons: Option<Vec<String>>,
    /// The ingress refused the batch (status, body): a failure of the case in itself.
    pub refused: Option<(u16, String)>,
    /// Remarks for the report (e.g. `/stats` missing, drain timed out).
    pub notes: Vec<String>,
    /// In process: how the forwarder's own account of the batch fails to add up (every message
    /// counted exactly once as delivered, skipped, dead-lettered or duplicate; one dead-letter
    /// record per dead-lettered message), or `None` when it adds up or is not observable.
    pub unaccounted: Option<String>,
}

/// The forwarder under test.
#[derive(Clone, Debug)]
pub enum Target {
    /// Our forwarder, in this process.
    InProcess(InProcess),
    /// A forwarder reached over HTTP.
    External(External),
}

impl Target {
    /// A short description for reports.
    pub fn describe(&self) -> String {
        match self {
            Target::InProcess(t) if t.via_ingress => {
                "in-process usercom-forwarder, through its own ingress".into()
            }
            Target::InProcess(_) => "in-process usercom-forwarder".into(),
            Target::External(e) => format!("external forwarder at {}", e.url),
        }
    }

    /// Whether the forwarder refuses an empty API key with an error naming it: `Some(Ok)` yes,
    /// `Some(Err(found))` no, `None` not observable (external).
    pub fn check_api_key_required(
        &self,
        usercom_url: &str,
    ) -> Option<std::result::Result<(), String>> {
        match self {
            Target::InProcess(t) => Some(
                match usercom_forwarder::Forwarder::new(t.config(usercom_url, "", None)) {
                    Ok(_) => Err("the forwarder was built with an empty API key".into()),
                    Err(e) if e.to_string().to_ascii_lowercase().contains("api key") => Ok(()),
                    Err(e) => Err(format!("an error not naming the API key: {e}")),
                },
            ),
            Target::External(_) => None,
        }
    }

    /// Delivers `events` for `app` of the simulator at `usercom_url`.
    pub async fn deliver(
        &self,
        usercom_url: &str,
        app: &App,
        events: Vec<Value>,
    ) -> Result<Delivery> {
        match self {
            Target::InProcess(t) => t.deliver(usercom_url, app, events).await,
            Target::External(t) => t.deliver(events).await,
        }
    }
}

/// Settings for the in-process forwarder.
#[derive(Clone, Debug)]
pub struct InProcess {
    /// Directory for dead-letter files (one per delivery).
    pub scratch: PathBuf,
    /// Per-user lanes delivered concurrently (`1` makes request order deterministic).
    pub concurrency: usize,
    /// Deliver through the forwarder's own Segment ingress (`POST /v1/batch` to an
    /// `Ingress` started per delivery, refusing at once when its queue is full) instead of
    /// `Forwarder::send_all`: the accept path (parsing, queueing, `/stats`) is then under test too.
    pub via_ingress: bool,
    /// How long one delivery may take before the forwarder is taken for hung (every message
    /// must end inside it: the retry window, 5 s, plus a request timeout, 10 s, is the longest a
    /// correct forwarder takes here).
    pub delivery_deadline: Duration,
    /// The forwarder of each app (case) so far, its dead-letter file and the records of it
    /// already read: a case's later steps go to the forwarder that delivered its earlier ones.
    kept: Arc<Mutex<HashMap<String, Kept>>>,
    /// Set by the first delivery that did not end in time: every later delivery of the run
    /// fails at once, naming it, instead of waiting out its own deadline (a hung forwarder fails
    /// the run in one deadline, not in one per case).
    hung: Arc<Mutex<Option<String>>>,
}

/// A forwarder kept for the later steps of a case.
#[derive(Debug)]
struct Kept {
    forwarder: usercom_forwarder::Forwarder,
    /// Its ingress, when delivering through one (started with the forwarder, stopped with a
    /// drain by [`InProcess::finish`]).
    ingress: Option<usercom_forwarder::ingress::IngressHandle>,
    dead_letter: PathBuf,
    reasons_read: usize,
}

impl InProcess {
    /// Defaults: scratch under the system temp dir, the forwarder's usual concurrency.
    pub fn new() -> Self {
        Self {
            scratch: std::env::temp_dir().join(format!(
                "usercom-conformance-{}-{}",
                std::process::id(),
                fastrand::u32(..)
            )),
            concurrency: 8,
            via_ingress: false,
            delivery_deadline: Duration::from_secs(30),
            kept: Arc::default(),
            hung: Arc::default(),
        }
    }

    /// A forwarder configuration for `app` at `usercom_url` (short retry window and timeouts:
    /// the simulator is local, and a test must not hang on a retry bug).
    pub fn config(
        &self,
        usercom_url: &str,
        api_key: &str,
        dead_letter: Option<PathBuf>,
    ) -> usercom_forwarder::Config {
        let mut config = usercom_forwarder::Config::new(usercom_url, api_key);
        config.concurrency = self.concurrency;
        config.retry_window = Duration::from_secs(5);
        config.backoff_base = Duration::from_millis(20);
        config.backoff_max = Duration::from_millis(200);
        config.request_timeout = Some(Duration::from_secs(10));
        config.dead_letter = dead_letter;
        config
    }

    /// A forwarder for `app`, writing to a dead-letter file of its own.
    fn new_forwarder(
        &self,
        usercom_url: &str,
        app: &App,
    ) -> Result<(usercom_forwarder::Forwarder, PathBuf)> {
        let dead_letter =
            self.scratch
                .join(format!("dead-{}-{}.ndjson", app.name, fastrand::u64(..)));
        let config = self.config(usercom_url, &app.api_key, Some(dead_letter.clone()));
        let forwarder = usercom_forwarder::Forwarder::new(config)
            .map_err(|e| Error::Forwarder(e.to_string()))?;
        Ok((forwarder, dead_letter))
    }

    async fn deliver(&self, usercom_url: &str, app: &App, events: Vec<Value>) -> Result<Delivery> {
        if let Some(first) = self.hung.lock().expect("hung").clone() {
            return Err(Error::Forwarder(format!(
                "not delivered: the forwarder hung earlier in this run ({first})"
            )));
        }
        std::fs::create_dir_all(&self.scratch).map_err(|e| Error::io(&self.scratch, e))?;
        let kept = self.kept.lock().expect("kept forwarders").remove(&app.name);
        let mut kept = match kept {
            Some(kept) => kept,
            None => self.new_kept(usercom_url, app).await?,
        };
        let sent = events.len();
        let delivered = match &kept.ingress {
            Some(ingress) => {
                tokio::time::timeout(self.delivery_deadline, deliver_to_ingress(ingress, events))
                    .await
            }
            None => {
                tokio::time::timeout(self.delivery_deadline, async {
                    let summary = kept.forwarder.send_all(events).await;
                    Ok(settled(summary, sent))
                })
                .await
            }
        };
        let mut delivery = match delivered {
            Ok(delivered) => delivered?,
            Err(_) => {
                let found = format!(
                    "{sent} messages given, not every one ended within {:?}",
                    self.delivery_deadline
                );
                self.mark_hung(&app.name, &found);
                return Err(Error::Forwarder(format!("the forwarder hung: {found}")));
            }
        };
        if let Some((200, lost)) = &delivery.refused {
            self.mark_hung(&app.name, lost);
        }
        // This delivery's records only: the file holds the case's earlier steps' too.
        let reasons: Vec<String> = read_reasons(&kept.dead_letter)
            .into_iter()
            .skip(kept.reasons_read)
            .collect();
        kept.reasons_read += reasons.len();
        self.kept
            .lock()
            .expect("kept forwarders")
            .insert(app.name.clone(), kept);
        if delivery.unaccounted.is_none() {
            if let Some(dead) = delivery.dropped.filter(|&d| d != reasons.len() as u64) {
                delivery.unaccounted = Some(format!(
                    "{dead} dead-lettered by its own count, {} records in the dead-letter file",
                    reasons.len()
                ));
            }
        }
        delivery.reasons = Some(reasons);
        Ok(delivery)
    }

    /// A forwarder for `app` (behind an ingress of its own when [`InProcess::via_ingress`]).
    async fn new_kept(&self, usercom_url: &str, app: &App) -> Result<Kept> {
        let (forwarder, dead_letter) = self.new_forwarder(usercom_url, app)?;
        let ingress = if self.via_ingress {
            let settings = usercom_forwarder::ingress::Settings {
                // Refuse at once rather than wait: `try_accept`, the path a full queue takes.
                queue_wait: Duration::ZERO,
                drain_timeout: Duration::from_secs(10),
                ..usercom_forwarder::ingress::Settings::default()
            };
            let ingress = usercom_forwarder::ingress::Ingress::start_with(
                std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                forwarder.clone(),
                settings,
            )
            .await
            .map_err(|e| Error::Forwarder(e.to_string()))?;
            Some(ingress)
        } else {
            None
        };
        Ok(Kept {
            forwarder,
            ingress,
            dead_letter,
            reasons_read: 0,
        })
    }

    /// Records the first hang of the run (see [`InProcess::hung`]).
    fn mark_hung(&self, app: &str, found: &str) {
        let mut hung = self.hung.lock().expect("hung");
        if hung.is_none() {
            *hung = Some(format!("app {app}: {found}"));
        }
    }
}

/// How `send_all` ended `sent` messages, as a delivery (reasons are filled in by the caller).
fn settled(summary: usercom_forwarder::Summary, sent: usize) -> Delivery {
    let unaccounted = (summary.total() != sent as u64).then(|| {
        format!(
            "{sent} messages sent, the summary counts {} ({summary})",
            summary.total()
        )
    });
    Delivery {
        settled: true,
        dropped: Some(summary.dead_lettered),
        reasons: None,
        refused: None,
        notes: Vec::new(),
        unaccounted,
    }
}

/// Through the forwarder's ingress, as an external client would.
async fn deliver_to_ingress(
    ingress: &usercom_forwarder::ingress::IngressHandle,
    events: Vec<Value>,
) -> Result<Delivery> {
    let external = External::new(&ingress.url(), None, Duration::from_secs(10));
    let mut delivery = external.deliver(events).await?;
    if delivery.refused.is_none() && !delivery.settled {
        // Our ingress serves /stats: not draining means the batch was lost on the way in.
        delivery.refused = Some((
            200,
            "answered 200, but its /stats never counted the batch as delivered: the accept path lost it".into(),
        ));
    }
    Ok(delivery)
}

impl InProcess {
    /// With this many per-user lanes delivered concurrently.
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Delivering through the forwarder's own ingress (see [`InProcess::via_ingress`]).
    pub fn through_ingress(mut self, via_ingress: bool) -> Self {
        self.via_ingress = via_ingress;
        self
    }

    /// Stops the forwarders kept for later steps (an ingress with its drain) and removes their
    /// dead-letter files (and the scratch directory when nothing else is in it). Call once every
    /// case has run.
    pub async fn finish(&self) {
        let kept = std::mem::take(&mut *self.kept.lock().expect("kept forwarders"));
        for (_, kept) in kept {
            if let Some(ingress) = kept.ingress {
                let _ = tokio::time::timeout(Duration::from_secs(15), ingress.shutdown()).await;
            }
            let _ = std::fs::remove_file(&kept.dead_letter);
        }
        let _ = std::fs::remove_dir(&self.scratch);
    }
}

impl Default for InProcess {
    fn default() -> Self {
        Self::new()
    }
}

/// Reasons from an NDJSON dead-letter file (`{"message", "reason", "status"}` per line); a line
/// that is not such JSON is kept whole, so nothing the forwarder wrote is hidden.
fn read_reasons(path: &std::path::Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(v) => match v.get("reason").and_then(Value::as_str) {
                Some(r) => r.to_string(),
                None => l.to_string(),
            },
            Err(_) => l.to_string(),
        })
        .collect()
}

/// A forwarder reached over HTTP.
#[derive(Clone, Debug)]
pub struct External {
    /// Its base URL (batches go to `URL/v1/batch`).
    pub url: String,
    /// Segment write key to send (Basic auth), if the forwarder checks one.
    pub write_key: Option<String>,
    /// How long to wait for delivery before giving up on a step.
    pub timeout: Duration,
    http: reqwest::Client,
}

/// The counters of a forwarder's `GET /stats` the harness uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Stats {
    ended: u64,
    dead_lettered: u64,
    in_flight: u64,
}

impl External {
    /// A target at `url`.
    pub fn new(url: &str, write_key: Option<String>, timeout: Duration) -> Self {
        Self {
            url: url.trim_end_matches('/').to_string(),
            write_key,
            timeout,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("a reqwest client with only a timeout always builds"),
        }
    }

    /// `GET /stats`, or `None` when the forwarder does not serve it.
    async fn stats(&self) -> Option<Stats> {
        let resp = self
            .http
            .get(format!("{}/stats", self.url))
            .send()
            .await
            .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let v: Value = resp.json().await.ok()?;
        let n = |k: &str| v.get(k).and_then(Value::as_u64);
        Some(Stats {
            ended: n("delivered")?
                + n("skipped").unwrap_or(0)
                + n("dead_lettered").unwrap_or(0)
                + n("duplicates").unwrap_or(0),
            dead_lettered: n("dead_lettered").unwrap_or(0),
            in_flight: n("in_flight")?,
        })
    }

    async fn deliver(&self, events: Vec<Value>) -> Result<Delivery> {
        let before = self.stats().await;
        let n = events.len() as u64;
        let mut body = json!({ "batch": events, "sentAt": chrono::Utc::now().to_rfc3339() });
        let mut req = self.http.post(format!("{}/v1/batch", self.url));
        if let Some(key) = &self.write_key {
            body["writeKey"] = json!(key);
            req = req.basic_auth(key, Some(""));
        }
        let what = format!("POST {}/v1/batch", self.url);
        let resp = req.json(&body).send().await.map_err(|source| Error::Http {
            what: what.clone(),
            source,
        })?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let text = resp.text().await.unwrap_or_default();
            return Ok(Delivery {
                refused: Some((status, shorten(&text, 300))),
                ..Delivery::default()
            });
        }
        let Some(before) = before else {
            return Ok(Delivery {
                notes: vec![
                    "the forwarder serves no GET /stats: polled the simulator instead".into(),
                ],
                unaccounted: None,
                ..Delivery::default()
            });
        };
        // Wait until every message of this batch has ended: the ended counters moved by at least
        // the batch size and nothing is in flight.
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut delay = Duration::from_millis(5);
        loop {
            if let Some(now) = self.stats().await {
                if now.in_flight == 0 && now.ended >= before.ended + n {
                    return Ok(Delivery {
                        settled: true,
                        dropped: Some(now.dead_lettered.saturating_sub(before.dead_lettered)),
                        reasons: None,
                        refused: None,
                        notes: Vec::new(),
                        unaccounted: None,
                    });
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(Delivery {
                    notes: vec![format!(
                        "the forwarder's /stats did not drain within {:?}: polled the simulator instead",
                        self.timeout
                    )],
                    unaccounted: None,
                    ..Delivery::default()
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(100));
        }
    }
}
