//! The world the controller tests run in: moto (STS, IAM and ECS, signatures checked)
//! with a cluster, the controller's role (only `ecs:ListTasks` and `ecs:DescribeTasks`), a
//! proxy in front of moto's ECS for pages and stopping tasks, and the Consul emulator with
//! ACLs. When an assertion fails the Consul request log and the ECS calls are printed.
//! The v0.10 controller's tests (crates/controller/tests) share this world.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::time::Duration;

use acl_controller::{Cluster, Controller, EcsTasks, Flags, Settings};
use consul::{Client, ClientConfig, Secret, TokenSource};
use serde_json::Value;
use testkit::aws::{AwsWorld, ACCOUNT_ID, REGION};
use testkit::consul::{ConsulEmulator, EmulatorOptions, SeededLogin};
use testkit::ecs_moto::{EcsProxy, MotoCluster, MotoEcs};

/// Cluster name of the world.
pub const CLUSTER: &str = "prod";
/// Login meta keys.
pub const TASK_ID_META: &str = "consul.hashicorp.com/task-id";
pub const CLUSTER_META: &str = "consul.hashicorp.com/cluster";

pub struct World {
    pub aws: AwsWorld,
    pub consul: ConsulEmulator,
    pub cluster: MotoCluster,
    pub proxy: EcsProxy,
    pub controller_role: testkit::aws::TaskRole,
}

impl World {
    pub fn new(opts: EmulatorOptions) -> World {
        let aws = AwsWorld::start("web");
        let ecs = MotoEcs::new(&aws);
        ecs.keep_tasks_running();
        let cluster = ecs.create_cluster(CLUSTER);
        let controller_role = ecs.controller_role("acl-controller");
        let proxy = EcsProxy::start(&aws.endpoint());
        let consul = ConsulEmulator::start(EmulatorOptions {
            acls_enabled: true,
            ..opts
        });
        World {
            aws,
            consul,
            cluster,
            proxy,
            controller_role,
        }
    }

    pub fn ecs(&self) -> MotoEcs<'_> {
        MotoEcs::new(&self.aws)
    }

    /// The cluster as the controller learns it from its task metadata.
    pub fn cluster_info(&self) -> Cluster {
        Cluster {
            arn: self.cluster.arn.clone(),
            account_id: ACCOUNT_ID.to_string(),
            region: REGION.to_string(),
        }
    }

    pub fn management(&self) -> Client {
        let config = ClientConfig::default()
            .with_address(&self.consul.http_addr())
            .unwrap()
            .with_token(TokenSource::Value(Secret::new(
                self.consul.management_token(),
            )))
            .with_timeout(Duration::from_secs(10));
        Client::new(config).unwrap()
    }

    /// A controller with the given role path and partition, talking to ECS through the
    /// proxy with the controller role's credentials.
    pub fn controller(&self, role_path: &str, partition: Option<&str>) -> Controller {
        self.controller_for(self.cluster_info(), role_path, partition)
    }

    pub fn controller_for(
        &self,
        cluster: Cluster,
        role_path: &str,
        partition: Option<&str>,
    ) -> Controller {
        let flags = Flags::new(
            role_path,
            partition.is_some(),
            partition,
            Duration::from_millis(200),
        )
        .unwrap();
        Controller::new(
            self.management(),
            self.ecs_tasks(),
            Settings { flags, cluster },
        )
    }

    /// An ECS client through the proxy with the controller role's credentials.
    pub fn ecs_tasks(&self) -> EcsTasks {
        let config = aws_sdk_ecs::Config::builder()
            .behavior_version(aws_sdk_ecs::config::BehaviorVersion::latest())
            .region(aws_sdk_ecs::config::Region::new(REGION))
            .credentials_provider(self.controller_role.credentials())
            .endpoint_url(self.proxy.endpoint())
            .http_client(boundary::aws_http_client())
            .build();
        EcsTasks::new(aws_sdk_ecs::Client::from_conf(config))
    }

    /// What to print when an assertion fails.
    pub fn log(&self) -> String {
        format!(
            "---- consul requests ----\n{}---- ecs calls ----\n{:?}\n",
            self.consul.request_log(),
            self.proxy.calls()
        )
    }

    /// Runs `n` mesh tasks with extra tags; returns their IDs.
    pub fn run_mesh_tasks(&self, n: usize, extra: &[(&str, &str)]) -> Vec<String> {
        let mut tags = vec![("consul.hashicorp.com/mesh", "true")];
        tags.extend_from_slice(extra);
        self.ecs()
            .run_tasks(&self.cluster, n, &tags)
            .iter()
            .map(|a| task_id(a))
            .collect()
    }

    pub fn stop_task(&self, id: &str) {
        let arn = format!(
            "{}/{id}",
            self.cluster.arn.replacen(":cluster/", ":task/", 1)
        );
        self.ecs().stop_task(&self.cluster, &arn);
    }

    /// Login tokens put straight into Consul for `task` (client and service token).
    pub fn seed_task_tokens(&self, task: &str, cluster: &str) -> Vec<String> {
        self.consul.seed_login_tokens(&[
            seeded("iam-ecs-client-token", task, cluster, None),
            seeded("iam-ecs-service-token", task, cluster, None),
        ])
    }

    /// Accessor IDs of the tokens Consul holds now.
    pub fn accessors(&self) -> Vec<String> {
        self.consul
            .tokens()
            .into_iter()
            .map(|t| t.accessor_id)
            .collect()
    }

    pub fn exists(&self, accessor: &str) -> bool {
        self.accessors().iter().any(|a| a == accessor)
    }

    /// Raw GET with the management token.
    pub async fn get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.consul.http_addr());
        let r = reqwest::Client::new()
            .get(&url)
            .header("X-Consul-Token", self.consul.management_token())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert_eq!(status, 200, "GET {path}: {text}\n{}", self.log());
        serde_json::from_str(&text).unwrap()
    }

    /// Raw PUT with the management token; returns the status and body.
    pub async fn put(&self, path: &str, body: Value) -> (u16, String) {
        let url = format!("{}{path}", self.consul.http_addr());
        let r = reqwest::Client::new()
            .put(&url)
            .header("X-Consul-Token", self.consul.management_token())
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Non-GET requests the emulator saw after the first `skip`.
    pub fn writes_since(&self, skip: usize) -> Vec<String> {
        self.consul
            .requests()
            .into_iter()
            .skip(skip)
            .filter(|r| r.method != "GET")
            .map(|r| r.to_string())
            .collect()
    }
}

pub fn task_id(arn: &str) -> String {
    arn.rsplit('/').next().unwrap().to_string()
}

pub fn meta(task: &str, cluster: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (TASK_ID_META.to_string(), task.to_string()),
        (CLUSTER_META.to_string(), cluster.to_string()),
    ])
}

pub fn seeded(
    method: &str,
    task: &str,
    cluster: &str,
    scope: Option<testkit::consul::Scope>,
) -> SeededLogin {
    SeededLogin {
        method: method.to_string(),
        meta: meta(task, cluster),
        scope,
        method_namespace: None,
    }
}

/// Logs the test's tracing output (the controller's) to the test's stderr.
pub fn trace() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_test_writer()
        .try_init();
}
