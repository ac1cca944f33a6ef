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

/// envoy-entrypoint: on SIGTERM, hold the proxy until the application containers stop
/// (polling the task metadata every `poll_interval`), then signal its process group.
///
/// The same entrypoint serves both layouts; what differs is which containers are
/// applications. It runs in `sidecar-proxy` (Envoy; v0.6.2) or in `consul-dataplane`
/// (consul-dataplane with Envoy under it; v0.10), and each task document says which
/// ([`ecs::MeshLayout::of_task`]), so no request beyond v0.6.2's polls is made.
pub async fn run_envoy(command: &[OsString], poll_interval: Duration) -> Ended {
    let policy = match ecs::MetadataClient::from_env() {
        Ok(client) => SigtermPolicy::WaitFor(Box::pin(async move {
            tracing::info!("SIGTERM received; waiting for the application containers to stop");
            let task = client
                .poll_until(poll_interval, |task| {
                    task.applications_stopped_in(ecs::MeshLayout::of_task(task))
                })
                .await;
            let layout = ecs::MeshLayout::of_task(&task);
            let names: Vec<&str> = task
                .application_containers_in(layout)
                .map(|c| c.name.as_str())
                .collect();
            let proxy = match layout {
                ecs::MeshLayout::Agent => "Envoy",
                ecs::MeshLayout::Dataplane => ecs::CONSUL_DATAPLANE_CONTAINER,
            };
            tracing::info!(stopped = ?names, "application containers stopped; stopping {proxy}");
        })),
        Err(err) => {
            // Without task metadata we cannot know when the apps are gone. The proxy still
            // has to run (it carries the mesh traffic), so start it and pass SIGTERM on at
            // once.
            tracing::warn!(error = %err, "task metadata unavailable: SIGTERM will stop the proxy at once");
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
