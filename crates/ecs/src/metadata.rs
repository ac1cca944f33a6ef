//! Types for `GET ${ECS_CONTAINER_METADATA_URI_V4}/task` and the values derived from them
//! (docs/protocols.md §1.2, §1.5).

use serde::{Deserialize, Deserializer, Serialize};

use crate::EcsError;

/// Container names of the consul-ecs machinery itself. Every other container (of `Type`
/// `NORMAL`) is an application whose shutdown the sidecar waits for (§7.3).
pub const NON_APPLICATION_CONTAINERS: [&str; 4] = [
    "consul-client",
    AGENT_SIDECAR_CONTAINER,
    "consul-ecs-health-sync",
    "consul-ecs-mesh-init",
];

/// The container that runs Envoy (under envoy-entrypoint) in the agent layout (v0.6.2).
pub const AGENT_SIDECAR_CONTAINER: &str = "sidecar-proxy";

/// The container that runs consul-dataplane (and Envoy under it) in the Consul Dataplane
/// layout (consul-ecs v0.10); its entrypoint is `envoy-entrypoint`.
pub const CONSUL_DATAPLANE_CONTAINER: &str = "consul-dataplane";

/// Container names of the consul-ecs machinery in the Consul Dataplane layout (v0.10): no
/// client agent, and consul-dataplane in place of the sidecar.
pub const DATAPLANE_NON_APPLICATION_CONTAINERS: [&str; 3] = [
    "consul-ecs-mesh-init",
    CONSUL_DATAPLANE_CONTAINER,
    "consul-ecs-health-sync",
];

/// How a task joins the mesh, as far as its containers tell: which ones are consul-ecs's
/// own, and so which ones are applications the proxy outlives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeshLayout {
    /// v0.6.2: a client agent and a `sidecar-proxy` container
    /// ([`NON_APPLICATION_CONTAINERS`]).
    Agent,
    /// v0.10: `consul-dataplane` talks to the servers
    /// ([`DATAPLANE_NON_APPLICATION_CONTAINERS`]).
    Dataplane,
}

impl MeshLayout {
    /// The layout of a task: the dataplane one when it lists a `consul-dataplane`
    /// container and no `sidecar-proxy`, else the agent one. Every v0.6.2 task has a
    /// `sidecar-proxy` (its Envoy) and every v0.10 one a `consul-dataplane`, so only an
    /// application named like the other layout's proxy could mislead it, and then only
    /// without a proxy of its own layout's name.
    pub fn of_task(task: &TaskMetadata) -> MeshLayout {
        if task.container(CONSUL_DATAPLANE_CONTAINER).is_some()
            && task.container(AGENT_SIDECAR_CONTAINER).is_none()
        {
            MeshLayout::Dataplane
        } else {
            MeshLayout::Agent
        }
    }

    /// The names of consul-ecs's own containers in this layout.
    pub fn non_application_containers(self) -> &'static [&'static str] {
        match self {
            MeshLayout::Agent => &NON_APPLICATION_CONTAINERS,
            MeshLayout::Dataplane => &DATAPLANE_NON_APPLICATION_CONTAINERS,
        }
    }
}

/// The `Type` of containers from the task definition; agent-injected ones (the awsvpc
/// pause container, `CNI_PAUSE`) carry other values.
pub const CONTAINER_TYPE_NORMAL: &str = "NORMAL";

/// The `DesiredStatus` / `KnownStatus` of a container that has exited.
pub const STATUS_STOPPED: &str = "STOPPED";

/// The node IP used when no container reports an IPv4 address (as v0.6.2 does).
pub const DEFAULT_NODE_IP: &str = "127.0.0.1";

/// Task metadata: the task and every container in it. Unknown fields are ignored; missing
/// or `null` fields are empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskMetadata {
    /// `Cluster`: the cluster ARN (Fargate) or short name (EC2), as given by ECS.
    #[serde(default, deserialize_with = "null_as_default")]
    pub cluster: String,
    /// `TaskARN`: `arn:<partition>:ecs:<region>:<account>:task/<cluster>/<task-id>`.
    #[serde(rename = "TaskARN", default, deserialize_with = "null_as_default")]
    pub task_arn: String,
    /// `Family`: the task-definition family.
    #[serde(default, deserialize_with = "null_as_default")]
    pub family: String,
    /// `Revision`: the task-definition revision (a string in the wire format; a number is
    /// accepted too).
    #[serde(default, deserialize_with = "string_or_number")]
    pub revision: String,
    /// `DesiredStatus` of the task, e.g. `RUNNING` or `STOPPED`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub desired_status: String,
    /// `KnownStatus` of the task, e.g. `PENDING`, `RUNNING`, `STOPPED`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub known_status: String,
    /// `AvailabilityZone`, when the platform reports it.
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// `LaunchType` (`EC2` / `FARGATE`), when the agent reports it.
    #[serde(default)]
    pub launch_type: Option<String>,
    /// `Containers`, in the order ECS listed them (which is not guaranteed to be stable).
    #[serde(default, deserialize_with = "null_as_default")]
    pub containers: Vec<Container>,
}

