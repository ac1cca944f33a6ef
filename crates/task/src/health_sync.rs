//! health-sync: mirror ECS container health into Consul's checks for the life of the task,
//! and clean up on SIGTERM. The loop is the layout's ([`Layout::sync_checks`]); this is its
//! start (the context, as soon as the task metadata names the task) and its end.
//!
//! [`Layout::sync_checks`]: crate::Layout::sync_checks

use tracing::{error, info};

use crate::context::{ConsulClients, TaskContext, TokenFiles};
use crate::layout::{Layout, Peers, ShutdownReport};
use crate::runtime::stop_signal;

/// How health-sync ended. Every outcome has been logged.
#[derive(Debug)]
pub enum Outcome {
    /// Stopped, and every shutdown step worked.
    Clean,
    /// Stopped, and these shutdown steps failed (each was attempted).
    ShutdownFailed(Vec<String>),
    /// The environment cannot be used (no task metadata URI, unusable Consul settings);
    /// nothing was done.
    Unusable,
    /// The signal handlers could not be installed; nothing was done.
    NoSignals,
}

/// Runs health-sync for the task `config` describes, in the layout its keys choose, until
/// SIGTERM or SIGINT, then shuts down.
pub async fn run(config: config::LoadedConfig, settings: mesh_task::SyncSettings) -> Outcome {
    // Handlers first: a SIGTERM that arrives while we start up must still run the shutdown.
    let stop = match stop_signal() {
        Ok(stop) => stop,
        Err(e) => {
            error!("health-sync: cannot install signal handlers: {e}");
            return Outcome::NoSignals;
        }
    };
    let metadata = match ecs::MetadataClient::from_env() {
        Ok(client) => client,
        Err(e) => {
            error!("health-sync: {e}");
            return Outcome::Unusable;
        }
    };
    let report = match config {
        config::LoadedConfig::Agent(config) => {
            match agent_health_sync(config, metadata, &settings, stop).await {
                Ok(report) => report,
                Err(outcome) => return outcome,
            }
        }
        config::LoadedConfig::Dataplane(config) => {
            crate::layout::dataplane_sync::run(config, metadata, &settings, stop).await
        }
    };
    outcome(report)
}

/// The agent layout (v0.6.2): the context as soon as the task metadata names the task, the
/// layout's loop, and its shutdown.
async fn agent_health_sync(
    config: config::Config,
    metadata: ecs::MetadataClient,
    settings: &mesh_task::SyncSettings,
    stop: impl std::future::Future<Output = &'static str>,
) -> Result<ShutdownReport, Outcome> {
    let tokens = TokenFiles::of(&config);
    let clients = ConsulClients::of(&config, &tokens);
    if let Err(e) = &clients.agent {
        error!("health-sync: {}", boundary::error_chain(e.as_ref()));
        return Err(Outcome::Unusable);
    }
    let peers = Peers {
        metadata,
        clients,
        tokens,
    };
    let layout = Layout::of(&config);
    tokio::pin!(stop);
    // The task metadata names the checks. Until it can be read, keep trying; a stop in the
    // meantime still logs the tokens out, so a task that never got going leaks none.
    let known = tokio::select! {
        signal = &mut stop => Err(signal),
        ctx = TaskContext::when_known(&config, &peers) => Ok(ctx),
    };
    Ok(match known {
        Ok(Ok(ctx)) => {
            ctx.record_in_span();
            ctx.layout.sync_checks(&ctx, settings, &mut stop).await
        }
        Ok(Err(e)) => {
            error!(error = %e, "cannot name the checks to sync; waiting for SIGTERM to log the tokens out");
            let signal = stop.await;
            info!(signal, "stopping");
            layout.shut_down(&peers, settings.shutdown_timeout).await
        }
        Err(signal) => {
            info!(signal, "stopping before the task metadata could be read");
            layout.shut_down(&peers, settings.shutdown_timeout).await
        }
    })
}

/// How the shutdown went, logged, as the run's outcome.
fn outcome(report: ShutdownReport) -> Outcome {
    if report.failures.is_empty() {
        info!("health-sync shut down cleanly");
        Outcome::Clean
    } else {
        for failure in &report.failures {
            error!("{failure}");
        }
        error!(
            "health-sync shutdown: {} step(s) failed",
            report.failures.len()
        );
        Outcome::ShutdownFailed(report.failures)
    }
}
