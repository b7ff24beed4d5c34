//! Delivery: turns planned operations into User.com requests, in order per user, concurrently
//! across users, with retries, a cache, duplicate suppression and a dead-letter file.
//!
//! Every message handed to a [`Forwarder`] ends in exactly one of four buckets: delivered,
//! skipped (the mapping does not support it), dead-lettered (rejected by the mapping, or failed
//! permanently, or still failing when its retry window closed), or duplicate (its `messageId` was
//! already accepted). Nothing is dropped silently.
//!
//! ## Model
//!
//! A message is accepted only when it gets a slot of the bounded *queue* (a semaphore of
//! [`Config::queue_capacity`] permits; the permit travels with the message and is released when
//! it ends). Accepted messages are appended to the *lane* of their user (`custom_id`); one task per
//! non-empty lane applies its messages one after the other, and at most [`Config::concurrency`]
//! lanes run at once.
//!
//! Why lanes: User.com applies requests in arrival order, and a user's identify, then page, then
//! track must land in that order (the page needs the user the identify created; a later identify
//! must overwrite an earlier one, not the reverse). Different users do not interact, so they can
//! run side by side; the bound keeps us polite to the API and predictable in memory.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::mapping::{self, Decision, Op, Plan};
use crate::usercom::{self, Origin, UserRef, WithCustomId};

/// How the forwarder reaches User.com and how hard it tries.
#[derive(Clone)]
pub struct Config {
    /// Origin of the User.com app (`https://acme.user.com` or a simulator URL); a trailing
    /// `/api/public` is accepted.
    pub usercom_url: String,
    /// User.com REST API key (sent as `Authorization: Token …`). Never printed.
    pub api_key: String,
    /// When set, the ingress only accepts requests carrying this Segment write key. Never printed.
    pub write_key: Option<String>,
    /// Lanes (users) delivered at the same time. Default 8. The HTTP pool keeps as many idle
    /// keep-alive connections.
    ///
    /// Why 8 and not more: measured with `serve` against a local usercom-mock on the 2-core
    /// machine (50,000 events, same session), 8, 32 and 64 lanes delivered the same events/s
    /// within the noise, while the forwarder's CPU per event rose (~90 → ~97 → ~105 µs): the
    /// bound there is CPU, not lanes waiting on round trips. Against the real User.com a lane
    /// spends most of its time waiting on the network (~1 lane-request per round trip), so
    /// raise `--concurrency` for throughput there; User.com publishes no rate limit, and 429s
    /// are retried with their `Retry-After`.
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
    /// Messages accepted but not yet ended; the ingress answers 429 beyond it. Default 10,000.
    pub queue_capacity: usize,
    /// How long an ingress request waits for queue room before it is answered 429. Default 5 s.
    ///
    /// Why wait at all: a Segment client answered 429 sends the whole batch again after a
    /// pause, and each resend is read, gunzipped, parsed and validated again only to be refused.
    /// In the benchmark (100,000 events posted as fast as possible) the forwarder spent more
    /// CPU refusing batches than delivering them (15,900 × 429). Holding the request until
    /// room frees up is back-pressure without that waste; the bound stays well under Segment
    /// clients' request timeouts (10–15 s), so they see a 429 rather than a timeout when
    /// User.com really is too slow. `Duration::ZERO` = refuse at once.
    pub queue_wait: Duration,
    /// `messageId`s remembered for duplicate suppression. Default 100,000.
    pub dedup_capacity: usize,
    /// How long a `messageId` is remembered. Default 24 h (Segment's own guarantee).
    pub dedup_window: Duration,
    /// On shutdown, how long to keep delivering before dead-lettering the rest. Default 30 s.
    pub drain_timeout: Duration,
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
            write_key: None,
            concurrency: 8,
            retry_window: Duration::from_secs(300),
            request_timeout: Some(Duration::from_secs(10)),
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            dead_letter: None,
            queue_capacity: 10_000,
            queue_wait: Duration::from_secs(5),
            dedup_capacity: 100_000,
            dedup_window: Duration::from_secs(24 * 3600),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("usercom_url", &self.usercom_url)
            .field("api_key", &"<redacted>")
            .field("write_key", &self.write_key.as_ref().map(|_| "<redacted>"))
            .field("concurrency", &self.concurrency)
            .field("retry_window", &self.retry_window)
            .field("request_timeout", &self.request_timeout)
            .field("dead_letter", &self.dead_letter)
            .field("queue_capacity", &self.queue_capacity)
            .field("queue_wait", &self.queue_wait)
            .finish_non_exhaustive()
    }
}

/// How one message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every planned request succeeded.
    Delivered,
    /// Not supported by the destination (screen, alias, unknown types).
    Skipped,
    /// Written to the dead-letter file (or log) with a reason.
    DeadLettered,
    /// Its `messageId` was already accepted: applied once, not again.
    Duplicate,
}

