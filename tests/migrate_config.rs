//! `consul-ecs migrate-config`: a v0.6.2 config in, its v0.10 equivalent out (stdout), what
//! changed or needs a decision listed by JSON path (stderr); every valid config of the
//! v0.6.2 corpus comes out as a config `validate-config` accepts as v0.10.

mod util;

use serde_json::{json, Value};
use util::TestCommand;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The valid documents of the v0.6.2 corpus, by case name.
fn valid_corpus_documents() -> Vec<(String, String)> {
    let cases_file = testkit::paths::config_cases_file();
    let fixtures = cases_file.parent().unwrap().join("fixtures");
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&cases_file).unwrap()).unwrap();
    cases
        .into_iter()
        .filter(|case| case["valid"] == json!(true))
        .map(|case| {
            let text = match &case["config"] {
                Value::String(file) => std::fs::read_to_string(fixtures.join(file)).unwrap(),
                other => other.to_string(),
            };
            (case["name"].as_str().unwrap_or("?").to_owned(), text)
        })
        .collect()
}

#[test]
fn every_migrated_corpus_config_passes_validate_config_as_v010() {
    let dir = tempfile::tempdir().unwrap();
    let documents = valid_corpus_documents();
    assert!(documents.len() >= 40, "{} documents", documents.len());
    for (index, (name, text)) in documents.iter().enumerate() {
        let input = write(&dir, &format!("in-{index}.json"), text);
        let run = TestCommand::new(["migrate-config", &input]).run();
        // 0 or 2: converted either way; 1 would mean the input was refused.
        assert!(
            matches!(run.code(), Some(0 | 2)),
            "{name}: migrate-config failed\n{run}"
        );
        let output = write(&dir, &format!("out-{index}.json"), &run.stdout());
        TestCommand::new(["validate-config", "-config-file", &output])
            .run()
            .expect_code(0)
            .expect_stdout_contains("v0.10 (Consul Dataplane) config: OK");
    }
}

#[test]
fn a_config_that_carries_over_exits_0_and_lists_what_changed() {
    let v062 = json!({
        "bootstrapDir": "/consul",
        "consulHTTPAddr": "https://consul.example.com:8501",
        "consulLogin": {"enabled": true},
        "healthSyncContainers": ["app"],
        "service": {"name": "web", "port": 8080},
        "proxy": {}
    });
    let run = TestCommand::new(["migrate-config"])
        .env("CONSUL_ECS_CONFIG_JSON", v062.to_string())
        .run();
    run.expect_code(0)
        .expect_stderr_contains("changed: consulHTTPAddr: became consulServers.hosts")
        .expect_stderr_contains("changed: transparentProxy.enabled");
    assert!(!run.stderr().contains("decide:"), "{run}");
    let out: Value = serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{e}\n{run}"));
    assert_eq!(out["consulServers"], json!({"hosts": "consul.example.com"}));
    assert_eq!(out["consulLogin"], json!({"enabled": true}));
    assert_eq!(out["service"], json!({"name": "web", "port": 8080}));
}

#[test]
fn checks_and_a_missing_address_exit_2_naming_each_path() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        &dir,
        "checks.json",
        r#"{"bootstrapDir":"/c","service":{"port":1,"checks":[{"name":"api","http":"http://localhost:1/"}]},"proxy":{}}"#,
    );
    let run = TestCommand::new(["migrate-config", "-config-file", &input]).run();
    run.expect_code(2)
        .expect_stderr_contains("decide: consulServers.hosts:")
        .expect_stderr_contains("decide: service.checks.0: check \"api\"")
        .expect_stderr_contains("healthSyncContainers")
        .expect_stderr_contains("2 settings need a decision");
    // The output is still a v0.10 config.
    let output = write(&dir, "out.json", &run.stdout());
    TestCommand::new(["validate-config", "-config-file", &output])
        .run()
        .expect_code(0);
}

#[test]
fn unusable_input_exits_1_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        &dir,
        "bad.json",
        r#"{"bootstrapDir":"","service":{"port":"x"}}"#,
    );
    let run = TestCommand::new(["migrate-config", &bad]).run();
    run.expect_code(1)
        .expect_stderr_contains("bootstrapDir")
        .expect_stderr_contains("service.port")
        .expect_stderr_contains(&bad);
    assert_eq!(run.stdout(), "", "nothing to stdout: {run}");
    let already = write(
        &dir,
        "v010.json",
        r#"{"bootstrapDir":"/c","consulServers":{"hosts":"consul"}}"#,
    );
    TestCommand::new(["migrate-config", &already])
        .run()
        .expect_code(1)
        .expect_stderr_contains("already a v0.10");
    TestCommand::new(["migrate-config"])
        .run()
        .expect_code(1)
        .expect_stderr_contains("CONSUL_ECS_CONFIG_JSON is not populated");
    let missing = dir.path().join("nope.json").display().to_string();
    TestCommand::new(["migrate-config", &missing])
        .run()
        .expect_code(1)
        .expect_stderr_contains(&missing);
}
