//! Batches: how messages arrive together, read by one set of rules for the ingress and for
//! `send`/`plan` files.
//!
//! - A batch envelope (`{"batch": [...], "context": ..., "integrations": ...}`) is split into
//!   messages; the envelope's `context` and `integrations` are defaults each message's own keys
//!   override ([`split`]).
//! - Every message must be a JSON object with a `type` and at most [`MAX_MESSAGE_BYTES`]
//!   serialised (Segment's per-message limit) ([`check_message`]).
//! - Files (`send`, `plan`) are read by [`crate::input`] with the same per-message rules.
//!
//! What differs is only what happens to a bad item: the ingress refuses the whole request with
//! a 400 naming it (Segment's answer; the client keeps the batch), a file's bad item is
//! dead-lettered with its reason and the rest is sent. The request-level limits
//! ([`MAX_BATCH_BYTES`], [`MAX_BATCH_MESSAGES`]) bound one HTTP request, so only the ingress
//! applies them; a file may hold any number of messages.

use serde_json::{Map, Value};

/// Largest accepted message, serialised (Segment's limit).
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;
/// Largest accepted request body, after gzip decompression (Segment's limit).
pub const MAX_BATCH_BYTES: usize = 500 * 1024;
/// Most messages in one batch request (Segment's limit).
pub const MAX_BATCH_MESSAGES: usize = 2_500;

/// Why an item is not a message: a stable code (the ingress's 400 `code`) and a reason that
/// names the item.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    /// The item as read (a JSON value, or a line's text as a string).
    pub raw: Value,
    /// Stable machine-readable code, e.g. `missing_type`, `message_too_large`.
    pub code: &'static str,
    /// Human-readable explanation naming the item.
    pub reason: String,
}

/// One item of a batch or a file.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A message to deliver.
    Message(Value),
    /// Something that is not a deliverable message.
    Invalid(Invalid),
}

/// Splits a `batch` array, merging the envelope's defaults into each message and checking each
/// with [`check_message`] (`place` names the items: `batch[3]`). `Err` when `batch` is not an
/// array.
pub fn split(batch: Value, envelope: &Map<String, Value>) -> Result<Vec<Item>, Invalid> {
    let Value::Array(items) = batch else {
        return Err(Invalid {
            raw: batch,
            code: "invalid_batch",
            reason: "\"batch\" must be an array of messages".into(),
        });
    };
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let place = format!("batch[{index}]");
            match item {
                Value::Object(mut message) => {
                    for key in ["context", "integrations"] {
                        merge_defaults(&mut message, key, envelope.get(key));
                    }
                    checked(Value::Object(message), &place)
                }
                other => checked(other, &place),
            }
        })
        .collect())
}

/// The message, or why it is not one: not an object, no `type`, or over [`MAX_MESSAGE_BYTES`].
pub fn check_message(message: &Value, place: &str) -> Result<(), (&'static str, String)> {
    let Value::Object(object) = message else {
        return Err((
            "invalid_message",
            format!("{place} is not a JSON object (a Segment message)"),
        ));
    };
    match object.get("type") {
        Some(Value::String(t)) if !t.trim().is_empty() => {}
        _ => {
            return Err((
                "missing_type",
                format!("{place} has no \"type\" (identify, track, page, group, ...)"),
            ))
        }
    }
    let size = serialised_size(message);
    if size > MAX_MESSAGE_BYTES {
        return Err((
            "message_too_large",
            format!(
                "{place} is {size} bytes; at most {MAX_MESSAGE_BYTES} bytes (32 KB) per message"
            ),
        ));
    }
    Ok(())
}

pub(crate) fn checked(message: Value, place: &str) -> Item {
    match check_message(&message, place) {
        Ok(()) => Item::Message(message),
        Err((code, reason)) => Item::Invalid(Invalid {
            raw: message,
            code,
            reason,
        }),
    }
}

/// The bytes `serde_json::to_vec(message)` would write, counted by walking the tree (every
/// message of every batch passes here; cheaper than serialising into a counter, bench/README.md).
///
/// serde_json writes compact JSON: `"` and `\` and the controls `\b \t \n \f \r` as two
/// characters, other controls as `\u00XX`, everything else (non-ASCII, DEL) as it is.
/// `serialised_size_matches_serde_json` checks it against serde_json.
fn serialised_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(n) => number_size(n),
        Value::String(s) => string_size(s),
        Value::Array(items) => {
            2 + items.len().saturating_sub(1) + items.iter().map(serialised_size).sum::<usize>()
        }
        Value::Object(map) => {
            2 + map.len().saturating_sub(1)
                + map
                    .iter()
                    .map(|(k, v)| string_size(k) + 1 + serialised_size(v))
                    .sum::<usize>()
        }
    }
}

