//! JSON shape comparison: which keys, of which types, nested how. Values are ignored (ids, user
//! keys, times and data differ between any two apps); `null` is compatible with every type,
//! because whether a field is set depends on the app's data, not on the API's shape. An array's
//! shape is the shape of its elements (an empty array fits any array), so a list of ten users and
//! a list of one compare equal.

use serde_json::Value;

/// The kind of a JSON value.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The differences in shape between `expected` and `found`, one line each, naming the path
/// (`$.results[].tags`) and what differs. Empty when the shapes agree.
pub fn diff(expected: &Value, found: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk("$", expected, found, &mut out);
    out
}

fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                match y.get(k) {
                    Some(vb) => walk(&format!("{path}.{k}"), va, vb, out),
                    None => out.push(format!("{path}.{k}: missing (expected {})", kind(va))),
                }
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    out.push(format!("{path}.{k}: unexpected key ({})", kind(vb)));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            // Compare every element of each side with the first element of the other: the
            // elements of one list share one shape.
            if let (Some(first_a), Some(first_b)) = (x.first(), y.first()) {
                let before = out.len();
                for vb in y {
                    walk(&format!("{path}[]"), first_a, vb, out);
                    if out.len() > before {
                        return;
                    }
                }
                for va in x.iter().skip(1) {
                    walk(&format!("{path}[]"), va, first_b, out);
                    if out.len() > before {
                        return;
                    }
                }
            }
        }
        _ if kind(a) != kind(b) => {
            out.push(format!("{path}: {} expected, found {}", kind(a), kind(b)))
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_ids_and_nulls_do_not_count() {
        let a = json!({"id": 1, "user_key": "abc", "at": "2020-01-01T00:00:00Z", "email": null});
        let b = json!({"id": 7, "user_key": "xyz", "at": "2031-01-01T00:00:00Z", "email": "a@b"});
        assert!(diff(&a, &b).is_empty());
    }

    #[test]
    fn keys_types_and_nesting_count() {
        let a = json!({"id": 1, "created": true, "tags": [{"id": 1, "name": "x"}]});
        let b = json!({"id": "1", "tags": [{"id": 1}], "extra": {}});
        assert_eq!(
            diff(&a, &b),
            vec![
                "$.id: number expected, found string",
                "$.created: missing (expected boolean)",
                "$.tags[].name: missing (expected string)",
                "$.extra: unexpected key (object)",
            ]
        );
    }

    #[test]
    fn arrays_compare_by_element_shape() {
        assert!(diff(&json!([1, 2, 3]), &json!([4])).is_empty());
        assert!(diff(&json!([]), &json!([{"a": 1}])).is_empty());
        assert_eq!(
            diff(&json!([1]), &json!(["a"])),
            vec!["$[]: number expected, found string"]
        );
    }
}
