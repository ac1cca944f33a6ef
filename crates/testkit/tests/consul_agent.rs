//! The Consul emulator's agent endpoints, driven with raw HTTP: validation and its texts,
//! agent defaults, ACL enforcement, fault injection and going down/up.

mod common;

use std::time::Duration;

use common::call;
use serde_json::{json, Value};
use testkit::consul::{ConsulEmulator, EmulatorOptions};

fn acl_consul() -> ConsulEmulator {
    ConsulEmulator::start(EmulatorOptions {
        acls_enabled: true,
        ..EmulatorOptions::default()
    })
}

fn sidecar_registration() -> Value {
    json!({
        "Kind": "connect-proxy",
        "ID": "web-abc-sidecar-proxy",
        "Name": "web-sidecar-proxy",
        "Tags": ["v1"],
        "Port": 20000,
        "Meta": {"task-id": "abc", "source": "consul-ecs"},
        "Check": null,
        "Checks": [
            {"Name": "Proxy Public Listener", "Interval": "10s", "TCP": "127.0.0.1:20000", "DeregisterCriticalServiceAfter": "10m"},
            {"Name": "Destination Alias", "AliasService": "web-abc"}
        ],
        "Proxy": {
            "DestinationServiceName": "web",
            "DestinationServiceID": "web-abc",
            "LocalServicePort": 9090,
            "Upstreams": [{"DestinationName": "backend", "LocalBindPort": 1234, "MeshGateway": {}}],
            "MeshGateway": {},
            "Expose": {}
        }
    })
}

fn service_registration() -> Value {
    json!({
        "ID": "web-abc",
        "Name": "web",
        "Tags": ["v1"],
        "Port": 9090,
        "Meta": {"task-id": "abc"},
        "Check": null,
        "Checks": [{"CheckID": "web-abc-web-consul-ecs", "Name": "consul ecs synced", "TTL": "100000h", "Notes": "n"}]
    })
}

#[tokio::test]
async fn registration_is_stored_with_agent_defaults() {
    let consul = ConsulEmulator::start(EmulatorOptions::default());
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        None,
        Some(service_registration()),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        None,
        Some(sidecar_registration()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let r = call(
        &consul,
        "GET",
        "/v1/agent/service/web-abc-sidecar-proxy",
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let svc = r.json();
    assert_eq!(svc["Service"], "web-sidecar-proxy");
    assert!(svc.get("Name").is_none());
    assert_eq!(svc["Kind"], "connect-proxy");
    assert_eq!(svc["Datacenter"], "dc1");
    assert_eq!(svc["Weights"], json!({"Passing": 1, "Warning": 1}));
    assert_eq!(svc["Proxy"]["Upstreams"][0]["DestinationType"], "service");
    assert_eq!(svc["Proxy"]["Upstreams"][0]["DestinationName"], "backend");
    assert!(svc["ContentHash"].as_str().is_some_and(|h| !h.is_empty()));

    // The sidecar's checks have no CheckID: the agent numbers them.
    let checks = call(&consul, "GET", "/v1/agent/checks", None, None)
        .await
        .json();
    let tcp = &checks["service:web-abc-sidecar-proxy:1"];
    assert_eq!(tcp["Type"], "tcp");
    assert_eq!(tcp["Status"], "critical");
    assert_eq!(tcp["Interval"], "10s");
    assert_eq!(checks["service:web-abc-sidecar-proxy:2"]["Type"], "alias");
    let ttl = &checks["web-abc-web-consul-ecs"];
    assert_eq!(ttl["Type"], "ttl");
    assert_eq!(ttl["ServiceName"], "web");
    assert_eq!(ttl["ServiceTags"], json!(["v1"]));
    assert_eq!(ttl["Node"], "ip-10-0-1-23.ec2.internal");

    // One check without an ID gets `service:<id>` and the default name.
    let one = json!({"Name": "api", "Port": 1, "Check": {"TTL": "10s", "Status": "passing"}});
    assert_eq!(
        call(
            &consul,
            "PUT",
            "/v1/agent/service/register",
            None,
            Some(one)
        )
        .await
        .status,
        200
    );
    let checks = consul.checks();
    assert_eq!(checks["service:api"]["Name"], "Service 'api' check");
    assert_eq!(checks["service:api"]["Status"], "passing");

    let services = call(&consul, "GET", "/v1/agent/services", None, None)
        .await
        .json();
    assert_eq!(services.as_object().unwrap().len(), 3);
    assert!(services["web-abc"].get("ContentHash").is_none());
    assert_eq!(consul.services()["web-abc"]["Port"], 9090);

    // Field names match case-insensitively, snake_case too.
    let lower = json!({"name": "lower", "port": 2, "enable_tag_override": true, "tags": ["x"]});
    assert_eq!(
        call(
            &consul,
            "PUT",
            "/v1/agent/service/register",
            None,
            Some(lower)
        )
        .await
        .status,
        200
    );
    assert_eq!(consul.services()["lower"]["EnableTagOverride"], true);

    let catalog = call(&consul, "GET", "/v1/catalog/services", None, None)
        .await
        .json();
    assert_eq!(catalog["web"], json!(["v1"]));

    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/deregister/web-abc",
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(!consul.checks().contains_key("web-abc-web-consul-ecs"));
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/deregister/web-abc",
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        "Unknown service ID \"web-abc\". Ensure that the service ID is passed, not the service name."
    );
    let r = call(&consul, "GET", "/v1/agent/service/web-abc", None, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "unknown service ID: web-abc")
    );
}

