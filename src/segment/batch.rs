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

/// The bytes serialisation would write, counted without keeping them.
fn serialised_size(message: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, message) {
        Ok(()) => counter.0,
        Err(_) => 0,
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
}
