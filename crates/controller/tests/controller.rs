//! The v0.10 controller against the Consul emulator (HTTP and gRPC, ACLs) and moto's ECS
//! through the proxy: the objects start-up makes (and that a restart writes nothing), the
//! merge into a v0.6.2 deployment, and which tokens and services a round removes.
//!
//! The world (moto, the cluster, the controller's role, the proxy, the emulator) is the
//! v0.6.2 controller's test world, shared rather than copied.

#[path = "../../acl-controller/tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{meta, World, CLUSTER};
use consul::{CatalogRegistration, CatalogService, QueryOptions, TokenSource};
use controller::servers::{ServerSettings, Servers};
use controller::settings::{ControllerConfig, Settings};
use controller::Controller;
use serde_json::{json, Value};
use testkit::consul::{EmulatorOptions, SeededLogin};
use testkit::consul_grpc::{ConsulGrpcServer, GrpcServerOptions};

/// The controller task's address, which the synthetic node gets.
const NODE_ADDRESS: &str = "10.0.3.7";

struct V010 {
    w: World,
    grpc: ConsulGrpcServer,
}

impl V010 {
    fn new(opts: EmulatorOptions) -> V010 {
        let w = World::new(opts);
        let grpc = ConsulGrpcServer::start(&w.consul, GrpcServerOptions::default()).unwrap();
        V010 { w, grpc }
    }

    /// The v0.10 config of the controller: the emulator's HTTP and gRPC ports, no TLS.
    fn config(&self, controller: Value) -> config::dataplane::Config {
        let http_port: u16 = self
            .w
            .consul
            .http_addr()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let doc = json!({
            "bootstrapDir": "/consul",
            "consulServers": {
                "hosts": "127.0.0.1",
                "http": {"https": false, "port": http_port},
                "grpc": {"tls": false, "port": self.grpc.addr().port()},
            },
            "controller": controller,
        });
        config::dataplane::parse(&doc.to_string()).unwrap()
    }

    async fn controller(&self, controller: Value) -> Controller {
        let config = self.config(controller);
        let token = TokenSource::Value(consul::Secret::new(self.w.consul.management_token()));
        let servers =
            Servers::connect(ServerSettings::new(&config.consul_servers, token, |_| None).unwrap())
                .await
                .unwrap_or_else(|e| panic!("{e}\n{}", self.w.log()));
        let settings = Settings {
            config: ControllerConfig::from_config(&config).unwrap(),
            cluster: self.w.cluster_info(),
            node_address: NODE_ADDRESS.to_string(),
            interval: Duration::from_millis(200),
        };
        Controller::new(servers, self.w.ecs_tasks(), settings)
    }

    /// Registers a service on the cluster's node, with `task-id` meta when `task` is given.
    async fn register(&self, id: &str, task: Option<&str>) {
        let meta: BTreeMap<String, String> = task
            .map(|t| [("task-id".to_string(), t.to_string())].into())
            .unwrap_or_default();
        let registration = CatalogRegistration {
            node: self.w.cluster.arn.clone(),
            skip_node_update: true,
            service: Some(CatalogService {
                id: id.to_string(),
                service: "web".to_string(),
                port: 9090,
                meta,
                ..CatalogService::default()
            }),
            ..CatalogRegistration::default()
        };
        self.w
            .management()
            .catalog_register(&registration, &QueryOptions::default())
            .await
            .unwrap_or_else(|e| panic!("register {id}: {e}\n{}", self.w.log()));
    }

    /// IDs of the services on the cluster's node.
    async fn services(&self) -> Vec<String> {
        let listed = self
            .w
            .management()
            .catalog_node_services(&self.w.cluster.arn, &QueryOptions::default())
            .await
            .unwrap();
        let mut ids: Vec<String> = listed.services.into_iter().map(|s| s.id).collect();
        ids.sort();
        ids
    }
}

