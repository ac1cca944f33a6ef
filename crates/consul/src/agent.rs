//! Local agent endpoints: service registration, checks, TTL updates, `/v1/agent/self`
//! (docs/protocols.md §4).

use crate::client::{Client, QueryOptions};
use crate::serde_util::{
    empty_as_null, is_false, is_zero_i32, is_zero_u16, is_zero_u64, null_default,
};
use crate::ConsulError;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Body of `PUT /v1/agent/service/register`, shaped like the Go client's
/// `AgentServiceRegistration` so the wire body matches v0.6.2 (§4.1): empty fields are
/// omitted, except `Check` and `Checks`, which are sent as `null` when empty.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentServiceRegistration {
    /// `""` for a plain service, `connect-proxy`, `mesh-gateway`, …
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Service ID, unique per agent (defaults to `Name` on the agent side).
    #[serde(rename = "ID", skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Service name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Tags.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub tags: Vec<String>,
    /// Port (0 = not sent).
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub port: u16,
    /// Address (empty = the agent's address).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// Unix socket path instead of a port.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub socket_path: String,
    /// Tagged addresses (`lan`, `wan`, …).
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_default"
    )]
    pub tagged_addresses: BTreeMap<String, ServiceAddress>,
    /// Let catalog tag edits survive anti-entropy.
    #[serde(skip_serializing_if = "is_false")]
    pub enable_tag_override: bool,
    /// Service metadata.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_default"
    )]
    pub meta: BTreeMap<String, String>,
    /// DNS weights (`None` = agent default 1/1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weights: Option<AgentWeights>,
    /// Legacy single check; sent as `null` when `None`, like the Go client.
    pub check: Option<AgentServiceCheck>,
    /// Checks; sent as `null` when empty, like the Go client.
    #[serde(serialize_with = "empty_as_null", deserialize_with = "null_default")]
    pub checks: Vec<AgentServiceCheck>,
    /// Proxy configuration (required for `connect-proxy`, optional for gateways).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<AgentServiceConnectProxyConfig>,
    /// Connect block (`Native`, `SidecarService`); unused by consul-ecs, passed through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect: Option<Value>,
    /// Namespace (Enterprise; omitted when empty because CE rejects it).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Admin partition (Enterprise; omitted when empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
}

/// A tagged address: `{"Address": …, "Port": …}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceAddress {
    /// IP or host name.
    pub address: String,
    /// Port.
    pub port: u16,
}

/// DNS weights of a service.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentWeights {
    /// Weight while passing.
    pub passing: i32,
    /// Weight while warning.
    pub warning: i32,
}

/// A check definition inside a registration (`AgentServiceCheck`); every field is omitted
/// when empty/false/0, as the Go client does.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentServiceCheck {
    /// Check ID (default `service:<service ID>[:n]`).
    #[serde(rename = "CheckID", skip_serializing_if = "String::is_empty")]
    pub check_id: String,
    /// Check name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Script arguments.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub script_args: Vec<String>,
    /// Docker container for docker checks.
    #[serde(rename = "DockerContainerID", skip_serializing_if = "String::is_empty")]
    pub docker_container_id: String,
    /// Shell for docker checks.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub shell: String,
    /// Run interval (`"10s"`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub interval: String,
    /// Timeout of one run.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub timeout: String,
    /// TTL of a TTL check (`"100000h"`).
    #[serde(rename = "TTL", skip_serializing_if = "String::is_empty")]
    pub ttl: String,
    /// URL of an HTTP check.
    #[serde(rename = "HTTP", skip_serializing_if = "String::is_empty")]
    pub http: String,
    /// Headers of an HTTP check.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_default"
    )]
    pub header: BTreeMap<String, Vec<String>>,
    /// Method of an HTTP check.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// Body of an HTTP check.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// `host:port` of a TCP check.
    #[serde(rename = "TCP", skip_serializing_if = "String::is_empty")]
    pub tcp: String,
    /// `host:port` of a UDP check.
    #[serde(rename = "UDP", skip_serializing_if = "String::is_empty")]
    pub udp: String,
    /// Initial status (Consul's default is `critical`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// Free-text notes.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// TLS server name for HTTP/gRPC checks.
    #[serde(rename = "TLSServerName", skip_serializing_if = "String::is_empty")]
    pub tls_server_name: String,
    /// Skip TLS verification in the check (the check's, not ours).
    #[serde(rename = "TLSSkipVerify", skip_serializing_if = "is_false")]
    pub tls_skip_verify: bool,
    /// `host:port[/service]` of a gRPC check.
    #[serde(rename = "GRPC", skip_serializing_if = "String::is_empty")]
    pub grpc: String,
    /// Use TLS for the gRPC check.
    #[serde(rename = "GRPCUseTLS", skip_serializing_if = "is_false")]
    pub grpc_use_tls: bool,
    /// `host:port` of an H2 ping check.
    #[serde(rename = "H2PING", skip_serializing_if = "String::is_empty")]
    pub h2ping: String,
    /// TLS for the H2 ping check; `None` = not sent (Consul then defaults it to true).
    #[serde(rename = "H2PingUseTLS", skip_serializing_if = "Option::is_none")]
    pub h2ping_use_tls: Option<bool>,
    /// Node of an alias check.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alias_node: String,
    /// Service of an alias check.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alias_service: String,
    /// Passes needed before `passing`.
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub success_before_passing: i32,
    /// Failures needed before `warning`.
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub failures_before_warning: i32,
    /// Failures needed before `critical`.
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub failures_before_critical: i32,
    /// Deregister the service after being critical this long (`"10m"`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deregister_critical_service_after: String,
}