#[tokio::test]
async fn invalid_registrations_get_consul_texts() {
    let consul = ConsulEmulator::start(EmulatorOptions::default());
    let cases = [
        (json!({"Port": 1}), "Missing service name"),
        (
            json!({"Name": "web", "Bogus": 1}),
            "Request decode failed: json: unknown field \"Bogus\"",
        ),
        (
            json!({"Name": "web", "Address": "0.0.0.0"}),
            "Invalid service address",
        ),
        (
            json!({"Name": "web", "Namespace": "ns1"}),
            "Request decode failed: json: unknown field \"Namespace\"",
        ),
    ];
    for (body, text) in cases {
        let r = call(
            &consul,
            "PUT",
            "/v1/agent/service/register",
            None,
            Some(body.clone()),
        )
        .await;
        assert_eq!((r.status, r.body.as_str()), (400, text), "body {body}");
    }
    let proxy = json!({"Kind": "connect-proxy", "Name": "p", "Proxy": {}});
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        None,
        Some(proxy),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body.starts_with("Validation failed: "), "{}", r.body);
    assert!(
        r.body
            .contains("Proxy.DestinationServiceName must be non-empty"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("Port or SocketPath must be set"),
        "{}",
        r.body
    );

    let gateway = json!({"Kind": "mesh-gateway", "Name": "gw", "Proxy": {"Upstreams": [{"DestinationName": "x"}]}});
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        None,
        Some(gateway),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "Validation failed: 2 errors occurred:\n\t* Port must be non-zero for a mesh-gateway\n\t* The Proxy.Upstreams configuration is invalid for a mesh-gateway\n\n"
        )
    );
    let dup = json!({"Kind": "connect-proxy", "Name": "p", "Port": 1, "Proxy": {"DestinationServiceName": "web", "Upstreams": [
        {"DestinationName": "a", "LocalBindPort": 1},
        {"DestinationName": "b", "LocalBindPort": 1},
    ]}});
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        None,
        Some(dup),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("\"127.0.0.1:1\" is specified twice"),
        "{}",
        r.body
    );
    let meta = json!({"Name": "web", "Meta": {"consul-x": "1"}});
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        None,
        Some(meta),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "Invalid Service Meta: Key prefix 'consul-' is reserved for internal use"
        )
    );

    let nested = json!({"Name": "web", "Checks": [{"TTL": "1s", "Nope": true}]});
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        None,
        Some(nested),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "Request decode failed: json: unknown field \"Nope\"")
    );
    let no_interval = json!({"Name": "web", "Check": {"TCP": "127.0.0.1:1"}});
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        None,
        Some(no_interval),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body.starts_with("Invalid check: Interval must be > 0"),
        "{}",
        r.body
    );

    let r = call(&consul, "GET", "/v1/agent/services?ns=team", None, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "Invalid query parameter: \"ns\" - Namespaces are a Consul Enterprise feature"
        )
    );
    let r = reqwest::Client::new()
        .get(format!("{}/v1/agent/services", consul.http_addr()))
        .header("X-Consul-Partition", "p1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(
        r.text().await.unwrap(),
        "Invalid header: \"X-Consul-Partition\" - Partitions are a Consul Enterprise feature"
    );
    let r = call(&consul, "GET", "/v1/agent/service/register", None, None).await;
    assert_eq!(r.status, 405);
    assert!(consul.services().is_empty());
}

