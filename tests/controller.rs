//! `consul-ecs controller` (v0.10) end to end: the built binary configured by a v0.10
//! `CONSUL_ECS_CONFIG_JSON`, reaching the Consul emulator over gRPC (discovery, watch) and
//! HTTP, moto's ECS (a role allowed only ListTasks and DescribeTasks), and the task
//! metadata emulator. A whole life (start-up, a round that cleans up, SIGTERM exit 0, no
//! secret in the output) and the config errors.

mod util;

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::json;
use testkit::consul_grpc::{ConsulGrpcServer, GrpcServerOptions};
use util::background::Background;
use util::controller_world::ControllerWorld;

/// The shared controller world and the emulator's gRPC server in front of its Consul.
struct World {
    w: ControllerWorld,
    grpc: ConsulGrpcServer,
}

impl std::ops::Deref for World {
    type Target = ControllerWorld;
    fn deref(&self) -> &ControllerWorld {
        &self.w
    }
}

impl World {
    fn new() -> World {
        let w = ControllerWorld::new("controller");
        let grpc = ConsulGrpcServer::start(&w.consul, GrpcServerOptions::default()).unwrap();
        World { w, grpc }
    }

    fn config(&self) -> String {
        let http_port = self
            .consul
            .http_addr()
            .rsplit(':')
            .next()
            .unwrap()
            .to_string();
        json!({
            "bootstrapDir": "/consul",
            "consulServers": {
                "hosts": "127.0.0.1",
                "http": {"https": false, "port": http_port.parse::<u16>().unwrap()},
                "grpc": {"tls": false, "port": self.grpc.addr().port()},
            },
            "controller": {"iamRolePath": "/consul-ecs/"},
        })
        .to_string()
    }

    fn start(&self) -> Background {
        let mut env = self.env(&self.aws.endpoint());
        env.push(("CONSUL_ECS_CONFIG_JSON".into(), self.config()));
        self.spawn(&["controller", "-log-level", "DEBUG"], &env)
    }

    async fn put(&self, path: &str, body: serde_json::Value) {
        let r = reqwest::Client::new()
            .put(format!("{}{path}", self.consul.http_addr()))
            .header("X-Consul-Token", self.consul.management_token())
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            200,
            "PUT {path}: {}",
            r.text().await.unwrap()
        );
    }

    async fn node_services(&self) -> Vec<String> {
        let r = reqwest::Client::new()
            .get(format!(
                "{}/v1/catalog/node-services/{}",
                self.consul.http_addr(),
                self.cluster.arn
            ))
            .header("X-Consul-Token", self.consul.management_token())
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = r.json().await.unwrap();
        let mut ids: Vec<String> = body["Services"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["ID"].as_str().map(str::to_string))
            .collect();
        ids.sort();
        ids
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleans_up_after_a_task_that_never_runs_again_then_sigterm_exits_0() {
    let w = World::new();
    // What a task that has gone left behind: its login token and its two services.
    let gone = "0123456789abcdef0123456789abcdef";
    let token = w.seed_token(gone);
    for id in [format!("web-{gone}"), format!("web-{gone}-sidecar-proxy")] {
        w.put(
            "/v1/catalog/register",
            json!({"Node": w.cluster.arn, "Address": "10.0.3.7",
                   "Service": {"ID": id, "Service": "web", "Port": 9090, "Meta": {"task-id": gone}}}),
        )
        .await;
    }
    // And a service registered by hand, which stays.
    w.put(
        "/v1/catalog/register",
        json!({"Node": w.cluster.arn, "Address": "10.0.3.7", "Service": {"ID": "hand-made", "Service": "db"}}),
    )
    .await;

    let mut bg = w.start();
    bg.wait_log("controller started");
    bg.wait_until("the first round done", Duration::from_secs(20), |b| {
        b.read("stderr.log").contains("reconcile round done")
    });
    let log = bg.read("stderr.log");
    assert!(log.contains("deregistered=2"), "{}", bg.report());
    assert!(log.contains("deleted=1"), "{}", bg.report());
    assert!(!w.exists(&token), "{}", bg.report());
    assert_eq!(w.node_services().await, vec!["hand-made".to_string()]);

    bg.signal(Signal::SIGTERM);
    assert_eq!(bg.wait_exit(Duration::from_secs(5)), 0, "{}", bg.report());
    bg.wait_log("controller stopped");
    w.assert_no_secrets(&bg);
}

#[test]
fn a_partition_without_partitions_enabled_exits_1() {
    let config = json!({
        "bootstrapDir": "/consul",
        "consulServers": {"hosts": "127.0.0.1"},
        "controller": {"partition": "part1"},
    });
    util::TestCommand::new(["controller"])
        .env("CONSUL_ECS_CONFIG_JSON", config.to_string())
        .env("ECS_CONTAINER_METADATA_URI_V4", "http://127.0.0.1:9")
        .run()
        .expect_code(1)
        .expect_stderr_contains("controller.partition: set without controller.partitionsEnabled");
}

#[test]
fn a_v0_6_2_config_exits_1_naming_the_layout() {
    let config = json!({"consulHTTPAddr": "http://127.0.0.1:8500", "bootstrapDir": "/consul"});
    util::TestCommand::new(["controller"])
        .env("CONSUL_ECS_CONFIG_JSON", config.to_string())
        .run()
        .expect_code(1)
        .expect_stderr_contains("controller reads a v0.10 (Consul Dataplane) config");
}
