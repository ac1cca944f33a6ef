//! health-sync in the dataplane layout (consul-ecs v0.10): the task's catalog checks on
//! the servers follow ECS container health; at the end the task leaves the catalog.
//!
//! 1. Start: `GET /v1/health/checks/<service>?filter=ServiceID == "<id>"` for each of the
//!    task's services tells what Consul holds, so an unchanged check is not written again.
//! 2. Every poll: read the task metadata, and write every check whose status changed, all
//!    in **one** `PUT /v1/catalog/register` (node, `SkipNodeUpdate`, the checks) —
//!    [`dataplane::DataplaneHealth`] decides.
//! 3. On the stop signal: every check critical in one write, then the task metadata polled
//!    until consul-dataplane has stopped (or is gone), then the service deregistered, then
//!    the proxy (or the gateway), then the token logged out. Every step runs even when one
//!    before failed; each failure is one line of the report.
//!
//! The shape is mesh-task's agent loop (every wait races the stop signal, so a SIGTERM
//! cancels a request in flight); the retries are the `retry` crate's.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use consul::{CatalogDeregistration, CatalogRegistration, QueryOptions};
use dataplane::{CatalogRegistrations, CheckWrite, DataplaneHealth};
use tokio::time::Instant;
use tracing::{info, warn};

use super::ShutdownReport;

/// How long the start-up read of the checks is retried (server errors, a server not yet
/// reachable) before the sync starts without it, writing every check once.
const START_READ_DEADLINE: Duration = Duration::from_secs(30);

/// The client of the Consul server currently connected, with the task's token. Asked again
/// for every request, so a change of server (the gRPC watch) takes effect at once.
pub type CurrentServer = Box<dyn Fn() -> consul::Client>;

/// Logs the task's token out (over gRPC, `ACLService.Logout`); run once, at the very end.
pub type Logout = Pin<Box<dyn Future<Output = Result<(), String>>>>;

/// What the dataplane health-sync talks to.
pub struct DataplanePeers {
    /// The task metadata endpoint.
    pub metadata: ecs::MetadataClient,
    /// The current server's HTTP client.
    pub server: CurrentServer,
    /// The logout, when the task logged in.
    pub logout: Option<Logout>,
}

/// The task as health-sync in this layout needs it.
#[derive(Debug, Clone, Copy)]
pub struct DataplaneTask<'a> {
    /// What mesh-init registered.
    pub registrations: &'a CatalogRegistrations,
    /// `healthSyncContainers`.
    pub health_sync_containers: &'a [String],
}

impl DataplaneTask<'_> {
    /// The query options of the task's services: their namespace and partition.
    fn opts(&self) -> QueryOptions {
        let mut opts = QueryOptions::default();
        if let Some(ns) = self.registrations.namespace() {
            opts = opts.with_namespace(ns);
        }
        if let Some(partition) = self.registrations.partition() {
            opts = opts.with_partition(partition);
        }
        opts
    }

    /// One register call that writes `writes` onto the task's checks as mesh-init
    /// registered them.
    fn check_update(&self, writes: &[CheckWrite]) -> CatalogRegistration {
        let registered: BTreeMap<&str, &consul::HealthCheck> = self
            .registrations
            .services()
            .flat_map(|s| s.checks.iter())
            .map(|c| (c.check_id.as_str(), c))
            .collect();
        let checks = writes
            .iter()
            .filter_map(|write| {
                let mut check = (*registered.get(write.check_id.as_str())?).clone();
                check.status = write.status.as_str().to_owned();
                check.output = write.output.clone();
                Some(check)
            })
            .collect();
        CatalogRegistration {
            node: self.registrations.node().to_owned(),
            skip_node_update: true,
            partition: self
                .registrations
                .partition()
                .unwrap_or_default()
                .to_owned(),
            checks,
            ..Default::default()
        }
    }
}

