//! The ECS API calls the controller makes — `ListTasks` and `DescribeTasks`, nothing else,
//! so its role needs only `ecs:ListTasks` and `ecs:DescribeTasks` (docs/protocols.md §5.10).
//!
//! The client is aws-sdk-ecs with aws-config's usual chain for credentials and region, so
//! the standard `AWS_ENDPOINT_URL_ECS` / `AWS_ENDPOINT_URL` variables point it elsewhere.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_ecs::types::{DesiredStatus, TaskField};

use crate::{Error, Result};

/// ECS accepts at most this many tasks in one `DescribeTasks` call.
pub const DESCRIBE_BATCH: usize = 100;
/// Task tag that marks a mesh task.
pub const MESH_TAG: &str = "consul.hashicorp.com/mesh";
/// Task tag naming the task's admin partition (Enterprise).
pub const PARTITION_TAG: &str = "consul.hashicorp.com/partition";
/// Task tag naming the task's namespace (Enterprise).
pub const NAMESPACE_TAG: &str = "consul.hashicorp.com/namespace";
/// `lastStatus` of a task that has stopped.
pub const STOPPED: &str = "STOPPED";

/// One task as `DescribeTasks` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskInfo {
    /// Task ID (the last `/` segment of the ARN).
    pub id: String,
    /// Task ARN.
    pub arn: String,
    /// `lastStatus` (`PROVISIONING` … `RUNNING` … `STOPPED`).
    pub last_status: String,
    /// `desiredStatus` (`RUNNING` or `STOPPED`).
    pub desired_status: String,
    /// Task tags (`include: ["TAGS"]`).
    pub tags: BTreeMap<String, String>,
}

impl TaskInfo {
    /// Whether the task has stopped (its containers are gone).
    pub fn stopped(&self) -> bool {
        self.last_status == STOPPED
    }

    /// Whether the task carries `consul.hashicorp.com/mesh=true`.
    pub fn is_mesh(&self) -> bool {
        self.tags.get(MESH_TAG).is_some_and(|v| v == "true")
    }
}

/// The answer of one `DescribeTasks` call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Described {
    /// The tasks ECS knows.
    pub tasks: Vec<TaskInfo>,
    /// `failures[]` as (ARN or ID, reason), e.g. `MISSING` for a task ECS no longer knows.
    pub failures: Vec<(String, String)>,
}

/// The ID of a task ARN: its last `/` segment (old `task/<id>` ARNs too).
pub fn task_id_of(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// An ECS API client that counts its calls (for the round summary and the benchmark).
#[derive(Debug)]
pub struct EcsTasks {
    client: aws_sdk_ecs::Client,
    calls: AtomicU64,
}

impl EcsTasks {
    /// A client from aws-config's default chains (credentials, `AWS_REGION`, endpoint
    /// variables); `fallback_region` (the task ARN's) when no region is configured.
    pub async fn from_env(fallback_region: &str) -> EcsTasks {
        let region = boundary::default_region_chain(&boundary::provider_config())
            .or_else(aws_config::Region::new(fallback_region.to_string()));
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(boundary::aws_http_client())
            .region(region);
        // Like v0.6.2's User-Agent prefix (§2.5); the constant name is always valid.
        if let Ok(name) = aws_config::AppName::new("consul-ecs-controller") {
            loader = loader.app_name(name);
        }
        let shared = loader
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    // One slow page must not hold a round (and SIGTERM) for long.
                    .operation_attempt_timeout(Duration::from_secs(20))
                    .connect_timeout(Duration::from_secs(5))
                    .build(),
            )
            .load()
            .await;
        EcsTasks::new(aws_sdk_ecs::Client::new(&shared))
    }

    /// Wraps a configured SDK client.
    pub fn new(client: aws_sdk_ecs::Client) -> EcsTasks {
        EcsTasks {
            client,
            calls: AtomicU64::new(0),
        }
    }

    /// How many ECS API calls were made so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// One `ListTasks` page of tasks whose desired status is `RUNNING` (ECS's default,
    /// sent explicitly). Returns the ARNs and the next page's token.
    pub async fn list_running_page(
        &self,
        cluster: &str,
        next_token: Option<String>,
    ) -> Result<(Vec<String>, Option<String>)> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let out = self
            .client
            .list_tasks()
            .cluster(cluster)
            .desired_status(DesiredStatus::Running)
            .max_results(100)
            .set_next_token(next_token)
            .send()
            .await
            .map_err(|e| Error::Ecs {
                step: format!("ListTasks (cluster {cluster})"),
                message: boundary::error_chain(&e),
            })?;
        let next = out
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        Ok((out.task_arns().to_vec(), next))
    }

    /// `DescribeTasks` with `include: ["TAGS"]` for at most [`DESCRIBE_BATCH`] tasks (ARNs or
    /// IDs). Never called with none: ECS rejects an empty list.
    pub async fn describe(&self, cluster: &str, tasks: &[String]) -> Result<Described> {
        if tasks.is_empty() {
            return Ok(Described::default());
        }
        if tasks.len() > DESCRIBE_BATCH {
            return Err(Error::Unexpected(format!(
                "DescribeTasks takes at most {DESCRIBE_BATCH} tasks, not {}",
                tasks.len()
            )));
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        let out = self
            .client
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(tasks.to_vec()))
            .include(TaskField::Tags)
            .send()
            .await
            .map_err(|e| Error::Ecs {
                step: format!("DescribeTasks ({} tasks, cluster {cluster})", tasks.len()),
                message: boundary::error_chain(&e),
            })?;
        let tasks = out
            .tasks()
            .iter()
            .filter_map(|t| {
                let arn = t.task_arn()?.to_string();
                Some(TaskInfo {
                    id: task_id_of(&arn).to_string(),
                    last_status: t.last_status().unwrap_or_default().to_string(),
                    desired_status: t.desired_status().unwrap_or_default().to_string(),
                    tags: t
                        .tags()
                        .iter()
                        .filter_map(|tag| Some((tag.key()?.to_string(), tag.value()?.to_string())))
                        .collect(),
                    arn,
                })
            })
            .collect();
        let failures = out
            .failures()
            .iter()
            .map(|f| {
                (
                    f.arn().unwrap_or_default().to_string(),
                    f.reason().unwrap_or_default().to_string(),
                )
            })
            .collect();
        Ok(Described { tasks, failures })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids() {
        assert_eq!(
            task_id_of(
                "arn:aws:ecs:us-east-1:123456789012:task/prod/0f3bca58e0f4486a95b04c1bd1d4be55"
            ),
            "0f3bca58e0f4486a95b04c1bd1d4be55"
        );
        assert_eq!(task_id_of("arn:aws:ecs:us-east-1:1:task/abc"), "abc");
    }
}
