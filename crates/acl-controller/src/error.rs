//! The one error type of the controller. Every variant names the step that failed; none
//! carries a token (Consul errors never include one, and ECS errors come from the SDK,
//! which does not print credentials).

/// What went wrong in start-up or in a reconcile round.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Consul request failed.
    #[error("{step}: {source}")]
    Consul {
        /// What the controller was doing, e.g. `create policy consul-ecs-client-policy`.
        step: String,
        /// Consul's answer or the transport error.
        #[source]
        source: consul::ConsulError,
    },
    /// An ECS API request failed.
    #[error("{step}: {message}")]
    Ecs {
        /// What the controller was doing, e.g. `ListTasks`.
        step: String,
        /// The SDK's error with its causes, on one line.
        message: String,
    },
    /// The task metadata could not be read or does not say what the controller needs.
    #[error("task metadata: {0}")]
    Metadata(#[from] ecs::EcsError),
    /// Consul answered, but with something the controller cannot work with.
    #[error("{0}")]
    Unexpected(String),
    /// The settings cannot work (a bad flag); retrying does not help.
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// Wraps a Consul error with the step it failed in.
    pub fn consul(step: impl Into<String>, source: consul::ConsulError) -> Error {
        Error::Consul {
            step: step.into(),
            source,
        }
    }

    /// Whether trying again later may help. Only configuration errors are final: Consul and
    /// ECS may come up, a token may be granted the rights it lacks (a token file is re-read
    /// on every request), the metadata endpoint may start answering.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Error::Config(_))
    }
}

/// Shorthand used by every module.
pub type Result<T, E = Error> = std::result::Result<T, E>;
