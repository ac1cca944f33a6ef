//! Consul's AWS IAM auth method, client side: load AWS credentials from the standard
//! chain, build the SigV4-signed bearer token `POST /v1/acl/login` carries, and store the
//! resulting ACL token safely.
//!
//! [`login`], [`wait_for_replication`] and [`logout`] run the whole exchange with a
//! Consul server through the `consul` crate's client.
//!
//! Secrets policy: secret keys, session tokens, signatures and the signed headers that
//! carry them are never logged (at any level, including aws-sigv4's own TRACE output,
//! which is silenced while signing) and never appear in [`LoginError`] messages.

#![deny(missing_docs)]

mod arn;
mod container_credentials;
mod error;
mod gojson;
mod session;
mod sign;
mod stored;
mod sts;
mod token;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use aws_credential_types::provider::ProvideCredentials as _;
pub use aws_credential_types::Credentials;

pub use arn::PrincipalArn;
pub use consul::TOKEN_FILE_LIMIT;
pub use container_credentials::{ContainerCredentials, CREDENTIALS_BODY_LIMIT};
pub use error::LoginError;
pub use session::{
    caller_arn, login, login_policy, login_reviewed, login_reviewed_grpc, logout,
    wait_for_replication, Explanation, GrpcLogin, LoginFailure, LoginReview, LoginSpec, NoReview,
    NotReplicated,
};
pub use stored::{logout_token_file, replace_token_file, TokenFileLogoutError};
pub use token::DecodedToken;

/// `User-Agent` of the signed requests (not signed; informational for AWS and Consul).
const USER_AGENT: &str = concat!("consul-ecs/", env!("CARGO_PKG_VERSION"));

/// Meta key holding the ECS task ID on tokens created by login.
pub const META_TASK_ID: &str = "consul.hashicorp.com/task-id";
/// Meta key holding the ECS cluster (raw task-metadata `Cluster` value).
pub const META_CLUSTER: &str = "consul.hashicorp.com/cluster";

/// How to build the bearer token (from `consulLogin` in the config).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoginParams {
    /// SigV4 region of the STS request and the regional STS host: `consulLogin.region`,
    /// else the region of the task ARN (`AWS_REGION` is deliberately not consulted).
    pub region: String,
    /// `consulLogin.stsEndpoint`: replaces `https://sts.<region>.amazonaws.com/` both in
    /// the token and for the GetCallerIdentity call include-entity makes.
    pub sts_endpoint: Option<String>,
    /// `consulLogin.serverIdHeaderValue`: sent and signed as `X-Consul-IAM-ServerID` on
    /// the STS and the IAM request (empty = not sent).
    pub server_id_header_value: Option<String>,
    /// `consulLogin.includeEntity`: embed a signed `iam:GetRole`/`iam:GetUser` request so
    /// the auth method can read the entity's path and tags. Costs one real STS call.
    pub include_entity: bool,
}

/// Builds a fresh bearer token for `POST /v1/acl/login` (the `BearerToken` string).
///
/// Without include-entity this is pure computation; with it, one signed
/// `sts:GetCallerIdentity` is sent to the STS endpoint first to learn the caller's ARN.
/// The token is valid for about 15 minutes (AWS's clock-skew window): build one per
/// login attempt.
pub async fn bearer_token(creds: &Credentials, params: &LoginParams) -> Result<String, LoginError> {
    let entity = if params.include_entity {
        let url = token::sts_url(params)?;
        let arn =
            sts::caller_arn(creds, &url, &params.region, USER_AGENT, SystemTime::now()).await?;
        Some(token::Entity::from_arn(&PrincipalArn::parse(&arn)?)?)
    } else {
        None
    };
    let token = token::build_token(
        creds,
        params,
        entity.as_ref(),
        SystemTime::now(),
        USER_AGENT,
    )?;
    tracing::debug!(
        region = %params.region,
        include_entity = params.include_entity,
        "built aws-iam bearer token"
    );
    Ok(token)
}

