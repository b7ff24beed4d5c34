//! How messages end, counted: [`Outcome`] per message, [`Summary`] for a run, [`Stats`] since
//! start (the ingress's `GET /stats`).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

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
    /// Fields left out of delivered messages (an invalid email, a value its attribute's type
    /// cannot take, a field User.com refused); each is logged with its reason.
    pub dropped_fields: u64,
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
            "delivered={} skipped={} dead_lettered={} duplicates={} dropped_fields={}",
            self.delivered, self.skipped, self.dead_lettered, self.duplicates, self.dropped_fields
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
    /// See [`Summary::dropped_fields`].
    pub dropped_fields: u64,
    /// Accepted and not yet ended.
    pub in_flight: u64,
    /// `--read-back`: checks made before resending an event whose answer was lost.
    pub read_backs: u64,
    /// `--read-back`: events found recorded by such a check, so not sent again.
    pub resends_avoided: u64,
}

/// The live counters behind [`Stats`]: atomics, so lanes count without a lock.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) received: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) dropped_fields: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    pub(crate) read_backs: AtomicU64,
    pub(crate) resends_avoided: AtomicU64,
}

impl Counters {
    /// Counts one ended message.
    pub(crate) fn ended(&self, outcome: Outcome) {
        let counter = match outcome {
            Outcome::Delivered => &self.delivered,
            Outcome::Skipped => &self.skipped,
            Outcome::DeadLettered => &self.dead_lettered,
            Outcome::Duplicate => &self.duplicates,
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }

    /// A snapshot.
    pub(crate) fn stats(&self) -> Stats {
        Stats {
            received: self.received.load(Ordering::SeqCst),
            delivered: self.delivered.load(Ordering::SeqCst),
            skipped: self.skipped.load(Ordering::SeqCst),
            dead_lettered: self.dead_lettered.load(Ordering::SeqCst),
            duplicates: self.duplicates.load(Ordering::SeqCst),
            dropped_fields: self.dropped_fields.load(Ordering::SeqCst),
            in_flight: self.in_flight.load(Ordering::SeqCst),
            read_backs: self.read_backs.load(Ordering::SeqCst),
            resends_avoided: self.resends_avoided.load(Ordering::SeqCst),
        }
    }
}

impl Stats {
    /// The ended counts, as a [`Summary`].
    pub fn summary(&self) -> Summary {
        Summary {
            delivered: self.delivered,
            skipped: self.skipped,
            dead_lettered: self.dead_lettered,
            duplicates: self.duplicates,
            dropped_fields: self.dropped_fields,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line_starts_with_the_three_counts() {
        let mut summary = Summary::default();
        summary.record(Outcome::Delivered);
        summary.record(Outcome::DeadLettered);
        summary.record(Outcome::Duplicate);
        assert_eq!(
            summary.to_string(),
            "delivered=1 skipped=0 dead_lettered=1 duplicates=1 dropped_fields=0"
        );
        assert_eq!(summary.total(), 3);
    }
}
