//! Secrets handling: the optional admin token, and keeping API keys and the admin token
//! out of the journal, admin answers and logs.
//!
//! - The admin plane binds with the API (loopback by default). With an admin token
//!   (`--admin-token` / [`crate::MockServerBuilder::admin_token`]) every `/__admin/…` request needs
//!   `Authorization: Bearer <token>`, compared in constant time.
//! - The journal already shows `Authorization` as `Token [redacted]`; [`Redactor`] also masks any
//!   known secret a client sent elsewhere (another header, the query, the body), when the journal
//!   is read.
//! - Admin answers show keys as [`fingerprint`]s; log lines never carry a key (see
//!   [`loggable_path`]).

use std::collections::HashSet;

use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are only masked when they are a whole value or a whole word: masking
/// every occurrence of a 1-character test key would mangle the journal.
const MIN_SUBSTRING_SECRET: usize = 8;

/// Constant-time comparison (length is not secret).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Check the admin token of an `/__admin/…` request: `Ok` without a configured token, or with
/// `Authorization: Bearer <token>`, or `Basic` with the token as the password (any user name:
/// a browser opening the dashboard can only prompt for Basic); else a 401 answer that does not
/// echo what was sent, with both challenges.
#[allow(clippy::result_large_err)] // the error is the ready-made answer
pub fn check_admin_token(expected: Option<&str>, headers: &HeaderMap) -> Result<(), Response> {
    use base64::Engine as _;
    let Some(expected) = expected else {
        return Ok(());
    };
    let sent: Option<Vec<u8>> = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, credentials) = v.trim().split_once(' ')?;
            let credentials = credentials.trim();
            if scheme.eq_ignore_ascii_case("bearer") {
                Some(credentials.as_bytes().to_vec())
            } else if scheme.eq_ignore_ascii_case("basic") {
                // An undecodable Basic credential is a wrong token, not a missing one.
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(credentials)
                    .unwrap_or_default();
                let password = match decoded.iter().position(|&b| b == b':') {
                    Some(i) => decoded[i + 1..].to_vec(),
                    None => decoded,
                };
                Some(password)
            } else {
                None
            }
        });
    let detail = match sent {
        Some(t) if same(&t, expected.as_bytes()) => return Ok(()),
        Some(_) => "invalid admin token",
        None => "the admin plane needs the admin token (started with --admin-token): `Authorization: Bearer <token>`, or Basic with the token as the password",
    };
    let mut r = (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({ "detail": detail })),
    )
        .into_response();
    for challenge in [
        "Bearer realm=\"usercom-mock admin\"",
        "Basic realm=\"usercom-mock admin\", charset=\"UTF-8\"",
    ] {
        r.headers_mut()
            .append(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    Err(r)
}

/// A key as admin answers show it: at most a quarter of it (never more than 4 characters), then
/// `… (redacted)`, plus a short FNV-1a hash so two keys can be told apart. Never reversible for
/// real-length keys.
pub fn fingerprint(key: &str) -> String {
    let shown: String = key.chars().take((key.chars().count() / 4).min(4)).collect();
    let mut h: u32 = 0x811c_9dc5;
    for b in key.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{shown}… (redacted, fnv {h:08x})")
}

/// A path fit for a log line: the key in `/__admin/api-keys/{key}/revoke` is masked.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    match path.strip_prefix("/__admin/api-keys/") {
        Some(rest) => {
            let tail = rest.find('/').map_or("", |i| &rest[i..]);
            format!("/__admin/api-keys/{REDACTED}{tail}").into()
        }
        None => path.into(),
    }
}

/// Masks known secrets in JSON about to leave the process (the journal).
#[derive(Debug, Default)]
pub struct Redactor {
    /// Every secret, for whole-value and whole-word matches.
    words: HashSet<String>,
    /// Long secrets, also masked inside other text.
    long: Vec<String>,
}

