//! Issue 20's goals beside the measured figures, and the regression guard `make bench`
//! enforces.
//!
//! Benchmarks hand their goal figures to the report as numbers ([`Section::figures`]);
//! [`evaluate`] sets each beside its goal and, for the guarded ones (memory and size:
//! figures a loaded machine does not move), against a limit. The limit is 10 % over the
//! goal or over the baseline (`tools/bench/baseline.json`, today's figures), whichever
//! is larger: most figures miss their goals today, so the guard catches growth now and the
//! goals tighten it as the figures come down. CPU and wall figures are shown beside their
//! goals but not guarded: on a shared machine they move with the load.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use serde_json::Value;

use crate::report::{cell, Section};

/// How far over its goal (or its baseline) a guarded figure may be.
pub const TOLERANCE: f64 = 1.10;

/// One figure with a goal in issue 20.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Figure {
    /// envoy-entrypoint's VmHWM while idle with Envoy up, MiB.
    EnvoyEntrypointIdleRss,
    /// app-entrypoint's VmHWM while idle, MiB.
    AppEntrypointIdleRss,
    /// health-sync's VmHWM at the end of the idle window, MiB.
    HealthSyncIdleRss,
    /// health-sync's CPU per 1 s poll, ms.
    HealthSyncCpuPerPoll,
    /// mesh-init wall time over its request floor (medians).
    MeshInitFloorRatio,
    /// mesh-init's peak RSS (median VmHWM at its exit), MiB.
    MeshInitPeakRss,
    /// The shipped (static, stripped) binary, MiB.
    BinarySize,
    /// The v0.10 controller's VmHWM after its round at scale (issue 22), MiB.
    ControllerPeakRss,
}

/// A goal: what the figure is, Go's figure for scale, the goal and whether `make bench`
/// guards it.
pub struct Goal {
    /// The figure.
    pub figure: Figure,
    /// Its key in the baseline file.
    pub key: &'static str,
    /// The row's label.
    pub label: &'static str,
    /// Go v0.6.2's figure on this kind of machine (issue 20), for scale.
    pub go: &'static str,
    /// The goal, in `unit`.
    pub goal: f64,
    /// `MiB`, `ms` or `×`.
    pub unit: &'static str,
    /// Whether a figure over its limit fails `make bench` (memory and size only).
    pub guarded: bool,
}

/// Issue 20's table, in its order.
pub const GOALS: &[Goal] = &[
    Goal {
        figure: Figure::EnvoyEntrypointIdleRss,
        key: "envoy-entrypoint-idle-rss-mib",
        label: "envoy-entrypoint idle RSS (Envoy up)",
        go: "9.67 MiB",
        goal: 3.0,
        unit: "MiB",
        guarded: true,
    },
    Goal {
        figure: Figure::AppEntrypointIdleRss,
        key: "app-entrypoint-idle-rss-mib",
        label: "app-entrypoint idle RSS",
        go: "9.65 MiB",
        goal: 3.0,
        unit: "MiB",
        guarded: true,
    },
    Goal {
        figure: Figure::HealthSyncIdleRss,
        key: "health-sync-idle-rss-mib",
        label: "health-sync idle RSS (ACLs, 60 s)",
        go: "13.58 MiB",
        goal: 4.0,
        unit: "MiB",
        guarded: true,
    },
    Goal {
        figure: Figure::HealthSyncCpuPerPoll,
        key: "health-sync-cpu-per-poll-ms",
        label: "health-sync CPU per 1 s poll",
        go: "1.24 ms",
        goal: 0.3,
        unit: "ms",
        guarded: false,
    },
    Goal {
        figure: Figure::MeshInitFloorRatio,
        key: "mesh-init-floor-ratio",
        label: "mesh-init wall / its request floor",
        go: "—",
        goal: 1.25,
        unit: "×",
        guarded: false,
    },
    Goal {
        figure: Figure::MeshInitPeakRss,
        key: "mesh-init-peak-rss-mib",
        label: "mesh-init peak RSS",
        go: "—",
        goal: 6.0,
        unit: "MiB",
        guarded: true,
    },
    Goal {
        figure: Figure::BinarySize,
        key: "binary-size-mib",
        label: "shipped binary (static, stripped)",
        go: "≥ 10.1 MiB",
        goal: 6.0,
        unit: "MiB",
        guarded: true,
    },
    // Issue 22's goal, set beside issue 20's.
    Goal {
        figure: Figure::ControllerPeakRss,
        key: "controller-peak-rss-mib",
        label: "controller peak RSS (5,000 tasks, 10,000 tokens, 5,000 services)",
        go: "—",
        goal: 32.0,
        unit: "MiB",
        guarded: true,
    },
];

