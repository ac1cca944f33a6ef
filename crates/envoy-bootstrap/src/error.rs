//! The one error type of this crate.

use std::path::PathBuf;

/// Why a bootstrap could not be resolved, generated or written.
///
/// No variant ever carries the ACL token or rendered bootstrap text (which holds the token),
/// so an error can be logged as is.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// A `Proxy.Config` key (or an access-log setting) holds a value Consul would not accept.
    /// `key` is the exact map key, e.g. `envoy_extra_static_clusters_json`.
    #[error("{key}: {message}")]
    InvalidSetting {
        /// The offending key, named as the user wrote it.
        key: String,
        /// What was expected and what was found.
        message: String,
    },

    /// The registration read back from the agent has no `Proxy` block.
    #[error("service is not a Connect proxy or gateway")]
    NotAProxy,

    /// The registration read back from the agent is not shaped like one.
    #[error("invalid proxy registration: {0}")]
    InvalidRegistration(String),

    /// An address given to the resolver (gRPC or admin bind) is unusable.
    #[error("invalid {what} address {value:?}: {reason}")]
    InvalidAddress {
        /// Which address: `agent gRPC` or `admin bind`.
        what: &'static str,
        /// The address as given.
        value: String,
        /// Why it was rejected.
        reason: String,
    },

    /// A CA certificate file or directory could not be read, or held a file that is not
    /// a regular text file within the size limit (the source names that file).
    #[error("reading CA certificates: {source}")]
    ReadCa {
        /// The CA file or directory as configured.
        path: PathBuf,
        /// What went wrong, naming the file or directory it happened to.
        source: boundary::ReadError,
    },

    /// A CA directory held no files at all.
    #[error("no CA certificates found in {}", path.display())]
    NoCaCertificates {
        /// The empty directory.
        path: PathBuf,
    },

    /// The agent did not give what the bootstrap is made from (the proxy registration, the
    /// proxy-defaults entry), or could not be reached.
    #[error("{0}")]
    Agent(String),

    /// Gathering and resolving the inputs did not finish within the step's deadline (a
    /// host name lookup that hangs, an agent that does not answer).
    #[error("resolving the bootstrap inputs did not finish within {0:?}")]
    Timeout(std::time::Duration),

    /// Writing the bootstrap file failed.
    #[error("writing bootstrap file {}: {source}", path.display())]
    Write {
        /// Destination path.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
}

impl BootstrapError {
    /// Shorthand for [`BootstrapError::InvalidSetting`].
    pub(crate) fn setting(key: &str, message: impl Into<String>) -> Self {
        BootstrapError::InvalidSetting {
            key: key.to_string(),
            message: message.into(),
        }
    }
}
