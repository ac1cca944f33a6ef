//! Admin partitions and namespaces (Consul Enterprise emulator): start-up in a partition,
//! namespaces for running mesh tasks, tokens listed and deleted per namespace, and the
//! tasks and tokens of other partitions left alone.

mod common;

use common::{seeded, World};
use serde_json::{json, Value};
use testkit::aws::ACCOUNT_ID;
use testkit::consul::{EmulatorOptions, Scope, CLIENT_AUTH_METHOD, SERVICE_AUTH_METHOD};

const PARTITION: &str = "ptn1";
const PARTITION_TAG: &str = "consul.hashicorp.com/partition";
const NAMESPACE_TAG: &str = "consul.hashicorp.com/namespace";

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["Name"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_its_objects_namespaces_and_tokens() {
    let w = World::new(EmulatorOptions {
        enterprise: true,
        ..EmulatorOptions::default()
    });
    let controller = w.controller("/consul-ecs/", Some(PARTITION));
    let report = controller
        .start_up()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", w.log()));
    assert!(report.primary);

    // Start-up: the partition and every object in it, in the partition forms.
    assert!(names(&w.get("/v1/partitions").await).contains(&PARTITION.to_string()));
    let q = format!("?partition={PARTITION}");
    let policy = w
        .get(&format!("/v1/acl/policy/name/consul-ecs-client-policy{q}"))
        .await;
    assert_eq!(
        policy["Rules"],
        format!("partition \"{PARTITION}\" {{\n  node_prefix \"\" {{\n    policy = \"write\"\n  }}\n  namespace_prefix \"\" {{\n    service_prefix \"\" {{\n      policy = \"read\"\n    }}\n  }}\n}}"),
        "{}",
        w.log()
    );
    assert_eq!(
        (policy["Partition"].as_str(), policy["Namespace"].as_str()),
        (Some(PARTITION), Some("default"))
    );
    let role = w
        .get(&format!("/v1/acl/role/name/consul-ecs-client-role{q}"))
        .await;
    assert_eq!(role["Policies"][0]["Name"], "consul-ecs-client-policy");
    assert_eq!(role["Partition"], PARTITION);
    let service = w
        .get(&format!("/v1/acl/auth-method/{SERVICE_AUTH_METHOD}{q}"))
        .await;
    assert_eq!(
        service["NamespaceRules"],
        json!([{"Selector": "entity_tags[\"consul.hashicorp.com.namespace\"] != \"\"",
                "BindNamespace": "${entity_tags.consul.hashicorp.com.namespace}"}]),
        "{service:#}"
    );
    assert_eq!(
        service["Config"]["BoundIAMPrincipalARNs"],
        json!([format!("arn:aws:iam::{ACCOUNT_ID}:role/consul-ecs/*")])
    );
    assert_eq!(service["Partition"], PARTITION);
    let client = w
        .get(&format!("/v1/acl/auth-method/{CLIENT_AUTH_METHOD}{q}"))
        .await;
    assert!(client.get("NamespaceRules").is_none(), "{client:#}");
    for method in [CLIENT_AUTH_METHOD, SERVICE_AUTH_METHOD] {
        let rules = w
            .get(&format!(
                "/v1/acl/binding-rules?authmethod={method}&partition={PARTITION}"
            ))
            .await;
        assert_eq!(rules.as_array().unwrap().len(), 1, "{rules}");
    }
    // Nothing of it landed in the default partition.
    let default_policies = names(&w.get("/v1/acl/policies").await);
    assert!(
        !default_policies.contains(&"consul-ecs-client-policy".to_string()),
        "{default_policies:?}"
    );
    assert!(names(&w.get("/v1/acl/auth-methods").await).is_empty());
    // The anonymous token's policy lives in default/default, in the partitions form.
    let anonymous = w
        .get("/v1/acl/policy/name/anonymous-token-policy?partition=default&ns=default")
        .await;
    assert!(
        anonymous["Rules"]
            .as_str()
            .unwrap()
            .starts_with("\npartition_prefix \"\" {"),
        "{anonymous}"
    );
    let token = w
        .get("/v1/acl/token/00000000-0000-0000-0000-000000000002?partition=default&ns=default")
        .await;
    assert_eq!(token["Policies"][0]["Name"], "anonymous-token-policy");
    // cross-namespace-read in the partition's default namespace, a default of it.
    let cross = w
        .get(&format!(
            "/v1/acl/policy/name/cross-namespace-read?partition={PARTITION}&ns=default"
        ))
        .await;
    assert_eq!(
        cross["Description"],
        "Allow service and node reads across namespaces within the partition"
    );
    assert_eq!(
        cross["Rules"],
        format!("partition \"{PARTITION}\" {{\n  namespace_prefix \"\" {{\n    service_prefix \"\" {{\n      policy = \"read\"\n    }}\n    node_prefix \"\" {{\n      policy = \"read\"\n    }}\n  }}\n}}")
    );
    let default_ns = w.get(&format!("/v1/namespace/default{q}")).await;
    assert_eq!(
        default_ns["ACLs"]["PolicyDefaults"][0]["Name"],
        "cross-namespace-read"
    );

    // Tasks: one per case.
    let web = w
        .run_mesh_tasks(1, &[(PARTITION_TAG, PARTITION), (NAMESPACE_TAG, "web-ns")])
        .remove(0);
    let stopped = w
        .run_mesh_tasks(1, &[(PARTITION_TAG, PARTITION), (NAMESPACE_TAG, "pay-ns")])
        .remove(0);
    let other = w
        .run_mesh_tasks(1, &[(PARTITION_TAG, "other"), (NAMESPACE_TAG, "other-ns")])
        .remove(0);
    let half = w.run_mesh_tasks(1, &[(PARTITION_TAG, PARTITION)]).remove(0);
    w.stop_task(&stopped);

    let arn = w.cluster.arn.clone();
    let in_ns = |ns: &str| Some(Scope::new(PARTITION, ns));
    let gone = "0123456789abcdef0123456789abcdef";
    let ids = w.consul.seed_login_tokens(&[
        seeded(SERVICE_AUTH_METHOD, &web, &arn, in_ns("web-ns")),
        seeded(CLIENT_AUTH_METHOD, &web, &arn, in_ns("default")),
        seeded(SERVICE_AUTH_METHOD, &stopped, &arn, in_ns("web-ns")),
        seeded(CLIENT_AUTH_METHOD, &stopped, &arn, in_ns("default")),
        // Other partitions' tokens are other controllers' business.
        seeded(
            SERVICE_AUTH_METHOD,
            gone,
            &arn,
            Some(Scope::new("other", "other-ns")),
        ),
        seeded(
            SERVICE_AUTH_METHOD,
            gone,
            &arn,
            Some(Scope::new("default", "default")),
        ),
    ]);
    // The token in web-ns was made before the namespace existed: create it as the round
    // would not (tokens never create namespaces) so listing it is possible.
    let (status, body) = w
        .put(&format!("/v1/namespace{q}"), json!({"Name": "web-ns"}))
        .await;
    assert_eq!(status, 200, "{body}");

    let before = w.consul.requests().len();
    let report = controller
        .reconcile()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", w.log()));
    let mut deleted = report.deleted.clone();
    deleted.sort();
    let mut want = vec![ids[2].clone(), ids[3].clone()];
    want.sort();
    assert_eq!(deleted, want, "{report:#?}\n{}", w.log());
    for kept in [&ids[0], &ids[1], &ids[4], &ids[5]] {
        assert!(w.exists(kept), "{kept} kept\n{report:#?}");
    }
    // The task with only a partition tag is skipped, loudly.
    assert_eq!(report.errors.len(), 1, "{report:#?}");
    assert!(report.errors[0].contains(&half), "{report:#?}");
    assert_eq!(
        report.mesh_tasks, 1,
        "only the web task is this partition's: {report:#?}"
    );
    assert!(!other.is_empty());

    // web-ns existed; pay-ns belongs to a stopped task, other-ns to another partition.
    assert!(report.namespaces_created.is_empty(), "{report:#?}");
    let namespaces = names(&w.get(&format!("/v1/namespaces{q}")).await);
    assert_eq!(namespaces, ["default", "web-ns"]);
    assert!(names(&w.get("/v1/namespaces?partition=other").await).is_empty());

    let round: Vec<String> = w.consul.requests()[before..]
        .iter()
        .map(|r| r.to_string())
        .collect();
    let deletes: Vec<&String> = round.iter().filter(|r| r.starts_with("DELETE")).collect();
    assert!(
        deletes
            .iter()
            .any(|r| r.contains("ns=web-ns") && r.contains(&format!("partition={PARTITION}"))),
        "deletes carry the token's namespace and partition: {deletes:#?}"
    );
    let lists = round
        .iter()
        .filter(|r| r.starts_with("GET /v1/acl/tokens"))
        .count();
    assert_eq!(lists, 4, "two methods × two namespaces: {round:#?}");

    // A new task in a new namespace: the next round creates it, with the policy default.
    let _api = w.run_mesh_tasks(1, &[(PARTITION_TAG, PARTITION), (NAMESPACE_TAG, "api-ns")]);
    let report = controller
        .reconcile()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", w.log()));
    assert_eq!(report.namespaces_created, ["api-ns"], "{report:#?}");
    let api = w.get(&format!("/v1/namespace/api-ns{q}")).await;
    assert_eq!(
        api["ACLs"]["PolicyDefaults"][0]["Name"],
        "cross-namespace-read"
    );
    assert_eq!(api["Partition"], PARTITION);
    // A restart writes nothing.
    let seen = w.consul.requests().len();
    w.controller("/consul-ecs/", Some(PARTITION))
        .start_up()
        .await
        .unwrap();
    assert_eq!(w.writes_since(seen), Vec::<String>::new(), "{}", w.log());
}
