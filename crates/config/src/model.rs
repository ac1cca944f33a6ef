//! Typed form of the consul-ecs v0.6.2 configuration document, and the
//! defaults consul-ecs applies in code (all of them live here, as methods).
//!
//! The blocks both layouts share (`consulLogin`, `service`, `proxy`,
//! `gateway` and what they hold) are also the blocks of the v0.10 document
//! ([`crate::dataplane::Config`]); the few keys only v0.10 knows are marked
//! "v0.10 only" and stay empty in a v0.6.2 config, whose rules refuse them.
//!
//! As in v0.6.2 (Go), an empty string, an empty list, `false`, `0` and a
//! missing or `null` key all mean "not set" for the plain fields below; the
//! methods on [`Config`] turn "not set" into the value consul-ecs uses.
//! Serialising a `Config` yields a document that loads again to an equal one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Auth method name used when `consulLogin.method` is empty or unset.
pub const DEFAULT_LOGIN_METHOD: &str = "iam-ecs-service-token";
/// Envoy public listener port when `proxy.publicListenerPort` is 0 or unset.
pub const DEFAULT_PUBLIC_LISTENER_PORT: u16 = 20000;
/// Mesh gateway port (service port and tagged-address ports) when unset or 0.
pub const DEFAULT_GATEWAY_PORT: u16 = 8443;
/// v0.10: Envoy's readiness port (`proxy.healthCheckPort`, `gateway.healthCheckPort`)
/// when unset or 0.
pub const DEFAULT_HEALTH_CHECK_PORT: u16 = 22000;
/// File in `bootstrapDir` that mesh-init writes the login token to.
pub const SERVICE_TOKEN_FILE: &str = "service-token";
/// File in `bootstrapDir` holding the client agent's token (logged out by health-sync).
pub const CLIENT_TOKEN_FILE: &str = "client-token";
/// File in `bootstrapDir` that mesh-init writes the Envoy bootstrap to.
pub const ENVOY_BOOTSTRAP_FILE: &str = "envoy-bootstrap.json";
/// Name of the copy of the consul-ecs executable mesh-init puts in `bootstrapDir`.
pub const BINARY_COPY_FILE: &str = "consul-ecs";

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

fn is_zero_u16(n: &u16) -> bool {
    *n == 0
}

/// Empty means "not set" (Go semantics), so callers get `None` for it.
pub(crate) fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// The whole `CONSUL_ECS_CONFIG_JSON` document.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Directory shared with the Envoy container (token, bootstrap, binary copy).
    pub bootstrap_dir: String,
    /// Log verbosity; see [`Config::log_level`] for the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<LogLevel>,
    /// Consul server address for login, replication check and logout only.
    #[serde(rename = "consulHTTPAddr", skip_serializing_if = "String::is_empty")]
    pub consul_http_addr: String,
    /// CA file for those same login-related calls.
    #[serde(rename = "consulCACertFile", skip_serializing_if = "String::is_empty")]
    pub consul_ca_cert_file: String,
    /// AWS IAM auth-method login settings; `None` means login off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consul_login: Option<ConsulLogin>,
    /// Containers whose ECS health is mirrored into Consul TTL checks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub health_sync_containers: Vec<String>,
    /// Service registration settings (ignored for gateway tasks except `partition`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
    /// Sidecar proxy registration settings (ignored for gateway tasks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Proxy>,
    /// When present the task registers as a mesh gateway instead of service + sidecar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Gateway>,
}

/// Allowed `logLevel` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    /// `TRACE`
    Trace,
    /// `DEBUG`
    Debug,
    /// `INFO` (the default)
    #[default]
    Info,
    /// `WARN`
    Warn,
    /// `ERROR`
    Error,
}

impl std::fmt::Display for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl LogLevel {
    /// The spelling used in the config (`"INFO"`).
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        }
    }

    /// The matching `tracing` filter directive (`"info"`).
    pub fn as_filter(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// `consulLogin`: AWS IAM auth-method login.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ConsulLogin {
    /// Turns login on (mesh-init) and token use / logout (health-sync).
    #[serde(skip_serializing_if = "is_false")]
    pub enabled: bool,
    /// Auth method name; see [`Config::login_method`].
    #[serde(skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// v0.10 only: datacenter of the auth method; empty means the servers' own.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    /// Send the signed IAM GetRole/GetUser request; see [`Config::include_entity`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_entity: Option<bool>,
    /// Extra login metadata, merged over the built-in keys (user wins).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
    /// Region for the signed STS request; empty means the task ARN's region.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub region: String,
    /// STS URL override for the signed `GetCallerIdentity` request.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sts_endpoint: String,
    /// Value of the `X-Consul-IAM-ServerID` header; empty means not sent.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub server_id_header_value: String,
}

