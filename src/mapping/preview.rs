//! `plan`: a [`Decision`] → the User.com HTTP requests it will cause, as JSON, with no network.
//!
//! ```json
//! {"outcome": "deliver", "call": "group", "custom_id": "user-42", "message_id": "…",
//!  "requests": [{"method": "GET", "path": "/api/public/companies-by-id/company-7/", "body": null,
//!                "note": "…"}, …]}
//! {"outcome": "skip",   "reason": "screen calls are not supported …", "requests": []}
//! {"outcome": "reject", "reason": "message has neither userId nor anonymousId", "requests": []}
//! ```
//!
//! Each request is `{method, path, body}` plus a `note` when it only happens under a condition.
//! Paths are relative to the User.com app origin and carry the `/api/public` prefix. Ids the
//! forwarder only learns at run time are shown as placeholders:
//!
//! | placeholder | what delivery puts there |
//! |---|---|
//! | `{user_id}` | the user's numeric User.com id (a JSON number in the real body) |
//! | `{user_key}` | the user's 12-character `user_key` |
//! | `{company_id}` | the company's numeric User.com id |
//!
//! `custom_id` and `groupId` are known up front and appear in paths percent-encoded as one path
//! segment (every byte but RFC 3986's unreserved characters, as [`crate::usercom`] sends them:
//! `user@1` → `user%401`). Requests that depend on the delivery cache carry a `note` saying when
//! they happen: a cached user or company skips the look-up, and creation only follows a 404.

use serde_json::{json, Map, Value};

use super::{Decision, Op};

const API: &str = "/api/public";

/// The planned requests of one decision (shape in the module docs).
pub fn preview(decision: &Decision) -> Value {
    match decision {
        Decision::Deliver(plan) => {
            let mut requests = Vec::with_capacity(plan.ops.len() + 2);
            for op in &plan.ops {
                op_requests(op, &mut requests);
            }
            json!({
                "outcome": "deliver",
                "call": plan.call,
                "custom_id": plan.custom_id,
                "message_id": plan.message_id,
                "requests": requests,
            })
        }
        Decision::Skip { reason } => {
            json!({"outcome": "skip", "reason": reason, "requests": []})
        }
        Decision::Reject { reason } => {
            json!({"outcome": "reject", "reason": reason, "requests": []})
        }
    }
}

fn request(method: &str, path: String, body: Value, note: Option<&str>) -> Value {
    let mut r = Map::with_capacity(4);
    r.insert("method".into(), method.into());
    r.insert("path".into(), path.into());
    r.insert("body".into(), body);
    if let Some(note) = note {
        r.insert("note".into(), note.into());
    }
    Value::Object(r)
}

/// `{"custom_id": id}` followed by `fields`.
fn with_custom_id(custom_id: &str, fields: &Map<String, Value>) -> Value {
    let mut body = Map::with_capacity(fields.len() + 1);
    body.insert("custom_id".into(), custom_id.into());
    for (k, v) in fields {
        body.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Value::Object(body)
}

fn op_requests(op: &Op, out: &mut Vec<Value>) {
    match op {
        Op::UpsertUser { custom_id, fields } => out.push(request(
            "POST",
            format!("{API}/users/update_or_create/"),
            with_custom_id(custom_id, fields),
            None,
        )),
        Op::EnsureUser { custom_id } => {
            out.push(request(
                "GET",
                format!("{API}/users-by-id/{}/", encode_segment(custom_id)),
                Value::Null,
                Some("find the user by custom_id; skipped when the user is cached"),
            ));
            out.push(request(
                "POST",
                format!("{API}/users/update_or_create/"),
                json!({ "custom_id": custom_id }),
                Some("only when the user does not exist (404): creates it"),
            ));
        }
        Op::SiteView {
            custom_id: _,
            url,
            path,
            title,
            timestamp,
        } => {
            let mut body = Map::with_capacity(5);
            body.insert("client_user".into(), "{user_key}".into());
            for (key, value) in [
                ("page_domain", url),
                ("page_path", path),
                ("title", title),
                ("timestamp", timestamp),
            ] {
                if let Some(v) = value {
                    body.insert(key.into(), v.as_str().into());
                }
            }
            out.push(request(
                "POST",
                format!("{API}/site-views/"),
                Value::Object(body),
                None,
            ));
        }
        Op::Event {
            custom_id,
            name,
            timestamp,
            data,
        } => {
            let mut body = Map::with_capacity(3);
            body.insert("name".into(), name.as_str().into());
            if let Some(ts) = timestamp {
                body.insert("timestamp".into(), (*ts).into());
            }
            body.insert("data".into(), Value::Object(data.clone()));
            out.push(request(
                "POST",
                format!("{API}/users-by-id/{}/events/", encode_segment(custom_id)),
                Value::Object(body),
                Some("on 404 (unknown user): create the user by custom_id, then retry once"),
            ));
        }
        Op::UpsertCompany { group_id, fields } => {
            out.push(request(
                "GET",
                format!("{API}/companies-by-id/{}/", encode_segment(group_id)),
                Value::Null,
                Some("find the company by custom_id = groupId; skipped when its id is cached"),
            ));
            out.push(request(
                "PUT",
                format!("{API}/companies/{{company_id}}/"),
                with_custom_id(group_id, fields),
                Some("when the company exists"),
            ));
            out.push(request(
                "POST",
                format!("{API}/companies/"),
                with_custom_id(group_id, fields),
                Some("when the company does not exist (404)"),
            ));
        }
        Op::AddMember {
            group_id: _,
            custom_id,
        } => out.push(request(
            "POST",
            format!("{API}/companies/{{company_id}}/add_member/"),
            json!({"user_id": "{user_id}", "user_custom_id": custom_id}),
            None,
        )),
    }
}

/// Percent-encodes one path segment: RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`)
/// stay as they are, every other byte becomes `%XX`.
pub fn encode_segment(s: &str) -> String {
    const KEEP: &[u8] = b"-._~";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || KEEP.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_segment_keeps_unreserved_and_encodes_the_rest() {
        assert_eq!(encode_segment("user@123"), "user%40123");
        assert_eq!(encode_segment("a b/c?d#e%"), "a%20b%2Fc%3Fd%23e%25");
        assert_eq!(encode_segment("żółw"), "%C5%BC%C3%B3%C5%82w");
        assert_eq!(encode_segment("node-next-1_x.y~z"), "node-next-1_x.y~z");
    }
}
