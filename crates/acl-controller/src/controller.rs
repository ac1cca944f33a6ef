//! The controller's life: learn the cluster, set up Consul (retrying until it works), then
//! reconcile every interval until told to stop.

use std::future::Future;
use std::time::Duration;

use consul::Client;
use retry::{Jitter, RetryPolicy};
use tracing::{error, info, warn};

use crate::ecs_tasks::EcsTasks;
use crate::reconcile::{self, RoundReport};
use crate::settings::{Cluster, Flags, Settings};
use crate::startup::{self, StartupReport};
use crate::{Error, Result};

/// How start-up retries: jittered backoff from half a second up to 15 s, for as long as it
/// takes (v0.6.2 exited instead, leaving ECS to restart it).
pub fn startup_retry_policy() -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_millis(500),
        max: Duration::from_secs(15),
        multiplier: 2.0,
        jitter: Jitter::Equal,
        deadline: Duration::MAX,
        max_attempts: None,
    }
}

/// A configured controller: a Consul client with a management-grade token, an ECS client,
/// and what it manages.
#[derive(Debug)]
pub struct Controller {
    consul: Client,
    ecs: EcsTasks,
    settings: Settings,
}

impl Controller {
    /// A controller for `settings`.
    pub fn new(consul: Client, ecs: EcsTasks, settings: Settings) -> Controller {
        Controller {
            consul,
            ecs,
            settings,
        }
    }

    /// What it manages.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// One attempt at start-up (docs/protocols.md §5.8).
    pub async fn start_up(&self) -> Result<StartupReport> {
        startup::run(&self.consul, &self.settings).await
    }

    /// One reconcile round (docs/protocols.md §5.9).
    pub async fn reconcile(&self) -> Result<RoundReport> {
        reconcile::round(&self.consul, &self.ecs, &self.settings).await
    }

    /// Start-up, retried with jittered backoff until it succeeds, then a round every
    /// interval (the first at once). Returns when `shutdown` completes; an unfinished
    /// round is dropped there (every step of a round is safe to repeat).
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let life = Life {
            name: "acl-controller",
            interval: self.settings.flags.reconcile_interval,
            cluster: self.settings.cluster.arn.clone(),
            partition: self.settings.partition().unwrap_or("").to_string(),
        };
        life.run(|| self.start_up(), || self.reconcile(), log_round, shutdown)
            .await;
    }
}

/// The loop both controllers share: start-up retried with jittered backoff
/// ([`startup_retry_policy`]) until it succeeds, then a round every interval, the first at
/// once, until `shutdown`.
#[derive(Debug, Clone)]
pub struct Life {
    /// The subcommand, for the log lines (`<name> started`, `<name> stopped`).
    pub name: &'static str,
    /// Time between the starts of two rounds (a round longer than that delays the next).
    pub interval: Duration,
    /// The cluster ARN, for the `started` line.
    pub cluster: String,
    /// The managed partition (empty on CE), for the `started` line.
    pub partition: String,
}

impl Life {
    /// Runs `start_up` until it succeeds (or fails for good: [`Error::is_retryable`]), logs
    /// what it found, then runs `round` every interval and hands each result to `finished`. Returns when `shutdown` completes; an unfinished start-up or round is
    /// dropped there (every step of both is safe to repeat).
    pub async fn run<S, SF, R, RF, T>(
        &self,
        start_up: S,
        round: R,
        finished: impl Fn(&Result<T>),
        shutdown: impl Future<Output = ()>,
    ) where
        S: Fn() -> SF,
        SF: Future<Output = Result<StartupReport>>,
        R: Fn() -> RF,
        RF: Future<Output = Result<T>>,
    {
        tokio::pin!(shutdown);
        let policy = startup_retry_policy();
        let setup = retry::retry_if(
            &policy,
            "set up the Consul auth methods and policies",
            Error::is_retryable,
            start_up,
        );
        let report = tokio::select! {
            r = setup => r,
            () = &mut shutdown => {
                info!("stopping before start-up completed");
                return;
            }
        };
        match report {
            Ok(report) => info!(
                datacenter = %report.datacenter,
                primary = report.primary,
                changes = report.changes.len(),
                cluster = %self.cluster,
                partition = %self.partition,
                "{} started",
                self.name
            ),
            // Only a final error ends the retries, and settings errors are caught earlier.
            Err(e) => {
                error!("start-up failed: {e}");
                return;
            }
        }
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = ticker.tick() => {}
            }
            tokio::select! {
                () = &mut shutdown => break,
                r = round() => finished(&r),
            }
        }
        info!("{} stopped", self.name);
    }
}

fn log_round(result: &Result<RoundReport>) {
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            log_failed_round(e);
            return;
        }
    };
    let busy = log_round_errors(report);
    crate::round_summary!(busy, report);
}

/// Logs a round that failed as a whole (ERROR).
pub fn log_failed_round(e: &Error) {
    error!("reconcile round failed (retrying at the next interval): {e}");
}

/// Logs each error a round met (WARN) and says whether the round is worth an INFO summary:
/// it deleted or created something, or met an error.
pub fn log_round_errors(report: &RoundReport) -> bool {
    for e in &report.errors {
        warn!("reconcile: {e}");
    }
    !report.deleted.is_empty() || !report.namespaces_created.is_empty() || !report.errors.is_empty()
}

