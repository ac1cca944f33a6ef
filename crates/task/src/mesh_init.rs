//! mesh-init: the first container of every mesh task.
//!
//! Read the task metadata, then the layout's steps. The agent layout (v0.6.2): build the
//! context, log in (`iam-login`), register and write the proxy configuration through the
//! task's [`Layout`](crate::Layout), copy the binary into the bootstrap directory. The
//! dataplane layout (v0.10): [`crate::layout::dataplane`]. Every step that talks to something that may be briefly
//! unavailable is retried with jittered backoff up to a deadline. A failure, or
//! SIGTERM/SIGINT at any point, ends the run after undoing what would otherwise leak: the
//! token is logged out and the files this run wrote are removed.

use std::cell::RefCell;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use consul::{Client, Secret};
use tracing::{error, info, warn};

use crate::binary_copy::copy_executable_off_thread;
use crate::clients::ClientError;
use crate::context::{ConsulClients, LoginSpecError, TaskContext, TokenFiles};
use crate::error::{AtStep, Failure, Step, StepError};
use crate::runtime::stop_signal;

/// mesh-init's deadlines, and what the dataplane layout changes in the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshInitSettings {
    /// Give up logging in after this long (v0.6.2 retried forever).
    pub login_timeout: Duration,
    /// Give up registering (and reading the proxy back) after this long; in the dataplane
    /// layout also the first connection to the servers.
    pub register_timeout: Duration,
    /// Dataplane layout: the resolver configuration Consul DNS goes into
    /// (`/etc/resolv.conf`).
    pub resolv_conf: PathBuf,
    /// Dataplane layout: the `iptables` program the transparent proxy's rules are applied
    /// with (`iptables` from `PATH`).
    pub iptables: std::ffi::OsString,
}

impl MeshInitSettings {
    /// The defaults of the flags: 60 s to log in, 2 min to register, `/etc/resolv.conf`,
    /// `iptables`.
    pub fn new(login_timeout: Duration, register_timeout: Duration) -> MeshInitSettings {
        MeshInitSettings {
            login_timeout,
            register_timeout,
            resolv_conf: PathBuf::from("/etc/resolv.conf"),
            iptables: "iptables".into(),
        }
    }
}

