//! The request journal: a bounded ring of the last N API requests, for tests and debugging.
//!
//! Entries are rendered to JSON only when someone reads the journal, so recording stays cheap on
//! the hot path. Each entry owns one compact copy of what it shows (path, headers, body) in a
//! single allocation: keeping hyper's `Uri`/`HeaderMap`/`Bytes` instead would pin the
//! connection's whole read buffer (several KiB) per entry. Credentials (`Authorization`,
//! `Cookie`, `Proxy-Authorization`) are redacted when the entry is recorded, so the secret never
//! sits in the journal at all.

use std::collections::VecDeque;
use std::sync::Arc;

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
    /// Response status.
    pub status: u16,
    /// Notes from the handler: dropped attributes, ignored read-only fields, …
    pub notes: Vec<String>,
    /// The fault-injection rule that fired on this request, if any (rendered as `fault`).
    pub fault: Option<Value>,
    /// The request's copy: see [`Raw`].
    raw: Raw,
}

/// Path, query, headers and body in one boxed buffer:
/// `path [? query] | name \0 value \0 … | body`. Header names and values never contain NUL
/// (`http` rejects it), so `\0` separates them unambiguously.
#[derive(Debug, Clone)]
struct Raw {
    /// A `Vec` sized up front (redaction only shortens it): no shrinking reallocation.
    buf: Vec<u8>,
    /// End of the path.
    path_end: u32,
    /// End of `?query` (equal to `path_end` when there is no query).
    query_end: u32,
    /// End of the header block; the body follows.
    headers_end: u32,
}

/// Headers whose value is a credential: stored as `Scheme [redacted]`.
fn is_secret_header(name: &str) -> bool {
    matches!(name, "authorization" | "cookie" | "proxy-authorization")
}

/// `HeaderValue::to_str` semantics: visible ASCII and tabs only.
fn visible_ascii(v: &[u8]) -> Option<&str> {
    v.iter()
        .all(|&b| b == b'\t' || (32..127).contains(&b))
        .then(|| std::str::from_utf8(v).ok())
        .flatten()
}

impl Raw {
    fn new(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Raw {
        let path = uri.path();
        let query = uri.query();
        let body = &body[..body.len().min(MAX_STORED_BODY)];
        let header_bytes: usize = headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 2)
            .sum();
        let cap = path.len() + query.map_or(0, |q| q.len() + 1) + header_bytes + body.len();
        let mut buf = Vec::with_capacity(cap);
        buf.extend_from_slice(path.as_bytes());
        let path_end = buf.len();
        if let Some(q) = query {
            buf.push(b'?');
            buf.extend_from_slice(q.as_bytes());
        }
        let query_end = buf.len();
        let mut last_secret: Option<&str> = None;
        for (name, value) in headers {
            let name = name.as_str();
            if is_secret_header(name) {
                // Only the first value of a credential header is shown (as before): skip repeats.
                if last_secret == Some(name) {
                    continue;
                }
                last_secret = Some(name);
                buf.extend_from_slice(name.as_bytes());
                buf.push(0);
                redact_into(&mut buf, visible_ascii(value.as_bytes()).unwrap_or(""));
                buf.push(0);
                continue;
            }
            buf.extend_from_slice(name.as_bytes());
            buf.push(0);
            buf.extend_from_slice(value.as_bytes());
            buf.push(0);
        }
        let headers_end = buf.len();
        buf.extend_from_slice(body);
        // Offsets fit: a request line and headers are far below 4 GiB (hyper limits them).
        let off = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Raw {
            buf,
            path_end: off(path_end),
            query_end: off(query_end),
            headers_end: off(headers_end),
        }
    }

