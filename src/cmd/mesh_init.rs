//! `consul-ecs mesh-init`: the first container of every mesh task.
//!
//! Wiring only: read the config and the task metadata, log in (`iam-login` + `consul`),
//! register what `mesh` builds, and write what `envoy-bootstrap` generates. Every step that
//! talks to something that may be briefly unavailable is retried with jittered backoff up
//! to a deadline; a failure ends the run with one line naming the step, and undoes what
//! would otherwise leak (the token is logged out and its file removed).

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use consul::{retry, Client, QueryOptions, RetryPolicy, Secret, TokenSource};
use tracing::{info, warn};

use crate::cli::MeshInitArgs;
use crate::cmd::consul_clients;
use crate::cmd::files::copy_executable;
use crate::exit;

/// A failed step: which one, and why.
struct StepError {
    step: &'static str,
    error: anyhow::Error,
}

trait StepContext<T> {
    fn step(self, step: &'static str) -> Result<T, StepError>;
}

impl<T, E: Into<anyhow::Error>> StepContext<T> for Result<T, E> {
    fn step(self, step: &'static str) -> Result<T, StepError> {
        self.map_err(|e| StepError {
            step,
            error: e.into(),
        })
    }
}

pub fn run(args: &MeshInitArgs, cfg: &config::Config) -> i32 {
    if let Err(e) = cfg.validate_for_mesh_init() {
        eprintln!("{}: {e}", config::CONFIG_ENV);
        return exit::USAGE;
    }
    super::block_on("mesh-init", async {
        match mesh_init(args, cfg).await {
            Ok(()) => {
                info!("mesh-init complete");
                exit::OK
            }
            Err(StepError { step, error }) => {
                tracing::error!("mesh-init failed: {step}: {error:#}");
                exit::RUNTIME
            }
        }
    })
}

async fn mesh_init(args: &MeshInitArgs, cfg: &config::Config) -> Result<(), StepError> {
    let metadata = ecs::MetadataClient::from_env().step("read task metadata")?;
    let task = metadata.task().await.step("read task metadata")?;
    info!(task_arn = %task.task_arn, family = %task.family, "task metadata read");
    // Built before logging in, so a task that can never register takes no token.
    let registrations = mesh_task::build_registrations(cfg, &task).step("build registrations")?;

    let token = if cfg.login_enabled() {
        Some(log_in_and_store_token(args, cfg, &task).await?)
    } else {
        None
    };
    match register_and_bootstrap(args, cfg, &registrations, token.as_ref()).await {
        Ok(()) => Ok(()),
        Err(failure) => Err(undo_login(cfg, token, failure).await),
    }
}

/// Logs in, writes `<bootstrapDir>/service-token`, and logs out the token an earlier run
/// for this task left there (it would otherwise stay in Consul until the acl-controller
/// reaps it).
async fn log_in_and_store_token(
    args: &MeshInitArgs,
    cfg: &config::Config,
    task: &ecs::TaskMetadata,
) -> Result<LoggedIn, StepError> {
    let server = consul_clients::server(cfg).step("log in to Consul")?;
    let secret = login(args, cfg, task, &server)
        .await
        .step("log in to Consul")?;
    let logged_in = LoggedIn { server, secret };
    let path = cfg.service_token_path();
    let previous = std::fs::read_to_string(&path).ok();
    if let Err(e) = iam_login::write_token_file(&path, logged_in.secret.expose()) {
        let failure = StepError {
            step: "write the service token",
            error: e.into(),
        };
        return Err(undo_login(cfg, Some(logged_in), failure).await);
    }
    let previous = previous.map(|t| Secret::new(t.trim()));
    if let Some(old) = previous.filter(|t| !t.is_empty() && t.expose() != logged_in.secret.expose())
    {
        match iam_login::logout(&logged_in.server, &old).await {
            Ok(()) => info!("logged out the previous run's service token"),
            Err(e) => warn!(error = %e, "could not log out the previous run's service token"),
        }
    }
    Ok(logged_in)
}

/// The login token, kept so a failure later on can log it out.
struct LoggedIn {
    server: Client,
    secret: Secret,
}

async fn register_and_bootstrap(
    args: &MeshInitArgs,
    cfg: &config::Config,
    registrations: &mesh_task::Registrations,
    token: Option<&LoggedIn>,
) -> Result<(), StepError> {
    if let Some(LoggedIn { server, secret }) = token {
        iam_login::wait_for_replication(server, secret)
            .await
            .step("wait for the token to reach the Consul servers")?;
    }

    let agent_token = token.map(|_| TokenSource::File(cfg.service_token_path()));
    let agent = consul_clients::agent(agent_token).step("register with the Consul agent")?;
    let policy = RetryPolicy::default().with_deadline(args.register_timeout);
    let no_opts = QueryOptions::default();
    for registration in registrations.in_order() {
        let what = format!("register {} {:?}", kind_name(registration), registration.id);
        retry(&policy, &what, || {
            agent.agent_service_register(registration, &no_opts)
        })
        .await
        .step("register with the Consul agent")?;
        info!(id = %registration.id, kind = kind_name(registration), "registered");
    }

    let secret = token.map(|t| &t.secret);
    write_bootstrap(args, cfg, registrations, &agent, secret)
        .await
        .step("write the Envoy bootstrap")?;
    copy_executable(&cfg.binary_copy_path())
        .step("copy consul-ecs into the bootstrap directory")?;
    info!(dir = %cfg.bootstrap_dir().display(), "bootstrap directory ready");
    Ok(())
}

fn kind_name(registration: &consul::AgentServiceRegistration) -> &str {
    if registration.kind.is_empty() {
        "service"
    } else {
        &registration.kind
    }
}

/// Logs in with the auth method of the config. A login that keeps being denied ends
/// mesh-init after `-login-timeout` with what Consul answered (v0.6.2 retried forever).
async fn login(
    args: &MeshInitArgs,
    cfg: &config::Config,
    task: &ecs::TaskMetadata,
    server: &Client,
) -> Result<Secret> {
    let region = match cfg.login_region() {
        Some(region) => region.to_owned(),
        None => task
            .region()
            .context("no consulLogin.region and the task ARN has none")?
            .to_owned(),
    };
    let spec = iam_login::LoginSpec {
        method: cfg.login_method().to_owned(),
        params: iam_login::LoginParams {
            region,
            sts_endpoint: cfg.sts_endpoint().map(str::to_owned),
            server_id_header_value: cfg.server_id_header_value().map(str::to_owned),
            include_entity: cfg.include_entity(),
        },
        meta: iam_login::login_meta(task.task_id()?, task.cluster(), &cfg.login_meta()),
        partition: cfg.login_partition().map(str::to_owned),
    };
    let token =
        iam_login::login(server, &spec, &iam_login::login_policy(args.login_timeout)).await?;
    Ok(token.secret_id)
}

/// Resolves the bootstrap inputs as `consul connect envoy -bootstrap -grpc-addr=localhost:8502`
/// does (the proxy read back from the agent, the global proxy-defaults, the token) and
/// writes the file atomically.
async fn write_bootstrap(
    args: &MeshInitArgs,
    cfg: &config::Config,
    registrations: &mesh_task::Registrations,
    agent: &Client,
    token: Option<&Secret>,
) -> Result<()> {
    let mut opts = QueryOptions::default();
    if let Some(partition) = registrations.partition() {
        opts = opts
            .with_partition(partition)
            .with_namespace(registrations.namespace().unwrap_or_default());
    }
    let proxy_id = registrations.proxy_id();
    let policy = RetryPolicy::default().with_deadline(args.register_timeout);
    let registration = retry(&policy, "read the proxy registration back", || {
        agent.agent_service_raw(proxy_id, &opts)
    })
    .await?
    .ok_or_else(|| anyhow!("the agent does not know {proxy_id:?}, which was just registered"))?;
    // Consul ignores any HTTP error here (no entry, no permission): only a broken
    // connection fails the bootstrap.
    let proxy_defaults = match agent.config_proxy_defaults_global(&opts).await {
        Ok(entry) => entry,
        Err(e) if e.http_status().is_some() => {
            warn!(error = %e, "cannot read the global proxy-defaults; using no access-log settings");
            None
        }
        Err(e) => return Err(e.into()),
    };
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let token = match token {
        Some(secret) => secret.expose().to_owned(),
        None => consul_clients::env_token()?
            .map(|t| t.expose().to_owned())
            .unwrap_or_default(),
    };
    let ctx = envoy_bootstrap::ResolveContext {
        proxy_id: proxy_id.to_owned(),
        registration,
        proxy_defaults,
        grpc_addr: env("CONSUL_GRPC_ADDR"),
        grpc_ca_file: env("CONSUL_GRPC_CACERT").map(Into::into),
        grpc_ca_path: env("CONSUL_GRPC_CAPATH").map(Into::into),
        token,
        ..Default::default()
    };
    let inputs = envoy_bootstrap::resolve(&ctx)?;
    let doc = envoy_bootstrap::generate(&inputs)?;
    let path = cfg.envoy_bootstrap_path();
    envoy_bootstrap::write_bootstrap_file(&path, &doc)?;
    info!(path = %path.display(), proxy_id, "Envoy bootstrap written");
    Ok(())
}

/// After a failure: log the token out (so it does not linger in Consul until the
/// acl-controller reaps it) and remove its file. Both are attempted; their own failures are
/// logged, and the original error is what the run reports.
async fn undo_login(
    cfg: &config::Config,
    token: Option<LoggedIn>,
    failure: StepError,
) -> StepError {
    let Some(LoggedIn { server, secret }) = token else {
        return failure;
    };
    if let Err(e) = server
        .logout(&QueryOptions::default().with_token(secret))
        .await
    {
        warn!(error = %e, "could not log out the service token after the failure");
    }
    remove_if_present(&cfg.service_token_path());
    failure
}

fn remove_if_present(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => warn!(path = %path.display(), error = %e, "could not remove the token file"),
    }
}