/// Loads AWS credentials from the default chain: environment variables, profiles
/// (shared config and credentials files, including `credential_process`), web identity,
/// the ECS container credentials endpoint (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` /
/// `AWS_CONTAINER_CREDENTIALS_FULL_URI`) and EC2 instance metadata.
///
/// `region` is the one the login signs for: handing it to the chain keeps the providers
/// that need a region (profiles, web identity) from asking instance metadata for one, which
/// outside EC2 costs up to a second and a warning per attempt. `None` lets the chain look
/// the region up itself.
///
/// Not cached: call it per login attempt so rotated task-role credentials are picked up.
pub async fn load_credentials(region: Option<&str>) -> Result<Credentials, LoginError> {
    use aws_config::meta::credentials::CredentialsProviderChain;
    // Instance metadata and STS (web identity) are asked over the one HTTPS client of AWS
    // calls (`boundary::aws_http_client`); no SDK default client is compiled in.
    let conf = boundary::provider_config();
    let region = match region.filter(|r| !r.is_empty()) {
        Some(region) => Some(aws_config::Region::new(region.to_owned())),
        None => boundary::default_region_chain(&conf).region().await,
    };
    let conf = conf.with_region(region);
    // The default chain's order, with the ECS container provider replaced by one that reads
    // a bounded answer (see `container_credentials`).
    let chain = CredentialsProviderChain::first_try(
        "Environment",
        aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
    )
    .or_else(
        "Profile",
        aws_config::profile::ProfileFileCredentialsProvider::builder()
            .configure(&conf)
            .build(),
    )
    .or_else(
        "WebIdentityToken",
        aws_config::web_identity_token::WebIdentityTokenCredentialsProvider::builder()
            .configure(&conf)
            .build(),
    )
    .or_else("EcsContainer", ContainerCredentials::from_env())
    .or_else(
        "Ec2InstanceMetadata",
        aws_config::imds::credentials::ImdsCredentialsProvider::builder()
            .configure(&conf)
            .build(),
    );
    let creds = chain
        .provide_credentials()
        .await
        // The top-level message ("the credential provider was not enabled") says little;
        // the causes name the providers that were tried.
        .map_err(|e| LoginError::Credentials(boundary::error_chain(&e)))?;
    tracing::debug!(
        access_key_id = creds.access_key_id(),
        temporary = creds.session_token().is_some(),
        "loaded AWS credentials"
    );
    Ok(creds)
}

/// Writes `secret` to `path` atomically with mode 0600 and no trailing newline.
///
/// The data goes to a temporary file in the same directory (so the rename cannot cross
/// file systems), is synced, then renamed over `path`: a reader sees the old content or
/// the new one, never a partial token, and never a file readable by others. (v0.6.2 writes
/// 0644 in place.) The write and its fsyncs run on tokio's blocking pool.
pub async fn write_token_file(path: &Path, secret: &str) -> Result<(), LoginError> {
    boundary::write_atomic_off_thread(path, secret.as_bytes().to_vec(), 0o600)
        .await
        .map_err(|source| LoginError::TokenFile {
            path: path.to_path_buf(),
            source,
        })
}

/// `text` (from the network: an error body, an answer) without our own AWS secrets in it:
/// an endpoint that echoes the signed request would otherwise carry the secret key or the
/// session token into a message.
pub fn redact_credentials(creds: &Credentials, text: &str) -> String {
    boundary::redact_secrets(
        text,
        [Some(creds.secret_access_key()), creds.session_token()]
            .into_iter()
            .flatten(),
    )
}

/// The login `Meta`: task ID and cluster, merged with `consulLogin.meta` (user keys win).
pub fn login_meta(
    task_id: &str,
    cluster: &str,
    extra: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut meta = BTreeMap::new();
    meta.insert(META_TASK_ID.to_string(), task_id.to_string());
    meta.insert(META_CLUSTER.to_string(), cluster.to_string());
    meta.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    meta
}

#[cfg(test)]
mod tests;
