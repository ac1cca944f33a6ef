//! The world both controllers' end-to-end tests run in: moto (STS, IAM, ECS, signatures
//! checked) with a cluster `prod` and the controller's role (only ListTasks and
//! DescribeTasks), the Consul emulator with ACLs, and the task metadata of the controller's
//! own Fargate task.

use std::collections::BTreeMap;

use serde_json::json;
use testkit::aws::{AwsWorld, TaskRole};
use testkit::consul::{ConsulEmulator, EmulatorOptions, SeededLogin};
use testkit::ecs_metadata::EcsMetadataEmulator;
use testkit::ecs_moto::{controller_env, MotoCluster, MotoEcs};

use super::background::Background;

pub struct ControllerWorld {
    pub aws: AwsWorld,
    pub cluster: MotoCluster,
    pub role: TaskRole,
    pub consul: ConsulEmulator,
    pub metadata: EcsMetadataEmulator,
}

impl ControllerWorld {
    /// The world, the controller's IAM role named `role`.
    pub fn new(role: &str) -> ControllerWorld {
        let aws = AwsWorld::start("web");
        let ecs = MotoEcs::new(&aws);
        ecs.keep_tasks_running();
        let cluster = ecs.create_cluster("prod");
        let role = ecs.controller_role(role);
        let consul = ConsulEmulator::start(EmulatorOptions {
            acls_enabled: true,
            ..EmulatorOptions::default()
        });
        // The controller's own task, on Fargate: the cluster comes from here.
        let task_arn = format!(
            "{}/5a0f3bca58e0f4486a95b04c1bd1d4be",
            cluster.arn.replacen(":cluster/", ":task/", 1)
        );
        let metadata = EcsMetadataEmulator::start(json!({
            "Cluster": cluster.arn,
            "TaskARN": task_arn,
            "Family": "consul-ecs-controller",
            "DesiredStatus": "RUNNING",
            "KnownStatus": "RUNNING",
            "Containers": [],
        }));
        ControllerWorld {
            aws,
            cluster,
            role,
            consul,
            metadata,
        }
    }

    /// The controller's environment: the role's credentials, ECS at `ecs_endpoint`, the
    /// management token, the task metadata.
    pub fn env(&self, ecs_endpoint: &str) -> Vec<(String, String)> {
        let mut env = controller_env(&self.role, ecs_endpoint);
        env.push(("CONSUL_HTTP_TOKEN".into(), self.consul.management_token()));
        env.push(("ECS_CONTAINER_METADATA_URI_V4".into(), self.metadata.uri()));
        env
    }

    /// Starts the binary with `args` and `env`.
    pub fn spawn(&self, args: &[&str], env: &[(String, String)]) -> Background {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Background::start(args, &env, tempfile::tempdir().unwrap())
    }

    /// A login token of the service auth method for `task` of this cluster, put straight
    /// into Consul; its accessor ID.
    pub fn seed_token(&self, task: &str) -> String {
        let meta = BTreeMap::from([
            ("consul.hashicorp.com/task-id".to_string(), task.to_string()),
            (
                "consul.hashicorp.com/cluster".to_string(),
                self.cluster.arn.clone(),
            ),
        ]);
        self.consul.seed_login_tokens(&[SeededLogin {
            method: "iam-ecs-service-token".into(),
            meta,
            scope: None,
            method_namespace: None,
        }])[0]
            .clone()
    }

    /// Whether Consul still has the token.
    pub fn exists(&self, accessor: &str) -> bool {
        self.consul
            .tokens()
            .iter()
            .any(|t| t.accessor_id == accessor)
    }

    /// Fails when the output holds a secret: the management token or the AWS keys.
    pub fn assert_no_secrets(&self, bg: &Background) {
        let log = bg.read("stderr.log");
        for (what, secret) in [
            ("management token", self.consul.management_token()),
            ("AWS secret key", self.role.secret_access_key.clone()),
            ("AWS session token", self.role.session_token.clone()),
        ] {
            assert!(
                !log.contains(&secret),
                "the {what} is in the output:\n{}",
                bg.report()
            );
        }
    }
}
