//! `supervise`: run a command under the `process` supervisor.
//!
//! ```text
//! supervise [--delay-ms N | --wait-for-file PATH] [--subreaper]
//!           [--fault-on-file PATH segv|abort] -- PROGRAM [ARGS...]
//! ```
//!
//! * default SIGTERM policy: forward to the child's process group;
//! * `--delay-ms N`: `SigtermPolicy::Delay(N ms)` (app-entrypoint);
//! * `--wait-for-file PATH`: `SigtermPolicy::WaitFor` with a hook that
//!   resolves once PATH exists (stands in for envoy-entrypoint's task
//!   metadata poll);
//! * `--subreaper`: become a child subreaper and reap orphans;
//! * `--fault-on-file PATH segv|abort`: for tests of the supervisor's own
//!   faults: once PATH exists, crash (a real invalid memory access, or
//!   `abort()`) without a core dump. The supervisor must die of it, not
//!   forward it.
//!
//! Exits with the child's status (128 + signal if a signal killed it); 127
//! when the program is not found, 126 when it cannot be executed; 1 when
//! supervision itself fails. Logs go to stderr (`RUST_LOG`, default `info`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use process::{SigtermPolicy, SuperviseOptions, Supervisor};

const USAGE: &str = "usage: supervise [--delay-ms N | --wait-for-file PATH] [--subreaper] \
                     [--fault-on-file PATH segv|abort] -- PROGRAM [ARGS...]";

/// How `--fault-on-file` crashes the supervisor.
#[derive(Clone, Copy)]
enum Fault {
    /// A read of an inaccessible page: SIGSEGV raised by the kernel.
    Segv,
    /// `abort()`: SIGABRT raised by ourselves.
    Abort,
}

struct Parsed {
    opts: SuperviseOptions,
    cmd: Command,
    fault: Option<(PathBuf, Fault)>,
}

fn parse(args: &[String]) -> Result<Parsed, String> {
    let mut policy = SigtermPolicy::Forward;
    let mut subreaper = false;
    let mut fault = None;
    let mut rest = args.iter();
    loop {
        match rest.next().map(String::as_str) {
            Some("--delay-ms") => {
                let ms = rest.next().ok_or("--delay-ms needs a value")?;
                let ms: u64 = ms.parse().map_err(|e| format!("--delay-ms {ms}: {e}"))?;
                policy = SigtermPolicy::Delay(Duration::from_millis(ms));
            }
            Some("--wait-for-file") => {
                let path = PathBuf::from(rest.next().ok_or("--wait-for-file needs a path")?);
                policy = SigtermPolicy::WaitFor(Box::pin(async move {
                    // Polling like envoy-entrypoint polls task metadata.
                    while !path.exists() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }));
            }
            Some("--subreaper") => subreaper = true,
            Some("--fault-on-file") => {
                let path = PathBuf::from(rest.next().ok_or("--fault-on-file needs a path")?);
                let kind = match rest.next().map(String::as_str) {
                    Some("segv") => Fault::Segv,
                    Some("abort") => Fault::Abort,
                    other => return Err(format!("--fault-on-file PATH {other:?}: segv or abort")),
                };
                fault = Some((path, kind));
            }
            Some("--") => break,
            Some(other) => return Err(format!("unknown argument {other:?}")),
            None => return Err("missing `-- PROGRAM`".to_owned()),
        }
    }
    let program = rest.next().ok_or("a command is required")?;
    let mut cmd = Command::new(program);
    cmd.args(rest);
    Ok(Parsed {
        opts: SuperviseOptions::new(policy).subreaper(subreaper),
        cmd,
        fault,
    })
}

/// Crashes the process the way `fault` says, with core dumps off.
fn crash(fault: Fault) {
    let no_core = nix::libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads a valid struct. Failing only leaves a core.
    unsafe { nix::libc::setrlimit(nix::libc::RLIMIT_CORE, &no_core) };
    match fault {
        Fault::Abort => std::process::abort(),
        Fault::Segv => {
            // SAFETY: mmap of a fresh anonymous page, no access allowed.
            let page = unsafe {
                nix::libc::mmap(
                    std::ptr::null_mut(),
                    4096,
                    nix::libc::PROT_NONE,
                    nix::libc::MAP_PRIVATE | nix::libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if page == nix::libc::MAP_FAILED {
                eprintln!("supervise: mmap failed; no fault");
                return;
            }
            // SAFETY: deliberately not: the page is mapped but inaccessible,
            // so the CPU faults here and the kernel raises SIGSEGV. That is
            // the point of this option.
            let value = unsafe { std::ptr::read_volatile(page.cast::<u8>()) };
            eprintln!("supervise: read {value} from an inaccessible page");
        }
    }
}

// Current-thread, as the consul-ecs binary builds its runtime (task::runtime::block_on):
// the tests then see the signal handling, the waits and the reaping on the one thread they
// share in the product.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        // A failed log write must not turn into eprintln!, which panics when
        // stderr itself is the broken pipe (tests break it on purpose).
        .log_internal_errors(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match parse(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("supervise: {e}\n{USAGE}");
            return ExitCode::from(1);
        }
    };
    let result = match Supervisor::spawn(parsed.cmd, parsed.opts) {
        Ok(supervisor) => {
            if let Some((path, fault)) = parsed.fault {
                // A task beside the supervisor's wait, like any code of ours
                // that could crash while the supervisor waits.
                tokio::spawn(async move {
                    while !path.exists() {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    crash(fault);
                });
            }
            supervisor.wait().await
        }
        Err(e) => Err(e),
    };
    match result {
        // Exit statuses are 0..=255 by construction (a code, or 128 + a
        // signal number below 65); anything else would be a kernel bug.
        Ok(exit) => ExitCode::from(u8::try_from(exit.code()).unwrap_or(u8::MAX)),
        Err(e) => {
            eprintln!("supervise: {e}");
            let code = e.exit_code().unwrap_or(1);
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
    }
}
