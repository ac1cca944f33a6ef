//! The consul-ecs v0.10 `controller`: one instance per ECS cluster, configured by the
//! `controller` block of `CONSUL_ECS_CONFIG_JSON`, with a token that may write ACLs and the
//! catalog. It makes a cluster's tasks and gateways able to log in to Consul, and cleans up
//! after the tasks that stop.
//!
//! - **Start-up** ([`startup`]), in v0.10.0's order: the partition; the API and mesh
//!   gateway policies and roles and the terminating gateway role; the `aws-iam` auth method
//!   `iam-ecs-service-token` (entity tags for gateway kind, namespace, service name); its
//!   four binding rules; the anonymous-token policy (primary datacenter only); the
//!   cluster's synthetic node. Objects are v0.10.0's exactly ([`objects`]); every step reads
//!   first, so a restart writes nothing. Retried with jittered backoff until it succeeds.
//! - **Reconcile** ([`round`]), every 10 s: the login tokens and the node's services of the
//!   cluster's tasks that have stopped are deleted and deregistered.
//!
//! The v0.6.2 `acl-controller` crate provides the steps both share (ECS listing, token
//! lists and deletes, namespaces, the loop); this crate adds what v0.10 does differently
//! and reaches the servers as the v0.10 layout does ([`servers`]). The binary's
//! `src/cmd/controller.rs` only wires config, environment and signals to
//! [`controller::run`].

#![deny(missing_docs)]

pub mod controller;
mod error;
pub mod objects;
pub mod round;
pub mod servers;
pub mod settings;
pub mod startup;

pub use controller::Controller;
pub use error::{Error, Result};
pub use round::RoundReport;
pub use settings::{ControllerConfig, Settings};
