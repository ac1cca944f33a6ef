//! One ECS task on a local container engine (docker compose, podman-compose), as ECS would
//! run it: the pieces of AWS and of a deployment that a laptop lacks, behind the compose
//! files of `docker/` (docker/README.md). The binary `consul-ecs-local` runs them.
//!
//! - [`agent`]: the ECS agent's side of the task — task metadata v4 built from the engine's
//!   own API ([`engine`], mapped by [`task`]: real names, statuses, exit codes, health), and
//!   with a task role its credentials;
//! - [`moto`]: that task role, made in moto (IAM and STS) over moto's AWS APIs;
//! - [`consul_setup`]: the aws-iam auth methods an operator and the acl-controller create,
//!   and the consul-client container's login, in a running Consul (real or emulated).
//!
//! Everything read from the engine, moto or Consul has a size limit (`boundary`), logs go
//! through `tracing` in the format of `consul-ecs` (`task::logging`), and errors are typed.

#![deny(missing_docs)]

pub mod agent;
pub mod consul_setup;
pub mod engine;
pub mod moto;
pub mod task;

pub use agent::{run, AgentError, LocalAgentOptions, TaskRoleOptions, DEFAULT_PORT};
