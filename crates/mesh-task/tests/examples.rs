//! The worked examples of docs/registrations.md §9 (A–F) and the registrations of
//! docs/protocols.md §4.2, compared field by field with the JSON v0.6.2 sends.

mod common;

use common::{assert_json_eq, config, task, wire, ARN, T};
use mesh_task::{build_registrations, Registrations};
use serde_json::json;

fn meta(task_id: &str, arn: &str) -> serde_json::Value {
    json!({"task-id": task_id, "task-arn": arn, "source": "consul-ecs"})
}

fn unwrap_service(regs: &Registrations) -> (serde_json::Value, serde_json::Value) {
    match regs {
        Registrations::Service { service, proxy } => (wire(service), wire(proxy)),
        Registrations::Gateway { .. } => panic!("expected a service task, got {regs:?}"),
    }
}

fn unwrap_gateway(regs: &Registrations) -> serde_json::Value {
    match regs {
        Registrations::Gateway { gateway } => wire(gateway),
        Registrations::Service { .. } => panic!("expected a gateway task, got {regs:?}"),
    }
}

#[test]
fn example_a_default_name_synced_containers_one_upstream() {
    let cfg = config(json!({
        "bootstrapDir": "/consul", "healthSyncContainers": ["app", "worker"],
        "service": {"port": 8080, "tags": ["v1"], "meta": {"team": "web"}},
        "proxy": {"upstreams": [{"destinationName": "api", "localBindPort": 1234}]}
    }));
    let regs = build_registrations(&cfg, &task("task-web-frontend.json")).unwrap();
    let (service, proxy) = unwrap_service(&regs);

    let mut service_meta = meta(T, ARN);
    service_meta["team"] = json!("web");
    let notes = |c: &str| {
        format!(
            "consul-ecs created and updates this check because the {c} container is essential and has an ECS health check."
        )
    };
    assert_json_eq(
        &service,
        &json!({
            "ID": format!("web-frontend-{T}"),
            "Name": "web-frontend",
            "Tags": ["v1"],
            "Port": 8080,
            "Meta": service_meta,
            "Check": null,
            "Checks": [
                {"CheckID": format!("web-frontend-{T}-app-consul-ecs"), "Name": "consul ecs synced",
                 "TTL": "100000h", "Notes": notes("app")},
                {"CheckID": format!("web-frontend-{T}-worker-consul-ecs"), "Name": "consul ecs synced",
                 "TTL": "100000h", "Notes": notes("worker")}
            ]
        }),
    );
    assert_json_eq(
        &proxy,
        &json!({
            "Kind": "connect-proxy",
            "ID": format!("web-frontend-{T}-sidecar-proxy"),
            "Name": "web-frontend-sidecar-proxy",
            "Tags": ["v1"],
            "Port": 20000,
            "Meta": service_meta,
            "Check": null,
            "Checks": [
                {"Name": "Proxy Public Listener", "Interval": "10s", "TCP": "127.0.0.1:20000",
                 "DeregisterCriticalServiceAfter": "10m"},
                {"Name": "Destination Alias", "AliasService": format!("web-frontend-{T}")}
            ],
            "Proxy": {
                "DestinationServiceName": "web-frontend",
                "DestinationServiceID": format!("web-frontend-{T}"),
                "LocalServicePort": 8080,
                "Upstreams": [{"DestinationName": "api", "LocalBindPort": 1234, "MeshGateway": {}}],
                "MeshGateway": {},
                "Expose": {}
            }
        }),
    );

    // What the bootstrap step needs: `-proxy-id web-frontend-<T>-sidecar-proxy`, no
    // gateway flag, no partition/namespace.
    assert_eq!(regs.proxy_id(), format!("web-frontend-{T}-sidecar-proxy"));
    assert_eq!(regs.kind(), "connect-proxy");
    assert_eq!(regs.gateway_flag(), None);
    assert_eq!(regs.partition(), None);
    assert_eq!(regs.namespace(), None);
    assert!(!regs.is_gateway());
}

