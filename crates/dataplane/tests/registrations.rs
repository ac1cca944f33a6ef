//! The catalog registrations of a v0.10 task, from upstream v0.10.0's own test configs
//! (`tests/data/compat/v0.10/resources`) and task metadata as ECS reports it.

use std::path::PathBuf;

use consul::CatalogRegistration;
use dataplane::{build_registrations, CatalogRegistrations};
use serde_json::{json, Value};

fn resource(name: &str) -> Value {
    let path: PathBuf = testkit::paths::compat_dir()
        .join("v0.10")
        .join("resources")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn config(doc: &Value) -> config::dataplane::Config {
    config::dataplane::parse(&doc.to_string()).unwrap()
}

const TASK_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:task/prod/abc123";
const CLUSTER_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";

/// An EC2 task: `Cluster` is the short name, which the node name expands from the task ARN.
fn ec2_task() -> ecs::TaskMetadata {
    serde_json::from_value(json!({
        "Cluster": "prod", "TaskARN": TASK_ARN, "Family": "Web-App",
        "AvailabilityZone": "us-east-1a", "LaunchType": "EC2",
        "Containers": [{"Name": "app", "Networks": [{"NetworkMode": "awsvpc",
                        "IPv4Addresses": ["10.1.2.3"]}]}]
    }))
    .unwrap()
}

fn body(registration: &CatalogRegistration) -> Value {
    serde_json::to_value(registration).unwrap()
}

fn build(doc: &Value) -> CatalogRegistrations {
    build_registrations(&config(doc), &ec2_task(), Some("us-east-1")).unwrap()
}

#[test]
fn a_service_task_registers_service_then_proxy_on_the_synthetic_node() {
    let regs = build(&resource("test_config.json"));
    let bodies: Vec<Value> = regs.in_order().iter().map(body).collect();
    let not_ready = "Service blah is not ready";
    assert_eq!(
        bodies[0],
        json!({
            "Node": CLUSTER_ARN,
            "Address": "10.1.2.3",
            "NodeMeta": {"synthetic-node": "true"},
            "SkipNodeUpdate": true,
            "Service": {
                "ID": "blah-abc123",
                "Service": "blah",
                "Tags": ["tag1"],
                "Meta": {"a": "1", "source": "consul-ecs", "task-arn": TASK_ARN,
                         "task-id": "abc123"},
                "Port": 1234,
                "Address": "10.1.2.3",
                "TaggedAddresses": {"virtual": {"Address": "10.1.2.3", "Port": 1234}},
                "Locality": {"Region": "us-east-1", "Zone": "us-east-1a"}
            },
            "Checks": [
                {"CheckID": "blah-abc123-container1", "Name": "Consul ECS health check synced",
                 "Status": "critical", "Output": not_ready, "ServiceID": "blah-abc123",
                 "Type": "consul-ecs-health-check",
                 "Notes": "consul-ecs created and updates this check because the container1 \
                           container has an ECS health check."},
                {"CheckID": "blah-abc123-consul-dataplane", "Name": "Consul dataplane readiness",
                 "Status": "critical", "Output": not_ready, "ServiceID": "blah-abc123",
                 "Type": "consul-ecs-health-check",
                 "Notes": "consul-ecs created and updates this check to indicate \
                           consul-dataplane container's readiness"}
            ]
        })
    );
    assert_eq!(
        bodies[1]["Service"],
        json!({
            "Kind": "connect-proxy",
            "ID": "blah-abc123-sidecar-proxy",
            "Service": "blah-sidecar-proxy",
            "Tags": ["tag1"],
            "Meta": bodies[0]["Service"]["Meta"],
            "Port": 20000,
            "Address": "10.1.2.3",
            "TaggedAddresses": {"virtual": {"Address": "10.1.2.3", "Port": 1234}},
            "Proxy": {
                "DestinationServiceName": "blah",
                "DestinationServiceID": "blah-abc123",
                "LocalServicePort": 1234,
                "Mode": "transparent",
                "Upstreams": [{"DestinationName": "asdf", "LocalBindPort": 543,
                               "MeshGateway": {}}],
                "MeshGateway": {},
                "Expose": {}
            },
            "Locality": {"Region": "us-east-1", "Zone": "us-east-1a"}
        })
    );
    assert_eq!(
        bodies[1]["Checks"],
        json!([{"CheckID": "blah-abc123-sidecar-proxy-consul-dataplane",
                "Name": "Consul dataplane readiness", "Status": "critical",
                "Output": "Service blah-sidecar-proxy is not ready",
                "ServiceID": "blah-abc123-sidecar-proxy", "Type": "consul-ecs-health-check",
                "Notes": "consul-ecs created and updates this check to indicate \
                          consul-dataplane container's readiness"}])
    );
    for shared in ["Node", "Address", "NodeMeta", "SkipNodeUpdate"] {
        assert_eq!(bodies[1][shared], bodies[0][shared], "{shared}");
    }
    assert_eq!(regs.node(), CLUSTER_ARN);
    assert_eq!(regs.main_service().id, "blah-abc123");
    assert_eq!(regs.proxy().service.id, "blah-abc123-sidecar-proxy");
    assert!(!regs.is_gateway());
    assert_eq!((regs.namespace(), regs.partition()), (None, None));
}

#[test]
fn every_field_of_the_extensive_config_reaches_the_service_and_proxy() {
    let mut doc = resource("test_extensive_config.json");
    // The extensive config also has a gateway, which makes it a gateway task; without
    // it, it is the fullest service task upstream tests.
    doc.as_object_mut().unwrap().remove("gateway");
    let regs = build(&doc);
    let [service, proxy]: [Value; 2] = regs
        .in_order()
        .iter()
        .map(body)
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    assert_eq!(service["Partition"], "test-partition");
    let svc = &service["Service"];
    assert_eq!(svc["ID"], "frontend-abc123");
    assert_eq!(svc["Weights"], json!({"Passing": 6, "Warning": 5}));
    assert_eq!(svc["EnableTagOverride"], true);
    assert_eq!(svc["Meta"]["env"], "test");
    assert_eq!(
        (&svc["Namespace"], &svc["Partition"]),
        (&json!("test-ns"), &json!("test-partition"))
    );
    let checks = service["Checks"].as_array().unwrap();
    assert_eq!(checks[0]["CheckID"], "frontend-abc123-frontend");
    assert!(
        checks.iter().all(|c| c["Namespace"] == "test-ns"),
        "{checks:?}"
    );

    let p = &proxy["Service"];
    assert_eq!(p["Port"], 21000);
    assert_eq!(p["Weights"], svc["Weights"]);
    assert_eq!(p["EnableTagOverride"], true);
    assert_eq!(p["Namespace"], "test-ns");
    assert_eq!(
        p["Proxy"],
        json!({
            "DestinationServiceName": "frontend",
            "DestinationServiceID": "frontend-abc123",
            "LocalServiceAddress": "10.10.10.10",
            "LocalServicePort": 8080,
            "Mode": "transparent",
            "Config": {"data": "some-config-data"},
            "Upstreams": [{
                "DestinationType": "service", "DestinationPartition": "test-partition",
                "DestinationNamespace": "test-ns", "DestinationPeer": "test-peer",
                "DestinationName": "backend", "Datacenter": "dc2",
                "LocalBindAddress": "localhost", "LocalBindPort": 1234,
                "Config": {"data": "some-upstream-config-data"},
                "MeshGateway": {"Mode": "local"}
            }],
            "MeshGateway": {"Mode": "local"},
            "Expose": {"Checks": true, "Paths": [{"ListenerPort": 20001, "Path": "/things",
                                                  "LocalPathPort": 8080, "Protocol": "http2"}]}
        })
    );
    assert_eq!(regs.namespace(), Some("test-ns"));
    assert_eq!(regs.partition(), Some("test-partition"));
}

#[test]
fn a_gateway_task_registers_only_the_gateway_with_its_tagged_addresses() {
    let regs = build(&resource("test_extensive_config.json"));
    assert!(regs.is_gateway());
    assert!(regs.service().is_none());
    let bodies: Vec<Value> = regs.in_order().iter().map(body).collect();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["Partition"], "ptn1");
    assert_eq!(
        bodies[0]["Service"],
        json!({
            "Kind": "mesh-gateway",
            "ID": "ecs-mesh-gateway-abc123",
            "Service": "ecs-mesh-gateway",
            "Tags": ["a", "b"],
            "Meta": {"env": "test", "version": "x.y.z", "source": "consul-ecs",
                     "task-arn": TASK_ARN, "task-id": "abc123"},
            "Port": 8443,
            "Address": "10.0.0.1",
            "TaggedAddresses": {"lan": {"Address": "10.0.0.1", "Port": 8443},
                                "wan": {"Address": "172.16.0.0", "Port": 443}},
            "Proxy": {"Config": {"data": "some-config-data"}, "MeshGateway": {}, "Expose": {}},
            "Locality": {"Region": "us-east-1", "Zone": "us-east-1a"},
            "Namespace": "ns1",
            "Partition": "ptn1"
        })
    );
    let checks = bodies[0]["Checks"].as_array().unwrap();
    assert_eq!(checks.len(), 1, "only the dataplane check: {checks:?}");
    assert_eq!(
        checks[0]["CheckID"],
        "ecs-mesh-gateway-abc123-consul-dataplane"
    );
    assert_eq!(checks[0]["Output"], "Service ecs-mesh-gateway is not ready");
    assert_eq!(regs.main_service().id, "ecs-mesh-gateway-abc123");
}