/// How mesh-init ended. Every outcome has been logged.
#[derive(Debug)]
pub enum Outcome {
    /// The task is registered and the bootstrap directory is ready.
    Completed,
    /// A step failed; what it had done is undone.
    Failed(StepError),
    /// SIGTERM or SIGINT (the name) arrived first; what was done is undone.
    Stopped(&'static str),
    /// The signal handlers could not be installed; nothing was done.
    NoSignals(std::io::Error),
}

/// What this run left behind so far, to undo when it does not complete: the token it
/// logged in with, the files it wrote, and the files it changed (with their old content).
#[derive(Default)]
pub(crate) struct Written {
    pub(crate) login: Option<LoggedIn>,
    /// A login call is on the wire: the servers may have made its token already.
    pub(crate) login_in_flight: bool,
    /// Dataplane layout: what this run registered in the catalog, and the client to take
    /// it out again (no agent reaps a catalog registration).
    pub(crate) registered: Vec<(Client, consul::CatalogDeregistration)>,
    pub(crate) files: Vec<PathBuf>,
    pub(crate) restore: Vec<(PathBuf, Vec<u8>)>,
}

/// A token this run logged in for, and where to log it out.
pub(crate) enum LoggedIn {
    /// Over the servers' HTTP API (the agent layout).
    Http(Client, Secret),
    /// Over the servers' gRPC `ACLService` (the dataplane layout).
    Grpc {
        client: consul_grpc::ConsulGrpc,
        token: Secret,
        datacenter: String,
    },
}

/// Runs mesh-init for the task `config` describes, in the layout its keys choose (a v0.6.2
/// config already validated for mesh-init).
pub async fn run(config: config::LoadedConfig, settings: MeshInitSettings) -> Outcome {
    // Handlers first: a stop during start-up must still undo the login.
    let stop = match stop_signal() {
        Ok(stop) => stop,
        Err(e) => {
            error!("mesh-init: cannot install signal handlers: {e}");
            return Outcome::NoSignals(e);
        }
    };
    let written = RefCell::new(Written::default());
    let mut run = Box::pin(mesh_init(config, settings, &written));
    // Dropping the run on a signal cancels whatever request it is waiting on, except a
    // login on the wire, which is let land first (its token is only known from its answer).
    let outcome = tokio::select! {
        result = &mut run => Ok(result),
        signal = stop => Err(signal),
    };
    if outcome.is_err() && written.borrow().login_in_flight {
        let_login_land(run.as_mut(), &written).await;
    }
    drop(run);
    match outcome {
        Ok(Ok(())) => {
            info!("mesh-init complete");
            Outcome::Completed
        }
        Ok(Err(failed)) => {
            undo(written.into_inner()).await;
            // Each cause once (a retry's last error is in its message and its source);
            // a diagnosed failure ends with its `hint:` line.
            error!("mesh-init failed: {}", boundary::error_chain(&failed));
            Outcome::Failed(failed)
        }
        Err(signal) => {
            warn!(
                signal,
                "stopped before completing; undoing this run's login and files"
            );
            undo(written.into_inner()).await;
            Outcome::Stopped(signal)
        }
    }
}

/// How long a stopped mesh-init waits for the answer of a login already sent.
const LOGIN_LANDING: Duration = Duration::from_secs(5);

/// After a signal, polls the run on only until its login call has ended (answered or
/// failed) or [`LOGIN_LANDING`] has passed: the servers may have made the token already,
/// and a token this run never received could not be logged out — it would stay until the
/// task stopped and the controller reaped it. Nothing after the login runs to completion:
/// the run is dropped as soon as this returns.
async fn let_login_land(
    mut run: Pin<&mut impl Future<Output = Result<(), StepError>>>,
    written: &RefCell<Written>,
) {
    info!(
        "a login is on the wire: waiting up to {}s for its answer, so that its token can be logged out",
        LOGIN_LANDING.as_secs()
    );
    let deadline = tokio::time::sleep(LOGIN_LANDING);
    tokio::pin!(deadline);
    std::future::poll_fn(|cx| {
        if deadline.as_mut().poll(cx).is_ready() || run.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        if written.borrow().login_in_flight {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    if written.borrow().login_in_flight {
        warn!(
            "the login had no answer within {}s; if the servers made its token, the controller reaps it once the task has stopped",
            LOGIN_LANDING.as_secs()
        );
    }
}

async fn mesh_init(
    config: config::LoadedConfig,
    settings: MeshInitSettings,
    written: &RefCell<Written>,
) -> Result<(), StepError> {
    let metadata = ecs::MetadataClient::from_env().at(Step::ReadTaskMetadata)?;
    let task = metadata.task().await.at(Step::ReadTaskMetadata)?;
    info!(task_arn = %task.task_arn, family = %task.family, "task metadata read");
    match config {
        config::LoadedConfig::Agent(config) => {
            agent_mesh_init(config, metadata, task, settings, written).await
        }
        config::LoadedConfig::Dataplane(config) => {
            crate::layout::dataplane::mesh_init(config, task, &settings, written).await
        }
    }
}

/// The agent layout's steps after the task metadata was read.
async fn agent_mesh_init(
    config: config::Config,
    metadata: ecs::MetadataClient,
    task: ecs::TaskMetadata,
    settings: MeshInitSettings,
    written: &RefCell<Written>,
) -> Result<(), StepError> {
    // Built before logging in, so a task that can never register takes no token.
    let clients = ConsulClients::of(&config, &TokenFiles::of(&config));
    let ctx = TaskContext::new(config, metadata, clients, task).at(Step::BuildRegistrations)?;
    ctx.record_in_span();

    // Both are there exactly when consulLogin.enabled.
    let token = match (&ctx.login, &ctx.clients.server) {
        (Some(spec), Some(server)) => {
            Some(login(&ctx, server, spec, settings.login_timeout, written).await?)
        }
        _ => None,
    };
    ctx.layout
        .register(&ctx, settings.register_timeout)
        .await
        .at(Step::Register)?;
    let bootstrap = ctx
        .layout
        .write_proxy_config(&ctx, token, settings.register_timeout)
        .await
        .at(Step::WriteProxyConfig)?;
    written.borrow_mut().files.push(bootstrap);
    let copy = ctx.config.binary_copy_path();
    copy_executable_off_thread(copy.clone())
        .await
        .at(Step::CopyBinary)?;
    written.borrow_mut().files.push(copy);
    info!(dir = %ctx.config.bootstrap_dir().display(), "bootstrap directory ready");
    Ok(())
}

/// Logs in, writes the service token file and waits until the servers know the token.
async fn login(
    ctx: &TaskContext,
    server: &Result<Client, Arc<ClientError>>,
    spec: &Result<iam_login::LoginSpec, Arc<LoginSpecError>>,
    timeout: Duration,
    written: &RefCell<Written>,
) -> Result<Secret, StepError> {
    let server = server.clone().at(Step::LogIn)?;
    let spec = spec.as_ref().map_err(|e| e.clone()).at(Step::LogIn)?;
    written.borrow_mut().login_in_flight = true;
    let logged_in = log_in(ctx, spec, &server, timeout).await;
    written.borrow_mut().login_in_flight = false;
    let secret = logged_in.at(Step::LogIn)?;
    written.borrow_mut().login = Some(LoggedIn::Http(server.clone(), secret.clone()));
    let path = &ctx.tokens.service;
    iam_login::replace_token_file(&server, path, &secret)
        .await
        .at(Step::WriteServiceToken)?;
    written.borrow_mut().files.push(path.clone());
    iam_login::wait_for_replication(&server, &secret)
        .await
        .at(Step::WaitForReplication)?;
    Ok(secret)
}

/// Logs in with the auth method of the config. A refusal the task's own identity explains
/// (a role outside the trusted path, a missing or wrong tag, no such auth method) ends the
/// login at once with the explanation; others are retried until `timeout`, then reported
/// with what Consul answered, or where it could not be reached (v0.6.2 retried forever).
async fn log_in(
    ctx: &TaskContext,
    spec: &iam_login::LoginSpec,
    server: &Client,
    timeout: Duration,
) -> Result<Secret, Failure> {
    let mut diagnosis = diagnose::LoginDiagnosis::new(
        ctx.expected.clone(),
        spec.params.clone(),
        spec.partition.clone(),
    );
    let policy = iam_login::login_policy(timeout);
    match iam_login::login_reviewed(server, spec, &policy, &mut diagnosis).await {
        Ok(token) => Ok(token.secret_id),
        Err(e) => {
            let target = crate::clients::server_target(&ctx.config, server);
            let (problem, hint) = diagnosis.report(&e, &target);
            Err(diagnose::Diagnosed { problem, hint }.into())
        }
    }
}

/// Logs the token out (so it does not linger in Consul until the acl-controller reaps it),
/// removes the files this run wrote and puts back the ones it changed. Every part is
/// attempted; their own failures are logged.
async fn undo(written: Written) {
    // Registrations first, while the token that made them is still valid.
    for (client, deregistration) in written.registered.iter().rev() {
        let id = &deregistration.service_id;
        match client
            .catalog_deregister(deregistration, &consul::QueryOptions::default())
            .await
        {
            Ok(()) => info!(id, "deregistered from the catalog"),
            Err(e) => warn!(id, error = %e, "could not deregister from the catalog"),
        }
    }
    match written.login {
        Some(LoggedIn::Http(server, secret)) => match iam_login::logout(&server, &secret).await {
            Ok(()) => info!("logged out this run's service token"),
            Err(e) => warn!(error = %e, "could not log out this run's service token"),
        },
        Some(LoggedIn::Grpc {
            client,
            token,
            datacenter,
        }) => crate::layout::dataplane::log_out(&client, &token, &datacenter).await,
        None => {}
    }
    for (path, content) in written.restore {
        match std::fs::write(&path, content) {
            Ok(()) => info!(path = %path.display(), "put back"),
            Err(e) => warn!(path = %path.display(), error = %e, "could not put back"),
        }
    }
    for path in written.files {
        match std::fs::remove_file(&path) {
            Ok(()) => info!(path = %path.display(), "removed"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warn!(path = %path.display(), error = %e, "could not remove"),
        }
    }
}
