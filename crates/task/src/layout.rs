//! Where a task's registrations go and what configures its proxy: the plug-in point of a
//! second way of joining the mesh.
//!
//! [`Layout::Agent`] (consul-ecs v0.6.2): a Consul client agent runs in the task, mesh-init
//! registers with it and writes an Envoy bootstrap, health-sync updates TTL checks through
//! it; its steps run over a [`TaskContext`] and the four operations below.
//! [`Layout::Dataplane`] (consul-ecs v0.10): no agent; mesh-init registers in the servers'
//! catalog and writes `consul-dataplane.json` ([`dataplane`], over a
//! [`dataplane::DataplaneContext`]). The config's keys choose the layout
//! ([`Layout::of_loaded`]).

pub mod agent;
pub mod dataplane;
pub mod dataplane_sync;

use std::future::Future;
use std::path::PathBuf;

use consul::Secret;

use crate::context::TaskContext;
use crate::error::Failure;

/// How the task joins the mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// v0.6.2: a Consul client agent in the task ([`agent`]).
    Agent,
    /// v0.10: Consul Dataplane, against the servers ([`dataplane`]).
    Dataplane,
}

/// What health-sync's run produced: one line per failed shutdown step.
pub type ShutdownReport = mesh_task::ShutdownReport;

impl Layout {
    /// The layout of a v0.6.2 config: [`Layout::Agent`].
    pub fn of(_config: &config::Config) -> Layout {
        Layout::Agent
    }

    /// The layout a loaded config of either kind asks for.
    pub fn of_loaded(config: &config::LoadedConfig) -> Layout {
        match config {
            config::LoadedConfig::Agent(_) => Layout::Agent,
            config::LoadedConfig::Dataplane(_) => Layout::Dataplane,
        }
    }

    /// Registers the task's service and proxy (or gateway), each retried until `deadline`
    /// (from the first attempt of each); a refusal is explained through the context.
    pub async fn register(
        self,
        ctx: &TaskContext,
        deadline: std::time::Duration,
    ) -> Result<(), Failure> {
        match self {
            Layout::Agent => agent::register(ctx, deadline).await,
            Layout::Dataplane => Err(Failure::AgentContextOnly(self)),
        }
    }

    /// Writes what configures the proxy (the Envoy bootstrap) and returns its path. `token`
    /// is the task's login token, if it logged in.
    pub async fn write_proxy_config(
        self,
        ctx: &TaskContext,
        token: Option<Secret>,
        deadline: std::time::Duration,
    ) -> Result<PathBuf, Failure> {
        match self {
            Layout::Agent => agent::write_proxy_config(ctx, token, deadline).await,
            Layout::Dataplane => Err(Failure::AgentContextOnly(self)),
        }
    }

    /// Keeps the task's checks in step with ECS container health until `stop` resolves,
    /// then shuts down ([`Layout::shut_down`]).
    pub async fn sync_checks(
        self,
        ctx: &TaskContext,
        settings: &mesh_task::SyncSettings,
        stop: impl Future<Output = &'static str>,
    ) -> ShutdownReport {
        match self {
            Layout::Agent => agent::sync_checks(ctx, settings, stop).await,
            Layout::Dataplane => agent_context_only(self),
        }
    }

    /// The end of a task's life in Consul when the checks were never synced (health-sync
    /// stopped before the task could be known, so there is no context): the checks cannot be
    /// named, which is reported, and the tokens are logged out.
    pub async fn shut_down(self, peers: &Peers, budget: std::time::Duration) -> ShutdownReport {
        match self {
            Layout::Agent => agent::shut_down_unknown_task(peers, budget).await,
            Layout::Dataplane => agent_context_only(self),
        }
    }
}

/// What an operation over the agent layout's context says when asked for another layout:
/// a [`TaskContext`] is always [`Layout::Agent`]'s, so this only happens through a bug.
fn agent_context_only(layout: Layout) -> ShutdownReport {
    ShutdownReport {
        failures: vec![Failure::AgentContextOnly(layout).to_string()],
    }
}

/// What a layout talks to before the task is known: the task metadata, the Consul clients
/// and the token files.
#[derive(Debug, Clone)]
pub struct Peers {
    /// The task metadata endpoint.
    pub metadata: ecs::MetadataClient,
    /// The Consul clients.
    pub clients: crate::context::ConsulClients,
    /// The token files.
    pub tokens: crate::context::TokenFiles,
}
