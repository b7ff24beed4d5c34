//! Starting and stopping the simulator: [`MockServer`] (the handle tests hold) and its builder.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::routes::router;
use crate::store::{Scenario, Snapshot, Store};

/// Serve the simulator on an already-bound listener until `shutdown` resolves, then drain
/// in-flight requests. The building block of [`MockServer`] (mini-redis style: tests and the
/// binary bind their own listener).
pub(crate) async fn serve(
    listener: TcpListener,
    store: Store,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(store))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Options for [`MockServer`]; see [`MockServer::builder`]. Its `Debug` hides keys and token.
#[derive(Clone)]
pub struct MockServerBuilder {
    listen: SocketAddr,
    api_keys: Vec<String>,
    journal_capacity: usize,
    scenario_file: Option<PathBuf>,
    state_file: Option<PathBuf>,
    admin_token: Option<String>,
    faults: Vec<serde_json::Value>,
    strict: bool,
}

impl std::fmt::Debug for MockServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServerBuilder")
            .field("listen", &self.listen)
            .field(
                "api_keys",
                &format_args!("{} (redacted)", self.api_keys.len()),
            )
            .field("journal_capacity", &self.journal_capacity)
            .field("scenario_file", &self.scenario_file)
            .field("state_file", &self.state_file)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "[redacted]"),
            )
            .field("faults", &self.faults)
            .field("strict", &self.strict)
            .finish()
    }
}

impl Default for MockServerBuilder {
    fn default() -> Self {
        MockServerBuilder {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_keys: vec![],
            journal_capacity: 10_000,
            scenario_file: None,
            state_file: None,
            admin_token: None,
            faults: vec![],
            strict: false,
        }
    }
}

impl MockServerBuilder {
    /// Address to bind (default `127.0.0.1:0`, a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Add an API key of the default app (repeatable). Without any, [`crate::DEFAULT_API_KEY`].
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_keys.push(key.into());
        self
    }

    /// Journal size (default 10,000 requests; 0 disables it).
    pub fn journal_capacity(mut self, n: usize) -> Self {
        self.journal_capacity = n;
        self
    }

    /// Seed state from a scenario file (format: the crate README).
    pub fn scenario_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.scenario_file = Some(path.into());
        self
    }

    /// Load state from this file at start (when it exists) and save it at shutdown.
    pub fn state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// Require `Authorization: Bearer <token>` on every `/__admin/…` request (401 otherwise).
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        self.admin_token = Some(token.into());
        self
    }

    /// Arm a fault-injection rule at start (repeatable; the JSON of `POST /__admin/faults`).
    /// An invalid rule makes [`MockServerBuilder::start`] fail with a message naming the field.
    pub fn fault(mut self, rule: serde_json::Value) -> Self {
        self.faults.push(rule);
        self
    }

    /// Strict mode (`--strict`): as strict as User.com's REST v2 API where it is documented, and
    /// the stricter plausible choice where it is not (the crate README, "Strict mode"): undefined
    /// attributes are not stored, wrong-typed values for defined attributes are a 400, requests
    /// without `Accept: */*; version=2` are refused. Default `false`: the destination doc's
    /// rules (auto-created string attributes, conversion). Applies to every app unless a scenario
    /// or `POST /__admin/apps` `{"strict": false}` says otherwise.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Build the state (scenario, state file, default key, admin token, fault rules) without
    /// serving.
    pub(crate) fn build_store(&self) -> Result<Store> {
        let scenario = match &self.scenario_file {
            Some(p) => Some(read_scenario(p)?),
            None => None,
        };
        let scenario_path = self.scenario_file.as_ref().map(|p| p.display().to_string());
        let store = Store::new(&self.api_keys, self.journal_capacity, scenario, self.strict)
            .map_err(|e| match (&scenario_path, e) {
                (Some(path), Error::Config(message)) => Error::Scenario {
                    path: path.clone(),
                    message,
                },
                (_, e) => e,
            })?;
        if let Some(p) = &self.state_file {
            if p.exists() {
                let state_err = |message: String| Error::StateFile {
                    path: p.display().to_string(),
                    message,
                };
                let text = std::fs::read_to_string(p).map_err(|e| state_err(e.to_string()))?;
                let snap: Snapshot =
                    serde_json::from_str(&text).map_err(|e| state_err(e.to_string()))?;
                store
                    .load_snapshot(snap)
                    .map_err(|e| state_err(e.to_string()))?;
            }
        }
        store.ensure_default_key()?;
        store.set_admin_token(self.admin_token.as_deref())?;
        for (i, rule) in self.faults.iter().enumerate() {
            store
                .add_fault(rule)
                .map_err(|e| Error::Config(format!("fault rule #{}: {e}", i + 1)))?;
        }
        Ok(store)
    }

    /// Bind and start serving in the background.
    pub async fn start(self) -> Result<MockServer> {
        let store = self.build_store()?;
        let listener = TcpListener::bind(self.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: self.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: self.listen,
            source,
        })?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, store.clone(), async {
            let _ = rx.await;
        }));
        let api_key = store
            .default_app()
            .keys()
            .into_iter()
            .next()
            .unwrap_or_default();
        tracing::info!(%addr, strict = self.strict, "usercom-mock started");
        if !addr.ip().is_loopback() && self.admin_token.is_none() {
            tracing::warn!(
                %addr,
                "the admin plane (/__admin/) is reachable beyond this machine without a token; \
                 consider --admin-token"
            );
        }
        Ok(MockServer {
            addr,
            api_key,
            store,
            shutdown: Some(tx),
            task: Some(task),
            state_file: self.state_file,
        })
    }
}

