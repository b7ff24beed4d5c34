//! How each planned operation becomes User.com calls: the one place that decides what happens
//! on a 404, which look-ups a cached id saves, and how a company is found or created.
//!
//! | operation | calls (cold cache) | on failure |
//! |---|---|---|
//! | [`Op::UpsertUser`] | custom attributes defined ([`super::attributes`]), `update_or_create` | 400 naming a field: that field dropped, sent once more |
//! | [`Op::EnsureUser`] | `users-by-id` → on 404 `update_or_create {custom_id}` | — |
//! | [`Op::SiteView`] | the user ensured, `users/{id}` when its `user_key` is unknown, `site-views` | a cached `user_key` answered 400/404: forget it, look the user up again, send once more |
//! | [`Op::Event`] | `users-by-id/{custom_id}/events` | 404 (unknown user): `update_or_create {custom_id}`, then the event once more |
//! | [`Op::UpsertCompany`] | custom attributes defined, `companies-by-id` → `PUT companies/{id}` or `POST companies` | a cached id answered 404: forget it, look up again; `POST` answered 400 because someone else created it meanwhile: look up again and update; 400 naming a field: that field dropped, sent once more |
//! | [`Op::AddMember`] | company and user ensured, `add_member` | with cached ids, 404: forget both, resolve again, once more |
//!
//! Custom attribute values are converted to their attribute's type before they are sent
//! ([`crate::mapping::convert`]); a value that cannot be converted, or an attribute that cannot
//! be defined, is dropped and reported (the rest of the message is delivered). So is a field
//! User.com refuses with a 400 that names it: one bad field never loses a message.
//!
//! A warm cache makes the steady state one request per message. Every operation is idempotent
//! as a whole, so delivery can retry it from the start (`update_or_create` is atomic on
//! `custom_id`; a company is looked up before every create, so a lost create answer never makes
//! a twin).
//!
//! The [`Applier`] is generic over its [`Transport`]: the HTTP client for `send`/`serve`, the
//! dry run for `plan`. Both run this same code, so `plan` shows the calls `send` makes.

use std::hash::{Hash, Hasher};

use bytes::Bytes;
use serde_json::Map;
use serde_json::Value;

use super::attributes::{Catalogue, ContentType};
use super::cache::IdCache;
use super::requests::{self, Call, Event, SiteView, UserRef};
use super::Transport;
use crate::error::{Error, Result};
use crate::mapping::{self, convert, Dropped, Op};

/// Number of stripes for the per-company locks (see [`Applier::upsert_company`]).
const COMPANY_LOCK_STRIPES: usize = 64;

/// Turns operations into calls over a transport, with the id caches.
pub struct Applier<T> {
    transport: T,
    /// custom_id → (id, user_key).
    users: IdCache<UserRef>,
    /// group_id → company id.
    companies: IdCache<i64>,
    company_locks: Vec<tokio::sync::Mutex<()>>,
    /// The app's custom attribute definitions.
    catalogue: Catalogue,
}

