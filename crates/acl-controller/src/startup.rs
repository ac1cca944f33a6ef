//! Start-up: make sure every Consul object the ECS tasks need exists, exactly as v0.6.2
//! makes them (docs/protocols.md §5.8). Every step reads first and writes only what is missing
//! or different, so a restart of a healthy deployment writes nothing.

use consul::{AclAuthMethod, AclLink, AclPolicy, AclRole, Client, Partition, QueryOptions};
use tracing::{debug, info};

use crate::namespaces;
use crate::objects::{self, ANONYMOUS_POLICY, ANONYMOUS_TOKEN_ACCESSOR, AUTH_METHODS};
use crate::settings::Settings;
use crate::{Error, Result};

/// What start-up found and changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartupReport {
    /// The agent's datacenter.
    pub datacenter: String,
    /// Whether it is the primary datacenter (the anonymous-token policy is set up only there).
    pub primary: bool,
    /// Objects created or updated, e.g. `policy consul-ecs-client-policy (created)`.
    pub changes: Vec<String>,
}

/// Options for every call in the managed partition (`partition=` only with partitions).
pub fn in_partition(partition: Option<&str>) -> QueryOptions {
    match partition {
        Some(p) => QueryOptions::default().with_partition(p),
        None => QueryOptions::default(),
    }
}

/// Runs the whole start-up sequence once. Callers retry it on error.
pub async fn run(consul: &Client, settings: &Settings) -> Result<StartupReport> {
    let mut report = read_datacenters(consul).await?;
    if let Some(partition) = settings.partition() {
        ensure_partition(consul, partition, &mut report).await?;
    }
    let opts = in_partition(settings.partition());
    ensure_policy(
        consul,
        &opts,
        &objects::client_policy(settings.partition()),
        &mut report,
    )
    .await?;
    ensure_role(consul, &opts, &objects::client_role(), &mut report).await?;
    for method in AUTH_METHODS {
        let desired = objects::auth_method(
            method,
            &[settings.bound_arn()],
            settings.partition().is_some(),
        );
        ensure_auth_method(consul, &opts, &desired, &mut report).await?;
    }
    for method in AUTH_METHODS {
        ensure_binding_rule(consul, settings, method, &mut report).await?;
    }
    ensure_anonymous_policy_in_primary(consul, settings.partition().is_some(), &mut report).await?;
    if let Some(partition) = settings.partition() {
        report
            .changes
            .extend(namespaces::ensure_cross_namespace_defaults(consul, partition).await?);
    }
    log_changes(&report);
    Ok(report)
}

/// Logs each change start-up made.
pub fn log_changes(report: &StartupReport) {
    for change in &report.changes {
        info!(change = %change, "consul object set up");
    }
}

/// Reads `/v1/agent/self`: the datacenter, and whether it is the primary one.
pub async fn read_datacenters(consul: &Client) -> Result<StartupReport> {
    let mut report = StartupReport::default();
    let agent = consul
        .agent_self(&QueryOptions::default())
        .await
        .map_err(|e| Error::consul("read the agent's configuration", e))?;
    report.datacenter = agent.datacenter().unwrap_or_default().to_string();
    let primary = agent.primary_datacenter().ok_or_else(|| {
        Error::Unexpected(
            "both Config.PrimaryDatacenter and DebugConfig.PrimaryDatacenter are empty".to_string(),
        )
    })?;
    report.primary = report.datacenter == primary;
    Ok(report)
}

/// Creates admin partition `partition` when the servers do not list it.
pub async fn ensure_partition(
    consul: &Client,
    partition: &str,
    report: &mut StartupReport,
) -> Result<()> {
    let opts = QueryOptions::default();
    let known = consul
        .partition_list(&opts)
        .await
        .map_err(|e| Error::consul("list the admin partitions", e))?;
    if known.iter().any(|p| p.name == partition) {
        return Ok(());
    }
    let wanted = Partition {
        name: partition.to_string(),
        ..Partition::default()
    };
    consul
        .partition_create(&wanted, &opts)
        .await
        .map_err(|e| Error::consul(format!("create admin partition {partition}"), e))?;
    report
        .changes
        .push(format!("partition {partition} (created)"));
    Ok(())
}

/// Creates `policy` when no policy has its name. An existing policy is left as it is (an
/// operator may have tightened it).
pub async fn ensure_policy(
    consul: &Client,
    opts: &QueryOptions,
    policy: &AclPolicy,
    report: &mut StartupReport,
) -> Result<()> {
    let name = &policy.name;
    let existing = consul
        .policy_read_by_name(name, opts)
        .await
        .map_err(|e| Error::consul(format!("read policy {name}"), e))?;
    if existing.is_none() {
        consul
            .policy_create(policy, opts)
            .await
            .map_err(|e| Error::consul(format!("create policy {name}"), e))?;
        report.changes.push(format!("policy {name} (created)"));
    }
    Ok(())
}

