//! Real processes, real signals: each test runs the `supervise` binary over a
//! small `sh` script whose traps write files, signals the supervisor with
//! kill(2), and checks what the script saw and the supervisor's exit status.
//!
//! The supervisor runs in its own process, never in this test harness,
//! because its signal handlers are process-wide.
//!
//! No test sleeps for a fixed time and then looks: each waits for something
//! it can observe (a file the script writes, a line of the supervisor's log).
//! To show that a held signal has *not* reached the child, a test sends a
//! later signal through the same supervisor as a barrier ([`Fixture::barrier`])
//! and looks once the child has seen that one.

use std::fmt::Write as _;
use std::fs;
use std::net::TcpStream;
use std::os::unix::process::ExitStatusExt;
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
/// before anything else, and count the barrier signals (SIGWINCH) it gets.
const PRELUDE: &str = "echo $$ > child.pid\ntrap 'echo B >> barrier' WINCH\n";

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

    /// Waits for the supervisor to be killed by a signal; returns it.
    fn wait_killed(&mut self) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(status) = self.supervisor.try_wait().unwrap() {
                return status.signal().unwrap_or_else(|| {
                    panic!(
                        "supervisor exited, not killed: {status:?}\n{}",
                        self.report()
                    )
                });
            }
            if start.elapsed() > PROMPTLY {
                panic!("supervisor still running\n{}", self.report());
            }
            sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGWINCH through the supervisor and waits until the child's
    /// trap has recorded it. Whatever the supervisor had sent the child
    /// before (in particular a SIGTERM it should be holding) has then been
    /// delivered too: the supervisor handled it earlier, and a shell runs
    /// pending traps in signal-number order (SIGTERM 15 before SIGWINCH 28).
    fn barrier(&self) {
        let seen = self.read("barrier").lines().count();
        self.signal(Signal::SIGWINCH);
        self.wait_until("the barrier signal to reach the child", PROMPTLY, |f| {
            f.read("barrier").lines().count() > seen
        });
    }

    /// Whether the supervisor is still running.
    fn running(&mut self) -> bool {
        self.supervisor.try_wait().unwrap().is_none()
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

/// The product runs the supervisor on a current-thread runtime (task::runtime::block_on),
/// so the `supervise` binary does too: every test here then exercises the signal handling,
/// the waits and the reaping on one thread, as in production.
#[test]
fn the_supervisor_runs_on_one_thread_as_the_product_does() {
    let mut f = Fixture::start(&[], &format!("trap 'exit 0' TERM\n: > ready\n{IDLE}"));
    f.wait_file("ready");
    let status = fs::read_to_string(format!("/proc/{}/status", f.pid())).unwrap();
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .map(str::trim);
    assert_eq!(threads, Some("1"), "{status}\n{}", f.report());
    f.signal(Signal::SIGTERM);
    f.expect_exit(0);
}

/// Runs `supervise -- PROGRAM` for a program that cannot start and checks
/// the shell's exit code and that the message names it and the reason.
fn expect_cannot_start(program: &str, code: i32, reason: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_supervise"))
        .args(["--", program, "arg"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(
        stderr.contains(&format!("cannot start {program:?}: {reason}")),
        "stderr: {stderr}"
    );
}

#[test]
fn program_that_is_not_found_exits_127_naming_it() {
    expect_cannot_start("/nonexistent/consul-ecs-test-program", 127, "not found");
    // Searched on PATH, as a shell would.
    expect_cannot_start("consul-ecs-no-such-program-on-path", 127, "not found");
}

#[test]
fn program_that_is_not_executable_exits_126_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("not-executable");
    fs::write(&plain, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&plain, fs::Permissions::from_mode(0o644)).unwrap();
    expect_cannot_start(plain.to_str().unwrap(), 126, "not executable");
    // Executable, but not a format the kernel can run (no #! line).
    let garbage = dir.path().join("garbage");
    fs::write(&garbage, [0x7f, b'E', b'L', b'F', 0, 1, 2, 3]).unwrap();
    fs::set_permissions(&garbage, fs::Permissions::from_mode(0o755)).unwrap();
    expect_cannot_start(garbage.to_str().unwrap(), 126, "not executable");
    expect_cannot_start(dir.path().to_str().unwrap(), 126, "not executable");
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
    script.push_str("trap 'echo TERM >> got; exit 0' TERM\n");
    script.push_str("while [ ! -e grand.ready ]; do sleep 0.01; done; : > ready\n");
    script.push_str(IDLE);
    let mut f = Fixture::start(&[], &script);
    f.wait_file("ready");

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
}

/// The signals that can also be raised about the supervisor itself: when
/// another process sends them, they are requests for the workload. Each
/// reaches the child; none kills, stops or otherwise ends the supervisor,
/// which exits with the child's own code at the end.
const SENDER_CHECKED: [Signal; 12] = [
    Signal::SIGPIPE,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGXCPU,
    Signal::SIGXFSZ,
    Signal::SIGILL,
    Signal::SIGTRAP,
    Signal::SIGABRT,
    Signal::SIGFPE,
    Signal::SIGSEGV,
    Signal::SIGBUS,
    Signal::SIGSYS,
];

#[test]
fn signals_that_may_be_our_own_are_forwarded_when_another_process_sends_them() {
    let mut script = String::new();
    for s in SENDER_CHECKED {
        let name = &s.as_str()[3..];
        script.push_str(&format!("trap 'echo {name} >> got' {name}\n"));
    }
    script.push_str(&format!("trap 'exit 3' TERM\n: > ready\n{IDLE}"));
    let mut f = Fixture::start(&[], &script);
    f.wait_file("ready");
    for s in SENDER_CHECKED {
        f.signal(s);
        f.wait_contains("got", &format!("{}\n", &s.as_str()[3..]));
        assert!(f.running(), "{s} ended the supervisor\n{}", f.report());
    }
    let log = f.read("supervise.log");
    assert!(
        log.contains(&format!("sender={}", std::process::id())),
        "the log names the sender\n{}",
        f.report()
    );
    f.signal(Signal::SIGTERM);
    f.expect_exit(3);
}

/// A fault signal sent with kill(2) goes to the child, whose default action
/// is to die of it: the supervisor reports that (128 + N) instead of dying
/// first and leaving the child behind.
#[test]
fn fault_signals_sent_by_kill_kill_the_child_not_the_supervisor() {
    for s in [
        Signal::SIGILL,
        Signal::SIGTRAP,
        Signal::SIGABRT,
        Signal::SIGFPE,
        Signal::SIGSEGV,
        Signal::SIGBUS,
        Signal::SIGSYS,
    ] {
        // No core files from the child's death.
        let mut f = Fixture::start(&[], &format!("ulimit -c 0\n: > ready\n{IDLE}"));
        f.wait_file("ready");
        f.signal(s);
        f.expect_exit(128 + s as i32);
    }
}

/// The supervisor's own faults still end it: a real invalid memory access
/// (SIGSEGV from the kernel) and abort() (SIGABRT it raises itself) kill the
/// supervisor with that signal, promptly (no handler looping on the fault),
/// and are not forwarded: the child never sees them.
#[test]
fn own_faults_still_kill_the_supervisor_and_are_not_forwarded() {
    for (kind, signal) in [("segv", Signal::SIGSEGV), ("abort", Signal::SIGABRT)] {
        let mut f = Fixture::start(
            &["--fault-on-file", "crash", kind],
            &format!(
                "trap 'echo SEGV >> got' SEGV\ntrap 'echo ABRT >> got' ABRT\n: > ready\n{IDLE}"
            ),
        );
        f.wait_file("ready");
        fs::write(f.path("crash"), "").unwrap();
        assert_eq!(f.wait_killed(), signal as i32, "{kind}\n{}", f.report());
        // The child outlives the supervisor (the fixture kills it): had the
        // signal been forwarded, its trap would have recorded it at once.
        let child = Pid::from_raw(f.read("child.pid").trim().parse().unwrap());
        let alive = kill(child, None).is_ok();
        assert!(alive, "{kind}: the child is gone\n{}", f.report());
        // A barrier sent to the child directly: a SEGV (11) or ABRT (6) it
        // had been sent would run its trap before this SIGWINCH (28).
        kill(child, Signal::SIGWINCH).unwrap();
        f.wait_contains("barrier", "B");
        f.assert_lacks("got", "SEGV");
        f.assert_lacks("got", "ABRT");
    }
}

/// A write of the supervisor's to a closed pipe (its log, here) makes the
/// kernel raise SIGPIPE in the supervisor. That one is ours: dropped, never
/// forwarded, where forwarding would kill an unsuspecting child.
#[test]
fn own_sigpipe_from_a_broken_log_pipe_is_not_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    // Close-on-exec, or the supervisor (and the processes other tests start
    // meanwhile) would inherit the read end and keep the pipe whole.
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    // The child must not share the broken pipe: it logs to a file instead.
    let script = format!(
        "{PRELUDE}exec 2> child.err\ntrap 'echo PIPE >> got' PIPE\n\
         trap 'echo HUP >> got' HUP\ntrap 'exit 0' TERM\n: > ready\n{IDLE}"
    );
    let supervisor = Command::new(env!("CARGO_BIN_EXE_supervise"))
        .args(["--", "sh", "-c", &script])
        .current_dir(dir.path())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stderr(Stdio::from(write_end))
        .spawn()
        .unwrap();
    drop(read_end);
    let mut f = Fixture {
        supervisor,
        dir,
        args: vec![],
        script,
        in_pid_namespace: false,
    };
    f.wait_file("ready");
    // Forwarding SIGHUP logs a line: the write fails with EPIPE and raises
    // SIGPIPE in the supervisor.
    f.signal(Signal::SIGHUP);
    f.wait_contains("got", "HUP");
    // Had the SIGPIPE been forwarded, it went before this barrier's SIGWINCH
    // (the supervisor looks at such signals first) and SIGPIPE (13) runs
    // before SIGWINCH (28) in the child.
    f.barrier();
    f.assert_lacks("got", "PIPE");
    assert!(f.running(), "{}", f.report());
    f.signal(Signal::SIGTERM);
    f.expect_exit(0);
}

/// The supervisor's log lines that show how it took a SIGTERM.
const HOLDING_FOR_DELAY: &str = "holding it for the shutdown delay";
const HOLDING_FOR_HOOK: &str = "holding it until the stop hook finishes";
const SWALLOWED: &str = "SIGTERM swallowed";

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
    f.wait_contains("supervise.log", HOLDING_FOR_DELAY);
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
    f.wait_contains("supervise.log", HOLDING_FOR_DELAY);
    f.barrier();
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
    f.wait_contains("supervise.log", HOLDING_FOR_HOOK);
    f.barrier();
    f.assert_lacks("term", "TERM");
    // Swallowed: neither forwarded nor a second hook run.
    f.signal(Signal::SIGTERM);
    f.wait_contains("supervise.log", SWALLOWED);
    f.barrier();
    f.assert_lacks("term", "TERM");
    assert_eq!(
        f.read("supervise.log").matches(HOLDING_FOR_HOOK).count(),
        1,
        "one hook run\n{}",
        f.report()
    );

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
    f.wait_contains("supervise.log", HOLDING_FOR_HOOK);
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
    f.wait_contains("supervise.log", HOLDING_FOR_HOOK);
    // A barrier: a second SIGHUP through the supervisor. Had the SIGTERM
    // been passed on, Envoy would have got it well before this one (the
    // supervisor handled it first) and logged it first.
    f.signal(Signal::SIGHUP);
    f.wait_until("Envoy's second SIGHUP", PROMPTLY, |f| {
        f.read("supervise.log")
            .matches("caught and eating SIGHUP")
            .count()
            == 2
    });
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

/// A new pseudo-terminal: (master, slave), both close-on-exec.
fn open_pty() -> (fs::File, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain libc calls on descriptors this function owns; the name
    // buffer is valid and NUL-terminated by ptsname_r on success.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(
            master >= 0,
            "posix_openpt: {}",
            std::io::Error::last_os_error()
        );
        let master_file = fs::File::from_raw_fd(master);
        assert_eq!(libc::grantpt(master), 0);
        assert_eq!(libc::unlockpt(master), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(master, name.as_mut_ptr(), name.len()), 0);
        let slave = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        assert!(
            slave >= 0,
            "open slave: {}",
            std::io::Error::last_os_error()
        );
        (master_file, std::os::fd::OwnedFd::from_raw_fd(slave))
    }
}

