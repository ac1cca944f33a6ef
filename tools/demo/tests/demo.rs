//! The demo end to end: the built `demo` binary with the real `consul-ecs` binary, Envoy
//! and moto. Checks the timeline's key events, the time limit, and that no process the
//! demo started outlives it — after a normal run and after Ctrl-C (SIGINT).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// `consul-ecs` next to the demo binary (both in target/<profile>/). Fails, never skips,
/// when it was not built.
fn consul_ecs() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_demo")).with_file_name("consul-ecs");
    assert!(
        path.is_file(),
        "{} not found: build it first (cargo build --bin consul-ecs; `make test` does)",
        path.display()
    );
    path
}

/// A demo run in the background, its output in files (pipes could fill up and block it).
struct DemoRun {
    child: Child,
    dir: tempfile::TempDir,
    /// Every process seen below the demo while it ran: pid -> start time (to tell a
    /// reused pid from the original process).
    seen: BTreeMap<i32, u64>,
}

impl DemoRun {
    /// Starts the demo in a process group of its own, as a shell starts a foreground job.
    fn start() -> DemoRun {
        DemoRun::start_with(&consul_ecs())
    }

    /// [`DemoRun::start`] with another program as the consul-ecs binary.
    fn start_with(binary: &std::path::Path) -> DemoRun {
        DemoRun::start_args(binary, &[])
    }

    /// [`DemoRun::start_with`] with more arguments for the demo.
    fn start_args(binary: &std::path::Path, args: &[&str]) -> DemoRun {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().unwrap();
        let stdout = std::fs::File::create(dir.path().join("stdout")).unwrap();
        let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_demo"))
            .process_group(0)
            .arg("--binary")
            .arg(binary)
            .arg("--work-dir")
            .arg(dir.path().join("work"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap();
        DemoRun {
            child,
            dir,
            seen: BTreeMap::new(),
        }
    }

    fn read(&self, name: &str) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.path().join(name)) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    fn report(&self) -> String {
        format!(
            "---- demo stdout ----\n{}\n---- demo stderr ----\n{}",
            self.read("stdout"),
            self.read("stderr")
        )
    }

    /// Records the demo's current descendants.
    fn look(&mut self) {
        for pid in descendants(self.child.id() as i32) {
            if let Some(start) = start_time(pid) {
                self.seen.entry(pid).or_insert(start);
            }
        }
    }

    /// Watches until the demo exits (recording its processes); returns the exit code.
    fn wait(&mut self, limit: Duration) -> i32 {
        let deadline = Instant::now() + limit;
        loop {
            self.look();
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("the demo ran longer than {limit:?}\n{}", self.report());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGINT as Ctrl-C on a terminal does: to the whole foreground process group
    /// (the demo and what it left in its group, such as moto), not only to the demo.
    fn ctrl_c(&self) {
        kill(Pid::from_raw(-(self.child.id() as i32)), Signal::SIGINT).unwrap();
    }

    /// Whether a process below the demo runs a command line containing `needle`.
    fn has_descendant(&self, needle: &str) -> bool {
        descendants(self.child.id() as i32).iter().any(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains(needle)
        })
    }

    /// Asserts that nothing the demo started is still alive; it must have seen at least
    /// `at_least` of them (so the check is not vacuous).
    fn assert_no_process_left(&self, at_least: usize) {
        assert!(
            self.seen.len() >= at_least,
            "expected to see at least {at_least} processes below the demo, saw {:?}\n{}",
            self.seen,
            self.report()
        );
        let alive: Vec<String> = self
            .seen
            .iter()
            .filter(|(pid, start)| start_time(**pid) == Some(**start))
            .map(|(pid, _)| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                format!(
                    "{pid}: {}",
                    String::from_utf8_lossy(&cmdline).replace('\0', " ")
                )
            })
            .collect();
        assert!(
            alive.is_empty(),
            "processes outlived the demo: {alive:?}\n{}",
            self.report()
        );
    }
}

impl Drop for DemoRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn descendants(pid: i32) -> Vec<i32> {
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let text = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in text.split_whitespace().filter_map(|c| c.parse().ok()) {
                if !found.contains(&child) {
                    found.push(child);
                    queue.push(child);
                }
            }
        }
    }
    found
}

/// Field 22 of /proc/<pid>/stat (start time in clock ticks), or None when the process is
/// gone. A zombie counts as gone only once reaped: it still has its stat file.
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it do not.
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// `who` in the timeline's 14-wide column followed by the start of `what`.
fn event(who: &str, what: &str) -> String {
    format!("{who:<14}{what}")
}

