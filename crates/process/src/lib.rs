//! Child supervision: spawn in a process group, forward signals, reap zombies.
//!
//! This is the part of `envoy-entrypoint` and `app-entrypoint` that behaves
//! like a tiny init (tini / dumb-init):
//!
//! * the child runs in its **own process group** (pgid = its pid) with stdio
//!   inherited, so a final SIGTERM can reach everything it started;
//! * every signal another process sends us is forwarded to the child
//!   **process**, except the ones the signal table (`src/signals.rs`) treats
//!   otherwise: SIGTERM goes to the [`SigtermPolicy`], SIGCHLD triggers
//!   reaping, SIGKILL/SIGSTOP cannot be caught, SIGURG and the C library's
//!   own are left alone. Signals that can also be *our own* (the faults,
//!   SIGPIPE, SIGTTIN/SIGTTOU, SIGXCPU/SIGXFSZ) are forwarded only when
//!   another process sent them; our own faults still end the supervisor;
//! * SIGTERM is handled by one of three policies, one per entrypoint;
//! * when we are PID 1 or a child subreaper, every zombie is reaped, not only
//!   the supervised child;
//! * we return as soon as the child has exited, with its [`ChildExit`].
//!
//! We never let anyone else `waitpid` our child: because the supervised pid
//! stays a zombie until *we* reap it, every signal we send to it or to its
//! process group before that moment cannot hit a recycled pid.
//!
//! Reaping every zombie (`waitpid(-1)`) also collects the exit statuses of
//! any other child this process spawned (for example with
//! `std::process::Command::output`), so do not combine subreaper mode with
//! other child processes in the same program.
//!
//! ```no_run
//! use std::process::Command;
//! use process::{run, SigtermPolicy, SuperviseOptions};
//!
//! # async fn envoy_entrypoint() -> Result<(), process::ProcessError> {
//! let mut envoy = Command::new("envoy");
//! envoy.args(["--config-path", "/consul/envoy-bootstrap.json"]);
//! // Not polled until the first SIGTERM.
//! let apps_stopped = Box::pin(async { /* poll task metadata until apps stop */ });
//! let opts = SuperviseOptions::new(SigtermPolicy::WaitFor(apps_stopped));
//! let exit = run(envoy, opts).await?;
//! std::process::exit(exit.code());
//! # }
//! ```

#![deny(missing_docs)]

mod origin;
mod signals;

use std::fmt;
use std::future::{pending, Future};
use std::io;
use std::os::unix::process::CommandExt;
use std::pin::Pin;
use std::process::Command;
use std::task::Poll;
use std::time::Duration;

use nix::errno::Errno;
use nix::libc::{self, c_int, pid_t};
use nix::unistd::{getpid, Pid};
use tokio::signal::unix::{signal, Signal as SignalStream, SignalKind};
use tracing::{debug, info, warn};

use origin::{Event, SenderChecked};
pub use signals::signal_name;
use signals::Disposition;

/// An async action run on the first SIGTERM under [`SigtermPolicy::WaitFor`].
/// It is not polled before that SIGTERM arrives.
pub type StopHook = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What to do when SIGTERM (ECS's stop signal) reaches the supervisor.
pub enum SigtermPolicy {
    /// Send every SIGTERM on at once, to the child's process group.
    Forward,
    /// `app-entrypoint -shutdown-delay`: the first SIGTERM starts the delay;
    /// when it expires, SIGTERM goes to the child's process group. A delay of
    /// zero passes the first SIGTERM on at once (v0.6.2 never passed it on:
    /// a bug not copied). Later SIGTERMs go to the child process at once, as
    /// in v0.6.2, so a second `docker stop` still works during the delay.
    Delay(Duration),
    /// `envoy-entrypoint`: the first SIGTERM starts the hook (e.g. "poll task
    /// metadata until every application container stopped"); when it
    /// resolves, SIGTERM goes to the child's process group. All further
    /// SIGTERMs are swallowed, so Envoy keeps serving until the apps are gone.
    WaitFor(StopHook),
}

impl fmt::Debug for SigtermPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Forward => f.write_str("Forward"),
            Self::Delay(d) => f.debug_tuple("Delay").field(d).finish(),
            Self::WaitFor(_) => f.write_str("WaitFor(<hook>)"),
        }
    }
}

