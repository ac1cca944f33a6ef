//! Benchmark 3: `envoy-entrypoint` supervising the real Envoy — our own process's memory
//! while idle, and how long after the last application container stops Envoy gets its
//! SIGTERM.
//!
//! Envoy logs `caught ENVOY_SIGTERM` when its main dispatcher handles the signal; with
//! `--log-format '%E.%F %v'` each line starts with the Unix time in seconds and a
//! microsecond fraction, so the latency is that timestamp minus the wall clock read just
//! before the emulator flips the container to STOPPED. Both are `CLOCK_REALTIME` of the
//! same machine.

use std::fs;
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context as _, Result};
use nix::sys::signal::Signal;
use testkit::ecs_metadata::{fargate_task, EcsMetadataEmulator};

use crate::goals::Figure;
use crate::proc::{evict_from_page_cache, thread_cpu, vm_hwm_kib, vm_rss_kib, Tracked};
use crate::report::{fmt_kib, fmt_ms, Row, Section};
use crate::stats::Summary;
use crate::Context;

/// Idle time with Envoy up before each trial's SIGTERM.
const IDLE: Duration = Duration::from_secs(1);
/// Minimum time between the SIGTERM to the entrypoint and the app stopping: the
/// entrypoint is already polling the task metadata by then, as in ECS (the app takes a
/// while to exit).
const HOLD: Duration = Duration::from_millis(300);
/// envoy-entrypoint's default metadata poll interval. Its ticker starts at the SIGTERM, so
/// a fixed hold would always stop the app at the same phase of the poll (right before a
/// poll when the hold is a multiple of it: a flattering few ms). Trial `i` of `n` adds
/// `i/n` of an interval to the hold, spreading the stop evenly over the poll's phases, as
/// a real app's exit is.
const POLL: Duration = Duration::from_millis(100);
/// Envoy's log line for a handled SIGTERM.
const SIGTERM_LINE: &str = "caught ENVOY_SIGTERM";

/// What one trial measured.
struct Trial {
    /// App STOPPED → Envoy handled SIGTERM.
    latency: Duration,
    /// The part of `latency` after the metadata poll that saw the app STOPPED arrived:
    /// the entrypoint's own reaction (decode, decide, signal), without the poll wait.
    reaction: Duration,
    /// The entrypoint's VmHWM just before its SIGTERM (idle, Envoy up).
    idle_hwm_kib: u64,
    /// The entrypoint's VmRSS at the same moment.
    idle_rss_kib: u64,
    /// The entrypoint's VmHWM at the last sample before it exited (includes the
    /// metadata polling after SIGTERM).
    life_hwm_kib: u64,
    /// The entrypoint's CPU during the idle second.
    idle_cpu: Duration,
    /// Max RSS of the entrypoint *or Envoy* (wait4 folds reaped children in).
    tree_max_rss_kib: u64,
}

