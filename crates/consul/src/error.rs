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
    /// The request did not get an answer: connection refused or reset, name not resolved,
    /// timeout, TLS failure, or plain HTTP sent to a TLS port.
    #[error("{method} {path}: {message}")]
    Transport {
        /// HTTP method of the request.
        method: String,
        /// URL path of the request (no query).
        path: String,
        /// What kind of failure it was, from the source error's type.
        kind: TransportKind,
        /// What happened, without the URL: the cause chain below the HTTP library's own
        /// "error sending request" and connection-pool layers, which say nothing about why
        /// (e.g. `tcp connect error: Connection refused (os error 111)`).
        message: String,
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
        let kind = TransportKind::of(&err);
        // The URL carries no secrets (tokens go in headers) but it is noise next to the
        // path we already print; the whole source chain says *why* (refused, reset, TLS).
        let err = err.without_url();
        let message = informative_cause(&err);
        ConsulError::Transport {
            method: method.to_owned(),
            path: path.to_owned(),
            kind,
            message,
        }
    }

    /// The [`ConsulError::Transport`] for plain HTTP sent to a TLS port at `authority`.
    pub(crate) fn plain_http_to_tls(method: &str, path: &str, authority: &str) -> Self {
        let message = format!(
            "plain HTTP sent to a TLS port: {authority} speaks HTTPS; use an https:// address \
             (or CONSUL_HTTP_SSL=true)"
        );
        ConsulError::Transport {
            method: method.to_owned(),
            path: path.to_owned(),
            kind: TransportKind::PlainHttpToTls,
            message,
        }
    }

    /// How the request failed to get an answer: the kind of a
    /// [`ConsulError::Transport`], [`TransportKind::BodyTooLarge`] for an oversized answer,
    /// `None` when Consul answered (or nothing was sent).
    pub fn transport_kind(&self) -> Option<TransportKind> {
        match self {
            ConsulError::Transport { kind, .. } => Some(*kind),
            ConsulError::BodyTooLarge { .. } => Some(TransportKind::BodyTooLarge),
            _ => None,
        }
    }

    /// What Consul's error answer means, when Consul answered with an error status.
    pub fn answer_kind(&self) -> Option<AnswerKind> {
        match self {
            ConsulError::Status { status, body, .. } => Some(AnswerKind::of(*status, body)),
            _ => None,
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
            ConsulError::Transport { kind, .. } => kind.is_retryable(),
            ConsulError::Status { status, .. } => *status == 429 || (500..=599).contains(status),
            ConsulError::BodyTooLarge { .. }
            | ConsulError::Decode { .. }
            | ConsulError::Encode { .. }
            | ConsulError::TokenFile { .. }
            | ConsulError::Config(_) => false,
        }
    }

    /// Whether the thing asked for does not exist: any 404, or a 403 whose body contains
    /// `ACL not found` (how Consul answers ACL reads of missing objects, docs/protocols.md
    /// §5.1).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.answer_kind(),
            Some(AnswerKind::NotFound | AnswerKind::AclNotFound)
        )
    }

    /// Whether the ACL token is unknown to Consul: 403 `ACL not found` (Consul 1.15: `token
    /// does not exist: ACL not found`, through a client agent prefixed `rpc error making
    /// call: `), or a 404 / 401 whose body says the token `does not exist`.
    pub fn is_acl_not_found(&self) -> bool {
        self.answer_kind() == Some(AnswerKind::AclNotFound)
    }

    /// Whether Consul refused the request for lack of rights (403 `Permission denied`).
    pub fn is_permission_denied(&self) -> bool {
        self.answer_kind() == Some(AnswerKind::PermissionDenied)
    }

    /// Whether TLS failed over the server's certificate (not trusted, expired, wrong name)
    /// or ours (refused, missing).
    pub fn is_certificate_error(&self) -> bool {
        matches!(
            self.transport_kind(),
            Some(TransportKind::TlsCertificate | TransportKind::TlsName)
        )
    }
}