/// `service`: the Consul service registration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Service {
    /// Service name; empty means the lower-cased task family ([`Config::service_name`]).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Service tags, also put on the sidecar.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The application's port (also the sidecar's local service port).
    pub port: u16,
    /// Consul's tag-override flag, also set on the sidecar.
    #[serde(skip_serializing_if = "is_false")]
    pub enable_tag_override: bool,
    /// Extra service metadata, merged over the built-in keys (user wins).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
    /// DNS SRV weights; `None` leaves them to Consul.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weights: Option<Weights>,
    /// User-defined checks on the service (not the sidecar).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
    /// Enterprise namespace of service and sidecar.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Enterprise admin partition of service and sidecar (and of the login).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// v0.10 only: passive health checking (outlier detection) of upstreams.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_resilience_config: Option<NetworkResilienceConfig>,
}

/// v0.10 `service.networkResilienceConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct NetworkResilienceConfig {
    /// Adds a `PassiveHealthCheck` to the service's `service-defaults` when it has none.
    pub enabled: bool,
    /// The outlier detection settings; unset ones take the defaults of
    /// [`OutlierDetection`]'s methods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outlier_detection: Option<OutlierDetection>,
}

/// v0.10 `service.networkResilienceConfig.outlierDetection`. `None` means
/// "not set"; the methods give the value mesh-init writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct OutlierDetection {
    /// Time between ejection sweeps, in nanoseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
    /// Consecutive failures before a host is ejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_failures: Option<i64>,
    /// Percent chance that `consecutive5xx` ejects a host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforcing_consecutive5xx: Option<i64>,
    /// Consecutive 5xx answers before a host is ejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consecutive5xx: Option<i64>,
    /// Percent chance that `consecutiveGatewayFailure` ejects a host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforcing_consecutive_gateway_failure: Option<i64>,
    /// Consecutive gateway failures (502, 503, 504) before a host is ejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consecutive_gateway_failure: Option<i64>,
    /// Most hosts, in percent, that may be ejected at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_ejection_percent: Option<i64>,
}

/// Outlier detection sweep interval when unset: 10 s, in nanoseconds.
pub const DEFAULT_OUTLIER_INTERVAL_NANOS: i64 = 10_000_000_000;
/// Consecutive failures before ejection when unset.
pub const DEFAULT_OUTLIER_MAX_FAILURES: i64 = 5;
/// Gateway-failure enforcement percentage when unset.
pub const DEFAULT_OUTLIER_ENFORCING_GATEWAY_FAILURE: i64 = 100;
/// Largest ejected share of hosts, in percent, when unset.
pub const DEFAULT_OUTLIER_MAX_EJECTION_PERCENT: i64 = 50;

impl OutlierDetection {
    /// Sweep interval in nanoseconds ([`DEFAULT_OUTLIER_INTERVAL_NANOS`] when unset).
    pub fn interval_nanos(&self) -> i64 {
        self.interval.unwrap_or(DEFAULT_OUTLIER_INTERVAL_NANOS)
    }

    /// Failures before ejection ([`DEFAULT_OUTLIER_MAX_FAILURES`] when unset).
    pub fn max_failures(&self) -> i64 {
        self.max_failures.unwrap_or(DEFAULT_OUTLIER_MAX_FAILURES)
    }

    /// Gateway-failure enforcement percentage
    /// ([`DEFAULT_OUTLIER_ENFORCING_GATEWAY_FAILURE`] when unset).
    pub fn enforcing_consecutive_gateway_failure(&self) -> i64 {
        self.enforcing_consecutive_gateway_failure
            .unwrap_or(DEFAULT_OUTLIER_ENFORCING_GATEWAY_FAILURE)
    }

    /// Largest ejected share in percent ([`DEFAULT_OUTLIER_MAX_EJECTION_PERCENT`] when unset).
    pub fn max_ejection_percent(&self) -> i64 {
        self.max_ejection_percent
            .unwrap_or(DEFAULT_OUTLIER_MAX_EJECTION_PERCENT)
    }
}

/// `service.weights`: DNS SRV weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Weights {
    /// Weight while checks pass.
    pub passing: i64,
    /// Weight while a check warns.
    pub warning: i64,
}

