//! `plan`: the User.com calls messages cause, found by running the real [`Applier`] against a
//! stand-in for a fresh User.com app instead of the network.
//!
//! Because `plan` runs the same code as `send` (the same [`Applier`], the same [`Call`]s, the
//! same cache), what it prints is what `send` sends to an app where none of the file's users
//! and companies exist yet, messages applied in file order. One line per message:
//!
//! ```json
//! {"outcome": "deliver", "call": "page", "custom_id": "user-42", "message_id": "…",
//!  "requests": [{"method": "GET", "path": "/api/public/users-by-id/user-42/", "body": null, "answer": 404},
//!               {"method": "POST", "path": "/api/public/users/update_or_create/", "body": {"custom_id": "user-42"}},
//!               …]}
//! {"outcome": "skip", "reason": "screen calls are not supported …", "requests": []}
//! {"outcome": "reject", "reason": "message has neither userId nor anonymousId", "requests": []}
//! {"outcome": "duplicate", "message_id": "…", "requests": []}
//! ```
//!
//! `answer` appears when the stand-in answered something other than 2xx (a look-up of an
//! unknown user or company: 404), because that answer is what decides the next call; `query`
//! when the request has one. `dropped` lists the fields left out, with the reason (an invalid
//! email, a value its attribute's type cannot take). The stand-in app has no custom attribute
//! defined yet, so the first use of each custom trait shows its `POST /attributes/`.
//! The stand-in hands out ids the way a fresh app does: users and companies numbered from 1 in
//! order of creation, and each user's `user_key` shown as `<user_key of CUSTOM_ID>`.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use bytes::Bytes;
use serde_json::{json, Value};

use super::requests::Call;
use super::{Applier, Transport};
use crate::error::{Error, Result};
use crate::mapping::Decision;

/// A transport that records every call and answers as a fresh User.com app would.
#[derive(Default)]
pub struct DryRun {
    state: Mutex<World>,
}

#[derive(Default)]
struct World {
    /// custom_id → user id.
    users: HashMap<String, i64>,
    /// user id → custom_id.
    user_ids: HashMap<i64, String>,
    /// group_id → company id.
    companies: HashMap<String, i64>,
    /// Attribute definitions created, in order.
    attributes: Vec<Value>,
    /// Calls since the last [`DryRun::take`].
    recorded: Vec<Value>,
}

/// The placeholder shown for a user's `user_key`.
pub fn user_key_placeholder(custom_id: &str) -> String {
    format!("<user_key of {custom_id}>")
}

impl DryRun {
    /// The calls recorded since the last take.
    pub fn take(&self) -> Vec<Value> {
        std::mem::take(&mut self.state.lock().unwrap().recorded)
    }

    fn answer(world: &mut World, call: &Call<'_>) -> std::result::Result<Value, u16> {
        let user = |world: &World, custom_id: &str| {
            world
                .users
                .get(custom_id)
                .map(|id| json!({"id": id, "user_key": user_key_placeholder(custom_id)}))
        };
        match *call {
            Call::UpsertUser { custom_id, .. } => {
                let created = !world.users.contains_key(custom_id);
                let next = world.users.len() as i64 + 1;
                let id = *world.users.entry(custom_id.to_string()).or_insert(next);
                world.user_ids.insert(id, custom_id.to_string());
                Ok(json!({"id": id, "created": created}))
            }
            Call::FindUser { custom_id } => user(world, custom_id).ok_or(404),
            Call::GetUser { id } => {
                let custom_id = world.user_ids.get(&id).cloned().ok_or(404u16)?;
                user(world, &custom_id).ok_or(404)
            }
            Call::CreateEvent { custom_id, .. } => {
                if world.users.contains_key(custom_id) {
                    Ok(json!({}))
                } else {
                    Err(404)
                }
            }
            // `plan` never fails a request, so it never reads back; the stand-in keeps no events.
            Call::ListEvents { custom_id, .. } => {
                if world.users.contains_key(custom_id) {
                    Ok(json!({"count": 0, "next": null, "previous": null, "results": []}))
                } else {
                    Err(404)
                }
            }
            Call::FindCompany { group_id } => world
                .companies
                .get(group_id)
                .map(|id| json!({"id": id}))
                .ok_or(404),
            Call::CreateCompany { group_id, .. } => {
                let next = world.companies.len() as i64 + 1;
                let id = *world.companies.entry(group_id.to_string()).or_insert(next);
                Ok(json!({"id": id}))
            }
            Call::UpdateCompany { id, .. } => Ok(json!({"id": id})),
            Call::ListAttributes { .. } => Ok(json!({
                "count": world.attributes.len(),
                "next": null,
                "previous": null,
                "results": world.attributes,
            })),
            Call::CreateAttribute { name, content_type } => {
                let definition = json!({
                    "id": world.attributes.len() + 1,
                    "name": name,
                    "name_std": name,
                    "value_type": "string",
                    "content_type": content_type,
                });
                world.attributes.push(definition.clone());
                Ok(definition)
            }
            Call::SiteView(_) | Call::AddMember { .. } => Ok(json!({})),
        }
    }
}

