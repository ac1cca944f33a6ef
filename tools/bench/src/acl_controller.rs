//! Benchmark 4: one `acl-controller` reconcile round at scale — 5,000 running mesh tasks in
//! ECS and 10,000 login tokens in Consul, 100 of them stale — measured on the real binary.
//!
//! ECS is testkit's fake endpoint (moto is too slow for 5,000 tasks); Consul is the
//! emulator with ACLs. The controller runs with a 3 s interval: its first round (right
//! after start-up) deletes the first 100 stale tokens, then 100 more are seeded and the
//! second round — a steady-state round with 100 stale tokens — is what the rows measure.

use std::collections::BTreeMap;
use std::fs;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use nix::sys::signal::Signal;
use serde_json::json;
use testkit::consul::{ConsulEmulator, EmulatorOptions, SeededLogin};
use testkit::ecs_api::FakeEcs;
use testkit::ecs_metadata::EcsMetadataEmulator;

use crate::health_sync::{error_lines, strip_ansi};
use crate::proc::{thread_cpu, vm_hwm_kib, Tracked};
use crate::report::{fmt_kib, Row, Section};
use crate::Context;

const CLUSTER_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/bench";
const TASKS: usize = 5_000;
const TOKENS: usize = 10_000;
const STALE_TASKS: usize = 50; // two tokens each: 100 stale tokens
const INTERVAL: &str = "3s";
const ROUND_DONE: &str = "reconcile round done";

fn task_id(n: usize) -> String {
    format!("{n:032x}")
}

fn logins(tasks: impl Iterator<Item = String>) -> Vec<SeededLogin> {
    tasks
        .flat_map(|id| {
            ["iam-ecs-client-token", "iam-ecs-service-token"].map(|method| SeededLogin {
                method: method.to_string(),
                meta: BTreeMap::from([
                    ("consul.hashicorp.com/task-id".to_string(), id.clone()),
                    (
                        "consul.hashicorp.com/cluster".to_string(),
                        CLUSTER_ARN.to_string(),
                    ),
                ]),
                scope: None,
                method_namespace: None,
            })
        })
        .collect()
}