fn ce() -> V010 {
    V010::new(EmulatorOptions::default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_makes_v0_10_0s_objects_and_a_restart_writes_nothing() {
    common::trace();
    let v = ce();
    let controller = v.controller(json!({"iamRolePath": "/consul-ecs/"})).await;
    let report = controller
        .start_up()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", v.w.log()));
    assert!(report.primary, "{report:?}");

    let policy =
        v.w.get("/v1/acl/policy/name/consul-ecs-api-gateway-policy")
            .await;
    assert_eq!(policy["Description"], "API Gateway token Policy");
    assert_eq!(
        policy["Rules"],
        "mesh = \"read\"\n\tnode_prefix \"\" {\n\t\tpolicy = \"read\"\n\t}\n\tservice_prefix \"\" {\n\t\tpolicy = \"read\"\n\t}"
    );
    let policy =
        v.w.get("/v1/acl/policy/name/consul-ecs-mesh-gateway-policy")
            .await;
    assert_eq!(policy["Description"], "Mesh Gateway token Policy");
    assert_eq!(policy["Rules"], "mesh = \"write\"\npeering = \"read\"");
    for (role, policy) in [
        (
            "consul-ecs-api-gateway-role",
            Some("consul-ecs-api-gateway-policy"),
        ),
        (
            "consul-ecs-mesh-gateway-role",
            Some("consul-ecs-mesh-gateway-policy"),
        ),
        ("consul-ecs-terminating-gateway-role", None),
    ] {
        let found = v.w.get(&format!("/v1/acl/role/name/{role}")).await;
        let policies: Vec<&str> = found["Policies"]
            .as_array()
            .map(|l| l.iter().filter_map(|p| p["Name"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(policies, policy.into_iter().collect::<Vec<_>>(), "{role}");
    }
    let method = v.w.get("/v1/acl/auth-method/iam-ecs-service-token").await;
    assert_eq!(method["Type"], "aws-iam");
    assert_eq!(
        method["Config"]["BoundIAMPrincipalARNs"],
        json!(["arn:aws:iam::123456789012:role/consul-ecs/*"])
    );
    assert_eq!(
        method["Config"]["IAMEntityTags"],
        json!([
            "consul.hashicorp.com.gateway-kind",
            "consul.hashicorp.com.namespace",
            "consul.hashicorp.com.service-name"
        ])
    );
    let rules =
        v.w.get("/v1/acl/binding-rules?authmethod=iam-ecs-service-token")
            .await;
    let mut rules: Vec<(String, String, String)> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (s("BindType"), s("BindName"), s("Selector"))
        })
        .collect();
    rules.sort();
    assert_eq!(rules.len(), 4, "{rules:?}");
    assert!(rules.contains(&(
        "role".into(),
        "consul-ecs-mesh-gateway-role".into(),
        "entity_tags[\"consul.hashicorp.com.gateway-kind\"] == \"mesh-gateway\"".into()
    )));
    // No v0.6.2 client objects.
    let client_method_calls =
        v.w.consul
            .requests()
            .iter()
            .filter(|r| r.path.contains("iam-ecs-client-token"))
            .count();
    assert_eq!(client_method_calls, 0, "{}", v.w.log());
    let anonymous =
        v.w.get("/v1/acl/token/00000000-0000-0000-0000-000000000002")
            .await;
    assert!(
        anonymous["Policies"]
            .to_string()
            .contains("anonymous-token-policy"),
        "{anonymous}"
    );
    let node =
        v.w.get(&format!("/v1/catalog/node-services/{}", v.w.cluster.arn))
            .await;
    assert_eq!(node["Node"]["Address"], NODE_ADDRESS);
    assert_eq!(node["Node"]["Meta"]["synthetic-node"], "true");

    // A restart (a new controller) writes nothing.
    let seen = v.w.consul.requests().len();
    let again = v.controller(json!({"iamRolePath": "/consul-ecs/"})).await;
    let report = again.start_up().await.unwrap();
    assert!(report.changes.is_empty(), "{report:?}");
    // (The new controller's server watch is a gRPC stream, not a write.)
    let writes: Vec<String> =
        v.w.writes_since(seen)
            .into_iter()
            .filter(|r| !r.starts_with("GRPC "))
            .collect();
    assert_eq!(writes, Vec::<String>::new(), "{}", v.w.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_merges_into_a_v0_6_2_deployment() {
    common::trace();
    let v = ce();
    // What the v0.6.2 acl-controller made, with another account's roles trusted.
    v.w.controller("/consul-ecs/", None)
        .start_up()
        .await
        .unwrap();
    let other = v.w.controller_for(
        acl_controller::Cluster {
            account_id: "999999999999".into(),
            ..v.w.cluster_info()
        },
        "/other/",
        None,
    );
    other.start_up().await.unwrap();
    // An operator's own rule on the method stays as it is.
    let (code, text) = v
        .w
        .put(
            "/v1/acl/binding-rule",
            json!({"AuthMethod": "iam-ecs-service-token", "Description": "ops", "BindType": "service", "BindName": "ops"}),
        )
        .await;
    assert_eq!(code, 200, "{text}");

    let controller = v.controller(json!({})).await;
    let report = controller.start_up().await.unwrap();
    let method = v.w.get("/v1/acl/auth-method/iam-ecs-service-token").await;
    assert_eq!(
        method["Config"]["BoundIAMPrincipalARNs"],
        json!([
            "arn:aws:iam::123456789012:role/consul-ecs/*",
            "arn:aws:iam::999999999999:role/other/*"
        ]),
        "{report:?}"
    );
    assert_eq!(
        method["Config"]["IAMEntityTags"].as_array().unwrap().len(),
        3,
        "{method}"
    );
    // v0.6.2's service rule has v0.10's name and description: kept, not duplicated.
    let rules =
        v.w.get("/v1/acl/binding-rules?authmethod=iam-ecs-service-token")
            .await;
    let rules = rules.as_array().unwrap();
    assert_eq!(rules.len(), 5, "{rules:?}");
    assert_eq!(
        rules.iter().filter(|r| r["BindType"] == "service").count(),
        2
    );
    assert!(
        report
            .changes
            .iter()
            .all(|c| !c.contains("service identity")),
        "{report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_removes_the_tokens_and_services_of_stopped_tasks_only() {
    common::trace();
    let v = ce();
    let controller = v.controller(json!({})).await;
    controller.start_up().await.unwrap();
    let arn = v.w.cluster.arn.clone();

    let running = v.w.run_mesh_tasks(1, &[]).remove(0);
    let stopped = v.w.run_mesh_tasks(1, &[]).remove(0);
    let stopping = v.w.run_mesh_tasks(1, &[]).remove(0);
    let never = "0123456789abcdef0123456789abcdef".to_string();
    let login = |task: &str, cluster: &str| SeededLogin {
        method: "iam-ecs-service-token".into(),
        meta: meta(task, cluster),
        scope: None,
        method_namespace: None,
    };
    let tokens = v.w.consul.seed_login_tokens(&[
        login(&running, &arn),
        login(&stopped, CLUSTER),
        login(&stopping, &arn),
        login(&never, &arn),
        // Another cluster's task of the same ID: never touched.
        login(&never, "arn:aws:ecs:us-east-1:123456789012:cluster/other"),
    ]);
    for task in [&running, &stopped, &stopping, &never] {
        v.register(&format!("web-{task}"), Some(task)).await;
        v.register(&format!("web-{task}-sidecar-proxy"), Some(task))
            .await;
    }
    // A service without task-id meta: v0.10.0 stops reaping for the whole round over it.
    v.register("hand-made", None).await;
    v.w.stop_task(&stopped);
    v.w.proxy.mark_stopping(&stopping);

    let report = controller
        .reconcile()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", v.w.log()));
    assert_eq!(report.unowned_services, vec!["hand-made".to_string()]);
    assert_eq!(report.services, 9);
    let mut deregistered = report.deregistered.clone();
    deregistered.sort();
    let mut want = vec![
        format!("web-{never}"),
        format!("web-{never}-sidecar-proxy"),
        format!("web-{stopped}"),
        format!("web-{stopped}-sidecar-proxy"),
    ];
    want.sort();
    assert_eq!(deregistered, want, "{}", v.w.log());
    let mut deleted = report.base.deleted.clone();
    deleted.sort();
    let mut want = vec![tokens[1].clone(), tokens[3].clone()];
    want.sort();
    assert_eq!(deleted, want, "{}", v.w.log());
    assert_eq!(report.base.stopping_tasks, vec![stopping.clone()]);
    assert!(report.base.errors.is_empty(), "{report:?}");
    for kept in [&tokens[0], &tokens[2], &tokens[4]] {
        assert!(v.w.exists(kept), "{kept} must stay\n{}", v.w.log());
    }
    let mut left = vec![
        "hand-made".to_string(),
        format!("web-{running}"),
        format!("web-{running}-sidecar-proxy"),
        format!("web-{stopping}"),
        format!("web-{stopping}-sidecar-proxy"),
    ];
    left.sort();
    assert_eq!(v.services().await, left);

    // Once the stopping task has stopped, the next round takes its token and services.
    v.w.proxy.clear_stopping(&stopping);
    v.w.stop_task(&stopping);
    let report = controller.reconcile().await.unwrap();
    assert_eq!(report.deregistered.len(), 2, "{report:?}");
    assert_eq!(report.base.deleted, vec![tokens[2].clone()]);
    assert!(!v.w.exists(&tokens[2]));
}
