//! `consul-ecs health-sync`: mirror ECS container health into Consul TTL checks for the
//! life of the task, and clean up on SIGTERM.
//!
//! Wiring only: the loop and the shutdown are `mesh_task::run_health_sync`, the decisions
//! `mesh_task::HealthSync`.

use tracing::{error, info};

use crate::cli::HealthSyncArgs;
use crate::cmd::{consul_clients, stop_signal};
use crate::exit;

pub fn run(args: &HealthSyncArgs, cfg: &config::Config) -> i32 {
    super::block_on("health-sync", health_sync(args, cfg))
}

async fn health_sync(args: &HealthSyncArgs, cfg: &config::Config) -> i32 {
    // Handlers first: a SIGTERM that arrives while we start up must still run the shutdown.
    let stop = match stop_signal() {
        Ok(stop) => stop,
        Err(e) => {
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
        .then(|| consul::TokenSource::OwnFile(cfg.service_token_path()));
    let agent = match consul_clients::agent(token) {
        Ok(client) => client,
        Err(e) => {
            error!("health-sync: {e:#}");
            return exit::USAGE;
        }
    };
    let logout = cfg.login_enabled().then(|| mesh_task::TokenLogout {
        server: consul_clients::server(cfg).map_err(|e| format!("{e:#}")),
        tokens: vec![
            ("service token", cfg.service_token_path()),
            ("client token", cfg.client_token_path()),
        ],
    });
    let peers = mesh_task::SyncPeers {
        metadata,
        agent,
        logout,
    };
    let settings = mesh_task::SyncSettings {
        poll_interval: args.poll_interval,
        reassert_interval: args.reassert_interval,
        shutdown_timeout: args.shutdown_timeout,
    };
    let report = mesh_task::run_health_sync(cfg, peers, &settings, stop).await;
    if report.failures.is_empty() {
        info!("health-sync shut down cleanly");
        exit::OK
    } else {
        for failure in &report.failures {
            error!("{failure}");
        }
        error!(
            "health-sync shutdown: {} step(s) failed",
            report.failures.len()
        );
        exit::RUNTIME
    }
}
