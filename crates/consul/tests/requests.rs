//! Request plumbing against a recording server: token header and token-file re-reads,
//! namespace/partition only when set, `?stale`, path escaping and prefixes, every
//! endpoint's method and path, typed decoding of Consul's example answers.

mod common;

use common::{client, Mock};
use consul::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn token_header_from_value_file_and_per_call_override() {
    let mock = Mock::start().await;
    mock.on("GET", "/v1/agent/services", 200, "{}");

    client(&mock, TokenSource::None)
        .agent_services(&QueryOptions::default())
        .await
        .unwrap();
    assert_eq!(mock.last().header("x-consul-token"), None);

    let c = client(&mock, TokenSource::Value(Secret::new("tok-a")));
    c.agent_services(&QueryOptions::default()).await.unwrap();
    assert_eq!(mock.last().header("x-consul-token"), Some("tok-a"));
    c.agent_services(&QueryOptions::default().with_token(Secret::new("tok-b")))
        .await
        .unwrap();
    assert_eq!(mock.last().header("x-consul-token"), Some("tok-b"));

    // A token file is re-read on every request: a new login rewrites it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("service-token");
    std::fs::write(&path, "first-token\n").unwrap();
    let c = client(&mock, TokenSource::File(path.clone()));
    c.agent_services(&QueryOptions::default()).await.unwrap();
    assert_eq!(mock.last().header("x-consul-token"), Some("first-token"));
    std::fs::write(&path, "second-token").unwrap();
    c.agent_services(&QueryOptions::default()).await.unwrap();
    assert_eq!(mock.last().header("x-consul-token"), Some("second-token"));

    // with_token swaps the source but keeps the rest.
    let c2 = c.with_token(TokenSource::Value(Secret::new("tok-c")));
    c2.agent_services(&QueryOptions::default()).await.unwrap();
    assert_eq!(mock.last().header("x-consul-token"), Some("tok-c"));

    // A missing token file is a final error that names the file, not a silent anonymous call.
    std::fs::remove_file(&path).unwrap();
    let before = mock.requests().len();
    let err = c
        .agent_services(&QueryOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ConsulError::TokenFile { .. }), "{err:?}");
    assert!(err.to_string().contains("service-token"));
    assert!(!err.is_retryable());
    assert_eq!(
        mock.requests().len(),
        before,
        "no request without the token"
    );
}

#[tokio::test]
async fn namespace_and_partition_only_when_non_empty() {
    let mock = Mock::start().await;
    mock.on("GET", "/v1/acl/policies", 200, "[]");

    let c = client(&mock, TokenSource::None);
    c.policy_list(&QueryOptions::default()).await.unwrap();
    assert_eq!(mock.last().query, None);

    c.policy_list(
        &QueryOptions::default()
            .with_namespace("")
            .with_partition(""),
    )
    .await
    .unwrap();
    assert_eq!(mock.last().query, None);

    c.policy_list(
        &QueryOptions::default()
            .with_namespace("web")
            .with_partition("team-a"),
    )
    .await
    .unwrap();
    assert_eq!(
        mock.last().query.as_deref(),
        Some("ns=web&partition=team-a")
    );

    // Client-wide defaults (CONSUL_NAMESPACE / CONSUL_PARTITION) apply, and a per-call
    // empty value suppresses them.
    let cfg = ClientConfig::default()
        .with_address(&mock.url())
        .unwrap()
        .with_namespace("ns1")
        .with_partition("p1");
    let c = Client::new(cfg).unwrap();
    c.policy_list(&QueryOptions::default()).await.unwrap();
    assert_eq!(mock.last().query.as_deref(), Some("ns=ns1&partition=p1"));
    c.policy_list(&QueryOptions::default().with_namespace(""))
        .await
        .unwrap();
    assert_eq!(mock.last().query.as_deref(), Some("partition=p1"));
}

