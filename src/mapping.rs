//! Pure mapping: one Segment message → the User.com operations it causes. No I/O, no runtime.
//!
//! The operations are abstract (they name a user by `custom_id` and a company by `group_id`);
//! [`crate::usercom::apply`] turns them into concrete requests, using its cache of
//! `custom_id → (id, user_key)` and `group_id → company id`.
//!
//! Entry points: [`decide`] (a raw JSON message → [`Decision`]), [`map`] (an already parsed
//! [`Message`]) and [`name_std`] (User.com's attribute-name normalisation).
//!
//! # The rules (normative source: design.md "The forwarder" and the destination doc)
//!
//! - **Identity**: `custom_id = userId`, else `anonymousId` (empty counts as absent); neither →
//!   [`Decision::Reject`] "message has neither userId nor anonymousId".
//! - **Opt-out**: a message whose `integrations` say `"User.com": false` (or `"UserEngage":
//!   false`, the doc's other name), or `"All": false` without `"User.com"` switched back on, is
//!   [`Decision::Skip`]ped with the reason "integrations opt-out ...": the ingress stands where
//!   Segment stands, and Segment would not send it.
//! - **identify** → [`Op::UpsertUser`]; see [`user`] for every field. `traits.company`
//!   (Segment's reserved company trait) also makes the user a member of that company, found by
//!   its `id`, else its `name` (see [`company::from_identify`]), as a group call would. The
//!   traits are `context.traits` with `traits` over them (the root wins a key both carry):
//!   RudderStack's Python SDK sends identify traits in `context.traits` only, and Segment's spec
//!   allows them there. On page, track and group, `context.traits` (the user's traits as the
//!   client remembers them, repeated on every call by analytics.js) is not applied: only an
//!   identify updates the user, or every page view would also cost an `update_or_create`.
//! - **page** → [`Op::EnsureUser`], then [`Op::SiteView`]: URL from `properties.url`, else
//!   `context.page.url`; path from `properties.path`, else `context.page.path`, else the path of
//!   the URL; title from `properties.title`, else the page `name`, else `context.page.title`. A
//!   page without any URL is skipped with a reason (there is no page view to record). The
//!   site view has no field for the page's referrer, category and search, so they are kept on
//!   the user as the custom attributes `last_page_referrer` (`properties.referrer`, else
//!   `context.page.referrer`), `last_page_category` (`category`, else `properties.category`)
//!   and `last_page_search` (`properties.search`, else `context.page.search`): then the page's
//!   first op is an [`Op::UpsertUser`] with them instead of [`Op::EnsureUser`].
//! - **Event time** (site views and events): `timestamp`, else `receivedAt − (sentAt −
//!   originalTimestamp)` (Segment's clock-skew correction), else `originalTimestamp`, else
//!   `receivedAt`; never later than `receivedAt` (see
//!   [`crate::segment::Message::event_time`]). The ingress stamps `receivedAt` on arrival. A
//!   numeric timestamp is unix seconds, or milliseconds above 10^11.
//! - **track** → [`Op::Event`] with `name = event` (missing, non-string or blank → reject), the
//!   event time in unix seconds (rounded down) and `data = properties` (keys as sent). A
//!   `properties` that is not an object is rejected by the parser (naming the field) rather than
//!   silently emptied: dropping the payload of an event would be invisible data loss.
//! - **group** → `groupId` required (else reject), [`Op::UpsertCompany`] (see [`company`]), then
//!   [`Op::EnsureUser`] and [`Op::AddMember`]: `add_member` needs the user's numeric id, so the
//!   user is ensured first, exactly as before a site view.
//! - **screen, alias, any other type** → [`Decision::Skip`], whatever else the message holds.
//! - Anything the parser refuses ([`crate::segment::ParseError`]) → [`Decision::Reject`] with the
//!   parser's message, which names the field.
//!
//! # Traits that are not mapped: custom attributes
//!
//! Every trait the mapping does not consume becomes a custom attribute at the top level of the
//! body, its key normalised by [`name_std`]. Values pass through as JSON here; delivery defines
//! missing attributes and converts each value to its attribute's type before sending
//! ([`convert`], [`crate::usercom::attributes`]). Four collisions are decided here, the same way
//! for users and companies:
//!
//! 1. **Read-only field** (`id`, `user_key`, `page_views`, `last_seen`, `first_seen`,
//!    `created_at`, `updated_at`, `companies`, `custom_id`, `employees`, `lists`,
//!    `last_contacted`; for companies `id`, `custom_id`,
//!    `created_at`, `updated_at`, `employees`): the trait is kept under
//!    `segment_<name>` (`created_at` → `segment_created_at`) instead of being dropped, because
//!    such traits usually carry real data from the customer's system (a signup date, their own
//!    id) that User.com must never take as its own.
//! 2. **Standard field** the mapping fills (`email`, `city`, `user_agent`, ...): when the mapping
//!    already set it, the mapped value wins and the trait is dropped (it is a second spelling,
//!    such as `Email` next to `email` or a top-level `city` next to `address.city`); when the
//!    mapping left it empty, the trait fills it, converted like the mapped source would be
//!    (`Gender: "F"` → `gender: 3`).
//! 3. **Typed standard field the doc does not map** (`status`, `tags`, `score`,
//!    `unsubscribed`, `notifications`, `assigned_to`, ...; a company's `tags`): converted when
//!    the value fits (`status: "user"` → `2`, `tags: "vip"` → `["vip"]`), otherwise kept as
//!    `segment_<name>` like a read-only field. User.com refuses a whole request whose typed field
//!    has the wrong type, so one such trait must never cost the message.
//! 4. **Two traits with the same normalised key** (`Plan` and `plan`, `planName` and
//!    `plan_name`): the first one in the message wins. A trait whose key normalises to the
//!    empty string is dropped.
//!
//! A mapped trait whose value cannot go into its field (`email: "not an email"`, a `phone`
//! that is an object) is left out and recorded in [`Plan::dropped`]: the rest of the message is
//! delivered, and delivery counts and logs what was left out.
//!
//! # `null` trait values
//!
//! Segment's rule is that a trait sent as `null` overwrites the stored value. So `null` passes
//! through for custom attributes and for standard fields that are plain text (`email`,
//! `first_name`, `last_name`, `phone_number`, `country`, `region`, `city`, company `name`,
//! `email`, `address`, `description`, ...): User.com clears the field, and an unknown attribute
//! sent as `null` is simply not created. A `null` for a field that needs a conversion (`gender`,
//! a company's `phone` → `phone_numbers`, `employees` → `size`, a user's `name` to split) is
//! left out: there is nothing to convert, and
//! User.com's typed fields do not take `null`.