/// One `service.checks[]` item: Consul's `AgentServiceCheck` fields that
/// consul-ecs passes through unchanged. Empty strings, `false` and `0` mean
/// "not set", as in Consul's Go API.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Check {
    /// Check ID; empty lets the agent pick one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub check_id: String,
    /// Check name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Script check command line.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// How often to run the check (duration text, passed to Consul unchecked).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub interval: String,
    /// Per-run timeout (duration text).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub timeout: String,
    /// Makes it a TTL check with this period.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ttl: String,
    /// URL of an HTTP check.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub http: String,
    /// HTTP headers of an HTTP check.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub header: BTreeMap<String, Vec<String>>,
    /// HTTP method (Consul uses GET when empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// HTTP request body.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// host:port of a TCP check.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tcp: String,
    /// host:port of a UDP check (kept; v0.6.2 silently dropped it).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub udp: String,
    /// Initial status: `passing`, `warning`, `critical` or `maintenance`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// Free text for people.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// SNI name for TLS checks.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tls_server_name: String,
    /// Skip certificate verification.
    #[serde(skip_serializing_if = "is_false")]
    pub tls_skip_verify: bool,
    /// Target of a gRPC health check.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub grpc: String,
    /// Use TLS for the gRPC check.
    #[serde(skip_serializing_if = "is_false")]
    pub grpc_use_tls: bool,
    /// Address of an HTTP/2 ping check.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub h2ping: String,
    /// Use TLS for the h2ping check (input may also spell it `h2pingUseTLS`).
    #[serde(skip_serializing_if = "is_false")]
    pub h2ping_use_tls: bool,
    /// Node of an alias check.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alias_node: String,
    /// Service ID of an alias check.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alias_service: String,
    /// Consecutive successes needed before passing.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub success_before_passing: i64,
    /// Consecutive failures needed before critical.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub failures_before_critical: i64,
}

/// `proxy`: the sidecar proxy registration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Proxy {
    /// Opaque proxy config, handed to Consul verbatim (numbers keep their spelling).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub config: Map<String, Value>,
    /// Envoy public listener port; see [`Config::public_listener_port`].
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub public_listener_port: u16,
    /// v0.10 only: where Envoy reaches the application; empty means localhost.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub local_service_address: String,
    /// v0.10 only: Envoy's readiness port; 0 means [`DEFAULT_HEALTH_CHECK_PORT`].
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub health_check_port: u16,
    /// Upstream listeners.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub upstreams: Vec<Upstream>,
    /// Proxy-wide mesh gateway mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mesh_gateway: Option<MeshGateway>,
    /// Paths Envoy exposes outside the mesh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose: Option<Expose>,
}

/// One `proxy.upstreams[]` item.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Upstream {
    /// `service` or `prepared_query`; empty means Consul's default (`service`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub destination_type: String,
    /// Enterprise namespace of the upstream.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub destination_namespace: String,
    /// Enterprise partition of the upstream.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub destination_partition: String,
    /// Target service (or prepared query) name.
    pub destination_name: String,
    /// v0.10 only: the cluster peer that holds the upstream.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub destination_peer: String,
    /// Datacenter to resolve the upstream in; empty means local.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    /// Local listener address; empty means the Consul/Envoy default.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub local_bind_address: String,
    /// Local port the app dials to reach the upstream.
    pub local_bind_port: u16,
    /// Opaque per-upstream proxy config.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub config: Map<String, Value>,
    /// Per-upstream mesh gateway mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mesh_gateway: Option<MeshGateway>,
}

/// `meshGateway` objects (proxy-wide and per upstream).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct MeshGateway {
    /// `none`, `local` or `remote`.
    pub mode: String,
}

/// `proxy.expose`: paths exposed through Envoy outside the mesh.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Expose {
    /// Expose the HTTP/gRPC checks through Envoy.
    #[serde(skip_serializing_if = "is_false")]
    pub checks: bool,
    /// Paths to expose.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<ExposePath>,
}

/// One `proxy.expose.paths[]` item.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ExposePath {
    /// Port Envoy listens on for the path.
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub listener_port: u16,
    /// The HTTP path Envoy serves.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// Port of the app that serves the path.
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub local_path_port: u16,
    /// `http` or `http2`; empty means Consul's default.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub protocol: String,
}

/// `gateway`: mesh gateway registration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Gateway {
    /// Kind of gateway (only mesh gateways exist in v0.6.2).
    pub kind: GatewayKind,
    /// LAN address/port override.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lan_address: Option<GatewayAddress>,
    /// WAN tagged address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wan_address: Option<GatewayAddress>,
    /// Gateway name; empty means the task family unchanged ([`Config::gateway_name`]).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Gateway tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Extra metadata merged over the built-in keys (user wins).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
    /// Enterprise namespace of the gateway.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Enterprise partition of the gateway.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Proxy settings of the gateway registration; `Some` even when empty,
    /// because Consul then gets a `Proxy` object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<GatewayProxy>,
    /// v0.10 only: Envoy's readiness port; 0 means [`DEFAULT_HEALTH_CHECK_PORT`].
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub health_check_port: u16,
}