#[test]
fn a_gateway_without_addresses_takes_the_task_address_and_family_name() {
    let doc = json!({"bootstrapDir": "/consul", "consulServers": {"hosts": "consul"},
                     "gateway": {"kind": "terminating-gateway"}});
    let regs = build(&doc);
    let gateway = &regs.proxy().service;
    assert_eq!(
        gateway.service, "Web-App",
        "a gateway name keeps the family's case"
    );
    assert_eq!(gateway.kind, "terminating-gateway");
    assert_eq!((gateway.address.as_str(), gateway.port), ("10.1.2.3", 8443));
    assert!(gateway.tagged_addresses.is_empty());
    assert!(gateway.proxy.is_none());
}

#[test]
fn without_proxy_or_transparent_proxy_there_is_no_mode_and_no_virtual_address() {
    // consul-ecs v0.10 crashed on a service task without `proxy`.
    let doc = json!({"bootstrapDir": "/consul", "consulServers": {"hosts": "consul"},
                     "service": {"port": 8080}, "transparentProxy": {"enabled": false}});
    let regs = build(&doc);
    let service = &regs.service().unwrap().service;
    assert_eq!(service.service, "web-app", "the family, lower-cased");
    assert!(service.tagged_addresses.is_empty());
    let proxy = &regs.proxy().service;
    assert_eq!(proxy.port, 20000);
    let block = proxy.proxy.as_ref().unwrap();
    assert_eq!(block.mode, "");
    assert_eq!(block.destination_service_id, "web-app-abc123");
    assert!(proxy.tagged_addresses.is_empty());
    let checks = &regs.service().unwrap().checks;
    assert_eq!(
        checks.len(),
        1,
        "no health-sync containers: only the dataplane check"
    );
}