/// Counts of how messages ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Messages whose requests all succeeded.
    pub delivered: u64,
    /// Messages the destination does not support.
    pub skipped: u64,
    /// Messages written to the dead-letter file.
    pub dead_lettered: u64,
    /// Messages ignored because their `messageId` was seen before.
    pub duplicates: u64,
}

impl Summary {
    /// Adds one outcome.
    pub fn record(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Delivered => self.delivered += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::DeadLettered => self.dead_lettered += 1,
            Outcome::Duplicate => self.duplicates += 1,
        }
    }

    /// Messages counted in total.
    pub fn total(&self) -> u64 {
        self.delivered + self.skipped + self.dead_lettered + self.duplicates
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "delivered={} skipped={} dead_lettered={} duplicates={}",
            self.delivered, self.skipped, self.dead_lettered, self.duplicates
        )
    }
}

/// Counters since start, as served by the ingress's `GET /stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Messages handed to the forwarder (including duplicates and rejected input).
    pub received: u64,
    /// See [`Summary::delivered`].
    pub delivered: u64,
    /// See [`Summary::skipped`].
    pub skipped: u64,
    /// See [`Summary::dead_lettered`].
    pub dead_lettered: u64,
    /// See [`Summary::duplicates`].
    pub duplicates: u64,
    /// Accepted and not yet ended.
    pub in_flight: u64,
}

/// The delivery engine. Cheap to clone (a handle); all clones share queue, caches and counters.
#[derive(Clone)]
pub struct Forwarder {
    shared: Arc<Shared>,
}

impl fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forwarder")
            .field("config", &self.shared.config)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Number of stripes for the per-company locks (see [`Shared::company_lock`]).
const COMPANY_LOCK_STRIPES: usize = 64;
/// Entries kept in each id cache before it is cleared (a cache miss only costs a lookup).
const CACHE_LIMIT: usize = 100_000;

struct Shared {
    config: Config,
    client: usercom::Client,
    /// custom_id → (id, user_key). A std Mutex: every critical section is a map lookup or
    /// insert, never held across `.await`.
    users: Mutex<HashMap<String, UserRef>>,
    /// group_id → company id.
    companies: Mutex<HashMap<String, i64>>,
    company_locks: Vec<tokio::sync::Mutex<()>>,
    /// custom_id → messages waiting in that user's lane (an entry exists while its task runs).
    lanes: Mutex<HashMap<String, VecDeque<(Job, Plan)>>>,
    workers: Arc<Semaphore>,
    capacity: Arc<Semaphore>,
    dedup: Mutex<Dedup>,
    dead_letters: DeadLetters,
    counters: Counters,
    idle: Notify,
    closing: AtomicBool,
    cancel: watch::Sender<bool>,
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    delivered: AtomicU64,
    skipped: AtomicU64,
    dead_lettered: AtomicU64,
    duplicates: AtomicU64,
    in_flight: AtomicU64,
}

struct Job {
    raw: Value,
    message_id: Option<String>,
    done: Option<mpsc::UnboundedSender<Outcome>>,
    _slot: OwnedSemaphorePermit,
}

impl Forwarder {
    /// Validates the configuration, opens the dead-letter file (append) and builds the client.
    pub fn new(config: Config) -> Result<Forwarder> {
        let origin = Origin::from_url(&config.usercom_url)?;
        let client = usercom::Client::new(
            &origin,
            &config.api_key,
            config.request_timeout,
            config.concurrency.max(1),
        )?;
        let dead_letters = DeadLetters::open(config.dead_letter.clone())?;
        let concurrency = config.concurrency.max(1);
        let capacity = config.queue_capacity.max(1);
        let (cancel, _) = watch::channel(false);
        Ok(Forwarder {
            shared: Arc::new(Shared {
                client,
                users: Mutex::new(HashMap::new()),
                companies: Mutex::new(HashMap::new()),
                company_locks: (0..COMPANY_LOCK_STRIPES)
                    .map(|_| tokio::sync::Mutex::new(()))
                    .collect(),
                lanes: Mutex::new(HashMap::new()),
                workers: Arc::new(Semaphore::new(concurrency)),
                capacity: Arc::new(Semaphore::new(capacity)),
                dedup: Mutex::new(Dedup::new(config.dedup_capacity, config.dedup_window)),
                dead_letters,
                counters: Counters::default(),
                idle: Notify::new(),
                closing: AtomicBool::new(false),
                cancel,
                config,
            }),
        })
    }