/// Whether `err` or one of its causes is a TLS failure over a certificate (the kinds
/// [`TransportKind::TlsCertificate`] and [`TransportKind::TlsName`]): for every transport
/// that reaches Consul with rustls, so all of them tell a final certificate refusal from a
/// retryable failure alike.
pub fn caused_by_certificate(err: &(dyn std::error::Error + 'static)) -> bool {
    layers(err).any(|layer| {
        layer.downcast_ref::<rustls::Error>().is_some_and(|tls| {
            matches!(
                tls_kind(tls),
                TransportKind::TlsCertificate | TransportKind::TlsName
            )
        })
    })
}

/// How a request failed to get an answer. Taken from the type of an error in the source
/// chain (an `io::Error`'s kind, hyper's and reqwest's predicates, the rustls error, this
/// crate's own resolver error), never from message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TransportKind {
    /// The connection was refused: nothing listens there.
    Refused,
    /// The host name did not resolve.
    NameNotResolved,
    /// Connecting or answering took longer than the client's timeout.
    TimedOut,
    /// TLS failed over a certificate: the server's is not trusted (unknown issuer, expired,
    /// revoked), or the server refused ours or wanted one we did not send.
    TlsCertificate,
    /// The server's certificate is not valid for the name asked for.
    TlsName,
    /// The TLS handshake failed otherwise (no common protocol version or cipher, a peer
    /// that does not speak TLS).
    TlsHandshake,
    /// The address says `http://` but the server speaks TLS.
    PlainHttpToTls,
    /// The connection was reset or closed before the answer was complete.
    Reset,
    /// The answer was larger than the request's limit.
    BodyTooLarge,
    /// Anything else (an unreachable network, an answer that is not HTTP).
    Other,
}

impl TransportKind {
    /// The kind of a reqwest error: the first layer of its cause chain that says, else
    /// reqwest's own timeout, else [`TransportKind::Other`].
    fn of(err: &reqwest::Error) -> TransportKind {
        layers(err)
            .find_map(layer_kind)
            .unwrap_or(if err.is_timeout() {
                TransportKind::TimedOut
            } else {
                TransportKind::Other
            })
    }

    /// Whether trying again may help: not after a certificate or name mismatch, plain HTTP
    /// to a TLS port, or an oversized answer, which only a configuration change fixes.
    pub fn is_retryable(self) -> bool {
        !matches!(
            self,
            TransportKind::TlsCertificate
                | TransportKind::TlsName
                | TransportKind::PlainHttpToTls
                | TransportKind::BodyTooLarge
        )
    }

    /// Whether TLS failed (any of the TLS kinds, plain HTTP to a TLS port included).
    pub fn is_tls(self) -> bool {
        matches!(
            self,
            TransportKind::TlsCertificate
                | TransportKind::TlsName
                | TransportKind::TlsHandshake
                | TransportKind::PlainHttpToTls
        )
    }

    /// A few words for reports: `connection refused`, `name not resolved`, ….
    pub fn words(self) -> &'static str {
        match self {
            TransportKind::Refused => "connection refused",
            TransportKind::NameNotResolved => "name not resolved",
            TransportKind::TimedOut => "timed out",
            TransportKind::TlsCertificate => "TLS certificate refused",
            TransportKind::TlsName => "TLS certificate name mismatch",
            TransportKind::TlsHandshake => "TLS handshake failed",
            TransportKind::PlainHttpToTls => "plain HTTP to a TLS port",
            TransportKind::Reset => "connection reset",
            TransportKind::BodyTooLarge => "answer too large",
            TransportKind::Other => "connection failed",
        }
    }
}

/// Every layer of `err`'s cause chain, looking inside each `io::Error`: its `source()` skips
/// the error it wraps (tokio-rustls puts the rustls error there, hyper-rustls wraps that
/// again).
fn layers<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |current| {
        match current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        }
    })
}

