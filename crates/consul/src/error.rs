//! The one error type of this crate and its classification (retryable, not found, denied).

use std::path::PathBuf;

/// Longest Consul error body kept in an error, so a misbehaving proxy's HTML page does not
/// flood the logs.
const MAX_BODY_CHARS: usize = 2048;

/// Everything that can go wrong talking to Consul.
///
/// Each request error names the request as `METHOD /path` (never the query string and never
/// the token), so one log line says which call failed and why.
#[derive(Debug, thiserror::Error)]
pub enum ConsulError {
    /// Consul answered with a non-success status. `body` is Consul's plain-text message.
    #[error("{method} {path}: Unexpected response code: {status} ({body})")]
    Status {
        /// HTTP method of the request.
        method: String,
        /// URL path of the request (no query).
        path: String,
        /// HTTP status code.
        status: u16,
        /// Consul's response body (trimmed, truncated).
        body: String,
    },
    /// The request did not get an answer: connection refused or reset, timeout, TLS failure.
    #[error("{method} {path}: {message}")]
    Transport {
        /// HTTP method of the request.
        method: String,
        /// URL path of the request (no query).
        path: String,
        /// What happened, from the HTTP library, without the URL.
        message: String,
        /// Whether this was a timeout (as opposed to a connection failure).
        timeout: bool,
        /// Whether TLS failed over a certificate: the server's was not trusted (unknown CA,
        /// wrong name, expired), or the server refused ours or required one we did not
        /// send. Retrying cannot fix a configuration error.
        certificate: bool,
    },
    /// The server answered 2xx with a body larger than this request's limit (1 MiB for
    /// single objects and agent endpoints, 64 MiB for lists). Not retryable: the same
    /// request would get the same answer, and reading on would let one misbehaving server
    /// or proxy take the process's memory.
    #[error("{method} {path}: {source}")]
    BodyTooLarge {
        /// HTTP method of the request.
        method: String,
        /// URL path of the request (no query).
        path: String,
        /// The limit that was passed, in bytes.
        limit: u64,
        /// The bounded read's error, which names the limit.
        #[source]
        source: boundary::ReadError,
    },
    /// Consul answered 2xx but the body was not the JSON we expect.
    #[error("{method} {path}: decoding response: {source}")]
    Decode {
        /// HTTP method of the request.
        method: String,
        /// URL path of the request (no query).
        path: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A request body could not be encoded as JSON.
    #[error("{method} {path}: encoding request: {source}")]
    Encode {
        /// HTTP method of the request.
        method: String,
        /// URL path of the request (no query).
        path: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The token file could not be read: missing, unreadable, not a regular file (a
    /// device, a FIFO), a symlink where links are refused, larger than
    /// [`crate::TOKEN_FILE_LIMIT`] or not UTF-8. The message names the file, never its
    /// content.
    #[error("reading the Consul token file: {source}")]
    TokenFile {
        /// The token file.
        path: PathBuf,
        /// What went wrong; its message names the path.
        #[source]
        source: boundary::ReadError,
    },
    /// The client configuration is unusable (bad address, unreadable CA file, …).
    #[error("invalid Consul client configuration: {0}")]
    Config(String),
}

impl ConsulError {
    /// Builds a [`ConsulError::Status`], trimming and truncating the body.
    pub(crate) fn status(method: &str, path: &str, status: u16, body: &str) -> Self {
        let body = body.trim();
        let body = boundary::truncate_chars(body, MAX_BODY_CHARS);
        ConsulError::Status {
            method: method.to_owned(),
            path: path.to_owned(),
            status,
            body,
        }
    }

    /// Builds a [`ConsulError::Transport`] from a reqwest error, dropping the URL.
    pub(crate) fn transport(method: &str, path: &str, err: reqwest::Error) -> Self {
        let timeout = err.is_timeout();
        // The URL carries no secrets (tokens go in headers) but it is noise next to the
        // path we already print; the whole source chain says *why* (refused, reset, TLS).
        let err = err.without_url();
        let message = boundary::error_chain(&err);
        let certificate = std::error::Error::source(&err).is_some_and(caused_by_certificate);
        ConsulError::Transport {
            method: method.to_owned(),
            path: path.to_owned(),
            message,
            timeout,
            certificate,
        }
    }

    /// The HTTP status, when Consul answered.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ConsulError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Consul's error body, when Consul answered with an error status.
    pub fn body(&self) -> Option<&str> {
        match self {
            ConsulError::Status { body, .. } => Some(body),
            _ => None,
        }
    }

    /// Whether trying again later may succeed: no answer at all (refused, reset, timeout),
    /// a 5xx, or 429 (rate limited). 4xx answers (400, 401, 403, 404, …) are final, as are
    /// certificate errors (an untrusted, expired or misnamed server certificate; our client
    /// certificate refused or missing), oversized bodies, decoding, token-file and
    /// configuration errors: retrying cannot fix them until someone changes a setting.
    pub fn is_retryable(&self) -> bool {
        match self {
            ConsulError::Transport { certificate, .. } => !certificate,
            ConsulError::Status { status, .. } => *status == 429 || (500..=599).contains(status),
            ConsulError::BodyTooLarge { .. }
            | ConsulError::Decode { .. }
            | ConsulError::Encode { .. }
            | ConsulError::TokenFile { .. }
            | ConsulError::Config(_) => false,
        }
    }

    /// Whether the thing asked for does not exist: any 404, or a 403 whose body contains
    /// `ACL not found` (how Consul < 1.15 answers ACL reads of missing objects,
    /// docs/protocols.md §5.1).
    pub fn is_not_found(&self) -> bool {
        match self {
            ConsulError::Status { status: 404, .. } => true,
            ConsulError::Status {
                status: 403, body, ..
            } => body.contains("ACL not found"),
            _ => false,
        }
    }

    /// Whether the ACL token is unknown to Consul: 403 `ACL not found`, or 404 / 401 whose
    /// body says the token `does not exist` (Consul ≥ 1.15 `Supplied token does not exist`).
    pub fn is_acl_not_found(&self) -> bool {
        match self {
            ConsulError::Status {
                status: 403, body, ..
            } => body.contains("ACL not found"),
            ConsulError::Status {
                status: 404 | 401,
                body,
                ..
            } => body.contains("does not exist"),
            _ => false,
        }
    }

    /// Whether Consul refused the request for lack of rights (403 `Permission denied`).
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, ConsulError::Status { status: 403, body, .. } if body.contains("Permission denied"))
    }
}

/// Whether `err` or one of its causes is a TLS failure over a certificate (see
/// [`ConsulError::Transport`]'s `certificate`): for every transport that reaches Consul with
/// rustls, so all of them tell a final certificate refusal from a retryable failure alike.
pub fn caused_by_certificate(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(cause) = source {
        if is_certificate_error(cause) {
            return true;
        }
        source = cause.source();
    }
    false
}

/// Whether `cause` is a TLS failure over a certificate: rustls rejecting the server's, or
/// the server's alert that it refused ours (or wanted one).
///
/// The rustls error sits inside an `io::Error` (tokio-rustls), itself inside another
/// (hyper-rustls wraps the handshake error again), and `io::Error::source()` skips what it
/// wraps, so look inside every `io::Error` layer explicitly.
fn is_certificate_error(cause: &(dyn std::error::Error + 'static)) -> bool {
    use rustls::AlertDescription as Alert;
    let mut current = cause;
    let tls = loop {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            break Some(tls);
        }
        match current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => current = inner,
            None => break None,
        }
    };
    matches!(
        tls,
        Some(
            rustls::Error::InvalidCertificate(_)
                | rustls::Error::NoCertificatesPresented
                | rustls::Error::UnsupportedNameType
                | rustls::Error::AlertReceived(
                    Alert::BadCertificate
                        | Alert::UnsupportedCertificate
                        | Alert::CertificateRevoked
                        | Alert::CertificateExpired
                        | Alert::CertificateUnknown
                        | Alert::UnknownCA
                        | Alert::CertificateRequired
                )
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(status: u16, body: &str) -> ConsulError {
        ConsulError::status("GET", "/v1/acl/token/self", status, body)
    }

    #[test]
    fn classification() {
        assert!(st(500, "rpc error").is_retryable());
        assert!(st(503, "").is_retryable());
        assert!(st(429, "rate limited").is_retryable());
        for s in [400, 401, 403, 404, 405] {
            assert!(!st(s, "x").is_retryable(), "{s} must be final");
        }
        assert!(st(403, "ACL not found").is_acl_not_found());
        assert!(st(403, "ACL not found").is_not_found());
        assert!(st(404, "Supplied token does not exist").is_acl_not_found());
        assert!(!st(404, "Unknown service ID").is_acl_not_found());
        assert!(st(404, "").is_not_found());
        assert!(st(
            403,
            "Permission denied: token with AccessorID 'x' lacks permission"
        )
        .is_permission_denied());
        assert!(!st(403, "Permission denied").is_not_found());
        assert!(!st(403, "ACL not found").is_permission_denied());
    }

    #[test]
    fn display_names_request_and_body_like_the_go_client() {
        let e = st(403, "  ACL not found\n");
        assert_eq!(
            e.to_string(),
            "GET /v1/acl/token/self: Unexpected response code: 403 (ACL not found)"
        );
        assert_eq!(e.http_status(), Some(403));
        assert_eq!(e.body(), Some("ACL not found"));
    }

    #[test]
    fn long_bodies_are_truncated() {
        let e = st(500, &"x".repeat(10_000));
        assert!(e.body().unwrap().chars().count() <= MAX_BODY_CHARS + 1);
    }
}