/// Runs the benchmark.
pub fn run(ctx: &Context) -> Result<Section> {
    let envoy = testkit::envoy::envoy_binary();
    let task = fargate_task(
        "web",
        &[
            "app",
            "sidecar-proxy",
            "consul-client",
            "consul-ecs-mesh-init",
            "consul-ecs-health-sync",
        ],
    );
    let ecs = EcsMetadataEmulator::start(task.clone());
    let dir = tempfile::tempdir().context("temp dir")?;
    let n = ctx.stop_trials;
    let mut trials = Vec::new();
    for i in 0..n {
        ecs.set_task(task.clone());
        let d = dir.path().join(format!("trial-{i}"));
        fs::create_dir(&d)?;
        let hold = HOLD + POLL * u32::try_from(i).unwrap_or(0) / u32::try_from(n).unwrap_or(1);
        trials.push(trial(ctx, &ecs, &envoy, &d, hold).with_context(|| format!("trial {i}"))?);
    }

    let latency = Summary::of_millis(&trials.iter().map(|t| t.latency).collect::<Vec<_>>())
        .ok_or_else(|| anyhow!("no trials"))?;
    let reaction = Summary::of_millis(&trials.iter().map(|t| t.reaction).collect::<Vec<_>>())
        .ok_or_else(|| anyhow!("no trials"))?;
    let kib = |f: fn(&Trial) -> u64| {
        Summary::of(&trials.iter().map(|t| f(t) as f64).collect::<Vec<_>>())
            .ok_or_else(|| anyhow!("no trials"))
    };
    let idle_hwm = kib(|t| t.idle_hwm_kib)?;
    let idle_rss = kib(|t| t.idle_rss_kib)?;
    let life_hwm = kib(|t| t.life_hwm_kib)?;
    let tree = kib(|t| t.tree_max_rss_kib)?;
    let idle_cpu = Summary::of_millis(&trials.iter().map(|t| t.idle_cpu).collect::<Vec<_>>())
        .ok_or_else(|| anyhow!("no trials"))?;
    let rows = vec![
        Row::new(
            format!("own peak RSS, idle with Envoy up (median of {n})"),
            fmt_kib(idle_hwm.median),
            format!(
                "VmHWM; max {}; current RSS median {}",
                fmt_kib(idle_hwm.max),
                fmt_kib(idle_rss.median)
            ),
        ),
        Row::new(
            "own peak RSS, whole life incl. shutdown polling (median)",
            fmt_kib(life_hwm.median),
            format!(
                "max {}; for scale, Envoy's peak RSS (wait4 of the tree) median {}",
                fmt_kib(life_hwm.max),
                fmt_kib(tree.median)
            ),
        ),
        Row::new(
            format!("own CPU while idle ({IDLE:?} per trial, median)"),
            fmt_ms(idle_cpu.median),
            format!("max {}", fmt_ms(idle_cpu.max)),
        ),
        Row::new(
            format!("stop latency: app STOPPED → Envoy SIGTERM (median of {n})"),
            fmt_ms(latency.median),
            format!(
                "min {} / max {}; metadata poll interval {POLL:?} (default)",
                fmt_ms(latency.min),
                fmt_ms(latency.max)
            ),
        ),
        Row::new(
            "stop latency, max",
            fmt_ms(latency.max),
            format!("over {n} trials"),
        ),
        Row::new(
            "of which after the poll that saw STOPPED (median)",
            fmt_ms(reaction.median),
            format!(
                "max {}; the rest is waiting for the next poll",
                fmt_ms(reaction.max)
            ),
        ),
    ];
    Ok(Section {
        name: "envoy-entrypoint".to_string(),
        method: format!(
            "Each of {n} trials drops the binary's pages from the page cache (the same start \
             state for every trial) and starts `consul-ecs envoy-entrypoint <envoy> -c envoy.yaml \
             --disable-hot-restart --log-format '%E.%F %v'` (the real Envoy 1.40.0, admin \
             only) against the ECS metadata emulator serving a Fargate task with an `app` \
             container and the mesh sidecars, and waits for Envoy's `starting main dispatch \
             loop`. After {IDLE:?} idle the entrypoint's own `VmHWM`/`VmRSS` are read from \
             `/proc/<pid>/status` (Envoy is a separate process, so its memory is not in \
             these) and its CPU over that second from `/proc/<pid>/task/*/sched`. Then the \
             entrypoint gets SIGTERM, and {HOLD:?} plus i/{n} of the {POLL:?} poll interval \
             later (trial i: the entrypoint's poll ticker starts at the SIGTERM, so a fixed \
             delay would always hit the same phase of the poll; this spreads the stops \
             evenly over it, as real app exits are) the harness reads the wall clock \
             and marks `app` STOPPED in the emulator. The latency is from that reading to \
             the timestamp of Envoy's `{SIGTERM_LINE}` log line (Envoy prints it when its \
             main dispatcher handles the signal, microsecond timestamps via `%E.%F`; both \
             clocks are this machine's `CLOCK_REALTIME`). It includes the entrypoint's \
             metadata poll interval (so up to one interval of waiting; about half on average), the HTTP \
             poll itself and the signal delivery to Envoy's process group. The \
             \"after the poll\" row subtracts the arrival time of the first metadata \
             request after the stop, as the emulator recorded it (monotonic clock, mapped \
             onto the wall clock at the stop), leaving the entrypoint's own reaction."
        ),
        rows,
        figures: vec![(Figure::EnvoyEntrypointIdleRss, idle_hwm.median / 1024.0)],
    })
}

