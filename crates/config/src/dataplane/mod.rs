//! The consul-ecs v0.10 (Consul Dataplane) configuration: no client agent in
//! the task, mesh-init and health-sync talk to the Consul servers named in
//! `consulServers`, and consul-dataplane runs Envoy.
//!
//! [`parse`] checks a document against the v0.10 rules with the same walk as
//! the v0.6.2 side (every problem at once, each by JSON path) and decodes it
//! into [`Config`]. The blocks the two layouts share are the v0.6.2 types
//! ([`Service`], [`Proxy`], [`Gateway`], [`ConsulLogin`]); the methods here
//! apply upstream v0.10.0's code defaults (`config/types.go`,
//! `config/config.go`), which the schema does not state: TLS on, HTTPS on
//! port 8501, gRPC on 8503, `consulLogin.includeEntity` true, transparent
//! proxy on, `controller.iamRolePath` `/consul-ecs/` when `controller` is given.

pub(crate) mod schema;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{self, non_empty, port_or};
use crate::{ConfigError, ConsulLogin, Gateway, LogLevel, Proxy, Service};

/// Consul's HTTPS port, used when `consulServers.http.port` is unset or 0.
pub const DEFAULT_HTTP_PORT: u16 = 8501;
/// Consul's gRPC TLS port, used when `consulServers.grpc.port` is unset or 0.
pub const DEFAULT_GRPC_PORT: u16 = 8503;
/// IAM role path the controller trusts when `controller.iamRolePath` is unset or empty.
pub const DEFAULT_IAM_ROLE_PATH: &str = "/consul-ecs/";
/// The `consulServers.hosts` prefix that names a command printing the server addresses.
pub const EXEC_HOSTS_PREFIX: &str = "exec=";
/// Environment variable with the CA (PEM text) for HTTPS to the servers; wins over the files.
pub const HTTPS_CA_PEM_ENV: &str = "CONSUL_HTTPS_CACERT_PEM";
/// Environment variable with the CA (PEM text) for gRPC to the servers; wins over the files.
pub const GRPC_CA_PEM_ENV: &str = "CONSUL_GRPC_CACERT_PEM";
/// File in `bootstrapDir` that mesh-init writes consul-dataplane's configuration to.
pub const DATAPLANE_CONFIG_FILE: &str = "consul-dataplane.json";
/// File in `bootstrapDir` that mesh-init writes the gRPC CA (from [`GRPC_CA_PEM_ENV`]) to.
pub const GRPC_CA_CERT_FILE: &str = "consul-grpc-ca-cert.pem";

fn is_false(b: &bool) -> bool {
    !*b
}

/// The whole v0.10 `CONSUL_ECS_CONFIG_JSON` document.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Directory shared with the consul-dataplane container.
    pub bootstrap_dir: String,
    /// Log verbosity; see [`Config::log_level`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<LogLevel>,
    /// AWS IAM auth-method login settings; `None` means login off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consul_login: Option<ConsulLogin>,
    /// Settings of the `controller` command; `None` when the block is absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller: Option<Controller>,
    /// Where the Consul servers are and how to reach them.
    pub consul_servers: ConsulServers,
    /// Containers whose ECS health is synced into Consul checks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub health_sync_containers: Vec<String>,
    /// Service registration settings (`service.checks` does not exist in v0.10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
    /// Sidecar proxy registration settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Proxy>,
    /// When present the task registers as a gateway instead of service + sidecar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Gateway>,
    /// Transparent proxy settings; see [`Config::transparent_proxy_enabled`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transparent_proxy: Option<TransparentProxy>,
}

/// `controller`: settings of the `controller` command.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Controller {
    /// IAM path of the task roles the auth methods trust; see [`Controller::iam_role_path`].
    #[serde(skip_serializing_if = "String::is_empty")]
    pub iam_role_path: String,
    /// Manage an admin partition and its namespaces (Enterprise).
    #[serde(skip_serializing_if = "is_false")]
    pub partitions_enabled: bool,
    /// The partition to manage; empty means `default`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
}

impl Controller {
    /// `iamRolePath`, or [`DEFAULT_IAM_ROLE_PATH`] when it is empty or unset.
    pub fn iam_role_path(&self) -> &str {
        non_empty(&self.iam_role_path).unwrap_or(DEFAULT_IAM_ROLE_PATH)
    }
}

