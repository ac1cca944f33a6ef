//! `make demo`: one ECS mesh task's whole life on this machine.
//!
//! Starts the testkit Consul emulator (ACLs and the aws-iam auth methods), moto (a task
//! role), and the ECS task metadata emulator, then runs the real `consul-ecs` binary as
//! ECS would run the task's containers: mesh-init, envoy-entrypoint with the real Envoy,
//! health-sync, and a tiny app under app-entrypoint. ECS's part (health changes, the stop)
//! is played by the demo. Prints a timeline of what each step did to Consul and Envoy.
//! Every process it starts is gone when it returns, also on Ctrl-C.
//!
//! `--mode dataplane` plays the v0.10 (Consul Dataplane) layout instead (see
//! `life/dataplane.rs`): the emulator's gRPC API too, the catalog instead of an agent, and
//! a stand-in for the consul-dataplane container.

mod consul_state;
mod life;
mod logline;
mod observer;
mod probe;
mod procs;
mod timeline;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;

/// Plays one ECS mesh task's whole life against local emulators, the real Envoy and moto.
#[derive(Debug, Parser)]
#[command(
    name = "demo",
    after_help = "Example:\n  cargo build --bin consul-ecs && cargo run -p demo\n\n\
                  Exit codes: 0 every property shown held, 1 one did not or a step failed,\n\
                  130 interrupted (every process started was stopped first)."
)]
struct Args {
    /// The layout: `agent` (v0.6.2, the default) or `dataplane` (v0.10, Consul Dataplane).
    #[arg(long, value_enum, default_value = "agent")]
    mode: life::Mode,

    /// The consul-ecs binary to run (default: `consul-ecs` next to this program, i.e.
    /// target/debug/consul-ecs after `cargo build --bin consul-ecs`).
    #[arg(long, value_name = "PATH")]
    binary: Option<PathBuf>,

    /// The Envoy executable (default: the one in the project venv, see `make venv`).
    #[arg(long, value_name = "PATH")]
    envoy: Option<PathBuf>,

    /// Python 3 for the demo app (default: the project venv's).
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,

    /// Directory for the bootstrap directory and the containers' logs (default: a new
    /// temporary directory, kept and printed at the end).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = procs::install_interrupt_handler().and_then(|()| procs::become_subreaper()) {
        eprintln!("demo: {e:#}");
        return ExitCode::FAILURE;
    }
    // A panic (testkit helpers panic when a real component is missing) must not skip the
    // sweep below: catch it, clean up, then report it.
    let outcome = std::panic::catch_unwind(|| demo(&args));
    let swept = procs::sweep();
    if swept > 0 {
        eprintln!("demo: killed {swept} leftover process(es)");
    }
    match outcome {
        Ok(Ok(true)) => ExitCode::SUCCESS,
        Ok(Ok(false)) => {
            eprintln!("demo: some property did not hold (FAIL lines above)");
            ExitCode::FAILURE
        }
        Ok(Err(e)) if e.downcast_ref::<observer::Interrupted>().is_some() => {
            eprintln!("demo: interrupted; every process it started has been stopped");
            ExitCode::from(130)
        }
        Ok(Err(e)) => {
            eprintln!("demo failed: {e:#}");
            ExitCode::FAILURE
        }
        // A Ctrl-C on the terminal also reaches moto (it shares our process group), so a
        // set-up step may panic because of it: that is still an interruption.
        Err(_) if procs::interrupted() => {
            eprintln!("demo: interrupted; every process it started has been stopped");
            ExitCode::from(130)
        }
        Err(_) => ExitCode::from(101),
    }
}

/// Resolves the tools, runs the task's life, and says where the logs are.
fn demo(args: &Args) -> Result<bool> {
    let binary = match &args.binary {
        Some(b) => b.clone(),
        None => std::env::current_exe()
            .context("locate the demo executable")?
            .with_file_name("consul-ecs"),
    };
    require_file(
        &binary,
        "the consul-ecs binary (build it: cargo build --bin consul-ecs, or pass --binary)",
    )?;
    let envoy = match &args.envoy {
        Some(e) => e.clone(),
        None => testkit::envoy::envoy_binary(),
    };
    // The dataplane layout's Envoy would run under consul-dataplane, which is not here.
    if args.mode == life::Mode::Agent {
        require_file(&envoy, "Envoy (run `make venv`, or pass --envoy)")?;
    }
    let python = match &args.python {
        Some(p) => p.clone(),
        None => testkit::paths::venv_dir().join("bin/python3"),
    };
    require_file(&python, "Python 3 (run `make venv`, or pass --python)")?;
    let work_dir = match &args.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
            dir.clone()
        }
        None => tempfile::Builder::new()
            .prefix("consul-ecs-demo-")
            .tempdir()
            .context("create a temporary directory")?
            .keep(),
    };
    let (layout, envoy_shown) = match args.mode {
        life::Mode::Agent => ("", envoy.display().to_string()),
        life::Mode::Dataplane => (
            " (v0.10 Consul Dataplane layout)",
            "not used (no consul-dataplane here to run it)".to_string(),
        ),
    };
    println!(
        "consul-ecs demo: one ECS mesh task's life{layout}\n  binary: {}\n  envoy:  {envoy_shown}\n  work:   {}",
        binary.display(),
        work_dir.display()
    );
    let opts = life::Options {
        mode: args.mode,
        binary,
        envoy,
        python,
        work_dir: work_dir.clone(),
    };
    let result = life::run(&opts);
    println!(
        "\nLogs of every container: {}\nBootstrap directory (/consul in ECS): {}",
        work_dir.join("logs").display(),
        work_dir.join("consul").display()
    );
    Ok(result?.all_held())
}

fn require_file(path: &Path, what: &str) -> Result<()> {
    if !path.is_file() {
        bail!("{what}: not found at {}", path.display());
    }
    Ok(())
}