/// `gateway.kind` values. v0.6.2 knows only mesh gateways (its rules refuse
/// the others); v0.10 adds terminating and API gateways.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum GatewayKind {
    /// `mesh-gateway`
    #[default]
    #[serde(rename = "mesh-gateway")]
    MeshGateway,
    /// `terminating-gateway` (v0.10 only)
    #[serde(rename = "terminating-gateway")]
    TerminatingGateway,
    /// `api-gateway` (v0.10 only)
    #[serde(rename = "api-gateway")]
    ApiGateway,
}

impl GatewayKind {
    /// The Consul service kind (`"mesh-gateway"`).
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayKind::MeshGateway => "mesh-gateway",
            GatewayKind::TerminatingGateway => "terminating-gateway",
            GatewayKind::ApiGateway => "api-gateway",
        }
    }
}

/// `gateway.lanAddress` / `gateway.wanAddress`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct GatewayAddress {
    /// Address; empty means not set.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// Port; 0 means [`DEFAULT_GATEWAY_PORT`].
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub port: u16,
}

/// `gateway.proxy`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct GatewayProxy {
    /// Opaque Envoy settings of the gateway.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub config: Map<String, Value>,
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

    /// `<bootstrapDir>/service-token`: where the login token is written and read.
    pub fn service_token_path(&self) -> PathBuf {
        self.bootstrap_dir().join(SERVICE_TOKEN_FILE)
    }

    /// `<bootstrapDir>/client-token`: logged out by health-sync when login is on.
    pub fn client_token_path(&self) -> PathBuf {
        self.bootstrap_dir().join(CLIENT_TOKEN_FILE)
    }

    /// `<bootstrapDir>/envoy-bootstrap.json`.
    pub fn envoy_bootstrap_path(&self) -> PathBuf {
        self.bootstrap_dir().join(ENVOY_BOOTSTRAP_FILE)
    }

    /// `<bootstrapDir>/consul-ecs`: where mesh-init copies its executable.
    pub fn binary_copy_path(&self) -> PathBuf {
        self.bootstrap_dir().join(BINARY_COPY_FILE)
    }

    /// Server address for login-related calls; `None` means the client default.
    pub fn consul_http_addr(&self) -> Option<&str> {
        non_empty(&self.consul_http_addr)
    }

    /// CA file for login-related calls; `None` means the client default.
    pub fn consul_ca_cert_file(&self) -> Option<&str> {
        non_empty(&self.consul_ca_cert_file)
    }

    /// Whether mesh-init logs in (and health-sync uses and logs out tokens).
    pub fn login_enabled(&self) -> bool {
        login_enabled(self.consul_login.as_ref())
    }

    /// Auth method name, [`DEFAULT_LOGIN_METHOD`] when empty or unset.
    pub fn login_method(&self) -> &str {
        login_method(self.consul_login.as_ref())
    }

    /// Whether the login carries the signed IAM entity request: true unless
    /// `consulLogin.includeEntity` is explicitly `false`.
    pub fn include_entity(&self) -> bool {
        include_entity(self.consul_login.as_ref())
    }

    /// Extra login metadata (empty when unset).
    pub fn login_meta(&self) -> BTreeMap<String, String> {
        login_meta(self.consul_login.as_ref())
    }

    /// Configured login region; `None` means "use the task ARN's region".
    pub fn login_region(&self) -> Option<&str> {
        login_text(self.consul_login.as_ref(), |l| &l.region)
    }

    /// Configured STS endpoint; `None` means the SDK default.
    pub fn sts_endpoint(&self) -> Option<&str> {
        login_text(self.consul_login.as_ref(), |l| &l.sts_endpoint)
    }

    /// `X-Consul-IAM-ServerID` value; `None` means the header is not sent.
    pub fn server_id_header_value(&self) -> Option<&str> {
        login_text(self.consul_login.as_ref(), |l| &l.server_id_header_value)
    }

    /// Partition of the login request: `service.partition`, else
    /// `gateway.partition`, else none (also for gateway tasks).
    pub fn login_partition(&self) -> Option<&str> {
        self.service
            .as_ref()
            .and_then(|s| non_empty(&s.partition))
            .or_else(|| self.gateway.as_ref().and_then(|g| non_empty(&g.partition)))
    }

    /// Whether this is a gateway task (a `gateway` object is present).
    pub fn is_gateway(&self) -> bool {
        self.gateway.is_some()
    }

    /// Consul service name: `service.name`, else the task family lower-cased
    /// (full Unicode lower-casing, not checked against the name pattern).
    /// health-sync uses this even for gateway tasks.
    pub fn service_name(&self, task_family: &str) -> String {
        service_name(self.service.as_ref(), task_family)
    }

    /// Gateway service name: `gateway.name`, else the task family unchanged.
    pub fn gateway_name(&self, task_family: &str) -> String {
        gateway_name(self.gateway.as_ref(), task_family)
    }

    /// The application's port (`0` when there is no `service` block).
    pub fn service_port(&self) -> u16 {
        self.service.as_ref().map_or(0, |s| s.port)
    }

    /// The sidecar settings, with a missing `proxy` treated as `proxy: {}`
    /// (v0.6.2 crashed on a service task without one).
    pub fn proxy_or_default(&self) -> Proxy {
        self.proxy.clone().unwrap_or_default()
    }

    /// Envoy public listener port: `proxy.publicListenerPort`, or
    /// [`DEFAULT_PUBLIC_LISTENER_PORT`] when it is 0 or unset.
    pub fn public_listener_port(&self) -> u16 {
        public_listener_port(self.proxy.as_ref())
    }
}

