//! One reconcile round (docs/protocols.md §5.12): for each task of the cluster that left
//! login tokens or catalog services on the cluster's node and no longer runs, delete its
//! tokens and deregister its services; with partitions, create the namespaces running
//! mesh tasks name.
//!
//! The v0.6.2 controller's round machinery does the work (`acl_controller::reconcile`):
//! tokens and services are listed before the tasks, so a task that starts meanwhile cannot
//! look stale; a task not among the running ones is only a candidate, and only one ECS
//! reports `STOPPED` or no longer knows is gone, so a stopping task keeps its token and
//! services until it has stopped (its health-sync deregisters and logs out itself). Unlike
//! v0.10.0, a service without `task-id` meta is left alone and the round goes on.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use acl_controller::reconcile::{
    create_namespaces, delete_tokens, gone_tasks, list_namespaces, running_tasks,
};
use acl_controller::startup::in_partition;
use acl_controller::tokens::{self, plausible_task_id};
use acl_controller::{EcsTasks, Error, Result};
use consul::{CatalogDeregistration, Client, QueryOptions};
use tracing::info;

use crate::objects::AUTH_METHOD;
use crate::settings::Settings;

/// Service meta key naming the task that registered the service (mesh-init writes it).
pub const TASK_ID_SERVICE_META: &str = "task-id";

/// A service on the node that a task registered: what deregistering it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TaskService {
    /// Service ID.
    id: String,
    /// Its namespace (Enterprise; empty on CE).
    namespace: String,
}

/// What one round saw and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// Tasks, tokens, deletions, namespaces, errors and calls, as the v0.6.2 controller
    /// counts them.
    pub base: acl_controller::RoundReport,
    /// Services on the cluster's node.
    pub services: usize,
    /// IDs of services on the node without a usable `task-id` meta: left alone.
    pub unowned_services: Vec<String>,
    /// IDs of the services deregistered.
    pub deregistered: Vec<String>,
}

/// Runs one round.
pub async fn round(consul: &Client, ecs: &EcsTasks, settings: &Settings) -> Result<RoundReport> {
    let started = Instant::now();
    let ecs_before = ecs.calls();
    let mut report = RoundReport::default();
    let partition = settings.partition();

    let namespaces = list_namespaces(consul, partition, &mut report.base).await?;
    let listed = tokens::list(
        consul,
        &[AUTH_METHOD],
        &settings.cluster,
        partition,
        &namespaces,
    )
    .await?;
    report.base.consul_calls += listed.requests;
    report.base.tokens = listed.tokens();
    report.base.ignored_tokens = listed.ignored;
    let services = services_by_task(consul, settings, &mut report).await?;

    let running = running_tasks(
        ecs,
        &settings.cluster.arn,
        partition,
        &mut report.base.errors,
    )
    .await?;
    report.base.running_tasks = running.ids.len();
    report.base.mesh_tasks = running.mesh;
    create_namespaces(consul, partition, &namespaces, &running, &mut report.base).await;

    let candidates: BTreeSet<&String> = listed
        .by_task
        .keys()
        .chain(services.keys())
        .filter(|id| !running.ids.contains(*id))
        .collect();
    let candidates: Vec<&String> = candidates.into_iter().collect();
    let gone = gone_tasks(ecs, &settings.cluster.arn, &candidates, &mut report.base).await?;
    for task_id in &gone {
        if let Some(tokens) = listed.by_task.get(task_id) {
            delete_tokens(consul, task_id, tokens, &mut report.base).await?;
        }
        // Deregistered even when a token delete failed: the two are independent.
        if let Some(services) = services.get(task_id) {
            deregister(consul, settings, task_id, services, &mut report).await;
        }
    }
    report.base.ecs_calls = ecs.calls() - ecs_before;
    report.base.elapsed = started.elapsed();
    Ok(report)
}

/// The services on the cluster's node (every namespace of the partition with partitions),
/// by the task their `task-id` meta names. A service without one (registered by hand, or
/// by something else) is counted in [`RoundReport::unowned_services`] and left alone.
async fn services_by_task(
    consul: &Client,
    settings: &Settings,
    report: &mut RoundReport,
) -> Result<BTreeMap<String, Vec<TaskService>>> {
    // `ns=*`: every namespace of the partition (Enterprise only).
    let every_namespace = if settings.partition().is_some() {
        "*"
    } else {
        ""
    };
    let opts = in_namespace(settings, every_namespace);
    report.base.consul_calls += 1;
    let node = settings.node();
    // Each service is sorted as it arrives, and only its ID and namespace are kept: the
    // node of a large cluster has thousands.
    let mut by_task: BTreeMap<String, Vec<TaskService>> = BTreeMap::new();
    let mut services = 0;
    let unowned = &mut report.unowned_services;
    consul
        .catalog_node_services_each(node, &opts, |service| {
            services += 1;
            match service.meta.get(TASK_ID_SERVICE_META) {
                Some(id) if plausible_task_id(id) => {
                    by_task.entry(id.clone()).or_default().push(TaskService {
                        id: service.id,
                        namespace: service.namespace,
                    });
                }
                _ => unowned.push(service.id),
            }
        })
        .await
        .map_err(|e| Error::consul(format!("list the services of node {node}"), e))?;
    report.services = services;
    Ok(by_task)
}

/// Deregisters the services of a task that is gone, each in its namespace. A failure is one
/// of the round's errors; the other services are still tried.
async fn deregister(
    consul: &Client,
    settings: &Settings,
    task_id: &str,
    services: &[TaskService],
    report: &mut RoundReport,
) {
    for service in services {
        let opts = in_namespace(settings, &service.namespace);
        let deregistration = CatalogDeregistration {
            node: settings.node().to_string(),
            service_id: service.id.clone(),
            namespace: service.namespace.clone(),
            partition: settings.partition().unwrap_or_default().to_string(),
            ..CatalogDeregistration::default()
        };
        report.base.consul_calls += 1;
        match consul.catalog_deregister(&deregistration, &opts).await {
            Ok(()) => {
                info!(task = %task_id, service_id = %service.id, "deregistered the service of a task that has stopped");
                report.deregistered.push(service.id.clone());
            }
            Err(e) => {
                let e = Error::consul(
                    format!(
                        "deregister service {} of stopped task {task_id}",
                        service.id
                    ),
                    e,
                );
                report.base.errors.push(e.to_string());
            }
        }
    }
}

/// Options for a call in `namespace` of the managed partition.
fn in_namespace(settings: &Settings, namespace: &str) -> QueryOptions {
    let opts = in_partition(settings.partition());
    if namespace.is_empty() {
        opts
    } else {
        opts.with_namespace(namespace)
    }
}
