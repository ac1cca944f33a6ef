//! What the controller is told (the `controller` block of `CONSUL_ECS_CONFIG_JSON`) and
//! what it learns at start-up (its task's metadata).

use std::time::Duration;

use acl_controller::objects::{bound_arn, DEFAULT_TENANCY};
use acl_controller::Cluster;

use crate::{Error, Result};

/// Time between reconcile rounds (v0.10.0's fixed polling interval).
pub const RECONCILE_INTERVAL: Duration = Duration::from_secs(10);

/// The `controller` block, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerConfig {
    /// IAM path of the roles the auth method trusts, without leading or trailing `/`
    /// (empty = every role of the account).
    pub iam_role_path: String,
    /// The admin partition to manage; `None` without `partitionsEnabled` (Consul CE).
    pub partition: Option<String>,
}

impl ControllerConfig {
    /// Reads the `controller` block as v0.10.0 does: `partitionsEnabled` alone means
    /// partition `default`; a `partition` without it is refused. Without the block the
    /// role path is empty (upstream's zero value: every role).
    pub fn from_config(config: &config::dataplane::Config) -> Result<ControllerConfig> {
        let block = config.controller.clone().unwrap_or_default();
        let partition = match (block.partitions_enabled, block.partition.as_str()) {
            (false, "") => None,
            (false, _) => {
                return Err(Error::Config(
                    "controller.partition: set without controller.partitionsEnabled \
                     (a partition needs partitions enabled)"
                        .to_string(),
                ))
            }
            (true, "") => Some(DEFAULT_TENANCY.to_string()),
            (true, p) => Some(p.to_string()),
        };
        let path = config.controller_iam_role_path().unwrap_or_default();
        Ok(ControllerConfig {
            iam_role_path: path.trim().trim_matches('/').to_string(),
            partition,
        })
    }
}

/// Everything a controller needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The `controller` block.
    pub config: ControllerConfig,
    /// The cluster it serves; its ARN is the name of the cluster's synthetic node.
    pub cluster: Cluster,
    /// The address the synthetic node is registered with (the controller task's IPv4, as
    /// v0.10.0 takes it).
    pub node_address: String,
    /// Time between reconcile rounds.
    pub interval: Duration,
}

impl Settings {
    /// The ARN pattern this controller adds to the auth method's bound ARNs.
    pub fn bound_arn(&self) -> String {
        bound_arn(&self.cluster.account_id, &self.config.iam_role_path)
    }

    /// The managed partition (`None` on CE).
    pub fn partition(&self) -> Option<&str> {
        self.config.partition.as_deref()
    }

    /// The synthetic node's name: the cluster ARN.
    pub fn node(&self) -> &str {
        &self.cluster.arn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(json: &str) -> Result<ControllerConfig> {
        let text = format!(
            r#"{{"bootstrapDir":"/consul","consulServers":{{"hosts":"consul.example.com"}}{json}}}"#
        );
        ControllerConfig::from_config(&config::dataplane::parse(&text).unwrap())
    }

    #[test]
    fn partitions_as_in_v0_10_0() {
        let plain = block(r#","controller":{}"#).unwrap();
        assert_eq!(plain.partition, None);
        assert_eq!(plain.iam_role_path, "consul-ecs");
        let enabled = block(r#","controller":{"partitionsEnabled":true}"#).unwrap();
        assert_eq!(enabled.partition.as_deref(), Some("default"));
        let named =
            block(r#","controller":{"partitionsEnabled":true,"partition":"part1"}"#).unwrap();
        assert_eq!(named.partition.as_deref(), Some("part1"));
        let refused = block(r#","controller":{"partition":"part1"}"#).unwrap_err();
        assert!(!refused.is_retryable());
        assert!(
            refused.to_string().starts_with("controller.partition: "),
            "{refused}"
        );
    }

    #[test]
    fn role_path() {
        assert_eq!(
            block(r#","controller":{"iamRolePath":"/a/b/"}"#)
                .unwrap()
                .iam_role_path,
            "a/b"
        );
        assert_eq!(
            block(r#","controller":{"iamRolePath":"/"}"#)
                .unwrap()
                .iam_role_path,
            ""
        );
        // No block: upstream's zero value, every role of the account.
        assert_eq!(block("").unwrap().iam_role_path, "");
    }
}
