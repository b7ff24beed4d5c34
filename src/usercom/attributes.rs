//! The attribute catalogue: which custom attributes the app defines, and of which type.
//!
//! User.com's REST v2 stores a custom attribute only when it is defined in the app ("Custom
//! attributes have to be created in the User.com app before sending them", usercom-api.md
//! §3.3), while the destination doc promises that a new trait is created as a string attribute.
//! So the forwarder does it: it reads the definitions once (`GET /attributes/`, every page),
//! defines a missing one as `string` (`POST /attributes/`), and sends each value converted to its
//! attribute's type ([`crate::mapping::convert`]).
//!
//! - Loaded on first use, for every content type at once; a definition created by someone else
//!   meanwhile (another forwarder, the app's settings) is found when our create answers 400, by
//!   loading again.
//! - Names longer than 32 characters cannot be defined (User.com's limit): refused without a
//!   request. A name the app refuses (a reserved name, say) is remembered, so it costs one
//!   request, not one per message.
//! - Creation is serialised within the process, so two lanes never define one name twice.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use super::requests::{self, Call};
use super::Transport;
use crate::error::Result;
use crate::mapping::convert::{Definition, ValueType};

/// Where a custom attribute lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// A user attribute (`clientuser`).
    User,
    /// A company attribute (`company`).
    Company,
}

impl ContentType {
    /// User.com's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::User => "clientuser",
            ContentType::Company => "company",
        }
    }

    fn parse(v: &Value) -> Option<ContentType> {
        match v.as_str()? {
            "clientuser" | "user" => Some(ContentType::User),
            "company" => Some(ContentType::Company),
            _ => None,
        }
    }
}

/// User.com's limit on an attribute's name.
pub const MAX_NAME_CHARS: usize = 32;
/// A bound on `next` links followed while loading (a loop in them must not hang delivery).
const MAX_PAGES: usize = 1_000;

type Key = (ContentType, String);

#[derive(Default)]
struct Known {
    loaded: bool,
    defs: HashMap<Key, Definition>,
    /// Names the app refused to define, with its reason.
    refused: HashMap<Key, String>,
}

/// The definitions of one app (see the module docs).
#[derive(Default)]
pub struct Catalogue {
    known: Mutex<Known>,
    /// Held while loading or creating, so each happens once.
    gate: tokio::sync::Mutex<()>,
}

impl Catalogue {
    /// The definition of `name`, creating it as `string` when the app has none; `Ok(Err(reason))`
    /// when it cannot be defined (the value is then dropped); `Err` when User.com could not be
    /// asked (retried by delivery).
    pub async fn definition(
        &self,
        transport: &impl Transport,
        content_type: ContentType,
        name: &str,
    ) -> Result<std::result::Result<Definition, String>> {
        let key = (content_type, name.to_owned());
        if let Some(found) = self.lookup(&key) {
            return Ok(found);
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Ok(Err(format!(
                "attribute name `{name}` is longer than {MAX_NAME_CHARS} characters, User.com's limit"
            )));
        }
        let _gate = self.gate.lock().await;
        if !self.known.lock().unwrap().loaded {
            self.load(transport).await?;
        }
        if let Some(found) = self.lookup(&key) {
            return Ok(found);
        }
        let call = Call::CreateAttribute {
            name,
            content_type: content_type.as_str(),
        };
        let outcome = match transport.send(&call).await {
            Ok(bytes) => Ok(parse_definition(&requests::parse_object(&call, &bytes)?)
                .map_or_else(|| Definition::of(ValueType::String), |(_, _, def)| def)),
            Err(e) if e.status() == Some(400) => {
                // Defined meanwhile by someone else, or refused: the list tells which.
                self.load(transport).await?;
                match self.lookup(&key) {
                    Some(found) => return Ok(found),
                    None => Err(format!(
                        "User.com refused to define attribute `{name}`: {e}"
                    )),
                }
            }
            Err(e) => return Err(e),
        };
        let mut known = self.known.lock().unwrap();
        match &outcome {
            Ok(def) => {
                known.defs.insert(key, def.clone());
            }
            Err(reason) => {
                known.refused.insert(key, reason.clone());
            }
        }
        Ok(outcome)
    }