/// Today's figures, by [`Goal::key`]: what the guard allows 10 % growth over while a
/// figure misses its goal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Baseline {
    /// Figure key → value in the goal's unit.
    pub figures: BTreeMap<String, f64>,
}

impl Baseline {
    /// Reads the baseline file: `{"figures": {"<key>": <number>, …}, …}`. Unknown keys
    /// are an error (a renamed figure would silently lose its guard).
    pub fn read(path: &Path) -> Result<Baseline> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        Baseline::parse(&text).with_context(|| format!("baseline file {}", path.display()))
    }

    fn parse(text: &str) -> Result<Baseline> {
        let doc: Value = serde_json::from_str(text).context("not JSON")?;
        let Some(map) = doc.get("figures").and_then(Value::as_object) else {
            bail!("$.figures: expected an object of figure → number");
        };
        let mut figures = BTreeMap::new();
        for (key, value) in map {
            if !GOALS.iter().any(|g| g.key == key) {
                let known: Vec<&str> = GOALS.iter().map(|g| g.key).collect();
                bail!(
                    "$.figures.{key}: unknown figure; known: {}",
                    known.join(", ")
                );
            }
            let Some(number) = value.as_f64().filter(|n| n.is_finite() && *n > 0.0) else {
                bail!("$.figures.{key}: expected a positive number, got {value}");
            };
            figures.insert(key.clone(), number);
        }
        Ok(Baseline { figures })
    }

    /// The baseline file for `measured`: every measured goal figure, rounded up to the
    /// report's precision.
    pub fn render(measured: &BTreeMap<Figure, f64>, note: &str) -> String {
        let mut figures = serde_json::Map::new();
        for goal in GOALS {
            if let Some(v) = measured.get(&goal.figure) {
                figures.insert(goal.key.to_string(), Value::from(round_up_hundredths(*v)));
            }
        }
        let doc = serde_json::json!({ "note": note, "figures": figures });
        let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// `v` rounded up to two decimals (8.301 → 8.31), but 8.3 stays 8.3 despite its binary
/// representation.
fn round_up_hundredths(v: f64) -> f64 {
    (v * 100.0 - 1e-6).ceil() / 100.0
}

/// Where a figure stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The goal.
    pub goal: &'static Goal,
    /// The figure, when its benchmark ran and produced it.
    pub measured: Option<f64>,
    /// The guard's limit (guarded figures only).
    pub limit: Option<f64>,
    /// The benchmark was deliberately not run (`--only`): neither pass nor fail.
    pub skipped: bool,
}

impl PartialEq for Goal {
    fn eq(&self, other: &Goal) -> bool {
        self.figure == other.figure
    }
}

impl std::fmt::Debug for Goal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key)
    }
}

impl Verdict {
    /// Whether the figure meets its goal.
    pub fn meets_goal(&self) -> bool {
        self.measured.is_some_and(|v| v <= self.goal.goal)
    }

    /// Whether the guard fails this figure: over its limit, or guarded and not measured
    /// although its benchmark was to run.
    pub fn guard_fails(&self) -> bool {
        match (self.limit, self.measured) {
            (Some(limit), Some(v)) => v > limit,
            (Some(_), None) => !self.skipped,
            (None, _) => false,
        }
    }

    fn fmt(&self, value: f64) -> String {
        match self.goal.unit {
            "×" => format!("{value:.2}×"),
            "ms" => format!("{value:.3} ms"),
            unit => format!("{value:.2} {unit}"),
        }
    }

    fn goal_cell(&self) -> String {
        format!("≤ {}", self.fmt(self.goal.goal))
    }

