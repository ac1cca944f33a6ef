//! Real processes, real signals: each test runs the `supervise` binary over a
//! small `sh` script whose traps write files, signals the supervisor with
//! kill(2), and checks what the script saw and the supervisor's exit status.
//!
//! The supervisor runs in its own process, never in this test harness,
//! because its signal handlers are process-wide.

use std::fmt::Write as _;
use std::fs;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::libc;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

/// Generous upper bound for anything that should happen "promptly"; the
/// machine may be busy compiling. Lower bounds (delays honoured) are exact.
const PROMPTLY: Duration = Duration::from_secs(10);

/// Script prelude: record the child's pid (= its process group, for cleanup)
/// before anything else.
const PRELUDE: &str = "echo $$ > child.pid\n";

/// Keeps the script alive in small steps so traps run quickly (sh runs a
/// trap only after the current foreground command ends). Bounded so a leaked
/// script dies on its own.
const IDLE: &str = "i=0; while [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; exit 99\n";

/// One supervisor process and its scratch directory.
struct Fixture {
    supervisor: Child,
    dir: tempfile::TempDir,
    args: Vec<String>,
    script: String,
    /// The supervisor runs as PID 1 of a new PID namespace, under
    /// `unshare`, which is then the process we spawned.
    in_pid_namespace: bool,
}

impl Fixture {
    /// Starts `supervise ARGS -- sh -c SCRIPT` in a fresh directory, which is
    /// also the script's working directory.
    fn start(args: &[&str], script: &str) -> Self {
        let script = format!("{PRELUDE}{script}");
        Self::start_command(args, &["sh", "-c", &script], tempfile::tempdir().unwrap())
    }

    /// Starts `supervise ARGS -- COMMAND...` in `dir`.
    fn start_command(args: &[&str], command: &[&str], dir: tempfile::TempDir) -> Self {
        Self::launch(
            Command::new(env!("CARGO_BIN_EXE_supervise")),
            args,
            command,
            dir,
            false,
        )
    }

    /// Like [`Fixture::start`], with the supervisor as PID 1 of a new PID
    /// namespace (as in a container without an init process), with its own
    /// /proc. `--kill-child` ties the namespace's life to `unshare`'s.
    fn start_as_pid_1(args: &[&str], script: &str) -> Self {
        let mut unshare = Command::new("unshare");
        unshare.args([
            "--pid",
            "--mount-proc",
            "--kill-child",
            env!("CARGO_BIN_EXE_supervise"),
        ]);
        let script = format!("{PRELUDE}{script}");
        Self::launch(
            unshare,
            args,
            &["sh", "-c", &script],
            tempfile::tempdir().unwrap(),
            true,
        )
    }

