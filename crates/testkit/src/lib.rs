//! Test emulators (Consul HTTP API, ECS task metadata) and helpers that start the real
//! components the tests use (moto, Envoy). Never linked into the shipped binary.
//!
//! A helper that cannot find a real component fails loudly: tests never skip silently.
//!
//! - [`aws`]: moto with an admin user and ECS-like task roles ([`aws::AwsWorld`]), and an
//!   ECS container credentials endpoint ([`aws::CredentialsEndpoint`]).
//! - [`consul`]: the Consul HTTP API emulator, with helpers that create the aws-iam auth
//!   methods as v0.6.2 deployments do and log in like the task's containers.
//! - [`consul_grpc`]: Consul's public gRPC services (ACL login/logout, WatchServers) on a
//!   Consul emulator's state.
//! - [`ecs_metadata`]: the ECS task metadata v4 emulator.
//! - [`ecs_moto`]: ECS clusters and tasks in moto, the acl-controller's ECS role, and a
//!   proxy in front of moto for pages and stopping tasks; [`ecs_api`]: a fake ECS endpoint
//!   for benchmarks with thousands of tasks.
//! - [`envoy`], [`moto`], [`paths`]: the real Envoy and moto from the project venv.
//! - [`pki`]: throw-away CAs and certificates (the `openssl` CLI) and rustls server
//!   configurations, for the HTTPS and gRPC-over-TLS listeners of the emulators.
//!
//! The binary `consul-ecs-testkit` runs the emulators as processes (demo, scripts, the
//! stand-in Consul of the compose files). The local ECS agent and the Consul set-up the
//! compose files run are a product of their own: the `ecs-local` crate.

pub mod aws;
pub mod consul;
pub mod consul_grpc;
pub mod ecs_api;
pub mod ecs_metadata;
pub mod ecs_moto;
pub mod envoy;
pub mod http_server;
pub mod moto;
pub mod paths;
pub mod pki;
pub mod procfs;
pub mod time;