/// Logs a round's summary line, `reconcile round done` with the counts of a
/// [`RoundReport`](crate::RoundReport) and the extra `name = value` fields given, at INFO
/// when the first argument is true, else at DEBUG.
#[macro_export]
macro_rules! round_summary {
    (@at $level:expr, $report:ident $(, $field:ident = $value:expr)*) => {
        $crate::__tracing::event!(
            $level,
            running_tasks = $report.running_tasks,
            mesh_tasks = $report.mesh_tasks,
            tokens = $report.tokens,
            deleted = $report.deleted.len(),
            stopping_tasks = $report.stopping_tasks.len(),
            namespaces_created = $report.namespaces_created.len(),
            errors = $report.errors.len(),
            ecs_calls = $report.ecs_calls,
            consul_calls = $report.consul_calls,
            elapsed_ms = $report.elapsed.as_millis() as u64,
            $($field = $value,)*
            "reconcile round done"
        )
    };
    ($busy:expr, $report:expr $(, $field:ident = $value:expr)* $(,)?) => {{
        let report: &$crate::RoundReport = $report;
        if $busy {
            $crate::round_summary!(@at $crate::__tracing::Level::INFO, report $(, $field = $value)*)
        } else {
            $crate::round_summary!(@at $crate::__tracing::Level::DEBUG, report $(, $field = $value)*)
        }
    }};
}

/// Reads the task metadata, retrying with the start-up policy until it works; `None` when
/// `shutdown` came first.
pub async fn read_metadata(
    metadata: &ecs::MetadataClient,
    shutdown: impl Future<Output = ()>,
) -> Option<Result<ecs::TaskMetadata>> {
    let policy = startup_retry_policy();
    let read = retry::retry(&policy, "read the task metadata", || async {
        metadata.task_once().await
    });
    tokio::select! {
        r = read => Some(r.map_err(|e| Error::Metadata(e.into_inner()))),
        () = shutdown => None,
    }
}

/// Reads the cluster from the task metadata ([`read_metadata`]); `None` when `shutdown`
/// came first. A metadata document that cannot name the cluster is final.
pub async fn discover_cluster(
    metadata: &ecs::MetadataClient,
    shutdown: impl Future<Output = ()>,
) -> Option<Result<Cluster>> {
    read_metadata(metadata, shutdown)
        .await
        .map(|r| r.and_then(|task| Cluster::from_metadata(&task)))
}

/// Everything the binary does: cluster from the metadata, ECS client from the AWS
/// environment, then [`Controller::run`] until `shutdown`. Errors only for what retrying
/// cannot fix (a task ARN that names no cluster).
pub async fn run(
    consul: Client,
    flags: Flags,
    metadata: ecs::MetadataClient,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    tokio::pin!(shutdown);
    let cluster = match discover_cluster(&metadata, &mut shutdown).await {
        None => {
            info!("stopping before the task metadata could be read");
            return Ok(());
        }
        Some(cluster) => cluster?,
    };
    let ecs = EcsTasks::from_env(&cluster.region).await;
    let controller = Controller::new(consul, ecs, Settings { flags, cluster });
    controller.run(shutdown).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};

    /// The loop on tokio's paused clock: start-up retried after failures, the first round
    /// at once and then one every interval, a final error ending start-up, and shutdown
    /// ending the loop between rounds.
    #[tokio::test(start_paused = true)]
    async fn start_up_retries_then_a_round_at_once_and_every_interval() {
        let began = tokio::time::Instant::now();
        let attempts = Cell::new(0u32);
        let started_at = Cell::new(None);
        let rounds = RefCell::new(Vec::new());
        let life = Life {
            name: "test",
            interval: Duration::from_secs(10),
            cluster: "arn:aws:ecs:us-east-1:123456789012:cluster/test".into(),
            partition: String::new(),
        };
        life.run(
            || {
                attempts.set(attempts.get() + 1);
                let n = attempts.get();
                async move {
                    if n < 3 {
                        Err(Error::Unexpected(format!("attempt {n} fails")))
                    } else {
                        Ok(StartupReport::default())
                    }
                }
            },
            || {
                if started_at.get().is_none() {
                    started_at.set(Some(began.elapsed()));
                }
                rounds.borrow_mut().push(began.elapsed());
                async { Ok::<_, Error>(()) }
            },
            |r| assert!(r.is_ok()),
            tokio::time::sleep(Duration::from_secs(25)),
        )
        .await;
        assert_eq!(attempts.get(), 3);
        // Two backoffs (0.5 s then 1 s, equal jitter: at least half of each).
        let started = started_at.get().expect("start-up succeeded");
        assert!(
            started >= Duration::from_millis(750) && started <= Duration::from_millis(1500),
            "{started:?}"
        );
        let rounds = rounds.into_inner();
        assert_eq!(rounds.len(), 3, "{rounds:?}");
        assert_eq!(rounds[0], started);
        assert_eq!(rounds[1] - rounds[0], Duration::from_secs(10));
        assert_eq!(rounds[2] - rounds[1], Duration::from_secs(10));
        assert_eq!(began.elapsed(), Duration::from_secs(25));

        // A final error ends start-up: no round runs, and the loop returns at once.
        let rounds = Cell::new(0);
        life.run(
            || async { Err(Error::Config("bad".into())) },
            || {
                rounds.set(rounds.get() + 1);
                async { Ok::<_, Error>(()) }
            },
            |_| {},
            std::future::pending(),
        )
        .await;
        assert_eq!(rounds.get(), 0);
    }
}