#[test]
fn example_b_named_service_user_check_enterprise_fields() {
    let cfg = config(json!({
        "bootstrapDir": "/consul", "consulLogin": {"enabled": true, "meta": {"env": "prod"}},
        "service": {"name": "frontend", "port": 8080, "weights": {"passing": 3, "warning": 1},
          "enableTagOverride": true, "namespace": "web", "partition": "team-a",
          "checks": [{"checkId": "frontend-http", "name": "HTTP", "http": "http://localhost:8080/health", "interval": "10s"}]},
        "proxy": {"publicListenerPort": 21000, "meshGateway": {"mode": "local"}, "config": {"protocol": "http"}}
    }));
    let regs = build_registrations(&cfg, &task("task-web-frontend.json")).unwrap();
    let (service, proxy) = unwrap_service(&regs);

    assert_json_eq(
        &service,
        &json!({
            "ID": format!("frontend-{T}"),
            "Name": "frontend",
            "Port": 8080,
            "EnableTagOverride": true,
            "Meta": meta(T, ARN),
            "Weights": {"Passing": 3, "Warning": 1},
            "Check": null,
            "Checks": [
                {"CheckID": "frontend-http", "Name": "HTTP", "HTTP": "http://localhost:8080/health", "Interval": "10s"}
            ],
            "Namespace": "web",
            "Partition": "team-a"
        }),
    );
    assert_json_eq(
        &proxy,
        &json!({
            "Kind": "connect-proxy",
            "ID": format!("frontend-{T}-sidecar-proxy"),
            "Name": "frontend-sidecar-proxy",
            "Port": 21000,
            "EnableTagOverride": true,
            "Meta": meta(T, ARN),
            "Weights": {"Passing": 3, "Warning": 1},
            "Check": null,
            "Checks": [
                {"Name": "Proxy Public Listener", "Interval": "10s", "TCP": "127.0.0.1:21000",
                 "DeregisterCriticalServiceAfter": "10m"},
                {"Name": "Destination Alias", "AliasService": format!("frontend-{T}")}
            ],
            "Proxy": {
                "DestinationServiceName": "frontend",
                "DestinationServiceID": format!("frontend-{T}"),
                "LocalServicePort": 8080,
                "Config": {"protocol": "http"},
                "MeshGateway": {"Mode": "local"},
                "Expose": {}
            },
            "Namespace": "web",
            "Partition": "team-a"
        }),
    );
    // `... -partition team-a -namespace web`.
    assert_eq!(regs.proxy_id(), format!("frontend-{T}-sidecar-proxy"));
    assert_eq!(regs.partition(), Some("team-a"));
    assert_eq!(regs.namespace(), Some("web"));
}

#[test]
fn example_c_mesh_gateway_with_all_defaults() {
    let cfg = config(json!({"bootstrapDir": "/consul", "gateway": {"kind": "mesh-gateway"}}));
    let regs = build_registrations(&cfg, &task("task-mesh-gateway.json")).unwrap();
    assert_json_eq(
        &unwrap_gateway(&regs),
        &json!({
            "Kind": "mesh-gateway",
            "ID": format!("Mesh-Gateway-DC1-{T}"),
            "Name": "Mesh-Gateway-DC1",
            "Port": 8443,
            "Meta": meta(T, ARN),
            "Check": null,
            "Checks": [
                {"Name": "mesh-gateway listener", "Interval": "10s", "TCP": "10.0.1.25:8443",
                 "DeregisterCriticalServiceAfter": "10m"}
            ]
        }),
    );
    // `-proxy-id Mesh-Gateway-DC1-<T> ... -gateway mesh`.
    assert_eq!(regs.proxy_id(), format!("Mesh-Gateway-DC1-{T}"));
    assert_eq!(regs.kind(), "mesh-gateway");
    assert_eq!(regs.gateway_flag(), Some("mesh"));
    assert!(regs.is_gateway());
    assert!(regs.service().is_none());
    assert_eq!(regs.in_order().len(), 1);
}

#[test]
fn example_d_mesh_gateway_with_lan_and_wan_addresses() {
    let cfg = config(json!({
        "bootstrapDir": "/consul", "gateway": {"kind": "mesh-gateway", "name": "dc1-gateway",
          "lanAddress": {"address": "10.0.1.25", "port": 9443}, "wanAddress": {"address": "203.0.113.10"},
          "tags": ["edge"], "meta": {"zone": "a"}, "partition": "ptn1", "namespace": "default",
          "proxy": {"config": {"connect_timeout_ms": 5000}}}
    }));
    let regs = build_registrations(&cfg, &task("task-mesh-gateway.json")).unwrap();
    let mut gw_meta = meta(T, ARN);
    gw_meta["zone"] = json!("a");
    assert_json_eq(
        &unwrap_gateway(&regs),
        &json!({
            "Kind": "mesh-gateway",
            "ID": format!("dc1-gateway-{T}"),
            "Name": "dc1-gateway",
            "Tags": ["edge"],
            "Port": 9443,
            "Address": "10.0.1.25",
            "TaggedAddresses": {
                "lan": {"Address": "10.0.1.25", "Port": 9443},
                "wan": {"Address": "203.0.113.10", "Port": 8443}
            },
            "Meta": gw_meta,
            "Check": null,
            "Checks": [
                {"Name": "mesh-gateway listener", "Interval": "10s", "TCP": "10.0.1.25:9443",
                 "DeregisterCriticalServiceAfter": "10m"}
            ],
            "Proxy": {"Config": {"connect_timeout_ms": 5000}, "MeshGateway": {}, "Expose": {}},
            "Namespace": "default",
            "Partition": "ptn1"
        }),
    );
    // Bootstrap tail `-gateway mesh -partition ptn1 -namespace default`.
    assert_eq!(regs.gateway_flag(), Some("mesh"));
    assert_eq!(regs.partition(), Some("ptn1"));
    assert_eq!(regs.namespace(), Some("default"));
}

