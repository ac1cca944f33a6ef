//! `consul-ecs doctor`: the start-up checks on demand, from inside a task, as a short ok/FAIL
//! list — the config, the task metadata, the AWS credentials and the task role (its path and
//! tags), Consul (servers and local agent) reachable, and a login with the auth method that
//! is logged out at once.
//!
//! Wiring only: the checks are `diagnose`'s, the clients those mesh-init builds.

use std::future::Future;
use std::time::Duration;

use consul::{Client, QueryOptions};
use diagnose::{Check, Expected, Finding, RoleLookup, Status};

use crate::cli::DoctorArgs;
use crate::cmd::consul_clients;
use crate::exit;

const CONFIG: &str = "config valid";
const METADATA: &str = "task metadata reachable";
const CREDENTIALS: &str = "credentials and role";
const ROLE: &str = "role path and tags";
const SERVERS: &str = "Consul servers reachable";
const AGENT: &str = "Consul agent reachable";
const LOGIN: &str = "auth method login";

pub fn run(args: &DoctorArgs) -> i32 {
    super::block_on("doctor", async {
        let (checks, config_ok) = doctor(args).await;
        print!("{}", diagnose::report::render(&checks));
        if !config_ok {
            exit::USAGE
        } else if checks.iter().any(|c| c.status == Status::Fail) {
            exit::RUNTIME
        } else {
            exit::OK
        }
    })
}

/// Runs every check that can run; a check whose input an earlier one could not give is
/// skipped and says why. Returns the list and whether the config was usable.
async fn doctor(args: &DoctorArgs) -> (Vec<Check>, bool) {
    let mut checks = Vec::new();
    let cfg = match config::from_env().and_then(|cfg| cfg.validate_for_mesh_init().map(|()| cfg)) {
        Ok(cfg) => {
            checks.push(Check::ok(
                CONFIG,
                format!(
                    "{} is valid; consulLogin {}",
                    config::CONFIG_ENV,
                    if cfg.login_enabled() { "on" } else { "off" }
                ),
            ));
            cfg
        }
        Err(e) => {
            checks.push(Check::fail(
                CONFIG,
                format!("{}: {e}", config::CONFIG_ENV),
                "fix the fields named; `consul-ecs validate-config` checks a config offline",
            ));
            let why = "needs a valid config";
            for name in [METADATA, CREDENTIALS, ROLE, SERVERS, AGENT, LOGIN] {
                checks.push(Check::skip(name, why));
            }
            return (checks, false);
        }
    };

    let task = metadata(args.timeout).await;
    let mut expected = None;
    checks.push(match &task {
        Err(e) => Check::fail(
            METADATA,
            e.clone(),
            "ECS sets ECS_CONTAINER_METADATA_URI_V4 in every container: run doctor inside the \
             task",
        ),
        Ok(task) => match mesh_task::build_registrations(&cfg, task) {
            Ok(registrations) => {
                expected = Some(super::mesh_init::expected_identity(&cfg, &registrations));
                Check::ok(
                    METADATA,
                    format!("task {} of family {}", task.task_arn, task.family),
                )
            }
            Err(e) => Check::fail(
                METADATA,
                format!("the registrations cannot be built from it: {e}"),
                "the task ARN must have a task ID",
            ),
        },
    });

    // The AWS side matters only with consulLogin.
    let spec = match (&task, cfg.login_enabled()) {
        (Ok(task), true) => super::mesh_init::login_spec(&cfg, task).ok(),
        _ => None,
    };
    let mut role_ok = !cfg.login_enabled();
    match (&spec, &expected) {
        (Some(spec), Some(expected)) => {
            let (credentials, role) = identity(args.timeout, spec, expected).await;
            role_ok = role.status == Status::Ok;
            checks.push(credentials);
            checks.push(role);
        }
        _ => {
            let why = if cfg.login_enabled() {
                "needs the task metadata"
            } else {
                "consulLogin.enabled is false: the task uses no AWS credentials"
            };
            checks.push(Check::skip(CREDENTIALS, why));
            checks.push(Check::skip(ROLE, why));
        }
    }

    let mut servers_up = false;
    let server = if cfg.login_enabled() {
        match consul_clients::server(&cfg) {
            Ok(server) => {
                let target = consul_clients::server_target(&cfg, &server);
                let check = reachable(SERVERS, &server, &target, args.timeout).await;
                servers_up = check.status == Status::Ok;
                checks.push(check);
                Some((server, target))
            }
            Err(e) => {
                checks.push(Check::fail(
                    SERVERS,
                    format!("{e:#}"),
                    "check consulHTTPAddr and consulCACertFile",
                ));
                None
            }
        }
    } else {
        checks.push(Check::skip(
            SERVERS,
            "consulLogin.enabled is false: only the agent is used",
        ));
        None
    };
    match consul_clients::agent(None) {
        Ok(agent) => {
            let target = consul_clients::agent_target(&agent);
            checks.push(reachable(AGENT, &agent, &target, args.timeout).await);
        }
        Err(e) => checks.push(Check::fail(
            AGENT,
            format!("{e:#}"),
            "check CONSUL_HTTP_ADDR and CONSUL_CACERT",
        )),
    }

    checks.push(match (server, spec, expected) {
        (Some((server, target)), Some(spec), Some(expected)) if servers_up => {
            login(&server, &target, &spec, &expected, role_ok, args.timeout).await
        }
        _ if !cfg.login_enabled() => Check::skip(LOGIN, "consulLogin.enabled is false"),
        _ => Check::skip(
            LOGIN,
            "needs the task metadata and reachable Consul servers",
        ),
    });
    (checks, true)
}

