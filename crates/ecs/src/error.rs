//! The one error type of this crate.

/// Everything that can go wrong reading task metadata or deriving values from it.
///
/// Messages are single lines that say which URL or ARN was involved, so a log line alone
/// answers "why did this fail". Task metadata carries no secrets, so no redaction is needed.
#[derive(Debug, thiserror::Error)]
pub enum EcsError {
    /// `ECS_CONTAINER_METADATA_URI_V4` is not set (not running in an ECS task, or an agent
    /// too old to inject it). Same wording as v0.6.2.
    #[error("ECS_CONTAINER_METADATA_URI_V4 env var not set")]
    EnvNotSet,

    /// The metadata base URI is not an absolute http(s) URL.
    #[error("invalid task metadata URI {uri:?}: {reason}")]
    InvalidUri {
        /// The URI as given.
        uri: String,
        /// Why it was rejected.
        reason: String,
    },

    /// The HTTP client could not be built (e.g. the TLS backend failed to initialise).
    #[error("building the task metadata HTTP client: {0}")]
    Client(String),

    /// Connecting, sending or reading the response failed.
    #[error("calling metadata uri {url}: {detail}")]
    Transport {
        /// The URL requested.
        url: String,
        /// The error and its causes, joined with `: `.
        detail: String,
    },

    /// The endpoint answered 2xx with a body larger than `limit` bytes (1 MiB): not task
    /// metadata. Final: the same request would get the same answer.
    #[error("calling metadata uri {url}: {source}")]
    BodyTooLarge {
        /// The URL requested.
        url: String,
        /// The limit that was passed, in bytes.
        limit: u64,
        /// The bounded read's error, which names the limit.
        #[source]
        source: boundary::ReadError,
    },

    /// No complete response arrived within the per-request timeout.
    #[error("calling metadata uri {url}: no complete response within {timeout:?}")]
    Timeout {
        /// The URL requested.
        url: String,
        /// The per-request timeout that expired.
        timeout: std::time::Duration,
    },

    /// The endpoint answered with a non-2xx status.
    #[error("metadata uri {url} answered HTTP {status}: {body:?}")]
    Status {
        /// The URL requested.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body (at most a few hundred characters).
        body: String,
    },

    /// The body was not the JSON we expect.
    #[error("unmarshalling metadata uri response from {url}: {message}")]
    Decode {
        /// The URL requested.
        url: String,
        /// serde_json's message (with line and column).
        message: String,
    },

    /// Every attempt failed with a retryable error; `last` is the final one.
    #[error("giving up after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// How many requests were made.
        attempts: u32,
        /// The error of the last attempt.
        last: Box<EcsError>,
    },

    /// `TaskARN` (or `Cluster`) does not have the shape needed to derive `what`.
    #[error("unable to determine {what} from Task ARN {arn:?}: {reason}")]
    MalformedArn {
        /// The value being derived, e.g. `AWS region`.
        what: &'static str,
        /// The ARN as found in the task metadata.
        arn: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl EcsError {
    /// Whether another attempt may succeed: transport errors, timeouts, HTTP 429 and 5xx.
    /// Decoding errors, oversized bodies and other statuses are answers, not glitches, so
    /// they are final.
    pub fn is_retryable(&self) -> bool {
        match self {
            EcsError::Transport { .. } | EcsError::Timeout { .. } => true,
            EcsError::Status { status, .. } => *status == 429 || (500..600).contains(status),
            _ => false,
        }
    }

    /// The HTTP status behind this error, looking through [`EcsError::RetriesExhausted`].
    pub fn http_status(&self) -> Option<u16> {
        match self {
            EcsError::Status { status, .. } => Some(*status),
            EcsError::RetriesExhausted { last, .. } => last.http_status(),
            _ => None,
        }
    }
}
