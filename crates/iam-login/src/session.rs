//! The whole login as consul-ecs performs it against a Consul server: log in with a fresh
//! bearer token per attempt until Consul says yes, the deadline passes or a
//! [`LoginReview`] finds that waiting cannot help; wait until the servers can read the new
//! token, and log it out again.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, SystemTime};

use consul::{
    retry_if, AclToken, Client, ConsulError, Jitter, LoginRequest, QueryOptions, RetryError,
    RetryPolicy, Secret,
};
use consul_grpc::{ConsulGrpc, GrpcError, Login as GrpcLoginRequest, LoginToken};
use tracing::info;

use crate::{bearer_token, load_credentials, sts, token, LoginError, LoginParams, USER_AGENT};

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
    /// Consul refused the login or could not be reached over gRPC (`ACLService/Login`, the
    /// dataplane layout).
    #[error("{}", grpc_failure(.0))]
    Grpc(#[from] GrpcError),
    /// A [`LoginReview`] found why the attempt failed, and that waiting will not change it.
    /// Displays as the explanation's problem; the attempt's own failure is kept in
    /// `failure` (not a `source`, so a one-line report does not repeat it).
    #[error("{}", explanation.problem)]
    Explained {
        /// What is wrong and what to do.
        explanation: Explanation,
        /// The failed attempt the review looked at.
        failure: Box<LoginFailure>,
    },
}

impl LoginFailure {
    /// Whether another attempt may succeed. IAM tags propagate, binding rules get created by
    /// the acl-controller, credentials endpoints lag behind the container start: every
    /// failure can heal, except a configuration that can never work and a failure a
    /// [`LoginReview`] explained.
    pub fn may_heal(&self) -> bool {
        match self {
            LoginFailure::Aws(LoginError::InvalidEndpoint { .. } | LoginError::MissingRegion)
            | LoginFailure::Explained { .. } => false,
            // TLS settings that cannot work, or a server certificate we do not trust.
            LoginFailure::Grpc(e) => !(matches!(e, GrpcError::Tls(_)) || e.is_certificate()),
            _ => true,
        }
    }

    /// The explanation a [`LoginReview`] gave, if it gave one.
    pub fn explanation(&self) -> Option<&Explanation> {
        match self {
            LoginFailure::Explained { explanation, .. } => Some(explanation),
            _ => None,
        }
    }

    /// The Consul error behind this failure, if Consul was involved (looking through an
    /// explanation to the attempt it explained).
    pub fn consul_error(&self) -> Option<&ConsulError> {
        match self {
            LoginFailure::Consul(e) => Some(e),
            LoginFailure::Explained { failure, .. } => failure.consul_error(),
            LoginFailure::Aws(_) | LoginFailure::Grpc(_) => None,
        }
    }

    /// The gRPC error behind this failure, if the login went over gRPC (looking through an
    /// explanation to the attempt it explained).
    pub fn grpc_error(&self) -> Option<&GrpcError> {
        match self {
            LoginFailure::Grpc(e) => Some(e),
            LoginFailure::Explained { failure, .. } => failure.grpc_error(),
            LoginFailure::Aws(_) | LoginFailure::Consul(_) => None,
        }
    }
}

/// Why a login cannot succeed, for the operator: one sentence saying what is wrong, and one
/// saying what to change. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// What is wrong, e.g. which tag of which role does not fit the config.
    pub problem: String,
    /// What to change so the next start works.
    pub hint: String,
}

/// Looks at every failed login attempt and may end the login early: a refusal that only a
/// change of configuration can fix (a role outside the trusted path, a missing tag, an
/// auth method that does not exist) is not worth waiting out `-login-timeout` for.
///
/// This crate calls the review; what it looks at (IAM, the config) is the implementor's
/// business, so the login stays free of that code.
pub trait LoginReview {
    /// Called after each failed attempt, before the retry decision. `Some` ends the login
    /// at once with [`LoginFailure::Explained`]; `None` leaves the decision to
    /// [`LoginFailure::may_heal`] and the retry policy.
    fn review(&mut self, failure: &LoginFailure) -> impl Future<Output = Option<Explanation>>;
}

/// The review that finds nothing: every failure that may heal is retried until the
/// deadline.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReview;

impl LoginReview for NoReview {
    async fn review(&mut self, _failure: &LoginFailure) -> Option<Explanation> {
        None
    }
}

