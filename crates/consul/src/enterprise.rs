//! Admin partitions and namespaces (Consul Enterprise, docs/protocols.md §5.7).

use crate::acl::AclLink;
use crate::client::{Client, QueryOptions};
use crate::serde_util::{is_zero_u64, null_default};
use crate::ConsulError;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An admin partition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Partition {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Raft index.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub create_index: u64,
    /// Raft index.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub modify_index: u64,
}

/// Default policies and roles of every token in a namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NamespaceAclConfig {
    /// Policies every token in the namespace gets.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub policy_defaults: Vec<AclLink>,
    /// Roles every token in the namespace gets.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub role_defaults: Vec<AclLink>,
}

/// A namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Namespace {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// ACL defaults.
    #[serde(rename = "ACLs", skip_serializing_if = "Option::is_none")]
    pub acls: Option<NamespaceAclConfig>,
    /// Metadata.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_default"
    )]
    pub meta: BTreeMap<String, String>,
    /// Set when the namespace is being deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    /// Partition it lives in.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Raft index.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub create_index: u64,
    /// Raft index.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub modify_index: u64,
}

impl Client {
    /// `PUT /v1/partition`.
    pub async fn partition_create(
        &self,
        partition: &Partition,
        opts: &QueryOptions,
    ) -> Result<Partition, ConsulError> {
        self.json(
            Method::PUT,
            &["v1", "partition"],
            opts,
            &[],
            Some(partition),
        )
        .await
    }

    /// `GET /v1/partition/:name`; `None` when missing.
    pub async fn partition_read(
        &self,
        name: &str,
        opts: &QueryOptions,
    ) -> Result<Option<Partition>, ConsulError> {
        self.read_optional(&["v1", "partition", name], opts).await
    }

    /// `GET /v1/partitions`.
    pub async fn partition_list(&self, opts: &QueryOptions) -> Result<Vec<Partition>, ConsulError> {
        let list: Option<Vec<Partition>> = self
            .json(Method::GET, &["v1", "partitions"], opts, &[], None)
            .await?;
        Ok(list.unwrap_or_default())
    }

    /// `PUT /v1/namespace` (the partition comes from `opts`/the client, `partition=`).
    pub async fn namespace_create(
        &self,
        namespace: &Namespace,
        opts: &QueryOptions,
    ) -> Result<Namespace, ConsulError> {
        self.json(
            Method::PUT,
            &["v1", "namespace"],
            opts,
            &[],
            Some(namespace),
        )
        .await
    }

    /// `GET /v1/namespace/:name`; `None` when missing.
    pub async fn namespace_read(
        &self,
        name: &str,
        opts: &QueryOptions,
    ) -> Result<Option<Namespace>, ConsulError> {
        self.read_optional(&["v1", "namespace", name], opts).await
    }

    /// `PUT /v1/namespace/:name` with the full object (`namespace.name` names it).
    pub async fn namespace_update(
        &self,
        namespace: &Namespace,
        opts: &QueryOptions,
    ) -> Result<Namespace, ConsulError> {
        self.json(
            Method::PUT,
            &["v1", "namespace", &namespace.name],
            opts,
            &[],
            Some(namespace),
        )
        .await
    }

    /// `GET /v1/namespaces`.
    pub async fn namespace_list(&self, opts: &QueryOptions) -> Result<Vec<Namespace>, ConsulError> {
        let list: Option<Vec<Namespace>> = self
            .json(Method::GET, &["v1", "namespaces"], opts, &[], None)
            .await?;
        Ok(list.unwrap_or_default())
    }
}