pub mod company;
pub mod convert;
pub mod user;

#[cfg(test)]
mod tests;

use crate::segment::{self, Kind, Message};

use std::borrow::Cow;

use serde::Serialize;
use serde_json::map::Entry;
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
    /// Segment call type (`identify`, `page`, `track`, `group`): only these four are delivered,
    /// so a static name (no allocation per message).
    pub call: &'static str,
    /// The user this message is about: `userId`, else `anonymousId`.
    pub custom_id: String,
    pub ops: Vec<Op>,
    /// Fields left out because their value cannot go where the doc maps it (an invalid email,
    /// say); the rest of the message is still delivered. Counted and logged by delivery.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<Dropped>,
}

/// A field the mapping left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dropped {
    /// The trait (or message field) as the sender named it.
    pub field: String,
    /// Why it was left out.
    pub reason: String,
}

/// One abstract User.com operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// `POST /users/update_or_create/` with `custom_id` plus `fields` (standard fields, context
    /// fields and custom attributes, keys already normalised).
    UpsertUser {
        custom_id: String,
        fields: Map<String, Value>,
    },
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
    UpsertCompany {
        group_id: String,
        fields: Map<String, Value>,
    },
    /// `POST /companies/{id}/add_member/` for the user.
    AddMember { group_id: String, custom_id: String },
}

/// Parses `raw` as a Segment message and maps it. A message the parser refuses becomes
/// [`Decision::Reject`] whose reason names the field ("invalid Segment message: message field
/// `userId` must be a string or a number, got a boolean").
pub fn decide(raw: &Value) -> Decision {
    match segment::parse(raw) {
        Ok(msg) => map(&msg),
        Err(err) => Decision::Reject {
            reason: format!("invalid Segment message: {err}"),
        },
    }
}

