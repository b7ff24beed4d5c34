//! Delivery: applies each message's planned operations, in order per user, concurrently across
//! users, with retries, duplicate suppression and a dead-letter file.
//!
//! - [`Forwarder`] (this file): the queue, the per-user lanes, how a message ends;
//! - [`config`]: the settings; [`outcome`]: how messages end, counted;
//! - `retry`: when to try again; `dedup`: `messageId`s applied once;
//! - [`dead_letter`]: the dead-letter file, written and read.
//!
//! What each operation sends to User.com (and what a 404 does) is not here: that is
//! [`crate::usercom::apply`].
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
//! With a spool ([`Config::spool`], `serve`'s default), a batch is appended to the spool and
//! made durable after it gets its slots and before it is accepted; its records are acknowledged
//! as each message ends (after the dead-letter line is written, for a dead letter). On start,
//! [`Forwarder::replay`] submits what the spool still holds, in acceptance order, before the
//! ingress takes anything new.
//!
//! Why lanes: User.com applies requests in arrival order, and a user's identify, then page, then
//! track must land in that order (the page needs the user the identify created; a later identify
//! must overwrite an earlier one, not the reverse). Different users do not interact, so they can
//! run side by side; the bound keeps us polite to the API and predictable in memory.

pub mod config;
pub mod dead_letter;
mod dedup;
pub mod outcome;
mod retry;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

pub use config::Config;
pub use outcome::{Outcome, Stats, Summary};

use crate::error::{Error, Result};
use crate::mapping::{self, Decision, Dropped, Op, Plan};
use crate::segment;
use crate::spool::{Recovered, Spool, SpoolStats};
use crate::usercom::{Applier, Client, Origin};
use dead_letter::DeadLetters;
use dedup::Dedup;
use outcome::Counters;
use retry::Backoff;

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

struct Shared {
    config: Config,
    /// Turns operations into User.com calls (with the id caches).
    applier: Applier<Client>,
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
    /// The durable spool, when configured.
    spool: Option<Arc<Spool>>,
    /// What the spool held at open, until [`Forwarder::replay`] submits it.
    recovered: Mutex<Option<Recovered>>,
}

struct Job {
    raw: Value,
    message_id: Option<String>,
    /// The message's spool record, acknowledged when it ends.
    seq: Option<u64>,
    done: Option<Reply>,
    _slot: OwnedSemaphorePermit,
}

/// Where a [`Forwarder::send_all_with`] message's outcome goes, with its index.
struct Reply {
    index: usize,
    tx: mpsc::UnboundedSender<(usize, Outcome)>,
}

