//! health-sync's decisions in the dataplane layout (consul-ecs v0.10): which status each
//! catalog check should have for a task document, and which of them changed since they were
//! last written (docs/registrations.md §11.5). Pure: `crates/task` reads the task metadata,
//! sends the writes (all of one poll in one `PUT /v1/catalog/register`) and reports back.
//!
//! - A check of a `healthSyncContainers` container follows that container's ECS health; a
//!   container missing from the task metadata counts as `UNHEALTHY`.
//! - The consul-dataplane readiness checks (on the service and on the proxy, or on the
//!   gateway) are `HEALTHY` only when consul-dataplane **and** every synced container are.
//! - Only `HEALTHY` is `passing`; everything else (`UNHEALTHY`, `UNKNOWN`, no health check)
//!   is `critical`. The output is `ECS health status is "<STATUS>" for container
//!   "<checkID>"` (upstream's words, the check ID where the container name would read
//!   better).

use std::collections::BTreeMap;

use consul::CheckStatus;
use ecs::TaskMetadata;

use crate::checks::{dataplane_check_id, synced_check_id, DATAPLANE_CONTAINER};
use crate::registration::CatalogRegistrations;

/// The ECS health status that maps to `passing`.
pub const ECS_HEALTHY: &str = "HEALTHY";
/// The ECS status health-sync reports for a missing container, a dataplane that is not
/// ready, and every check at shutdown.
pub const ECS_UNHEALTHY: &str = "UNHEALTHY";

/// What decides a check's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckSource {
    /// The ECS health of this `healthSyncContainers` container.
    Container(String),
    /// consul-dataplane's health together with every synced container's.
    Dataplane,
}

/// One catalog check health-sync keeps up to date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedCheck {
    /// The check's ID.
    pub check_id: String,
    /// The service it belongs to.
    pub service_id: String,
    /// What decides its status.
    pub source: CheckSource,
}

/// One check's new status and output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckWrite {
    /// The check's ID.
    pub check_id: String,
    /// The status to write.
    pub status: CheckStatus,
    /// The output to write.
    pub output: String,
}

impl CheckWrite {
    fn from_ecs(check_id: &str, ecs_status: &str) -> CheckWrite {
        CheckWrite {
            check_id: check_id.to_owned(),
            status: consul_status(ecs_status),
            output: format!(
                "ECS health status is {} for container {}",
                mesh_task::go_quote(ecs_status),
                mesh_task::go_quote(check_id)
            ),
        }
    }
}

/// `HEALTHY` → passing; anything else → critical.
pub fn consul_status(ecs_status: &str) -> CheckStatus {
    if ecs_status == ECS_HEALTHY {
        CheckStatus::Passing
    } else {
        CheckStatus::Critical
    }
}

/// The checks of one task and what was last written to each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataplaneHealth {
    checks: Vec<SyncedCheck>,
    /// The synced containers, in config order, without duplicates.
    containers: Vec<String>,
    /// Check ID → the status and output Consul holds as far as we know.
    written: BTreeMap<String, (CheckStatus, String)>,
}

impl DataplaneHealth {
    /// The checks `registrations` holds that health-sync writes: per service, the check of
    /// each of `health_sync_containers` and the consul-dataplane readiness check. Nothing
    /// is known to be written yet ([`DataplaneHealth::assume_written`] says what is).
    pub fn new(
        registrations: &CatalogRegistrations,
        health_sync_containers: &[String],
    ) -> DataplaneHealth {
        let mut containers: Vec<String> = Vec::new();
        for container in health_sync_containers {
            if !containers.contains(container) {
                containers.push(container.clone());
            }
        }
        let mut checks = Vec::new();
        for entry in registrations.services() {
            let service_id = &entry.service.id;
            for check in &entry.checks {
                let source = if check.check_id == dataplane_check_id(service_id) {
                    Some(CheckSource::Dataplane)
                } else {
                    containers
                        .iter()
                        .find(|c| synced_check_id(service_id, c) == check.check_id)
                        .map(|c| CheckSource::Container(c.clone()))
                };
                if let Some(source) = source {
                    checks.push(SyncedCheck {
                        check_id: check.check_id.clone(),
                        service_id: service_id.clone(),
                        source,
                    });
                }
            }
        }
        DataplaneHealth {
            checks,
            containers,
            written: BTreeMap::new(),
        }
    }

    /// The checks kept up to date, in registration order.
    pub fn checks(&self) -> &[SyncedCheck] {
        &self.checks
    }

