//! Retry: which failures are tried again, how long to wait, and when to give up.
//!
//! Whether an error is worth another try is decided by the error itself
//! ([`crate::Error::is_retryable`]: 408, 429, 5xx but 501, timeouts, connection errors); this
//! module decides *when*.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::Result;

/// Backoff settings (from [`super::Config`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    /// First backoff step.
    pub(crate) base: Duration,
    /// Largest backoff step.
    pub(crate) max: Duration,
}

/// Retries `attempt` while it fails retryably and the window (`deadline`) allows another try;
/// gives up at once when `cancel` turns true.
///
/// Why exponential backoff with *full* jitter (a uniform delay in `0..=cap`, cap doubling per
/// attempt): when User.com throttles or restarts, every lane fails at once; without jitter
/// they would all come back at the same instant and fail again. Full jitter spreads them best
/// for the least total wait. A `Retry-After` is a floor, never shortened (the server knows
/// when it will take us back); one longer than the window left ends the retries at once
/// rather than waiting for a request we know we may not send.
pub(crate) async fn retrying<T, F, Fut>(
    backoff: Backoff,
    deadline: Instant,
    cancel: &watch::Sender<bool>,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut failures: u32 = 0;
    loop {
        let error = match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) if !e.is_retryable() => return Err(e),
            Err(e) => e,
        };
        let jitter = full_jitter(backoff.base, backoff.max, failures);
        let delay = error
            .retry_after()
            .map_or(jitter, |asked| asked.max(jitter));
        if Instant::now() + delay > deadline || *cancel.borrow() {
            return Err(error);
        }
        failures += 1;
        tracing::warn!(error = %error, attempt = failures, delay_ms = delay.as_millis() as u64, "retrying");
        let mut cancelled = cancel.subscribe();
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = cancelled.wait_for(|c| *c) => return Err(error),
        }
    }
}

/// A uniform delay in `0..=min(max, base·2^failures)`.
fn full_jitter(base: Duration, max: Duration, failures: u32) -> Duration {
    let cap = base
        .checked_mul(2u32.saturating_pow(failures.min(30)))
        .unwrap_or(max)
        .min(max);
    cap.mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_under_the_cap() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        for failures in 0..40 {
            let delay = full_jitter(base, max, failures);
            let cap = (base * 2u32.pow(failures.min(10))).min(max);
            assert!(delay <= cap, "{delay:?} > {cap:?} at {failures}");
        }
    }
}