    /// The configuration this forwarder runs with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Delivers every message and returns when each has ended. Waits for queue room instead of
    /// failing when the queue is full (back-pressure for batch sends).
    pub async fn send_all(&self, messages: Vec<Value>) -> Summary {
        self.send_all_with(messages, |_| {}).await
    }

    /// As [`Forwarder::send_all`], calling `on_outcome` as each message ends (progress bars).
    pub async fn send_all_with(
        &self,
        messages: Vec<Value>,
        mut on_outcome: impl FnMut(Outcome),
    ) -> Summary {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut summary = Summary::default();
        for raw in messages {
            // The semaphore is never closed, so acquiring only waits for room.
            let Ok(slot) = self.shared.capacity.clone().acquire_owned().await else {
                break;
            };
            self.shared.submit(raw, slot, Some(tx.clone()));
            // Count outcomes as they come so progress moves while we are still submitting.
            while let Ok(outcome) = rx.try_recv() {
                summary.record(outcome);
                on_outcome(outcome);
            }
        }
        drop(tx);
        while let Some(outcome) = rx.recv().await {
            summary.record(outcome);
            on_outcome(outcome);
        }
        summary
    }

    /// Accepts a batch into the queue without waiting: all of it, or nothing.
    ///
    /// Why all-or-nothing: a Segment client retries the whole batch on 429, so accepting half of
    /// it would deliver that half twice (only messages with a `messageId` would be caught).
    pub fn try_accept(&self, messages: Vec<Value>) -> Result<()> {
        if self.shared.closing.load(Ordering::SeqCst) {
            return Err(Error::Closing);
        }
        if messages.is_empty() {
            return Ok(());
        }
        let count = u32::try_from(messages.len()).unwrap_or(u32::MAX);
        let slots = self
            .shared
            .capacity
            .clone()
            .try_acquire_many_owned(count)
            .map_err(|_| self.queue_full())?;
        self.submit_batch(messages, slots);
        Ok(())
    }

    /// As [`Forwarder::try_accept`], but when the queue is full waits up to `wait` for room
    /// (all of the batch, or nothing) before answering [`Error::QueueFull`]. Waiting requests
    /// are served first come, first served.
    pub async fn accept_within(&self, messages: Vec<Value>, wait: Duration) -> Result<()> {
        if wait.is_zero() {
            return self.try_accept(messages);
        }
        if self.shared.closing.load(Ordering::SeqCst) {
            return Err(Error::Closing);
        }
        if messages.is_empty() {
            return Ok(());
        }
        let count = u32::try_from(messages.len()).unwrap_or(u32::MAX);
        if messages.len() > self.shared.config.queue_capacity.max(1) {
            // It could never fit: refuse now rather than after the wait.
            return Err(self.queue_full());
        }
        let acquire = self.shared.capacity.clone().acquire_many_owned(count);
        let slots = match tokio::time::timeout(wait, acquire).await {
            Ok(Ok(slots)) => slots,
            // Err(_) = the wait ran out; Ok(Err(_)) = the semaphore was closed (never happens).
            Ok(Err(_)) | Err(_) => return Err(self.queue_full()),
        };
        // Shutdown may have started while we waited: nothing new after `close`.
        if self.shared.closing.load(Ordering::SeqCst) {
            return Err(Error::Closing);
        }
        self.submit_batch(messages, slots);
        Ok(())
    }

    fn queue_full(&self) -> Error {
        Error::QueueFull {
            capacity: self.shared.config.queue_capacity,
        }
    }

    /// Submits each message with one permit of `slots` (which holds one per message).
    fn submit_batch(&self, messages: Vec<Value>, mut slots: OwnedSemaphorePermit) {
        let last = messages.len() - 1;
        for (i, raw) in messages.into_iter().enumerate() {
            let slot = if i == last {
                std::mem::replace(&mut slots, placeholder_permit())
            } else {
                match slots.split(1) {
                    Some(slot) => slot,
                    None => placeholder_permit(),
                }
            };
            self.shared.submit(raw, slot, None);
        }
    }

    /// Records an input that could not even be parsed (a bad NDJSON line): dead-lettered with
    /// `reason`, counted like any other dead letter.
    pub fn dead_letter_input(&self, raw: Value, reason: &str) {
        let counters = &self.shared.counters;
        counters.received.fetch_add(1, Ordering::SeqCst);
        counters.dead_lettered.fetch_add(1, Ordering::SeqCst);
        self.shared.dead_letters.write(&raw, reason, None, None);
    }

