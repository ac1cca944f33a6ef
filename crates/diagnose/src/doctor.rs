//! `consul-ecs doctor`'s checks, one function per line of its list: the AWS identity and the
//! task role against the auth method's conventions, Consul answering at an address, and one
//! login that is logged out at once. Which checks run, and in what order, is the task
//! layer's (`task::doctor`); each function here only says how one went.

use std::future::Future;
use std::time::Duration;

use consul::{Client, QueryOptions};

use crate::{Check, Expected, Finding, RoleLookup, Status, Target};

/// The name of each line of the list, in the order doctor prints them.
pub mod names {
    /// The config parses and passes mesh-init's rules.
    pub const CONFIG: &str = "config valid";
    /// The task metadata answers and the registrations can be built from it.
    pub const METADATA: &str = "task metadata reachable";
    /// The AWS credentials are a role.
    pub const CREDENTIALS: &str = "credentials and role";
    /// The role's path and tags fit the auth method.
    pub const ROLE: &str = "role path and tags";
    /// The Consul servers answer.
    pub const SERVERS: &str = "Consul servers reachable";
    /// The local Consul agent answers.
    pub const AGENT: &str = "Consul agent reachable";
    /// A login with the auth method gives a token for the service.
    pub const LOGIN: &str = "auth method login";
    /// The Consul servers answer over gRPC (the dataplane layout).
    pub const SERVERS_GRPC: &str = "Consul servers reachable over gRPC";
    /// The Consul servers' HTTP(S) API answers (the dataplane layout).
    pub const SERVERS_HTTP: &str = "Consul servers reachable over HTTP";
    /// `CONSUL_HTTP_TOKEN` is known to Consul and fits the service.
    pub const TOKEN: &str = "CONSUL_HTTP_TOKEN read back";
}

use names::{CREDENTIALS, LOGIN, ROLE, TOKEN};

/// `fut`, or an error naming `what` after `limit`.
pub async fn bounded<T>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, fut).await {
        Ok(result) => result,
        Err(_) => Err(format!("{what} took longer than {limit:?}")),
    }
}

