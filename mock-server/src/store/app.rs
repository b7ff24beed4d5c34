//! One isolated User.com app: its data behind its own mutex, its keys and trusted domains.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::error::{Error, Result};
use crate::model::AppData;
use crate::sync::{lock, read, write};

/// One isolated User.com app. Its `Debug` shows no key (secrets never reach a log line).
pub struct App {
    /// Its name (`default`, or `app-N` for apps made over the admin plane).
    pub name: Arc<str>,
    pub(super) data: Mutex<AppData>,
    pub(super) trusted: RwLock<Vec<String>>,
    pub(super) keys: RwLock<Vec<String>>,
    /// Strict mode (REST v2 rules) or the default (the destination doc's rules).
    strict: AtomicBool,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("name", &self.name)
            .field(
                "keys",
                &format_args!("{} (redacted)", read(&self.keys).len()),
            )
            .finish_non_exhaustive()
    }
}

impl App {
    pub(super) fn new(name: &str, strict: bool) -> Self {
        App {
            name: Arc::from(name),
            data: Mutex::new(AppData::new(name)),
            trusted: RwLock::new(vec![]),
            keys: RwLock::new(vec![]),
            strict: AtomicBool::new(strict),
        }
    }

    /// Run `f` with the app's data locked (and its `strict` flag set from the app's mode). Keep
    /// `f` short and synchronous.
    pub fn with<R>(&self, f: impl FnOnce(&mut AppData) -> R) -> R {
        let mut d = lock(&self.data);
        d.strict = self.strict();
        f(&mut d)
    }

    /// Whether the app runs in strict mode.
    pub fn strict(&self) -> bool {
        self.strict.load(Ordering::Relaxed)
    }

    /// Switch the app's mode (start-up: server flag, scenario, state file).
    pub(super) fn set_strict(&self, strict: bool) {
        self.strict.store(strict, Ordering::Relaxed);
    }

    /// The app's trusted domains (empty = every domain is trusted).
    pub fn trusted_domains(&self) -> Vec<String> {
        read(&self.trusted).clone()
    }

    /// Replace the trusted domains; entries are normalised to lower-case hosts.
    pub fn set_trusted_domains(&self, domains: &[String]) -> Result<Vec<String>> {
        let mut out = Vec::with_capacity(domains.len());
        for d in domains {
            let host = url_host(d).map(|h| h.trim_start_matches("*.").to_owned());
            match host {
                Some(h) if !h.is_empty() => out.push(h),
                _ => {
                    return Err(Error::bad(
                        "trusted_domains",
                        format!("`{d}` is not a domain name"),
                    ))
                }
            }
        }
        out.sort();
        out.dedup();
        *write(&self.trusted) = out.clone();
        Ok(out)
    }

    /// 403 unless `url`'s host is trusted. `source` says where the URL came from, for the message.
    pub fn check_trusted(&self, url: &str, source: &str) -> Result<()> {
        let trusted = read(&self.trusted);
        if trusted.is_empty() {
            return Ok(());
        }
        let host = url_host(url).unwrap_or_default();
        let ok = !host.is_empty()
            && trusted.iter().any(|d| {
                host == *d
                    || (host.ends_with(d.as_str()) && host[..host.len() - d.len()].ends_with('.'))
            });
        if ok {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "domain `{}` ({source}) is not a trusted domain of this app (trusted: {}); check App settings > Advanced > Domains",
                if host.is_empty() { url } else { &host },
                trusted.join(", ")
            )))
        }
    }

    /// The app's API keys, in the order they were added.
    pub fn keys(&self) -> Vec<String> {
        read(&self.keys).clone()
    }
}

/// The host of a URL, an `Origin` value, or a bare host name; lower-case, without port.
pub fn url_host(s: &str) -> Option<String> {
    let s = s.trim();
    let rest = match s.find("://") {
        Some(i) => &s[i + 3..],
        None => s,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        hostport.split(':').next().unwrap_or("")
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            url_host("https://Shop.Example.com:8443/a?b").as_deref(),
            Some("shop.example.com")
        );
        assert_eq!(url_host("example.com").as_deref(), Some("example.com"));
        assert_eq!(url_host("http://u:p@[::1]:80/").as_deref(), Some("::1"));
        assert_eq!(url_host("null"), Some("null".to_owned()));
        assert_eq!(url_host(""), None);
    }

    #[test]
    fn subdomains_are_trusted_lookalikes_are_not() {
        let app = App::new("x", false);
        app.set_trusted_domains(&["example.com".into()]).unwrap();
        assert!(app
            .check_trusted("https://www.example.com/p", "page")
            .is_ok());
        assert!(app.check_trusted("https://example.com", "Origin").is_ok());
        let e = app
            .check_trusted("https://badexample.com", "Origin")
            .unwrap_err();
        assert!(e.to_string().contains("badexample.com"), "{e}");
    }
}
