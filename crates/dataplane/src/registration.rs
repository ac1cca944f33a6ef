//! Config + task metadata → the catalog registrations of a v0.10 task
//! (docs/registrations.md §11, docs/protocols.md §9).
//!
//! Every registration goes to one synthetic node per cluster (named by the cluster ARN),
//! with `SkipNodeUpdate` so that tasks never rewrite the node another task created. So the
//! services carry the task's own address: with the node's, every task of the cluster would
//! share the address of whichever task registered first.

use std::collections::BTreeMap;

use config::dataplane::Config;
use config::Gateway;
use consul::{
    AgentServiceConnectProxyConfig, CatalogRegistration, CatalogService, HealthCheck, Locality,
    ServiceAddress,
};
use ecs::TaskMetadata;
use mesh_task::MeshError;

use crate::checks::{
    dataplane_check_id, not_ready_output, synced_check_id, synced_check_notes, CHECK_TYPE,
    DATAPLANE_CHECK_NAME, DATAPLANE_CHECK_NOTES, SYNCED_CHECK_NAME,
};

/// Node meta key that marks the cluster's node as one no agent runs on.
pub const NODE_META_SYNTHETIC: &str = "synthetic-node";
/// Tagged address by which transparent proxies reach a service.
pub const TAGGED_ADDRESS_VIRTUAL: &str = "virtual";
/// Proxy `Mode` of a sidecar whose task redirects its traffic through Envoy.
pub const TRANSPARENT_PROXY_MODE: &str = "transparent";

const CONNECT_PROXY_KIND: &str = "connect-proxy";
/// Consul's status of a check that is not passing; every check starts so.
const HEALTH_CRITICAL: &str = "critical";

/// What a v0.10 task registers: the service and its sidecar proxy, or only the gateway,
/// each with its checks, all on the cluster's synthetic node.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogRegistrations {
    node: String,
    address: String,
    service: Option<ServiceWithChecks>,
    proxy: ServiceWithChecks,
}

/// One service of the task and the checks registered with it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceWithChecks {
    /// The service.
    pub service: CatalogService,
    /// Its checks, all `critical` at first.
    pub checks: Vec<HealthCheck>,
}

impl CatalogRegistrations {
    /// The `PUT /v1/catalog/register` bodies in the order they must be sent: the service
    /// before its proxy, so the proxy's destination exists when Consul sees the proxy.
    pub fn in_order(&self) -> Vec<CatalogRegistration> {
        self.service
            .iter()
            .chain(std::iter::once(&self.proxy))
            .map(|entry| self.registration(entry))
            .collect()
    }

    /// The registration body of one of this task's services.
    pub fn registration(&self, entry: &ServiceWithChecks) -> CatalogRegistration {
        CatalogRegistration {
            node: self.node.clone(),
            address: self.address.clone(),
            node_meta: BTreeMap::from([(NODE_META_SYNTHETIC.to_owned(), "true".to_owned())]),
            skip_node_update: true,
            partition: entry.service.partition.clone(),
            service: Some(entry.service.clone()),
            checks: entry.checks.clone(),
            ..Default::default()
        }
    }

    /// The application service of a service task; `None` for a gateway task.
    pub fn service(&self) -> Option<&ServiceWithChecks> {
        self.service.as_ref()
    }

    /// The sidecar proxy, or the gateway: what consul-dataplane runs Envoy for.
    pub fn proxy(&self) -> &ServiceWithChecks {
        &self.proxy
    }

    /// The service the task is known by: the application service, or the gateway.
    pub fn main_service(&self) -> &CatalogService {
        &self.service.as_ref().unwrap_or(&self.proxy).service
    }

    /// Every service of the task with its checks, in registration order.
    pub fn services(&self) -> impl Iterator<Item = &ServiceWithChecks> {
        self.service.iter().chain(std::iter::once(&self.proxy))
    }