/// Creates `role` when no role has its name. An existing role without policies gets
/// `role`'s (a role without policies grants nothing); one with policies is left alone.
pub async fn ensure_role(
    consul: &Client,
    opts: &QueryOptions,
    role: &AclRole,
    report: &mut StartupReport,
) -> Result<()> {
    let name = &role.name;
    let existing = consul
        .role_read_by_name(name, opts)
        .await
        .map_err(|e| Error::consul(format!("read role {name}"), e))?;
    match existing {
        None => {
            consul
                .role_create(role, opts)
                .await
                .map_err(|e| Error::consul(format!("create role {name}"), e))?;
            report.changes.push(format!("role {name} (created)"));
        }
        Some(mut existing) if existing.policies.is_empty() && !role.policies.is_empty() => {
            existing.policies = role.policies.clone();
            let added = links_text(&role.policies);
            consul
                .role_update(&existing, opts)
                .await
                .map_err(|e| Error::consul(format!("add policy {added} to role {name}"), e))?;
            report.changes.push(format!("role {name} (policy added)"));
        }
        Some(_) => {}
    }
    Ok(())
}

fn links_text(links: &[AclLink]) -> String {
    links
        .iter()
        .map(|l| l.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Creates auth method `desired`, or updates the existing one when it differs in what the
/// controller owns ([`objects::auth_method_update`]: the bound ARNs merged, operators'
/// config keys kept).
pub async fn ensure_auth_method(
    consul: &Client,
    opts: &QueryOptions,
    desired: &AclAuthMethod,
    report: &mut StartupReport,
) -> Result<()> {
    let method = &desired.name;
    let existing = consul
        .auth_method_read(method, opts)
        .await
        .map_err(|e| Error::consul(format!("read auth method {method}"), e))?;
    match existing {
        None => {
            consul
                .auth_method_create(desired, opts)
                .await
                .map_err(|e| Error::consul(format!("create auth method {method}"), e))?;
            report
                .changes
                .push(format!("auth method {method} (created)"));
        }
        Some(existing) => {
            if let Some(update) = objects::auth_method_update(&existing, desired) {
                consul
                    .auth_method_update(&update, opts)
                    .await
                    .map_err(|e| Error::consul(format!("update auth method {method}"), e))?;
                report
                    .changes
                    .push(format!("auth method {method} (updated)"));
            }
        }
    }
    Ok(())
}

async fn ensure_binding_rule(
    consul: &Client,
    settings: &Settings,
    method: &str,
    report: &mut StartupReport,
) -> Result<()> {
    let opts = in_partition(settings.partition());
    let rules = consul
        .binding_rule_list(method, &opts)
        .await
        .map_err(|e| Error::consul(format!("list the binding rules of {method}"), e))?;
    // Any rule at all means an operator (or an earlier run) decided how logins bind.
    if rules.is_empty() {
        consul
            .binding_rule_create(&objects::binding_rule(method), &opts)
            .await
            .map_err(|e| Error::consul(format!("create the binding rule of {method}"), e))?;
        report
            .changes
            .push(format!("binding rule of {method} (created)"));
    }
    Ok(())
}

/// In the primary datacenter only ([`StartupReport::primary`]), policy
/// `anonymous-token-policy` on the anonymous token; `partitions` chooses the rules and
/// reads both in the default partition and namespace.
pub async fn ensure_anonymous_policy_in_primary(
    consul: &Client,
    partitions: bool,
    report: &mut StartupReport,
) -> Result<()> {
    if !report.primary {
        debug!(datacenter = %report.datacenter, primary = report.primary, "not the primary datacenter: the anonymous token is left alone");
        return Ok(());
    }
    // The anonymous token and its policy live in the default partition and namespace.
    let opts = if partitions {
        QueryOptions::default()
            .with_partition(objects::DEFAULT_TENANCY)
            .with_namespace(objects::DEFAULT_TENANCY)
    } else {
        QueryOptions::default()
    };
    let mut token = consul
        .token_read(ANONYMOUS_TOKEN_ACCESSOR, &opts)
        .await
        .map_err(|e| Error::consul("read the anonymous token", e))?
        .ok_or_else(|| Error::Unexpected("the anonymous token does not exist".to_string()))?;
    if token.policies.iter().any(|l| l.name == ANONYMOUS_POLICY) {
        return Ok(());
    }
    let existing = consul
        .policy_read_by_name(ANONYMOUS_POLICY, &opts)
        .await
        .map_err(|e| Error::consul(format!("read policy {ANONYMOUS_POLICY}"), e))?;
    if existing.is_none() {
        consul
            .policy_create(&objects::anonymous_policy(partitions), &opts)
            .await
            .map_err(|e| Error::consul(format!("create policy {ANONYMOUS_POLICY}"), e))?;
        report
            .changes
            .push(format!("policy {ANONYMOUS_POLICY} (created)"));
    }
    token.policies.push(AclLink::by_name(ANONYMOUS_POLICY));
    consul.token_update(&token, &opts).await.map_err(|e| {
        Error::consul(
            format!("add policy {ANONYMOUS_POLICY} to the anonymous token"),
            e,
        )
    })?;
    report
        .changes
        .push(format!("anonymous token (policy {ANONYMOUS_POLICY} added)"));
    Ok(())
}
