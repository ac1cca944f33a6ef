//! Benchmark 4: the binary itself — stripped size, and start-up cost of `consul-ecs
//! version` with the executable's pages evicted from the page cache ("cold") and cached
//! ("warm").

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};

use crate::goals::Figure;
use crate::proc::{evict_from_page_cache, Exit, Launched, Usage};
use crate::report::{fmt_kib, fmt_ms, Row, Section};
use crate::stats::Summary;
use crate::Context;

/// Runs the benchmark.
pub fn run(ctx: &Context) -> Result<Section> {
    let dir = tempfile::tempdir().context("temp dir")?;
    let built = fs::metadata(&ctx.binary)
        .with_context(|| format!("stat {}", ctx.binary.display()))?
        .len();
    // Measure a private copy: no other process maps it, so evicting its pages really
    // makes the next exec read it from disk, and strip never touches the build output.
    let copy = dir.path().join("consul-ecs");
    let out = Command::new("strip")
        .arg("-o")
        .arg(&copy)
        .arg(&ctx.binary)
        .output()
        .context("run strip (binutils)")?;
    if !out.status.success() {
        bail!("strip: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let stripped = fs::metadata(&copy).context("stat the stripped copy")?.len();
    let linkage = Command::new("file")
        .arg("-b")
        .arg(&copy)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .map_or("unknown", |f| {
            if f.contains("statically linked") || f.contains("static-pie") {
                "static"
            } else {
                "dynamic"
            }
        });

    let runs = ctx.runs.max(3);
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for _ in 0..runs {
        evict_from_page_cache(&copy)?;
        cold.push(version(&copy)?);
        warm.push(version(&copy)?);
    }
    let wall = |u: &[Usage]| Summary::of_millis(&u.iter().map(|u| u.wall).collect::<Vec<_>>());
    let cpu = |u: &[Usage]| Summary::of_millis(&u.iter().map(Usage::cpu).collect::<Vec<_>>());
    let rss = Summary::of(
        &warm
            .iter()
            .map(|u| u.max_rss_kib as f64)
            .collect::<Vec<_>>(),
    );
    let mut rows = vec![Row::new(
        "stripped release binary size",
        format!("{:.2} MiB", stripped as f64 / 1048576.0),
        format!(
            "{} bytes; {linkage} linking; as built: {:.2} MiB",
            stripped,
            built as f64 / 1048576.0
        ),
    )];
    for (label, samples) in [("cold", &cold), ("warm", &warm)] {
        if let (Some(w), Some(c)) = (wall(samples), cpu(samples)) {
            rows.push(Row::new(
                format!("`version` wall time, {label} (median of {runs})"),
                fmt_ms(w.median),
                format!(
                    "min {} / max {}; CPU (user+sys) median {}",
                    fmt_ms(w.min),
                    fmt_ms(w.max),
                    fmt_ms(c.median)
                ),
            ));
        }
    }
    if let Some(r) = rss {
        rows.push(Row::new(
            "`version` peak RSS",
            fmt_kib(r.median),
            "median VmHWM at its exit",
        ));
    }
    Ok(Section {
        name: "binary".to_string(),
        method: format!(
            "The static release binary (`make release`, what `make image` ships) is copied with `strip -o` (a no-op beyond copying when the \
             release profile already strips) and the copy's size reported. `consul-ecs \
             version` is then run {runs} times in pairs: \"cold\" right after the copy's pages \
             are evicted from the page cache (`fsync` + `posix_fadvise(POSIX_FADV_DONTNEED)` \
             on the file, which needs no privileges and leaves the rest of the machine's \
             cache alone), \"warm\" immediately after. Each run goes through a launcher \
             (a fresh `bench __launch` process that starts the command as its ptrace \
             tracee): wall time from the launcher's spawn to its reap, CPU from the `wait4` \
             rusage, peak RSS the command's `VmHWM` read when it stops at its exit. Not \
             `ru_maxrss`, which Linux makes at least the spawning process's own peak. Shared \
             libraries (if any) stay cached."
        ),
        rows,
        figures: vec![(Figure::BinarySize, stripped as f64 / 1048576.0)],
    })
}

fn version(binary: &Path) -> Result<Usage> {
    let mut launched = Launched::new(binary)?;
    launched
        .command()
        .arg("version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let usage = launched.run(Duration::from_secs(30))?;
    if usage.exit != Exit::Code(0) {
        bail!("`consul-ecs version` ended with {}", usage.exit);
    }
    Ok(usage)
}