#[test]
fn example_e_lan_port_only_explicit_wan_port() {
    let cfg = config(json!({
        "bootstrapDir": "/consul", "gateway": {"kind": "mesh-gateway", "lanAddress": {"port": 12345},
          "wanAddress": {"address": "203.0.113.10", "port": 443}}
    }));
    let regs = build_registrations(&cfg, &task("task-mesh-gateway.json")).unwrap();
    assert_json_eq(
        &unwrap_gateway(&regs),
        &json!({
            "Kind": "mesh-gateway",
            "ID": format!("Mesh-Gateway-DC1-{T}"),
            "Name": "Mesh-Gateway-DC1",
            "Port": 12345,
            "TaggedAddresses": {"wan": {"Address": "203.0.113.10", "Port": 443}},
            "Meta": meta(T, ARN),
            "Check": null,
            "Checks": [
                {"Name": "mesh-gateway listener", "Interval": "10s", "TCP": "10.0.1.25:12345",
                 "DeregisterCriticalServiceAfter": "10m"}
            ]
        }),
    );
}

#[test]
fn example_f_old_style_arn_on_ec2_no_service_name() {
    let cfg = config(json!({"bootstrapDir": "/consul", "service": {"port": 9090}, "proxy": {}}));
    let task = task("task-ec2-old-arn.json");
    let regs = build_registrations(&cfg, &task).unwrap();
    let (service, proxy) = unwrap_service(&regs);
    let arn = "arn:aws:ecs:us-west-2:123456789012:task/a1b2c3";
    assert_json_eq(
        &service,
        &json!({
            "ID": "billing-a1b2c3",
            "Name": "billing",
            "Port": 9090,
            "Meta": meta("a1b2c3", arn),
            "Check": null,
            "Checks": null
        }),
    );
    assert_json_eq(
        &proxy,
        &json!({
            "Kind": "connect-proxy",
            "ID": "billing-a1b2c3-sidecar-proxy",
            "Name": "billing-sidecar-proxy",
            "Port": 20000,
            "Meta": meta("a1b2c3", arn),
            "Check": null,
            "Checks": [
                {"Name": "Proxy Public Listener", "Interval": "10s", "TCP": "127.0.0.1:20000",
                 "DeregisterCriticalServiceAfter": "10m"},
                {"Name": "Destination Alias", "AliasService": "billing-a1b2c3"}
            ],
            "Proxy": {
                "DestinationServiceName": "billing",
                "DestinationServiceID": "billing-a1b2c3",
                "LocalServicePort": 9090,
                "MeshGateway": {},
                "Expose": {}
            }
        }),
    );
    // The login values the example mentions come from the task as it is (not normalised).
    assert_eq!(task.cluster(), "prod");
    assert_eq!(task.region().unwrap(), "us-west-2");
}

const FARGATE_T: &str = "0f3bca58e0f4486a95b04c1bd1d4be55";
const FARGATE_ARN: &str =
    "arn:aws:ecs:us-east-1:123456789012:task/my-cluster/0f3bca58e0f4486a95b04c1bd1d4be55";