/// One element of `Containers` (also the whole answer of `GET ${ECS_CONTAINER_METADATA_URI_V4}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Container {
    /// `Name` from the task definition (`~internal~ecs~pause` for the EC2 pause container).
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// `DockerId`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub docker_id: String,
    /// `Type`: `NORMAL` for task-definition containers; absent on old agents.
    #[serde(rename = "Type", default)]
    pub container_type: Option<String>,
    /// `DesiredStatus`, e.g. `RUNNING`, `STOPPED`, `RESOURCES_PROVISIONED`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub desired_status: String,
    /// `KnownStatus`, e.g. `PULLED`, `RUNNING`, `STOPPED`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub known_status: String,
    /// `ExitCode`, present only once the container has exited.
    #[serde(default)]
    pub exit_code: Option<i64>,
    /// `Health`, present only when the container has an ECS health check.
    #[serde(default)]
    pub health: Option<Health>,
    /// `Networks`; empty when the agent reports none.
    #[serde(default, deserialize_with = "null_as_default")]
    pub networks: Vec<Network>,
}

/// A container's `Health` object. Its keys are lower camel case, unlike the rest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `HEALTHY`, `UNHEALTHY` or `UNKNOWN` (before the first check result).
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: String,
    /// When the status last changed (RFC 3339), if reported.
    #[serde(default)]
    pub status_since: Option<String>,
    /// Exit code of the last health-check command; omitted by ECS when 0.
    #[serde(default)]
    pub exit_code: Option<i64>,
    /// Output of the last health-check command; omitted by ECS when empty.
    #[serde(default)]
    pub output: Option<String>,
}

/// One element of a container's `Networks`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Network {
    /// `NetworkMode`: `awsvpc`, `bridge`, `host`, …
    #[serde(default, deserialize_with = "null_as_default")]
    pub network_mode: String,
    /// `IPv4Addresses`.
    #[serde(
        rename = "IPv4Addresses",
        default,
        deserialize_with = "null_as_default"
    )]
    pub ipv4_addresses: Vec<String>,
    /// `IPv6Addresses`.
    #[serde(
        rename = "IPv6Addresses",
        default,
        deserialize_with = "null_as_default"
    )]
    pub ipv6_addresses: Vec<String>,
    /// `PrivateDNSName`, when reported (awsvpc).
    #[serde(rename = "PrivateDNSName", default)]
    pub private_dns_name: Option<String>,
}

/// The fields of an ARN `arn:partition:service:region:account:resource`.
struct Arn<'a> {
    partition: &'a str,
    service: &'a str,
    region: &'a str,
    account: &'a str,
    resource: &'a str,
}

fn malformed(what: &'static str, arn: &str, reason: &'static str) -> EcsError {
    EcsError::MalformedArn {
        what,
        arn: arn.to_string(),
        reason,
    }
}

fn parse_arn<'a>(arn: &'a str, what: &'static str) -> Result<Arn<'a>, EcsError> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(malformed(
            what,
            arn,
            "not of the form arn:partition:service:region:account:resource",
        ));
    };
    Ok(Arn {
        partition,
        service,
        region,
        account,
        resource,
    })
}

impl TaskMetadata {
    /// The task ID: the text after the last `/` of `TaskARN` (works for both the
    /// `task/<cluster>/<id>` and the old `task/<id>` forms).
    pub fn task_id(&self) -> Result<&str, EcsError> {
        const WHAT: &str = "task ID";
        let arn = parse_arn(&self.task_arn, WHAT)?;
        let Some(rest) = arn.resource.strip_prefix("task/") else {
            return Err(malformed(
                WHAT,
                &self.task_arn,
                "resource does not start with task/",
            ));
        };
        let id = rest.rsplit('/').next().unwrap_or(rest);
        if id.is_empty() {
            return Err(malformed(WHAT, &self.task_arn, "empty task ID"));
        }
        Ok(id)
    }

    /// The AWS region: the 4th `:` field of `TaskARN`.
    pub fn region(&self) -> Result<&str, EcsError> {
        const WHAT: &str = "AWS region";
        let arn = parse_arn(&self.task_arn, WHAT)?;
        if arn.region.is_empty() {
            return Err(malformed(WHAT, &self.task_arn, "empty region field"));
        }
        Ok(arn.region)
    }

    /// The AWS account ID: the 5th `:` field of `TaskARN`.
    pub fn account_id(&self) -> Result<&str, EcsError> {
        const WHAT: &str = "AWS account ID";
        let arn = parse_arn(&self.task_arn, WHAT)?;
        if arn.account.is_empty() {
            return Err(malformed(WHAT, &self.task_arn, "empty account field"));
        }
        Ok(arn.account)
    }

