//! User.com's public REST API, as the forwarder uses it: one reused HTTP client, the v2 headers,
//! and typed errors.
//!
//! This module knows URLs, headers and response shapes; it does not know about retries (that is
//! [`crate::delivery`]) or about Segment (that is [`crate::mapping`]).

use std::fmt;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};

/// The origin of a User.com app (`https://acme.user.com`, or a simulator's `http://127.0.0.1:PORT`).
#[derive(Clone, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    /// Accepts an origin URL; a trailing `/` or `/api/public` (as copied from docs) is stripped.
    pub fn from_url(url: &str) -> Result<Origin> {
        let trimmed = url.trim();
        let parsed = reqwest::Url::parse(trimmed).map_err(|e| {
            Error::Config(format!(
                "--usercom-url {trimmed:?} is not a URL ({e}); expected e.g. https://acme.user.com"
            ))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(Error::Config(format!(
                "--usercom-url {trimmed:?} must be an http(s) URL with a host, e.g. https://acme.user.com"
            )));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(Error::Config(format!(
                "--usercom-url {trimmed:?} must not have a query or fragment"
            )));
        }
        let mut origin = trimmed.trim_end_matches('/').to_string();
        if let Some(stripped) = origin.strip_suffix("/api/public") {
            origin = stripped.trim_end_matches('/').to_string();
        }
        Ok(Origin(origin))
    }

    /// `acme` → `https://acme.user.com`.
    pub fn from_subdomain(name: &str) -> Result<Origin> {
        let name = name.trim();
        let valid = !name.is_empty()
            && name.len() <= 63
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        if !valid {
            return Err(Error::Config(format!(
                "--app-subdomain {name:?} is not a valid subdomain (letters, digits, '-'; e.g. acme for https://acme.user.com)"
            )));
        }
        Ok(Origin(format!(
            "https://{}.user.com",
            name.to_ascii_lowercase()
        )))
    }

    /// The origin as text, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `{origin}/api/public`.
    pub fn api_base(&self) -> String {
        format!("{}/api/public", self.0)
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Origin({})", self.0)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything but RFC 3986 "unreserved" characters is encoded, so a custom id such as
/// `a/b?c d` stays one path segment (`a%2Fb%3Fc%20d`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a custom id (or any text) as a single path segment.
pub fn encode_segment(raw: &str) -> String {
    utf8_percent_encode(raw, SEGMENT).to_string()
}

/// A user as the forwarder needs it: the numeric id and, when known, the `user_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    /// Internal User.com id.
    pub id: i64,
    /// 12-character user key (needed for site views); `None` until fetched.
    pub user_key: Option<String>,
}

/// Result of `POST /users/update_or_create/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upserted {
    /// Whether the user was created by this call.
    pub created: bool,
    /// The user's id.
    pub id: i64,
}

/// One reused HTTP client bound to one User.com app and key.
///
/// Why one client: reqwest pools connections per client, so reusing it keeps TLS sessions and
/// keep-alive connections across thousands of calls. Cloning is cheap (an `Arc` inside).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    api_base: String,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The default headers hold the API key: never print them.
        f.debug_struct("Client")
            .field("api_base", &self.api_base)
            .field("api_key", &"<redacted>")
            .finish()
    }
}

