//! doctor: the start-up checks on demand, from inside a task — the config, the task
//! metadata, the AWS credentials and the task role (its path and tags), Consul (servers and
//! local agent) reachable, and a login with the auth method that is logged out at once.
//!
//! Which checks run and what each needs from the ones before is decided here, over the
//! same derivations the context uses; each check itself is `diagnose::doctor`'s.

use std::time::Duration;

use diagnose::doctor::names::{AGENT, CONFIG, CREDENTIALS, LOGIN, METADATA, ROLE, SERVERS};
use diagnose::{Check, Status};

use crate::clients;
use crate::context::{expected_identity, login_spec};

/// The list, and whether the config could be used at all.
#[derive(Debug)]
pub struct Report {
    /// One check a line, in order.
    pub checks: Vec<Check>,
    /// False when the config is unusable (every other check is then skipped).
    pub config_usable: bool,
}

impl Report {
    /// Whether any check failed.
    pub fn any_failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }
}

/// Runs every check that can run, each within `limit`; a check whose input an earlier one
/// could not give is skipped and says why. `config` is the config as read and validated for
/// mesh-init.
pub async fn run(config: Result<config::Config, config::ConfigError>, limit: Duration) -> Report {
    let mut checks = Vec::new();
    let cfg = match config {
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
            return Report {
                checks,
                config_usable: false,
            };
        }
    };

    let task = metadata(limit).await;
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
                expected = Some(expected_identity(&cfg, &registrations));
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
        (Ok(task), true) => login_spec(&cfg, task).ok(),
        _ => None,
    };
    let mut role_ok = !cfg.login_enabled();
    match (&spec, &expected) {
        (Some(spec), Some(expected)) => {
            let (credentials, role) = diagnose::doctor::identity(limit, spec, expected).await;
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
        match clients::server(&cfg) {
            Ok(server) => {
                let target = clients::server_target(&cfg, &server);
                let check = diagnose::doctor::reachable(SERVERS, &server, &target, limit).await;
                servers_up = check.status == Status::Ok;
                checks.push(check);
                Some((server, target))
            }
            Err(e) => {
                checks.push(Check::fail(
                    SERVERS,
                    boundary::error_chain(&e),
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
    // Without the service token: doctor runs beside the task, not as it.
    match clients::agent(None) {
        Ok(agent) => {
            let target = clients::agent_target(&agent);
            checks.push(diagnose::doctor::reachable(AGENT, &agent, &target, limit).await);
        }
        Err(e) => checks.push(Check::fail(
            AGENT,
            boundary::error_chain(&e),
            "check CONSUL_HTTP_ADDR and CONSUL_CACERT",
        )),
    }

    checks.push(match (server, spec, expected) {
        (Some((server, target)), Some(spec), Some(expected)) if servers_up => {
            diagnose::doctor::login(&server, &target, &spec, &expected, role_ok, limit).await
        }
        _ if !cfg.login_enabled() => Check::skip(LOGIN, "consulLogin.enabled is false"),
        _ => Check::skip(
            LOGIN,
            "needs the task metadata and reachable Consul servers",
        ),
    });
    Report {
        checks,
        config_usable: true,
    }
}

pub(crate) async fn metadata(limit: Duration) -> Result<ecs::TaskMetadata, String> {
    diagnose::doctor::bounded(limit, "reading the task metadata", async {
        let client = ecs::MetadataClient::from_env().map_err(|e| e.to_string())?;
        client
            .task_once()
            .await
            .map_err(|e| format!("{}: {e}", client.base_uri()))
    })
    .await
}
