//! Enterprise namespaces (docs/protocols.md §5.9): the `cross-namespace-read` policy every
//! namespace of the partition gets as a default, and a namespace for every namespace tag of
//! a running mesh task. Tokens never cause a namespace to be created.

use std::collections::BTreeSet;

use consul::{AclLink, Client, Namespace, NamespaceAclConfig, QueryOptions};

use crate::objects::{self, CROSS_NAMESPACE_POLICY, DEFAULT_TENANCY};
use crate::{Error, Result};

fn in_partition(partition: &str) -> QueryOptions {
    QueryOptions::default().with_partition(partition)
}

/// Makes sure `cross-namespace-read` exists in `partition`'s default namespace and is a
/// policy default of that namespace. Returns what it changed.
pub async fn ensure_cross_namespace_defaults(
    consul: &Client,
    partition: &str,
) -> Result<Vec<String>> {
    let mut changes = Vec::new();
    let opts = in_partition(partition).with_namespace(DEFAULT_TENANCY);
    let existing = consul
        .policy_read_by_name(CROSS_NAMESPACE_POLICY, &opts)
        .await
        .map_err(|e| Error::consul(format!("read policy {CROSS_NAMESPACE_POLICY}"), e))?;
    if existing.is_none() {
        // Namespace and partition travel in the body, as v0.6.2 sends them.
        consul
            .policy_create(
                &objects::cross_namespace_policy(partition),
                &QueryOptions::default(),
            )
            .await
            .map_err(|e| Error::consul(format!("create policy {CROSS_NAMESPACE_POLICY}"), e))?;
        changes.push(format!(
            "policy {CROSS_NAMESPACE_POLICY} in partition {partition} (created)"
        ));
    }
    let opts = in_partition(partition);
    let mut default = consul
        .namespace_read(DEFAULT_TENANCY, &opts)
        .await
        .map_err(|e| {
            Error::consul(
                format!("read namespace default of partition {partition}"),
                e,
            )
        })?
        .ok_or_else(|| {
            Error::Unexpected(format!("partition {partition} has no default namespace"))
        })?;
    let acls = default.acls.get_or_insert_with(NamespaceAclConfig::default);
    if !acls
        .policy_defaults
        .iter()
        .any(|l| l.name == CROSS_NAMESPACE_POLICY)
    {
        acls.policy_defaults
            .push(AclLink::by_name(CROSS_NAMESPACE_POLICY));
        consul
            .namespace_update(&default, &opts)
            .await
            .map_err(|e| {
                Error::consul(
                    format!("add {CROSS_NAMESPACE_POLICY} to namespace default of partition {partition}"),
                    e,
                )
            })?;
        changes.push(format!(
            "namespace default of partition {partition} (policy default {CROSS_NAMESPACE_POLICY} added)"
        ));
    }
    Ok(changes)
}

/// The namespaces of `partition`.
pub async fn list(consul: &Client, partition: &str) -> Result<Vec<String>> {
    let list = consul
        .namespace_list(&in_partition(partition))
        .await
        .map_err(|e| Error::consul(format!("list the namespaces of partition {partition}"), e))?;
    Ok(list
        .into_iter()
        .filter(|n| n.deleted_at.is_none())
        .map(|n| n.name)
        .collect())
}

/// Creates the namespaces in `wanted` that are not in `existing`, each with the
/// cross-namespace-read policy default. Returns the names created; stops at the first
/// failure.
pub async fn create_missing(
    consul: &Client,
    partition: &str,
    existing: &[String],
    wanted: &BTreeSet<String>,
) -> Result<Vec<String>> {
    let mut created = Vec::new();
    for name in wanted.iter().filter(|n| !existing.contains(n)) {
        let namespace = Namespace {
            name: name.clone(),
            acls: Some(NamespaceAclConfig {
                policy_defaults: vec![AclLink::by_name(CROSS_NAMESPACE_POLICY)],
                role_defaults: Vec::new(),
            }),
            ..Namespace::default()
        };
        consul
            .namespace_create(&namespace, &in_partition(partition))
            .await
            .map_err(|e| {
                Error::consul(
                    format!("create namespace {name} in partition {partition}"),
                    e,
                )
            })?;
        created.push(name.clone());
    }
    Ok(created)
}
