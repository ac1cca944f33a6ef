//! Benchmark: `app-entrypoint` running an application — our own process's memory while
//! idle (it waits for a signal to pass on and for the application to exit).

use std::fs;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use nix::sys::signal::Signal;

use crate::goals::Figure;
use crate::proc::{
    children, evict_from_page_cache, thread_cpu, vm_hwm_kib, vm_rss_kib, Exit, Tracked,
};
use crate::report::{fmt_kib, fmt_ms, Row, Section};
use crate::stats::Summary;
use crate::Context;

/// Idle time after the application started, before the memory is read.
const IDLE: Duration = Duration::from_secs(1);
/// Trials (each a fresh process).
const TRIALS: usize = 5;
/// The application: idles until the entrypoint passes SIGTERM on.
const APP: &[&str] = &["/bin/sleep", "3600"];

/// What one trial measured.
struct Trial {
    hwm_kib: u64,
    rss_kib: u64,
    idle_cpu: Duration,
}

/// Runs the benchmark.
pub fn run(ctx: &Context) -> Result<Section> {
    let dir = tempfile::tempdir().context("temp dir")?;
    let mut trials = Vec::new();
    for i in 0..TRIALS {
        trials.push(trial(ctx, dir.path()).with_context(|| format!("trial {i}"))?);
    }
    let kib = |f: fn(&Trial) -> u64| {
        Summary::of(&trials.iter().map(|t| f(t) as f64).collect::<Vec<_>>())
            .ok_or_else(|| anyhow!("no trials"))
    };
    let hwm = kib(|t| t.hwm_kib)?;
    let rss = kib(|t| t.rss_kib)?;
    let cpu = Summary::of_millis(&trials.iter().map(|t| t.idle_cpu).collect::<Vec<_>>())
        .ok_or_else(|| anyhow!("no trials"))?;
    let rows = vec![
        Row::new(
            format!("own peak RSS, idle (median of {TRIALS})"),
            fmt_kib(hwm.median),
            format!(
                "VmHWM; max {}; current RSS median {}",
                fmt_kib(hwm.max),
                fmt_kib(rss.median)
            ),
        ),
        Row::new(
            format!("own CPU while idle ({IDLE:?} per trial, median)"),
            fmt_ms(cpu.median),
            format!("max {}", fmt_ms(cpu.max)),
        ),
    ];
    Ok(Section {
        name: "app-entrypoint".to_string(),
        method: format!(
            "Each of {TRIALS} trials drops the binary's pages from the page cache (so every \
             trial starts from the same state) and starts `consul-ecs app-entrypoint {}` with an empty \
             environment and waits until the application is its child. After {IDLE:?} idle \
             the entrypoint's own `VmHWM`/`VmRSS` are read from `/proc/<pid>/status` (the \
             application is a separate process, so its memory is not in these) and its CPU \
             over that second from `/proc/<pid>/task/*/sched`. Then it gets SIGTERM, passes \
             it on (no shutdown delay) and must exit with the application's status \
             (143 or killed by SIGTERM).",
            APP.join(" ")
        ),
        rows,
        figures: vec![(Figure::AppEntrypointIdleRss, hwm.median / 1024.0)],
    })
}

fn trial(ctx: &Context, dir: &std::path::Path) -> Result<Trial> {
    let log = dir.join("stderr.log");
    let mut cmd = Command::new(&ctx.binary);
    cmd.arg("app-entrypoint")
        .args(APP)
        .current_dir(dir)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log)?);
    evict_from_page_cache(&ctx.binary)?;
    let entry = Tracked::spawn(&mut cmd)?;
    let pid = entry.pid();
    let read_log = || fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(10);
    while children(pid).is_empty() {
        if entry.exited() || Instant::now() > deadline {
            bail!(
                "app-entrypoint did not start the application:\n{}",
                read_log()
            );
        }
        sleep(Duration::from_millis(10));
    }
    let (cpu0, _) = thread_cpu(pid)?;
    sleep(IDLE);
    let (cpu1, _) = thread_cpu(pid)?;
    let hwm_kib = vm_hwm_kib(pid).context("VmHWM of the entrypoint")?;
    let rss_kib = vm_rss_kib(pid).context("VmRSS of the entrypoint")?;
    entry.signal(Signal::SIGTERM)?;
    let usage = entry.wait(Duration::from_secs(10))?;
    if !matches!(usage.exit, Exit::Code(143) | Exit::Signal(15)) {
        bail!(
            "app-entrypoint ended with {} after SIGTERM:\n{}",
            usage.exit,
            read_log()
        );
    }
    Ok(Trial {
        hwm_kib,
        rss_kib,
        idle_cpu: cpu1.saturating_sub(cpu0),
    })
}
