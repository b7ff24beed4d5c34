//! The data a dashboard view shows, read once per render from the admin plane's JSON (the same
//! values `/__admin/state` and `/__admin/requests` answer).

use std::collections::HashMap;

use serde_json::Value;

use super::html::{arr, s};
use super::query::ViewQuery;
use crate::error::Result;
use crate::store::Store;
use crate::time::fmt_ts;

/// Everything the views need, read once from the admin-plane JSON.
pub(crate) struct Data {
    pub(crate) state: Value,
    pub(crate) journal: Vec<Value>,
    pub(crate) now: String,
    /// Attribute types by content type then `name_std`.
    types: HashMap<String, HashMap<String, String>>,
    pub(crate) apps: Vec<(String, usize)>,
}

impl Data {
    pub(crate) fn load(store: &Store, view: &ViewQuery) -> Result<Data> {
        let app = store.app_or_404(Some(&view.app))?;
        let state = store.state_json(Some(&view.app))?;
        let now = app.with(|d| fmt_ts(d.now()));
        // This app's requests plus the ones no app claimed (unknown or missing keys): those are
        // exactly the failures a developer looks for.
        let journal: Vec<Value> = store
            .journal_json(None)
            .into_iter()
            .filter(|e| e["app"].is_null() || e["app"].as_str() == Some(&view.app))
            .collect();
        let mut types: HashMap<String, HashMap<String, String>> = HashMap::new();
        for a in arr(&state["attributes"]) {
            types
                .entry(s(&a["content_type"]).to_owned())
                .or_default()
                .insert(s(&a["name_std"]).to_owned(), s(&a["value_type"]).to_owned());
        }
        let apps = store
            .apps()
            .iter()
            .map(|a| (a.name.to_string(), a.keys().len()))
            .collect();
        Ok(Data {
            state,
            journal,
            now,
            types,
            apps,
        })
    }

    pub(crate) fn users(&self) -> &[Value] {
        arr(&self.state["users"])
    }
    pub(crate) fn companies(&self) -> &[Value] {
        arr(&self.state["companies"])
    }
    pub(crate) fn events(&self) -> &[Value] {
        arr(&self.state["events"])
    }
    pub(crate) fn user(&self, id: u64) -> Option<&Value> {
        self.users().iter().find(|u| u["id"].as_u64() == Some(id))
    }
    pub(crate) fn company(&self, id: u64) -> Option<&Value> {
        self.companies()
            .iter()
            .find(|c| c["id"].as_u64() == Some(id))
    }
    /// The custom attributes of an object (keys defined for `content_type`) with their types.
    pub(crate) fn custom<'a>(
        &'a self,
        content_type: &str,
        obj: &'a Value,
    ) -> Vec<(&'a str, &'a Value, &'a str)> {
        let Some(types) = self.types.get(content_type) else {
            return vec![];
        };
        let mut out: Vec<_> = obj
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| types.get(k).map(|t| (k.as_str(), v, t.as_str())))
            .collect();
        out.sort_by_key(|(k, _, _)| *k);
        out
    }
    pub(crate) fn event_type(&self, key: &str) -> &str {
        self.types
            .get("event")
            .and_then(|t| t.get(key))
            .map_or("?", String::as_str)
    }
}
