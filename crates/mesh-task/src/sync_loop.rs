//! health-sync's life: wait for the task metadata, mirror ECS health into the TTL checks
//! every poll, re-check Consul's view now and then, and on the stop signal run the shutdown
//! (every check critical, both tokens logged out) within a time budget.
//!
//! The decisions (what to write, when) are [`crate::HealthSync`]'s; this module does the
//! I/O and the timing. Every wait races the stop signal, so a SIGTERM that arrives while a
//! request hangs cancels that request at once instead of waiting out its timeout.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use consul::{Client, QueryOptions};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use crate::{CheckUpdate, HealthSync, MeshError};

/// How often and how long health-sync does things.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSettings {
    /// Between two polls of the task metadata (v0.6.2: 1 s).
    pub poll_interval: Duration,
    /// Between two comparisons of Consul's check statuses with the ones written. Costs one
    /// `GET /v1/agent/checks`; writes happen only for checks that diverged.
    pub reassert_interval: Duration,
    /// The whole shutdown (checks critical, both logouts, in parallel) ends within this,
    /// well inside ECS's stop timeout (30 s by default) so the task is not SIGKILLed first.
    pub shutdown_timeout: Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            poll_interval: Duration::from_secs(1),
            reassert_interval: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// The tokens to log out at shutdown (when the task logged in).
#[derive(Debug)]
pub struct TokenLogout {
    /// The client for the Consul servers, or why it could not be built (reported at
    /// shutdown, where it matters, rather than stopping the sync).
    pub server: Result<Client, String>,
    /// What each token is (`service token`) and the file it is in.
    pub tokens: Vec<(&'static str, PathBuf)>,
}

/// What health-sync talks to.
#[derive(Debug)]
pub struct SyncPeers {
    /// The task metadata endpoint.
    pub metadata: ecs::MetadataClient,
    /// The local Consul agent (check updates).
    pub agent: Client,
    /// The tokens to log out at shutdown, if the task logged in.
    pub logout: Option<TokenLogout>,
}

/// How the shutdown went: one line per step that failed (empty when all worked).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// What failed and why; every step was attempted.
    pub failures: Vec<String>,
}

/// Told about each check write Consul refused with 403 (the token is unknown to Consul, or
/// lacks the right): the check's ID and the error. For explaining the refusal; the write is
/// retried on the next poll as any other failure.
pub type OnRefusedWrite = Box<dyn FnMut(&str, &consul::ConsulError)>;

/// Runs health-sync until `stop` resolves (with the name of the signal), then shuts down.
pub async fn run_health_sync(
    cfg: &config::Config,
    peers: SyncPeers,
    settings: &SyncSettings,
    stop: impl Future<Output = &'static str>,
) -> ShutdownReport {
    run_health_sync_observed(cfg, peers, settings, stop, Box::new(|_, _| {})).await
}

