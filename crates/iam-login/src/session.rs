//! The whole login as consul-ecs performs it against a Consul server: log in with a fresh
//! bearer token per attempt until Consul says yes or the deadline passes, wait until the
//! servers can read the new token, and log it out again.

use std::collections::BTreeMap;
use std::time::Duration;

use consul::{
    retry_if, AclToken, Client, ConsulError, Jitter, LoginRequest, QueryOptions, RetryError,
    RetryPolicy, Secret,
};
use tracing::info;

use crate::{bearer_token, load_credentials, LoginError, LoginParams};

/// What to log in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSpec {
    /// Auth method name (`consulLogin.method`, default `iam-ecs-service-token`).
    pub method: String,
    /// How to build the bearer token.
    pub params: LoginParams,
    /// Login `Meta` ([`crate::login_meta`]).
    pub meta: BTreeMap<String, String>,
    /// Admin partition of the auth method (Enterprise), if any.
    pub partition: Option<String>,
}

/// One failed login attempt.
#[derive(Debug, thiserror::Error)]
pub enum LoginFailure {
    /// Building the bearer token failed (credentials, signing, STS).
    #[error("{0}")]
    Aws(#[from] LoginError),
    /// Consul refused the login or could not be reached.
    #[error("{}", consul_failure(.0))]
    Consul(#[from] ConsulError),
}

impl LoginFailure {
    /// Whether another attempt may succeed. IAM tags propagate, binding rules get created by
    /// the acl-controller, credentials endpoints lag behind the container start: every
    /// failure can heal, except a configuration that can never work.
    pub fn may_heal(&self) -> bool {
        !matches!(
            self,
            LoginFailure::Aws(LoginError::InvalidEndpoint { .. } | LoginError::MissingRegion)
        )
    }
}

/// "Consul answered" only when it did: a refused connection is not an answer.
fn consul_failure(e: &ConsulError) -> String {
    match e.http_status() {
        Some(_) => format!("Consul answered: {e}"),
        None => format!("Consul could not be reached: {e}"),
    }
}

/// The login retry schedule: 0.5 s doubling to 5 s with jitter, until `deadline`.
/// (v0.6.2 retried every 2 s forever.)
pub fn login_policy(deadline: Duration) -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_millis(500),
        max: Duration::from_secs(5),
        multiplier: 2.0,
        jitter: Jitter::Equal,
        deadline,
        max_attempts: None,
    }
}

/// Logs in, retrying with `policy` every failure that [`LoginFailure::may_heal`]. Credentials
/// are loaded and the bearer token is built afresh for each attempt: signatures are only
/// valid for minutes and task-role credentials rotate.
pub async fn login(
    server: &Client,
    spec: &LoginSpec,
    policy: &RetryPolicy,
) -> Result<AclToken, RetryError<LoginFailure>> {
    let mut opts = QueryOptions::default();
    if let Some(partition) = &spec.partition {
        opts = opts.with_partition(partition.clone());
    }
    let what = format!("log in with auth method {:?}", spec.method);
    let token = retry_if(policy, &what, LoginFailure::may_heal, || async {
        let creds = load_credentials(Some(&spec.params.region)).await?;
        let bearer = bearer_token(&creds, &spec.params).await?;
        let request = LoginRequest {
            auth_method: spec.method.clone(),
            bearer_token: Secret::new(bearer),
            meta: spec.meta.clone(),
        };
        Ok::<_, LoginFailure>(server.login(&request, &opts).await?)
    })
    .await?;
    info!(accessor_id = %token.accessor_id, method = %spec.method, "logged in");
    Ok(token)
}

/// The token never became readable on the servers.
#[derive(Debug, thiserror::Error)]
#[error("{0}; unable to read the ACL token from a Consul server; please check that your server cluster is healthy")]
pub struct NotReplicated(RetryError<ConsulError>);

/// Waits until a server can read `token` with `?stale` (100 ms apart, about 2 s in all, as
/// v0.6.2): a follower that sees an unknown token caches "ACL not found" for 30 s, so using
/// the token before it has replicated would fail for that long.
pub async fn wait_for_replication(server: &Client, token: &Secret) -> Result<(), NotReplicated> {
    let policy = RetryPolicy::fixed(Duration::from_millis(100), Duration::from_millis(2100))
        .with_max_attempts(21);
    let opts = QueryOptions::stale().with_token(token.clone());
    retry_if(
        &policy,
        "read the new token back from the servers",
        |_: &ConsulError| true,
        || server.token_read_self(&opts),
    )
    .await
    .map(|_| ())
    .map_err(NotReplicated)
}

/// Logs `token` out (`POST /v1/acl/logout`). A token that is already gone (deleted by the
/// acl-controller, or logged out before) counts as logged out.
pub async fn logout(server: &Client, token: &Secret) -> Result<(), ConsulError> {
    match server
        .logout(&QueryOptions::default().with_token(token.clone()))
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if e.is_acl_not_found() => {
            info!("token was already deleted");
            Ok(())
        }
        Err(e) => Err(e),
    }
}
