//! What can end mesh-init: a step and why it failed.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::clients::ClientError;
use crate::context::LoginSpecError;

/// A step of mesh-init, as its failure line names it (`mesh-init failed: <step>: <why>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Read `ECS_CONTAINER_METADATA_URI_V4`'s task document.
    ReadTaskMetadata,
    /// Build the registrations from the config and the task metadata.
    BuildRegistrations,
    /// Log in with the auth method.
    LogIn,
    /// Write `<bootstrapDir>/service-token`.
    WriteServiceToken,
    /// Wait until the servers know the new token.
    WaitForReplication,
    /// Register the service and proxy (or gateway).
    Register,
    /// Write the proxy's configuration (the Envoy bootstrap).
    WriteProxyConfig,
    /// Copy the binary into the bootstrap directory.
    CopyBinary,
    /// Dataplane layout: find the servers and connect to one over gRPC.
    ConnectServers,
    /// Dataplane layout: register the service and proxy (or gateway) in the catalog.
    RegisterInCatalog,
    /// Dataplane layout: add the passive health check to the service's `service-defaults`.
    WriteServiceDefaults,
    /// Dataplane layout: write `<bootstrapDir>/consul-grpc-ca-cert.pem`.
    WriteGrpcCaCert,
    /// Dataplane layout: write `<bootstrapDir>/consul-dataplane.json`.
    WriteDataplaneConfig,
    /// Dataplane layout: point `/etc/resolv.conf` at Consul DNS.
    ConfigureDns,
    /// Dataplane layout: install the transparent proxy's traffic redirection.
    TransparentProxy,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::ReadTaskMetadata => "read task metadata",
            Step::BuildRegistrations => "build registrations",
            Step::LogIn => "log in to Consul",
            Step::WriteServiceToken => "write the service token",
            Step::WaitForReplication => "wait for the token to reach the Consul servers",
            Step::Register => "register with the Consul agent",
            Step::WriteProxyConfig => "write the Envoy bootstrap",
            Step::CopyBinary => "copy consul-ecs into the bootstrap directory",
            Step::ConnectServers => "connect to the Consul servers over gRPC",
            Step::RegisterInCatalog => "register in the Consul catalog",
            Step::WriteServiceDefaults => "add the passive health check to service-defaults",
            Step::WriteGrpcCaCert => "write the gRPC CA certificate",
            Step::WriteDataplaneConfig => "write consul-dataplane's configuration",
            Step::ConfigureDns => "point the task's resolver at Consul DNS",
            Step::TransparentProxy => "set up the transparent proxy",
        })
    }
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The task metadata could not be read.
    #[error(transparent)]
    Metadata(#[from] ecs::EcsError),
    /// The registrations cannot be built.
    #[error(transparent)]
    Registrations(#[from] mesh_task::MeshError),
    /// A Consul client cannot be built.
    #[error(transparent)]
    Client(#[from] Arc<ClientError>),
    /// No login spec can be made.
    #[error(transparent)]
    LoginSpec(#[from] Arc<LoginSpecError>),
    /// The token file could not be written.
    #[error(transparent)]
    TokenFile(#[from] iam_login::LoginError),
    /// The servers did not learn the token in time.
    #[error(transparent)]
    NotReplicated(#[from] iam_login::NotReplicated),
    /// Consul kept failing until the step's deadline.
    #[error(transparent)]
    Consul(#[from] consul::RetryError<consul::ConsulError>),
    /// A failure `diagnose` explained, with its hint.
    #[error(transparent)]
    Diagnosed(#[from] diagnose::Diagnosed),
    /// The proxy configuration could not be resolved, generated or written.
    #[error(transparent)]
    Bootstrap(#[from] envoy_bootstrap::BootstrapError),
    /// The binary could not be copied.
    #[error(transparent)]
    Copy(#[from] crate::binary_copy::CopyError),
    /// An operation over the agent layout's context was asked of another layout.
    #[error("{0:?} layout: this operation runs over the agent layout's task context only")]
    AgentContextOnly(crate::layout::Layout),
    /// The servers could not be found or reached over gRPC.
    #[error(transparent)]
    Grpc(#[from] consul_grpc::GrpcError),
    /// The servers' HTTP client cannot be built (address, TLS settings).
    #[error("the Consul servers' HTTP client")]
    HttpClient(#[source] consul::ConsulError),
    /// A file of the bootstrap directory could not be written.
    #[error("write {}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The resolver configuration could not be read.
    #[error("read {}", .path.display())]
    DnsRead {
        /// `/etc/resolv.conf`, or the file given instead.
        path: PathBuf,
        /// Why.
        #[source]
        source: boundary::ReadError,
    },
    /// The resolver configuration could not be rewritten.
    #[error("rewrite {}", .path.display())]
    DnsWrite {
        /// `/etc/resolv.conf`, or the file given instead.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The traffic redirection could not be built or applied.
    #[error(transparent)]
    Tproxy(#[from] tproxy::TproxyError),
    /// The transparent proxy is on, but a Fargate task cannot change its network rules.
    #[error(
        "transparentProxy is enabled (its default) but the task runs on Fargate, which does not \
         let it change its network rules; set transparentProxy.enabled to false"
    )]
    TransparentProxyOnFargate,
    /// Dataplane layout: a step over the HTTP(S) API failed on this server (the one the
    /// gRPC connection was on then): the address says which of the servers it was, which
    /// the HTTP client's errors (method and path only) do not.
    #[error("on the Consul server {address}")]
    AtServer {
        /// The server's HTTP(S) address (`https://10.0.1.5:8501/`).
        address: String,
        /// Why it failed there.
        #[source]
        failure: Box<Failure>,
    },
    /// The proxy just registered is not in the catalog's answer.
    #[error("the proxy {proxy_id:?} is not among the services of node {node:?}")]
    ProxyNotInCatalog {
        /// The proxy's service ID.
        proxy_id: String,
        /// The synthetic node.
        node: String,
    },
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        Failure::Client(Arc::new(e))
    }
}

/// A failed step of mesh-init: which one, and why.
#[derive(Debug, thiserror::Error)]
#[error("{step}")]
pub struct StepError {
    /// The step.
    pub step: Step,
    /// Why it failed.
    #[source]
    pub failure: Box<Failure>,
}

/// Tags an error with the step it ended.
pub(crate) trait AtStep<T> {
    fn at(self, step: Step) -> Result<T, StepError>;
}

impl<T, E: Into<Failure>> AtStep<T> for Result<T, E> {
    fn at(self, step: Step) -> Result<T, StepError> {
        self.map_err(|e| StepError {
            step,
            failure: Box::new(e.into()),
        })
    }
}
