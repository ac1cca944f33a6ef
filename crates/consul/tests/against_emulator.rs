//! The client against testkit's Consul emulator (which behaves like Consul per docs/protocols.md
//! §3–§5): every endpoint round-trips, ACL denials come back with Consul's texts and the
//! right classification, and the retry helper rides out injected 5xx/429 and an outage.
//!
//! On failure the emulator's request log is printed.

use consul::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use testkit::consul::{ConsulEmulator, EmulatorOptions};

fn emulator(acls: bool, enterprise: bool, legacy: bool) -> ConsulEmulator {
    ConsulEmulator::start(EmulatorOptions {
        acls_enabled: acls,
        enterprise,
        legacy_not_found: legacy,
        ..EmulatorOptions::default()
    })
}

fn client_with(consul: &ConsulEmulator, token: Option<&str>) -> Client {
    let token = match token {
        Some(t) => TokenSource::Value(Secret::new(t)),
        None => TokenSource::None,
    };
    let cfg = ClientConfig::default()
        .with_address(&consul.http_addr())
        .unwrap()
        .with_token(token)
        .with_timeout(Duration::from_secs(5));
    Client::new(cfg).unwrap()
}

fn mgmt(consul: &ConsulEmulator) -> Client {
    client_with(consul, Some(&consul.management_token()))
}

/// Unwraps with the emulator's request log in the panic message.
trait OrLog<T> {
    fn or_log(self, consul: &ConsulEmulator, what: &str) -> T;
}

impl<T, E: std::fmt::Display> OrLog<T> for Result<T, E> {
    fn or_log(self, consul: &ConsulEmulator, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!(
                "{what}: {e}\n--- emulator request log\n{}",
                consul.request_log()
            ),
        }
    }
}

const TASK_ID: &str = "0f3bca58e0f4486a95b04c1bd1d4be55";