    /// The definition of `name` if the app has one (loading the definitions on first use);
    /// never creates one.
    pub async fn existing(
        &self,
        transport: &impl Transport,
        content_type: ContentType,
        name: &str,
    ) -> Result<Option<std::result::Result<Definition, String>>> {
        let key = (content_type, name.to_owned());
        if !self.known.lock().unwrap().loaded {
            let _gate = self.gate.lock().await;
            if !self.known.lock().unwrap().loaded {
                self.load(transport).await?;
            }
        }
        Ok(self.lookup(&key))
    }

    /// Forgets what was loaded: the next use reads the definitions again (after User.com
    /// refused a value we converted by a definition that may have changed).
    pub fn invalidate(&self) {
        let mut known = self.known.lock().unwrap();
        known.loaded = false;
        known.refused.clear();
    }

    fn lookup(&self, key: &Key) -> Option<std::result::Result<Definition, String>> {
        let known = self.known.lock().unwrap();
        if let Some(def) = known.defs.get(key) {
            return Some(Ok(def.clone()));
        }
        known.refused.get(key).map(|reason| Err(reason.clone()))
    }

    /// Reads every page of `GET /attributes/`, following `next`.
    async fn load(&self, transport: &impl Transport) -> Result<()> {
        let mut defs = HashMap::new();
        let mut query: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let call = Call::ListAttributes {
                query: query.as_deref(),
            };
            let (items, next) = requests::read_page(&call, &transport.send(&call).await?)?;
            for item in &items {
                if let Some((content_type, name, def)) = parse_definition(item) {
                    defs.insert((content_type, name), def);
                }
            }
            query = next;
            if query.is_none() {
                break;
            }
        }
        let mut known = self.known.lock().unwrap();
        known.defs = defs;
        known.loaded = true;
        Ok(())
    }
}

/// A definition from User.com's JSON: `name_std` (else `name`), `value_type`, `content_type`,
/// `choices`, `allow_multiple_choices`. Other content types (deals, products) are skipped.
fn parse_definition(item: &Value) -> Option<(ContentType, String, Definition)> {
    let content_type = ContentType::parse(item.get("content_type")?)?;
    let name = item
        .get("name_std")
        .or_else(|| item.get("name"))
        .and_then(Value::as_str)?;
    let value_type = ValueType::parse(item.get("value_type")?)?;
    let choices = item
        .get("choices")
        .and_then(Value::as_array)
        .map(|c| {
            c.iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let multiple = item
        .get("allow_multiple_choices")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Some((
        content_type,
        crate::mapping::name_std(name).into_owned(),
        Definition {
            value_type,
            choices,
            multiple,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn definitions_are_read_by_name_std_and_type() {
        let (ct, name, def) = parse_definition(&json!({
            "id": 46, "name": "Plan Tier", "name_std": "plan_tier", "value_type": "fixed",
            "content_type": "clientuser", "choices": ["gold", 1], "allow_multiple_choices": true
        }))
        .unwrap();
        assert_eq!((ct, name.as_str()), (ContentType::User, "plan_tier"));
        assert_eq!(def.choices, ["gold", "1"]);
        assert!(def.multiple);
        assert!(parse_definition(
            &json!({"name": "x", "value_type": "string", "content_type": "deal"})
        )
        .is_none());
        let (ct, name, def) =
            parse_definition(&json!({"name": "Seats", "value_type": 2, "content_type": "user"}))
                .unwrap();
        assert_eq!(
            (ct, name.as_str(), def.value_type),
            (ContentType::User, "seats", ValueType::Integer)
        );
    }
}
