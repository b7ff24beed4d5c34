//! The per-app data model and every state transition the REST API can cause.
//!
//! All functions here are synchronous and run under the app's mutex (see [`crate::store`]): a
//! request locks its app once, validates, applies, builds its small response and unlocks. That
//! makes each request atomic (in particular `update_or_create` per `custom_id`) without any lock
//! held across an `.await`.
//!
//! Validation always happens before the first mutation, so a 400 leaves the state untouched.
//!
//! One file per stored entity ([`users`], [`companies`], [`events`], [`site_views`], custom
//! [`attributes`]); [`schema`] holds the standard fields and their validation, [`coerce`] the
//! conversion table of custom attributes, [`render`] the JSON answers. This file holds
//! [`AppData`] itself, its indexes and tags.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use self::coerce::{AttrDef, ContentType};
use crate::rng::fnv1a;
use crate::time::Clock;

mod attributes;
pub mod coerce;
mod companies;
mod events;
mod render;
mod schema;
mod site_views;
mod users;

pub use companies::Company;
pub use events::{EventDef, Occurrence};
pub use render::clock_json;
pub use site_views::SiteView;
pub use users::User;

/// Notes collected while applying a request (dropped attributes, ignored read-only fields); they
/// end up in the request journal.
pub type Notes = Vec<String>;

/// Per-app id counters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ids {
    user: u64,
    company: u64,
    attribute: u64,
    event_def: u64,
    occurrence: u64,
    site_view: u64,
    tag: u64,
}

/// Everything an app holds. Indexes are rebuilt after loading ([`AppData::reindex`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppData {
    /// The app's clock.
    pub clock: Clock,
    ids: Ids,
    rng: u64,
    users: BTreeMap<u64, User>,
    companies: BTreeMap<u64, Company>,
    attributes: Vec<AttrDef>,
    event_defs: Vec<EventDef>,
    occurrences: Vec<Occurrence>,
    site_views: Vec<SiteView>,
    tags: Vec<String>,
    /// Strict mode (REST v2 rules, see the crate README "Strict mode"). The mode belongs to the
    /// app ([`crate::store::App`]), which sets this copy every time it locks the data, so the
    /// model reads it without a parameter on every call.
    #[serde(skip)]
    pub strict: bool,
    #[serde(skip)]
    idx: Indexes,
}

/// Lookup indexes (rebuilt by [`AppData::reindex`], never stored). `FxHashMap`: the per-request
/// lookups (user by custom id or key, attribute by name, event by name) hash short strings, where
/// SipHash was ~3% of a request's instructions. Not DoS-resistant, which a local test tool does
/// not need: a pathological key set only makes lookups slower, never wrong.
#[derive(Debug, Clone, Default)]
struct Indexes {
    user_by_custom_id: FxHashMap<String, u64>,
    user_by_key: FxHashMap<String, u64>,
    company_by_custom_id: FxHashMap<String, u64>,
    /// Attribute definition index by `name_std`, one map per content type (indexed by
    /// [`ct_slot`]) so a lookup takes a `&str` instead of building an owned key.
    attr: [FxHashMap<String, usize>; 3],
    event_by_name: FxHashMap<String, u64>,
    tag_by_name: FxHashMap<String, u64>,
}

impl AppData {
    /// An empty app whose user-key generator is seeded from its name.
    pub fn new(name: &str) -> Self {
        AppData {
            clock: Clock::default(),
            ids: Ids::default(),
            rng: fnv1a(name.as_bytes()),
            users: BTreeMap::new(),
            companies: BTreeMap::new(),
            attributes: Vec::new(),
            event_defs: Vec::new(),
            occurrences: Vec::new(),
            site_views: Vec::new(),
            tags: Vec::new(),
            strict: false,
            idx: Indexes::default(),
        }
    }

    /// Rebuild the lookup indexes (after deserialising a state file).
    pub fn reindex(&mut self) {
        let mut idx = Indexes::default();
        for u in self.users.values() {
            if let Some(c) = &u.custom_id {
                idx.user_by_custom_id.insert(c.clone(), u.id);
            }
            idx.user_by_key.insert(u.user_key.clone(), u.id);
        }
        for c in self.companies.values() {
            if let Some(cid) = &c.custom_id {
                idx.company_by_custom_id.insert(cid.clone(), c.id);
            }
        }
        for (i, a) in self.attributes.iter().enumerate() {
            idx.attr[ct_slot(a.content_type)].insert(a.name_std.clone(), i);
        }
        for e in &self.event_defs {
            idx.event_by_name.insert(e.name.clone(), e.id);
        }
        for (i, t) in self.tags.iter().enumerate() {
            idx.tag_by_name.insert(t.clone(), i as u64 + 1);
        }
        self.idx = idx;
    }

    /// The app's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn tag_ids(&mut self, names: &[String]) -> Vec<u64> {
        names
            .iter()
            .map(|n| match self.idx.tag_by_name.get(n) {
                Some(&id) => id,
                None => {
                    self.tags.push(n.clone());
                    self.ids.tag = self.tags.len() as u64;
                    self.idx.tag_by_name.insert(n.clone(), self.ids.tag);
                    self.ids.tag
                }
            })
            .collect()
    }
}

/// Index of a content type in [`Indexes::attr`].
fn ct_slot(ct: ContentType) -> usize {
    match ct {
        ContentType::Clientuser => 0,
        ContentType::Company => 1,
        ContentType::Event => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_map_finds_what_it_stores() {
        let mut m: FxHashMap<String, usize> = FxHashMap::default();
        let keys: Vec<String> = (0..2000)
            .map(|i| format!("k{i}").repeat(1 + i % 5))
            .chain(["".to_owned(), "a".to_owned(), "a\0".to_owned()])
            .collect();
        for (i, k) in keys.iter().enumerate() {
            m.insert(k.clone(), i);
        }
        assert_eq!(m.len(), keys.len());
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(m.get(k.as_str()), Some(&i), "{k}");
        }
        assert_eq!(m.get("missing"), None);
    }
}
