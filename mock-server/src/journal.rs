//! The request journal: a bounded ring of the last N API requests, for tests and debugging.
//!
//! Entries keep the raw pieces (headers, body bytes) and are rendered to JSON only when someone
//! reads the journal, so recording stays cheap on the hot path. The `Authorization` header (and
//! any cookie) is redacted at render time and never leaves the process.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::time::fmt_ts;

/// Bodies longer than this are stored truncated (the journal must stay bounded in memory too).
const MAX_STORED_BODY: usize = 64 * 1024;

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Monotonic sequence number (survives eviction of older entries).
    pub seq: u64,
    /// Wall-clock time the request arrived.
    pub at: DateTime<Utc>,
    /// The app the API key resolved to, if any.
    pub app: Option<Arc<str>>,
    /// Method.
    pub method: Method,
    /// Path and query.
    pub uri: Uri,
    /// Request headers (redacted when rendered).
    pub headers: HeaderMap,
    /// Body bytes (truncated to 64 KiB).
    pub body: Bytes,
    /// Response status.
    pub status: u16,
    /// Notes from the handler: dropped attributes, ignored read-only fields, …
    pub notes: Vec<String>,
    /// The fault-injection rule that fired on this request, if any (rendered as `fault`).
    pub fault: Option<Value>,
}

impl Entry {
    /// Build an entry, truncating a large body.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        at: DateTime<Utc>,
        app: Option<Arc<str>>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: &Bytes,
        status: u16,
        notes: Vec<String>,
    ) -> Self {
        let body = if body.len() > MAX_STORED_BODY {
            // Copy, so the journal does not pin the whole (up to 1 MiB) buffer.
            Bytes::copy_from_slice(&body[..MAX_STORED_BODY])
        } else {
            body.clone()
        };
        Entry {
            seq: 0,
            at,
            app,
            method,
            uri,
            headers,
            body,
            status,
            notes,
            fault: None,
        }
    }

    /// JSON with secrets redacted.
    pub fn to_json(&self) -> Value {
        let mut headers = serde_json::Map::new();
        let mut names: Vec<&str> = self.headers.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        for name in names {
            let value = if matches!(name, "authorization" | "cookie" | "proxy-authorization") {
                redact(
                    self.headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or(""),
                )
            } else {
                self.headers
                    .get_all(name)
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            headers.insert(name.to_owned(), value.into());
        }
        let body: Value = if self.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&self.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.body).into_owned()))
        };
        let mut v = json!({
            "app": self.app.as_deref(),
            "at": fmt_ts(self.at),
            "body": body,
            "headers": headers,
            "method": self.method.as_str(),
            "notes": self.notes,
            "path": self.uri.path(),
            "query": self.uri.query(),
            "seq": self.seq,
            "status": self.status,
        });
        // Only present when a fault fired, so entries without faults keep their shape.
        if let Some(f) = &self.fault {
            v["fault"] = f.clone();
        }
        v
    }
}

/// Keep the scheme word (`Token`, `Basic`) so a reader can still see what kind of credential was
/// sent; drop the secret.
fn redact(v: &str) -> String {
    match v.split_once(' ') {
        Some((scheme, _)) => format!("{scheme} [redacted]"),
        None if v.is_empty() => String::new(),
        None => "[redacted]".to_owned(),
    }
}

/// The bounded ring.
#[derive(Debug)]
pub struct Journal {
    capacity: usize,
    next_seq: u64,
    entries: VecDeque<Entry>,
}

impl Journal {
    /// A journal keeping at most `capacity` entries (0 disables recording).
    pub fn new(capacity: usize) -> Self {
        Journal {
            capacity,
            next_seq: 1,
            entries: VecDeque::with_capacity(capacity.min(1024)),
        }
    }

    /// Append, evicting the oldest entry when full.
    pub fn push(&mut self, mut e: Entry) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity {
            self.entries.pop_front();
        }
        e.seq = self.next_seq;
        self.next_seq += 1;
        self.entries.push_back(e);
    }

    /// Entries, oldest first, optionally only one app's.
    pub fn entries<'a>(&'a self, app: Option<&'a str>) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries
            .iter()
            .filter(move |e| app.is_none_or(|a| e.app.as_deref() == Some(a)))
    }

    /// Remove entries (one app's, or all).
    pub fn clear(&mut self, app: Option<&str>) {
        match app {
            None => self.entries.clear(),
            Some(a) => self.entries.retain(|e| e.app.as_deref() != Some(a)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_redacted() {
        let mut j = Journal::new(2);
        for i in 0..3 {
            let mut h = HeaderMap::new();
            h.insert("authorization", "Token secret-key".parse().unwrap());
            j.push(Entry::new(
                Utc::now(),
                None,
                Method::POST,
                Uri::from_static("/api/public/users/"),
                h,
                &Bytes::from(format!("{{\"n\":{i}}}")),
                201,
                vec![],
            ));
        }
        let all: Vec<Value> = j.entries(None).map(Entry::to_json).collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0]["body"]["n"], 1);
        assert_eq!(all[0]["headers"]["authorization"], "Token [redacted]");
        assert!(!all[0].to_string().contains("secret-key"));
    }
}
