//! The agent layout (consul-ecs v0.6.2): registrations and TTL check updates go to the
//! Consul client agent in the task; the proxy is configured by an Envoy bootstrap resolved
//! from that agent.

use std::cell::RefCell;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use consul::{retry, Client, QueryOptions, RetryPolicy, Secret};
use tracing::{error, info};

use super::{Peers, ShutdownReport};
use crate::clients;
use crate::context::TaskContext;
use crate::error::Failure;

/// `service` for a plain service registration, else its kind (`connect-proxy`,
/// `mesh-gateway`).
fn kind_name(registration: &consul::AgentServiceRegistration) -> &str {
    if registration.kind.is_empty() {
        "service"
    } else {
        &registration.kind
    }
}

/// `PUT /v1/agent/service/register` for each registration in order, each retried with
/// jittered backoff until `deadline`.
pub(super) async fn register(ctx: &TaskContext, deadline: Duration) -> Result<(), Failure> {
    let agent = ctx.clients.agent.clone()?;
    let policy = RetryPolicy::default().with_deadline(deadline);
    let no_opts = QueryOptions::default();
    for registration in ctx.registrations.in_order() {
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
            return Err(explain_registration(ctx, &agent, what, e, &attempts.into_inner()).await);
        }
        info!(id = %registration.id, kind = kind_name(registration), "registered");
    }
    Ok(())
}

/// Why a registration failed: a 403 told through the token's identities (and, for a login
/// token, the task role's tags); an agent that never answered, with its address; otherwise
/// the retry's last error.
async fn explain_registration(
    ctx: &TaskContext,
    agent: &Client,
    what: String,
    error: consul::RetryError<consul::ConsulError>,
    attempts: &diagnose::Attempts,
) -> Failure {
    if error.last.http_status() == Some(403) {
        let answer = diagnose::RefusalAnswer::of(&error.last);
        return Failure::Diagnosed(explain_refused(ctx, agent, what, &answer).await);
    }
    let unreachable =
        attempts.unreachable(&clients::agent_target(agent), error.attempts, error.elapsed);
    match unreachable {
        Some(u) if error.last.http_status().is_none() => Failure::Diagnosed(diagnose::Diagnosed {
            problem: u.problem,
            hint: u.hint,
        }),
        _ => error.into(),
    }
}

/// A write the agent refused, told through the token's identities and, when the task
/// logged in, the task role.
async fn explain_refused(
    ctx: &TaskContext,
    agent: &Client,
    what: String,
    answer: &diagnose::RefusalAnswer,
) -> diagnose::Diagnosed {
    let write = diagnose::RefusedWrite {
        what,
        token: ctx.tokens.origin(),
    };
    diagnose::explain_refusal(agent, &write, answer, &ctx.expected, ctx.login_params())
        .await
        .into()
}

/// Resolves the bootstrap inputs from the agent (`envoy_bootstrap::resolve_from_agent`),
/// generates the document and writes it atomically to `<bootstrapDir>/envoy-bootstrap.json`.
pub(super) async fn write_proxy_config(
    ctx: &TaskContext,
    token: Option<Secret>,
    deadline: Duration,
) -> Result<PathBuf, Failure> {
    let agent = ctx.clients.agent.clone()?;
    let registrations = &ctx.registrations;
    let mut opts = QueryOptions::default();
    if let Some(partition) = registrations.partition() {
        opts = opts
            .with_partition(partition)
            .with_namespace(registrations.namespace().unwrap_or_default());
    }
    // Without a login, Envoy presents the environment's token, as `consul connect envoy`.
    let token = match token {
        Some(secret) => Some(secret),
        None => clients::env_token()?,
    };
    let source = envoy_bootstrap::AgentSource {
        agent: &agent,
        proxy_id: registrations.proxy_id(),
        opts,
        token,
        deadline,
    };
    let inputs =
        envoy_bootstrap::resolve_from_agent(source, |name| std::env::var(name).ok()).await?;
    let doc = envoy_bootstrap::generate(&inputs)?;
    let path = ctx.config.envoy_bootstrap_path();
    envoy_bootstrap::write_bootstrap_file(&path, &doc).await?;
    info!(path = %path.display(), proxy_id = registrations.proxy_id(), "Envoy bootstrap written");
    Ok(path)
}

