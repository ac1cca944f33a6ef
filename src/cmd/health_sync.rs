//! `consul-ecs health-sync`: adapter over `task::health_sync`.

use task::health_sync::Outcome;

use crate::cli::HealthSyncArgs;
use crate::exit;

pub fn run(args: &HealthSyncArgs, cfg: config::LoadedConfig) -> i32 {
    let settings = mesh_task::SyncSettings {
        poll_interval: args.poll_interval,
        reassert_interval: args.reassert_interval,
        shutdown_timeout: args.shutdown_timeout,
    };
    super::block_on(async move {
        match task::health_sync::run(cfg, settings).await {
            Outcome::Clean => exit::OK,
            Outcome::Unusable => exit::USAGE,
            Outcome::ShutdownFailed(_) | Outcome::NoSignals => exit::RUNTIME,
        }
    })
}
