//! Typed Consul HTTP client for consul-ecs: agent service registration and checks, ACL
//! login/logout and administration, partitions and namespaces.
//!
//! - [`ClientConfig`] reads the Go client's environment (`CONSUL_HTTP_ADDR`, the token, and
//!   every TLS setting: `CONSUL_CACERT`, `CONSUL_CAPATH`, `CONSUL_CLIENT_CERT`/`_KEY`,
//!   `CONSUL_TLS_SERVER_NAME`, `CONSUL_HTTP_SSL`, `CONSUL_HTTP_SSL_VERIFY`) and takes
//!   overrides; [`Client`] sends the requests. Namespace and partition parameters are sent
//!   only when non-empty, because Consul CE rejects them.
//! - Answer bodies are read with a limit ([`OBJECT_BODY_LIMIT`], [`LIST_BODY_LIMIT`]) and
//!   token files are read bounded and only when regular files ([`TokenSource`]), so nothing
//!   from outside can take the process's memory or block it.
//! - Every failure is a [`ConsulError`] that names the request (never the token), keeps
//!   Consul's status and message, and says whether a retry may help (certificate errors
//!   are final).
//! - [`retry`] is the one retry loop (jittered exponential backoff, deadline) for this and
//!   other crates; anything implementing [`Retryable`] can use it.
//! - Tokens are [`Secret`]s: they print as `***`.
//!
//! ```no_run
//! use consul::{retry, Client, ClientConfig, QueryOptions, RetryPolicy, TokenSource};
//! use consul::AgentServiceRegistration;
//! use std::time::Duration;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // The local agent, authenticated with the token mesh-init wrote after login.
//! let config = ClientConfig::from_env()?
//!     .with_token(TokenSource::File("/consul/service-token".into()));
//! let agent = Client::new(config)?;
//! let registration = AgentServiceRegistration {
//!     id: "web-0f3b".into(),
//!     name: "web".into(),
//!     port: 9090,
//!     ..Default::default()
//! };
//! let opts = QueryOptions::default();
//! let policy = RetryPolicy::fixed(Duration::from_secs(1), Duration::from_secs(120));
//! retry(&policy, "register service web", || {
//!     agent.agent_service_register(&registration, &opts)
//! })
//! .await?;
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod acl;
mod agent;
mod catalog;
mod client;
mod config;
mod enterprise;
mod error;
mod resolve;
mod secret;
mod serde_util;
mod stream;
mod tls;
mod tls_probe;

pub use acl::{
    AclAuthMethod, AclAuthMethodNamespaceRule, AclBindingRule, AclLink, AclNodeIdentity, AclPolicy,
    AclRole, AclServiceIdentity, AclToken, AclTokenListEntry, LoginRequest, TokenListFilter,
};
pub use agent::{
    AgentCheck, AgentSelf, AgentService, AgentServiceCheck, AgentServiceConnectProxyConfig,
    AgentServiceRegistration, AgentWeights, CheckStatus, ExposeConfig, ExposePath,
    MeshGatewayConfig, ServiceAddress, Upstream,
};
pub use catalog::{
    CatalogDeregistration, CatalogNode, CatalogNodeServiceList, CatalogRegistration,
    CatalogService, CatalogServiceListEntry, HealthCheck, Locality, ServiceDefaultsEntry,
    SERVICE_DEFAULTS,
};
pub use client::{Client, QueryOptions, LIST_BODY_LIMIT, OBJECT_BODY_LIMIT};
pub use config::{
    parse_address, ClientConfig, TokenSource, DEFAULT_ADDRESS, DEFAULT_TIMEOUT, TOKEN_FILE_LIMIT,
};
pub use enterprise::{Namespace, NamespaceAclConfig, Partition};
pub use error::{caused_by_certificate, AnswerKind, ConsulError, TransportKind, RPC_ERROR_PREFIX};
pub use resolve::NameNotResolved;
pub use retry::{retry, retry_if, GaveUp, Jitter, RetryError, RetryPolicy, Retryable};

impl Retryable for ConsulError {
    fn is_retryable(&self) -> bool {
        ConsulError::is_retryable(self)
    }
}
pub use secret::Secret;
pub use tls::rustls_client_config;
