//! `make bench`: whole-process benchmarks of the static release `consul-ecs` binary (what
//! `make release` builds and `make image` ships) against the emulators, real Envoy and moto
//! on loopback, written to `BENCHMARKS.md`.
//!
//! One module per benchmark, each returning a [`report::Section`]; a benchmark that fails
//! is reported as such in its section and the others still run. Benchmarks are not timed
//! tests, but the run is a regression guard: [`goals`] sets issue 20's goals beside the
//! figures and the run exits 1, after writing the report, when a memory or size figure is
//! more than 10 % over its goal or its baseline, whichever is larger.
//!
//! Adding a benchmark (e.g. the acl-controller at scale): a module with
//! `pub fn run(ctx: &Context, …) -> anyhow::Result<Section>` whose `Section` carries its
//! rows and a paragraph on the method, its name in [`ALL`] and an arm in `run`'s `match`.
//! `proc` measures children (`Tracked`, `/proc` readers), `stats` summarises samples,
//! `world` starts a task's emulators.

mod acl_controller;
mod app_entrypoint;
mod binary;
mod controller;
mod controller_round;
mod dataplane_floor;
mod dataplane_rows;
mod envoy_entrypoint;
mod goals;
mod health_sync;
mod machine;
mod mesh_init;
mod proc;
mod report;
mod stats;
mod world;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use clap::Parser;
use testkit::aws::AwsWorld;

use report::{Report, Section};

