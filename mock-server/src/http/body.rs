//! Reading request bodies: the JSON object, its string and timestamp fields, and path ids.

use std::borrow::Cow;
use std::fmt;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{type_name, Error, Result};
use crate::time::parse_timestamp;

/// The request body as a JSON object (an empty body is an empty object).
pub(crate) fn json_object(bytes: &Bytes) -> Result<Map<String, Value>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(Error::bad(
            "body",
            format!("expected a JSON object, got {}", type_name(&other)),
        )),
        Err(e) => Err(Error::bad("body", format!("malformed JSON: {e}"))),
    }
}

/// Where a body's fields are read from: the whole object ([`json_object`]), or only the fields a
/// handler asked for ([`json_fields`]).
pub(crate) trait Fields {
    /// The value given for `field`, if any.
    fn get(&self, field: &str) -> Option<&Value>;
}

impl Fields for Map<String, Value> {
    fn get(&self, field: &str) -> Option<&Value> {
        Map::get(self, field)
    }
}

/// An object's members in the order first given, each key once with the last value given for it
/// (what a JSON map keeps), keys borrowed from the body where they hold no escapes.
pub(crate) type Pairs<'de> = Vec<(Cow<'de, str>, Value)>;

/// The fields `names` of a JSON object body, read without building the object: a hot path
/// (events, site views) needs a few top-level fields only. Each field holds the last value given
/// for it (as the object would), every other field is skipped but still has to be valid JSON, and
/// the errors are [`json_object`]'s: an empty body is an empty object, anything but an object
/// (or malformed JSON) is a 400 naming `body`. The field named `object` (if any, and one of
/// `names`), when it is an object, is read as [`Pairs`] ([`Picked::take_object`]) rather than a map.
pub(crate) fn json_fields<'de, 'n, const N: usize>(
    bytes: &'de [u8],
    names: [&'n str; N],
    object: Option<&'n str>,
) -> Result<Picked<'de, 'n, N>> {
    let mut picked = Picked {
        names,
        values: std::array::from_fn(|_| None),
        object: object.and_then(|o| names.iter().position(|n| *n == o)),
        pairs: None,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(picked);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let top = de
        .deserialize_any(Picker(&mut picked))
        .and_then(|top| de.end().map(|()| top))
        .map_err(|e| Error::bad("body", format!("malformed JSON: {e}")))?;
    match top {
        Top::Object => Ok(picked),
        Top::Other(kind) => Err(Error::bad(
            "body",
            format!("expected a JSON object, got {kind}"),
        )),
    }
}

/// The fields [`json_fields`] picked.
#[derive(Debug)]
pub(crate) struct Picked<'de, 'n, const N: usize> {
    names: [&'n str; N],
    values: [Option<Value>; N],
    /// The index of the field read as pairs when it is an object.
    object: Option<usize>,
    /// That field's members, when it was an object (its `values` slot then stays empty).
    pairs: Option<Pairs<'de>>,
}

impl<'de, const N: usize> Picked<'de, '_, N> {
    /// Takes the value of `field` out (for a value the handler keeps). For the field read as
    /// pairs, only a value that was not an object.
    pub(crate) fn take(&mut self, field: &str) -> Option<Value> {
        let i = self.names.iter().position(|n| *n == field)?;
        self.values[i].take()
    }

    /// Takes the members of the field read as pairs, when it was an object.
    pub(crate) fn take_object(&mut self) -> Option<Pairs<'de>> {
        self.pairs.take()
    }
}

impl<const N: usize> Fields for Picked<'_, '_, N> {
    fn get(&self, field: &str) -> Option<&Value> {
        let i = self.names.iter().position(|n| *n == field)?;
        self.values[i].as_ref()
    }
}

/// What the body's top level was.
enum Top {
    Object,
    /// Not an object: its kind, as [`type_name`] words it.
    Other(&'static str),
}

struct Picker<'p, 'de, 'n, const N: usize>(&'p mut Picked<'de, 'n, N>);

/// An object key, borrowed from the body unless it holds escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(
                self,
                v: &'de str,
            ) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A value that is read as [`Pairs`] when it is an object, and as a `Value` otherwise.
enum PairsOrValue<'de> {
    Pairs(Pairs<'de>),
    Value(Value),
}

/// Above this many members, a key's earlier place is found through a hash index rather than a
/// scan (a body may hold thousands of keys; an event's data holds a handful).
const SCAN_LIMIT: usize = 16;