/// What one layer of a cause chain says about the failure, if anything.
fn layer_kind(layer: &(dyn std::error::Error + 'static)) -> Option<TransportKind> {
    use std::io::ErrorKind as Io;
    if let Some(tls) = layer.downcast_ref::<rustls::Error>() {
        return Some(tls_kind(tls));
    }
    if layer.is::<crate::resolve::NameNotResolved>() {
        return Some(TransportKind::NameNotResolved);
    }
    if let Some(io) = layer.downcast_ref::<std::io::Error>() {
        return match io.kind() {
            Io::ConnectionRefused => Some(TransportKind::Refused),
            Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe | Io::UnexpectedEof => {
                Some(TransportKind::Reset)
            }
            Io::TimedOut => Some(TransportKind::TimedOut),
            _ => None,
        };
    }
    if let Some(hyper) = layer.downcast_ref::<hyper::Error>() {
        if hyper.is_timeout() {
            return Some(TransportKind::TimedOut);
        }
        if hyper.is_incomplete_message() {
            return Some(TransportKind::Reset);
        }
    }
    None
}

/// The kind of a rustls error: rustls rejecting the server's certificate, or the server's
/// alert that it refused ours (or wanted one); anything else is the handshake.
fn tls_kind(tls: &rustls::Error) -> TransportKind {
    use rustls::AlertDescription as Alert;
    use rustls::CertificateError as Cert;
    match tls {
        rustls::Error::InvalidCertificate(
            Cert::NotValidForName | Cert::NotValidForNameContext { .. },
        )
        | rustls::Error::UnsupportedNameType => TransportKind::TlsName,
        rustls::Error::InvalidCertificate(_)
        | rustls::Error::NoCertificatesPresented
        | rustls::Error::AlertReceived(
            Alert::BadCertificate
            | Alert::UnsupportedCertificate
            | Alert::CertificateRevoked
            | Alert::CertificateExpired
            | Alert::CertificateUnknown
            | Alert::UnknownCA
            | Alert::CertificateRequired,
        ) => TransportKind::TlsCertificate,
        _ => TransportKind::TlsHandshake,
    }
}

/// `err`'s cause chain from the first layer below reqwest's own ("error sending request")
/// and hyper-util's connection pool ("client error (Connect)"), which every failure starts
/// with and which say nothing about why.
fn informative_cause(err: &reqwest::Error) -> String {
    let mut layer: &(dyn std::error::Error + 'static) = err;
    while layer.is::<reqwest::Error>() || layer.is::<hyper_util::client::legacy::Error>() {
        match layer.source() {
            Some(next) => layer = next,
            None => break,
        }
    }
    boundary::error_chain(layer)
}

/// What an error answer of Consul means. Classified once, here, against the texts Consul
/// 1.15 sends (through a client agent a server's error is prefixed `rpc error making call:
/// `, which the classification does not depend on); callers match these kinds, never the
/// text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    /// The token, or the ACL object asked for, does not exist: 403 `ACL not found`
    /// (`token does not exist: ACL not found`, `ACL not found: auth method "x" not
    /// found`), or a 404 / 401 that says the token `does not exist`.
    AclNotFound,
    /// 403 `Permission denied`: the token lacks a right (or, at login, no binding rule
    /// produced an identity).
    PermissionDenied,
    /// 401 `ACL support disabled`.
    AclDisabled,
    /// Any other 401 or 403.
    Denied,
    /// Any other 404: no such object (`Cannot find token to delete`, `Unknown service
    /// ID`), or no such endpoint.
    NotFound,
    /// Login: the AWS IAM auth method does not trust the caller (`IAM principal … is not
    /// trusted`).
    IamPrincipalNotTrusted,
    /// Login: the service (or namespace) name computed for a binding rule is not valid
    /// (`computed "service" bind name for bind target is invalid: …`) or cannot be
    /// computed (`cannot compute "service" bind name for bind target: …`).
    BindNameInvalid,
    /// Login: AWS refused the identity call Consul replayed (`received error code 403`,
    /// AWS's `AccessDenied`).
    AwsRefused,
    /// 429: rate limited.
    RateLimited,
    /// Any other 5xx.
    ServerError,
    /// Any other status (400, 405, 409, …).
    Rejected,
}

/// What Go's `net/http` server (so Consul) answers, with status 400, to a plain HTTP request
/// on a TLS port.
pub(crate) const GO_PLAIN_HTTP_TO_TLS_ANSWER: &str =
    "Client sent an HTTP request to an HTTPS server.";

/// The prefix a client agent puts on every error it got from a server.
pub const RPC_ERROR_PREFIX: &str = "rpc error making call: ";

impl AnswerKind {
    /// Classifies Consul's answer `status` with `body`.
    pub fn of(status: u16, body: &str) -> AnswerKind {
        let message = body.trim_start().trim_start_matches(RPC_ERROR_PREFIX);
        match status {
            403 if message.contains("ACL not found") => AnswerKind::AclNotFound,
            401 | 404 if message.contains("does not exist") => AnswerKind::AclNotFound,
            403 if message.contains("Permission denied") => AnswerKind::PermissionDenied,
            401 if message.contains("ACL support disabled") => AnswerKind::AclDisabled,
            401 | 403 => AnswerKind::Denied,
            404 => AnswerKind::NotFound,
            429 => AnswerKind::RateLimited,
            _ if message.contains("IAM principal") && message.contains("is not trusted") => {
                AnswerKind::IamPrincipalNotTrusted
            }
            _ if message.contains("bind name for bind target") => AnswerKind::BindNameInvalid,
            _ if message.contains("received error code 403")
                || message.contains("<Code>AccessDenied</Code>") =>
            {
                AnswerKind::AwsRefused
            }
            500..=599 => AnswerKind::ServerError,
            _ => AnswerKind::Rejected,
        }
    }
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
    fn answers_are_classified_against_consul_1_15s_texts() {
        use AnswerKind as K;
        let cases = [
            (403, "token does not exist: ACL not found", K::AclNotFound),
            (
                403,
                "rpc error making call: token does not exist: ACL not found",
                K::AclNotFound,
            ),
            (
                403,
                "rpc error making call: ACL not found: auth method \"x\" not found",
                K::AclNotFound,
            ),
            (404, "Supplied token does not exist", K::AclNotFound),
            (
                403,
                "rpc error making call: Permission denied: token with AccessorID 'x' lacks \
                 permission 'service:write' on \"web\"",
                K::PermissionDenied,
            ),
            (401, "ACL support disabled", K::AclDisabled),
            (403, "wasn't created via login", K::Denied),
            (404, "Cannot find token to delete", K::NotFound),
            (
                404,
                "Invalid URL path: not a recognized HTTP API endpoint",
                K::NotFound,
            ),
            (
                500,
                "rpc error making call: IAM principal arn:aws:iam::1:role/a/b is not trusted",
                K::IamPrincipalNotTrusted,
            ),
            (
                500,
                "computed \"service\" bind name for bind target is invalid: \"Web!\"",
                K::BindNameInvalid,
            ),
            (
                500,
                "cannot compute \"service\" bind name for bind target: unknown variable",
                K::BindNameInvalid,
            ),
            (
                500,
                "received error code 403: <ErrorResponse><Error><Code>AccessDenied</Code>",
                K::AwsRefused,
            ),
            (429, "rate limit exceeded", K::RateLimited),
            (
                500,
                "rpc error making call: No cluster leader",
                K::ServerError,
            ),
            (
                400,
                "Port or SocketPath must be set for a connect-proxy",
                K::Rejected,
            ),
        ];
        for (status, body, want) in cases {
            assert_eq!(
                st(status, body).answer_kind(),
                Some(want),
                "{status} {body}"
            );
        }
        assert_eq!(
            ConsulError::Config("x".into()).answer_kind(),
            None,
            "no answer, no kind"
        );
        // Through a client agent the 1.15 texts are still ACL-not-found and not-found.
        let via_agent = st(
            403,
            "rpc error making call: token does not exist: ACL not found",
        );
        assert!(via_agent.is_acl_not_found() && via_agent.is_not_found());
        assert!(!via_agent.is_permission_denied());
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
