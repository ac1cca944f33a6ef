//! Whole-process measurements from the OS's own accounting.
//!
//! - A finished child: `wait4` gives its rusage — user and system CPU (µs) and peak RSS
//!   (`ru_maxrss`, KiB on Linux). Note that Linux folds the rusage of the child's own
//!   reaped children into it (`RUSAGE_BOTH`), so for a supervisor (envoy-entrypoint) these
//!   figures include Envoy; its own figures come from `/proc` instead.
//! - A running process: `/proc/<pid>/status` (`VmHWM`, the peak RSS so far; `VmRSS`) and
//!   `/proc/<pid>/task/*/sched` (`se.sum_exec_runtime`, CPU time in ns per thread; this
//!   kernel has schedstats off, so `/proc/<pid>/schedstat` reads 0, and `/proc/<pid>/stat`
//!   has only 10 ms ticks, too coarse for an idle process).
//!
//! Exit is awaited through a pidfd (`poll` with a timeout), so the wall clock stops when
//! the child exits, not at the next tick of a polling loop, and a deadline needs no
//! watchdog thread racing the reaper.

use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How a measured child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal number.
    Signal(i32),
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exit code {code}"),
            Exit::Signal(sig) => write!(f, "killed by signal {sig}"),
        }
    }
}

/// What the OS accounted for one finished child.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// From just before spawn to the moment the exit was observed.
    pub wall: Duration,
    /// User CPU time.
    pub user: Duration,
    /// System CPU time.
    pub sys: Duration,
    /// Peak resident set size in KiB (`ru_maxrss`).
    pub max_rss_kib: u64,
    /// How it ended.
    pub exit: Exit,
}

impl Usage {
    /// User + system CPU time.
    pub fn cpu(&self) -> Duration {
        self.user + self.sys
    }
}

/// A spawned child whose exit we await through a pidfd. Killed (with its own children)
/// and reaped when dropped unfinished.
pub struct Tracked {
    child: Child,
    pidfd: OwnedFd,
    started: Instant,
    reaped: bool,
}

impl Tracked {
    /// Spawns `cmd` and opens a pidfd for it.
    pub fn spawn(cmd: &mut Command) -> Result<Tracked> {
        let started = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("spawn {:?}", cmd.get_program()))?;
        let pid = pid_of(&child);
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; the pid is
        // our unreaped child, so it cannot have been reused.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            let err = std::io::Error::last_os_error();
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
            return Err(err).context("pidfd_open (Linux 5.3 or later is needed)");
        }
        // SAFETY: fd is a fresh descriptor we own.
        let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        Ok(Tracked {
            child,
            pidfd,
            started,
            reaped: false,
        })
    }

    /// The child's process id.
    pub fn pid(&self) -> i32 {
        pid_of(&self.child)
    }

    /// Sends `sig` to the child.
    pub fn signal(&self, sig: Signal) -> Result<()> {
        kill(Pid::from_raw(self.pid()), sig)
            .with_context(|| format!("send {sig} to {}", self.pid()))
    }

    /// Whether the child has exited (without reaping it, so `/proc` stays readable until
    /// then — a zombie's `/proc/<pid>/status` no longer has memory figures, though).
    pub fn exited(&self) -> bool {
        self.poll_exit(Duration::ZERO)
    }

    fn poll_exit(&self, limit: Duration) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(limit.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: one valid pollfd, count 1.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        n > 0
    }

    /// Waits up to `limit` for the exit and reaps the child with its rusage. On timeout
    /// the child is killed and an error returned.
    pub fn wait(mut self, limit: Duration) -> Result<Usage> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.poll_exit(left.min(Duration::from_secs(1))) {
                break;
            }
            if left.is_zero() {
                self.kill_tree();
                bail!("pid {} still running after {limit:?}; killed", self.pid());
            }
        }
        let wall = self.started.elapsed();
        self.reap(wall)
    }

    fn reap(&mut self, wall: Duration) -> Result<Usage> {
        let mut status = 0;
        // SAFETY: rusage is plain data the kernel fills in.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: our own child's pid; valid pointers to locals.
        let r = unsafe { libc::wait4(self.pid(), &mut status, libc::WNOHANG, &mut ru) };
        if r != self.pid() {
            bail!("wait4({}): {}", self.pid(), std::io::Error::last_os_error());
        }
        self.reaped = true;
        let exit = if libc::WIFEXITED(status) {
            Exit::Code(libc::WEXITSTATUS(status))
        } else {
            Exit::Signal(libc::WTERMSIG(status))
        };
        Ok(Usage {
            wall,
            user: timeval(ru.ru_utime),
            sys: timeval(ru.ru_stime),
            max_rss_kib: u64::try_from(ru.ru_maxrss).unwrap_or(0),
            exit,
        })
    }

    /// SIGKILLs the child's own children's process groups (Envoy runs in its own group
    /// under envoy-entrypoint) and the child.
    pub fn kill_tree(&mut self) {
        for pid in children(self.pid()) {
            let _ = kill(Pid::from_raw(-pid), Signal::SIGKILL);
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.child.kill();
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill_tree();
            let _ = self.child.wait();
        }
    }
}

