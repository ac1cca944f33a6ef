//! The resolver: from the agent's answers (as JSON) and mesh-init's settings to inputs.
//! Where a conformance case describes the same situation, resolve + generate must
//! reproduce the case's golden document.

mod common;

use std::path::Path;

use envoy_bootstrap::{
    generate_with_env, resolve, AccessLogsInputs, BootstrapError, BootstrapInputs, ResolveContext,
};
use serde_json::{json, Value};

fn case(name: &str) -> common::Case {
    common::case_named(name)
}

fn case_pems(name: &str) -> Vec<String> {
    serde_json::from_value(case(name).input()["agent_grpc"]["ca_pems"].clone()).unwrap()
}

/// Resolves, generates, and asserts the document equals the case's golden document.
fn assert_matches_case(ctx: &ResolveContext, name: &str) -> BootstrapInputs {
    let inputs = resolve(ctx).unwrap();
    let doc = generate_with_env(&inputs, &|_| None).unwrap();
    let case = case(name);
    let differences = common::diff(case.expected(), &doc);
    assert!(
        differences.is_empty(),
        "resolved document differs from case {name}:\n{}",
        differences
            .iter()
            .map(|d| format!(
                "  at {}: expected {} actual {}",
                d.path, d.expected, d.actual
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
    inputs
}

/// What `GET /v1/agent/service/test-proxy` returns for the cases' sidecar.
fn sidecar_registration() -> Value {
    json!({
        "Kind": "connect-proxy",
        "ID": "test-proxy",
        "Service": "test-sidecar-proxy",
        "Port": 20000,
        "Proxy": {
            "DestinationServiceName": "test",
            "DestinationServiceID": "test",
            "LocalServicePort": 8080,
            "Config": {},
            "Upstreams": []
        },
        "Datacenter": "dc1"
    })
}

fn sidecar_ctx() -> ResolveContext {
    ResolveContext {
        proxy_id: "test-proxy".into(),
        registration: sidecar_registration(),
        ..Default::default()
    }
}

#[test]
fn sidecar_with_defaults_matches_the_defaults_case() {
    let inputs = assert_matches_case(&sidecar_ctx(), "defaults");
    assert_eq!(inputs.proxy_cluster, "test");
    assert_eq!(inputs.proxy_source_service, "test");
    assert_eq!(inputs.proxy_kind, "connect-proxy");
    assert_eq!(inputs.admin.bind_address, "127.0.0.1");
    assert_eq!(inputs.admin.bind_port, 19000);
    assert_eq!(inputs.admin.access_log_path, "/dev/null");
    assert_eq!(inputs.agent_grpc.address.as_deref(), Some("127.0.0.1"));
    assert_eq!(inputs.agent_grpc.port, Some(8502));
    assert!(!inputs.agent_grpc.tls);
}

#[test]
fn token_reaches_the_ads_metadata() {
    let ctx = ResolveContext {
        token: "foo".into(),
        ..sidecar_ctx()
    };
    assert_matches_case(&ctx, "acl-enabled-and-token");
}

#[test]
fn proxy_id_falls_back_to_the_registration_id() {
    let ctx = ResolveContext {
        proxy_id: String::new(),
        ..sidecar_ctx()
    };
    assert_eq!(resolve(&ctx).unwrap().proxy_id, "test-proxy");
}

#[test]
fn sidecar_proxy_config_is_passed_through() {
    let mut registration = sidecar_registration();
    registration["Proxy"]["Config"] = json!({"envoy_prometheus_bind_addr": "0.0.0.0:9000"});
    let ctx = ResolveContext {
        registration,
        prometheus: envoy_bootstrap::PrometheusInputs {
            backend_port: Some(20100),
            scrape_path: "/scrape-path".into(),
            ..Default::default()
        },
        ..sidecar_ctx()
    };
    assert_matches_case(&ctx, "prometheus-metrics");
}

#[test]
fn mesh_gateway_uses_its_service_name_and_gets_no_readiness_listener() {
    let ctx = ResolveContext {
        proxy_id: "mesh-gateway-0f3b".into(),
        registration: json!({
            "Kind": "mesh-gateway",
            "ID": "mesh-gateway-0f3b",
            "Service": "mesh-gateway",
            "Port": 8443,
            "Proxy": {"MeshGateway": {}, "Expose": {}, "Config": null},
            "Datacenter": "dc2"
        }),
        ..Default::default()
    };
    let inputs = resolve(&ctx).unwrap();
    assert_eq!(inputs.proxy_id, "mesh-gateway-0f3b");
    assert_eq!(inputs.proxy_cluster, "mesh-gateway");
    assert_eq!(inputs.proxy_source_service, "mesh-gateway");
    assert_eq!(inputs.proxy_kind, "mesh-gateway");
    assert_eq!(inputs.datacenter.as_deref(), Some("dc2"));
    assert_eq!(inputs.ready_bind_address, None);
    let doc = generate_with_env(&inputs, &|_| None).unwrap();
    assert_eq!(doc["node"]["cluster"], "mesh-gateway");
    assert_eq!(doc["node"]["id"], "mesh-gateway-0f3b");
}

#[test]
fn ingress_gateway_gets_the_default_readiness_listener() {
    let ctx = ResolveContext {
        proxy_id: "ingress-gateway-1".into(),
        registration: json!({
            "Kind": "ingress-gateway",
            "ID": "ingress-gateway-1",
            "Service": "ingress-gateway-1",
            "Proxy": {},
            "Datacenter": "dc1"
        }),
        ..Default::default()
    };
    assert_matches_case(&ctx, "ingress-gateway");
    let explicit = ResolveContext {
        ready_bind: Some("1.2.3.4:7777".into()),
        registration: json!({
            "Kind": "ingress-gateway",
            "ID": "ingress-gateway",
            "Service": "ingress-gateway",
            "Proxy": {},
            "Datacenter": "dc1"
        }),
        proxy_id: "ingress-gateway".into(),
        ..Default::default()
    };
    assert_matches_case(&explicit, "ingress-gateway-address-specified");
}

#[test]
fn unix_socket_without_ca_is_plaintext() {
    let ctx = ResolveContext {
        grpc_addr: Some("unix:///var/run/consul.sock".into()),
        ..sidecar_ctx()
    };
    let inputs = assert_matches_case(&ctx, "grpc-addr-unix");
    assert_eq!(
        inputs.agent_grpc.unix_socket.as_deref(),
        Some("/var/run/consul.sock")
    );
    assert_eq!(inputs.agent_grpc.address, None);
}

#[test]
fn unix_socket_with_a_ca_file_turns_tls_on() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &case_pems("grpc-addr-unix-with-tls")[0]).unwrap();
    let ctx = ResolveContext {
        grpc_addr: Some("unix:///var/run/consul.sock".into()),
        grpc_ca_file: Some(ca),
        ..sidecar_ctx()
    };
    assert_matches_case(&ctx, "grpc-addr-unix-with-tls");
}

#[test]
fn https_with_a_ca_file_inlines_it() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &case_pems("existing-ca-file")[0]).unwrap();
    let ctx = ResolveContext {
        grpc_addr: Some("https://localhost:8502".into()),
        grpc_ca_file: Some(ca),
        ..sidecar_ctx()
    };
    let inputs = assert_matches_case(&ctx, "existing-ca-file");
    assert!(inputs.agent_grpc.tls);
}

