//! health-sync in the v0.10 (Consul Dataplane) layout, end to end: the built binary, after
//! mesh-init registered the task, against the Consul emulator's HTTP API and gRPC server
//! (ACLs on, the aws-iam login replayed to moto) and the ECS metadata emulator. It logs in
//! with a token of its own, follows ECS health, and on SIGTERM sets the checks critical,
//! waits for consul-dataplane, leaves the catalog and logs its token out.

mod util;

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::{json, Value};
use testkit::aws::AwsWorld;
use testkit::consul::{ConsulEmulator, EmulatorOptions, IamAuthOptions};
use testkit::consul_grpc::{ConsulGrpcServer, GrpcServerOptions};
use testkit::ecs_metadata::{fargate_task, EcsMetadataEmulator};
use util::background::Background;
use util::TestCommand;

const SERVER_ID: &str = "consul.test.example";

/// A Consul HTTP call with the management token.
fn consul_get(consul: &ConsulEmulator, path: &str) -> Value {
    let url = format!("{}{path}", consul.http_addr());
    let token = consul.management_token();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            reqwest::Client::new()
                .get(&url)
                .header("X-Consul-Token", token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        })
}

fn statuses(consul: &ConsulEmulator) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for service in ["web", "web-sidecar-proxy"] {
        for check in consul_get(consul, &format!("/v1/health/checks/{service}"))
            .as_array()
            .unwrap()
        {
            all.push((
                check["CheckID"].as_str().unwrap().to_owned(),
                check["Status"].as_str().unwrap().to_owned(),
            ));
        }
    }
    all.sort();
    all
}