/// [`run_health_sync`], telling `on_refused` about every check write refused with 403.
pub async fn run_health_sync_observed(
    cfg: &config::Config,
    peers: SyncPeers,
    settings: &SyncSettings,
    stop: impl Future<Output = &'static str>,
    mut on_refused: OnRefusedWrite,
) -> ShutdownReport {
    tokio::pin!(stop);
    // The task metadata names the checks. Until it can be read, keep trying; a stop in the
    // meantime still logs the tokens out, so a task that never got going leaks none.
    let started = tokio::select! {
        signal = &mut stop => Err(signal),
        sync = read_task_until_known(cfg, &peers.metadata) => Ok(sync),
    };
    let mut sync = match started {
        Ok(Some(sync)) => sync,
        Ok(None) => {
            // The metadata can never name the checks: wait for the stop to log out.
            let signal = stop.await;
            info!(signal, "stopping");
            return shutdown(&peers, None, settings.shutdown_timeout).await;
        }
        Err(signal) => {
            info!(signal, "stopping before the task metadata could be read");
            return shutdown(&peers, None, settings.shutdown_timeout).await;
        }
    };
    info!(checks = sync.checks().len(), "health-sync started");

    let mut ticker = tokio::time::interval(settings.poll_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_reassert = Instant::now() + settings.reassert_interval;
    let mut reassert_now = false;
    let mut last_task = None;
    let signal = loop {
        tokio::select! {
            signal = &mut stop => break signal,
            _ = ticker.tick() => {}
        }
        if reassert_now || Instant::now() >= next_reassert {
            let poll = reassert(&peers.agent, &mut sync);
            tokio::select! {
                signal = &mut stop => break signal,
                verified = poll => {
                    reassert_now = !verified;
                    if verified {
                        next_reassert = Instant::now() + settings.reassert_interval;
                    }
                }
            }
        }
        let poll = poll_once(&peers, &mut sync, &mut last_task, &mut on_refused);
        tokio::select! {
            // Dropping the poll cancels its in-flight request.
            signal = &mut stop => break signal,
            all_written = poll => reassert_now |= !all_written,
        }
    };
    info!(signal, "stopping");
    shutdown(&peers, Some(&sync), settings.shutdown_timeout).await
}

/// Reads the task metadata until it names the checks, with jittered backoff (250 ms up to
/// 5 s). `None` when it never can (the task ARN has no task ID): retrying cannot help.
async fn read_task_until_known(
    cfg: &config::Config,
    metadata: &ecs::MetadataClient,
) -> Option<HealthSync> {
    let policy = retry::RetryPolicy {
        initial: Duration::from_millis(250),
        max: Duration::from_secs(5),
        deadline: Duration::MAX,
        ..retry::RetryPolicy::default()
    };
    let read = retry::retry_if(
        &policy,
        "read the task metadata",
        |e: &StartError| matches!(e, StartError::Metadata(_)),
        || async {
            let task = metadata.task_once().await.map_err(StartError::Metadata)?;
            HealthSync::new(cfg, &task).map_err(StartError::Task)
        },
    )
    .await;
    match read {
        Ok(sync) => Some(sync),
        Err(e) => {
            error!(error = %e, "cannot name the checks to sync; waiting for SIGTERM to log the tokens out");
            None
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error(transparent)]
    Metadata(ecs::EcsError),
    #[error(transparent)]
    Task(MeshError),
}

/// One poll: read the task (decoded again only when its document changed since `last_task`),
/// write what changed. Returns whether every write worked; a failed one makes the next poll
/// compare with Consul first, since an agent that was away may have come back with its checks
/// reset.
async fn poll_once(
    peers: &SyncPeers,
    sync: &mut HealthSync,
    last_task: &mut Option<ecs::LastTask>,
    on_refused: &mut OnRefusedWrite,
) -> bool {
    let task = match peers.metadata.task_once_cached(last_task).await {
        Ok(task) => task,
        Err(e) => {
            warn!(error = %e, "reading task metadata failed; retrying on the next poll");
            return true;
        }
    };
    let mut all_written = true;
    for update in sync.plan(task) {
        match write(&peers.agent, &update).await {
            Ok(()) => {
                info!(check = %update.check_id, status = %update.status.as_str(), "check updated");
                sync.record_success(&update);
            }
            Err(e) => {
                warn!(check = %update.check_id, error = %e, "updating the check failed; retrying on the next poll");
                if e.http_status() == Some(403) {
                    on_refused(&update.check_id, &e);
                }
                all_written = false;
            }
        }
    }
    if all_written {
        debug!("poll done");
    }
    all_written
}

/// Reads the agent's checks and forgets the ones that diverged from what was written.
/// Returns whether Consul could be asked.
async fn reassert(agent: &Client, sync: &mut HealthSync) -> bool {
    match agent.agent_checks(&QueryOptions::default()).await {
        Ok(checks) => {
            let statuses: BTreeMap<String, String> = checks
                .into_iter()
                .map(|(id, check)| (id, check.status))
                .collect();
            for check_id in sync.forget_diverged(&statuses) {
                warn!(check = %check_id, "Consul's status differs from the one written; writing it again");
            }
            true
        }
        Err(e) => {
            warn!(error = %e, "cannot read the agent's checks; comparing again on the next poll");
            false
        }
    }
}

async fn write(agent: &Client, update: &CheckUpdate) -> Result<(), consul::ConsulError> {
    agent
        .agent_check_update(
            &update.check_id,
            update.status,
            &update.output,
            &QueryOptions::default(),
        )
        .await
}

/// Every check critical, then every token logged out, within `budget`. The checks come
/// first because the agent writes them with the service token: logged out first, the writes
/// would be refused. The checks get the first half of the budget (all at once), the
/// logouts the rest (all at once); each step is attempted even when another fails, and a
/// step still running at the end of its half is abandoned and reported. Without `sync` (the
/// task metadata was never read) the checks cannot be named, which counts as a failure, but
/// the tokens are still logged out.
pub async fn shutdown(
    peers: &SyncPeers,
    sync: Option<&HealthSync>,
    budget: Duration,
) -> ShutdownReport {
    let started = Instant::now();
    let mut report = ShutdownReport::default();
    let mut checks = Steps::default();
    match sync {
        Some(sync) => {
            for update in sync.shutdown_updates() {
                let agent = peers.agent.clone();
                checks.spawn(
                    format!("set check {} critical", update.check_id),
                    async move { write(&agent, &update).await.map_err(|e| e.to_string()) },
                );
            }
        }
        None => report.failures.push(
            "set the checks critical: the task metadata was never read, so they are unknown".into(),
        ),
    }
    checks.finish(started + budget / 2, &mut report).await;
    let mut logouts = Steps::default();
    if let Some(logout) = &peers.logout {
        match &logout.server {
            Ok(server) => {
                for (what, path) in &logout.tokens {
                    let (server, path) = (server.clone(), path.clone());
                    let step = format!("log out the {what} ({})", path.display());
                    logouts.spawn(step, async move {
                        iam_login::logout_token_file(&server, &path)
                            .await
                            .map_err(|e| boundary::error_chain(&e))
                    });
                }
            }
            Err(e) => report.failures.push(format!("log out the tokens: {e}")),
        }
    }
    logouts.finish(started + budget, &mut report).await;
    report
}

/// Shutdown steps running at once, each named for the report.
#[derive(Default)]
struct Steps {
    running: JoinSet<(String, Result<(), String>)>,
    names: Vec<String>,
}

impl Steps {
    fn spawn(
        &mut self,
        name: String,
        step: impl Future<Output = Result<(), String>> + Send + 'static,
    ) {
        self.names.push(name.clone());
        self.running.spawn(async move { (name, step.await) });
    }

    /// Waits for every step until `deadline`; records failures and the steps abandoned.
    async fn finish(mut self, deadline: Instant, report: &mut ShutdownReport) {
        let allowed = deadline.saturating_duration_since(Instant::now());
        loop {
            match tokio::time::timeout_at(deadline, self.running.join_next()).await {
                Ok(Some(Ok((step, result)))) => {
                    self.names.retain(|name| name != &step);
                    match result {
                        Ok(()) => info!("{step}: done"),
                        Err(e) => report.failures.push(format!("{step}: {e}")),
                    }
                }
                Ok(Some(Err(join))) => report
                    .failures
                    .push(format!("a shutdown step failed: {join}")),
                Ok(None) => break,
                Err(_) => {
                    self.running.abort_all();
                    for step in self.names.drain(..) {
                        report
                            .failures
                            .push(format!("{step}: did not finish within {allowed:?}"));
                    }
                    break;
                }
            }
        }
    }
}