/// The credentials check and the role check.
pub async fn identity(
    limit: Duration,
    spec: &iam_login::LoginSpec,
    expected: &Expected,
) -> (Check, Check) {
    let looked = bounded(limit, "looking at the AWS identity", async {
        crate::look_up(&spec.params, |name| std::env::var(name).ok())
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    let identity = match looked {
        Ok(identity) => identity,
        Err(e) => {
            return (
                Check::fail(
                    CREDENTIALS,
                    e,
                    "the task needs a task role (taskRoleArn) and must reach STS \
                     (consulLogin.stsEndpoint or sts.<region>.amazonaws.com)",
                ),
                Check::skip(ROLE, "needs the credentials"),
            )
        }
    };
    let findings = crate::check(&identity, expected);
    let first = |pred: fn(&Finding) -> bool| findings.iter().find(|f| pred(f));
    let credentials = match first(|f| matches!(f, Finding::NotARole { .. })) {
        Some(f) => {
            let e = f.explain(expected);
            Check::fail(CREDENTIALS, e.problem, e.hint)
        }
        None => Check::ok(CREDENTIALS, identity.summary()),
    };
    let role = match &identity.role {
        RoleLookup::NotARole => Check::skip(ROLE, "the credentials are not a role"),
        RoleLookup::Failed(why) => Check::skip(
            ROLE,
            format!(
                "iam:GetRole could not be asked ({why}); the login does not need the task to \
                 reach IAM, so only Consul's answer tells"
            ),
        ),
        RoleLookup::Denied(_) | RoleLookup::Found(_) => {
            let problems: Vec<&Finding> = findings
                .iter()
                .filter(|f| !matches!(f, Finding::NotARole { .. }))
                .collect();
            match problems.split_first() {
                None => Check::ok(ROLE, role_detail(&identity, expected)),
                Some((first, rest)) => {
                    let mut e = first.explain(expected);
                    for also in rest {
                        e.problem.push_str("; also: ");
                        e.problem.push_str(&also.explain(expected).problem);
                    }
                    Check::fail(ROLE, e.problem, e.hint)
                }
            }
        }
    };
    (credentials, role)
}

fn role_detail(identity: &crate::Identity, expected: &Expected) -> String {
    let RoleLookup::Found(role) = &identity.role else {
        return String::new();
    };
    let mut detail = format!(
        "path {} (under {}), {}={}",
        role.path,
        expected.bound_path,
        crate::findings::SERVICE_NAME_TAG,
        role.tags
            .get(crate::findings::SERVICE_NAME_TAG)
            .map_or("", String::as_str)
    );
    if let Some(namespace) = &expected.namespace {
        detail.push_str(&format!(
            ", {}={}",
            crate::findings::NAMESPACE_TAG,
            role.tags
                .get(crate::findings::NAMESPACE_TAG)
                .map_or(namespace.as_str(), String::as_str)
        ));
    }
    detail
}

/// Any HTTP answer to `GET /v1/status/leader` (no ACL needed) means reachable.
pub async fn reachable(
    name: &'static str,
    client: &Client,
    target: &Target,
    limit: Duration,
) -> Check {
    let started = tokio::time::Instant::now();
    let answer = tokio::time::timeout(
        limit,
        client.get_raw(&["v1", "status", "leader"], &QueryOptions::default()),
    )
    .await;
    match answer {
        Ok(Ok(_)) => Check::ok(name, format!("{target} answered")),
        Ok(Err(e)) if e.http_status().is_some() => Check::ok(
            name,
            format!(
                "{target} answered (HTTP {})",
                e.http_status().unwrap_or_default()
            ),
        ),
        Ok(Err(e)) => {
            let mut attempts = crate::Attempts::default();
            attempts.record(&e);
            match attempts.unreachable(target, 1, started.elapsed()) {
                Some(u) => Check::fail(name, u.problem, u.hint),
                None => Check::fail(name, e.to_string(), "check the address and the CA"),
            }
        }
        Err(_) => Check::fail(
            name,
            format!("{target} did not answer within {limit:?}"),
            "check that Consul is reachable from the task (security groups, routes)",
        ),
    }
}

/// One login (no retries), the token's identity against the service, then a logout.
/// `role_ok` says whether the role check passed: when it did not, a refusal it explains is
/// not explained twice.
pub async fn login(
    server: &Client,
    target: &Target,
    spec: &iam_login::LoginSpec,
    expected: &Expected,
    role_ok: bool,
    limit: Duration,
) -> Check {
    let mut review = review_of(spec, expected);
    let once = iam_login::login_policy(limit).with_max_attempts(1);
    let token = match iam_login::login_reviewed(server, spec, &once, &mut review).await {
        Ok(token) => token,
        Err(e) => return refused_login(&e, &review, target, role_ok),
    };
    let logout = iam_login::logout(server, &token.secret_id)
        .await
        .map_err(|e| e.to_string());
    judged_login(&token, spec, expected, role_ok, logout)
}

/// [`login`] in the dataplane layout: one login over gRPC (`ACLService/Login`) to `grpc`,
/// in `datacenter`, then the token read back over HTTP(S) from `http` (gRPC's answer holds
/// only the token's IDs), then a logout over gRPC.
pub async fn login_grpc(
    grpc: &consul_grpc::ConsulGrpc,
    datacenter: Option<&str>,
    http: &Client,
    spec: &iam_login::LoginSpec,
    expected: &Expected,
    role_ok: bool,
    limit: Duration,
) -> Check {
    let target = Target {
        what: "the Consul servers' gRPC port",
        address: grpc.address().to_string(),
        origin: crate::AddressOrigin::ConsulServers,
    };
    let mut review = review_of(spec, expected);
    let once = iam_login::login_policy(limit).with_max_attempts(1);
    let login =
        match iam_login::login_reviewed_grpc(grpc, spec, datacenter, &once, &mut review).await {
            Ok(login) => login,
            Err(e) => return refused_login(&e, &review, &target, role_ok),
        };
    let secret = login.token.secret_id;
    let read = bounded(limit, "reading the login's token back", async {
        http.token_read_self(&QueryOptions::default().with_token(secret.clone()))
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    let logout = grpc
        .logout(&secret, datacenter.unwrap_or_default())
        .await
        .map_err(|e| e.to_string());
    match read {
        Ok(token) => judged_login(&token, spec, expected, role_ok, logout),
        Err(e) => Check::fail(
            LOGIN,
            format!(
                "{:?} gave the token with accessor {}, which could not be read back: {e}; {}",
                spec.method,
                login.token.accessor_id,
                logged_out(&logout)
            ),
            "check the servers' HTTP(S) port (consulServers.http)",
        ),
    }
}

/// `CONSUL_HTTP_TOKEN` read back (`GET /v1/acl/token/self` through `http`, which sends it)
/// and held against the service the task registers.
pub async fn token_read_back(http: &Client, expected: &Expected, limit: Duration) -> Check {
    let read = bounded(limit, "reading CONSUL_HTTP_TOKEN back", async {
        http.token_read_self(&QueryOptions::default())
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    let token = match read {
        Ok(token) => token,
        Err(e) => {
            return Check::fail(
                TOKEN,
                e,
                "CONSUL_HTTP_TOKEN must be a token of these servers' datacenter",
            )
        }
    };
    let carries = crate::describe_token(&token);
    if can_register(&token, expected) {
        Check::ok(
            TOKEN,
            format!("token with accessor {} and {carries}", token.accessor_id),
        )
    } else {
        Check::fail(
            TOKEN,
            format!(
                "token with accessor {} and {carries}{}",
                token.accessor_id,
                cannot_register(expected)
            ),
            format!(
                "give the token a service identity for {:?} (or a policy that may write it)",
                expected.service
            ),
        )
    }
}

fn review_of(spec: &iam_login::LoginSpec, expected: &Expected) -> crate::LoginDiagnosis {
    crate::LoginDiagnosis::new(
        expected.clone(),
        spec.params.clone(),
        spec.partition.clone(),
    )
}

/// The login line of a refused or failed login.
fn refused_login(
    e: &consul::RetryError<iam_login::LoginFailure>,
    review: &crate::LoginDiagnosis,
    target: &Target,
    role_ok: bool,
) -> Check {
    // The role check above already says what the explanation would repeat.
    if let (false, Some(_), Some(answer)) = (role_ok, e.last.explanation(), consul_answer(&e.last))
    {
        return Check::fail(
            LOGIN,
            format!(
                "refused for what the role check says (Consul: {:?})",
                crate::quote_answer(answer)
            ),
            "fix the task role first",
        );
    }
    let (problem, hint) = review.report(e, target);
    Check::fail(LOGIN, problem, hint)
}

/// What Consul answered a refused login with, over HTTP (the body) or gRPC (the status
/// message).
fn consul_answer(failure: &iam_login::LoginFailure) -> Option<&str> {
    if let Some(body) = failure.consul_error().and_then(|c| c.body()) {
        return Some(body);
    }
    match failure.grpc_error() {
        Some(consul_grpc::GrpcError::Status { message, .. }) => Some(message),
        _ => None,
    }
}

/// Whether `token` may register the expected service: a service identity for it (in its
/// namespace), or policies or roles (which doctor cannot judge, so trusts).
fn can_register(token: &consul::AclToken, expected: &Expected) -> bool {
    // Enterprise: a service identity only covers its token's namespace.
    let right_namespace = match (&expected.namespace, token.namespace.as_str()) {
        (Some(want), got) if !got.is_empty() => want == got,
        _ => true,
    };
    let names_service = right_namespace
        && token
            .service_identities
            .iter()
            .any(|s| s.service_name == expected.service);
    names_service || !token.policies.is_empty() || !token.roles.is_empty()
}

/// `, which cannot register service "web" [in namespace "ns"]`.
fn cannot_register(expected: &Expected) -> String {
    format!(
        ", which cannot register service {:?}{}",
        expected.service,
        expected
            .namespace
            .as_ref()
            .map(|ns| format!(" in namespace {ns:?}"))
            .unwrap_or_default()
    )
}

fn logged_out(logout: &Result<(), String>) -> String {
    match logout {
        Ok(()) => "logged out".to_string(),
        Err(e) => {
            format!("the logout failed ({e}); the acl-controller deletes it when the task stops")
        }
    }
}

/// The login line of a login that gave `token` and whose logout went as `logout` says.
fn judged_login(
    token: &consul::AclToken,
    spec: &iam_login::LoginSpec,
    expected: &Expected,
    role_ok: bool,
    logout: Result<(), String>,
) -> Check {
    let carries = crate::describe_token(token);
    let logged_out = logged_out(&logout);
    let method = &spec.method;
    if can_register(token, expected) {
        let mut check = Check::ok(
            LOGIN,
            format!("{method:?} gave a token with {carries}; {logged_out}"),
        );
        if logout.is_err() {
            check.status = Status::Fail;
            check.hint = Some("check that the servers accept logouts (ACLs on)".into());
        }
        check
    } else {
        let hint = if role_ok {
            format!(
                "the binding rule of {method:?} must name service {:?}",
                expected.service
            )
        } else {
            "see the role check above".to_string()
        };
        Check::fail(
            LOGIN,
            format!(
                "{method:?} gave a token with {carries}{}; {logged_out}",
                cannot_register(expected)
            ),
            hint,
        )
    }
}
