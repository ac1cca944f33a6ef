//! Config + task metadata → the agent service registrations mesh-init sends
//! (docs/registrations.md §3–§6, docs/protocols.md §4.2).

use std::collections::BTreeMap;

use config::{Config, Gateway};
use consul::{
    AgentServiceCheck, AgentServiceConnectProxyConfig, AgentServiceRegistration, AgentWeights,
    ExposeConfig, ExposePath, MeshGatewayConfig, ServiceAddress, Upstream,
};
use ecs::TaskMetadata;
use serde_json::{Map, Value};

use crate::health_sync::synced_check_id;
use crate::MeshError;

/// Meta key holding the task ID on every registration.
pub const META_TASK_ID: &str = "task-id";
/// Meta key holding the task ARN on every registration.
pub const META_TASK_ARN: &str = "task-arn";
/// Meta key naming the tool that registered the service.
pub const META_SOURCE: &str = "source";
/// Value of the [`META_SOURCE`] meta key.
pub const CONSUL_ECS_SOURCE: &str = "consul-ecs";
/// Name of the TTL checks health-sync keeps up to date.
pub const SYNCED_CHECK_NAME: &str = "consul ecs synced";
/// TTL of the synced checks: long enough never to expire between health-sync writes.
pub const SYNCED_CHECK_TTL: &str = "100000h";
/// Interval of the sidecar's and the gateway's TCP listener checks.
pub const PROXY_CHECK_INTERVAL: &str = "10s";
/// `DeregisterCriticalServiceAfter` of the listener checks, which also reaps the
/// registrations of a task whose client agent went away.
pub const PROXY_CHECK_DEREGISTER_AFTER: &str = "10m";

const CONNECT_PROXY_KIND: &str = "connect-proxy";

/// The registrations of one task, in the shape mesh-init sends them.
// Built once per mesh-init run, so the size difference between the variants costs nothing,
// while boxing would make every match on the registrations clumsier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Registrations {
    /// A service task: the application service, then its sidecar proxy.
    Service {
        /// The application service (`<name>-<taskID>`).
        service: AgentServiceRegistration,
        /// The `connect-proxy` sidecar (`<serviceID>-sidecar-proxy`).
        proxy: AgentServiceRegistration,
    },
    /// A gateway task: only the gateway itself is registered.
    Gateway {
        /// The `mesh-gateway` registration (`<name>-<taskID>`).
        gateway: AgentServiceRegistration,
    },
}

impl Registrations {
    /// The registrations in the order they must be sent: the service before its proxy, so
    /// the proxy's alias check has something to point at.
    pub fn in_order(&self) -> Vec<&AgentServiceRegistration> {
        match self {
            Registrations::Service { service, proxy } => vec![service, proxy],
            Registrations::Gateway { gateway } => vec![gateway],
        }
    }

    /// The registration Envoy runs as: the sidecar proxy, or the gateway.
    pub fn proxy(&self) -> &AgentServiceRegistration {
        match self {
            Registrations::Service { proxy, .. } => proxy,
            Registrations::Gateway { gateway } => gateway,
        }
    }

    /// The application service of a service task; `None` for a gateway task.
    pub fn service(&self) -> Option<&AgentServiceRegistration> {
        match self {
            Registrations::Service { service, .. } => Some(service),
            Registrations::Gateway { .. } => None,
        }
    }

    /// ID of the proxy or gateway registration: the `-proxy-id` of the Envoy bootstrap.
    pub fn proxy_id(&self) -> &str {
        &self.proxy().id
    }

    /// Kind of the proxy or gateway registration (`connect-proxy`, `mesh-gateway`).
    pub fn kind(&self) -> &str {
        &self.proxy().kind
    }

    /// Whether this is a gateway task.
    pub fn is_gateway(&self) -> bool {
        matches!(self, Registrations::Gateway { .. })
    }

    /// The `-gateway` value of the bootstrap call (`mesh` for a mesh gateway: the kind
    /// without `-gateway`); `None` for a sidecar.
    pub fn gateway_flag(&self) -> Option<&str> {
        match self {
            Registrations::Gateway { gateway } => Some(
                gateway
                    .kind
                    .strip_suffix("-gateway")
                    .unwrap_or(&gateway.kind),
            ),
            Registrations::Service { .. } => None,
        }
    }