    fn status_cell(&self) -> String {
        match self.measured {
            None if self.skipped => "not run".to_string(),
            None => "not measured (the benchmark failed)".to_string(),
            Some(_) if self.meets_goal() => "meets the goal".to_string(),
            Some(v) => format!("**misses the goal** ({:.2}× the goal)", v / self.goal.goal),
        }
    }

    fn guard_cell(&self) -> String {
        let Some(limit) = self.limit else {
            return "not guarded (CPU/wall: moves with the load)".to_string();
        };
        let verdict = if self.guard_fails() {
            "**FAILS**"
        } else if self.skipped {
            "not run"
        } else {
            "ok"
        };
        format!("≤ {}: {verdict}", self.fmt(limit))
    }
}

/// Sets every goal beside its figure in `sections`; `ran` says whether a benchmark was
/// to run (its name, as in the sections).
pub fn evaluate(
    sections: &[Section],
    baseline: &Baseline,
    ran: impl Fn(Figure) -> bool,
) -> Vec<Verdict> {
    let measured = measured(sections);
    GOALS
        .iter()
        .map(|goal| Verdict {
            goal,
            measured: measured.get(&goal.figure).copied(),
            limit: goal.guarded.then(|| {
                let base = baseline.figures.get(goal.key).copied().unwrap_or(goal.goal);
                base.max(goal.goal) * TOLERANCE
            }),
            skipped: !ran(goal.figure),
        })
        .collect()
}

/// Every goal figure the sections carry.
pub fn measured(sections: &[Section]) -> BTreeMap<Figure, f64> {
    sections
        .iter()
        .flat_map(|s| s.figures.iter().copied())
        .collect()
}

/// The benchmark (section name) that measures `figure`.
pub fn benchmark_of(figure: Figure) -> &'static str {
    match figure {
        Figure::EnvoyEntrypointIdleRss => "envoy-entrypoint",
        Figure::AppEntrypointIdleRss => "app-entrypoint",
        Figure::HealthSyncIdleRss | Figure::HealthSyncCpuPerPoll => "health-sync",
        Figure::MeshInitFloorRatio | Figure::MeshInitPeakRss => "mesh-init",
        Figure::BinarySize => "binary",
        Figure::ControllerPeakRss => "controller",
    }
}

