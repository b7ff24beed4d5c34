//! The HTTP client: sends a [`Call`] to a User.com app and classifies the outcome.
//!
//! It knows URLs, headers and status codes; it does not know about retries (that is
//! [`crate::delivery`]) or about which calls an operation needs (that is [`super::apply`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, USER_AGENT,
};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use super::requests::{excerpt, Call};
use super::{Origin, Transport};
use crate::error::{Error, Result};

/// The pooled HTTP/1.1 client, over TLS or plain TCP as the origin's scheme says.
type Http = hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Bytes a query string carries percent-encoded (what a URL parser would encode there):
/// controls, space, `"`, `#`, `<`, `>`, and the characters `http::Uri` refuses.
const QUERY: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^');

/// One reused HTTP client bound to one User.com app and key.
///
/// Why one client: hyper pools connections per client, so reusing it keeps TLS sessions and
/// keep-alive connections across thousands of calls. Cloning is cheap (an `Arc` inside).
///
/// Why hyper's client and not reqwest: reqwest parsed every request's URL twice more (its
/// redirect layer and its response), which was 14% of the forwarder's instructions end to end
/// (`python3 bench/instructions.py forwarder`); the features used here (pool, timeouts, TLS
/// roots, default headers) are a few lines on hyper.
#[derive(Clone)]
pub struct Client {
    http: Http,
    api_base: String,
    /// `api_base` parsed and normalised once (punycode host, no trailing `/`): each request's
    /// URI is this prefix, the call's path and its query.
    prefix: String,
    /// Sent with every request: the key (marked sensitive), `Accept`, `Content-Type`, `User-Agent`.
    headers: HeaderMap,
    /// Bounds each request: connect, send and the whole answer. `None`: no bound.
    timeout: Option<Duration>,
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
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("usercom-forwarder/", env!("CARGO_PKG_VERSION"))),
        );

        let api_base = origin.api_base();
        let base_url = url::Url::parse(&api_base)
            .map_err(|e| Error::Config(format!("--usercom-url {origin} is not a URL ({e})")))?;
        let prefix = base_url.as_str().trim_end_matches('/').to_owned();

        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        // Small request bodies: send them at once rather than waiting for Nagle's algorithm.
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(timeout.unwrap_or(Duration::from_secs(10))));
        // HTTP/1.1 only, never h2 (ALPN offers only http/1.1). With h2, every lane would be
        // multiplexed onto one connection, so `--concurrency N` would no longer mean N
        // connections: one TCP window and one server-side worker for all lanes, one connection
        // reset failing every in-flight request at once (a burst of ambiguous failures), and
        // head-of-line blocking on loss. The requests are small and the pool keeps N warm
        // connections, so h2's gains (fewer handshakes, header compression) are small here.
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(platform_roots)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        // Redirects are not followed (hyper's client never does): a redirect would drop
        // Authorization (User.com 301s unslashed paths), so it fails loudly as a 3xx instead.
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(pool_size.max(1))
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_timer(TokioTimer::new())
            .build(connector);
        Ok(Client {
            http,
            api_base,
            prefix,
            headers,
            timeout,
        })
    }

    /// `prefix` + the call's path + its query (percent-encoded where a URI needs it).
    fn uri(&self, call: &Call<'_>) -> Result<http::Uri> {
        let path = call.path();
        let query = call.query();
        let mut uri = String::with_capacity(
            self.prefix.len() + path.len() + query.map_or(0, |q| q.len() * 3 + 1),
        );
        uri.push_str(&self.prefix);
        uri.push_str(&path);
        if let Some(query) = query {
            uri.push('?');
            uri.extend(utf8_percent_encode(query, QUERY));
        }
        http::Uri::try_from(uri)
            .map_err(|e| Error::Config(format!("cannot build the URL of {}: {e}", call.endpoint())))
    }

    /// Sends the request and reads the whole answer.
    async fn exchange(
        &self,
        call: &Call<'_>,
        request: http::Request<Full<Bytes>>,
    ) -> Result<(http::response::Parts, Bytes)> {
        let response = self.http.request(request).await.map_err(|e| {
            let endpoint = call.endpoint();
            let reason = describe(&e);
            if e.is_connect() {
                Error::Connect { endpoint, reason }
            } else {
                Error::Transport { endpoint, reason }
            }
        })?;
        let (parts, body) = response.into_parts();
        let bytes = body
            .collect()
            .await
            .map_err(|e| Error::Transport {
                endpoint: call.endpoint(),
                reason: describe(&e),
            })?
            .to_bytes();
        Ok((parts, bytes))
    }
}

