//! `envoy-entrypoint` and `app-entrypoint`: run a child under `process` supervision.
//!
//! Both become a child subreaper: in ECS they are usually PID 1 of their container
//! (the sidecar and app containers run without `initProcessEnabled`), and either way no
//! orphan of Envoy or of the app may linger as a zombie.
//!
//! Every line they print goes through `tracing`, so `-log-format json` makes all of it JSON,
//! the last, fatal one included. A child that cannot be started ends them with the shell's
//! code: 127 when the program is not found, 126 when it cannot be executed.

use std::ffi::OsString;
use std::process::Command;

use process::{SigtermPolicy, SuperviseOptions};

use crate::cli::{AppEntrypointArgs, EnvoyEntrypointArgs};
use crate::exit;

/// `envoy-entrypoint`: on SIGTERM, hold Envoy until the application containers stop.
pub fn run_envoy(args: &EnvoyEntrypointArgs) -> i32 {
    let policy = match ecs::MetadataClient::from_env() {
        Ok(client) => {
            let interval = args.poll_interval;
            SigtermPolicy::WaitFor(Box::pin(async move {
                tracing::info!("SIGTERM received; waiting for the application containers to stop");
                let task = client
                    .poll_until(interval, ecs::TaskMetadata::applications_stopped)
                    .await;
                let names: Vec<&str> = task
                    .application_containers()
                    .map(|c| c.name.as_str())
                    .collect();
                tracing::info!(stopped = ?names, "application containers stopped; stopping Envoy");
            }))
        }
        Err(err) => {
            // Without task metadata we cannot know when the apps are gone. Envoy still has
            // to run (it carries the mesh traffic), so start it and pass SIGTERM on at once.
            tracing::warn!(error = %err, "task metadata unavailable: SIGTERM will stop Envoy at once");
            SigtermPolicy::Forward
        }
    };
    supervise(&args.command, policy)
}

/// `app-entrypoint`: on SIGTERM, wait the shutdown delay, then pass it on.
pub fn run_app(args: &AppEntrypointArgs) -> i32 {
    supervise(&args.command, SigtermPolicy::Delay(args.shutdown_delay))
}

fn supervise(command: &[OsString], policy: SigtermPolicy) -> i32 {
    let Some((program, rest)) = command.split_first() else {
        // clap requires the command; this only guards a future change of the flags.
        tracing::error!("a command is required");
        return exit::USAGE;
    };
    let mut child = Command::new(program);
    child.args(rest);
    let opts = SuperviseOptions::new(policy).subreaper(true);
    super::block_on("entrypoint", async {
        match process::run(child, opts).await {
            // The supervisor has logged how it ended.
            Ok(exit) => exit.code(),
            // "cannot start "PROGRAM": not found: <the system's words>", with the shell's
            // 127 (not found) or 126 (not executable).
            Err(err) => {
                tracing::error!("{err}");
                err.exit_code().unwrap_or(exit::RUNTIME)
            }
        }
    })
}