#[tokio::test]
async fn stale_read_of_token_self() {
    let mock = Mock::start().await;
    mock.on(
        "GET",
        "/v1/acl/token/self",
        200,
        r#"{"AccessorID":"a","SecretID":"s","Local":true,"AuthMethod":"iam-ecs-service-token"}"#,
    );
    let c = client(&mock, TokenSource::Value(Secret::new("s")));
    let t = c.token_read_self(&QueryOptions::stale()).await.unwrap();
    assert_eq!(t.accessor_id, "a");
    assert_eq!(t.auth_method, "iam-ecs-service-token");
    let req = mock.last();
    // The Go client sends `stale=`; Consul only checks that the key is present.
    assert_eq!(req.query.as_deref(), Some("stale="));
    assert_eq!(req.header("x-consul-token"), Some("s"));
}

#[tokio::test]
async fn names_are_escaped_and_path_prefix_is_kept() {
    let mock = Mock::start().await;
    mock.on(
        "GET",
        "/consul/v1/acl/policy/name/team%2Fpolicy",
        200,
        r#"{"ID":"p1","Name":"team/policy"}"#,
    );
    let cfg = ClientConfig::default()
        .with_address(&format!("{}/consul", mock.url()))
        .unwrap();
    let c = Client::new(cfg).unwrap();
    let p = c
        .policy_read_by_name("team/policy", &QueryOptions::default())
        .await
        .unwrap()
        .expect("policy");
    assert_eq!(p.id, "p1");
    assert_eq!(mock.last().path, "/consul/v1/acl/policy/name/team%2Fpolicy");
}

#[tokio::test]
async fn not_found_reads_are_none_other_errors_are_errors() {
    let mock = Mock::start().await;
    mock.on(
        "GET",
        "/v1/acl/policy/name/gone-new",
        404,
        "Requested policy does not exist: ACL not found",
    );
    mock.on("GET", "/v1/acl/policy/name/gone-old", 403, "ACL not found");
    mock.on("GET", "/v1/acl/role/name/gone", 404, "");
    mock.on(
        "GET",
        "/v1/acl/policy/name/denied",
        403,
        "Permission denied: token lacks acl:read",
    );
    mock.on(
        "GET",
        "/v1/agent/service/unknown",
        404,
        "unknown service ID: unknown",
    );
    let c = client(&mock, TokenSource::Value(Secret::new("very-secret-token")));
    let o = QueryOptions::default();
    assert_eq!(c.policy_read_by_name("gone-new", &o).await.unwrap(), None);
    assert_eq!(c.policy_read_by_name("gone-old", &o).await.unwrap(), None);
    assert_eq!(c.role_read_by_name("gone", &o).await.unwrap(), None);
    assert_eq!(c.agent_service("unknown", &o).await.unwrap(), None);
    let err = c.policy_read_by_name("denied", &o).await.unwrap_err();
    assert!(err.is_permission_denied());
    assert!(!err.is_retryable());
    assert_eq!(err.http_status(), Some(403));
    assert_eq!(
        err.to_string(),
        "GET /v1/acl/policy/name/denied: Unexpected response code: 403 (Permission denied: token lacks acl:read)"
    );
    assert!(!format!("{err:?}").contains("very-secret-token"));
}

#[tokio::test]
async fn acl_not_found_texts_of_both_consul_generations() {
    let mock = Mock::start().await;
    mock.on("GET", "/v1/acl/token/self", 403, "ACL not found");
    let c = client(&mock, TokenSource::Value(Secret::new("t")));
    let err = c.token_read_self(&QueryOptions::stale()).await.unwrap_err();
    assert!(err.is_acl_not_found() && !err.is_retryable());

    let mock = Mock::start().await;
    mock.on(
        "GET",
        "/v1/acl/token/self",
        404,
        "Supplied token does not exist",
    );
    let c = client(&mock, TokenSource::Value(Secret::new("t")));
    let err = c.token_read_self(&QueryOptions::stale()).await.unwrap_err();
    assert!(err.is_acl_not_found() && err.is_not_found());

    let mock = Mock::start().await;
    mock.on("POST", "/v1/acl/logout", 403, "ACL not found");
    let c = client(&mock, TokenSource::Value(Secret::new("t")));
    assert!(c
        .logout(&QueryOptions::default())
        .await
        .unwrap_err()
        .is_acl_not_found());
}

