//! User.com's public REST API, as the forwarder uses it (the "out" end of the data flow).
//!
//! - [`requests`]: every request, written once ([`Call`]: method, path, body) and how its answer
//!   is read;
//! - [`apply`]: how each planned operation becomes calls: look-ups, creation of unknown users and
//!   companies, what a 404 does, the id caches ([`cache`]);
//! - [`client`]: the HTTP client that sends a call (headers, timeouts, error classification);
//! - [`dry_run`]: the transport `plan` uses: it records the calls instead of sending them and
//!   answers as a fresh User.com app would, so `plan` prints what `send` sends.
//!
//! Retries are not here (that is [`crate::delivery`]), nor is anything about Segment (that is
//! [`crate::mapping`]).

pub mod apply;
pub mod attributes;
pub mod cache;
pub mod client;
pub mod dry_run;
pub mod read_back;
pub mod requests;

use std::fmt;
use std::future::Future;

pub use apply::Applier;
pub use client::Client;
pub use requests::{encode_segment, Call, UserRef};

use crate::error::{Error, Result};

/// Sends a [`Call`] and hands back the body of a 2xx answer; any other status is
/// [`Error::Api`]. Implemented by the HTTP [`Client`] and by the [`dry_run::DryRun`].
pub trait Transport: Send + Sync + 'static {
    /// Sends one call.
    fn send(&self, call: &Call<'_>) -> impl Future<Output = Result<bytes::Bytes>> + Send;
}

/// The origin of a User.com app (`https://acme.user.com`, or a simulator's `http://127.0.0.1:PORT`).
#[derive(Clone, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    /// Accepts an origin URL; a trailing `/` or `/api/public` (as copied from docs) is stripped.
    pub fn from_url(url: &str) -> Result<Origin> {
        let trimmed = url.trim();
        let parsed = url::Url::parse(trimmed).map_err(|e| {
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
}
