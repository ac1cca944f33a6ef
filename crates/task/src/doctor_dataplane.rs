//! doctor for the Consul Dataplane layout (consul-ecs v0.10): the config, the task metadata,
//! the AWS credentials and the task role (its path and tags), the Consul servers found from
//! `consulServers.hosts` and reachable over gRPC and over HTTP(S), and then either
//! `CONSUL_HTTP_TOKEN` read back or a login over gRPC that is logged out at once.
//!
//! The same list and the same checks as [`crate::doctor`] for the agent layout; only which
//! servers are asked, and how, differ.

use std::time::Duration;

use config::dataplane::Config;
use consul::{Client, TokenSource};
use consul_grpc::{GrpcError, ServerConnection, ServerHosts};
use diagnose::doctor::names::{
    CONFIG, CREDENTIALS, LOGIN, METADATA, ROLE, SERVERS_GRPC, SERVERS_HTTP, TOKEN,
};
use diagnose::{Check, Status};

use crate::doctor::{metadata, Report};
use crate::layout::dataplane::{env_text, DataplaneContext};

/// One request to the servers' HTTP API may wait this long (as mesh-init's).
const HTTP_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs every check that can run for a v0.10 config, each within `limit`; a check whose
/// input an earlier one could not give is skipped and says why.
pub async fn run(cfg: Config, limit: Duration) -> Report {
    let mut checks = vec![Check::ok(
        CONFIG,
        format!(
            "{} is valid ({} layout); consulLogin {}",
            config::CONFIG_ENV,
            config::Layout::Dataplane.describe(),
            if cfg.login_enabled() { "on" } else { "off" }
        ),
    )];
    let servers = cfg.consul_servers.clone();
    let datacenter = cfg.login_datacenter().map(str::to_owned);
    let login_enabled = cfg.login_enabled();

    let task = metadata(limit).await;
    let ctx = match task {
        Err(e) => {
            checks.push(Check::fail(
                METADATA,
                e,
                "ECS sets ECS_CONTAINER_METADATA_URI_V4 in every container: run doctor inside \
                 the task",
            ));
            None
        }
        Ok(task) => {
            let summary = format!("task {} of family {}", task.task_arn, task.family);
            match DataplaneContext::new(cfg, task, env_text("AWS_REGION").as_deref()) {
                Ok(ctx) => {
                    checks.push(Check::ok(METADATA, summary));
                    Some(ctx)
                }
                Err(e) => {
                    checks.push(Check::fail(
                        METADATA,
                        format!("the registrations cannot be built from it: {e}"),
                        "the task ARN must have a task ID",
                    ));
                    None
                }
            }
        }
    };

    // The AWS side matters only with consulLogin.
    let spec = ctx
        .as_ref()
        .and_then(|ctx| ctx.login.clone())
        .and_then(Result::ok);
    let mut role_ok = !login_enabled;
    match (&spec, &ctx) {
        (Some(spec), Some(ctx)) => {
            let (credentials, role) = diagnose::doctor::identity(limit, spec, &ctx.expected).await;
            role_ok = role.status == Status::Ok;
            checks.push(credentials);
            checks.push(role);
        }
        _ => {
            let why = if !login_enabled {
                "consulLogin.enabled is false: the task uses no AWS credentials"
            } else if ctx.is_some() {
                "the login cannot be built from the config and the task metadata"
            } else {
                "needs the task metadata"
            };
            checks.push(Check::skip(CREDENTIALS, why));
            checks.push(Check::skip(ROLE, why));
        }
    }

    let connection = grpc_reachable(&servers, limit).await;
    let http = match &connection {
        Err(check) => {
            checks.push(check.clone());
            checks.push(Check::skip(
                SERVERS_HTTP,
                "needs a server reached over gRPC",
            ));
            None
        }
        Ok((connection, check)) => {
            checks.push(check.clone());
            match http_client(&servers, connection) {
                Ok((client, target)) => {
                    let check =
                        diagnose::doctor::reachable(SERVERS_HTTP, &client, &target, limit).await;
                    let up = check.status == Status::Ok;
                    checks.push(check);
                    up.then_some(client)
                }
                Err(e) => {
                    checks.push(Check::fail(
                        SERVERS_HTTP,
                        boundary::error_chain(&e),
                        "check consulServers.http (and defaults) and CONSUL_HTTPS_CACERT_PEM",
                    ));
                    None
                }
            }
        }
    };

    let env_token = crate::clients::env_token();
    let fixed = matches!(env_token, Ok(Some(_)));
    checks.push(match (env_token, &http, &ctx) {
        (Err(e), _, _) => Check::fail(
            TOKEN,
            boundary::error_chain(&e),
            "check CONSUL_HTTP_TOKEN_FILE",
        ),
        (Ok(None), _, _) => Check::skip(TOKEN, "CONSUL_HTTP_TOKEN is not set"),
        (Ok(Some(token)), Some(http), Some(ctx)) => {
            let http = http.with_token(TokenSource::Value(token));
            diagnose::doctor::token_read_back(&http, &ctx.expected, limit).await
        }
        (Ok(Some(_)), _, _) => Check::skip(
            TOKEN,
            "needs the task metadata and the servers reachable over HTTP",
        ),
    });

    checks.push(match (&connection, &http, &spec, &ctx) {
        _ if fixed => Check::skip(
            LOGIN,
            "CONSUL_HTTP_TOKEN is set: the task uses it instead of logging in",
        ),
        _ if !login_enabled => Check::skip(LOGIN, "consulLogin.enabled is false"),
        (Ok((connection, _)), Some(http), Some(spec), Some(ctx)) => {
            diagnose::doctor::login_grpc(
                &connection.client(),
                datacenter.as_deref(),
                http,
                spec,
                &ctx.expected,
                role_ok,
                limit,
            )
            .await
        }
        _ => Check::skip(
            LOGIN,
            "needs the task metadata and the servers reachable over gRPC and HTTP",
        ),
    });
    if let Ok((connection, _)) = &connection {
        connection.stop();
    }
    Report {
        checks,
        config_usable: true,
    }
}

