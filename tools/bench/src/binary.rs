//! Benchmark 4: the binary itself — stripped size, and start-up cost of `consul-ecs
//! version` with the executable's pages evicted from the page cache ("cold") and cached
//! ("warm").

use std::fs;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};

use crate::goals::Figure;
use crate::proc::{Exit, Tracked, Usage};
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
            "median ru_maxrss",
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
             cache alone), \"warm\" immediately after. Wall time runs from just before \
             `spawn` to the moment the child's pidfd reports its exit; CPU and peak RSS are \
             the child's `wait4` rusage. Shared libraries (if any) stay cached."
        ),
        rows,
        figures: vec![(Figure::BinarySize, stripped as f64 / 1048576.0)],
    })
}

fn version(binary: &Path) -> Result<Usage> {
    let mut cmd = Command::new(binary);
    cmd.arg("version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let usage = Tracked::spawn(&mut cmd)?.wait(Duration::from_secs(30))?;
    if usage.exit != Exit::Code(0) {
        bail!("`consul-ecs version` ended with {}", usage.exit);
    }
    Ok(usage)
}

/// Drops `path`'s pages from the page cache.
fn evict_from_page_cache(path: &Path) -> Result<()> {
    let file = fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    file.sync_all().context("fsync before eviction")?;
    // SAFETY: a valid open fd; offset 0 and length 0 mean the whole file.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if rc != 0 {
        bail!(
            "posix_fadvise(DONTNEED) on {}: {}",
            path.display(),
            std::io::Error::from_raw_os_error(rc)
        );
    }
    Ok(())
}