/// The supervisor as a background job of a shell on a terminal with
/// `tostop`: its first log line makes the kernel raise SIGTTOU in it. Left at
/// default that would stop it; caught and dropped, the kernel would raise it
/// again on every restart of the write (a busy loop). It is ignored from then
/// on, so the write goes through and supervision carries on.
#[test]
fn own_sigttou_as_a_background_job_is_ignored_from_then_on() {
    use std::io::Read;
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().unwrap();
    let (mut master, slave) = open_pty();
    fs::write(
        dir.path().join("child.sh"),
        // Off the terminal: the child is a background job too, and its shell
        // reports the group SIGTERM's victims ("Terminated") on stderr.
        format!(
            "exec < /dev/null > child.out 2>&1\n{PRELUDE}trap 'exit 0' TERM\n: > ready\n{IDLE}"
        ),
    )
    .unwrap();
    let job = format!(
        "set -m; stty tostop; {} -- sh child.sh & echo $! > supervise.pid; wait $!",
        env!("CARGO_BIN_EXE_supervise"),
    );
    // setsid --ctty: a new session whose controlling terminal is the pty;
    // with `set -m` the shell keeps the foreground and puts the job in a
    // process group of its own, in the background.
    let shell = Command::new("setsid")
        .args(["--ctty", "sh", "-c", &job])
        .current_dir(dir.path())
        .env("RUST_LOG", "info")
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    let output = Arc::new(Mutex::new(Vec::new()));
    let sink = output.clone();
    // Ends with EIO once every process has closed the terminal.
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let mut f = Fixture {
        supervisor: shell,
        dir,
        args: vec!["(a background job on a pty)".into()],
        script: job,
        in_pid_namespace: false,
    };
    // The supervisor is the shell's child, not ours: kill it too when the
    // test fails (a supervisor looping on SIGTTOU would spin for ever).
    struct KillJob(PathBuf);
    impl Drop for KillJob {
        fn drop(&mut self) {
            let pid = fs::read_to_string(&self.0).unwrap_or_default();
            if let Ok(pid) = pid.trim().parse() {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
    let _job = KillJob(f.path("supervise.pid"));
    let terminal = || String::from_utf8_lossy(&output.lock().unwrap()).into_owned();
    let report = |f: &Fixture| format!("{}\n--- terminal ---\n{}", f.report(), terminal());
    let start = Instant::now();
    while !(terminal().contains("ignored from now on") && terminal().contains("started child")) {
        assert!(
            start.elapsed() < PROMPTLY,
            "no log on the terminal\n{}",
            report(&f)
        );
        sleep(Duration::from_millis(10));
    }
    let supervisor: i32 = f.read("supervise.pid").trim().parse().unwrap();
    let state = proc_stat(supervisor).map(|(_, state)| state);
    assert!(
        matches!(state, Some('S' | 'R')),
        "supervisor state {state:?}\n{}",
        report(&f)
    );
    f.wait_file("ready");
    kill(Pid::from_raw(supervisor), Signal::SIGTERM).unwrap();
    let (code, _) = f.wait_exit(PROMPTLY);
    assert_eq!(
        code,
        0,
        "the job's exit code, through the shell\n{}",
        report(&f)
    );
}
