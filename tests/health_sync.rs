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
    start_health_sync_with(w, config, &[])
}

fn start_health_sync_with(w: &World, config: &str, extra: &[&str]) -> Background {
    let mut args = vec![
        "health-sync",
        "-poll-interval",
        "100ms",
        "-log-level",
        "DEBUG",
    ];
    args.extend_from_slice(extra);
    let hs = Background::start(
        &args,
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

fn wait_until(hs: &Background, what: &str, ok: impl Fn() -> bool) {
    hs.wait_until(what, Duration::from_secs(10), |_| ok());
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
    wait_until(&hs, "five more polls", || {
        w.ecs.request_count() >= polls_before + 5
    });
    assert_eq!(
        check_updates(&w),
        before,
        "no write without a change:\n{}",
        w.consul.request_log()
    );
}

/// How many updates of `container`'s check the Consul emulator received so far.
fn writes_of(w: &World, container: &str) -> usize {
    let path = format!(
        "/v1/agent/check/update/web-{}-{container}-consul-ecs",
        w.task_id
    );
    w.consul
        .requests()
        .iter()
        .filter(|r| r.path == path)
        .count()
}

fn check_output(w: &World, container: &str) -> Value {
    w.consul.checks()[&format!("web-{}-{container}-consul-ecs", w.task_id)]["Output"].clone()
}

/// Waits until `polls` more polls have finished: each poll reads the metadata and then
/// writes, so once `polls + 1` more reads arrived the writes of `polls` are answered.
fn wait_polls(w: &World, hs: &Background, polls: usize) {
    let start = w.ecs.request_count();
    wait_until(hs, &format!("{polls} more polls"), || {
        w.ecs.request_count() > start + polls
    });
}

#[test]
fn a_missing_container_is_written_once_then_only_its_changes() {
    let (w, config) = synced_world();
    let whole_task = w.ecs.task();
    // The app container is not in the metadata yet (ECS starts containers in turn).
    w.ecs.remove_container("app");
    let hs = start_health_sync(&w, &config);
    wait_polls(&w, &hs, 10);
    let log = || {
        format!(
            "{}\n---- Consul ----\n{}",
            hs.report(),
            w.consul.request_log()
        )
    };
    assert_eq!(
        writes_of(&w, "app"),
        1,
        "missing: one write in ten polls\n{}",
        log()
    );
    assert_eq!(check_status(&w, "app"), "critical");
    let id = format!("web-{}-app-consul-ecs", w.task_id);
    assert_eq!(
        check_output(&w, "app"),
        json!(format!(
            "ECS health status is \"UNHEALTHY\" for task \"{id}\""
        ))
    );
    // It appears, without an ECS health status yet: the output changes, one write.
    w.ecs.set_task(whole_task);
    wait_polls(&w, &hs, 10);
    assert_eq!(writes_of(&w, "app"), 2, "appeared: one write\n{}", log());
    assert_eq!(
        check_output(&w, "app"),
        json!(format!("ECS health status is \"\" for task \"{id}\""))
    );
    // Its health check passes: one write, then quiet again.
    w.ecs.set_container_health("app", "HEALTHY");
    wait_status(&w, &hs, "app", "passing");
    wait_polls(&w, &hs, 10);
    assert_eq!(writes_of(&w, "app"), 3, "changed: one write\n{}", log());
    // The sidecar container, present all along without a health check, is never written.
    assert_eq!(writes_of(&w, "sidecar-proxy"), 0, "{}", log());
}

#[test]
fn a_change_during_an_outage_is_written_when_consul_is_back() {
    let (w, config) = synced_world();
    w.ecs.set_container_health("app", "HEALTHY");
    let hs = start_health_sync(&w, &config);
    wait_status(&w, &hs, "app", "passing");
    w.consul.go_down();
    let polls = w.ecs.request_count();
    w.ecs.set_container_health("app", "UNHEALTHY");
    // Wait until health-sync has seen the change (and failed to write it): two more polls.
    wait_until(&hs, "two polls during the outage", || {
        w.ecs.request_count() >= polls + 2
    });
    w.consul.come_back().unwrap();
    wait_status(&w, &hs, "app", "critical");
}

#[test]
fn a_status_consul_lost_in_an_agent_restart_is_restored() {
    let (w, config) = synced_world();
    w.ecs.set_container_health("app", "HEALTHY");
    w.ecs.set_container_health("sidecar-proxy", "HEALTHY");
    let hs = start_health_sync_with(&w, &config, &["-reassert-interval", "300ms"]);
    wait_status(&w, &hs, "app", "passing");
    wait_status(&w, &hs, "sidecar-proxy", "passing");
    w.consul.restart_agent().unwrap();
    assert_eq!(check_status(&w, "app"), "critical");
    // Nothing changed in ECS: only comparing with Consul can notice.
    wait_status(&w, &hs, "app", "passing");
    wait_status(&w, &hs, "sidecar-proxy", "passing");
}

#[test]
fn while_consul_agrees_the_comparison_reads_but_never_writes() {
    let (w, config) = synced_world();
    w.ecs.set_container_health("app", "HEALTHY");
    let hs = start_health_sync_with(&w, &config, &["-reassert-interval", "200ms"]);
    wait_status(&w, &hs, "app", "passing");
    let writes = check_updates(&w);
    let reads = || {
        w.consul
            .requests()
            .iter()
            .filter(|r| r.path == "/v1/agent/checks")
            .count()
    };
    let reads_before = reads();
    wait_until(&hs, "three comparisons with Consul", || {
        reads() >= reads_before + 3
    });
    assert_eq!(
        check_updates(&w),
        writes,
        "no write while Consul agrees:\n{}",
        w.consul.request_log()
    );
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

/// A local "agent" that accepts connections and never answers.
fn black_hole() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    (listener, addr)
}

#[test]
fn sigterm_cancels_a_hanging_poll_and_the_shutdown_keeps_its_budget() {
    let (w, config) = synced_world();
    let (hole, addr) = black_hole();
    // Accepted by the kernel's backlog, never read: every request hangs until its timeout.
    let mut hs = Background::start(
        &[
            "health-sync",
            "-poll-interval",
            "100ms",
            "-shutdown-timeout",
            "1500ms",
        ],
        &[
            ("CONSUL_ECS_CONFIG_JSON", &config),
            ("ECS_CONTAINER_METADATA_URI_V4", &w.ecs.uri()),
            ("CONSUL_HTTP_ADDR", &addr),
        ],
        tempfile::tempdir().unwrap(),
    );
    hs.wait_log("health-sync started");
    w.ecs.set_container_health("app", "HEALTHY");
    let polls = w.ecs.request_count();
    // A poll that saw the change is now stuck writing it.
    wait_until(&hs, "a poll after the change", || {
        w.ecs.request_count() > polls
    });
    let signalled = Instant::now();
    hs.signal(Signal::SIGTERM);
    assert_eq!(hs.wait_exit(Duration::from_secs(10)), 2, "{}", hs.report());
    let took = signalled.elapsed();
    // The agent timeout is 5 s: waiting out the hanging write first, or a step, would show.
    // Wall clock (a child process), with room for a busy machine below those 5 s.
    assert!(
        took < Duration::from_millis(3000),
        "shutdown took {took:?}\n{}",
        hs.report()
    );
    let log = hs.read("stderr.log");
    for container in ["app", "sidecar-proxy"] {
        let id = format!("web-{}-{container}-consul-ecs", w.task_id);
        assert!(
            log.contains(&format!("set check {id} critical: did not finish within")),
            "every step attempted and reported:\n{log}"
        );
    }
    drop(hole);
}
