//! The Consul emulator's ACL admin API with raw HTTP: objects, permissions, the version
//! dependent "not found" answers, auth-method validation, logout and disabled ACLs.

mod common;

use common::call;
use serde_json::{json, Value};
use testkit::consul::{ConsulEmulator, EmulatorOptions};

fn acl_consul(legacy: bool) -> ConsulEmulator {
    ConsulEmulator::start(EmulatorOptions {
        acls_enabled: true,
        legacy_not_found: legacy,
        ..EmulatorOptions::default()
    })
}

fn iam_method(name: &str) -> Value {
    json!({
        "Name": name,
        "Type": "aws-iam",
        "Description": "AWS IAM auth method for ECS tasks",
        "Config": {
            "BoundIAMPrincipalARNs": ["arn:aws:iam::123456789012:role/consul-ecs/*"],
            "EnableIAMEntityDetails": true,
            "IAMEntityTags": ["consul.hashicorp.com.service-name"],
        }
    })
}

#[tokio::test]
async fn acls_disabled_answers_401_on_acl_endpoints_only() {
    let consul = ConsulEmulator::start(EmulatorOptions::default());
    for (method, path) in [
        ("GET", "/v1/acl/token/self"),
        ("POST", "/v1/acl/login"),
        ("POST", "/v1/acl/logout"),
        ("GET", "/v1/acl/tokens"),
        ("PUT", "/v1/acl/policy"),
        ("GET", "/v1/acl/auth-method/x"),
    ] {
        let r = call(&consul, method, path, None, Some(json!({}))).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (401, "ACL support disabled"),
            "{method} {path}"
        );
    }
    let r = call(&consul, "GET", "/v1/agent/self", None, None).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn policies_roles_and_tokens_round_trip() {
    let consul = acl_consul(false);
    let mgmt = consul.management_token();
    let m = Some(mgmt.as_str());

    let policy = json!({"Name": "web-write", "Description": "d", "Rules": "service \"web\" { policy = \"write\" }\nservice_prefix \"\" { policy = \"read\" }"});
    let r = call(&consul, "PUT", "/v1/acl/policy", m, Some(policy.clone())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let created = r.json();
    let pid = created["ID"].as_str().unwrap().to_string();
    assert!(created["Hash"].is_string());

    let r = call(
        &consul,
        "PUT",
        "/v1/acl/policy",
        m,
        Some(json!({"ID": "x", "Name": "n"})),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "Cannot specify the ID when creating a new policy")
    );
    let r = call(&consul, "PUT", "/v1/acl/policy", m, Some(policy)).await;
    assert_eq!(r.status, 500);
    assert!(r.body.contains("already exists"), "{}", r.body);
    let r = call(
        &consul,
        "PUT",
        "/v1/acl/policy",
        m,
        Some(json!({"Name": "bad", "Rules": "service \"x\" { policy = \"owner\" }"})),
    )
    .await;
    assert_eq!(r.status, 500, "{}", r.body);

    let r = call(&consul, "GET", "/v1/acl/policy/name/web-write", m, None).await;
    assert_eq!(r.json()["ID"], pid);
    let list = call(&consul, "GET", "/v1/acl/policies", m, None)
        .await
        .json();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p.get("Rules").is_none()));
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["Name"] == "global-management"));
    let r = call(&consul, "GET", "/v1/acl/policy/name/missing", m, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "Requested policy does not exist: ACL not found")
    );
    let r = call(
        &consul,
        "PUT",
        "/v1/acl/policy",
        m,
        Some(json!({"Name": "team/reader", "Rules": ""})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for path in [
        "/v1/acl/policy/name/team/reader",
        "/v1/acl/policy/name/team%2Freader",
    ] {
        let r = call(&consul, "GET", path, m, None).await;
        assert_eq!(
            (r.status, r.json()["Name"].clone()),
            (200, json!("team/reader")),
            "{path}"
        );
    }

    let role = json!({"Name": "web-role", "Policies": [{"Name": "web-write"}], "ServiceIdentities": [{"ServiceName": "api"}]});
    let r = call(&consul, "PUT", "/v1/acl/role", m, Some(role)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let role = r.json();
    assert_eq!(role["Policies"], json!([{"ID": pid, "Name": "web-write"}]));
    let rid = role["ID"].as_str().unwrap().to_string();
    let r = call(&consul, "GET", "/v1/acl/role/name/nope", m, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "Requested role does not exist: ACL not found")
    );

    let r = call(
        &consul,
        "PUT",
        "/v1/acl/token",
        m,
        Some(json!({"Description": "t", "Roles": [{"ID": rid}]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json();
    let secret = token["SecretID"].as_str().unwrap().to_string();
    let accessor = token["AccessorID"].as_str().unwrap().to_string();
    assert_eq!(token["Roles"][0]["Name"], "web-role");
    assert_eq!(token["Local"], false);

    // The role's policy and identity apply to the token.
    let reg = json!({"Name": "web", "Port": 1});
    assert_eq!(
        call(
            &consul,
            "PUT",
            "/v1/agent/service/register",
            Some(&secret),
            Some(reg)
        )
        .await
        .status,
        200
    );
    let reg = json!({"Name": "api-sidecar-proxy", "Kind": "connect-proxy", "Port": 2, "Proxy": {"DestinationServiceName": "api"}});
    assert_eq!(
        call(
            &consul,
            "PUT",
            "/v1/agent/service/register",
            Some(&secret),
            Some(reg)
        )
        .await
        .status,
        200
    );
    let reg = json!({"Name": "db", "Port": 1});
    assert_eq!(
        call(
            &consul,
            "PUT",
            "/v1/agent/service/register",
            Some(&secret),
            Some(reg)
        )
        .await
        .status,
        403
    );

    // A token without acl rights cannot use the admin API; token/self works for it.
    let r = call(&consul, "GET", "/v1/acl/tokens", Some(&secret), None).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("'acl:read'"), "{}", r.body);
    let me = call(
        &consul,
        "GET",
        "/v1/acl/token/self?stale",
        Some(&secret),
        None,
    )
    .await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["AccessorID"], accessor);

    // acl:read sees secrets hidden.
    let reader = consul.create_token_with_rules("acl = \"read\"");
    let r = call(
        &consul,
        "GET",
        &format!("/v1/acl/token/{accessor}"),
        Some(&reader.secret_id),
        None,
    )
    .await;
    assert_eq!(r.json()["SecretID"], "<hidden>");
    let r = call(
        &consul,
        "DELETE",
        &format!("/v1/acl/token/{accessor}"),
        Some(&reader.secret_id),
        None,
    )
    .await;
    assert_eq!(r.status, 403);

    // Update keeps the secret; changing it is refused.
    let r = call(
        &consul,
        "PUT",
        &format!("/v1/acl/token/{accessor}"),
        m,
        Some(json!({"AccessorID": accessor, "SecretID": secret, "Description": "new"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["Description"], "new");
    let r = call(
        &consul,
        "PUT",
        &format!("/v1/acl/token/{accessor}"),
        m,
        Some(json!({"SecretID": "6a1f7d8e-0000-4000-8000-000000000000"})),
    )
    .await;
    assert_eq!(r.status, 500);
    let r = call(
        &consul,
        "PUT",
        &format!("/v1/acl/token/{accessor}"),
        m,
        Some(json!({"AccessorID": "other"})),
    )
    .await;
    assert_eq!(r.status, 400);

    // The anonymous token can be given rights (the acl-controller does this).
    let anon = "00000000-0000-0000-0000-000000000002";
    let r = call(
        &consul,
        "PUT",
        &format!("/v1/acl/token/{anon}"),
        m,
        Some(json!({"Policies": [{"ID": pid}]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        call(
            &consul,
            "PUT",
            "/v1/agent/service/register",
            None,
            Some(json!({"Name": "web", "Port": 3}))
        )
        .await
        .status,
        200
    );

    let r = call(
        &consul,
        "DELETE",
        &format!("/v1/acl/token/{accessor}"),
        m,
        None,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, "true"));
    let r = call(
        &consul,
        "DELETE",
        &format!("/v1/acl/token/{accessor}"),
        m,
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "Cannot find token to delete")
    );
    let r = call(
        &consul,
        "GET",
        &format!("/v1/acl/token/{accessor}"),
        m,
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, "token does not exist: ACL not found")
    );
    let r = call(&consul, "GET", "/v1/acl/token/self", Some(&secret), None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, "token does not exist: ACL not found")
    );
    let r = call(&consul, "GET", "/v1/agent/services", Some(&secret), None).await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));
}

#[tokio::test]
async fn legacy_not_found_answers() {
    let consul = acl_consul(true);
    let m = consul.management_token();
    let r = call(
        &consul,
        "GET",
        "/v1/acl/policy/name/missing",
        Some(&m),
        None,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));
    let r = call(&consul, "GET", "/v1/acl/role/name/missing", Some(&m), None).await;
    assert_eq!((r.status, r.body.as_str()), (404, ""));
    let r = call(
        &consul,
        "GET",
        "/v1/acl/auth-method/missing",
        Some(&m),
        None,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (404, ""));
    let r = call(
        &consul,
        "DELETE",
        "/v1/acl/token/0a0a0a0a-0000-4000-8000-000000000000",
        Some(&m),
        None,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, "true"));
    let r = call(
        &consul,
        "GET",
        "/v1/acl/token/self",
        Some("0a0a0a0a-0000-4000-8000-000000000000"),
        None,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));
}

