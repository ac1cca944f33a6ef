//! The health-sync state machine: ECS container health → Consul TTL check updates,
//! written only on change (docs/registrations.md §8, docs/protocols.md §4.9). The caller
//! polls task metadata, sends each planned update with `PUT /v1/agent/check/update/<id>`,
//! and reports the ones that succeeded back with [`HealthSync::record_success`].

use std::collections::BTreeMap;

use config::Config;
use consul::CheckStatus;
use ecs::TaskMetadata;

use crate::go_quote::go_quote;
use crate::MeshError;

/// ECS health status that maps to `passing`; every other value maps to `critical`.
const ECS_HEALTHY: &str = "HEALTHY";
/// What v0.6.2 reports for a container missing from the task metadata.
const ECS_UNHEALTHY: &str = "UNHEALTHY";

/// ID of the synced TTL check of `container`: `<serviceID>-<container>-consul-ecs`. The
/// same string is used by mesh-init (registration) and health-sync (updates).
pub fn synced_check_id(service_id: &str, container: &str) -> String {
    format!("{service_id}-{container}-consul-ecs")
}

/// One container health-sync mirrors, and the check it writes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedCheck {
    /// Container name from `healthSyncContainers`.
    pub container: String,
    /// The TTL check ID ([`synced_check_id`]).
    pub check_id: String,
}

/// One TTL check update to send: `PUT /v1/agent/check/update/<check_id>` with
/// `{"Status": status, "Output": output}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckUpdate {
    /// The container the update is about.
    pub container: String,
    /// The TTL check to update.
    pub check_id: String,
    /// The Consul status to write.
    pub status: CheckStatus,
    /// The check output, in v0.6.2's words:
    /// `ECS health status is "<ECS status>" for task "<check ID>"`.
    pub output: String,
    /// The ECS status the update was made from; status and output are functions of it, so
    /// [`HealthSync`] remembers it as "last written" once this update succeeded.
    ecs_status: String,
}

impl CheckUpdate {
    fn new(check: &SyncedCheck, ecs_status: &str) -> Self {
        CheckUpdate {
            container: check.container.clone(),
            check_id: check.check_id.clone(),
            status: consul_status(ecs_status),
            output: format!(
                "ECS health status is {} for task {}",
                go_quote(ecs_status),
                go_quote(&check.check_id)
            ),
            ecs_status: ecs_status.to_owned(),
        }
    }
}

/// `HEALTHY` → passing; `UNHEALTHY`, `UNKNOWN`, empty and anything else → critical.
fn consul_status(ecs_status: &str) -> CheckStatus {
    if ecs_status == ECS_HEALTHY {
        CheckStatus::Passing
    } else {
        CheckStatus::Critical
    }
}

/// The health-sync state: which checks to keep in sync, and the last ECS status written
/// successfully for each container (initially empty, as in v0.6.2, so a container without
/// an ECS health check is never written and keeps Consul's initial `critical`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthSync {
    checks: Vec<SyncedCheck>,
    /// Container name → last successfully written ECS status; absent means `""`.
    last_written: BTreeMap<String, String>,
}

impl HealthSync {
    /// The checks of `healthSyncContainers`, named after the service: `service.name`, else
    /// the lower-cased task family, even for gateway tasks (v0.6.2 never consults the
    /// gateway name here). Fails when the task ARN has no task ID.
    pub fn new(cfg: &Config, task: &TaskMetadata) -> Result<Self, MeshError> {
        let service_id = format!("{}-{}", cfg.service_name(task.family()), task.task_id()?);
        let mut checks: Vec<SyncedCheck> = Vec::new();
        for container in &cfg.health_sync_containers {
            // The config schema forbids duplicates; skip them anyway so one poll never
            // writes the same check twice.
            if checks.iter().any(|c| &c.container == container) {
                continue;
            }
            checks.push(SyncedCheck {
                container: container.clone(),
                check_id: synced_check_id(&service_id, container),
            });
        }
        Ok(HealthSync {
            checks,
            last_written: BTreeMap::new(),
        })
    }

    /// The checks kept in sync, in `healthSyncContainers` order.
    pub fn checks(&self) -> &[SyncedCheck] {
        &self.checks
    }

    fn last_written(&self, container: &str) -> &str {
        self.last_written.get(container).map_or("", String::as_str)
    }

    /// The updates one poll of `task` calls for, in v0.6.2's order (missing containers
    /// first, then present ones, each in config order). A container's ECS status is its
    /// `Health.status` (empty without an ECS health check), or `UNHEALTHY` while it is
    /// missing from the metadata; a container is written when that status differs from the
    /// last one written successfully. Status and output follow from the ECS status, so a
    /// check is written only when its status or output changes: a missing container is
    /// written `critical` once, not on every poll as v0.6.2 does.
    pub fn plan(&self, task: &TaskMetadata) -> Vec<CheckUpdate> {
        let missing = self
            .checks
            .iter()
            .filter(|c| task.container(&c.container).is_none())
            .map(|c| (c, ECS_UNHEALTHY));
        let present = self.checks.iter().filter_map(|c| {
            let container = task.container(&c.container)?;
            Some((c, container.health_status().unwrap_or("")))
        });
        missing
            .chain(present)
            .filter(|(c, status)| *status != self.last_written(&c.container))
            .map(|(c, status)| CheckUpdate::new(c, status))
            .collect()
    }

    /// Notes that `update` was written to Consul, so the same status is not written again.
    /// A container that was missing is remembered as `UNHEALTHY`: when it appears, any
    /// other status (even an empty one) changes the output and is written.
    pub fn record_success(&mut self, update: &CheckUpdate) {
        self.last_written
            .insert(update.container.clone(), update.ecs_status.clone());
    }

    /// Forgets every written status, as if health-sync had just started: the next
    /// [`HealthSync::plan`] writes every container that has an ECS health status. Use it
    /// after Consul was unreachable (the agent may have restarted and reset the checks).
    pub fn forget_all(&mut self) {
        self.last_written.clear();
    }

    /// Compares the statuses Consul reports (check ID → status, from `GET /v1/agent/checks`)
    /// with the ones last written, and forgets every container whose check Consul shows
    /// differently or no longer has, so the next [`HealthSync::plan`] writes it again.
    /// Returns the check IDs that diverged. This is how a check Consul lost (an agent that
    /// restarted re-registers its services with critical checks) is restored while the
    /// container stays healthy: write-on-change alone would never notice.
    pub fn forget_diverged(&mut self, consul_statuses: &BTreeMap<String, String>) -> Vec<String> {
        let mut diverged = Vec::new();
        for check in &self.checks {
            let Some(written) = self.last_written.get(&check.container) else {
                continue; // never written: Consul's own status stands
            };
            let expected = consul_status(written).as_str();
            if consul_statuses.get(&check.check_id).map(String::as_str) != Some(expected) {
                diverged.push(check.check_id.clone());
            }
        }
        self.checks
            .iter()
            .filter(|c| diverged.contains(&c.check_id))
            .for_each(|c| {
                self.last_written.remove(&c.container);
            });
        diverged
    }

    /// The updates to send on SIGTERM: every check `critical`, with v0.6.2's output
    /// `ECS health status is "critical" for task "<check ID>"`.
    pub fn shutdown_updates(&self) -> Vec<CheckUpdate> {
        let critical = CheckStatus::Critical.as_str();
        self.checks
            .iter()
            .map(|c| CheckUpdate::new(c, critical))
            .collect()
    }
}
