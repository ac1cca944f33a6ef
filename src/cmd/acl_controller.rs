//! `consul-ecs acl-controller`: one per ECS cluster. Sets up the aws-iam auth methods,
//! binding rules and policies, then deletes the tokens of tasks that have stopped.
//!
//! Wiring only: flags, environment and signals in; the logic is the `acl-controller` crate.

use std::time::Duration;

use acl_controller::{Error, Flags};
use consul::{Client, ClientConfig};
use tracing::{error, info};

use crate::cli::AclControllerArgs;
use crate::exit;

/// One request to the Consul servers may take this long: a token list of a large cluster
/// is several MiB.
const CONSUL_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// The acl-controller's CA as PEM text (terraform passes it from a secret).
const CA_PEM_ENV: &str = "CONSUL_CACERT_PEM";

pub fn run(args: &AclControllerArgs) -> i32 {
    super::block_on(acl_controller(args))
}

async fn acl_controller(args: &AclControllerArgs) -> i32 {
    // Handlers first: a SIGTERM during start-up must still end it cleanly.
    let stop = match task::runtime::stop_signal() {
        Ok(stop) => stop,
        Err(e) => {
            error!("acl-controller: cannot install signal handlers: {e}");
            return exit::RUNTIME;
        }
    };
    // Flags and environment that cannot be used end it at once, with the usage code.
    macro_rules! usable {
        ($setting:expr) => {
            match $setting {
                Ok(value) => value,
                Err(e) => {
                    error!("acl-controller: {e}");
                    return exit::USAGE;
                }
            }
        };
    }
    let flags = usable!(Flags::new(
        &args.iam_role_path,
        args.partitions_enabled,
        args.partition.as_deref(),
        args.reconcile_interval,
    ));
    let consul = usable!(consul_client());
    let metadata = usable!(ecs::MetadataClient::from_env());
    let shutdown = async {
        let name = stop.await;
        info!("{name} received");
    };
    match acl_controller::controller::run(consul, flags, metadata, shutdown).await {
        Ok(()) => exit::OK,
        Err(e @ Error::Config(_)) => {
            error!("acl-controller: {e}");
            exit::USAGE
        }
        Err(e) => {
            error!("acl-controller: {e}");
            exit::RUNTIME
        }
    }
}

/// The Go client's environment (`CONSUL_HTTP_ADDR`, `CONSUL_HTTP_TOKEN(_FILE)`, TLS), with
/// `CONSUL_CACERT_PEM` replacing the CA file as in v0.6.2.
fn consul_client() -> Result<Client, consul::ConsulError> {
    let mut settings = ClientConfig::from_env()?;
    if let Some(pem) = std::env::var(CA_PEM_ENV)
        .ok()
        .filter(|p| !p.trim().is_empty())
    {
        settings.ca_file = None;
        settings = settings.with_ca_pem(pem);
    }
    Client::new(settings.with_timeout(CONSUL_REQUEST_TIMEOUT))
}