    /// Counters since start.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        Stats {
            received: c.received.load(Ordering::SeqCst),
            delivered: c.delivered.load(Ordering::SeqCst),
            skipped: c.skipped.load(Ordering::SeqCst),
            dead_lettered: c.dead_lettered.load(Ordering::SeqCst),
            duplicates: c.duplicates.load(Ordering::SeqCst),
            in_flight: c.in_flight.load(Ordering::SeqCst),
        }
    }

    /// Counters since start, as a [`Summary`].
    pub fn summary(&self) -> Summary {
        let s = self.stats();
        Summary {
            delivered: s.delivered,
            skipped: s.skipped,
            dead_lettered: s.dead_lettered,
            duplicates: s.duplicates,
        }
    }

    /// Stops accepting ([`Forwarder::try_accept`] answers [`Error::Closing`]).
    pub fn close(&self) {
        self.shared.closing.store(true, Ordering::SeqCst);
    }

    /// Closes, then keeps delivering for up to `deadline`; what is still queued or retrying after
    /// that is dead-lettered ("shut down before delivery"). Returns the counters since start.
    ///
    /// Why a deadline and not "drain everything": an orchestrator kills us after its grace
    /// period anyway; dead-lettering on our own terms means the file says what was not delivered.
    /// Requests already on the wire are allowed to finish (bounded by the request timeout), so
    /// a message is never both dead-lettered and applied.
    pub async fn drain(&self, deadline: Duration) -> Summary {
        self.close();
        if tokio::time::timeout(deadline, self.wait_idle())
            .await
            .is_err()
        {
            tracing::warn!(
                in_flight = self.stats().in_flight,
                "drain deadline reached: dead-lettering what is left"
            );
            self.shared.cancel.send_replace(true);
            self.wait_idle().await;
        }
        self.summary()
    }

    /// Waits until no message is in flight.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.shared.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.shared.counters.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// A zero-permit placeholder, used where a permit must be moved out of a batch grant.
fn placeholder_permit() -> OwnedSemaphorePermit {
    Arc::new(Semaphore::new(1))
        .try_acquire_owned()
        .expect("a fresh semaphore has a permit")
}

impl Shared {
    fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Takes one accepted message: duplicate check, mapping decision, then its user's lane.
    fn submit(
        self: &Arc<Self>,
        raw: Value,
        slot: OwnedSemaphorePermit,
        done: Option<mpsc::UnboundedSender<Outcome>>,
    ) {
        self.counters.received.fetch_add(1, Ordering::SeqCst);
        self.counters.in_flight.fetch_add(1, Ordering::SeqCst);
        let message_id = message_id(&raw);
        let job = Job {
            raw,
            message_id: None,
            done,
            _slot: slot,
        };
        if let Some(id) = &message_id {
            let first = self
                .dedup
                .lock()
                .unwrap()
                .first_sighting(id, Instant::now());
            if !first {
                tracing::debug!(message_id = %id, "duplicate messageId: applied once already");
                return self.finish(job, Outcome::Duplicate);
            }
        }
        let job = Job { message_id, ..job };
        match mapping::decide(&job.raw) {
            Decision::Skip { reason } => {
                tracing::debug!(%reason, "skipped");
                self.finish(job, Outcome::Skipped);
            }
            Decision::Reject { reason } => self.dead_letter(job, &reason, None, None),
            Decision::Deliver(plan) => {
                let key = plan.custom_id.clone();
                let start_lane = {
                    let mut lanes = self.lanes.lock().unwrap();
                    match lanes.get_mut(&key) {
                        Some(queue) => {
                            queue.push_back((job, plan));
                            false
                        }
                        None => {
                            lanes.insert(key.clone(), VecDeque::from([(job, plan)]));
                            true
                        }
                    }
                };
                if start_lane {
                    tokio::spawn(Arc::clone(self).run_lane(key));
                }
            }
        }
    }

    /// Applies one user's messages in order until the lane is empty, then removes it.
    ///
    /// The lane entry stays in the map while this task runs, so a message arriving meanwhile is
    /// appended to it rather than starting a second task for the same user (which would break
    /// the order). Emptiness is checked and the entry removed under the same lock as the append.
    async fn run_lane(self: Arc<Self>, key: String) {
        // Held for the whole lane: `concurrency` bounds users served at once.
        let _worker = Arc::clone(&self.workers).acquire_owned().await;
        loop {
            let next = {
                let mut lanes = self.lanes.lock().unwrap();
                match lanes.get_mut(&key).and_then(VecDeque::pop_front) {
                    Some(next) => next,
                    None => {
                        lanes.remove(&key);
                        return;
                    }
                }
            };
            let (job, plan) = next;
            if self.cancelled() {
                self.dead_letter(job, "shut down before delivery was attempted", None, None);
                continue;
            }
            match self.deliver(&plan).await {
                Ok(()) => self.finish(job, Outcome::Delivered),
                Err(e) => {
                    let reason = format!("{}: {e}", plan.call);
                    self.dead_letter(job, &reason, e.status(), e.endpoint());
                }
            }
        }
    }

