//! Duplicate suppression: a `messageId` seen again within the window is applied once.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

/// Recently accepted `messageId`s, bounded in count and in age.
///
/// Why both bounds: Segment clients retry a batch within seconds to minutes, so a time window
/// catches their duplicates; the count bound keeps a long-running ingress's memory flat even
/// under a flood of unique ids.
pub(crate) struct Dedup {
    seen: HashMap<String, Instant>,
    order: VecDeque<(String, Instant)>,
    capacity: usize,
    window: Duration,
}

impl Dedup {
    pub(crate) fn new(capacity: usize, window: Duration) -> Dedup {
        Dedup {
            seen: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            window,
        }
    }

    /// `true` the first time `id` is seen within the window (and records it).
    pub(crate) fn first_sighting(&mut self, id: &str, now: Instant) -> bool {
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

    pub(crate) fn forget(&mut self, id: &str) {
        self.seen.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
