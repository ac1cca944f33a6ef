//! `envoy-entrypoint` with the real Envoy and the ECS metadata emulator, and `app-entrypoint`
//! with shell children: real processes, real signals, real exit codes.

mod util;

use std::fs;
use std::net::TcpStream;

use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use testkit::ecs_metadata::{fargate_task, EcsMetadataEmulator};
use util::background::Background;

/// Starts `envoy-entrypoint` with the real Envoy (admin on a free port) against an
/// emulated task whose application container is `app`.
fn start_envoy(emulator: &EcsMetadataEmulator) -> Background {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("envoy.yaml"),
        "admin:\n  address:\n    socket_address: { address: 127.0.0.1, port_value: 0 }\n",
    )
    .unwrap();
    let envoy = testkit::envoy::envoy_binary();
    let e = Background::start(
        &[
            "envoy-entrypoint",
            "-log-level",
            "DEBUG",
            envoy.to_str().unwrap(),
            "-c",
            "envoy.yaml",
            "--admin-address-path",
            "admin.address",
            "--disable-hot-restart",
            "--log-level",
            "info",
        ],
        &[("ECS_CONTAINER_METADATA_URI_V4", &emulator.uri())],
        dir,
    );
    // Envoy installs its signal handlers just before this line; signals sent earlier kill it.
    e.wait_log("starting main dispatch loop");
    e
}

fn admin_answers(e: &Background) -> bool {
    let addr = e.read("admin.address");
    !addr.trim().is_empty() && TcpStream::connect(addr.trim()).is_ok()
}

fn mesh_task() -> EcsMetadataEmulator {
    EcsMetadataEmulator::start(fargate_task(
        "web",
        &[
            "app",
            "sidecar-proxy",
            "consul-client",
            "consul-ecs-mesh-init",
            "consul-ecs-health-sync",
        ],
    ))
}

#[test]
fn envoy_keeps_serving_after_sigterm_until_the_app_stops() {
    let ecs = mesh_task();
    let mut e = start_envoy(&ecs);
    assert!(
        admin_answers(&e),
        "Envoy admin should answer\n{}",
        e.report()
    );

    e.signal(Signal::SIGTERM);
    sleep(Duration::from_millis(800));
    assert!(
        admin_answers(&e),
        "Envoy must keep serving while the app runs\n{}",
        e.report()
    );
    assert!(
        !e.read("stderr.log").contains("caught ENVOY_SIGTERM"),
        "{}",
        e.report()
    );
    // The sidecar containers themselves stopping does not count: only applications do.
    ecs.stop_container("consul-client");
    sleep(Duration::from_millis(300));
    assert!(
        admin_answers(&e),
        "non-application containers must not release Envoy\n{}",
        e.report()
    );

    let stopped_at = Instant::now();
    ecs.stop_container("app");
    let code = e.wait_exit(Duration::from_secs(10));
    let latency = stopped_at.elapsed();
    assert_eq!(code, 0, "{}", e.report());
    assert!(
        e.read("stderr.log").contains("caught ENVOY_SIGTERM"),
        "{}",
        e.report()
    );
    // The target is 300 ms + one 100 ms poll; the bound is loose because CI machines are
    // busy. The benchmark harness measures the real figure.
    assert!(
        latency < Duration::from_secs(2),
        "Envoy stopped {latency:?} after the app\n{}",
        e.report()
    );
    eprintln!("app STOPPED -> envoy-entrypoint exited: {latency:?}");
}

#[test]
fn envoy_signals_other_than_sigterm_are_forwarded() {
    let ecs = mesh_task();
    let mut e = start_envoy(&ecs);
    e.signal(Signal::SIGHUP);
    e.wait_log("caught and eating SIGHUP");
    e.signal(Signal::SIGUSR1);
    e.wait_log("caught SIGUSR1");
    assert!(admin_answers(&e), "{}", e.report());
    // SIGINT is forwarded too, and Envoy exits on it: its code comes back.
    e.signal(Signal::SIGINT);
    assert_eq!(e.wait_exit(Duration::from_secs(10)), 0, "{}", e.report());
}

