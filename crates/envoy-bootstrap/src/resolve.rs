//! From what mesh-init knows (the proxy registration read back from the agent, the global
//! proxy-defaults entry, addresses and files) to [`BootstrapInputs`]. No HTTP here: the
//! caller fetches `GET /v1/agent/service/<id>` and `GET /v1/config/proxy-defaults/global`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::BootstrapError;
use crate::inputs::{
    AccessLogsInputs, AdminInputs, AgentGrpcInputs, BootstrapInputs, PrometheusInputs,
};

/// gRPC address `consul connect envoy` is given by consul-ecs v0.6.
pub const DEFAULT_GRPC_ADDR: &str = "localhost:8502";
/// Default Envoy admin bind address.
pub const DEFAULT_ADMIN_BIND: &str = "localhost:19000";
/// Default admin access log path.
pub const DEFAULT_ADMIN_ACCESS_LOG_PATH: &str = "/dev/null";
/// Readiness listener of an ingress gateway when no address is given.
pub const DEFAULT_INGRESS_READY_BIND: &str = "127.0.0.1:8443";

/// What the resolver needs. Build with `..Default::default()`; `Debug` redacts the token.
#[derive(Clone, Default)]
pub struct ResolveContext {
    /// Proxy service ID; when empty, the registration's `ID` is used.
    pub proxy_id: String,
    /// Body of `GET /v1/agent/service/<proxy-id>`.
    pub registration: Value,
    /// Body of `GET /v1/config/proxy-defaults/global`, when the entry exists.
    pub proxy_defaults: Option<Value>,
    /// Agent gRPC address: `host:port`, `http://host:port`, `https://host:port` (TLS) or
    /// `unix:///path`. Default [`DEFAULT_GRPC_ADDR`].
    pub grpc_addr: Option<String>,
    /// CA file for TLS to the agent (wins over `grpc_ca_path`).
    pub grpc_ca_file: Option<PathBuf>,
    /// Directory of CA files for TLS to the agent, read in file-name order.
    pub grpc_ca_path: Option<PathBuf>,
    /// ACL token Envoy presents to the agent.
    pub token: String,
    /// Envoy admin `host:port`. Default [`DEFAULT_ADMIN_BIND`].
    pub admin_bind: Option<String>,
    /// Admin access log path. Default [`DEFAULT_ADMIN_ACCESS_LOG_PATH`].
    pub admin_access_log_path: Option<String>,
    /// Node name to put in `node.metadata.node_name`.
    pub node_name: Option<String>,
    /// Explicit readiness listener `host:port` (any proxy kind). Ingress gateways get
    /// [`DEFAULT_INGRESS_READY_BIND`] when this is unset.
    pub ready_bind: Option<String>,
    /// Prometheus listener settings.
    pub prometheus: PrometheusInputs,
    /// Leave out Consul's deprecated stats tags.
    pub omit_deprecated_tags: bool,
}

impl fmt::Debug for ResolveContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolveContext")
            .field("proxy_id", &self.proxy_id)
            .field("registration_id", &self.registration.get("ID"))
            .field("has_proxy_defaults", &self.proxy_defaults.is_some())
            .field("grpc_addr", &self.grpc_addr)
            .field("grpc_ca_file", &self.grpc_ca_file)
            .field("grpc_ca_path", &self.grpc_ca_path)
            .field(
                "token",
                &if self.token.is_empty() {
                    "<none>"
                } else {
                    "<redacted>"
                },
            )
            .field("admin_bind", &self.admin_bind)
            .field("admin_access_log_path", &self.admin_access_log_path)
            .field("node_name", &self.node_name)
            .field("ready_bind", &self.ready_bind)
            .field("prometheus", &self.prometheus)
            .field("omit_deprecated_tags", &self.omit_deprecated_tags)
            .finish()
    }
}