/// Runs health-sync for `task` until `stop` resolves (with the signal's name), then shuts
/// down. Without `-shutdown-timeout` bounding the wait for consul-dataplane (which ends
/// when the applications have; ECS's stop timeout bounds the task), the steps after it share
/// `settings.shutdown_timeout`: the deregistrations the first half, the logout the rest.
pub async fn sync_checks(
    task: DataplaneTask<'_>,
    peers: DataplanePeers,
    settings: &mesh_task::SyncSettings,
    stop: impl Future<Output = &'static str>,
) -> ShutdownReport {
    tokio::pin!(stop);
    let mut health = DataplaneHealth::new(task.registrations, task.health_sync_containers);
    let signal = tokio::select! {
        signal = &mut stop => Some(signal),
        () = read_consuls_view(task, &peers, &mut health) => None,
    };
    let signal = match signal {
        Some(signal) => signal,
        None => {
            info!(checks = health.checks().len(), "health-sync started");
            run_until_stopped(task, &peers, &mut health, settings, &mut stop).await
        }
    };
    info!(signal, "stopping");
    shut_down(task, peers, &health, settings).await
}

/// Notes what Consul holds for each check, retried until [`START_READ_DEADLINE`].
async fn read_consuls_view(
    task: DataplaneTask<'_>,
    peers: &DataplanePeers,
    health: &mut DataplaneHealth,
) {
    let policy = retry::RetryPolicy::default().with_deadline(START_READ_DEADLINE);
    for entry in task.registrations.services() {
        let service = &entry.service;
        let opts = task
            .opts()
            .with_filter(format!("ServiceID == `{}`", service.id));
        let read = consul::retry(&policy, "read the task's checks", || {
            let client = (peers.server)();
            let opts = opts.clone();
            async move { client.health_checks(&service.service, &opts).await }
        })
        .await;
        match read {
            Ok(checks) => {
                for check in checks {
                    let status = match check.status.as_str() {
                        "passing" => consul::CheckStatus::Passing,
                        "warning" => consul::CheckStatus::Warning,
                        _ => consul::CheckStatus::Critical,
                    };
                    health.assume_written(&check.check_id, status, &check.output);
                }
            }
            Err(e) => warn!(
                service = %service.id,
                error = %e.last,
                "cannot read the checks from Consul; every check is written once"
            ),
        }
    }
}

/// Polls until `stop`; returns the signal.
async fn run_until_stopped(
    task: DataplaneTask<'_>,
    peers: &DataplanePeers,
    health: &mut DataplaneHealth,
    settings: &mesh_task::SyncSettings,
    stop: &mut Pin<&mut impl Future<Output = &'static str>>,
) -> &'static str {
    let mut ticker = tokio::time::interval(settings.poll_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_task = None;
    loop {
        tokio::select! {
            signal = stop.as_mut() => return signal,
            _ = ticker.tick() => {}
        }
        tokio::select! {
            // Dropping the poll cancels its in-flight request.
            signal = stop.as_mut() => return signal,
            () = poll_once(task, peers, health, &mut last_task) => {}
        }
    }
}

/// One poll: read the task (decoded again only when its document changed since
/// `last_task`), write what changed in one call.
async fn poll_once(
    task: DataplaneTask<'_>,
    peers: &DataplanePeers,
    health: &mut DataplaneHealth,
    last_task: &mut Option<ecs::LastTask>,
) {
    let metadata = match peers.metadata.task_once_cached(last_task).await {
        Ok(metadata) => metadata,
        Err(e) => {
            warn!(error = %e, "reading task metadata failed; retrying on the next poll");
            return;
        }
    };
    let writes = health.plan(metadata);
    if writes.is_empty() {
        return;
    }
    match write_checks(task, peers, &writes).await {
        Ok(()) => {
            for write in &writes {
                info!(check = %write.check_id, status = write.status.as_str(), "check updated");
            }
            health.record_written(&writes);
        }
        Err(e) => {
            warn!(error = %e, checks = writes.len(), "updating the checks failed; retrying on the next poll")
        }
    }
}

async fn write_checks(
    task: DataplaneTask<'_>,
    peers: &DataplanePeers,
    writes: &[CheckWrite],
) -> Result<(), consul::ConsulError> {
    (peers.server)()
        .catalog_register(&task.check_update(writes), &task.opts())
        .await
}