    /// The cluster as an ARN: `Cluster` when it already is one (Fargate); otherwise built
    /// from `TaskARN` (`…:task/<cluster>/<id>` → `…:cluster/<cluster>`), or, for the old
    /// `task/<id>` ARN form, from `TaskARN`'s prefix and the short `Cluster` name.
    pub fn cluster_arn(&self) -> Result<String, EcsError> {
        const WHAT: &str = "cluster ARN";
        if self.cluster.starts_with("arn:") {
            return Ok(self.cluster.clone());
        }
        let arn = parse_arn(&self.task_arn, WHAT)?;
        let Some(rest) = arn.resource.strip_prefix("task/") else {
            return Err(malformed(
                WHAT,
                &self.task_arn,
                "resource does not start with task/",
            ));
        };
        let name = match rest.rsplit_once('/') {
            Some((cluster, _id)) => cluster,
            None => self.cluster.as_str(),
        };
        if name.is_empty() {
            return Err(malformed(
                WHAT,
                &self.task_arn,
                "no cluster name in the ARN or in Cluster",
            ));
        }
        Ok(format!(
            "arn:{}:{}:{}:{}:cluster/{}",
            arn.partition, arn.service, arn.region, arn.account, name
        ))
    }

    /// The raw `Cluster` field (ARN on Fargate, short name on EC2), not normalised; this is
    /// what v0.6.2 puts in service login metadata.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// `Family`, as-is (the default gateway name; lower-case it for a service name).
    pub fn family(&self) -> &str {
        &self.family
    }

    /// The first IPv4 address of the first network of the first listed container, else
    /// [`DEFAULT_NODE_IP`]. In awsvpc mode every container reports the task ENI's address,
    /// so the unspecified container order does not matter.
    pub fn node_ip(&self) -> String {
        self.containers
            .first()
            .and_then(|c| c.networks.first())
            .and_then(|n| n.ipv4_addresses.first())
            .filter(|ip| !ip.is_empty())
            .cloned()
            .unwrap_or_else(|| DEFAULT_NODE_IP.to_string())
    }

    /// The container with this name, if listed.
    pub fn container(&self, name: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.name == name)
    }

    /// The application containers of the agent layout (see [`Container::is_application`]).
    pub fn application_containers(&self) -> impl Iterator<Item = &Container> {
        self.application_containers_in(MeshLayout::Agent)
    }

    /// The application containers of a task in `layout`.
    pub fn application_containers_in(
        &self,
        layout: MeshLayout,
    ) -> impl Iterator<Item = &Container> {
        self.containers
            .iter()
            .filter(move |c| c.is_application_in(layout))
    }

    /// True when every application container of the agent layout has stopped (vacuously
    /// true when there are none): the moment the sidecar may stop Envoy.
    pub fn applications_stopped(&self) -> bool {
        self.applications_stopped_in(MeshLayout::Agent)
    }

    /// True when every application container of a task in `layout` has stopped.
    pub fn applications_stopped_in(&self, layout: MeshLayout) -> bool {
        self.application_containers_in(layout)
            .all(Container::is_stopped)
    }
}

impl Container {
    /// True when the container has exited for good: desired **and** known status are
    /// `STOPPED`.
    pub fn is_stopped(&self) -> bool {
        self.desired_status == STATUS_STOPPED && self.known_status == STATUS_STOPPED
    }

    /// True for a user application of the agent layout: `Type` is `NORMAL` or absent (so
    /// agent-injected containers such as the EC2 pause container are skipped) and the name
    /// is not one of [`NON_APPLICATION_CONTAINERS`].
    pub fn is_application(&self) -> bool {
        self.is_application_in(MeshLayout::Agent)
    }

    /// True for a user application of a task in `layout`: `Type` `NORMAL` or absent, and
    /// not one of the layout's own containers.
    pub fn is_application_in(&self, layout: MeshLayout) -> bool {
        let normal = self
            .container_type
            .as_deref()
            .is_none_or(|t| t == CONTAINER_TYPE_NORMAL);
        normal
            && !layout
                .non_application_containers()
                .contains(&self.name.as_str())
    }

    /// The ECS health status (`HEALTHY`, `UNHEALTHY`, `UNKNOWN`), or `None` when the
    /// container has no health check.
    pub fn health_status(&self) -> Option<&str> {
        self.health.as_ref().map(|h| h.status.as_str())
    }

    /// True only when ECS reports the container `HEALTHY`; health-sync maps everything else
    /// (including no health check) to critical.
    pub fn is_healthy(&self) -> bool {
        self.health_status() == Some("HEALTHY")
    }
}

/// Go's decoder turns `null` into the zero value; serde would reject it for a `String` or
/// `Vec`, so map it to `Default` here.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `Revision` is a string on the wire, but accepting a number costs nothing and keeps a
/// hand-written test document or a future agent from breaking decoding.
fn string_or_number<'de, D>(deserializer: D) -> Result<String, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Revision {
        Text(String),
        Number(serde_json::Number),
    }
    Ok(match Option::<Revision>::deserialize(deserializer)? {
        Some(Revision::Text(s)) => s,
        Some(Revision::Number(n)) => n.to_string(),
        None => String::new(),
    })
}