    fn launch(
        mut launcher: Command,
        args: &[&str],
        command: &[&str],
        dir: tempfile::TempDir,
        in_pid_namespace: bool,
    ) -> Self {
        let stderr = fs::File::create(dir.path().join("supervise.log")).unwrap();
        let supervisor = launcher
            .args(args)
            .arg("--")
            .args(command)
            .current_dir(dir.path())
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        Fixture {
            supervisor,
            dir,
            args: args.iter().map(|s| s.to_string()).collect(),
            script: command.join(" "),
            in_pid_namespace,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The supervisor's pid as seen from this test.
    fn pid(&self) -> Pid {
        let spawned = self.supervisor.id();
        if !self.in_pid_namespace {
            return Pid::from_raw(spawned as i32);
        }
        // unshare --fork has exactly one child: the supervisor.
        let children = fs::read_to_string(format!("/proc/{spawned}/task/{spawned}/children"));
        match children.as_deref().map(str::trim).map(str::parse) {
            Ok(Ok(pid)) => Pid::from_raw(pid),
            other => panic!("no supervisor under unshare: {other:?}\n{}", self.report()),
        }
    }

    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    /// Everything needed to understand a failure without re-running it.
    fn report(&self) -> String {
        let mut out = format!(
            "supervise {:?} -- <command>\n--- command ---\n{}\n--- files ---\n",
            self.args, self.script
        );
        let mut names: Vec<_> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names.iter().filter(|n| *n != "supervise.log") {
            let _ = writeln!(out, "{name}: {:?}", self.read(name));
        }
        let _ = write!(
            out,
            "--- supervisor stderr ---\n{}",
            self.read("supervise.log")
        );
        out
    }

    fn signal(&self, signal: Signal) {
        kill(self.pid(), signal).unwrap();
    }

    /// Polls until `cond` holds; panics with the report after `timeout`.
    /// Returns how long it took.
    fn wait_until(&self, what: &str, timeout: Duration, cond: impl Fn(&Self) -> bool) -> Duration {
        let start = Instant::now();
        while !cond(self) {
            if start.elapsed() > timeout {
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n{}",
                    self.report()
                );
            }
            sleep(Duration::from_millis(10));
        }
        start.elapsed()
    }

    /// Waits for the script to write `name` (its traps are then installed).
    fn wait_file(&self, name: &str) -> Duration {
        self.wait_until(&format!("file {name}"), PROMPTLY, |f| f.path(name).exists())
    }

    /// Waits until file `name` contains `needle`.
    fn wait_contains(&self, name: &str, needle: &str) -> Duration {
        self.wait_until(&format!("{needle:?} in {name}"), PROMPTLY, |f| {
            f.read(name).contains(needle)
        })
    }

    /// Waits for the supervisor to exit and returns its exit code and how
    /// long that took.
    fn wait_exit(&mut self, timeout: Duration) -> (i32, Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.supervisor.try_wait().unwrap() {
                let code = status
                    .code()
                    .unwrap_or_else(|| panic!("supervisor killed: {status:?}\n{}", self.report()));
                return (code, start.elapsed());
            }
            if start.elapsed() > timeout {
                panic!(
                    "supervisor still running after {timeout:?}\n{}",
                    self.report()
                );
            }
            sleep(Duration::from_millis(10));
        }
    }

    fn expect_exit(&mut self, expected: i32) -> Duration {
        let (code, took) = self.wait_exit(PROMPTLY);
        assert_eq!(code, expected, "supervisor exit code\n{}", self.report());
        took
    }

    /// Asserts that file `name` does not contain `needle` right now.
    fn assert_lacks(&self, name: &str, needle: &str) {
        assert!(
            !self.read(name).contains(needle),
            "{needle:?} must not be in {name} yet\n{}",
            self.report()
        );
    }
}