/// `consulServers`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ConsulServers {
    /// An address, a DNS name, or `exec=<command>` printing addresses.
    pub hosts: String,
    /// Do not watch the server list over gRPC (servers behind a load balancer).
    #[serde(skip_serializing_if = "is_false")]
    pub skip_server_watch: bool,
    /// TLS settings of both interfaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defaults: Option<ServerDefaults>,
    /// HTTP(S) settings, over `defaults`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<ServerHttp>,
    /// gRPC settings, over `defaults`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc: Option<ServerGrpc>,
}

/// `consulServers.defaults`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ServerDefaults {
    /// CA certificate file for both interfaces.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ca_cert_file: String,
    /// TLS on both interfaces; `None` means on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
    /// SNI / verified name for both interfaces.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tls_server_name: String,
}

/// `consulServers.http`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ServerHttp {
    /// CA certificate file for HTTPS, over `defaults.caCertFile`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ca_cert_file: String,
    /// Use HTTPS; `None` means yes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub https: Option<bool>,
    /// HTTP(S) port; unset or 0 means [`DEFAULT_HTTP_PORT`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Over `defaults.tls` (upstream reads it but decides HTTPS by `https` alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
    /// SNI / verified name for HTTPS, over `defaults.tlsServerName`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tls_server_name: String,
}

/// `consulServers.grpc`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ServerGrpc {
    /// CA certificate file for gRPC, over `defaults.caCertFile`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ca_cert_file: String,
    /// gRPC port; unset or 0 means [`DEFAULT_GRPC_PORT`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// TLS for gRPC, over `defaults.tls`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
    /// SNI / verified name for gRPC, over `defaults.tlsServerName`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tls_server_name: String,
}

/// The TLS settings one interface ends up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsSettings<'a> {
    /// Whether TLS is used.
    pub enabled: bool,
    /// CA certificate file; `None` means the system roots (or the PEM variable).
    pub ca_cert_file: Option<&'a str>,
    /// Name to verify and send as SNI; `None` means the host dialled.
    pub server_name: Option<&'a str>,
}

impl ConsulServers {
    /// Whether `hosts` is an `exec=<command>` rather than an address.
    pub fn hosts_command(&self) -> Option<&str> {
        self.hosts.strip_prefix(EXEC_HOSTS_PREFIX)
    }

    /// `defaults.tls`, true when unset.
    fn default_tls(&self) -> bool {
        self.defaults.as_ref().and_then(|d| d.tls).unwrap_or(true)
    }

    fn default_text(&self, field: impl Fn(&ServerDefaults) -> &String) -> Option<&str> {
        self.defaults.as_ref().and_then(|d| non_empty(field(d)))
    }

    /// The HTTP port ([`DEFAULT_HTTP_PORT`] when unset or 0).
    pub fn http_port(&self) -> u16 {
        port_or(
            self.http.as_ref().and_then(|h| h.port).unwrap_or(0),
            DEFAULT_HTTP_PORT,
        )
    }

    /// Whether HTTP calls use HTTPS (`http.https`, true when unset).
    pub fn https(&self) -> bool {
        self.http.as_ref().and_then(|h| h.https).unwrap_or(true)
    }

    /// The gRPC port ([`DEFAULT_GRPC_PORT`] when unset or 0).
    pub fn grpc_port(&self) -> u16 {
        port_or(
            self.grpc.as_ref().and_then(|g| g.port).unwrap_or(0),
            DEFAULT_GRPC_PORT,
        )
    }

