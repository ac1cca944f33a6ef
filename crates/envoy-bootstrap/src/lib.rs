//! Envoy bootstrap generation, equivalent to Consul's `consul connect envoy -bootstrap`.
//!
//! consul-ecs v0.6 shells out to the `consul` binary for this; we generate the same document
//! natively. The crate is split the way the data flows:
//!
//! 0. [`resolve_from_agent`] fetches what `consul connect envoy -bootstrap` fetches: the
//!    proxy registration read back from the agent, the global proxy-defaults entry, the
//!    `CONSUL_GRPC_*` variables.
//! 1. [`resolve`] turns what mesh-init has (the proxy registration read back from the
//!    agent, the global proxy-defaults entry, addresses, CA files, the token) into
//!    [`BootstrapInputs`]. It makes no HTTP calls.
//! 2. [`generate`] turns [`BootstrapInputs`] into the bootstrap JSON, honouring the
//!    `envoy_*` keys of `Proxy.Config` that Consul honours. It is pure.
//! 3. [`to_pretty_json`] / [`write_bootstrap_file`] serialise it the way the file is written.
//!
//! Conformance: the output matches Consul 1.17's golden files structurally (see
//! `tests/golden.rs` and `tests/data/compat/envoy-bootstrap/`), and every generated document
//! is checked by the real Envoy.

#![deny(missing_docs)]

mod access_logs;
mod error;
mod from_agent;
mod generate;
mod inputs;
pub mod proxy_config;
mod resolve;
mod stats;
mod template;
mod write;

pub use error::BootstrapError;
pub use from_agent::{
    resolve_from_agent, AgentSource, GRPC_ADDR_ENV, GRPC_CACERT_ENV, GRPC_CAPATH_ENV,
};
pub use generate::{generate, generate_with_env};
pub use inputs::{
    AccessLogsInputs, AdminInputs, AgentGrpcInputs, BootstrapInputs, PrometheusInputs,
};
pub use resolve::{
    resolve, ResolveContext, DEFAULT_ADMIN_ACCESS_LOG_PATH, DEFAULT_ADMIN_BIND, DEFAULT_GRPC_ADDR,
    DEFAULT_INGRESS_READY_BIND,
};
pub use write::{to_pretty_json, write_bootstrap_file};
