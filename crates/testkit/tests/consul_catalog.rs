//! The Consul emulator's server-side catalog (dataplane layout), driven with raw HTTP:
//! register/deregister with Consul 1.15's validation texts and ACL rules, node-services and
//! health checks with filters and namespaces, and the service-defaults entry's ACL.

mod common;

use common::call;
use serde_json::{json, Value};
use testkit::consul::{ConsulEmulator, EmulatorOptions};

const NODE: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/test";

fn consul(acls: bool, enterprise: bool) -> ConsulEmulator {
    ConsulEmulator::start(EmulatorOptions {
        acls_enabled: acls,
        enterprise,
        ..EmulatorOptions::default()
    })
}

fn node_registration() -> Value {
    json!({
        "Node": NODE,
        "Address": "127.0.0.1",
        "NodeMeta": {"synthetic-node": "true"},
    })
}

fn service_registration() -> Value {
    json!({
        "Node": NODE,
        "Address": "127.0.0.1",
        "NodeMeta": {"synthetic-node": "true"},
        "SkipNodeUpdate": true,
        "Service": {
            "ID": "web-abc",
            "Service": "web",
            "Port": 9090,
            "Address": "10.0.0.5",
            "Meta": {"task-id": "abc", "source": "consul-ecs"},
        },
        "Checks": [
            {"CheckID": "web-abc-app", "Name": "Consul ECS health check synced", "ServiceID": "web-abc",
             "Status": "critical", "Output": "Service web is not ready", "Type": "consul-ecs-health-check"},
            {"CheckID": "web-abc-consul-dataplane", "Name": "Consul dataplane readiness", "ServiceID": "web-abc",
             "Type": "consul-ecs-health-check"},
        ],
    })
}

fn proxy_registration() -> Value {
    json!({
        "Node": NODE,
        "Address": "127.0.0.1",
        "SkipNodeUpdate": true,
        "Service": {
            "Kind": "connect-proxy",
            "ID": "web-abc-sidecar-proxy",
            "Service": "web-sidecar-proxy",
            "Port": 20000,
            "Proxy": {"DestinationServiceName": "web", "DestinationServiceID": "web-abc", "LocalServicePort": 9090},
        },
        "Checks": [
            {"CheckID": "web-abc-sidecar-proxy-consul-dataplane", "Name": "Consul dataplane readiness",
             "ServiceID": "web-abc-sidecar-proxy", "Type": "consul-ecs-health-check"},
        ],
    })
}

