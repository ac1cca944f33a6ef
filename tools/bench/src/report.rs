//! The common result type every benchmark returns, and its rendering as `BENCHMARKS.md`.
//!
//! A benchmark module produces one [`Section`]: its rows (one figure each) and a paragraph
//! saying how they were measured. A later benchmark (the acl-controller at scale) adds a
//! module that returns a `Section`; nothing here changes.

use std::fmt::Write as _;

/// One measured figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// What was measured, e.g. `wall time (median of 9)`.
    pub metric: String,
    /// The figure with its unit, e.g. `41.2 ms`.
    pub value: String,
    /// Context: spread, comparison, caveat. May be empty.
    pub note: String,
}

impl Row {
    /// A row with a note.
    pub fn new(
        metric: impl Into<String>,
        value: impl Into<String>,
        note: impl Into<String>,
    ) -> Row {
        Row {
            metric: metric.into(),
            value: value.into(),
            note: note.into(),
        }
    }
}

/// The results of one benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// Short name shown in the table's first column, e.g. `mesh-init`.
    pub name: String,
    /// How the figures were obtained (setup, runs, what the clock covers).
    pub method: String,
    /// The figures.
    pub rows: Vec<Row>,
    /// The figures among `rows` that issue 20 sets a goal for, as numbers in the goal's
    /// unit (see [`crate::goals`]).
    pub figures: Vec<(crate::goals::Figure, f64)>,
}

impl Section {
    /// A section for a benchmark that could not run: one row saying why, so the report is
    /// still written and the failure is visible in it (a benchmark does not fail the run).
    pub fn failed(name: &str, method: &str, error: &anyhow::Error) -> Section {
        Section {
            name: name.to_string(),
            method: method.to_string(),
            rows: vec![Row::new("(benchmark failed)", "—", format!("{error:#}"))],
            figures: Vec::new(),
        }
    }
}

/// Everything `BENCHMARKS.md` holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The command that produced the report.
    pub command: String,
    /// Machine facts as (name, value), in display order.
    pub machine: Vec<(String, String)>,
    /// How long the measurements took (the release build excluded), for the reader who
    /// wants to re-run them.
    pub harness_seconds: f64,
    /// The goals table ([`crate::goals::to_markdown`]), shown before the results.
    pub goals: String,
    /// One section per benchmark, in run order.
    pub sections: Vec<Section>,
}

/// The last line the harness writes. Sections written by hand (figures measured outside
/// the harness, e.g. build times) go below it and are kept when the report is rewritten.
pub const KEEP_BELOW: &str =
    "<!-- end of the harness's report: sections below this line are written by hand and kept -->";

/// The hand-written tail of an existing report: everything after [`KEEP_BELOW`], or
/// nothing when the marker is absent.
pub fn hand_written_tail(existing: &str) -> &str {
    existing
        .split_once(KEEP_BELOW)
        .map_or("", |(_, tail)| tail.strip_prefix('\n').unwrap_or(tail))
}

/// Makes `text` safe inside one Markdown table cell: no line breaks, no column breaks.
pub fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .split(['\n', '\r'])
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Report {
    /// The report as Markdown: a summary table of every row, then the machine facts, then
    /// each benchmark's method.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        out.push_str("# Benchmarks\n\n");
        out.push_str(
            "Whole-process figures of the static release `consul-ecs` binary that `make \
             release` builds and `make image` ships, on this machine, from the OS's own \
             accounting (`wait4` rusage, `/proc`). Written by the \
             benchmark harness (`tools/bench`); do not edit by hand.\n\n",
        );
        let _ = writeln!(
            out,
            "Produced by:\n\n```sh\n{}\n```\n\n(measurements took {:.0} s, the release build excluded)\n",
            self.command, self.harness_seconds
        );
        out.push_str(&self.goals);
        out.push_str("## Results\n\n| Benchmark | Metric | Value | Notes |\n|---|---|---|---|\n");
        for section in &self.sections {
            for row in &section.rows {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    cell(&section.name),
                    cell(&row.metric),
                    cell(&row.value),
                    cell(&row.note)
                );
            }
        }
        out.push_str("\n## Machine\n\n| | |\n|---|---|\n");
        for (name, value) in &self.machine {
            let _ = writeln!(out, "| {} | {} |", cell(name), cell(value));
        }
        out.push_str("\n## Method\n");
        for section in &self.sections {
            let _ = write!(out, "\n### {}\n\n{}\n", section.name, section.method.trim());
        }
        let _ = writeln!(out, "\n{KEEP_BELOW}");
        out
    }
}

