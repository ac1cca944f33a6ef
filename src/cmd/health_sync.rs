//! `consul-ecs health-sync`: mirror ECS container health into Consul TTL checks for the
//! life of the task, and clean up on SIGTERM.
//!
//! Wiring only: the loop and the shutdown are `mesh_task::run_health_sync`, the decisions
//! `mesh_task::HealthSync`.

use tracing::{error, info, warn};

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
    let agent_for_diagnosis = agent.clone();
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
    let on_refused = explain_first_refusal(cfg, &agent_for_diagnosis);
    let report = mesh_task::run_health_sync_observed(cfg, peers, &settings, stop, on_refused).await;
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

/// The first check write Consul refuses (403) is explained once, in the background while the
/// sync goes on: which identity the token carries against the service whose checks these
/// are and, when the task logged in, what of the task role made it so.
fn explain_first_refusal(
    cfg: &config::Config,
    agent: &consul::Client,
) -> mesh_task::OnRefusedWrite {
    let cfg = cfg.clone();
    let agent = agent.clone();
    let mut explained = false;
    Box::new(move |check_id, refusal| {
        let consul::ConsulError::Status {
            method,
            path,
            status,
            body,
        } = refusal
        else {
            return;
        };
        if std::mem::replace(&mut explained, true) {
            return;
        }
        let refusal = consul::ConsulError::Status {
            method: method.clone(),
            path: path.clone(),
            status: *status,
            body: body.clone(),
        };
        let what = format!("update check {check_id:?}");
        let (cfg, agent) = (cfg.clone(), agent.clone());
        tokio::spawn(async move {
            let explanation = explain_refusal(&cfg, &agent, what, &refusal).await;
            error!("health-sync: {}", diagnose::Diagnosed::from(explanation));
        });
    })
}

async fn explain_refusal(
    cfg: &config::Config,
    agent: &consul::Client,
    what: String,
    refusal: &consul::ConsulError,
) -> iam_login::Explanation {
    let task = match ecs::MetadataClient::from_env() {
        Ok(metadata) => metadata.task_once().await.ok(),
        Err(_) => None,
    };
    let registrations = task
        .as_ref()
        .and_then(|task| mesh_task::build_registrations(cfg, task).ok());
    let expected = match &registrations {
        Some(registrations) => super::mesh_init::expected_identity(cfg, registrations),
        None => {
            warn!("the task metadata cannot be read to name this task's service");
            diagnose::Expected::new(cfg.login_method(), &cfg.service_name(""), None)
        }
    };
    super::refused_write::explain(cfg, task.as_ref(), agent, &expected, what, refusal).await
}
