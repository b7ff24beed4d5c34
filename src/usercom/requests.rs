//! Every User.com request the forwarder makes, written once: method, path and body.
//!
//! [`Call`] is the single description of a request. The HTTP client sends it
//! ([`super::client`]), the dry run records it for `plan` ([`super::dry_run`]), and error messages
//! name it ([`Call::endpoint`]); none of them builds a path or a body of its own, so what `plan`
//! prints is what `send` sends.
//!
//! | call | request | body |
//! |---|---|---|
//! | [`Call::UpsertUser`] | `POST /users/update_or_create/` | the fields, then `custom_id` |
//! | [`Call::FindUser`] | `GET /users-by-id/{custom_id}/` | — |
//! | [`Call::GetUser`] | `GET /users/{id}/` | — |
//! | [`Call::SiteView`] | `POST /site-views/` | `client_user` (the `user_key`), `page_domain`, `page_path`, `title`, `timestamp` |
//! | [`Call::CreateEvent`] | `POST /users-by-id/{custom_id}/events/` | `name`, `timestamp` (unix seconds), `data` |
//! | [`Call::FindCompany`] | `GET /companies-by-id/{group_id}/` | — |
//! | [`Call::CreateCompany`] | `POST /companies/` | the fields, then `custom_id` |
//! | [`Call::UpdateCompany`] | `PUT /companies/{id}/` | the fields, then `custom_id` |
//! | [`Call::AddMember`] | `POST /companies/{id}/add_member/` | `user_id`, `user_custom_id` |
//! | [`Call::ListAttributes`] | `GET /attributes/` (then each `next` page's query) | — |
//! | [`Call::ListEvents`] | `GET /users-by-id/{custom_id}/events/` (then each `next` page's query) | — |
//! | [`Call::CreateAttribute`] | `POST /attributes/` | `name`, `value_type: "string"`, `content_type` |
//!
//! Paths are relative to `{origin}/api/public` and end with a slash (User.com redirects
//! unslashed paths, and a redirect would drop the `Authorization` header). Custom ids and group
//! ids are percent-encoded as one path segment ([`encode_segment`]).

use http::Method;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// One User.com request (see the module table).
#[derive(Debug, Clone, Copy)]
pub enum Call<'a> {
    /// Create or update the user `custom_id` (atomic on `custom_id` at User.com).
    UpsertUser {
        /// The user's custom id (`userId`, else `anonymousId`).
        custom_id: &'a str,
        /// Standard, context and custom fields.
        fields: &'a Map<String, Value>,
    },
    /// Look a user up by custom id (404 = unknown).
    FindUser {
        /// The user's custom id.
        custom_id: &'a str,
    },
    /// Read a user by numeric id (for its `user_key`).
    GetUser {
        /// User.com's numeric id.
        id: i64,
    },
    /// Record a page view.
    SiteView(SiteView<'a>),
    /// Record an event occurrence for the user `custom_id`.
    CreateEvent {
        /// The user's custom id.
        custom_id: &'a str,
        /// The event.
        event: Event<'a>,
    },
    /// Look a company up by custom id (404 = unknown).
    FindCompany {
        /// The company's custom id (the Segment `groupId`).
        group_id: &'a str,
    },
    /// Create a company.
    CreateCompany {
        /// The company's custom id (the Segment `groupId`).
        group_id: &'a str,
        /// Company fields.
        fields: &'a Map<String, Value>,
    },
    /// Update a company.
    UpdateCompany {
        /// User.com's numeric company id.
        id: i64,
        /// The company's custom id (sent again, so the body is the same as a create's).
        group_id: &'a str,
        /// Company fields.
        fields: &'a Map<String, Value>,
    },
    /// One page of a user's event occurrences (`--read-back`: was an event whose answer was
    /// lost recorded?); `query` as for [`Call::ListAttributes`].
    ListEvents {
        /// The user's custom id.
        custom_id: &'a str,
        /// The query string, without `?`.
        query: Option<&'a str>,
    },
    /// One page of the attribute definitions (`query`: the page's query string, from the
    /// previous page's `next`; `None` for the first page).
    ListAttributes {
        /// The query string, without `?`.
        query: Option<&'a str>,
    },
    /// Define a custom attribute as `string`.
    CreateAttribute {
        /// The attribute's name (already normalised, so `name_std` equals it).
        name: &'a str,
        /// `clientuser` or `company`.
        content_type: &'a str,
    },
    /// Make a user a member of a company (idempotent at User.com).
    AddMember {
        /// User.com's numeric company id.
        company_id: i64,
        /// User.com's numeric user id.
        user_id: i64,
        /// The user's custom id.
        custom_id: &'a str,
    },
}