impl Client {
    /// Builds the client; `timeout` bounds each request (connect + send + receive), `None` = no
    /// bound (tests with a paused clock use that).
    pub fn new(origin: &Origin, api_key: &str, timeout: Option<Duration>) -> Result<Client> {
        if api_key.trim().is_empty() {
            return Err(Error::Config(
                "the User.com API key is empty: pass --api-key or set USERCOM_API_KEY".into(),
            ));
        }
        let mut auth =
            HeaderValue::from_str(&format!("Token {}", api_key.trim())).map_err(|_| {
                Error::Config(
                    "the User.com API key contains characters not allowed in a header".into(),
                )
            })?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        headers.insert(ACCEPT, HeaderValue::from_static("*/*; version=2"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("usercom-forwarder/", env!("CARGO_PKG_VERSION")))
            // A redirect would drop Authorization (User.com 301s unslashed paths): fail loudly.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10));
        if let Some(timeout) = timeout {
            builder = builder.timeout(timeout).connect_timeout(timeout);
        }
        let http = builder
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            http,
            api_base: origin.api_base(),
        })
    }

    /// `POST /users/update_or_create/` with `custom_id` plus `fields`.
    pub async fn update_or_create(
        &self,
        custom_id: &str,
        fields: &Map<String, Value>,
    ) -> Result<Upserted> {
        let mut body = fields.clone();
        body.insert("custom_id".into(), Value::String(custom_id.to_string()));
        let (endpoint, value) = self
            .call(
                Method::POST,
                "/users/update_or_create/",
                Some(&Value::Object(body)),
            )
            .await?;
        let id = id_of(&endpoint, &value)?;
        let created = value
            .get("created")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(Upserted { created, id })
    }

    /// `GET /users-by-id/{custom_id}/`; `None` on 404.
    pub async fn find_user(&self, custom_id: &str) -> Result<Option<UserRef>> {
        let path = format!("/users-by-id/{}/", encode_segment(custom_id));
        match self.call(Method::GET, &path, None).await {
            Ok((endpoint, value)) => Ok(Some(user_ref(&endpoint, &value)?)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /users/{id}/`.
    pub async fn get_user(&self, id: i64) -> Result<UserRef> {
        let (endpoint, value) = self
            .call(Method::GET, &format!("/users/{id}/"), None)
            .await?;
        user_ref(&endpoint, &value)
    }

    /// `POST /site-views/`.
    pub async fn site_view(&self, body: &Value) -> Result<()> {
        self.call(Method::POST, "/site-views/", Some(body)).await?;
        Ok(())
    }

    /// `POST /users-by-id/{custom_id}/events/` with `{name, timestamp, data}`.
    pub async fn create_event(&self, custom_id: &str, body: &Value) -> Result<()> {
        let path = format!("/users-by-id/{}/events/", encode_segment(custom_id));
        self.call(Method::POST, &path, Some(body)).await?;
        Ok(())
    }

    /// `GET /companies-by-id/{group_id}/` → the company id; `None` on 404.
    pub async fn find_company(&self, group_id: &str) -> Result<Option<i64>> {
        let path = format!("/companies-by-id/{}/", encode_segment(group_id));
        match self.call(Method::GET, &path, None).await {
            Ok((endpoint, value)) => Ok(Some(id_of(&endpoint, &value)?)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /companies/` (the body carries `custom_id`) → the new company id.
    pub async fn create_company(&self, body: &Value) -> Result<i64> {
        let (endpoint, value) = self.call(Method::POST, "/companies/", Some(body)).await?;
        id_of(&endpoint, &value)
    }

    /// `PUT /companies/{id}/` → the company id.
    pub async fn update_company(&self, id: i64, body: &Value) -> Result<i64> {
        let (_, value) = self
            .call(Method::PUT, &format!("/companies/{id}/"), Some(body))
            .await?;
        // The id we addressed is authoritative; a body without `id` is fine here.
        Ok(value.get("id").and_then(Value::as_i64).unwrap_or(id))
    }

    /// `POST /companies/{id}/add_member/` with `{user_id, user_custom_id}`.
    pub async fn add_member(&self, company_id: i64, user_id: i64, custom_id: &str) -> Result<()> {
        let body = json!({ "user_id": user_id, "user_custom_id": custom_id });
        self.call(
            Method::POST,
            &format!("/companies/{company_id}/add_member/"),
            Some(&body),
        )
        .await?;
        Ok(())
    }

    /// Sends one request and classifies the outcome. Returns the endpoint label (for errors
    /// further up) and the parsed JSON body (`Null` when empty).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(String, Value)> {
        let endpoint = format!("{method} /api/public{path}");
        let url = format!("{}{path}", self.api_base);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(&endpoint, &e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = response
            .text()
            .await
            .map_err(|e| transport_error(&endpoint, &e))?;
        if !status.is_success() {
            return Err(Error::Api {
                endpoint,
                status: status.as_u16(),
                retry_after,
                detail: excerpt(&text),
            });
        }
        if text.trim().is_empty() {
            return Ok((endpoint, Value::Null));
        }
        match serde_json::from_str(&text) {
            Ok(value) => Ok((endpoint, value)),
            Err(e) => Err(Error::BadResponse {
                endpoint,
                detail: format!("body is not JSON ({e}): {}", excerpt(&text)),
            }),
        }
    }
}

/// Classifies a reqwest error by its methods (never by its text).
fn transport_error(endpoint: &str, e: &reqwest::Error) -> Error {
    // Drop the URL from the message: it is already in `endpoint`, and keeps the text short.
    let reason = e.without_url_ref().to_string();
    let endpoint = endpoint.to_string();
    if e.is_timeout() {
        Error::Timeout { endpoint }
    } else if e.is_connect() {
        Error::Connect { endpoint, reason }
    } else {
        Error::Transport { endpoint, reason }
    }
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let mut text = self.to_string();
        if let Some(url) = self.url() {
            text = text.replace(&format!(" ({url})"), "");
        }
        // Include the innermost cause ("Connection refused"), which is what a reader needs.
        let mut source = std::error::Error::source(self);
        let mut last = None;
        while let Some(s) = source {
            last = Some(s.to_string());
            source = s.source();
        }
        match last {
            Some(cause) if !text.contains(&cause) => format!("{text}: {cause}"),
            _ => text,
        }
    }
}

/// `Retry-After` as delta-seconds or an HTTP-date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        if seconds.is_finite() && seconds >= 0.0 {
            return Some(Duration::from_secs_f64(seconds));
        }
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

