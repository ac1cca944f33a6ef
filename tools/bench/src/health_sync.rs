//! Benchmark 2: `health-sync` idling — nothing changes in ECS, so after its first sync it
//! should only read the task metadata once a second and write nothing to Consul.

use std::fs;
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;

use anyhow::{anyhow, bail, Context as _, Result};
use nix::sys::signal::Signal;
use testkit::aws::AwsWorld;

use crate::goals::Figure;
use crate::proc::{evict_from_page_cache, thread_cpu, vm_hwm_kib, vm_rss_kib, Tracked};
use crate::report::{fmt_kib, Row, Section};
use crate::world::World;
use crate::Context;

/// How long health-sync runs before the window opens: start-up, the first sync (which
/// writes every check once) and a margin.
const SETTLE: Duration = Duration::from_secs(3);

/// Runs the benchmark.
pub fn run(ctx: &Context, aws: Arc<AwsWorld>) -> Result<Section> {
    let world = World::start(aws);
    let dir = tempfile::tempdir().context("temp dir")?;
    let bootstrap = dir.path().join("bootstrap");
    fs::create_dir(&bootstrap)?;
    // mesh-init registers the service and writes the service token health-sync uses.
    world.mesh_init(&ctx.binary, &bootstrap)?;
    // The consul-client container's token, which health-sync logs out on SIGTERM too.
    world.consul.configure_client_auth(&world.aws);
    let task: ecs::TaskMetadata =
        serde_json::from_value(world.task.clone()).context("decode the emulated task")?;
    let task_id = task.task_id().map_err(|e| anyhow!("{e}"))?;
    let client =
        world
            .consul
            .login_client_token(&world.aws, world.aws.task_role(), task_id, task.cluster());
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(bootstrap.join("client-token"))
        .and_then(|mut f| f.write_all(client.secret_id.as_bytes()))
        .context("write client-token")?;
    world.ecs.set_container_health("app", "HEALTHY");

    let log = dir.path().join("health-sync.stderr.log");
    let config = world.config(&bootstrap);
    let mut cmd = world.command(&ctx.binary, &["health-sync"], &config, &log)?;
    let Idle {
        rows,
        hwm_kib,
        cpu_per_poll_ms,
        idle_s,
        threads_note,
    } = measure_idle(ctx, &mut cmd, &log, &world.consul, &world.ecs)?;
    let mut figures = vec![(Figure::HealthSyncIdleRss, hwm_kib as f64 / 1024.0)];
    figures.extend(cpu_per_poll_ms.map(|ms| (Figure::HealthSyncCpuPerPoll, ms)));
    Ok(Section {
        name: "health-sync".to_string(),
        method: format!(
            "The mesh-init world (ACLs and login on; a separate Consul and ECS metadata \
             emulator, same moto). mesh-init runs once to register `web` and write the \
             service token, a client token is logged in as the consul-client container \
             would and written to `client-token`, the `app` container is set HEALTHY, the binary's pages are dropped from the page \
             cache (a defined start state), then `consul-ecs \
             health-sync` starts with its default 1 s poll interval. After it logs \
             `health-sync started` and {SETTLE:?} more (its first sync writes each check \
             once), the idle window opens for {idle_s:.1} s with nothing changing. CPU in \
             the window is the sum of `se.sum_exec_runtime` over the process's threads \
             from `/proc/<pid>/task/*/sched` (ns resolution; {threads_note}); polls are \
             the task-metadata requests the ECS emulator saw; Consul writes are the \
             non-GET requests the Consul emulator saw. Peak RSS is `VmHWM` of \
             `/proc/<pid>/status` at the end of the window; the process is then sent \
             SIGTERM and reaped with `wait4`."
        ),
        rows,
        figures,
    })
}

/// What [`measure_idle`] found.
pub struct Idle {
    /// The section's rows: peak RSS, CPU per poll, Consul writes, whole-life CPU.
    pub rows: Vec<Row>,
    /// `VmHWM` at the end of the idle window.
    pub hwm_kib: u64,
    /// CPU per metadata poll in the window (`None`: no polls).
    pub cpu_per_poll_ms: Option<f64>,
    /// The idle window's length.
    pub idle_s: f64,
    /// Whether the thread count stayed the same (the CPU sum misses exited threads).
    pub threads_note: String,
}