/// The end: checks critical, consul-dataplane awaited, service then proxy deregistered,
/// token logged out; each step attempted whatever happened before.
async fn shut_down(
    task: DataplaneTask<'_>,
    peers: DataplanePeers,
    health: &DataplaneHealth,
    settings: &mesh_task::SyncSettings,
) -> ShutdownReport {
    let mut report = ShutdownReport::default();
    let critical = health.shutdown_writes();
    match write_checks(task, &peers, &critical).await {
        Ok(()) => info!(checks = critical.len(), "every check set critical"),
        Err(e) => report.failures.push(format!(
            "set the checks critical: {}",
            boundary::error_chain(&e)
        )),
    }

    info!("waiting for consul-dataplane to stop");
    peers
        .metadata
        .poll_until(settings.poll_interval, |metadata| {
            metadata
                .container(dataplane::DATAPLANE_CONTAINER)
                .is_none_or(ecs::Container::is_stopped)
        })
        .await;
    info!("consul-dataplane has stopped; leaving the catalog");

    let started = Instant::now();
    let deregister_by = started + settings.shutdown_timeout / 2;
    for entry in task.registrations.services() {
        let what = format!("deregister {:?}", entry.service.id);
        let remaining = deregister_by.saturating_duration_since(Instant::now());
        let policy = retry::RetryPolicy::default().with_deadline(remaining);
        let body = CatalogDeregistration {
            node: task.registrations.node().to_owned(),
            service_id: entry.service.id.clone(),
            namespace: entry.service.namespace.clone(),
            partition: entry.service.partition.clone(),
            ..Default::default()
        };
        let done = consul::retry(&policy, &what, || {
            let client = (peers.server)();
            let (body, opts) = (body.clone(), task.opts());
            async move { client.catalog_deregister(&body, &opts).await }
        })
        .await;
        match done {
            Ok(()) => info!(id = %entry.service.id, "deregistered"),
            Err(e) => report
                .failures
                .push(format!("{what}: {}", boundary::error_chain(&e.last))),
        }
    }

    if let Some(logout) = peers.logout {
        let budget =
            (started + settings.shutdown_timeout).saturating_duration_since(Instant::now());
        match tokio::time::timeout(budget, logout).await {
            Ok(Ok(())) => info!("logged out"),
            Ok(Err(e)) => report.failures.push(format!("log out: {e}")),
            Err(_) => report
                .failures
                .push(format!("log out: did not finish within {budget:?}")),
        }
    }
    report
}

/// How long health-sync tries to reach the servers and log in before it gives up.
const START_DEADLINE: Duration = Duration::from_secs(120);

/// health-sync for a v0.10 config, from the start: the task metadata (read until it can
/// be), the task's context, a server connection (followed through the gRPC watch unless
/// `skipServerWatch`), a token — `CONSUL_HTTP_TOKEN`, or with `consulLogin.enabled` a login
/// of its own over gRPC, as consul-ecs v0.10's health-sync does — then [`sync_checks`],
/// which ends with that token logged out. A start that fails is reported (health-sync
/// registered nothing, so nothing else is undone); a stop before the servers are reached
/// ends the run, one during the login is the sync's to handle (the whole shutdown).
pub async fn run(
    config: config::dataplane::Config,
    metadata: ecs::MetadataClient,
    settings: &mesh_task::SyncSettings,
    stop: impl Future<Output = &'static str>,
) -> ShutdownReport {
    tokio::pin!(stop);
    // A stop ends the wait for the task metadata and the servers (nothing to undo yet); it
    // does not cut a login short, whose token would then be left behind: a stop during the
    // login is seen by the sync's first wait, which runs the whole shutdown.
    let connected = tokio::select! {
        signal = &mut stop => {
            info!(signal, "stopping before health-sync could start");
            return ShutdownReport::default();
        }
        connected = connect(config, &metadata, settings) => connected,
    };
    let started = match connected {
        Ok(connected) => log_in_for_sync(connected).await,
        Err(e) => Err(e),
    };
    let started = match started {
        Ok(started) => Rc::new(started),
        Err(e) => {
            return ShutdownReport {
                failures: vec![format!("start: {e}")],
            };
        }
    };
    let peers = DataplanePeers {
        metadata,
        server: Started::current_server(&started),
        logout: Started::logout(&started),
    };
    let task = DataplaneTask {
        registrations: &started.ctx.registrations,
        health_sync_containers: &started.ctx.config.health_sync_containers,
    };
    let report = sync_checks(task, peers, settings, stop).await;
    started.connection.stop();
    report
}

