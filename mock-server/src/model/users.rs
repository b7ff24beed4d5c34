//! Users: the record, its seeded `user_key`, and every write a user body can cause (create,
//! partial update, `update_or_create`, delete).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::coerce::ContentType;
use super::schema::{kind_of, opt_id, tag_list, validate, USER_FIELDS, USER_READ_ONLY};
use super::{AppData, Notes};
use crate::error::{type_name, Error, Result};
use crate::rng::splitmix;

/// A user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    /// Sequential per app.
    pub id: u64,
    /// 12 lowercase alphanumerics from the app's seeded generator.
    pub user_key: String,
    /// The client's id, unique per app.
    pub custom_id: Option<String>,
    /// Standard fields as validated (gender/status as their integer codes).
    pub fields: BTreeMap<String, Value>,
    /// Custom attributes by `name_std`, converted to their defined type.
    pub custom: BTreeMap<String, Value>,
    /// Tag ids.
    pub tags: Vec<u64>,
    /// Site views counted.
    pub page_views: u64,
    /// First site view.
    pub first_seen: Option<DateTime<Utc>>,
    /// Latest site view time (never moves back).
    pub last_seen: Option<DateTime<Utc>>,
    /// Creation time (app clock).
    pub created_at: DateTime<Utc>,
    /// Last write through the API (app clock).
    pub updated_at: DateTime<Utc>,
}

/// Patch parsed from a user body (validated, not yet applied).
#[derive(Default)]
struct UserPatch {
    custom_id: Option<Option<String>>,
    fields: Vec<(&'static str, Value)>,
    tags: Vec<String>,
    company: Option<u64>,
    custom: Vec<(String, Value)>,
}

impl AppData {
    fn next_user_key(&mut self) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        loop {
            let key: String = (0..12)
                .map(|_| ALPHABET[(splitmix(&mut self.rng) % 36) as usize] as char)
                .collect();
            if !self.idx.user_by_key.contains_key(&key) {
                return key;
            }
        }
    }

    /// Find a user by internal id.
    pub fn user(&self, id: u64) -> Option<&User> {
        self.users.get(&id)
    }

    /// Find a user id by custom id.
    pub fn user_id_by_custom_id(&self, cid: &str) -> Option<u64> {
        self.idx.user_by_custom_id.get(cid).copied()
    }

    /// Find a user id by user key.
    pub fn user_id_by_key(&self, key: &str) -> Option<u64> {
        self.idx.user_by_key.get(key).copied()
    }

    /// Users with this e-mail (exact match), in id order.
    pub fn user_ids_by_email(&self, email: &str) -> Vec<u64> {
        self.users
            .values()
            .filter(|u| u.fields.get("email").and_then(Value::as_str) == Some(email))
            .map(|u| u.id)
            .collect()
    }