/// How to supervise a child: the SIGTERM policy and whether to reap orphans.
#[derive(Debug)]
pub struct SuperviseOptions {
    /// What SIGTERM does; see [`SigtermPolicy`].
    pub sigterm: SigtermPolicy,
    /// Become a child subreaper (`prctl(PR_SET_CHILD_SUBREAPER)`) before
    /// spawning, so orphaned grandchildren are re-parented to us and reaped
    /// here instead of piling up as zombies. Reaping of all zombies is on
    /// whenever we are PID 1 or a subreaper, whatever this says.
    pub become_subreaper: bool,
}

impl SuperviseOptions {
    /// Options with the given SIGTERM policy and no subreaper.
    pub fn new(sigterm: SigtermPolicy) -> Self {
        Self {
            sigterm,
            become_subreaper: false,
        }
    }

    /// Sets [`SuperviseOptions::become_subreaper`].
    pub fn subreaper(mut self, become_subreaper: bool) -> Self {
        self.become_subreaper = become_subreaper;
        self
    }
}

/// How the supervised child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildExit {
    /// It called `exit` with this code (0..=255).
    Exited(i32),
    /// A signal killed it.
    Signaled {
        /// The signal number.
        signal: c_int,
        /// Whether the kernel wrote a core dump.
        core_dumped: bool,
    },
}

impl ChildExit {
    /// The exit status for our own process, shell-style: the child's exit
    /// code, or 128 + the signal number when a signal killed it (SIGKILL →
    /// 137, SIGTERM → 143). v0.6.2 exited 255 for any signal death; the
    /// shell convention keeps the signal visible in ECS's `ExitCode`.
    pub fn code(self) -> i32 {
        match self {
            Self::Exited(code) => code,
            Self::Signaled { signal, .. } => 128 + signal,
        }
    }

    /// Decodes a raw `waitpid` status. `None` for stop/continue reports,
    /// which we never ask for (no `WUNTRACED`/`WCONTINUED`).
    fn from_wait_status(status: c_int) -> Option<Self> {
        if libc::WIFEXITED(status) {
            Some(Self::Exited(libc::WEXITSTATUS(status)))
        } else if libc::WIFSIGNALED(status) {
            Some(Self::Signaled {
                signal: libc::WTERMSIG(status),
                core_dumped: libc::WCOREDUMP(status),
            })
        } else {
            None
        }
    }
}

impl From<ChildExit> for i32 {
    /// Same as [`ChildExit::code`].
    fn from(exit: ChildExit) -> i32 {
        exit.code()
    }
}

impl fmt::Display for ChildExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Exited(code) => write!(f, "exited with code {code}"),
            Self::Signaled {
                signal,
                core_dumped,
            } => {
                write!(f, "killed by {}", signal_name(signal))?;
                if core_dumped {
                    f.write_str(" (core dumped)")?;
                }
                Ok(())
            }
        }
    }
}

/// Why supervision failed. The child's own exit, whatever its code, is not
/// an error: it is the [`ChildExit`] result.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The program could not be started (not found, not executable, ...).
    /// [`ProcessError::exit_code`] gives the shell's code for it.
    #[error("cannot start {program:?}: {}: {source}", spawn_reason(source))]
    Spawn {
        /// The program as given to the command.
        program: String,
        /// The error from spawning.
        source: io::Error,
    },
    /// A signal handler could not be installed (e.g. no tokio runtime with
    /// the IO driver enabled).
    #[error("cannot handle {signal}: {source}")]
    SignalHandler {
        /// Name of the signal.
        signal: String,
        /// The error from tokio.
        source: io::Error,
    },
    /// `prctl(PR_SET_CHILD_SUBREAPER)` failed.
    #[error("cannot become a child subreaper: {0}")]
    Subreaper(#[source] Errno),
    /// `waitpid` failed, or the child was reaped by someone else so its exit
    /// status is lost (`ECHILD`).
    #[error("cannot collect the exit status of child {pid}: {source}")]
    Wait {
        /// The supervised child's pid.
        pid: pid_t,
        /// The error from `waitpid`.
        source: Errno,
    },
}