#[tokio::test]
async fn ttl_updates_follow_consul_rules() {
    let consul = ConsulEmulator::start(EmulatorOptions::default());
    call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        None,
        Some(service_registration()),
    )
    .await;
    call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        None,
        Some(sidecar_registration()),
    )
    .await;
    let update =
        |status: &str| json!({"Status": status, "Output": "ECS health status is \"HEALTHY\""});

    let r = call(
        &consul,
        "PUT",
        "/v1/agent/check/update/web-abc-web-consul-ecs",
        None,
        Some(update("passing")),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    let check = &consul.checks()["web-abc-web-consul-ecs"];
    assert_eq!(check["Status"], "passing");
    assert_eq!(check["Output"], "ECS health status is \"HEALTHY\"");

    let r = call(
        &consul,
        "PUT",
        "/v1/agent/check/update/web-abc-web-consul-ecs",
        None,
        Some(update("bogus")),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "Invalid check status: 'bogus'")
    );
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/check/update/nope",
        None,
        Some(update("passing")),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            404,
            "Unknown check ID \"nope\". Ensure that the check ID is passed, not the check name."
        )
    );
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/check/update/service:web-abc-sidecar-proxy:1",
        None,
        Some(update("passing")),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            500,
            "CheckID \"service:web-abc-sidecar-proxy:1\" does not have associated TTL"
        )
    );
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/check/update/web-abc-web-consul-ecs",
        None,
        Some(json!({"status": "critical", "Extra": 1})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body.starts_with("Request decode failed: "), "{}", r.body);

    // Re-registering keeps the check's current state.
    call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        None,
        Some(service_registration()),
    )
    .await;
    assert_eq!(
        consul.checks()["web-abc-web-consul-ecs"]["Status"],
        "passing"
    );
}

#[tokio::test]
async fn acl_enforcement_on_agent_endpoints() {
    let consul = acl_consul();
    let web = consul.create_service_token("web");
    let api = consul.create_service_token("api");

    // No token = anonymous = deny.
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        None,
        Some(service_registration()),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.body.starts_with("Permission denied"), "{}", r.body);
    assert!(r.body.contains("anonymous token"), "{}", r.body);
    // Unknown token.
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        Some("4f2a1c34-0000-4000-8000-000000000000"),
        Some(service_registration()),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));
    // A service identity for another service.
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
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
    assert!(r.body.contains(&api.accessor_id), "{}", r.body);
    assert!(!r.body.contains(&api.secret_id));

    // The web identity may register web and its sidecar (destination web).
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        Some(&web.secret_id),
        Some(service_registration()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        Some(&web.secret_id),
        Some(sidecar_registration()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A proxy named for api but pointing at web needs write on both.
    let mut sneaky = sidecar_registration();
    sneaky["Name"] = json!("api-sidecar-proxy");
    sneaky["ID"] = json!("api-sidecar-proxy");
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        Some(&api.secret_id),
        Some(sneaky),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("'service:write' on \"web\""), "{}", r.body);

    let update = json!({"Status": "passing", "Output": ""});
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/check/update/web-abc-web-consul-ecs",
        Some(&api.secret_id),
        Some(update.clone()),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/check/update/web-abc-web-consul-ecs",
        Some(&web.secret_id),
        Some(update),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Service identities can read every service but not the agent.
    let services = call(
        &consul,
        "GET",
        "/v1/agent/services",
        Some(&api.secret_id),
        None,
    )
    .await
    .json();
    assert_eq!(services.as_object().unwrap().len(), 2);
    let anon = call(&consul, "GET", "/v1/agent/services", None, None)
        .await
        .json();
    assert_eq!(anon, json!({}), "anonymous sees nothing");
    let r = call(&consul, "GET", "/v1/agent/self", Some(&web.secret_id), None).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("'agent:read'"), "{}", r.body);

    let reader = consul.create_token_with_rules(r#"agent_prefix "" { policy = "read" }"#);
    let me = call(
        &consul,
        "GET",
        "/v1/agent/self",
        Some(&reader.secret_id),
        None,
    )
    .await;
    assert_eq!(me.status, 200);
    let me = me.json();
    assert_eq!(me["Config"]["Datacenter"], "dc1");
    assert_eq!(me["xDS"]["Ports"], json!({"Plaintext": 8502, "TLS": -1}));
    assert_eq!(me["DebugConfig"]["GRPCPort"], 8502);

    // Config entries: 404 until set; reads open to any valid token.
    let r = call(
        &consul,
        "GET",
        "/v1/config/proxy-defaults/global",
        Some(&web.secret_id),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            404,
            "Config entry not found for \"proxy-defaults\" / \"global\""
        )
    );
    let entry = json!({"Kind": "proxy-defaults", "Name": "global", "Config": {"protocol": "http"}});
    let r = call(
        &consul,
        "PUT",
        "/v1/config",
        Some(&web.secret_id),
        Some(entry.clone()),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = call(
        &consul,
        "PUT",
        "/v1/config",
        Some(&consul.management_token()),
        Some(entry),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        &consul,
        "GET",
        "/v1/config/proxy-defaults/global",
        Some(&web.secret_id),
        None,
    )
    .await;
    assert_eq!(r.json()["Config"]["protocol"], "http");

    // The request log never holds a token.
    let log = consul.request_log();
    assert!(!log.contains(&web.secret_id) && !log.contains(&consul.management_token()));
    assert!(consul.requests().iter().any(|r| r.had_token));
    assert!(consul.requests().iter().any(|r| !r.had_token));
}