    /// Notes what Consul holds for `check_id` (read at start), so an unchanged check is not
    /// written again.
    pub fn assume_written(&mut self, check_id: &str, status: CheckStatus, output: &str) {
        self.written
            .insert(check_id.to_owned(), (status, output.to_owned()));
    }

    /// The ECS status each check follows in `task`.
    pub fn ecs_statuses(&self, task: &TaskMetadata) -> Vec<(&SyncedCheck, String)> {
        let container_status = |name: &str| -> String {
            match task.container(name) {
                None => ECS_UNHEALTHY.to_owned(),
                Some(container) => container.health_status().unwrap_or("").to_owned(),
            }
        };
        let dataplane_ready = container_status(DATAPLANE_CONTAINER) == ECS_HEALTHY
            && self
                .containers
                .iter()
                .all(|c| container_status(c) == ECS_HEALTHY);
        self.checks
            .iter()
            .map(|check| {
                let status = match &check.source {
                    CheckSource::Container(name) => container_status(name),
                    CheckSource::Dataplane if dataplane_ready => ECS_HEALTHY.to_owned(),
                    CheckSource::Dataplane => ECS_UNHEALTHY.to_owned(),
                };
                (check, status)
            })
            .collect()
    }

    /// The writes one poll of `task` calls for: every check whose status or output differs
    /// from what was last written, in registration order.
    pub fn plan(&self, task: &TaskMetadata) -> Vec<CheckWrite> {
        self.ecs_statuses(task)
            .into_iter()
            .map(|(check, ecs_status)| CheckWrite::from_ecs(&check.check_id, &ecs_status))
            .filter(|write| {
                self.written.get(&write.check_id) != Some(&(write.status, write.output.clone()))
            })
            .collect()
    }

    /// Notes that `writes` reached Consul.
    pub fn record_written(&mut self, writes: &[CheckWrite]) {
        for write in writes {
            self.written
                .insert(write.check_id.clone(), (write.status, write.output.clone()));
        }
    }

