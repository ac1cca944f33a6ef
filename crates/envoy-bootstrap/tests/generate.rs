//! Generator behaviour the golden cases do not pin down: error paths (each naming its
//! key), template placeholders, statsd sinks, telemetry socket naming, serialisation.

use envoy_bootstrap::{
    generate, generate_with_env, to_pretty_json, write_bootstrap_file, AccessLogsInputs,
    AdminInputs, AgentGrpcInputs, BootstrapError, BootstrapInputs, PrometheusInputs,
};
use serde_json::{json, Map, Value};

fn base_inputs() -> BootstrapInputs {
    BootstrapInputs {
        proxy_id: "web-sidecar-proxy".into(),
        proxy_cluster: "web".into(),
        proxy_source_service: "web".into(),
        proxy_kind: "connect-proxy".into(),
        namespace: String::new(),
        partition: String::new(),
        datacenter: Some("dc1".into()),
        node_name: None,
        admin: AdminInputs {
            access_log_path: "/dev/null".into(),
            bind_address: "127.0.0.1".into(),
            bind_port: 19000,
        },
        access_logs: None,
        agent_grpc: AgentGrpcInputs {
            address: Some("127.0.0.1".into()),
            port: Some(8502),
            unix_socket: None,
            tls: false,
            ca_pems: None,
        },
        token: "tok-3f9a".into(),
        proxy_config: Map::new(),
        ready_bind_address: None,
        ready_bind_port: None,
        prometheus: PrometheusInputs::default(),
        omit_deprecated_tags: false,
    }
}

