//! Which signal gets which treatment while a child is supervised.
//!
//! Every signal number from 1 to `SIGRTMAX` is classified here, once, by
//! [`disposition`]. The supervisor installs handlers for exactly the signals
//! this table says it catches, so the table is the whole signal policy.

use nix::libc::{self, c_int};
use nix::sys::signal::Signal;

/// What the supervisor does with one signal number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// Caught and sent on to the child process (not its group), as v0.6.2 does.
    Forward,
    /// Caught and handled by the caller's [`crate::SigtermPolicy`].
    Sigterm,
    /// Caught to learn that a child changed state; triggers reaping. Never
    /// forwarded: it describes *our* children, so it means nothing to the child.
    Reap,
    /// Caught so that its default action (stop or kill the supervisor) does
    /// not happen, and dropped: it is about the supervisor itself.
    Swallow,
    /// Not caught at all; the default (or inherited) disposition stays.
    Untouched,
}

/// Classifies one signal number. Exhaustive over 1..=SIGRTMAX: the wildcard
/// arm is "forward", matching v0.6.2, which forwarded everything it was not
/// told to treat specially.
pub(crate) fn disposition(signal: c_int) -> Disposition {
    // Signals between the classic ones and SIGRTMIN() (32 and 33 with glibc)
    // are reserved by the C library for its threads implementation; touching
    // them breaks thread cancellation and setuid across threads.
    if signal > 31 && signal < libc::SIGRTMIN() {
        return Disposition::Untouched;
    }
    match signal {
        // The SigtermPolicy decides (forward, delay, or wait for a hook).
        libc::SIGTERM => Disposition::Sigterm,
        // Our own children's state changes: reap, never forward.
        libc::SIGCHLD => Disposition::Reap,

        // Cannot be caught, blocked or ignored.
        libc::SIGKILL | libc::SIGSTOP => Disposition::Untouched,
        // Synchronous faults (or abort()) raised by our own code. Catching
        // them would turn a supervisor crash into a forwarded signal and keep
        // a broken supervisor running; the default action (die, dump core)
        // is what we want. tini makes the same choice.
        libc::SIGILL
        | libc::SIGTRAP
        | libc::SIGABRT
        | libc::SIGBUS
        | libc::SIGFPE
        | libc::SIGSEGV
        | libc::SIGSYS => Disposition::Untouched,
        // The Rust runtime sets SIGPIPE to "ignore" so that a write to a
        // closed pipe returns EPIPE. If we caught and forwarded it, one
        // broken log pipe in *our* process would kill the child (default
        // action: terminate). The child gets SIGPIPE reset to default at
        // spawn, so its own pipes behave normally.
        libc::SIGPIPE => Disposition::Untouched,
        // v0.6.2 excludes SIGURG (the Go runtime uses it for preemption);
        // its default action is "ignore", which is right for us too.
        libc::SIGURG => Disposition::Untouched,

        // Terminal job-control signals the kernel sends when *we* read or
        // write a terminal from a background process group. Forwarding them
        // would stop the child for something the supervisor did; leaving
        // them at default would stop the supervisor. tini ignores them too.
        libc::SIGTTIN | libc::SIGTTOU => Disposition::Swallow,
        // Sent when *we* exceed our CPU-time or file-size soft limit. They
        // are not a request for the child; swallowing them keeps the
        // supervisor alive (an oversized write then fails with EFBIG).
        libc::SIGXCPU | libc::SIGXFSZ => Disposition::Swallow,

        // Requests from outside meant for the workload: forward. Listed for
        // the reader; the wildcard below would forward them anyway.
        // SIGHUP (reload), SIGINT/SIGQUIT (Ctrl-C, Ctrl-\; Envoy's and
        // most servers' shutdown/dump), SIGUSR1/SIGUSR2 (Envoy: reopen
        // logs), SIGWINCH (terminal resize), SIGCONT (resume a child that a
        // forwarded SIGTSTP stopped; the kernel resumes us regardless),
        // SIGTSTP (a stop request: the child stops, we keep supervising),
        // SIGALRM/SIGVTALRM/SIGPROF (we never arm interval timers, so these
        // come from outside), SIGIO/SIGPOLL (we never use O_ASYNC), SIGPWR.
        libc::SIGHUP
        | libc::SIGINT
        | libc::SIGQUIT
        | libc::SIGUSR1
        | libc::SIGUSR2
        | libc::SIGWINCH
        | libc::SIGCONT
        | libc::SIGTSTP
        | libc::SIGALRM
        | libc::SIGVTALRM
        | libc::SIGPROF
        | libc::SIGIO
        | libc::SIGPWR => Disposition::Forward,
        // Anything else a sender might use: SIGSTKFLT (never raised by the
        // kernel) and the real-time signals SIGRTMIN..=SIGRTMAX, which
        // applications define for themselves.
        _ => Disposition::Forward,
    }
}

