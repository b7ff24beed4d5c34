//! The shared state handle: apps, API keys, the journal, scenarios and state files.
//!
//! Locking design (why it looks like this):
//! - Each app has its own `std::sync::Mutex<AppData>`. Requests of one app serialise on it, which
//!   is what makes `update_or_create` atomic per `custom_id`; different apps never contend.
//!   Critical sections are short and synchronous (validate, apply, build a small response), and no
//!   lock is ever held across an `.await` (clippy's `await_holding_lock` is denied workspace-wide).
//! - The key table and the app table are `RwLock`s: every request reads them, only the admin plane
//!   writes them.
//! - The journal has its own mutex; a push is a `VecDeque` append.
//! - A poisoned lock (a panic inside a critical section, which the catch-panic layer turned into a
//!   500) is recovered rather than propagated ([`crate::sync`]): the simulator must keep answering.
//!
//! [`App`] (one app's data, keys and trusted domains) is in `app.rs`; scenario and state files in
//! `files.rs`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use rustc_hash::FxHashMap;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::faults::{FaultRule, Faults};
use crate::journal::{Entry, Journal};
use crate::model::AppData;
use crate::rng::splitmix;
use crate::sync::{lock, read, write};

mod app;
mod files;

pub use app::App;
pub use files::{Scenario, Snapshot};

/// The name of the app the `--api-key` keys belong to.
pub const DEFAULT_APP: &str = "default";

#[derive(Debug, Clone)]
struct KeyEntry {
    app: Arc<App>,
    revoked: bool,
}

/// Why authentication failed.
#[derive(Debug)]
pub enum AuthFailure {
    /// No such key (401).
    Unknown,
    /// The key was revoked (403). Carries the key's app, so the request is still journaled
    /// under it.
    Revoked(Arc<App>),
}

struct Inner {
    apps: RwLock<BTreeMap<String, Arc<App>>>,
    keys: RwLock<FxHashMap<String, KeyEntry>>,
    journal: Mutex<Journal>,
    next_app: AtomicU64,
    key_rng: Mutex<u64>,
    scenario: Option<Scenario>,
    faults: Faults,
    admin_token: RwLock<Option<String>>,
    /// The server's mode (`--strict`): the mode of every app unless a scenario, a state file or
    /// `POST /__admin/apps` says otherwise.
    strict: bool,
}

/// Without keys, admin token or data: a `{:?}` of the store may end up in a log.
impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("apps", &read(&self.apps).keys().collect::<Vec<_>>())
            .field(
                "keys",
                &format_args!("{} (redacted)", read(&self.keys).len()),
            )
            .field(
                "admin_token",
                &read(&self.admin_token).as_ref().map(|_| "[redacted]"),
            )
            .field("faults_armed", &self.faults.active())
            .finish_non_exhaustive()
    }
}

/// The cloneable handle to all simulator state (cheap to clone: one `Arc`).
#[derive(Debug, Clone)]
pub struct Store(Arc<Inner>);

impl Store {
    /// A store with the `default` app holding `default_keys` (which may be empty; see
    /// [`Store::ensure_default_key`]), a journal of `journal_capacity` entries, and an optional
    /// scenario that seeds it now and again on every reset. `strict` is the server's mode
    /// (`--strict`), the default of every app.
    pub fn new(
        default_keys: &[String],
        journal_capacity: usize,
        scenario: Option<Scenario>,
        strict: bool,
    ) -> Result<Self> {
        let store = Store(Arc::new(Inner {
            apps: RwLock::new(BTreeMap::new()),
            keys: RwLock::new(FxHashMap::default()),
            journal: Mutex::new(Journal::new(journal_capacity)),
            next_app: AtomicU64::new(1),
            key_rng: Mutex::new(0x5eed_cafe_f00d_u64),
            scenario,
            faults: Faults::default(),
            admin_token: RwLock::new(None),
            strict,
        }));
        store.ensure_app(DEFAULT_APP);
        for k in default_keys {
            store.add_key(DEFAULT_APP, k)?;
        }
        if let Some(sc) = store.0.scenario.clone() {
            for (name, app) in &sc.apps {
                store.ensure_app(name);
                for k in &app.api_keys {
                    if store.app_of_key(k).as_deref() != Some(name) {
                        store.add_key(name, k)?;
                    }
                }
            }
            store.apply_scenario_data(&sc)?;
        }
        Ok(store)
    }

    /// Give the default app [`crate::DEFAULT_API_KEY`] if it has no key yet.
    pub fn ensure_default_key(&self) -> Result<()> {
        if self.default_app().keys().is_empty() {
            self.add_key(DEFAULT_APP, crate::DEFAULT_API_KEY)?;
        }
        Ok(())
    }

    fn ensure_app(&self, name: &str) -> Arc<App> {
        let mut apps = write(&self.0.apps);
        apps.entry(name.to_owned())
            .or_insert_with(|| Arc::new(App::new(name, self.0.strict)))
            .clone()
    }

