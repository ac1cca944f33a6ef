//! Registration variants beyond the worked examples: gateway addressing, every
//! `healthSyncContainers` / `service.checks` combination, meta precedence, a missing
//! `proxy`, the full proxy block, and the errors.

mod common;

use common::{assert_json_eq, config, task, task_from, wire, ARN, T};
use consul::AgentServiceRegistration;
use mesh_task::{build_registrations, MeshError, Registrations};
use serde_json::{json, Value};

fn gateway(cfg: Value, task: &ecs::TaskMetadata) -> Value {
    match build_registrations(&config(cfg), task).unwrap() {
        Registrations::Gateway { gateway } => wire(&gateway),
        other => panic!("expected a gateway, got {other:?}"),
    }
}

fn service_task(cfg: Value) -> (AgentServiceRegistration, AgentServiceRegistration) {
    match build_registrations(&config(cfg), &task("task-web-frontend.json")).unwrap() {
        Registrations::Service { service, proxy } => (service, proxy),
        other => panic!("expected a service task, got {other:?}"),
    }
}

/// A gateway task whose first container reports `ips` (empty: no networks at all).
fn gateway_task_with_ips(ips: &[&str]) -> ecs::TaskMetadata {
    let networks = if ips.is_empty() {
        json!([])
    } else {
        json!([{"NetworkMode": "awsvpc", "IPv4Addresses": ips}])
    };
    task_from(json!({
        "Cluster": "prod",
        "TaskARN": ARN,
        "Family": "GW",
        "Containers": [{"Name": "consul-ecs-mesh-init", "Networks": networks}]
    }))
}

// --- gateway ---------------------------------------------------------------------------

#[test]
fn gateway_check_brackets_an_ipv6_task_ip() {
    let task = gateway_task_with_ips(&["fd00::1"]);
    let gw = gateway(
        json!({"bootstrapDir": "/c", "gateway": {"kind": "mesh-gateway"}}),
        &task,
    );
    assert_eq!(gw["Checks"][0]["TCP"], "[fd00::1]:8443");
    assert!(gw.get("Address").is_none());
}

#[test]
fn gateway_check_brackets_an_ipv6_lan_address_but_the_address_fields_do_not() {
    let task = gateway_task_with_ips(&["10.0.0.9"]);
    let gw = gateway(
        json!({"bootstrapDir": "/c", "gateway": {"kind": "mesh-gateway",
            "lanAddress": {"address": "fd00::5", "port": 9000}}}),
        &task,
    );
    assert_eq!(gw["Address"], "fd00::5");
    assert_json_eq(
        &gw["TaggedAddresses"],
        &json!({"lan": {"Address": "fd00::5", "Port": 9000}}),
    );
    assert_eq!(gw["Checks"][0]["TCP"], "[fd00::5]:9000");
}

#[test]
fn gateway_check_uses_loopback_when_the_task_reports_no_ip() {
    let task = gateway_task_with_ips(&[]);
    let gw = gateway(
        json!({"bootstrapDir": "/c", "gateway": {"kind": "mesh-gateway"}}),
        &task,
    );
    assert_eq!(gw["Checks"][0]["TCP"], "127.0.0.1:8443");
}

#[test]
fn gateway_lan_address_without_port_defaults_everything_to_8443() {
    let gw = gateway(
        json!({"bootstrapDir": "/c", "gateway": {"kind": "mesh-gateway",
            "lanAddress": {"address": "10.9.9.9"}}}),
        &task("task-mesh-gateway.json"),
    );
    assert_eq!(gw["Port"], 8443);
    assert_eq!(gw["Address"], "10.9.9.9");
    assert_json_eq(
        &gw["TaggedAddresses"],
        &json!({"lan": {"Address": "10.9.9.9", "Port": 8443}}),
    );
    assert_eq!(gw["Checks"][0]["TCP"], "10.9.9.9:8443");
}

