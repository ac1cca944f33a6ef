//! Retries with jittered exponential backoff and an overall deadline.
//!
//! Every caller that talks to something that may be briefly unavailable (the local Consul
//! agent still starting, a server election, the ECS metadata endpoint, ECS throttling) goes
//! through [`retry`], so the behaviour — and the log lines — are the same everywhere.

#![deny(missing_docs)]

use rand::Rng;
use std::fmt;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Errors that know whether trying again may help.
pub trait Retryable {
    /// `true` when the same request may succeed later (network trouble, 5xx, throttling).
    fn is_retryable(&self) -> bool;
}

/// How the computed backoff is randomised, so that many tasks started together do not
/// hammer Consul in lock-step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// Sleep exactly the computed backoff (deterministic; for tests and fixed intervals).
    None,
    /// Sleep a uniform random time in `[0, backoff]`.
    Full,
    /// Sleep `backoff/2` plus a uniform random time in `[0, backoff/2]`.
    Equal,
}

/// When and how often to retry.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Backoff before the second attempt.
    pub initial: Duration,
    /// Cap on a single backoff.
    pub max: Duration,
    /// Growth factor of the backoff per attempt (1.0 = fixed interval).
    pub multiplier: f64,
    /// Randomisation of each backoff.
    pub jitter: Jitter,
    /// Overall time budget measured from the first attempt: no attempt starts after it.
    pub deadline: Duration,
    /// Optional cap on the number of attempts (including the first).
    pub max_attempts: Option<u32>,
}

impl Default for RetryPolicy {
    /// 100 ms doubling to 5 s, equal jitter, 2 minutes overall.
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
            multiplier: 2.0,
            jitter: Jitter::Equal,
            deadline: Duration::from_secs(120),
            max_attempts: None,
        }
    }
}

impl RetryPolicy {
    /// A fixed interval without jitter, like v0.6.2's "retry every second" loops, bounded by
    /// `deadline`.
    pub fn fixed(interval: Duration, deadline: Duration) -> Self {
        RetryPolicy {
            initial: interval,
            max: interval,
            multiplier: 1.0,
            jitter: Jitter::None,
            deadline,
            max_attempts: None,
        }
    }

    /// Same policy with a cap on the number of attempts.
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// Same policy with another overall deadline.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The un-jittered backoff after attempt number `attempt` (1-based) failed.
    pub fn base_backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .multiplier
            .max(1.0)
            .powi(attempt.saturating_sub(1) as i32);
        let secs = (self.initial.as_secs_f64() * exp).min(self.max.as_secs_f64());
        Duration::try_from_secs_f64(secs).unwrap_or(self.max)
    }

    /// The backoff to sleep after attempt number `attempt` (1-based) failed, jitter applied.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let base = self.base_backoff(attempt);
        let mut rng = rand::rng();
        match self.jitter {
            Jitter::None => base,
            Jitter::Full => base.mul_f64(rng.random_range(0.0..=1.0)),
            Jitter::Equal => base / 2 + (base / 2).mul_f64(rng.random_range(0.0..=1.0)),
        }
    }
}

/// Why [`retry`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaveUp {
    /// The error was not retryable.
    Final,
    /// The next attempt would have started after the deadline.
    Deadline,
    /// `max_attempts` attempts were made.
    MaxAttempts,
}

impl fmt::Display for GaveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GaveUp::Final => "error is not retryable",
            GaveUp::Deadline => "deadline reached",
            GaveUp::MaxAttempts => "attempt limit reached",
        })
    }
}

/// The last error of a retried operation, with how many attempts were made and why it
/// stopped.
#[derive(Debug)]
pub struct RetryError<E> {
    /// What was being attempted (from the `what` argument).
    pub what: String,
    /// Number of attempts made (at least 1).
    pub attempts: u32,
    /// Time from the first attempt until giving up.
    pub elapsed: Duration,
    /// Why it stopped.
    pub reason: GaveUp,
    /// The error of the last attempt.
    pub last: E,
}

impl<E> RetryError<E> {
    /// The error of the last attempt.
    pub fn into_inner(self) -> E {
        self.last
    }
}

impl<E: fmt::Display> fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: gave up after {} attempt{} in {:.1?} ({}): {}",
            self.what,
            self.attempts,
            if self.attempts == 1 { "" } else { "s" },
            self.elapsed,
            self.reason,
            self.last
        )
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RetryError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.last)
    }
}

/// Runs `op` until it succeeds, retrying errors for which [`Retryable::is_retryable`] is
/// true with the backoff of `policy`, until the deadline or attempt limit.
///
/// Each failed attempt that will be retried is logged (DEBUG for the first two, WARN after)
/// with `what` and the error's `Display`, which for the errors of this workspace never contains a
/// token.
pub async fn retry<T, E, F, Fut>(
    policy: &RetryPolicy,
    what: &str,
    op: F,
) -> Result<T, RetryError<E>>
where
    E: Retryable + fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    retry_if(policy, what, |e: &E| e.is_retryable(), op).await
}

/// Like [`retry`], but `should_retry` decides which errors are worth another attempt — for
/// waits where a normally final error means "not yet" (e.g. the token replication wait, where
/// `403 ACL not found` is expected until the token reaches the follower).
pub async fn retry_if<T, E, P, F, Fut>(
    policy: &RetryPolicy,
    what: &str,
    mut should_retry: P,
    mut op: F,
) -> Result<T, RetryError<E>>
where
    E: fmt::Display,
    P: FnMut(&E) -> bool,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let start = Instant::now();
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let err = match op().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let reason = if !should_retry(&err) {
            Some(GaveUp::Final)
        } else if policy.max_attempts.is_some_and(|max| attempt >= max) {
            Some(GaveUp::MaxAttempts)
        } else {
            None
        };
        let delay = policy.backoff(attempt);
        let reason = reason
            .or_else(|| (start.elapsed() + delay > policy.deadline).then_some(GaveUp::Deadline));
        if let Some(reason) = reason {
            return Err(RetryError {
                what: what.to_owned(),
                attempts: attempt,
                elapsed: start.elapsed(),
                reason,
                last: err,
            });
        }
        if attempt <= 2 {
            tracing::debug!(what, attempt, retry_in = ?delay, error = %err, "retrying");
        } else {
            tracing::warn!(what, attempt, retry_in = ?delay, error = %err, "retrying");
        }
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            multiplier: 2.0,
            jitter: Jitter::None,
            deadline: Duration::from_secs(10),
            max_attempts: None,
        };
        let got: Vec<u128> = (1..=6).map(|a| p.backoff(a).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_stays_in_range() {
        let mut p = RetryPolicy::fixed(Duration::from_millis(1000), Duration::from_secs(1));
        p.jitter = Jitter::Full;
        let full: Vec<Duration> = (0..200).map(|_| p.backoff(1)).collect();
        assert!(full.iter().all(|d| *d <= Duration::from_millis(1000)));
        // 200 uniform draws all equal would mean no jitter at all.
        assert!(full.iter().any(|d| *d != full[0]));
        p.jitter = Jitter::Equal;
        for _ in 0..200 {
            let d = p.backoff(1);
            assert!(
                d >= Duration::from_millis(500) && d <= Duration::from_millis(1000),
                "{d:?}"
            );
        }
    }
}