impl Transport for DryRun {
    async fn send(&self, call: &Call<'_>) -> Result<Bytes> {
        let body = match call.body()? {
            Some(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            None => Value::Null,
        };
        let mut world = self.state.lock().unwrap();
        let answer = DryRun::answer(&mut world, call);
        let mut request = json!({
            "method": call.method().as_str(),
            "path": format!("/api/public{}", call.path()),
            "body": body,
        });
        if let Some(query) = call.query() {
            request["query"] = query.into();
        }
        if let Err(status) = answer {
            request["answer"] = status.into();
        }
        world.recorded.push(request);
        match answer {
            Ok(value) => Ok(Bytes::from(value.to_string())),
            Err(status) => Err(Error::Api {
                endpoint: call.endpoint(),
                status,
                retry_after: None,
                detail: "not found (dry run: a fresh app)".into(),
            }),
        }
    }
}

/// Plans messages one after the other, with one applier (and so one cache) for all of them.
pub struct Planner {
    applier: Applier<DryRun>,
    seen: HashSet<String>,
}

impl Default for Planner {
    fn default() -> Self {
        Planner {
            applier: Applier::new(DryRun::default()),
            seen: HashSet::new(),
        }
    }
}

impl Planner {
    /// The line `plan` prints for one decision (shape in the module docs).
    pub async fn plan(&mut self, decision: &Decision, message_id: Option<&str>) -> Value {
        if let Some(id) = message_id {
            if !self.seen.insert(id.to_string()) {
                return json!({"outcome": "duplicate", "message_id": id, "requests": []});
            }
        }
        match decision {
            Decision::Deliver(plan) => {
                let mut failure = None;
                let mut dropped = plan.dropped.clone();
                for op in &plan.ops {
                    match self.applier.apply(op).await {
                        Ok(more) => dropped.extend(more),
                        Err(e) => {
                            failure = Some(e.to_string());
                            break;
                        }
                    }
                }
                let mut line = json!({
                    "outcome": "deliver",
                    "call": plan.call,
                    "custom_id": plan.custom_id,
                    "message_id": message_id,
                    "requests": self.applier.transport().take(),
                });
                if !dropped.is_empty() {
                    line["dropped"] = json!(dropped);
                }
                if let Some(reason) = failure {
                    line["outcome"] = "dead_letter".into();
                    line["reason"] = reason.into();
                }
                line
            }
            Decision::Skip { reason } => {
                json!({"outcome": "skip", "reason": reason, "requests": []})
            }
            Decision::Reject { reason } => {
                json!({"outcome": "reject", "reason": reason, "requests": []})
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::decide;
    use crate::segment::{self, batch};

    async fn plan_one(raw: Value) -> Value {
        Planner::default()
            .plan(&decide(&raw), segment::message_id(&raw).as_deref())
            .await
    }

    fn lines(v: &Value) -> Vec<String> {
        v["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let answer = r
                    .get("answer")
                    .map(|a| format!(" -> {a}"))
                    .unwrap_or_default();
                format!(
                    "{} {}{answer}",
                    r["method"].as_str().unwrap(),
                    r["path"].as_str().unwrap()
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn identify_is_one_upsert_with_custom_id_last() {
        let v = plan_one(
            json!({"type": "identify", "userId": "u 1/x", "messageId": "m",
                                "traits": {"email": "a@b.c"}}),
        )
        .await;
        assert_eq!(
            v,
            json!({"outcome": "deliver", "call": "identify", "custom_id": "u 1/x", "message_id": "m",
                   "requests": [{"method": "POST", "path": "/api/public/users/update_or_create/",
                                 "body": {"email": "a@b.c", "custom_id": "u 1/x"}}]})
        );
        let body = serde_json::to_string(&v["requests"][0]["body"]).unwrap();
        assert!(body.ends_with(r#""custom_id":"u 1/x"}"#), "{body}");
    }

    #[tokio::test]
    async fn track_for_an_unknown_user_creates_it_and_sends_again() {
        let v = plan_one(json!({"type": "track", "userId": "u 1/x", "event": "E",
                                "timestamp": "2026-01-01T00:00:00Z"}))
        .await;
        assert_eq!(
            lines(&v),
            [
                "POST /api/public/users-by-id/u%201%2Fx/events/ -> 404",
                "POST /api/public/users/update_or_create/",
                "POST /api/public/users-by-id/u%201%2Fx/events/",
            ]
        );
        assert_eq!(
            v["requests"][0]["body"],
            json!({"name": "E", "timestamp": 1_767_225_600, "data": {}})
        );
        assert_eq!(v["requests"][1]["body"], json!({"custom_id": "u 1/x"}));
    }

    #[tokio::test]
    async fn group_creates_the_company_and_the_user_then_adds_the_member() {
        let v = plan_one(json!({"type": "group", "userId": "u", "groupId": "g@1",
                                "traits": {"name": "N"}}))
        .await;
        assert_eq!(
            lines(&v),
            [
                "GET /api/public/companies-by-id/g%401/ -> 404",
                "POST /api/public/companies/",
                "GET /api/public/users-by-id/u/ -> 404",
                "POST /api/public/users/update_or_create/",
                "POST /api/public/companies/1/add_member/",
            ]
        );
        let requests = v["requests"].as_array().unwrap();
        assert_eq!(
            requests[1]["body"],
            json!({"name": "N", "custom_id": "g@1"})
        );
        assert_eq!(requests[3]["body"], json!({"custom_id": "u"}));
        assert_eq!(
            requests[4]["body"],
            json!({"user_id": 1, "user_custom_id": "u"})
        );
    }

    #[tokio::test]
    async fn page_from_a_new_user_fetches_its_user_key() {
        let v = plan_one(json!({"type": "page", "userId": "u",
                                "properties": {"url": "https://x.example/p"}}))
        .await;
        assert_eq!(
            lines(&v),
            [
                "GET /api/public/users-by-id/u/ -> 404",
                "POST /api/public/users/update_or_create/",
                "GET /api/public/users/1/",
                "POST /api/public/site-views/",
            ]
        );
        assert_eq!(
            v["requests"][3]["body"],
            json!({"client_user": "<user_key of u>", "page_domain": "https://x.example/p",
                   "page_path": "/p"})
        );
    }

    #[tokio::test]
    async fn the_cache_carries_over_between_messages_and_duplicates_are_shown() {
        let mut planner = Planner::default();
        let identify = json!({"type": "identify", "userId": "u", "messageId": "m1"});
        let track = json!({"type": "track", "userId": "u", "event": "E", "messageId": "m2"});
        let first = planner.plan(&decide(&identify), Some("m1")).await;
        assert_eq!(first["requests"].as_array().unwrap().len(), 1);
        let second = planner.plan(&decide(&track), Some("m2")).await;
        assert_eq!(lines(&second), ["POST /api/public/users-by-id/u/events/"]);
        let again = planner.plan(&decide(&track), Some("m2")).await;
        assert_eq!(
            again,
            json!({"outcome": "duplicate", "message_id": "m2", "requests": []})
        );
    }

    #[tokio::test]
    async fn skip_and_reject_carry_the_reason() {
        let v = plan_one(json!({"type": "screen", "userId": "u"})).await;
        assert_eq!(v["outcome"], "skip");
        assert!(v["reason"].as_str().unwrap().contains("screen"));
        assert_eq!(v["requests"], json!([]));
        let v = plan_one(json!({"type": "identify"})).await;
        assert_eq!(
            v,
            json!({"outcome": "reject", "reason": "message has neither userId nor anonymousId",
                   "requests": []})
        );
    }

    /// `plan` output for every fixture, reviewed as an insta snapshot.
    #[tokio::test]
    async fn plan_snapshots_of_fixtures() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/segment");
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let mut planner = Planner::default();
            let mut plans = Vec::new();
            for item in crate::input::read_file(&std::fs::read(&path).unwrap()) {
                plans.push(match item {
                    batch::Item::Message(m) => {
                        planner
                            .plan(&decide(&m), segment::message_id(&m).as_deref())
                            .await
                    }
                    batch::Item::Invalid(invalid) => {
                        json!({"outcome": "reject", "reason": invalid.reason})
                    }
                });
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            insta::with_settings!({snapshot_suffix => name}, {
                insta::assert_json_snapshot!("plan", plans);
            });
        }
    }
}
