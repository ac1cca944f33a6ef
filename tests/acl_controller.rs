//! `consul-ecs acl-controller` end to end: the built binary against moto's ECS (the
//! endpoint from `AWS_ENDPOINT_URL_ECS`, credentials of a role allowed only ListTasks and
//! DescribeTasks), the Consul emulator with ACLs, and the task metadata emulator. Consul
//! down at start, SIGTERM during start-up and while reconciling, flags, and no secret in
//! the output.

mod util;

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use util::background::Background;
use util::controller_world::ControllerWorld;
use util::relay::Relay;

/// The shared controller world, with the acl-controller's ways of starting.
type World = ControllerWorld;

trait AclController {
    fn start(&self, extra: &[&str]) -> Background;
    fn start_with_ecs(&self, extra: &[&str], ecs_endpoint: &str) -> Background;
    fn stale_token(&self, task: &str) -> String;
}

impl AclController for World {
    fn start(&self, extra: &[&str]) -> Background {
        self.start_with_ecs(extra, &self.aws.endpoint())
    }

    /// [`AclController::start`] with ECS (moto) reached at `ecs_endpoint`.
    fn start_with_ecs(&self, extra: &[&str], ecs_endpoint: &str) -> Background {
        let mut args = vec!["acl-controller", "-reconcile-interval", "300ms"];
        args.extend_from_slice(extra);
        let mut env = self.env(ecs_endpoint);
        env.push(("CONSUL_HTTP_ADDR".into(), self.consul.http_addr()));
        self.spawn(&args, &env)
    }

    /// A stale login token: its task never ran in this cluster.
    fn stale_token(&self, task: &str) -> String {
        self.seed_token(task)
    }
}

#[test]
fn consul_down_at_start_then_up_then_sigterm_exits_0() {
    let w = World::new("acl-controller");
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
    let w = World::new("acl-controller");
    w.consul.go_down();
    let mut bg = w.start(&[]);
    bg.wait_log("retrying");
    bg.signal(Signal::SIGTERM);
    assert_eq!(bg.wait_exit(Duration::from_secs(5)), 0, "{}", bg.report());
    w.assert_no_secrets(&bg);
}

#[test]
fn sigint_while_reconciling_exits_0() {
    let w = World::new("acl-controller");
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
