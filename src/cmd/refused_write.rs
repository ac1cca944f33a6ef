//! A write the local agent refused (403), told through the token's identities and, when the
//! task logged in, what of the task role made them so. Shared by mesh-init (registrations)
//! and health-sync (check updates).

use crate::cmd::{consul_clients, mesh_init};

/// Explains `refusal` of `what` (e.g. `register service "web-…"`). `task` names the task
/// role's login spec when the task logs in; without it only the token is looked at.
pub async fn explain(
    cfg: &config::Config,
    task: Option<&ecs::TaskMetadata>,
    agent: &consul::Client,
    expected: &diagnose::Expected,
    what: String,
    refusal: &consul::ConsulError,
) -> iam_login::Explanation {
    let token = if cfg.login_enabled() {
        diagnose::TokenOrigin::Login {
            file: cfg.service_token_path(),
        }
    } else if consul_clients::env_token().ok().flatten().is_some() {
        diagnose::TokenOrigin::Environment
    } else {
        diagnose::TokenOrigin::Anonymous
    };
    let spec = task
        .filter(|_| cfg.login_enabled())
        .and_then(|task| mesh_init::login_spec(cfg, task).ok());
    let findings = match spec {
        Some(spec) => diagnose::role_findings(&spec.params, expected)
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let write = diagnose::RefusedWrite { what, token };
    diagnose::explain_refused_write(agent, &write, refusal, expected, &findings).await
}