    /// The `default` app.
    pub fn default_app(&self) -> Arc<App> {
        self.ensure_app(DEFAULT_APP)
    }

    /// An app by name.
    pub fn app(&self, name: &str) -> Option<Arc<App>> {
        read(&self.0.apps).get(name).cloned()
    }

    /// An app by name, or a 404 naming it. `None` means the default app.
    pub fn app_or_404(&self, name: Option<&str>) -> Result<Arc<App>> {
        let name = name.unwrap_or(DEFAULT_APP);
        self.app(name)
            .ok_or_else(|| Error::not_found(format!("no app named `{name}`")))
    }

    /// All apps, by name.
    pub fn apps(&self) -> Vec<Arc<App>> {
        read(&self.0.apps).values().cloned().collect()
    }

    fn app_of_key(&self, key: &str) -> Option<String> {
        read(&self.0.keys).get(key).map(|e| e.app.name.to_string())
    }

    /// Add an API key to an app. A key belongs to exactly one app.
    pub fn add_key(&self, app: &str, key: &str) -> Result<()> {
        if key.is_empty() || key.contains(char::is_whitespace) {
            // The key itself is not echoed: error messages end up in logs.
            return Err(Error::Config(
                "an API key must be non-empty and without spaces".into(),
            ));
        }
        let app = self.ensure_app(app);
        let mut keys = write(&self.0.keys);
        if let Some(e) = keys.get(key) {
            return Err(Error::Config(format!(
                "API key already belongs to app `{}`",
                e.app.name
            )));
        }
        keys.insert(
            key.to_owned(),
            KeyEntry {
                app: app.clone(),
                revoked: false,
            },
        );
        write(&app.keys).push(key.to_owned());
        Ok(())
    }

    /// Resolve an API key to its app (the hot path: one read lock and a hash lookup).
    pub fn authenticate(&self, key: &str) -> std::result::Result<Arc<App>, AuthFailure> {
        match read(&self.0.keys).get(key) {
            None => Err(AuthFailure::Unknown),
            Some(e) if e.revoked => Err(AuthFailure::Revoked(e.app.clone())),
            Some(e) => Ok(e.app.clone()),
        }
    }

    /// The app of a key, revoked or not (fault matching and journaling).
    pub fn app_of_any_key(&self, key: &str) -> Option<Arc<App>> {
        read(&self.0.keys).get(key).map(|e| e.app.clone())
    }

    /// Fingerprints of an app's keys (never the keys) and whether each is revoked.
    pub fn key_fingerprints(&self, app: &App) -> Vec<(String, bool)> {
        let keys = read(&self.0.keys);
        app.keys()
            .iter()
            .map(|k| {
                let revoked = keys.get(k).is_some_and(|e| e.revoked);
                (crate::security::fingerprint(k), revoked)
            })
            .collect()
    }

    /// The fault-injection rules.
    pub fn faults(&self) -> &Faults {
        &self.0.faults
    }

    /// Validate a fault rule (including that `match.app` names an existing app) and arm it;
    /// returns the armed rule's JSON.
    pub fn add_fault(&self, v: &Value) -> Result<Value> {
        let rule = FaultRule::parse(v)?;
        if let Some(app) = &rule.matcher.app {
            if self.app(app).is_none() {
                let names: Vec<String> = self.apps().iter().map(|a| a.name.to_string()).collect();
                return Err(Error::bad(
                    "match.app",
                    format!("no app named `{app}` (apps: {})", names.join(", ")),
                ));
            }
        }
        Ok(self.0.faults.add(rule))
    }

    /// Require `Authorization: Bearer <token>` on the admin plane (`None`: no token).
    pub fn set_admin_token(&self, token: Option<&str>) -> Result<()> {
        if let Some(t) = token {
            if t.is_empty() || t.contains(char::is_whitespace) {
                return Err(Error::Config(
                    "the admin token must be non-empty and without spaces".into(),
                ));
            }
        }
        *write(&self.0.admin_token) = token.map(str::to_owned);
        Ok(())
    }

    /// The admin token, if one is required.
    pub fn admin_token(&self) -> Option<String> {
        read(&self.0.admin_token).clone()
    }

    /// A redactor for every secret this store knows: all API keys (revoked too) and the admin
    /// token.
    pub fn redactor(&self) -> crate::security::Redactor {
        let mut secrets: Vec<String> = read(&self.0.keys).keys().cloned().collect();
        secrets.extend(self.admin_token());
        crate::security::Redactor::new(secrets)
    }

    /// Revoke a key: later requests with it get 403.
    pub fn revoke(&self, key: &str) -> Result<String> {
        let mut keys = write(&self.0.keys);
        let e = keys
            .get_mut(key)
            .ok_or_else(|| Error::not_found("no such API key"))?;
        e.revoked = true;
        Ok(e.app.name.to_string())
    }

