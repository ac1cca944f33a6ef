//! What consul-ecs puts into Consul for one ECS task and keeps in sync there.
//!
//! - [`build_registrations`]: the service + sidecar proxy registrations of a service task,
//!   or the mesh gateway registration of a gateway task, exactly as consul-ecs v0.6.2
//!   sends them to `PUT /v1/agent/service/register` (docs/registrations.md §3–§6,
//!   docs/protocols.md §4.2).
//! - [`HealthSync`]: the health-sync state machine that turns ECS container health into
//!   TTL check updates, writing only on change (docs/registrations.md §8,
//!   docs/protocols.md §4.9).
//! - [`run_health_sync`]: health-sync's loop around it (polls, re-checks of Consul's view,
//!   the shutdown within a budget), the only part of this crate that does I/O.
//!
//! The login metadata is not built here: `config::Config::login_meta` gives the user's
//! keys and `iam_login::login_meta(task_id, cluster, extra)` merges them over the
//! built-ins.
//!
//! ```
//! let cfg = config::parse(r#"{"bootstrapDir": "/consul", "service": {"port": 8080}}"#).unwrap();
//! let task: ecs::TaskMetadata = serde_json::from_str(
//!     r#"{"TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/prod/abc123", "Family": "Web"}"#,
//! )
//! .unwrap();
//! let regs = mesh_task::build_registrations(&cfg, &task).unwrap();
//! assert_eq!(regs.proxy_id(), "web-abc123-sidecar-proxy");
//! let ids: Vec<&str> = regs.in_order().iter().map(|r| r.id.as_str()).collect();
//! assert_eq!(ids, ["web-abc123", "web-abc123-sidecar-proxy"]);
//! ```

#![deny(missing_docs)]

mod go_quote;

pub use go_quote::go_quote;
mod health_sync;
mod registration;
mod sync_loop;

pub use health_sync::{synced_check_id, CheckUpdate, HealthSync, SyncedCheck};
pub use registration::{
    agent_weights, build_registrations, connect_proxy_config, merged_meta, Registrations,
    CONSUL_ECS_SOURCE, META_SOURCE, META_TASK_ARN, META_TASK_ID, PROXY_CHECK_DEREGISTER_AFTER,
    PROXY_CHECK_INTERVAL, SYNCED_CHECK_NAME, SYNCED_CHECK_TTL,
};
pub use sync_loop::{
    run_health_sync, run_health_sync_observed, shutdown, OnRefusedWrite, ShutdownReport, SyncPeers,
    SyncSettings, TokenLogout,
};

/// Why the registrations or the health-sync plan could not be built.
///
/// Neither the config nor the task metadata carries secrets, so the messages may quote
/// them freely.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    /// The config breaks a rule mesh-init applies before registering (only the
    /// `service.checks` / `healthSyncContainers` exclusivity rule); the message names both
    /// fields.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The task ID (needed for every service and check ID) cannot be taken from the task
    /// ARN.
    #[error(transparent)]
    TaskMetadata(#[from] ecs::EcsError),
    /// A config integer does not fit the field of the Consul API type it is copied into.
    #[error("{path}: {value} is out of range (expected {min}..={max})")]
    OutOfRange {
        /// Dotted JSON path of the config field (`service.weights.passing`).
        path: String,
        /// The configured value.
        value: i64,
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
}
