//! `consul-ecs validate-config`: a user with a broken config sees every problem, by JSON path.

mod util;

use util::TestCommand;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn a_valid_file_prints_ok() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        "ok.json",
        r#"{"bootstrapDir":"/consul","service":{"port":8080}}"#,
    );
    TestCommand::new(["validate-config", "-config-file", &file])
        .run()
        .expect_code(0)
        .expect_stdout_contains("OK");
}

#[test]
fn every_problem_is_reported_at_once_with_its_json_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        "bad.json",
        r#"{"service":{"port":"x","checks":[{"ttl":5}]},"proxy":{"upstreams":[{"destinationName":"a"}]},"bogus":1}"#,
    );
    let run = TestCommand::new(["validate-config", "-config-file", &file]).run();
    run.expect_code(1);
    for path in [
        "bootstrapDir",
        "service.port",
        "service.checks.0.ttl",
        "proxy.upstreams.0.localBindPort",
        "bogus",
    ] {
        run.expect_stdout_contains(path);
    }
    run.expect_stdout_contains(&file);
}

#[test]
fn the_mesh_init_rule_is_checked_too() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        "both.json",
        r#"{"bootstrapDir":"/c","healthSyncContainers":["app"],"service":{"port":1,"checks":[{"ttl":"10s"}]}}"#,
    );
    TestCommand::new(["validate-config", "-config-file", &file])
        .run()
        .expect_code(1)
        .expect_stdout_contains("healthSyncContainers")
        .expect_stdout_contains("service.checks");
}

#[test]
fn reads_the_environment_variable_by_default() {
    TestCommand::new(["validate-config"])
        .env("CONSUL_ECS_CONFIG_JSON", r#"{"bootstrapDir":"/c"}"#)
        .run()
        .expect_code(0);
    TestCommand::new(["validate-config"])
        .run()
        .expect_code(1)
        .expect_stdout_contains("CONSUL_ECS_CONFIG_JSON");
}

#[test]
fn invalid_json_says_where_and_a_missing_file_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "broken.json", "{\n  \"bootstrapDir\": \"/c\",,\n}");
    TestCommand::new(["validate-config", "-config-file", &file])
        .run()
        .expect_code(1)
        .expect_stdout_contains("line 2");
    let missing = dir.path().join("nope.json").display().to_string();
    TestCommand::new(["validate-config", "-config-file", &missing])
        .run()
        .expect_code(1)
        .expect_stderr_contains(&missing);
}

#[test]
fn a_device_a_fifo_or_a_huge_file_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    TestCommand::new(["validate-config", "-config-file", "/dev/zero"])
        .run()
        .expect_code(1)
        .expect_stderr_contains("/dev/zero is not a regular file (it is a character device)");
    // Opening a FIFO for reading would wait for a writer forever.
    let fifo = dir.path().join("config.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    TestCommand::new(["validate-config", "-config-file", fifo.to_str().unwrap()])
        .run()
        .expect_code(1)
        .expect_stderr_contains("(it is a FIFO)");
    let big = dir.path().join("big.json");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(64 * 1024 * 1024).unwrap(); // sparse: no disk used
    TestCommand::new(["validate-config", "-config-file", big.to_str().unwrap()])
        .run()
        .expect_code(1)
        .expect_stderr_contains("is larger than the 1 MiB limit");
}

fn v010_resource(name: &str) -> String {
    testkit::paths::compat_dir()
        .join("v0.10")
        .join("resources")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn says_which_layout_it_validated() {
    let dir = tempfile::tempdir().unwrap();
    let v062 = write(&dir, "v062.json", r#"{"bootstrapDir":"/c"}"#);
    TestCommand::new(["validate-config", "-config-file", &v062])
        .run()
        .expect_code(0)
        .expect_stdout_contains("v0.6.2 (Consul client agent) config: OK\n");
    for name in [
        "test_config.json",
        "test_extensive_config.json",
        "test_config_null_top_level_fields.json",
        "test_config_null_nested_fields.json",
        "test_config_empty_fields.json",
    ] {
        TestCommand::new(["validate-config", "-config-file", &v010_resource(name)])
            .run()
            .expect_code(0)
            .expect_stdout_contains("v0.10 (Consul Dataplane) config: OK\n");
    }
}

#[test]
fn upstreams_invalid_v010_configs_fail_naming_their_paths() {
    for (name, paths) in [
        (
            "test_config_uppercase_service_names.json",
            &["service.name", "gateway.name"][..],
        ),
        (
            "test_config_additional_properties_service.json",
            &["service.checks", "consulServers"][..],
        ),
        ("test_config_missing_fields.json", &["bootstrapDir"][..]),
    ] {
        let run = TestCommand::new(["validate-config", "-config-file", &v010_resource(name)]).run();
        run.expect_code(1);
        for path in paths {
            run.expect_stdout_contains(&format!("{path}: "));
        }
    }
}

#[test]
fn a_config_mixing_both_layouts_names_the_keys() {
    TestCommand::new(["validate-config"])
        .env(
            "CONSUL_ECS_CONFIG_JSON",
            r#"{"bootstrapDir":"/c","consulServers":{"hosts":"x"},"consulHTTPAddr":"x:8500"}"#,
        )
        .run()
        .expect_code(1)
        .expect_stdout_contains("consulServers: makes this a v0.10")
        .expect_stdout_contains("consulHTTPAddr: is a v0.6.2 (agent) key");
}

#[test]
fn doctor_reads_a_v010_config_as_that_layout() {
    // Every per-task subcommand serves both layouts (tests/mesh_init_dataplane.rs,
    // tests/health_sync_dataplane.rs, tests/doctor_dataplane.rs): doctor goes on to the
    // v0.10 checks instead of refusing the config. Outside a task they fail (exit 2).
    let v010 = std::fs::read_to_string(v010_resource("test_config.json")).unwrap();
    let run = TestCommand::new(["doctor", "-timeout", "2s"])
        .env("CONSUL_ECS_CONFIG_JSON", &v010)
        .run();
    run.expect_code(2)
        .expect_stdout_contains("ok    config valid")
        .expect_stdout_contains("v0.10 (Consul Dataplane) layout")
        .expect_stdout_contains("Consul servers reachable over gRPC");
    assert!(!run.stderr().contains("not available yet"), "{run}");
}
