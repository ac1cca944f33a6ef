//! Start-up, in v0.10.0's order (docs/protocols.md §5.11): the agent's datacenters; the
//! partition; the gateway policies and roles; the auth method; its four binding rules; the
//! anonymous-token policy (primary datacenter only); the cluster's synthetic node. Every
//! step reads first and writes only what is missing or different, so a restart of a
//! healthy deployment writes nothing (v0.10.0 rewrites its binding rules and the node on
//! every start).

use std::collections::BTreeMap;

use acl_controller::startup::{
    ensure_anonymous_policy_in_primary, ensure_auth_method, ensure_partition, ensure_policy,
    ensure_role, in_partition, log_changes, read_datacenters,
};
use acl_controller::{namespaces, Error, Result, StartupReport};
use consul::{CatalogRegistration, Client, QueryOptions};

use crate::objects::{self, AUTH_METHOD};
use crate::settings::Settings;

/// Node meta key marking the cluster's node as synthetic (no agent runs on it).
pub const SYNTHETIC_NODE_META: &str = "synthetic-node";

/// Runs the whole start-up sequence once. Callers retry it on error.
pub async fn run(consul: &Client, settings: &Settings) -> Result<StartupReport> {
    let mut report = read_datacenters(consul).await?;
    if let Some(partition) = settings.partition() {
        ensure_partition(consul, partition, &mut report).await?;
    }
    let opts = in_partition(settings.partition());
    let (policies, roles) = objects::gateway_policies_and_roles(settings.partition());
    for policy in &policies {
        ensure_policy(consul, &opts, policy, &mut report).await?;
    }
    for role in &roles {
        ensure_role(consul, &opts, role, &mut report).await?;
    }
    let existing_tags = consul
        .auth_method_read(AUTH_METHOD, &opts)
        .await
        .map_err(|e| Error::consul(format!("read auth method {AUTH_METHOD}"), e))?
        .map(|m| objects::config_entity_tags(&m))
        .unwrap_or_default();
    let desired = objects::auth_method(
        &[settings.bound_arn()],
        settings.partition().is_some(),
        &existing_tags,
    );
    ensure_auth_method(consul, &opts, &desired, &mut report).await?;
    ensure_binding_rules(consul, &opts, &mut report).await?;
    ensure_anonymous_policy_in_primary(consul, settings.partition().is_some(), &mut report).await?;
    if let Some(partition) = settings.partition() {
        // v0.10.0 does this at the start of every round; once at start-up is enough, as
        // the v0.6.2 controller here does.
        report
            .changes
            .extend(namespaces::ensure_cross_namespace_defaults(consul, partition).await?);
    }
    ensure_node(consul, settings, &mut report).await?;
    log_changes(&report);
    Ok(report)
}

/// Creates each of the four binding rules that has no rule of the same bind name and
/// description, and updates a matched one whose type or selector differ. Other rules of
/// the method (an operator's) are left alone.
async fn ensure_binding_rules(
    consul: &Client,
    opts: &QueryOptions,
    report: &mut StartupReport,
) -> Result<()> {
    let existing = consul
        .binding_rule_list(AUTH_METHOD, opts)
        .await
        .map_err(|e| Error::consul(format!("list the binding rules of {AUTH_METHOD}"), e))?;
    for desired in objects::binding_rules() {
        let what = format!("binding rule {:?} of {AUTH_METHOD}", desired.description);
        match existing.iter().find(|r| objects::rule_matches(r, &desired)) {
            None => {
                consul
                    .binding_rule_create(&desired, opts)
                    .await
                    .map_err(|e| Error::consul(format!("create {what}"), e))?;
                report.changes.push(format!("{what} (created)"));
            }
            Some(found) if objects::rule_differs(found, &desired) => {
                let update = consul::AclBindingRule {
                    id: found.id.clone(),
                    ..desired
                };
                consul
                    .binding_rule_update(&update, opts)
                    .await
                    .map_err(|e| Error::consul(format!("update {what}"), e))?;
                report.changes.push(format!("{what} (updated)"));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Registers the cluster's synthetic node (name: the cluster ARN; meta
/// `synthetic-node=true`; the controller task's address) unless the catalog already has it
/// so. Every task of the cluster registers its services on this node.
async fn ensure_node(
    consul: &Client,
    settings: &Settings,
    report: &mut StartupReport,
) -> Result<()> {
    let opts = in_partition(settings.partition());
    let node = settings.node();
    let meta = BTreeMap::from([(SYNTHETIC_NODE_META.to_string(), "true".to_string())]);
    // The node's services (thousands on a large cluster's node) are skipped as they
    // arrive: only the node is wanted.
    let current = consul
        .catalog_node_services_each(node, &opts, |_| {})
        .await
        .map_err(|e| Error::consul(format!("read node {node}"), e))?;
    if current.is_some_and(|n| n.address == settings.node_address && n.meta == meta) {
        return Ok(());
    }
    let registration = CatalogRegistration {
        node: node.to_string(),
        address: settings.node_address.clone(),
        node_meta: meta,
        partition: settings.partition().unwrap_or_default().to_string(),
        ..CatalogRegistration::default()
    };
    consul
        .catalog_register(&registration, &opts)
        .await
        .map_err(|e| Error::consul(format!("register node {node}"), e))?;
    report.changes.push(format!("node {node} (registered)"));
    Ok(())
}
