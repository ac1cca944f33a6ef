//! The task's containers as child processes, and the guarantee that none of them (nor
//! anything they started) outlives the demo, also on Ctrl-C.
//!
//! Each container's PID 1 gets its own process group, as if it were alone in a container:
//! a Ctrl-C on the terminal reaches only the demo, which then stops the task's processes
//! itself. The entrypoints put Envoy and the app into groups of their own, so killing a
//! container walks its whole process tree, and the demo is a child subreaper so that
//! anything orphaned on the way is re-parented to it and can be reaped.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use nix::sys::signal::{kill, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Set by the signal handler when the user (or a supervisor) asks the demo to stop.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: nix::libc::c_int) {
    // Only an atomic store: anything more is not async-signal-safe.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Makes SIGINT, SIGTERM and SIGHUP set a flag instead of killing the demo, so that the
/// demo can stop its processes before it exits.
pub fn install_interrupt_handler() -> Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_interrupt),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe, and no
        // other code in the demo installs handlers for these signals.
        unsafe { nix::sys::signal::sigaction(sig, &action) }
            .with_context(|| format!("install a {sig} handler"))?;
    }
    Ok(())
}

/// Whether SIGINT/SIGTERM/SIGHUP arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Orphans of the task's processes (Envoy, once envoy-entrypoint is gone) are re-parented
/// to the demo instead of init, so the final sweep can kill and reap them.
pub fn become_subreaper() -> Result<()> {
    nix::sys::prctl::set_child_subreaper(true).context("become a child subreaper")
}

/// One container's main process.
pub struct Container {
    /// The ECS container name (`sidecar-proxy`, `app`, ...).
    pub name: &'static str,
    /// The actor name in the timeline (`envoy`, `app`, ...).
    pub who: &'static str,
    child: Child,
    log: PathBuf,
    /// How many bytes of the log [`Container::new_log_lines`] has handed out.
    log_read: usize,
    exit: Option<ExitStatus>,
}

impl Container {
    /// Starts `command` as the container's PID 1: its own process group, stdin from
    /// /dev/null, stdout and stderr into `log`.
    pub fn start(
        name: &'static str,
        who: &'static str,
        mut command: Command,
        log: &Path,
    ) -> Result<Container> {
        use std::os::unix::process::CommandExt;
        let out = File::create(log).with_context(|| format!("create {}", log.display()))?;
        let err = out.try_clone().context("duplicate the log file handle")?;
        command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = command
            .spawn()
            .with_context(|| format!("start {name}: {:?}", command.get_program()))?;
        Ok(Container {
            name,
            who,
            child,
            log: log.to_path_buf(),
            log_read: 0,
            exit: None,
        })
    }

    /// The process ID of the container's PID 1.
    pub fn pid(&self) -> i32 {
        // Linux PIDs fit in i32 (pid_max <= 2^22).
        self.child.id() as i32
    }

    /// Where the container's output goes.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Sends `sig` to the container's PID 1 only, as ECS does on stop.
    pub fn signal(&self, sig: Signal) -> Result<()> {
        kill(Pid::from_raw(self.pid()), sig)
            .with_context(|| format!("send {sig} to {} (pid {})", self.name, self.pid()))
    }

    /// The exit status if the process has ended (checked without blocking).
    pub fn poll_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(status);
            }
        }
        self.exit
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.poll_exit().is_none()
    }

    /// The complete lines written to the log since the last call, colour codes removed.
    pub fn new_log_lines(&mut self) -> Vec<String> {
        let Ok(bytes) = std::fs::read(&self.log) else {
            return Vec::new();
        };
        let Some(fresh) = bytes.get(self.log_read..) else {
            return Vec::new();
        };
        // Only whole lines: the rest is still being written.
        let Some(end) = fresh.iter().rposition(|&b| b == b'\n') else {
            return Vec::new();
        };
        self.log_read += end + 1;
        String::from_utf8_lossy(&fresh[..end])
            .lines()
            .map(strip_ansi)
            .collect()
    }

    /// The last `lines` lines of the container's log (for failure reports).
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// SIGKILLs the container's whole process tree, every process group in it, and reaps
    /// the container's PID 1.
    pub fn kill_tree(&mut self) {
        if self.exit.is_none() {
            kill_tree(self.pid());
            if let Ok(status) = self.child.wait() {
                self.exit = Some(status);
            }
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        self.kill_tree();
    }
}

/// The process IDs below `pid` (children, grandchildren, ...).
pub fn descendants(pid: i32) -> Vec<i32> {
    testkit::procfs::descendants(pid)
}

