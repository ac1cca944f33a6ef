//! The login tokens the controller looks after: listing them (only those the two auth
//! methods made) and reading the task they belong to from their description.

use std::collections::BTreeMap;

use consul::{AclTokenListEntry, Client, QueryOptions, TokenListFilter};

use crate::objects::DEFAULT_TENANCY;
use crate::settings::Cluster;
use crate::{Error, Result};

/// Login meta key naming the task.
pub const TASK_ID_META: &str = "consul.hashicorp.com/task-id";
/// Login meta key naming the cluster (an ARN, or the short name on EC2).
pub const CLUSTER_META: &str = "consul.hashicorp.com/cluster";
/// What Consul puts before the login meta JSON in a login token's description.
const LOGIN_PREFIX: &str = "token created via login:";

/// The login meta of a token: which task of which cluster logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginMeta {
    /// ECS task ID.
    pub task_id: String,
    /// Cluster ARN or short name, as the login wrote it.
    pub cluster: String,
}

/// Reads the login meta from a token description, as v0.6.2 does: the first
/// `token created via login:` removed, the rest decoded as a JSON object of strings that
/// must hold both keys. `None` for any other description.
pub fn login_meta(description: &str) -> Option<LoginMeta> {
    let at = description.find(LOGIN_PREFIX)?;
    let rest = format!(
        "{}{}",
        &description[..at],
        &description[at + LOGIN_PREFIX.len()..]
    );
    let meta: BTreeMap<String, serde_json::Value> = serde_json::from_str(rest.trim()).ok()?;
    let get = |key: &str| {
        meta.get(key)
            .and_then(serde_json::Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    Some(LoginMeta {
        task_id: get(TASK_ID_META)?,
        cluster: get(CLUSTER_META)?,
    })
}

/// Whether `id` can be an ECS task ID (32 hex digits today, a UUID for old tasks). Other
/// values are never sent to `DescribeTasks`, where one odd ID would fail the whole batch.
pub fn plausible_task_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A login token of one of this cluster's tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskToken {
    /// The token's accessor ID (public; the secret is never kept).
    pub accessor_id: String,
    /// The auth method that made it.
    pub auth_method: String,
    /// The task it was made for.
    pub task_id: String,
    /// Its namespace (Enterprise; empty on CE).
    pub namespace: String,
    /// Its partition (Enterprise; empty on CE).
    pub partition: String,
}

/// The login tokens of this cluster's tasks, and how many requests listing them took.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listed {
    /// The tokens, by task ID.
    pub by_task: BTreeMap<String, Vec<TaskToken>>,
    /// Tokens the auth methods made that were left alone: no login meta, another
    /// cluster's, or a task ID that cannot be one.
    pub ignored: usize,
    /// Consul requests made.
    pub requests: u64,
}

impl Listed {
    /// Number of tokens of this cluster's tasks.
    pub fn tokens(&self) -> usize {
        self.by_task.values().map(Vec::len).sum()
    }

    fn add(&mut self, token: AclTokenListEntry, cluster: &Cluster) {
        let Some(meta) = login_meta(&token.description) else {
            self.ignored += 1;
            return;
        };
        if !cluster.matches(&meta.cluster) || !plausible_task_id(&meta.task_id) {
            self.ignored += 1;
            return;
        }
        self.by_task
            .entry(meta.task_id.clone())
            .or_default()
            .push(TaskToken {
                accessor_id: token.accessor_id,
                auth_method: token.auth_method,
                task_id: meta.task_id,
                namespace: token.namespace,
                partition: token.partition,
            });
    }
}

/// Lists the tokens the auth methods `methods` made (`authmethod=` filter — not every
/// token of the datacenter), in every namespace of `partition` on Enterprise (`namespaces`
/// names them), and keeps those of `cluster`'s tasks.
pub async fn list(
    consul: &Client,
    methods: &[&str],
    cluster: &Cluster,
    partition: Option<&str>,
    namespaces: &[String],
) -> Result<Listed> {
    let mut listed = Listed::default();
    let scopes: Vec<Option<&str>> = match partition {
        None => vec![None],
        Some(_) => namespaces.iter().map(|n| Some(n.as_str())).collect(),
    };
    for method in methods {
        for ns in &scopes {
            let mut opts = QueryOptions::default();
            let mut filter = TokenListFilter {
                auth_method: method.to_string(),
                ..TokenListFilter::default()
            };
            if let (Some(p), Some(ns)) = (partition, ns) {
                opts = opts.with_partition(p).with_namespace(*ns);
                // The methods live in the partition's default namespace; their tokens may
                // be bound to any namespace by the namespace rule.
                filter.auth_method_namespace = DEFAULT_TENANCY.to_string();
            }
            listed.requests += 1;
            // Each token is sorted as it arrives: a list of ten thousand is never held.
            consul
                .token_list_each(&filter, &opts, |token| listed.add(token, cluster))
                .await
                .map_err(|e| {
                    let scope = ns.map_or_else(String::new, |n| format!(" in namespace {n}"));
                    Error::consul(format!("list the tokens of auth method {method}{scope}"), e)
                })?;
        }
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_meta_from_descriptions() {
        let d = r#"token created via login: {"consul.hashicorp.com/cluster":"arn:aws:ecs:us-east-1:123456789012:cluster/my-cluster","consul.hashicorp.com/task-id":"0f3bca58e0f4486a95b04c1bd1d4be55"}"#;
        assert_eq!(
            login_meta(d),
            Some(LoginMeta {
                task_id: "0f3bca58e0f4486a95b04c1bd1d4be55".into(),
                cluster: "arn:aws:ecs:us-east-1:123456789012:cluster/my-cluster".into(),
            })
        );
        // Extra meta keys (mesh-init's consulLogin.meta) are fine.
        let extra = r#"token created via login: {"a":"b","consul.hashicorp.com/cluster":"c","consul.hashicorp.com/task-id":"t"}"#;
        assert_eq!(login_meta(extra).map(|m| m.task_id), Some("t".into()));
        for other in [
            "token created via login",
            "Anonymous Token",
            "token created via login: not json",
            r#"token created via login: {"consul.hashicorp.com/task-id":"t"}"#,
            r#"token created via login: {"consul.hashicorp.com/cluster":"c","consul.hashicorp.com/task-id":""}"#,
            r#"token created via login: {"consul.hashicorp.com/cluster":"c","consul.hashicorp.com/task-id":7}"#,
        ] {
            assert_eq!(login_meta(other), None, "{other}");
        }
    }

    #[test]
    fn task_ids_that_can_be_sent_to_ecs() {
        assert!(plausible_task_id("0f3bca58e0f4486a95b04c1bd1d4be55"));
        assert!(plausible_task_id("5a4f2c3e-1b2d-4c6e-9f00-123456789abc"));
        assert!(!plausible_task_id(""));
        assert!(!plausible_task_id("a/b"));
        assert!(!plausible_task_id("a b"));
        assert!(!plausible_task_id(&"a".repeat(65)));
    }
}
