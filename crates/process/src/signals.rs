//! Which signal gets which treatment while a child is supervised.
//!
//! Every signal number from 1 to `SIGRTMAX` is classified here, once, by
//! [`disposition`]. The supervisor installs handlers for exactly the signals
//! this table says it catches, so the table is the whole signal policy.
//!
//! "Sent" below means sent by *another process* (`kill`, `sigqueue`,
//! `tgkill`: `si_code` `SI_USER`, `SI_QUEUE` or `SI_TKILL` with a sender pid
//! that is not ours; a sender in an ancestor PID namespace, such as the
//! container runtime, shows as pid 0). "Our own" means the kernel raised it
//! about the supervisor (a fault, a write to a closed pipe, a resource limit,
//! a terminal access: `si_code` > 0, or `SI_USER` with our own pid, which is
//! how the kernel fills in SIGPIPE and SIGXFSZ) or the supervisor raised it
//! itself (`abort()`). The [`crate::origin`] module tells them apart.
//!
//! | number | signal | what happens |
//! |---|---|---|
//! | 1 | SIGHUP | forwarded to the child (reload) |
//! | 2 | SIGINT | forwarded (Ctrl-C; Envoy shuts down on it) |
//! | 3 | SIGQUIT | forwarded |
//! | 4 | SIGILL | sent: forwarded; our own fault: the previous action (die, dump core) |
//! | 5 | SIGTRAP | sent: forwarded; our own: the previous action |
//! | 6 | SIGABRT | sent: forwarded; our own `abort()`: the previous action |
//! | 7 | SIGBUS | sent: forwarded; our own fault: the previous action (Rust's stack-overflow report, then death) |
//! | 8 | SIGFPE | sent: forwarded; our own fault: the previous action |
//! | 9 | SIGKILL | cannot be caught: kills the supervisor |
//! | 10 | SIGUSR1 | forwarded (Envoy: reopen logs) |
//! | 11 | SIGSEGV | sent: forwarded; our own fault: the previous action (Rust's stack-overflow report, then death) |
//! | 12 | SIGUSR2 | forwarded |
//! | 13 | SIGPIPE | sent: forwarded; our own (a log write to a closed pipe): dropped, the write fails with `EPIPE` |
//! | 14 | SIGALRM | forwarded (we arm no timers, so it comes from outside) |
//! | 15 | SIGTERM | the [`crate::SigtermPolicy`]: to the child's process group, after a delay, or after a hook |
//! | 16 | SIGSTKFLT | forwarded (never raised by the kernel) |
//! | 17 | SIGCHLD | reaping; never forwarded (it is about *our* children) |
//! | 18 | SIGCONT | forwarded (resumes a child a forwarded SIGTSTP stopped; the kernel resumes us regardless) |
//! | 19 | SIGSTOP | cannot be caught: stops the supervisor |
//! | 20 | SIGTSTP | forwarded (the child stops, we keep supervising) |
//! | 21 | SIGTTIN | sent: forwarded; our own (we read a terminal as a background job): ignored from then on |
//! | 22 | SIGTTOU | sent: forwarded; our own (we write a `tostop` terminal as a background job): ignored from then on |
//! | 23 | SIGURG | not caught: default "ignore" (v0.6.2 excludes it too; Go uses it for preemption) |
//! | 24 | SIGXCPU | sent: forwarded; our own (our CPU-time soft limit): dropped |
//! | 25 | SIGXFSZ | sent: forwarded; our own (our file-size limit): dropped, the write fails with `EFBIG` |
//! | 26 | SIGVTALRM | forwarded |
//! | 27 | SIGPROF | forwarded |
//! | 28 | SIGWINCH | forwarded (terminal resize) |
//! | 29 | SIGIO | forwarded (we never use `O_ASYNC`) |
//! | 30 | SIGPWR | forwarded |
//! | 31 | SIGSYS | sent: forwarded; our own (seccomp): the previous action |
//! | 32, 33 | (glibc) | not touched: reserved by the C library for its threads |
//! | 34..=64 | SIGRTMIN..=SIGRTMAX | forwarded (applications define their meaning) |
//!
//! Why the "sent" rows: a signal another process sends is a request for the
//! workload, whatever its name. If a `kill -SEGV` (or PIPE, XCPU, ...) from
//! outside took its default action on the supervisor, the supervisor would die
//! and leave Envoy or the app running without it (or, as PID 1, take the whole
//! container down with it). A signal that is really our own must not reach
//! the child: one broken log pipe of ours would kill Envoy, and a fault of
//! ours must still end the supervisor, not be "handled" and retried forever.
//!
//! v0.6.2 asked Go for every signal (`signal.Notify` with none named): the Go
//! runtime delivers a `kill -SEGV` to the channel, so v0.6.2 forwarded it as
//! we do, and keeps its own faults as crashes; but it also forwarded its own
//! SIGPIPE (a broken stderr) to Envoy, which we do not.
//!
//! tini differs in both directions: it leaves the seven fault signals at
//! their default, so `kill -SEGV <tini>` kills tini and orphans the child, and
//! it ignores SIGTTIN/SIGTTOU outright; SIGPIPE, SIGXCPU and SIGXFSZ it
//! forwards whoever raised them, its own broken pipe included. Telling the
//! sender apart (`siginfo_t`) lets us forward every request and keep every
//! own signal.

