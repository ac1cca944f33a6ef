//! `consul-ecs health-sync`: mirror ECS container health into Consul TTL checks for the
//! life of the task, and clean up on SIGTERM.
//!
//! Wiring only: the state machine (what to write, when) is `mesh_task::HealthSync`.

use std::time::Duration;

use anyhow::{Context, Result};
use consul::{Client, QueryOptions, Secret, TokenSource};
use mesh_task::HealthSync;
use tokio::signal::unix::{signal, SignalKind};
use tracing::{debug, error, info, warn};

use crate::cli::HealthSyncArgs;
use crate::cmd::consul_clients;
use crate::exit;

pub fn run(args: &HealthSyncArgs, cfg: &config::Config) -> i32 {
    super::block_on("health-sync", health_sync(args, cfg))
}

async fn health_sync(args: &HealthSyncArgs, cfg: &config::Config) -> i32 {
    // Handlers first: a SIGTERM that arrives while we start up must still run the shutdown.
    let (mut term, mut interrupt) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(t), Ok(i)) => (t, i),
        (Err(e), _) | (_, Err(e)) => {
            error!("health-sync: cannot install signal handlers: {e}");
            return exit::RUNTIME;
        }
    };
    let metadata = match ecs::MetadataClient::from_env() {
        Ok(client) => client,
        Err(e) => {
            error!("health-sync: {e}");
            return exit::USAGE;
        }
    };
    let token = cfg
        .login_enabled()
        .then(|| TokenSource::File(cfg.service_token_path()));
    let agent = match consul_clients::agent(token) {
        Ok(client) => client,
        Err(e) => {
            error!("health-sync: {e:#}");
            return exit::USAGE;
        }
    };

    // The task metadata names the checks. Until it can be read, keep trying; a SIGTERM in
    // the meantime still logs the tokens out, so a task that never got going leaks none.
    let mut backoff = Duration::from_millis(250);
    let sync = loop {
        match read_task(&metadata, cfg).await {
            Ok(sync) => break Some(sync),
            Err(e) => {
                warn!(error = %format!("{e:#}"), retry_in = ?backoff, "cannot read the task metadata yet")
            }
        }
        tokio::select! {
            _ = term.recv() => { info!("SIGTERM received"); break None; }
            _ = interrupt.recv() => { info!("SIGINT received"); break None; }
            _ = tokio::time::sleep(backoff) => backoff = (backoff * 2).min(Duration::from_secs(5)),
        }
    };
    let Some(mut sync) = sync else {
        return shutdown(cfg, &agent, None).await;
    };
    info!(checks = sync.checks().len(), "health-sync started");

    let mut ticker = tokio::time::interval(args.poll_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = term.recv() => { info!("SIGTERM received"); break; }
            _ = interrupt.recv() => { info!("SIGINT received"); break; }
            _ = ticker.tick() => poll(&metadata, &agent, &mut sync).await,
        }
    }
    shutdown(cfg, &agent, Some(&sync)).await
}

async fn read_task(metadata: &ecs::MetadataClient, cfg: &config::Config) -> Result<HealthSync> {
    let task = metadata.task().await.context("read task metadata")?;
    Ok(HealthSync::new(cfg, &task)?)
}

/// One sync: read the task, write what changed. A failed write is retried on the next
/// poll; after one, every status is written again, because a Consul agent that was away may
/// have come back with its checks reset.
async fn poll(metadata: &ecs::MetadataClient, agent: &Client, sync: &mut HealthSync) {
    let task = match metadata.task_once().await {
        Ok(task) => task,
        Err(e) => {
            warn!(error = %e, "reading task metadata failed; retrying on the next poll");
            return;
        }
    };
    let mut failed = false;
    for update in sync.plan(&task) {
        match agent
            .agent_check_update(
                &update.check_id,
                update.status,
                &update.output,
                &QueryOptions::default(),
            )
            .await
        {
            Ok(()) => {
                info!(check = %update.check_id, status = %update.status.as_str(), "check updated");
                sync.record_success(&update);
            }
            Err(e) => {
                warn!(check = %update.check_id, error = %e, "updating the check failed; retrying on the next poll");
                failed = true;
            }
        }
    }
    if failed {
        sync.forget_all();
    } else {
        debug!("poll done");
    }
}

/// On SIGTERM: every check critical, then both tokens logged out. Every step is attempted
/// even when one fails; the exit code says whether all worked, the log says which did not.
/// Without `sync` (the task metadata was never read) the checks cannot be named, which
/// counts as a failure, but the tokens are still logged out.
async fn shutdown(cfg: &config::Config, agent: &Client, sync: Option<&HealthSync>) -> i32 {
    let mut failures: Vec<String> = Vec::new();
    let updates = match sync {
        Some(sync) => sync.shutdown_updates(),
        None => {
            failures.push(
                "set the checks critical: the task metadata was never read, so they are unknown"
                    .into(),
            );
            Vec::new()
        }
    };
    for update in updates {
        match agent
            .agent_check_update(
                &update.check_id,
                update.status,
                &update.output,
                &QueryOptions::default(),
            )
            .await
        {
            Ok(()) => info!(check = %update.check_id, "check set critical"),
            Err(e) => failures.push(format!("set check {} critical: {e}", update.check_id)),
        }
    }
    if cfg.login_enabled() {
        match consul_clients::server(cfg) {
            Ok(server) => {
                for (what, path) in [
                    ("service token", cfg.service_token_path()),
                    ("client token", cfg.client_token_path()),
                ] {
                    if let Err(e) = logout(&server, &path).await {
                        failures.push(format!("log out the {what} ({}): {e:#}", path.display()));
                    } else {
                        info!(token = what, "logged out");
                    }
                }
            }
            Err(e) => failures.push(format!("log out both tokens: {e:#}")),
        }
    }
    if failures.is_empty() {
        info!("health-sync shut down cleanly");
        exit::OK
    } else {
        for failure in &failures {
            error!("{failure}");
        }
        error!("health-sync shutdown: {} step(s) failed", failures.len());
        exit::RUNTIME
    }
}

async fn logout(server: &Client, path: &std::path::Path) -> Result<()> {
    let text = std::fs::read_to_string(path).context("read the token file")?;
    iam_login::logout(server, &Secret::new(text.trim())).await?;
    Ok(())
}