#[test]
fn gateway_wan_port_without_address_adds_no_tagged_address() {
    let gw = gateway(
        json!({"bootstrapDir": "/c", "gateway": {"kind": "mesh-gateway",
            "lanAddress": {"address": ""}, "wanAddress": {"port": 443}}}),
        &task("task-mesh-gateway.json"),
    );
    assert!(gw.get("TaggedAddresses").is_none(), "{gw}");
    assert!(gw.get("Address").is_none(), "{gw}");
    assert_eq!(gw["Port"], 8443);
}

#[test]
fn gateway_wan_port_defaults_to_8443_not_to_the_lan_port() {
    let gw = gateway(
        json!({"bootstrapDir": "/c", "gateway": {"kind": "mesh-gateway",
            "lanAddress": {"address": "10.0.0.1", "port": 7000},
            "wanAddress": {"address": "198.51.100.1"}}}),
        &task("task-mesh-gateway.json"),
    );
    assert_eq!(gw["TaggedAddresses"]["wan"]["Port"], 8443);
    assert_eq!(gw["TaggedAddresses"]["lan"]["Port"], 7000);
    assert_eq!(gw["Port"], 7000);
}

/// v0.6.2 put a negative LAN port into the `lan` tagged address while keeping 8443 as the
/// service port. The Rust config refuses ports outside 0..65535 at load time (a documented
/// deviation), so that registration can never be built.
#[test]
fn negative_lan_port_is_refused_before_registration() {
    let err = config::parse(
        &json!({"bootstrapDir": "/c", "gateway": {"kind": "mesh-gateway",
            "lanAddress": {"address": "10.0.0.1", "port": -1}}})
        .to_string(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("gateway.lanAddress.port"),
        "error should name the field: {err}"
    );
}

#[test]
fn gateway_empty_proxy_object_still_sends_a_proxy_block() {
    let gw = gateway(
        json!({"bootstrapDir": "/c", "gateway": {"kind": "mesh-gateway", "proxy": {}}}),
        &task("task-mesh-gateway.json"),
    );
    assert_json_eq(&gw["Proxy"], &json!({"MeshGateway": {}, "Expose": {}}));
}

#[test]
fn gateway_ignores_service_proxy_and_health_sync_settings() {
    // Even the checks/healthSyncContainers clash is not an error for a gateway task.
    let gw = gateway(
        json!({"bootstrapDir": "/c", "healthSyncContainers": ["app"],
            "service": {"name": "svc", "port": 1, "tags": ["t"], "partition": "p",
                "checks": [{"name": "c", "tcp": "localhost:1", "interval": "5s"}]},
            "proxy": {"publicListenerPort": 21000, "upstreams": [{"destinationName": "x", "localBindPort": 2}]},
            "gateway": {"kind": "mesh-gateway"}}),
        &task("task-mesh-gateway.json"),
    );
    assert_json_eq(
        &gw,
        &json!({
            "Kind": "mesh-gateway",
            "ID": format!("Mesh-Gateway-DC1-{T}"),
            "Name": "Mesh-Gateway-DC1",
            "Port": 8443,
            "Meta": {"task-id": T, "task-arn": ARN, "source": "consul-ecs"},
            "Check": null,
            "Checks": [{"Name": "mesh-gateway listener", "Interval": "10s",
                        "TCP": "10.0.1.25:8443", "DeregisterCriticalServiceAfter": "10m"}]
        }),
    );
}

#[test]
fn gateway_user_meta_overrides_built_in_keys() {
    let gw = gateway(
        json!({"bootstrapDir": "/c", "gateway": {"kind": "mesh-gateway",
            "meta": {"source": "terraform", "task-arn": "mine", "zone": "b"}}}),
        &task("task-mesh-gateway.json"),
    );
    assert_json_eq(
        &gw["Meta"],
        &json!({"task-id": T, "task-arn": "mine", "source": "terraform", "zone": "b"}),
    );
}

// --- healthSyncContainers / service.checks ---------------------------------------------

#[test]
fn neither_synced_containers_nor_checks_sends_null_checks() {
    let (service, proxy) = service_task(json!({"bootstrapDir": "/c", "service": {"port": 1}}));
    assert_eq!(wire(&service)["Checks"], Value::Null);
    assert_eq!(wire(&service)["Check"], Value::Null);
    assert_eq!(proxy.checks.len(), 2, "the sidecar checks are fixed");
}

#[test]
fn synced_containers_only_become_ttl_checks_in_list_order() {
    let (service, proxy) = service_task(json!({"bootstrapDir": "/c",
        "healthSyncContainers": ["worker", "app", "x y"], "service": {"port": 1}, "proxy": {}}));
    let ids: Vec<&str> = service.checks.iter().map(|c| c.check_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            format!("web-frontend-{T}-worker-consul-ecs"),
            format!("web-frontend-{T}-app-consul-ecs"),
            format!("web-frontend-{T}-x y-consul-ecs"),
        ]
    );
    for check in &service.checks {
        assert_eq!(check.name, "consul ecs synced");
        assert_eq!(check.ttl, "100000h");
        assert!(check.status.is_empty(), "Consul must start it critical");
    }
    assert!(proxy.checks.iter().all(|c| c.ttl.is_empty()));
}

