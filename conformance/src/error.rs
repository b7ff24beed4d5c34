//! The harness's one error type.
//!
//! A case that does not hold is *not* an error: it is a failed [`crate::report::CaseResult`].
//! `Error` is for the harness itself not being able to do its job (the simulator did not start,
//! a set-up call was refused, a fixture cannot be read), so the CLI can tell "your forwarder is
//! wrong" (exit 1) from "the harness could not run" (exit 2).

use std::path::PathBuf;

/// Everything that can stop the harness from running a case.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The simulator could not be started.
    #[error("cannot start the User.com simulator: {0}")]
    SimulatorStart(String),
    /// An HTTP call to the simulator or the forwarder failed at the transport level.
    #[error("{what}: {source}")]
    Http {
        /// What the harness was doing ("POST /__admin/apps").
        what: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The simulator or the forwarder answered a set-up or read call with an unexpected status.
    #[error("{what}: unexpected status {status}: {body}")]
    Status {
        /// What the harness was doing.
        what: String,
        /// The status received.
        status: u16,
        /// The response body (shortened).
        body: String,
    },
    /// A response body was not the JSON the harness expected.
    #[error("{what}: unexpected response body: {detail}")]
    Body {
        /// What the harness was doing.
        what: String,
        /// What was wrong with it.
        detail: String,
    },
    /// The in-process forwarder could not be built or run.
    #[error("in-process forwarder: {0}")]
    Forwarder(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A fixture or snapshot file is malformed.
    #[error("{path}: {detail}")]
    Fixture {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// The harness was configured in a way that cannot work.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl Error {
    /// True when the error is about the network (connection refused, timeout): in external mode
    /// this usually means `--forwarder-url` points at nothing.
    pub fn is_transport(&self) -> bool {
        matches!(self, Error::Http { source, .. } if source.is_connect() || source.is_timeout())
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// The harness's result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Shortens a response body for error messages and reports.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}