#[tokio::test]
async fn register_then_read_back_node_services_and_checks() {
    let consul = consul(false, false);
    for body in [
        node_registration(),
        service_registration(),
        proxy_registration(),
    ] {
        let r = call(&consul, "PUT", "/v1/catalog/register", None, Some(body)).await;
        assert_eq!((r.status, r.body.as_str()), (200, "true"));
    }
    let path = format!("/v1/catalog/node-services/{NODE}");
    let r = call(&consul, "GET", &path, None, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let escaped = NODE.replace('/', "%2F").replace(':', "%3A");
    let r2 = call(
        &consul,
        "GET",
        &format!("/v1/catalog/node-services/{escaped}"),
        None,
        None,
    )
    .await;
    assert_eq!(
        r2.json(),
        r.json(),
        "the escaped node name reads the same node"
    );
    let v = r.json();
    assert_eq!(v["Node"]["Node"], NODE);
    assert_eq!(v["Node"]["Address"], "127.0.0.1");
    assert_eq!(v["Node"]["Meta"], json!({"synthetic-node": "true"}));
    assert_eq!(v["Node"]["Datacenter"], "dc1");
    assert!(v["Node"].get("Partition").is_none(), "CE has no Partition");
    let services = v["Services"].as_array().unwrap();
    assert_eq!(services.len(), 2);
    let web = services.iter().find(|s| s["ID"] == "web-abc").unwrap();
    assert_eq!(web["Service"], "web");
    assert_eq!(web["Tags"], json!([]));
    assert_eq!(web["Weights"], json!({"Passing": 1, "Warning": 1}));
    assert_eq!(web["Proxy"], json!({"MeshGateway": {}, "Expose": {}}));
    assert!(web.get("Kind").is_none());
    let proxy = services
        .iter()
        .find(|s| s["Kind"] == "connect-proxy")
        .unwrap();
    assert_eq!(proxy["Proxy"]["DestinationServiceID"], "web-abc");

    // Filtered by ServiceID, as health-sync reads its checks.
    let r = call(
        &consul,
        "GET",
        "/v1/health/checks/web?filter=ServiceID%20%3D%3D%20%22web-abc%22",
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let checks = r.json();
    let checks = checks.as_array().unwrap();
    assert_eq!(checks.len(), 2);
    let dataplane = checks
        .iter()
        .find(|c| c["CheckID"] == "web-abc-consul-dataplane")
        .unwrap();
    assert_eq!(
        dataplane["Status"], "critical",
        "an empty Status is stored as critical"
    );
    assert_eq!(dataplane["ServiceName"], "web");
    assert_eq!(dataplane["Node"], NODE);
    assert_eq!(dataplane["Type"], "consul-ecs-health-check");

    // One write updates a check; the service's other fields stay.
    let mut update = service_registration();
    update["Checks"] = json!([{"CheckID": "web-abc-app", "ServiceID": "web-abc", "Status": "passing",
        "Output": "ECS health status is \"HEALTHY\" for container \"web-abc-app\"", "Type": "consul-ecs-health-check"}]);
    let r = call(&consul, "PUT", "/v1/catalog/register", None, Some(update)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(&consul, "GET", "/v1/health/checks/web", None, None).await;
    let checks = r.json();
    let app = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["CheckID"] == "web-abc-app")
        .unwrap()
        .clone();
    assert_eq!(app["Status"], "passing");
    assert!(app["CreateIndex"].as_u64() < app["ModifyIndex"].as_u64());

    // A bad filter is Consul's 400.
    let r = call(
        &consul,
        "GET",
        "/v1/health/checks/web?filter=ServiceID%20%3D%3D",
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body
            .starts_with("Failed to create evaluator for expression"),
        "{}",
        r.body
    );

    // Unknown node and unknown service answer empty, not 404.
    let r = call(&consul, "GET", "/v1/catalog/node-services/nope", None, None).await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"Node": null, "Services": []}))
    );
    let r = call(&consul, "GET", "/v1/health/checks/nope", None, None).await;
    assert_eq!((r.status, r.json()), (200, json!([])));
}

