//! Runs every case of the consul-ecs v0.6.2 config corpus (`cases.json`) and
//! every fixture file through `config::parse`, collecting all failures into
//! one readable report instead of stopping at the first.

use std::fs;
use std::path::PathBuf;

use serde_json::Value;

/// `CONFIG_CASES_FILE`, else `$CONSUL_ECS_COMPAT_DIR/config/cases.json`,
/// else the copy in the repository (`tests/data/compat`).
fn cases_file() -> PathBuf {
    testkit::paths::config_cases_file()
}

fn fixtures_dir() -> PathBuf {
    cases_file()
        .parent()
        .expect("cases file has a parent directory")
        .join("fixtures")
}

/// The document text of a case: a fixture's bytes, or the JSON value
/// serialised as-is (serde_json keeps `8080.0` a float and keeps key order).
fn case_text(config: &Value) -> String {
    match config {
        Value::String(name) => {
            let path = fixtures_dir().join(name);
            fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()))
        }
        other => serde_json::to_string(other).expect("serialise case config"),
    }
}

/// The value consul-ecs ends up using for an `expect` key.
fn effective(config: &config::Config, key: &str) -> Option<Value> {
    Some(match key {
        "consulLogin.includeEntity" => Value::Bool(config.include_entity()),
        "consulLogin.method" => Value::from(config.login_method()),
        "logLevel" => Value::from(config.log_level().as_str()),
        "proxy.publicListenerPort" => Value::from(config.public_listener_port()),
        "service.name" => Value::from(config.service.as_ref().map_or("", |s| s.name.as_str())),
        _ => return None,
    })
}

/// Checks one case; returns a description of every way it went wrong.
fn run_case(case: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let text = case_text(&case["config"]);
    let valid = case["valid"].as_bool().expect("case has a boolean `valid`");
    let stage = case["stage"].as_str().unwrap_or("");
    let mentions: Vec<&str> = case["error_mentions"]
        .as_array()
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let parsed = config::parse(&text);

    if valid {
        match &parsed {
            Err(e) => problems.push(format!("expected valid, got error:\n{e}")),
            Ok(cfg) => {
                if let Err(e) = cfg.validate_for_mesh_init() {
                    problems.push(format!("loads, but mesh-init rule fails:\n{e}"));
                }
                if let Some(expect) = case.get("expect").and_then(Value::as_object) {
                    for (key, want) in expect {
                        match effective(cfg, key) {
                            None => problems.push(format!("unknown expect key {key}")),
                            Some(got) if &got != want => {
                                problems.push(format!("{key}: expected {want}, got {got}"))
                            }
                            Some(_) => {}
                        }
                    }
                }
                // What we serialise must load again to the same config.
                let round = serde_json::to_string(cfg).expect("serialise config");
                match config::parse(&round) {
                    Ok(again) if &again == cfg => {}
                    Ok(again) => problems.push(format!(
                        "round trip changed the config:\n  {cfg:?}\n  {again:?}"
                    )),
                    Err(e) => problems.push(format!("round trip {round} fails: {e}")),
                }
            }
        }
        return problems;
    }

    let error = if stage == "mesh-init" {
        match &parsed {
            Err(e) => {
                problems.push(format!(
                    "expected to load (mesh-init stage), got error:\n{e}"
                ));
                return problems;
            }
            Ok(cfg) => match cfg.validate_for_mesh_init() {
                Ok(()) => {
                    problems.push("expected validate_for_mesh_init to fail, it passed".into());
                    return problems;
                }
                Err(e) => e,
            },
        }
    } else {
        match parsed {
            Ok(cfg) => {
                problems.push(format!("expected an error, but it loaded: {cfg:?}"));
                return problems;
            }
            Err(e) => e,
        }
    };
    let output = error.to_string();
    for mention in &mentions {
        if !output.contains(mention) {
            problems.push(format!("error does not mention `{mention}`:\n{output}"));
        }
    }
    // A whole-document error (no mentions) must still be a rejection with
    // something to show; a field error must name a field.
    if !mentions.is_empty() && error.field_errors().iter().any(|e| e.path.is_empty()) {
        problems.push(format!(
            "field errors expected, got a whole-document error:\n{output}"
        ));
    }
    problems
}

#[test]
fn every_corpus_case_behaves_as_recorded() {
    let path = cases_file();
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading corpus {}: {e}", path.display()));
    let cases: Vec<Value> = serde_json::from_str(&text).expect("cases.json is a JSON list");
    assert!(
        cases.len() >= 100,
        "corpus looks truncated: {} cases",
        cases.len()
    );

    let mut report = String::new();
    let mut failed = 0;
    for case in &cases {
        let name = case["name"].as_str().unwrap_or("<unnamed>");
        let problems = run_case(case);
        if !problems.is_empty() {
            failed += 1;
            report.push_str(&format!(
                "\n=== {name} ({})\n",
                case["notes"].as_str().unwrap_or("")
            ));
            for problem in problems {
                report.push_str(&format!("  - {}\n", problem.replace('\n', "\n    ")));
            }
        }
    }
    assert!(
        failed == 0,
        "{failed} of {} corpus cases failed:{report}",
        cases.len()
    );
}

/// Every fixture file is covered by some case, so none is silently unchecked.
#[test]
fn every_fixture_is_exercised_by_a_case() {
    let text = fs::read_to_string(cases_file()).expect("read corpus");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("parse corpus");
    let used: Vec<&str> = cases.iter().filter_map(|c| c["config"].as_str()).collect();
    let mut missing = Vec::new();
    for entry in fs::read_dir(fixtures_dir()).expect("list fixtures") {
        let name = entry.expect("dir entry").file_name();
        let name = name.to_string_lossy().into_owned();
        if name.ends_with(".json") && !used.contains(&name.as_str()) {
            missing.push(name);
        }
    }
    assert!(missing.is_empty(), "fixtures without a case: {missing:?}");
}
