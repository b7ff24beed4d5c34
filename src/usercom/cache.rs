//! The id caches of the applier: `custom_id → (id, user_key)` and `groupId → company id`.

use std::collections::HashMap;
use std::sync::Mutex;

/// Entries kept before the cache is cleared (a miss only costs a look-up).
const CACHE_LIMIT: usize = 100_000;

/// A bounded map from a Segment id to what User.com calls it.
///
/// A std Mutex: every critical section is a map lookup or insert, never held across `.await`.
pub struct IdCache<V> {
    map: Mutex<HashMap<String, V>>,
}

impl<V> Default for IdCache<V> {
    fn default() -> Self {
        IdCache {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<V: Clone> IdCache<V> {
    /// The cached value, if any.
    pub fn get(&self, key: &str) -> Option<V> {
        self.map.lock().unwrap().get(key).cloned()
    }

    /// Caches `value` for `key`.
    pub fn put(&self, key: &str, value: V) {
        let mut map = self.map.lock().unwrap();
        if map.len() >= CACHE_LIMIT && !map.contains_key(key) {
            map.clear();
        }
        map.insert(key.to_string(), value);
    }

    /// Drops `key` (its id turned out to be stale).
    pub fn forget(&self, key: &str) {
        self.map.lock().unwrap().remove(key);
    }
}
