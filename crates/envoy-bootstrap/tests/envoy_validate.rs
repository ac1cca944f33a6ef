//! Every generated bootstrap goes through the real Envoy (`envoy --mode validate`).
//!
//! Cases whose golden document Envoy 1.40 rejects are handled as the cases README says:
//! `missing-file` documents must fail with the recorded error where the files are absent
//! and pass once the files exist; `placeholder-content` and `empty-inline-ca` documents
//! must be rejected with the recorded first error (and an `empty-inline-ca` document must
//! pass once a real CA is inlined). Every case is checked: an unknown reason is a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use envoy_bootstrap::{generate_with_env, BootstrapInputs};
use serde_json::{json, Value};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Serialises like Python's `json.dumps(doc)` (`", "` and `": "` separators, one line),
/// which is how the recorded errors were produced: their parse positions (`near 1:187`)
/// then line up with ours, provided our key order is the golden's.
fn python_style_json(doc: &Value) -> String {
    struct PythonFormatter;
    impl serde_json::ser::Formatter for PythonFormatter {
        fn begin_array_value<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            if first {
                Ok(())
            } else {
                writer.write_all(b", ")
            }
        }
        fn begin_object_key<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            if first {
                Ok(())
            } else {
                writer.write_all(b", ")
            }
        }
        fn begin_object_value<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
        ) -> std::io::Result<()> {
            writer.write_all(b": ")
        }
    }
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    serde::Serialize::serialize(doc, &mut ser).unwrap();
    String::from_utf8(out).unwrap()
}

/// Runs Envoy on `doc` (written as [`python_style_json`]) from an empty working directory,
/// so relative paths in the document resolve to nothing. Returns (accepted, output).
fn validate_in_empty_dir(doc: &Value) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("cwd");
    std::fs::create_dir(&work).unwrap();
    let file = dir.path().join("bootstrap.json");
    std::fs::write(&file, python_style_json(doc)).unwrap();
    let out = Command::new(testkit::envoy::envoy_binary())
        .args(["--mode", "validate", "--log-level", "error", "-c"])
        .arg(&file)
        .current_dir(&work)
        .output()
        .unwrap();
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && output.contains("OK"), output)
}

/// Envoy pads its protobuf error text with odd runs of spaces; compare without them.
fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Asserts that Envoy rejects `doc` with `recorded` as (part of) its error.
fn expect_rejection(doc: &Value, recorded: &str) -> Result<(), String> {
    let (ok, output) = validate_in_empty_dir(doc);
    if ok {
        return Err(format!(
            "Envoy accepted it, expected the error {recorded:?}"
        ));
    }
    if !normalise(&output).contains(&normalise(recorded)) {
        return Err(format!(
            "Envoy rejected it with a different error.\n      recorded: {recorded}\n      envoy:    {}",
            output.trim()
        ));
    }
    Ok(())
}

fn expect_acceptance(doc: &Value, what: &str) -> Result<(), String> {
    let validation = testkit::envoy::validate_json(doc);
    if validation.ok {
        Ok(())
    } else {
        Err(format!(
            "Envoy rejected {what}:\n{}",
            validation.output.trim()
        ))
    }
}

/// Points every file and directory the document names at real test files: secrets'
/// `filename`s get the fixture key or certificate, `watchedDirectory.path` a directory
/// holding the certificate, and access-log paths (a file access logger's `path`, the
/// admin's `access_log_path`) a file in an existing directory.
fn materialise_files(value: &mut Value, parent_key: &str, ca_dir: &Path) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match (key.as_str(), &*child) {
                    ("filename", Value::String(_)) => {
                        let file = if parent_key == "privateKey" {
                            "test-server.key"
                        } else {
                            "test-server.pem"
                        };
                        *child = Value::from(fixture(file).to_string_lossy().into_owned());
                    }
                    ("path", Value::String(_)) if parent_key == "watchedDirectory" => {
                        *child = Value::from(ca_dir.to_string_lossy().into_owned());
                    }
                    ("path", Value::String(path))
                        if parent_key == "typed_config" || parent_key == "typedConfig" =>
                    {
                        *child = Value::from(log_file_in(ca_dir, path));
                    }
                    ("access_log_path", Value::String(path)) if path != "/dev/null" => {
                        *child = Value::from(log_file_in(ca_dir, path));
                    }
                    _ => materialise_files(child, key, ca_dir),
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| materialise_files(item, parent_key, ca_dir)),
        _ => {}
    }
}