#[tokio::test]
async fn proxy_defaults_via_rust_and_management_token_allows_all() {
    let consul = ConsulEmulator::start(EmulatorOptions {
        acls_enabled: true,
        management_token: Some("5e2a8c1d-0000-4000-8000-00000000beef".to_string()),
        ..EmulatorOptions::default()
    });
    assert_eq!(
        consul.management_token(),
        "5e2a8c1d-0000-4000-8000-00000000beef"
    );
    consul.add_proxy_defaults(json!({"protocol": "grpc"}));
    let mgmt = consul.management_token();
    let r = call(
        &consul,
        "GET",
        "/v1/config/proxy-defaults/global",
        Some(&mgmt),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["Config"]["protocol"], "grpc");
    let r = call(&consul, "GET", "/v1/agent/self", Some(&mgmt), None).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn faults_latency_and_outage() {
    let consul = ConsulEmulator::start(EmulatorOptions::default());
    consul.faults().fail_next(2, 500);
    for _ in 0..2 {
        let r = call(&consul, "GET", "/v1/agent/services", None, None).await;
        assert_eq!(r.status, 500);
        assert!(r.body.contains("No cluster leader"), "{}", r.body);
    }
    assert_eq!(
        call(&consul, "GET", "/v1/agent/services", None, None)
            .await
            .status,
        200
    );
    consul.faults().fail_next(1, 429);
    assert_eq!(
        call(&consul, "GET", "/v1/agent/services", None, None)
            .await
            .status,
        429
    );

    consul.faults().set_latency(Duration::from_millis(300));
    let start = std::time::Instant::now();
    call(&consul, "GET", "/v1/agent/services", None, None).await;
    assert!(start.elapsed() >= Duration::from_millis(300));
    consul.faults().clear();

    let statuses: Vec<u16> = consul.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![500, 500, 200, 429, 200]);

    call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        None,
        Some(json!({"Name": "keep", "Port": 1})),
    )
    .await;
    consul.go_down();
    let err = reqwest::Client::new()
        .get(format!("{}/v1/agent/services", consul.http_addr()))
        .send()
        .await
        .expect_err("the emulator is down");
    assert!(err.is_connect(), "{err}");
    consul.come_back().unwrap();
    let r = call(&consul, "GET", "/v1/agent/services", None, None).await;
    assert_eq!(r.status, 200);
    assert!(r.json().get("keep").is_some(), "state survives an outage");
}

