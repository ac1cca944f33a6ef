//! Golden conformance: every case's `input` must generate exactly its `expected` document
//! (structurally). All failures are collected and printed with a JSON-path diff.

mod common;

use envoy_bootstrap::{generate_with_env, BootstrapInputs};

#[test]
fn every_case_generates_its_golden_document() {
    let cases = common::load_cases();
    let mut failures = Vec::new();
    for case in &cases {
        let inputs: BootstrapInputs = match serde_json::from_value(case.input().clone()) {
            Ok(inputs) => inputs,
            Err(e) => {
                failures.push(format!("{}: input does not deserialise: {e}", case.name));
                continue;
            }
        };
        // No case names an environment variable; an empty environment keeps it that way.
        let actual = match generate_with_env(&inputs, &|_| None) {
            Ok(doc) => doc,
            Err(e) => {
                failures.push(format!("{}: generate failed: {e}", case.name));
                continue;
            }
        };
        let differences = common::diff(case.expected(), &actual);
        if !differences.is_empty() {
            let mut report = format!(
                "{} ({}): {} difference(s)",
                case.name,
                case.file.display(),
                differences.len()
            );
            for d in &differences {
                report.push_str(&format!(
                    "\n    at {}\n      expected: {}\n      actual:   {}",
                    d.path, d.expected, d.actual
                ));
            }
            failures.push(report);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
    eprintln!("{} cases matched their golden documents", cases.len());
}