#[test]
fn user_checks_only_are_copied_field_by_field_and_not_to_the_sidecar() {
    let (service, proxy) = service_task(json!({"bootstrapDir": "/c", "service": {"port": 8080,
    "checks": [
        {"checkId": "all", "name": "every field", "args": ["/bin/check", "-v"],
         "interval": "5s", "timeout": "2s", "ttl": "30s", "http": "http://localhost:8080/h",
         "header": {"X-A": ["1", "2"]}, "method": "POST", "body": "{}",
         "tcp": "localhost:8080", "udp": "localhost:53", "status": "passing",
         "notes": "n", "tlsServerName": "sni", "tlsSkipVerify": true,
         "grpc": "localhost:9000/svc", "grpcUseTls": true, "h2ping": "localhost:8443",
         "h2pingUseTls": true, "aliasNode": "node", "aliasService": "svc",
         "successBeforePassing": 2, "failuresBeforeCritical": 3},
        {"name": "h2 without tls flag", "h2ping": "localhost:8443", "h2pingUseTls": false,
         "interval": "10s"}
    ]}}));
    assert_json_eq(
        &wire(&service)["Checks"],
        &json!([
            {"CheckID": "all", "Name": "every field", "ScriptArgs": ["/bin/check", "-v"],
             "Interval": "5s", "Timeout": "2s", "TTL": "30s", "HTTP": "http://localhost:8080/h",
             "Header": {"X-A": ["1", "2"]}, "Method": "POST", "Body": "{}",
             "TCP": "localhost:8080", "UDP": "localhost:53", "Status": "passing",
             "Notes": "n", "TLSServerName": "sni", "TLSSkipVerify": true,
             "GRPC": "localhost:9000/svc", "GRPCUseTLS": true, "H2PING": "localhost:8443",
             "H2PingUseTLS": true, "AliasNode": "node", "AliasService": "svc",
             "SuccessBeforePassing": 2, "FailuresBeforeCritical": 3},
            // `false` is omitted, as the Go client's `omitempty` does.
            {"Name": "h2 without tls flag", "H2PING": "localhost:8443", "Interval": "10s"}
        ]),
    );
    let names: Vec<&str> = proxy.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Proxy Public Listener", "Destination Alias"]);
}

#[test]
fn synced_containers_with_an_empty_checks_list_are_fine() {
    let (service, _) = service_task(json!({"bootstrapDir": "/c",
        "healthSyncContainers": ["app"], "service": {"port": 1, "checks": []}}));
    assert_eq!(service.checks.len(), 1);
}