/// What health-sync talks to: the metadata, the agent and, when the task logged in, the
/// servers for the logouts.
fn sync_peers(peers: &Peers, agent: Client) -> mesh_task::SyncPeers {
    // The server client exists exactly when the task logs in (ConsulClients::of).
    let logout = peers
        .clients
        .server
        .as_ref()
        .map(|server| mesh_task::TokenLogout {
            server: server
                .clone()
                .map_err(|e| boundary::error_chain(e.as_ref())),
            tokens: peers.tokens.to_log_out(),
        });
    mesh_task::SyncPeers {
        metadata: peers.metadata.clone(),
        agent,
        logout,
    }
}

/// health-sync's loop over the agent (`mesh_task::run_health_sync_observed`), the first
/// refused check update explained once in the background from the context.
pub(super) async fn sync_checks(
    ctx: &TaskContext,
    settings: &mesh_task::SyncSettings,
    stop: impl Future<Output = &'static str>,
) -> ShutdownReport {
    let peers = Peers {
        metadata: ctx.metadata.clone(),
        clients: ctx.clients.clone(),
        tokens: ctx.tokens.clone(),
    };
    let agent = match &ctx.clients.agent {
        Ok(agent) => agent.clone(),
        Err(e) => {
            return ShutdownReport {
                failures: vec![boundary::error_chain(e.as_ref())],
            }
        }
    };
    let on_refused = explain_first_refusal(ctx, agent.clone());
    let peers = sync_peers(&peers, agent);
    mesh_task::run_health_sync_observed(&ctx.config, peers, settings, stop, on_refused).await
}

/// The first check write Consul refuses (403) is explained once, in the background while the
/// sync goes on: which identity the token carries against the service whose checks these
/// are and, when the task logged in, what of the task role made it so.
fn explain_first_refusal(ctx: &TaskContext, agent: Client) -> mesh_task::OnRefusedWrite {
    let context = ExplainContext {
        agent,
        token: ctx.tokens.origin(),
        expected: ctx.expected.clone(),
        login: ctx.login_params().cloned(),
    };
    let mut explained = false;
    Box::new(move |check_id, refusal| {
        if std::mem::replace(&mut explained, true) {
            return;
        }
        let write = diagnose::RefusedWrite {
            what: format!("update check {check_id:?}"),
            token: context.token.clone(),
        };
        let answer = diagnose::RefusalAnswer::of(refusal);
        let context = context.clone();
        tokio::spawn(async move {
            let explanation = diagnose::explain_refusal(
                &context.agent,
                &write,
                &answer,
                &context.expected,
                context.login.as_ref(),
            )
            .await;
            error!("health-sync: {}", diagnose::Diagnosed::from(explanation));
        });
    })
}

/// What the background explanation needs from the context (owned: it outlives the call).
#[derive(Clone)]
struct ExplainContext {
    agent: Client,
    token: diagnose::TokenOrigin,
    expected: diagnose::Expected,
    login: Option<iam_login::LoginParams>,
}

/// health-sync stopped before the task was known: the checks cannot be named (reported),
/// the tokens are logged out.
pub(super) async fn shut_down_unknown_task(peers: &Peers, budget: Duration) -> ShutdownReport {
    let agent = match &peers.clients.agent {
        Ok(agent) => agent.clone(),
        Err(e) => {
            return ShutdownReport {
                failures: vec![boundary::error_chain(e.as_ref())],
            }
        }
    };
    mesh_task::shutdown(&sync_peers(peers, agent), None, budget).await
}
