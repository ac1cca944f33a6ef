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
use std::path::{Path, PathBuf};
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

/// `bench __launch <report> <program> [args...]`: the bench binary as a launcher of one
/// measured run (see [`Launched`]).
pub const LAUNCH: &str = "__launch";

/// A short-lived command run to its end through a launcher: a fresh, single-threaded
/// `bench __launch` process that starts it as its ptrace tracee, reads its `VmHWM` at its
/// exit, reaps it with `wait4` and writes the figures to a report file.
///
/// Why not `wait4`'s `ru_maxrss`: the child of a spawn starts on its parent's memory (a
/// `CLONE_VM` spawn shares it until `exec`; a fork copies it) and Linux keeps that memory's
/// high-water mark in the child's `ru_maxrss` across `exec`. So a child spawned by the
/// harness reports at least the harness's peak (emulators with thousands of tasks by the
/// later rows), and one spawned by any launcher at least the launcher's (4 MiB, more than
/// `version` needs). `VmHWM` belongs to the memory the program maps after its `exec`; the
/// launcher asks the kernel to stop the program at its exit (`PTRACE_O_TRACEEXIT`), while
/// that memory is still there, reads it, and lets the exit go on. The tracing costs two
/// stops (the exec and the exit) and one per signal the program receives.
pub struct Launched {
    cmd: Command,
    report: PathBuf,
    _dir: tempfile::TempDir,
}

impl Launched {
    /// A launcher (this very binary) set to run `program`; add its arguments, environment
    /// and stdio to [`Launched::command`] (they reach `program` unchanged).
    pub fn new(program: &Path) -> Result<Launched> {
        let launcher = std::env::current_exe().context("the bench binary's own path")?;
        let dir = tempfile::tempdir().context("a directory for the launcher's report")?;
        let report = dir.path().join("rusage");
        let mut cmd = Command::new(launcher);
        cmd.arg(LAUNCH).arg(&report).arg(program);
        Ok(Launched {
            cmd,
            report,
            _dir: dir,
        })
    }

    /// The launcher's command: arguments added here follow the program's path.
    pub fn command(&mut self) -> &mut Command {
        &mut self.cmd
    }

    /// Runs the program to its end (killed after `limit`) and returns its own usage: wall
    /// time from the launcher's spawn to its reap, CPU from `wait4`, peak RSS from `VmHWM`
    /// at its exit.
    pub fn run(mut self, limit: Duration) -> Result<Usage> {
        let launcher = Tracked::spawn(&mut self.cmd)?.wait(limit)?;
        if launcher.exit != Exit::Code(0) {
            bail!(
                "the launcher ended with {} (its error is in the command's stderr)",
                launcher.exit
            );
        }
        let text = fs::read_to_string(&self.report)
            .with_context(|| format!("read the launcher's report {}", self.report.display()))?;
        let report = LaunchReport::parse(&text)
            .with_context(|| format!("the launcher's report {text:?}"))?;
        if report.usage.max_rss_kib == 0 {
            bail!("no peak RSS read at the program's exit");
        }
        Ok(report.usage)
    }
}

/// What the launcher writes: one line, `wall_ns user_us sys_us peak_kib code|signal n
/// ru_maxrss_kib`. The peak is `VmHWM` at the exit; `ru_maxrss` is there to compare, not
/// a bound: the kernel folds it from RSS counters that can lag by a per-CPU batch, so it
/// was seen 130–210 KiB below the exit's `VmHWM`.
#[derive(Debug, PartialEq)]
struct LaunchReport {
    usage: Usage,
    ru_maxrss_kib: u64,
}

impl LaunchReport {
    fn line(&self) -> String {
        let (kind, n) = match self.usage.exit {
            Exit::Code(c) => ("code", c),
            Exit::Signal(s) => ("signal", s),
        };
        format!(
            "{} {} {} {} {kind} {n} {}\n",
            self.usage.wall.as_nanos(),
            self.usage.user.as_micros(),
            self.usage.sys.as_micros(),
            self.usage.max_rss_kib,
            self.ru_maxrss_kib
        )
    }

    fn parse(text: &str) -> Result<LaunchReport> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [wall, user, sys, rss, kind, n, hwm] = fields[..] else {
            bail!("expected 7 fields");
        };
        let int = |s: &str| {
            s.parse::<u64>()
                .with_context(|| format!("{s:?} is not a count"))
        };
        let n: i32 = n
            .parse()
            .with_context(|| format!("{n:?} is not an exit status"))?;
        let exit = match kind {
            "code" => Exit::Code(n),
            "signal" => Exit::Signal(n),
            other => bail!("{other:?} is neither code nor signal"),
        };
        Ok(LaunchReport {
            usage: Usage {
                wall: Duration::from_nanos(int(wall)?),
                user: Duration::from_micros(int(user)?),
                sys: Duration::from_micros(int(sys)?),
                max_rss_kib: int(rss)?,
                exit,
            },
            ru_maxrss_kib: int(hwm)?,
        })
    }
}