fn pid_of(child: &Child) -> i32 {
    // Linux pids fit in i32 (pid_max ≤ 2^22).
    i32::try_from(child.id()).unwrap_or(i32::MAX)
}

fn timeval(tv: libc::timeval) -> Duration {
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u64::try_from(tv.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(micros)
}

/// Direct children of `pid`.
pub fn children(pid: i32) -> Vec<i32> {
    testkit::procfs::children(pid)
}

/// A `kB` field of `/proc/<pid>/status` text (`VmHWM`, `VmRSS`), in KiB.
pub fn status_field_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        let number = rest.trim().strip_suffix("kB")?.trim();
        number.parse().ok()
    })
}

/// Peak RSS so far of a running process, in KiB.
pub fn vm_hwm_kib(pid: i32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field_kib(&text, "VmHWM")
}

/// Current RSS of a running process, in KiB.
pub fn vm_rss_kib(pid: i32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field_kib(&text, "VmRSS")
}

/// `se.sum_exec_runtime` (milliseconds with a fraction) of `/proc/<pid>/task/<tid>/sched`
/// text, as a duration.
pub fn sched_runtime(sched: &str) -> Option<Duration> {
    sched.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        if key.trim() != "se.sum_exec_runtime" {
            return None;
        }
        let ms: f64 = value.trim().parse().ok()?;
        (ms.is_finite() && ms >= 0.0).then(|| Duration::from_secs_f64(ms / 1e3))
    })
}

/// CPU time of every live thread of `pid`, summed, with nanosecond resolution, and the
/// thread count. Threads that already exited are not included (their time is only in the
/// tick-resolution `/proc/<pid>/stat`), hence the count: compare it across samples.
pub fn thread_cpu(pid: i32) -> Result<(Duration, usize)> {
    let dir = format!("/proc/{pid}/task");
    let mut total = Duration::ZERO;
    let mut threads = 0;
    for entry in fs::read_dir(&dir).with_context(|| format!("read {dir}"))? {
        let path = entry
            .with_context(|| format!("read {dir}"))?
            .path()
            .join("sched");
        // A thread may exit between read_dir and here: skip it.
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        let runtime = sched_runtime(&text)
            .with_context(|| format!("no se.sum_exec_runtime in {}", path.display()))?;
        total += runtime;
        threads += 1;
    }
    Ok((total, threads))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_in_kib() {
        let status =
            "Name:\tconsul-ecs\nVmPeak:\t   20000 kB\nVmHWM:\t    4321 kB\nVmRSS:\t    4000 kB\n";
        assert_eq!(status_field_kib(status, "VmHWM"), Some(4321));
        assert_eq!(status_field_kib(status, "VmRSS"), Some(4000));
        assert_eq!(status_field_kib(status, "VmSwap"), None);
        // A prefix of another field's name does not match it.
        assert_eq!(status_field_kib(status, "Vm"), None);
    }

    #[test]
    fn sched_runtime_is_parsed_from_milliseconds() {
        let sched = "head (1, #threads: 1)\n---\nse.exec_start   :   2350175.366566\nse.sum_exec_runtime    :   12.500000\n";
        assert_eq!(sched_runtime(sched), Some(Duration::from_micros(12_500)));
        assert_eq!(sched_runtime("se.vruntime : 3.0\n"), None);
    }

    #[test]
    fn a_child_is_measured_by_wait4() {
        // A shell that burns a little CPU, then exits 3.
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exit 3",
        ]);
        let usage = Tracked::spawn(&mut cmd)
            .unwrap()
            .wait(Duration::from_secs(30))
            .unwrap();
        assert_eq!(usage.exit, Exit::Code(3));
        assert_eq!(usage.exit.to_string(), "exit code 3");
        assert!(usage.cpu() > Duration::ZERO, "{usage:?}");
        assert!(usage.max_rss_kib > 0, "{usage:?}");
        assert!(usage.wall >= usage.cpu() / 2, "{usage:?}");
    }

    #[test]
    fn a_signalled_child_reports_the_signal_and_a_timeout_kills() {
        let t = Tracked::spawn(Command::new("sleep").arg("30")).unwrap();
        assert!(!t.exited());
        let (cpu, threads) = thread_cpu(t.pid()).unwrap();
        assert_eq!(threads, 1);
        assert!(cpu < Duration::from_secs(1));
        assert!(vm_hwm_kib(t.pid()).unwrap() > 0);
        t.signal(Signal::SIGTERM).unwrap();
        let usage = t.wait(Duration::from_secs(10)).unwrap();
        assert_eq!(usage.exit, Exit::Signal(libc::SIGTERM));
        assert_eq!(usage.exit.to_string(), "killed by signal 15");

        let started = Instant::now();
        let err = Tracked::spawn(Command::new("sleep").arg("30"))
            .unwrap()
            .wait(Duration::from_millis(200))
            .unwrap_err();
        assert!(err.to_string().contains("still running"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
