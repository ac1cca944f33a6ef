//! The controller's error type: the v0.6.2 controller's steps' errors (Consul, ECS, task
//! metadata) as they are, plus what only the v0.10 one does — reading its config and
//! reaching the servers over gRPC. None carries a token.

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A start-up or round step failed (Consul, ECS, task metadata).
    #[error(transparent)]
    Step(#[from] acl_controller::Error),
    /// The Consul servers could not be found or reached over gRPC.
    #[error("reach the Consul servers: {0}")]
    Servers(#[from] consul_grpc::GrpcError),
    /// The config cannot work (a JSON path and the problem); retrying does not help.
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// Whether trying again later may help (everything but a config error).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Step(e) => e.is_retryable(),
            Error::Servers(_) => true,
            Error::Config(_) => false,
        }
    }
}

/// Shorthand used by every module.
pub type Result<T, E = Error> = std::result::Result<T, E>;