/// `bench __launch <report> <program> [args...]` (argv from index 2 on): starts the
/// program as its tracee with this process's environment and stdio, reads its peak at the
/// exit, reaps it and writes the report.
/// Exits 0 when the report is written, whatever the program's exit; 125 on its own errors.
pub fn launcher_main(args: Vec<std::ffi::OsString>) -> ! {
    match launch(args) {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("bench launcher: {e:#}");
            std::process::exit(125)
        }
    }
}

fn launch(args: Vec<std::ffi::OsString>) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let mut args = args.into_iter();
    let (Some(report), Some(program)) = (args.next(), args.next()) else {
        bail!("usage: bench {LAUNCH} <report> <program> [args...]");
    };
    let mut cmd = Command::new(&program);
    cmd.args(args);
    // SAFETY: the hook makes one async-signal-safe system call between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let null = std::ptr::null_mut::<libc::c_void>();
            if libc::ptrace(libc::PTRACE_TRACEME, 0, null, null) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let child = cmd.spawn().with_context(|| format!("spawn {program:?}"))?;
    let pid = pid_of(&child);
    let mut status = 0;
    // SAFETY: rusage is plain data the kernel fills in.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let mut traced = false;
    let mut hwm_at_exit = None;
    loop {
        // SAFETY: our own child's pid; valid pointers to locals.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r != pid {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err).with_context(|| format!("wait4({pid})"));
        }
        if !libc::WIFSTOPPED(status) {
            break;
        }
        // A ptrace stop: the exec (SIGTRAP, before our options are set), the main thread's
        // exit (its memory still mapped), or a signal on its way, which is passed on.
        let signal = libc::WSTOPSIG(status);
        let deliver = if signal == libc::SIGTRAP && status >> 16 == libc::PTRACE_EVENT_EXIT {
            hwm_at_exit = vm_hwm_kib(pid);
            0
        } else if signal == libc::SIGTRAP && status >> 16 == libc::PTRACE_EVENT_EXEC {
            // A later exec (a script that execs the program): reported as an event, not
            // as a SIGTRAP that would kill it.
            0
        } else if signal == libc::SIGTRAP && !traced {
            traced = true;
            let options =
                libc::PTRACE_O_TRACEEXIT | libc::PTRACE_O_TRACEEXEC | libc::PTRACE_O_EXITKILL;
            ptrace(libc::PTRACE_SETOPTIONS, pid, options as usize)
                .context("ptrace(PTRACE_SETOPTIONS)")?;
            0
        } else {
            signal
        };
        ptrace(libc::PTRACE_CONT, pid, deliver as usize).context("ptrace(PTRACE_CONT)")?;
    }
    let wall = started.elapsed();
    let exit = if libc::WIFEXITED(status) {
        Exit::Code(libc::WEXITSTATUS(status))
    } else {
        Exit::Signal(libc::WTERMSIG(status))
    };
    let peak_kib =
        hwm_at_exit.context("no VmHWM at the program's exit (its exit stop was not seen)")?;
    let report_line = LaunchReport {
        usage: Usage {
            wall,
            user: timeval(ru.ru_utime),
            sys: timeval(ru.ru_stime),
            max_rss_kib: peak_kib,
            exit,
        },
        ru_maxrss_kib: u64::try_from(ru.ru_maxrss).unwrap_or(0),
    }
    .line();
    fs::write(&report, report_line).with_context(|| format!("write {report:?}"))
}

/// A ptrace request on our stopped tracee whose argument is the data word (options, a
/// signal number); the address is unused.
fn ptrace(request: libc::c_uint, pid: i32, data: usize) -> std::io::Result<()> {
    // SAFETY: the requests used take no pointer: the data word is a value, not an address.
    let r = unsafe {
        libc::ptrace(
            request,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            data as *mut libc::c_void,
        )
    };
    if r == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Drops `path`'s pages from the page cache, so the next process to run it starts from a
/// defined state: its pages come from disk by the kernel's fault-around and read-ahead.
/// (Pages cached otherwise, by a fresh copy or a `cat`, are mapped in larger folios: up to
/// 1.5 MiB more RSS for an idle entrypoint, measured in issue 20.)
pub fn evict_from_page_cache(path: &Path) -> Result<()> {
    let file = fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    file.sync_all().context("fsync before eviction")?;
    // SAFETY: a valid open fd; offset 0 and length 0 mean the whole file.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if rc != 0 {
        bail!(
            "posix_fadvise(DONTNEED) on {}: {}",
            path.display(),
            std::io::Error::from_raw_os_error(rc)
        );
    }
    Ok(())
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
    fn the_launch_report_round_trips_and_refuses_garbage() {
        let report = LaunchReport {
            usage: Usage {
                wall: Duration::from_nanos(12_345_678),
                user: Duration::from_micros(4_000),
                sys: Duration::from_micros(1_500),
                max_rss_kib: 8_200,
                exit: Exit::Signal(15),
            },
            ru_maxrss_kib: 9_100,
        };
        assert_eq!(LaunchReport::parse(&report.line()).unwrap(), report);
        assert!(LaunchReport::parse("1 2 3 4 code 0").is_err());
        assert!(LaunchReport::parse("1 2 3 4 exited 0 5").is_err());
        assert!(LaunchReport::parse("1 2 x 4 code 0 5").is_err());
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