impl ProcessError {
    /// The exit status a shell gives a command that could not be started,
    /// for [`ProcessError::Spawn`]: 127 when there is no program at that path
    /// (`ENOENT`, `ENOTDIR`, `ELOOP`, `ENAMETOOLONG`: what dash maps to "not
    /// found"), 126 for every other reason it cannot be executed (permission
    /// denied, exec format error, a directory, ...). tini agrees on `ENOENT`
    /// (127) and `EACCES` (126) and exits 1 otherwise. `None` for failures
    /// of the supervision itself.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            Self::Spawn { source, .. } if spawn_not_found(source) => Some(127),
            Self::Spawn { .. } => Some(126),
            _ => None,
        }
    }
}

/// Whether a spawn error means "nothing to execute at that path".
fn spawn_not_found(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::ENOENT | libc::ENOTDIR | libc::ELOOP | libc::ENAMETOOLONG)
    ) || error.kind() == io::ErrorKind::NotFound
}

/// The short reason in a [`ProcessError::Spawn`] message, before the
/// system's own words.
fn spawn_reason(error: &io::Error) -> &'static str {
    if spawn_not_found(error) {
        "not found"
    } else {
        "not executable"
    }
}

/// A running child under supervision. Create it with [`Supervisor::spawn`],
/// then drive it with [`Supervisor::wait`]; [`run`] does both.
pub struct Supervisor {
    pid: pid_t,
    program: String,
    sigterm: SigtermPolicy,
    /// `waitpid(-1)` instead of `waitpid(pid)`: we are PID 1 or a subreaper.
    reap_all: bool,
    sigterm_stream: SignalStream,
    sigchld_stream: SignalStream,
    /// Signals forwarded whoever sent them, with their numbers.
    other_streams: Vec<(c_int, SignalStream)>,
    /// Signals forwarded only when another process sent them.
    sender_checked: SenderChecked,
}

impl fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervisor")
            .field("pid", &self.pid)
            .field("program", &self.program)
            .field("sigterm", &self.sigterm)
            .field("reap_all", &self.reap_all)
            .finish_non_exhaustive()
    }
}

/// Whether a signal whose handler the system refused may go without one: a signal we would
/// only pass on, refused with EINVAL (valgrind keeps SIGRTMAX for itself, for one). The
/// child still gets it when it is sent to the child directly, so the supervisor starts
/// without it, as Go's os/signal does, rather than refuse to start the child. Signals the
/// supervisor acts on itself (SIGTERM, SIGCHLD) and other errors still fail the start.
fn may_go_uncaught(disposition: Disposition, error: &io::Error) -> bool {
    disposition == Disposition::Forward && error.raw_os_error() == Some(libc::EINVAL)
}

