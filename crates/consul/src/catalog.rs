//! Catalog, health and service-defaults endpoints on the Consul servers, for the dataplane
//! layout (consul-ecs v0.10), where a task registers into the catalog under a synthetic node
//! instead of through a local agent (docs/protocols.md §9). Field names are those of
//! Consul's `api` package (`CatalogRegistration`, `AgentService`, `HealthCheck`,
//! `CatalogDeregistration`, `ServiceConfigEntry`).

use crate::agent::{AgentServiceConnectProxyConfig, AgentWeights, ServiceAddress};
use crate::client::{Client, QueryOptions};
use crate::serde_util::{is_false, is_zero_u16, is_zero_u64, null_default};
use crate::ConsulError;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The `Kind` of a service-defaults config entry.
pub const SERVICE_DEFAULTS: &str = "service-defaults";

/// Body of `PUT /v1/catalog/register` (`api.CatalogRegistration`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CatalogRegistration {
    /// Node ID (a UUID; empty = none).
    #[serde(rename = "ID", skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Node name (consul-ecs: the cluster ARN).
    pub node: String,
    /// Node address (may be empty with `SkipNodeUpdate`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// Node tagged addresses.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_default"
    )]
    pub tagged_addresses: BTreeMap<String, String>,
    /// Node metadata (consul-ecs: `{"synthetic-node": "true"}`).
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_default"
    )]
    pub node_meta: BTreeMap<String, String>,
    /// Datacenter (empty = the server's).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    /// The service to register on the node, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<CatalogService>,
    /// Checks to register or update (node checks, or checks of a service on the node).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub checks: Vec<HealthCheck>,
    /// Leave an existing node's address and metadata as they are.
    #[serde(skip_serializing_if = "is_false")]
    pub skip_node_update: bool,
    /// Admin partition of the node (Enterprise; omitted when empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Locality of the node (Consul ≥ 1.17; ignored by older servers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality: Option<Locality>,
}

/// A service in the catalog: the `Service` of a registration and an entry of
/// `node-services` (`api.AgentService`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CatalogService {
    /// `""` for a plain service, `connect-proxy`, `mesh-gateway`, …
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Service ID, unique per node (defaults to the name).
    #[serde(rename = "ID", skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Service name.
    pub service: String,
    /// Tags.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub tags: Vec<String>,
    /// Metadata (consul-ecs: `task-id`, `task-arn`, `source`).
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_default"
    )]
    pub meta: BTreeMap<String, String>,
    /// Port.
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub port: u16,
    /// Address (empty = the node's).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// Tagged addresses (`lan`, `wan`, `virtual`, …).
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_default"
    )]
    pub tagged_addresses: BTreeMap<String, ServiceAddress>,
    /// DNS weights (`None` = Consul's 1/1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weights: Option<AgentWeights>,
    /// Let anti-entropy keep tags changed through the catalog (agent-side setting, kept
    /// in the catalog).
    #[serde(skip_serializing_if = "is_false")]
    pub enable_tag_override: bool,
    /// Proxy configuration (connect proxies and gateways).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<AgentServiceConnectProxyConfig>,
    /// Locality (Consul ≥ 1.17).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality: Option<Locality>,
    /// Namespace (Enterprise; omitted when empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Admin partition (Enterprise; omitted when empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Raft index of creation (answers only).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub create_index: u64,
    /// Raft index of the last change (answers only).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub modify_index: u64,
}

/// Where a node or service runs (`api.Locality`): AWS region and availability zone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Locality {
    /// Region (`AWS_REGION`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub region: String,
    /// Zone (the task's availability zone).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub zone: String,
}

