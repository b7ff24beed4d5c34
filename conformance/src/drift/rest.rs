//! A small REST client for User.com's public API (the real service or the simulator), as a
//! stranger would use it: `Authorization: Token <key>`, `Accept: */*; version=2`, JSON bodies.
//! Every answer comes back whole (status, the headers that matter, the body as JSON when it is
//! JSON), because a drift check judges the answer, not just its success.

use std::time::Duration;

use serde_json::Value;

/// How a request authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    /// `Authorization: Token <the client's key>`.
    Key,
    /// No `Authorization` header.
    None,
    /// This exact `Authorization` header value (unknown tokens).
    Raw(String),
    /// `Authorization: <scheme> <the client's key>` (wrong schemes with the right key).
    Scheme(&'static str),
}

/// One request's options beyond method, path and body.
#[derive(Clone, Debug)]
pub struct Opts {
    /// How to authenticate.
    pub auth: Auth,
    /// The `Accept` header (`None`: no header at all).
    pub accept: Option<String>,
    /// A raw body sent as is (with `Content-Type: application/json`), instead of a JSON value.
    pub raw_body: Option<String>,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            auth: Auth::Key,
            accept: Some(V2_ACCEPT.to_string()),
            raw_body: None,
        }
    }
}

/// The `Accept` header that selects User.com's v2 dialect (usercom-api.md §1.3).
pub const V2_ACCEPT: &str = "*/*; version=2";

/// An answer: status, the headers a check may read, the body (JSON, a string when it is not
/// JSON, `Null` when empty).
#[derive(Clone, Debug)]
pub struct Answer {
    /// What was sent (`GET /api/public/users/`), for reports.
    pub what: String,
    /// The HTTP status.
    pub status: u16,
    /// `Content-Type`, `Location`, `Retry-After`, when present.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Value,
}

impl Answer {
    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body's field, `Null` when absent.
    pub fn get(&self, key: &str) -> &Value {
        self.body.get(key).unwrap_or(&Value::Null)
    }

    /// A short rendering for reports: `201 {"id":1,...}`.
    pub fn brief(&self) -> String {
        let body = self.body.to_string();
        let body: String = if body.chars().count() > 240 {
            body.chars().take(240).collect::<String>() + "…"
        } else {
            body
        };
        format!("{} {body}", self.status)
    }
}

/// A transport failure (no HTTP answer).
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct TransportError {
    /// What was being sent.
    pub what: String,
    /// The cause.
    #[source]
    pub source: reqwest::Error,
}

impl TransportError {
    /// True when nothing answered at that address (or in time): a wrong URL rather than a drift.
    pub fn is_unreachable(&self) -> bool {
        self.source.is_connect() || self.source.is_timeout()
    }
}

/// A client for one app (`api_root` = `…/api/public`, one API key).
#[derive(Clone)]
pub struct Rest {
    http: reqwest::Client,
    api_root: String,
    key: String,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest")
            .field("api_root", &self.api_root)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// `https://app.user.com`, `https://app.user.com/`, `…/api/public` and `…/api/public/` all name
/// the same API root.
pub fn api_root(url: &str) -> String {
    let base = url.trim_end_matches('/');
    let base = base.strip_suffix("/api/public").unwrap_or(base);
    format!("{base}/api/public")
}

impl Rest {
    /// A client for the app of `key` at `url` (an origin or an API root).
    pub fn new(url: &str, key: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client with a timeout and no redirects always builds");
        Self {
            http,
            api_root: api_root(url),
            key: key.to_string(),
        }
    }

    /// The API root (`…/api/public`).
    pub fn api_root(&self) -> &str {
        &self.api_root
    }

    /// `method path` (path relative to the API root, starting with `/`) with a JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        opts: &Opts,
    ) -> Result<Answer, TransportError> {
        let what = format!("{method} /api/public{path}");
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.api_root));
        if let Some(accept) = &opts.accept {
            req = req.header("Accept", accept);
        }
        match &opts.auth {
            Auth::Key => req = req.header("Authorization", format!("Token {}", self.key)),
            Auth::None => {}
            Auth::Raw(v) => req = req.header("Authorization", v),
            Auth::Scheme(s) => req = req.header("Authorization", format!("{s} {}", self.key)),
        }
        if let Some(raw) = &opts.raw_body {
            req = req
                .header("Content-Type", "application/json")
                .body(raw.clone());
        } else if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|source| TransportError {
            what: what.clone(),
            source,
        })?;
        let status = resp.status().as_u16();
        let headers = ["content-type", "location", "retry-after"]
            .iter()
            .filter_map(|h| {
                resp.headers()
                    .get(*h)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| (h.to_string(), v.to_string()))
            })
            .collect();
        let text = resp.text().await.map_err(|source| TransportError {
            what: what.clone(),
            source,
        })?;
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Answer {
            what,
            status,
            headers,
            body,
        })
    }

    /// `GET path` with the defaults.
    pub async fn get(&self, path: &str) -> Result<Answer, TransportError> {
        self.send(reqwest::Method::GET, path, None, &Opts::default())
            .await
    }

    /// `POST path` with a JSON body and the defaults.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Answer, TransportError> {
        self.send(reqwest::Method::POST, path, Some(body), &Opts::default())
            .await
    }

    /// `PUT path` with a JSON body and the defaults.
    pub async fn put(&self, path: &str, body: &Value) -> Result<Answer, TransportError> {
        self.send(reqwest::Method::PUT, path, Some(body), &Opts::default())
            .await
    }

    /// `DELETE path` with the defaults.
    pub async fn delete(&self, path: &str) -> Result<Answer, TransportError> {
        self.send(reqwest::Method::DELETE, path, None, &Opts::default())
            .await
    }
}

/// True when `url`'s host is a loopback address (`127.0.0.0/8`, `::1`, `localhost`): writes
/// there cannot touch anyone's real app.
pub fn is_loopback(url: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = u.host_str().unwrap_or("");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_root_accepts_origin_or_root() {
        for u in [
            "https://a.user.com",
            "https://a.user.com/",
            "https://a.user.com/api/public",
            "https://a.user.com/api/public/",
        ] {
            assert_eq!(api_root(u), "https://a.user.com/api/public");
        }
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("http://127.0.0.1:4010"));
        assert!(is_loopback("http://localhost:4010/api/public"));
        assert!(is_loopback("http://[::1]:80"));
        assert!(!is_loopback("https://acme.user.com"));
        assert!(!is_loopback("http://10.0.0.1"));
        assert!(!is_loopback("not a url"));
    }
}
