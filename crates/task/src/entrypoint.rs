//! envoy-entrypoint and app-entrypoint: run a child under `process` supervision.
//!
//! Both become a child subreaper: in ECS they are usually PID 1 of their container (the
//! sidecar and app containers run without `initProcessEnabled`), and either way no orphan of
//! Envoy or of the app may linger as a zombie. A child that cannot be started ends them with
//! the shell's code: 127 when the program is not found, 126 when it cannot be executed.

use std::ffi::OsString;
use std::process::Command;
use std::time::Duration;

use process::{SigtermPolicy, SuperviseOptions};

/// How an entrypoint ended. Every failure has been logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// With this exit code: the child's (128+N when signal N ended it), or the shell's for
    /// a child that could not start (127 not found, 126 not executable).
    Code(i32),
    /// No command was given.
    NoCommand,
    /// Supervision failed in a way that has no shell code.
    Failed,
}

/// envoy-entrypoint: on SIGTERM, hold Envoy until the application containers stop
/// (polling the task metadata every `poll_interval`).
pub async fn run_envoy(command: &[OsString], poll_interval: Duration) -> Ended {
    let policy = match ecs::MetadataClient::from_env() {
        Ok(client) => SigtermPolicy::WaitFor(Box::pin(async move {
            tracing::info!("SIGTERM received; waiting for the application containers to stop");
            let task = client
                .poll_until(poll_interval, ecs::TaskMetadata::applications_stopped)
                .await;
            let names: Vec<&str> = task
                .application_containers()
                .map(|c| c.name.as_str())
                .collect();
            tracing::info!(stopped = ?names, "application containers stopped; stopping Envoy");
        })),
        Err(err) => {
            // Without task metadata we cannot know when the apps are gone. Envoy still has
            // to run (it carries the mesh traffic), so start it and pass SIGTERM on at once.
            tracing::warn!(error = %err, "task metadata unavailable: SIGTERM will stop Envoy at once");
            SigtermPolicy::Forward
        }
    };
    supervise(command, policy).await
}

/// app-entrypoint: on SIGTERM, wait `shutdown_delay`, then pass it on.
pub async fn run_app(command: &[OsString], shutdown_delay: Duration) -> Ended {
    supervise(command, SigtermPolicy::Delay(shutdown_delay)).await
}

async fn supervise(command: &[OsString], policy: SigtermPolicy) -> Ended {
    let Some((program, rest)) = command.split_first() else {
        // clap requires the command; this only guards a future change of the flags.
        tracing::error!("a command is required");
        return Ended::NoCommand;
    };
    let mut child = Command::new(program);
    child.args(rest);
    let opts = SuperviseOptions::new(policy).subreaper(true);
    match process::run(child, opts).await {
        // The supervisor has logged how it ended.
        Ok(exit) => Ended::Code(exit.code()),
        // "cannot start "PROGRAM": not found: <the system's words>", with the shell's
        // 127 (not found) or 126 (not executable).
        Err(err) => {
            tracing::error!("{err}");
            err.exit_code().map_or(Ended::Failed, Ended::Code)
        }
    }
}
