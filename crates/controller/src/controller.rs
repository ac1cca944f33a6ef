//! The controller's life: read the config and the task metadata, reach the servers, set
//! up Consul (retrying until it works), then reconcile every interval until told to stop —
//! the v0.6.2 controller's loop (`acl_controller::controller::Life`).

use std::future::Future;

use acl_controller::controller::{
    log_failed_round, log_round_errors, read_metadata, startup_retry_policy, Life,
};
use acl_controller::{Cluster, EcsTasks, StartupReport};
use consul::{Client, TokenSource};
use tracing::{debug, info, warn};

use crate::round::{self, RoundReport};
use crate::servers::{ServerSettings, Servers};
use crate::settings::{ControllerConfig, Settings, RECONCILE_INTERVAL};
use crate::{startup, Error, Result};

/// A running controller: the servers, an ECS client, and what it manages.
#[derive(Debug)]
pub struct Controller {
    servers: Servers,
    ecs: EcsTasks,
    settings: Settings,
}

impl Controller {
    /// A controller for `settings`.
    pub fn new(servers: Servers, ecs: EcsTasks, settings: Settings) -> Controller {
        Controller {
            servers,
            ecs,
            settings,
        }
    }

    /// What it manages.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn consul(&self) -> acl_controller::Result<Client> {
        self.servers
            .client()
            .map_err(|e| acl_controller::Error::consul("the HTTP client of the server in use", e))
    }

    /// One attempt at start-up (docs/protocols.md §5.11).
    pub async fn start_up(&self) -> acl_controller::Result<StartupReport> {
        startup::run(&self.consul()?, &self.settings).await
    }

    /// One reconcile round (docs/protocols.md §5.12).
    pub async fn reconcile(&self) -> acl_controller::Result<RoundReport> {
        round::round(&self.consul()?, &self.ecs, &self.settings).await
    }

    /// Start-up, retried with jittered backoff until it succeeds, then a round every
    /// interval (the first at once), until `shutdown`; then the server watch stops.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let life = Life {
            name: "controller",
            interval: self.settings.interval,
            cluster: self.settings.cluster.arn.clone(),
            partition: self.settings.partition().unwrap_or("").to_string(),
        };
        life.run(|| self.start_up(), || self.reconcile(), log_round, shutdown)
            .await;
        self.servers.stop();
    }
}

/// Logs a round as the acl-controller does, with the catalog's counts in the summary and a
/// DEBUG line for each service left alone.
fn log_round(result: &acl_controller::Result<RoundReport>) {
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            log_failed_round(e);
            return;
        }
    };
    for id in &report.unowned_services {
        debug!(service_id = %id, "service on the node without task-id meta: left alone");
    }
    let busy = log_round_errors(&report.base) || !report.deregistered.is_empty();
    acl_controller::round_summary!(
        busy,
        &report.base,
        services = report.services,
        unowned_services = report.unowned_services.len(),
        deregistered = report.deregistered.len(),
    );
}

/// Everything the binary does, given the v0.10 config, the controller's token
/// (`CONSUL_HTTP_TOKEN`), the environment's CA PEM variables through `lookup`, and the task
/// metadata: settings checked first (a config error returns at once), then the cluster from
/// the metadata, the servers, the ECS client from the AWS environment, and
/// [`Controller::run`] until `shutdown`. Reading the metadata and reaching the servers are
/// retried with jittered backoff until they work or `shutdown` comes.
pub async fn run(
    config: &config::dataplane::Config,
    token: TokenSource,
    lookup: impl Fn(&str) -> Option<String>,
    metadata: ecs::MetadataClient,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let controller_config = ControllerConfig::from_config(config)?;
    if matches!(token, TokenSource::None) {
        warn!("CONSUL_HTTP_TOKEN is not set: the controller calls Consul without a token");
    }
    let server_settings = ServerSettings::new(&config.consul_servers, token, lookup)?;
    tokio::pin!(shutdown);
    let Some(task) = read_metadata(&metadata, &mut shutdown).await else {
        info!("stopping before the task metadata could be read");
        return Ok(());
    };
    let task = task?;
    let cluster = Cluster::from_metadata(&task)?;
    info!(cluster = %cluster.arn, "cluster determined");
    let policy = startup_retry_policy();
    let connect = retry::retry_if(
        &policy,
        "reach the Consul servers",
        Error::is_retryable,
        || Servers::connect(server_settings.clone()),
    );
    let servers = tokio::select! {
        r = connect => r.map_err(retry::RetryError::into_inner)?,
        () = &mut shutdown => {
            info!("stopping before the Consul servers could be reached");
            return Ok(());
        }
    };
    let ecs = EcsTasks::from_env(&cluster.region).await;
    let settings = Settings {
        config: controller_config,
        node_address: task.node_ip(),
        cluster,
        interval: RECONCILE_INTERVAL,
    };
    Controller::new(servers, ecs, settings).run(shutdown).await;
    Ok(())
}