/// A check in the catalog (`api.HealthCheck`): what a registration writes and what
/// `GET /v1/health/checks/<service>` answers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthCheck {
    /// Node the check is on (empty in a registration = the registration's node).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node: String,
    /// Check ID.
    #[serde(rename = "CheckID")]
    pub check_id: String,
    /// Check name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `passing`, `warning` or `critical` (Consul's default is `critical`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// Free-text notes.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// Output of the last run.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub output: String,
    /// Service the check belongs to (empty = a node check).
    #[serde(rename = "ServiceID", skip_serializing_if = "String::is_empty")]
    pub service_id: String,
    /// Name of that service (answers only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_name: String,
    /// Tags of that service (answers only).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub service_tags: Vec<String>,
    /// Check type (consul-ecs: `consul-ecs-health-check`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub r#type: String,
    /// Namespace (Enterprise; omitted when empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Admin partition (Enterprise; omitted when empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Raft index of creation (answers only).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub create_index: u64,
    /// Raft index of the last change (answers only).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub modify_index: u64,
}

/// Body of `PUT /v1/catalog/deregister` (`api.CatalogDeregistration`): a service (and its
/// checks) when `ServiceID` is set, else a check when `CheckID` is set, else the whole node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CatalogDeregistration {
    /// Node name.
    pub node: String,
    /// Service to remove.
    #[serde(rename = "ServiceID", skip_serializing_if = "String::is_empty")]
    pub service_id: String,
    /// Check to remove (when no service is named).
    #[serde(rename = "CheckID", skip_serializing_if = "String::is_empty")]
    pub check_id: String,
    /// Datacenter (empty = the server's).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    /// Namespace of the service or check (Enterprise; omitted when empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Admin partition of the node (Enterprise; omitted when empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
}

/// A node in the catalog (`api.Node`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CatalogNode {
    /// Node ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Node name.
    pub node: String,
    /// Node address.
    pub address: String,
    /// Datacenter.
    pub datacenter: String,
    /// Tagged addresses.
    #[serde(deserialize_with = "null_default")]
    pub tagged_addresses: BTreeMap<String, String>,
    /// Metadata.
    #[serde(deserialize_with = "null_default")]
    pub meta: BTreeMap<String, String>,
    /// Admin partition (Enterprise).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// The fields of a service on a node that say which task registered it and where it lives
/// (what a controller deregistering stale services reads): what
/// [`Client::catalog_node_services_each`] decodes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CatalogServiceListEntry {
    /// Service ID, unique per node.
    #[serde(rename = "ID", deserialize_with = "null_default")]
    pub id: String,
    /// Service name.
    #[serde(deserialize_with = "null_default")]
    pub service: String,
    /// Metadata (consul-ecs: `task-id`, `task-arn`, `source`).
    #[serde(deserialize_with = "null_default")]
    pub meta: BTreeMap<String, String>,
    /// Namespace (Enterprise).
    #[serde(deserialize_with = "null_default")]
    pub namespace: String,
    /// Admin partition (Enterprise).
    #[serde(deserialize_with = "null_default")]
    pub partition: String,
}

/// Answer of `GET /v1/catalog/node-services/<node>`: the node (`None` when it does not
/// exist or the token may not read it) and its services visible to the token.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CatalogNodeServiceList {
    /// The node.
    pub node: Option<CatalogNode>,
    /// Its services.
    #[serde(deserialize_with = "null_default")]
    pub services: Vec<CatalogService>,
}

/// A `service-defaults` config entry. Only the name and tenancy are typed: every other
/// field is kept as Consul sent it, so a read-modify-write (adding `PassiveHealthCheck`
/// when missing) never drops what another tool wrote.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceDefaultsEntry {
    /// Always `service-defaults`.
    #[serde(rename = "Kind")]
    pub kind: String,
    /// Service name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Namespace (Enterprise; omitted when empty).
    #[serde(
        rename = "Namespace",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub namespace: String,
    /// Admin partition (Enterprise; omitted when empty).
    #[serde(
        rename = "Partition",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub partition: String,
    /// Every other field (`Protocol`, `UpstreamConfig`, `CreateIndex`, …), as sent.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl ServiceDefaultsEntry {
    /// An empty entry for `name`.
    pub fn new(name: impl Into<String>) -> ServiceDefaultsEntry {
        ServiceDefaultsEntry {
            kind: SERVICE_DEFAULTS.to_string(),
            name: name.into(),
            ..Default::default()
        }
    }
}