impl Drop for Fixture {
    /// No leaked processes when a test fails half-way.
    fn drop(&mut self) {
        let _ = self.supervisor.kill();
        let _ = self.supervisor.wait();
        // In a PID namespace child.pid holds a namespace pid, meaningless
        // here; the namespace died with unshare (--kill-child) anyway.
        if self.in_pid_namespace {
            return;
        }
        if let Ok(pgid) = self.read("child.pid").trim().parse::<i32>() {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
    }
}

#[test]
fn exit_code_of_the_child_is_propagated() {
    for code in [0, 3, 42] {
        let mut f = Fixture::start(&[], &format!("exit {code}"));
        f.expect_exit(code);
    }
}

#[test]
fn child_killed_by_a_signal_gives_128_plus_signal() {
    for (signal, code) in [("KILL", 137), ("USR1", 138), ("TERM", 143)] {
        let mut f = Fixture::start(&[], &format!("kill -{signal} $$"));
        f.expect_exit(code);
    }
}

#[test]
fn program_that_cannot_start_is_an_error_naming_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_supervise"))
        .args(["--", "/nonexistent/consul-ecs-test-program", "arg"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("cannot start \"/nonexistent/consul-ecs-test-program\""),
        "stderr: {stderr}"
    );
}

/// Forwarded signals reach the child process only; the final SIGTERM
/// (Forward policy) reaches its whole process group.
#[test]
fn signals_are_forwarded_to_the_child_and_sigterm_to_its_group() {
    let forwarded = [
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
        Signal::SIGALRM,
        Signal::SIGTSTP,
        Signal::SIGCONT,
    ];
    let mut script = String::new();
    // A grandchild in the same process group, with its own traps.
    script.push_str(&format!(
        "sh -c 'trap \"echo HUP >> grand\" HUP; trap \"echo TERM >> grand; exit 0\" TERM; \
         : > grand.ready; {}' &\n",
        IDLE.trim_end()
    ));
    for s in forwarded {
        let name = &s.as_str()[3..];
        script.push_str(&format!("trap 'echo {name} >> got' {name}\n"));
    }
    // Real-time signals, by number (sh has no names for them).
    let realtime = [libc::SIGRTMIN(), libc::SIGRTMIN() + 5, libc::SIGRTMAX()];
    for n in realtime {
        script.push_str(&format!("trap 'echo RT{n} >> got' {n}\n"));
    }
    // Swallowed by the supervisor: must never show up here.
    for name in ["TTIN", "TTOU", "XCPU", "XFSZ"] {
        script.push_str(&format!("trap 'echo {name} >> got' {name}\n"));
    }
    script.push_str("trap 'echo TERM >> got; exit 0' TERM\n");
    script.push_str("while [ ! -e grand.ready ]; do sleep 0.01; done; : > ready\n");
    script.push_str(IDLE);
    let mut f = Fixture::start(&[], &script);
    f.wait_file("ready");

    // Ignored or swallowed by the supervisor (never forwarded; a stop
    // signal would also stop the supervisor): checked at the end.
    for s in [
        Signal::SIGPIPE,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
        Signal::SIGXCPU,
        Signal::SIGXFSZ,
    ] {
        f.signal(s);
    }
    for s in forwarded {
        f.signal(s);
        f.wait_contains("got", &format!("{}\n", &s.as_str()[3..]));
    }
    for n in realtime {
        // SAFETY: kill(2) only takes integers; nix's Signal has no RT signals.
        assert_eq!(unsafe { libc::kill(f.pid().as_raw(), n) }, 0);
        f.wait_contains("got", &format!("RT{n}\n"));
    }
    f.assert_lacks("got", "TERM");

    f.signal(Signal::SIGTERM);
    f.expect_exit(0);
    f.wait_contains("grand", "TERM");
    assert_eq!(
        f.read("grand"),
        "TERM\n",
        "grandchild got only the group SIGTERM\n{}",
        f.report()
    );
    for name in ["PIPE", "TTIN", "TTOU", "XCPU", "XFSZ"] {
        f.assert_lacks("got", name);
    }
}

#[test]
fn delay_holds_sigterm_for_the_delay() {
    let delay = Duration::from_millis(800);
    let mut f = Fixture::start(
        &["--delay-ms", &delay.as_millis().to_string()],
        &format!("trap 'echo TERM > term; exit 0' TERM\n: > ready\n{IDLE}"),
    );
    f.wait_file("ready");
    f.signal(Signal::SIGTERM);
    let took = f.wait_file("term");
    assert!(
        took >= delay,
        "SIGTERM arrived after {took:?}, before the {delay:?} delay\n{}",
        f.report()
    );
    f.expect_exit(0);
}

#[test]
fn zero_delay_passes_sigterm_on_at_once() {
    let mut f = Fixture::start(
        &["--delay-ms", "0"],
        &format!("trap 'echo TERM > term; exit 0' TERM\n: > ready\n{IDLE}"),
    );
    f.wait_file("ready");
    f.signal(Signal::SIGTERM);
    f.wait_file("term");
    f.expect_exit(0);
}

#[test]
fn child_exiting_during_the_delay_ends_supervision_at_once() {
    let mut f = Fixture::start(
        &["--delay-ms", "60000"],
        &format!("trap 'echo TERM > term; exit 0' TERM\ntrap 'exit 7' USR1\n: > ready\n{IDLE}"),
    );
    f.wait_file("ready");
    f.signal(Signal::SIGTERM);
    sleep(Duration::from_millis(200));
    // Other signals are still forwarded during the delay.
    f.signal(Signal::SIGUSR1);
    let took = f.expect_exit(7);
    assert!(took < PROMPTLY, "took {took:?}");
    f.assert_lacks("term", "TERM");
}

#[test]
fn second_sigterm_during_the_delay_reaches_the_child() {
    let mut f = Fixture::start(
        &["--delay-ms", "60000"],
        &format!("trap 'echo TERM > term; exit 0' TERM\n: > ready\n{IDLE}"),
    );
    f.wait_file("ready");
    f.signal(Signal::SIGTERM);
    sleep(Duration::from_millis(300));
    f.assert_lacks("term", "TERM");
    f.signal(Signal::SIGTERM);
    f.wait_file("term");
    f.expect_exit(0);
}

#[test]
fn wait_for_holds_sigterm_until_the_hook_resolves_and_swallows_more() {
    let mut f = Fixture::start(
        &["--wait-for-file", "release"],
        &format!("trap 'echo TERM >> term; exit 0' TERM\n: > ready\n{IDLE}"),
    );
    f.wait_file("ready");
    f.signal(Signal::SIGTERM);
    sleep(Duration::from_millis(400));
    f.assert_lacks("term", "TERM");
    // Swallowed: neither forwarded nor a second hook run.
    f.signal(Signal::SIGTERM);
    sleep(Duration::from_millis(300));
    f.assert_lacks("term", "TERM");

    let released = Instant::now();
    fs::write(f.path("release"), "").unwrap();
    f.wait_file("term");
    f.expect_exit(0);
    assert_eq!(
        f.read("term"),
        "TERM\n",
        "exactly one SIGTERM after release\n{}",
        f.report()
    );
    assert!(released.elapsed() < PROMPTLY);
}

#[test]
fn child_exiting_while_the_hook_runs_ends_supervision() {
    let mut f = Fixture::start(
        &["--wait-for-file", "never-created"],
        &format!("trap 'exit 5' USR1\n: > ready\n{IDLE}"),
    );
    f.wait_file("ready");
    f.signal(Signal::SIGTERM);
    sleep(Duration::from_millis(200));
    f.signal(Signal::SIGUSR1);
    f.expect_exit(5);
}

/// Parent pid and state letter from /proc/PID/stat, if the process exists.
fn proc_stat(pid: i32) -> Option<(i32, char)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ppid ..."; comm may contain spaces, so split after ')'.
    let after = &stat[stat.rfind(')')? + 2..];
    let mut fields = after.split(' ');
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((ppid, state))
}

