//! One HTTP/2 connection (a tonic `Channel`) to one server's gRPC port: plain TCP when TLS
//! is off, else rustls with the CA and server name of the config.
//!
//! tonic's own TLS options cannot take an already built rustls configuration, so the
//! connection is opened here (TCP, then the TLS handshake offering `h2`) and handed to
//! tonic as its transport; the rustls configuration is the one crates/consul builds for the
//! HTTP client, so both transports trust the same CAs the same way.

use crate::GrpcError;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint, Uri};

/// The environment variable whose PEM text is the CA of the servers' gRPC port; it wins
/// over a configured CA file, as in consul-ecs v0.10.
pub const GRPC_CACERT_PEM_ENV: &str = "CONSUL_GRPC_CACERT_PEM";

/// Keepalive pings, as consul-server-connection-manager sends them: Consul servers close
/// connections that ping more often than every 15 s, and an AWS NLB drops connections idle
/// for 350 s.
const KEEPALIVE: Duration = Duration::from_secs(30);

/// TLS towards the servers' gRPC port (`consulServers.grpc`/`defaults` with TLS on).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GrpcTls {
    /// `caCertFile`: PEM file of the CAs to trust.
    pub ca_file: Option<PathBuf>,
    /// CA PEM text (`CONSUL_GRPC_CACERT_PEM`); wins over `ca_file`. With neither, the
    /// public web PKI roots are trusted.
    pub ca_pem: Option<String>,
    /// `tlsServerName`: the name the certificate must carry. Without it, the
    /// `consulServers.hosts` name or address when it is not `exec=`, else the IP address of
    /// the server connected to.
    pub server_name: Option<String>,
}

impl GrpcTls {
    /// These settings with the CA PEM text of [`GRPC_CACERT_PEM_ENV`] when it is set and
    /// not empty.
    pub fn with_env_pem(self) -> Self {
        self.with_pem_from(|name| std::env::var(name).ok())
    }

    /// [`GrpcTls::with_env_pem`] reading the variable through `lookup`.
    pub fn with_pem_from(mut self, lookup: impl Fn(&str) -> Option<String>) -> Self {
        if let Some(pem) = lookup(GRPC_CACERT_PEM_ENV).filter(|p| !p.trim().is_empty()) {
            self.ca_pem = Some(pem);
        }
        self
    }
}

/// Opens channels to servers with one set of TLS settings.
#[derive(Clone)]
pub(crate) struct Connector {
    tls: Option<TlsParts>,
    connect_timeout: Duration,
}

#[derive(Clone)]
struct TlsParts {
    config: Arc<rustls::ClientConfig>,
    /// `None`: verify the server's IP address.
    server_name: Option<ServerName<'static>>,
}

impl Connector {
    /// A connector for `tls` (`None`: plain TCP); `default_name` is the name checked when
    /// `tls` names none (see [`GrpcTls::server_name`]).
    pub(crate) fn new(
        tls: Option<&GrpcTls>,
        default_name: Option<String>,
        connect_timeout: Duration,
    ) -> Result<Connector, GrpcError> {
        let tls = match tls {
            None => None,
            Some(settings) => {
                // The PEM text wins over the file; consul's builder reads whichever is set.
                let consul_config = consul::ClientConfig {
                    ca_pem: settings.ca_pem.clone(),
                    ca_file: if settings.ca_pem.is_some() {
                        None
                    } else {
                        settings.ca_file.clone()
                    },
                    ..consul::ClientConfig::default()
                };
                let mut config =
                    consul::rustls_client_config(&consul_config).map_err(GrpcError::Tls)?;
                config.alpn_protocols = vec![b"h2".to_vec()];
                let server_name = settings
                    .server_name
                    .clone()
                    .or(default_name)
                    .map(|name| {
                        ServerName::try_from(name.clone()).map_err(|e| {
                            GrpcError::Tls(consul::ConsulError::Config(format!(
                                "TLS server name {name:?}: {e}"
                            )))
                        })
                    })
                    .transpose()?;
                Some(TlsParts {
                    config: Arc::new(config),
                    server_name,
                })
            }
        };
        Ok(Connector {
            tls,
            connect_timeout,
        })
    }

    /// Whether connections use TLS.
    pub(crate) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Connects now (TCP, TLS handshake, HTTP/2 preface) to `address`.
    pub(crate) async fn connect(&self, address: SocketAddr) -> Result<Channel, GrpcError> {
        let connect_error = |source: tonic::transport::Error| GrpcError::Connect {
            address,
            certificate: consul::caused_by_certificate(&source),
            source,
        };
        let endpoint = Endpoint::from_shared(format!("http://{address}"))
            .map_err(connect_error)?
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(KEEPALIVE)
            .keep_alive_timeout(KEEPALIVE)
            .keep_alive_while_idle(true);
        match &self.tls {
            None => {
                let connector = tower::service_fn(move |_: Uri| async move {
                    let tcp = tokio::net::TcpStream::connect(address).await?;
                    tcp.set_nodelay(true)?;
                    Ok::<_, std::io::Error>(TokioIo::new(tcp))
                });
                endpoint.connect_with_connector(connector).await
            }
            Some(tls) => {
                let tls = tls.clone();
                let connector = tower::service_fn(move |_: Uri| {
                    let tls = tls.clone();
                    async move {
                        let tcp = tokio::net::TcpStream::connect(address).await?;
                        tcp.set_nodelay(true)?;
                        let name = tls
                            .server_name
                            .clone()
                            .unwrap_or_else(|| ServerName::IpAddress(address.ip().into()));
                        let stream = tokio_rustls::TlsConnector::from(tls.config)
                            .connect(name, tcp)
                            .await?;
                        Ok::<_, std::io::Error>(TokioIo::new(stream))
                    }
                });
                endpoint.connect_with_connector(connector).await
            }
        }
        .map_err(connect_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pem_variable_is_read_when_set_and_not_blank() {
        let file = GrpcTls {
            ca_file: Some("/etc/consul/ca.pem".into()),
            ..GrpcTls::default()
        };
        let with = file.clone().with_pem_from(|name| {
            (name == "CONSUL_GRPC_CACERT_PEM").then(|| "-----BEGIN CERTIFICATE-----".to_owned())
        });
        assert_eq!(with.ca_pem.as_deref(), Some("-----BEGIN CERTIFICATE-----"));
        assert_eq!(
            with.ca_file, file.ca_file,
            "the file stays; the PEM wins when connecting"
        );
        let blank = file.clone().with_pem_from(|_| Some(" \n".to_owned()));
        assert_eq!(blank, file);
        let unset = file.clone().with_pem_from(|_| None);
        assert_eq!(unset, file);
    }
}
