//! `envoy-entrypoint` with the real Envoy and the ECS metadata emulator, and `app-entrypoint`
//! with shell children: real processes, real signals, real exit codes.
//!
//! No test sleeps for a fixed time and then looks: each waits for something it can observe
//! (a file the child writes, a line on the entrypoint's stderr, a request the metadata
//! emulator recorded).

mod util;

use std::fs;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use testkit::ecs_metadata::{fargate_task, EcsMetadataEmulator};
use util::background::Background;

/// Starts `envoy-entrypoint` with the real Envoy (admin on a free port) against an
/// emulated task whose application container is `app`.
fn start_envoy(emulator: &EcsMetadataEmulator) -> Background {
    start_envoy_as(&emulator.uri())
}

/// Starts `envoy-entrypoint` with the real Envoy, `metadata_uri` being the
/// `ECS_CONTAINER_METADATA_URI_V4` of the container it runs in.
fn start_envoy_as(metadata_uri: &str) -> Background {
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
        &[("ECS_CONTAINER_METADATA_URI_V4", metadata_uri)],
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

/// Waits until the emulator has answered two metadata requests that arrived after this call.
/// The poll makes a request only while the last answer did not release Envoy, so the second
/// one proves that the first, which saw the task as it is now, did not.
fn wait_two_more_polls(ecs: &EcsMetadataEmulator, e: &Background) {
    let seen = ecs.request_count();
    e.wait_until("two more metadata polls", Duration::from_secs(10), |_| {
        ecs.request_count() >= seen + 2
    });
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
    wait_two_more_polls(&ecs, &e);
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
    wait_two_more_polls(&ecs, &e);
    assert!(
        !e.read("stderr.log").contains("caught ENVOY_SIGTERM"),
        "{}",
        e.report()
    );
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
    // busy (wall clock: the entrypoint is a child process). The benchmark harness measures
    // the real figure.
    assert!(
        latency < Duration::from_secs(2),
        "Envoy stopped {latency:?} after the app\n{}",
        e.report()
    );
    eprintln!("app STOPPED -> envoy-entrypoint exited: {latency:?}");
}

/// A task of the Consul Dataplane layout (v0.10): consul-dataplane runs the proxy.
fn dataplane_task() -> EcsMetadataEmulator {
    let ecs = EcsMetadataEmulator::start(fargate_task(
        "web",
        &[
            "app",
            "consul-ecs-mesh-init",
            "consul-dataplane",
            "consul-ecs-health-sync",
        ],
    ));
    ecs.stop_container("consul-ecs-mesh-init");
    ecs
}

/// envoy-entrypoint as the `consul-dataplane` container's entrypoint (the real Envoy stands
/// in for consul-dataplane, which cannot be installed here): held through SIGTERM while
/// the app runs, not held by health-sync (ours), and never waiting for its own container
/// (which the agent layout would count as an application, holding the proxy for good).
#[test]
fn dataplane_proxy_is_held_until_the_apps_stop_and_not_by_its_own_containers() {
    let ecs = dataplane_task();
    let mut e = start_envoy_as(&ecs.uri_for("consul-dataplane"));
    e.signal(Signal::SIGTERM);
    wait_two_more_polls(&ecs, &e);
    assert!(
        admin_answers(&e),
        "the proxy must keep serving while the app runs\n{}",
        e.report()
    );
    // Released while consul-ecs-health-sync (ours) still runs.
    ecs.stop_container("app");
    assert_eq!(e.wait_exit(Duration::from_secs(10)), 0, "{}", e.report());
    assert!(
        e.read("stderr.log").contains(
            "application containers stopped; stopping consul-dataplane stopped=[\"app\"]"
        ),
        "{}",
        e.report()
    );
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
    // Waiting: the stop hook is polling the task metadata.
    wait_two_more_polls(&ecs, &e);
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
}

/// A file that exists but cannot be executed (mode 0644), in `dir`.
fn not_executable(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("app.sh");
    fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    path.to_str().unwrap().to_owned()
}

/// As a shell (and tini): 127 when the program is not found, 126 when it cannot be executed;
/// the message names the program and the reason.
#[test]
fn a_child_that_cannot_be_executed_gives_the_shell_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let plain = not_executable(&dir);
    for sub in ["app-entrypoint", "envoy-entrypoint"] {
        util::TestCommand::new([sub, "/no/such/program"])
            .run()
            .expect_code(127)
            .expect_stderr_contains("cannot start \"/no/such/program\": not found");
        util::TestCommand::new([sub, "no-such-program-on-the-path"])
            .run()
            .expect_code(127)
            .expect_stderr_contains("\"no-such-program-on-the-path\": not found");
        util::TestCommand::new([sub, plain.as_str()])
            .run()
            .expect_code(126)
            .expect_stderr_contains(&format!("cannot start {plain:?}: not executable"));
    }
}