/// Resolves the bootstrap inputs the way `consul connect envoy -proxy-id X -bootstrap
/// -grpc-addr ...` does, minus its HTTP calls (and without `/v1/agent/self`, which a
/// service token cannot read).
///
/// For a sidecar, `proxy_cluster` is `Proxy.DestinationServiceName`; for a gateway it is
/// the gateway's service name. Host names in addresses are resolved to an IP because
/// Envoy's STATIC clusters need one (`localhost` is always `127.0.0.1`).
pub fn resolve(ctx: &ResolveContext) -> Result<BootstrapInputs, BootstrapError> {
    let reg = ctx
        .registration
        .as_object()
        .ok_or_else(|| BootstrapError::InvalidRegistration("not a JSON object".into()))?;
    let proxy = match reg.get("Proxy") {
        None | Some(Value::Null) => return Err(BootstrapError::NotAProxy),
        Some(Value::Object(proxy)) => proxy,
        Some(_) => {
            return Err(BootstrapError::InvalidRegistration(
                "Proxy is not an object".into(),
            ))
        }
    };

    let proxy_id = if ctx.proxy_id.is_empty() {
        str_field(reg, "ID")?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                BootstrapError::InvalidRegistration("no ID and no proxy id given".into())
            })?
            .to_string()
    } else {
        ctx.proxy_id.clone()
    };
    let kind = str_field(reg, "Kind")?.unwrap_or("").to_string();
    let service = str_field(reg, "Service")?.unwrap_or("");
    let is_gateway = !kind.is_empty() && kind != "connect-proxy";
    let source_service = if is_gateway {
        service.to_string()
    } else {
        str_field(proxy, "DestinationServiceName")?
            .unwrap_or("")
            .to_string()
    };
    // Consul falls back to the proxy id when it knows no better cluster name.
    let proxy_cluster = if source_service.is_empty() {
        proxy_id.clone()
    } else {
        source_service.clone()
    };
    let proxy_config = match proxy.get("Config") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(config)) => config.clone(),
        Some(_) => {
            return Err(BootstrapError::InvalidRegistration(
                "Proxy.Config is not an object".into(),
            ))
        }
    };

    let (admin_address, admin_port) = resolve_host_port(
        "admin bind",
        ctx.admin_bind.as_deref().unwrap_or(DEFAULT_ADMIN_BIND),
    )?;
    let agent_grpc = resolve_grpc(ctx)?;

    let ready = match (&ctx.ready_bind, kind.as_str()) {
        (Some(bind), _) => Some(bind.as_str()),
        (None, "ingress-gateway") => Some(DEFAULT_INGRESS_READY_BIND),
        (None, _) => None,
    };
    let (ready_bind_address, ready_bind_port) = match ready {
        Some(bind) => {
            let (host, port) = resolve_host_port("readiness bind", bind)?;
            (Some(host.to_string()), Some(port))
        }
        None => (None, None),
    };

    Ok(BootstrapInputs {
        proxy_id,
        proxy_cluster,
        proxy_source_service: source_service,
        proxy_kind: if kind.is_empty() {
            "connect-proxy".to_string()
        } else {
            kind
        },
        namespace: str_field(reg, "Namespace")?.unwrap_or("").to_string(),
        partition: str_field(reg, "Partition")?.unwrap_or("").to_string(),
        datacenter: str_field(reg, "Datacenter")?
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        node_name: ctx.node_name.clone().filter(|s| !s.is_empty()),
        admin: AdminInputs {
            access_log_path: ctx
                .admin_access_log_path
                .clone()
                .unwrap_or_else(|| DEFAULT_ADMIN_ACCESS_LOG_PATH.to_string()),
            bind_address: admin_address.to_string(),
            bind_port: admin_port,
        },
        access_logs: access_logs_from_proxy_defaults(ctx.proxy_defaults.as_ref()),
        agent_grpc,
        token: ctx.token.clone(),
        proxy_config,
        ready_bind_address,
        ready_bind_port,
        prometheus: ctx.prometheus.clone(),
        omit_deprecated_tags: ctx.omit_deprecated_tags,
    })
}

/// A string field that may be absent or null, but is a string when present.
fn str_field<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, BootstrapError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(BootstrapError::InvalidRegistration(format!(
            "{key} is not a string"
        ))),
    }
}