// The defaults of the blocks both layouts share, written once for
// `Config` (v0.6.2) and `dataplane::Config` (v0.10).

pub(crate) fn login_enabled(login: Option<&ConsulLogin>) -> bool {
    login.is_some_and(|l| l.enabled)
}

pub(crate) fn login_method(login: Option<&ConsulLogin>) -> &str {
    login
        .and_then(|l| non_empty(&l.method))
        .unwrap_or(DEFAULT_LOGIN_METHOD)
}

pub(crate) fn include_entity(login: Option<&ConsulLogin>) -> bool {
    login.and_then(|l| l.include_entity).unwrap_or(true)
}

pub(crate) fn login_meta(login: Option<&ConsulLogin>) -> BTreeMap<String, String> {
    login.map(|l| l.meta.clone()).unwrap_or_default()
}

/// A text field of `consulLogin`; `None` when the block or the field is empty.
pub(crate) fn login_text(
    login: Option<&ConsulLogin>,
    field: impl Fn(&ConsulLogin) -> &String,
) -> Option<&str> {
    login.and_then(|l| non_empty(field(l)))
}

pub(crate) fn service_name(service: Option<&Service>, task_family: &str) -> String {
    match service.and_then(|s| non_empty(&s.name)) {
        Some(name) => name.to_owned(),
        None => task_family.to_lowercase(),
    }
}

pub(crate) fn gateway_name(gateway: Option<&Gateway>, task_family: &str) -> String {
    match gateway.and_then(|g| non_empty(&g.name)) {
        Some(name) => name.to_owned(),
        None => task_family.to_owned(),
    }
}

pub(crate) fn public_listener_port(proxy: Option<&Proxy>) -> u16 {
    port_or(
        proxy.map_or(0, |p| p.public_listener_port),
        DEFAULT_PUBLIC_LISTENER_PORT,
    )
}

/// `port`, or `default` when it is 0 (Go's "not set").
pub(crate) fn port_or(port: u16, default: u16) -> u16 {
    match port {
        0 => default,
        port => port,
    }
}

impl Gateway {
    /// The registered gateway port: `lanAddress.port` when > 0, else 8443.
    pub fn service_port(&self) -> u16 {
        port_or(
            self.lan_address.as_ref().map_or(0, |a| a.port),
            DEFAULT_GATEWAY_PORT,
        )
    }

    /// v0.10: Envoy's readiness port, [`DEFAULT_HEALTH_CHECK_PORT`] when unset.
    pub fn health_check_port(&self) -> u16 {
        port_or(self.health_check_port, DEFAULT_HEALTH_CHECK_PORT)
    }

    /// The `lan` tagged address (also the registered address): present only
    /// when `lanAddress.address` is non-empty; the port defaults to 8443.
    pub fn lan_tagged_address(&self) -> Option<(&str, u16)> {
        tagged(self.lan_address.as_ref())
    }

    /// The `wan` tagged address: present only when `wanAddress.address` is
    /// non-empty; the port defaults to 8443 (not to the LAN port).
    pub fn wan_tagged_address(&self) -> Option<(&str, u16)> {
        tagged(self.wan_address.as_ref())
    }
}

fn tagged(address: Option<&GatewayAddress>) -> Option<(&str, u16)> {
    let address = address?;
    let host = non_empty(&address.address)?;
    Some((host, port_or(address.port, DEFAULT_GATEWAY_PORT)))
}
