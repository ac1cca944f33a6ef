//! `consul-dataplane.json`: the configuration mesh-init writes for consul-dataplane (its
//! `-config-file`), with the keys consul-ecs v0.10 writes, spelled as consul-dataplane
//! reads them (`cmd/consul-dataplane/config.go`, `DataplaneConfigFlags`).
//!
//! One deliberate difference: the gRPC TLS server name goes under `consul.tls.serverName`,
//! the key consul-dataplane reads. consul-ecs v0.10 writes it as `tlsServerName`, which
//! consul-dataplane ignores, so the configured name never reached it.

use std::collections::BTreeMap;

use config::dataplane::{Config, GRPC_CA_CERT_FILE};
use consul::Secret;
use serde::Serialize;

use crate::registration::CatalogRegistrations;

/// Where consul-dataplane serves xDS, Envoy's readiness and Consul DNS: the task's
/// loopback, shared by its containers.
pub const LOCALHOST: &str = "127.0.0.1";
/// Port of consul-dataplane's DNS proxy when the task uses Consul DNS.
pub const DNS_BIND_PORT: u16 = 8600;
const CREDENTIALS_LOGIN: &str = "login";

/// The whole `consul-dataplane.json` document. Its `Debug` form hides the bearer token.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataplaneConfig {
    /// How to reach and authenticate to the servers.
    pub consul: DataplaneConsul,
    /// The proxy (or gateway) service consul-dataplane runs Envoy for.
    pub proxy: DataplaneProxy,
    /// consul-dataplane's xDS server for Envoy.
    pub xds_server: DataplaneXdsServer,
    /// Envoy's readiness listener.
    pub envoy: DataplaneEnvoy,
    /// consul-dataplane's log level.
    pub logging: DataplaneLogging,
    /// The DNS proxy, when the task resolves names with Consul DNS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_server: Option<DataplaneDnsServer>,
}

/// `consul`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataplaneConsul {
    /// `consulServers.hosts` as given (an address, a DNS name or `exec=…`).
    pub addresses: String,
    /// The servers' gRPC port.
    pub grpc_port: u16,
    /// `consulServers.skipServerWatch`.
    pub server_watch_disabled: bool,
    /// gRPC TLS.
    pub tls: DataplaneTls,
    /// The login consul-dataplane makes by itself; `None` without `consulLogin.enabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<DataplaneCredentials>,
}

/// `consul.tls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataplaneTls {
    /// Plain gRPC.
    pub disabled: bool,
    /// CA file that verifies the servers; unset means the system roots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_certs_path: Option<String>,
    /// Name verified in the servers' certificate; unset means consul-dataplane's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
}

/// `consul.credentials`: always of type `login` (a fixed token is not written here).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataplaneCredentials {
    /// `login`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The auth-method login.
    pub login: DataplaneLogin,
}

/// `consul.credentials.login`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataplaneLogin {
    /// The auth method (`consulLogin.method`).
    pub auth_method: String,
    /// Partition of the auth method (the task's); unset when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Datacenter of the auth method; empty means the servers' own.
    pub datacenter: String,
    /// The aws-iam bearer token (a signed STS request).
    pub bearer_token: Secret,
    /// Meta of the token consul-dataplane gets (the task ID and cluster, and the user's).
    pub meta: BTreeMap<String, String>,
}

impl DataplaneLogin {
    /// consul-dataplane's login for the task `cfg` describes, with `bearer_token` and the
    /// login `meta` mesh-init used.
    pub fn new(cfg: &Config, bearer_token: Secret, meta: BTreeMap<String, String>) -> Self {
        DataplaneLogin {
            auth_method: cfg.login_method().to_owned(),
            partition: cfg.partition().map(str::to_owned),
            datacenter: cfg.login_datacenter().unwrap_or_default().to_owned(),
            bearer_token,
            meta,
        }
    }
}