/// Maps one parsed message to its [`Decision`] (see the module docs for the rules).
pub fn map(msg: &Message<'_>) -> Decision {
    let unsupported = match msg.kind {
        Kind::Identify | Kind::Track | Kind::Page | Kind::Group => None,
        Kind::Screen => Some("screen calls are not supported by the User.com destination".into()),
        Kind::Alias => Some("alias calls are not supported by the User.com destination".into()),
        Kind::Other(t) => Some(format!(
            "message type {t:?} is not supported by the User.com destination"
        )),
    };
    if let Some(reason) = unsupported.or_else(|| opted_out(msg.integrations)) {
        return Decision::Skip { reason };
    }
    let Some(custom_id) = msg.custom_id() else {
        return reject("message has neither userId nor anonymousId");
    };
    let mut dropped = Vec::new();
    let (call, ops) = match msg.kind {
        Kind::Identify => {
            let merged = traits_with_context(msg);
            let with_context;
            let msg = match &merged {
                Some(traits) => {
                    with_context = Message {
                        traits,
                        ..msg.clone()
                    };
                    &with_context
                }
                None => msg,
            };
            let mut ops = vec![Op::UpsertUser {
                custom_id: custom_id.to_owned(),
                fields: user::identify_fields_dropping(msg, &mut dropped),
            }];
            if let Some((group_id, fields)) = company::from_identify(msg.traits, &mut dropped) {
                ops.extend(membership(group_id, fields, custom_id));
            }
            ("identify", ops)
        }
        Kind::Page => match page_ops(msg, custom_id) {
            Ok(ops) => ("page", ops),
            Err(reason) => return Decision::Skip { reason },
        },
        Kind::Track => match track_op(msg, custom_id) {
            Ok(op) => ("track", vec![op]),
            Err(reason) => return reject(reason),
        },
        Kind::Group => {
            let Some(group_id) = msg.group_id.as_deref() else {
                return reject("group message has no groupId");
            };
            let fields = company::fields_dropping(msg.traits, &mut dropped);
            (
                "group",
                membership(group_id.to_owned(), fields, custom_id).to_vec(),
            )
        }
        Kind::Screen | Kind::Alias | Kind::Other(_) => unreachable!("skipped above"),
    };
    Decision::Deliver(Plan {
        call,
        custom_id: custom_id.to_owned(),
        ops,
        dropped,
    })
}

/// The company upserted with `fields`, then the user made a member (group, and identify's
/// `traits.company`). `add_member` needs the user's numeric id, so the user is ensured first.
fn membership(group_id: String, fields: Map<String, Value>, custom_id: &str) -> [Op; 3] {
    [
        Op::UpsertCompany {
            group_id: group_id.clone(),
            fields,
        },
        Op::EnsureUser {
            custom_id: custom_id.to_owned(),
        },
        Op::AddMember {
            group_id,
            custom_id: custom_id.to_owned(),
        },
    ]
}

/// The names a Segment `integrations` object gives this destination.
const DESTINATION_NAMES: [&str; 2] = ["User.com", "UserEngage"];

/// Whether the sender opted this message out of the destination: `"User.com": false` (or
/// `"UserEngage": false`), or `"All": false` without `"User.com"` switched back on (`true` or an
/// options object), as Segment decides it.
fn opted_out(integrations: &Map<String, Value>) -> Option<String> {
    let ours = DESTINATION_NAMES
        .iter()
        .find_map(|name| integrations.get(*name).map(|v| (*name, v)));
    match ours {
        Some((name, Value::Bool(false))) => Some(format!(
            "integrations opt-out: \"{name}\": false in the message's integrations"
        )),
        Some((_, v)) if !v.is_null() => None,
        _ => match integrations.get("All") {
            Some(Value::Bool(false)) => Some(
                "integrations opt-out: \"All\": false and \"User.com\" not enabled in the message's integrations".into(),
            ),
            _ => None,
        },
    }
}