#[test]
fn synced_containers_and_checks_together_are_refused_naming_both_fields() {
    let cfg = config(
        json!({"bootstrapDir": "/c", "healthSyncContainers": ["app"],
        "service": {"port": 1, "checks": [{"name": "c", "tcp": "localhost:1", "interval": "5s"}]}}),
    );
    let err = build_registrations(&cfg, &task("task-web-frontend.json")).unwrap_err();
    let MeshError::Config(config_err) = &err else {
        panic!("expected a config error, got {err:?}");
    };
    let paths: Vec<&str> = config_err
        .field_errors()
        .iter()
        .map(|e| e.path.as_str())
        .collect();
    assert_eq!(paths, ["service.checks", "healthSyncContainers"]);
    assert!(
        err.to_string()
            .contains("only one of service.checks or healthSyncContainers should be set"),
        "{err}"
    );
}

// --- meta, proxy, service defaults ------------------------------------------------------

#[test]
fn user_meta_overrides_built_in_keys_on_service_and_sidecar() {
    let (service, proxy) = service_task(json!({"bootstrapDir": "/c", "service": {"port": 1,
        "meta": {"task-id": "mine", "source": "me", "team": "web"}}}));
    let expected = json!({"task-id": "mine", "task-arn": ARN, "source": "me", "team": "web"});
    assert_json_eq(&wire(&service)["Meta"], &expected);
    assert_json_eq(&wire(&proxy)["Meta"], &expected);
}

#[test]
fn absent_proxy_is_treated_like_an_empty_proxy_object() {
    let without = service_task(json!({"bootstrapDir": "/c", "service": {"port": 3000}}));
    let null =
        service_task(json!({"bootstrapDir": "/c", "service": {"port": 3000}, "proxy": null}));
    let empty = service_task(json!({"bootstrapDir": "/c", "service": {"port": 3000}, "proxy": {}}));
    assert_eq!(without, empty);
    assert_eq!(null, empty);
    assert_json_eq(
        &wire(&without.1)["Proxy"],
        &json!({
            "DestinationServiceName": "web-frontend",
            "DestinationServiceID": format!("web-frontend-{T}"),
            "LocalServicePort": 3000,
            "MeshGateway": {},
            "Expose": {}
        }),
    );
    assert_eq!(without.1.port, 20000);
}

#[test]
fn absent_service_uses_the_lower_cased_family_and_no_port() {
    let (service, proxy) = service_task(json!({"bootstrapDir": "/c"}));
    assert_json_eq(
        &wire(&service),
        &json!({"ID": format!("web-frontend-{T}"), "Name": "web-frontend",
                "Meta": {"task-id": T, "task-arn": ARN, "source": "consul-ecs"},
                "Check": null, "Checks": null}),
    );
    let proxy = wire(&proxy);
    assert!(proxy["Proxy"].get("LocalServicePort").is_none(), "{proxy}");
    assert_eq!(proxy["Port"], 20000);
}

#[test]
fn full_proxy_block_is_copied() {
    let (_, proxy) = service_task(json!({"bootstrapDir": "/c", "service": {"port": 8080},
    "proxy": {
        "publicListenerPort": 21001,
        "config": {"protocol": "grpc", "envoy_extra": {"ratio": 0.25, "n": 3}, "list": [1, "a"]},
        "meshGateway": {"mode": "remote"},
        "upstreams": [
            {"destinationType": "prepared_query", "destinationNamespace": "ns1",
             "destinationPartition": "p1", "destinationName": "q", "datacenter": "dc2",
             "localBindAddress": "127.0.0.2", "localBindPort": 5000,
             "config": {"connect_timeout_ms": 100}, "meshGateway": {"mode": "local"}},
            {"destinationName": "plain", "localBindPort": 5001}
        ],
        "expose": {"checks": true, "paths": [
            {"listenerPort": 21500, "path": "/metrics", "localPathPort": 9102, "protocol": "http"},
            {"path": "/health"}
        ]}
    }}));
    let proxy = wire(&proxy);
    assert_eq!(proxy["Port"], 21001);
    assert_eq!(proxy["Checks"][0]["TCP"], "127.0.0.1:21001");
    assert_json_eq(
        &proxy["Proxy"],
        &json!({
            "DestinationServiceName": "web-frontend",
            "DestinationServiceID": format!("web-frontend-{T}"),
            "LocalServicePort": 8080,
            "Config": {"protocol": "grpc", "envoy_extra": {"ratio": 0.25, "n": 3}, "list": [1, "a"]},
            "Upstreams": [
                {"DestinationType": "prepared_query", "DestinationNamespace": "ns1",
                 "DestinationPartition": "p1", "DestinationName": "q", "Datacenter": "dc2",
                 "LocalBindAddress": "127.0.0.2", "LocalBindPort": 5000,
                 "Config": {"connect_timeout_ms": 100}, "MeshGateway": {"Mode": "local"}},
                {"DestinationName": "plain", "LocalBindPort": 5001, "MeshGateway": {}}
            ],
            "MeshGateway": {"Mode": "remote"},
            "Expose": {"Checks": true, "Paths": [
                {"ListenerPort": 21500, "Path": "/metrics", "LocalPathPort": 9102, "Protocol": "http"},
                {"Path": "/health"}
            ]}
        }),
    );
}

