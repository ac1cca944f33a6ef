//! The health-sync state machine against task metadata decoded from JSON, poll by poll
//! (docs/registrations.md §8, docs/protocols.md §4.9).

mod common;

use common::{config, task, task_from, ARN, T};
use consul::CheckStatus;
use mesh_task::{build_registrations, synced_check_id, CheckUpdate, HealthSync, MeshError};
use serde_json::{json, Value};

/// Task metadata with these `(name, health)` containers; `health` is the raw `Health`
/// JSON (`Value::Null` for a container without an ECS health check, which ECS sends
/// without the key).
fn poll(containers: &[(&str, Value)]) -> ecs::TaskMetadata {
    let containers: Vec<Value> = containers
        .iter()
        .map(|(name, health)| {
            let mut c = json!({"Name": name, "DesiredStatus": "RUNNING",
                               "KnownStatus": "RUNNING", "Type": "NORMAL"});
            if !health.is_null() {
                c["Health"] = health.clone();
            }
            c
        })
        .collect();
    task_from(json!({
        "Cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
        "TaskARN": ARN,
        "Family": "Web-Frontend",
        "Containers": containers
    }))
}

fn health(status: &str) -> Value {
    json!({"status": status, "statusSince": "2024-02-16T12:00:51.3Z"})
}

fn sync(containers: &[&str]) -> HealthSync {
    let cfg = config(
        json!({"bootstrapDir": "/c", "healthSyncContainers": containers,
                            "service": {"port": 1}}),
    );
    HealthSync::new(&cfg, &task("task-web-frontend.json")).unwrap()
}

fn id(container: &str) -> String {
    format!("web-frontend-{T}-{container}-consul-ecs")
}

fn output(ecs_status: &str, container: &str) -> String {
    format!(
        "ECS health status is \"{ecs_status}\" for task \"{}\"",
        id(container)
    )
}

/// `(check ID, status, output)` of each update, for compact comparisons.
fn summary(updates: &[CheckUpdate]) -> Vec<(String, CheckStatus, String)> {
    updates
        .iter()
        .map(|u| (u.check_id.clone(), u.status, u.output.clone()))
        .collect()
}

fn record_all(sync: &mut HealthSync, updates: &[CheckUpdate]) {
    for u in updates {
        sync.record_success(u);
    }
}

#[test]
fn check_ids_match_the_registered_synced_checks() {
    let cfg = config(
        json!({"bootstrapDir": "/c", "healthSyncContainers": ["app", "worker"],
                            "service": {"port": 1}}),
    );
    let task = task("task-web-frontend.json");
    let sync = HealthSync::new(&cfg, &task).unwrap();
    let regs = build_registrations(&cfg, &task).unwrap();
    let registered: Vec<&str> = regs
        .service()
        .unwrap()
        .checks
        .iter()
        .map(|c| c.check_id.as_str())
        .collect();
    let synced: Vec<&str> = sync.checks().iter().map(|c| c.check_id.as_str()).collect();
    assert_eq!(synced, registered);
    assert_eq!(
        synced_check_id(&format!("web-frontend-{T}"), "app"),
        id("app")
    );
}

#[test]
fn ecs_health_maps_to_consul_status_with_v062_output() {
    let sync = sync(&["a", "b", "c", "d"]);
    let updates = sync.plan(&poll(&[
        ("a", health("HEALTHY")),
        ("b", health("UNHEALTHY")),
        ("c", health("UNKNOWN")),
        ("d", health("STARTING")),
    ]));
    assert_eq!(
        summary(&updates),
        [
            (id("a"), CheckStatus::Passing, output("HEALTHY", "a")),
            (id("b"), CheckStatus::Critical, output("UNHEALTHY", "b")),
            (id("c"), CheckStatus::Critical, output("UNKNOWN", "c")),
            (id("d"), CheckStatus::Critical, output("STARTING", "d")),
        ]
    );
    assert_eq!(updates[0].container, "a");
}

#[test]
fn the_fixture_task_plans_its_synced_containers() {
    // task-web-frontend.json: app HEALTHY, worker UNKNOWN, sidecar-proxy without Health.
    let sync = sync(&["app", "worker", "sidecar-proxy"]);
    let updates = sync.plan(&task("task-web-frontend.json"));
    assert_eq!(
        summary(&updates),
        [
            (id("app"), CheckStatus::Passing, output("HEALTHY", "app")),
            (
                id("worker"),
                CheckStatus::Critical,
                output("UNKNOWN", "worker")
            ),
        ]
    );
}