    /// Runs a plan's operations in order; each operation retries on its own, all within one
    /// retry window that starts with the message's first request.
    async fn deliver(&self, plan: &Plan) -> Result<()> {
        let deadline = Instant::now() + self.config.retry_window;
        for op in &plan.ops {
            self.retrying(deadline, || self.apply(op)).await?;
        }
        Ok(())
    }

    /// Retries `attempt` while it fails retryably and the window allows another try.
    ///
    /// Why exponential backoff with *full* jitter (a uniform delay in `0..=cap`, cap doubling per
    /// attempt): when User.com throttles or restarts, every lane fails at once; without jitter
    /// they would all come back at the same instant and fail again. Full jitter spreads them best
    /// for the least total wait. A `Retry-After` is a floor, never shortened (the server knows
    /// when it will take us back); one longer than the window left ends the retries at once
    /// rather than waiting for a request we know we may not send.
    async fn retrying<T, F, Fut>(&self, deadline: Instant, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut failures: u32 = 0;
        loop {
            let error = match attempt().await {
                Ok(value) => return Ok(value),
                Err(e) if !e.is_retryable() => return Err(e),
                Err(e) => e,
            };
            let jitter = full_jitter(self.config.backoff_base, self.config.backoff_max, failures);
            let delay = error
                .retry_after()
                .map_or(jitter, |asked| asked.max(jitter));
            if Instant::now() + delay > deadline || self.cancelled() {
                return Err(error);
            }
            failures += 1;
            tracing::warn!(error = %error, attempt = failures, delay_ms = delay.as_millis() as u64, "retrying");
            let mut cancel = self.cancel.subscribe();
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = cancel.wait_for(|c| *c) => return Err(error),
            }
        }
    }

    /// One abstract operation → its User.com request(s). Idempotent as a whole, so it can be
    /// retried from the start.
    async fn apply(&self, op: &Op) -> Result<()> {
        match op {
            Op::UpsertUser { custom_id, fields } => {
                // update_or_create is atomic on custom_id: resending after a lost response
                // updates the same user instead of creating a second one.
                let upserted = self.client.update_or_create(custom_id, fields).await?;
                self.remember_user_id(custom_id, upserted.id);
            }
            Op::EnsureUser { custom_id } => {
                self.ensure_user(custom_id).await?;
            }
            Op::SiteView {
                custom_id,
                url,
                path,
                title,
                timestamp,
            } => {
                let body = |client_user| SiteViewBody {
                    client_user,
                    page_domain: url.as_deref(),
                    page_path: path.as_deref(),
                    title: title.as_deref(),
                    timestamp: timestamp.as_deref(),
                };
                let (key, from_cache) = self.user_key(custom_id).await?;
                match self.client.site_view(&body(&key)).await {
                    // A cached user_key can be stale (user deleted, simulator reset): look the
                    // user up again and try once more.
                    Err(e) if from_cache && matches!(e.status(), Some(400 | 404)) => {
                        self.forget_user(custom_id);
                        let (key, _) = self.user_key(custom_id).await?;
                        self.client.site_view(&body(&key)).await?;
                    }
                    other => other?,
                }
            }
            Op::Event {
                custom_id,
                name,
                timestamp,
                data,
            } => {
                let body = EventBody {
                    name,
                    timestamp: *timestamp,
                    data,
                };
                match self.client.create_event(custom_id, &body).await {
                    // The destination never surfaces a 404 for an unknown user: create it, then
                    // send the event once more (a second 404 is a real error).
                    Err(e) if e.is_not_found() => {
                        let upserted = self.client.update_or_create(custom_id, &Map::new()).await?;
                        self.remember_user_id(custom_id, upserted.id);
                        self.client.create_event(custom_id, &body).await?;
                    }
                    other => other?,
                }
            }
            Op::UpsertCompany { group_id, fields } => {
                self.upsert_company(group_id, fields).await?;
            }
            Op::AddMember {
                group_id,
                custom_id,
            } => {
                let cached = self.cached_company(group_id).is_some()
                    && self.cached_user(custom_id).is_some();
                let company = self.company_id(group_id).await?;
                let user = self.ensure_user(custom_id).await?;
                match self.client.add_member(company, user.id, custom_id).await {
                    Err(e) if cached && e.is_not_found() => {
                        self.forget_user(custom_id);
                        self.forget_company(group_id);
                        let company = self.company_id(group_id).await?;
                        let user = self.ensure_user(custom_id).await?;
                        self.client.add_member(company, user.id, custom_id).await?;
                    }
                    other => other?,
                }
            }
        }
        Ok(())
    }

    /// The user's (id, user_key): from the cache, else `GET /users-by-id/`, else created.
    async fn ensure_user(&self, custom_id: &str) -> Result<UserRef> {
        if let Some(user) = self.cached_user(custom_id) {
            return Ok(user);
        }
        let user = match self.client.find_user(custom_id).await? {
            Some(user) => user,
            None => {
                let upserted = self.client.update_or_create(custom_id, &Map::new()).await?;
                UserRef {
                    id: upserted.id,
                    user_key: None,
                }
            }
        };
        self.cache_user(custom_id, user.clone());
        Ok(user)
    }

    /// The user's `user_key` and whether it came from the cache. `update_or_create` answers only
    /// the id, so a user we created ourselves costs one `GET /users/{id}/` the first time.
    async fn user_key(&self, custom_id: &str) -> Result<(String, bool)> {
        if let Some(UserRef {
            user_key: Some(key),
            ..
        }) = self.cached_user(custom_id)
        {
            return Ok((key, true));
        }
        let user = self.ensure_user(custom_id).await?;
        if let Some(key) = user.user_key {
            return Ok((key, false));
        }
        let fetched = self.client.get_user(user.id).await?;
        let key = fetched.user_key.clone().ok_or_else(|| Error::BadResponse {
            endpoint: format!("GET /api/public/users/{}/", user.id),
            detail: "no \"user_key\" in the user".into(),
        })?;
        self.cache_user(custom_id, fetched);
        Ok((key, false))
    }

    /// Find-or-create-then-update of a company, atomic per group within this process.
    ///
    /// Why the lock: two users joining the same new company at once would both miss the lookup
    /// and both `POST /companies/`, making two companies with one custom id. A striped lock
    /// (bounded memory) serialises only groups hashing to the same stripe.
    ///
    /// Why look up before creating, on every attempt: `POST /companies/` is not idempotent. If its
    /// response is lost (timeout, 502 after the write), the retry finds the company the first
    /// attempt created and updates it instead of creating a twin.
    async fn upsert_company(&self, group_id: &str, fields: &Map<String, Value>) -> Result<i64> {
        let _guard = self.company_lock(group_id).lock().await;
        let body = WithCustomId {
            fields,
            custom_id: group_id,
        };
        if let Some(id) = self.cached_company(group_id) {
            match self.client.update_company(id, &body).await {
                Ok(id) => return Ok(id),
                Err(e) if e.is_not_found() => self.forget_company(group_id),
                Err(e) => return Err(e),
            }
        }
        let id = match self.client.find_company(group_id).await? {
            Some(id) => self.client.update_company(id, &body).await?,
            None => match self.create_company(group_id, &body).await? {
                Created::New(id) => id,
                Created::Existing(id) => self.client.update_company(id, &body).await?,
            },
        };
        self.cache_company(group_id, id);
        Ok(id)
    }

    /// `POST /companies/`, tolerating a company created meanwhile by someone else.
    ///
    /// Why: the per-group lock only serialises this process. Another forwarder (a second ingress
    /// replica, a concurrent `send`) can create the same `custom_id` between our lookup and our
    /// create; User.com then refuses the duplicate with a 400. That 400 is not a bad message, so
    /// instead of dead-lettering we look the company up once more and carry on with it.
    async fn create_company(&self, group_id: &str, body: &WithCustomId<'_>) -> Result<Created> {
        match self.client.create_company(body).await {
            Ok(id) => Ok(Created::New(id)),
            Err(e) if e.status() == Some(400) => match self.client.find_company(group_id).await? {
                Some(id) => Ok(Created::Existing(id)),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// The company id for a group: cache, lookup, or a minimal create (`{custom_id}`).
    async fn company_id(&self, group_id: &str) -> Result<i64> {
        if let Some(id) = self.cached_company(group_id) {
            return Ok(id);
        }
        let _guard = self.company_lock(group_id).lock().await;
        let id = match self.client.find_company(group_id).await? {
            Some(id) => id,
            None => match self
                .create_company(
                    group_id,
                    &WithCustomId {
                        fields: &Map::new(),
                        custom_id: group_id,
                    },
                )
                .await?
            {
                Created::New(id) | Created::Existing(id) => id,
            },
        };
        self.cache_company(group_id, id);
        Ok(id)
    }

    fn company_lock(&self, group_id: &str) -> &tokio::sync::Mutex<()> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        group_id.hash(&mut hasher);
        &self.company_locks[(hasher.finish() as usize) % COMPANY_LOCK_STRIPES]
    }

    fn cached_user(&self, custom_id: &str) -> Option<UserRef> {
        self.users.lock().unwrap().get(custom_id).cloned()
    }

    fn cache_user(&self, custom_id: &str, user: UserRef) {
        let mut users = self.users.lock().unwrap();
        if users.len() >= CACHE_LIMIT && !users.contains_key(custom_id) {
            users.clear();
        }
        users.insert(custom_id.to_string(), user);
    }

    /// Records the id an upsert answered, keeping a known user_key when the id is unchanged.
    fn remember_user_id(&self, custom_id: &str, id: i64) {
        let user_key = self
            .cached_user(custom_id)
            .filter(|user| user.id == id)
            .and_then(|user| user.user_key);
        self.cache_user(custom_id, UserRef { id, user_key });
    }

    fn forget_user(&self, custom_id: &str) {
        self.users.lock().unwrap().remove(custom_id);
    }

    fn cached_company(&self, group_id: &str) -> Option<i64> {
        self.companies.lock().unwrap().get(group_id).copied()
    }

    fn cache_company(&self, group_id: &str, id: i64) {
        let mut companies = self.companies.lock().unwrap();
        if companies.len() >= CACHE_LIMIT && !companies.contains_key(group_id) {
            companies.clear();
        }
        companies.insert(group_id.to_string(), id);
    }

    fn forget_company(&self, group_id: &str) {
        self.companies.lock().unwrap().remove(group_id);
    }

    fn dead_letter(&self, job: Job, reason: &str, status: Option<u16>, call: Option<&str>) {
        self.dead_letters.write(&job.raw, reason, status, call);
        // A dead-lettered message was not applied: let a later resend of it through.
        if let Some(id) = &job.message_id {
            self.dedup.lock().unwrap().forget(id);
        }
        self.finish(job, Outcome::DeadLettered);
    }

    fn finish(&self, job: Job, outcome: Outcome) {
        let counter = match outcome {
            Outcome::Delivered => &self.counters.delivered,
            Outcome::Skipped => &self.counters.skipped,
            Outcome::DeadLettered => &self.counters.dead_lettered,
            Outcome::Duplicate => &self.counters.duplicates,
        };
        counter.fetch_add(1, Ordering::SeqCst);
        if let Some(done) = &job.done {
            // The receiver may be gone (caller stopped listening): the count above stands.
            let _ = done.send(outcome);
        }
        // Release the queue slot before announcing idleness.
        drop(job);
        if self.counters.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }
}

/// A uniform delay in `0..=min(max, base·2^failures)`.
fn full_jitter(base: Duration, max: Duration, failures: u32) -> Duration {
    let cap = base
        .checked_mul(2u32.saturating_pow(failures.min(30)))
        .unwrap_or(max)
        .min(max);
    cap.mul_f64(fastrand::f64())
}

/// A message's `messageId` as text (Segment clients send strings; numbers are tolerated).
fn message_id(raw: &Value) -> Option<String> {
    match raw.get("messageId")? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Recently accepted `messageId`s, bounded in count and in age.
///
/// Why both bounds: Segment clients retry a batch within seconds to minutes, so a time window
/// catches their duplicates; the count bound keeps a long-running ingress's memory flat even
/// under a flood of unique ids.
struct Dedup {
    seen: HashMap<String, Instant>,
    order: VecDeque<(String, Instant)>,
    capacity: usize,
    window: Duration,
}

impl Dedup {
    fn new(capacity: usize, window: Duration) -> Dedup {
        Dedup {
            seen: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            window,
        }
    }

    /// `true` the first time `id` is seen within the window (and records it).
    fn first_sighting(&mut self, id: &str, now: Instant) -> bool {
        while let Some((old, at)) = self.order.front() {
            if self.order.len() <= self.capacity && now.duration_since(*at) <= self.window {
                break;
            }
            if self.seen.get(old) == Some(at) {
                self.seen.remove(old);
            }
            self.order.pop_front();
        }
        if let Some(at) = self.seen.get(id) {
            if now.duration_since(*at) <= self.window {
                return false;
            }
        }
        self.seen.insert(id.to_string(), now);
        self.order.push_back((id.to_string(), now));
        true
    }

    fn forget(&mut self, id: &str) {
        self.seen.remove(id);
    }
}

/// The dead-letter sink: NDJSON lines `{"message", "reason", "status", "call", "at"}`.
struct DeadLetters {
    path: Option<PathBuf>,
    /// A std Mutex around a blocking append: one short write per dead letter, rare by nature.
    file: Option<Mutex<std::fs::File>>,
}

impl DeadLetters {
    fn open(path: Option<PathBuf>) -> Result<DeadLetters> {
        let file = match &path {
            Some(path) => Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| Error::io(format!("dead-letter file {}", path.display()), e))?,
            )),
            None => None,
        };
        Ok(DeadLetters { path, file })
    }

    fn write(&self, message: &Value, reason: &str, status: Option<u16>, call: Option<&str>) {
        let line = json!({
            "message": message,
            "reason": reason,
            "status": status,
            "call": call,
            "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        tracing::warn!(%reason, ?status, "dead-lettered a message");
        let Some(file) = &self.file else {
            tracing::error!(dead_letter = %line, "dead letter (no --dead-letter file configured)");
            return;
        };
        let written = {
            let mut file = file.lock().unwrap();
            writeln!(file, "{line}").and_then(|()| file.flush())
        };
        if let Err(e) = written {
            // Still not lost: the whole line goes to the log.
            let path = self.path.as_ref().map(|p| p.display().to_string());
            tracing::error!(error = %e, ?path, dead_letter = %line, "cannot write the dead-letter file");
        }
    }
}

/// `POST /site-views/` body, serialised from the plan's borrowed strings (absent = left out).
#[derive(Serialize)]
struct SiteViewBody<'a> {
    client_user: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<&'a str>,
}