fn read_scenario(p: &Path) -> Result<Scenario> {
    let err = |message: String| Error::Scenario {
        path: p.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(p).map_err(|e| err(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| err(e.to_string()))
}

/// A running simulator. Dropping it stops the server (and saves the state file, if any).
pub struct MockServer {
    addr: SocketAddr,
    api_key: String,
    store: Store,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    state_file: Option<PathBuf>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .field("store", &self.store)
            .field("state_file", &self.state_file)
            .finish_non_exhaustive()
    }
}

impl MockServer {
    /// Start with defaults: `127.0.0.1:0`, the default app with [`crate::DEFAULT_API_KEY`].
    ///
    /// # Panics
    /// If no local port can be bound, which leaves a test nothing to do.
    pub async fn start() -> MockServer {
        match MockServer::builder().start().await {
            Ok(s) => s,
            Err(e) => panic!("usercom-mock could not start: {e}"),
        }
    }

    /// Options: listen address, keys, journal size, scenario, state file.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder::default()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/api/public`.
    pub fn api_url(&self) -> String {
        format!("http://{}/api/public", self.addr)
    }

    /// The first key of the default app.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop gracefully: stop accepting, finish in-flight requests, save the state file. Errors
    /// are logged; use [`MockServer::try_shutdown`] to get them.
    pub async fn shutdown(self) {
        if let Err(e) = self.try_shutdown().await {
            tracing::error!("usercom-mock shutdown: {e}");
        }
    }

    /// Like [`MockServer::shutdown`], returning the state-file error if saving failed.
    pub async fn try_shutdown(mut self) -> Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("server ended with an error: {e}"),
                Err(e) => tracing::warn!("server task failed: {e}"),
            }
        }
        self.save_state()
    }

    fn save_state(&mut self) -> Result<()> {
        let Some(path) = self.state_file.take() else {
            return Ok(());
        };
        let err = |message: String| Error::StateFile {
            path: path.display().to_string(),
            message,
        };
        let text =
            serde_json::to_string_pretty(&self.store.snapshot()).map_err(|e| err(e.to_string()))?;
        // Write then rename, so an interrupted save never leaves a truncated state file.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).map_err(|e| err(e.to_string()))?;
        // The state file holds the API keys: readable by its owner only.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| err(e.to_string()))?;
        }
        std::fs::rename(&tmp, &path).map_err(|e| err(e.to_string()))?;
        Ok(())
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Err(e) = self.save_state() {
            tracing::error!("usercom-mock: {e}");
        }
    }
}