/// Runs the benchmark.
pub fn run(ctx: &Context) -> Result<Section> {
    let consul = ConsulEmulator::start(EmulatorOptions {
        acls_enabled: true,
        ..EmulatorOptions::default()
    });
    let ecs = FakeEcs::start(CLUSTER_ARN);
    for n in 0..TASKS {
        ecs.add_running(&task_id(n), &[("consul.hashicorp.com/mesh", "true")]);
    }
    // Tokens of 4,950 running tasks and of 50 tasks that never ran (stale).
    let running = TOKENS / 2 - STALE_TASKS;
    consul.seed_login_tokens(&logins((0..running).map(task_id)));
    consul.seed_login_tokens(&logins((TASKS..TASKS + STALE_TASKS).map(task_id)));
    let metadata = EcsMetadataEmulator::start(json!({
        "Cluster": CLUSTER_ARN,
        "TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/bench/ffffffffffffffffffffffffffffffff",
        "Family": "consul-ecs-controller",
        "Containers": [],
    }));

    let dir = tempfile::tempdir().context("temp dir")?;
    let log = dir.path().join("acl-controller.stderr.log");
    let mut cmd = Command::new(&ctx.binary);
    cmd.args(["acl-controller", "-reconcile-interval", INTERVAL])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CONSUL_HTTP_ADDR", consul.http_addr())
        .env("CONSUL_HTTP_TOKEN", consul.management_token())
        .env("ECS_CONTAINER_METADATA_URI_V4", metadata.uri())
        .env("AWS_ENDPOINT_URL_ECS", ecs.endpoint())
        // The fake checks that requests are signed, not the signature.
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "bench-secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).context("create the log")?);
    let controller = Tracked::spawn(&mut cmd)?;
    let pid = controller.pid();
    let rounds = |text: &str| text.matches(ROUND_DONE).count();
    let wait_rounds = |n: usize| -> Result<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = strip_ansi(&fs::read_to_string(&log).unwrap_or_default());
            if rounds(&text) >= n {
                return Ok(text);
            }
            if controller.exited() || Instant::now() > deadline {
                bail!("round {n} did not complete:\n{text}");
            }
            sleep(Duration::from_millis(5));
        }
    };
    wait_rounds(1)?;
    // The second round starts one interval after the first: seed its stale tokens now.
    consul.seed_login_tokens(&logins(
        (TASKS + STALE_TASKS..TASKS + 2 * STALE_TASKS).map(task_id),
    ));
    let consul_before = consul.requests().len();
    let (list_before, describe_before, other_before) = ecs.calls();
    let (cpu_before, threads_before) = thread_cpu(pid)?;
    let text = wait_rounds(2)?;
    let (cpu_after, threads_after) = thread_cpu(pid)?;
    let hwm = vm_hwm_kib(pid).context("VmHWM of the acl-controller")?;
    let requests = consul.requests();
    let round = &requests[consul_before.min(requests.len())..];
    let (list, describe, other) = ecs.calls();
    let (list, describe, other) = (
        list - list_before,
        describe - describe_before,
        other - other_before,
    );
    controller.signal(Signal::SIGTERM)?;
    let usage = controller.wait(Duration::from_secs(10))?;

    let summary = text
        .lines()
        .filter(|l| l.contains(ROUND_DONE))
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let field = |name: &str| -> String {
        summary
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .unwrap_or("?")
            .to_string()
    };
    let deletes = round.iter().filter(|r| r.method == "DELETE").count();
    let token_lists = round.iter().filter(|r| r.path == "/v1/acl/tokens").count();
    let token_reads = round
        .iter()
        .filter(|r| r.path.starts_with("/v1/acl/token/"))
        .filter(|r| r.method == "GET")
        .count();
    let failed = round.iter().filter(|r| r.status >= 400).count();
    let cpu = cpu_after.saturating_sub(cpu_before);
    let errors = error_lines(&text);
    let rows = vec![
        Row::new(
            "wall time of the round",
            format!("{} ms", field("elapsed_ms")),
            format!(
                "the controller's own measure; {} running tasks, {} tokens, {} deleted",
                field("running_tasks"),
                field("tokens"),
                field("deleted")
            ),
        ),
        Row::new(
            "controller CPU for the round (user+sys)",
            format!("{:.1} ms", cpu.as_secs_f64() * 1e3),
            format!(
                "goal ≤ 200 ms; {threads_after} thread(s){}",
                if threads_before == threads_after {
                    String::new()
                } else {
                    format!(" (was {threads_before}: CPU of exited threads is missing)")
                }
            ),
        ),
        Row::new(
            "peak RSS (VmHWM after the round)",
            fmt_kib(hwm as f64),
            // Not wait4's ru_maxrss: Linux folds the forking harness's own resident set
            // (10,000 tokens in the emulator) into it at exec.
            format!(
                "goal ≤ 32 MiB; the peak of the whole life so far: start-up and both rounds; {}",
                usage.exit
            ),
        ),
        Row::new(
            "ECS calls in the round",
            format!("{}", list + describe + other),
            format!(
                "{list} ListTasks + {describe} DescribeTasks (goal: 2 per 100 tasks = 100, plus \
                 one DescribeTasks per 100 candidate tasks); {other} others"
            ),
        ),
        Row::new(
            "Consul calls in the round",
            format!("{}", round.len()),
            format!(
                "{token_lists} token lists + {deletes} deletions; {token_reads} per-token reads; \
                 {failed} failed{}",
                if errors.is_empty() {
                    String::new()
                } else {
                    format!("; errors logged: {}", errors.join("; "))
                }
            ),
        ),
    ];
    Ok(Section {
        name: "acl-controller".to_string(),
        method: format!(
            "One reconcile round of `consul-ecs acl-controller -reconcile-interval {INTERVAL}` \
             with {TASKS} running mesh tasks in ECS (testkit's fake ECS endpoint through \
             `AWS_ENDPOINT_URL_ECS`: pages of 100, tags, `MISSING` failures) and {TOKENS} login \
             tokens of the two auth methods in the Consul emulator (ACLs on), two per task: \
             4,950 running tasks' and 50 stale tasks' (100 tokens). The first round, right \
             after start-up, deletes those 100; then 100 new stale tokens are seeded and the \
             second round is measured. CPU is the sum of `se.sum_exec_runtime` over the \
             process's threads (`/proc/<pid>/task/*/sched`) from the end of the first round to \
             the end of the second (the controller is idle in between); calls are what the \
             fake ECS and the Consul emulator received in that window; peak RSS is `VmHWM` \
             after the round. Round summary: `{}`.",
            summary
                .split_once(ROUND_DONE)
                .map_or(String::new(), |(_, rest)| rest.trim().to_string())
        ),
        rows,
        figures: Vec::new(),
    })
}
