//! The application layer of consul-ecs: one ECS task's context, built once, and the steps
//! of each subcommand over it.
//!
//! The binary's `src/cmd` modules are adapters (flags in, one call here, exit code out);
//! the protocol crates below (`config`, `ecs`, `consul`, `iam-login`, `envoy-bootstrap`,
//! `mesh-task`, `diagnose`, `process`) know nothing of subcommands. This crate composes
//! them:
//!
//! - [`TaskContext`]: the config, the task metadata, the registrations, the identity the
//!   task's token must carry, the login spec, the token files and the Consul clients;
//! - [`Layout`]: where the registrations go and what configures the proxy — the one place a
//!   second way of joining the mesh (Consul Dataplane) plugs in;
//! - [`mesh_init`], [`health_sync`], [`doctor`], [`entrypoint`]: each subcommand's run;
//! - [`runtime`]: the single-threaded runtime and the stop signals they share;
//! - [`logging`]: the log and output set-up of the binaries (text or JSON), with the span.
//!
//! Every run logs its own outcome; the adapters only turn it into an exit code. The
//! subcommand's span (created by the binary with the fields `subcommand`, `task_id` and
//! `service_id`) gets the task and service IDs as soon as the context knows them
//! ([`TaskContext::record_in_span`]).

#![deny(missing_docs)]

mod binary_copy;
pub mod clients;
mod context;
pub mod doctor;
pub mod doctor_dataplane;
pub mod entrypoint;
mod error;
pub mod health_sync;
pub mod layout;
pub mod logging;
pub mod mesh_init;
pub mod runtime;

pub use binary_copy::{copy_executable, CopyError};
pub use clients::ClientError;
pub use context::{
    expected_identity, login_spec, ConsulClients, LoginSpecError, TaskContext, TokenFiles,
};
pub use error::{Failure, Step, StepError};
pub use layout::Layout;

/// The target of the subcommand span, so a log filter can let it through at every level.
pub const SPAN_TARGET: &str = "consul_ecs::subcommand";

/// The span every subcommand's lines carry: `subcommand` now, `task_id` and `service_id`
/// recorded once known. At ERROR level, so that it is there whatever the log level. Create
/// it after logging is set up (a span made before has no subscriber and records nothing).
pub fn subcommand_span(subcommand: &'static str) -> tracing::Span {
    tracing::error_span!(
        target: SPAN_TARGET,
        "consul-ecs",
        subcommand,
        task_id = tracing::field::Empty,
        service_id = tracing::field::Empty
    )
}