#[test]
fn nothing_is_written_while_nothing_changes() {
    let mut sync = sync(&["app"]);
    let task = poll(&[("app", health("HEALTHY"))]);
    let first = sync.plan(&task);
    assert_eq!(first.len(), 1);
    record_all(&mut sync, &first);
    for _ in 0..3 {
        assert!(sync.plan(&task).is_empty());
    }
    // A change is written once, then quiet again.
    let unhealthy = poll(&[("app", health("UNHEALTHY"))]);
    let change = sync.plan(&unhealthy);
    assert_eq!(
        summary(&change),
        [(id("app"), CheckStatus::Critical, output("UNHEALTHY", "app"))]
    );
    record_all(&mut sync, &change);
    assert!(sync.plan(&unhealthy).is_empty());
}

#[test]
fn a_failed_write_is_planned_again_on_the_next_poll() {
    let mut sync = sync(&["app", "worker"]);
    let task = poll(&[("app", health("HEALTHY")), ("worker", health("HEALTHY"))]);
    let updates = sync.plan(&task);
    // Only the first write reached Consul.
    sync.record_success(&updates[0]);
    assert_eq!(
        summary(&sync.plan(&task)),
        [(
            id("worker"),
            CheckStatus::Passing,
            output("HEALTHY", "worker")
        )]
    );
}

#[test]
fn a_container_without_an_ecs_health_check_is_never_written() {
    let mut sync = sync(&["app"]);
    for doc in [
        json!({"Name": "app"}),
        json!({"Name": "app", "Health": null}),
    ] {
        let task = task_from(json!({"TaskARN": ARN, "Family": "Web-Frontend",
                                    "Containers": [doc]}));
        for _ in 0..3 {
            let updates = sync.plan(&task);
            assert!(updates.is_empty(), "{updates:?}");
            record_all(&mut sync, &updates);
        }
    }
    // An empty status string behaves the same as no Health object.
    assert!(sync.plan(&poll(&[("app", health(""))])).is_empty());
}

#[test]
fn a_missing_container_is_written_critical_once_not_on_every_poll() {
    // v0.6.2 writes it on every poll (one write a second per task, all reaching the
    // Consul leader); only a change is written here (README, differences).
    let mut sync = sync(&["app", "gone"]);
    let task = poll(&[("app", health("HEALTHY"))]);
    let first = sync.plan(&task);
    let gone: Vec<_> = first.iter().filter(|u| u.container == "gone").collect();
    assert_eq!(gone.len(), 1, "{first:?}");
    assert_eq!(gone[0].check_id, id("gone"));
    assert_eq!(gone[0].status, CheckStatus::Critical);
    assert_eq!(gone[0].output, output("UNHEALTHY", "gone"));
    record_all(&mut sync, &first);
    for round in 1..5 {
        let updates = sync.plan(&task);
        assert!(updates.is_empty(), "round {round}: {updates:?}");
    }
}

#[test]
fn a_missing_container_whose_write_failed_is_planned_again() {
    let mut sync = sync(&["gone"]);
    let missing = poll(&[]);
    assert_eq!(sync.plan(&missing).len(), 1);
    // Nothing recorded: the write did not reach Consul.
    let again = sync.plan(&missing);
    assert_eq!(
        summary(&again),
        [(
            id("gone"),
            CheckStatus::Critical,
            output("UNHEALTHY", "gone")
        )]
    );
    record_all(&mut sync, &again);
    assert!(sync.plan(&missing).is_empty());
}

#[test]
fn a_container_that_appears_unhealthy_after_missing_changes_nothing() {
    // Missing and UNHEALTHY give the same status and output: no write.
    let mut sync = sync(&["app"]);
    let missing = sync.plan(&poll(&[]));
    record_all(&mut sync, &missing);
    assert!(sync.plan(&poll(&[("app", health("UNHEALTHY"))])).is_empty());
}

#[test]
fn missing_containers_come_first_as_in_v062() {
    let sync = sync(&["app", "gone"]);
    let updates = sync.plan(&poll(&[("app", health("HEALTHY"))]));
    let order: Vec<&str> = updates.iter().map(|u| u.container.as_str()).collect();
    assert_eq!(order, ["gone", "app"]);
}

#[test]
fn a_container_that_reappears_is_written_whatever_its_status() {
    let mut sync = sync(&["app"]);
    let missing = sync.plan(&poll(&[]));
    record_all(&mut sync, &missing);
    // Back without a health status: differs from the remembered `critical`, so written.
    let back = sync.plan(&poll(&[("app", Value::Null)]));
    assert_eq!(
        summary(&back),
        [(id("app"), CheckStatus::Critical, output("", "app"))]
    );
    record_all(&mut sync, &back);
    assert!(sync.plan(&poll(&[("app", Value::Null)])).is_empty());
    let healthy = sync.plan(&poll(&[("app", health("HEALTHY"))]));
    assert_eq!(
        summary(&healthy),
        [(id("app"), CheckStatus::Passing, output("HEALTHY", "app"))]
    );
}