    /// The gRPC TLS settings: `grpc.*` over `defaults.*`, TLS on when neither says.
    pub fn grpc_tls(&self) -> TlsSettings<'_> {
        let grpc = self.grpc.as_ref();
        TlsSettings {
            enabled: grpc
                .and_then(|g| g.tls)
                .unwrap_or_else(|| self.default_tls()),
            ca_cert_file: grpc
                .and_then(|g| non_empty(&g.ca_cert_file))
                .or_else(|| self.default_text(|d| &d.ca_cert_file)),
            server_name: grpc
                .and_then(|g| non_empty(&g.tls_server_name))
                .or_else(|| self.default_text(|d| &d.tls_server_name)),
        }
    }

    /// The HTTP TLS settings: `http.*` over `defaults.*`. Whether HTTPS is
    /// used at all is [`ConsulServers::https`] (as upstream decides it).
    pub fn http_tls(&self) -> TlsSettings<'_> {
        let http = self.http.as_ref();
        TlsSettings {
            enabled: self.https(),
            ca_cert_file: http
                .and_then(|h| non_empty(&h.ca_cert_file))
                .or_else(|| self.default_text(|d| &d.ca_cert_file)),
            server_name: http
                .and_then(|h| non_empty(&h.tls_server_name))
                .or_else(|| self.default_text(|d| &d.tls_server_name)),
        }
    }
}

/// `transparentProxy`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct TransparentProxy {
    /// On unless `false`; see [`Config::transparent_proxy_enabled`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Inbound ports not redirected to Envoy.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_inbound_ports: Vec<u16>,
    /// Outbound ports not redirected to Envoy.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_outbound_ports: Vec<u16>,
    /// Outbound CIDRs not redirected to Envoy.
    #[serde(rename = "excludeOutboundCIDRs", skip_serializing_if = "Vec::is_empty")]
    pub exclude_outbound_cidrs: Vec<String>,
    /// User IDs whose traffic is not redirected (besides Envoy's and health-sync's).
    #[serde(rename = "excludeUIDs", skip_serializing_if = "Vec::is_empty")]
    pub exclude_uids: Vec<String>,
    /// Consul DNS inside the task.
    #[serde(rename = "consulDNS", skip_serializing_if = "Option::is_none")]
    pub consul_dns: Option<ConsulDns>,
}