#[tokio::test]
async fn typed_answers_decode_consul_examples() {
    let mock = Mock::start().await;
    mock.on("GET", "/v1/agent/service/web-x-sidecar-proxy", 200, &json!({
        "Kind": "connect-proxy",
        "ID": "web-x-sidecar-proxy",
        "Service": "web-sidecar-proxy",
        "Tags": ["v1"],
        "Meta": {"source": "consul-ecs"},
        "Port": 20000,
        "Address": "",
        "Weights": {"Passing": 1, "Warning": 1},
        "EnableTagOverride": false,
        "ContentHash": "6b4a1e0f3a2c9d81",
        "Proxy": {
            "DestinationServiceName": "web",
            "DestinationServiceID": "web-x",
            "LocalServicePort": 9090,
            "MeshGateway": {},
            "Expose": {},
            "Upstreams": [{"DestinationType": "service", "DestinationName": "backend", "LocalBindPort": 1234, "MeshGateway": {}}]
        },
        "Datacenter": "dc1"
    }).to_string());
    mock.on(
        "GET",
        "/v1/agent/checks",
        200,
        &json!({
            "web-x-web-consul-ecs": {
                "Node": "ip-10-0-1-23.ec2.internal", "CheckID": "web-x-web-consul-ecs",
                "Name": "consul ecs synced", "Status": "passing", "Notes": "n", "Output": "o",
                "ServiceID": "web-x", "ServiceName": "web", "ServiceTags": null, "Type": "ttl",
                "Interval": "", "Timeout": "", "ExposedPort": 0, "Definition": {},
                "CreateIndex": 0, "ModifyIndex": 0
            }
        })
        .to_string(),
    );
    mock.on("GET", "/v1/agent/self", 200, &json!({
        "Config": {"Datacenter": "dc1", "NodeName": "n1", "Version": "1.16.1+ent", "Partition": "default"},
        "DebugConfig": {"PrimaryDatacenter": "dc0", "GRPCPort": 8502, "GRPCTLSPort": -1},
        "xDS": {"Port": 8503, "Ports": {"Plaintext": 8502, "TLS": 8503}}
    }).to_string());
    mock.on(
        "GET",
        "/v1/acl/tokens",
        200,
        &json!([
            {"AccessorID": "a1", "SecretID": "s1", "Description": "token created via login: {}",
             "ServiceIdentities": [{"ServiceName": "web"}], "Local": true,
             "AuthMethod": "iam-ecs-service-token", "CreateTime": "2024-02-16T12:00:12Z",
             "Hash": "x", "CreateIndex": 120, "ModifyIndex": 120},
            {"AccessorID": "00000000-0000-0000-0000-000000000002", "SecretID": "anonymous",
             "Policies": [{"ID": "6a3f", "Name": "anonymous-token-policy"}], "Local": false,
             "Roles": null}
        ])
        .to_string(),
    );
    let c = client(&mock, TokenSource::None);
    let o = QueryOptions::default();

    let svc = c
        .agent_service("web-x-sidecar-proxy", &o)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(svc.service, "web-sidecar-proxy");
    assert_eq!(svc.kind, "connect-proxy");
    assert_eq!(svc.datacenter, "dc1");
    let proxy = svc.proxy.unwrap();
    assert_eq!(proxy.local_service_port, 9090);
    assert_eq!(proxy.upstreams[0].destination_type, "service");
    let raw = c
        .agent_service_raw("web-x-sidecar-proxy", &o)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(raw["ContentHash"], "6b4a1e0f3a2c9d81");

    let checks = c.agent_checks(&o).await.unwrap();
    let chk = &checks["web-x-web-consul-ecs"];
    assert_eq!(
        (chk.status.as_str(), chk.check_type.as_str()),
        ("passing", "ttl")
    );
    assert!(chk.service_tags.is_empty());

    let me = c.agent_self(&o).await.unwrap();
    assert_eq!(me.datacenter(), Some("dc1"));
    assert_eq!(me.primary_datacenter(), Some("dc0"));
    assert_eq!(me.node_name(), Some("n1"));
    assert_eq!(me.version(), Some("1.16.1+ent"));
    assert_eq!(me.partition(), Some("default"));
    assert_eq!(me.xds_grpc_port(), Some((8503, true)));

    let tokens = c
        .token_list(
            &TokenListFilter {
                auth_method: "iam-ecs-service-token".into(),
                ..Default::default()
            },
            &o,
        )
        .await
        .unwrap();
    assert_eq!(
        mock.last().query.as_deref(),
        Some("authmethod=iam-ecs-service-token")
    );
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[1].policies[0].name, "anonymous-token-policy");
    assert!(!format!("{tokens:?}").contains("s1"));
}