impl Client {
    /// `PUT /v1/catalog/register`: registers or updates a node, a service on it and checks.
    pub async fn catalog_register(
        &self,
        registration: &CatalogRegistration,
        opts: &QueryOptions,
    ) -> Result<(), ConsulError> {
        self.unit(
            Method::PUT,
            &["v1", "catalog", "register"],
            opts,
            Some(registration),
        )
        .await
    }

    /// `PUT /v1/catalog/deregister`: removes a service (with its checks), a check, or a
    /// node.
    pub async fn catalog_deregister(
        &self,
        deregistration: &CatalogDeregistration,
        opts: &QueryOptions,
    ) -> Result<(), ConsulError> {
        self.unit(
            Method::PUT,
            &["v1", "catalog", "deregister"],
            opts,
            Some(deregistration),
        )
        .await
    }

    /// `GET /v1/catalog/node-services/<node>`: the node and its services in the options'
    /// namespace (`ns=*` for all), filtered with `opts.filter` when set.
    pub async fn catalog_node_services(
        &self,
        node: &str,
        opts: &QueryOptions,
    ) -> Result<CatalogNodeServiceList, ConsulError> {
        self.json(
            Method::GET,
            &["v1", "catalog", "node-services", node],
            opts,
            &[],
            None,
        )
        .await
    }

    /// [`Client::catalog_node_services`] for nodes with too many services to hold: each
    /// service is decoded (only the fields of [`CatalogServiceListEntry`]) and handed to
    /// `each` as the answer arrives; answers the node (`None` when it does not exist or the
    /// token may not read it).
    pub async fn catalog_node_services_each(
        &self,
        node: &str,
        opts: &QueryOptions,
        each: impl FnMut(CatalogServiceListEntry),
    ) -> Result<Option<CatalogNode>, ConsulError> {
        let rest: CatalogNodeServiceList = self
            .json_streamed(
                &["v1", "catalog", "node-services", node],
                opts,
                &[],
                &["Services"],
                each,
            )
            .await?;
        Ok(rest.node)
    }

    /// `GET /v1/health/checks/<service>`: the checks of every instance of `service`,
    /// filtered with `opts.filter` (e.g. `ServiceID == "web-0f3b"`).
    pub async fn health_checks(
        &self,
        service: &str,
        opts: &QueryOptions,
    ) -> Result<Vec<HealthCheck>, ConsulError> {
        let checks: Option<Vec<HealthCheck>> = self
            .json(
                Method::GET,
                &["v1", "health", "checks", service],
                opts,
                &[],
                None,
            )
            .await?;
        Ok(checks.unwrap_or_default())
    }

    /// `GET /v1/config/service-defaults/<name>`; `None` when there is no such entry.
    pub async fn service_defaults(
        &self,
        name: &str,
        opts: &QueryOptions,
    ) -> Result<Option<ServiceDefaultsEntry>, ConsulError> {
        self.read_optional(&["v1", "config", SERVICE_DEFAULTS, name], opts)
            .await
    }

    /// `PUT /v1/config` with a service-defaults entry (its `Kind` is set here). Answers
    /// Consul's result: `true` when written.
    pub async fn service_defaults_set(
        &self,
        entry: &ServiceDefaultsEntry,
        opts: &QueryOptions,
    ) -> Result<bool, ConsulError> {
        let mut entry = entry.clone();
        entry.kind = SERVICE_DEFAULTS.to_string();
        self.json(Method::PUT, &["v1", "config"], opts, &[], Some(&entry))
            .await
    }
}