impl<'de> de::Deserialize<'de> for PairsOrValue<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct PairsVisitor;
        impl<'de> Visitor<'de> for PairsVisitor {
            type Value = PairsOrValue<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<PairsOrValue<'de>, A::Error> {
                let mut pairs: Pairs<'de> = Vec::with_capacity(map.size_hint().unwrap_or(8));
                let mut index: Option<rustc_hash::FxHashMap<Cow<'de, str>, usize>> = None;
                while let Some(Key(key)) = map.next_key()? {
                    let value: Value = map.next_value()?;
                    if pairs.len() == SCAN_LIMIT && index.is_none() {
                        index = Some(
                            pairs
                                .iter()
                                .enumerate()
                                .map(|(i, (k, _))| (k.clone(), i))
                                .collect(),
                        );
                    }
                    let earlier = match &index {
                        Some(ix) => ix.get(&key).copied(),
                        None => pairs.iter().position(|(k, _)| *k == key),
                    };
                    match earlier {
                        Some(i) => pairs[i].1 = value,
                        None => {
                            if let Some(ix) = &mut index {
                                ix.insert(key.clone(), pairs.len());
                            }
                            pairs.push((key, value));
                        }
                    }
                }
                Ok(PairsOrValue::Pairs(pairs))
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<PairsOrValue<'de>, A::Error> {
                let mut items = Vec::new();
                while let Some(v) = seq.next_element::<Value>()? {
                    items.push(v);
                }
                Ok(PairsOrValue::Value(Value::Array(items)))
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<PairsOrValue<'de>, E> {
                Ok(PairsOrValue::Value(Value::Null))
            }
            fn visit_bool<E: de::Error>(
                self,
                v: bool,
            ) -> std::result::Result<PairsOrValue<'de>, E> {
                Ok(PairsOrValue::Value(Value::Bool(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<PairsOrValue<'de>, E> {
                Ok(PairsOrValue::Value(Value::from(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<PairsOrValue<'de>, E> {
                Ok(PairsOrValue::Value(Value::from(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<PairsOrValue<'de>, E> {
                Ok(PairsOrValue::Value(
                    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
                ))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<PairsOrValue<'de>, E> {
                Ok(PairsOrValue::Value(Value::String(v.to_owned())))
            }
        }
        d.deserialize_any(PairsVisitor)
    }
}

impl<'de, const N: usize> Visitor<'de> for Picker<'_, 'de, '_, N> {
    type Value = Top;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Top, A::Error> {
        let picked = &mut *self.0;
        while let Some(Key(key)) = map.next_key()? {
            match picked.names.iter().position(|n| *n == key) {
                Some(i) if picked.object == Some(i) => match map.next_value()? {
                    PairsOrValue::Pairs(p) => (picked.pairs, picked.values[i]) = (Some(p), None),
                    PairsOrValue::Value(v) => (picked.pairs, picked.values[i]) = (None, Some(v)),
                },
                Some(i) => picked.values[i] = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Top::Object)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Top, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Top::Other(type_name(&Value::Array(Vec::new()))))
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Top, E> {
        Ok(Top::Other(type_name(&Value::Null)))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<Top, E> {
        Ok(Top::Other(type_name(&Value::Bool(false))))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<Top, E> {
        Ok(Top::Other(type_name(&Value::from(0))))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<Top, E> {
        Ok(Top::Other(type_name(&Value::from(0))))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<Top, E> {
        Ok(Top::Other(type_name(&Value::from(0))))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> std::result::Result<Top, E> {
        Ok(Top::Other(type_name(&Value::String(String::new()))))
    }
}

/// A path id that must be an integer; anything else cannot name a resource (404).
pub(crate) fn parse_id(raw: &str, what: &str) -> Result<u64> {
    raw.parse::<u64>()
        .map_err(|_| Error::not_found(format!("no {what} with id `{raw}`")))
}

/// An optional string field of a body.
pub(crate) fn opt_str<'a>(body: &'a impl Fields, field: &str) -> Result<Option<&'a str>> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(Error::bad(
            field,
            format!("expected a string, got {}", type_name(other)),
        )),
    }
}

/// A required, non-empty string field of a body.
pub(crate) fn req_str<'a>(body: &'a impl Fields, field: &str) -> Result<&'a str> {
    match opt_str(body, field)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(Error::bad(field, "must not be empty")),
        None => Err(Error::bad(field, "this field is required")),
    }
}

/// `timestamp`: unix seconds (number or numeric string) or ISO-8601; absent → the app's now.
pub(crate) fn timestamp(body: &impl Fields) -> Result<Option<DateTime<Utc>>> {
    match body.get("timestamp") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => parse_timestamp(v).map(Some).ok_or_else(|| {
            Error::bad(
                "timestamp",
                format!("expected unix seconds or an ISO-8601 time, got {v}"),
            )
        }),
    }
}

#[cfg(test)]
mod picked_tests {
    use super::*;

    /// `json_fields` reads what `json_object` would, and fails with the same words.
    #[test]
    fn picked_fields_agree_with_the_whole_object() {
        let bodies: &[&str] = &[
            "",
            "  \n",
            r#"{"name": "a", "data": {"k": 1}, "other": [1, {"x": null}]}"#,
            r#"{"name": "first", "name": "last"}"#,
            r#"{"na\u006de": "escaped key", "timestamp": 5}"#,
            r#"{"timestamp": null, "title": "t"}"#,
            "[1, 2]",
            "null",
            "true",
            "-3",
            "2.5",
            r#""text""#,
            r#"{"name": "a"} trailing"#,
            r#"{"name": "a","#,
            r#"{"name": tru}"#,
            "{\"name\": \"a\", \"deep\": [[[[1]]]]}",
        ];
        for body in bodies {
            let whole = json_object(&Bytes::copy_from_slice(body.as_bytes()));
            let picked = json_fields(
                body.as_bytes(),
                ["name", "timestamp", "data", "title"],
                None,
            );
            match (whole, picked) {
                (Ok(m), Ok(p)) => {
                    for f in ["name", "timestamp", "data", "title", "other"] {
                        let want = if f == "other" { None } else { m.get(f) };
                        assert_eq!(Fields::get(&p, f), want, "{body}: field {f}");
                    }
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{body}"),
                (a, b) => panic!("{body}: json_object gave {a:?}, json_fields gave {b:?}"),
            }
        }
    }

    #[test]
    fn a_picked_field_is_taken_once() {
        let mut p = json_fields(br#"{"data": {"k": 1}}"#, ["data"], None).unwrap();
        assert_eq!(p.take("data"), Some(serde_json::json!({"k": 1})));
        assert_eq!(p.take("data"), None);
        assert_eq!(p.take("not asked for"), None);
    }

    /// The object field's pairs hold what the map would: first-seen order, last value, every
    /// key once, also past the scan limit; anything but an object stays a value.
    #[test]
    fn an_object_field_read_as_pairs_keeps_what_a_map_keeps() {
        let mut members: Vec<String> = (0..40).map(|i| format!("\"k{}\": {i}", i % 23)).collect();
        members.push(r#""k\u0031": "escaped, the same key as k1""#.into());
        members.push(r#""nested": {"a": [1, {"b": null}]}"#.into());
        for n in [3, 16, 17, members.len()] {
            let body = format!(r#"{{"name": "e", "data": {{{}}}}}"#, members[..n].join(","));
            let Value::Object(map) = serde_json::from_str::<Value>(&body).unwrap()["data"].clone()
            else {
                panic!("not an object")
            };
            let mut p = json_fields(body.as_bytes(), ["name", "data"], Some("data")).unwrap();
            let pairs = p.take_object().expect("pairs");
            let got: Vec<(String, Value)> = pairs
                .into_iter()
                .map(|(k, v)| (k.into_owned(), v))
                .collect();
            let want: Vec<(String, Value)> = map.into_iter().collect();
            assert_eq!(got, want, "{n} members");
            assert_eq!(p.take("data"), None);
        }
        for (data, want) in [
            ("null", Value::Null),
            ("[1]", serde_json::json!([1])),
            ("7", serde_json::json!(7)),
            ("-2", serde_json::json!(-2)),
            ("0.5", serde_json::json!(0.5)),
            ("\"s\"", serde_json::json!("s")),
            ("false", serde_json::json!(false)),
        ] {
            let body = format!(r#"{{"data": {data}}}"#);
            let mut p = json_fields(body.as_bytes(), ["data"], Some("data")).unwrap();
            assert!(p.take_object().is_none(), "{data}");
            assert_eq!(p.take("data"), Some(want), "{data}");
        }
        // A later non-object value replaces an earlier object, and the other way round.
        let mut p =
            json_fields(br#"{"data": {"a": 1}, "data": 5}"#, ["data"], Some("data")).unwrap();
        assert!(p.take_object().is_none());
        assert_eq!(p.take("data"), Some(serde_json::json!(5)));
        let mut p =
            json_fields(br#"{"data": 5, "data": {"a": 1}}"#, ["data"], Some("data")).unwrap();
        assert_eq!(p.take_object().map(|v| v.len()), Some(1));
        assert_eq!(p.take("data"), None);
    }
}
