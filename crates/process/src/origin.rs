//! Signals whose sender decides what happens to them (the `ForwardIfSent`
//! rows of the signal table in `signals.rs`).
//!
//! tokio's signal streams say *that* a signal came, not *who* raised it, so
//! these signals get a handler of our own, installed with `SA_SIGINFO`. It
//! reads the sender from the `siginfo_t` and:
//!
//! * sent by another process: writes a record to a self-pipe, which the
//!   supervisor reads and forwards to the child;
//! * our own, [`Own::Drop`]: nothing (the system call reports the problem);
//! * our own, [`Own::IgnoreFromNowOn`]: sets `SIG_IGN`, so the terminal access
//!   that raised it goes on (write) or fails with `EIO` (read), and records it
//!   for a log line;
//! * our own, [`Own::Fault`]: puts back the action that was there before ours
//!   and lets it run (see [`on_signal`]), so a crash is still a crash.
//!
//! The handler and its tables are process-wide and installed once, for the
//! life of the process (like tokio's). Only one [`SenderChecked`] should read
//! them at a time: two would split the records between them.

use std::collections::VecDeque;
use std::ffi::c_void;
use std::future::pending;
use std::io;
use std::os::fd::{IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::libc::{self, c_int, pid_t};
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tracing::warn;

use crate::signals::{self, Own};

/// What one record on the self-pipe says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// Another process sent this signal; forward it. `pid` is the sender as
    /// seen from our PID namespace (0: from outside it, e.g. the runtime).
    Sent {
        /// The signal number.
        signal: c_int,
        /// The sender's pid.
        pid: pid_t,
    },
    /// The kernel raised this job-control signal about us; it is ignored
    /// from now on ([`Own::IgnoreFromNowOn`]).
    NowIgnored(c_int),
}

/// A record: one byte (the signal number, [`IGNORED_FLAG`] set for
/// [`Event::NowIgnored`]) and the sender pid, native-endian. Five bytes, far
/// below `PIPE_BUF`, so each `write` is atomic: whole records or nothing.
const RECORD: usize = 5;
/// Marks an [`Event::NowIgnored`] record; signal numbers here are below 32.
const IGNORED_FLAG: u8 = 0x80;

/// The handler's view of one signal number (index): what to do when it is our
/// own, and the action that was installed before ours.
#[derive(Clone, Copy)]
struct Entry {
    own: Option<Own>,
    previous: libc::sigaction,
}

/// Write end of the self-pipe for the handler; -1 until installed. Never
/// closed: a handler may run at any moment for the rest of the process.
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
/// Set once, before the first handler goes in; only read afterwards, which
/// is async-signal-safe (an atomic load, no lock).
static TABLE: OnceLock<[Entry; 32]> = OnceLock::new();
/// The read end of the self-pipe once the handlers are installed.
static READ_END: Mutex<Option<OwnedFd>> = Mutex::new(None);

/// The records of sender-checked signals, read asynchronously.
pub(crate) struct SenderChecked {
    pipe: pipe::Receiver,
    /// Bytes read but not yet returned as events (whole records only, in
    /// practice; a partial one waits for its rest).
    buffer: VecDeque<u8>,
    /// Reading failed for good: no more events (and no busy loop).
    broken: bool,
}

impl SenderChecked {
    /// Installs the handler for every sender-checked signal (once per
    /// process) and returns a reader of its records. Needs a tokio runtime
    /// with IO enabled.
    pub(crate) fn install() -> io::Result<Self> {
        let read_end = {
            let mut guard = READ_END.lock().unwrap_or_else(|e| e.into_inner());
            if guard.is_none() {
                *guard = Some(install_handlers()?);
            }
            match guard.as_ref() {
                Some(fd) => fd.try_clone()?,
                None => return Err(io::Error::other("signal pipe missing after install")),
            }
        };
        Ok(Self {
            pipe: pipe::Receiver::from_owned_fd(read_end)?,
            buffer: VecDeque::new(),
            broken: false,
        })
    }

