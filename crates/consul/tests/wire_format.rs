//! The request bodies on the wire match what the Go client of v0.6.2 sends (docs/protocols.md
//! §4.1/§4.2, §3.10): checked by sending them to a recording server and comparing the JSON.

mod common;

use common::{client, Mock};
use consul::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const TASK_ID: &str = "0f3bca58e0f4486a95b04c1bd1d4be55";
const TASK_ARN: &str =
    "arn:aws:ecs:us-east-1:123456789012:task/my-cluster/0f3bca58e0f4486a95b04c1bd1d4be55";

fn meta() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("task-id".to_owned(), TASK_ID.to_owned()),
        ("task-arn".to_owned(), TASK_ARN.to_owned()),
        ("source".to_owned(), "consul-ecs".to_owned()),
    ])
}

fn assert_json_eq(actual: &Value, expected: &Value) {
    assert!(
        actual == expected,
        "JSON differs\n--- expected\n{}\n--- actual\n{}",
        serde_json::to_string_pretty(expected).unwrap(),
        serde_json::to_string_pretty(actual).unwrap()
    );
}

async fn register_and_capture(reg: &AgentServiceRegistration) -> Value {
    let mock = Mock::start().await;
    mock.on("PUT", "/v1/agent/service/register", 200, "");
    let c = client(&mock, TokenSource::None);
    c.agent_service_register(reg, &QueryOptions::default())
        .await
        .unwrap();
    let req = mock.last();
    assert_eq!(req.method, "PUT");
    assert_eq!(req.path, "/v1/agent/service/register");
    assert_eq!(req.query, None, "no ns/partition/other query expected");
    assert_eq!(req.header("content-type"), Some("application/json"));
    req.json()
}