/// The first server `consulServers.hosts` gives that answers over gRPC, and the check's line;
/// or the failed line.
async fn grpc_reachable(
    servers: &config::dataplane::ConsulServers,
    limit: Duration,
) -> Result<(ServerConnection, Check), Check> {
    let hosts = describe_hosts(&servers.hosts);
    let settings = consul_grpc::servers::connect_settings(servers, env_text).map_err(|e| {
        Check::fail(
            SERVERS_GRPC,
            format!("consulServers.hosts {:?}: {e}", servers.hosts),
            "consulServers.hosts is an IP address, a DNS name or exec=<command>",
        )
    })?;
    let tls = if settings.tls.is_some() {
        "TLS"
    } else {
        "plain TCP"
    };
    let mut settings = settings;
    // Doctor looks once, as its other checks do: one round over the servers found, no
    // watch.
    settings.skip_server_watch = true;
    settings.call_timeout = settings.call_timeout.min(limit);
    settings.connect_policy = consul::RetryPolicy::default()
        .with_deadline(limit)
        .with_max_attempts(1);
    match ServerConnection::connect(settings).await {
        Ok(connection) => {
            let detail = format!(
                "{hosts} gave {:?}; {} answered ({tls})",
                connection.servers(),
                connection.current_address()
            );
            Ok((connection, Check::ok(SERVERS_GRPC, detail)))
        }
        Err(e) => Err(Check::fail(
            SERVERS_GRPC,
            format!("{hosts}: {}", boundary::error_chain(&e)),
            grpc_hint(&e),
        )),
    }
}

/// How `consulServers.hosts` finds the servers, for the servers line.
fn describe_hosts(hosts: &str) -> String {
    match ServerHosts::parse(hosts) {
        Ok(ServerHosts::Address(ip)) => format!("consulServers.hosts (address {ip})"),
        Ok(ServerHosts::DnsName(name)) => format!("consulServers.hosts (DNS name {name:?})"),
        Ok(ServerHosts::Exec { program, .. }) => {
            format!("consulServers.hosts (exec= command {program:?})")
        }
        Err(_) => format!("consulServers.hosts {hosts:?}"),
    }
}

/// What to look at when no server answered over gRPC, by the kind of failure.
fn grpc_hint(e: &GrpcError) -> &'static str {
    match e {
        _ if e.is_certificate() => {
            "the servers' certificate is not trusted or not for the name checked: check \
             consulServers.grpc.caCertFile (or CONSUL_GRPC_CACERT_PEM) and tlsServerName"
        }
        GrpcError::Tls(_) => {
            "the gRPC TLS settings cannot be used: check consulServers.grpc.caCertFile (or \
             CONSUL_GRPC_CACERT_PEM)"
        }
        GrpcError::Discovery(_) => {
            "consulServers.hosts gave no address: check the DNS name or the exec= command"
        }
        GrpcError::NoServer { last, .. } => grpc_hint(last),
        _ => {
            "check that the servers' gRPC port (consulServers.grpc.port, 8503 by default) is \
             reachable from the task, and whether it uses TLS (consulServers.grpc.tls)"
        }
    }
}

/// The HTTP(S) client of the server `connection` reached (no token), and how it is named.
fn http_client(
    servers: &config::dataplane::ConsulServers,
    connection: &ServerConnection,
) -> Result<(Client, diagnose::Target), consul::ConsulError> {
    let settings =
        consul_grpc::servers::http_config(servers, connection.current_address(), env_text)?
            .with_timeout(HTTP_REQUEST_TIMEOUT)
            .with_token(TokenSource::None);
    let client = Client::new(settings)?;
    let target = diagnose::Target {
        what: "the Consul servers' HTTP(S) API",
        address: client.address().to_string(),
        origin: diagnose::AddressOrigin::ConsulServers,
    };
    Ok((client, target))
}
