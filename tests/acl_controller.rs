//! `consul-ecs acl-controller` end to end: the built binary against moto's ECS (the
//! endpoint from `AWS_ENDPOINT_URL_ECS`, credentials of a role allowed only ListTasks and
//! DescribeTasks), the Consul emulator with ACLs, and the task metadata emulator. Consul
//! down at start, SIGTERM during start-up and while reconciling, flags, and no secret in
//! the output.

mod util;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::json;
use testkit::aws::{AwsWorld, TaskRole};
use testkit::consul::{ConsulEmulator, EmulatorOptions, SeededLogin};
use testkit::ecs_metadata::EcsMetadataEmulator;
use testkit::ecs_moto::{controller_env, MotoCluster, MotoEcs};
use util::background::Background;
use util::relay::Relay;

struct World {
    aws: AwsWorld,
    cluster: MotoCluster,
    role: TaskRole,
    consul: ConsulEmulator,
    metadata: EcsMetadataEmulator,
}

impl World {
    fn new() -> World {
        let aws = AwsWorld::start("web");
        let ecs = MotoEcs::new(&aws);
        ecs.keep_tasks_running();
        let cluster = ecs.create_cluster("prod");
        let role = ecs.controller_role("acl-controller");
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
        World {
            aws,
            cluster,
            role,
            consul,
            metadata,
        }
    }

    fn start(&self, extra: &[&str]) -> Background {
        self.start_with_ecs(extra, &self.aws.endpoint())
    }

    /// [`World::start`] with ECS (moto) reached at `ecs_endpoint`.
    fn start_with_ecs(&self, extra: &[&str], ecs_endpoint: &str) -> Background {
        let mut args = vec!["acl-controller", "-reconcile-interval", "300ms"];
        args.extend_from_slice(extra);
        let mut env: Vec<(String, String)> = controller_env(&self.role, ecs_endpoint);
        env.push(("CONSUL_HTTP_ADDR".into(), self.consul.http_addr()));
        env.push(("CONSUL_HTTP_TOKEN".into(), self.consul.management_token()));
        env.push(("ECS_CONTAINER_METADATA_URI_V4".into(), self.metadata.uri()));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Background::start(&args, &env, tempfile::tempdir().unwrap())
    }

    /// A stale login token: its task never ran in this cluster.
    fn stale_token(&self, task: &str) -> String {
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

    fn exists(&self, accessor: &str) -> bool {
        self.consul
            .tokens()
            .iter()
            .any(|t| t.accessor_id == accessor)
    }

    /// Fails when the output holds a secret: the management token or the AWS keys.
    fn assert_no_secrets(&self, bg: &Background) {
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

#[test]
fn consul_down_at_start_then_up_then_sigterm_exits_0() {
    let w = World::new();
    let stale = w.stale_token("0123456789abcdef0123456789abcdef");
    w.consul.go_down();
    let mut bg = w.start(&["-log-level", "DEBUG"]);
    // It keeps trying (and says why) instead of exiting.
    bg.wait_log("retrying");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        bg.child.try_wait().unwrap().is_none(),
        "exited while Consul was down\n{}",
        bg.report()
    );
    w.consul.come_back().unwrap();
    bg.wait_until("start-up", Duration::from_secs(30), |b| {
        b.read("stderr.log").contains("acl-controller started")
    });
    bg.wait_until(
        "the stale token's deletion",
        Duration::from_secs(15),
        |_| !w.exists(&stale),
    );
    // The deletion is seen before the round that made it reports; wait for the report.
    bg.wait_log("reconcile round done");
    let log = bg.read("stderr.log");
    assert!(
        log.contains("connection refused") || log.contains("Connection refused"),
        "{}",
        bg.report()
    );

    // Wall clock (a child process): generous, but well below a round or a start-up retry
    // waited out.
    let asked = Instant::now();
    bg.signal(Signal::SIGTERM);
    assert_eq!(bg.wait_exit(Duration::from_secs(5)), 0, "{}", bg.report());
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "{:?}",
        asked.elapsed()
    );
    bg.wait_log("SIGTERM received");
    w.assert_no_secrets(&bg);
    // The objects exist: start-up went through once Consul was back.
    assert!(w
        .consul
        .requests()
        .iter()
        .any(|r| r.method == "PUT" && r.path == "/v1/acl/auth-method" && r.status == 200));
    // ECS was reached at AWS_ENDPOINT_URL_ECS with the role's credentials.
    assert!(log.contains("reconcile round done"), "{}", bg.report());
}

#[test]
fn sigterm_during_start_up_exits_0() {
    let w = World::new();
    w.consul.go_down();
    let mut bg = w.start(&[]);
    bg.wait_log("retrying");
    bg.signal(Signal::SIGTERM);
    assert_eq!(bg.wait_exit(Duration::from_secs(5)), 0, "{}", bg.report());
    w.assert_no_secrets(&bg);
}

#[test]
fn sigint_while_reconciling_exits_0() {
    let w = World::new();
    // ECS through a relay that can hold a round's request in flight.
    let ecs = Relay::start(&w.aws.endpoint());
    let mut bg = w.start_with_ecs(
        &["-iam-role-path", "/", "-log-level", "DEBUG"],
        &ecs.http_addr(),
    );
    bg.wait_log("acl-controller started");
    bg.wait_log("reconcile round done");
    // Only rounds call ECS: a held ECS request is a round in flight.
    ecs.hold();
    bg.wait_until(
        "a round's ECS request held in flight",
        Duration::from_secs(10),
        |_| ecs.held_reads() > 0,
    );
    let rounds_done = |bg: &Background| {
        bg.read("stderr.log")
            .matches("reconcile round done")
            .count()
    };
    let done_before = rounds_done(&bg);
    bg.signal(Signal::SIGINT);
    assert_eq!(bg.wait_exit(Duration::from_secs(5)), 0, "{}", bg.report());
    bg.wait_log("SIGINT received");
    assert_eq!(
        rounds_done(&bg),
        done_before,
        "the round in flight was stopped, not finished\n{}",
        bg.report()
    );
    let method = w
        .consul
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/acl/token/00000000-0000-0000-0000-000000000002")
        .count();
    assert_eq!(
        method,
        2,
        "the anonymous token is read and updated once\n{}",
        bg.report()
    );
    w.assert_no_secrets(&bg);
}

#[test]
fn partition_without_partitions_enabled_is_a_usage_error() {
    let run = util::TestCommand::new(["acl-controller", "-partition", "ptn1"]).run();
    run.expect_code(1)
        .expect_stderr_contains("partition flag provided without partitions-enabled flag");
}

#[test]
fn go_style_flags_are_parsed() {
    // Every flag single-dash, the boolean one without a value: parsing gets as far as the
    // interval check.
    let run = util::TestCommand::new([
        "acl-controller",
        "-partitions-enabled",
        "-partition",
        "ptn1",
        "-iam-role-path=/teams/",
        "-reconcile-interval",
        "0s",
    ])
    .run();
    run.expect_code(1)
        .expect_stderr_contains("reconcile interval must be greater than zero");
}
