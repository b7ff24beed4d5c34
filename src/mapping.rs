//! Pure mapping: one Segment message → the User.com operations it causes. No I/O, no runtime.
//!
//! The operations are abstract (they name a user by `custom_id` and a company by `group_id`);
//! [`crate::delivery`] resolves them to concrete requests, using its cache of
//! `custom_id → (id, user_key)` and `group_id → company id`.

use serde::Serialize;
use serde_json::{Map, Value};

/// What the mapping decided for one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Decision {
    /// Deliver these operations, in order, for the user `custom_id`.
    Deliver(Plan),
    /// Not supported by this destination (screen, alias, unknown types): counted as skipped.
    Skip { reason: String },
    /// The message cannot be delivered (no userId/anonymousId, track without event, ...):
    /// it goes to the dead-letter file with this reason and is never sent.
    Reject { reason: String },
}

/// The planned operations for one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Segment call type (`identify`, `page`, `track`, `group`).
    pub call: String,
    /// The user this message is about: `userId`, else `anonymousId`.
    pub custom_id: String,
    /// Segment `messageId`, when present (used to apply duplicates once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub ops: Vec<Op>,
}

/// One abstract User.com operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// `POST /users/update_or_create/` with `custom_id` plus `fields` (standard fields, context
    /// fields and custom attributes, keys already normalised).
    UpsertUser { custom_id: String, fields: Map<String, Value> },
    /// Make sure the user exists (create it by `custom_id` when unknown); needed before a site
    /// view (which names the user by `user_key`) and before `add_member`.
    EnsureUser { custom_id: String },
    /// `POST /site-views/` for the user (`client_user` = the user's `user_key`).
    SiteView {
        custom_id: String,
        /// Full page URL (`page_domain` on the wire).
        url: Option<String>,
        path: Option<String>,
        title: Option<String>,
        /// RFC 3339 timestamp of the page view.
        timestamp: Option<String>,
    },
    /// `POST /users-by-id/{custom_id}/events/`; a 404 → create the user, retry once.
    Event {
        custom_id: String,
        name: String,
        /// Unix seconds.
        timestamp: Option<i64>,
        data: Map<String, Value>,
    },
    /// Find the company by `custom_id = group_id` (`GET /companies-by-id/{group_id}/`), then
    /// `PUT /companies/{id}/` or `POST /companies/` with `fields` (+ `custom_id`).
    UpsertCompany { group_id: String, fields: Map<String, Value> },
    /// `POST /companies/{id}/add_member/` for the user.
    AddMember { group_id: String, custom_id: String },
}