/// The TLS settings: the bundled Mozilla roots, and the platform's on request.
fn tls_config(platform_roots: bool) -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if platform_roots {
        let found = rustls_native_certs::load_native_certs();
        let (added, _unparsable) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            let why = found
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Error::Config(format!(
                "--tls-platform-roots: no usable root certificate in the platform's store{}",
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" ({why})")
                }
            )));
        }
        for e in &found.errors {
            tracing::warn!(error = %e, "--tls-platform-roots: part of the platform's store could not be read");
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl Transport for Client {
    /// Sends one request; a non-2xx status is [`Error::Api`] (with `Retry-After` when given).
    /// A failure to connect (refused, DNS, TLS, connect timeout: nothing was sent) is
    /// [`Error::Connect`]; a break after that is [`Error::Transport`]; running out of the
    /// per-request time is [`Error::Timeout`]. Classified by the error's kind, never its text.
    async fn send(&self, call: &Call<'_>) -> Result<Bytes> {
        let mut request =
            http::Request::new(Full::new(call.body()?.map(Bytes::from).unwrap_or_default()));
        *request.method_mut() = call.method();
        *request.uri_mut() = self.uri(call)?;
        *request.headers_mut() = self.headers.clone();
        let (parts, bytes) = match self.timeout {
            Some(limit) => tokio::time::timeout(limit, self.exchange(call, request))
                .await
                .map_err(|_| Error::Timeout {
                    endpoint: call.endpoint(),
                })??,
            None => self.exchange(call, request).await?,
        };
        if !parts.status.is_success() {
            let retry_after = parts
                .headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            return Err(Error::Api {
                endpoint: call.endpoint(),
                status: parts.status.as_u16(),
                retry_after,
                detail: excerpt(&bytes),
            });
        }
        Ok(bytes)
    }
}

/// The error and its causes, outermost first, each level once ("client error (Connect): tcp
/// connect error: Connection refused (os error 111)"): the innermost is what a reader needs.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let level = s.to_string();
        if !text.contains(&level) {
            text.push_str(": ");
            text.push_str(&level);
        }
        source = s.source();
    }
    text
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
    fn uris_keep_the_base_path_and_encode_the_query() {
        let origin = Origin::from_url("http://127.0.0.1:9/").unwrap();
        let client = Client::new(&origin, "k", None, 1, false).unwrap();
        let call = Call::FindUser { custom_id: "a b/c" };
        assert_eq!(
            client.uri(&call).unwrap(),
            "http://127.0.0.1:9/api/public/users-by-id/a%20b%2Fc/"
        );
        let call = Call::ListAttributes {
            query: Some("page=2&name=a b\"c<d>#e%20f"),
        };
        assert_eq!(
            client.uri(&call).unwrap(),
            "http://127.0.0.1:9/api/public/attributes/?page=2&name=a%20b%22c%3Cd%3E%23e%20f"
        );
    }

    #[test]
    fn an_international_host_is_sent_as_punycode() {
        let origin = Origin::from_url("https://zażółć.user.com").unwrap();
        let client = Client::new(&origin, "k", None, 1, false).unwrap();
        let uri = client.uri(&Call::GetUser { id: 7 }).unwrap();
        assert!(uri.host().unwrap().starts_with("xn--"), "{uri}");
        assert!(uri.host().unwrap().ends_with(".user.com"), "{uri}");
        assert_eq!(uri.path(), "/api/public/users/7/");
    }

    #[test]
    fn a_refused_connection_is_a_connect_error_naming_the_cause() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Bind then drop: the port is closed, so the connection is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let origin = Origin::from_url(&format!("http://127.0.0.1:{port}")).unwrap();
        let client = Client::new(&origin, "k", Some(Duration::from_secs(5)), 1, false).unwrap();
        let err = rt
            .block_on(client.send(&Call::FindUser { custom_id: "u" }))
            .unwrap_err();
        match &err {
            Error::Connect { endpoint, reason } => {
                assert_eq!(endpoint, "GET /api/public/users-by-id/u/");
                assert!(reason.contains("refused"), "{reason}");
            }
            other => panic!("expected a connect error, got {other:?}"),
        }
        assert!(err.is_retryable() && !err.maybe_applied());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let origin = Origin::from_url("http://127.0.0.1:1").unwrap();
        let client = Client::new(&origin, "secret-key-123", None, 1, false).unwrap();
        assert!(!format!("{client:?}").contains("secret-key-123"));
    }
}