fn trial(
    ctx: &Context,
    ecs: &EcsMetadataEmulator,
    envoy: &std::path::Path,
    dir: &std::path::Path,
    hold: Duration,
) -> Result<Trial> {
    fs::write(
        dir.join("envoy.yaml"),
        "admin:\n  address:\n    socket_address: { address: 127.0.0.1, port_value: 0 }\n",
    )?;
    let log = dir.join("stderr.log");
    let mut cmd = std::process::Command::new(&ctx.binary);
    cmd.arg("envoy-entrypoint")
        .arg(envoy)
        .args([
            "-c",
            "envoy.yaml",
            "--disable-hot-restart",
            "--log-level",
            "info",
            "--log-format",
            "%E.%F %v",
        ])
        .current_dir(dir)
        .env_clear()
        .env("ECS_CONTAINER_METADATA_URI_V4", ecs.uri())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(fs::File::create(&log)?);
    evict_from_page_cache(&ctx.binary)?;
    let entry = Tracked::spawn(&mut cmd)?;
    let pid = entry.pid();
    let read_log = || fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(30);
    // Envoy installs its signal handlers just before this line; a SIGTERM before it would
    // kill Envoy outright.
    while !read_log().contains("starting main dispatch loop") {
        if entry.exited() || Instant::now() > deadline {
            bail!("Envoy did not start:\n{}", read_log());
        }
        sleep(Duration::from_millis(10));
    }
    let (cpu0, _) = thread_cpu(pid)?;
    sleep(IDLE);
    let (cpu1, _) = thread_cpu(pid)?;
    let idle_hwm_kib = vm_hwm_kib(pid).context("VmHWM of the entrypoint")?;
    let idle_rss_kib = vm_rss_kib(pid).context("VmRSS of the entrypoint")?;

    entry.signal(Signal::SIGTERM)?;
    sleep(hold);
    if read_log().contains(SIGTERM_LINE) {
        bail!("Envoy got SIGTERM before the app stopped:\n{}", read_log());
    }
    let stopped_instant = Instant::now();
    let stopped_at = SystemTime::now();
    ecs.stop_container("app");

    let mut life_hwm_kib = idle_hwm_kib;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !entry.exited() {
        if let Some(h) = vm_hwm_kib(pid) {
            life_hwm_kib = life_hwm_kib.max(h);
        }
        if Instant::now() > deadline {
            bail!("envoy-entrypoint did not exit:\n{}", read_log());
        }
        sleep(Duration::from_millis(5));
    }
    let usage = entry.wait(Duration::from_secs(1))?;
    let text = read_log();
    let signalled = sigterm_time(&text)
        .ok_or_else(|| anyhow!("no timestamped `{SIGTERM_LINE}` in Envoy's log:\n{text}"))?;
    let latency = signalled
        .duration_since(stopped_at)
        .map_err(|_| anyhow!("Envoy's SIGTERM is logged before the app stopped:\n{text}"))?;
    let seen = ecs
        .requests()
        .iter()
        .map(|r| r.at)
        .find(|at| *at >= stopped_instant)
        .ok_or_else(|| anyhow!("no metadata request after the app stopped"))?;
    let seen_at = stopped_at + (seen - stopped_instant);
    let reaction = signalled.duration_since(seen_at).unwrap_or(Duration::ZERO);
    Ok(Trial {
        latency,
        reaction,
        idle_hwm_kib,
        idle_rss_kib,
        life_hwm_kib,
        idle_cpu: cpu1.saturating_sub(cpu0),
        tree_max_rss_kib: usage.max_rss_kib,
    })
}

/// The time on Envoy's `caught ENVOY_SIGTERM` line (`<unix seconds>.<fraction> …`).
pub fn sigterm_time(log: &str) -> Option<SystemTime> {
    let line = log.lines().find(|l| l.contains(SIGTERM_LINE))?;
    let stamp = line.split_whitespace().next()?;
    let (secs, frac) = stamp.split_once('.')?;
    let secs: u64 = secs.parse().ok()?;
    if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: u32 = format!("{frac:0<9}").parse().ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigterm_time_reads_envoys_epoch_stamp() {
        let log = "1795424145.108340000 starting main dispatch loop\n\
                   2026-01-01T00:00:00Z INFO consul-ecs: SIGTERM received\n\
                   1795424148.046829000 caught ENVOY_SIGTERM\n";
        assert_eq!(
            sigterm_time(log),
            Some(UNIX_EPOCH + Duration::new(1_795_424_148, 46_829_000))
        );
        // Millisecond fractions are scaled, not read as nanoseconds.
        assert_eq!(
            sigterm_time("12.5 caught ENVOY_SIGTERM"),
            Some(UNIX_EPOCH + Duration::new(12, 500_000_000))
        );
    }

    #[test]
    fn sigterm_time_needs_the_line_and_a_stamp() {
        assert_eq!(sigterm_time("1.0 starting main dispatch loop\n"), None);
        assert_eq!(sigterm_time("[info] caught ENVOY_SIGTERM\n"), None);
        assert_eq!(sigterm_time("12. caught ENVOY_SIGTERM\n"), None);
    }
}
