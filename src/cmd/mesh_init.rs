//! `consul-ecs mesh-init`: the first container of every mesh task.
//!
//! Wiring only: read the config and the task metadata, log in (`iam-login`), register what
//! `mesh-task` builds, and write what `envoy-bootstrap` resolves and generates. Every step
//! that talks to something that may be briefly unavailable is retried with jittered backoff
//! up to a deadline. A failure, or SIGTERM/SIGINT at any point, ends the run after undoing
//! what would otherwise leak: the token is logged out and the files this run wrote are
//! removed.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use consul::{retry, Client, QueryOptions, RetryPolicy, Secret, TokenSource};
use tracing::{error, info, warn};

use crate::cli::MeshInitArgs;
use crate::cmd::{consul_clients, files::copy_executable, stop_signal};
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

/// What this run left behind so far, to undo when it does not complete: the token it
/// logged in with, and the files it wrote.
#[derive(Default)]
struct Written {
    login: Option<(Client, Secret)>,
    files: Vec<PathBuf>,
}

pub fn run(args: &MeshInitArgs, cfg: &config::Config) -> i32 {
    if let Err(e) = cfg.validate_for_mesh_init() {
        error!("{}: {e}", config::CONFIG_ENV);
        return exit::USAGE;
    }
    super::block_on("mesh-init", async {
        // Handlers first: a stop during start-up must still undo the login.
        let stop = match stop_signal() {
            Ok(stop) => stop,
            Err(e) => {
                error!("mesh-init: cannot install signal handlers: {e}");
                return exit::RUNTIME;
            }
        };
        let written = RefCell::new(Written::default());
        // Dropping the run on a signal cancels whatever request it is waiting on.
        let outcome = tokio::select! {
            result = mesh_init(args, cfg, &written) => Ok(result),
            signal = stop => Err(signal),
        };
        match outcome {
            Ok(Ok(())) => {
                info!("mesh-init complete");
                exit::OK
            }
            Ok(Err(StepError { step, error })) => {
                undo(written.into_inner()).await;
                // Each cause once (a retry's last error is in its message and its source);
                // a diagnosed failure ends with its `hint:` line.
                let error: &(dyn std::error::Error + 'static) = error.as_ref();
                error!(
                    "mesh-init failed: {step}: {}",
                    error_chain::error_chain(error)
                );
                exit::RUNTIME
            }
            Err(signal) => {
                warn!(
                    signal,
                    "stopped before completing; undoing this run's login and files"
                );
                undo(written.into_inner()).await;
                super::exit_code_for_signal(signal)
            }
        }
    })
}

async fn mesh_init(
    args: &MeshInitArgs,
    cfg: &config::Config,
    written: &RefCell<Written>,
) -> Result<(), StepError> {
    let metadata = ecs::MetadataClient::from_env().step("read task metadata")?;
    let task = metadata.task().await.step("read task metadata")?;
    info!(task_arn = %task.task_arn, family = %task.family, "task metadata read");
    // Built before logging in, so a task that can never register takes no token.
    let registrations = mesh_task::build_registrations(cfg, &task).step("build registrations")?;

    let expected = expected_identity(cfg, &registrations);
    let token = if cfg.login_enabled() {
        let server = consul_clients::server(cfg).step("log in to Consul")?;
        let secret = login(args, cfg, &task, &server, &expected)
            .await
            .step("log in to Consul")?;
        written.borrow_mut().login = Some((server.clone(), secret.clone()));
        let path = cfg.service_token_path();
        iam_login::replace_token_file(&server, &path, &secret)
            .await
            .step("write the service token")?;
        written.borrow_mut().files.push(path);
        iam_login::wait_for_replication(&server, &secret)
            .await
            .step("wait for the token to reach the Consul servers")?;
        Some(secret)
    } else {
        None
    };

    let agent_token = token
        .as_ref()
        .map(|_| TokenSource::OwnFile(cfg.service_token_path()));
    let agent = consul_clients::agent(agent_token).step("register with the Consul agent")?;
    let policy = RetryPolicy::default().with_deadline(args.register_timeout);
    let no_opts = QueryOptions::default();
    for registration in registrations.in_order() {
        let what = format!("register {} {:?}", kind_name(registration), registration.id);
        let attempts = RefCell::new(diagnose::Attempts::default());
        let registered = retry(&policy, &what, || async {
            let result = agent.agent_service_register(registration, &no_opts).await;
            if let Err(e) = &result {
                attempts.borrow_mut().record(e);
            }
            result
        })
        .await;
        if let Err(e) = registered {
            let why = explain_registration(cfg, &task, &agent, &expected, &what, e, &attempts);
            return Err(why.await).step("register with the Consul agent");
        }
        info!(id = %registration.id, kind = kind_name(registration), "registered");
    }

    let bootstrap = cfg.envoy_bootstrap_path();
    write_bootstrap(args, &registrations, &agent, token, &bootstrap)
        .await
        .step("write the Envoy bootstrap")?;
    written.borrow_mut().files.push(bootstrap);
    let copy = cfg.binary_copy_path();
    // Seven megabytes read and written: off the async thread, so a signal is still seen.
    let destination = copy.clone();
    tokio::task::spawn_blocking(move || copy_executable(&destination))
        .await
        .context("the copy thread failed")
        .and_then(|copied| copied)
        .step("copy consul-ecs into the bootstrap directory")?;
    written.borrow_mut().files.push(copy);
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

/// What the task's identity must say: the auth method, and the service (and Enterprise
/// namespace) the registrations use.
pub fn expected_identity(
    cfg: &config::Config,
    registrations: &mesh_task::Registrations,
) -> diagnose::Expected {
    let service = registrations
        .service()
        .map_or(&registrations.proxy().name, |s| &s.name);
    diagnose::Expected::new(cfg.login_method(), service, registrations.namespace())
}

/// The login's spec from the config and the task metadata.
pub fn login_spec(cfg: &config::Config, task: &ecs::TaskMetadata) -> Result<iam_login::LoginSpec> {
    let region = match cfg.login_region() {
        Some(region) => region.to_owned(),
        None => task
            .region()
            .context("no consulLogin.region and the task ARN has none")?
            .to_owned(),
    };
    Ok(iam_login::LoginSpec {
        method: cfg.login_method().to_owned(),
        params: iam_login::LoginParams {
            region,
            sts_endpoint: cfg.sts_endpoint().map(str::to_owned),
            server_id_header_value: cfg.server_id_header_value().map(str::to_owned),
            include_entity: cfg.include_entity(),
        },
        meta: iam_login::login_meta(task.task_id()?, task.cluster(), &cfg.login_meta()),
        partition: cfg.login_partition().map(str::to_owned),
    })
}

/// Logs in with the auth method of the config. A refusal the task's own identity explains
/// (a role outside the trusted path, a missing or wrong tag, no such auth method) ends the
/// login at once with the explanation; others are retried until `-login-timeout`, then
/// reported with what Consul answered, or where it could not be reached (v0.6.2 retried
/// forever).
async fn login(
    args: &MeshInitArgs,
    cfg: &config::Config,
    task: &ecs::TaskMetadata,
    server: &Client,
    expected: &diagnose::Expected,
) -> Result<Secret> {
    let spec = login_spec(cfg, task)?;
    let mut diagnosis = diagnose::LoginDiagnosis::new(
        expected.clone(),
        spec.params.clone(),
        spec.partition.clone(),
    );
    let policy = iam_login::login_policy(args.login_timeout);
    match iam_login::login_reviewed(server, &spec, &policy, &mut diagnosis).await {
        Ok(token) => Ok(token.secret_id),
        Err(e) => {
            let (problem, hint) = diagnosis.report(&e, &consul_clients::server_target(cfg, server));
            Err(diagnose::Diagnosed { problem, hint }.into())
        }
    }
}

/// Why a registration failed: a 403 told through the token's identities (and, for a login
/// token, the task role's tags); an agent that never answered, with its address; otherwise
/// the retry's last error.
async fn explain_registration(
    cfg: &config::Config,
    task: &ecs::TaskMetadata,
    agent: &Client,
    expected: &diagnose::Expected,
    what: &str,
    error: consul::RetryError<consul::ConsulError>,
    attempts: &RefCell<diagnose::Attempts>,
) -> anyhow::Error {
    if error.last.http_status() == Some(403) {
        let explanation = super::refused_write::explain(
            cfg,
            Some(task),
            agent,
            expected,
            what.to_string(),
            &error.last,
        )
        .await;
        return diagnose::Diagnosed::from(explanation).into();
    }
    let unreachable = attempts.borrow().unreachable(
        &consul_clients::agent_target(agent),
        error.attempts,
        error.elapsed,
    );
    match unreachable {
        Some(u) if error.last.http_status().is_none() => diagnose::Diagnosed {
            problem: u.problem,
            hint: u.hint,
        }
        .into(),
        _ => error.into(),
    }
}

/// Resolves the bootstrap inputs from the agent (`envoy_bootstrap::resolve_from_agent`),
/// generates the document and writes it atomically.
async fn write_bootstrap(
    args: &MeshInitArgs,
    registrations: &mesh_task::Registrations,
    agent: &Client,
    token: Option<Secret>,
    path: &Path,
) -> Result<()> {
    let mut opts = QueryOptions::default();
    if let Some(partition) = registrations.partition() {
        opts = opts
            .with_partition(partition)
            .with_namespace(registrations.namespace().unwrap_or_default());
    }
    // Without a login, Envoy presents the environment's token, as `consul connect envoy`.
    let token = match token {
        Some(secret) => Some(secret),
        None => consul_clients::env_token()?,
    };
    let source = envoy_bootstrap::AgentSource {
        agent,
        proxy_id: registrations.proxy_id(),
        opts,
        token,
        deadline: args.register_timeout,
    };
    let inputs =
        envoy_bootstrap::resolve_from_agent(source, |name| std::env::var(name).ok()).await?;
    let doc = envoy_bootstrap::generate(&inputs)?;
    envoy_bootstrap::write_bootstrap_file(path, &doc)?;
    info!(path = %path.display(), proxy_id = registrations.proxy_id(), "Envoy bootstrap written");
    Ok(())
}

/// Logs the token out (so it does not linger in Consul until the acl-controller reaps it)
/// and removes the files this run wrote. Every part is attempted; their own failures are
/// logged.
async fn undo(written: Written) {
    if let Some((server, secret)) = written.login {
        match iam_login::logout(&server, &secret).await {
            Ok(()) => info!("logged out this run's service token"),
            Err(e) => warn!(error = %e, "could not log out this run's service token"),
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
