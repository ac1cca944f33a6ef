//! The inputs as `consul connect envoy -proxy-id X -bootstrap -grpc-addr=localhost:8502`
//! gathers them: the proxy registration read back from the local agent, the global
//! proxy-defaults entry, and the `CONSUL_GRPC_*` environment variables. [`resolve`] then
//! does the rest; this module only fetches.
//!
//! (Consul's command also reads `/v1/agent/self`; a service token may not, and nothing in
//! the document depends on it for the gRPC address mesh-init uses.)

use std::path::PathBuf;
use std::time::Duration;

use consul::{Client, QueryOptions, RetryPolicy, Secret};
use tracing::warn;

use crate::{resolve, BootstrapError, BootstrapInputs, ResolveContext};

/// The environment variables of the agent's gRPC endpoint that Consul's command honours.
pub const GRPC_ADDR_ENV: &str = "CONSUL_GRPC_ADDR";
/// CA file for TLS to the agent's gRPC port.
pub const GRPC_CACERT_ENV: &str = "CONSUL_GRPC_CACERT";
/// Directory of CA files for TLS to the agent's gRPC port.
pub const GRPC_CAPATH_ENV: &str = "CONSUL_GRPC_CAPATH";

/// What to fetch the inputs with.
pub struct AgentSource<'a> {
    /// The local agent (with the token that may read the proxy registration).
    pub agent: &'a Client,
    /// The proxy (or gateway) service ID registered just before.
    pub proxy_id: &'a str,
    /// Partition and namespace of the registration (Enterprise), else default.
    pub opts: QueryOptions,
    /// The ACL token Envoy will present to the agent (empty = none).
    pub token: Option<Secret>,
    /// Everything, including the read-back retries and host name lookups, ends by then.
    pub deadline: Duration,
}

/// Fetches what the resolver needs from the agent and the environment (`env` looks a
/// variable up; empty values count as unset), then resolves the inputs off the async
/// runtime, since resolving may look a host name up.
pub async fn resolve_from_agent(
    source: AgentSource<'_>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<BootstrapInputs, BootstrapError> {
    let started = tokio::time::Instant::now();
    let AgentSource {
        agent,
        proxy_id,
        opts,
        token,
        deadline,
    } = source;
    let policy = RetryPolicy::default().with_deadline(deadline);
    let registration = consul::retry(&policy, "read the proxy registration back", || {
        agent.agent_service_raw(proxy_id, &opts)
    })
    .await
    .map_err(|e| BootstrapError::Agent(e.to_string()))?
    .ok_or_else(|| {
        BootstrapError::Agent(format!(
            "the agent does not know {proxy_id:?}, which was just registered"
        ))
    })?;
    // Consul's command ignores any HTTP error here (no entry, no permission): only a
    // broken connection fails the bootstrap.
    let proxy_defaults = match agent.config_proxy_defaults_global(&opts).await {
        Ok(entry) => entry,
        Err(e) if e.http_status().is_some() => {
            warn!(error = %e, "cannot read the global proxy-defaults; using no access-log settings");
            None
        }
        Err(e) => return Err(BootstrapError::Agent(e.to_string())),
    };
    let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let ctx = ResolveContext {
        proxy_id: proxy_id.to_owned(),
        registration,
        proxy_defaults,
        grpc_addr: env(GRPC_ADDR_ENV),
        grpc_ca_file: env(GRPC_CACERT_ENV).map(PathBuf::from),
        grpc_ca_path: env(GRPC_CAPATH_ENV).map(PathBuf::from),
        token: token.map(|t| t.expose().to_owned()).unwrap_or_default(),
        ..Default::default()
    };
    let remaining = deadline.saturating_sub(started.elapsed());
    let resolving = tokio::task::spawn_blocking(move || resolve(&ctx));
    match tokio::time::timeout(remaining, resolving).await {
        Ok(Ok(resolved)) => resolved,
        Ok(Err(join)) => Err(BootstrapError::Agent(format!("resolving failed: {join}"))),
        // The lookup thread is left to finish on its own; its answer is not waited for.
        Err(_) => Err(BootstrapError::Timeout(deadline)),
    }
}