/// The `Proxy` block of a registration (`AgentServiceConnectProxyConfig`). `MeshGateway`
/// and `Expose` are always sent (as `{}` when empty), like the Go client.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentServiceConnectProxyConfig {
    /// Name of the service this proxy fronts.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub destination_service_name: String,
    /// ID of the service this proxy fronts.
    #[serde(
        rename = "DestinationServiceID",
        skip_serializing_if = "String::is_empty"
    )]
    pub destination_service_id: String,
    /// Address of the local application.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub local_service_address: String,
    /// Port of the local application.
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub local_service_port: u16,
    /// Socket path of the local application.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub local_service_socket_path: String,
    /// Proxy mode (not used on ECS).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mode: String,
    /// Transparent proxy settings (not used on ECS), passed through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transparent_proxy: Option<Value>,
    /// Opaque proxy configuration (`protocol`, `envoy_*`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Map<String, Value>>,
    /// Upstreams.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub upstreams: Vec<Upstream>,
    /// Mesh gateway mode (always sent).
    pub mesh_gateway: MeshGatewayConfig,
    /// Expose configuration (always sent).
    pub expose: ExposeConfig,
}

/// `{"Mode": …}`; the mode is omitted when empty so the default serialises as `{}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MeshGatewayConfig {
    /// `""`, `none`, `local` or `remote`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mode: String,
}

/// Expose configuration; the default serialises as `{}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExposeConfig {
    /// Expose HTTP/gRPC checks through the proxy.
    #[serde(skip_serializing_if = "is_false")]
    pub checks: bool,
    /// Paths to expose.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub paths: Vec<ExposePath>,
}

/// One exposed path.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExposePath {
    /// Port the proxy listens on.
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub listener_port: u16,
    /// HTTP path.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// Port of the application.
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub local_path_port: u16,
    /// `http` or `http2`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    /// Set by Consul for paths derived from checks.
    #[serde(skip_serializing_if = "is_false")]
    pub parsed_from_check: bool,
}

/// An upstream of a proxy. `DestinationName` and `MeshGateway` are always sent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Upstream {
    /// `service` (default) or `prepared_query`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub destination_type: String,
    /// Partition of the destination (Enterprise).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub destination_partition: String,
    /// Namespace of the destination (Enterprise).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub destination_namespace: String,
    /// Cluster peer of the destination.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub destination_peer: String,
    /// Destination service name.
    pub destination_name: String,
    /// Datacenter of the destination.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    /// Local bind address.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub local_bind_address: String,
    /// Local bind port.
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub local_bind_port: u16,
    /// Local bind socket path.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub local_bind_socket_path: String,
    /// Local bind socket mode.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub local_bind_socket_mode: String,
    /// Opaque upstream configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Map<String, Value>>,
    /// Mesh gateway mode for this upstream (always sent).
    pub mesh_gateway: MeshGatewayConfig,
    /// Set by Consul for centrally configured upstreams.
    #[serde(skip_serializing_if = "is_false")]
    pub centrally_configured: bool,
}