    fn path(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.path_end as usize]).unwrap_or("")
    }

    fn query(&self) -> Option<&str> {
        let q = &self.buf[self.path_end as usize..self.query_end as usize];
        (!q.is_empty()).then(|| std::str::from_utf8(&q[1..]).unwrap_or(""))
    }

    /// `(name, value)` pairs in recorded order (values of one name are adjacent).
    fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        let block = &self.buf[self.query_end as usize..self.headers_end as usize];
        let mut parts = block.split(|&b| b == 0);
        std::iter::from_fn(move || {
            let name = parts.next().filter(|n| !n.is_empty())?;
            let value = parts.next()?;
            Some((std::str::from_utf8(name).unwrap_or(""), value))
        })
    }

    fn body(&self) -> &[u8] {
        &self.buf[self.headers_end as usize..]
    }
}

impl Entry {
    /// Build an entry: copies the path, query, headers (credentials redacted) and body (truncated
    /// to 64 KiB) into one compact buffer.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        at: DateTime<Utc>,
        app: Option<Arc<str>>,
        method: Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        status: u16,
        notes: Vec<String>,
    ) -> Self {
        Entry {
            seq: 0,
            at,
            app,
            method,
            status,
            notes,
            fault: None,
            raw: Raw::new(uri, headers, body),
        }
    }

    /// JSON with secrets redacted.
    pub fn to_json(&self) -> Value {
        // Group values by name (sorted by name; values of one name keep their order).
        let mut pairs: Vec<(&str, &[u8])> = self.raw.headers().collect();
        pairs.sort_by(|a, b| a.0.cmp(b.0));
        let mut headers = serde_json::Map::new();
        let mut i = 0;
        while i < pairs.len() {
            let name = pairs[i].0;
            let mut j = i;
            let mut value = String::new();
            while j < pairs.len() && pairs[j].0 == name {
                if j > i {
                    value.push_str(", ");
                }
                value.push_str(&String::from_utf8_lossy(pairs[j].1));
                j += 1;
            }
            headers.insert(name.to_owned(), value.into());
            i = j;
        }
        let body_bytes = self.raw.body();
        let body: Value = if body_bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(body_bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body_bytes).into_owned()))
        };
        let mut v = json!({
            "app": self.app.as_deref(),
            "at": fmt_ts(self.at),
            "body": body,
            "headers": headers,
            "method": self.method.as_str(),
            "notes": self.notes,
            "path": self.raw.path(),
            "query": self.raw.query(),
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
fn redact_into(buf: &mut Vec<u8>, v: &str) {
    match v.split_once(' ') {
        Some((scheme, _)) => {
            buf.extend_from_slice(scheme.as_bytes());
            buf.extend_from_slice(b" [redacted]");
        }
        None if v.is_empty() => {}
        None => buf.extend_from_slice(b"[redacted]"),
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
            h.append("x-multi", "a".parse().unwrap());
            h.append("x-multi", "b".parse().unwrap());
            h.insert("content-type", "application/json".parse().unwrap());
            j.push(Entry::new(
                Utc::now(),
                None,
                Method::POST,
                &Uri::from_static("/api/public/users/?page=2&x=%20"),
                &h,
                format!("{{\"n\":{i}}}").as_bytes(),
                201,
                vec![],
            ));
        }
        let all: Vec<Value> = j.entries(None).map(Entry::to_json).collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0]["body"]["n"], 1);
        assert_eq!(all[0]["headers"]["authorization"], "Token [redacted]");
        assert!(!all[0].to_string().contains("secret-key"));
        assert_eq!(all[0]["headers"]["x-multi"], "a, b");
        assert_eq!(all[0]["headers"]["content-type"], "application/json");
        assert_eq!(all[0]["path"], "/api/public/users/");
        assert_eq!(all[0]["query"], "page=2&x=%20");
        let keys: Vec<&String> = all[0]["headers"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["authorization", "content-type", "x-multi"]);
    }

    #[test]
    fn no_query_and_empty_body_render_as_null() {
        let e = Entry::new(
            Utc::now(),
            None,
            Method::GET,
            &Uri::from_static("/api/public/users/"),
            &HeaderMap::new(),
            b"",
            200,
            vec![],
        );
        let v = e.to_json();
        assert_eq!(v["query"], Value::Null);
        assert_eq!(v["body"], Value::Null);
        assert_eq!(v["headers"], json!({}));
        assert_eq!(e.raw.path(), "/api/public/users/");
    }
}