/// `proxy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataplaneProxy {
    /// The synthetic node (the cluster ARN).
    pub node_name: String,
    /// The proxy's (or gateway's) service ID.
    pub id: String,
    /// Its namespace (empty on Consul CE).
    pub namespace: String,
    /// Its partition (empty on Consul CE).
    pub partition: String,
}

/// `xdsServer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataplaneXdsServer {
    /// [`LOCALHOST`].
    pub bind_address: String,
}

/// `envoy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataplaneEnvoy {
    /// [`LOCALHOST`].
    pub ready_bind_address: String,
    /// The proxy's or gateway's `healthCheckPort` (22000).
    pub ready_bind_port: u16,
}

/// `logging`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataplaneLogging {
    /// The config's `logLevel` (`INFO`).
    pub log_level: String,
}

/// `dnsServer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataplaneDnsServer {
    /// [`LOCALHOST`].
    pub bind_address: String,
    /// [`DNS_BIND_PORT`].
    pub bind_port: u16,
}

/// What [`DataplaneConfig::new`] is built from.
#[derive(Debug, Clone, Copy)]
pub struct DataplaneInputs<'a> {
    /// The task's config.
    pub config: &'a Config,
    /// What the task registered.
    pub registrations: &'a CatalogRegistrations,
    /// Whether mesh-init wrote `<bootstrapDir>/consul-grpc-ca-cert.pem` (from
    /// `CONSUL_GRPC_CACERT_PEM`), which then wins over the configured gRPC CA file.
    pub grpc_ca_pem_written: bool,
}

impl DataplaneConfig {
    /// The document for the task `inputs` describe; `login` is consul-dataplane's own
    /// login when the task logs in.
    pub fn new(inputs: DataplaneInputs<'_>, login: Option<DataplaneLogin>) -> DataplaneConfig {
        let cfg = inputs.config;
        let servers = &cfg.consul_servers;
        let grpc_tls = servers.grpc_tls();
        let tls = if grpc_tls.enabled {
            let ca_certs_path = if inputs.grpc_ca_pem_written {
                Some(
                    cfg.bootstrap_dir()
                        .join(GRPC_CA_CERT_FILE)
                        .display()
                        .to_string(),
                )
            } else {
                grpc_tls.ca_cert_file.map(str::to_owned)
            };
            DataplaneTls {
                disabled: false,
                ca_certs_path,
                server_name: grpc_tls.server_name.map(str::to_owned),
            }
        } else {
            DataplaneTls {
                disabled: true,
                ca_certs_path: None,
                server_name: None,
            }
        };
        let proxy = &inputs.registrations.proxy().service;
        DataplaneConfig {
            consul: DataplaneConsul {
                addresses: servers.hosts.clone(),
                grpc_port: servers.grpc_port(),
                server_watch_disabled: servers.skip_server_watch,
                tls,
                credentials: login.map(|login| DataplaneCredentials {
                    kind: CREDENTIALS_LOGIN.to_owned(),
                    login,
                }),
            },
            proxy: DataplaneProxy {
                node_name: inputs.registrations.node().to_owned(),
                id: proxy.id.clone(),
                namespace: proxy.namespace.clone(),
                partition: proxy.partition.clone(),
            },
            xds_server: DataplaneXdsServer {
                bind_address: LOCALHOST.to_owned(),
            },
            envoy: DataplaneEnvoy {
                ready_bind_address: LOCALHOST.to_owned(),
                ready_bind_port: cfg.health_check_port(),
            },
            logging: DataplaneLogging {
                log_level: cfg.log_level().as_str().to_owned(),
            },
            dns_server: cfg.consul_dns_enabled().then(|| DataplaneDnsServer {
                bind_address: LOCALHOST.to_owned(),
                bind_port: DNS_BIND_PORT,
            }),
        }
    }

    /// The file's content (indented JSON and a newline), kept a [`Secret`] because it holds
    /// the bearer token.
    pub fn to_json(&self) -> Secret {
        let mut text = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| unreachable!("plain structs and maps serialise: {e}"));
        text.push('\n');
        Secret::new(text)
    }
}