#[tokio::test]
async fn auth_methods_and_binding_rules_validate_like_consul() {
    let consul = acl_consul(false);
    let m = consul.management_token();
    let m = Some(m.as_str());

    let r = call(
        &consul,
        "PUT",
        "/v1/acl/auth-method",
        m,
        Some(iam_method("iam-ecs-service-token")),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["Config"]["EnableIAMEntityDetails"], true);

    let bad_configs = [
        (
            json!({}),
            "Invalid Auth Method: BoundIAMPrincipalARNs is required",
        ),
        (
            json!({"BoundIAMPrincipalARNs": ["arn:aws:iam::1:role/x/*"]}),
            "Invalid Auth Method: Must set EnableIAMEntityDetails=true to use wildcards",
        ),
        (
            json!({"BoundIAMPrincipalARNs": ["arn:aws:iam::1:role/x"], "Unknown": 1}),
            "Invalid Auth Method: error decoding config",
        ),
        (
            json!({"BoundIAMPrincipalARNs": ["arn:aws:iam::1:role/x"], "IAMEntityTags": ["t"]}),
            "Invalid Auth Method: Must set EnableIAMEntityDetails=true",
        ),
        (
            json!({"BoundIAMPrincipalARNs": ["arn:aws:iam::1:role/x"], "STSEndpoint": "not a url"}),
            "Invalid Auth Method: STSEndpoint is invalid",
        ),
    ];
    for (i, (config, text)) in bad_configs.into_iter().enumerate() {
        let body = json!({"Name": format!("m{i}"), "Type": "aws-iam", "Config": config});
        let r = call(&consul, "PUT", "/v1/acl/auth-method", m, Some(body)).await;
        assert_eq!(r.status, 500, "{}", r.body);
        assert!(r.body.starts_with(text), "{} vs {text}", r.body);
    }
    // Key names are case-insensitive (the docs spell BoundIAMPrincipalArns).
    let docs_spelling = json!({"Name": "docs", "Type": "aws-iam", "Config": {"BoundIAMPrincipalArns": ["arn:aws:iam::1:role/x"]}});
    assert_eq!(
        call(
            &consul,
            "PUT",
            "/v1/acl/auth-method",
            m,
            Some(docs_spelling)
        )
        .await
        .status,
        200
    );

    let mut update = iam_method("other");
    let r = call(
        &consul,
        "PUT",
        "/v1/acl/auth-method/iam-ecs-service-token",
        m,
        Some(update.clone()),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "AuthMethod Name in URL and payload do not match")
    );
    update["Name"] = json!("iam-ecs-service-token");
    update["Description"] = json!("changed");
    let r = call(
        &consul,
        "PUT",
        "/v1/acl/auth-method/iam-ecs-service-token",
        m,
        Some(update),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let list = call(&consul, "GET", "/v1/acl/auth-methods", m, None)
        .await
        .json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list[0].get("Config").is_none());
    let r = call(&consul, "GET", "/v1/acl/auth-method/nope", m, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "Requested auth method does not exist: ACL not found")
    );

    let rule = json!({
        "AuthMethod": "iam-ecs-service-token",
        "BindType": "service",
        "BindName": "${entity_tags.consul.hashicorp.com.service-name}",
        "Selector": "entity_tags[\"consul.hashicorp.com.service-name\"] != \"\"",
    });
    let r = call(
        &consul,
        "PUT",
        "/v1/acl/binding-rule",
        m,
        Some(rule.clone()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["ID"].as_str().unwrap().to_string();
    let mut bad = rule.clone();
    bad["AuthMethod"] = json!("missing");
    let r = call(&consul, "PUT", "/v1/acl/binding-rule", m, Some(bad)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "cannot find auth method with name \"missing\"")
    );
    let mut bad = rule.clone();
    bad["BindType"] = json!("policy");
    let r = call(&consul, "PUT", "/v1/acl/binding-rule", m, Some(bad)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "Invalid Binding Rule: unknown BindType \"policy\"")
    );
    let mut bad = rule.clone();
    bad["BindName"] = json!("${entity_tags.not-listed}");
    let r = call(&consul, "PUT", "/v1/acl/binding-rule", m, Some(bad)).await;
    assert_eq!(r.status, 500);
    assert!(
        r.body.starts_with("Invalid Binding Rule: invalid BindName"),
        "{}",
        r.body
    );
    let mut bad = rule;
    bad["Selector"] = json!("bogus_field == 1");
    let r = call(&consul, "PUT", "/v1/acl/binding-rule", m, Some(bad)).await;
    assert_eq!(r.status, 500);
    assert!(
        r.body.starts_with("Invalid Binding Rule: invalid Selector"),
        "{}",
        r.body
    );

    let list = call(
        &consul,
        "GET",
        "/v1/acl/binding-rules?authmethod=iam-ecs-service-token",
        m,
        None,
    )
    .await
    .json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let list = call(
        &consul,
        "GET",
        "/v1/acl/binding-rules?authmethod=docs",
        m,
        None,
    )
    .await
    .json();
    assert_eq!(list, json!([]));

    // Deleting the method removes its rules.
    let r = call(
        &consul,
        "DELETE",
        "/v1/acl/auth-method/iam-ecs-service-token",
        m,
        None,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, "true"));
    let r = call(
        &consul,
        "GET",
        &format!("/v1/acl/binding-rule/{id}"),
        m,
        None,
    )
    .await;
    assert_eq!(r.status, 404);
    let r = call(
        &consul,
        "DELETE",
        "/v1/acl/auth-method/iam-ecs-service-token",
        m,
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "Cannot find auth method to delete")
    );
}