use nix::libc::{self, c_int};
use nix::sys::signal::Signal;

/// What the supervisor does with one signal number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// Caught and sent on to the child process (not its group), whoever sent
    /// it, as v0.6.2 does.
    Forward,
    /// Caught with the sender's identity ([`crate::origin`]): sent on to the
    /// child process when another process sent it; otherwise `own` applies.
    ForwardIfSent(Own),
    /// Caught and handled by the caller's [`crate::SigtermPolicy`].
    Sigterm,
    /// Caught to learn that a child changed state; triggers reaping. Never
    /// forwarded: it describes *our* children, so it means nothing to the child.
    Reap,
    /// Not caught at all; the default (or inherited) disposition stays.
    Untouched,
}

/// What happens to a [`Disposition::ForwardIfSent`] signal that is our own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Own {
    /// Dropped: the system call that raised it reports the problem itself
    /// (`EPIPE`, `EFBIG`), or it is a warning we act on by not acting (CPU).
    Drop,
    /// Ignored (`SIG_IGN`) from then on, so that the kernel lets the terminal
    /// access that raised it proceed (write) or fail with `EIO` (read)
    /// instead of raising it again on every restart of the call. A sent
    /// one is no longer forwarded after that: the supervisor is a background
    /// job on a terminal, a case for a person at a shell, not for ECS.
    IgnoreFromNowOn,
    /// A fault (or `abort()`) of the supervisor: the action that was there
    /// before ours (the default: die, dump core; for SIGSEGV/SIGBUS Rust's
    /// stack-overflow report first) is restored and runs.
    Fault,
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
        // v0.6.2 excludes SIGURG (the Go runtime uses it for preemption);
        // its default action is "ignore", which is right for us too.
        libc::SIGURG => Disposition::Untouched,

        // Synchronous faults, abort() and seccomp. Raised by our own code
        // they must end the supervisor as they always did (catching them
        // and carrying on would re-run the faulting instruction forever, or
        // keep a broken supervisor running). Sent with kill(2) they are a
        // request for the workload, and must not kill the supervisor while
        // Envoy or the app keeps running.
        libc::SIGILL
        | libc::SIGTRAP
        | libc::SIGABRT
        | libc::SIGBUS
        | libc::SIGFPE
        | libc::SIGSEGV
        | libc::SIGSYS => Disposition::ForwardIfSent(Own::Fault),
        // The Rust runtime sets SIGPIPE to "ignore" so that a write to a
        // closed pipe returns EPIPE; a dropped own SIGPIPE keeps exactly that
        // (one broken log pipe of ours must not kill the child). SIGXFSZ:
        // the oversized write fails with EFBIG. SIGXCPU: our CPU-time soft
        // limit; the kernel repeats it every second and kills at the hard
        // limit, which is not ours to prevent.
        libc::SIGPIPE | libc::SIGXFSZ | libc::SIGXCPU => Disposition::ForwardIfSent(Own::Drop),
        // Job-control signals the kernel sends when *we*, a background
        // process group, read a terminal or write a `tostop` one. Left at
        // default they would stop the supervisor; merely dropped, the kernel
        // would raise them again on every restart of the read or write.
        libc::SIGTTIN | libc::SIGTTOU => Disposition::ForwardIfSent(Own::IgnoreFromNowOn),

        // Requests from outside meant for the workload: forward. Listed for
        // the reader; the wildcard below would forward them anyway.
        // SIGHUP (reload), SIGINT/SIGQUIT (Ctrl-C, Ctrl-\; Envoy's and
        // most servers' shutdown/dump), SIGUSR1/SIGUSR2 (Envoy: reopen
        // logs), SIGWINCH (terminal resize), SIGCONT (resume a child that a
        // forwarded SIGTSTP stopped; the kernel resumes us regardless),
        // SIGTSTP (a stop request: the child stops, we keep supervising),
        // SIGALRM/SIGVTALRM/SIGPROF (we never arm interval timers, so these
        // come from outside), SIGIO/SIGPOLL (we never use O_ASYNC), SIGPWR.
        // Who sent them does not matter: a terminal's SIGINT or SIGHUP comes
        // from the kernel and is meant for the child all the same.
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

