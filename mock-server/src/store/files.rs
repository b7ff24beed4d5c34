//! Scenario files (`--scenario`: seed apps, keys and data, again on every reset) and state files
//! (`--state-file`: everything, loaded at start and saved at shutdown).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Store;
use crate::error::{Error, Result};
use crate::model::coerce::{ContentType, ValueType};
use crate::model::{AppData, Notes};
use crate::sync::{lock, read};

impl Store {
    pub(super) fn apply_scenario_data(&self, sc: &Scenario) -> Result<()> {
        let err = |app: &str, m: String| Error::Config(format!("scenario app `{app}`: {m}"));
        for (name, s) in &sc.apps {
            let app = self.ensure_app(name);
            if let Some(strict) = s.strict {
                app.set_strict(strict);
            }
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
                tracing::debug!(target: "usercom_mock::store", app = %name, "scenario: {n}");
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
                    strict: a.strict(),
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
            // `--strict` makes every app strict; otherwise an app keeps the mode it was saved with.
            app.set_strict(s.strict || self.0.strict);
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
    /// Strict mode (absent in files written before strict mode existed: the default mode).
    #[serde(default)]
    pub strict: bool,
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
    /// The app's mode (absent: the server's, `--strict`).
    #[serde(default)]
    pub strict: Option<bool>,
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