#[tokio::test]
async fn login_and_logout_errors_before_any_aws_call() {
    let consul = acl_consul(false);
    let m = consul.management_token();
    let r = call(
        &consul,
        "POST",
        "/v1/acl/login",
        None,
        Some(json!({"AuthMethod": "nope", "BearerToken": "{}"})),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, "ACL not found: auth method \"nope\" not found")
    );
    let r = call(
        &consul,
        "POST",
        "/v1/acl/login",
        None,
        Some(json!({"AuthMethod": "x", "Bogus": 1})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body.starts_with("Failed to decode request body: "),
        "{}",
        r.body
    );

    call(
        &consul,
        "PUT",
        "/v1/acl/auth-method",
        Some(&m),
        Some(iam_method("iam")),
    )
    .await;
    let bearer = |url: &str, method: &str, body: &str| {
        use base64::Engine as _;
        let b = base64::engine::general_purpose::STANDARD;
        json!({
            "iam_http_request_method": method,
            "iam_request_url": b.encode(url),
            "iam_request_headers": b.encode("{}"),
            "iam_request_body": b.encode(body),
        })
        .to_string()
    };
    let gci = "Action=GetCallerIdentity&Version=2011-06-15";
    let cases = [
        (
            bearer("https://sts.us-east-1.amazonaws.com/", "GET", gci),
            "iam_http_request_method must be POST".to_string(),
        ),
        (
            bearer("https://evil.example.com/", "POST", gci),
            "invalid STS hostname: \"evil.example.com\"".to_string(),
        ),
        (
            bearer(
                "https://sts.amazonaws.com/",
                "POST",
                "Action=GetCallerIdentity&Extra=1",
            ),
            "iam_request_body error: unexpected field \"Extra\"".to_string(),
        ),
        (
            bearer("https://sts.amazonaws.com/", "POST", "Version=1"),
            "iam_request_body error: missing field \"Action\"".to_string(),
        ),
        (
            bearer("https://sts.amazonaws.com/", "POST", gci),
            "missing header \"X-Consul-IAM-GetEntity-Method\"".to_string(),
        ),
        ("not json".to_string(), "invalid token: ".to_string()),
    ];
    for (token, text) in cases {
        let r = call(
            &consul,
            "POST",
            "/v1/acl/login",
            None,
            Some(json!({"AuthMethod": "iam", "BearerToken": token})),
        )
        .await;
        assert_eq!(r.status, 500, "{}", r.body);
        assert!(
            r.body.starts_with(&text),
            "{:?} does not start with {text:?}",
            r.body
        );
    }

    let r = call(&consul, "POST", "/v1/acl/logout", None, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (401, "Supplied token does not exist")
    );
    let r = call(
        &consul,
        "POST",
        "/v1/acl/logout",
        Some("0b0b0b0b-0000-4000-8000-000000000000"),
        None,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));
    let r = call(&consul, "POST", "/v1/acl/logout", Some(&m), None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, "Permission denied: token wasn't created via login")
    );
}

