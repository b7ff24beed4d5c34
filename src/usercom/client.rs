//! The HTTP client: sends a [`Call`] to a User.com app and classifies the outcome.
//!
//! It knows URLs, headers and status codes; it does not know about retries (that is
//! [`crate::delivery`]) or about which calls an operation needs (that is [`super::apply`]).

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Url;

use super::requests::{excerpt, Call};
use super::{Origin, Transport};
use crate::error::{Error, Result};

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
    ///
    /// `platform_roots`: trust the platform's root certificates too (see
    /// [`crate::Config::tls_platform_roots`]); the bundled Mozilla roots are always trusted.
    pub fn new(
        origin: &Origin,
        api_key: &str,
        timeout: Option<Duration>,
        pool_size: usize,
        platform_roots: bool,
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
            // HTTP/1.1 only, never h2 (ALPN offers only http/1.1). With h2, every lane would be
            // multiplexed onto one connection, so `--concurrency N` would no longer mean N
            // connections: one TCP window and one server-side worker for all lanes, one
            // connection reset failing every in-flight request at once (a burst of ambiguous
            // failures), and head-of-line blocking on loss. The requests are small and the
            // pool keeps N warm connections, so h2's gains (fewer handshakes, header
            // compression) are small here. (The workspace's reqwest still builds its `http2`
            // feature for other crates; this client never uses it.)
            .http1_only()
            // Small request bodies: send them at once rather than waiting for Nagle's algorithm.
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(10))
            .tls_built_in_webpki_certs(true)
            .tls_built_in_native_certs(platform_roots);
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
}

impl Transport for Client {
    /// Sends one request; a non-2xx status is [`Error::Api`] (with `Retry-After` when given),
    /// a transport failure is classified by reqwest's methods, never by its text.
    async fn send(&self, call: &Call<'_>) -> Result<bytes::Bytes> {
        let mut url = self.base_url.clone();
        let full_path = [url.path().trim_end_matches('/'), &call.path()].concat();
        url.set_path(&full_path);
        url.set_query(call.query());
        let mut request = self.http.request(call.method(), url);
        if let Some(body) = call.body()? {
            request = request.body(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(call, &e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error(call, &e))?;
        if !status.is_success() {
            return Err(Error::Api {
                endpoint: call.endpoint(),
                status: status.as_u16(),
                retry_after,
                detail: excerpt(&bytes),
            });
        }
        Ok(bytes)
    }
}

/// Classifies a reqwest error by its methods (never by its text).
fn transport_error(call: &Call<'_>, e: &reqwest::Error) -> Error {
    let endpoint = call.endpoint();
    if e.is_timeout() {
        return Error::Timeout { endpoint };
    }
    let reason = without_url(e);
    if e.is_connect() {
        Error::Connect { endpoint, reason }
    } else {
        Error::Transport { endpoint, reason }
    }
}

/// The error's text without its URL (already in the endpoint, and long), ending with the
/// innermost cause ("Connection refused"), which is what a reader needs.
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(&format!(" ({url})"), "");
    }
    let mut source = std::error::Error::source(e);
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let client = Client::new(&origin, "secret-key-123", None, 1, false).unwrap();
        assert!(!format!("{client:?}").contains("secret-key-123"));
    }
}