/// Every signal number the supervisor installs a handler for, with its
/// disposition, in ascending order.
pub(crate) fn caught() -> impl Iterator<Item = (c_int, Disposition)> {
    (1..=libc::SIGRTMAX())
        .map(|n| (n, disposition(n)))
        .filter(|(_, d)| *d != Disposition::Untouched)
}

/// A readable name for a signal number, for logs and errors
/// (`SIGHUP`, `SIGRTMIN+3`, or the bare number).
pub fn signal_name(signal: c_int) -> String {
    if let Ok(named) = Signal::try_from(signal) {
        return named.as_str().to_owned();
    }
    let rtmin = libc::SIGRTMIN();
    if (rtmin..=libc::SIGRTMAX()).contains(&signal) {
        return format!("SIGRTMIN+{}", signal - rtmin);
    }
    format!("signal {signal}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consul_ecs_exceptions_are_not_forwarded() {
        // v0.6.2 forwards everything except SIGTERM, SIGCHLD and SIGURG.
        assert_eq!(disposition(libc::SIGTERM), Disposition::Sigterm);
        assert_eq!(disposition(libc::SIGCHLD), Disposition::Reap);
        assert_eq!(disposition(libc::SIGURG), Disposition::Untouched);
    }

    #[test]
    fn workload_signals_are_forwarded() {
        for s in [
            libc::SIGHUP,
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGUSR1,
            libc::SIGUSR2,
            libc::SIGWINCH,
            libc::SIGCONT,
            libc::SIGTSTP,
            libc::SIGALRM,
            libc::SIGRTMIN(),
            libc::SIGRTMAX(),
        ] {
            assert_eq!(disposition(s), Disposition::Forward, "{}", signal_name(s));
        }
    }

    #[test]
    fn uncatchable_fault_and_libc_reserved_signals_are_left_alone() {
        let mut untouched = vec![
            libc::SIGKILL,
            libc::SIGSTOP,
            libc::SIGSEGV,
            libc::SIGILL,
            libc::SIGFPE,
            libc::SIGBUS,
            libc::SIGABRT,
            libc::SIGPIPE,
        ];
        untouched.extend(32..libc::SIGRTMIN());
        for s in untouched {
            assert_eq!(disposition(s), Disposition::Untouched, "{}", signal_name(s));
            assert!(
                caught().all(|(n, _)| n != s),
                "{} is caught",
                signal_name(s)
            );
        }
    }

    #[test]
    fn catch_set_has_exactly_one_sigterm_and_one_sigchld() {
        let all: Vec<_> = caught().collect();
        let count = |d| all.iter().filter(|(_, x)| *x == d).count();
        assert_eq!(count(Disposition::Sigterm), 1);
        assert_eq!(count(Disposition::Reap), 1);
        assert_eq!(count(Disposition::Swallow), 4);
    }

    #[test]
    fn names_are_readable() {
        assert_eq!(signal_name(libc::SIGHUP), "SIGHUP");
        assert_eq!(signal_name(libc::SIGRTMIN() + 2), "SIGRTMIN+2");
        assert_eq!(signal_name(0), "signal 0");
    }
}