/// SIGKILLs `pid`, everything below it, and the process groups they lead. Errors are
/// ignored: a process may exit on its own between the listing and the kill.
fn kill_tree(pid: i32) {
    let mut tree = descendants(pid);
    tree.insert(0, pid);
    for p in tree {
        // Our own group is never one of these: every container got a group of its own.
        let _ = kill(Pid::from_raw(-p), Signal::SIGKILL);
        let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
    }
}

/// The last line of defence, run when the demo ends for any reason: SIGKILL whatever
/// process is still below the demo and reap it (as subreaper, orphans land here too).
/// Returns how many processes had to be killed.
pub fn sweep() -> usize {
    let me = std::process::id() as i32;
    // Zombies (killed orphans re-parented to us) only need reaping; they are not counted.
    let left: Vec<i32> = descendants(me)
        .into_iter()
        .filter(|&p| !is_zombie(p))
        .collect();
    for &p in &left {
        kill_tree(p);
    }
    // Reap everything that is ours, including orphans re-parented to us, until none is
    // left. Bounded: a SIGKILLed process dies promptly, but do not hang the exit on it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => std::thread::sleep(std::time::Duration::from_millis(10)),
            Ok(_) => {}
            Err(_) => break, // ECHILD: nothing left to reap
        }
    }
    left.len()
}

/// Whether `pid` has exited and waits to be reaped (state `Z` in /proc/<pid>/stat).
fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit_once(") ")?.1.chars().next()?;
            Some(state == 'Z')
        })
        .unwrap_or(false)
}

/// Removes ANSI escape sequences (`ESC [ ... letter`) from a log line.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip the introducer and everything up to the final byte (@ to ~).
            for d in chars.by_ref() {
                if ('@'..='~').contains(&d) && d != '[' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What an exit status means, for the timeline: `code 0`, `code 143 (128+SIGTERM)`.
pub fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) if code > 128 && code < 128 + 32 => match Signal::try_from(code - 128) {
            Ok(sig) => format!("code {code} (128+{sig}: its child was ended by {sig})"),
            Err(_) => format!("code {code}"),
        },
        (Some(code), _) => format!("code {code}"),
        (None, Some(sig)) => match Signal::try_from(sig) {
            Ok(sig) => format!("killed by {sig}"),
            Err(_) => format!("killed by signal {sig}"),
        },
        (None, None) => "an unknown status".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn killing_a_container_kills_grandchildren_in_other_groups() {
        let dir = tempfile::tempdir().unwrap();
        // The shell starts a grandchild in a new session (so a new process group), like
        // the entrypoints do with Envoy, and waits on it.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "setsid sleep 30 & echo $! > grandchild.pid; wait"])
            .current_dir(dir.path());
        let mut c = Container::start("app", "app", cmd, &dir.path().join("log")).unwrap();
        let pidfile = dir.path().join("grandchild.pid");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(&pidfile).map_or(true, |s| s.trim().is_empty()) {
            assert!(Instant::now() < deadline, "grandchild never started");
            std::thread::sleep(Duration::from_millis(10));
        }
        let grandchild: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(descendants(c.pid()).contains(&grandchild));
        c.kill_tree();
        assert!(!c.running());
        // The grandchild is no longer ours to reap (its parent was the shell); wait until
        // it is gone or a zombie awaiting its new parent.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let stat =
                std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap_or_default();
            let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
            if stat.is_empty() || state == Some('Z') {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "grandchild {grandchild} survived: {stat}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn log_lines_come_whole_once_and_without_colours() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "printf '\\033[2m2026\\033[0m \\033[32m INFO\\033[0m one\\ntwo\\nthr'",
        ]);
        let mut c = Container::start("app", "app", cmd, &dir.path().join("log")).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while c.running() {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(c.new_log_lines(), ["2026  INFO one", "two"]);
        assert!(c.new_log_lines().is_empty(), "lines are handed out once");
        std::fs::write(dir.path().join("log"), "x\n".repeat(20)).unwrap();
        assert_eq!(c.log_tail(2), "x\nx");
    }

    #[test]
    fn exit_statuses_read_as_text() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(describe_exit(ExitStatus::from_raw(0)), "code 0");
        assert_eq!(
            describe_exit(ExitStatus::from_raw(143 << 8)),
            "code 143 (128+SIGTERM: its child was ended by SIGTERM)"
        );
        assert_eq!(describe_exit(ExitStatus::from_raw(9)), "killed by SIGKILL");
    }
}
