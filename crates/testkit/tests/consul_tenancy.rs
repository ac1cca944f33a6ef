//! The emulator's Enterprise tenancy of ACL objects (docs/protocols.md §4.0, §5.6, §5.7):
//! objects live in a partition and namespace, requests see only their own, token lists
//! filter by auth method (and its namespace) and take `ns=*`, auth methods keep their
//! namespace rules; and `/v1/agent/self` can play a secondary datacenter.

mod common;

use common::call;
use serde_json::{json, Value};
use testkit::consul::{ConsulEmulator, EmulatorOptions, Scope, SeededLogin};

fn enterprise() -> ConsulEmulator {
    ConsulEmulator::start(EmulatorOptions {
        acls_enabled: true,
        enterprise: true,
        ..EmulatorOptions::default()
    })
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| p["Name"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn method(name: &str) -> Value {
    json!({"Name": name, "Type": "aws-iam",
           "Config": {"BoundIAMPrincipalARNs": ["arn:aws:iam::123456789012:role/consul-ecs/*"],
                      "EnableIAMEntityDetails": true, "IAMEntityTags": ["consul.hashicorp.com.namespace"]}})
}

#[tokio::test]
async fn acl_objects_live_in_their_partition_and_namespace() {
    let consul = enterprise();
    let m = consul.management_token();
    let m = Some(m.as_str());
    let r = call(
        &consul,
        "PUT",
        "/v1/partition",
        m,
        Some(json!({"Name": "ptn1"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rules = "service_prefix \"\" { policy = \"read\" }";
    // The same name in two partitions: two policies.
    for path in ["/v1/acl/policy", "/v1/acl/policy?partition=ptn1"] {
        let r = call(
            &consul,
            "PUT",
            path,
            m,
            Some(json!({"Name": "p", "Rules": rules})),
        )
        .await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    // The body's fields win over the query.
    let r = call(
        &consul,
        "PUT",
        "/v1/acl/policy?partition=default",
        m,
        Some(json!({"Name": "q", "Rules": rules, "Partition": "ptn1", "Namespace": "default"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.json()["Partition"].clone(), r.json()["Namespace"].clone()),
        (json!("ptn1"), json!("default"))
    );
    let in_ptn1 = call(&consul, "GET", "/v1/acl/policies?partition=ptn1", m, None)
        .await
        .json();
    let mut got = names(&in_ptn1);
    got.sort();
    assert_eq!(got, ["p", "q"]);
    assert_eq!(in_ptn1.as_array().unwrap().len(), 2, "{in_ptn1}");
    let by_name = call(&consul, "GET", "/v1/acl/policy/name/q", m, None).await;
    assert_eq!(by_name.status, 404, "q lives in ptn1 only");
    let id = in_ptn1[0]["ID"].as_str().unwrap().to_string();
    let by_id = call(&consul, "GET", &format!("/v1/acl/policy/{id}"), m, None).await;
    assert_eq!(
        by_id.status, 404,
        "another partition's policy by ID is not found either"
    );
    let header = reqwest::Client::new()
        .get(format!("{}/v1/acl/policy/{id}", consul.http_addr()))
        .header("X-Consul-Token", consul.management_token())
        .header("X-Consul-Partition", "ptn1")
        .send()
        .await
        .unwrap();
    assert_eq!(header.status(), 200, "the partition header selects it");

    // A namespace links its partition's default-namespace policies, not another partition's.
    let r = call(
        &consul,
        "PUT",
        "/v1/namespace?partition=ptn1",
        m,
        Some(json!({"Name": "web", "ACLs": {"PolicyDefaults": [{"Name": "q"}]}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        &consul,
        "PUT",
        "/v1/namespace",
        m,
        Some(json!({"Name": "web", "ACLs": {"PolicyDefaults": [{"Name": "q"}]}})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);

    // Auth methods: per partition, with namespace rules (only in the default namespace).
    let mut with_rules = method("m");
    with_rules["NamespaceRules"] = json!([{"Selector": "entity_tags[\"consul.hashicorp.com.namespace\"] != \"\"",
                                          "BindNamespace": "${entity_tags.consul.hashicorp.com.namespace}"}]);
    let r = call(
        &consul,
        "PUT",
        "/v1/acl/auth-method?partition=ptn1",
        m,
        Some(with_rules.clone()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["NamespaceRules"], with_rules["NamespaceRules"]);
    let r = call(
        &consul,
        "GET",
        "/v1/acl/auth-method/m?partition=ptn1",
        m,
        None,
    )
    .await;
    assert_eq!(r.json()["NamespaceRules"], with_rules["NamespaceRules"]);
    assert_eq!(
        call(&consul, "GET", "/v1/acl/auth-method/m", m, None)
            .await
            .status,
        404
    );
    let r = call(
        &consul,
        "PUT",
        "/v1/acl/auth-method?partition=ptn1&ns=web",
        m,
        Some(with_rules),
    )
    .await;
    assert_eq!(
        r.status, 500,
        "namespace rules outside the default namespace: {}",
        r.body
    );
    // An update replaces the whole method: the rules go when the body has none.
    let r = call(
        &consul,
        "PUT",
        "/v1/acl/auth-method/m?partition=ptn1",
        m,
        Some(method("m")),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json().get("NamespaceRules").is_none(), "{}", r.body);
}

#[tokio::test]
async fn token_lists_filter_by_auth_method_and_namespace() {
    let consul = enterprise();
    let m = consul.management_token();
    let m = Some(m.as_str());
    call(
        &consul,
        "PUT",
        "/v1/partition",
        m,
        Some(json!({"Name": "ptn1"})),
    )
    .await;
    let seed = |method: &str, ns: &str, method_ns: Option<&str>| SeededLogin {
        method: method.into(),
        meta: Default::default(),
        scope: Some(Scope::new("ptn1", ns)),
        method_namespace: method_ns.map(str::to_string),
    };
    let ids = consul.seed_login_tokens(&[
        seed("svc", "default", None),
        seed("svc", "web", None),
        seed("client", "web", None),
        seed("svc", "web", Some("web")),
    ]);
    let list = |path: String| {
        let consul = &consul;
        async move {
            let r = call(consul, "GET", &path, m, None).await;
            assert_eq!(r.status, 200, "{path}: {}", r.body);
            let mut got: Vec<String> = r
                .json()
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["AccessorID"].as_str().unwrap().to_string())
                .collect();
            got.sort();
            got
        }
    };
    let sorted = |v: &[&String]| {
        let mut v: Vec<String> = v.iter().map(|s| (*s).clone()).collect();
        v.sort();
        v
    };
    assert_eq!(
        list("/v1/acl/tokens?partition=ptn1&ns=web&authmethod=svc".into()).await,
        sorted(&[&ids[1]])
    );
    assert_eq!(
        list("/v1/acl/tokens?partition=ptn1&ns=web&authmethod=svc&authmethod-ns=web".into()).await,
        sorted(&[&ids[3]])
    );
    assert_eq!(
        list("/v1/acl/tokens?partition=ptn1&ns=*&authmethod=svc".into()).await,
        sorted(&[&ids[0], &ids[1]])
    );
    assert_eq!(
        list("/v1/acl/tokens?partition=ptn1&ns=web".into()).await,
        sorted(&[&ids[1], &ids[2], &ids[3]])
    );
    assert!(
        list("/v1/acl/tokens?authmethod=svc".into())
            .await
            .is_empty(),
        "default partition has none"
    );
    // Token reads and deletes need the token's namespace and partition.
    let r = call(
        &consul,
        "DELETE",
        &format!("/v1/acl/token/{}?partition=ptn1", ids[1]),
        m,
        None,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = call(
        &consul,
        "DELETE",
        &format!("/v1/acl/token/{}?partition=ptn1&ns=web", ids[1]),
        m,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let t = call(
        &consul,
        "GET",
        &format!("/v1/acl/token/{}?partition=ptn1&ns=web", ids[2]),
        m,
        None,
    )
    .await
    .json();
    assert_eq!(
        (
            t["Partition"].clone(),
            t["Namespace"].clone(),
            t["AuthMethodNamespace"].clone()
        ),
        (json!("ptn1"), json!("web"), json!("default"))
    );
}

#[tokio::test]
async fn ce_tokens_have_no_tenancy_and_lists_filter_by_method() {
    let consul = ConsulEmulator::start(EmulatorOptions {
        acls_enabled: true,
        ..EmulatorOptions::default()
    });
    let m = consul.management_token();
    let ids = consul.seed_login_tokens(&[SeededLogin {
        method: "svc".into(),
        meta: Default::default(),
        scope: None,
        method_namespace: None,
    }]);
    let r = call(
        &consul,
        "GET",
        "/v1/acl/tokens?authmethod=svc",
        Some(&m),
        None,
    )
    .await;
    let list = r.json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["AccessorID"], ids[0]);
    assert!(list[0].get("Namespace").is_none() && list[0].get("AuthMethodNamespace").is_none());
    let r = call(
        &consul,
        "GET",
        "/v1/acl/tokens?authmethod=other",
        Some(&m),
        None,
    )
    .await;
    assert_eq!(r.json(), json!([]));
}

#[tokio::test]
async fn agent_self_reports_the_primary_datacenter() {
    let consul = ConsulEmulator::start(EmulatorOptions {
        datacenter: "dc2".into(),
        primary_datacenter: Some("dc1".into()),
        ..EmulatorOptions::default()
    });
    let me = call(&consul, "GET", "/v1/agent/self", None, None)
        .await
        .json();
    assert_eq!(me["Config"]["Datacenter"], "dc2");
    assert_eq!(me["Config"]["PrimaryDatacenter"], "dc1");
    assert_eq!(me["DebugConfig"]["PrimaryDatacenter"], "dc1");
}