    /// The writes of the shutdown: every check `critical`, its output saying `UNHEALTHY`.
    pub fn shutdown_writes(&self) -> Vec<CheckWrite> {
        self.checks
            .iter()
            .map(|check| CheckWrite::from_ecs(&check.check_id, ECS_UNHEALTHY))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn registrations(config: serde_json::Value) -> CatalogRegistrations {
        let cfg: config::dataplane::Config = serde_json::from_value(config).unwrap();
        crate::build_registrations(&cfg, &task(&[]), None).unwrap()
    }

    /// A task whose containers have these ECS health statuses (`None`: no health check).
    fn task(containers: &[(&str, Option<&str>)]) -> TaskMetadata {
        let containers: Vec<_> = containers
            .iter()
            .map(|(name, health)| match health {
                Some(status) => json!({"Name": name, "Health": {"status": status}}),
                None => json!({"Name": name}),
            })
            .collect();
        serde_json::from_value(json!({
            "Cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
            "TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/prod/abc123",
            "Family": "web",
            "Containers": containers,
        }))
        .unwrap()
    }

    fn service_task() -> DataplaneHealth {
        let regs = registrations(json!({
            "bootstrapDir": "/consul",
            "consulServers": {"hosts": "consul.dc1"},
            "service": {"port": 8080},
            "healthSyncContainers": ["app", "worker"],
        }));
        DataplaneHealth::new(&regs, &["app".into(), "worker".into()])
    }

    fn summary(writes: &[CheckWrite]) -> Vec<(String, &'static str)> {
        writes
            .iter()
            .map(|w| (w.check_id.clone(), w.status.as_str()))
            .collect()
    }

    #[test]
    fn the_checks_of_a_service_task_are_its_containers_and_the_dataplane_twice() {
        let health = service_task();
        let ids: Vec<(&str, &CheckSource)> = health
            .checks()
            .iter()
            .map(|c| (c.check_id.as_str(), &c.source))
            .collect();
        assert_eq!(
            ids,
            [
                ("web-abc123-app", &CheckSource::Container("app".into())),
                (
                    "web-abc123-worker",
                    &CheckSource::Container("worker".into())
                ),
                ("web-abc123-consul-dataplane", &CheckSource::Dataplane),
                (
                    "web-abc123-sidecar-proxy-consul-dataplane",
                    &CheckSource::Dataplane
                ),
            ]
        );
    }

    /// Only HEALTHY is passing; a missing container is UNHEALTHY; the dataplane checks pass
    /// only with consul-dataplane and every synced container HEALTHY.
    #[test]
    fn statuses_follow_ecs_health() {
        let health = service_task();
        let all_healthy = task(&[
            ("app", Some("HEALTHY")),
            ("worker", Some("HEALTHY")),
            ("consul-dataplane", Some("HEALTHY")),
        ]);
        assert_eq!(
            summary(&health.plan(&all_healthy)),
            [
                ("web-abc123-app".into(), "passing"),
                ("web-abc123-worker".into(), "passing"),
                ("web-abc123-consul-dataplane".into(), "passing"),
                (
                    "web-abc123-sidecar-proxy-consul-dataplane".into(),
                    "passing"
                ),
            ]
        );

        // worker missing, app without a health check: both critical, and so the dataplane.
        let degraded = task(&[("app", None), ("consul-dataplane", Some("HEALTHY"))]);
        let writes = health.plan(&degraded);
        assert!(writes.iter().all(|w| w.status == CheckStatus::Critical));
        assert_eq!(
            writes[0].output,
            r#"ECS health status is "" for container "web-abc123-app""#
        );
        assert_eq!(
            writes[1].output,
            r#"ECS health status is "UNHEALTHY" for container "web-abc123-worker""#
        );
        assert_eq!(
            writes[3].output,
            r#"ECS health status is "UNHEALTHY" for container "web-abc123-sidecar-proxy-consul-dataplane""#
        );

        // The dataplane itself UNKNOWN: its checks critical, the containers' passing.
        let starting = task(&[
            ("app", Some("HEALTHY")),
            ("worker", Some("HEALTHY")),
            ("consul-dataplane", Some("UNKNOWN")),
        ]);
        assert_eq!(
            summary(&health.plan(&starting)),
            [
                ("web-abc123-app".into(), "passing"),
                ("web-abc123-worker".into(), "passing"),
                ("web-abc123-consul-dataplane".into(), "critical"),
                (
                    "web-abc123-sidecar-proxy-consul-dataplane".into(),
                    "critical"
                ),
            ]
        );
    }

    /// What Consul holds (read at start) or what was written is not written again; a
    /// change of one container rewrites its check and, through readiness, the dataplane's.
    #[test]
    fn only_changes_are_written() {
        let mut health = service_task();
        let healthy = task(&[
            ("app", Some("HEALTHY")),
            ("worker", Some("HEALTHY")),
            ("consul-dataplane", Some("HEALTHY")),
        ]);
        let app = CheckWrite::from_ecs("web-abc123-app", "HEALTHY");
        health.assume_written(&app.check_id, app.status, &app.output);
        let first = health.plan(&healthy);
        assert_eq!(first.len(), 3, "app's check is already as it should be");
        health.record_written(&first);
        assert!(health.plan(&healthy).is_empty());

        let worker_down = task(&[
            ("app", Some("HEALTHY")),
            ("worker", Some("UNHEALTHY")),
            ("consul-dataplane", Some("HEALTHY")),
        ]);
        assert_eq!(
            summary(&health.plan(&worker_down)),
            [
                ("web-abc123-worker".into(), "critical"),
                ("web-abc123-consul-dataplane".into(), "critical"),
                (
                    "web-abc123-sidecar-proxy-consul-dataplane".into(),
                    "critical"
                ),
            ]
        );
        // Not recorded (the write failed): planned again.
        assert_eq!(health.plan(&worker_down).len(), 3);
    }

    #[test]
    fn shutdown_sets_every_check_critical() {
        let health = service_task();
        let writes = health.shutdown_writes();
        assert_eq!(writes.len(), 4);
        assert!(writes.iter().all(|w| w.status == CheckStatus::Critical));
        assert_eq!(
            writes[2].output,
            r#"ECS health status is "UNHEALTHY" for container "web-abc123-consul-dataplane""#
        );
    }

    #[test]
    fn a_gateway_has_one_dataplane_check() {
        let regs = registrations(json!({
            "bootstrapDir": "/consul",
            "consulServers": {"hosts": "consul.dc1"},
            "gateway": {"kind": "mesh-gateway", "name": "gw"},
        }));
        let health = DataplaneHealth::new(&regs, &[]);
        let ids: Vec<&str> = health
            .checks()
            .iter()
            .map(|c| c.check_id.as_str())
            .collect();
        assert_eq!(ids, ["gw-abc123-consul-dataplane"]);
        let ready = task(&[("consul-dataplane", Some("HEALTHY"))]);
        assert_eq!(
            summary(&health.plan(&ready)),
            [("gw-abc123-consul-dataplane".into(), "passing")]
        );
    }
}