#[test]
fn https_with_a_ca_dir_inlines_every_file_in_name_order() {
    let pems = case_pems("existing-ca-path");
    let dir = tempfile::tempdir().unwrap();
    // Created in reverse so that only sorting by name gives the recorded order.
    std::fs::write(dir.path().join("b.pem"), &pems[1]).unwrap();
    std::fs::write(dir.path().join("a.pem"), &pems[0]).unwrap();
    let ctx = ResolveContext {
        grpc_addr: Some("https://127.0.0.1:8502".into()),
        grpc_ca_path: Some(dir.path().to_path_buf()),
        ..sidecar_ctx()
    };
    let inputs = assert_matches_case(&ctx, "existing-ca-path");
    assert_eq!(inputs.agent_grpc.ca_pems, Some(pems));
}

#[test]
fn plain_http_grpc_ignores_the_ca() {
    let ctx = ResolveContext {
        grpc_addr: Some("http://127.0.0.1:8502".into()),
        grpc_ca_file: Some("/nonexistent/ca.pem".into()),
        ..sidecar_ctx()
    };
    assert_matches_case(
        &ctx,
        "both-CONSUL_HTTP_ADDR-TLS-and-CONSUL_GRPC_ADDR-PLAIN-is-plain",
    );
}

#[test]
fn unreadable_ca_and_empty_ca_dir_are_errors() {
    let ctx = ResolveContext {
        grpc_addr: Some("https://127.0.0.1:8503".into()),
        grpc_ca_file: Some("/nonexistent/ca.pem".into()),
        ..sidecar_ctx()
    };
    let err = resolve(&ctx).unwrap_err();
    assert!(matches!(err, BootstrapError::ReadCa { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");

    let empty = tempfile::tempdir().unwrap();
    let ctx = ResolveContext {
        grpc_addr: Some("https://127.0.0.1:8503".into()),
        grpc_ca_path: Some(empty.path().to_path_buf()),
        ..sidecar_ctx()
    };
    let err = resolve(&ctx).unwrap_err();
    assert!(
        matches!(err, BootstrapError::NoCaCertificates { .. }),
        "{err}"
    );
}

#[test]
fn proxy_defaults_access_logs_reach_the_admin_logger() {
    let ctx = ResolveContext {
        proxy_defaults: Some(json!({
            "Kind": "proxy-defaults",
            "Name": "global",
            "AccessLogs": {"Enabled": true},
            "CreateIndex": 10,
            "ModifyIndex": 10
        })),
        ..sidecar_ctx()
    };
    assert_matches_case(&ctx, "access-logs-enabled");

    let ctx = ResolveContext {
        proxy_defaults: Some(json!({
            "Kind": "proxy-defaults",
            "Name": "global",
            "AccessLogs": {
                "Enabled": true,
                "DisableListenerLogs": true,
                "Type": "file",
                "Path": "/var/log/envoy.log",
                "JSONFormat": "{\"code\": \"%RESPONSE_CODE%\"}"
            }
        })),
        ..sidecar_ctx()
    };
    let inputs = resolve(&ctx).unwrap();
    assert_eq!(
        inputs.access_logs,
        Some(AccessLogsInputs {
            enabled: true,
            disable_listener_logs: true,
            sink_type: Some("file".into()),
            path: Some("/var/log/envoy.log".into()),
            json_format: Some("{\"code\": \"%RESPONSE_CODE%\"}".into()),
            text_format: None,
        })
    );
    let doc = generate_with_env(&inputs, &|_| None).unwrap();
    assert_eq!(
        doc["admin"]["access_log"],
        json!([{
            "name": "Consul Listener Filter Log",
            "typedConfig": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                "path": "/var/log/envoy.log",
                "logFormat": {"jsonFormat": {"code": "%RESPONSE_CODE%"}}
            }
        }])
    );
    assert!(doc["admin"].get("access_log_path").is_none());
}

#[test]
fn proxy_defaults_without_access_logs_keep_the_access_log_path() {
    let ctx = ResolveContext {
        proxy_defaults: Some(json!({"Kind": "proxy-defaults", "Name": "global", "Config": {}})),
        admin_access_log_path: Some("/tmp/admin.log".into()),
        ..sidecar_ctx()
    };
    let inputs = resolve(&ctx).unwrap();
    assert_eq!(inputs.access_logs, None);
    let doc = generate_with_env(&inputs, &|_| None).unwrap();
    assert_eq!(doc["admin"]["access_log_path"], "/tmp/admin.log");
}

#[test]
fn missing_or_null_proxy_is_not_a_connect_proxy() {
    for registration in [
        json!({"ID": "web", "Service": "web", "Port": 8080}),
        json!({"ID": "web", "Service": "web", "Proxy": null}),
    ] {
        let ctx = ResolveContext {
            proxy_id: "web".into(),
            registration,
            ..Default::default()
        };
        let err = resolve(&ctx).unwrap_err();
        assert!(matches!(err, BootstrapError::NotAProxy));
        assert_eq!(err.to_string(), "service is not a Connect proxy or gateway");
    }
}

#[test]
fn malformed_registrations_are_rejected() {
    for (registration, needle) in [
        (json!("not an object"), "not a JSON object"),
        (json!({"Proxy": []}), "Proxy is not an object"),
        (
            json!({"Proxy": {"Config": "x"}}),
            "Proxy.Config is not an object",
        ),
        (json!({"Proxy": {}, "Kind": 1}), "Kind is not a string"),
    ] {
        let ctx = ResolveContext {
            proxy_id: "p".into(),
            registration,
            ..Default::default()
        };
        let err = resolve(&ctx).unwrap_err().to_string();
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn bad_addresses_are_rejected_with_what_they_are() {
    for (grpc, admin, needle) in [
        ("ftp://127.0.0.1:8502", "localhost:19000", "agent gRPC"),
        ("127.0.0.1", "localhost:19000", "missing port"),
        ("127.0.0.1:99999", "localhost:19000", "is not a number"),
        ("unix://", "localhost:19000", "empty Unix socket path"),
        ("localhost:8502", "localhost", "admin bind"),
        ("localhost:8502", "::1:19000", "too many colons"),
        (
            "no-such-host.invalid:8502",
            "localhost:19000",
            "cannot resolve",
        ),
    ] {
        let ctx = ResolveContext {
            grpc_addr: Some(grpc.into()),
            admin_bind: Some(admin.into()),
            ..sidecar_ctx()
        };
        let err = resolve(&ctx).unwrap_err().to_string();
        assert!(err.contains(needle), "{grpc} / {admin}: {err}");
    }
}

#[test]
fn ip_literals_are_kept_including_bracketed_ipv6() {
    let ctx = ResolveContext {
        grpc_addr: Some("[::1]:8502".into()),
        admin_bind: Some("0.0.0.0:19001".into()),
        ..sidecar_ctx()
    };
    let inputs = resolve(&ctx).unwrap();
    assert_eq!(inputs.agent_grpc.address.as_deref(), Some("::1"));
    assert_eq!(inputs.admin.bind_address, "0.0.0.0");
    assert_eq!(inputs.admin.bind_port, 19001);
}

#[test]
fn debug_output_never_shows_the_token() {
    let secret = "5f1c7e2a-6b7d-4f1e-9a51-c0ffee000001";
    let ctx = ResolveContext {
        token: secret.into(),
        ..sidecar_ctx()
    };
    let ctx_debug = format!("{ctx:?}");
    assert!(!ctx_debug.contains(secret), "{ctx_debug}");
    assert!(ctx_debug.contains("<redacted>"), "{ctx_debug}");

    let inputs = resolve(&ctx).unwrap();
    assert_eq!(inputs.token, secret);
    for text in [format!("{inputs:?}"), format!("{inputs:#?}")] {
        assert!(!text.contains(secret), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }
}

#[test]
fn a_resolved_case_input_round_trips_through_the_case_schema() {
    // The case schema and the resolver's output are the same type: resolving the defaults
    // situation (with Enterprise-style namespace/partition) gives the case input exactly.
    let mut registration = sidecar_registration();
    registration["Namespace"] = json!("default");
    registration["Partition"] = json!("default");
    let ctx = ResolveContext {
        registration,
        ..sidecar_ctx()
    };
    let expected: BootstrapInputs =
        serde_json::from_value(case("defaults").input().clone()).unwrap();
    assert_eq!(resolve(&ctx).unwrap(), expected);
    assert!(Path::new(&common::cases_dir()).is_dir());
}