#[test]
fn forget_all_plans_every_known_status_again() {
    let mut sync = sync(&["app", "worker", "nohealth"]);
    let task = poll(&[
        ("app", health("HEALTHY")),
        ("worker", health("UNHEALTHY")),
        ("nohealth", Value::Null),
    ]);
    let first = sync.plan(&task);
    record_all(&mut sync, &first);
    assert!(sync.plan(&task).is_empty());
    sync.forget_all();
    assert_eq!(summary(&sync.plan(&task)), summary(&first));
    assert_eq!(first.len(), 2, "a container without health stays unwritten");
}

#[test]
fn shutdown_sets_every_check_critical_with_v062_output() {
    let mut sync = sync(&["app", "worker"]);
    let running = poll(&[("app", health("HEALTHY")), ("worker", health("HEALTHY"))]);
    let first = sync.plan(&running);
    record_all(&mut sync, &first);
    let updates = sync.shutdown_updates();
    assert_eq!(
        summary(&updates),
        [
            (id("app"), CheckStatus::Critical, output("critical", "app")),
            (
                id("worker"),
                CheckStatus::Critical,
                output("critical", "worker")
            ),
        ]
    );
    // Shutdown does not depend on what was written before.
    assert_eq!(
        summary(&HealthSync::shutdown_updates(&self::sync(&[
            "app", "worker"
        ]))),
        summary(&updates)
    );
}

#[test]
fn no_synced_containers_means_nothing_to_do() {
    let sync = sync(&[]);
    assert!(sync.checks().is_empty());
    assert!(sync.plan(&task("task-web-frontend.json")).is_empty());
    assert!(sync.shutdown_updates().is_empty());
}

#[test]
fn gateway_tasks_name_checks_after_the_service_not_the_gateway() {
    let task = task("task-mesh-gateway.json");
    let cfg = config(
        json!({"bootstrapDir": "/c", "healthSyncContainers": ["app"],
                            "gateway": {"kind": "mesh-gateway", "name": "gw"}}),
    );
    let sync = HealthSync::new(&cfg, &task).unwrap();
    assert_eq!(
        sync.checks()[0].check_id,
        format!("mesh-gateway-dc1-{T}-app-consul-ecs")
    );
    let cfg = config(
        json!({"bootstrapDir": "/c", "healthSyncContainers": ["app"],
                            "service": {"name": "named", "port": 1},
                            "gateway": {"kind": "mesh-gateway", "name": "gw"}}),
    );
    let sync = HealthSync::new(&cfg, &task).unwrap();
    assert_eq!(
        sync.checks()[0].check_id,
        format!("named-{T}-app-consul-ecs")
    );
}

#[test]
fn output_quotes_names_the_way_go_does() {
    let cfg = config(
        json!({"bootstrapDir": "/c", "healthSyncContainers": ["we\"ird"],
                            "service": {"port": 1}}),
    );
    let sync = HealthSync::new(&cfg, &task("task-web-frontend.json")).unwrap();
    let updates = sync.plan(&poll(&[("we\"ird", health("HEALTHY"))]));
    assert_eq!(
        updates[0].output,
        format!(
            "ECS health status is \"HEALTHY\" for task \"web-frontend-{T}-we\\\"ird-consul-ecs\""
        )
    );
}

#[test]
fn a_task_arn_without_task_id_is_an_error() {
    let cfg = config(json!({"bootstrapDir": "/c", "healthSyncContainers": ["app"]}));
    let task = task_from(json!({"TaskARN": "not-an-arn", "Family": "web"}));
    assert!(matches!(
        HealthSync::new(&cfg, &task),
        Err(MeshError::TaskMetadata(_))
    ));
}

#[test]
fn only_checks_consul_reports_differently_are_forgotten_and_planned_again() {
    let mut s = sync(&["app", "proxy", "never"]);
    let task = poll(&[
        ("app", health("HEALTHY")),
        ("proxy", health("UNHEALTHY")),
        ("never", Value::Null),
    ]);
    let updates = s.plan(&task);
    record_all(&mut s, &updates);
    assert!(s.plan(&task).is_empty());
    // Consul agrees on the proxy, lost the app's status, and never had "never" written.
    let consul: std::collections::BTreeMap<String, String> = [
        (id("app"), "critical".to_string()),
        (id("proxy"), "critical".to_string()),
        (id("never"), "critical".to_string()),
    ]
    .into_iter()
    .collect();
    assert_eq!(s.forget_diverged(&consul), vec![id("app")]);
    assert_eq!(
        summary(&s.plan(&task)),
        vec![(id("app"), CheckStatus::Passing, output("HEALTHY", "app"))]
    );
    // A check Consul no longer has at all is written again too.
    let updates = s.plan(&task);
    record_all(&mut s, &updates);
    let lost_proxy: std::collections::BTreeMap<String, String> =
        [(id("app"), "passing".to_string())].into_iter().collect();
    assert_eq!(s.forget_diverged(&lost_proxy), vec![id("proxy")]);
}
