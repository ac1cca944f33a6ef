//! What the controller is told (flags) and what it learns at start-up (task metadata).

use std::time::Duration;

use crate::objects;
use crate::Error;

/// The documented default of `-iam-role-path` (what the Terraform modules pass).
pub const DEFAULT_IAM_ROLE_PATH: &str = "/consul-ecs/";
/// Default time between reconcile rounds (v0.6.2's fixed 10 s).
pub const DEFAULT_RECONCILE_INTERVAL: Duration = Duration::from_secs(10);

/// The controller's flags, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flags {
    /// IAM path of the roles the auth methods trust, without leading or trailing `/`
    /// (empty = every role of the account).
    pub iam_role_path: String,
    /// The admin partition to manage; `None` without `-partitions-enabled` (Consul CE).
    pub partition: Option<String>,
    /// Time between reconcile rounds.
    pub reconcile_interval: Duration,
}

impl Flags {
    /// Validates the flags as v0.6.2 does: `-partition` needs `-partitions-enabled`, which
    /// alone means partition `default`. `iam_role_path` is trimmed of slashes, so `/` means
    /// every role.
    pub fn new(
        iam_role_path: &str,
        partitions_enabled: bool,
        partition: Option<&str>,
        reconcile_interval: Duration,
    ) -> Result<Flags, Error> {
        let partition = match (partitions_enabled, partition.filter(|p| !p.is_empty())) {
            (false, Some(_)) => {
                return Err(Error::Config(
                    "partition flag provided without partitions-enabled flag".to_string(),
                ))
            }
            (false, None) => None,
            (true, None) => Some(objects::DEFAULT_TENANCY.to_string()),
            (true, Some(p)) => Some(p.to_string()),
        };
        if reconcile_interval.is_zero() {
            return Err(Error::Config(
                "reconcile interval must be greater than zero".to_string(),
            ));
        }
        let path = iam_role_path.trim().trim_matches('/');
        if path.contains("//") || path.chars().any(|c| c.is_whitespace() || c == '*') {
            return Err(Error::Config(format!(
                "iam-role-path {iam_role_path:?} is not an IAM path"
            )));
        }
        Ok(Flags {
            iam_role_path: path.to_string(),
            partition,
            reconcile_interval,
        })
    }
}

/// Where the controller runs, from its task's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// The cluster ARN, `arn:aws:ecs:<region>:<account>:cluster/<name>`.
    pub arn: String,
    /// The account ID (the bound ARN's account).
    pub account_id: String,
    /// The region (the ECS client's region when the SDK has none configured).
    pub region: String,
}

impl Cluster {
    /// Reads the cluster from task metadata (cluster ARN, account, region;
    /// docs/protocols.md §1.5).
    pub fn from_metadata(task: &ecs::TaskMetadata) -> Result<Cluster, Error> {
        Ok(Cluster {
            arn: task.cluster_arn()?,
            account_id: task.account_id()?.to_string(),
            region: task.region()?.to_string(),
        })
    }

    /// The short cluster name (after `cluster/`), which EC2 tasks write as their login
    /// meta's cluster.
    pub fn name(&self) -> &str {
        self.arn
            .split_once(":cluster/")
            .map_or(self.arn.as_str(), |(_, name)| name)
    }

    /// Whether a login meta's cluster value names this cluster (ARN or short name).
    pub fn matches(&self, cluster: &str) -> bool {
        cluster == self.arn || cluster == self.name()
    }
}

/// Everything a controller needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The flags.
    pub flags: Flags,
    /// The cluster it serves.
    pub cluster: Cluster,
}

impl Settings {
    /// The ARN pattern this controller adds to the auth methods' bound ARNs.
    pub fn bound_arn(&self) -> String {
        objects::bound_arn(&self.cluster.account_id, &self.flags.iam_role_path)
    }

    /// The managed partition (`None` on CE).
    pub fn partition(&self) -> Option<&str> {
        self.flags.partition.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(path: &str, enabled: bool, partition: Option<&str>) -> Result<Flags, Error> {
        Flags::new(path, enabled, partition, DEFAULT_RECONCILE_INTERVAL)
    }

    #[test]
    fn role_path_is_trimmed() {
        assert_eq!(
            flags("/consul-ecs/", false, None).unwrap().iam_role_path,
            "consul-ecs"
        );
        assert_eq!(flags("a/b/", false, None).unwrap().iam_role_path, "a/b");
        assert_eq!(flags("/", false, None).unwrap().iam_role_path, "");
        assert_eq!(flags("", false, None).unwrap().iam_role_path, "");
        assert!(flags("/a//b/", false, None).is_err());
        assert!(flags("/a*/", false, None).is_err());
    }

    #[test]
    fn partition_flags_as_in_v0_6_2() {
        let e = flags("/", false, Some("p")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "partition flag provided without partitions-enabled flag"
        );
        assert!(!e.is_retryable());
        assert_eq!(
            flags("/", true, None).unwrap().partition.as_deref(),
            Some("default")
        );
        assert_eq!(
            flags("/", true, Some("p")).unwrap().partition.as_deref(),
            Some("p")
        );
        assert_eq!(flags("/", false, None).unwrap().partition, None);
    }

    #[test]
    fn cluster_matches_arn_and_short_name() {
        let c = Cluster {
            arn: "arn:aws:ecs:us-east-1:123456789012:cluster/prod".into(),
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
        };
        assert_eq!(c.name(), "prod");
        assert!(c.matches("prod"));
        assert!(c.matches("arn:aws:ecs:us-east-1:123456789012:cluster/prod"));
        assert!(!c.matches("arn:aws:ecs:us-east-1:123456789012:cluster/prod2"));
        assert!(!c.matches("prod2"));
    }
}