/// The `AccessLogs` block of proxy-defaults, as the HTTP API spells it (CamelCase); the
/// config-file spelling (snake_case) is accepted too.
fn access_logs_from_proxy_defaults(entry: Option<&Value>) -> Option<AccessLogsInputs> {
    let logs = entry?.get("AccessLogs")?.as_object()?;
    let get = |camel: &str, snake: &str| logs.get(camel).or_else(|| logs.get(snake));
    let text = |camel: &str, snake: &str| {
        get(camel, snake)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let flag =
        |camel: &str, snake: &str| get(camel, snake).and_then(Value::as_bool).unwrap_or(false);
    Some(AccessLogsInputs {
        enabled: flag("Enabled", "enabled"),
        disable_listener_logs: flag("DisableListenerLogs", "disable_listener_logs"),
        sink_type: text("Type", "type"),
        path: text("Path", "path"),
        json_format: text("JSONFormat", "json_format"),
        text_format: text("TextFormat", "text_format"),
    })
}

/// Parses the gRPC address; TLS comes from `https://`, or, for a Unix socket, from a CA
/// being configured. CA files are read only when TLS is on.
fn resolve_grpc(ctx: &ResolveContext) -> Result<AgentGrpcInputs, BootstrapError> {
    let raw = ctx.grpc_addr.as_deref().unwrap_or(DEFAULT_GRPC_ADDR);
    let has_ca = ctx.grpc_ca_file.is_some() || ctx.grpc_ca_path.is_some();
    let lower = raw.to_ascii_lowercase();

    let (mut grpc, tls) = if let Some(path) = raw.strip_prefix("unix://") {
        if path.is_empty() {
            return Err(bad_grpc(raw, "empty Unix socket path"));
        }
        let grpc = AgentGrpcInputs {
            address: None,
            port: None,
            unix_socket: Some(path.to_string()),
            tls: false,
            ca_pems: None,
        };
        (grpc, has_ca)
    } else {
        let (rest, tls) = if lower.starts_with("https://") {
            (&raw["https://".len()..], true)
        } else if lower.starts_with("http://") {
            (&raw["http://".len()..], false)
        } else if raw.contains("://") {
            return Err(bad_grpc(
                raw,
                "unsupported scheme (use http, https or unix)",
            ));
        } else {
            (raw, false)
        };
        let (ip, port) = resolve_host_port("agent gRPC", rest.trim_end_matches('/'))?;
        let grpc = AgentGrpcInputs {
            address: Some(ip.to_string()),
            port: Some(port),
            unix_socket: None,
            tls: false,
            ca_pems: None,
        };
        (grpc, tls)
    };

    if tls {
        grpc.tls = true;
        grpc.ca_pems = read_cas(ctx.grpc_ca_file.as_deref(), ctx.grpc_ca_path.as_deref())?;
    }
    Ok(grpc)
}

fn bad_grpc(value: &str, reason: &str) -> BootstrapError {
    BootstrapError::InvalidAddress {
        what: "agent gRPC",
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// `host:port` → (IP, port). `localhost` is 127.0.0.1 whatever `/etc/hosts` says, because
/// the agent listens on IPv4 loopback in the ECS task; other names go through the
/// system resolver, preferring IPv4.
fn resolve_host_port(what: &'static str, text: &str) -> Result<(IpAddr, u16), BootstrapError> {
    let bad = |reason: String| BootstrapError::InvalidAddress {
        what,
        value: text.to_string(),
        reason,
    };
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| bad("missing ']'".into()))?;
        (
            host,
            after
                .strip_prefix(':')
                .ok_or_else(|| bad("missing port".into()))?,
        )
    } else {
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| bad("missing port".into()))?;
        if host.contains(':') {
            return Err(bad("too many colons (bracket an IPv6 address)".into()));
        }
        (host, port)
    };
    let port: u16 = port
        .parse()
        .map_err(|_| bad(format!("port {port:?} is not a number from 0 to 65535")))?;
    if host.is_empty() {
        return Err(bad("empty host".into()));
    }
    if host.eq_ignore_ascii_case("localhost") {
        return Ok((IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok((ip, port));
    }
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| bad(format!("cannot resolve host name: {e}")))?
        .collect();
    let ip = addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .map(|a| a.ip())
        .ok_or_else(|| bad("host name resolved to no address".into()))?;
    Ok((ip, port))
}

/// PEM text of the CA file, or of every file under the CA directory (recursively, in
/// file-name order, like Go's `filepath.Walk`: see [`boundary::read_ca_dir`] for the limits
/// and why directory links are not followed). `None` when neither is given.
pub(crate) fn read_cas(
    file: Option<&Path>,
    dir: Option<&Path>,
) -> Result<Option<Vec<String>>, BootstrapError> {
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BootstrapError::ReadCa { path, source }
    };
    if let Some(file) = file {
        let pem = boundary::read_file(file, boundary::PEM_FILE_LIMIT, boundary::Links::Follow)
            .and_then(|bytes| boundary::file_text(file, bytes))
            .map_err(failed(file))?;
        return Ok(Some(vec![pem]));
    }
    let Some(dir) = dir else {
        return Ok(None);
    };
    let files = boundary::read_ca_dir(dir).map_err(failed(dir))?;
    if files.is_empty() {
        return Err(BootstrapError::NoCaCertificates {
            path: dir.to_path_buf(),
        });
    }
    files
        .into_iter()
        .map(|(file, bytes)| boundary::file_text(&file, bytes).map_err(failed(dir)))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}