/// With `-log-format json` every line on stderr is a JSON object, the fatal one included.
#[test]
fn with_json_logs_the_fatal_spawn_error_is_json_too() {
    let dir = tempfile::tempdir().unwrap();
    let plain = not_executable(&dir);
    for sub in ["app-entrypoint", "envoy-entrypoint"] {
        for (program, code) in [("/nonexistent", 127), (plain.as_str(), 126)] {
            let run = util::TestCommand::new(["-log-format", "json", sub, program]).run();
            run.expect_code(code);
            let lines = json_lines(&run.stderr(), &run.to_string());
            let last = lines.last().unwrap();
            assert_eq!(last["level"], "ERROR", "{run}");
            let message = last["message"].as_str().unwrap_or_default();
            assert!(
                message.contains(&format!("cannot start {program:?}")),
                "{run}"
            );
        }
    }
}

/// Every non-empty line of `stderr` parsed as a JSON object; panics with `context` when one
/// is not, or when there is none.
fn json_lines(stderr: &str, context: &str) -> Vec<Value> {
    let lines: Vec<Value> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(v) if v.is_object() => v,
            _ => panic!("not a JSON object: {l:?}\n{context}"),
        })
        .collect();
    assert!(!lines.is_empty(), "no log lines\n{context}");
    lines
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
    e.wait_log("holding it for the shutdown delay");
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

/// The signals that may also be raised about the entrypoint itself (faults, SIGPIPE, terminal
/// and resource-limit signals): sent by another process, each reaches the child, none ends
/// the entrypoint, which exits with the child's own code.
#[test]
fn signals_that_may_be_the_entrypoints_own_reach_the_child_when_sent() {
    let names = [
        "PIPE", "TTIN", "TTOU", "XCPU", "XFSZ", "ILL", "TRAP", "ABRT", "FPE", "SEGV", "BUS", "SYS",
    ];
    let mut script = String::new();
    for name in names {
        script.push_str(&format!("trap 'echo {name} >> got' {name}; "));
    }
    script.push_str("trap 'exit 3' TERM; touch ready; while :; do sleep 0.02; done");
    let mut e = start_app("0", &script);
    e.wait_until("the app to start", Duration::from_secs(10), |e| {
        e.path("ready").exists()
    });
    for name in names {
        let signal: Signal = format!("SIG{name}").parse().unwrap();
        e.signal(signal);
        e.wait_until(
            &format!("{name} to reach the app"),
            Duration::from_secs(10),
            |e| e.read("got").lines().any(|l| l == name),
        );
        assert!(
            e.child.try_wait().unwrap().is_none(),
            "{name} ended the entrypoint\n{}",
            e.report()
        );
    }
    e.signal(Signal::SIGTERM);
    assert_eq!(e.wait_exit(Duration::from_secs(10)), 3, "{}", e.report());
}

/// `kill -SEGV` aimed at the entrypoint kills the app (its default action), not the
/// entrypoint, which reports it as 128 + 11.
#[test]
fn a_fault_signal_sent_to_the_entrypoint_kills_the_app_not_the_entrypoint() {
    // No core file from the app's death.
    let mut e = start_app(
        "0",
        "ulimit -c 0; touch ready; while :; do sleep 0.02; done",
    );
    e.wait_until("the app to start", Duration::from_secs(10), |e| {
        e.path("ready").exists()
    });
    e.signal(Signal::SIGSEGV);
    assert_eq!(
        e.wait_exit(Duration::from_secs(10)),
        128 + 11,
        "{}",
        e.report()
    );
}