#[test]
fn protocols_4_2_service_and_sidecar() {
    let cfg = config(json!({
        "bootstrapDir": "/consul", "healthSyncContainers": ["web"],
        "service": {"port": 9090, "tags": ["v1"]},
        "proxy": {"upstreams": [{"destinationName": "backend", "localBindPort": 1234}]}
    }));
    let regs = build_registrations(&cfg, &task("task-fargate-web.json")).unwrap();
    let order: Vec<serde_json::Value> = regs.in_order().into_iter().map(wire).collect();
    assert_eq!(order.len(), 2, "service first, then proxy");
    assert_json_eq(
        &order[0],
        &json!({
          "ID": "web-0f3bca58e0f4486a95b04c1bd1d4be55",
          "Name": "web",
          "Tags": ["v1"],
          "Port": 9090,
          "Meta": {
            "task-id": "0f3bca58e0f4486a95b04c1bd1d4be55",
            "task-arn": "arn:aws:ecs:us-east-1:123456789012:task/my-cluster/0f3bca58e0f4486a95b04c1bd1d4be55",
            "source": "consul-ecs"
          },
          "Check": null,
          "Checks": [
            {
              "CheckID": "web-0f3bca58e0f4486a95b04c1bd1d4be55-web-consul-ecs",
              "Name": "consul ecs synced",
              "TTL": "100000h",
              "Notes": "consul-ecs created and updates this check because the web container is essential and has an ECS health check."
            }
          ]
        }),
    );
    assert_json_eq(
        &order[1],
        &json!({
          "Kind": "connect-proxy",
          "ID": "web-0f3bca58e0f4486a95b04c1bd1d4be55-sidecar-proxy",
          "Name": "web-sidecar-proxy",
          "Tags": ["v1"],
          "Port": 20000,
          "Meta": {
            "task-id": "0f3bca58e0f4486a95b04c1bd1d4be55",
            "task-arn": "arn:aws:ecs:us-east-1:123456789012:task/my-cluster/0f3bca58e0f4486a95b04c1bd1d4be55",
            "source": "consul-ecs"
          },
          "Check": null,
          "Checks": [
            {"Name": "Proxy Public Listener", "Interval": "10s", "TCP": "127.0.0.1:20000", "DeregisterCriticalServiceAfter": "10m"},
            {"Name": "Destination Alias", "AliasService": "web-0f3bca58e0f4486a95b04c1bd1d4be55"}
          ],
          "Proxy": {
            "DestinationServiceName": "web",
            "DestinationServiceID": "web-0f3bca58e0f4486a95b04c1bd1d4be55",
            "LocalServicePort": 9090,
            "Upstreams": [
              {"DestinationName": "backend", "LocalBindPort": 1234, "MeshGateway": {}}
            ],
            "MeshGateway": {},
            "Expose": {}
          }
        }),
    );
}

#[test]
fn protocols_4_2_gateway() {
    let cfg = config(json!({
        "bootstrapDir": "/consul",
        "gateway": {"kind": "mesh-gateway", "name": "mesh-gw",
          "lanAddress": {"address": "10.0.1.23"},
          "wanAddress": {"address": "203.0.113.10", "port": 443},
          "proxy": {"config": {"envoy_gateway_no_default_bind": true}}}
    }));
    let regs = build_registrations(&cfg, &task("task-fargate-web.json")).unwrap();
    assert_json_eq(
        &unwrap_gateway(&regs),
        &json!({
          "Kind": "mesh-gateway",
          "ID": "mesh-gw-0f3bca58e0f4486a95b04c1bd1d4be55",
          "Name": "mesh-gw",
          "Port": 8443,
          "Address": "10.0.1.23",
          "TaggedAddresses": {
            "lan": {"Address": "10.0.1.23", "Port": 8443},
            "wan": {"Address": "203.0.113.10", "Port": 443}
          },
          "Meta": meta(FARGATE_T, FARGATE_ARN),
          "Check": null,
          "Checks": [
            {"Name": "mesh-gateway listener", "Interval": "10s", "TCP": "10.0.1.23:8443", "DeregisterCriticalServiceAfter": "10m"}
          ],
          "Proxy": {"Config": {"envoy_gateway_no_default_bind": true}, "MeshGateway": {}, "Expose": {}}
        }),
    );
}

/// The comparison used above really fails, and says where.
#[test]
#[should_panic(expected = "$.Checks[0].TCP: got \"10.0.1.25:8443\", expected \"10.0.1.25:1\"")]
fn comparison_names_the_differing_path() {
    let cfg = config(json!({"bootstrapDir": "/consul", "gateway": {"kind": "mesh-gateway"}}));
    let regs = build_registrations(&cfg, &task("task-mesh-gateway.json")).unwrap();
    let mut expected = unwrap_gateway(&regs);
    expected["Checks"][0]["TCP"] = json!("10.0.1.25:1");
    assert_json_eq(&unwrap_gateway(&regs), &expected);
}
