//! Polling the task metadata until a condition holds, without flooding the log while the
//! endpoint is down (envoy-entrypoint polls every 100 ms after SIGTERM).

use std::fmt::Display;
use std::time::{Duration, Instant};

use crate::{MetadataClient, TaskMetadata};

/// While the task metadata keeps failing, at most one summary line this often (one line
/// per failure would be ten a second at envoy-entrypoint's interval).
const FAILURE_SUMMARY_EVERY: Duration = Duration::from_secs(5);

impl MetadataClient {
    /// Reads `GET <base>/task` every `interval` (the first time at once) until `done`
    /// accepts a document, and returns that document. Never gives up, as v0.6.2's
    /// envoy-entrypoint monitor does not: bound it by dropping the future (the supervisor
    /// does when Envoy exits first). Failures are logged through a [`FailureLog`], so an
    /// endpoint that is down does not flood the log.
    pub async fn poll_until(
        &self,
        interval: Duration,
        mut done: impl FnMut(&TaskMetadata) -> bool,
    ) -> TaskMetadata {
        let mut ticker = tokio::time::interval(interval);
        // A slow answer delays the next poll instead of bunching the missed ones.
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failures = FailureLog::new(FAILURE_SUMMARY_EVERY);
        loop {
            ticker.tick().await;
            match self.task_once().await {
                Ok(task) => {
                    log_metadata(failures.succeeded(Instant::now()), interval);
                    if done(&task) {
                        return task;
                    }
                }
                Err(err) => log_metadata(failures.failed(Instant::now(), &err), interval),
            }
        }
    }
}

/// Logs what a [`FailureLog`] of the task metadata poll reported, if anything.
fn log_metadata(report: Option<Report>, interval: Duration) {
    match report {
        None => {}
        Some(Report::First { error }) => tracing::warn!(
            error = %error,
            "reading the task metadata failed; retrying every {interval:?} (further failures \
             are summarised every {FAILURE_SUMMARY_EVERY:?})"
        ),
        Some(Report::StillFailing {
            errors,
            over,
            last_error,
        }) => tracing::warn!(
            errors,
            seconds = over.as_secs_f64(),
            last_error = %last_error,
            "reading the task metadata still failing: {errors} errors in the last {:.1}s: \
             {last_error}",
            over.as_secs_f64()
        ),
        Some(Report::Recovered { failures, over }) => tracing::info!(
            failures,
            seconds = over.as_secs_f64(),
            "reading the task metadata works again after {failures} failed attempts in {:.1}s",
            over.as_secs_f64()
        ),
    }
}

/// Keeps a run of failures of one repeated operation from flooding the log: it reports the
/// first failure at once, then at most one summary per `every` while the failures go on
/// (how many since the last line, and the last error), and the recovery once, with the
/// total. Time is passed in, so it is tested without waiting.
#[derive(Debug)]
struct FailureLog {
    every: Duration,
    outage: Option<Outage>,
}

/// The failures since the last success.
#[derive(Debug)]
struct Outage {
    started: Instant,
    failures: u64,
    /// When the last line about this outage was reported.
    reported_at: Instant,
    /// Failures since that line.
    unreported: u64,
    last_error: String,
}

/// A line to log, as decided by [`FailureLog`].
#[derive(Debug, Clone, PartialEq)]
enum Report {
    /// The first failure after a success (or ever).
    First { error: String },
    /// `errors` more failures in the `over` since the last line.
    StillFailing {
        errors: u64,
        over: Duration,
        last_error: String,
    },
    /// A success after `failures` failures over `over`.
    Recovered { failures: u64, over: Duration },
}

impl FailureLog {
    fn new(every: Duration) -> Self {
        FailureLog {
            every,
            outage: None,
        }
    }

    /// Records a failure at `now`; returns the line to log, if one is due.
    fn failed(&mut self, now: Instant, error: &dyn Display) -> Option<Report> {
        let error = error.to_string();
        let Some(outage) = self.outage.as_mut() else {
            self.outage = Some(Outage {
                started: now,
                failures: 1,
                reported_at: now,
                unreported: 0,
                last_error: error.clone(),
            });
            return Some(Report::First { error });
        };
        outage.failures += 1;
        outage.unreported += 1;
        outage.last_error = error;
        let since = now.saturating_duration_since(outage.reported_at);
        if since < self.every {
            return None;
        }
        let report = Report::StillFailing {
            errors: outage.unreported,
            over: since,
            last_error: outage.last_error.clone(),
        };
        outage.reported_at = now;
        outage.unreported = 0;
        Some(report)
    }

    /// Records a success at `now`; returns the recovery line when it ends an outage.
    fn succeeded(&mut self, now: Instant) -> Option<Report> {
        self.outage.take().map(|outage| Report::Recovered {
            failures: outage.failures,
            over: now.saturating_duration_since(outage.started),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY: Duration = Duration::from_secs(5);

    fn at(start: Instant, millis: u64) -> Instant {
        start + Duration::from_millis(millis)
    }

    #[test]
    fn successes_alone_log_nothing() {
        let start = Instant::now();
        let mut log = FailureLog::new(EVERY);
        assert_eq!(log.succeeded(start), None);
        assert_eq!(log.succeeded(at(start, 100)), None);
    }

    #[test]
    fn an_outage_logs_its_first_error_one_summary_per_period_and_the_recovery() {
        let start = Instant::now();
        let mut log = FailureLog::new(EVERY);
        let mut reports = Vec::new();
        // 12 s of failures every 100 ms: 121 of them, the last error naming its time.
        for tick in 0..=120u64 {
            let error = format!("HTTP 500 at {tick}");
            reports.extend(log.failed(at(start, tick * 100), &error));
        }
        reports.extend(log.succeeded(at(start, 12_100)));
        assert_eq!(
            reports,
            vec![
                Report::First {
                    error: "HTTP 500 at 0".into()
                },
                Report::StillFailing {
                    errors: 50,
                    over: Duration::from_secs(5),
                    last_error: "HTTP 500 at 50".into()
                },
                Report::StillFailing {
                    errors: 50,
                    over: Duration::from_secs(5),
                    last_error: "HTTP 500 at 100".into()
                },
                Report::Recovered {
                    failures: 121,
                    over: Duration::from_millis(12_100)
                },
            ]
        );
    }

    #[test]
    fn a_new_outage_after_a_recovery_is_reported_from_its_first_error() {
        let start = Instant::now();
        let mut log = FailureLog::new(EVERY);
        assert!(matches!(
            log.failed(start, &"refused"),
            Some(Report::First { .. })
        ));
        assert_eq!(log.failed(at(start, 100), &"refused"), None);
        assert_eq!(
            log.succeeded(at(start, 200)),
            Some(Report::Recovered {
                failures: 2,
                over: Duration::from_millis(200)
            })
        );
        assert_eq!(log.succeeded(at(start, 300)), None);
        assert_eq!(
            log.failed(at(start, 400), &"timed out"),
            Some(Report::First {
                error: "timed out".into()
            })
        );
    }
}