/// As [`consul_failure`], for the gRPC login: an answer carries a status code.
fn grpc_failure(e: &GrpcError) -> String {
    match e.code() {
        Some(_) => format!("Consul answered: {e}"),
        None => format!("Consul could not be reached: {e}"),
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
    login_reviewed(server, spec, policy, &mut NoReview).await
}

/// [`login`], with `review` looking at every failed attempt: when it explains a failure,
/// the login ends at once with [`LoginFailure::Explained`] instead of retrying until the
/// deadline.
pub async fn login_reviewed<R: LoginReview>(
    server: &Client,
    spec: &LoginSpec,
    policy: &RetryPolicy,
    review: &mut R,
) -> Result<AclToken, RetryError<LoginFailure>> {
    let mut opts = QueryOptions::default();
    if let Some(partition) = &spec.partition {
        opts = opts.with_partition(partition.clone());
    }
    let token = login_loop(spec, policy, review, |bearer| {
        let request = LoginRequest {
            auth_method: spec.method.clone(),
            bearer_token: bearer,
            meta: spec.meta.clone(),
        };
        let opts = &opts;
        async move { Ok(server.login(&request, opts).await?) }
    })
    .await?;
    info!(accessor_id = %token.accessor_id, method = %spec.method, "logged in");
    Ok(token)
}

/// What a gRPC login gives: the ACL token, and the bearer token it was made with (which
/// consul-dataplane logs in with in its turn).
#[derive(Debug, Clone)]
pub struct GrpcLogin {
    /// The new ACL token.
    pub token: LoginToken,
    /// The bearer token of the successful attempt.
    pub bearer_token: Secret,
}

/// [`login_reviewed`] over Consul's gRPC `ACLService/Login` (the dataplane layout, where
/// only the servers' gRPC and HTTP ports are reached), in `datacenter` (`None`: the
/// server's).
pub async fn login_reviewed_grpc<R: LoginReview>(
    client: &ConsulGrpc,
    spec: &LoginSpec,
    datacenter: Option<&str>,
    policy: &RetryPolicy,
    review: &mut R,
) -> Result<GrpcLogin, RetryError<LoginFailure>> {
    let login = login_loop(spec, policy, review, |bearer| {
        let request = GrpcLoginRequest {
            auth_method: spec.method.clone(),
            bearer_token: bearer.clone(),
            meta: spec.meta.clone(),
            namespace: String::new(),
            partition: spec.partition.clone().unwrap_or_default(),
            datacenter: datacenter.unwrap_or_default().to_owned(),
        };
        async move {
            let token = client.login(&request).await?;
            Ok(GrpcLogin {
                token,
                bearer_token: bearer,
            })
        }
    })
    .await?;
    info!(accessor_id = %login.token.accessor_id, method = %spec.method, "logged in over gRPC");
    Ok(login)
}

/// The login's retries: each attempt gets a fresh bearer token and goes through `send`;
/// `review` sees every failure and may end the login at once.
async fn login_loop<R, T, F, Fut>(
    spec: &LoginSpec,
    policy: &RetryPolicy,
    review: &mut R,
    send: F,
) -> Result<T, RetryError<LoginFailure>>
where
    R: LoginReview,
    F: Fn(Secret) -> Fut,
    Fut: Future<Output = Result<T, LoginFailure>>,
{
    let what = format!("log in with auth method {:?}", spec.method);
    // The attempts run one after another, so the lock is never contended; it only lets
    // each attempt's future borrow the review.
    let review = tokio::sync::Mutex::new(review);
    retry_if(policy, &what, LoginFailure::may_heal, || async {
        let attempt = async { send(fresh_bearer_token(spec).await?).await };
        let failure = match attempt.await {
            Ok(value) => return Ok(value),
            Err(failure) => failure,
        };
        let explained = review.lock().await.review(&failure).await;
        Err(match explained {
            Some(explanation) => LoginFailure::Explained {
                explanation,
                failure: Box::new(failure),
            },
            None => failure,
        })
    })
    .await
}

/// A bearer token made now, with credentials loaded now.
async fn fresh_bearer_token(spec: &LoginSpec) -> Result<Secret, LoginFailure> {
    let creds = load_credentials(Some(&spec.params.region)).await?;
    Ok(Secret::new(bearer_token(&creds, &spec.params).await?))
}

/// Sends one signed `sts:GetCallerIdentity` with `creds` to the STS endpoint the login uses
/// (`params.sts_endpoint`, else the regional one) and returns the caller's ARN: who these
/// credentials are, as Consul will see them.
pub async fn caller_arn(
    creds: &crate::Credentials,
    params: &LoginParams,
) -> Result<String, LoginError> {
    let url = token::sts_url(params)?;
    sts::caller_arn(creds, &url, &params.region, USER_AGENT, SystemTime::now()).await
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