#[test]
fn subreaper_reaps_orphaned_grandchildren_and_keeps_the_child_status() {
    // The inner sh exits at once, orphaning its background loop, which the
    // kernel re-parents to the nearest subreaper: the supervisor.
    let script = format!(
        "trap 'exit 9' TERM\n\
         sh -c 'while [ ! -e go ]; do sleep 0.01; done & echo $! > orphan.pid'\n\
         : > ready\n{IDLE}"
    );
    let mut f = Fixture::start(&["--subreaper"], &script);
    f.wait_file("ready");
    let orphan: i32 = f.read("orphan.pid").trim().parse().unwrap();
    let supervisor = f.pid().as_raw();
    f.wait_until("orphan re-parented to the supervisor", PROMPTLY, |_| {
        proc_stat(orphan).map(|(ppid, _)| ppid) == Some(supervisor)
    });

    fs::write(f.path("go"), "").unwrap();
    // Without reaping it would stay a zombie ('Z') of the supervisor.
    f.wait_until("orphan reaped", PROMPTLY, |_| match proc_stat(orphan) {
        None => true,
        Some((ppid, _)) => ppid != supervisor,
    });
    assert!(
        f.supervisor.try_wait().unwrap().is_none(),
        "supervisor must keep running after reaping an orphan\n{}",
        f.report()
    );
    assert!(
        f.read("supervise.log").contains("reaped orphaned process"),
        "{}",
        f.report()
    );

    f.signal(Signal::SIGTERM);
    f.expect_exit(9);
}

#[test]
fn without_subreaper_orphans_are_not_ours() {
    let script = format!(
        "sh -c 'while [ ! -e go ]; do sleep 0.01; done & echo $! > orphan.pid'\n\
         : > ready\n{IDLE}"
    );
    let mut f = Fixture::start(&[], &script);
    f.wait_file("ready");
    let orphan: i32 = f.read("orphan.pid").trim().parse().unwrap();
    let parent = proc_stat(orphan).map(|(ppid, _)| ppid);
    fs::write(f.path("go"), "").unwrap();
    // This test process is not a subreaper either, so the orphan goes to
    // an ancestor outside the test, not to the supervisor.
    assert_ne!(parent, Some(f.pid().as_raw()), "{}", f.report());
    f.signal(Signal::SIGTERM);
    f.expect_exit(128 + Signal::SIGTERM as i32);
}