/// `POST /users-by-id/{custom_id}/events/` body; `data` is the plan's map, not a copy of it.
#[derive(Serialize)]
struct EventBody<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<i64>,
    data: &'a Map<String, Value>,
}

/// How the company create obtained the company id.
enum Created {
    /// Our `POST /companies/` created it (the body is already applied).
    New(i64),
    /// It already existed (created concurrently elsewhere); the body still has to be applied.
    Existing(i64),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identify(user: &str) -> Value {
        json!({"type": "identify", "userId": user, "traits": {"email": format!("{user}@example.com")}})
    }

    /// The ingress's accept: a full queue refuses at once with no wait, and with a wait the
    /// batch gets in as soon as earlier messages end, all of it, nothing lost.
    #[tokio::test]
    async fn accept_within_waits_for_room_or_refuses() {
        use wiremock::{matchers, Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        Mock::given(matchers::method("POST"))
            .and(matchers::path("/api/public/users/update_or_create/"))
            .respond_with(
                // Slow enough that the queue is still full when the next batch arrives.
                ResponseTemplate::new(200)
                    .set_body_json(json!({"id": 1, "created": true}))
                    .set_delay(Duration::from_millis(300)),
            )
            .mount(&server)
            .await;
        let forwarder = Forwarder::new(Config {
            queue_capacity: 2,
            ..Config::new(server.uri(), "key")
        })
        .unwrap();
        forwarder
            .accept_within(vec![identify("a"), identify("b")], Duration::ZERO)
            .await
            .unwrap_or_else(|e| panic!("room for two: {e}"));
        let full = forwarder
            .accept_within(vec![identify("c")], Duration::ZERO)
            .await;
        assert!(
            matches!(full, Err(Error::QueueFull { capacity: 2 })),
            "{full:?}"
        );
        let too_big = forwarder
            .accept_within(
                vec![identify("c"), identify("d"), identify("e")],
                Duration::from_secs(60),
            )
            .await;
        assert!(
            matches!(too_big, Err(Error::QueueFull { .. })),
            "a batch larger than the queue is refused without waiting: {too_big:?}"
        );
        forwarder
            .accept_within(vec![identify("c"), identify("d")], Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic!("room frees up as a and b are delivered: {e}"));
        forwarder.wait_idle().await;
        let stats = forwarder.stats();
        assert_eq!((stats.received, stats.delivered), (4, 4), "{stats:?}");
    }

    #[test]
    fn dedup_remembers_within_window_and_capacity() {
        let start = Instant::now();
        let mut dedup = Dedup::new(2, Duration::from_secs(60));
        assert!(dedup.first_sighting("a", start));
        assert!(!dedup.first_sighting("a", start + Duration::from_secs(1)));
        assert!(dedup.first_sighting("b", start));
        assert!(dedup.first_sighting("c", start));
        // Capacity 2: "a" was evicted.
        assert!(dedup.first_sighting("a", start + Duration::from_secs(2)));
        // Window: "c" is forgotten after 60 s.
        assert!(dedup.first_sighting("c", start + Duration::from_secs(120)));
        dedup.forget("c");
        assert!(dedup.first_sighting("c", start + Duration::from_secs(121)));
    }

    #[test]
    fn jitter_stays_under_the_cap() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        for failures in 0..40 {
            let delay = full_jitter(base, max, failures);
            let cap = (base * 2u32.pow(failures.min(10))).min(max);
            assert!(delay <= cap, "{delay:?} > {cap:?} at {failures}");
        }
    }

    #[test]
    fn summary_line_starts_with_the_three_counts() {
        let mut summary = Summary::default();
        summary.record(Outcome::Delivered);
        summary.record(Outcome::DeadLettered);
        summary.record(Outcome::Duplicate);
        assert_eq!(
            summary.to_string(),
            "delivered=1 skipped=0 dead_lettered=1 duplicates=1"
        );
        assert_eq!(summary.total(), 3);
    }
}
