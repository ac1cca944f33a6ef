//! `supervise`: run a command under the `process` supervisor.
//!
//! ```text
//! supervise [--delay-ms N | --wait-for-file PATH] [--subreaper] -- PROGRAM [ARGS...]
//! ```
//!
//! * default SIGTERM policy: forward to the child's process group;
//! * `--delay-ms N`: `SigtermPolicy::Delay(N ms)` (app-entrypoint);
//! * `--wait-for-file PATH`: `SigtermPolicy::WaitFor` with a hook that
//!   resolves once PATH exists (stands in for envoy-entrypoint's task
//!   metadata poll);
//! * `--subreaper`: become a child subreaper and reap orphans.
//!
//! Exits with the child's status (128 + signal if a signal killed it), or 1
//! when supervision itself fails (e.g. the program cannot start), like
//! v0.6.2's entrypoints. Logs go to stderr (`RUST_LOG`, default `info`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use process::{SigtermPolicy, SuperviseOptions};

const USAGE: &str =
    "usage: supervise [--delay-ms N | --wait-for-file PATH] [--subreaper] -- PROGRAM [ARGS...]";

fn parse(args: &[String]) -> Result<(SuperviseOptions, Command), String> {
    let mut policy = SigtermPolicy::Forward;
    let mut subreaper = false;
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
            Some("--") => break,
            Some(other) => return Err(format!("unknown argument {other:?}")),
            None => return Err("missing `-- PROGRAM`".to_owned()),
        }
    }
    let program = rest.next().ok_or("a command is required")?;
    let mut cmd = Command::new(program);
    cmd.args(rest);
    Ok((SuperviseOptions::new(policy).subreaper(subreaper), cmd))
}

// Multi-threaded like the consul-ecs binary, so tests see the same runtime.
#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (opts, cmd) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("supervise: {e}\n{USAGE}");
            return ExitCode::from(1);
        }
    };
    match process::run(cmd, opts).await {
        // Exit statuses are 0..=255 by construction (a code, or 128 + a
        // signal number below 65); anything else would be a kernel bug.
        Ok(exit) => ExitCode::from(u8::try_from(exit.code()).unwrap_or(u8::MAX)),
        Err(e) => {
            eprintln!("supervise: {e}");
            ExitCode::from(1)
        }
    }
}