#[test]
fn envoy_killed_is_propagated_as_128_plus_signal() {
    let ecs = mesh_task();
    let mut e = start_envoy(&ecs);
    let envoy = e.children();
    assert_eq!(
        envoy.len(),
        1,
        "one child expected: {envoy:?}\n{}",
        e.report()
    );
    kill(Pid::from_raw(envoy[0]), Signal::SIGKILL).unwrap();
    assert_eq!(
        e.wait_exit(Duration::from_secs(10)),
        128 + 9,
        "{}",
        e.report()
    );
}

#[test]
fn envoy_exiting_on_its_own_ends_the_entrypoint_even_while_waiting() {
    let ecs = mesh_task();
    let mut e = start_envoy(&ecs);
    e.signal(Signal::SIGTERM);
    sleep(Duration::from_millis(300));
    // Envoy dies while we wait on the app: we must not keep waiting.
    let envoy = e.children();
    kill(Pid::from_raw(envoy[0]), Signal::SIGKILL).unwrap();
    assert_eq!(e.wait_exit(Duration::from_secs(5)), 137, "{}", e.report());
}

#[test]
fn entrypoints_without_a_command_are_usage_errors() {
    for sub in ["envoy-entrypoint", "app-entrypoint"] {
        util::TestCommand::new([sub]).run().expect_code(1);
    }
    util::TestCommand::new(["app-entrypoint", "/no/such/program"])
        .run()
        .expect_code(1)
        .expect_stderr_contains("/no/such/program");
}

fn start_app(delay: &str, script: &str) -> Background {
    let dir = tempfile::tempdir().unwrap();
    Background::start(
        &[
            "app-entrypoint",
            "-shutdown-delay",
            delay,
            "sh",
            "-c",
            script,
        ],
        &[],
        dir,
    )
}

/// A shell app that records when SIGTERM reaches it, then exits 0.
const TRAP_TERM: &str = "trap 'date +%s%N > term.at; exit 0' TERM; touch ready; \
                         while :; do sleep 0.02; done";

fn nanos_now() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[test]
fn app_entrypoint_honours_the_shutdown_delay() {
    let mut e = start_app("1s", TRAP_TERM);
    e.wait_until("the app to start", Duration::from_secs(10), |e| {
        e.path("ready").exists()
    });
    let sent = nanos_now();
    e.signal(Signal::SIGTERM);
    sleep(Duration::from_millis(600));
    assert!(
        !e.path("term.at").exists(),
        "SIGTERM reached the app before the delay\n{}",
        e.report()
    );
    assert_eq!(e.wait_exit(Duration::from_secs(10)), 0, "{}", e.report());
    let reached: u128 = e.read("term.at").trim().parse().unwrap();
    let waited = Duration::from_nanos((reached - sent) as u64);
    assert!(
        waited >= Duration::from_millis(1000),
        "SIGTERM after {waited:?}, delay 1s\n{}",
        e.report()
    );
}

#[test]
fn app_entrypoint_without_delay_passes_sigterm_on_at_once() {
    let mut e = start_app("0", TRAP_TERM);
    e.wait_until("the app to start", Duration::from_secs(10), |e| {
        e.path("ready").exists()
    });
    e.signal(Signal::SIGTERM);
    assert_eq!(e.wait_exit(Duration::from_secs(5)), 0, "{}", e.report());
    assert!(e.path("term.at").exists(), "{}", e.report());
}

#[test]
fn app_entrypoint_propagates_exit_codes() {
    for (script, code) in [
        ("exit 0", 0),
        ("exit 3", 3),
        ("exit 42", 42),
        ("kill -KILL $$", 137),
    ] {
        util::TestCommand::new(["app-entrypoint", "sh", "-c", script])
            .run()
            .expect_code(code);
    }
}

#[test]
fn app_entrypoint_reaps_orphans_of_the_app() {
    // The app orphans a short-lived grandchild and waits for it to vanish: as a subreaper
    // the entrypoint must reap it, or it would stay a zombie (exit 1).
    let script = "sh -c 'sleep 0.1 & echo $! > orphan.pid'; o=$(cat orphan.pid); i=0; \
                  while [ -e /proc/$o ] && [ $i -lt 300 ]; do i=$((i+1)); sleep 0.01; done; \
                  [ -e /proc/$o ] && exit 1; exit 6";
    let mut e = start_app("0", script);
    assert_eq!(e.wait_exit(Duration::from_secs(10)), 6, "{}", e.report());
}