#[tokio::test]
async fn service_registration_matches_v062() {
    let reg = AgentServiceRegistration {
        id: format!("web-{TASK_ID}"),
        name: "web".into(),
        tags: vec!["v1".into()],
        port: 9090,
        meta: meta(),
        checks: vec![AgentServiceCheck {
            check_id: format!("web-{TASK_ID}-web-consul-ecs"),
            name: "consul ecs synced".into(),
            ttl: "100000h".into(),
            notes: "consul-ecs created and updates this check because the web container is essential and has an ECS health check.".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let expected = json!({
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
    });
    assert_json_eq(&register_and_capture(&reg).await, &expected);
}

#[tokio::test]
async fn sidecar_registration_matches_v062() {
    let service_id = format!("web-{TASK_ID}");
    let reg = AgentServiceRegistration {
        kind: "connect-proxy".into(),
        id: format!("{service_id}-sidecar-proxy"),
        name: "web-sidecar-proxy".into(),
        tags: vec!["v1".into()],
        port: 20000,
        meta: meta(),
        checks: vec![
            AgentServiceCheck {
                name: "Proxy Public Listener".into(),
                interval: "10s".into(),
                tcp: "127.0.0.1:20000".into(),
                deregister_critical_service_after: "10m".into(),
                ..Default::default()
            },
            AgentServiceCheck {
                name: "Destination Alias".into(),
                alias_service: service_id.clone(),
                ..Default::default()
            },
        ],
        proxy: Some(AgentServiceConnectProxyConfig {
            destination_service_name: "web".into(),
            destination_service_id: service_id.clone(),
            local_service_port: 9090,
            upstreams: vec![Upstream {
                destination_name: "backend".into(),
                local_bind_port: 1234,
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let expected = json!({
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
    });
    assert_json_eq(&register_and_capture(&reg).await, &expected);
}

#[tokio::test]
async fn gateway_registration_matches_v062() {
    let mut config = serde_json::Map::new();
    config.insert("envoy_gateway_no_default_bind".into(), json!(true));
    let reg = AgentServiceRegistration {
        kind: "mesh-gateway".into(),
        id: format!("mesh-gw-{TASK_ID}"),
        name: "mesh-gw".into(),
        port: 8443,
        address: "10.0.1.23".into(),
        tagged_addresses: BTreeMap::from([
            (
                "lan".to_owned(),
                ServiceAddress {
                    address: "10.0.1.23".into(),
                    port: 8443,
                },
            ),
            (
                "wan".to_owned(),
                ServiceAddress {
                    address: "203.0.113.10".into(),
                    port: 443,
                },
            ),
        ]),
        meta: meta(),
        checks: vec![AgentServiceCheck {
            name: "mesh-gateway listener".into(),
            interval: "10s".into(),
            tcp: "10.0.1.23:8443".into(),
            deregister_critical_service_after: "10m".into(),
            ..Default::default()
        }],
        proxy: Some(AgentServiceConnectProxyConfig {
            config: Some(config),
            ..Default::default()
        }),
        ..Default::default()
    };
    let expected = json!({
      "Kind": "mesh-gateway",
      "ID": "mesh-gw-0f3bca58e0f4486a95b04c1bd1d4be55",
      "Name": "mesh-gw",
      "Port": 8443,
      "Address": "10.0.1.23",
      "TaggedAddresses": {
        "lan": {"Address": "10.0.1.23", "Port": 8443},
        "wan": {"Address": "203.0.113.10", "Port": 443}
      },
      "Meta": {"task-id": TASK_ID, "task-arn": TASK_ARN, "source": "consul-ecs"},
      "Check": null,
      "Checks": [
        {"Name": "mesh-gateway listener", "Interval": "10s", "TCP": "10.0.1.23:8443", "DeregisterCriticalServiceAfter": "10m"}
      ],
      "Proxy": {"Config": {"envoy_gateway_no_default_bind": true}, "MeshGateway": {}, "Expose": {}}
    });
    assert_json_eq(&register_and_capture(&reg).await, &expected);
}

#[tokio::test]
async fn empty_checks_are_sent_as_null_and_enterprise_fields_only_when_set() {
    let body = register_and_capture(&AgentServiceRegistration {
        name: "x".into(),
        ..Default::default()
    })
    .await;
    assert_json_eq(&body, &json!({"Name": "x", "Check": null, "Checks": null}));

    let body = register_and_capture(&AgentServiceRegistration {
        name: "x".into(),
        namespace: "web".into(),
        partition: "team-a".into(),
        weights: Some(AgentWeights {
            passing: 3,
            warning: 1,
        }),
        enable_tag_override: true,
        ..Default::default()
    })
    .await;
    assert_json_eq(
        &body,
        &json!({"Name": "x", "Check": null, "Checks": null, "Namespace": "web",
                "Partition": "team-a", "Weights": {"Passing": 3, "Warning": 1},
                "EnableTagOverride": true}),
    );
}

#[tokio::test]
async fn check_fields_use_consul_spelling() {
    let check = AgentServiceCheck {
        check_id: "c".into(),
        script_args: vec!["/bin/true".into()],
        http: "http://localhost:8080/health".into(),
        header: BTreeMap::from([("X-A".to_owned(), vec!["1".to_owned()])]),
        method: "GET".into(),
        tls_server_name: "web".into(),
        tls_skip_verify: true,
        grpc: "localhost:9090".into(),
        grpc_use_tls: true,
        h2ping: "localhost:9091".into(),
        h2ping_use_tls: Some(false),
        udp: "localhost:53".into(),
        status: "passing".into(),
        success_before_passing: 2,
        failures_before_warning: 1,
        failures_before_critical: 3,
        timeout: "1s".into(),
        ..Default::default()
    };
    let v = serde_json::to_value(&check).unwrap();
    assert_json_eq(
        &v,
        &json!({"CheckID": "c", "ScriptArgs": ["/bin/true"], "Timeout": "1s",
                "HTTP": "http://localhost:8080/health", "Header": {"X-A": ["1"]},
                "Method": "GET", "UDP": "localhost:53", "Status": "passing",
                "TLSServerName": "web", "TLSSkipVerify": true, "GRPC": "localhost:9090",
                "GRPCUseTLS": true, "H2PING": "localhost:9091", "H2PingUseTLS": false,
                "SuccessBeforePassing": 2, "FailuresBeforeWarning": 1,
                "FailuresBeforeCritical": 3}),
    );
}

#[tokio::test]
async fn login_body_and_no_token_sent() {
    let mock = Mock::start().await;
    mock.on(
        "POST",
        "/v1/acl/login",
        200,
        r#"{"AccessorID":"5f1d6c1e-93a0-4a55-b3f4-0e0b1f0d7c11","SecretID":"8b0e1c8d-2f7d-4b8e-9a3c-7a1c2b9e6d54","Description":"token created via login","ServiceIdentities":[{"ServiceName":"web"}],"Local":true,"AuthMethod":"iam-ecs-service-token","CreateTime":"2024-02-16T12:00:12.345678901Z","Hash":"v8tJ","CreateIndex":120,"ModifyIndex":120}"#,
    );
    // The client has a token configured; login must not send it.
    let c = client(&mock, TokenSource::Value(Secret::new("management-secret")));
    let req = LoginRequest {
        auth_method: "iam-ecs-service-token".into(),
        bearer_token: Secret::new("{\"iam_http_request_method\":\"POST\"}"),
        meta: BTreeMap::from([
            (
                "consul.hashicorp.com/task-id".to_owned(),
                TASK_ID.to_owned(),
            ),
            (
                "consul.hashicorp.com/cluster".to_owned(),
                "arn:aws:ecs:us-east-1:123456789012:cluster/my-cluster".to_owned(),
            ),
        ]),
    };
    assert!(!format!("{req:?}").contains("iam_http_request_method"));
    let token = c
        .login(&req, &QueryOptions::default().with_partition("team-a"))
        .await
        .unwrap();
    assert_eq!(token.accessor_id, "5f1d6c1e-93a0-4a55-b3f4-0e0b1f0d7c11");
    assert_eq!(
        token.secret_id.expose(),
        "8b0e1c8d-2f7d-4b8e-9a3c-7a1c2b9e6d54"
    );
    assert_eq!(token.service_identities[0].service_name, "web");
    assert!(token.local);
    assert!(!format!("{token:?}").contains("8b0e1c8d"));

    let sent = mock.last();
    assert_eq!(sent.query.as_deref(), Some("partition=team-a"));
    assert_eq!(sent.header("x-consul-token"), None);
    assert_json_eq(
        &sent.json(),
        &json!({
            "AuthMethod": "iam-ecs-service-token",
            "BearerToken": "{\"iam_http_request_method\":\"POST\"}",
            "Meta": {
                "consul.hashicorp.com/task-id": TASK_ID,
                "consul.hashicorp.com/cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/my-cluster"
            }
        }),
    );

    // Meta is omitted when empty.
    c.login(
        &LoginRequest {
            auth_method: "m".into(),
            bearer_token: Secret::new("b"),
            meta: BTreeMap::new(),
        },
        &QueryOptions::default(),
    )
    .await
    .unwrap();
    assert_json_eq(
        &mock.last().json(),
        &json!({"AuthMethod": "m", "BearerToken": "b"}),
    );
}

#[tokio::test]
async fn check_update_body() {
    let mock = Mock::start().await;
    mock.on(
        "PUT",
        "/v1/agent/check/update/web-x-web-consul-ecs",
        200,
        "",
    );
    let c = client(&mock, TokenSource::None);
    c.agent_check_update(
        "web-x-web-consul-ecs",
        CheckStatus::Passing,
        "ECS health status is \"HEALTHY\" for task \"web-x-web-consul-ecs\"",
        &QueryOptions::default(),
    )
    .await
    .unwrap();
    assert_json_eq(
        &mock.last().json(),
        &json!({"Status": "passing",
                "Output": "ECS health status is \"HEALTHY\" for task \"web-x-web-consul-ecs\""}),
    );
}

#[tokio::test]
async fn acl_object_bodies_omit_bookkeeping_when_creating() {
    let policy = AclPolicy {
        name: "consul-ecs-client-policy".into(),
        description: "d".into(),
        rules: "node_prefix \"\" { policy = \"write\" }".into(),
        ..Default::default()
    };
    assert_json_eq(
        &serde_json::to_value(&policy).unwrap(),
        &json!({"Name": "consul-ecs-client-policy", "Description": "d",
                "Rules": "node_prefix \"\" { policy = \"write\" }"}),
    );
    let role = AclRole {
        name: "consul-ecs-client-role".into(),
        policies: vec![AclLink::by_name("consul-ecs-client-policy")],
        ..Default::default()
    };
    assert_json_eq(
        &serde_json::to_value(&role).unwrap(),
        &json!({"Name": "consul-ecs-client-role",
                "Policies": [{"Name": "consul-ecs-client-policy"}]}),
    );
    let mut cfg = serde_json::Map::new();
    cfg.insert(
        "BoundIAMPrincipalARNs".into(),
        json!(["arn:aws:iam::1:role/x"]),
    );
    let method = AclAuthMethod {
        name: "iam-ecs-service-token".into(),
        method_type: "aws-iam".into(),
        max_token_ttl: "10m".into(),
        config: cfg,
        ..Default::default()
    };
    assert_json_eq(
        &serde_json::to_value(&method).unwrap(),
        &json!({"Name": "iam-ecs-service-token", "Type": "aws-iam", "MaxTokenTTL": "10m",
                "Config": {"BoundIAMPrincipalARNs": ["arn:aws:iam::1:role/x"]}}),
    );
    let rule = AclBindingRule {
        auth_method: "iam-ecs-service-token".into(),
        bind_type: "service".into(),
        bind_name: "${entity_tags.consul.hashicorp.com.service-name}".into(),
        ..Default::default()
    };
    assert_json_eq(
        &serde_json::to_value(&rule).unwrap(),
        &json!({"AuthMethod": "iam-ecs-service-token", "BindType": "service",
                "BindName": "${entity_tags.consul.hashicorp.com.service-name}"}),
    );
}
