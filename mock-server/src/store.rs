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
//!   500) is recovered rather than propagated: the simulator must keep answering.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::coerce::{ContentType, ValueType};
use crate::error::{Error, Result};
use crate::faults::Faults;
use crate::journal::{Entry, Journal};
use crate::model::{self, AppData, FastMap, Notes};

/// The name of the app the `--api-key` keys belong to.
pub const DEFAULT_APP: &str = "default";

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(PoisonError::into_inner)
}
fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(PoisonError::into_inner)
}

/// One isolated User.com app. Its `Debug` shows no key (secrets never reach a log line).
pub struct App {
    /// Its name (`default`, or `app-N` for apps made over the admin plane).
    pub name: Arc<str>,
    data: Mutex<AppData>,
    trusted: RwLock<Vec<String>>,
    keys: RwLock<Vec<String>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("name", &self.name)
            .field(
                "keys",
                &format_args!("{} (redacted)", read(&self.keys).len()),
            )
            .finish_non_exhaustive()
    }
}

impl App {
    fn new(name: &str) -> Self {
        App {
            name: Arc::from(name),
            data: Mutex::new(AppData::new(name)),
            trusted: RwLock::new(vec![]),
            keys: RwLock::new(vec![]),
        }
    }

    /// Run `f` with the app's data locked. Keep `f` short and synchronous.
    pub fn with<R>(&self, f: impl FnOnce(&mut AppData) -> R) -> R {
        f(&mut lock(&self.data))
    }

    /// The app's trusted domains (empty = every domain is trusted).
    pub fn trusted_domains(&self) -> Vec<String> {
        read(&self.trusted).clone()
    }

    /// Replace the trusted domains; entries are normalised to lower-case hosts.
    pub fn set_trusted_domains(&self, domains: &[String]) -> Result<Vec<String>> {
        let mut out = Vec::with_capacity(domains.len());
        for d in domains {
            let host = url_host(d).map(|h| h.trim_start_matches("*.").to_owned());
            match host {
                Some(h) if !h.is_empty() => out.push(h),
                _ => {
                    return Err(Error::bad(
                        "trusted_domains",
                        format!("`{d}` is not a domain name"),
                    ))
                }
            }
        }
        out.sort();
        out.dedup();
        *write(&self.trusted) = out.clone();
        Ok(out)
    }

    /// 403 unless `url`'s host is trusted. `source` says where the URL came from, for the message.
    pub fn check_trusted(&self, url: &str, source: &str) -> Result<()> {
        let trusted = read(&self.trusted);
        if trusted.is_empty() {
            return Ok(());
        }
        let host = url_host(url).unwrap_or_default();
        let ok = !host.is_empty()
            && trusted.iter().any(|d| {
                host == *d
                    || (host.ends_with(d.as_str()) && host[..host.len() - d.len()].ends_with('.'))
            });
        if ok {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "domain `{}` ({source}) is not a trusted domain of this app (trusted: {}); check App settings > Advanced > Domains",
                if host.is_empty() { url } else { &host },
                trusted.join(", ")
            )))
        }
    }

    /// The app's API keys, in the order they were added.
    pub fn keys(&self) -> Vec<String> {
        read(&self.keys).clone()
    }
}

