//! Shared test helpers: task fixtures decoded with the ECS types' serde, config parsing
//! through the real config loader, and a structural JSON comparison that lists every
//! differing path.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;

use serde_json::Value;

/// Task ID of the `task-web-frontend.json` / `task-mesh-gateway.json` fixtures.
pub const T: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
/// Task ARN of those fixtures.
pub const ARN: &str =
    "arn:aws:ecs:us-east-1:123456789012:task/prod/0f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A task-metadata fixture from `tests/data`, decoded as the metadata client would.
pub fn task(name: &str) -> ecs::TaskMetadata {
    let path = data_path(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("decoding {}: {e}", path.display()))
}

/// Decodes task metadata from a JSON value (for hand-written variants).
pub fn task_from(doc: Value) -> ecs::TaskMetadata {
    serde_json::from_value(doc).expect("task metadata JSON decodes")
}

/// Loads a config document through the real loader (schema + defaults), as the binary
/// does.
pub fn config(doc: Value) -> config::Config {
    config::parse(&doc.to_string()).unwrap_or_else(|e| panic!("config {doc} should load, got: {e}"))
}

/// Serialises what would go on the wire.
pub fn wire<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("serialises")
}

/// Asserts structural equality; on failure lists every differing JSON path with the
/// expected and actual values, then both documents in full.
#[track_caller]
pub fn assert_json_eq(actual: &Value, expected: &Value) {
    let mut diffs = Vec::new();
    diff("$", actual, expected, &mut diffs);
    if !diffs.is_empty() {
        panic!(
            "JSON differs at {} place(s):\n{}\n--- expected:\n{}\n--- actual:\n{}",
            diffs.len(),
            diffs.join("\n"),
            serde_json::to_string_pretty(expected).unwrap_or_default(),
            serde_json::to_string_pretty(actual).unwrap_or_default(),
        );
    }
}

fn diff(path: &str, actual: &Value, expected: &Value, out: &mut Vec<String>) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (k, ev) in e {
                let p = format!("{path}.{k}");
                match a.get(k) {
                    Some(av) => diff(&p, av, ev, out),
                    None => out.push(format!("  {p}: missing, expected {ev}")),
                }
            }
            for (k, av) in a {
                if !e.contains_key(k) {
                    out.push(format!("  {path}.{k}: unexpected {av}"));
                }
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            if a.len() != e.len() {
                out.push(format!(
                    "  {path}: {} item(s), expected {}",
                    a.len(),
                    e.len()
                ));
            }
            for (i, (av, ev)) in a.iter().zip(e).enumerate() {
                diff(&format!("{path}[{i}]"), av, ev, out);
            }
        }
        _ if actual != expected => {
            out.push(format!("  {path}: got {actual}, expected {expected}"));
        }
        _ => {}
    }
}