#[test]
fn agent_self_grpc_port_fallbacks() {
    let s = |v: serde_json::Value| AgentSelf { raw: v };
    assert_eq!(
        s(json!({"xDS": {"Ports": {"Plaintext": 8502, "TLS": -1}}})).xds_grpc_port(),
        Some((8502, false))
    );
    assert_eq!(
        s(json!({"DebugConfig": {"GRPCPort": 8502, "GRPCTLSPort": -1}})).xds_grpc_port(),
        Some((8502, false))
    );
    assert_eq!(
        s(json!({"DebugConfig": {"GRPCPort": -1}})).xds_grpc_port(),
        None
    );
    assert_eq!(
        s(json!({"Config": {}, "DebugConfig": {"PrimaryDatacenter": "dc1"}})).primary_datacenter(),
        Some("dc1")
    );
}

/// Every typed call goes to the method and path docs/protocols.md names.
#[tokio::test]
async fn every_endpoint_uses_the_documented_method_and_path() {
    let mock = Mock::start().await;
    let obj = "{}";
    let arr = "[]";
    for (m, p, body) in [
        ("PUT", "/v1/agent/service/register", ""),
        ("PUT", "/v1/agent/service/deregister/svc-1", ""),
        ("GET", "/v1/agent/services", obj),
        ("GET", "/v1/agent/checks", obj),
        ("PUT", "/v1/agent/check/update/chk-1", ""),
        ("GET", "/v1/agent/self", obj),
        (
            "GET",
            "/v1/config/proxy-defaults/global",
            r#"{"Kind":"proxy-defaults","Name":"global"}"#,
        ),
        ("POST", "/v1/acl/logout", "true"),
        ("DELETE", "/v1/acl/token/acc-1", "true"),
        ("GET", "/v1/acl/token/acc-1", r#"{"AccessorID":"acc-1"}"#),
        ("PUT", "/v1/acl/token", r#"{"AccessorID":"acc-2"}"#),
        ("PUT", "/v1/acl/token/acc-1", r#"{"AccessorID":"acc-1"}"#),
        ("PUT", "/v1/acl/auth-method", r#"{"Name":"m"}"#),
        ("GET", "/v1/acl/auth-method/m", r#"{"Name":"m"}"#),
        ("PUT", "/v1/acl/auth-method/m", r#"{"Name":"m"}"#),
        ("GET", "/v1/acl/auth-methods", arr),
        ("PUT", "/v1/acl/binding-rule", r#"{"ID":"b1"}"#),
        ("GET", "/v1/acl/binding-rules", arr),
        ("PUT", "/v1/acl/binding-rule/b1", r#"{"ID":"b1"}"#),
        ("DELETE", "/v1/acl/binding-rule/b1", "true"),
        ("PUT", "/v1/acl/policy", r#"{"ID":"p1"}"#),
        ("GET", "/v1/acl/policy/p1", r#"{"ID":"p1"}"#),
        ("PUT", "/v1/acl/policy/p1", r#"{"ID":"p1"}"#),
        ("PUT", "/v1/acl/role", r#"{"ID":"r1"}"#),
        ("GET", "/v1/acl/role/r1", r#"{"ID":"r1"}"#),
        ("PUT", "/v1/acl/role/r1", r#"{"ID":"r1"}"#),
        ("GET", "/v1/acl/roles", "null"),
        ("PUT", "/v1/partition", r#"{"Name":"p"}"#),
        ("GET", "/v1/partition/p", r#"{"Name":"p"}"#),
        ("GET", "/v1/partitions", arr),
        ("PUT", "/v1/namespace", r#"{"Name":"n"}"#),
        ("GET", "/v1/namespace/n", r#"{"Name":"n"}"#),
        ("PUT", "/v1/namespace/n", r#"{"Name":"n"}"#),
        ("GET", "/v1/namespaces", arr),
    ] {
        mock.on(m, p, 200, body);
    }
    let c = client(&mock, TokenSource::Value(Secret::new("mgmt")));
    let o = QueryOptions::default();
    let mut expected: Vec<(&str, &str)> = Vec::new();
    macro_rules! call {
        ($m:expr, $p:expr, $e:expr) => {{
            let r = $e.await;
            assert!(r.is_ok(), "{} {}: {:?}", $m, $p, r.err());
            expected.push(($m, $p));
        }};
    }
    call!(
        "PUT",
        "/v1/agent/service/register",
        c.agent_service_register(&AgentServiceRegistration::default(), &o)
    );
    call!(
        "PUT",
        "/v1/agent/service/deregister/svc-1",
        c.agent_service_deregister("svc-1", &o)
    );
    call!("GET", "/v1/agent/services", c.agent_services(&o));
    call!("GET", "/v1/agent/checks", c.agent_checks(&o));
    call!(
        "PUT",
        "/v1/agent/check/update/chk-1",
        c.agent_check_update("chk-1", CheckStatus::Critical, "", &o)
    );
    call!("GET", "/v1/agent/self", c.agent_self(&o));
    let pd = c.config_proxy_defaults_global(&o).await.unwrap();
    assert_eq!(pd.unwrap()["Kind"], "proxy-defaults");
    expected.push(("GET", "/v1/config/proxy-defaults/global"));
    call!("POST", "/v1/acl/logout", c.logout(&o));
    call!("DELETE", "/v1/acl/token/acc-1", c.token_delete("acc-1", &o));
    call!("GET", "/v1/acl/token/acc-1", c.token_read("acc-1", &o));
    let tok = AclToken {
        accessor_id: "acc-1".into(),
        ..Default::default()
    };
    call!(
        "PUT",
        "/v1/acl/token",
        c.token_create(&AclToken::default(), &o)
    );
    call!("PUT", "/v1/acl/token/acc-1", c.token_update(&tok, &o));
    let am = AclAuthMethod {
        name: "m".into(),
        ..Default::default()
    };
    call!("PUT", "/v1/acl/auth-method", c.auth_method_create(&am, &o));
    call!("GET", "/v1/acl/auth-method/m", c.auth_method_read("m", &o));
    call!(
        "PUT",
        "/v1/acl/auth-method/m",
        c.auth_method_update(&am, &o)
    );
    call!("GET", "/v1/acl/auth-methods", c.auth_method_list(&o));
    let br = AclBindingRule {
        id: "b1".into(),
        ..Default::default()
    };
    call!(
        "PUT",
        "/v1/acl/binding-rule",
        c.binding_rule_create(&AclBindingRule::default(), &o)
    );
    call!("GET", "/v1/acl/binding-rules", c.binding_rule_list("m", &o));
    assert_eq!(mock.last().query.as_deref(), Some("authmethod=m"));
    call!(
        "PUT",
        "/v1/acl/binding-rule/b1",
        c.binding_rule_update(&br, &o)
    );
    call!(
        "DELETE",
        "/v1/acl/binding-rule/b1",
        c.binding_rule_delete("b1", &o)
    );
    let pol = AclPolicy {
        id: "p1".into(),
        ..Default::default()
    };
    call!(
        "PUT",
        "/v1/acl/policy",
        c.policy_create(&AclPolicy::default(), &o)
    );
    call!("GET", "/v1/acl/policy/p1", c.policy_read("p1", &o));
    call!("PUT", "/v1/acl/policy/p1", c.policy_update(&pol, &o));
    let role = AclRole {
        id: "r1".into(),
        ..Default::default()
    };
    call!(
        "PUT",
        "/v1/acl/role",
        c.role_create(&AclRole::default(), &o)
    );
    call!("GET", "/v1/acl/role/r1", c.role_read("r1", &o));
    call!("PUT", "/v1/acl/role/r1", c.role_update(&role, &o));
    let roles = c.role_list(&o).await.unwrap();
    assert!(roles.is_empty(), "null list decodes as empty");
    expected.push(("GET", "/v1/acl/roles"));
    call!(
        "PUT",
        "/v1/partition",
        c.partition_create(
            &Partition {
                name: "p".into(),
                ..Default::default()
            },
            &o
        )
    );
    call!("GET", "/v1/partition/p", c.partition_read("p", &o));
    call!("GET", "/v1/partitions", c.partition_list(&o));
    let ns = Namespace {
        name: "n".into(),
        ..Default::default()
    };
    call!("PUT", "/v1/namespace", c.namespace_create(&ns, &o));
    call!("GET", "/v1/namespace/n", c.namespace_read("n", &o));
    call!("PUT", "/v1/namespace/n", c.namespace_update(&ns, &o));
    call!("GET", "/v1/namespaces", c.namespace_list(&o));

    let seen: Vec<(String, String)> = mock
        .requests()
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect();
    let expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
        .collect();
    assert_eq!(seen, expected);
    assert!(mock
        .requests()
        .iter()
        .all(|r| r.header("x-consul-token") == Some("mgmt")));
}

#[tokio::test]
async fn missing_proxy_defaults_is_none() {
    let mock = Mock::start().await;
    mock.on(
        "GET",
        "/v1/config/proxy-defaults/global",
        404,
        "Config entry not found for \"proxy-defaults\" / \"global\"",
    );
    let c = client(&mock, TokenSource::None);
    assert_eq!(
        c.config_proxy_defaults_global(&QueryOptions::default())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn timeout_is_a_retryable_transport_error() {
    let mock = Mock::start().await;
    mock.on_delayed("GET", "/v1/agent/self", 200, "{}", Duration::from_secs(3));
    let cfg = ClientConfig::default()
        .with_address(&mock.url())
        .unwrap()
        .with_timeout(Duration::from_millis(200));
    let c = Client::new(cfg).unwrap();
    let err = c.agent_self(&QueryOptions::default()).await.unwrap_err();
    assert!(
        matches!(
            err,
            ConsulError::Transport {
                kind: consul::TransportKind::TimedOut,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(err.to_string().starts_with("GET /v1/agent/self: "), "{err}");
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let cfg = ClientConfig::default()
        .with_address(&addr.to_string())
        .unwrap();
    let err = Client::new(cfg)
        .unwrap()
        .agent_services(&QueryOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConsulError::Transport {
                kind: consul::TransportKind::Refused,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    // The cause chain is kept, so the log line says *why* (Linux wording).
    assert!(err.to_string().contains("Connection refused"), "{err}");
    // Nothing answered: no status, and no text that says something did.
    assert_eq!(err.http_status(), None);
    assert!(!err.to_string().contains("answer"), "{err}");
}

#[tokio::test]
async fn kinds_come_from_the_error_types_and_the_cause_skips_the_http_layers() {
    // Refused: the io::Error's kind; the cause starts at the connector's own layer.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = Client::new(
        ClientConfig::default()
            .with_address(&addr.to_string())
            .unwrap(),
    )
    .unwrap()
    .agent_self(&QueryOptions::default())
    .await
    .unwrap_err();
    let ConsulError::Transport { kind, message, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*kind, consul::TransportKind::Refused);
    assert!(message.starts_with("tcp connect error: "), "{message}");
    assert!(message.contains("Connection refused"), "{message}");
    assert!(!message.contains("error sending request"), "{message}");
    assert!(!message.contains("client error"), "{message}");

    // Name not resolved: this crate's resolver error (.invalid never resolves, RFC 6761).
    let err = Client::new(
        ClientConfig::default()
            .with_address("http://consul.invalid:8500")
            .unwrap(),
    )
    .unwrap()
    .agent_self(&QueryOptions::default())
    .await
    .unwrap_err();
    assert_eq!(
        err.transport_kind(),
        Some(consul::TransportKind::NameNotResolved),
        "{err:?}"
    );
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("consul.invalid"), "{err}");
}

#[tokio::test]
async fn undecodable_answer_is_a_final_decode_error() {
    let mock = Mock::start().await;
    mock.on("GET", "/v1/agent/services", 200, "<html>proxy error</html>");
    let err = client(&mock, TokenSource::None)
        .agent_services(&QueryOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ConsulError::Decode { .. }), "{err:?}");
    assert!(!err.is_retryable());
}