/// The host of a URL, an `Origin` value, or a bare host name; lower-case, without port.
pub fn url_host(s: &str) -> Option<String> {
    let s = s.trim();
    let rest = match s.find("://") {
        Some(i) => &s[i + 3..],
        None => s,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        hostport.split(':').next().unwrap_or("")
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

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
    keys: RwLock<FastMap<String, KeyEntry>>,
    journal: Mutex<Journal>,
    next_app: AtomicU64,
    key_rng: Mutex<u64>,
    scenario: Option<Scenario>,
    faults: Faults,
    admin_token: RwLock<Option<String>>,
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
    /// scenario that seeds it now and again on every reset.
    pub fn new(
        default_keys: &[String],
        journal_capacity: usize,
        scenario: Option<Scenario>,
    ) -> Result<Self> {
        let store = Store(Arc::new(Inner {
            apps: RwLock::new(BTreeMap::new()),
            keys: RwLock::new(FastMap::default()),
            journal: Mutex::new(Journal::new(journal_capacity)),
            next_app: AtomicU64::new(1),
            key_rng: Mutex::new(0x5eed_cafe_f00d_u64),
            scenario,
            faults: Faults::default(),
            admin_token: RwLock::new(None),
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
            .or_insert_with(|| Arc::new(App::new(name)))
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

    /// `POST /__admin/apps`: a fresh isolated app with a new key → (name, key).
    pub fn create_app(&self, name: Option<&str>) -> Result<(String, String)> {
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
            apps.insert(name.clone(), Arc::new(App::new(&name)));
        }
        let key = loop {
            let r = model::splitmix(&mut lock(&self.0.key_rng));
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
        let redactor = self.redactor();
        let mut entries: Vec<Value> = lock(&self.0.journal)
            .entries(app)
            .map(Entry::to_json)
            .collect();
        // Masking happens after the journal lock is released.
        entries.iter_mut().for_each(|e| redactor.apply(e));
        entries
    }

    /// Clear the journal (one app's entries, or all).
    pub fn clear_journal(&self, app: Option<&str>) {
        lock(&self.0.journal).clear(app)
    }

    // ----- scenarios and state files ------------------------------------------------------------

    fn apply_scenario_data(&self, sc: &Scenario) -> Result<()> {
        let err = |app: &str, m: String| Error::Config(format!("scenario app `{app}`: {m}"));
        for (name, s) in &sc.apps {
            let app = self.ensure_app(name);
            app.set_trusted_domains(&s.trusted_domains)
                .map_err(|e| err(name, e.to_string()))?;
            let mut notes = Notes::new();
            app.with(|d| -> Result<()> {
                if let Some(c) = &s.clock {
                    let now = crate::time::parse_datetime(&c.now)
                        .ok_or_else(|| err(name, format!("clock.now `{}` is not an RFC 3339 time", c.now)))?;
                    d.clock.set(now, c.frozen);
                }
                for a in &s.attributes {
                    let vt = ValueType::parse(&a.value_type)
                        .ok_or_else(|| err(name, format!("attribute `{}`: unknown value_type `{}`", a.name, a.value_type)))?;
                    let ct = ContentType::parse(&a.content_type).ok_or_else(|| {
                        err(name, format!("attribute `{}`: unknown content_type `{}`", a.name, a.content_type))
                    })?;
                    d.define_attribute(&a.name, vt, ct, a.choices.clone(), a.allow_multiple_choices)
                        .map_err(|e| err(name, format!("attribute `{}`: {e}", a.name)))?;
                }
                for (i, u) in s.users.iter().enumerate() {
                    d.update_or_create(u, &mut notes).map_err(|e| err(name, format!("users[{i}]: {e}")))?;
                }
                for (i, c) in s.companies.iter().enumerate() {
                    let cid = match c.fields.get("custom_id").and_then(Value::as_str) {
                        Some(cid) if d.company_id_by_custom_id(cid).is_some() => d.company_id_by_custom_id(cid),
                        _ => None,
                    };
                    let id = match cid {
                        Some(id) => {
                            d.update_company(id, &c.fields, &mut notes).map_err(|e| err(name, format!("companies[{i}]: {e}")))?;
                            id
                        }
                        None => d
                            .create_company(&c.fields, &mut notes)
                            .map_err(|e| err(name, format!("companies[{i}]: {e}")))?,
                    };
                    for m in &c.members {
                        let uid = d.user_id_by_custom_id(m).ok_or_else(|| {
                            err(name, format!("companies[{i}]: member `{m}` is not a user custom_id of this scenario"))
                        })?;
                        d.set_membership(id, uid, true).map_err(|e| err(name, e.to_string()))?;
                    }
                }
                Ok(())
            })?;
            for n in notes {
                tracing::debug!(app = %name, "scenario: {n}");
            }
        }
        Ok(())
    }

    /// Everything, for `--state-file`.
    pub fn snapshot(&self) -> Snapshot {
        let keys = read(&self.0.keys);
        let apps = self
            .apps()
            .iter()
            .map(|a| {
                let snap = SnapApp {
                    keys: a
                        .keys()
                        .into_iter()
                        .map(|k| SnapKey {
                            revoked: keys.get(&k).is_some_and(|e| e.revoked),
                            key: k,
                        })
                        .collect(),
                    trusted_domains: a.trusted_domains(),
                    data: a.with(|d| d.clone()),
                };
                (a.name.to_string(), snap)
            })
            .collect();
        Snapshot {
            format: SNAPSHOT_FORMAT.to_owned(),
            next_app: self.0.next_app.load(Ordering::Relaxed),
            apps,
        }
    }

    /// Load a snapshot: its apps replace same-named apps' data; its keys are added.
    pub fn load_snapshot(&self, snap: Snapshot) -> Result<()> {
        if snap.format != SNAPSHOT_FORMAT {
            return Err(Error::Config(format!(
                "unsupported state format `{}` (expected `{SNAPSHOT_FORMAT}`)",
                snap.format
            )));
        }
        self.0.next_app.fetch_max(snap.next_app, Ordering::Relaxed);
        for (name, s) in snap.apps {
            let app = self.ensure_app(&name);
            let mut data = s.data;
            data.reindex();
            *lock(&app.data) = data;
            app.set_trusted_domains(&s.trusted_domains)?;
            for k in s.keys {
                match self.app_of_key(&k.key) {
                    Some(owner) if owner == name => {}
                    Some(owner) => {
                        return Err(Error::Config(format!(
                            "a key of app `{name}` already belongs to app `{owner}`"
                        )))
                    }
                    None => self.add_key(&name, &k.key)?,
                }
                if k.revoked {
                    self.revoke(&k.key)?;
                }
            }
        }
        Ok(())
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

/// The state file's format tag.
pub const SNAPSHOT_FORMAT: &str = "usercom-mock-state/1";

/// The `--state-file` contents. Internal format (versioned by `format`); contains API keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    /// [`SNAPSHOT_FORMAT`].
    pub format: String,
    /// Counter for `app-N` names.
    pub next_app: u64,
    /// Apps by name.
    pub apps: BTreeMap<String, SnapApp>,
}

/// One app in a [`Snapshot`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapApp {
    /// Keys and whether revoked.
    pub keys: Vec<SnapKey>,
    /// Trusted domains.
    pub trusted_domains: Vec<String>,
    /// All data.
    pub data: AppData,
}

/// One key in a [`Snapshot`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapKey {
    /// The key.
    pub key: String,
    /// Revoked?
    pub revoked: bool,
}

/// A `--scenario` file: seed apps, keys, attribute definitions, users and companies.
/// Documented in the crate README; example in `fixtures/scenarios/example.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Apps by name (`default` is the app of the `--api-key` keys).
    #[serde(default)]
    pub apps: BTreeMap<String, ScenarioApp>,
}

/// One app of a [`Scenario`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioApp {
    /// Its API keys (added to `--api-key` keys for `default`).
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// Trusted domains (`[]` = all trusted).
    #[serde(default)]
    pub trusted_domains: Vec<String>,
    /// Attribute definitions, as the body of `POST /attributes/`.
    #[serde(default)]
    pub attributes: Vec<ScenarioAttribute>,
    /// Users, each as the body of `POST /users/update_or_create/`.
    #[serde(default)]
    pub users: Vec<Map<String, Value>>,
    /// Companies, each as the body of `POST /companies/` plus `members`.
    #[serde(default)]
    pub companies: Vec<ScenarioCompany>,
    /// Start the app's clock here.
    #[serde(default)]
    pub clock: Option<ScenarioClock>,
}

/// An attribute definition in a [`Scenario`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioAttribute {
    /// Display name (`name_std` is derived).
    pub name: String,
    /// `boolean|integer|float|date|datetime|string|fixed|json`.
    pub value_type: String,
    /// `clientuser|company|event`.
    #[serde(default = "default_content_type")]
    pub content_type: String,
    /// Choices of a `fixed` attribute.
    #[serde(default)]
    pub choices: Vec<String>,
    /// Whether a `fixed` attribute takes a list.
    #[serde(default)]
    pub allow_multiple_choices: bool,
}

fn default_content_type() -> String {
    "clientuser".to_owned()
}

/// A company in a [`Scenario`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioCompany {
    /// `custom_id`s of users (of this scenario app) to add as members.
    #[serde(default)]
    pub members: Vec<String>,
    /// Company fields, as for `POST /companies/`.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

/// A clock setting in a [`Scenario`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioClock {
    /// RFC 3339.
    pub now: String,
    /// Frozen (default) or running from `now`.
    #[serde(default = "yes")]
    pub frozen: bool,
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            url_host("https://Shop.Example.com:8443/a?b").as_deref(),
            Some("shop.example.com")
        );
        assert_eq!(url_host("example.com").as_deref(), Some("example.com"));
        assert_eq!(url_host("http://u:p@[::1]:80/").as_deref(), Some("::1"));
        assert_eq!(url_host("null"), Some("null".to_owned()));
        assert_eq!(url_host(""), None);
    }

    #[test]
    fn subdomains_are_trusted_lookalikes_are_not() {
        let app = App::new("x");
        app.set_trusted_domains(&["example.com".into()]).unwrap();
        assert!(app
            .check_trusted("https://www.example.com/p", "page")
            .is_ok());
        assert!(app.check_trusted("https://example.com", "Origin").is_ok());
        let e = app
            .check_trusted("https://badexample.com", "Origin")
            .unwrap_err();
        assert!(e.to_string().contains("badexample.com"), "{e}");
    }
}