    /// Enterprise namespace of the proxy or gateway registration; `None` when not set.
    /// v0.6.2 passes `-namespace` to the bootstrap (even empty) only when
    /// [`Registrations::partition`] is set.
    pub fn namespace(&self) -> Option<&str> {
        non_empty(&self.proxy().namespace)
    }

    /// Enterprise admin partition of the proxy or gateway registration; `None` when not
    /// set.
    pub fn partition(&self) -> Option<&str> {
        non_empty(&self.proxy().partition)
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// Builds what mesh-init registers for this task: a mesh gateway when the config has a
/// `gateway` object, else the service and its sidecar proxy (a missing `proxy` object
/// counts as `{}`; v0.6.2 crashed there).
///
/// Fails when the config sets both `service.checks` and `healthSyncContainers` (service
/// tasks only, as v0.6.2), when the task ARN has no task ID, or when a config integer does
/// not fit the Consul field it goes into.
pub fn build_registrations(cfg: &Config, task: &TaskMetadata) -> Result<Registrations, MeshError> {
    cfg.validate_for_mesh_init()?;
    let task_id = task.task_id()?;
    match &cfg.gateway {
        Some(gateway) => Ok(Registrations::Gateway {
            gateway: gateway_registration(cfg, gateway, task, task_id),
        }),
        None => {
            let service = service_registration(cfg, task, task_id)?;
            let proxy = sidecar_registration(cfg, &service);
            Ok(Registrations::Service { service, proxy })
        }
    }
}

/// `task-id`, `task-arn`, `source`, then the user's keys on top (a user key with a
/// built-in name wins, as in v0.6.2 and v0.10). Both layouts' registrations carry it.
pub fn merged_meta(
    task: &TaskMetadata,
    task_id: &str,
    user: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut meta = BTreeMap::from([
        (META_TASK_ID.to_owned(), task_id.to_owned()),
        (META_TASK_ARN.to_owned(), task.task_arn.clone()),
        (META_SOURCE.to_owned(), CONSUL_ECS_SOURCE.to_owned()),
    ]);
    meta.extend(user.iter().map(|(k, v)| (k.clone(), v.clone())));
    meta
}

fn service_registration(
    cfg: &Config,
    task: &TaskMetadata,
    task_id: &str,
) -> Result<AgentServiceRegistration, MeshError> {
    let name = cfg.service_name(task.family());
    let id = format!("{name}-{task_id}");
    let empty = config::Service::default();
    let svc = cfg.service.as_ref().unwrap_or(&empty);

    let checks = if cfg.health_sync_containers.is_empty() {
        svc.checks
            .iter()
            .enumerate()
            .map(|(i, c)| user_check(i, c))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        cfg.health_sync_containers
            .iter()
            .map(|container| synced_check(&id, container))
            .collect()
    };

    let weights = agent_weights(svc.weights)?;

    Ok(AgentServiceRegistration {
        id,
        name,
        tags: svc.tags.clone(),
        port: svc.port,
        enable_tag_override: svc.enable_tag_override,
        meta: merged_meta(task, task_id, &svc.meta),
        weights,
        checks,
        namespace: svc.namespace.clone(),
        partition: svc.partition.clone(),
        ..Default::default()
    })
}

/// `service.weights` as Consul's type (both layouts), or why a value does not fit it.
pub fn agent_weights(weights: Option<config::Weights>) -> Result<Option<AgentWeights>, MeshError> {
    weights
        .map(|w| {
            Ok(AgentWeights {
                passing: to_i32("service.weights.passing", w.passing)?,
                warning: to_i32("service.weights.warning", w.warning)?,
            })
        })
        .transpose()
}

/// The TTL check health-sync writes to for `container` (docs/registrations.md §4). No
/// `Status`, so Consul starts it `critical` until health-sync reports the container.
fn synced_check(service_id: &str, container: &str) -> AgentServiceCheck {
    AgentServiceCheck {
        check_id: synced_check_id(service_id, container),
        name: SYNCED_CHECK_NAME.to_owned(),
        ttl: SYNCED_CHECK_TTL.to_owned(),
        notes: format!(
            "consul-ecs created and updates this check because the {container} container \
             is essential and has an ECS health check."
        ),
        ..Default::default()
    }
}

/// A `service.checks[i]` entry copied field by field. Unlike v0.6.2 the `udp` target is
/// kept (v0.6.2 never decoded it).
fn user_check(index: usize, c: &config::Check) -> Result<AgentServiceCheck, MeshError> {
    let path = |field: &str| format!("service.checks.{index}.{field}");
    Ok(AgentServiceCheck {
        check_id: c.check_id.clone(),
        name: c.name.clone(),
        script_args: c.args.clone(),
        interval: c.interval.clone(),
        timeout: c.timeout.clone(),
        ttl: c.ttl.clone(),
        http: c.http.clone(),
        header: c.header.clone(),
        method: c.method.clone(),
        body: c.body.clone(),
        tcp: c.tcp.clone(),
        udp: c.udp.clone(),
        status: c.status.clone(),
        notes: c.notes.clone(),
        tls_server_name: c.tls_server_name.clone(),
        tls_skip_verify: c.tls_skip_verify,
        grpc: c.grpc.clone(),
        grpc_use_tls: c.grpc_use_tls,
        h2ping: c.h2ping.clone(),
        // The Go client omits a false flag (`omitempty`), and Consul then defaults it to
        // true for an H2PING check; sending `false` would change what v0.6.2 configs do.
        h2ping_use_tls: c.h2ping_use_tls.then_some(true),
        alias_node: c.alias_node.clone(),
        alias_service: c.alias_service.clone(),
        success_before_passing: to_i32(&path("successBeforePassing"), c.success_before_passing)?,
        failures_before_critical: to_i32(
            &path("failuresBeforeCritical"),
            c.failures_before_critical,
        )?,
        ..Default::default()
    })
}

fn to_i32(path: &str, value: i64) -> Result<i32, MeshError> {
    i32::try_from(value).map_err(|_| MeshError::OutOfRange {
        path: path.to_owned(),
        value,
        min: i64::from(i32::MIN),
        max: i64::from(i32::MAX),
    })
}

/// Go's `omitempty` drops an empty map, so an empty opaque config is not sent.
fn opaque(config: &Map<String, Value>) -> Option<Map<String, Value>> {
    (!config.is_empty()).then(|| config.clone())
}

fn mesh_gateway(mode: Option<&config::MeshGateway>) -> MeshGatewayConfig {
    MeshGatewayConfig {
        mode: mode.map(|m| m.mode.clone()).unwrap_or_default(),
    }
}

/// The `Proxy` block a sidecar gets from config `proxy` (both layouts): the opaque config,
/// the upstreams, the mesh gateway mode, the expose paths and the local service address.
/// The destination fields are the caller's, since they name the service it registers.
/// `localServiceAddress` and `upstreams[].destinationPeer` exist only in v0.10 configs, so
/// they stay empty (and unsent) for v0.6.2 ones.
pub fn connect_proxy_config(proxy_cfg: &config::Proxy) -> AgentServiceConnectProxyConfig {
    let upstreams = proxy_cfg
        .upstreams
        .iter()
        .map(|u| Upstream {
            destination_type: u.destination_type.clone(),
            destination_namespace: u.destination_namespace.clone(),
            destination_partition: u.destination_partition.clone(),
            destination_peer: u.destination_peer.clone(),
            destination_name: u.destination_name.clone(),
            datacenter: u.datacenter.clone(),
            local_bind_address: u.local_bind_address.clone(),
            local_bind_port: u.local_bind_port,
            config: opaque(&u.config),
            mesh_gateway: mesh_gateway(u.mesh_gateway.as_ref()),
            ..Default::default()
        })
        .collect();
    let expose = proxy_cfg
        .expose
        .as_ref()
        .map(|e| ExposeConfig {
            checks: e.checks,
            paths: e
                .paths
                .iter()
                .map(|p| ExposePath {
                    listener_port: p.listener_port,
                    path: p.path.clone(),
                    local_path_port: p.local_path_port,
                    protocol: p.protocol.clone(),
                    ..Default::default()
                })
                .collect(),
        })
        .unwrap_or_default();

    AgentServiceConnectProxyConfig {
        local_service_address: proxy_cfg.local_service_address.clone(),
        config: opaque(&proxy_cfg.config),
        upstreams,
        mesh_gateway: mesh_gateway(proxy_cfg.mesh_gateway.as_ref()),
        expose,
        ..Default::default()
    }
}

/// The sidecar: same tags, meta, weights, tag override, namespace and partition as the
/// service, the two fixed checks, and the proxy block from config `proxy`
/// (docs/registrations.md §5).
fn sidecar_registration(
    cfg: &Config,
    service: &AgentServiceRegistration,
) -> AgentServiceRegistration {
    let port = cfg.public_listener_port();
    AgentServiceRegistration {
        kind: CONNECT_PROXY_KIND.to_owned(),
        id: format!("{}-sidecar-proxy", service.id),
        name: format!("{}-sidecar-proxy", service.name),
        tags: service.tags.clone(),
        port,
        enable_tag_override: service.enable_tag_override,
        meta: service.meta.clone(),
        weights: service.weights,
        checks: vec![
            AgentServiceCheck {
                name: "Proxy Public Listener".to_owned(),
                tcp: format!("127.0.0.1:{port}"),
                interval: PROXY_CHECK_INTERVAL.to_owned(),
                deregister_critical_service_after: PROXY_CHECK_DEREGISTER_AFTER.to_owned(),
                ..Default::default()
            },
            AgentServiceCheck {
                name: "Destination Alias".to_owned(),
                alias_service: service.id.clone(),
                ..Default::default()
            },
        ],
        proxy: Some(AgentServiceConnectProxyConfig {
            destination_service_name: service.name.clone(),
            destination_service_id: service.id.clone(),
            local_service_port: service.port,
            ..connect_proxy_config(&cfg.proxy_or_default())
        }),
        namespace: service.namespace.clone(),
        partition: service.partition.clone(),
        ..Default::default()
    }
}

/// The mesh gateway (docs/registrations.md §6): port 8443 unless the LAN port is set, the LAN
/// address as service address and `lan` tagged address, the WAN address as `wan` tagged
/// address (its port defaulting to 8443, not to the LAN port, as in v0.6.2), and one TCP
/// check on the LAN address or else the task IP.
fn gateway_registration(
    cfg: &Config,
    gateway: &Gateway,
    task: &TaskMetadata,
    task_id: &str,
) -> AgentServiceRegistration {
    let name = cfg.gateway_name(task.family());
    let kind = gateway.kind.as_str();
    let port = gateway.service_port();
    let lan = gateway.lan_tagged_address();
    let mut tagged_addresses = BTreeMap::new();
    if let Some((address, port)) = lan {
        tagged_addresses.insert("lan".to_owned(), service_address(address, port));
    }
    if let Some((address, port)) = gateway.wan_tagged_address() {
        tagged_addresses.insert("wan".to_owned(), service_address(address, port));
    }
    let address = lan.map(|(a, _)| a.to_owned()).unwrap_or_default();
    let check_host = if address.is_empty() {
        task.node_ip()
    } else {
        address.clone()
    };

    AgentServiceRegistration {
        kind: kind.to_owned(),
        id: format!("{name}-{task_id}"),
        name,
        tags: gateway.tags.clone(),
        port,
        address,
        tagged_addresses,
        meta: merged_meta(task, task_id, &gateway.meta),
        checks: vec![AgentServiceCheck {
            name: format!("{kind} listener"),
            tcp: join_host_port(&check_host, port),
            interval: PROXY_CHECK_INTERVAL.to_owned(),
            deregister_critical_service_after: PROXY_CHECK_DEREGISTER_AFTER.to_owned(),
            ..Default::default()
        }],
        proxy: gateway
            .proxy
            .as_ref()
            .map(|p| AgentServiceConnectProxyConfig {
                config: opaque(&p.config),
                ..Default::default()
            }),
        namespace: gateway.namespace.clone(),
        partition: gateway.partition.clone(),
        ..Default::default()
    }
}

fn service_address(address: &str, port: u16) -> ServiceAddress {
    ServiceAddress {
        address: address.to_owned(),
        port,
    }
}

/// Go's `net.JoinHostPort`: a host containing a colon (IPv6) is bracketed.
fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