fn with_config(config: Value) -> BootstrapInputs {
    BootstrapInputs {
        proxy_config: config.as_object().unwrap().clone(),
        ..base_inputs()
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn error_for(config: Value) -> String {
    generate_with_env(&with_config(config), &no_env)
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_json_in_each_json_key_names_the_key() {
    for key in [
        "envoy_extra_static_clusters_json",
        "envoy_extra_static_listeners_json",
        "envoy_extra_stats_sinks_json",
        "envoy_stats_config_json",
        "envoy_tracing_json",
    ] {
        for bad in ["{\"name\": ", "{\"a\": 1} {\"b\": 2}", "not json"] {
            let err = error_for(json!({ key: bad }));
            assert!(
                err.starts_with(&format!("{key}: expected ")),
                "{key} = {bad:?}: {err}"
            );
        }
    }
}

#[test]
fn json_keys_reject_the_wrong_json_shape() {
    let err = error_for(json!({"envoy_extra_static_clusters_json": "1, 2"}));
    assert!(
        err.starts_with(
            "envoy_extra_static_clusters_json: expected zero or more comma-separated JSON objects"
        ),
        "{err}"
    );
    let err = error_for(json!({"envoy_stats_config_json": "[1]"}));
    assert_eq!(
        err,
        "envoy_stats_config_json: expected a JSON object, got an array"
    );
    let err = error_for(json!({"envoy_tracing_json": 7}));
    assert_eq!(
        err,
        "envoy_tracing_json: expected a JSON object, got a number"
    );
}

#[test]
fn bad_bind_addresses_name_the_key() {
    for key in ["envoy_prometheus_bind_addr", "envoy_stats_bind_addr"] {
        for bad in [
            "0.0.0.0",
            "0.0.0.0:notaport",
            ":9102",
            "1:2:3",
            true.to_string().as_str(),
        ] {
            let err = error_for(json!({ key: bad }));
            assert!(
                err.starts_with(&format!("{key}: expected host:port")),
                "{key} = {bad:?}: {err}"
            );
        }
    }
}

#[test]
fn bad_statsd_urls_name_the_key() {
    for key in ["envoy_statsd_url", "envoy_dogstatsd_url"] {
        for bad in [
            "http://127.0.0.1:8125",
            "udp://127.0.0.1",
            "not a url",
            "$UNSET_VARIABLE",
        ] {
            let err = error_for(json!({ key: bad }));
            assert!(
                err.starts_with(&format!("{key}: ")),
                "{key} = {bad:?}: {err}"
            );
        }
    }
}

#[test]
fn errors_never_contain_the_token() {
    let mut inputs = with_config(json!({
        "envoy_bootstrap_json_tpl": "{\"token\": \"{{ .Token }}\", broken"
    }));
    inputs.token = "s3cr3t-token-value".into();
    let err = generate_with_env(&inputs, &no_env).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(
        text.starts_with("envoy_bootstrap_json_tpl: the rendered template is not valid JSON"),
        "{text}"
    );
    assert!(!text.contains("s3cr3t"), "{text}");
}

#[test]
fn statsd_sinks_come_first_and_read_the_environment() {
    let inputs = with_config(json!({
        "envoy_statsd_url": "udp://${HOST_IP}:8125",
        "envoy_dogstatsd_url": "$DD_URL",
        "envoy_extra_stats_sinks_json": "{\"name\": \"extra\"}"
    }));
    let env = |name: &str| match name {
        "HOST_IP" => Some("10.0.0.7".to_string()),
        "DD_URL" => Some("udp://[::1]:8126".to_string()),
        _ => None,
    };
    let doc = generate_with_env(&inputs, &env).unwrap();
    assert_eq!(
        doc["stats_sinks"],
        json!([
            {"name": "envoy.stat_sinks.statsd", "typedConfig": {
                "@type": "type.googleapis.com/envoy.config.metrics.v3.StatsdSink",
                "address": {"socket_address": {"address": "10.0.0.7", "port_value": 8125}}}},
            {"name": "envoy.stat_sinks.dog_statsd", "typedConfig": {
                "@type": "type.googleapis.com/envoy.config.metrics.v3.DogStatsdSink",
                "address": {"socket_address": {"address": "::1", "port_value": 8126}}}},
            {"name": "extra"}
        ])
    );
}

#[test]
fn telemetry_collector_socket_name_matches_consul() {
    // Consul's own test expects this exact socket for proxy `web-sidecar-proxy` in the
    // default namespace.
    let inputs = with_config(json!({
        "envoy_telemetry_collector_bind_socket_dir": "/tmp/consul/telemetry-collector/"
    }));
    let doc = generate_with_env(&inputs, &no_env).unwrap();
    let clusters = doc["static_resources"]["clusters"].as_array().unwrap();
    let loopback = clusters.last().unwrap();
    assert_eq!(loopback["name"], "consul_telemetry_collector_loopback");
    assert_eq!(
        loopback["loadAssignment"]["endpoints"][0]["lbEndpoints"][0]["endpoint"]["address"]["pipe"]
            ["path"],
        "/tmp/consul/telemetry-collector/gqmuzdHCUPAEY5mbF8vgkZCNI14.sock"
    );
    let sink = doc["stats_sinks"].as_array().unwrap().last().unwrap();
    assert_eq!(sink["name"], "envoy.stat_sinks.metrics_service");
}

#[test]
fn stats_config_override_replaces_generated_tags() {
    let doc = generate_with_env(
        &with_config(json!({"envoy_stats_config_json": "{\"use_all_default_tags\": false}"})),
        &no_env,
    )
    .unwrap();
    assert_eq!(doc["stats_config"], json!({"use_all_default_tags": false}));
}

#[test]
fn explicit_stats_tags_win_over_default_fixed_tags() {
    let doc = generate_with_env(
        &with_config(json!({"envoy_stats_tags": ["local_cluster=override", "Canary"]})),
        &no_env,
    )
    .unwrap();
    let tags = doc["stats_config"]["stats_tags"].as_array().unwrap();
    assert_eq!(
        tags[0],
        json!({"tag_name": "local_cluster", "fixed_value": "override"})
    );
    assert_eq!(tags[1], json!({"tag_name": "canary", "fixed_value": "1"}));
    let fixed: Vec<&Value> = tags
        .iter()
        .filter(|t| t.get("fixed_value").is_some())
        .collect();
    // No second local_cluster; the source tags use `default` for the empty namespace.
    assert_eq!(fixed.len(), 2 + 4);
    assert!(
        tags.contains(&json!({"tag_name": "consul.source.namespace", "fixed_value": "default"}))
    );
    assert_eq!(tags.len(), 2 + 16 + 9 + 4);
}

#[test]
fn an_extra_self_admin_cluster_is_not_duplicated() {
    let mut inputs = with_config(json!({
        "envoy_extra_static_clusters_json": "{\"name\": \"self_admin\"}",
        "envoy_stats_bind_addr": "0.0.0.0:9102"
    }));
    inputs.ready_bind_address = Some("127.0.0.1".into());
    inputs.ready_bind_port = Some(21000);
    let doc = generate_with_env(&inputs, &no_env).unwrap();
    let names: Vec<&str> = doc["static_resources"]["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["local_agent", "self_admin"]);
    assert_eq!(
        doc["static_resources"]["listeners"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn template_override_substitutes_consul_argument_names() {
    let mut inputs = with_config(json!({
        "envoy_bootstrap_json_tpl": r#"{
            "node": {"id": "{{ .ProxyID }}", "cluster": "{{ .ProxyCluster }}",
                     "ns": "{{ .Namespace }}", "dc": "{{ .Datacenter }}"},
            "admin": {"port": {{ .AdminBindPort }}, "log": "{{ .AdminAccessLogPath }}"},
            "agent": {"addr": "{{ .AgentAddress }}", "port": {{ .AgentPort }}, "tls": {{ .AgentTLS }},
                      "ca": "{{ .AgentCAPEM }}", "cluster": "{{ .LocalAgentClusterName }}"},
            "token": "{{ .Token }}",
            "clusters": [{{ .StaticClustersJSON }}],
            "stats_config": {{ .StatsConfigJSON }},
            "tracing": {{ .TracingConfigJSON }}
        }"#,
        "envoy_extra_static_clusters_json": "{\"name\": \"a\"}, {\"name\": \"b\"}",
        "envoy_tracing_json": "{\"http\": {\"name\": \"x\"}}",
        "envoy_stats_config_json": "{\"use_all_default_tags\": true}"
    }));
    inputs.agent_grpc.tls = true;
    inputs.agent_grpc.ca_pems = Some(vec!["-----BEGIN\nA\n".into(), "B\n".into()]);
    let doc = generate_with_env(&inputs, &no_env).unwrap();
    assert_eq!(
        doc,
        json!({
            "node": {"id": "web-sidecar-proxy", "cluster": "web", "ns": "", "dc": "dc1"},
            "admin": {"port": 19000, "log": "/dev/null"},
            "agent": {"addr": "127.0.0.1", "port": 8502, "tls": true,
                      "ca": "-----BEGIN\nA\nB\n", "cluster": "local_agent"},
            "token": "tok-3f9a",
            "clusters": [{"name": "a"}, {"name": "b"}],
            "stats_config": {"use_all_default_tags": true},
            "tracing": {"http": {"name": "x"}}
        })
    );
}

#[test]
fn template_with_unsupported_actions_names_the_key() {
    let err = error_for(json!({"envoy_bootstrap_json_tpl": "{ {{ if .AgentTLS }} }"}));
    assert!(
        err.starts_with("envoy_bootstrap_json_tpl: unsupported template action"),
        "{err}"
    );
    let err = error_for(json!({"envoy_bootstrap_json_tpl": "{\"a\": \"{{ .Nope }}\"}"}));
    assert_eq!(err, "envoy_bootstrap_json_tpl: unknown placeholder .Nope");
}

#[test]
fn access_log_settings_are_checked() {
    let logs =
        |sink_type: Option<&str>, path: Option<&str>, json_f: Option<&str>, text: Option<&str>| {
            let mut inputs = base_inputs();
            inputs.access_logs = Some(AccessLogsInputs {
                enabled: true,
                disable_listener_logs: false,
                sink_type: sink_type.map(Into::into),
                path: path.map(Into::into),
                json_format: json_f.map(Into::into),
                text_format: text.map(Into::into),
            });
            generate_with_env(&inputs, &no_env)
        };
    let err = |r: Result<Value, BootstrapError>| r.unwrap_err().to_string();
    assert_eq!(
        err(logs(Some("syslog"), None, None, None)),
        "AccessLogs.Type: expected \"stdout\", \"stderr\" or \"file\", got \"syslog\""
    );
    assert!(err(logs(Some("file"), None, None, None)).starts_with("AccessLogs.Path: "));
    assert!(err(logs(None, None, Some("{"), None)).starts_with("AccessLogs.JSONFormat: "));
    assert!(err(logs(None, None, Some("[]"), None)).starts_with("AccessLogs.JSONFormat: "));
    assert!(err(logs(None, None, Some("{}"), Some("x"))).starts_with("AccessLogs: "));

    let doc = logs(Some("stderr"), None, None, Some("%RESPONSE_CODE%\n")).unwrap();
    assert_eq!(
        doc["admin"]["access_log"][0]["typedConfig"],
        json!({
            "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog",
            "logFormat": {"textFormatSource": {"inlineString": "%RESPONSE_CODE%\n"}}
        })
    );
    // Disabled access logs leave the plain access_log_path.
    let mut inputs = base_inputs();
    inputs.access_logs = Some(AccessLogsInputs::default());
    let doc = generate(&inputs).unwrap();
    assert_eq!(doc["admin"]["access_log_path"], "/dev/null");
}

#[tokio::test]
async fn pretty_file_is_written_private_and_parses_back() {
    let doc = generate_with_env(&base_inputs(), &no_env).unwrap();
    let text = to_pretty_json(&doc);
    assert!(text.starts_with("{\n  \"admin\": {\n"), "{}", &text[..40]);
    assert!(text.ends_with("}\n"));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("envoy-bootstrap.json");
    std::fs::write(&path, "old content").unwrap();
    write_bootstrap_file(&path, &doc).await.unwrap();
    let back: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(back, doc);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the file holds the token");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");

    let err = write_bootstrap_file(&dir.path().join("missing/dir/file.json"), &doc)
        .await
        .unwrap_err();
    assert!(matches!(err, BootstrapError::Write { .. }), "{err}");
}
