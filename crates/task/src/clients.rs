//! The two Consul clients the task's subcommands use, built as consul-ecs v0.6.2 builds them.
//!
//! - the **server** client (login, token read-back, logout): `consulHTTPAddr` and
//!   `consulCACertFile` from the config, else the Go client's environment variables;
//! - the **agent** client (registrations, TTL updates): the local client agent from the
//!   environment (`CONSUL_HTTP_ADDR`, default `http://127.0.0.1:8500`), with the service
//!   token file when the task logged in.

use std::path::PathBuf;
use std::time::Duration;

use consul::{Client, ClientConfig, ConsulError, Secret, TokenSource};

/// One request to the servers may wait this long: a login makes the server call AWS.
const SERVER_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// One request to the local agent may wait this long, so health-sync's shutdown fits in
/// ECS's stop timeout (30 s by default) even when the agent does not answer.
const AGENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a Consul client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The Go client's environment variables (`CONSUL_HTTP_ADDR`, TLS, token) are unusable.
    #[error("Consul {0} settings from the environment")]
    Environment(&'static str, #[source] ConsulError),
    /// The config's `consulHTTPAddr` is not an address.
    #[error("consulHTTPAddr {0:?}")]
    ConfigAddress(String, #[source] ConsulError),
    /// The HTTP client could not be made (e.g. the CA file cannot be read).
    #[error("build the Consul {0} client")]
    Build(&'static str, #[source] ConsulError),
    /// The environment's token file cannot be read.
    #[error("the token of CONSUL_HTTP_TOKEN_FILE")]
    Token(#[source] ConsulError),
}

/// The client for the Consul servers named by the config.
pub fn server(cfg: &config::Config) -> Result<Client, ClientError> {
    let mut settings =
        ClientConfig::from_env().map_err(|e| ClientError::Environment("client", e))?;
    if let Some(addr) = cfg.consul_http_addr() {
        settings = settings
            .with_address(addr)
            .map_err(|e| ClientError::ConfigAddress(addr.to_owned(), e))?;
    }
    if let Some(ca) = cfg.consul_ca_cert_file() {
        settings = settings.with_ca_file(Some(PathBuf::from(ca)));
    }
    Client::new(settings.with_timeout(SERVER_REQUEST_TIMEOUT))
        .map_err(|e| ClientError::Build("server", e))
}

/// The client for the local Consul agent; `token` replaces the environment's token.
pub fn agent(token: Option<TokenSource>) -> Result<Client, ClientError> {
    let mut settings =
        ClientConfig::from_env().map_err(|e| ClientError::Environment("agent", e))?;
    if let Some(token) = token {
        settings = settings.with_token(token);
    }
    Client::new(settings.with_timeout(AGENT_REQUEST_TIMEOUT))
        .map_err(|e| ClientError::Build("agent", e))
}

/// The token the environment gives (`CONSUL_HTTP_TOKEN_FILE` wins over
/// `CONSUL_HTTP_TOKEN`, as in the Go client), for the bootstrap when the task does not log in.
pub fn env_token() -> Result<Option<Secret>, ClientError> {
    let settings = ClientConfig::from_env().map_err(|e| ClientError::Environment("client", e))?;
    settings.token.current().map_err(ClientError::Token)
}

/// The server client's address and where it came from, for reports.
pub fn server_target(cfg: &config::Config, server: &Client) -> diagnose::Target {
    diagnose::Target {
        what: "the Consul servers",
        address: server.address().to_string(),
        origin: diagnose::AddressOrigin::derive(
            cfg.consul_http_addr(),
            true,
            std::env::var("CONSUL_HTTP_ADDR").ok().as_deref(),
        ),
    }
}

/// The agent client's address and where it came from, for reports.
pub fn agent_target(agent: &Client) -> diagnose::Target {
    diagnose::Target {
        what: "the local Consul agent",
        address: agent.address().to_string(),
        origin: diagnose::AddressOrigin::derive(
            None,
            false,
            std::env::var("CONSUL_HTTP_ADDR").ok().as_deref(),
        ),
    }
}