    /// `POST /__admin/apps`: a fresh isolated app with a new key → (name, key). `strict`: its
    /// mode (`None`: the server's).
    pub fn create_app(&self, name: Option<&str>, strict: Option<bool>) -> Result<(String, String)> {
        let n = self.0.next_app.fetch_add(1, Ordering::Relaxed);
        let name = match name {
            Some(n) if n.trim().is_empty() => return Err(Error::bad("name", "must not be empty")),
            Some(n) => n.trim().to_owned(),
            None => {
                // Skip names a scenario or state file already uses.
                let mut i = n;
                while self.app(&format!("app-{i}")).is_some() {
                    i = self.0.next_app.fetch_add(1, Ordering::Relaxed);
                }
                format!("app-{i}")
            }
        };
        {
            let mut apps = write(&self.0.apps);
            if apps.contains_key(&name) {
                return Err(Error::bad(
                    "name",
                    format!("an app named `{name}` already exists"),
                ));
            }
            apps.insert(
                name.clone(),
                Arc::new(App::new(&name, strict.unwrap_or(self.0.strict))),
            );
        }
        let key = loop {
            let r = splitmix(&mut lock(&self.0.key_rng));
            let k = format!("mock-{name}-{r:016x}");
            if self.app_of_key(&k).is_none() {
                break k;
            }
        };
        self.add_key(&name, &key)?;
        Ok((name, key))
    }

    /// `POST /__admin/reset`: clear data, trusted domains, revocations and the journal of every app
    /// (or one); keys and apps stay. The scenario, if any, is applied again.
    pub fn reset(&self, only: Option<&str>) -> Result<()> {
        let apps: Vec<Arc<App>> = match only {
            Some(n) => vec![self.app_or_404(Some(n))?],
            None => self.apps(),
        };
        for app in &apps {
            *lock(&app.data) = AppData::new(&app.name);
            write(&app.trusted).clear();
        }
        for e in write(&self.0.keys).values_mut() {
            if only.is_none_or(|n| &*e.app.name == n) {
                e.revoked = false;
            }
        }
        lock(&self.0.journal).clear(only);
        if let Some(sc) = &self.0.scenario {
            let mut sc = sc.clone();
            if let Some(n) = only {
                sc.apps.retain(|k, _| k == n);
            }
            self.apply_scenario_data(&sc)?;
        }
        Ok(())
    }

    /// `GET /__admin/state`: every app (or one) as deterministic JSON.
    pub fn state_json(&self, only: Option<&str>) -> Result<Value> {
        let view = |app: &App| {
            let mut v = app.with(|d| d.state_json());
            v["trusted_domains"] = app.trusted_domains().into();
            // Only strict apps carry the key, so the default mode's state stays what it was.
            if app.strict() {
                v["strict"] = true.into();
            }
            // Keys sorted so the object stays deterministic after the insert above.
            sort_object(v)
        };
        match only {
            Some(n) => Ok(view(&*self.app_or_404(Some(n))?)),
            None => {
                let apps: Map<String, Value> = self
                    .apps()
                    .iter()
                    .map(|a| (a.name.to_string(), view(a)))
                    .collect();
                Ok(json!({ "apps": apps }))
            }
        }
    }

    /// Record a request in the journal.
    pub fn record(&self, e: Entry) {
        lock(&self.0.journal).push(e);
    }

    /// The journal as JSON (one app's entries, or all). Any known secret a client sent outside
    /// the `Authorization` header is masked too.
    pub fn journal_json(&self, app: Option<&str>) -> Vec<Value> {
        self.journal_page(app, None, None).0
    }

    /// Journal entries (one app's, or all), oldest first: those with `seq > since`, and of
    /// those at most the newest `limit`. Also returns how many entries the journal holds (for
    /// `app`) in all, so a client polling with `since` knows what it has not seen.
    pub fn journal_page(
        &self,
        app: Option<&str>,
        since: Option<u64>,
        limit: Option<usize>,
    ) -> (Vec<Value>, usize) {
        let redactor = self.redactor();
        let (mut entries, total) = {
            let journal = lock(&self.0.journal);
            let total = journal.entries(app).count();
            let newer: Vec<&Entry> = journal
                .entries(app)
                .filter(|e| since.is_none_or(|s| e.seq > s))
                .collect();
            let skip = limit.map_or(0, |n| newer.len().saturating_sub(n));
            let page: Vec<Value> = newer[skip..].iter().map(|e| e.to_json()).collect();
            (page, total)
        };
        // Masking happens after the journal lock is released.
        entries.iter_mut().for_each(|e| redactor.apply(e));
        (entries, total)
    }

    /// Clear the journal (one app's entries, or all).
    pub fn clear_journal(&self, app: Option<&str>) {
        lock(&self.0.journal).clear(app)
    }
}

fn sort_object(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<String, Value> = m.into_iter().collect();
            Value::Object(sorted.into_iter().collect())
        }
        other => other,
    }
}
