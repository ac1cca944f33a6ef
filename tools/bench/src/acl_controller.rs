//! Benchmark 4: one `acl-controller` reconcile round at scale — 5,000 running mesh tasks in
//! ECS and 10,000 login tokens in Consul, 100 of them stale — measured on the real binary.
//!
//! ECS is testkit's fake endpoint (moto is too slow for 5,000 tasks); Consul is the
//! emulator with ACLs. The controller runs with a 3 s interval: its first round (right
//! after start-up) deletes the first 100 stale tokens, then 100 more are seeded and the
//! second round — a steady-state round with 100 stale tokens — is what the rows measure.

use anyhow::Result;

use crate::controller_round::{measure, ControllerWorld, TASKS, TOKENS};
use crate::report::Section;
use crate::Context;

const INTERVAL: &str = "3s";
/// The v0.6.2 controller's two auth methods: each task has a token of each.
const METHODS: [&str; 2] = ["iam-ecs-client-token", "iam-ecs-service-token"];

/// Runs the benchmark.
pub fn run(ctx: &Context) -> Result<Section> {
    let world = ControllerWorld::start(METHODS)?;
    let mut cmd = world.command(ctx);
    cmd.args(["acl-controller", "-reconcile-interval", INTERVAL])
        .env("CONSUL_HTTP_ADDR", world.consul.http_addr());
    let round = measure("acl-controller", cmd, &world.consul, &world.ecs, || {
        world.seed_second_round_tokens(METHODS);
        Ok(())
    })?;
    let deletes = round.consul_count(|r| r.method == "DELETE");
    let token_lists = round.consul_count(|r| r.path == "/v1/acl/tokens");
    let token_reads =
        round.consul_count(|r| r.path.starts_with("/v1/acl/token/") && r.method == "GET");
    let rows = round.rows(
        format!(
            "{} running tasks, {} tokens, {} deleted",
            round.field("running_tasks"),
            round.field("tokens"),
            round.field("deleted")
        ),
        format!("{token_lists} token lists + {deletes} deletions; {token_reads} per-token reads"),
    );
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
            round.fields()
        ),
        rows,
        figures: Vec::new(),
    })
}
