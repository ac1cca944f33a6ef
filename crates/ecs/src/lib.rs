//! ECS task metadata v4 client, task/container types and the values consul-ecs derives from
//! them (task ID, region, account, cluster ARN, node IP, container lifecycle).
//!
//! The types decode `GET ${ECS_CONTAINER_METADATA_URI_V4}/task` tolerantly: unknown fields
//! are ignored and missing or `null` fields take their empty value, because the ECS agent
//! and Fargate add and omit fields across versions. Whatever is needed from a field is
//! checked where it is used (e.g. [`TaskMetadata::region`] fails on a malformed ARN).
//!
//! [`MetadataClient`] bounds everything about a request: its time (a timeout per attempt),
//! its retries (a [`retry::RetryPolicy`], [`DEFAULT_RETRY_POLICY`] unless set) and the size of
//! the answer it reads ([`BODY_LIMIT`]).

#![deny(missing_docs)]

mod client;
mod error;
mod metadata;
mod poll;

pub use client::{
    LastTask, MetadataClient, BODY_LIMIT, DEFAULT_RETRY_POLICY, DEFAULT_TIMEOUT, METADATA_URI_ENV,
};
pub use error::EcsError;
pub use metadata::{
    Container, Health, MeshLayout, Network, TaskMetadata, AGENT_SIDECAR_CONTAINER,
    CONSUL_DATAPLANE_CONTAINER, CONTAINER_TYPE_NORMAL, DATAPLANE_NON_APPLICATION_CONTAINERS,
    DEFAULT_NODE_IP, NON_APPLICATION_CONTAINERS, STATUS_STOPPED,
};