impl Redactor {
    /// A redactor for these secrets (API keys, revoked ones too, and the admin token).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut r = Redactor::default();
        for s in secrets {
            if s.is_empty() {
                continue;
            }
            if s.len() >= MIN_SUBSTRING_SECRET {
                r.long.push(s.clone());
            }
            r.words.insert(s);
        }
        r
    }

    /// Mask in place, recursively (object keys too).
    pub fn apply(&self, v: &mut Value) {
        match v {
            Value::String(s) => {
                if let Some(masked) = self.mask(s) {
                    *s = masked;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.apply(i)),
            Value::Object(m) => {
                let needs_rekey = m.keys().any(|k| self.mask(k).is_some());
                if needs_rekey {
                    let old = std::mem::take(m);
                    let mut fresh = Map::new();
                    for (k, val) in old {
                        fresh.insert(self.mask(&k).unwrap_or(k), val);
                    }
                    *m = fresh;
                }
                m.values_mut().for_each(|x| self.apply(x));
            }
            _ => {}
        }
    }

    /// The masked string, or `None` when it holds no secret.
    fn mask(&self, s: &str) -> Option<String> {
        if self.words.is_empty() {
            return None;
        }
        if self.words.contains(s) {
            return Some(REDACTED.to_owned());
        }
        let mut out: Option<String> = None;
        // Whole words: split on whitespace and the punctuation that separates a key from its
        // surroundings in headers, queries and JSON text.
        let is_sep = |c: char| c.is_whitespace() || "\"'`,;=&?:()[]{}<>".contains(c);
        if s.split(is_sep).any(|w| self.words.contains(w)) {
            let mut o = String::with_capacity(s.len());
            let mut word = String::new();
            for c in s.chars() {
                if is_sep(c) {
                    o.push_str(if self.words.contains(&word) {
                        REDACTED
                    } else {
                        &word
                    });
                    word.clear();
                    o.push(c);
                } else {
                    word.push(c);
                }
            }
            o.push_str(if self.words.contains(&word) {
                REDACTED
            } else {
                &word
            });
            out = Some(o);
        }
        for secret in &self.long {
            let cur = out.as_deref().unwrap_or(s);
            if cur.contains(secret.as_str()) {
                out = Some(cur.replace(secret.as_str(), REDACTED));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_token_is_checked() {
        let mut h = HeaderMap::new();
        assert!(check_admin_token(None, &h).is_ok());
        assert!(check_admin_token(Some("t0ken"), &h).is_err());
        h.insert(AUTHORIZATION, "Bearer wrong".parse().unwrap());
        assert!(check_admin_token(Some("t0ken"), &h).is_err());
        h.insert(AUTHORIZATION, "bearer t0ken".parse().unwrap());
        assert!(check_admin_token(Some("t0ken"), &h).is_ok());
        h.insert(AUTHORIZATION, "Token t0ken".parse().unwrap());
        assert!(check_admin_token(Some("t0ken"), &h).is_err());
        // Basic, as a browser sends it: any user, the token as the password.
        h.insert(AUTHORIZATION, "Basic YWRtaW46dDBrZW4=".parse().unwrap()); // admin:t0ken
        assert!(check_admin_token(Some("t0ken"), &h).is_ok());
        h.insert(AUTHORIZATION, "basic OnQwa2Vu".parse().unwrap()); // :t0ken
        assert!(check_admin_token(Some("t0ken"), &h).is_ok());
        h.insert(AUTHORIZATION, "Basic YWRtaW46d3Jvbmc=".parse().unwrap()); // admin:wrong
        assert!(check_admin_token(Some("t0ken"), &h).is_err());
        h.insert(AUTHORIZATION, "Basic !!!".parse().unwrap());
        let denied = check_admin_token(Some("t0ken"), &h).unwrap_err();
        let challenges: Vec<_> = denied.headers().get_all(WWW_AUTHENTICATE).iter().collect();
        assert_eq!(challenges.len(), 2, "Bearer and Basic: {challenges:?}");
    }

    #[test]
    fn fingerprints_hide_the_key() {
        let f = fingerprint("mock-app-1-0123456789abcdef");
        assert!(f.starts_with("mock… (redacted, fnv "), "{f}");
        assert!(!f.contains("0123456789abcdef"));
        assert!(fingerprint("k").starts_with("… (redacted"));
        assert_ne!(fingerprint("key-one-aaaa"), fingerprint("key-two-aaaa"));
    }

    #[test]
    fn redacts_whole_values_words_and_long_substrings() {
        let r = Redactor::new(["k".to_owned(), "long-secret-key".to_owned()]);
        let mut v = json!({
            "a": "k", "b": "Token k", "c": "keep", "d": "x?api_key=long-secret-key&y=1",
            "e": ["prefixlong-secret-keysuffix"], "long-secret-key": 1
        });
        r.apply(&mut v);
        let s = v.to_string();
        assert!(!s.contains("long-secret-key"), "{s}");
        assert_eq!(v["a"], REDACTED);
        assert_eq!(v["b"], "Token [redacted]");
        assert_eq!(v["c"], "keep");
        assert_eq!(v[REDACTED], 1);
    }

    #[test]
    fn revoke_paths_are_masked_in_logs() {
        assert_eq!(
            loggable_path("/__admin/api-keys/sekrit/revoke"),
            "/__admin/api-keys/[redacted]/revoke"
        );
        assert_eq!(loggable_path("/api/public/users/"), "/api/public/users/");
    }
}