/// Every signal number the supervisor catches through tokio (forwarded
/// whoever sent it, SIGTERM, SIGCHLD), with its disposition, ascending.
pub(crate) fn caught() -> impl Iterator<Item = (c_int, Disposition)> {
    (1..=libc::SIGRTMAX())
        .map(|n| (n, disposition(n)))
        .filter(|(_, d)| {
            matches!(
                d,
                Disposition::Forward | Disposition::Sigterm | Disposition::Reap
            )
        })
}

/// Every signal number whose sender decides what happens to it, with what
/// happens when it is our own; caught by [`crate::origin`]. All are below 32.
pub(crate) fn sender_checked() -> impl Iterator<Item = (c_int, Own)> {
    (1..=libc::SIGRTMAX()).filter_map(|n| match disposition(n) {
        Disposition::ForwardIfSent(own) => Some((n, own)),
        _ => None,
    })
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
            libc::SIGSTKFLT,
            libc::SIGRTMIN(),
            libc::SIGRTMAX(),
        ] {
            assert_eq!(disposition(s), Disposition::Forward, "{}", signal_name(s));
        }
    }

    #[test]
    fn signals_that_can_be_our_own_depend_on_the_sender() {
        let expected = [
            (libc::SIGILL, Own::Fault),
            (libc::SIGTRAP, Own::Fault),
            (libc::SIGABRT, Own::Fault),
            (libc::SIGBUS, Own::Fault),
            (libc::SIGFPE, Own::Fault),
            (libc::SIGSEGV, Own::Fault),
            (libc::SIGPIPE, Own::Drop),
            (libc::SIGTTIN, Own::IgnoreFromNowOn),
            (libc::SIGTTOU, Own::IgnoreFromNowOn),
            (libc::SIGXCPU, Own::Drop),
            (libc::SIGXFSZ, Own::Drop),
            (libc::SIGSYS, Own::Fault),
        ];
        assert_eq!(sender_checked().collect::<Vec<_>>(), expected);
        // The origin module's handler keeps its state in arrays of 32.
        assert!(sender_checked().all(|(n, _)| n < 32));
        // Each signal is caught by exactly one mechanism.
        for (n, _) in sender_checked() {
            assert!(caught().all(|(m, _)| m != n), "{}", signal_name(n));
        }
    }

    #[test]
    fn uncatchable_and_libc_reserved_signals_are_left_alone() {
        let mut untouched = vec![libc::SIGKILL, libc::SIGSTOP, libc::SIGURG];
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
    fn every_other_signal_is_caught_one_way_or_the_other() {
        let untouched = (1..=libc::SIGRTMAX())
            .filter(|n| disposition(*n) == Disposition::Untouched)
            .count();
        let glibc_reserved = (32..libc::SIGRTMIN()).count();
        // KILL, STOP, URG and the C library's own.
        assert_eq!(untouched, 3 + glibc_reserved);
        assert_eq!(
            caught().count() + sender_checked().count() + untouched,
            libc::SIGRTMAX() as usize
        );
    }

    #[test]
    fn catch_set_has_exactly_one_sigterm_and_one_sigchld() {
        let all: Vec<_> = caught().collect();
        let count = |d| all.iter().filter(|(_, x)| *x == d).count();
        assert_eq!(count(Disposition::Sigterm), 1);
        assert_eq!(count(Disposition::Reap), 1);
    }

    #[test]
    fn names_are_readable() {
        assert_eq!(signal_name(libc::SIGHUP), "SIGHUP");
        assert_eq!(signal_name(libc::SIGRTMIN() + 2), "SIGRTMIN+2");
        assert_eq!(signal_name(0), "signal 0");
    }
}
