//! The resolved inputs of a bootstrap: everything Consul's template finally receives.
//!
//! The field names and shapes mirror the `input` object of the conformance cases in
//! `tests/data/compat/envoy-bootstrap/cases/`, so a case deserialises straight into
//! [`BootstrapInputs`].

use std::fmt;

use serde::Deserialize;
use serde_json::{Map, Value};

/// All values the generator needs, already resolved (no flags, environment or HTTP calls).
///
/// Built by [`crate::resolve`] in production, or deserialised from a conformance case.
/// `Debug` is written by hand so the ACL token never reaches a log.
#[derive(Clone, PartialEq, Deserialize)]
pub struct BootstrapInputs {
    /// Proxy service ID as registered with the agent; becomes `node.id`.
    pub proxy_id: String,
    /// `node.cluster` and the `local_cluster` stats tag.
    pub proxy_cluster: String,
    /// Value of the `consul.source.service` stats tag (left out when empty).
    #[serde(default)]
    pub proxy_source_service: String,
    /// Service kind (`connect-proxy`, `mesh-gateway`, ...); informational only.
    #[serde(default)]
    pub proxy_kind: String,
    /// Consul namespace; empty means `default`.
    #[serde(default)]
    pub namespace: String,
    /// Consul admin partition; empty means `default`.
    #[serde(default)]
    pub partition: String,
    /// Datacenter for the `consul.source.datacenter` stats tag.
    #[serde(default)]
    pub datacenter: Option<String>,
    /// When set, added as `node.metadata.node_name`.
    #[serde(default)]
    pub node_name: Option<String>,
    /// Envoy admin listener settings.
    pub admin: AdminInputs,
    /// Access-log block of the global proxy-defaults entry, if any.
    #[serde(default)]
    pub access_logs: Option<AccessLogsInputs>,
    /// How Envoy reaches the local agent's xDS (gRPC) server.
    pub agent_grpc: AgentGrpcInputs,
    /// ACL token sent as `x-consul-token`; empty when there is none.
    #[serde(default)]
    pub token: String,
    /// The opaque `Proxy.Config` map of the proxy registration.
    #[serde(default)]
    pub proxy_config: Map<String, Value>,
    /// Readiness listener address (with `ready_bind_port`).
    #[serde(default)]
    pub ready_bind_address: Option<String>,
    /// Readiness listener port (with `ready_bind_address`).
    #[serde(default)]
    pub ready_bind_port: Option<u16>,
    /// Prometheus listener settings (used with `envoy_prometheus_bind_addr`).
    #[serde(default)]
    pub prometheus: PrometheusInputs,
    /// Leave out the nine stats tag rules Consul deprecated in 1.9.
    #[serde(default)]
    pub omit_deprecated_tags: bool,
}

impl fmt::Debug for BootstrapInputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a bearer credential: only say whether there is one. The proxy config
        // is printed by key only, because a template override may embed secrets too.
        let token = if self.token.is_empty() {
            "<none>"
        } else {
            "<redacted>"
        };
        let config_keys: Vec<&String> = self.proxy_config.keys().collect();
        f.debug_struct("BootstrapInputs")
            .field("proxy_id", &self.proxy_id)
            .field("proxy_cluster", &self.proxy_cluster)
            .field("proxy_source_service", &self.proxy_source_service)
            .field("proxy_kind", &self.proxy_kind)
            .field("namespace", &self.namespace)
            .field("partition", &self.partition)
            .field("datacenter", &self.datacenter)
            .field("node_name", &self.node_name)
            .field("admin", &self.admin)
            .field("access_logs", &self.access_logs)
            .field("agent_grpc", &self.agent_grpc)
            .field("token", &token)
            .field("proxy_config_keys", &config_keys)
            .field("ready_bind_address", &self.ready_bind_address)
            .field("ready_bind_port", &self.ready_bind_port)
            .field("prometheus", &self.prometheus)
            .field("omit_deprecated_tags", &self.omit_deprecated_tags)
            .finish()
    }
}

/// Envoy admin interface settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AdminInputs {
    /// Admin access log path, used when no access logger is configured.
    pub access_log_path: String,
    /// IP literal the admin server binds (Envoy needs an IP for STATIC endpoints).
    pub bind_address: String,
    /// Admin port.
    pub bind_port: u16,
}

/// The access-log block of the global `proxy-defaults` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct AccessLogsInputs {
    /// Access logs are on.
    #[serde(default)]
    pub enabled: bool,
    /// Listener logs off (has no effect on the admin logger).
    #[serde(default)]
    pub disable_listener_logs: bool,
    /// Sink: empty/`stdout`, `stderr` or `file`.
    #[serde(default, rename = "type")]
    pub sink_type: Option<String>,
    /// File path for the `file` sink.
    #[serde(default)]
    pub path: Option<String>,
    /// A string holding a JSON object: the JSON log format.
    #[serde(default)]
    pub json_format: Option<String>,
    /// A text log format.
    #[serde(default)]
    pub text_format: Option<String>,
}

/// How Envoy reaches the local agent's gRPC (xDS) server.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct AgentGrpcInputs {
    /// IP literal of the agent (null with a Unix socket).
    #[serde(default)]
    pub address: Option<String>,
    /// gRPC port (null with a Unix socket).
    #[serde(default)]
    pub port: Option<u16>,
    /// Unix socket path; when set it replaces address and port.
    #[serde(default)]
    pub unix_socket: Option<String>,
    /// Use TLS to the agent.
    #[serde(default)]
    pub tls: bool,
    /// PEM text of each CA file, in read order; joined into the trusted CA.
    #[serde(default)]
    pub ca_pems: Option<Vec<String>>,
}

impl fmt::Debug for AgentGrpcInputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // CA certificates are public, but kilobytes of PEM make a log line unreadable.
        let ca_count = self.ca_pems.as_ref().map(Vec::len);
        f.debug_struct("AgentGrpcInputs")
            .field("address", &self.address)
            .field("port", &self.port)
            .field("unix_socket", &self.unix_socket)
            .field("tls", &self.tls)
            .field("ca_pem_count", &ca_count)
            .finish()
    }
}

/// Prometheus listener settings (`-prometheus-*` flags upstream).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PrometheusInputs {
    /// When set, scrapes go to a `prometheus_backend` cluster on this port of the admin address.
    #[serde(default)]
    pub backend_port: Option<u16>,
    /// Path the listener serves; `/metrics` by default.
    #[serde(default = "default_scrape_path")]
    pub scrape_path: String,
    /// Trusted CA file for the TLS listener.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Watched CA directory for the TLS listener (wins over `ca_file`).
    #[serde(default)]
    pub ca_path: Option<String>,
    /// Server certificate; setting it turns TLS on.
    #[serde(default)]
    pub cert_file: Option<String>,
    /// Server private key.
    #[serde(default)]
    pub key_file: Option<String>,
}

fn default_scrape_path() -> String {
    "/metrics".to_string()
}

impl Default for PrometheusInputs {
    fn default() -> Self {
        PrometheusInputs {
            backend_port: None,
            scrape_path: default_scrape_path(),
            ca_file: None,
            ca_path: None,
            cert_file: None,
            key_file: None,
        }
    }
}