impl Supervisor {
    /// Installs the signal handlers, optionally becomes a subreaper, then
    /// starts `cmd` in its own process group. Must be called inside a tokio
    /// runtime with IO enabled. Handlers go in *before* the spawn so that no
    /// signal (and no SIGCHLD) between spawn and [`Supervisor::wait`] is lost
    /// or takes its default action; they stay installed for the life of the
    /// process (a tokio limitation), which suits an entrypoint. The handler
    /// of the signals that may be our own (faults, SIGPIPE, ...) is
    /// process-wide and replaces any other: supervise one child at a time,
    /// and do not ask tokio for those signals in the same process.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (tokio's `signal()` panics there).
    pub fn spawn(mut cmd: Command, opts: SuperviseOptions) -> Result<Self, ProcessError> {
        let program = cmd.get_program().to_string_lossy().into_owned();
        if opts.become_subreaper {
            nix::sys::prctl::set_child_subreaper(true).map_err(ProcessError::Subreaper)?;
        }
        let reap_all =
            getpid() == Pid::from_raw(1) || nix::sys::prctl::get_child_subreaper().unwrap_or(false);

        let mut sigterm_stream = None;
        let mut sigchld_stream = None;
        let mut other_streams = Vec::new();
        for (number, disposition) in signals::caught() {
            let stream = match signal(SignalKind::from_raw(number)) {
                Ok(stream) => stream,
                Err(source) if may_go_uncaught(disposition, &source) => {
                    warn!(signal = %signal_name(number), error = %source, "cannot catch this signal here: it will not be passed on");
                    continue;
                }
                Err(source) => {
                    return Err(ProcessError::SignalHandler {
                        signal: signal_name(number),
                        source,
                    })
                }
            };
            match disposition {
                Disposition::Sigterm => sigterm_stream = Some(stream),
                Disposition::Reap => sigchld_stream = Some(stream),
                Disposition::Forward => other_streams.push((number, stream)),
                // Not yielded by caught(): handled by `origin`, or not at all.
                Disposition::ForwardIfSent(_) | Disposition::Untouched => {}
            }
        }
        // signals::caught() always yields SIGTERM and SIGCHLD (unit-tested);
        // this only guards against a future edit of that table.
        let missing = |name: &str| ProcessError::SignalHandler {
            signal: name.to_owned(),
            source: io::Error::other("not in the caught signal set"),
        };
        let sigterm_stream = sigterm_stream.ok_or_else(|| missing("SIGTERM"))?;
        let sigchld_stream = sigchld_stream.ok_or_else(|| missing("SIGCHLD"))?;
        let sender_checked =
            SenderChecked::install().map_err(|source| ProcessError::SignalHandler {
                signal: "the signals that may be our own (faults, SIGPIPE, SIGTTIN, ...)"
                    .to_owned(),
                source,
            })?;

        // process_group(0): setpgid(0, 0) in the child, so pgid == pid.
        cmd.process_group(0);
        let child = cmd.spawn().map_err(|source| ProcessError::Spawn {
            program: program.clone(),
            source,
        })?;
        // From here on we wait for the pid ourselves; dropping std's handle
        // neither kills nor waits.
        let pid = child.id() as pid_t;
        drop(child);
        info!(pid, program = %program, reap_all, sigterm = ?opts.sigterm, "started child");

        Ok(Self {
            pid,
            program,
            sigterm: opts.sigterm,
            reap_all,
            sigterm_stream,
            sigchld_stream,
            other_streams,
            sender_checked,
        })
    }

    /// The child's pid, which is also its process group id.
    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// Supervises until the child exits and returns how it ended. Returns as
    /// soon as the child is gone, even in the middle of a shutdown delay or
    /// while a [`SigtermPolicy::WaitFor`] hook is still pending (the hook is
    /// dropped).
    pub async fn wait(mut self) -> Result<ChildExit, ProcessError> {
        // The child may have exited before we got here; its SIGCHLD is
        // queued anyway, but a direct look costs nothing.
        if let Some(exit) = self.reap()? {
            return Ok(self.finish(exit));
        }
        // The policy, reduced to what is left to do on the next SIGTERM.
        let mut on_sigterm = match std::mem::replace(&mut self.sigterm, SigtermPolicy::Forward) {
            SigtermPolicy::Forward => OnSigterm::ForwardToGroup,
            SigtermPolicy::Delay(d) if d.is_zero() => OnSigterm::ForwardToGroupThenChild,
            SigtermPolicy::Delay(d) => OnSigterm::StartDelay(d),
            SigtermPolicy::WaitFor(hook) => OnSigterm::StartHook(hook),
        };
        // What must finish before the process group gets SIGTERM (the
        // shutdown delay or the hook), armed by the first SIGTERM.
        let mut stop_trigger: Option<StopHook> = None;

        loop {
            tokio::select! {
                // Child exit first, so nothing is sent after it is reaped.
                biased;
                Some(()) = self.sigchld_stream.recv() => {
                    if let Some(exit) = self.reap()? {
                        return Ok(self.finish(exit));
                    }
                }
                Some(()) = self.sigterm_stream.recv() => {
                    self.on_sigterm(&mut on_sigterm, &mut stop_trigger);
                }
                // Before the other forwarded signals: when both are ready, a
                // signal raised while logging the previous forward is looked at
                // first (tests rely on that order to prove it is not forwarded).
                event = self.sender_checked.recv() => match event {
                    Event::Sent { signal, pid } => self.forward(signal, Some(pid)),
                    Event::NowIgnored(signal) => warn!(
                        signal = %signal_name(signal),
                        "raised about the supervisor itself (a background job reading or writing \
                         its terminal): ignored from now on, no longer forwarded"
                    ),
                },
                number = next_signal(&mut self.other_streams) => self.forward(number, None),
                () = armed(&mut stop_trigger) => {
                    stop_trigger = None;
                    self.terminate_group("shutdown delay or stop hook finished");
                }
            }
        }
    }

