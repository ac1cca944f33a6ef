//! Start-up against the Consul emulator (CE): every object v0.6.2 creates, field by field;
//! merging with another controller's auth methods; a restart that writes nothing; binding
//! rules an operator made; a secondary datacenter.

mod common;

use common::World;
use serde_json::{json, Value};
use testkit::aws::ACCOUNT_ID;
use testkit::consul::EmulatorOptions;

const CLIENT_RULES: &str =
    "node_prefix \"\" { policy = \"write\" } service_prefix \"\" { policy = \"read\" }";
const ANONYMOUS_RULES: &str = "\n    node_prefix \"\" {\n      policy = \"read\"\n    }\n    service_prefix \"\" {\n      policy = \"read\"\n    }";

fn ce() -> World {
    World::new(EmulatorOptions::default())
}

fn bound(path: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT_ID}:role/{path}*")
}

/// Compares the fields of `expected` (only those) with `actual`, naming the first that
/// differs.
fn assert_fields(what: &str, actual: &Value, expected: &Value, w: &World) {
    for (key, want) in expected.as_object().unwrap() {
        assert_eq!(
            actual.get(key).unwrap_or(&Value::Null),
            want,
            "{what}.{key} differs; whole object: {actual:#}\n{}",
            w.log()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_creates_v0_6_2_objects_field_by_field() {
    let w = ce();
    let controller = w.controller("/consul-ecs/", None);
    let report = controller
        .start_up()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", w.log()));
    assert!(report.primary);
    assert_eq!(report.datacenter, "dc1");

    let policy = w.get("/v1/acl/policy/name/consul-ecs-client-policy").await;
    assert_fields(
        "client policy",
        &policy,
        &json!({"Name": "consul-ecs-client-policy", "Description": "Consul Client Token Policy for ECS", "Rules": CLIENT_RULES}),
        &w,
    );
    assert!(policy.get("Datacenters").is_none(), "{policy}");

    let role = w.get("/v1/acl/role/name/consul-ecs-client-role").await;
    assert_fields(
        "client role",
        &role,
        &json!({"Name": "consul-ecs-client-role", "Description": "Consul Client Token Role for ECS"}),
        &w,
    );
    assert_eq!(role["Policies"][0]["Name"], "consul-ecs-client-policy");
    assert_eq!(role["Policies"][0]["ID"], policy["ID"]);
    assert_eq!(role["Policies"].as_array().unwrap().len(), 1);

    let client = w.get("/v1/acl/auth-method/iam-ecs-client-token").await;
    assert_fields(
        "client auth method",
        &client,
        &json!({
            "Name": "iam-ecs-client-token",
            "Type": "aws-iam",
            "Description": "AWS IAM auth method for ECS client tokens",
            "Config": {"BoundIAMPrincipalARNs": [bound("consul-ecs/")], "EnableIAMEntityDetails": true},
        }),
        &w,
    );
    let service = w.get("/v1/acl/auth-method/iam-ecs-service-token").await;
    assert_fields(
        "service auth method",
        &service,
        &json!({
            "Name": "iam-ecs-service-token",
            "Type": "aws-iam",
            "Description": "AWS IAM auth method for ECS service tokens",
            "Config": {
                "BoundIAMPrincipalARNs": [bound("consul-ecs/")],
                "EnableIAMEntityDetails": true,
                "IAMEntityTags": ["consul.hashicorp.com.service-name", "consul.hashicorp.com.namespace"],
            },
        }),
        &w,
    );
    for method in [&client, &service] {
        assert!(
            method.get("NamespaceRules").is_none(),
            "CE: no namespace rules: {method}"
        );
        assert!(method.get("MaxTokenTTL").is_none() && method.get("DisplayName").is_none());
    }

    let rules = w
        .get("/v1/acl/binding-rules?authmethod=iam-ecs-client-token")
        .await;
    assert_eq!(rules.as_array().unwrap().len(), 1, "{rules}");
    assert_fields(
        "client binding rule",
        &rules[0],
        &json!({"Description": "Bind a policy for Consul clients on ECS", "AuthMethod": "iam-ecs-client-token",
                "Selector": "", "BindType": "role", "BindName": "consul-ecs-client-role"}),
        &w,
    );
    let rules = w
        .get("/v1/acl/binding-rules?authmethod=iam-ecs-service-token")
        .await;
    assert_eq!(rules.as_array().unwrap().len(), 1, "{rules}");
    assert_fields(
        "service binding rule",
        &rules[0],
        &json!({"Description": "Bind a service identity from IAM role tag for ECS", "AuthMethod": "iam-ecs-service-token",
                "Selector": "", "BindType": "service", "BindName": "${entity_tags.consul.hashicorp.com.service-name}"}),
        &w,
    );

    let anonymous_policy = w.get("/v1/acl/policy/name/anonymous-token-policy").await;
    assert_fields(
        "anonymous policy",
        &anonymous_policy,
        &json!({"Name": "anonymous-token-policy", "Description": "Anonymous token Policy", "Rules": ANONYMOUS_RULES}),
        &w,
    );
    let anonymous = w
        .get("/v1/acl/token/00000000-0000-0000-0000-000000000002")
        .await;
    assert_eq!(
        anonymous["Policies"],
        json!([{"ID": anonymous_policy["ID"], "Name": "anonymous-token-policy"}]),
        "{}",
        w.log()
    );
    assert_eq!(anonymous["SecretID"], "anonymous");

    // A login through the new methods works end to end: the role binds the client policy.
    // (The methods have no STS endpoint of their own here, so log in through the helper
    // methods instead of checking AWS: that is covered in the reaping tests.)
    let policies = w.get("/v1/acl/policies").await;
    let names: Vec<&str> = policies
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["Name"].as_str())
        .collect();
    assert_eq!(
        names.len(),
        3,
        "global-management, the client policy and the anonymous policy: {names:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_reads_everything_and_writes_nothing() {
    let w = ce();
    let controller = w.controller("/consul-ecs/", None);
    let first = controller.start_up().await.unwrap();
    assert_eq!(first.changes.len(), 8, "{:?}", first.changes);
    let seen = w.consul.requests().len();
    let again = w.controller("/consul-ecs/", None);
    let second = again
        .start_up()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", w.log()));
    assert!(second.changes.is_empty(), "{:?}", second.changes);
    assert_eq!(w.writes_since(seen), Vec::<String>::new(), "{}", w.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_controller_merges_its_arns_and_keeps_the_others() {
    let w = ce();
    // Another account's controller (or an operator) made the methods first, with a server
    // ID header and endpoints of its own, and a longer token TTL.
    let other = "arn:aws:iam::999999999999:role/consul-ecs/*";
    for (name, desc) in [
        (
            "iam-ecs-client-token",
            "AWS IAM auth method for ECS client tokens",
        ),
        (
            "iam-ecs-service-token",
            "AWS IAM auth method for ECS service tokens",
        ),
    ] {
        let (status, body) = w
            .put(
                "/v1/acl/auth-method",
                json!({"Name": name, "Type": "aws-iam", "Description": desc, "MaxTokenTTL": "2h",
                       "Config": {"BoundIAMPrincipalArns": [other], "EnableIAMEntityDetails": true,
                                  "ServerIDHeaderValue": "consul.example.com", "STSEndpoint": w.aws.endpoint()}}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let first = w.controller("/consul-ecs/", None);
    first
        .start_up()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", w.log()));
    // A second controller of this account with another role path.
    let second = w.controller("/teams/payments/", None);
    second
        .start_up()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", w.log()));

    for name in ["iam-ecs-client-token", "iam-ecs-service-token"] {
        let method = w.get(&format!("/v1/acl/auth-method/{name}")).await;
        assert_eq!(
            method["Config"]["BoundIAMPrincipalARNs"],
            json!([bound("consul-ecs/"), bound("teams/payments/"), other]),
            "sorted union of every controller's ARNs: {method:#}"
        );
        assert_eq!(
            method["Config"]["ServerIDHeaderValue"],
            "consul.example.com"
        );
        assert_eq!(method["Config"]["STSEndpoint"], w.aws.endpoint());
        assert_eq!(method["MaxTokenTTL"], "2h0m0s");
        assert_eq!(method["Config"]["EnableIAMEntityDetails"], true);
    }
    let service = w.get("/v1/acl/auth-method/iam-ecs-service-token").await;
    assert_eq!(
        service["Config"]["IAMEntityTags"],
        json!([
            "consul.hashicorp.com.service-name",
            "consul.hashicorp.com.namespace"
        ])
    );
    // Both restarted: nothing left to write.
    let seen = w.consul.requests().len();
    first.start_up().await.unwrap();
    second.start_up().await.unwrap();
    assert_eq!(w.writes_since(seen), Vec::<String>::new(), "{}", w.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_rules_an_operator_made_are_kept() {
    let w = ce();
    let (status, body) = w
        .put(
            "/v1/acl/auth-method",
            json!({"Name": "iam-ecs-service-token", "Type": "aws-iam",
                   "Config": {"BoundIAMPrincipalARNs": [bound("consul-ecs/")], "EnableIAMEntityDetails": true,
                              "IAMEntityTags": ["team"]}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = w
        .put(
            "/v1/acl/binding-rule",
            json!({"AuthMethod": "iam-ecs-service-token", "BindType": "service",
                   "BindName": "${entity_name}", "Selector": "entity_tags.team == \"payments\""}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // A role an operator emptied gets the client policy back, as in v0.6.2.
    let (status, body) = w
        .put(
            "/v1/acl/role",
            json!({"Name": "consul-ecs-client-role", "Description": "mine"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    w.controller("/consul-ecs/", None)
        .start_up()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", w.log()));
    let rules = w
        .get("/v1/acl/binding-rules?authmethod=iam-ecs-service-token")
        .await;
    assert_eq!(rules.as_array().unwrap().len(), 1, "{rules}");
    assert_eq!(rules[0]["BindName"], "${entity_name}");
    let rules = w
        .get("/v1/acl/binding-rules?authmethod=iam-ecs-client-token")
        .await;
    assert_eq!(
        rules.as_array().unwrap().len(),
        1,
        "the client method had none: {rules}"
    );
    let role = w.get("/v1/acl/role/name/consul-ecs-client-role").await;
    assert_eq!(role["Description"], "mine");
    assert_eq!(role["Policies"][0]["Name"], "consul-ecs-client-policy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secondary_datacenter_leaves_the_anonymous_token_alone() {
    let w = World::new(EmulatorOptions {
        datacenter: "dc2".into(),
        primary_datacenter: Some("dc1".into()),
        ..EmulatorOptions::default()
    });
    let report = w
        .controller("/consul-ecs/", None)
        .start_up()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", w.log()));
    assert!(!report.primary);
    assert_eq!(report.datacenter, "dc2");
    assert!(
        !w.consul
            .requests()
            .iter()
            .any(|r| r.path.contains("anonymous-token-policy") || r.path.ends_with("-000000000002")),
        "{}",
        w.log()
    );
    let anonymous = w
        .get("/v1/acl/token/00000000-0000-0000-0000-000000000002")
        .await;
    assert!(anonymous.get("Policies").is_none(), "{anonymous}");
    // Everything else is there.
    w.get("/v1/acl/auth-method/iam-ecs-service-token").await;
    w.get("/v1/acl/policy/name/consul-ecs-client-policy").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_path_slash_trusts_every_role_of_the_account() {
    let w = ce();
    w.controller("/", None).start_up().await.unwrap();
    let method = w.get("/v1/acl/auth-method/iam-ecs-client-token").await;
    assert_eq!(
        method["Config"]["BoundIAMPrincipalARNs"],
        json!([format!("arn:aws:iam::{ACCOUNT_ID}:role/*")])
    );
}