/// While the task metadata endpoint is down after SIGTERM (polled every 100 ms), the log gets
/// the first failure, at most one summary every 5 s and one line when it answers again, not
/// a line per poll.
#[test]
fn a_metadata_outage_during_shutdown_is_logged_without_flooding() {
    let ecs = mesh_task();
    let dir = tempfile::tempdir().unwrap();
    let mut e = Background::start(
        &[
            "-log-format",
            "json",
            "envoy-entrypoint",
            "sh",
            "-c",
            // Its own stderr elsewhere: the shell reports the group SIGTERM's victims
            // ("Terminated"), and only the entrypoint's lines are under test.
            "exec 2> child.err; trap 'exit 0' TERM; touch ready; while :; do sleep 0.02; done",
        ],
        &[("ECS_CONTAINER_METADATA_URI_V4", &ecs.uri())],
        dir,
    );
    e.wait_until("the child to start", Duration::from_secs(10), |e| {
        e.path("ready").exists()
    });
    ecs.fail_next(u32::MAX, 500);
    e.signal(Signal::SIGTERM);
    // An outage of at least 2 s, as the emulator saw it: its first and last failed answer.
    let failed = || -> Vec<Instant> {
        ecs.requests()
            .iter()
            .filter(|r| r.status == 500)
            .map(|r| r.at)
            .collect()
    };
    e.wait_until("2 s of failed polls", Duration::from_secs(20), |_| {
        let at = failed();
        at.len() >= 2 && at[at.len() - 1].duration_since(at[0]) >= Duration::from_secs(2)
    });
    ecs.fail_next(0, 500);
    e.wait_log("works again");
    let failures = failed();
    let outage = failures[failures.len() - 1].duration_since(failures[0]);
    ecs.stop_container("app");
    assert_eq!(e.wait_exit(Duration::from_secs(10)), 0, "{}", e.report());

    let report = format!(
        "{}\n--- metadata requests ---\n{}",
        e.report(),
        ecs.request_log()
    );
    let lines = json_lines(&e.read("stderr.log"), &report);
    let warnings: Vec<&Value> = lines.iter().filter(|l| l["level"] == "WARN").collect();
    // Without the summary every failed poll is a line: make sure there were plenty.
    assert!(
        failures.len() >= 10,
        "only {} failed polls\n{report}",
        failures.len()
    );
    // The first failure, plus a summary per full 5 s of outage (none, usually, in ~2 s).
    let allowed = 1 + (outage.as_secs() / 5) as usize;
    assert!(
        !warnings.is_empty() && warnings.len() <= allowed,
        "{} WARN lines for {} failures over {outage:?} (allowed {allowed})\n{report}",
        warnings.len(),
        failures.len()
    );
    assert!(
        warnings[0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("500"),
        "the first line names the error\n{report}"
    );
    let recovered: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .unwrap_or_default()
                .contains("works again")
        })
        .collect();
    assert_eq!(recovered.len(), 1, "{report}");
    assert_eq!(
        recovered[0]["failures"].as_u64(),
        Some(failures.len() as u64),
        "the recovery line counts every failed poll\n{report}"
    );
}

/// A log line that cannot be written (the container's stderr went away) must not end the
/// entrypoint: it would leave its child running as an orphan and exit 101 from a panic.
#[test]
fn a_broken_stderr_does_not_end_the_entrypoint_before_its_child() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("child-done");
    let script = format!("sleep 0.3; touch {}; exit 3", marker.display());
    let mut child = std::process::Command::new(util::binary())
        .args(["app-entrypoint", "sh", "-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the only reader: every later write to stderr fails with EPIPE.
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(3),
        "exits with the child's code: {status:?}"
    );
    assert!(marker.exists(), "the child ran to its end");
}