/// A service as the agent reports it (`GET /v1/agent/service/:id`, `/v1/agent/services`).
/// Note the name is under `Service`, not `Name`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentService {
    /// Kind (`""`, `connect-proxy`, `mesh-gateway`, …).
    pub kind: String,
    /// Service ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Service name.
    pub service: String,
    /// Tags.
    #[serde(deserialize_with = "null_default")]
    pub tags: Vec<String>,
    /// Metadata.
    #[serde(deserialize_with = "null_default")]
    pub meta: BTreeMap<String, String>,
    /// Port.
    pub port: u16,
    /// Address (empty = the agent's).
    pub address: String,
    /// Socket path.
    pub socket_path: String,
    /// Tagged addresses.
    #[serde(deserialize_with = "null_default")]
    pub tagged_addresses: BTreeMap<String, ServiceAddress>,
    /// Weights.
    pub weights: AgentWeights,
    /// Tag override flag.
    pub enable_tag_override: bool,
    /// Hash for blocking queries (single-service endpoint only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub content_hash: String,
    /// Proxy block.
    pub proxy: Option<AgentServiceConnectProxyConfig>,
    /// Datacenter filled in by the agent.
    pub datacenter: String,
    /// Namespace (Enterprise).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Partition (Enterprise).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Raft index (catalog responses only).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub create_index: u64,
    /// Raft index (catalog responses only).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub modify_index: u64,
}

/// A check as the agent reports it (`GET /v1/agent/checks`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentCheck {
    /// Node name.
    pub node: String,
    /// Check ID.
    #[serde(rename = "CheckID")]
    pub check_id: String,
    /// Check name.
    pub name: String,
    /// `passing`, `warning`, `critical` or `maintenance`.
    pub status: String,
    /// Notes.
    pub notes: String,
    /// Last output.
    pub output: String,
    /// Owning service ID.
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    /// Owning service name.
    pub service_name: String,
    /// Owning service tags.
    #[serde(deserialize_with = "null_default")]
    pub service_tags: Vec<String>,
    /// `ttl`, `tcp`, `http`, `alias`, …
    #[serde(rename = "Type")]
    pub check_type: String,
    /// Interval.
    pub interval: String,
    /// Timeout.
    pub timeout: String,
    /// Exposed port.
    pub exposed_port: u16,
    /// The definition as registered.
    pub definition: Value,
    /// Namespace (Enterprise).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Partition (Enterprise).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Raft index.
    pub create_index: u64,
    /// Raft index.
    pub modify_index: u64,
}

/// Status written by a TTL check update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Healthy.
    Passing,
    /// Degraded.
    Warning,
    /// Unhealthy.
    Critical,
}

impl CheckStatus {
    /// The wire string (`passing`, `warning`, `critical`).
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Passing => "passing",
            CheckStatus::Warning => "warning",
            CheckStatus::Critical => "critical",
        }
    }
}

/// Body of `PUT /v1/agent/check/update/:id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct CheckUpdate<'a> {
    status: CheckStatus,
    output: &'a str,
}

/// `GET /v1/agent/self`: the raw document plus accessors for the fields consul-ecs needs
/// (§4.8). The full shape is not stable across Consul versions, so it stays a `Value`.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentSelf {
    /// The whole response.
    pub raw: Value,
}

