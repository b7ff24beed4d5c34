//! Files of Segment messages, for `send` and `plan`: NDJSON, a JSON array, a `{"batch": [...]}`
//! envelope, a single message, or a dead-letter file whose records are unwrapped to their
//! messages (detected from the content). Each message is checked by the same rules as the
//! ingress's ([`crate::segment::batch`]); what is not a message becomes an [`Item::Invalid`]
//! with a reason naming its line or position, and the rest of the file is still read.

pub mod checkpoint;

use serde_json::Value;

use crate::delivery::dead_letter;
use crate::segment::batch::{checked, split, Invalid, Item};

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
    fn lines_follow_the_ingress_rules() {
        let items = read_text("{\"event\":\"x\"}\n");
        assert_eq!(invalid(&items[0]).code, "missing_type");
    }
}
