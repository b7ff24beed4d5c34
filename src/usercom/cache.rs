//! The id caches of the applier: `custom_id → (id, user_key)` and `groupId → company id`.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;

/// Entries kept; beyond it the least recently used entry is evicted (a miss only costs a
/// look-up). Was "clear everything at the limit", which sent a large tenant's whole working
/// set back to User.com for look-ups at once, into its rate limit.
const CACHE_LIMIT: usize = 100_000;

/// A bounded LRU map from a Segment id to what User.com calls it.
///
/// A std Mutex: every critical section is a map lookup or insert, never held across `.await`.
pub struct IdCache<V> {
    map: Mutex<LruCache<String, V>>,
}

impl<V> Default for IdCache<V> {
    fn default() -> Self {
        Self::with_capacity(CACHE_LIMIT)
    }
}

impl<V> IdCache<V> {
    /// A cache of at most `capacity` entries (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity.max(1)).expect("at least 1");
        IdCache {
            map: Mutex::new(LruCache::new(capacity)),
        }
    }
}

impl<V: Clone> IdCache<V> {
    /// The cached value, if any (and marks it recently used).
    pub fn get(&self, key: &str) -> Option<V> {
        self.map.lock().unwrap().get(key).cloned()
    }

    /// Caches `value` for `key`, evicting the least recently used entry when full.
    pub fn put(&self, key: &str, value: V) {
        let mut map = self.map.lock().unwrap();
        if let Some(slot) = map.get_mut(key) {
            *slot = value;
            return;
        }
        map.put(key.to_string(), value);
    }

    /// Drops `key` (its id turned out to be stale).
    pub fn forget(&self, key: &str) {
        self.map.lock().unwrap().pop(key);
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_entry_goes_first_and_the_rest_stay() {
        let cache = IdCache::with_capacity(3);
        cache.put("a", 1);
        cache.put("b", 2);
        cache.put("c", 3);
        assert_eq!(cache.get("a"), Some(1)); // a is now the most recent
        cache.put("d", 4); // evicts b, not everything
        assert_eq!(
            (
                cache.get("a"),
                cache.get("b"),
                cache.get("c"),
                cache.get("d")
            ),
            (Some(1), None, Some(3), Some(4))
        );
        assert_eq!(cache.len(), 3);
        cache.put("c", 30);
        assert_eq!(cache.get("c"), Some(30));
        cache.forget("c");
        assert_eq!(cache.get("c"), None);
    }
}