/// An identify's traits with `context.traits` under them (the root wins a key both carry);
/// `None` when the context has no traits object, or an empty one (then `traits` is all).
fn traits_with_context(msg: &Message<'_>) -> Option<Map<String, Value>> {
    let under = msg
        .context
        .get("traits")
        .and_then(Value::as_object)
        .filter(|t| !t.is_empty())?;
    let mut traits = under.clone();
    for (key, value) in msg.traits {
        traits.insert(key.clone(), value.clone());
    }
    Some(traits)
}

fn reject(reason: &str) -> Decision {
    Decision::Reject {
        reason: reason.to_owned(),
    }
}

fn track_op(msg: &Message<'_>, custom_id: &str) -> Result<Op, &'static str> {
    let name = match msg.event {
        None => return Err("track message has no event name (`event`)"),
        Some(e) if e.trim().is_empty() => {
            return Err("track message has an empty event name (`event`)")
        }
        Some(e) => e,
    };
    Ok(Op::Event {
        custom_id: custom_id.to_owned(),
        name: name.to_owned(),
        timestamp: msg.event_time().map(|t| t.unix_seconds()),
        data: msg.properties.clone(),
    })
}

fn page_ops(msg: &Message<'_>, custom_id: &str) -> Result<Vec<Op>, String> {
    let props = msg.properties;
    let ctx = &msg.context;
    let Some(url) = prop_str(props, "url").or_else(|| ctx.page_url()) else {
        return Err(
            "page has no URL (neither properties.url nor context.page.url): \
                    there is no page view to record"
                .into(),
        );
    };
    let path = prop_str(props, "path")
        .or_else(|| ctx.page_path())
        .unwrap_or_else(|| path_of_url(url));
    let title = prop_str(props, "title")
        .or(msg.name.filter(|n| !n.is_empty()))
        .or_else(|| ctx.page_title());
    // The site view has no field for these: they are kept on the user (see the module docs).
    let details: Map<String, Value> = [
        (
            "last_page_referrer",
            prop_str(props, "referrer").or_else(|| ctx.page_referrer()),
        ),
        (
            "last_page_category",
            msg.category.or_else(|| prop_str(props, "category")),
        ),
        (
            "last_page_search",
            prop_str(props, "search").or_else(|| ctx.page_search()),
        ),
    ]
    .into_iter()
    .filter_map(|(key, value)| {
        let value = value.filter(|v| !v.trim().is_empty())?;
        Some((key.to_owned(), Value::String(value.to_owned())))
    })
    .collect();
    let user = if details.is_empty() {
        Op::EnsureUser {
            custom_id: custom_id.to_owned(),
        }
    } else {
        Op::UpsertUser {
            custom_id: custom_id.to_owned(),
            fields: details,
        }
    };
    Ok(vec![
        user,
        Op::SiteView {
            custom_id: custom_id.to_owned(),
            url: Some(url.to_owned()),
            path: Some(path.to_owned()),
            title: title.map(str::to_owned),
            timestamp: msg.event_time().map(|t| t.rfc3339().into_owned()),
        },
    ])
}

/// A non-empty string property; other JSON types read as absent (the fallbacks take over).
fn prop_str<'a>(props: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    props
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The path part of a URL: `https://h/a/b?q#f` → `/a/b`; `https://h` and `https://h?q` → `/`;
/// a relative `/a?q` → `/a`.
fn path_of_url(url: &str) -> &str {
    let after_scheme = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => return url.split(['?', '#']).next().unwrap_or(url),
    };
    match after_scheme.find(['/', '?', '#']) {
        Some(i) if after_scheme.as_bytes()[i] == b'/' => {
            let path = &after_scheme[i..];
            path.split(['?', '#']).next().unwrap_or(path)
        }
        _ => "/",
    }
}

