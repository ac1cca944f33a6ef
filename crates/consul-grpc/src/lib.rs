//! Consul's public gRPC services, as consul-ecs v0.10's dataplane mode uses them (the
//! servers' `grpc_tls` port, 8503 by default):
//!
//! - `hashicorp.consul.serverdiscovery.ServerDiscoveryService/WatchServers`: the set of ready
//!   servers, streamed as it changes;
//! - `hashicorp.consul.acl.ACLService/Login` and `/Logout`: an ACL token for a bearer token
//!   at an auth method, and its end.
//!
//! The messages ([`proto`]) are written by hand from Consul's `proto-public/` files. Around
//! them: discovery of the servers from `consulServers.hosts` ([`ServerHosts`]), TLS
//! ([`GrpcTls`]), one client per server ([`ConsulGrpc`]), and the connection that follows
//! the server set ([`ServerConnection`]), and the v0.10 config's `consulServers` mapped to
//! those settings and to the HTTP(S) client of the server in use ([`servers`]). Errors keep the gRPC status code
//! ([`GrpcError::code`]); tokens are [`consul::Secret`]s and never reach a log or an error.
//! docs/protocols.md ("Consul's public gRPC services") has the facts these follow.

#![deny(missing_docs)]

mod client;
mod connect;
mod discovery;
mod error;
pub mod proto;
pub mod servers;
mod watcher;

pub use client::{ConsulGrpc, Login, LoginToken, ServerStream};
pub use connect::{GrpcTls, GRPC_CACERT_PEM_ENV};
/// The token type of every call (re-exported: callers need not name the consul crate).
pub use consul::Secret;
pub use discovery::{DiscoveryError, ServerHosts};
pub use error::GrpcError;
pub use watcher::{ConnectSettings, ServerConnection, ServerView, DEFAULT_GRPC_PORT};