    /// The next event. Never resolves once reading the pipe has failed (it
    /// logs why, once). Cancel-safe: bytes are taken from the pipe only in
    /// the poll that returns them to the buffer.
    pub(crate) async fn recv(&mut self) -> Event {
        loop {
            if let Some(event) = self.pop() {
                return event;
            }
            if self.broken {
                return pending().await;
            }
            let mut chunk = [0u8; RECORD * 64];
            match self.pipe.read(&mut chunk).await {
                Ok(0) => self.fail(io::Error::other("write end closed")),
                Ok(n) => self.buffer.extend(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => self.fail(e),
            }
        }
    }

    fn fail(&mut self, error: io::Error) {
        warn!(error = %error, "cannot read the signal pipe: signals that may be our own are no longer forwarded");
        self.broken = true;
    }

    fn pop(&mut self) -> Option<Event> {
        if self.buffer.len() < RECORD {
            return None;
        }
        let mut record = [0u8; RECORD];
        for byte in record.iter_mut() {
            *byte = self.buffer.pop_front()?;
        }
        let signal = c_int::from(record[0] & !IGNORED_FLAG);
        let pid = pid_t::from_ne_bytes([record[1], record[2], record[3], record[4]]);
        Some(if record[0] & IGNORED_FLAG != 0 {
            Event::NowIgnored(signal)
        } else {
            Event::Sent { signal, pid }
        })
    }
}

/// Creates the self-pipe, records the current action of every
/// sender-checked signal, then installs [`on_signal`] for each. Returns the
/// read end.
fn install_handlers() -> io::Result<OwnedFd> {
    let (read_end, write_end) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
    let mut table = [Entry {
        own: None,
        // SAFETY: sigaction is a plain C struct; all-zero is SIG_DFL with an
        // empty mask and no flags.
        previous: unsafe { std::mem::zeroed() },
    }; 32];
    for (number, own) in signals::sender_checked() {
        let entry = usize::try_from(number)
            .ok()
            .and_then(|i| table.get_mut(i))
            .ok_or_else(|| io::Error::other(format!("signal {number} is not below 32")))?;
        entry.own = Some(own);
        // SAFETY: a null new action only reads the current one into a valid,
        // writable struct.
        let rc = unsafe { libc::sigaction(number, std::ptr::null(), &mut entry.previous) };
        Errno::result(rc)?;
    }
    if TABLE.set(table).is_err() {
        // Only reachable if READ_END's lock was bypassed; keep the first.
        return Err(io::Error::other("signal table already set"));
    }
    PIPE_WRITE.store(write_end.into_raw_fd(), Ordering::SeqCst);

    // SAFETY: as above, all-zero is a valid starting point.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_signal as *const () as usize;
    // SA_SIGINFO: we need the sender. SA_ONSTACK: a stack overflow of ours
    // arrives as SIGSEGV with no stack left; the handler must run on the
    // alternate stack Rust sets up, or the kernel kills us without Rust's
    // report. SA_RESTART: a dropped own signal must not turn into EINTR.
    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
    // SAFETY: sa_mask is a valid sigset_t to initialise.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    for (number, _) in signals::sender_checked() {
        // SAFETY: `action` is fully initialised and `on_signal` is
        // async-signal-safe; the old action was saved above.
        let rc = unsafe { libc::sigaction(number, &action, std::ptr::null_mut()) };
        Errno::result(rc)?;
    }
    Ok(read_end)
}

/// Whether another process sent the signal: `kill`, `sigqueue` or `tgkill`
/// with a sender that is not us. The kernel fills in SIGPIPE and SIGXFSZ it
/// raises about us as `SI_USER` from *our* pid, and its other own signals
/// (faults, SIGXCPU, terminal job control) with a positive `si_code`; a
/// process cannot forge those (`rt_sigqueueinfo` refuses `si_code >= 0` for
/// another process). A sender outside our PID namespace shows as pid 0.
fn sent_by_another_process(info: &libc::siginfo_t) -> Option<pid_t> {
    if !matches!(
        info.si_code,
        libc::SI_USER | libc::SI_QUEUE | libc::SI_TKILL
    ) {
        return None;
    }
    // SAFETY: for these codes the kernel fills in the kill fields (si_pid).
    let pid = unsafe { info.si_pid() };
    // SAFETY: getpid has no preconditions and is async-signal-safe.
    (pid != unsafe { libc::getpid() }).then_some(pid)
}

/// The handler of the sender-checked signals. Async-signal-safe: it only
/// uses atomics, an initialised `OnceLock`, `getpid`, `write`, `sigaction`
/// and `raise`, and it restores `errno`.
extern "C" fn on_signal(signal: c_int, info: *mut libc::siginfo_t, _context: *mut c_void) {
    let saved_errno = Errno::last_raw();
    let entry = TABLE
        .get()
        .and_then(|table| usize::try_from(signal).ok().and_then(|i| table.get(i)));
    // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo_t (or we
    // treat a null one as our own).
    let sender = unsafe { info.as_ref() }.and_then(sent_by_another_process);
    match (sender, entry.and_then(|e| e.own.map(|own| (own, e)))) {
        (Some(pid), _) => record(signal as u8, pid),
        // Not in the table: cannot happen (we install only what it lists).
        (None, None) => {}
        (None, Some((Own::Drop, _))) => {}
        (None, Some((Own::IgnoreFromNowOn, _))) => {
            // SAFETY: signal(2) with SIG_IGN is async-signal-safe.
            unsafe { libc::signal(signal, libc::SIG_IGN) };
            record(signal as u8 | IGNORED_FLAG, 0);
        }
        (None, Some((Own::Fault, entry))) => {
            // Put back what was there before us: SIG_DFL (die, dump core) or
            // Rust's SIGSEGV/SIGBUS stack-overflow handler.
            // SAFETY: `previous` is the action sigaction(2) reported.
            unsafe { libc::sigaction(signal, &entry.previous, std::ptr::null_mut()) };
            // A hardware fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE raised by the
            // kernel for an instruction) happens again when we return: the
            // previous action then sees the real fault, address included.
            // Everything else (abort(), a trap or seccomp stop that returning
            // would step past, a kill by ourselves) is raised again: it stays
            // pending while this handler runs and is delivered to the previous
            // action as soon as we return.
            let refaults = matches!(
                signal,
                libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE
            ) && !info.is_null()
                // SAFETY: checked non-null; si_code is always filled in.
                && unsafe { (*info).si_code } > 0;
            if !refaults {
                // SAFETY: raise(3) is async-signal-safe.
                unsafe { libc::raise(signal) };
            }
        }
    }
    Errno::set_raw(saved_errno);
}

/// Writes one record to the self-pipe. A full pipe (the supervisor is not
/// reading) drops it: signals of one kind coalesce anyway.
fn record(first: u8, pid: pid_t) {
    let fd = PIPE_WRITE.load(Ordering::SeqCst);
    if fd < 0 {
        return;
    }
    let pid = pid.to_ne_bytes();
    let bytes: [u8; RECORD] = [first, pid[0], pid[1], pid[2], pid[3]];
    // SAFETY: write(2) of a valid local buffer; async-signal-safe.
    unsafe { libc::write(fd, bytes.as_ptr().cast(), RECORD) };
}