#[tokio::test]
async fn deregister_removes_service_with_its_checks_then_the_node() {
    let consul = consul(false, false);
    for body in [service_registration(), proxy_registration()] {
        let r = call(&consul, "PUT", "/v1/catalog/register", None, Some(body)).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = call(
        &consul,
        "PUT",
        "/v1/catalog/deregister",
        None,
        Some(json!({"Node": NODE, "ServiceID": "web-abc"})),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, "true"));
    let r = call(&consul, "GET", "/v1/health/checks/web", None, None).await;
    assert_eq!(r.json(), json!([]));
    let path = format!("/v1/catalog/node-services/{NODE}");
    let v = call(&consul, "GET", &path, None, None).await.json();
    assert_eq!(v["Services"].as_array().unwrap().len(), 1);

    // Deregistering what is gone succeeds (no ACLs), as Consul's state store does.
    let r = call(
        &consul,
        "PUT",
        "/v1/catalog/deregister",
        None,
        Some(json!({"Node": NODE, "ServiceID": "web-abc"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let r = call(
        &consul,
        "PUT",
        "/v1/catalog/deregister",
        None,
        Some(json!({"Node": NODE})),
    )
    .await;
    assert_eq!(r.status, 200);
    let v = call(&consul, "GET", &path, None, None).await.json();
    assert_eq!(v["Node"], Value::Null);
}

#[tokio::test]
async fn bad_registrations_get_consuls_texts() {
    let consul = consul(false, false);
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"Address": "1.2.3.4"}), 500, "Must provide node"),
        (
            json!({"Node": "n"}),
            500,
            "Must provide address if SkipNodeUpdate is not set",
        ),
        (
            json!({"Node": "n", "Address": "a", "ID": "nope"}),
            500,
            "Bad node ID: uuid string is wrong length",
        ),
        (
            json!({"Node": "n", "Address": "a", "Service": {"ID": "x"}}),
            500,
            "Must provide service name (Service.Service) when service ID is provided",
        ),
        (
            json!({"Node": "n", "Address": "a", "Service": {"Service": "x", "Address": "0.0.0.0"}}),
            500,
            "Invalid service address",
        ),
        (
            json!({"Node": "n", "Address": "a", "Service": {"Service": "p", "Kind": "connect-proxy"}}),
            500,
            "2 errors occurred:\n\t* Proxy.DestinationServiceName must be non-empty for Connect proxy services\n\t* Port or SocketPath must be set for a connect-proxy\n\n",
        ),
        (
            json!({"Node": "n", "Address": "a", "Checks": [{"CheckID": "c", "ServiceID": "missing"}]}),
            500,
            "Unknown service ID 'missing' for check ID 'c'",
        ),
        (
            json!({"Node": "n", "Address": "a", "Checks": [{"CheckID": "c", "Node": "other"}]}),
            500,
            "Node 'other' for check 'c' doesn't match register request node 'n'",
        ),
        (
            json!({"Node": "n", "Address": "a", "Partition": "p"}),
            400,
            "Request decode failed: json: unknown field \"Partition\"",
        ),
        (
            json!({"Node": "n", "Address": "a", "Service": {"Service": "s", "Namespace": "ns"}}),
            400,
            "Request decode failed: json: unknown field \"Namespace\"",
        ),
    ];
    for (body, status, text) in cases {
        let r = call(
            &consul,
            "PUT",
            "/v1/catalog/register",
            None,
            Some(body.clone()),
        )
        .await;
        assert_eq!((r.status, r.body.as_str()), (status, text), "{body}");
    }
    let r = call(
        &consul,
        "PUT",
        "/v1/catalog/register",
        None,
        Some(json!({"Node": 3})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body.starts_with("Request decode failed: "), "{}", r.body);
    let r = call(&consul, "GET", "/v1/catalog/register", None, None).await;
    assert_eq!(r.status, 405);
    let r = call(
        &consul,
        "PUT",
        "/v1/catalog/deregister",
        None,
        Some(json!({})),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (500, "Must provide node"));
    let r = call(&consul, "GET", "/v1/catalog/node-services/", None, None).await;
    assert_eq!((r.status, r.body.as_str()), (400, "Missing node name"));
    let r = call(&consul, "GET", "/v1/health/checks/", None, None).await;
    assert_eq!((r.status, r.body.as_str()), (400, "Missing service name"));
    // Nothing was stored by the failed requests.
    let r = call(&consul, "GET", "/v1/catalog/node-services/n", None, None).await;
    assert_eq!(r.json()["Node"], Value::Null);
}

#[tokio::test]
async fn acl_rules_of_register_and_deregister() {
    let consul = consul(true, false);
    let web = consul.create_service_token("web");
    let node_writer = consul.create_token_with_rules(r#"node_prefix "" { policy = "write" }"#);

    // A service token may not create the node (node:write) ...
    let r = call(
        &consul,
        "PUT",
        "/v1/catalog/register",
        Some(&web.secret_id),
        Some(service_registration()),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        r.body,
        format!(
            "Permission denied: token with AccessorID '{}' lacks permission 'node:write' on {NODE:?}",
            web.accessor_id
        )
    );
    // ... but once the node exists it registers with SkipNodeUpdate.
    let r = call(
        &consul,
        "PUT",
        "/v1/catalog/register",
        Some(&node_writer.secret_id),
        Some(node_registration()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for body in [service_registration(), proxy_registration()] {
        let r = call(
            &consul,
            "PUT",
            "/v1/catalog/register",
            Some(&web.secret_id),
            Some(body),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // Changing the node without SkipNodeUpdate needs node:write again.
    let mut moved = service_registration();
    moved["SkipNodeUpdate"] = json!(false);
    moved["Address"] = json!("10.9.9.9");
    let r = call(
        &consul,
        "PUT",
        "/v1/catalog/register",
        Some(&web.secret_id),
        Some(moved),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);

    // Another service's token may not overwrite web's registration or its checks.
    let api = consul.create_service_token("api");
    let r = call(
        &consul,
        "PUT",
        "/v1/catalog/register",
        Some(&api.secret_id),
        Some(service_registration()),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(
        r.body
            .contains("lacks permission 'service:write' on \"web\""),
        "{}",
        r.body
    );
    let r = call(
        &consul,
        "PUT",
        "/v1/catalog/register",
        Some(&api.secret_id),
        Some(json!({"Node": NODE, "SkipNodeUpdate": true,
            "Checks": [{"CheckID": "web-abc-app", "ServiceID": "web-abc", "Status": "passing"}]})),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // Taking over web's service ID under api's own name is refused with the bare text.
    let takeover = json!({"Node": NODE, "SkipNodeUpdate": true,
        "Service": {"ID": "web-abc", "Service": "api", "Port": 1}});
    let r = call(
        &consul,
        "PUT",
        "/v1/catalog/register",
        Some(&api.secret_id),
        Some(takeover),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (403, "Permission denied"));
    // A proxy needs write on its destination.
    let mut proxy = proxy_registration();
    proxy["Service"]["Service"] = json!("api-sidecar-proxy");
    proxy["Service"]["ID"] = json!("api-x-sidecar-proxy");
    proxy["Checks"] = json!([]);
    let r = call(
        &consul,
        "PUT",
        "/v1/catalog/register",
        Some(&api.secret_id),
        Some(proxy),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("'service:write' on \"web\""), "{}", r.body);

    // Reads are filtered, not refused: a node reader sees the node but no service.
    let node_reader = consul.create_token_with_rules(r#"node_prefix "" { policy = "read" }"#);
    let path = format!("/v1/catalog/node-services/{NODE}");
    let v = call(&consul, "GET", &path, Some(&node_reader.secret_id), None)
        .await
        .json();
    assert_eq!(v["Services"], json!([]));
    assert_eq!(v["Node"]["Node"], NODE);
    let v = call(&consul, "GET", &path, Some(&api.secret_id), None)
        .await
        .json();
    assert_eq!(
        v["Services"].as_array().unwrap().len(),
        2,
        "service identities read every service"
    );
    let anonymous = call(&consul, "GET", &path, None, None).await.json();
    assert_eq!(anonymous, json!({"Node": null, "Services": []}));
    let r = call(
        &consul,
        "GET",
        "/v1/health/checks/web",
        Some(&node_reader.secret_id),
        None,
    )
    .await;
    assert_eq!((r.status, r.json()), (200, json!([])));
    let r = call(
        &consul,
        "GET",
        "/v1/health/checks/web",
        Some(&web.secret_id),
        None,
    )
    .await;
    assert_eq!(r.json().as_array().unwrap().len(), 2);

    // Deregistration: another service's token is refused; an unknown ID without node:write
    // is Consul's 500; the service's own token succeeds.
    let dereg = json!({"Node": NODE, "ServiceID": "web-abc"});
    let r = call(
        &consul,
        "PUT",
        "/v1/catalog/deregister",
        Some(&api.secret_id),
        Some(dereg.clone()),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = call(
        &consul,
        "PUT",
        "/v1/catalog/deregister",
        Some(&web.secret_id),
        Some(json!({"Node": NODE, "ServiceID": "gone"})),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "Unknown service ID 'gone'")
    );
    let r = call(
        &consul,
        "PUT",
        "/v1/catalog/deregister",
        Some(&web.secret_id),
        Some(json!({"Node": NODE, "CheckID": "gone"})),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "Unknown check ID 'gone'")
    );
    let r = call(
        &consul,
        "PUT",
        "/v1/catalog/deregister",
        Some(&web.secret_id),
        Some(dereg),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Removing the node needs node:write.
    let node_only = json!({"Node": NODE});
    let r = call(
        &consul,
        "PUT",
        "/v1/catalog/deregister",
        Some(&web.secret_id),
        Some(node_only.clone()),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("'node:write'"), "{}", r.body);
    let r = call(
        &consul,
        "PUT",
        "/v1/catalog/deregister",
        Some(&node_writer.secret_id),
        Some(node_only),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn enterprise_scopes_services_by_namespace_and_nodes_by_partition() {
    let consul = consul(false, true);
    let mut in_ns = service_registration();
    in_ns["Service"]["Namespace"] = json!("team");
    for check in in_ns["Checks"].as_array_mut().unwrap() {
        check["Namespace"] = json!("team");
    }
    let r = call(&consul, "PUT", "/v1/catalog/register", None, Some(in_ns)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let path = format!("/v1/catalog/node-services/{NODE}");
    let v = call(&consul, "GET", &path, None, None).await.json();
    assert_eq!(v["Node"]["Partition"], "default");
    assert_eq!(v["Services"], json!([]), "the default namespace has none");
    let v = call(&consul, "GET", &format!("{path}?ns=team"), None, None)
        .await
        .json();
    assert_eq!(v["Services"][0]["Namespace"], "team");
    assert_eq!(v["Services"][0]["Partition"], "default");
    let v = call(&consul, "GET", &format!("{path}?ns=*"), None, None)
        .await
        .json();
    assert_eq!(v["Services"].as_array().unwrap().len(), 1);
    let r = call(&consul, "GET", "/v1/health/checks/web?ns=team", None, None).await;
    assert_eq!(r.json().as_array().unwrap().len(), 2);
    let r = call(&consul, "GET", "/v1/health/checks/web", None, None).await;
    assert_eq!(r.json(), json!([]));
    // Another partition does not see the node.
    let v = call(
        &consul,
        "GET",
        &format!("{path}?partition=other"),
        None,
        None,
    )
    .await
    .json();
    assert_eq!(v["Node"], Value::Null);
}

#[tokio::test]
async fn service_defaults_need_service_rights_not_mesh() {
    let consul = consul(true, false);
    let web = consul.create_service_token("web");
    let api = consul.create_service_token("api");
    let entry = json!({"Kind": "service-defaults", "Name": "web", "Protocol": "http"});
    let r = call(
        &consul,
        "PUT",
        "/v1/config",
        Some(&api.secret_id),
        Some(entry.clone()),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("'service:write' on \"web\""), "{}", r.body);
    let r = call(
        &consul,
        "GET",
        "/v1/config/service-defaults/web",
        Some(&web.secret_id),
        None,
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        "Config entry not found for \"service-defaults\" / \"web\""
    );
    let r = call(
        &consul,
        "PUT",
        "/v1/config",
        Some(&web.secret_id),
        Some(entry),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, "true"));
    let r = call(
        &consul,
        "GET",
        "/v1/config/service-defaults/web",
        Some(&web.secret_id),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["Protocol"], "http");
    // Read is checked before the lookup (a service identity reads every service).
    let r = call(
        &consul,
        "GET",
        "/v1/config/service-defaults/nope",
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // Other kinds keep their mesh:write rule.
    let r = call(
        &consul,
        "PUT",
        "/v1/config",
        Some(&web.secret_id),
        Some(json!({"Kind": "proxy-defaults", "Name": "global"})),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("'mesh:write'"), "{}", r.body);
}