impl AgentSelf {
    fn str_at(&self, pointer: &str) -> Option<&str> {
        self.raw
            .pointer(pointer)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// `Config.Datacenter`.
    pub fn datacenter(&self) -> Option<&str> {
        self.str_at("/Config/Datacenter")
    }

    /// `Config.PrimaryDatacenter`, else `DebugConfig.PrimaryDatacenter` (older agents).
    pub fn primary_datacenter(&self) -> Option<&str> {
        self.str_at("/Config/PrimaryDatacenter")
            .or_else(|| self.str_at("/DebugConfig/PrimaryDatacenter"))
    }

    /// `Config.NodeName`.
    pub fn node_name(&self) -> Option<&str> {
        self.str_at("/Config/NodeName")
    }

    /// `Config.Version` (Enterprise builds carry `+ent`).
    pub fn version(&self) -> Option<&str> {
        self.str_at("/Config/Version")
    }

    /// `Config.Partition` (Enterprise only).
    pub fn partition(&self) -> Option<&str> {
        self.str_at("/Config/Partition")
    }

    /// The agent's xDS gRPC port and whether it is TLS: `xDS.Ports.TLS` when > 0, else
    /// `xDS.Ports.Plaintext`, else the old `DebugConfig.GRPCTLSPort`/`GRPCPort`. `None` when
    /// the gRPC server is off.
    pub fn xds_grpc_port(&self) -> Option<(u16, bool)> {
        let port = |p: &str| {
            self.raw
                .pointer(p)
                .and_then(Value::as_i64)
                .filter(|n| *n > 0)
                .and_then(|n| u16::try_from(n).ok())
        };
        if let Some(p) = port("/xDS/Ports/TLS") {
            return Some((p, true));
        }
        if let Some(p) = port("/xDS/Ports/Plaintext") {
            return Some((p, false));
        }
        if let Some(p) = port("/DebugConfig/GRPCTLSPort") {
            return Some((p, true));
        }
        port("/DebugConfig/GRPCPort").map(|p| (p, false))
    }
}

impl Client {
    /// `PUT /v1/agent/service/register`.
    pub async fn agent_service_register(
        &self,
        registration: &AgentServiceRegistration,
        opts: &QueryOptions,
    ) -> Result<(), ConsulError> {
        self.unit(
            Method::PUT,
            &["v1", "agent", "service", "register"],
            opts,
            Some(registration),
        )
        .await
    }

    /// `PUT /v1/agent/service/deregister/:service_id` (also removes the service's checks).
    pub async fn agent_service_deregister(
        &self,
        service_id: &str,
        opts: &QueryOptions,
    ) -> Result<(), ConsulError> {
        self.unit(
            Method::PUT,
            &["v1", "agent", "service", "deregister", service_id],
            opts,
            None,
        )
        .await
    }

    /// `GET /v1/agent/service/:service_id`, typed; `None` when the agent does not know it.
    pub async fn agent_service(
        &self,
        service_id: &str,
        opts: &QueryOptions,
    ) -> Result<Option<AgentService>, ConsulError> {
        self.read_optional(&["v1", "agent", "service", service_id], opts)
            .await
    }

    /// `GET /v1/agent/service/:service_id` as raw JSON (for callers that need fields this
    /// crate does not model, e.g. bootstrap generation); `None` when unknown.
    pub async fn agent_service_raw(
        &self,
        service_id: &str,
        opts: &QueryOptions,
    ) -> Result<Option<Value>, ConsulError> {
        self.read_optional(&["v1", "agent", "service", service_id], opts)
            .await
    }

    /// `GET /v1/agent/services` (`opts.filter` supported): services keyed by ID.
    pub async fn agent_services(
        &self,
        opts: &QueryOptions,
    ) -> Result<BTreeMap<String, AgentService>, ConsulError> {
        self.json(Method::GET, &["v1", "agent", "services"], opts, &[], None)
            .await
    }

    /// `GET /v1/agent/checks` (`opts.filter` supported): checks keyed by ID.
    pub async fn agent_checks(
        &self,
        opts: &QueryOptions,
    ) -> Result<BTreeMap<String, AgentCheck>, ConsulError> {
        self.json(Method::GET, &["v1", "agent", "checks"], opts, &[], None)
            .await
    }

    /// `PUT /v1/agent/check/update/:check_id` with `{"Status", "Output"}`: sets a TTL check
    /// and restarts its timer.
    pub async fn agent_check_update(
        &self,
        check_id: &str,
        status: CheckStatus,
        output: &str,
        opts: &QueryOptions,
    ) -> Result<(), ConsulError> {
        self.unit(
            Method::PUT,
            &["v1", "agent", "check", "update", check_id],
            opts,
            Some(&CheckUpdate { status, output }),
        )
        .await
    }

    /// `GET /v1/agent/self`.
    pub async fn agent_self(&self, opts: &QueryOptions) -> Result<AgentSelf, ConsulError> {
        let raw = self
            .json(Method::GET, &["v1", "agent", "self"], opts, &[], None)
            .await?;
        Ok(AgentSelf { raw })
    }

    /// `GET /v1/config/proxy-defaults/global`: the global proxy-defaults config entry as raw
    /// JSON, `None` when it does not exist.
    pub async fn config_proxy_defaults_global(
        &self,
        opts: &QueryOptions,
    ) -> Result<Option<Value>, ConsulError> {
        self.read_optional(&["v1", "config", "proxy-defaults", "global"], opts)
            .await
    }
}