fn string_size(s: &str) -> usize {
    // Almost no string needs an escape: find out with a loop the compiler vectorises (no early
    // exit), and count escapes only when there are some.
    let any = s.bytes().fold(false, |any, b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if !any {
        return 2 + s.len();
    }
    let escapes: usize = s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | 0x08 | 0x09 | 0x0a | 0x0c | 0x0d => 1,
            0x00..=0x1f => 5,
            _ => 0,
        })
        .sum();
    2 + s.len() + escapes
}

fn number_size(n: &serde_json::Number) -> usize {
    let digits = |u: u64| u.checked_ilog10().map_or(1, |l| l as usize + 1);
    if let Some(u) = n.as_u64() {
        digits(u)
    } else if let Some(i) = n.as_i64() {
        1 + digits(i.unsigned_abs())
    } else {
        // A float (rare in messages): its shortest form is serde_json's to decide.
        n.to_string().len()
    }
}

/// Batch-level `context`/`integrations` are defaults: a message's own keys win.
pub fn merge_defaults(message: &mut Map<String, Value>, key: &str, defaults: Option<&Value>) {
    let Some(Value::Object(defaults)) = defaults else {
        return;
    };
    match message.get_mut(key) {
        Some(Value::Object(own)) => {
            for (k, v) in defaults {
                if !own.contains_key(k) {
                    own.insert(k.clone(), v.clone());
                }
            }
        }
        Some(Value::Null) | None => {
            message.insert(key.to_string(), Value::Object(defaults.clone()));
        }
        Some(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(items: &[Item]) -> Vec<&Value> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Message(m) => Some(m),
                Item::Invalid(_) => None,
            })
            .collect()
    }

    fn invalid(item: &Item) -> &Invalid {
        match item {
            Item::Invalid(invalid) => invalid,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn batch_context_is_a_default_not_an_override() {
        let envelope = json!({
            "context": {"ip": "1.2.3.4", "locale": "en-US"},
            "integrations": {"All": true},
        });
        let batch = json!([
            {"type": "track", "event": "A", "context": {"ip": "9.9.9.9"}},
            {"type": "identify"},
        ]);
        let items = split(batch, envelope.as_object().unwrap()).unwrap();
        let messages = messages(&items);
        assert_eq!(
            messages[0]["context"],
            json!({"ip": "9.9.9.9", "locale": "en-US"})
        );
        assert_eq!(messages[1]["context"]["ip"], "1.2.3.4");
        assert_eq!(messages[1]["integrations"], json!({"All": true}));
    }

    #[test]
    fn batch_items_need_a_type_an_object_and_a_bounded_size() {
        let empty = Map::new();
        let items = split(json!([{"type": "track"}, {"event": "x"}, 1]), &empty).unwrap();
        assert_eq!(invalid(&items[1]).code, "missing_type");
        assert!(invalid(&items[1]).reason.contains("batch[1]"));
        assert_eq!(
            invalid(&items[2]).reason,
            "batch[2] is not a JSON object (a Segment message)"
        );
        assert!(split(json!({}), &empty).is_err());
        let big = json!([{"type": "track", "event": "x".repeat(MAX_MESSAGE_BYTES)}]);
        let items = split(big, &empty).unwrap();
        assert_eq!(invalid(&items[0]).code, "message_too_large");
    }

    #[test]
    fn serialised_size_matches_serde_json() {
        let mut samples = vec![
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(9),
            json!(10),
            json!(-1),
            json!(-10),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(0.5),
            json!(-1.0),
            json!(1e15),
            json!(1e300),
            json!(-2.5e-10),
            json!(123456.789),
            json!(""),
            json!("plain"),
            json!("quote \" backslash \\ slash / tab \t nl \n cr \r ff \u{c} bs \u{8}"),
            json!("controls \u{0} \u{1} \u{1f} del \u{7f}"),
            json!("zażółć 日本 🎉"),
            json!([]),
            json!({}),
            json!([[], {}, [null], {"": ""}]),
            json!({"type": "track", "event": "Order \"Completed\"", "properties": {
                "revenue": 19.99, "items": [1, -2, 3.5, "x"], "nested": {"a\nb": [true, false, null]}}}),
        ];
        // Every code point below 0x80 as a key and as a value.
        for b in 0u8..0x80 {
            let c = char::from(b).to_string();
            samples.push(json!({ c.clone(): c }));
        }
        for sample in samples {
            assert_eq!(
                serialised_size(&sample),
                serde_json::to_vec(&sample).unwrap().len(),
                "{sample}"
            );
        }
    }
}