fn service_registration() -> AgentServiceRegistration {
    AgentServiceRegistration {
        id: format!("web-{TASK_ID}"),
        name: "web".into(),
        tags: vec!["v1".into()],
        port: 9090,
        meta: BTreeMap::from([
            ("task-id".to_owned(), TASK_ID.to_owned()),
            ("source".to_owned(), "consul-ecs".to_owned()),
        ]),
        checks: vec![AgentServiceCheck {
            check_id: format!("web-{TASK_ID}-web-consul-ecs"),
            name: "consul ecs synced".into(),
            ttl: "100000h".into(),
            notes: "synced".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn sidecar_registration() -> AgentServiceRegistration {
    let service_id = format!("web-{TASK_ID}");
    AgentServiceRegistration {
        kind: "connect-proxy".into(),
        id: format!("{service_id}-sidecar-proxy"),
        name: "web-sidecar-proxy".into(),
        tags: vec!["v1".into()],
        port: 20000,
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
            destination_service_id: service_id,
            local_service_port: 9090,
            upstreams: vec![Upstream {
                destination_name: "backend".into(),
                local_bind_port: 1234,
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn agent_endpoints_round_trip() {
    let consul = emulator(true, false, false);
    let c = mgmt(&consul);
    let o = QueryOptions::default();
    let service_id = format!("web-{TASK_ID}");
    let proxy_id = format!("{service_id}-sidecar-proxy");
    let check_id = format!("{service_id}-web-consul-ecs");

    c.agent_service_register(&service_registration(), &o)
        .await
        .or_log(&consul, "register service");
    c.agent_service_register(&sidecar_registration(), &o)
        .await
        .or_log(&consul, "register sidecar");

    let svc = c
        .agent_service(&proxy_id, &o)
        .await
        .or_log(&consul, "read sidecar")
        .expect("sidecar registered");
    assert_eq!(svc.service, "web-sidecar-proxy");
    assert_eq!(svc.kind, "connect-proxy");
    assert_eq!(svc.datacenter, "dc1");
    let proxy = svc.proxy.expect("proxy block");
    assert_eq!(proxy.destination_service_id, service_id);
    assert_eq!(proxy.upstreams[0].destination_name, "backend");
    assert_eq!(proxy.upstreams[0].destination_type, "service");
    let raw = c
        .agent_service_raw(&proxy_id, &o)
        .await
        .or_log(&consul, "raw sidecar")
        .expect("sidecar registered");
    assert!(
        raw["ContentHash"].as_str().is_some_and(|h| !h.is_empty()),
        "{raw}"
    );

    let services = c.agent_services(&o).await.or_log(&consul, "services");
    assert_eq!(
        services.keys().cloned().collect::<Vec<_>>(),
        vec![service_id.clone(), proxy_id.clone()]
    );
    let filtered = c
        .agent_services(&QueryOptions::default().with_filter("Service == \"web\""))
        .await
        .or_log(&consul, "filtered services");
    assert_eq!(
        filtered.keys().cloned().collect::<Vec<_>>(),
        vec![service_id.clone()]
    );

    let checks = c.agent_checks(&o).await.or_log(&consul, "checks");
    assert_eq!(
        checks[&check_id].status, "critical",
        "TTL checks start critical"
    );
    assert_eq!(checks[&check_id].check_type, "ttl");
    assert!(
        checks.contains_key(&format!("service:{proxy_id}:1")),
        "{checks:?}"
    );
    assert!(
        checks.contains_key(&format!("service:{proxy_id}:2")),
        "{checks:?}"
    );

    c.agent_check_update(
        &check_id,
        CheckStatus::Passing,
        "ECS health status is \"HEALTHY\"",
        &o,
    )
    .await
    .or_log(&consul, "check update");
    let checks = c.agent_checks(&o).await.or_log(&consul, "checks");
    assert_eq!(checks[&check_id].status, "passing");
    assert_eq!(checks[&check_id].output, "ECS health status is \"HEALTHY\"");

    let err = c
        .agent_check_update("no-such-check", CheckStatus::Critical, "", &o)
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), Some(404), "{err}");
    assert!(err.body().unwrap().contains("Unknown check ID"), "{err}");
    assert!(!err.is_retryable());

    let me = c.agent_self(&o).await.or_log(&consul, "agent self");
    assert_eq!(me.datacenter(), Some("dc1"));
    assert_eq!(me.node_name(), Some("ip-10-0-1-23.ec2.internal"));
    assert_eq!(me.xds_grpc_port(), Some((8502, false)));
    assert!(me.primary_datacenter().is_some());

    assert_eq!(
        c.config_proxy_defaults_global(&o)
            .await
            .or_log(&consul, "pd"),
        None
    );
    consul.add_proxy_defaults(json!({"protocol": "http"}));
    let pd = c
        .config_proxy_defaults_global(&o)
        .await
        .or_log(&consul, "pd")
        .expect("proxy-defaults stored");
    assert_eq!(pd["Config"]["protocol"], "http");

    c.agent_service_deregister(&proxy_id, &o)
        .await
        .or_log(&consul, "deregister");
    assert_eq!(
        c.agent_service(&proxy_id, &o).await.or_log(&consul, "read"),
        None
    );
    let err = c.agent_service_deregister(&proxy_id, &o).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn agent_rejects_bad_registrations_with_consul_texts() {
    let consul = emulator(false, false, false);
    let c = client_with(&consul, None);
    let o = QueryOptions::default();
    let err = c
        .agent_service_register(&AgentServiceRegistration::default(), &o)
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), Some(400));
    assert!(
        err.body().unwrap().contains("Missing service name"),
        "{err}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn acl_denials_are_classified() {
    let consul = emulator(true, false, false);
    let o = QueryOptions::default();
    let web = consul.create_service_token("web");
    let c = client_with(&consul, Some(&web.secret_id));

    // A service identity may register its own service and sidecar...
    c.agent_service_register(&service_registration(), &o)
        .await
        .or_log(&consul, "register own service");
    c.agent_service_register(&sidecar_registration(), &o)
        .await
        .or_log(&consul, "register own sidecar");
    // ...but not another service, nor read the agent's config.
    let other = AgentServiceRegistration {
        name: "billing".into(),
        ..Default::default()
    };
    let err = c.agent_service_register(&other, &o).await.unwrap_err();
    assert!(err.is_permission_denied(), "{err}");
    assert!(!err.is_retryable() && !err.is_acl_not_found());
    let err = c.agent_self(&o).await.unwrap_err();
    assert!(err.is_permission_denied(), "{err}");

    // Anonymous (no token) is denied too under default-deny.
    let anon = client_with(&consul, None);
    let err = anon.agent_service_register(&other, &o).await.unwrap_err();
    assert!(err.is_permission_denied(), "{err}");

    // An unknown token is "ACL not found", which is not "permission denied".
    let ghost = client_with(&consul, Some("00000000-dead-beef-0000-000000000000"));
    let err = ghost.agent_services(&o).await.unwrap_err();
    assert!(err.is_acl_not_found(), "{err}");
    assert!(!err.is_permission_denied());
    assert!(
        !err.to_string().contains("dead-beef"),
        "token in error: {err}"
    );

    // The service token reads itself (stale), but cannot administer ACLs.
    let me = c
        .token_read_self(&QueryOptions::stale())
        .await
        .or_log(&consul, "token self");
    assert_eq!(me.accessor_id, web.accessor_id);
    assert_eq!(me.service_identities[0].service_name, "web");
    let err = c.policy_list(&o).await.unwrap_err();
    assert!(err.is_permission_denied(), "{err}");

    // Logging out a token that was not made by login is refused with Consul's text.
    let err = c.logout(&o).await.unwrap_err();
    assert_eq!(err.http_status(), Some(403));
    assert!(
        err.body().unwrap().contains("wasn't created via login"),
        "{err}"
    );
}

#[tokio::test]
async fn token_self_not_found_in_both_consul_generations() {
    for legacy in [false, true] {
        let consul = emulator(true, false, legacy);
        let c = client_with(&consul, Some("11111111-2222-3333-4444-555555555555"));
        let err = c.token_read_self(&QueryOptions::stale()).await.unwrap_err();
        assert!(err.is_acl_not_found(), "legacy={legacy}: {err}");
        assert!(!err.is_retryable(), "legacy={legacy}: {err}");
        let req = consul.requests().pop().unwrap();
        assert_eq!(req.query, "stale=", "legacy={legacy}");
    }
}

#[tokio::test]
async fn login_errors_carry_consul_texts() {
    let consul = emulator(true, false, false);
    let c = mgmt(&consul);
    let req = LoginRequest {
        auth_method: "iam-ecs-service-token".into(),
        bearer_token: Secret::new("{}"),
        meta: BTreeMap::from([(
            "consul.hashicorp.com/task-id".to_owned(),
            TASK_ID.to_owned(),
        )]),
    };
    let err = c.login(&req, &QueryOptions::default()).await.unwrap_err();
    assert_eq!(err.http_status(), Some(403), "{err}");
    assert!(err.is_acl_not_found(), "no such auth method: {err}");
    let logged = consul.requests().pop().unwrap();
    assert!(!logged.had_token, "login must not send the client's token");

    let disabled = emulator(false, false, false);
    let err = client_with(&disabled, None)
        .login(&req, &QueryOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), Some(401));
    assert!(
        err.body().unwrap().contains("ACL support disabled"),
        "{err}"
    );
}

fn iam_method(name: &str) -> AclAuthMethod {
    let mut config = serde_json::Map::new();
    config.insert(
        "BoundIAMPrincipalARNs".into(),
        json!(["arn:aws:iam::123456789012:role/consul-ecs/*"]),
    );
    config.insert("EnableIAMEntityDetails".into(), json!(true));
    config.insert(
        "IAMEntityTags".into(),
        json!(["consul.hashicorp.com.service-name"]),
    );
    AclAuthMethod {
        name: name.into(),
        method_type: "aws-iam".into(),
        description: "AWS IAM auth method for ECS service tokens".into(),
        config,
        ..Default::default()
    }
}

#[tokio::test]
async fn acl_admin_round_trip() {
    for legacy in [false, true] {
        acl_admin_round_trip_on(legacy).await;
    }
}

async fn acl_admin_round_trip_on(legacy: bool) {
    let consul = emulator(true, false, legacy);
    let c = mgmt(&consul);
    let o = QueryOptions::default();
    let ctx = format!("legacy={legacy}");

    // Missing objects read as None, whatever the server generation.
    assert_eq!(
        c.policy_read_by_name("consul-ecs-client-policy", &o)
            .await
            .or_log(&consul, &ctx),
        None
    );
    assert_eq!(
        c.role_read_by_name("consul-ecs-client-role", &o)
            .await
            .or_log(&consul, &ctx),
        None
    );
    assert_eq!(
        c.auth_method_read("iam-ecs-service-token", &o)
            .await
            .or_log(&consul, &ctx),
        None
    );
    assert_eq!(
        c.token_read("99999999-0000-0000-0000-000000000000", &o)
            .await
            .or_log(&consul, &ctx),
        None
    );

    // Policies.
    let policy = c
        .policy_create(
            &AclPolicy {
                name: "consul-ecs-client-policy".into(),
                description: "Consul Client Token Policy for ECS".into(),
                rules: "node_prefix \"\" { policy = \"write\" } service_prefix \"\" { policy = \"read\" }".into(),
                ..Default::default()
            },
            &o,
        )
        .await
        .or_log(&consul, "policy create");
    assert!(!policy.id.is_empty());
    let by_name = c
        .policy_read_by_name("consul-ecs-client-policy", &o)
        .await
        .or_log(&consul, "policy by name")
        .expect("policy exists");
    assert_eq!(by_name.id, policy.id);
    assert!(by_name.rules.contains("node_prefix"));
    let mut updated = by_name.clone();
    updated.description = "changed".into();
    let updated = c
        .policy_update(&updated, &o)
        .await
        .or_log(&consul, "policy update");
    assert_eq!(updated.description, "changed");
    assert_eq!(
        c.policy_read(&policy.id, &o)
            .await
            .or_log(&consul, "policy read")
            .unwrap()
            .description,
        "changed"
    );
    assert!(c
        .policy_list(&o)
        .await
        .or_log(&consul, "policy list")
        .iter()
        .any(|p| p.name == "consul-ecs-client-policy"));
    let err = c
        .policy_create(
            &AclPolicy {
                name: "consul-ecs-client-policy".into(),
                ..Default::default()
            },
            &o,
        )
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), Some(500), "duplicate name: {err}");

    // Roles, linking the policy by name.
    let role = c
        .role_create(
            &AclRole {
                name: "consul-ecs-client-role".into(),
                description: "Consul Client Token Role for ECS".into(),
                ..Default::default()
            },
            &o,
        )
        .await
        .or_log(&consul, "role create");
    let mut with_policy = role.clone();
    with_policy.policies = vec![AclLink::by_name("consul-ecs-client-policy")];
    let role2 = c
        .role_update(&with_policy, &o)
        .await
        .or_log(&consul, "role update");
    assert_eq!(
        role2.policies[0].id, policy.id,
        "Consul resolves names to IDs"
    );
    let read = c
        .role_read_by_name("consul-ecs-client-role", &o)
        .await
        .or_log(&consul, "role by name")
        .unwrap();
    assert_eq!(read.id, role.id);
    assert_eq!(
        c.role_read(&role.id, &o)
            .await
            .or_log(&consul, "role read")
            .unwrap()
            .name,
        read.name
    );
    assert_eq!(c.role_list(&o).await.or_log(&consul, "role list").len(), 1);

    // Auth methods.
    let m = c
        .auth_method_create(&iam_method("iam-ecs-service-token"), &o)
        .await
        .or_log(&consul, "auth method create");
    assert_eq!(m.method_type, "aws-iam");
    let mut m2 = c
        .auth_method_read("iam-ecs-service-token", &o)
        .await
        .or_log(&consul, "auth method read")
        .unwrap();
    assert_eq!(m2.config["EnableIAMEntityDetails"], json!(true));
    m2.config.insert(
        "BoundIAMPrincipalARNs".into(),
        json!([
            "arn:aws:iam::123456789012:role/a/*",
            "arn:aws:iam::123456789012:role/consul-ecs/*"
        ]),
    );
    let m3 = c
        .auth_method_update(&m2, &o)
        .await
        .or_log(&consul, "auth method update");
    assert_eq!(
        m3.config["BoundIAMPrincipalARNs"].as_array().unwrap().len(),
        2
    );
    let list = c
        .auth_method_list(&o)
        .await
        .or_log(&consul, "auth method list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "iam-ecs-service-token");
    let mut bad = iam_method("bad-method");
    bad.config.insert("NoSuchKey".into(), json!(1));
    let err = c.auth_method_create(&bad, &o).await.unwrap_err();
    assert!(err.body().unwrap().contains("invalid keys"), "{err}");

    // Binding rules.
    assert!(c
        .binding_rule_list("iam-ecs-service-token", &o)
        .await
        .or_log(&consul, "rules")
        .is_empty());
    let rule = c
        .binding_rule_create(
            &AclBindingRule {
                description: "Bind a service identity from IAM role tag for ECS".into(),
                auth_method: "iam-ecs-service-token".into(),
                bind_type: "service".into(),
                bind_name: "${entity_tags.consul.hashicorp.com.service-name}".into(),
                ..Default::default()
            },
            &o,
        )
        .await
        .or_log(&consul, "rule create");
    assert!(!rule.id.is_empty());
    let mut rule2 = rule.clone();
    rule2.description = "changed".into();
    let rule2 = c
        .binding_rule_update(&rule2, &o)
        .await
        .or_log(&consul, "rule update");
    assert_eq!(rule2.description, "changed");
    let rules = c
        .binding_rule_list("iam-ecs-service-token", &o)
        .await
        .or_log(&consul, "rules");
    assert_eq!(rules.len(), 1);
    assert!(c
        .binding_rule_list("other", &o)
        .await
        .or_log(&consul, "rules")
        .is_empty());
    c.binding_rule_delete(&rule.id, &o)
        .await
        .or_log(&consul, "rule delete");
    assert!(c
        .binding_rule_list("", &o)
        .await
        .or_log(&consul, "rules")
        .is_empty());

    // Tokens: the anonymous token gains a policy the way the acl-controller does it.
    let anon_id = "00000000-0000-0000-0000-000000000002";
    let mut anon = c
        .token_read(anon_id, &o)
        .await
        .or_log(&consul, "anon read")
        .unwrap();
    anon.policies
        .push(AclLink::by_name("consul-ecs-client-policy"));
    let anon = c
        .token_update(&anon, &o)
        .await
        .or_log(&consul, "anon update");
    assert!(anon
        .policies
        .iter()
        .any(|p| p.name == "consul-ecs-client-policy"));

    let tok = c
        .token_create(
            &AclToken {
                description: "test token".into(),
                service_identities: vec![AclServiceIdentity {
                    service_name: "web".into(),
                    datacenters: vec![],
                }],
                ..Default::default()
            },
            &o,
        )
        .await
        .or_log(&consul, "token create");
    assert!(!tok.secret_id.is_empty());
    let all = c
        .token_list(&TokenListFilter::default(), &o)
        .await
        .or_log(&consul, "token list");
    assert!(all.iter().any(|t| t.accessor_id == tok.accessor_id));
    // Read as it arrives: the same tokens, with the fields a controller reads.
    let mut streamed = Vec::new();
    c.token_list_each(&TokenListFilter::default(), &o, |t| streamed.push(t))
        .await
        .or_log(&consul, "token list as it arrives");
    assert_eq!(
        streamed,
        all.iter()
            .map(|t| AclTokenListEntry {
                accessor_id: t.accessor_id.clone(),
                description: t.description.clone(),
                auth_method: t.auth_method.clone(),
                namespace: t.namespace.clone(),
                partition: t.partition.clone(),
            })
            .collect::<Vec<_>>()
    );
    let by_method = c
        .token_list(
            &TokenListFilter {
                auth_method: "iam-ecs-service-token".into(),
                ..Default::default()
            },
            &o,
        )
        .await
        .or_log(&consul, "token list by method");
    assert!(by_method.is_empty(), "no login tokens yet: {by_method:?}");
    c.token_delete(&tok.accessor_id, &o)
        .await
        .or_log(&consul, "token delete");
    assert_eq!(
        c.token_read(&tok.accessor_id, &o)
            .await
            .or_log(&consul, "read"),
        None
    );
    let again = c.token_delete(&tok.accessor_id, &o).await;
    if legacy {
        assert!(
            again.is_ok(),
            "Consul < 1.15 deletes missing tokens silently"
        );
    } else {
        assert!(again.unwrap_err().is_not_found());
    }
}

#[tokio::test]
async fn namespace_and_partition_parameters_ce_vs_enterprise() {
    // Consul CE rejects non-empty ns/partition, which is why the client omits empty ones.
    let ce = emulator(false, false, false);
    let c = client_with(&ce, None);
    c.agent_services(&QueryOptions::default())
        .await
        .or_log(&ce, "CE without tenancy");
    let err = c
        .agent_services(&QueryOptions::default().with_namespace("web"))
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), Some(400), "{err}");

    let ent = emulator(true, true, false);
    let c = mgmt(&ent);
    let o = QueryOptions::default();
    assert_eq!(
        c.partition_read("team-a", &o)
            .await
            .or_log(&ent, "partition read"),
        None
    );
    let p = c
        .partition_create(
            &Partition {
                name: "team-a".into(),
                ..Default::default()
            },
            &o,
        )
        .await
        .or_log(&ent, "partition create");
    assert_eq!(p.name, "team-a");
    assert!(c
        .partition_read("team-a", &o)
        .await
        .or_log(&ent, "read")
        .is_some());
    let names: Vec<String> = c
        .partition_list(&o)
        .await
        .or_log(&ent, "partition list")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert!(
        names.contains(&"team-a".to_owned()) && names.contains(&"default".to_owned()),
        "{names:?}"
    );

    let in_p = QueryOptions::default().with_partition("team-a");
    let ns = c
        .namespace_create(
            &Namespace {
                name: "web".into(),
                acls: Some(NamespaceAclConfig::default()),
                ..Default::default()
            },
            &in_p,
        )
        .await
        .or_log(&ent, "namespace create");
    assert_eq!(ns.name, "web");
    let mut ns = c
        .namespace_read("web", &in_p)
        .await
        .or_log(&ent, "namespace read")
        .expect("namespace exists");
    assert_eq!(ns.partition, "team-a");
    ns.description = "web apps".into();
    let ns = c
        .namespace_update(&ns, &in_p)
        .await
        .or_log(&ent, "namespace update");
    assert_eq!(ns.description, "web apps");
    let list = c.namespace_list(&in_p).await.or_log(&ent, "namespace list");
    assert!(list.iter().any(|n| n.name == "web"), "{list:?}");
    assert_eq!(
        c.namespace_read("nope", &in_p).await.or_log(&ent, "read"),
        None
    );
    let last = ent.requests().pop().unwrap();
    assert_eq!(last.query, "partition=team-a");
}

#[tokio::test]
async fn retry_rides_out_injected_5xx_and_429() {
    let consul = emulator(true, false, false);
    let c = mgmt(&consul);
    let o = QueryOptions::default();
    let reg = service_registration();
    let policy = RetryPolicy {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(50),
        multiplier: 2.0,
        jitter: Jitter::Full,
        deadline: Duration::from_secs(5),
        max_attempts: None,
    };
    for status in [500, 503, 429] {
        consul.faults().fail_next(2, status);
        let before = consul.requests().len();
        retry(&policy, "register service", || {
            c.agent_service_register(&reg, &o)
        })
        .await
        .or_log(&consul, &format!("retry after {status}"));
        let log = consul.requests();
        let statuses: Vec<u16> = log[before..].iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            vec![status, status, 200],
            "\n{}",
            consul.request_log()
        );
    }

    // An injected 403 is final: one attempt only.
    consul.faults().fail_next(1, 403);
    let err = retry(&policy, "register service", || {
        c.agent_service_register(&reg, &o)
    })
    .await
    .unwrap_err();
    assert_eq!((err.attempts, err.reason), (1, GaveUp::Final));
    consul.faults().clear();
}

#[tokio::test]
async fn retry_rides_out_an_outage_and_times_out_slow_answers() {
    let consul = emulator(false, false, false);
    let c = client_with(&consul, None);
    let o = QueryOptions::default();
    consul.go_down();
    let err = c.agent_services(&o).await.unwrap_err();
    assert!(
        matches!(err, ConsulError::Transport { .. }) && err.is_retryable(),
        "{err}"
    );

    let policy = RetryPolicy::fixed(Duration::from_millis(50), Duration::from_secs(5));
    let back = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        consul.come_back().unwrap();
    };
    let (result, ()) = tokio::join!(
        retry(&policy, "list services", || c.agent_services(&o)),
        back
    );
    result.or_log(&consul, "after outage");

    consul.faults().set_latency(Duration::from_millis(800));
    let impatient = Client::new(
        ClientConfig::default()
            .with_address(&consul.http_addr())
            .unwrap()
            .with_timeout(Duration::from_millis(200)),
    )
    .unwrap();
    let err = impatient.agent_services(&o).await.unwrap_err();
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
    consul.faults().clear();
}