    /// Applies the SIGTERM state machine to one received SIGTERM, possibly
    /// arming the stop trigger (delay or hook).
    fn on_sigterm(&self, state: &mut OnSigterm, stop_trigger: &mut Option<StopHook>) {
        let pid = self.pid;
        *state = match std::mem::replace(state, OnSigterm::Swallow) {
            OnSigterm::ForwardToGroup => {
                self.terminate_group("SIGTERM received");
                OnSigterm::ForwardToGroup
            }
            OnSigterm::ForwardToGroupThenChild => {
                self.terminate_group("SIGTERM received, no shutdown delay");
                OnSigterm::ForwardToChild
            }
            OnSigterm::StartDelay(delay) => {
                let delay_ms = delay.as_millis() as u64;
                info!(
                    pid,
                    delay_ms, "SIGTERM received: holding it for the shutdown delay"
                );
                *stop_trigger = Some(Box::pin(tokio::time::sleep(delay)));
                OnSigterm::ForwardToChild
            }
            OnSigterm::StartHook(hook) => {
                info!(
                    pid,
                    "SIGTERM received: holding it until the stop hook finishes"
                );
                *stop_trigger = Some(hook);
                OnSigterm::Swallow
            }
            OnSigterm::ForwardToChild => {
                // v0.6.2 app-entrypoint: a second SIGTERM reaches the child
                // at once, delay or not.
                self.forward(libc::SIGTERM, None);
                OnSigterm::ForwardToChild
            }
            OnSigterm::Swallow => {
                info!(pid, "SIGTERM swallowed: the stop hook owns shutdown");
                OnSigterm::Swallow
            }
        };
    }

    /// Collects exited children without blocking. Returns the supervised
    /// child's exit once it has been reaped. In `reap_all` mode every other
    /// zombie (an orphan re-parented to us) is reaped and logged too.
    fn reap(&self) -> Result<Option<ChildExit>, ProcessError> {
        let target = if self.reap_all { -1 } else { self.pid };
        let mut ours = None;
        loop {
            let mut status: c_int = 0;
            // SAFETY: `status` is a valid, writable c_int for the call.
            let rc = unsafe { libc::waitpid(target, &mut status, libc::WNOHANG) };
            match rc {
                // Children remain, none has exited (yet).
                0 => return Ok(ours),
                -1 => match Errno::last() {
                    Errno::EINTR => continue,
                    // No children left at all: fine once ours is collected,
                    // otherwise someone else took its status and we must
                    // not wait forever.
                    Errno::ECHILD if ours.is_some() => return Ok(ours),
                    source => {
                        return Err(ProcessError::Wait {
                            pid: self.pid,
                            source,
                        })
                    }
                },
                pid => {
                    let Some(exit) = ChildExit::from_wait_status(status) else {
                        continue;
                    };
                    if pid == self.pid {
                        ours = Some(exit);
                        if !self.reap_all {
                            return Ok(ours);
                        }
                    } else {
                        debug!(pid, %exit, "reaped orphaned process");
                    }
                }
            }
        }
    }

    fn finish(&self, exit: ChildExit) -> ChildExit {
        info!(pid = self.pid, program = %self.program, %exit, code = exit.code(), "child exited");
        exit
    }

    /// Sends one signal to the child process (not its group), as v0.6.2.
    /// `sender` is the pid that sent it, where it matters (the signals that
    /// may be our own), for the log.
    fn forward(&self, number: c_int, sender: Option<pid_t>) {
        let name = signal_name(number);
        match send_signal(self.pid, number) {
            Ok(()) => info!(pid = self.pid, signal = %name, sender, "forwarded signal to child"),
            Err(e) => warn!(pid = self.pid, signal = %name, error = %e, "cannot forward signal"),
        }
    }