/// `transparentProxy.consulDNS`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ConsulDns {
    /// Point the task's resolver at Consul DNS (needs transparent proxy); off when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl Config {
    /// Log level, `INFO` when unset.
    pub fn log_level(&self) -> LogLevel {
        self.log_level.unwrap_or_default()
    }

    /// The bootstrap directory as a path.
    pub fn bootstrap_dir(&self) -> &Path {
        Path::new(&self.bootstrap_dir)
    }

    /// Whether this is a gateway task (a `gateway` object is present).
    pub fn is_gateway(&self) -> bool {
        self.gateway.is_some()
    }

    /// Whether mesh-init logs in (and health-sync logs out at the end).
    pub fn login_enabled(&self) -> bool {
        model::login_enabled(self.consul_login.as_ref())
    }

    /// Auth method name, [`crate::DEFAULT_LOGIN_METHOD`] when empty or unset.
    pub fn login_method(&self) -> &str {
        model::login_method(self.consul_login.as_ref())
    }

    /// Whether the login carries the signed IAM entity request (true unless `false`).
    pub fn include_entity(&self) -> bool {
        model::include_entity(self.consul_login.as_ref())
    }

    /// Extra login metadata (empty when unset).
    pub fn login_meta(&self) -> BTreeMap<String, String> {
        model::login_meta(self.consul_login.as_ref())
    }

    /// Datacenter of the auth method; `None` means the servers' own.
    pub fn login_datacenter(&self) -> Option<&str> {
        model::login_text(self.consul_login.as_ref(), |l| &l.datacenter)
    }

    /// Configured login region; `None` means "use the task ARN's region".
    pub fn login_region(&self) -> Option<&str> {
        model::login_text(self.consul_login.as_ref(), |l| &l.region)
    }

    /// Configured STS endpoint; `None` means the SDK default.
    pub fn sts_endpoint(&self) -> Option<&str> {
        model::login_text(self.consul_login.as_ref(), |l| &l.sts_endpoint)
    }

    /// `X-Consul-IAM-ServerID` value; `None` means the header is not sent.
    pub fn server_id_header_value(&self) -> Option<&str> {
        model::login_text(self.consul_login.as_ref(), |l| &l.server_id_header_value)
    }

    /// Namespace of every call and registration: the gateway's in a gateway
    /// task, else the service's (upstream's `getNamespace`).
    pub fn namespace(&self) -> Option<&str> {
        match &self.gateway {
            Some(gateway) => non_empty(&gateway.namespace),
            None => self.service.as_ref().and_then(|s| non_empty(&s.namespace)),
        }
    }

    /// Partition of every call, registration and the login: the gateway's in
    /// a gateway task, else the service's. (v0.6.2's login fell back from the
    /// service's partition to the gateway's; v0.10 picks by task kind.)
    pub fn partition(&self) -> Option<&str> {
        match &self.gateway {
            Some(gateway) => non_empty(&gateway.partition),
            None => self.service.as_ref().and_then(|s| non_empty(&s.partition)),
        }
    }

    /// Consul service name: `service.name`, else the task family lower-cased.
    pub fn service_name(&self, task_family: &str) -> String {
        model::service_name(self.service.as_ref(), task_family)
    }

    /// Gateway service name: `gateway.name`, else the task family unchanged.
    pub fn gateway_name(&self, task_family: &str) -> String {
        model::gateway_name(self.gateway.as_ref(), task_family)
    }

    /// Envoy public listener port, [`crate::DEFAULT_PUBLIC_LISTENER_PORT`] when unset.
    pub fn public_listener_port(&self) -> u16 {
        model::public_listener_port(self.proxy.as_ref())
    }

    /// Envoy's readiness port (consul-dataplane's `envoy.readyBindPort`): the
    /// gateway's or the proxy's `healthCheckPort`, [`crate::DEFAULT_HEALTH_CHECK_PORT`]
    /// when unset.
    pub fn health_check_port(&self) -> u16 {
        match &self.gateway {
            Some(gateway) => gateway.health_check_port(),
            None => port_or(
                self.proxy.as_ref().map_or(0, |p| p.health_check_port),
                crate::DEFAULT_HEALTH_CHECK_PORT,
            ),
        }
    }

    /// Whether mesh-init sets up the transparent proxy: on unless
    /// `transparentProxy.enabled` is `false`, never for gateways.
    pub fn transparent_proxy_enabled(&self) -> bool {
        !self.is_gateway()
            && self
                .transparent_proxy
                .as_ref()
                .and_then(|t| t.enabled)
                .unwrap_or(true)
    }

    /// Whether the task resolves names with Consul DNS: needs the transparent
    /// proxy and `transparentProxy.consulDNS.enabled`.
    pub fn consul_dns_enabled(&self) -> bool {
        self.transparent_proxy_enabled()
            && self
                .transparent_proxy
                .as_ref()
                .and_then(|t| t.consul_dns.as_ref())
                .and_then(|d| d.enabled)
                .unwrap_or(false)
    }

    /// The controller's IAM role path: `None` without a `controller` block
    /// (upstream leaves it empty then), else `iamRolePath` or `/consul-ecs/`.
    pub fn controller_iam_role_path(&self) -> Option<&str> {
        self.controller.as_ref().map(Controller::iam_role_path)
    }

    /// `<bootstrapDir>/consul-dataplane.json`.
    pub fn dataplane_config_path(&self) -> std::path::PathBuf {
        self.bootstrap_dir().join(DATAPLANE_CONFIG_FILE)
    }

    /// `<bootstrapDir>/consul-ecs`: where mesh-init copies its executable.
    pub fn binary_copy_path(&self) -> std::path::PathBuf {
        self.bootstrap_dir().join(crate::BINARY_COPY_FILE)
    }
}

/// Parses and validates a v0.10 document, whatever keys it has (use
/// [`crate::load`] to choose the layout by the keys).
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    let doc = crate::parse_json(text)?;
    from_value(&doc)
}

/// Validates and decodes an already parsed v0.10 document.
pub(crate) fn from_value(doc: &Value) -> Result<Config, ConfigError> {
    let mut cleaned =
        crate::schema::validate_against(doc, &schema::ROOT).map_err(ConfigError::Invalid)?;
    // Go decodes `"controller": null` into a present, empty block (the value
    // type's UnmarshalJSON runs on `null`), which gets the default role path;
    // the walk drops nulls, so put the empty block back.
    if doc.get("controller").is_some_and(Value::is_null) {
        if let Some(root) = cleaned.as_object_mut() {
            root.insert("controller".into(), Value::Object(Default::default()));
        }
    }
    crate::decode_cleaned(cleaned)
}