/// What the start made: the context, the connection, the token and the HTTP client of the
/// server in use (with its address).
struct Started {
    ctx: super::dataplane::DataplaneContext,
    connection: consul_grpc::ServerConnection,
    token: Option<consul::Secret>,
    /// Whether `token` is this run's login (logged out at the end).
    logged_in: bool,
    http: std::cell::RefCell<(std::net::SocketAddr, consul::Client)>,
}

impl Started {
    /// The HTTP client of the server in use, made again when the watch moved to another.
    fn current_server(started: &Rc<Started>) -> CurrentServer {
        let started = Rc::clone(started);
        Box::new(move || {
            started
                .ctx
                .current_http(&started.connection, started.token.as_ref(), &started.http)
        })
    }

    /// The logout of this run's login, over gRPC to the server in use at the end.
    fn logout(started: &Rc<Started>) -> Option<Logout> {
        let started = Rc::clone(started);
        let token = started.token.clone().filter(|_| started.logged_in)?;
        Some(Box::pin(async move {
            let datacenter = started.ctx.config.login_datacenter().unwrap_or_default();
            started
                .connection
                .client()
                .logout(&token, datacenter)
                .await
                .map_err(|e| e.to_string())
        }))
    }
}

/// The context and the server connection, with the token the config chooses (not yet
/// obtained when it is a login).
struct Connected {
    ctx: super::dataplane::DataplaneContext,
    connection: consul_grpc::ServerConnection,
    choice: super::dataplane::TokenChoice,
}

/// The steps before the login: the task metadata (read until it can be: health-sync has
/// nothing to do before it), the context, the server connection (bounded).
async fn connect(
    config: config::dataplane::Config,
    metadata: &ecs::MetadataClient,
    settings: &mesh_task::SyncSettings,
) -> Result<Connected, crate::StepError> {
    use super::dataplane::{env_text, token_choice, DataplaneContext};
    use crate::error::{AtStep, Step};

    let task = metadata.poll_until(settings.poll_interval, |_| true).await;
    let region = env_text("AWS_REGION");
    let ctx =
        DataplaneContext::new(config, task, region.as_deref()).at(Step::BuildRegistrations)?;
    ctx.record_in_span();
    let choice = token_choice(&ctx)?;
    let connection = consul_grpc::ServerConnection::connect(
        ctx.connect_settings(START_DEADLINE)
            .map_err(consul_grpc::GrpcError::from)
            .at(Step::ConnectServers)?,
    )
    .await
    .at(Step::ConnectServers)?;
    Ok(Connected {
        ctx,
        connection,
        choice,
    })
}

/// The token (a login of its own, bounded, or the fixed one), the watch, and the HTTP
/// client of the server in use.
async fn log_in_for_sync(connected: Connected) -> Result<Started, crate::StepError> {
    use super::dataplane::{log_in, TokenChoice};
    use crate::error::{AtStep, Failure, Step};

    let Connected {
        ctx,
        connection,
        choice,
    } = connected;
    let (token, logged_in) = match choice {
        TokenChoice::Fixed(token) => (Some(token), false),
        TokenChoice::Anonymous => (None, false),
        TokenChoice::Login(spec) => {
            let login = log_in(&ctx, &connection, &spec, START_DEADLINE)
                .await
                .at(Step::LogIn)?;
            (Some(login.token.secret_id), true)
        }
    };
    connection.watch(token.clone());
    let http = ctx
        .http_in_use(&connection, token.as_ref())
        .map_err(Failure::HttpClient)
        .at(Step::ConnectServers)?;
    if let (true, Some(token)) = (logged_in, &token) {
        let server = ctx.current_http(&connection, Some(token), &http);
        if let Err(e) = iam_login::wait_for_replication(&server, token).await {
            // The token would outlive this run: log it out before giving up.
            let datacenter = ctx.config.login_datacenter().unwrap_or_default();
            super::dataplane::log_out(&connection.client(), token, datacenter).await;
            return Err(e).at(Step::WaitForReplication);
        }
    }
    Ok(Started {
        http,
        ctx,
        connection,
        token,
        logged_in,
    })
}
