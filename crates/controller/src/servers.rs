//! Reaching the Consul servers as the v0.10 layout does (docs/protocols.md §8): find them
//! from `consulServers.hosts`, connect to one over gRPC and follow `WatchServers` (unless
//! `skipServerWatch`), and send every HTTP call to the server in use on `http.port`.
//!
//! The mapping from the config is consul-grpc's (`consul_grpc::servers`); the HTTP client is
//! made again only when the server in use changes.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use config::dataplane::{ConsulServers, HTTPS_CA_PEM_ENV};
use consul::{Client, TokenSource};
use consul_grpc::{ConnectSettings, ServerConnection};

use crate::{Error, Result};

/// One request to the servers may take this long: a token list of a large cluster is
/// several MiB.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// How to reach the servers, from the config and the environment.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// gRPC: discovery, TLS, the watch.
    pub connect: ConnectSettings,
    /// `consulServers`, for the HTTP(S) client of the server in use.
    servers: ConsulServers,
    /// The HTTPS CA PEM text (`CONSUL_HTTPS_CACERT_PEM`), if set.
    https_ca_pem: Option<String>,
    /// The controller's token.
    token: TokenSource,
}

impl ServerSettings {
    /// Settings from `consulServers`, the CA PEM variables (`CONSUL_GRPC_CACERT_PEM`,
    /// `CONSUL_HTTPS_CACERT_PEM`, which win over the CA files) read through `lookup`, and
    /// the controller's token.
    pub fn new(
        servers: &ConsulServers,
        token: TokenSource,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<ServerSettings> {
        let connect = consul_grpc::servers::connect_settings(servers, &lookup)
            .map_err(|e| Error::Config(format!("consulServers.hosts: {e}")))?;
        Ok(ServerSettings {
            connect,
            servers: servers.clone(),
            https_ca_pem: lookup(HTTPS_CA_PEM_ENV),
            token,
        })
    }

    /// The HTTP(S) client of the server at `grpc_address` (its IP, on `http.port`).
    fn http_client(&self, grpc_address: SocketAddr) -> Result<Client, consul::ConsulError> {
        let pem = |name: &str| {
            (name == HTTPS_CA_PEM_ENV)
                .then(|| self.https_ca_pem.clone())
                .flatten()
        };
        let config = consul_grpc::servers::http_config(&self.servers, grpc_address, pem)?
            .with_token(self.token.clone())
            .with_timeout(REQUEST_TIMEOUT);
        Client::new(config)
    }
}

/// The servers: a gRPC connection kept current by the watch, and the HTTP client of the
/// server in use.
#[derive(Debug)]
pub struct Servers {
    settings: ServerSettings,
    connection: ServerConnection,
    http: Mutex<Option<(SocketAddr, Client)>>,
}

impl Servers {
    /// Finds the servers and connects to one (consul-grpc retries within its deadline),
    /// then starts the watch with the controller's token.
    pub async fn connect(settings: ServerSettings) -> Result<Servers> {
        let connection = ServerConnection::connect(settings.connect.clone()).await?;
        let token = settings
            .token
            .current_off_thread()
            .await
            .map_err(|e| Error::Config(format!("the controller's token: {e}")))?;
        connection.watch(token);
        Ok(Servers {
            settings,
            connection,
            http: Mutex::new(None),
        })
    }

    /// The HTTP(S) client of the server in use now.
    pub fn client(&self) -> Result<Client, consul::ConsulError> {
        let current = self.connection.current_address();
        let mut slot = self.http.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((address, client)) = slot.as_ref() {
            if *address == current {
                return Ok(client.clone());
            }
        }
        let client = self.settings.http_client(current)?;
        *slot = Some((current, client.clone()));
        Ok(client)
    }

    /// Stops the watch.
    pub fn stop(&self) {
        self.connection.stop();
    }
}
