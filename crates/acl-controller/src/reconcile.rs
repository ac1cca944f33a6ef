//! One reconcile round (docs/protocols.md §5.9, without two of v0.6.2's bugs): delete the login
//! tokens of this cluster's tasks that no longer run, and on Enterprise create the
//! namespaces running mesh tasks name.
//!
//! Order matters. Tokens are listed first, then tasks: a task that starts (and logs in)
//! after the token list is not in it, so it cannot be mistaken for a stale one. A token
//! whose task is not among the running tasks is only a *candidate*: `DescribeTasks` on the
//! candidates decides, and only a task ECS calls `STOPPED` or `MISSING` is gone. So a
//! stopping task (desired `STOPPED`, still running its containers) keeps its tokens until
//! it has stopped, and health-sync's own logout at shutdown still works.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use consul::{Client, QueryOptions};
use tracing::{debug, info, warn};

use crate::ecs_tasks::{EcsTasks, TaskInfo, DESCRIBE_BATCH, NAMESPACE_TAG, PARTITION_TAG};
use crate::objects::{AUTH_METHODS, DEFAULT_TENANCY};
use crate::settings::Settings;
use crate::tokens::{self, TaskToken};
use crate::{namespaces, Error, Result};

/// What one round saw and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// Tasks of the cluster that are running (any tags).
    pub running_tasks: usize,
    /// Running mesh tasks of the managed partition.
    pub mesh_tasks: usize,
    /// Login tokens of the cluster's tasks.
    pub tokens: usize,
    /// Tokens of the auth methods left alone (no login meta, another cluster's).
    pub ignored_tokens: usize,
    /// Accessor IDs of the tokens deleted.
    pub deleted: Vec<String>,
    /// Tasks whose tokens were kept because the task is still stopping.
    pub stopping_tasks: Vec<String>,
    /// Namespaces created.
    pub namespaces_created: Vec<String>,
    /// Steps that failed without failing the round (a delete, a namespace, an odd task).
    pub errors: Vec<String>,
    /// ECS API calls made.
    pub ecs_calls: u64,
    /// Consul requests made.
    pub consul_calls: u64,
    /// How long the round took.
    pub elapsed: Duration,
}

/// The running tasks of the cluster, as `ListTasks` + `DescribeTasks` show them.
#[derive(Debug, Default)]
pub struct Running {
    /// IDs of tasks that have not stopped.
    pub ids: BTreeSet<String>,
    /// Namespaces named by running mesh tasks of the managed partition.
    pub namespaces: BTreeSet<String>,
    /// Running mesh tasks of the managed partition (every mesh task without partitions).
    pub mesh: usize,
}

