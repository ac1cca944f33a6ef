//! What a consul-ecs v0.10 (Consul Dataplane) task puts into Consul and writes for
//! consul-dataplane, as pure functions of the config, the task metadata and the AWS region
//! (docs/registrations.md §11). No I/O: `crates/task` sends and writes what these build.
//!
//! - [`build_registrations`]: the catalog registrations of a service task (the service,
//!   then its sidecar proxy) or of a gateway task, under the cluster's synthetic node.
//! - [`synced_check_id`], [`dataplane_check_id`] and the check constants: the checks
//!   health-sync keeps up to date.
//! - [`with_passive_health_check`]: the `service-defaults` write that
//!   `service.networkResilienceConfig` asks for, only when the entry has no
//!   `PassiveHealthCheck` yet.
//! - [`DataplaneHealth`]: health-sync's decisions — each check's status from the task's
//!   ECS container health, written only when it changes.
//! - [`DataplaneConfig`]: `consul-dataplane.json`, which carries the bearer token of the
//!   dataplane's own login and so is never logged.
//!
//! ```
//! let cfg = config::dataplane::parse(
//!     r#"{"bootstrapDir": "/consul", "consulServers": {"hosts": "consul.dc1"},
//!         "service": {"port": 8080}}"#,
//! )
//! .unwrap();
//! let task: ecs::TaskMetadata = serde_json::from_str(
//!     r#"{"Cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
//!         "TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/prod/abc123", "Family": "Web"}"#,
//! )
//! .unwrap();
//! let regs = dataplane::build_registrations(&cfg, &task, Some("us-east-1")).unwrap();
//! let ids: Vec<&str> = regs.services().map(|s| s.service.id.as_str()).collect();
//! assert_eq!(ids, ["web-abc123", "web-abc123-sidecar-proxy"]);
//! assert_eq!(regs.node(), "arn:aws:ecs:us-east-1:123456789012:cluster/prod");
//! ```

#![deny(missing_docs)]

mod checks;
mod dataplane_config;
mod health;
mod registration;
mod service_defaults;

pub use checks::{
    dataplane_check_id, not_ready_output, synced_check_id, CHECK_TYPE, DATAPLANE_CHECK_NAME,
    DATAPLANE_CHECK_NOTES, DATAPLANE_CONTAINER, SYNCED_CHECK_NAME,
};
pub use dataplane_config::{
    DataplaneConfig, DataplaneConsul, DataplaneCredentials, DataplaneDnsServer, DataplaneEnvoy,
    DataplaneInputs, DataplaneLogging, DataplaneLogin, DataplaneProxy, DataplaneTls,
    DataplaneXdsServer, DNS_BIND_PORT, LOCALHOST,
};
pub use health::{
    consul_status, CheckSource, CheckWrite, DataplaneHealth, SyncedCheck, ECS_HEALTHY,
    ECS_UNHEALTHY,
};
pub use registration::{
    build_registrations, CatalogRegistrations, ServiceWithChecks, NODE_META_SYNTHETIC,
    TAGGED_ADDRESS_VIRTUAL, TRANSPARENT_PROXY_MODE,
};
pub use service_defaults::{passive_health_check, with_passive_health_check};
