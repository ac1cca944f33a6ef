//! Reaching the Consul servers as the v0.10 layout does (docs/protocols.md §8): find them
//! from `consulServers.hosts`, connect to one over gRPC and follow `WatchServers` (unless
//! `skipServerWatch`), and send every HTTP call to the server in use on `http.port`.
//!
//! The HTTP client is made again only when the server in use changes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use config::dataplane::{ConsulServers, HTTPS_CA_PEM_ENV};
use consul::{Client, ClientConfig, TokenSource};
use consul_grpc::{ConnectSettings, GrpcTls, ServerConnection, ServerHosts};

use crate::{Error, Result};

/// One request to the servers may take this long: a token list of a large cluster is
/// several MiB.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// How to reach the servers, from the config and the environment.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// gRPC: discovery, TLS, the watch.
    pub connect: ConnectSettings,
    /// `consulServers.http.port`.
    pub http_port: u16,
    /// HTTP(S) to the server in use: everything but the address.
    pub http: ClientConfig,
    /// `consulServers.http.https`.
    pub https: bool,
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
        let hosts = ServerHosts::parse(&servers.hosts)
            .map_err(|e| Error::Config(format!("consulServers.hosts: {e}")))?;
        let grpc = servers.grpc_tls();
        let grpc_tls = grpc.enabled.then(|| {
            GrpcTls {
                ca_file: grpc.ca_cert_file.map(PathBuf::from),
                ca_pem: None,
                server_name: grpc.server_name.map(str::to_string),
            }
            .with_pem_from(&lookup)
        });
        let mut http = ClientConfig::default()
            .with_token(token)
            .with_timeout(REQUEST_TIMEOUT);
        let https = servers.http_tls();
        if https.enabled {
            // Without tlsServerName the certificate must name what `hosts` names, as for
            // gRPC (the address dialled is the server's IP).
            let name = https
                .server_name
                .map(str::to_string)
                .or_else(|| hosts.default_tls_server_name());
            http = http
                .with_ca_file(https.ca_cert_file)
                .with_tls_server_name(name);
            if let Some(pem) = lookup(HTTPS_CA_PEM_ENV).filter(|p| !p.trim().is_empty()) {
                http.ca_file = None;
                http = http.with_ca_pem(pem);
            }
        }
        let mut connect = ConnectSettings::new(hosts, servers.grpc_port(), grpc_tls);
        connect.skip_server_watch = servers.skip_server_watch;
        Ok(ServerSettings {
            connect,
            http_port: servers.http_port(),
            http,
            https: https.enabled,
        })
    }

    /// The HTTP(S) client of the server at `grpc_address` (its IP, on `http.port`).
    fn http_client(&self, grpc_address: SocketAddr) -> Result<Client, consul::ConsulError> {
        let scheme = if self.https { "https" } else { "http" };
        let address = SocketAddr::new(grpc_address.ip(), self.http_port);
        Client::new(
            self.http
                .clone()
                .with_address(&format!("{scheme}://{address}"))?,
        )
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
            .http
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
