//! `consul-ecs mesh-init`: adapter over `task::mesh_init`.

use task::mesh_init::{MeshInitSettings, Outcome};

use crate::cli::MeshInitArgs;
use crate::exit;

pub fn run(args: &MeshInitArgs, cfg: config::LoadedConfig) -> i32 {
    if let config::LoadedConfig::Agent(agent) = &cfg {
        if let Err(e) = agent.validate_for_mesh_init() {
            tracing::error!("{}: {e}", config::CONFIG_ENV);
            return exit::USAGE;
        }
    }
    let settings = MeshInitSettings {
        resolv_conf: args.resolv_conf.clone(),
        iptables: args.iptables.clone(),
        ..MeshInitSettings::new(args.login_timeout, args.register_timeout)
    };
    super::block_on(async move {
        match task::mesh_init::run(cfg, settings).await {
            Outcome::Completed => exit::OK,
            Outcome::Failed(_) | Outcome::NoSignals(_) => exit::RUNTIME,
            Outcome::Stopped(signal) => task::runtime::exit_code_for_signal(signal),
        }
    })
}