fn wait_for(what: &str, hs: &Background, consul: &ConsulEmulator, ok: impl Fn() -> bool) {
    let until = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(
            Instant::now() < until,
            "timed out waiting for {what}\n{}\n---- Consul ----\n{}",
            hs.report(),
            consul.request_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn login_tokens(consul: &ConsulEmulator) -> usize {
    consul
        .tokens()
        .into_iter()
        .filter(|t| !t.auth_method.is_empty())
        .count()
}

/// One dataplane task with ACLs: Consul (HTTP and gRPC), moto, the task metadata, the
/// cluster's node, and the environment of the task's containers.
struct World {
    aws: AwsWorld,
    consul: ConsulEmulator,
    _grpc: ConsulGrpcServer,
    ecs: EcsMetadataEmulator,
    node: String,
    task_id: String,
    env: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

impl World {
    /// With `login`, `consulLogin.enabled`; else the containers get `CONSUL_HTTP_TOKEN`, a
    /// token with the service's identity.
    fn new(login: bool) -> World {
        let aws = AwsWorld::start("web");
        let consul = ConsulEmulator::start(EmulatorOptions {
            acls_enabled: true,
            ..Default::default()
        });
        consul.configure_iam_auth(
            &aws,
            &IamAuthOptions {
                server_id_header: Some(SERVER_ID.into()),
                ..Default::default()
            },
        );
        let grpc = ConsulGrpcServer::start(&consul, GrpcServerOptions::default()).unwrap();
        let task = fargate_task(
            "web",
            &[
                "app",
                "consul-ecs-mesh-init",
                "consul-dataplane",
                "consul-ecs-health-sync",
            ],
        );
        let ecs = EcsMetadataEmulator::start(task.clone());
        let arn = task["TaskARN"].as_str().unwrap();
        let task_id = arn.rsplit('/').next().unwrap().to_owned();
        let (prefix, rest) = arn.split_once(":task/").unwrap();
        let node = format!("{prefix}:cluster/{}", rest.rsplit_once('/').unwrap().0);
        // The cluster's node, as the controller creates it (a task token may not).
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                reqwest::Client::new()
                    .put(format!("{}/v1/catalog/register", consul.http_addr()))
                    .header("X-Consul-Token", consul.management_token())
                    .json(&json!({"Node": node, "Address": "127.0.0.1",
                                  "NodeMeta": {"synthetic-node": "true"}}))
                    .send()
                    .await
                    .unwrap()
                    .error_for_status()
                    .unwrap();
            });

        let dir = tempfile::tempdir().unwrap();
        let mut config = json!({
            "bootstrapDir": dir.path(),
            "consulServers": {
                "hosts": "127.0.0.1",
                "grpc": {"port": grpc.addr().port(), "tls": false},
                "http": {"port": consul.port(), "https": false}
            },
            "service": {"port": 9090},
            "healthSyncContainers": ["app"],
            "transparentProxy": {"enabled": false},
        });
        let mut env: Vec<(String, String)> = aws.credentials_env(aws.task_role());
        if login {
            config["consulLogin"] = json!({"enabled": true, "stsEndpoint": aws.endpoint(),
                                           "serverIdHeaderValue": SERVER_ID});
        } else {
            let token = consul.create_service_token("web");
            env.push(("CONSUL_HTTP_TOKEN".into(), token.secret_id));
        }
        env.push(("CONSUL_ECS_CONFIG_JSON".into(), config.to_string()));
        env.push(("ECS_CONTAINER_METADATA_URI_V4".into(), ecs.uri()));
        env.push(("AWS_REGION".into(), "us-east-1".into()));
        World {
            aws,
            consul,
            _grpc: grpc,
            ecs,
            node,
            task_id,
            env,
            _dir: dir,
        }
    }

    fn mesh_init(&self) {
        let mut mesh_init = TestCommand::new(["mesh-init", "-register-timeout", "20s"]);
        for (k, v) in &self.env {
            mesh_init = mesh_init.env(k, v);
        }
        mesh_init.run().expect_code(0);
    }

    fn health_sync(&self) -> Background {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Background::start(
            &["health-sync", "-log-level", "DEBUG"],
            &env,
            tempfile::tempdir().unwrap(),
        )
    }

    /// The three checks of the task, all with `status`.
    fn all(&self, status: &str) -> Vec<(String, String)> {
        let id = format!("web-{}", self.task_id);
        let mut all = vec![
            (format!("{id}-app"), status.to_owned()),
            (format!("{id}-consul-dataplane"), status.to_owned()),
            (
                format!("{id}-sidecar-proxy-consul-dataplane"),
                status.to_owned(),
            ),
        ];
        all.sort();
        all
    }

    fn node_services(&self) -> Value {
        consul_get(
            &self.consul,
            &format!(
                "/v1/catalog/node-services/{}",
                self.node.replace('/', "%2F")
            ),
        )["Services"]
            .clone()
    }

    /// The life of the task from health-sync's start to its exit code: healthy, SIGTERM,
    /// critical, held while consul-dataplane runs, out once it stopped.
    fn live(&self, hs: &mut Background, between: impl Fn()) {
        let consul = &self.consul;
        self.ecs.set_container_health("app", "HEALTHY");
        self.ecs.set_container_health("consul-dataplane", "HEALTHY");
        wait_for("every check passing", hs, consul, || {
            statuses(consul) == self.all("passing")
        });
        between();
        hs.signal(Signal::SIGTERM);
        wait_for("every check critical", hs, consul, || {
            statuses(consul) == self.all("critical")
        });
        hs.wait_log("waiting for consul-dataplane to stop");
        let polls = self.ecs.request_count();
        wait_for("two more metadata polls", hs, consul, || {
            self.ecs.request_count() >= polls + 2
        });
        assert_eq!(
            statuses(consul).len(),
            3,
            "still registered while the dataplane runs"
        );
        self.ecs.stop_container("consul-dataplane");
        assert_eq!(hs.wait_exit(Duration::from_secs(20)), 0, "{}", hs.report());
        assert_eq!(self.node_services(), json!([]), "{}", hs.report());
    }
}

#[test]
fn a_dataplane_task_is_synced_then_leaves_the_catalog_and_logs_out() {
    let w = World::new(true);
    w.mesh_init();
    let tokens_before = login_tokens(&w.consul);
    let mut hs = w.health_sync();
    w.live(&mut hs, || {
        assert_eq!(
            login_tokens(&w.consul),
            tokens_before + 1,
            "health-sync logs in with a token of its own"
        )
    });
    assert_eq!(
        login_tokens(&w.consul),
        tokens_before,
        "health-sync's token logged out\n{}",
        hs.report()
    );
    // No secret in what health-sync printed.
    let printed = hs.read("stderr.log");
    let role = w.aws.task_role();
    for token in w.consul.tokens() {
        assert!(!printed.contains(&token.secret_id), "a token in the log");
    }
    assert!(!printed.contains(&role.secret_access_key));
    assert!(!printed.contains(&role.session_token));
}

/// `CONSUL_HTTP_TOKEN` replaces the login: health-sync uses it, logs nothing in or out, and
/// the token is still valid afterwards.
#[test]
fn with_a_fixed_token_there_is_no_login_and_no_logout() {
    let w = World::new(false);
    w.mesh_init();
    let tokens_before = w.consul.tokens().len();
    let mut hs = w.health_sync();
    w.live(&mut hs, || {
        assert_eq!(w.consul.tokens().len(), tokens_before, "no login")
    });
    assert_eq!(w.consul.tokens().len(), tokens_before, "{}", hs.report());
    assert!(
        !hs.read("stderr.log").contains("logged out"),
        "{}",
        hs.report()
    );
}