/// Finds every needle in `stdout`, each after the previous one.
fn find_in_order(stdout: &str, needles: &[String]) -> Result<(), String> {
    let mut from = 0;
    for needle in needles {
        match stdout[from..].find(needle) {
            Some(i) => from += i + needle.len(),
            None => return Err(format!("{needle:?} not found (in this order)")),
        }
    }
    Ok(())
}

/// Runs the demo with `args` to its end; it must succeed in under a minute. Returns the
/// run and its stdout.
fn run_successfully(args: &[&str]) -> (DemoRun, String) {
    let started = Instant::now();
    let mut run = DemoRun::start_args(&consul_ecs(), args);
    let code = run.wait(Duration::from_secs(90));
    let took = started.elapsed();
    assert_eq!(code, 0, "the demo failed\n{}", run.report());
    assert!(
        took < Duration::from_secs(60),
        "the demo took {took:?}\n{}",
        run.report()
    );
    let out = run.read("stdout");
    (run, out)
}

#[test]
fn the_whole_life_of_a_task_in_under_a_minute_and_nothing_left_behind() {
    let (run, out) = run_successfully(&[]);
    let key_events = [
        event("consul-client", "-> POST /v1/acl/login: 200"),
        "created (login via iam-ecs-client-token, role consul-ecs-client-role)".into(),
        event("mesh-init", "started container consul-ecs-mesh-init"),
        event("mesh-init", "-> POST /v1/acl/login: 200"),
        event("mesh-init", "-> GET /v1/acl/token/self?stale"),
        event("mesh-init", "-> PUT /v1/agent/service/register: 200"),
        event("mesh-init", "-> PUT /v1/agent/service/register: 200"),
        event("mesh-init", "exited with code 0"),
        event("envoy", "admin 127.0.0.1:"),
        "/ready: PRE_INITIALIZING (HTTP 503)".into(),
        event("app", "GET 127.0.0.1:"),
        event("ecs", "metadata: app Health HEALTHY"),
        "-app-consul-ecs: critical -> passing".into(),
        event("ecs", "metadata: app Health UNHEALTHY"),
        "-app-consul-ecs: passing -> critical".into(),
        event("ecs", "metadata: app Health HEALTHY"),
        "-app-consul-ecs: critical -> passing".into(),
        "every container DesiredStatus STOPPED; SIGTERM".into(),
        event("health-sync", "exited with code 0"),
        event("app", "exited with code 143"),
        event(
            "envoy",
            "log: application containers stopped; stopping Envoy",
        ),
        event("envoy", "log: caught ENVOY_SIGTERM"),
        event("envoy", "exited with code 0"),
    ];
    if let Err(e) = find_in_order(&out, &key_events) {
        panic!("{e}\n{}", run.report());
    }
    // What mesh-init did to Consul, seen before it exited (the observer may see the login
    // token before or with the registrations).
    let start = out.find(&event("mesh-init", "started container")).unwrap();
    let end = start + out[start..].find(&event("mesh-init", "exited")).unwrap();
    for change in [
        event("mesh-init", "Consul: registered web-"),
        "(connect-proxy web-sidecar-proxy, port 20000)".to_string(),
        "\"consul ecs synced\" registered, critical".to_string(),
        event("mesh-init", "Consul: token "),
        "created (login via iam-ecs-service-token, service identity web)".to_string(),
    ] {
        assert!(
            out[start..end].contains(&change),
            "mesh-init should show {change:?}\n{}",
            run.report()
        );
    }
    // What health-sync did on SIGTERM, before it exited (in an order the observer may
    // see in one look or two).
    let stop = out.find("every container DesiredStatus STOPPED").unwrap();
    let exit = stop + out[stop..].find(&event("health-sync", "exited")).unwrap();
    let shutdown = &out[stop..exit];
    assert_eq!(
        shutdown
            .matches(&event("health-sync", "-> POST /v1/acl/logout: 200"))
            .count(),
        2,
        "two logouts before health-sync exits\n{}",
        run.report()
    );
    assert!(
        shutdown.contains("-app-consul-ecs: passing -> critical"),
        "the check goes critical before health-sync exits\n{}",
        run.report()
    );
    for deleted in ["iam-ecs-client-token", "iam-ecs-service-token"] {
        assert!(
            out.lines()
                .any(|l| l.contains(&event("health-sync", "Consul: token "))
                    && l.contains(&format!("deleted (login via {deleted}"))),
            "health-sync should log out the {deleted} token\n{}",
            run.report()
        );
    }
    assert_eq!(
        out.matches("FAIL").count(),
        0,
        "every property should hold\n{}",
        run.report()
    );
    assert!(
        out.contains("ok   Envoy outlived the app"),
        "{}",
        run.report()
    );
    let logs = run.dir.path().join("work/logs");
    assert!(
        out.contains(&logs.display().to_string()),
        "the log directory is printed\n{}",
        run.report()
    );
    for container in [
        "consul-ecs-mesh-init",
        "consul-ecs-health-sync",
        "sidecar-proxy",
        "app",
    ] {
        assert!(
            logs.join(format!("{container}.log")).is_file(),
            "{container} log"
        );
    }
    // No secret reaches the timeline: the client token file's content is not printed.
    let secret = std::fs::read_to_string(run.dir.path().join("work/consul/client-token")).unwrap();
    assert!(
        !secret.is_empty() && !out.contains(&secret),
        "{}",
        run.report()
    );
    // moto, mesh-init, health-sync, two entrypoints, Envoy and the app.
    run.assert_no_process_left(7);
}