#[tokio::test]
async fn enterprise_partitions_and_namespaces() {
    let ce = acl_consul(false);
    let m = ce.management_token();
    let r = call(&ce, "GET", "/v1/partitions", Some(&m), None).await;
    assert_eq!(r.status, 404);

    let consul = ConsulEmulator::start(EmulatorOptions {
        acls_enabled: true,
        enterprise: true,
        ..EmulatorOptions::default()
    });
    let m = consul.management_token();
    let m = Some(m.as_str());
    let list = call(&consul, "GET", "/v1/partitions", m, None).await.json();
    assert_eq!(list[0]["Name"], "default");
    let r = call(
        &consul,
        "PUT",
        "/v1/partition",
        m,
        Some(json!({"Name": "team-a"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(&consul, "GET", "/v1/partition/team-a", m, None).await;
    assert_eq!(r.json()["Name"], "team-a");
    let r = call(&consul, "GET", "/v1/partition/nope", m, None).await;
    assert_eq!(r.status, 404);

    // Namespace defaults link policies of their partition's default namespace.
    let r = call(
        &consul,
        "PUT",
        "/v1/acl/policy?partition=team-a",
        m,
        Some(json!({"Name": "cross-ns", "Rules": "service_prefix \"\" { policy = \"read\" }"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ns = json!({"Name": "web-ns", "ACLs": {"PolicyDefaults": [{"Name": "cross-ns"}]}, "Meta": {"k": "v"}});
    let r = call(
        &consul,
        "PUT",
        "/v1/namespace?partition=team-a",
        m,
        Some(ns),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let created = r.json();
    assert_eq!(created["Partition"], "team-a");
    assert_eq!(created["ACLs"]["PolicyDefaults"][0]["Name"], "cross-ns");
    assert!(created["ACLs"]["PolicyDefaults"][0]["ID"].is_string());
    let r = call(
        &consul,
        "GET",
        "/v1/namespace/web-ns?partition=team-a",
        m,
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let r = call(&consul, "GET", "/v1/namespace/web-ns", m, None).await;
    assert_eq!(r.status, 404, "namespaces live in their partition");
    let r = call(
        &consul,
        "PUT",
        "/v1/namespace/web-ns?partition=team-a",
        m,
        Some(json!({"Name": "web-ns", "Description": "d"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let names: Vec<Value> = call(&consul, "GET", "/v1/namespaces?partition=team-a", m, None)
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["Name"].clone())
        .collect();
    assert_eq!(names, vec![json!("default"), json!("web-ns")]);

    // Writes need operator:write.
    let web = consul.create_service_token("web");
    let r = call(
        &consul,
        "PUT",
        "/v1/partition",
        Some(&web.secret_id),
        Some(json!({"Name": "x"})),
    )
    .await;
    assert_eq!(r.status, 403);
    // Enterprise accepts tenancy parameters elsewhere.
    let r = call(
        &consul,
        "GET",
        "/v1/agent/services?ns=web-ns&partition=team-a",
        m,
        None,
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn tokens_expire() {
    let consul = acl_consul(false);
    let m = consul.management_token();
    let m = Some(m.as_str());
    let r = call(
        &consul,
        "PUT",
        "/v1/acl/token",
        m,
        Some(json!({"ExpirationTTL": "10s"})),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            500,
            "Token Expiration TTL '10s' should be between 1m0s and 24h0m0s"
        )
    );
    let r = call(
        &consul,
        "PUT",
        "/v1/acl/token",
        m,
        Some(json!({"ExpirationTTL": "10m", "ExpirationTime": "2099-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(r.status, 500);
    let r = call(
        &consul,
        "PUT",
        "/v1/acl/token",
        m,
        Some(json!({"ExpirationTime": "2001-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "ExpirationTime cannot be in the past")
    );

    let r = call(
        &consul,
        "PUT",
        "/v1/acl/token",
        m,
        Some(json!({"ExpirationTTL": "10m", "ServiceIdentities": [{"ServiceName": "web"}]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json();
    // A Go time.Duration: integer nanoseconds.
    assert_eq!(token["ExpirationTTL"], 600_000_000_000u64);
    assert!(token["ExpirationTime"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    let secret = token["SecretID"].as_str().unwrap().to_string();
    let accessor = token["AccessorID"].as_str().unwrap().to_string();
    let reg = json!({"Name": "web", "Port": 1});
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        Some(&secret),
        Some(reg.clone()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    consul.advance_clock(std::time::Duration::from_secs(11 * 60));
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        Some(&secret),
        Some(reg),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));
    // An expired token reads as a missing one: Consul 1.15's 403.
    let r = call(&consul, "GET", "/v1/acl/token/self", Some(&secret), None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, "token does not exist: ACL not found")
    );
    let r = call(
        &consul,
        "GET",
        &format!("/v1/acl/token/{accessor}"),
        m,
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, "token does not exist: ACL not found")
    );
}

#[tokio::test]
async fn consul_1_15_answers_for_unknown_tokens_paths_and_methods() {
    let consul = acl_consul(false);
    let mgmt = consul.management_token();
    let m = Some(mgmt.as_str());
    let unknown = Some("0b0b0b0b-0000-4000-8000-000000000000");

    // token/self and token/:id: the RPC's `ACL not found`, 403, not the handler's 404s.
    let r = call(&consul, "GET", "/v1/acl/token/self", unknown, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, "token does not exist: ACL not found")
    );
    let r = call(
        &consul,
        "GET",
        "/v1/acl/token/0c0c0c0c-0000-4000-8000-000000000000",
        m,
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, "token does not exist: ACL not found")
    );

    // A delete by a caller whose own token is unknown: Consul maps its `ACL not found` to
    // the same 404 as a missing target, and deletes nothing.
    let r = call(
        &consul,
        "PUT",
        "/v1/acl/token",
        m,
        Some(json!({"ServiceIdentities": [{"ServiceName": "web"}]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let accessor = r.json()["AccessorID"].as_str().unwrap().to_string();
    let path = format!("/v1/acl/token/{accessor}");
    let r = call(&consul, "DELETE", &path, unknown, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "Cannot find token to delete")
    );
    let r = call(&consul, "GET", &path, m, None).await;
    assert_eq!(r.status, 200, "the token must still exist: {}", r.body);

    // Login is POST only.
    let r = call(
        &consul,
        "PUT",
        "/v1/acl/login",
        None,
        Some(json!({"AuthMethod": "x", "BearerToken": "{}"})),
    )
    .await;
    assert_eq!(r.status, 405, "{}", r.body);

    // An unknown API path.
    let r = call(&consul, "GET", "/v1/acl/nothing-here", m, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "Invalid URL path: not a recognized HTTP API endpoint")
    );

    // agent/self says 1.15.
    let r = call(&consul, "GET", "/v1/agent/self", m, None).await;
    assert_eq!(r.json()["Config"]["Version"], "1.15.10");
}

/// Through a client agent, what the servers answer carries the agent's RPC prefix with the
/// same status; what the agent answers itself does not.
#[tokio::test]
async fn through_a_client_agent_server_errors_carry_the_rpc_prefix() {
    let consul = ConsulEmulator::start(EmulatorOptions {
        acls_enabled: true,
        through_client_agent: true,
        ..EmulatorOptions::default()
    });
    let m = Some(consul.management_token());
    let m = m.as_deref();
    let unknown = "00000000-0000-4000-8000-000000000000";
    let r = call(&consul, "GET", "/v1/acl/token/self", Some(unknown), None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            403,
            "rpc error making call: token does not exist: ACL not found"
        )
    );
    let r = call(
        &consul,
        "POST",
        "/v1/acl/login",
        None,
        Some(json!({"AuthMethod": "missing", "BearerToken": "x"})),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body
            .starts_with("rpc error making call: ACL not found: auth method"),
        "{}",
        r.body
    );
    // The agent's own answers: method not allowed, unknown path, its own endpoints.
    let r = call(&consul, "GET", "/v1/acl/login", None, None).await;
    assert_eq!(r.status, 405);
    assert!(!r.body.starts_with("rpc error"), "{}", r.body);
    let r = call(&consul, "GET", "/v1/acl/nonsense", m, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "Invalid URL path: not a recognized HTTP API endpoint")
    );
    let r = call(&consul, "GET", "/v1/agent/service/web", m, None).await;
    assert_eq!(r.status, 404);
    assert!(!r.body.starts_with("rpc error"), "{}", r.body);
}
