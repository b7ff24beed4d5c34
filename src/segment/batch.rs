//! Batches: how messages arrive together, read by one set of rules for the ingress and for
//! `send`/`plan` files.
//!
//! - A batch envelope (`{"batch": [...], "context": ..., "integrations": ...}`) is split into
//!   messages; the envelope's `context` and `integrations` are defaults each message's own keys
//!   override ([`split`]).
//! - Every message must be a JSON object with a `type` and at most [`MAX_MESSAGE_BYTES`]
//!   serialised (Segment's per-message limit) ([`check_message`]).
//! - Files ([`read_file`]) hold NDJSON, a JSON array, an envelope, a single message, or a
//!   dead-letter file whose records are unwrapped to their messages.
//!
//! What differs is only what happens to a bad item: the ingress refuses the whole request with
//! a 400 naming it (Segment's answer; the client keeps the batch), a file's bad item is
//! dead-lettered with its reason and the rest is sent. The request-level limits
//! ([`MAX_BATCH_BYTES`], [`MAX_BATCH_MESSAGES`]) bound one HTTP request, so only the ingress
//! applies them; a file may hold any number of messages.

use serde_json::{Map, Value};

use crate::delivery::dead_letter;

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

fn checked(message: Value, place: &str) -> Item {
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

/// Reads a file's bytes: NDJSON, a JSON array, a `{"batch": [...]}` envelope, a single message,
/// or a dead-letter file (detected from the content). Input that is not valid UTF-8 is read line
/// by line: each bad line is an [`Item::Invalid`] with its reason (its text kept with the bad
/// bytes replaced), and every good line is still read. One bad byte never costs the whole file.
pub fn read_file(bytes: &[u8]) -> Vec<Item> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return read_text(text);
    }
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.trim_ascii().is_empty())
        .map(|(n, line)| match std::str::from_utf8(line) {
            Ok(text) => read_line(text, n + 1),
            Err(e) => Item::Invalid(Invalid {
                raw: Value::String(String::from_utf8_lossy(line).into_owned()),
                code: "invalid_utf8",
                reason: format!(
                    "line {}: not valid UTF-8 (bad byte at column {})",
                    n + 1,
                    e.valid_up_to() + 1
                ),
            }),
        })
        .collect()
}

/// As [`read_file`], for text.
pub fn read_text(text: &str) -> Vec<Item> {
    if text.trim().is_empty() {
        return Vec::new();
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| unwrapped(item, &format!("item {}", i + 1)))
            .collect(),
        Ok(Value::Object(mut object)) => match object.remove("batch") {
            Some(batch) => match split(batch, &object) {
                Ok(items) => items,
                Err(mut invalid) => {
                    object.insert("batch".into(), invalid.raw);
                    invalid.raw = Value::Object(object);
                    vec![Item::Invalid(invalid)]
                }
            },
            None => vec![unwrapped(Value::Object(object), "the document")],
        },
        Ok(other) => vec![checked(other, "the document")],
        Err(_) => text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(n, line)| read_line(line, n + 1))
            .collect(),
    }
}

fn read_line(line: &str, number: usize) -> Item {
    match serde_json::from_str::<Value>(line) {
        Ok(value) => unwrapped(value, &format!("line {number}")),
        Err(e) => Item::Invalid(Invalid {
            raw: Value::String(line.to_string()),
            code: "invalid_json",
            reason: format!("line {number}: invalid JSON: {e}"),
        }),
    }
}

/// A message, or a dead-letter record unwrapped to its message, checked.
fn unwrapped(value: Value, place: &str) -> Item {
    let message = match value.as_object().and_then(dead_letter::unwrap_record) {
        // A dead-lettered unparseable line: try it again, it may have been fixed by hand.
        Some(Value::String(line)) => match serde_json::from_str::<Value>(line) {
            Ok(parsed @ Value::Object(_)) => parsed,
            _ => {
                return Item::Invalid(Invalid {
                    raw: Value::String(line.clone()),
                    code: "invalid_json",
                    reason: format!("{place}: dead-lettered text is still not a JSON object"),
                })
            }
        },
        Some(message) => message.clone(),
        None => value,
    };
    checked(message, place)
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
    fn input_formats_are_detected() {
        let ndjson =
            "{\"type\":\"track\",\"userId\":\"a\"}\n\n{\"type\":\"page\",\"userId\":\"b\"}\n";
        assert_eq!(messages(&read_text(ndjson)).len(), 2);
        let array = r#"[{"type":"track"},{"type":"page"},{"type":"group"}]"#;
        assert_eq!(messages(&read_text(array)).len(), 3);
        let envelope = r#"{"batch":[{"type":"track"}],"context":{"ip":"1.1.1.1"},"writeKey":"w"}"#;
        let items = read_text(envelope);
        assert_eq!(messages(&items)[0]["context"]["ip"], "1.1.1.1");
        let single = r#"{"type":"identify","userId":"u"}"#;
        assert_eq!(messages(&read_text(single)).len(), 1);
    }

    #[test]
    fn bad_lines_are_kept_with_a_reason() {
        let items = read_text("{\"type\":\"track\"}\nnot json\n42\n");
        assert_eq!(items.len(), 3);
        let bad = invalid(&items[1]);
        assert_eq!(bad.raw, json!("not json"));
        assert!(
            bad.reason.starts_with("line 2: invalid JSON"),
            "{}",
            bad.reason
        );
        assert!(invalid(&items[2]).reason.contains("line 3"));
    }

    #[test]
    fn a_line_with_invalid_utf8_is_invalid_and_the_rest_read() {
        let mut bytes = b"{\"type\":\"track\",\"userId\":\"a\",\"event\":\"E\"}\n".to_vec();
        bytes.extend_from_slice(b"{\"type\":\"identify\",\"userId\":\"b\xff\"}\n");
        bytes.extend_from_slice(b"{\"type\":\"page\",\"userId\":\"c\"}\n");
        let items = read_file(&bytes);
        assert_eq!(items.len(), 3);
        assert_eq!(messages(&items).len(), 2);
        let bad = invalid(&items[1]);
        assert_eq!(
            bad.reason,
            "line 2: not valid UTF-8 (bad byte at column 31)"
        );
        assert!(
            bad.raw.as_str().unwrap().contains('\u{fffd}'),
            "{}",
            bad.raw
        );
    }

    #[test]
    fn dead_letter_records_are_unwrapped() {
        let line = json!({"message": {"type": "track", "userId": "u"}, "reason": "x", "status": 500, "call": null, "at": "t"});
        let items = read_text(&format!("{line}\n{line}\n"));
        let expected = json!({"type": "track", "userId": "u"});
        assert_eq!(messages(&items), vec![&expected, &expected]);
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
        // The same rules for a file's lines.
        let items = read_text("{\"event\":\"x\"}\n");
        assert_eq!(invalid(&items[0]).code, "missing_type");
    }
}