/// `<dir>/logs/<file name of path>`, with the `logs` directory created: Envoy opens access
/// logs at start-up, so a log in a directory that does not exist fails validation.
fn log_file_in(dir: &Path, path: &str) -> String {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let name = Path::new(path)
        .file_name()
        .map_or_else(|| "access.log".into(), |n| n.to_string_lossy().into_owned());
    logs.join(name).to_string_lossy().into_owned()
}

/// The document with every file it names made real ([`materialise_files`]), accepted.
fn expect_acceptance_once_files_exist(doc: &Value) -> Result<(), String> {
    let ca_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::copy(fixture("test-server.pem"), ca_dir.path().join("ca.pem"))
        .map_err(|e| e.to_string())?;
    let mut with_files = doc.clone();
    materialise_files(&mut with_files, "", ca_dir.path());
    if &with_files == doc {
        return Err("missing-file case names no file or directory to create".into());
    }
    expect_acceptance(&with_files, "the document once its files exist")
}

fn check_case(case: &common::Case) -> Result<(), String> {
    let inputs: BootstrapInputs =
        serde_json::from_value(case.input().clone()).map_err(|e| format!("input: {e}"))?;
    let doc = generate_with_env(&inputs, &|_| None).map_err(|e| format!("generate: {e}"))?;
    if case.envoy_validates() {
        return expect_acceptance(&doc, "the generated document");
    }
    let recorded = case
        .envoy_error()
        .ok_or("envoy_1_40_validates is false but no envoy_1_40_error is recorded")?;
    match case.envoy_reason() {
        Some("missing-file") => {
            expect_rejection(&doc, recorded)?;
            expect_acceptance_once_files_exist(&doc)
        }
        Some("placeholder-content") | Some("legacy-field") => expect_rejection(&doc, recorded),
        Some("empty-inline-ca") => {
            expect_rejection(&doc, recorded)?;
            let pem = std::fs::read_to_string(fixture("test-server.pem")).unwrap();
            let mut with_ca = doc.clone();
            let ca = with_ca
                .pointer_mut("/static_resources/clusters/0/transport_socket/typed_config/common_tls_context/validation_context/trusted_ca/inline_string")
                .ok_or("no inline CA string in the local_agent cluster")?;
            *ca = Value::from(pem);
            expect_acceptance(&with_ca, "the document with a real CA inlined")
        }
        other => Err(format!("no handling for envoy_1_40_reason {other:?}")),
    }
}