/// `POST /site-views/` body; absent fields are left out.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SiteView<'a> {
    /// The user's 12-character `user_key`.
    pub client_user: &'a str,
    /// The full page URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_domain: Option<&'a str>,
    /// The page path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_path: Option<&'a str>,
    /// The page title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
    /// RFC 3339 time of the view.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<&'a str>,
}

/// `POST /users-by-id/{custom_id}/events/` body.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Event<'a> {
    /// The event name.
    pub name: &'a str,
    /// Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// The event's properties.
    pub data: &'a Map<String, Value>,
}

impl Call<'_> {
    /// The HTTP method.
    pub fn method(&self) -> Method {
        match self {
            Call::FindUser { .. }
            | Call::GetUser { .. }
            | Call::FindCompany { .. }
            | Call::ListAttributes { .. }
            | Call::ListEvents { .. } => Method::GET,
            Call::UpdateCompany { .. } => Method::PUT,
            Call::UpsertUser { .. }
            | Call::SiteView(_)
            | Call::CreateEvent { .. }
            | Call::CreateCompany { .. }
            | Call::CreateAttribute { .. }
            | Call::AddMember { .. } => Method::POST,
        }
    }

    /// The path below `/api/public`, with a leading and a trailing slash.
    pub fn path(&self) -> String {
        match self {
            Call::UpsertUser { .. } => "/users/update_or_create/".into(),
            Call::FindUser { custom_id } => format!("/users-by-id/{}/", encode_segment(custom_id)),
            Call::GetUser { id } => format!("/users/{id}/"),
            Call::SiteView(_) => "/site-views/".into(),
            Call::CreateEvent { custom_id, .. } | Call::ListEvents { custom_id, .. } => {
                format!("/users-by-id/{}/events/", encode_segment(custom_id))
            }
            Call::FindCompany { group_id } => {
                format!("/companies-by-id/{}/", encode_segment(group_id))
            }
            Call::CreateCompany { .. } => "/companies/".into(),
            Call::UpdateCompany { id, .. } => format!("/companies/{id}/"),
            Call::AddMember { company_id, .. } => format!("/companies/{company_id}/add_member/"),
            Call::ListAttributes { .. } | Call::CreateAttribute { .. } => "/attributes/".into(),
        }
    }

    /// The query string (without `?`), if any.
    pub fn query(&self) -> Option<&str> {
        match self {
            Call::ListAttributes { query } | Call::ListEvents { query, .. } => *query,
            _ => None,
        }
    }

    /// `METHOD /api/public/path/[?query]`: how errors, logs and `plan` name the request.
    pub fn endpoint(&self) -> String {
        match self.query() {
            Some(query) => format!("{} /api/public{}?{query}", self.method(), self.path()),
            None => format!("{} /api/public{}", self.method(), self.path()),
        }
    }

    /// The JSON body, serialised; `None` for a GET.
    pub fn body(&self) -> Result<Option<Vec<u8>>> {
        let bytes = match self {
            Call::FindUser { .. }
            | Call::GetUser { .. }
            | Call::FindCompany { .. }
            | Call::ListAttributes { .. }
            | Call::ListEvents { .. } => return Ok(None),
            Call::CreateAttribute { name, content_type } => to_vec(&serde_json::json!({
                "name": name,
                "value_type": "string",
                "content_type": content_type,
            })),
            Call::UpsertUser { custom_id, fields } => to_vec(&WithCustomId { fields, custom_id }),
            Call::CreateCompany { group_id, fields }
            | Call::UpdateCompany {
                group_id, fields, ..
            } => to_vec(&WithCustomId {
                fields,
                custom_id: group_id,
            }),
            Call::SiteView(body) => to_vec(body),
            Call::CreateEvent { event, .. } => to_vec(event),
            Call::AddMember {
                user_id, custom_id, ..
            } => to_vec(&Member {
                user_id: *user_id,
                user_custom_id: custom_id,
            }),
        };
        bytes.map(Some).map_err(|e| Error::BadResponse {
            endpoint: self.endpoint(),
            detail: format!("cannot serialise the request body: {e}"),
        })
    }
}

fn to_vec(body: &impl Serialize) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(body)
}

/// `POST /companies/{id}/add_member/` body.
#[derive(Serialize)]
struct Member<'a> {
    user_id: i64,
    user_custom_id: &'a str,
}

/// `fields` plus `"custom_id"`, serialised as one JSON object without copying `fields`.
///
/// `custom_id` comes last, and a `custom_id` key inside `fields` is left out: the argument is
/// the one that counts (the mapping never produces one; it renames such a trait
/// `segment_custom_id`).
struct WithCustomId<'a> {
    fields: &'a Map<String, Value>,
    custom_id: &'a str,
}