#[test]
fn sidecar_copies_tags_weights_override_namespace_and_partition() {
    let (service, proxy) = service_task(json!({"bootstrapDir": "/c", "service": {"port": 1,
        "tags": ["a", "b"], "weights": {"passing": 10, "warning": 0}, "enableTagOverride": true,
        "namespace": "n", "partition": "p"}}));
    for reg in [&service, &proxy] {
        let w = wire(reg);
        assert_eq!(w["Tags"], json!(["a", "b"]));
        assert_eq!(w["Weights"], json!({"Passing": 10, "Warning": 0}));
        assert_eq!(w["EnableTagOverride"], true);
        assert_eq!(w["Namespace"], "n");
        assert_eq!(w["Partition"], "p");
    }
}

// --- errors ------------------------------------------------------------------------------

#[test]
fn task_arn_without_a_task_id_is_an_error() {
    let cfg = config(json!({"bootstrapDir": "/c", "service": {"port": 1}}));
    // v0.6.2 would take "TaskID" from "asdf/TaskID"; a non-ARN is refused here instead of
    // registering a service named after garbage.
    for arn in [
        "asdf/TaskID",
        "",
        "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
    ] {
        let t = task_from(json!({"TaskARN": arn, "Family": "web"}));
        let err = build_registrations(&cfg, &t).unwrap_err();
        assert!(
            matches!(err, MeshError::TaskMetadata(_)),
            "{arn:?}: {err:?}"
        );
        assert!(err.to_string().contains("task ID"), "{err}");
    }
    let gw = config(json!({"bootstrapDir": "/c", "gateway": {"kind": "mesh-gateway"}}));
    let t = task_from(json!({"TaskARN": "nope", "Family": "gw"}));
    assert!(matches!(
        build_registrations(&gw, &t),
        Err(MeshError::TaskMetadata(_))
    ));
}

#[test]
fn integers_that_do_not_fit_the_consul_fields_are_errors_naming_the_field() {
    let cfg = config(json!({"bootstrapDir": "/c",
        "service": {"port": 1, "weights": {"passing": 3_000_000_000_i64, "warning": 1}}}));
    let err = build_registrations(&cfg, &task("task-web-frontend.json")).unwrap_err();
    assert!(
        matches!(&err, MeshError::OutOfRange { path, value: 3_000_000_000, .. }
            if path == "service.weights.passing"),
        "{err:?}"
    );
    let cfg = config(json!({"bootstrapDir": "/c", "service": {"port": 1,
        "checks": [{"name": "a", "ttl": "1s"},
                   {"name": "b", "ttl": "1s", "failuresBeforeCritical": -3_000_000_000_i64}]}}));
    let err = build_registrations(&cfg, &task("task-web-frontend.json")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("service.checks.1.failuresBeforeCritical: -3000000000"),
        "{err}"
    );
}