    /// Sends SIGTERM to the child's whole process group.
    fn terminate_group(&self, why: &str) {
        match send_signal(-self.pid, libc::SIGTERM) {
            Ok(()) => info!(
                pgid = self.pid,
                reason = why,
                "sent SIGTERM to the child's process group"
            ),
            Err(e) => warn!(pgid = self.pid, reason = why, error = %e, "cannot SIGTERM the group"),
        }
    }
}

/// Starts `cmd` under supervision and waits for it: [`Supervisor::spawn`]
/// followed by [`Supervisor::wait`].
pub async fn run(cmd: Command, opts: SuperviseOptions) -> Result<ChildExit, ProcessError> {
    Supervisor::spawn(cmd, opts)?.wait().await
}

/// What the next SIGTERM does; the state machine behind [`SigtermPolicy`].
enum OnSigterm {
    /// [`SigtermPolicy::Forward`]: every SIGTERM goes to the process group.
    ForwardToGroup,
    /// `Delay(0)`: the first goes to the group, later ones to the child.
    ForwardToGroupThenChild,
    /// `Delay(d)`, first SIGTERM not seen yet.
    StartDelay(Duration),
    /// `WaitFor`, first SIGTERM not seen yet.
    StartHook(StopHook),
    /// `Delay` after the first SIGTERM: forward to the child process.
    ForwardToChild,
    /// `WaitFor` after the first SIGTERM: drop it.
    Swallow,
}

/// `kill(2)` with a raw signal number: nix's `Signal` cannot express the
/// real-time signals we forward. Negative `target` means a process group.
fn send_signal(target: pid_t, number: c_int) -> Result<(), Errno> {
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    let rc = unsafe { libc::kill(target, number) };
    Errno::result(rc).map(drop)
}

/// Resolves when the armed stop trigger finishes; never, when none is armed.
async fn armed(trigger: &mut Option<StopHook>) {
    match trigger {
        Some(fut) => fut.as_mut().await,
        None => pending().await,
    }
}

/// The next signal received of those forwarded whoever sent them.
async fn next_signal(streams: &mut [(c_int, SignalStream)]) -> c_int {
    std::future::poll_fn(|cx| {
        for (number, stream) in streams.iter_mut() {
            // Ready(None) only happens when the runtime shuts down; treat it
            // as "nothing more from this signal".
            if let Poll::Ready(Some(())) = stream.poll_recv(cx) {
                return Poll::Ready(*number);
            }
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_forwarded_signal_refused_with_einval_may_go_uncaught() {
        let einval = io::Error::from_raw_os_error(libc::EINVAL);
        assert!(may_go_uncaught(Disposition::Forward, &einval));
        assert!(!may_go_uncaught(Disposition::Sigterm, &einval));
        assert!(!may_go_uncaught(Disposition::Reap, &einval));
        let eperm = io::Error::from_raw_os_error(libc::EPERM);
        assert!(!may_go_uncaught(Disposition::Forward, &eperm));
    }

    #[test]
    fn exit_codes_map_shell_style() {
        assert_eq!(ChildExit::Exited(0).code(), 0);
        assert_eq!(ChildExit::Exited(42).code(), 42);
        let killed = ChildExit::Signaled {
            signal: libc::SIGKILL,
            core_dumped: false,
        };
        assert_eq!(i32::from(killed), 137);
        assert_eq!(killed.to_string(), "killed by SIGKILL");
    }

    #[test]
    fn raw_wait_statuses_decode() {
        // Linux encoding: exit code in bits 8..16, terminating signal in the
        // low 7 bits, core flag 0x80, 0x7f marks a stopped child.
        assert_eq!(
            ChildExit::from_wait_status(3 << 8),
            Some(ChildExit::Exited(3))
        );
        assert_eq!(
            ChildExit::from_wait_status(libc::SIGSEGV | 0x80),
            Some(ChildExit::Signaled {
                signal: libc::SIGSEGV,
                core_dumped: true
            })
        );
        assert_eq!(
            ChildExit::from_wait_status((libc::SIGSTOP << 8) | 0x7f),
            None
        );
    }

    #[test]
    fn policy_debug_hides_the_hook() {
        let p = SigtermPolicy::WaitFor(Box::pin(async {}));
        assert_eq!(format!("{p:?}"), "WaitFor(<hook>)");
    }
}