impl Serialize for WithCustomId<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.fields {
            if key != "custom_id" {
                map.serialize_entry(key, value)?;
            }
        }
        map.serialize_entry("custom_id", self.custom_id)?;
        map.end()
    }
}

/// Everything but RFC 3986 "unreserved" characters is encoded, so a custom id such as
/// `a/b?c d` stays one path segment (`a%2Fb%3Fc%20d`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a custom id (or any text) as a single path segment.
pub fn encode_segment(raw: &str) -> String {
    utf8_percent_encode(raw, SEGMENT).to_string()
}

/// A user as the forwarder needs it: the numeric id and, when known, the `user_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    /// Internal User.com id.
    pub id: i64,
    /// 12-character user key (needed for site views); `None` until fetched.
    pub user_key: Option<String>,
}

/// What the forwarder reads from User.com's answers: `id` (a number, or a numeric string),
/// `user_key` and `created`. Everything else in the answer is skipped, not built.
#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    user_key: Option<Value>,
    #[serde(default)]
    created: Option<Value>,
}

impl Answer {
    fn read(call: &Call<'_>, bytes: &[u8]) -> Result<Answer> {
        serde_json::from_slice(bytes).map_err(|e| Error::BadResponse {
            endpoint: call.endpoint(),
            detail: format!("body is not a JSON object ({e}): {}", excerpt(bytes)),
        })
    }

    fn id(&self, call: &Call<'_>, bytes: &[u8]) -> Result<i64> {
        self.id
            .as_ref()
            .and_then(|id| id.as_i64().or_else(|| id.as_str()?.parse().ok()))
            .ok_or_else(|| Error::BadResponse {
                endpoint: call.endpoint(),
                detail: format!("no numeric \"id\" in {}", excerpt(bytes)),
            })
    }
}

/// The user id an answer names (`update_or_create`, `users-by-id`, `users/{id}`), with its
/// `user_key` when present, and whether the call created the user.
pub fn read_user(call: &Call<'_>, bytes: &[u8]) -> Result<(UserRef, bool)> {
    let answer = Answer::read(call, bytes)?;
    let user = UserRef {
        id: answer.id(call, bytes)?,
        user_key: answer
            .user_key
            .as_ref()
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    let created = answer.created.as_ref().and_then(Value::as_bool) == Some(true);
    Ok((user, created))
}

/// The company id an answer names (`companies-by-id`, `POST /companies/`).
pub fn read_id(call: &Call<'_>, bytes: &[u8]) -> Result<i64> {
    let answer = Answer::read(call, bytes)?;
    answer.id(call, bytes)
}

/// A success's body as JSON (lists of definitions).
pub fn parse_value(call: &Call<'_>, bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice(bytes).map_err(|e| Error::BadResponse {
        endpoint: call.endpoint(),
        detail: format!("body is not JSON ({e}): {}", excerpt(bytes)),
    })
}

