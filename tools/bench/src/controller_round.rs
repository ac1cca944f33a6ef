//! What the two controller benchmarks share: run the controller binary, let its first round
//! clean up, seed the second round's stale objects, and measure that second round — its
//! CPU, the peak RSS, and the calls ECS and Consul received — from outside the process.

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
use testkit::http_server::RecordedRequest;

use crate::health_sync::{error_lines, strip_ansi};
use crate::proc::{thread_cpu, vm_hwm_kib, Tracked};
use crate::report::{fmt_kib, Row};

/// The line a controller logs at the end of every round.
pub const ROUND_DONE: &str = "reconcile round done";
/// The cluster the controller serves (its synthetic node's name, for v0.10).
pub const CLUSTER_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/bench";
/// Running mesh tasks in ECS.
pub const TASKS: usize = 5_000;
/// Login tokens in Consul: two per task.
pub const TOKENS: usize = 10_000;
/// Tasks that never ran whose objects each round finds (two tokens each: 100 tokens).
pub const STALE_TASKS: usize = 50;

/// The ID of the `n`th task of the benchmark's cluster.
pub fn task_id(n: usize) -> String {
    format!("{n:032x}")
}

/// Two login tokens per task, one by each method in `methods`, with the cluster's meta.
fn logins(methods: [&str; 2], tasks: impl Iterator<Item = String>) -> Vec<SeededLogin> {
    tasks
        .flat_map(|id| {
            methods.map(|method| SeededLogin {
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

/// A cluster at scale: the Consul emulator with ACLs and the tokens of 4,950 running tasks
/// and of 50 stale ones (10,000 in all), testkit's fake ECS with 5,000 running mesh tasks,
/// and the controller's task metadata.
pub struct ControllerWorld {
    /// The Consul emulator.
    pub consul: ConsulEmulator,
    /// The fake ECS endpoint.
    pub ecs: FakeEcs,
    /// The controller task's metadata.
    pub metadata: EcsMetadataEmulator,
}

impl ControllerWorld {
    /// The world, with two tokens per task made by `methods`.
    pub fn start(methods: [&str; 2]) -> Result<ControllerWorld> {
        let consul = ConsulEmulator::start(EmulatorOptions {
            acls_enabled: true,
            ..EmulatorOptions::default()
        });
        let ecs = FakeEcs::start(CLUSTER_ARN);
        for n in 0..TASKS {
            ecs.add_running(&task_id(n), &[("consul.hashicorp.com/mesh", "true")]);
        }
        let running = TOKENS / 2 - STALE_TASKS;
        consul.seed_login_tokens(&logins(methods, (0..running).map(task_id)));
        consul.seed_login_tokens(&logins(methods, Self::stale(0).map(task_id)));
        let metadata = EcsMetadataEmulator::start(json!({
            "Cluster": CLUSTER_ARN,
            "TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/bench/ffffffffffffffffffffffffffffffff",
            "Family": "consul-ecs-controller",
            "Containers": [],
        }));
        Ok(ControllerWorld {
            consul,
            ecs,
            metadata,
        })
    }

    /// The task numbers of round `round`'s stale tasks (0: the first round's).
    pub fn stale(round: usize) -> std::ops::Range<usize> {
        TASKS + round * STALE_TASKS..TASKS + (round + 1) * STALE_TASKS
    }

    /// Seeds the tokens of the second round's stale tasks.
    pub fn seed_second_round_tokens(&self, methods: [&str; 2]) {
        self.consul
            .seed_login_tokens(&logins(methods, Self::stale(1).map(task_id)));
    }

    /// The binary with a clean environment: the task metadata, the management token, ECS
    /// at the fake (which checks that requests are signed, not the signature).
    pub fn command(&self, ctx: &crate::Context) -> Command {
        let mut cmd = Command::new(&ctx.binary);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("CONSUL_HTTP_TOKEN", self.consul.management_token())
            .env("ECS_CONTAINER_METADATA_URI_V4", self.metadata.uri())
            .env("AWS_ENDPOINT_URL_ECS", self.ecs.endpoint())
            .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "bench-secret")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        cmd
    }
}

/// The measured second round.
pub struct MeasuredRound {
    /// The second round's summary line.
    pub summary: String,
    /// What the Consul emulator received during the round.
    pub consul: Vec<RecordedRequest>,
    /// ListTasks, DescribeTasks and other ECS calls during the round.
    pub ecs: (u64, u64, u64),
    /// CPU of the process's threads over the round.
    pub cpu: Duration,
    /// Threads before and after the round.
    pub threads: (usize, usize),
    /// `VmHWM` after the round, KiB.
    pub hwm_kib: u64,
    /// How the process ended after SIGTERM.
    pub exit: String,
    /// ERROR lines it logged.
    pub errors: Vec<String>,
}

impl MeasuredRound {
    /// A `name=value` field of the round's summary, `?` when absent.
    pub fn field(&self, name: &str) -> String {
        self.summary
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .unwrap_or("?")
            .to_string()
    }

    /// The summary's fields, for the method paragraph.
    pub fn fields(&self) -> String {
        self.summary
            .split_once(ROUND_DONE)
            .map_or(String::new(), |(_, rest)| rest.trim().to_string())
    }

    /// Consul requests of the round with this method.
    pub fn consul_count(&self, pred: impl Fn(&RecordedRequest) -> bool) -> usize {
        self.consul.iter().filter(|r| pred(r)).count()
    }

    /// The rows both controllers report: wall time (with `tasks_note`), CPU, peak RSS, ECS
    /// calls, Consul calls (with `consul_note`), each goal beside its figure.
    pub fn rows(&self, tasks_note: String, consul_note: String) -> Vec<Row> {
        let (list, describe, other) = self.ecs;
        let (before, after) = self.threads;
        let failed = self.consul_count(|r| r.status >= 400);
        vec![
            Row::new(
                "wall time of the round",
                format!("{} ms", self.field("elapsed_ms")),
                format!("the controller's own measure; {tasks_note}"),
            ),
            Row::new(
                "controller CPU for the round (user+sys)",
                format!("{:.1} ms", self.cpu.as_secs_f64() * 1e3),
                format!(
                    "goal ≤ 200 ms; {after} thread(s){}",
                    if before == after {
                        String::new()
                    } else {
                        format!(" (was {before}: CPU of exited threads is missing)")
                    }
                ),
            ),
            Row::new(
                "peak RSS (VmHWM after the round)",
                fmt_kib(self.hwm_kib as f64),
                // Not wait4's ru_maxrss: Linux folds the forking harness's own resident
                // set (the emulator's objects) into it at exec.
                format!(
                    "goal ≤ 32 MiB; the peak of the whole life so far: start-up and both rounds; {}",
                    self.exit
                ),
            ),
            Row::new(
                "ECS calls in the round",
                format!("{}", list + describe + other),
                format!(
                    "{list} ListTasks + {describe} DescribeTasks (goal: 2 per 100 tasks = 100, \
                     plus one DescribeTasks per 100 candidate tasks); {other} others"
                ),
            ),
            Row::new(
                "Consul calls in the round",
                format!("{}", self.consul.len()),
                format!(
                    "{consul_note}; {failed} failed{}",
                    if self.errors.is_empty() {
                        String::new()
                    } else {
                        format!("; errors logged: {}", self.errors.join("; "))
                    }
                ),
            ),
        ]
    }
}

/// Runs `cmd` (the controller with its arguments and environment), waits for its first
/// round, calls `seed` (the second round's stale objects), measures the second round, then
/// stops it with SIGTERM. `name` names its log.
pub fn measure(
    name: &str,
    mut cmd: Command,
    consul: &ConsulEmulator,
    ecs: &FakeEcs,
    seed: impl FnOnce() -> Result<()>,
) -> Result<MeasuredRound> {
    let dir = tempfile::tempdir().context("temp dir")?;
    let log = dir.path().join(format!("{name}.stderr.log"));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).context("create the log")?);
    let controller = Tracked::spawn(&mut cmd)?;
    let pid = controller.pid();
    let wait_rounds = |n: usize| -> Result<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = strip_ansi(&fs::read_to_string(&log).unwrap_or_default());
            if text.matches(ROUND_DONE).count() >= n {
                return Ok(text);
            }
            if controller.exited() || Instant::now() > deadline {
                bail!("round {n} did not complete:\n{text}");
            }
            sleep(Duration::from_millis(5));
        }
    };
    wait_rounds(1)?;
    // The second round starts one interval after the first: seed its stale objects now.
    seed()?;
    let (_, seen) = consul.requests_after(u64::MAX);
    let (list_before, describe_before, other_before) = ecs.calls();
    let (cpu_before, threads_before) = thread_cpu(pid)?;
    let text = wait_rounds(2)?;
    let (cpu_after, threads_after) = thread_cpu(pid)?;
    let hwm_kib = vm_hwm_kib(pid).with_context(|| format!("VmHWM of the {name}"))?;
    let (round, _) = consul.requests_after(seen);
    let (list, describe, other) = ecs.calls();
    controller.signal(Signal::SIGTERM)?;
    let usage = controller.wait(Duration::from_secs(10))?;
    Ok(MeasuredRound {
        summary: text
            .lines()
            .filter(|l| l.contains(ROUND_DONE))
            .nth(1)
            .unwrap_or_default()
            .to_string(),
        consul: round,
        ecs: (
            list - list_before,
            describe - describe_before,
            other - other_before,
        ),
        cpu: cpu_after.saturating_sub(cpu_before),
        threads: (threads_before, threads_after),
        hwm_kib,
        exit: usage.exit.to_string(),
        errors: error_lines(&text),
    })
}