#[test]
fn envoy_accepts_every_generated_bootstrap_or_rejects_it_as_recorded() {
    let cases = common::load_cases();
    // Two workers: the machine has two cores and each Envoy run is one process.
    let (left, right) = cases.split_at(cases.len() / 2);
    let run = |chunk: &[common::Case]| -> Vec<String> {
        chunk
            .iter()
            .filter_map(|case| {
                check_case(case)
                    .err()
                    .map(|e| format!("{}: {e}", case.name))
            })
            .collect()
    };
    let failures: Vec<String> = std::thread::scope(|s| {
        let a = s.spawn(|| run(left));
        let b = s.spawn(|| run(right));
        let mut all = a.join().unwrap();
        all.extend(b.join().unwrap());
        all
    });
    assert!(
        failures.is_empty(),
        "{} of {} cases failed Envoy validation:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// The cases exercise none of these keys; a document using all of them at once must still
/// be a valid Envoy bootstrap.
#[test]
fn envoy_accepts_keys_the_cases_do_not_cover() {
    let defaults = common::case_named("defaults");
    let mut inputs: BootstrapInputs = serde_json::from_value(defaults.input().clone()).unwrap();
    inputs.token = "3b0c0d1e-0000-4000-8000-000000000000".into();
    inputs.omit_deprecated_tags = true;
    inputs.ready_bind_address = Some("127.0.0.1".into());
    inputs.ready_bind_port = Some(21000);
    inputs.access_logs = Some(envoy_bootstrap::AccessLogsInputs {
        enabled: true,
        sink_type: Some("file".into()),
        path: Some("/tmp/envoy-admin-access.log".into()),
        text_format: Some("%START_TIME% %RESPONSE_CODE%".into()),
        ..Default::default()
    });
    let zipkin_cluster = json!({
        "name": "zipkin",
        "type": "STRICT_DNS",
        "connect_timeout": "5s",
        "load_assignment": {"cluster_name": "zipkin", "endpoints": [{"lb_endpoints": [{"endpoint": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": 9411}}}}]}]}
    });
    let tracing = json!({"http": {"name": "envoy.tracers.zipkin", "typedConfig": {
        "@type": "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig",
        "collector_cluster": "zipkin",
        "collector_endpoint_version": "HTTP_JSON",
        "collector_endpoint": "/api/v2/spans"
    }}});
    inputs.proxy_config = json!({
        "envoy_statsd_url": "udp://127.0.0.1:9125",
        "envoy_dogstatsd_url": "$DOGSTATSD_URL",
        "envoy_stats_tags": ["canary", "Team=payments"],
        "envoy_stats_flush_interval": "10s",
        "envoy_stats_bind_addr": "0.0.0.0:9102",
        "envoy_prometheus_bind_addr": "0.0.0.0:9103",
        "envoy_telemetry_collector_bind_socket_dir": "/tmp/consul/telemetry-collector",
        "envoy_extra_static_clusters_json": zipkin_cluster.to_string(),
        "envoy_tracing_json": tracing.to_string(),
    })
    .as_object()
    .unwrap()
    .clone();

    let env = |name: &str| {
        (name == "DOGSTATSD_URL").then(|| "unix:///var/run/datadog/dsd.socket".to_string())
    };
    let doc = generate_with_env(&inputs, &env).unwrap();

    // Spot-check that each key made it into the document before asking Envoy.
    let sinks = doc["stats_sinks"].as_array().unwrap();
    let sink_names: Vec<&str> = sinks.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        sink_names,
        [
            "envoy.stat_sinks.statsd",
            "envoy.stat_sinks.dog_statsd",
            "envoy.stat_sinks.metrics_service"
        ]
    );
    assert_eq!(
        sinks[1]["typedConfig"]["address"]["pipe"]["path"],
        "/var/run/datadog/dsd.socket"
    );
    assert_eq!(doc["stats_flush_interval"], "10s");
    assert_eq!(doc["tracing"], tracing);
    let clusters: Vec<&str> = doc["static_resources"]["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        clusters,
        [
            "local_agent",
            "zipkin",
            "self_admin",
            "consul_telemetry_collector_loopback"
        ]
    );
    let listeners: Vec<&str> = doc["static_resources"]["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        listeners,
        [
            "envoy_prometheus_metrics_listener",
            "envoy_metrics_listener",
            "envoy_ready_listener"
        ]
    );
    let tags = doc["stats_config"]["stats_tags"].as_array().unwrap();
    assert_eq!(tags[0], json!({"tag_name": "canary", "fixed_value": "1"}));
    assert_eq!(
        tags[1],
        json!({"tag_name": "team", "fixed_value": "payments"})
    );
    // 2 custom + 16 rules (deprecated ones omitted) + 5 fixed source tags.
    assert_eq!(tags.len(), 2 + 16 + 5);
    assert_eq!(
        doc["admin"]["access_log"][0]["typedConfig"]["logFormat"]["textFormatSource"]
            ["inlineString"],
        "%START_TIME% %RESPONSE_CODE%\n"
    );

    expect_acceptance(&doc, "the document using every uncovered key").unwrap();
}

/// A case whose missing file is an access log in a directory that does not exist is
/// handled like a missing CA file: rejected as it is, accepted once the directory exists.
#[test]
fn an_access_log_in_a_missing_directory_is_a_missing_file_case() {
    let defaults = common::case_named("defaults");
    let mut inputs: BootstrapInputs = serde_json::from_value(defaults.input().clone()).unwrap();
    inputs.access_logs = Some(envoy_bootstrap::AccessLogsInputs {
        enabled: true,
        sink_type: Some("file".into()),
        path: Some("/nonexistent-consul-ecs-test/envoy/access.log".into()),
        ..Default::default()
    });
    let doc = generate_with_env(&inputs, &|_| None).unwrap();
    let (accepted, output) = validate_in_empty_dir(&doc);
    assert!(
        !accepted,
        "Envoy must refuse a log it cannot open:\n{output}"
    );
    expect_acceptance_once_files_exist(&doc).unwrap();
}