/// Starts health-sync (`cmd`, its stderr in `log`), waits until it logs that it started and
/// [`SETTLE`] more, measures the idle window, then stops it with SIGTERM and reaps it. Used
/// by both layouts' rows (the v0.6.2 agent layout here, the v0.10 one in
/// `dataplane_rows.rs`).
pub fn measure_idle(
    ctx: &Context,
    cmd: &mut std::process::Command,
    log: &std::path::Path,
    consul: &testkit::consul::ConsulEmulator,
    ecs: &testkit::ecs_metadata::EcsMetadataEmulator,
) -> Result<Idle> {
    evict_from_page_cache(&ctx.binary)?;
    let hs = Tracked::spawn(cmd)?;
    let pid = hs.pid();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !fs::read_to_string(log)
        .unwrap_or_default()
        .contains("health-sync started")
    {
        if hs.exited() || Instant::now() > deadline {
            bail!(
                "health-sync did not start:\n{}",
                fs::read_to_string(log).unwrap_or_default()
            );
        }
        sleep(Duration::from_millis(20));
    }
    sleep(SETTLE);

    let consul_before = consul.requests().len();
    let ecs_before = ecs.request_count();
    let (cpu_before, threads_before) = thread_cpu(pid)?;
    let opened = Instant::now();
    sleep(ctx.idle);
    let (cpu_after, threads_after) = thread_cpu(pid)?;
    let window = opened.elapsed();
    let hwm = vm_hwm_kib(pid).context("VmHWM of health-sync")?;
    let rss = vm_rss_kib(pid).context("VmRSS of health-sync")?;
    let consul = consul.requests();
    let polls = ecs.request_count().saturating_sub(ecs_before);
    let in_window = &consul[consul_before.min(consul.len())..];
    let writes = in_window.iter().filter(|r| r.method != "GET").count();

    hs.signal(Signal::SIGTERM)?;
    let usage = hs.wait(Duration::from_secs(30))?;
    let shutdown_errors = error_lines(&fs::read_to_string(log).unwrap_or_default());

    let cpu = cpu_after.saturating_sub(cpu_before);
    let cpu_per_poll_ms = (polls > 0).then(|| cpu.as_secs_f64() * 1e3 / polls as f64);
    let per_poll = cpu_per_poll_ms.map_or("no polls".to_string(), |ms| format!("{ms:.3} ms"));
    let idle_s = window.as_secs_f64();
    let rows = vec![
        Row::new(
            "peak RSS (VmHWM at the end of the idle window)",
            fmt_kib(hwm as f64),
            format!(
                "current RSS {}; whole life incl. shutdown (wait4 ru_maxrss, which starts at the harness's own peak) {}",
                fmt_kib(rss as f64),
                fmt_kib(usage.max_rss_kib as f64)
            ),
        ),
        Row::new(
            "CPU time per poll",
            per_poll,
            format!(
                "{:.1} ms CPU over {idle_s:.1} s idle, {polls} polls (task metadata GETs); \
                 {:.4} % of one core",
                cpu.as_secs_f64() * 1e3,
                100.0 * cpu.as_secs_f64() / idle_s
            ),
        ),
        Row::new(
            "Consul writes while idle",
            writes.to_string(),
            format!(
                "{} Consul requests in all in the window; expected 0 writes",
                in_window.len()
            ),
        ),
        Row::new(
            "whole life CPU, user+sys (wait4)",
            format!("{:.1} ms", usage.cpu().as_secs_f64() * 1e3),
            format!(
                "start-up, first sync, {idle_s:.0} s idle and the SIGTERM shutdown \
                 (checks critical, logout); {}{}",
                usage.exit,
                if shutdown_errors.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", shutdown_errors.join("; "))
                }
            ),
        ),
    ];
    let threads_note = if threads_before == threads_after {
        format!("{threads_after} thread(s) throughout")
    } else {
        format!(
            "thread count changed {threads_before} → {threads_after}: the CPU of threads \
             that exited in the window is missing"
        )
    };
    Ok(Idle {
        rows,
        hwm_kib: hwm,
        cpu_per_poll_ms,
        idle_s,
        threads_note,
    })
}

/// The messages of health-sync's `ERROR` log lines (text format, colours or not), to
/// explain a non-zero exit in the report.
pub fn error_lines(log: &str) -> Vec<String> {
    strip_ansi(log)
        .lines()
        .filter_map(|line| {
            let (_, message) = line.split_once(" ERROR ")?;
            Some(message.trim().to_string())
        })
        .collect()
}

/// `text` without ANSI escape sequences (`ESC [ … final-byte`): the binary's log colours
/// its levels even when stderr is a file.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates, up to the final byte in '@'..='~'.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_keep_only_error_messages() {
        let log = "2026-11-23T09:00:00Z \u{1b}[32m INFO\u{1b}[0m health-sync started\n\
                   2026-11-23T09:01:00Z \u{1b}[31mERROR\u{1b}[0m log out the client token (/b/client-token): read the token file\n\
                   2026-11-23T09:01:00Z ERROR plain: too\n";
        assert_eq!(
            error_lines(log),
            [
                "log out the client token (/b/client-token): read the token file",
                "plain: too"
            ]
        );
        assert!(error_lines("no errors here\n").is_empty());
    }
}