#[test]
fn supervise_cli_rejects_a_missing_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_supervise"))
        .arg("--")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a command is required"));
}

/// The real Envoy as envoy-entrypoint runs it: SIGUSR1 and SIGHUP reach it at
/// once; SIGTERM is held while the stop hook runs, then stops it cleanly.
#[test]
fn envoy_keeps_serving_until_the_hook_resolves_then_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    // Port 0: Envoy picks a free port and writes the address to a file.
    fs::write(
        dir.path().join("envoy.yaml"),
        "admin:\n  address:\n    socket_address: { address: 127.0.0.1, port_value: 0 }\n",
    )
    .unwrap();
    let envoy = testkit::envoy::envoy_binary();
    let mut f = Fixture::start_command(
        &["--wait-for-file", "release"],
        &[
            envoy.to_str().unwrap(),
            "-c",
            "envoy.yaml",
            "--admin-address-path",
            "admin.address",
            "--disable-hot-restart",
            "--log-level",
            "info",
        ],
        dir,
    );
    // Envoy installs its signal handlers just before this line; a signal
    // sent earlier (even after the admin address is written) kills it.
    f.wait_until("Envoy's main loop", Duration::from_secs(30), |f| {
        f.read("supervise.log")
            .contains("starting main dispatch loop")
    });
    let admin = f.read("admin.address").trim().to_owned();
    let serving = || TcpStream::connect(&admin).is_ok();
    assert!(
        serving(),
        "Envoy admin not reachable at {admin}\n{}",
        f.report()
    );

    // Envoy's own log (its stderr is the supervisor's) shows what it got.
    f.signal(Signal::SIGUSR1);
    f.wait_contains("supervise.log", "caught SIGUSR1");
    f.signal(Signal::SIGHUP);
    f.wait_contains("supervise.log", "caught and eating SIGHUP");

    f.signal(Signal::SIGTERM);
    sleep(Duration::from_millis(500));
    f.assert_lacks("supervise.log", "caught ENVOY_SIGTERM");
    assert!(
        serving(),
        "Envoy must keep serving while the hook runs\n{}",
        f.report()
    );

    fs::write(f.path("release"), "").unwrap();
    f.expect_exit(0);
    f.wait_contains("supervise.log", "caught ENVOY_SIGTERM");
}

/// As PID 1 (no subreaper option needed) orphans are reaped: the script
/// orphans a short `sleep` and exits 6 once it has disappeared, 1 if it is
/// still there (as a zombie) after 5 s.
#[test]
fn pid_1_reaps_orphans_in_its_namespace() {
    let script = "sh -c 'sleep 0.1 & echo $! > orphan.pid'\n\
                  o=$(cat orphan.pid); i=0\n\
                  while [ -e /proc/$o ] && [ $i -lt 500 ]; do i=$((i+1)); sleep 0.01; done\n\
                  [ -e /proc/$o ] && { cat /proc/$o/stat > orphan.stat; exit 1; }\n\
                  exit 6\n";
    let mut f = Fixture::start_as_pid_1(&[], script);
    f.expect_exit(6);
    let log = f.read("supervise.log");
    assert!(log.contains("reap_all=true"), "{}", f.report());
    assert!(log.contains("reaped orphaned process"), "{}", f.report());
}

/// The kernel drops signals sent to a namespace's PID 1 unless it has a
/// handler for them: forwarding and SIGTERM must still work there, which is
/// how envoy-entrypoint runs in the sidecar container.
#[test]
fn pid_1_still_forwards_signals() {
    let mut f = Fixture::start_as_pid_1(
        &[],
        &format!(
            "trap 'echo HUP >> got' HUP\ntrap 'echo TERM >> got; exit 0' TERM\n: > ready\n{IDLE}"
        ),
    );
    f.wait_file("ready");
    f.signal(Signal::SIGHUP);
    f.wait_contains("got", "HUP");
    f.signal(Signal::SIGTERM);
    f.expect_exit(0);
    assert_eq!(f.read("got"), "HUP\nTERM\n", "{}", f.report());
}