/// The attribute-name normalisation (`name_std`): one key for every spelling of a name.
///
/// - lower-case;
/// - each whitespace character becomes `_` (User.com's documented rule: `"Order Count"` →
///   `"order_count"`);
/// - an upper-case letter that follows a lower-case letter or a digit starts a new word, so
///   camelCase and snake_case of one name land in one attribute: `"createdAt"` and
///   `"created_at"` → `"created_at"`, `"planName"` → `"plan_name"`, `"userID"` → `"user_id"`.
///
/// Every other character is kept as it is: punctuation (`-`, `.`, `$`), digits and non-ASCII
/// letters (lower-cased with Unicode rules: `"Ünïcode Key"` → `"ünïcode_key"`). Inventing more
/// (stripping punctuation, transliterating) would merge distinct traits (`a-b` and `a.b`). No
/// trimming either: `" plan"` → `"_plan"`, so the transformation stays predictable. The
/// simulator normalises attribute names by the same rules.
///
/// Returns the key itself (borrowed, no allocation) when it is already normalised, which is the
/// common case (`email`, `plan`, `order_id`): the mapping calls this for every trait.
pub fn name_std(key: &str) -> Cow<'_, str> {
    if key.is_ascii()
        && key
            .bytes()
            .all(|b| !b.is_ascii_uppercase() && !char::from(b).is_whitespace())
    {
        return Cow::Borrowed(key);
    }
    let mut out = String::with_capacity(key.len() + 4);
    let mut previous: Option<char> = None;
    for c in key.chars() {
        if c.is_whitespace() {
            out.push('_');
        } else if c.is_uppercase() {
            if previous.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit()) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        previous = Some(c);
    }
    Cow::Owned(out)
}

/// Text for a plain standard field: strings as sent, numbers and booleans stringified, `null`
/// kept (it clears the field), objects and lists refused (`None`: not representable as text).
fn text_or_null(v: &Value) -> Option<Value> {
    match v {
        Value::String(_) | Value::Null => Some(v.clone()),
        Value::Number(n) => Some(Value::String(n.to_string())),
        Value::Bool(b) => Some(Value::String(b.to_string())),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// Like [`text_or_null`], cut to at most `max` characters (User.com's documented field limits;
/// an over-long value would make the whole request fail).
fn text_limited(v: &Value, max: usize) -> Option<Value> {
    match text_or_null(v)? {
        Value::String(s) if s.chars().count() > max => {
            Some(Value::String(s.chars().take(max).collect()))
        }
        other => Some(other),
    }
}

/// What a trait whose normalised key is a standard field does (see the module docs).
pub(crate) enum Standard {
    /// Not a standard field: a custom attribute.
    Custom,
    /// The field, converted: fills it when the mapping left it empty.
    Fill(Value),
    /// Nothing to write (a `null` for a typed field, a second spelling of a derived one).
    Skip,
    /// The value cannot go into the field: kept as the custom attribute `segment_<key>`.
    Rename,
}

impl Standard {
    /// `Fill` with the converted value; a value that does not convert is renamed, a `null`
    /// that does not convert is skipped.
    pub(crate) fn convert(value: &Value, converted: Option<Value>) -> Standard {
        match converted {
            Some(v) => Standard::Fill(v),
            None if value.is_null() => Standard::Skip,
            None => Standard::Rename,
        }
    }
}

/// Adds every trait not in `consumed` as a custom attribute (rules in the module docs).
/// `standard` says what a trait whose normalised key is a standard field becomes;
/// `read_only` lists the fields never written.
fn add_custom_attributes(
    fields: &mut Map<String, Value>,
    traits: &Map<String, Value>,
    consumed: &[&str],
    read_only: &[&str],
    standard: impl Fn(&str, &Value) -> Standard,
) {
    for (key, value) in traits {
        if consumed.contains(&key.as_str()) {
            continue;
        }
        let std_key = name_std(key);
        if std_key.is_empty() {
            continue;
        }
        let std_key = if read_only.contains(&&*std_key) {
            ["segment_", &std_key].concat()
        } else {
            match standard(&std_key, value) {
                Standard::Custom => std_key.into_owned(),
                // A standard field: only fills a gap, with the field's own conversion.
                Standard::Fill(v) => {
                    if let Entry::Vacant(slot) = fields.entry(std_key) {
                        slot.insert(v);
                    }
                    continue;
                }
                Standard::Skip => continue,
                Standard::Rename => ["segment_", &std_key].concat(),
            }
        };
        if let Entry::Vacant(slot) = fields.entry(std_key) {
            slot.insert(value.clone());
        }
    }
}
