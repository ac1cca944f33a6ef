//! The consul-ecs `acl-controller`: one instance per ECS cluster, with a management token,
//! that makes a cluster's tasks able to log in to Consul and cleans up after them.
//!
//! - **Start-up** ([`startup`]): the client policy and role, the two `aws-iam` auth methods
//!   (`iam-ecs-client-token`, `iam-ecs-service-token`) trusting this account's roles under
//!   the IAM role path, their binding rules, the anonymous-token policy (primary datacenter
//!   only); with admin partitions also the partition and the `cross-namespace-read` policy.
//!   Objects are v0.6.2's exactly ([`objects`]); every step reads first, so a restart
//!   writes nothing. Retried with jittered backoff until it succeeds.
//! - **Reconcile** ([`reconcile`]), every interval: delete the login tokens of this
//!   cluster's tasks that have stopped, and create the namespaces running mesh tasks name.
//!
//! The binary's `src/cmd/acl_controller.rs` only wires flags, environment and signals to
//! [`controller::run`].

#![deny(missing_docs)]

pub mod controller;
pub mod ecs_tasks;
mod error;
pub mod namespaces;
pub mod objects;
pub mod reconcile;
pub mod settings;
pub mod startup;
pub mod tokens;

pub use controller::Controller;

pub use ecs_tasks::EcsTasks;
pub use error::{Error, Result};
pub use reconcile::RoundReport;
pub use settings::{Cluster, Flags, Settings};
pub use startup::StartupReport;
#[doc(hidden)]
pub use tracing as __tracing;