/// `fut`, or an error naming `what` after `limit`.
async fn bounded<T>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, fut).await {
        Ok(result) => result,
        Err(_) => Err(format!("{what} took longer than {limit:?}")),
    }
}

async fn metadata(limit: Duration) -> Result<ecs::TaskMetadata, String> {
    bounded(limit, "reading the task metadata", async {
        let client = ecs::MetadataClient::from_env().map_err(|e| e.to_string())?;
        client
            .task_once()
            .await
            .map_err(|e| format!("{}: {e}", client.base_uri()))
    })
    .await
}

/// The credentials check and the role check.
async fn identity(
    limit: Duration,
    spec: &iam_login::LoginSpec,
    expected: &Expected,
) -> (Check, Check) {
    let looked = bounded(limit, "looking at the AWS identity", async {
        diagnose::look_up(&spec.params, |name| std::env::var(name).ok())
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
    let findings = diagnose::check(&identity, expected);
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

fn role_detail(identity: &diagnose::Identity, expected: &Expected) -> String {
    let RoleLookup::Found(role) = &identity.role else {
        return String::new();
    };
    let mut detail = format!(
        "path {} (under {}), {}={}",
        role.path,
        expected.bound_path,
        diagnose::findings::SERVICE_NAME_TAG,
        role.tags
            .get(diagnose::findings::SERVICE_NAME_TAG)
            .map_or("", String::as_str)
    );
    if let Some(namespace) = &expected.namespace {
        detail.push_str(&format!(
            ", {}={}",
            diagnose::findings::NAMESPACE_TAG,
            role.tags
                .get(diagnose::findings::NAMESPACE_TAG)
                .map_or(namespace.as_str(), String::as_str)
        ));
    }
    detail
}

/// Any HTTP answer to `GET /v1/status/leader` (no ACL needed) means reachable.
async fn reachable(
    name: &'static str,
    client: &Client,
    target: &diagnose::Target,
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
            let mut attempts = diagnose::Attempts::default();
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
async fn login(
    server: &Client,
    target: &diagnose::Target,
    spec: &iam_login::LoginSpec,
    expected: &Expected,
    role_ok: bool,
    limit: Duration,
) -> Check {
    let mut review = diagnose::LoginDiagnosis::new(
        expected.clone(),
        spec.params.clone(),
        spec.partition.clone(),
    );
    let once = iam_login::login_policy(limit).with_max_attempts(1);
    let token = match iam_login::login_reviewed(server, spec, &once, &mut review).await {
        Ok(token) => token,
        Err(e) => {
            // The role check above already says what the explanation would repeat.
            if let (false, Some(_), Some(answer)) = (
                role_ok,
                e.last.explanation(),
                e.last.consul_error().and_then(|c| c.body()),
            ) {
                return Check::fail(
                    LOGIN,
                    format!(
                        "refused for what the role check says (Consul: {:?})",
                        diagnose::quote_answer(answer)
                    ),
                    "fix the task role first",
                );
            }
            let (problem, hint) = review.report(&e, target);
            return Check::fail(LOGIN, problem, hint);
        }
    };
    let carries = diagnose::describe_token(&token);
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
    let logout = iam_login::logout(server, &token.secret_id).await;
    let logged_out = match &logout {
        Ok(()) => "logged out".to_string(),
        Err(e) => {
            format!("the logout failed ({e}); the acl-controller deletes it when the task stops")
        }
    };
    let method = &spec.method;
    if names_service || !token.policies.is_empty() || !token.roles.is_empty() {
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
                "{method:?} gave a token with {carries}, which cannot register service {:?}{}; \
                 {logged_out}",
                expected.service,
                expected
                    .namespace
                    .as_ref()
                    .map(|ns| format!(" in namespace {ns:?}"))
                    .unwrap_or_default()
            ),
            hint,
        )
    }
}