fn excerpt(text: &str) -> String {
    const MAX: usize = 300;
    let text = text.trim();
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn id_of(endpoint: &str, value: &Value) -> Result<i64> {
    value
        .get("id")
        .and_then(|id| id.as_i64().or_else(|| id.as_str()?.parse().ok()))
        .ok_or_else(|| Error::BadResponse {
            endpoint: endpoint.to_string(),
            detail: format!("no numeric \"id\" in {}", excerpt(&value.to_string())),
        })
}

fn user_ref(endpoint: &str, value: &Value) -> Result<UserRef> {
    Ok(UserRef {
        id: id_of(endpoint, value)?,
        user_key: value
            .get("user_key")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised() {
        for input in [
            "https://acme.user.com",
            "https://acme.user.com/",
            "https://acme.user.com/api/public",
            "https://acme.user.com/api/public/",
        ] {
            assert_eq!(
                Origin::from_url(input).unwrap().as_str(),
                "https://acme.user.com"
            );
        }
        assert_eq!(
            Origin::from_subdomain("acme").unwrap().api_base(),
            "https://acme.user.com/api/public"
        );
        assert!(Origin::from_url("acme.user.com").is_err());
        assert!(Origin::from_url("ftp://acme").is_err());
        assert!(Origin::from_subdomain("a b").is_err());
        assert!(Origin::from_subdomain("").is_err());
    }

    #[test]
    fn custom_ids_stay_one_segment() {
        assert_eq!(encode_segment("a/b?c d"), "a%2Fb%3Fc%20d");
        assert_eq!(encode_segment("user@123"), "user%40123");
        assert_eq!(encode_segment("ok-id_1.x~"), "ok-id_1.x~");
        assert_eq!(encode_segment("zażółć"), "za%C5%BC%C3%B3%C5%82%C4%87");
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn debug_never_shows_the_key() {
        let origin = Origin::from_url("http://127.0.0.1:1").unwrap();
        let client = Client::new(&origin, "secret-key-123", None).unwrap();
        assert!(!format!("{client:?}").contains("secret-key-123"));
    }
}
