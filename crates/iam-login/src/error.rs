//! The one error type of this crate.
//!
//! No variant ever carries a secret access key, a session token, a signature or a signed
//! header: messages are built from URLs, status codes, AWS error bodies (with any
//! credential material redacted) and parse failures only.

use std::path::PathBuf;

/// Why a bearer token could not be built or a token file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// No provider of the default chain yielded AWS credentials.
    #[error("no AWS credentials: {0}")]
    Credentials(String),

    /// The STS endpoint (configured or derived from the region) is not a usable URL.
    #[error("invalid STS endpoint {url:?}: {reason}")]
    InvalidEndpoint {
        /// The offending URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Neither `consulLogin.region` nor the task ARN gave a region to sign for.
    #[error("no AWS region to sign the login request for")]
    MissingRegion,

    /// aws-sigv4 refused to sign a request (bad header value, bad signing parameters).
    #[error("cannot sign the {what} request: {reason}")]
    Signing {
        /// Which request: `sts:GetCallerIdentity` or `iam:GetRole`/`iam:GetUser`.
        what: &'static str,
        /// The signer's reason.
        reason: String,
    },

    /// The GetCallerIdentity request sent to learn our own ARN did not get an answer.
    #[error("sts:GetCallerIdentity request to {url} failed: {reason}")]
    StsTransport {
        /// The STS URL the request went to.
        url: String,
        /// The transport error (connect, TLS, timeout).
        reason: String,
    },

    /// STS answered the GetCallerIdentity request with an error status.
    #[error("sts:GetCallerIdentity at {url} returned HTTP {status}: {body}")]
    StsStatus {
        /// The STS URL the request went to.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The (truncated, redacted) response body, usually AWS error XML.
        body: String,
    },

    /// STS answered 200 but the body is not a GetCallerIdentity response with one ARN.
    #[error("unexpected sts:GetCallerIdentity response: {0}")]
    StsResponse(String),

    /// An ARN did not have the shape consul-awsauth accepts (docs/protocols.md §3.8).
    #[error("unrecognized arn {arn:?}: {reason}")]
    Arn {
        /// The ARN as received.
        arn: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The caller is neither an IAM role (or assumed role) nor an IAM user, so no
    /// GetRole/GetUser request can describe it.
    #[error("entity {0} is not an IAM role or IAM user")]
    UnsupportedEntity(String),

    /// A bearer token could not be taken apart (see `DecodedToken::decode`).
    #[error("invalid bearer token: {0}")]
    InvalidToken(String),

    /// The token file could not be written.
    #[error("cannot write token file {path}: {source}")]
    TokenFile {
        /// The destination path.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
}