/// One page of a list: its items and the query string of the next page (from `next`, an
/// absolute URL or a path), or `None` on the last page. A bare JSON array is one whole page.
pub fn read_page(call: &Call<'_>, bytes: &[u8]) -> Result<(Vec<Value>, Option<String>)> {
    match parse_value(call, bytes)? {
        Value::Array(items) => Ok((items, None)),
        Value::Object(mut page) => {
            let items = match page.remove("results") {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            let next = page.get("next").and_then(Value::as_str).and_then(query_of);
            Ok((items, next))
        }
        _ => Err(Error::BadResponse {
            endpoint: call.endpoint(),
            detail: "the list is neither a page nor a list".into(),
        }),
    }
}

/// The query string of a `next` link (an absolute URL or a path).
fn query_of(next: &str) -> Option<String> {
    let (_, query) = next.split_once('?')?;
    let query = query.split('#').next().unwrap_or(query);
    (!query.is_empty()).then(|| query.to_owned())
}

/// A success's body as a JSON value (an object is expected; anything else reads as `Null`).
pub fn parse_object(call: &Call<'_>, bytes: &[u8]) -> Result<Value> {
    if bytes.trim_ascii().is_empty() {
        return Ok(Value::Null);
    }
    parse_value(call, bytes)
}

/// Checks that a success's body, if any, is JSON (nothing in it is needed).
pub fn read_ack(call: &Call<'_>, bytes: &[u8]) -> Result<()> {
    if bytes.trim_ascii().is_empty() {
        return Ok(());
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map(drop)
        .map_err(|e| Error::BadResponse {
            endpoint: call.endpoint(),
            detail: format!("body is not JSON ({e}): {}", excerpt(bytes)),
        })
}

/// The start of a body, for error messages.
pub fn excerpt(bytes: &[u8]) -> String {
    const MAX: usize = 300;
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(call: Call<'_>) -> Value {
        serde_json::from_slice(&call.body().unwrap().unwrap()).unwrap()
    }

    #[test]
    fn custom_ids_stay_one_segment() {
        assert_eq!(encode_segment("a/b?c d"), "a%2Fb%3Fc%20d");
        assert_eq!(encode_segment("user@123"), "user%40123");
        assert_eq!(encode_segment("ok-id_1.x~"), "ok-id_1.x~");
        assert_eq!(encode_segment("zażółć"), "za%C5%BC%C3%B3%C5%82%C4%87");
        let call = Call::FindUser { custom_id: "a b" };
        assert_eq!(call.endpoint(), "GET /api/public/users-by-id/a%20b/");
    }

    #[test]
    fn custom_id_comes_last_and_a_field_of_that_name_is_left_out() {
        let fields = json!({"email": "a@example.com", "custom_id": "other"});
        let call = Call::UpsertUser {
            custom_id: "u1",
            fields: fields.as_object().unwrap(),
        };
        let text = String::from_utf8(call.body().unwrap().unwrap()).unwrap();
        assert_eq!(text, r#"{"email":"a@example.com","custom_id":"u1"}"#);
    }

    #[test]
    fn bodies_and_paths() {
        let data = json!({"revenue": 42});
        let event = Call::CreateEvent {
            custom_id: "u/1",
            event: Event {
                name: "Order Completed",
                timestamp: Some(1_700_000_000),
                data: data.as_object().unwrap(),
            },
        };
        assert_eq!(event.path(), "/users-by-id/u%2F1/events/");
        assert_eq!(
            body(event),
            json!({"name": "Order Completed", "timestamp": 1_700_000_000, "data": {"revenue": 42}})
        );
        let member = Call::AddMember {
            company_id: 7,
            user_id: 3,
            custom_id: "u1",
        };
        assert_eq!(
            member.endpoint(),
            "POST /api/public/companies/7/add_member/"
        );
        assert_eq!(body(member), json!({"user_id": 3, "user_custom_id": "u1"}));
        let view = Call::SiteView(SiteView {
            client_user: "k",
            page_domain: Some("https://x.example/a"),
            page_path: None,
            title: None,
            timestamp: None,
        });
        assert_eq!(
            body(view),
            json!({"client_user": "k", "page_domain": "https://x.example/a"})
        );
        assert!(Call::GetUser { id: 1 }.body().unwrap().is_none());
    }

    #[test]
    fn answers_are_read_leniently_but_need_an_id() {
        let call = Call::GetUser { id: 1 };
        let (user, created) =
            read_user(&call, br#"{"id": "12", "user_key": "abc", "x": [1]}"#).unwrap();
        assert_eq!(
            user,
            UserRef {
                id: 12,
                user_key: Some("abc".into())
            }
        );
        assert!(!created);
        let err = read_id(&call, br#"{"name": "x"}"#).unwrap_err();
        assert!(err.to_string().contains("no numeric \"id\""), "{err}");
        assert!(read_ack(&call, b"").is_ok());
        assert!(read_ack(&call, b"<html>").is_err());
    }

    #[test]
    fn pages_give_their_items_and_the_next_query() {
        let call = Call::ListEvents {
            custom_id: "u",
            query: None,
        };
        let page = br#"{"next": "https://acme.user.com/api/public/users-by-id/u/events/?page=2#x", "results": [{"id": 1}]}"#;
        let (items, next) = read_page(&call, page).unwrap();
        assert_eq!((items.len(), next.as_deref()), (1, Some("page=2")));
        let (_, next) = read_page(
            &call,
            br#"{"next": "/attributes/?cursor=abc", "results": []}"#,
        )
        .unwrap();
        assert_eq!(next.as_deref(), Some("cursor=abc"));
        let (_, next) = read_page(
            &call,
            br#"{"next": "https://acme.user.com/x/", "results": []}"#,
        )
        .unwrap();
        assert_eq!(next, None);
        let (items, next) = read_page(&call, br#"[{"id": 1}, {"id": 2}]"#).unwrap();
        assert_eq!((items.len(), next), (2, None));
        assert!(read_page(&call, b"7").is_err());
        assert_eq!(
            Call::ListEvents {
                custom_id: "a b",
                query: Some("page=3")
            }
            .endpoint(),
            "GET /api/public/users-by-id/a%20b/events/?page=3"
        );
    }
}
