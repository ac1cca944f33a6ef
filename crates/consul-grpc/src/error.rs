//! The one error type of this crate: what failed, against which server, and — for an answer
//! from Consul — the gRPC status code it sent, so callers decide by code, never by text.

use std::net::SocketAddr;
use std::time::Duration;

/// A failed gRPC call, connection or discovery step.
///
/// No variant holds a token: the messages are Consul's status messages, which name the
/// auth method or the reason, never the bearer token or the ACL token.
#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    /// The TLS settings cannot be used (unreadable CA file, no certificate in the PEM text,
    /// an invalid server name). Not retried.
    #[error("gRPC TLS settings: {0}")]
    Tls(#[source] consul::ConsulError),
    /// No HTTP/2 connection (TCP, TLS handshake) to the server.
    #[error("connecting to Consul server {address} over gRPC: {}", boundary::error_chain(.source))]
    Connect {
        /// The server tried.
        address: SocketAddr,
        /// Why it failed (tonic's transport error; its causes name the I/O or TLS error).
        source: tonic::transport::Error,
        /// Whether TLS failed over a certificate (not trusted, not for this name): final,
        /// as for the HTTP client.
        certificate: bool,
    },
    /// Consul (or the transport under the call) answered with a gRPC status.
    #[error("{call} on {address}: {code:?}: {message}")]
    Status {
        /// The call (`ACLService/Login`, ...).
        call: &'static str,
        /// The server asked.
        address: SocketAddr,
        /// The gRPC status code (`PermissionDenied`, `Unauthenticated`, `Unavailable`...).
        code: tonic::Code,
        /// The status message.
        message: String,
    },
    /// No answer within the call's deadline.
    #[error("{call} on {address}: no answer within {after:?}")]
    Timeout {
        /// The call.
        call: &'static str,
        /// The server asked.
        address: SocketAddr,
        /// The deadline.
        after: Duration,
    },
    /// The ACL token has characters gRPC metadata cannot carry (it is not sent).
    #[error("{call}: the ACL token is not a valid gRPC metadata value")]
    BadToken {
        /// The call.
        call: &'static str,
    },
    /// A login answer without a token (Consul always sends one with an OK status).
    #[error("ACLService/Login on {address}: the answer holds no token")]
    EmptyLogin {
        /// The server asked.
        address: SocketAddr,
    },
    /// `consulServers.hosts` gave no server address (see [`crate::DiscoveryError`]).
    #[error(transparent)]
    Discovery(#[from] crate::DiscoveryError),
    /// Every known server was tried and none could be connected to.
    #[error("no Consul server reachable over gRPC (tried {tried}): {last}")]
    NoServer {
        /// How many addresses were tried.
        tried: usize,
        /// The last connection error.
        last: Box<GrpcError>,
    },
}

impl GrpcError {
    /// Whether the server's certificate was refused (see [`GrpcError::Connect`]).
    pub fn is_certificate(&self) -> bool {
        match self {
            GrpcError::Connect { certificate, .. } => *certificate,
            GrpcError::NoServer { last, .. } => last.is_certificate(),
            _ => false,
        }
    }

    /// The gRPC status code Consul answered with, if the call got that far.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            GrpcError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub(crate) fn from_status(
        call: &'static str,
        address: SocketAddr,
        status: tonic::Status,
    ) -> Self {
        GrpcError::Status {
            call,
            address,
            code: status.code(),
            message: status.message().to_owned(),
        }
    }
}

impl retry::Retryable for GrpcError {
    /// Connection trouble and the codes gRPC defines as transient are retried; a refusal
    /// (`Unauthenticated`, `PermissionDenied`, `InvalidArgument`, `NotFound`,
    /// `FailedPrecondition`...) or a TLS setting that cannot work is final.
    fn is_retryable(&self) -> bool {
        match self {
            GrpcError::Connect { certificate, .. } => !certificate,
            GrpcError::NoServer { last, .. } => last.is_retryable(),
            GrpcError::Timeout { .. } => true,
            GrpcError::Status { code, .. } => matches!(
                code,
                tonic::Code::Unavailable
                    | tonic::Code::DeadlineExceeded
                    | tonic::Code::ResourceExhausted
                    | tonic::Code::Aborted
                    // What tonic reports for a connection that broke under a call.
                    | tonic::Code::Unknown
            ),
            GrpcError::Discovery(e) => e.is_retryable(),
            GrpcError::Tls(_) | GrpcError::EmptyLogin { .. } | GrpcError::BadToken { .. } => false,
        }
    }
}
