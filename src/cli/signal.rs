//! Ctrl-C and SIGTERM, the stop signals of `serve` and `dev`.

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
///
/// The handlers are installed when this function is *called*, not when the future is first
/// polled: `serve` calls it before printing its "ingress:" line, so a supervisor that signals
/// right after the banner gets a drain, not the default action (an immediate exit without one).
/// (The simulator's `main.rs` does the same.) A handler that cannot be installed is logged and
/// that signal is then not waited for.
pub(super) fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let install = |kind: SignalKind, name: &'static str| match signal(kind) {
            Ok(signal) => Some(signal),
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for {name}");
                None
            }
        };
        let int = install(SignalKind::interrupt(), "Ctrl-C");
        let term = install(SignalKind::terminate(), "SIGTERM");
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(int) => {}
                () = wait(term) => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    }
}
