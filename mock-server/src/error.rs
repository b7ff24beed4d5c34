//! The crate's one error enum: start-up failures and every HTTP error the simulator answers.
//!
//! HTTP errors render as JSON. The body always has `detail` (DRF style, which is what User.com's
//! 401 bodies carry); 400s also carry `field` so a client can see which input was wrong.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the simulator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request field is missing, malformed or of the wrong type (HTTP 400).
    #[error("{field}: {message}")]
    BadField {
        /// The offending field (`body` for the request body as a whole).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// Missing, malformed or unknown API key (HTTP 401).
    #[error("{0}")]
    Unauthorized(String),
    /// Revoked key or untrusted domain (HTTP 403).
    #[error("{0}")]
    Forbidden(String),
    /// No such route or resource (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not for this method (HTTP 405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// Request body over the size limit (HTTP 413).
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A handler panicked; the catch-panic layer turns it into this (HTTP 500). Never expected.
    #[error("internal error: {0}")]
    Internal(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A scenario file could not be read or applied.
    #[error("scenario {path}: {message}")]
    Scenario {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A state file could not be read, parsed or written.
    #[error("state file {path}: {message}")]
    StateFile {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Invalid configuration (for example the same API key given to two apps).
    #[error("configuration: {0}")]
    Config(String),
}

impl Error {
    /// A 400 naming `field`.
    pub fn bad(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::BadField {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A 404 with a message.
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::NotFound(message.into())
    }

    /// The HTTP status this error answers with (500 for start-up errors, which never reach HTTP).
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadField { .. } => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// True for errors caused by the client's request (4xx).
    pub fn is_client_error(&self) -> bool {
        self.status().is_client_error()
    }
}

/// A JSON value's type, for error messages (`expected a string, got a number`).
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            Error::BadField { field, message } => json!({
                "detail": format!("{field}: {message}"),
                "field": field,
                "errors": { field.as_str(): [message] },
            }),
            other => json!({ "detail": other.to_string() }),
        };
        (status, axum::Json(body)).into_response()
    }
}