#[test]
fn ctrl_c_stops_every_process_the_demo_started() {
    let mut run = DemoRun::start();
    // Interrupt once the whole task runs: Envoy, the app and health-sync are up.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !run.read("stdout").contains("metadata: app Health HEALTHY") {
        run.look();
        assert!(
            run.child.try_wait().unwrap().is_none(),
            "the demo ended early\n{}",
            run.report()
        );
        assert!(
            Instant::now() < deadline,
            "the task never came up\n{}",
            run.report()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    run.look();
    run.ctrl_c();
    let code = run.wait(Duration::from_secs(15));
    assert_eq!(code, 130, "interrupted runs exit 130\n{}", run.report());
    assert!(
        run.read("stdout")
            .contains("interrupted: stopping every process"),
        "{}",
        run.report()
    );
    // moto, health-sync, two entrypoints, Envoy and the app (mesh-init has exited).
    run.assert_no_process_left(6);
}

#[test]
fn ctrl_c_while_moto_starts_ends_the_demo_at_once() {
    let mut run = DemoRun::start();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !run.has_descendant("moto_server") {
        assert!(
            run.child.try_wait().unwrap().is_none() && Instant::now() < deadline,
            "moto never started\n{}",
            run.report()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    run.look();
    run.ctrl_c();
    let code = run.wait(Duration::from_secs(10));
    assert_eq!(code, 130, "interrupted runs exit 130\n{}", run.report());
    run.assert_no_process_left(1);
}

#[test]
fn a_failing_step_is_reported_with_the_logs_and_cleaned_up() {
    // A "consul-ecs" whose mesh-init fails: the demo stops there, shows the container's
    // log and Consul's requests, and leaves nothing running (moto included).
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("consul-ecs");
    std::fs::write(&fake, "#!/bin/sh\necho \"fake $1: refusing\" >&2\nexit 2\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut run = DemoRun::start_with(&fake);
    let code = run.wait(Duration::from_secs(60));
    assert_eq!(code, 1, "{}", run.report());
    let (out, err) = (run.read("stdout"), run.read("stderr"));
    assert!(
        out.contains(&event("mesh-init", "exited with code 2")),
        "{}",
        run.report()
    );
    for needle in [
        "---- consul-ecs-mesh-init (mesh-init), last 20 lines of",
        "fake mesh-init: refusing",
        "---- Consul emulator, last 20 requests ----",
        "demo failed: mesh-init failed",
    ] {
        assert!(
            err.contains(needle),
            "stderr should contain {needle:?}\n{}",
            run.report()
        );
    }
    // moto at least (the fake mesh-init may exit between two looks).
    run.assert_no_process_left(1);
}

/// `--mode dataplane`: the v0.10 layout's life, the stand-in for consul-dataplane said out
/// loud, `consul-dataplane.json` with consul-dataplane's documented keys, nothing left.
#[test]
fn the_dataplane_layout_life_of_a_task_and_nothing_left_behind() {
    let (run, out) = run_successfully(&["--mode", "dataplane"]);
    let key_events = [
        "envoy:  not used (no consul-dataplane here to run it)".to_string(),
        "gRPC at 127.0.0.1:".into(),
        "catalog node arn:aws:ecs:".into(),
        "no consul-dataplane binary is installed here".into(),
        event(
            "dataplane",
            "stand-in for consul-dataplane: metadata RUNNING",
        ),
        event("mesh-init", "started container consul-ecs-mesh-init"),
        event(
            "mesh-init",
            "-> GRPC /hashicorp.consul.acl.ACLService/Login: 0",
        ),
        event("mesh-init", "-> PUT /v1/catalog/register: 200"),
        event("mesh-init", "-> PUT /v1/catalog/register: 200"),
        event("mesh-init", "exited with code 0"),
        event(
            "mesh-init",
            "bootstrapDir now holds: consul-dataplane.json (0444), consul-ecs (0755)",
        ),
        event("health-sync", "started container consul-ecs-health-sync"),
        event(
            "health-sync",
            "-> GRPC /hashicorp.consul.acl.ACLService/Login: 0",
        ),
        event("ecs", "metadata: app Health HEALTHY"),
        "-app: critical -> passing".into(),
        event("ecs", "metadata: app Health UNHEALTHY"),
        "-app: passing -> critical".into(),
        event("ecs", "metadata: app Health HEALTHY"),
        "-app: critical -> passing".into(),
        "every container DesiredStatus STOPPED; SIGTERM".into(),
        "-sidecar-proxy-consul-dataplane: passing -> critical".into(),
        event(
            "dataplane",
            "stand-in for consul-dataplane: metadata STOPPED",
        ),
        event("health-sync", "-> PUT /v1/catalog/deregister: 200"),
        event("health-sync", "-> PUT /v1/catalog/deregister: 200"),
        event(
            "health-sync",
            "-> GRPC /hashicorp.consul.acl.ACLService/Logout: 0",
        ),
        event("health-sync", "exited with code 0"),
    ];
    if let Err(e) = find_in_order(&out, &key_events) {
        panic!("{e}\n{}", run.report());
    }
    for change in [
        "(connect-proxy web-sidecar-proxy, port 20000)",
        "-consul-dataplane \"Consul dataplane readiness\" registered, critical",
        "-app \"Consul ECS health check synced\" registered, critical",
    ] {
        assert!(out.contains(change), "{change:?}\n{}", run.report());
    }
    assert!(
        out.lines()
            .any(|l| l.contains(&event("health-sync", "Consul: token "))
                && l.contains("deleted (login via iam-ecs-service-token")),
        "health-sync logs its token out\n{}",
        run.report()
    );
    assert_eq!(out.matches("FAIL").count(), 0, "{}", run.report());
    assert_eq!(out.matches("ok   ").count(), 5, "{}", run.report());
    assert!(
        !out.contains("/ready"),
        "no Envoy in this mode\n{}",
        run.report()
    );

    // consul-dataplane.json against consul-dataplane's documented config-file keys.
    let file = run.dir.path().join("work/consul/consul-dataplane.json");
    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let mut keys: Vec<&str> = document
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["consul", "envoy", "logging", "proxy", "xdsServer"]);
    assert_eq!(document["consul"]["addresses"], "127.0.0.1");
    assert!(document["consul"]["grpcPort"]
        .as_u64()
        .is_some_and(|p| p > 0));
    assert_eq!(document["consul"]["tls"]["disabled"], true);
    assert_eq!(document["consul"]["credentials"]["type"], "login");
    let login = &document["consul"]["credentials"]["login"];
    assert_eq!(login["authMethod"], "iam-ecs-service-token");
    assert!(document["proxy"]["nodeName"]
        .as_str()
        .is_some_and(|n| n.contains(":cluster/")));
    assert!(document["proxy"]["id"]
        .as_str()
        .is_some_and(|id| id.starts_with("web-") && id.ends_with("-sidecar-proxy")));
    assert_eq!(document["xdsServer"]["bindAddress"], "127.0.0.1");
    assert_eq!(document["envoy"]["readyBindAddress"], "127.0.0.1");
    assert_eq!(document["envoy"]["readyBindPort"], 22000);
    assert_eq!(document["logging"]["logLevel"], "INFO");
    // The bearer token in the file is a secret: never on the timeline.
    let bearer = login["bearerToken"].as_str().unwrap();
    assert!(
        bearer.len() > 100 && !out.contains(bearer),
        "{}",
        run.report()
    );
    assert!(
        !run.dir
            .path()
            .join("work/consul/envoy-bootstrap.json")
            .exists(),
        "no Envoy bootstrap in this layout"
    );
    // moto, mesh-init, health-sync, app-entrypoint and the app.
    run.assert_no_process_left(5);
}
