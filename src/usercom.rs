//! User.com's public REST API, as the forwarder uses it: one reused HTTP client, the v2 headers,
//! and typed errors.
//!
//! This module knows URLs, headers and response shapes; it does not know about retries (that is
//! [`crate::delivery`]) or about Segment (that is [`crate::mapping`]).

use std::fmt;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, Url};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

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
    /// `api_base` parsed once: each request clones it and sets its path, instead of parsing
    /// (and IDNA-checking the host of) a whole URL string per request.
    base_url: Url,
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
    ///
    /// `pool_size` is how many idle keep-alive connections to keep for the host: the delivery
    /// engine passes its concurrency, so every lane finds a warm connection instead of opening
    /// (and TLS-handshaking) a new one after a burst.
    pub fn new(
        origin: &Origin,
        api_key: &str,
        timeout: Option<Duration>,
        pool_size: usize,
    ) -> Result<Client> {
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
            .pool_max_idle_per_host(pool_size.max(1))
            // Small request bodies: send them at once rather than waiting for Nagle's algorithm.
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(10));
        if let Some(timeout) = timeout {
            builder = builder.timeout(timeout).connect_timeout(timeout);
        }
        let http = builder
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        let api_base = origin.api_base();
        let base_url = Url::parse(&api_base)
            .map_err(|e| Error::Config(format!("--usercom-url {origin} is not a URL ({e})")))?;
        Ok(Client {
            http,
            api_base,
            base_url,
        })
    }

    /// `POST /users/update_or_create/` with `custom_id` plus `fields`.
    pub async fn update_or_create(
        &self,
        custom_id: &str,
        fields: &Map<String, Value>,
    ) -> Result<Upserted> {
        let body = WithCustomId { fields, custom_id };
        let path = "/users/update_or_create/";
        let value: Value = self.call(Method::POST, path, Some(&body)).await?;
        let id = id_of(&endpoint(&Method::POST, path), &value)?;
        let created = value
            .get("created")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(Upserted { created, id })
    }

    /// `GET /users-by-id/{custom_id}/`; `None` on 404.
    pub async fn find_user(&self, custom_id: &str) -> Result<Option<UserRef>> {
        let path = format!("/users-by-id/{}/", encode_segment(custom_id));
        match self.call::<Value>(Method::GET, &path, NO_BODY).await {
            Ok(value) => Ok(Some(user_ref(&endpoint(&Method::GET, &path), &value)?)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /users/{id}/`.
    pub async fn get_user(&self, id: i64) -> Result<UserRef> {
        let path = format!("/users/{id}/");
        let value: Value = self.call(Method::GET, &path, NO_BODY).await?;
        user_ref(&endpoint(&Method::GET, &path), &value)
    }

    /// `POST /site-views/`.
    pub async fn site_view(&self, body: &(impl Serialize + ?Sized)) -> Result<()> {
        // The answer must still be JSON, but nothing in it is needed: checked, not built.
        self.call::<serde::de::IgnoredAny>(Method::POST, "/site-views/", Some(body))
            .await?;
        Ok(())
    }

    /// `POST /users-by-id/{custom_id}/events/` with `{name, timestamp, data}`.
    pub async fn create_event(
        &self,
        custom_id: &str,
        body: &(impl Serialize + ?Sized),
    ) -> Result<()> {
        let path = format!("/users-by-id/{}/events/", encode_segment(custom_id));
        self.call::<serde::de::IgnoredAny>(Method::POST, &path, Some(body))
            .await?;
        Ok(())
    }

    /// `GET /companies-by-id/{group_id}/` → the company id; `None` on 404.
    pub async fn find_company(&self, group_id: &str) -> Result<Option<i64>> {
        let path = format!("/companies-by-id/{}/", encode_segment(group_id));
        match self.call::<Value>(Method::GET, &path, NO_BODY).await {
            Ok(value) => Ok(Some(id_of(&endpoint(&Method::GET, &path), &value)?)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /companies/` (the body carries `custom_id`) → the new company id.
    pub async fn create_company(&self, body: &(impl Serialize + ?Sized)) -> Result<i64> {
        let path = "/companies/";
        let value: Value = self.call(Method::POST, path, Some(body)).await?;
        id_of(&endpoint(&Method::POST, path), &value)
    }

    /// `PUT /companies/{id}/` → the company id.
    pub async fn update_company(&self, id: i64, body: &(impl Serialize + ?Sized)) -> Result<i64> {
        let value: Value = self
            .call(Method::PUT, &format!("/companies/{id}/"), Some(body))
            .await?;
        // The id we addressed is authoritative; a body without `id` is fine here.
        Ok(value.get("id").and_then(Value::as_i64).unwrap_or(id))
    }

    /// `POST /companies/{id}/add_member/` with `{user_id, user_custom_id}`.
    pub async fn add_member(&self, company_id: i64, user_id: i64, custom_id: &str) -> Result<()> {
        #[derive(serde::Serialize)]
        struct Member<'a> {
            user_id: i64,
            user_custom_id: &'a str,
        }
        let body = Member {
            user_id,
            user_custom_id: custom_id,
        };
        self.call::<serde::de::IgnoredAny>(
            Method::POST,
            &format!("/companies/{company_id}/add_member/"),
            Some(&body),
        )
        .await?;
        Ok(())
    }

    /// Sends one request and classifies the outcome; a success's JSON body is read as `T`
    /// (`Value::Null` when empty, for `T = Value`).
    ///
    /// Why this shape (measured under `serve`, see `cargo bench` and the commit log): the body
    /// is serialised straight from borrowed data (no cloned `Map`), the URL is the parsed base
    /// with a new path, the endpoint label is only formatted for an error, and callers that need
    /// nothing from the answer validate it as JSON without building it.
    async fn call<T: serde::de::DeserializeOwned + Default>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T> {
        let mut url = self.base_url.clone();
        let base_path = url.path();
        let full_path = [base_path.trim_end_matches('/'), path].concat();
        url.set_path(&full_path);
        let mut request = self.http.request(method.clone(), url);
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body).map_err(|e| Error::BadResponse {
                endpoint: endpoint(&method, path),
                detail: format!("cannot serialise the request body: {e}"),
            })?;
            request = request.body(bytes);
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(&endpoint(&method, path), &e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error(&endpoint(&method, path), &e))?;
        if !status.is_success() {
            return Err(Error::Api {
                endpoint: endpoint(&method, path),
                status: status.as_u16(),
                retry_after,
                detail: excerpt(&String::from_utf8_lossy(&bytes)),
            });
        }
        if bytes.trim_ascii().is_empty() {
            return Ok(T::default());
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::BadResponse {
            endpoint: endpoint(&method, path),
            detail: format!(
                "body is not JSON ({e}): {}",
                excerpt(&String::from_utf8_lossy(&bytes))
            ),
        })
    }
}

/// No request body (for `call`'s type parameter).
const NO_BODY: Option<&()> = None;

/// The label errors carry: `POST /api/public/users/update_or_create/`.
fn endpoint(method: &Method, path: &str) -> String {
    format!("{method} /api/public{path}")
}

/// `fields` plus `"custom_id"`, serialised as one JSON object without copying `fields`
/// (`update_or_create` and the company create/update bodies).
///
/// A `custom_id` key inside `fields` is left out: the argument is the one that counts (the
/// mapping never produces one, it renames such a trait `segment_custom_id`).
pub struct WithCustomId<'a> {
    /// The other fields, in order.
    pub fields: &'a Map<String, Value>,
    /// Sent last, as `"custom_id"`.
    pub custom_id: &'a str,
}

impl Serialize for WithCustomId<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.fields {
            if key != "custom_id" {
                map.serialize_entry(key, value)?;
            }
        }
        map.serialize_entry("custom_id", self.custom_id)?;
        map.end()
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
        let client = Client::new(&origin, "secret-key-123", None, 1).unwrap();
        assert!(!format!("{client:?}").contains("secret-key-123"));
    }
}