    /// The synthetic node every registration goes to (the cluster ARN).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Enterprise namespace of the registrations; `None` when not set.
    pub fn namespace(&self) -> Option<&str> {
        non_empty(&self.proxy.service.namespace)
    }

    /// Enterprise admin partition of the registrations; `None` when not set.
    pub fn partition(&self) -> Option<&str> {
        non_empty(&self.proxy.service.partition)
    }

    /// Whether this is a gateway task.
    pub fn is_gateway(&self) -> bool {
        self.service.is_none()
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// The node the registrations go to, and the task's address.
struct Node {
    name: String,
    address: String,
}

fn with_checks(service: CatalogService, checks: Vec<HealthCheck>) -> ServiceWithChecks {
    ServiceWithChecks { service, checks }
}

/// Where the task runs, for locality-aware routing; `None` when neither is known.
fn locality(region: Option<&str>, zone: Option<&str>) -> Option<Locality> {
    let region = region.unwrap_or_default();
    let zone = zone.unwrap_or_default();
    (!region.is_empty() || !zone.is_empty()).then(|| Locality {
        region: region.to_owned(),
        zone: zone.to_owned(),
    })
}

/// Builds what mesh-init registers for this task: the gateway when the config has a
/// `gateway` object, else the service and its sidecar proxy (a missing `proxy` counts as
/// `{}`; consul-ecs v0.10 crashed there). `aws_region` is the `Locality` region
/// (`AWS_REGION`); the zone is the task's availability zone.
///
/// Fails when the task ARN gives no task ID or no cluster ARN, or when a config integer
/// does not fit the Consul field it goes into.
pub fn build_registrations(
    cfg: &Config,
    task: &TaskMetadata,
    aws_region: Option<&str>,
) -> Result<CatalogRegistrations, MeshError> {
    let task_id = task.task_id()?;
    let node = Node {
        name: task.cluster_arn()?,
        address: task.node_ip(),
    };
    let locality = locality(aws_region, task.availability_zone.as_deref());
    let (service, proxy) = match &cfg.gateway {
        Some(gateway) => {
            let gateway = gateway_service(cfg, gateway, task, task_id, &node, locality);
            let checks = vec![dataplane_check(&gateway)];
            (None, with_checks(gateway, checks))
        }
        None => {
            let service = application_service(cfg, task, task_id, &node, locality)?;
            let proxy = sidecar_service(cfg, &service);
            let mut service_checks: Vec<HealthCheck> = cfg
                .health_sync_containers
                .iter()
                .map(|container| synced_check(&service, container))
                .collect();
            service_checks.push(dataplane_check(&service));
            let proxy_checks = vec![dataplane_check(&proxy)];
            (
                Some(with_checks(service, service_checks)),
                with_checks(proxy, proxy_checks),
            )
        }
    };
    Ok(CatalogRegistrations {
        node: node.name,
        address: node.address,
        service,
        proxy,
    })
}

/// A check health-sync owns, `critical` until it reports otherwise.
fn initial_check(
    service: &CatalogService,
    check_id: String,
    name: &str,
    notes: String,
) -> HealthCheck {
    HealthCheck {
        check_id,
        name: name.to_owned(),
        status: HEALTH_CRITICAL.to_owned(),
        output: not_ready_output(&service.service),
        notes,
        service_id: service.id.clone(),
        r#type: CHECK_TYPE.to_owned(),
        namespace: service.namespace.clone(),
        ..Default::default()
    }
}

fn synced_check(service: &CatalogService, container: &str) -> HealthCheck {
    initial_check(
        service,
        synced_check_id(&service.id, container),
        SYNCED_CHECK_NAME,
        synced_check_notes(container),
    )
}

fn dataplane_check(service: &CatalogService) -> HealthCheck {
    initial_check(
        service,
        dataplane_check_id(&service.id),
        DATAPLANE_CHECK_NAME,
        DATAPLANE_CHECK_NOTES.to_owned(),
    )
}

/// The `virtual` tagged address transparent proxies dial: the task's address and the
/// service's port. Empty without the transparent proxy.
fn virtual_addresses(cfg: &Config, address: &str, port: u16) -> BTreeMap<String, ServiceAddress> {
    if !cfg.transparent_proxy_enabled() {
        return BTreeMap::new();
    }
    BTreeMap::from([(
        TAGGED_ADDRESS_VIRTUAL.to_owned(),
        ServiceAddress {
            address: address.to_owned(),
            port,
        },
    )])
}

fn application_service(
    cfg: &Config,
    task: &TaskMetadata,
    task_id: &str,
    node: &Node,
    locality: Option<Locality>,
) -> Result<CatalogService, MeshError> {
    let name = cfg.service_name(task.family());
    let empty = config::Service::default();
    let svc = cfg.service.as_ref().unwrap_or(&empty);
    Ok(CatalogService {
        id: format!("{name}-{task_id}"),
        service: name,
        tags: svc.tags.clone(),
        meta: mesh_task::merged_meta(task, task_id, &svc.meta),
        port: svc.port,
        address: node.address.clone(),
        tagged_addresses: virtual_addresses(cfg, &node.address, svc.port),
        weights: mesh_task::agent_weights(svc.weights)?,
        enable_tag_override: svc.enable_tag_override,
        locality,
        namespace: svc.namespace.clone(),
        partition: svc.partition.clone(),
        ..Default::default()
    })
}

/// The sidecar: the service's tags, meta, weights, tag override, tenancy, address and
/// locality; port `proxy.publicListenerPort` (20000); the proxy block from config `proxy`,
/// in transparent mode when the task redirects its traffic.
fn sidecar_service(cfg: &Config, service: &CatalogService) -> CatalogService {
    let proxy_cfg = cfg.proxy.clone().unwrap_or_default();
    let mode = if cfg.transparent_proxy_enabled() {
        TRANSPARENT_PROXY_MODE
    } else {
        ""
    };
    CatalogService {
        kind: CONNECT_PROXY_KIND.to_owned(),
        id: format!("{}-sidecar-proxy", service.id),
        service: format!("{}-sidecar-proxy", service.service),
        port: cfg.public_listener_port(),
        proxy: Some(AgentServiceConnectProxyConfig {
            destination_service_name: service.service.clone(),
            destination_service_id: service.id.clone(),
            local_service_port: service.port,
            mode: mode.to_owned(),
            ..mesh_task::connect_proxy_config(&proxy_cfg)
        }),
        ..service.clone()
    }
}

/// The gateway: port `lanAddress.port` (8443), the LAN address as its address (the task's
/// when unset) and `lan` tagged address, the WAN address as `wan` tagged address.
fn gateway_service(
    cfg: &Config,
    gateway: &Gateway,
    task: &TaskMetadata,
    task_id: &str,
    node: &Node,
    locality: Option<Locality>,
) -> CatalogService {
    let name = cfg.gateway_name(task.family());
    let mut tagged_addresses = BTreeMap::new();
    let lan = gateway.lan_tagged_address();
    for (tag, address) in [("lan", lan), ("wan", gateway.wan_tagged_address())] {
        if let Some((address, port)) = address {
            let address = address.to_owned();
            tagged_addresses.insert(tag.to_owned(), ServiceAddress { address, port });
        }
    }
    let proxy = gateway.proxy.as_ref().map(|p| {
        mesh_task::connect_proxy_config(&config::Proxy {
            config: p.config.clone(),
            ..Default::default()
        })
    });
    CatalogService {
        kind: gateway.kind.as_str().to_owned(),
        id: format!("{name}-{task_id}"),
        service: name,
        tags: gateway.tags.clone(),
        meta: mesh_task::merged_meta(task, task_id, &gateway.meta),
        port: gateway.service_port(),
        address: lan.map_or_else(|| node.address.clone(), |(a, _)| a.to_owned()),
        tagged_addresses,
        proxy,
        locality,
        namespace: gateway.namespace.clone(),
        partition: gateway.partition.clone(),
        ..Default::default()
    }
}