/// Runs one round.
pub async fn round(consul: &Client, ecs: &EcsTasks, settings: &Settings) -> Result<RoundReport> {
    let started = Instant::now();
    let ecs_before = ecs.calls();
    let mut report = RoundReport::default();
    let partition = settings.partition();

    let namespaces = list_namespaces(consul, partition, &mut report).await?;
    let listed = tokens::list(
        consul,
        &AUTH_METHODS,
        &settings.cluster,
        partition,
        &namespaces,
    )
    .await?;
    report.consul_calls += listed.requests;
    report.tokens = listed.tokens();
    report.ignored_tokens = listed.ignored;

    let running = running_tasks(ecs, &settings.cluster.arn, partition, &mut report.errors).await?;
    report.running_tasks = running.ids.len();
    report.mesh_tasks = running.mesh;
    create_namespaces(consul, partition, &namespaces, &running, &mut report).await;

    let candidates: Vec<&String> = listed
        .by_task
        .keys()
        .filter(|id| !running.ids.contains(*id))
        .collect();
    let gone = gone_tasks(ecs, &settings.cluster.arn, &candidates, &mut report).await?;
    for task_id in &gone {
        let Some(tokens) = listed.by_task.get(task_id) else {
            continue;
        };
        delete_tokens(consul, task_id, tokens, &mut report).await?;
    }
    report.ecs_calls = ecs.calls() - ecs_before;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// The namespaces of `partition` (none, and no request, without partitions).
pub async fn list_namespaces(
    consul: &Client,
    partition: Option<&str>,
    report: &mut RoundReport,
) -> Result<Vec<String>> {
    match partition {
        Some(p) => {
            report.consul_calls += 1;
            namespaces::list(consul, p).await
        }
        None => Ok(Vec::new()),
    }
}

/// With partitions, creates the namespaces running mesh tasks of the partition name that
/// `existing` lacks; a failure is one of the round's errors, not the round's end.
pub async fn create_namespaces(
    consul: &Client,
    partition: Option<&str>,
    existing: &[String],
    running: &Running,
    report: &mut RoundReport,
) {
    let Some(p) = partition else {
        return;
    };
    match namespaces::create_missing(consul, p, existing, &running.namespaces).await {
        Ok(created) => {
            report.consul_calls += created.len() as u64;
            for name in &created {
                info!(namespace = %name, partition = %p, "namespace created");
            }
            report.namespaces_created = created;
        }
        Err(e) => {
            report.consul_calls += 1;
            report.errors.push(e.to_string());
        }
    }
}

/// Pages through `ListTasks` (desired status `RUNNING`) and describes each non-empty page
/// with its tags.
pub async fn running_tasks(
    ecs: &EcsTasks,
    cluster: &str,
    partition: Option<&str>,
    errors: &mut Vec<String>,
) -> Result<Running> {
    let mut running = Running::default();
    let mut next = None;
    loop {
        let (arns, token) = ecs.list_running_page(cluster, next.take()).await?;
        // ECS rejects DescribeTasks without tasks; an empty page can still carry a token.
        for chunk in arns.chunks(DESCRIBE_BATCH) {
            let described = ecs.describe(cluster, chunk).await?;
            for task in described.tasks.iter().filter(|t| !t.stopped()) {
                running.ids.insert(task.id.clone());
                if !task.is_mesh() {
                    continue;
                }
                let Some(ours) = partition else {
                    // CE: every mesh task is ours; namespace tags mean nothing.
                    running.mesh += 1;
                    continue;
                };
                match task_tenancy(task) {
                    Ok((p, ns)) if p == ours => {
                        running.mesh += 1;
                        running.namespaces.insert(ns);
                    }
                    // Another partition's task: another controller's business.
                    Ok(_) => {}
                    Err(e) => {
                        warn!(task = %task.id, "{e}; task skipped");
                        errors.push(format!("task {}: {e}", task.id));
                    }
                }
            }
        }
        match token {
            Some(t) => next = Some(t),
            None => break,
        }
    }
    Ok(running)
}

/// A mesh task's partition and namespace from its tags: both set, or both absent
/// (`default`/`default`).
fn task_tenancy(task: &TaskInfo) -> std::result::Result<(String, String), String> {
    let p = task.tags.get(PARTITION_TAG).filter(|v| !v.is_empty());
    let ns = task.tags.get(NAMESPACE_TAG).filter(|v| !v.is_empty());
    match (p, ns) {
        (Some(p), Some(ns)) => Ok((p.clone(), ns.clone())),
        (None, None) => Ok((DEFAULT_TENANCY.to_string(), DEFAULT_TENANCY.to_string())),
        _ => Err(format!(
            "tags {PARTITION_TAG} and {NAMESPACE_TAG} must be both set or both absent"
        )),
    }
}

/// Which candidate tasks are really gone: `DescribeTasks` reports them `MISSING` (or, as
/// moto does, not at all) or `STOPPED`. A task still stopping keeps its tokens; a failure
/// with another reason keeps them too (unknown is not gone).
pub async fn gone_tasks(
    ecs: &EcsTasks,
    cluster: &str,
    candidates: &[&String],
    report: &mut RoundReport,
) -> Result<Vec<String>> {
    let mut gone = Vec::new();
    let ids: Vec<String> = candidates.iter().map(|s| (*s).clone()).collect();
    for chunk in ids.chunks(DESCRIBE_BATCH) {
        let described = ecs.describe(cluster, chunk).await?;
        let by_id: BTreeMap<&str, &TaskInfo> =
            described.tasks.iter().map(|t| (t.id.as_str(), t)).collect();
        for id in chunk {
            let failure = described
                .failures
                .iter()
                .find(|(arn, _)| crate::ecs_tasks::task_id_of(arn) == id);
            match (by_id.get(id.as_str()), failure) {
                (Some(task), _) if task.stopped() => gone.push(id.clone()),
                (Some(task), _) => {
                    debug!(task = %id, last_status = %task.last_status, desired_status = %task.desired_status, "task still stopping: its tokens are kept");
                    report.stopping_tasks.push(id.clone());
                }
                (None, Some((_, reason))) if reason == "MISSING" => gone.push(id.clone()),
                (None, Some((_, reason))) => {
                    report.errors.push(format!(
                        "DescribeTasks {id}: failure {reason}; its tokens are kept"
                    ));
                }
                (None, None) => gone.push(id.clone()),
            }
        }
    }
    Ok(gone)
}

/// Deletes the tokens of a task that is gone, each in its own namespace and partition.
/// A token already deleted (by health-sync's logout, in between) counts as done; another
/// failure stops this task's deletions until the next round.
///
/// Consul 1.15 answers a delete with 404 `Cannot find token to delete` both when the token
/// is gone and when the controller's own token is (its handler maps every `ACL not found`
/// to that answer). So a 404 is taken as "already gone" only once `token/self` shows the
/// controller's token is valid; otherwise the round ends with that error, and nothing is
/// reported deleted that was not.
pub async fn delete_tokens(
    consul: &Client,
    task_id: &str,
    tokens: &[TaskToken],
    report: &mut RoundReport,
) -> Result<()> {
    for token in tokens {
        let mut opts = QueryOptions::default();
        if !token.partition.is_empty() {
            opts = opts.with_partition(token.partition.clone());
        }
        if !token.namespace.is_empty() {
            opts = opts.with_namespace(token.namespace.clone());
        }
        report.consul_calls += 1;
        match consul.token_delete(&token.accessor_id, &opts).await {
            Ok(()) => {
                info!(task = %task_id, accessor_id = %token.accessor_id, auth_method = %token.auth_method, "deleted the token of a task that has stopped");
                report.deleted.push(token.accessor_id.clone());
            }
            Err(e) if e.is_not_found() => {
                report.consul_calls += 1;
                if let Err(own) = consul.token_read_self(&QueryOptions::default()).await {
                    return Err(Error::consul(
                        format!(
                            "delete token {} of stopped task {task_id}: Consul answered \
                             {:?}, and the controller's own token cannot be read",
                            token.accessor_id,
                            e.body().unwrap_or_default()
                        ),
                        own,
                    ));
                }
                debug!(task = %task_id, accessor_id = %token.accessor_id, "token already gone");
            }
            Err(e) => {
                let e = Error::consul(
                    format!(
                        "delete token {} of stopped task {task_id}",
                        token.accessor_id
                    ),
                    e,
                );
                report.errors.push(e.to_string());
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(tags: &[(&str, &str)]) -> TaskInfo {
        TaskInfo {
            id: "t".into(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..TaskInfo::default()
        }
    }

    #[test]
    fn tenancy_tags_both_or_neither() {
        assert_eq!(
            task_tenancy(&task(&[])),
            Ok(("default".into(), "default".into()))
        );
        assert_eq!(
            task_tenancy(&task(&[(PARTITION_TAG, "p"), (NAMESPACE_TAG, "ns")])),
            Ok(("p".into(), "ns".into()))
        );
        assert!(task_tenancy(&task(&[(PARTITION_TAG, "p")])).is_err());
        assert!(task_tenancy(&task(&[(NAMESPACE_TAG, "ns")])).is_err());
    }

    /// The controller's client with `secret`, against `consul`.
    fn client(consul: &testkit::consul::ConsulEmulator, secret: &str) -> Client {
        let config = consul::ClientConfig::default()
            .with_address(&consul.http_addr())
            .unwrap()
            .with_token(consul::TokenSource::Value(consul::Secret::new(
                secret.to_string(),
            )));
        Client::new(config).unwrap()
    }

    fn task_token(accessor_id: &str) -> TaskToken {
        TaskToken {
            accessor_id: accessor_id.to_string(),
            auth_method: "iam-ecs-service-token".into(),
            task_id: "t".into(),
            namespace: String::new(),
            partition: String::new(),
        }
    }

    #[tokio::test]
    async fn a_404_is_already_gone_only_while_the_controllers_token_is_valid() {
        let consul = testkit::consul::ConsulEmulator::start(testkit::consul::EmulatorOptions {
            acls_enabled: true,
            ..Default::default()
        });
        let controller = consul.create_token_with_rules("acl = \"write\"");
        let task = consul.create_service_token("web");
        let gone = "0c0c0c0c-0000-4000-8000-000000000000";

        // Valid token: the missing one is skipped, the other deleted, no error.
        let mut report = RoundReport::default();
        delete_tokens(
            &client(&consul, &controller.secret_id),
            "t",
            &[task_token(gone), task_token(&task.accessor_id)],
            &mut report,
        )
        .await
        .unwrap();
        assert_eq!(report.deleted, vec![task.accessor_id.clone()]);
        assert!(report.errors.is_empty(), "{report:?}");

        // The controller's token revoked: Consul's 404 is the same, but the round ends
        // with an error and reports nothing deleted; the task's token stays.
        let task = consul.create_service_token("web");
        let management = client(&consul, &consul.management_token());
        management
            .token_delete(&controller.accessor_id, &QueryOptions::default())
            .await
            .unwrap();
        let mut report = RoundReport::default();
        let err = delete_tokens(
            &client(&consul, &controller.secret_id),
            "t",
            &[task_token(&task.accessor_id)],
            &mut report,
        )
        .await
        .unwrap_err();
        assert!(report.deleted.is_empty(), "{report:?}");
        assert!(
            consul
                .tokens()
                .iter()
                .any(|t| t.accessor_id == task.accessor_id),
            "the task's token must still exist"
        );
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "delete token {} of stopped task t: Consul answered \"Cannot find token to \
                 delete\", and the controller's own token cannot be read: GET \
                 /v1/acl/token/self: Unexpected response code: 403 (token does not exist: \
                 ACL not found)",
                task.accessor_id
            )),
            "{text}"
        );
        assert!(!text.contains(&controller.secret_id), "{text}");
    }
}