impl<T: Transport> Applier<T> {
    /// An applier with empty caches.
    pub fn new(transport: T) -> Applier<T> {
        Applier {
            transport,
            users: IdCache::default(),
            companies: IdCache::default(),
            company_locks: (0..COMPANY_LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            catalogue: Catalogue::default(),
        }
    }

    /// The transport (the dry run reads its record from here).
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// One operation → its calls. Idempotent as a whole, so it can be retried from the start.
    /// Returns the fields it left out (see the module docs).
    pub async fn apply(&self, op: &Op) -> Result<Vec<Dropped>> {
        let mut dropped = Vec::new();
        match op {
            Op::UpsertUser { custom_id, fields } => {
                let fields = self
                    .prepare(
                        ContentType::User,
                        fields,
                        &mapping::user::STANDARD,
                        &mut dropped,
                    )
                    .await?;
                let bytes = self
                    .send_fields(Target::User { custom_id }, fields, &mut dropped)
                    .await?;
                let call = Call::UpsertUser {
                    custom_id,
                    fields: &Map::new(),
                };
                let (user, _) = requests::read_user(&call, &bytes)?;
                self.remember_user_id(custom_id, user.id);
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
                let call = |client_user| {
                    Call::SiteView(SiteView {
                        client_user,
                        page_domain: url.as_deref(),
                        page_path: path.as_deref(),
                        title: title.as_deref(),
                        timestamp: timestamp.as_deref(),
                    })
                };
                let (key, from_cache) = self.user_key(custom_id).await?;
                match self.ack(&call(&key)).await {
                    // A cached user_key can be stale (user deleted, simulator reset): look the
                    // user up again and try once more.
                    Err(e) if from_cache && matches!(e.status(), Some(400 | 404)) => {
                        self.users.forget(custom_id);
                        let (key, _) = self.user_key(custom_id).await?;
                        self.ack(&call(&key)).await?;
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
                let call = Call::CreateEvent {
                    custom_id,
                    event: Event {
                        name,
                        timestamp: *timestamp,
                        data,
                    },
                };
                match self.ack(&call).await {
                    // The destination never surfaces a 404 for an unknown user: create it, then
                    // send the event once more (a second 404 is a real error).
                    Err(e) if e.is_not_found() => {
                        let (user, _) = self.upsert_user(custom_id, &Map::new()).await?;
                        self.remember_user_id(custom_id, user.id);
                        self.ack(&call).await?;
                    }
                    other => other?,
                }
            }
            Op::UpsertCompany { group_id, fields } => {
                let fields = self
                    .prepare(
                        ContentType::Company,
                        fields,
                        &mapping::company::STANDARD,
                        &mut dropped,
                    )
                    .await?;
                self.upsert_company(group_id, fields, &mut dropped).await?;
            }
            Op::AddMember {
                group_id,
                custom_id,
            } => {
                let cached =
                    self.companies.get(group_id).is_some() && self.users.get(custom_id).is_some();
                let company = self.company_id(group_id).await?;
                let user = self.ensure_user(custom_id).await?;
                let call = |company_id, user_id| Call::AddMember {
                    company_id,
                    user_id,
                    custom_id,
                };
                match self.ack(&call(company, user.id)).await {
                    // A cached id can be stale (user or company deleted in User.com). What
                    // `add_member` answers for an unknown user id is not documented (DRF
                    // answers 400 naming `user_id` for a missing related object; the simulator
                    // does): a 404, or a 400 naming `user_id`, after cached ids looks both up
                    // again, once. Any other 400 is permanent.
                    Err(e) if cached && (e.is_not_found() || names_user_id(&e)) => {
                        self.users.forget(custom_id);
                        self.companies.forget(group_id);
                        let company = self.company_id(group_id).await?;
                        let user = self.ensure_user(custom_id).await?;
                        self.ack(&call(company, user.id)).await?;
                    }
                    other => other?,
                }
            }
        }
        Ok(dropped)
    }

    /// The fields as User.com takes them: standard fields as they are; each custom attribute
    /// defined (created as `string` when missing) and its value converted to its type. What
    /// cannot be defined or converted is left out and added to `dropped`; a `null` for an
    /// undefined attribute is left out silently (it would create nothing).
    async fn prepare(
        &self,
        content_type: ContentType,
        fields: &Map<String, Value>,
        standard: &[&str],
        dropped: &mut Vec<Dropped>,
    ) -> Result<Map<String, Value>> {
        let mut out = Map::with_capacity(fields.len());
        for (key, value) in fields {
            if standard.contains(&key.as_str()) {
                out.insert(key.clone(), value.clone());
                continue;
            }
            if value.is_null() {
                if let Some(Ok(_)) = self
                    .catalogue
                    .existing(&self.transport, content_type, key)
                    .await?
                {
                    out.insert(key.clone(), Value::Null);
                }
                continue;
            }
            let converted = match self
                .catalogue
                .definition(&self.transport, content_type, key)
                .await?
            {
                Ok(def) => convert::convert(value, &def),
                Err(reason) => Err(reason),
            };
            match converted {
                Ok(v) => {
                    out.insert(key.clone(), v);
                }
                Err(reason) => dropped.push(Dropped {
                    field: key.clone(),
                    reason,
                }),
            }
        }
        Ok(out)
    }

    /// Sends a call built from `fields`; when User.com answers 400 naming one of them, that
    /// field is dropped (reported in `dropped`) and the call sent again without it, as long as
    /// each 400 names a field still there (so at most once per field: User.com names one
    /// field per answer, and two bad fields must not lose the message either).
    async fn send_fields(
        &self,
        target: Target<'_>,
        mut fields: Map<String, Value>,
        dropped: &mut Vec<Dropped>,
    ) -> Result<Bytes> {
        loop {
            match self.transport.send(&target.call(&fields)).await {
                Err(e) if e.status() == Some(400) => {
                    let Some(field) = refused_field(&e, |name| fields.contains_key(name)) else {
                        return Err(e);
                    };
                    fields.remove(&field);
                    dropped.push(Dropped {
                        field,
                        reason: format!("refused by User.com: {e}"),
                    });
                    // A definition may have changed under us: read them again next time.
                    self.catalogue.invalidate();
                }
                other => return other,
            }
        }
    }

    /// Sends a call whose answer carries nothing we need.
    async fn ack(&self, call: &Call<'_>) -> Result<()> {
        let bytes = self.transport.send(call).await?;
        requests::read_ack(call, &bytes)
    }

    async fn upsert_user(
        &self,
        custom_id: &str,
        fields: &Map<String, Value>,
    ) -> Result<(UserRef, bool)> {
        let call = Call::UpsertUser { custom_id, fields };
        let bytes = self.transport.send(&call).await?;
        requests::read_user(&call, &bytes)
    }

    /// `GET /users-by-id/{custom_id}/`; `None` on 404.
    async fn find_user(&self, custom_id: &str) -> Result<Option<UserRef>> {
        let call = Call::FindUser { custom_id };
        match self.transport.send(&call).await {
            Ok(bytes) => Ok(Some(requests::read_user(&call, &bytes)?.0)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /companies-by-id/{group_id}/`; `None` on 404.
    async fn find_company(&self, group_id: &str) -> Result<Option<i64>> {
        let call = Call::FindCompany { group_id };
        match self.transport.send(&call).await {
            Ok(bytes) => Ok(Some(requests::read_id(&call, &bytes)?)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `PUT /companies/{id}/`; the id addressed is authoritative (a body without `id` is fine).
    async fn update_company(
        &self,
        id: i64,
        group_id: &str,
        fields: &Map<String, Value>,
        dropped: &mut Vec<Dropped>,
    ) -> Result<i64> {
        let bytes = self
            .send_fields(
                Target::UpdateCompany { id, group_id },
                fields.clone(),
                dropped,
            )
            .await?;
        requests::read_ack(
            &Call::UpdateCompany {
                id,
                group_id,
                fields,
            },
            &bytes,
        )?;
        Ok(id)
    }

    /// The user's (id, user_key): from the cache, else `GET /users-by-id/`, else created.
    async fn ensure_user(&self, custom_id: &str) -> Result<UserRef> {
        if let Some(user) = self.users.get(custom_id) {
            return Ok(user);
        }
        let user = match self.find_user(custom_id).await? {
            Some(user) => user,
            None => {
                let (user, _) = self.upsert_user(custom_id, &Map::new()).await?;
                UserRef {
                    id: user.id,
                    user_key: None,
                }
            }
        };
        self.users.put(custom_id, user.clone());
        Ok(user)
    }

    /// The user's `user_key` and whether it came from the cache. `update_or_create` answers only
    /// the id, so a user we created ourselves costs one `GET /users/{id}/` the first time.
    async fn user_key(&self, custom_id: &str) -> Result<(String, bool)> {
        if let Some(UserRef {
            user_key: Some(key),
            ..
        }) = self.users.get(custom_id)
        {
            return Ok((key, true));
        }
        let user = self.ensure_user(custom_id).await?;
        if let Some(key) = user.user_key {
            return Ok((key, false));
        }
        let call = Call::GetUser { id: user.id };
        let bytes = self.transport.send(&call).await?;
        let (fetched, _) = requests::read_user(&call, &bytes)?;
        let key = fetched.user_key.clone().ok_or_else(|| Error::BadResponse {
            endpoint: call.endpoint(),
            detail: "no \"user_key\" in the user".into(),
        })?;
        self.users.put(custom_id, fetched);
        Ok((key, false))
    }

    /// Records the id an upsert answered, keeping a known user_key when the id is unchanged.
    fn remember_user_id(&self, custom_id: &str, id: i64) {
        let user_key = self
            .users
            .get(custom_id)
            .filter(|user| user.id == id)
            .and_then(|user| user.user_key);
        self.users.put(custom_id, UserRef { id, user_key });
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
    async fn upsert_company(
        &self,
        group_id: &str,
        fields: Map<String, Value>,
        dropped: &mut Vec<Dropped>,
    ) -> Result<i64> {
        let _guard = self.company_lock(group_id).lock().await;
        if let Some(id) = self.companies.get(group_id) {
            match self.update_company(id, group_id, &fields, dropped).await {
                Ok(id) => return Ok(id),
                Err(e) if e.is_not_found() => self.companies.forget(group_id),
                Err(e) => return Err(e),
            }
        }
        let id = match self.find_company(group_id).await? {
            Some(id) => self.update_company(id, group_id, &fields, dropped).await?,
            None => match self.create_company(group_id, &fields, dropped).await? {
                Created::New(id) => id,
                Created::Existing(id) => {
                    self.update_company(id, group_id, &fields, dropped).await?
                }
            },
        };
        self.companies.put(group_id, id);
        Ok(id)
    }

    /// `POST /companies/`, tolerating a company created meanwhile by someone else.
    ///
    /// Why: the per-group lock only serialises this process. Another forwarder (a second ingress
    /// replica, a concurrent `send`) can create the same `custom_id` between our lookup and our
    /// create; User.com then refuses the duplicate with a 400. That 400 is not a bad message, so
    /// instead of dead-lettering we look the company up once more and carry on with it.
    async fn create_company(
        &self,
        group_id: &str,
        fields: &Map<String, Value>,
        dropped: &mut Vec<Dropped>,
    ) -> Result<Created> {
        let call = Call::CreateCompany { group_id, fields };
        let sent = self
            .send_fields(Target::CreateCompany { group_id }, fields.clone(), dropped)
            .await;
        match sent {
            Ok(bytes) => Ok(Created::New(requests::read_id(&call, &bytes)?)),
            Err(e) if e.status() == Some(400) => match self.find_company(group_id).await? {
                Some(id) => Ok(Created::Existing(id)),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// The company id for a group: cache, lookup, or a minimal create (`{custom_id}`).
    async fn company_id(&self, group_id: &str) -> Result<i64> {
        if let Some(id) = self.companies.get(group_id) {
            return Ok(id);
        }
        let _guard = self.company_lock(group_id).lock().await;
        let id = match self.find_company(group_id).await? {
            Some(id) => id,
            None => match self
                .create_company(group_id, &Map::new(), &mut Vec::new())
                .await?
            {
                Created::New(id) | Created::Existing(id) => id,
            },
        };
        self.companies.put(group_id, id);
        Ok(id)
    }

    fn company_lock(&self, group_id: &str) -> &tokio::sync::Mutex<()> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        group_id.hash(&mut hasher);
        &self.company_locks[(hasher.finish() as usize) % COMPANY_LOCK_STRIPES]
    }
}

/// A call whose body is a set of fields (see [`Applier::send_fields`]).
#[derive(Clone, Copy)]
enum Target<'a> {
    User { custom_id: &'a str },
    CreateCompany { group_id: &'a str },
    UpdateCompany { id: i64, group_id: &'a str },
}

impl<'a> Target<'a> {
    fn call<'b>(self, fields: &'b Map<String, Value>) -> Call<'b>
    where
        'a: 'b,
    {
        match self {
            Target::User { custom_id } => Call::UpsertUser { custom_id, fields },
            Target::CreateCompany { group_id } => Call::CreateCompany { group_id, fields },
            Target::UpdateCompany { id, group_id } => Call::UpdateCompany {
                id,
                group_id,
                fields,
            },
        }
    }
}

/// True when `error` is a 400 that names `user_id` (an unknown user id, as DRF reports a
/// missing related object).
fn names_user_id(error: &Error) -> bool {
    error.status() == Some(400) && refused_field(error, |name| name == "user_id").is_some()
}

/// The field a 400 names, when `is_field` takes it: DRF's `{"field": ["message"]}`, the
/// simulator's `{"field": "x", "errors": {...}}`, or a `detail` that starts with `field:`.
fn refused_field(error: &Error, is_field: impl Fn(&str) -> bool) -> Option<String> {
    let Error::Api { detail, .. } = error else {
        return None;
    };
    let known = |name: &str| is_field(name).then(|| name.to_owned());
    if let Ok(Value::Object(body)) = serde_json::from_str::<Value>(detail) {
        if let Some(name) = body.get("field").and_then(Value::as_str).and_then(known) {
            return Some(name);
        }
        let keys = body
            .get("errors")
            .and_then(Value::as_object)
            .unwrap_or(&body)
            .keys();
        if let Some(name) = keys.filter_map(|k| known(k)).next() {
            return Some(name);
        }
        if let Some(detail) = body.get("detail").and_then(Value::as_str) {
            return detail
                .split_once(':')
                .and_then(|(name, _)| known(name.trim()));
        }
        return None;
    }
    detail
        .split_once(':')
        .and_then(|(name, _)| known(name.trim().trim_matches('"')))
}

/// How the company create obtained the company id.
enum Created {
    /// Our `POST /companies/` created it (the body is already applied).
    New(i64),
    /// It already existed (created concurrently elsewhere); the body still has to be applied.
    Existing(i64),
}