    /// All user ids in order.
    pub fn user_ids(&self) -> impl ExactSizeIterator<Item = u64> + '_ {
        self.users.keys().copied()
    }

    fn parse_user_patch(
        &self,
        body: &Map<String, Value>,
        this: Option<u64>,
        notes: &mut Notes,
    ) -> Result<UserPatch> {
        let mut p = UserPatch::default();
        for (key, v) in body {
            if let Some((name, kind)) = kind_of(USER_FIELDS, key) {
                p.fields.push((name, validate(key, kind, v, self.strict)?));
                continue;
            }
            match key.as_str() {
                "custom_id" => p.custom_id = Some(opt_id(key, v)?),
                "tags" => p.tags = tag_list(key, v)?,
                "company_custom_id" => {
                    if let Some(cid) = opt_id(key, v)? {
                        let id = self
                            .idx
                            .company_by_custom_id
                            .get(&cid)
                            .copied()
                            .ok_or_else(|| {
                                Error::bad(key, format!("no company with custom_id `{cid}`"))
                            })?;
                        p.company = Some(id);
                    }
                }
                // Strict mode takes the v2 shape only: a nested map is an undefined attribute.
                "custom_attributes" if !self.strict => match v {
                    // Sent by some clients (usercom-node-sdk): a nested map of custom attributes.
                    Value::Object(m) => p
                        .custom
                        .extend(m.iter().map(|(k, v)| (k.clone(), v.clone()))),
                    Value::Null => {}
                    other => {
                        return Err(Error::bad(
                            key,
                            format!("expected an object, got {}", type_name(other)),
                        ))
                    }
                },
                k if USER_READ_ONLY.contains(&k) => {
                    notes.push(format!("ignored read-only field `{k}`"))
                }
                _ => p.custom.push((key.clone(), v.clone())),
            }
        }
        // v1 clients send the custom id as `user_id`; honour it when `custom_id` is absent (not
        // in strict mode, which speaks v2 only: there `user_id` is an undefined attribute).
        if p.custom_id.is_none() && !self.strict {
            if let Some(i) = p.custom.iter().position(|(k, _)| k == "user_id") {
                let (_, v) = p.custom.remove(i);
                p.custom_id = Some(opt_id("user_id", &v)?);
            }
        }
        if let Some(Some(cid)) = &p.custom_id {
            if let Some(&owner) = self.idx.user_by_custom_id.get(cid) {
                if Some(owner) != this {
                    return Err(Error::bad(
                        "custom_id",
                        format!("`{cid}` is already used by user {owner}"),
                    ));
                }
            }
        }
        for (k, v) in &p.custom {
            self.check_custom_strict(ContentType::Clientuser, k, v)?;
        }
        Ok(p)
    }

    fn apply_user_patch(&mut self, id: u64, p: UserPatch, notes: &mut Notes) {
        let now = self.now();
        let custom: Vec<(String, Value)> = p
            .custom
            .iter()
            .filter_map(|(k, v)| {
                self.convert_custom(ContentType::Clientuser, k, v, notes)
                    .map(|(k, v)| (k.into_owned(), v))
            })
            .collect();
        let tags = self.tag_ids(&p.tags);
        if let Some(cid) = p.company {
            if let Some(c) = self.companies.get_mut(&cid) {
                c.members.entry(id).or_insert(now);
            }
        }
        let Some(user) = self.users.get_mut(&id) else {
            return;
        };
        if let Some(new_cid) = p.custom_id {
            if let Some(old) = user.custom_id.take() {
                self.idx.user_by_custom_id.remove(&old);
            }
            if let Some(c) = &new_cid {
                self.idx.user_by_custom_id.insert(c.clone(), id);
            }
            user.custom_id = new_cid;
        }
        for (name, v) in p.fields {
            user.fields.insert(name.to_owned(), v);
        }
        for (k, v) in custom {
            if v.is_null() {
                user.custom.remove(&k);
            } else {
                user.custom.insert(k, v);
            }
        }
        for t in tags {
            // Tags are only ever added (usercom-api.md §2.4).
            if !user.tags.contains(&t) {
                user.tags.push(t);
            }
        }
        user.updated_at = now;
    }

    fn insert_user(&mut self) -> u64 {
        let now = self.now();
        self.ids.user += 1;
        let id = self.ids.user;
        let key = self.next_user_key();
        self.idx.user_by_key.insert(key.clone(), id);
        self.users.insert(
            id,
            User {
                id,
                user_key: key,
                custom_id: None,
                fields: BTreeMap::new(),
                custom: BTreeMap::new(),
                tags: vec![],
                page_views: 0,
                first_seen: None,
                last_seen: None,
                created_at: now,
                updated_at: now,
            },
        );
        id
    }

    /// `POST /users/`: create a user. A `custom_id` already in use is a 400.
    pub fn create_user(&mut self, body: &Map<String, Value>, notes: &mut Notes) -> Result<u64> {
        let patch = self.parse_user_patch(body, None, notes)?;
        let id = self.insert_user();
        self.apply_user_patch(id, patch, notes);
        Ok(id)
    }

    /// `PUT /users/{id}/` and `set_multiple_attributes`: partial update.
    pub fn update_user(
        &mut self,
        id: u64,
        body: &Map<String, Value>,
        notes: &mut Notes,
    ) -> Result<()> {
        if !self.users.contains_key(&id) {
            return Err(Error::not_found(format!("no user with id {id}")));
        }
        let patch = self.parse_user_patch(body, Some(id), notes)?;
        self.apply_user_patch(id, patch, notes);
        Ok(())
    }

    /// `POST /users/update_or_create/`: upsert on `custom_id` → (created, id). Atomic because the
    /// whole call runs under the app's lock.
    pub fn update_or_create(
        &mut self,
        body: &Map<String, Value>,
        notes: &mut Notes,
    ) -> Result<(bool, u64)> {
        let v1_id = || body.get("user_id").filter(|_| !self.strict);
        let cid = match body.get("custom_id").or_else(v1_id) {
            Some(v) => opt_id("custom_id", v)?,
            None => None,
        };
        match cid.and_then(|c| self.user_id_by_custom_id(&c)) {
            Some(id) => self.update_user(id, body, notes).map(|()| (false, id)),
            None => self.create_user(body, notes).map(|id| (true, id)),
        }
    }

    /// `DELETE`: remove the user, their memberships, events and site views.
    pub fn delete_user(&mut self, id: u64) -> Result<()> {
        let user = self
            .users
            .remove(&id)
            .ok_or_else(|| Error::not_found(format!("no user with id {id}")))?;
        self.idx.user_by_key.remove(&user.user_key);
        if let Some(c) = &user.custom_id {
            self.idx.user_by_custom_id.remove(c);
        }
        for c in self.companies.values_mut() {
            c.members.remove(&id);
        }
        self.occurrences.retain(|o| o.user_id != id);
        self.site_views.retain(|s| s.user_id != id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn user_keys_are_seeded_and_well_formed() {
        let mut a = AppData::new("default");
        let mut b = AppData::new("default");
        let mut n = vec![];
        let k1 = a.create_user(&obj(json!({})), &mut n).unwrap();
        let k2 = b.create_user(&obj(json!({})), &mut n).unwrap();
        let (ka, kb) = (&a.user(k1).unwrap().user_key, &b.user(k2).unwrap().user_key);
        assert_eq!(ka, kb);
        assert_eq!(ka.len(), 12);
        assert!(ka
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    }

    #[test]
    fn bad_field_leaves_state_untouched() {
        let mut a = AppData::new("x");
        let mut n = vec![];
        let err = a
            .create_user(&obj(json!({"plan": "pro", "gender": "abc"})), &mut n)
            .unwrap_err();
        assert!(err.to_string().starts_with("gender:"), "{err}");
        assert_eq!(a.user_ids().len(), 0);
        assert_eq!(a.attributes(None).count(), 0);
    }
}