#[test]
fn works_from_a_plain_test_and_drops_cleanly() {
    let consul = ConsulEmulator::start(EmulatorOptions::default());
    let addr = consul.http_addr();
    assert!(addr.starts_with("http://127.0.0.1:"));
    let port = consul.port();
    drop(consul);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drops_cleanly_inside_a_multi_thread_runtime() {
    let consul = ConsulEmulator::start(EmulatorOptions::default());
    assert_eq!(
        call(&consul, "GET", "/v1/agent/services", None, None)
            .await
            .status,
        200
    );
    consul.go_down();
    drop(consul);
}

#[tokio::test(flavor = "current_thread")]
async fn drops_cleanly_inside_a_current_thread_runtime() {
    let consul = ConsulEmulator::start(EmulatorOptions::default());
    assert_eq!(
        call(&consul, "GET", "/v1/agent/services", None, None)
            .await
            .status,
        200
    );
    drop(consul);
}

#[tokio::test]
async fn gateway_and_enterprise_registrations_from_protocols() {
    let consul = ConsulEmulator::start(EmulatorOptions {
        enterprise: true,
        ..EmulatorOptions::default()
    });
    // docs/protocols.md §4.2 gateway registration, as the Go client sends it.
    let gateway = json!({
        "Kind": "mesh-gateway",
        "ID": "mesh-gw-abc",
        "Name": "Mesh-GW",
        "Port": 8443,
        "Address": "10.0.1.23",
        "TaggedAddresses": {
            "lan": {"Address": "10.0.1.23", "Port": 8443},
            "wan": {"Address": "203.0.113.10", "Port": 443}
        },
        "Meta": {"task-id": "abc", "source": "consul-ecs"},
        "Check": null,
        "Checks": [{"Name": "mesh-gateway listener", "Interval": "10s", "TCP": "10.0.1.23:8443", "DeregisterCriticalServiceAfter": "10m"}],
        "Proxy": {"Config": {"envoy_gateway_no_default_bind": true}, "MeshGateway": {}, "Expose": {}},
        "Namespace": "default",
        "Partition": "ptn1"
    });
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register?partition=ptn1",
        None,
        Some(gateway),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let svc = call(&consul, "GET", "/v1/agent/service/mesh-gw-abc", None, None)
        .await
        .json();
    assert_eq!(svc["Service"], "Mesh-GW");
    assert_eq!(
        svc["TaggedAddresses"]["lan_ipv4"],
        json!({"Address": "10.0.1.23", "Port": 8443})
    );
    assert_eq!(svc["TaggedAddresses"]["wan"]["Port"], 443);
    assert_eq!(
        svc["Proxy"]["Config"]["envoy_gateway_no_default_bind"],
        true
    );
    assert_eq!(svc["Partition"], "ptn1");
    assert_eq!(svc["Namespace"], "default");
    let check = &consul.checks()["service:mesh-gw-abc"];
    assert_eq!(
        (check["Type"].as_str(), check["Name"].as_str()),
        (Some("tcp"), Some("mesh-gateway listener"))
    );

    // Weak typing is not Consul's way for these fields: a string port is refused.
    let bad = json!({"Name": "web", "Port": "8080"});
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        None,
        Some(bad),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body
            .starts_with("Request decode failed: json: cannot unmarshal string"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn registration_texts_and_order_are_consul_1_15s() {
    let consul = acl_consul();
    let mgmt = consul.management_token();
    let m = Some(mgmt.as_str());
    let proxy =
        json!({"Kind": "connect-proxy", "Name": "p", "Proxy": {"DestinationServiceName": "web"}});
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        m,
        Some(proxy.clone()),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "Validation failed: 1 error occurred:\n\t* Port or SocketPath must be set for a connect-proxy\n\n"
        )
    );
    let bad_status = json!({"Name": "web", "Port": 80, "Check": {"TTL": "10s", "Status": "bogus"}});
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        m,
        Some(bad_status.clone()),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "Status for checks must 'passing', 'warning', 'critical'"
        )
    );
    // The token is resolved before the body is validated: an unknown token gets `ACL not
    // found`, not the validation error.
    let unknown = Some("4f2a1c34-0000-4000-8000-000000000000");
    for body in [proxy, bad_status] {
        let r = call(
            &consul,
            "PUT",
            "/v1/agent/service/register",
            unknown,
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (403, "ACL not found"),
            "{body}"
        );
    }
}
