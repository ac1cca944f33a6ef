//! `consul-ecs health-sync` end to end: ECS container health (from the metadata emulator)
//! mirrored into the Consul emulator's TTL checks, and the SIGTERM shutdown.

mod util;

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::{json, Value};
use testkit::consul::EmulatorOptions;
use util::background::Background;
use util::world::World;

/// A task with two synced containers, registered by mesh-init, and health-sync polling
/// every 100 ms.
fn synced_world() -> (World, String) {
    let w = World::new("web", EmulatorOptions::default());
    let config = w.config(
        json!({"healthSyncContainers": ["app", "sidecar-proxy"], "service": {"port": 9090}}),
    );
    w.run(&config, 0);
    (w, config)
}

fn start_health_sync(w: &World, config: &str) -> Background {
    let hs = Background::start(
        &[
            "health-sync",
            "-poll-interval",
            "100ms",
            "-log-level",
            "DEBUG",
        ],
        &[
            ("CONSUL_ECS_CONFIG_JSON", config),
            ("ECS_CONTAINER_METADATA_URI_V4", &w.ecs.uri()),
            ("CONSUL_HTTP_ADDR", &w.consul.http_addr()),
        ],
        tempfile::tempdir().unwrap(),
    );
    hs.wait_log("health-sync started");
    hs
}

fn check_status(w: &World, container: &str) -> String {
    let id = format!("web-{}-{container}-consul-ecs", w.task_id);
    let checks = w.consul.checks();
    let check: &Value = checks.get(&id).unwrap_or_else(|| panic!("no check {id}"));
    check["Status"].as_str().unwrap().to_string()
}

fn wait_status(w: &World, hs: &Background, container: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while check_status(w, container) != want {
        assert!(
            Instant::now() < deadline,
            "{container}: status {} never became {want}\n{}\n---- Consul ----\n{}",
            check_status(w, container),
            hs.report(),
            w.consul.request_log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn check_updates(w: &World) -> usize {
    w.consul
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/v1/agent/check/update/"))
        .count()
}

#[test]
fn check_statuses_follow_ecs_health() {
    let (w, config) = synced_world();
    let hs = start_health_sync(&w, &config);
    w.ecs.set_container_health("app", "HEALTHY");
    wait_status(&w, &hs, "app", "passing");
    w.ecs.set_container_health("app", "UNHEALTHY");
    wait_status(&w, &hs, "app", "critical");
    w.ecs.set_container_health("app", "HEALTHY");
    w.ecs.set_container_health("sidecar-proxy", "HEALTHY");
    wait_status(&w, &hs, "app", "passing");
    wait_status(&w, &hs, "sidecar-proxy", "passing");
    // A container that vanishes from the metadata is critical.
    w.ecs.remove_container("sidecar-proxy");
    wait_status(&w, &hs, "sidecar-proxy", "critical");
    let checks = w.consul.checks();
    let app = &checks[&format!("web-{}-app-consul-ecs", w.task_id)];
    assert_eq!(
        app["Output"],
        json!(format!(
            "ECS health status is \"HEALTHY\" for task \"web-{}-app-consul-ecs\"",
            w.task_id
        ))
    );
}

#[test]
fn nothing_is_written_while_nothing_changes() {
    let (w, config) = synced_world();
    w.ecs.set_container_health("app", "HEALTHY");
    let hs = start_health_sync(&w, &config);
    wait_status(&w, &hs, "app", "passing");
    let before = check_updates(&w);
    let polls_before = w.ecs.request_count();
    std::thread::sleep(Duration::from_millis(1200));
    assert!(
        w.ecs.request_count() >= polls_before + 5,
        "health-sync should keep polling\n{}",
        hs.report()
    );
    assert_eq!(
        check_updates(&w),
        before,
        "no write without a change:\n{}",
        w.consul.request_log()
    );
}

#[test]
fn statuses_are_resynced_after_a_consul_outage() {
    let (w, config) = synced_world();
    w.ecs.set_container_health("app", "HEALTHY");
    w.ecs.set_container_health("sidecar-proxy", "HEALTHY");
    let hs = start_health_sync(&w, &config);
    wait_status(&w, &hs, "app", "passing");
    wait_status(&w, &hs, "sidecar-proxy", "passing");
    w.consul.go_down();
    w.ecs.set_container_health("app", "UNHEALTHY");
    std::thread::sleep(Duration::from_millis(500));
    let back = Instant::now();
    w.consul.come_back().unwrap();
    wait_status(&w, &hs, "app", "critical");
    // The write that failed during the outage means Consul may have lost anything: every
    // status is written again, also the unchanged one.
    let proxy_check = format!(
        "/v1/agent/check/update/web-{}-sidecar-proxy-consul-ecs",
        w.task_id
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !w
        .consul
        .requests()
        .iter()
        .any(|r| r.path == proxy_check && r.at >= back && r.status == 200)
    {
        assert!(
            Instant::now() < deadline,
            "unchanged status not re-written\n{}",
            w.consul.request_log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(check_status(&w, "sidecar-proxy"), "passing");
}

#[test]
fn sigterm_sets_every_check_critical_and_exits_0() {
    let (w, config) = synced_world();
    w.ecs.set_container_health("app", "HEALTHY");
    w.ecs.set_container_health("sidecar-proxy", "HEALTHY");
    let mut hs = start_health_sync(&w, &config);
    wait_status(&w, &hs, "app", "passing");
    wait_status(&w, &hs, "sidecar-proxy", "passing");
    hs.signal(Signal::SIGTERM);
    assert_eq!(hs.wait_exit(Duration::from_secs(10)), 0, "{}", hs.report());
    assert_eq!(check_status(&w, "app"), "critical");
    assert_eq!(check_status(&w, "sidecar-proxy"), "critical");
    let checks = w.consul.checks();
    assert_eq!(
        checks[&format!("web-{}-app-consul-ecs", w.task_id)]["Output"],
        json!(format!(
            "ECS health status is \"critical\" for task \"web-{}-app-consul-ecs\"",
            w.task_id
        ))
    );
}

#[test]
fn a_failed_shutdown_step_is_reported_and_exits_non_zero() {
    let (w, config) = synced_world();
    let mut hs = start_health_sync(&w, &config);
    w.consul.go_down();
    hs.signal(Signal::SIGTERM);
    assert_eq!(hs.wait_exit(Duration::from_secs(30)), 2, "{}", hs.report());
    let log = hs.read("stderr.log");
    for container in ["app", "sidecar-proxy"] {
        let id = format!("web-{}-{container}-consul-ecs", w.task_id);
        assert!(
            log.contains(&format!("set check {id} critical")),
            "every step attempted and named:\n{log}"
        );
    }
}