#[test]
fn the_address_falls_back_to_loopback_and_locality_needs_region_or_zone() {
    let task: ecs::TaskMetadata = serde_json::from_value(json!({
        "Cluster": CLUSTER_ARN, "TaskARN": TASK_ARN, "Family": "web"
    }))
    .unwrap();
    let cfg = config(&resource("test_config.json"));
    let regs = build_registrations(&cfg, &task, None).unwrap();
    let body = body(&regs.in_order()[0]);
    assert_eq!(body["Address"], "127.0.0.1");
    assert_eq!(body["Service"]["Address"], "127.0.0.1");
    assert_eq!(
        body["Node"], CLUSTER_ARN,
        "a Fargate task's Cluster is the ARN already"
    );
    assert!(body["Service"].get("Locality").is_none(), "{body}");

    let regs = build_registrations(&cfg, &task, Some("eu-west-1")).unwrap();
    assert_eq!(
        body_of(&regs)["Service"]["Locality"],
        json!({"Region": "eu-west-1"})
    );
}

fn body_of(regs: &CatalogRegistrations) -> Value {
    body(&regs.in_order()[0])
}

#[test]
fn a_user_meta_key_wins_over_the_built_in_one() {
    let doc = json!({"bootstrapDir": "/consul", "consulServers": {"hosts": "consul"},
                     "service": {"port": 8080, "meta": {"source": "mine"}}});
    let regs = build(&doc);
    assert_eq!(regs.main_service().meta["source"], "mine");
    assert_eq!(regs.proxy().service.meta["source"], "mine");
}

#[test]
fn a_task_arn_without_a_task_id_or_weights_out_of_range_are_errors() {
    let cfg = config(&resource("test_config.json"));
    let task: ecs::TaskMetadata =
        serde_json::from_value(json!({"TaskARN": "not-an-arn", "Family": "web"})).unwrap();
    let err = build_registrations(&cfg, &task, None).unwrap_err();
    assert!(
        matches!(err, mesh_task::MeshError::TaskMetadata(_)),
        "{err:?}"
    );

    let doc = json!({"bootstrapDir": "/consul", "consulServers": {"hosts": "consul"},
                     "service": {"port": 8080, "weights": {"passing": 3_000_000_000i64,
                                                           "warning": 1}}});
    let err = build_registrations(&config(&doc), &ec2_task(), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "service.weights.passing: 3000000000 is out of range (expected -2147483648..=2147483647)"
    );
}
