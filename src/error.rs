//! The forwarder's one error type.
//!
//! Two families live here, because the same crate both *calls* User.com and *answers* Segment
//! clients:
//!
//! - outbound failures ([`Error::Api`], [`Error::Timeout`], [`Error::Connect`], ...), classified by
//!   [`Error::is_retryable`] so that exactly one place decides "retry or dead-letter";
//! - inbound rejections of the ingress ([`Error::BadRequest`], [`Error::Unauthorized`],
//!   [`Error::QueueFull`], ...), turned into HTTP answers by the [`IntoResponse`] impl (never a 500).
//!
//! Secrets never appear in any message: the API key and the write key are not part of any variant.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The troubleshooting hint shown with every 403 from User.com (the destination doc's text).
pub const FORBIDDEN_HINT: &str = "API key revoked or domain not trusted: check App settings > \
     Advanced > Segment API keys / Domains in User.com";

/// Everything that can go wrong in the forwarder.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// User.com answered with a non-success status.
    #[error("{endpoint} answered {status}{}: {detail}", forbidden_hint(*status))]
    Api {
        /// `METHOD /api/public/path/` of the failed request.
        endpoint: String,
        /// HTTP status code.
        status: u16,
        /// The `Retry-After` the server asked for, when it sent one we could parse.
        retry_after: Option<Duration>,
        /// The start of the response body (User.com names the bad field there).
        detail: String,
    },
    /// The request did not complete within the per-request timeout.
    #[error("{endpoint} timed out")]
    Timeout {
        /// `METHOD /api/public/path/` of the failed request.
        endpoint: String,
    },
    /// No connection could be made (refused, DNS, TLS handshake).
    #[error("{endpoint}: cannot connect to User.com: {reason}")]
    Connect {
        /// `METHOD /api/public/path/` of the failed request.
        endpoint: String,
        /// What the transport said.
        reason: String,
    },
    /// The connection broke while sending or receiving (reset, truncated body).
    #[error("{endpoint}: transport error: {reason}")]
    Transport {
        /// `METHOD /api/public/path/` of the failed request.
        endpoint: String,
        /// What the transport said.
        reason: String,
    },
    /// User.com answered 2xx with a body we cannot use (missing `id`, not JSON).
    #[error("{endpoint}: unexpected response: {detail}")]
    BadResponse {
        /// `METHOD /api/public/path/` of the failed request.
        endpoint: String,
        /// What was wrong with it.
        detail: String,
    },
    /// The forwarder is shutting down and gave up on this message.
    #[error("shut down before delivery: {0}")]
    ShuttingDown(String),
    /// Invalid configuration (bad URL, missing key, ...), reported at start-up.
    #[error("{0}")]
    Config(String),
    /// Reading or writing a local file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Ingress: the request is malformed; `code` is a stable machine-readable word.
    #[error("{message}")]
    BadRequest {
        /// Stable code, e.g. `invalid_json`, `message_too_large`.
        code: &'static str,
        /// Human-readable explanation naming the problem.
        message: String,
    },
    /// Ingress: a write key is configured and the request did not carry it.
    #[error("{0}")]
    Unauthorized(String),
    /// Ingress: the delivery queue has no room for this batch right now.
    #[error("delivery queue is full ({capacity} messages in flight): retry later")]
    QueueFull {
        /// The queue's capacity, in messages.
        capacity: usize,
    },
    /// Ingress: the spool is at its size bound (`--spool-max`): nothing more can be made durable
    /// until delivery catches up.
    #[error("the spool is full ({max_bytes} bytes, --spool-max): retry later")]
    SpoolFull {
        /// The bound, in bytes.
        max_bytes: u64,
    },
    /// Ingress: the batch could not be written to the spool (disk full, unwritable directory):
    /// it was not accepted, so the client keeps it and retries.
    #[error("{0}: retry later")]
    SpoolUnavailable(String),
    /// Ingress: the server is draining and accepts nothing new.
    #[error("the forwarder is shutting down and accepts no new messages")]
    Closing,
}

fn forbidden_hint(status: u16) -> String {
    if status == 403 {
        format!(" ({FORBIDDEN_HINT})")
    } else {
        String::new()
    }
}

impl Error {
    /// Whether repeating the same request later may succeed.
    ///
    /// Why these classes: 408 and 429 are explicit "try again", 5xx are server-side trouble that
    /// usually passes, except 501 ("not implemented") which will answer the same forever. Timeouts
    /// and connection errors are transient by nature. Every other 4xx is the request's own fault
    /// (bad field, bad key, forbidden domain) and repeating it would only hammer the API.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api { status, .. } => {
                matches!(*status, 408 | 429) || (*status >= 500 && *status != 501)
            }
            Error::Timeout { .. } | Error::Connect { .. } | Error::Transport { .. } => true,
            _ => false,
        }
    }

    /// Whether the request may have been applied although it failed: the connection broke or
    /// timed out after it was sent, or User.com answered 5xx (the write may have happened before
    /// the error). A refused connection, a 429 and other 4xx were not applied.
    pub fn maybe_applied(&self) -> bool {
        match self {
            Error::Api { status, .. } => *status >= 500,
            Error::Timeout { .. } | Error::Transport { .. } => true,
            _ => false,
        }
    }

    /// The HTTP status User.com answered, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The delay the server asked for with `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The User.com request concerned (`METHOD /api/public/path/`), for outbound errors.
    pub fn endpoint(&self) -> Option<&str> {
        match self {
            Error::Api { endpoint, .. }
            | Error::Timeout { endpoint }
            | Error::Connect { endpoint, .. }
            | Error::Transport { endpoint, .. }
            | Error::BadResponse { endpoint, .. } => Some(endpoint),
            _ => None,
        }
    }

    /// Whether this is User.com's "not found" (404).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Error::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }
}

/// Ingress answers: a JSON `{"code", "message"}` body, as analytics-python expects.
///
/// Only the ingress variants are expected here; anything else is still answered (503: the client
/// will retry) rather than with a 500, because a Segment client treats 500 as "our bug".
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Error::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, *code),
            Error::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Error::QueueFull { .. } => (StatusCode::TOO_MANY_REQUESTS, "queue_full"),
            Error::Closing => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
            Error::SpoolFull { .. } => (StatusCode::SERVICE_UNAVAILABLE, "spool_full"),
            Error::SpoolUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "spool_unavailable"),
            _ => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        };
        let body = serde_json::json!({ "code": code, "message": self.to_string() });
        let mut response = (status, Json(body)).into_response();
        if matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        ) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> Error {
        Error::Api {
            endpoint: "POST /api/public/users/update_or_create/".into(),
            status,
            retry_after: None,
            detail: String::new(),
        }
    }

    #[test]
    fn classification_follows_the_status_classes() {
        for status in [408, 429, 500, 502, 503, 504, 599] {
            assert!(api(status).is_retryable(), "{status} should be retried");
        }
        for status in [400, 401, 403, 404, 409, 422, 501] {
            assert!(!api(status).is_retryable(), "{status} should be permanent");
        }
        let timeout = Error::Timeout {
            endpoint: "GET /x/".into(),
        };
        assert!(timeout.is_retryable());
    }

    #[test]
    fn forbidden_names_the_settings_to_check() {
        let text = api(403).to_string();
        assert!(text.contains(FORBIDDEN_HINT), "{text}");
        assert!(!api(401).to_string().contains("Segment API keys"));
    }
}