/// `12.3 ms` (or `42 µs`) with a precision that suits the magnitude.
pub fn fmt_ms(ms: f64) -> String {
    if ms < 0.1 {
        // Idle CPU figures are microseconds; "0.00 ms" would hide them.
        format!("{:.0} µs", ms * 1e3)
    } else if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

/// A size in KiB as `3.4 MiB` (or KiB below one MiB).
pub fn fmt_kib(kib: f64) -> String {
    if kib >= 1024.0 {
        format!("{:.1} MiB", kib / 1024.0)
    } else {
        format!("{kib:.0} KiB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            command: "cargo run --release -p bench -- --out BENCHMARKS.md".into(),
            machine: vec![("CPU".into(), "Test CPU @ 2 GHz".into())],
            harness_seconds: 93.4,
            goals: "## Goals (issue 20)\n\ntable\n\n".into(),
            sections: vec![
                Section {
                    name: "binary".into(),
                    method: "stat the file\n".into(),
                    rows: vec![Row::new("stripped size", "6.1 MiB", "")],
                    figures: vec![],
                },
                Section {
                    name: "mesh-init".into(),
                    method: "ran it".into(),
                    rows: vec![
                        Row::new("wall time (median of 9)", "40.0 ms", "min 38 | max 51"),
                        Row::new("ratio", "2.1×", "line one\nline two"),
                    ],
                    figures: vec![],
                },
            ],
        }
    }

    #[test]
    fn table_has_one_line_per_row_in_section_order() {
        let md = report().to_markdown();
        let table: Vec<&str> = md
            .lines()
            .skip_while(|l| !l.starts_with("| Benchmark"))
            .take_while(|l| l.starts_with('|'))
            .collect();
        assert_eq!(
            table,
            [
                "| Benchmark | Metric | Value | Notes |",
                "|---|---|---|---|",
                "| binary | stripped size | 6.1 MiB |  |",
                "| mesh-init | wall time (median of 9) | 40.0 ms | min 38 \\| max 51 |",
                "| mesh-init | ratio | 2.1× | line one line two |",
            ]
        );
    }

    #[test]
    fn report_names_the_command_machine_and_methods() {
        let md = report().to_markdown();
        assert!(md.contains("```sh\ncargo run --release -p bench -- --out BENCHMARKS.md\n```"));
        assert!(md.contains("| CPU | Test CPU @ 2 GHz |"));
        assert!(md.contains("### binary\n\nstat the file\n"));
        assert!(md.contains("### mesh-init\n\nran it\n"));
        assert!(md.contains("measurements took 93 s"));
        assert!(md.contains("## Goals (issue 20)\n\ntable\n\n## Results\n"));
    }

    #[test]
    fn hand_written_sections_below_the_marker_survive_a_rewrite() {
        let old = format!("{}## Build times\n\nby hand\n", report().to_markdown());
        assert_eq!(hand_written_tail(&old), "## Build times\n\nby hand\n");
        assert_eq!(hand_written_tail("# Benchmarks\nno marker\n"), "");
        assert!(report().to_markdown().ends_with(&format!("{KEEP_BELOW}\n")));
    }

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc\r\n\nd"), "a\\|b c d");
        assert_eq!(cell("back\\slash"), "back\\\\slash");
    }

    #[test]
    fn a_failed_benchmark_still_has_a_row() {
        let s = Section::failed("x", "m", &anyhow::anyhow!("outer").context("ctx"));
        assert_eq!(s.rows.len(), 1);
        assert_eq!(s.rows[0].note, "ctx: outer");
    }

    #[test]
    fn units_scale_with_magnitude() {
        assert_eq!(fmt_ms(0.0), "0 µs");
        assert_eq!(fmt_ms(0.0421), "42 µs");
        assert_eq!(fmt_ms(0.5), "0.50 ms");
        assert_eq!(fmt_ms(1.234), "1.23 ms");
        assert_eq!(fmt_ms(12.34), "12.3 ms");
        assert_eq!(fmt_ms(123.4), "123 ms");
        assert_eq!(fmt_kib(512.0), "512 KiB");
        assert_eq!(fmt_kib(3.5 * 1024.0), "3.5 MiB");
    }
}