impl Forwarder {
    /// Validates the configuration, opens the dead-letter file (append) and builds the client.
    pub fn new(config: Config) -> Result<Forwarder> {
        let origin = Origin::from_url(&config.usercom_url)?;
        let client = Client::new(
            &origin,
            &config.api_key,
            config.request_timeout,
            config.concurrency.max(1),
            config.tls_platform_roots,
        )?;
        let sync = config
            .spool
            .as_ref()
            .is_some_and(|s| s.sync == crate::spool::SyncPolicy::Fsync);
        let dead_letters = DeadLetters::open(config.dead_letter.clone(), sync)?;
        let (spool, recovered) = match &config.spool {
            Some(spool_config) => {
                let (spool, recovered) = Spool::open(spool_config)?;
                for (path, offset, bytes, why) in &recovered.torn {
                    tracing::warn!(segment = %path.display(), offset, bytes, reason = why, "spool: torn tail skipped");
                }
                tracing::info!(
                    dir = %spool_config.dir.display(),
                    pending = recovered.pending.len(),
                    read_ms = recovered.took.as_secs_f64() * 1e3,
                    "spool opened"
                );
                (Some(Arc::new(spool)), Some(recovered))
            }
            None => (None, None),
        };
        let concurrency = config.concurrency.max(1);
        let capacity = config.queue_capacity.max(1);
        let (cancel, _) = watch::channel(false);
        Ok(Forwarder {
            shared: Arc::new(Shared {
                applier: Applier::new(client),
                lanes: Mutex::new(HashMap::new()),
                workers: Arc::new(Semaphore::new(concurrency)),
                capacity: Arc::new(Semaphore::new(capacity)),
                dedup: Mutex::new(Dedup::new(config.dedup_capacity, config.dedup_window)),
                dead_letters,
                counters: Counters::default(),
                idle: Notify::new(),
                closing: AtomicBool::new(false),
                cancel,
                spool,
                recovered: Mutex::new(recovered),
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
        self.send_all_with(messages, |_, _| {}).await
    }

    /// As [`Forwarder::send_all`], calling `on_outcome` with the message's index in `messages`
    /// as each message ends (progress bars, `send --resume` checkpoints). Messages end out of
    /// order: each user's messages keep their order, different users' do not.
    pub async fn send_all_with(
        &self,
        messages: Vec<Value>,
        mut on_outcome: impl FnMut(usize, Outcome),
    ) -> Summary {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut summary = Summary::default();
        let dropped_before = self.shared.counters.dropped_fields.load(Ordering::SeqCst);
        for (index, raw) in messages.into_iter().enumerate() {
            // The semaphore is never closed, so acquiring only waits for room.
            let Ok(slot) = self.shared.capacity.clone().acquire_owned().await else {
                break;
            };
            let reply = Reply {
                index,
                tx: tx.clone(),
            };
            self.shared.submit(raw, None, slot, Some(reply));
            // Count outcomes as they come so progress moves while we are still submitting.
            while let Ok((index, outcome)) = rx.try_recv() {
                summary.record(outcome);
                on_outcome(index, outcome);
            }
        }
        drop(tx);
        while let Some((index, outcome)) = rx.recv().await {
            summary.record(outcome);
            on_outcome(index, outcome);
        }
        // Fields left out while these messages were delivered (another run on the same handle
        // at the same time would be counted here too).
        summary.dropped_fields =
            self.shared.counters.dropped_fields.load(Ordering::SeqCst) - dropped_before;
        summary
    }

    /// Accepts a batch into the queue without waiting: all of it, or nothing.
    ///
    /// Why all-or-nothing: a Segment client retries the whole batch on 429, so accepting half of
    /// it would deliver that half twice (only messages with a `messageId` would be caught).
    ///
    /// Without a spool only: with one, use [`Forwarder::accept_within`] (the append is awaited).
    pub fn try_accept(&self, messages: Vec<Value>) -> Result<()> {
        if self.shared.closing.load(Ordering::SeqCst) {
            return Err(Error::Closing);
        }
        if self.shared.spool.is_some() {
            return Err(Error::SpoolUnavailable(
                "try_accept cannot wait for the spool: use accept_within".into(),
            ));
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
        self.submit_batch(messages, slots, None);
        Ok(())
    }

    /// As [`Forwarder::try_accept`], but when the queue is full waits up to `wait` for room
    /// (all of the batch, or nothing) before answering [`Error::QueueFull`]. Waiting requests
    /// are served first come, first served.
    ///
    /// With a spool, the batch is then appended to it and made durable before this returns
    /// `Ok`; when it cannot be ([`Error::SpoolFull`], [`Error::SpoolUnavailable`]) nothing of
    /// it is accepted.
    pub async fn accept_within(&self, messages: Vec<Value>, wait: Duration) -> Result<()> {
        if wait.is_zero() && self.shared.spool.is_none() {
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
        let first_seq = match &self.shared.spool {
            // On error the slots go back with `slots` dropped: nothing was accepted.
            Some(spool) => Some(spool.append(&messages).await?),
            None => None,
        };
        self.submit_batch(messages, slots, first_seq);
        Ok(())
    }

    fn queue_full(&self) -> Error {
        Error::QueueFull {
            capacity: self.shared.config.queue_capacity,
        }
    }

    /// Submits each message with one permit of `slots` (which holds one per message); with a
    /// spool, message `i` is its record `first_seq + i`.
    fn submit_batch(
        &self,
        messages: Vec<Value>,
        mut slots: OwnedSemaphorePermit,
        first_seq: Option<u64>,
    ) {
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
            let seq = first_seq.map(|first| first + i as u64);
            self.shared.submit(raw, seq, slot, None);
        }
    }

    /// Submits what the spool held when it was opened (messages accepted by an earlier run
    /// that never ended), in acceptance order, and returns how many. Call once, before the
    /// ingress accepts anything (so each user's replayed messages go before new ones). They
    /// take queue slots while there are free ones; beyond that they are submitted anyway (the
    /// spool bounded them), and new batches wait for room.
    pub fn replay(&self) -> usize {
        let Some(recovered) = self.shared.recovered.lock().unwrap().take() else {
            return 0;
        };
        let mut replayed = 0;
        for (seq, bytes) in recovered.pending {
            let raw: Value = match serde_json::from_slice(&bytes) {
                Ok(raw) => raw,
                Err(e) => {
                    // Checked by its CRC, so this is a message we wrote: never expected.
                    tracing::error!(error = %e, seq, "spool: a record is not JSON; acknowledged and skipped");
                    if let Some(spool) = &self.shared.spool {
                        spool.ack(seq);
                    }
                    continue;
                }
            };
            let slot = self
                .shared
                .capacity
                .clone()
                .try_acquire_owned()
                .unwrap_or_else(|_| placeholder_permit());
            self.shared.submit(raw, Some(seq), slot, None);
            replayed += 1;
        }
        // Only now the ids of copies that had ended: a pending message whose client resend was
        // caught as a duplicate (and acknowledged) before the crash must still be delivered,
        // not be taken for a duplicate of that resend.
        let now = Instant::now();
        {
            let mut dedup = self.shared.dedup.lock().unwrap();
            for id in &recovered.ended_message_ids {
                dedup.first_sighting(id, now);
            }
        }
        if let Some(spool) = &self.shared.spool {
            spool.count_replayed(replayed as u64);
        }
        if replayed > 0 {
            tracing::info!(
                replayed,
                "spool: replaying messages accepted before the last stop"
            );
        }
        replayed
    }

    /// The spool's counters, when there is a spool.
    pub fn spool_stats(&self) -> Option<SpoolStats> {
        self.shared.spool.as_ref().map(|s| s.stats())
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
        self.shared.counters.stats()
    }

    /// Counters since start, as a [`Summary`].
    pub fn summary(&self) -> Summary {
        self.stats().summary()
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
        self.close_spool().await;
        self.summary()
    }

    /// Writes the spool's last acks and closes it (deleting its files when nothing is
    /// pending). Called by [`Forwarder::drain`]; the spool takes no appends afterwards.
    pub async fn close_spool(&self) {
        if let Some(spool) = self.shared.spool.clone() {
            let _ = tokio::task::spawn_blocking(move || spool.close()).await;
        }
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
        seq: Option<u64>,
        slot: OwnedSemaphorePermit,
        done: Option<Reply>,
    ) {
        self.counters.received.fetch_add(1, Ordering::SeqCst);
        self.counters.in_flight.fetch_add(1, Ordering::SeqCst);
        let message_id = segment::message_id(&raw);
        let job = Job {
            raw,
            message_id: None,
            seq,
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
    /// retry window that starts with the message's first request. On success the fields left
    /// out (by the mapping and by the applier) are counted and logged with their reasons.
    async fn deliver(&self, plan: &Plan) -> Result<()> {
        let deadline = Instant::now() + self.config.retry_window;
        let backoff = Backoff {
            base: self.config.backoff_base,
            max: self.config.backoff_max,
        };
        let mut dropped = plan.dropped.clone();
        for op in &plan.ops {
            let maybe_applied = AtomicBool::new(false);
            dropped.extend(
                retry::retrying(backoff, deadline, &self.cancel, || {
                    self.apply_once(op, &maybe_applied)
                })
                .await?,
            );
        }
        for field in &dropped {
            tracing::warn!(
                call = plan.call,
                custom_id = %plan.custom_id,
                field = %field.field,
                reason = %field.reason,
                "field left out, the rest delivered"
            );
        }
        self.counters
            .dropped_fields
            .fetch_add(dropped.len() as u64, Ordering::SeqCst);
        Ok(())
    }

    /// One attempt at an operation. With `--read-back`, an event whose earlier attempt may
    /// have been applied ([`crate::Error::maybe_applied`]; `maybe_applied` lives as long as the
    /// operation's retries) is first looked for at User.com and not sent again when it is there
    /// ([`crate::usercom::read_back`]). A check that fails is retried like any attempt.
    async fn apply_once(&self, op: &Op, maybe_applied: &AtomicBool) -> Result<Vec<Dropped>> {
        let reading_back = self.config.read_back && matches!(op, Op::Event { .. });
        if reading_back && maybe_applied.load(Ordering::SeqCst) {
            self.counters.read_backs.fetch_add(1, Ordering::SeqCst);
            if self.applier.event_recorded(op).await? {
                self.counters.resends_avoided.fetch_add(1, Ordering::SeqCst);
                tracing::info!(
                    "read back: the event was recorded before its answer was lost; not sent again"
                );
                return Ok(Vec::new());
            }
        }
        let result = self.applier.apply(op).await;
        if let Err(e) = &result {
            if reading_back && e.maybe_applied() {
                maybe_applied.store(true, Ordering::SeqCst);
            }
        }
        result
    }

    fn dead_letter(&self, job: Job, reason: &str, status: Option<u16>, call: Option<&str>) {
        self.dead_letters.write(&job.raw, reason, status, call);
        // A dead-lettered message was not applied: let a later resend of it through.
        if let Some(id) = &job.message_id {
            self.dedup.lock().unwrap().forget(id);
        }
        self.finish(job, Outcome::DeadLettered);
    }

    fn finish(&self, mut job: Job, outcome: Outcome) {
        // The message ended (a dead letter is on file by now): its spool record may go.
        if let (Some(spool), Some(seq)) = (&self.spool, job.seq) {
            spool.ack(seq);
        }
        self.counters.ended(outcome);
        let done = job.done.take();
        // Release the queue slot, and count the message out, before anyone hears it ended: a
        // caller woken by the outcome reads `/stats` with this message no longer in flight.
        drop(job);
        let idle = self.counters.in_flight.fetch_sub(1, Ordering::SeqCst) == 1;
        if let Some(done) = done {
            // The receiver may be gone (caller stopped listening): the counts above stand.
            let _ = done.tx.send((done.index, outcome));
        }
        if idle {
            self.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