/// Benchmark names, in run order.
const ALL: &[&str] = &[
    "binary",
    "mesh-init",
    "envoy-entrypoint",
    "app-entrypoint",
    "health-sync",
    "acl-controller",
    "controller",
    "mesh-init-dataplane",
    "health-sync-dataplane",
];

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(about = "Measure the consul-ecs binary and write BENCHMARKS.md")]
struct Args {
    /// Where to write the report.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// The binary to measure; default: build it with `make release` (the static binary
    /// the image ships) and use `target/x86_64-unknown-linux-gnu/release/consul-ecs`.
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Today's figures the guard allows 10 % growth over (see `goals`); default
    /// `tools/bench/baseline.json` in the workspace.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Write the measured figures to the baseline file instead of guarding against it
    /// (after a deliberate change; needs every benchmark with a goal to run).
    #[arg(long)]
    write_baseline: bool,
    /// Measured runs of mesh-init (and of its floor) and of `version`.
    #[arg(long, default_value_t = 9)]
    runs: usize,
    /// Trials of the envoy-entrypoint stop latency.
    #[arg(long, default_value_t = 20)]
    stop_trials: usize,
    /// Length of health-sync's idle window in seconds.
    #[arg(long, default_value_t = 60)]
    idle_secs: u64,
    /// Run only these benchmarks (comma-separated: binary, mesh-init, envoy-entrypoint,
    /// app-entrypoint, health-sync, acl-controller, controller, mesh-init-dataplane,
    /// health-sync-dataplane).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

/// What every benchmark gets.
pub struct Context {
    /// The binary under test.
    pub binary: PathBuf,
    /// Measured runs for the short-lived commands.
    pub runs: usize,
    /// Stop-latency trials.
    pub stop_trials: usize,
    /// health-sync's idle window.
    pub idle: Duration,
}

fn main() {
    // The launcher of one measured run (proc::Launched) is this binary, started fresh.
    let mut args = std::env::args_os();
    if args.nth(1).as_deref() == Some(std::ffi::OsStr::new(proc::LAUNCH)) {
        proc::launcher_main(args.collect());
    }
    if let Err(e) = run() {
        eprintln!("bench: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args = Args::parse();
    for name in &args.only {
        if !ALL.contains(&name.as_str()) {
            bail!("unknown benchmark {name:?}; known: {}", ALL.join(", "));
        }
    }
    if args.runs == 0 || args.stop_trials == 0 {
        bail!("--runs and --stop-trials must be at least 1");
    }
    if args.write_baseline && !args.only.is_empty() {
        bail!("--write-baseline needs every benchmark: leave out --only");
    }
    let baseline_path = args
        .baseline
        .clone()
        .unwrap_or_else(|| testkit::paths::workspace_root().join("tools/bench/baseline.json"));
    let mut baseline = if args.write_baseline {
        goals::Baseline::default()
    } else {
        goals::Baseline::read(&baseline_path)?
    };
    let binary = match &args.binary {
        Some(path) => path
            .canonicalize()
            .with_context(|| format!("--binary {}", path.display()))?,
        None => build_release()?,
    };
    // The clock starts after the build: the report tells how long the measurements take.
    let started = Instant::now();
    let ctx = Context {
        binary,
        runs: args.runs,
        stop_trials: args.stop_trials,
        idle: Duration::from_secs(args.idle_secs),
    };
    let machine = machine::facts();
    let load = load_note();
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|n| n == name);

    // moto takes seconds to start; mesh-init and health-sync share one.
    let mut aws: Option<Arc<AwsWorld>> = None;
    let mut shared_aws = || -> Result<Arc<AwsWorld>> {
        if let Some(a) = &aws {
            return Ok(a.clone());
        }
        let a = Arc::new(guarded(|| Ok(AwsWorld::start(world::SERVICE)))?);
        aws = Some(a.clone());
        Ok(a)
    };

    let mut sections = Vec::new();
    for &name in ALL.iter().filter(|n| wanted(n)) {
        eprintln!("bench: {name} …");
        let t = Instant::now();
        let result = match name {
            "binary" => guarded(|| binary::run(&ctx)),
            "mesh-init" => shared_aws().and_then(|aws| guarded(|| mesh_init::run(&ctx, aws))),
            "envoy-entrypoint" => guarded(|| envoy_entrypoint::run(&ctx)),
            "app-entrypoint" => guarded(|| app_entrypoint::run(&ctx)),
            "health-sync" => shared_aws().and_then(|aws| guarded(|| health_sync::run(&ctx, aws))),
            "acl-controller" => guarded(|| acl_controller::run(&ctx)),
            "controller" => guarded(|| controller::run(&ctx)),
            "mesh-init-dataplane" => {
                shared_aws().and_then(|aws| guarded(|| dataplane_rows::run_mesh_init(&ctx, aws)))
            }
            "health-sync-dataplane" => {
                shared_aws().and_then(|aws| guarded(|| dataplane_rows::run_health_sync(&ctx, aws)))
            }
            other => Err(anyhow!("no benchmark {other}")),
        };
        let section = result.unwrap_or_else(|e| {
            eprintln!("bench: {name} failed: {e:#}");
            Section::failed(name, "The benchmark did not complete; see the note.", &e)
        });
        for row in &section.rows {
            eprintln!("  {}: {}  {}", row.metric, row.value, row.note);
        }
        eprintln!("bench: {name} took {:.1} s", t.elapsed().as_secs_f64());
        sections.push(section);
    }

    if args.write_baseline {
        let measured = goals::measured(&sections);
        if let Some(missing) = goals::GOALS
            .iter()
            .find(|g| !measured.contains_key(&g.figure))
        {
            bail!(
                "--write-baseline: {} was not measured (its benchmark failed); baseline                  left unchanged",
                missing.key
            );
        }
        let note = "Today's figures (make bench -- --write-baseline): the guard fails a \
                    memory or size figure more than 10 % over this or over its goal, \
                    whichever is larger. Rewrite it only when a change lowers the figures \
                    or deliberately accepts growth, and say why in the commit.";
        std::fs::write(&baseline_path, goals::Baseline::render(&measured, note))
            .with_context(|| format!("write {}", baseline_path.display()))?;
        eprintln!("bench: wrote {}", baseline_path.display());
        baseline = goals::Baseline::read(&baseline_path)?;
    }
    let verdicts = goals::evaluate(&sections, &baseline, |figure| {
        wanted(goals::benchmark_of(figure))
    });

    let argv: Vec<String> = std::env::args().skip(1).collect();
    let report = Report {
        command: format!(
            "make bench   # = make release, then: cargo run --release -p bench -- {}",
            argv.join(" ")
        )
        .trim_end()
        .to_string(),
        machine,
        harness_seconds: started.elapsed().as_secs_f64(),
        goals: goals::to_markdown(&verdicts, load.as_deref()),
        sections,
    };
    let existing = std::fs::read_to_string(&args.out).unwrap_or_default();
    let text = report.to_markdown() + report::hand_written_tail(&existing);
    std::fs::write(&args.out, text).with_context(|| format!("write {}", args.out.display()))?;
    eprintln!(
        "bench: wrote {} in {:.0} s",
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    let failed: Vec<String> = verdicts
        .iter()
        .filter(|v| v.guard_fails())
        .map(|v| {
            let limit = v.limit.unwrap_or(f64::NAN);
            match v.measured {
                Some(m) => format!(
                    "{}: {m:.2} {} > limit {limit:.2}",
                    v.goal.label, v.goal.unit
                ),
                None => format!("{}: not measured", v.goal.label),
            }
        })
        .collect();
    if !failed.is_empty() {
        bail!("regression guard: {}", failed.join("; "));
    }
    Ok(())
}

/// When the machine was busier than it has cores at the start, a sentence saying which
/// figures that makes incomparable.
fn load_note() -> Option<String> {
    let load: f64 = std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (load > cores as f64).then(|| {
        format!(
            "These figures were taken under load (load average {load:.1} on {cores} cores at \
             the start): the memory and size figures are comparable with other runs, the CPU \
             and wall figures are not."
        )
    })
}

/// Runs a benchmark, turning a panic (testkit's emulators panic on setup failures) into an
/// error so the other benchmarks still run.
fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".to_string());
            Err(anyhow!("panicked: {message}"))
        }
    }
}

/// `make release` in the workspace (the Makefile alone knows how the shipped binary is
/// built); returns the binary's path.
fn build_release() -> Result<PathBuf> {
    let root = testkit::paths::workspace_root();
    eprintln!("bench: make release …");
    let status = Command::new("make")
        .args(["--no-print-directory", "release"])
        .current_dir(&root)
        .status()
        .context("run make release")?;
    if !status.success() {
        bail!("make release failed: {status}");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root.join(t) })
        .unwrap_or_else(|| root.join("target"));
    let binary = target
        .join("x86_64-unknown-linux-gnu")
        .join("release")
        .join("consul-ecs");
    if !binary.is_file() {
        bail!("built, but {} is not there", binary.display());
    }
    Ok(binary)
}