/// The goals table of `BENCHMARKS.md`, with a paragraph on the guard and, when the
/// machine was loaded, on which figures that affects.
pub fn to_markdown(verdicts: &[Verdict], load_note: Option<&str>) -> String {
    let mut out = String::from("## Goals (issue 20)\n\n");
    let _ = write!(
        out,
        "Each goal beside today's figure. `make bench` fails (exit 1) when a guarded figure \
         (memory, size) is over its limit: {:.0} % over its goal or over its baseline in \
         `tools/bench/baseline.json` (today's figures), whichever is larger. CPU and wall \
         figures are shown beside their goals but not guarded.",
        (TOLERANCE - 1.0) * 100.0
    );
    if let Some(note) = load_note {
        let _ = write!(out, " {note}");
    }
    out.push_str(
        "\n\n| Figure | Go v0.6.2 | Goal | Measured | Status | Guard |\n|---|---|---|---|---|---|\n",
    );
    for v in verdicts {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            cell(v.goal.label),
            cell(v.goal.go),
            v.goal_cell(),
            v.measured.map_or_else(|| "—".to_string(), |m| v.fmt(m)),
            v.status_cell(),
            v.guard_cell()
        );
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(figures: &[(Figure, f64)]) -> Section {
        Section {
            name: "x".into(),
            method: String::new(),
            rows: vec![],
            figures: figures.to_vec(),
        }
    }

    fn verdict(verdicts: &[Verdict], figure: Figure) -> &Verdict {
        verdicts.iter().find(|v| v.goal.figure == figure).unwrap()
    }

    #[test]
    fn the_limit_is_ten_percent_over_the_larger_of_goal_and_baseline() {
        let baseline = Baseline::parse(
            r#"{"figures": {"binary-size-mib": 9.0, "mesh-init-peak-rss-mib": 5.0}}"#,
        )
        .unwrap();
        let sections = [section(&[
            (Figure::BinarySize, 9.8),
            (Figure::MeshInitPeakRss, 6.7),
        ])];
        let v = evaluate(&sections, &baseline, |_| true);
        let size = verdict(&v, Figure::BinarySize);
        assert!((size.limit.unwrap() - 9.9).abs() < 1e-9);
        assert!(!size.guard_fails());
        assert!(!size.meets_goal());
        // Baseline under the goal: the goal (+10 %) is the limit.
        let rss = verdict(&v, Figure::MeshInitPeakRss);
        assert!((rss.limit.unwrap() - 6.6).abs() < 1e-9);
        assert!(rss.guard_fails());
    }

    #[test]
    fn growth_over_the_baseline_fails_the_guard() {
        let baseline =
            Baseline::parse(r#"{"figures": {"health-sync-idle-rss-mib": 8.0}}"#).unwrap();
        let ok = evaluate(
            &[section(&[(Figure::HealthSyncIdleRss, 8.79)])],
            &baseline,
            |_| true,
        );
        assert!(!verdict(&ok, Figure::HealthSyncIdleRss).guard_fails());
        let grown = evaluate(
            &[section(&[(Figure::HealthSyncIdleRss, 8.81)])],
            &baseline,
            |_| true,
        );
        assert!(verdict(&grown, Figure::HealthSyncIdleRss).guard_fails());
    }

    #[test]
    fn cpu_and_wall_figures_are_shown_but_not_guarded() {
        let v = evaluate(
            &[section(&[(Figure::HealthSyncCpuPerPoll, 50.0)])],
            &Baseline::default(),
            |_| true,
        );
        let cpu = verdict(&v, Figure::HealthSyncCpuPerPoll);
        assert_eq!(cpu.limit, None);
        assert!(!cpu.guard_fails());
        assert!(!cpu.meets_goal());
    }

    #[test]
    fn a_guarded_figure_not_measured_fails_unless_its_benchmark_was_left_out() {
        let v = evaluate(&[], &Baseline::default(), |f| f != Figure::BinarySize);
        assert!(!verdict(&v, Figure::BinarySize).guard_fails());
        assert!(verdict(&v, Figure::AppEntrypointIdleRss).guard_fails());
    }

    #[test]
    fn the_table_says_which_rows_miss_and_which_fail() {
        let v = evaluate(
            &[section(&[
                (Figure::AppEntrypointIdleRss, 2.5),
                (Figure::BinarySize, 20.0),
            ])],
            &Baseline::default(),
            |_| true,
        );
        let md = to_markdown(&v, Some("Loaded."));
        assert!(md.contains(
            "| app-entrypoint idle RSS | 9.65 MiB | ≤ 3.00 MiB | 2.50 MiB | meets the goal | ≤ 3.30 MiB: ok |"
        ));
        assert!(md.contains(
            "| shipped binary (static, stripped) | ≥ 10.1 MiB | ≤ 6.00 MiB | 20.00 MiB | **misses the goal** (3.33× the goal) | ≤ 6.60 MiB: **FAILS** |"
        ));
        assert!(md.contains("not measured (the benchmark failed)"));
        assert!(md.contains("not guarded. Loaded."));
    }

    #[test]
    fn baseline_errors_name_the_json_path() {
        let e = Baseline::parse(r#"{"figures": {"binary-size": 1}}"#).unwrap_err();
        assert!(format!("{e:#}").contains("$.figures.binary-size: unknown figure"));
        let e = Baseline::parse(r#"{"figures": {"binary-size-mib": "9"}}"#).unwrap_err();
        assert!(format!("{e:#}").contains("$.figures.binary-size-mib: expected a positive number"));
        let e = Baseline::parse("[]").unwrap_err();
        assert!(format!("{e:#}").contains("$.figures: expected an object"));
    }

    #[test]
    fn a_rendered_baseline_reads_back() {
        let measured = BTreeMap::from([
            (Figure::BinarySize, 8.861),
            (Figure::HealthSyncIdleRss, 8.3),
        ]);
        let b = Baseline::parse(&Baseline::render(&measured, "today")).unwrap();
        assert_eq!(b.figures.get("binary-size-mib"), Some(&8.87));
        assert_eq!(b.figures.get("health-sync-idle-rss-mib"), Some(&8.3));
    }
}
