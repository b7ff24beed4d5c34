//! Companies: the record, every write a company body can cause, and memberships.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::coerce::ContentType;
use super::schema::{kind_of, opt_id, tag_list, validate, COMPANY_FIELDS, COMPANY_READ_ONLY};
use super::{AppData, Notes};
use crate::error::{Error, Result};

/// A company.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Company {
    /// Sequential per app.
    pub id: u64,
    /// The client's id (`groupId`), unique per app.
    pub custom_id: Option<String>,
    /// Standard fields.
    pub fields: BTreeMap<String, Value>,
    /// Custom attributes by `name_std`.
    pub custom: BTreeMap<String, Value>,
    /// Tag ids.
    pub tags: Vec<u64>,
    /// Member user id → member since.
    pub members: BTreeMap<u64, DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last write.
    pub updated_at: DateTime<Utc>,
}

#[derive(Default)]
struct CompanyPatch {
    custom_id: Option<Option<String>>,
    fields: Vec<(&'static str, Value)>,
    tags: Vec<String>,
    custom: Vec<(String, Value)>,
}

impl AppData {
    /// Find a company id by custom id.
    pub fn company_id_by_custom_id(&self, cid: &str) -> Option<u64> {
        self.idx.company_by_custom_id.get(cid).copied()
    }

    /// All company ids in order.
    pub fn company_ids(&self) -> impl ExactSizeIterator<Item = u64> + '_ {
        self.companies.keys().copied()
    }

    fn parse_company_patch(
        &self,
        body: &Map<String, Value>,
        this: Option<u64>,
        notes: &mut Notes,
    ) -> Result<CompanyPatch> {
        let mut p = CompanyPatch::default();
        for (key, v) in body {
            if let Some((name, kind)) = kind_of(COMPANY_FIELDS, key) {
                p.fields.push((name, validate(key, kind, v, self.strict)?));
                continue;
            }
            match key.as_str() {
                "custom_id" => p.custom_id = Some(opt_id(key, v)?),
                "tags" => p.tags = tag_list(key, v)?,
                k if COMPANY_READ_ONLY.contains(&k) => {
                    notes.push(format!("ignored read-only field `{k}`"))
                }
                _ => p.custom.push((key.clone(), v.clone())),
            }
        }
        if let Some(Some(cid)) = &p.custom_id {
            if let Some(&owner) = self.idx.company_by_custom_id.get(cid) {
                if Some(owner) != this {
                    return Err(Error::bad(
                        "custom_id",
                        format!("`{cid}` is already used by company {owner}"),
                    ));
                }
            }
        }
        for (k, v) in &p.custom {
            self.check_custom_strict(ContentType::Company, k, v)?;
        }
        Ok(p)
    }

    fn apply_company_patch(&mut self, id: u64, p: CompanyPatch, notes: &mut Notes) {
        let now = self.now();
        let custom: Vec<(String, Value)> = p
            .custom
            .iter()
            .filter_map(|(k, v)| {
                self.convert_custom(ContentType::Company, k, v, notes)
                    .map(|(k, v)| (k.into_owned(), v))
            })
            .collect();
        let tags = self.tag_ids(&p.tags);
        let Some(c) = self.companies.get_mut(&id) else {
            return;
        };
        if let Some(new_cid) = p.custom_id {
            if let Some(old) = c.custom_id.take() {
                self.idx.company_by_custom_id.remove(&old);
            }
            if let Some(n) = &new_cid {
                self.idx.company_by_custom_id.insert(n.clone(), id);
            }
            c.custom_id = new_cid;
        }
        for (name, v) in p.fields {
            c.fields.insert(name.to_owned(), v);
        }
        for (k, v) in custom {
            if v.is_null() {
                c.custom.remove(&k);
            } else {
                c.custom.insert(k, v);
            }
        }
        for t in tags {
            if !c.tags.contains(&t) {
                c.tags.push(t);
            }
        }
        c.updated_at = now;
    }

    /// `POST /companies/`.
    pub fn create_company(&mut self, body: &Map<String, Value>, notes: &mut Notes) -> Result<u64> {
        let patch = self.parse_company_patch(body, None, notes)?;
        let now = self.now();
        self.ids.company += 1;
        let id = self.ids.company;
        self.companies.insert(
            id,
            Company {
                id,
                custom_id: None,
                fields: BTreeMap::new(),
                custom: BTreeMap::new(),
                tags: vec![],
                members: BTreeMap::new(),
                created_at: now,
                updated_at: now,
            },
        );
        self.apply_company_patch(id, patch, notes);
        Ok(id)
    }

    /// `PUT /companies/{id}/`: partial update.
    pub fn update_company(
        &mut self,
        id: u64,
        body: &Map<String, Value>,
        notes: &mut Notes,
    ) -> Result<()> {
        if !self.companies.contains_key(&id) {
            return Err(Error::not_found(format!("no company with id {id}")));
        }
        let patch = self.parse_company_patch(body, Some(id), notes)?;
        self.apply_company_patch(id, patch, notes);
        Ok(())
    }

    /// `DELETE /companies/{id}/`.
    pub fn delete_company(&mut self, id: u64) -> Result<()> {
        let c = self
            .companies
            .remove(&id)
            .ok_or_else(|| Error::not_found(format!("no company with id {id}")))?;
        if let Some(cid) = c.custom_id {
            self.idx.company_by_custom_id.remove(&cid);
        }
        Ok(())
    }

    /// Add (idempotent) or remove a member. Returns whether anything changed.
    pub fn set_membership(&mut self, company: u64, user: u64, member: bool) -> Result<bool> {
        if !self.users.contains_key(&user) {
            return Err(Error::bad("user_id", format!("no user with id {user}")));
        }
        let now = self.now();
        let c = self
            .companies
            .get_mut(&company)
            .ok_or_else(|| Error::not_found(format!("no company with id {company}")))?;
        Ok(if member {
            match c.members.entry(user) {
                std::collections::btree_map::Entry::Occupied(_) => false,
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(now);
                    true
                }
            }
        } else {
            c.members.remove(&user).is_some()
        })
    }
}
