//! Benchmark 5: one v0.10 `controller` reconcile round at scale — 5,000 running mesh tasks
//! in ECS, 10,000 login tokens and 5,000 services on the cluster's node in Consul, 100
//! tokens and 50 services of them stale — measured on the real binary, which reaches the
//! emulator as the v0.10 layout does (gRPC discovery and watch, then HTTP).
//!
//! Its interval is v0.10.0's fixed 10 s: the first round (right after start-up) removes the
//! first stale tasks' objects, then as many are seeded and the second round is measured.

use anyhow::{Context as _, Result};
use serde_json::json;
use testkit::consul_grpc::{ConsulGrpcServer, GrpcServerOptions};

use crate::controller_round::{measure, task_id, ControllerWorld, TASKS, TOKENS};
use crate::goals::Figure;
use crate::report::Section;
use crate::Context;

/// v0.10's tasks log in twice with the one auth method: mesh-init, and consul-dataplane.
const METHODS: [&str; 2] = ["iam-ecs-service-token", "iam-ecs-service-token"];

/// Registers one service per task number on the cluster's node, as mesh-init does (ID
/// `web-<task>`, `task-id` meta), over the emulator's HTTP API.
fn register_services(world: &ControllerWorld, tasks: impl Iterator<Item = usize>) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("a runtime for the registrations")?;
    let url = format!("{}/v1/catalog/register", world.consul.http_addr());
    let token = world.consul.management_token();
    runtime.block_on(async {
        let http = reqwest::Client::new();
        for n in tasks {
            let id = task_id(n);
            let body = json!({
                "Node": crate::controller_round::CLUSTER_ARN,
                "Address": "10.0.3.7",
                "NodeMeta": {"synthetic-node": "true"},
                "Service": {"ID": format!("web-{id}"), "Service": "web", "Port": 9090,
                            "Meta": {"task-id": id, "source": "consul-ecs"}},
            });
            let r = http
                .put(&url)
                .header("X-Consul-Token", &token)
                .body(body.to_string())
                .send()
                .await
                .context("register a service")?;
            anyhow::ensure!(r.status().is_success(), "register: {}", r.status());
        }
        Ok(())
    })
}

/// Runs the benchmark.
pub fn run(ctx: &Context) -> Result<Section> {
    let world = ControllerWorld::start(METHODS)?;
    let grpc = ConsulGrpcServer::start(&world.consul, GrpcServerOptions::default())
        .context("the emulator's gRPC server")?;
    // One service per task with tokens: 4,950 running, 50 stale.
    let running = TOKENS / 2 - crate::controller_round::STALE_TASKS;
    register_services(&world, (0..running).chain(ControllerWorld::stale(0)))?;
    let http_port = world
        .consul
        .http_addr()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .parse::<u16>()
        .context("the emulator's HTTP port")?;
    let config = json!({
        "bootstrapDir": "/consul",
        "consulServers": {
            "hosts": "127.0.0.1",
            "http": {"https": false, "port": http_port},
            "grpc": {"tls": false, "port": grpc.addr().port()},
        },
        "controller": {"iamRolePath": "/consul-ecs/"},
    });
    let mut cmd = world.command(ctx);
    cmd.arg("controller")
        .env("CONSUL_ECS_CONFIG_JSON", config.to_string());
    let round = measure("controller", cmd, &world.consul, &world.ecs, || {
        world.seed_second_round_tokens(METHODS);
        register_services(&world, ControllerWorld::stale(1))
    })?;
    let deletes = round.consul_count(|r| r.method == "DELETE");
    let deregistrations = round.consul_count(|r| r.path == "/v1/catalog/deregister");
    let token_lists = round.consul_count(|r| r.path == "/v1/acl/tokens");
    let node_lists = round.consul_count(|r| r.path.starts_with("/v1/catalog/node-services/"));
    let rows = round.rows(
        format!(
            "{} running tasks, {} tokens, {} services, {} deleted, {} deregistered",
            round.field("running_tasks"),
            round.field("tokens"),
            round.field("services"),
            round.field("deleted"),
            round.field("deregistered")
        ),
        format!(
            "{token_lists} token list + {node_lists} node-services list + {deletes} token \
             deletions + {deregistrations} deregistrations"
        ),
    );
    Ok(Section {
        name: "controller".to_string(),
        method: format!(
            "One reconcile round of the v0.10 `consul-ecs controller` (fixed 10 s interval), \
             configured by `CONSUL_ECS_CONFIG_JSON` with the emulator's gRPC port (server \
             discovery and watch) and HTTP port, with {TASKS} running mesh tasks in ECS \
             (testkit's fake ECS endpoint, as for the acl-controller) and, in the Consul \
             emulator (ACLs on), {TOKENS} login tokens of `iam-ecs-service-token` (two per \
             task: mesh-init's and consul-dataplane's) and 5,000 services on the cluster's \
             node (one per task, `task-id` meta): 4,950 running tasks' and 50 stale tasks' \
             (100 tokens, 50 services). The first round removes those; then as many new \
             stale objects are seeded and the second round is measured, as the \
             acl-controller's is. Round summary: `{}`.",
            round.fields()
        ),
        rows,
        figures: vec![(Figure::ControllerPeakRss, round.hwm_kib as f64 / 1024.0)],
    })
}
