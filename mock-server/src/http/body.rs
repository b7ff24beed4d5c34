//! Reading request bodies: the JSON object, its string and timestamp fields, and path ids.

use axum::body::Bytes;
use chrono::{DateTime, Utc};
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

/// A path id that must be an integer; anything else cannot name a resource (404).
pub(crate) fn parse_id(raw: &str, what: &str) -> Result<u64> {
    raw.parse::<u64>()
        .map_err(|_| Error::not_found(format!("no {what} with id `{raw}`")))
}

/// An optional string field of a body.
pub(crate) fn opt_str<'a>(body: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>> {
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
pub(crate) fn req_str<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a str> {
    match opt_str(body, field)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(Error::bad(field, "must not be empty")),
        None => Err(Error::bad(field, "this field is required")),
    }
}

/// `timestamp`: unix seconds (number or numeric string) or ISO-8601; absent → the app's now.
pub(crate) fn timestamp(body: &Map<String, Value>) -> Result<Option<DateTime<Utc>>> {
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
