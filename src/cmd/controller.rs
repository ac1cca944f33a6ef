//! `consul-ecs controller`: the v0.10 controller, one per ECS cluster. Sets up the gateway
//! roles, the auth method and its binding rules and the cluster's node, then deletes the
//! tokens and services of tasks that have stopped.
//!
//! Wiring only: config, environment and signals in; the logic is the `controller` crate.

use consul::{ClientConfig, TokenSource};
use tracing::{error, info};

use crate::exit;

pub fn run(config: config::dataplane::Config) -> i32 {
    super::block_on(controller(config))
}

async fn controller(config: config::dataplane::Config) -> i32 {
    // Handlers first: a SIGTERM during start-up must still end it cleanly.
    let stop = match task::runtime::stop_signal() {
        Ok(stop) => stop,
        Err(e) => {
            error!("controller: cannot install signal handlers: {e}");
            return exit::RUNTIME;
        }
    };
    let env = |name: &str| std::env::var(name).ok();
    let (token, metadata) = match (token_from_env(), ecs::MetadataClient::from_env()) {
        (Ok(token), Ok(metadata)) => (token, metadata),
        (Err(e), _) => {
            error!("controller: {e}");
            return exit::USAGE;
        }
        (_, Err(e)) => {
            error!("controller: {e}");
            return exit::USAGE;
        }
    };
    let shutdown = async {
        let name = stop.await;
        info!("{name} received");
    };
    match controller::controller::run(&config, token, env, metadata, shutdown).await {
        Ok(()) => exit::OK,
        Err(e @ controller::Error::Config(_)) => {
            error!("controller: {e}");
            exit::USAGE
        }
        Err(e) => {
            error!("controller: {e}");
            exit::RUNTIME
        }
    }
}

/// The controller's token: `CONSUL_HTTP_TOKEN` as v0.10.0 reads it (or, as the Go client
/// allows, `CONSUL_HTTP_TOKEN_FILE`); none of the other `CONSUL_*` client variables apply,
/// the servers come from the config.
fn token_from_env() -> Result<TokenSource, consul::ConsulError> {
    let token_only = |name: &str| {
        matches!(name, "CONSUL_HTTP_TOKEN" | "CONSUL_HTTP_TOKEN_FILE")
            .then(|| std::env::var(name).ok())
            .flatten()
    };
    Ok(ClientConfig::from_lookup(token_only)?.token)
}
