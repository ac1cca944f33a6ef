//! mesh-init in the v0.10 (Consul Dataplane) layout, end to end: the built binary against
//! the Consul emulator's HTTP API and its gRPC server (server discovery and watch, the
//! aws-iam login replayed to moto), and the ECS metadata emulator. What it registers in
//! the catalog, the files of the bootstrap directory and their modes, Consul DNS, the
//! transparent proxy's rules (through a recording `iptables`), and the undo of a run that
//! does not complete.

mod util;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::aws::AwsWorld;
use testkit::consul::{ConsulEmulator, EmulatorOptions, IamAuthOptions};
use testkit::consul_grpc::{ConsulGrpcServer, GrpcServerOptions};
use testkit::ecs_metadata::{ec2_task, fargate_task, EcsMetadataEmulator};
use util::{Run, TestCommand};

const SERVER_ID: &str = "consul.test.example";

/// One dataplane task's world: Consul (HTTP and gRPC), ECS metadata, a bootstrap directory.
struct Dataplane {
    consul: ConsulEmulator,
    grpc: ConsulGrpcServer,
    ecs: EcsMetadataEmulator,
    dir: tempfile::TempDir,
    task: Value,
}

impl Dataplane {
    fn new(task: Value, acls: bool) -> Dataplane {
        Dataplane::with_grpc(task, acls, GrpcServerOptions::default())
    }

    fn with_grpc(task: Value, acls: bool, grpc: GrpcServerOptions) -> Dataplane {
        let consul = ConsulEmulator::start(EmulatorOptions {
            acls_enabled: acls,
            ..Default::default()
        });
        let grpc = ConsulGrpcServer::start(&consul, grpc).unwrap();
        Dataplane {
            ecs: EcsMetadataEmulator::start(task.clone()),
            consul,
            grpc,
            dir: tempfile::tempdir().unwrap(),
            task,
        }
    }

    fn fargate(acls: bool) -> Dataplane {
        Dataplane::new(fargate_task("web", &["app", "consul-dataplane"]), acls)
    }

    fn task_id(&self) -> String {
        self.task["TaskARN"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    }

    /// The synthetic node: the cluster ARN.
    fn node(&self) -> String {
        let arn = self.task["TaskARN"].as_str().unwrap();
        let (prefix, rest) = arn.split_once(":task/").unwrap();
        let cluster = rest.rsplit_once('/').unwrap().0;
        format!("{prefix}:cluster/{cluster}")
    }

    /// A v0.10 config reaching this world's servers over plain gRPC and HTTP, with `extra`
    /// merged over it.
    fn config(&self, extra: Value) -> String {
        let mut config = json!({
            "bootstrapDir": self.dir.path(),
            "consulServers": {
                "hosts": "127.0.0.1",
                "grpc": {"port": self.grpc.addr().port(), "tls": false},
                "http": {"port": self.consul.port(), "https": false}
            },
            "service": {"port": 9090},
            "healthSyncContainers": ["app"],
            "transparentProxy": {"enabled": false}
        });
        for (k, v) in extra.as_object().unwrap() {
            config[k] = v.clone();
        }
        config.to_string()
    }

    fn mesh_init(&self, config: &str, flags: &[&str]) -> TestCommand {
        let mut args = vec!["mesh-init", "-register-timeout", "20s"];
        args.extend_from_slice(flags);
        TestCommand::new(args)
            .env("CONSUL_ECS_CONFIG_JSON", config)
            .env("ECS_CONTAINER_METADATA_URI_V4", self.ecs.uri())
            .env("AWS_REGION", "us-east-1")
    }

    fn expect(&self, run: Run, code: i32) -> Run {
        assert!(
            run.code() == Some(code),
            "expected exit code {code}\n{run}\n---- Consul request log ----\n{}",
            self.consul.request_log()
        );
        run
    }

    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A call on the emulator's HTTP API with the management token.
    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.consul.http_addr());
        let token = self.consul.management_token();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut request = reqwest::Client::new()
                .request(method.clone(), &url)
                .header("X-Consul-Token", token);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let answer = request.send().await.unwrap();
            assert!(
                answer.status().is_success(),
                "{method} {url}: {}",
                answer.status()
            );
            answer.json().await.unwrap()
        })
    }

    fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None)
    }

    /// Registers the cluster's synthetic node, as consul-ecs v0.10's controller does: a
    /// task's login token may write its services on the node, not create the node.
    fn register_node(&self) {
        let node = json!({"Node": self.node(), "Address": "127.0.0.1",
                          "NodeMeta": {"synthetic-node": "true"}});
        self.call(reqwest::Method::PUT, "/v1/catalog/register", Some(node));
    }

    /// The catalog's services on the task's node, by ID.
    fn catalog(&self) -> serde_json::Map<String, Value> {
        let node = self.node().replace('/', "%2F");
        let answer = self.get(&format!("/v1/catalog/node-services/{node}"));
        answer["Services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["ID"].as_str().unwrap().to_owned(), s.clone()))
            .collect()
    }

    fn checks(&self, service: &str) -> Vec<Value> {
        self.get(&format!("/v1/health/checks/{service}"))
            .as_array()
            .unwrap()
            .clone()
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_service_task_registers_in_the_catalog_and_writes_the_dataplane_files() {
    let w = Dataplane::fargate(false);
    let config = w.config(json!({
        "service": {"port": 9090, "networkResilienceConfig": {"enabled": true}}
    }));
    w.expect(w.mesh_init(&config, &[]).run(), 0);

    let id = format!("web-{}", w.task_id());
    let proxy_id = format!("{id}-sidecar-proxy");
    let catalog = w.catalog();
    let service = &catalog[&id];
    assert_eq!(service["Service"], "web");
    assert_eq!(service["Port"], 9090);
    assert_eq!(service["Address"], "10.0.1.23");
    assert_eq!(service["Meta"]["source"], "consul-ecs");
    assert_eq!(service["Meta"]["task-id"], w.task_id());
    let proxy = &catalog[&proxy_id];
    assert_eq!(proxy["Kind"], "connect-proxy");
    assert_eq!(proxy["Port"], 20000);
    assert_eq!(proxy["Proxy"]["DestinationServiceID"], json!(id));
    assert!(
        proxy["Proxy"].get("Mode").is_none_or(|m| m == ""),
        "{proxy}"
    );

    let checks = w.checks("web");
    let ids: Vec<&str> = checks
        .iter()
        .map(|c| c["CheckID"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{checks:?}");
    assert!(ids.contains(&format!("{id}-app").as_str()), "{ids:?}");
    assert!(
        ids.contains(&format!("{id}-consul-dataplane").as_str()),
        "{ids:?}"
    );
    assert!(checks.iter().all(|c| c["Status"] == "critical"
        && c["Output"] == "Service web is not ready"
        && c["Type"] == "consul-ecs-health-check"));
    let proxy_checks = w.checks("web-sidecar-proxy");
    assert_eq!(proxy_checks.len(), 1);
    assert_eq!(
        proxy_checks[0]["CheckID"],
        format!("{proxy_id}-consul-dataplane")
    );

    let defaults = w.get("/v1/config/service-defaults/web");
    assert_eq!(
        defaults["UpstreamConfig"]["Defaults"]["PassiveHealthCheck"]["MaxFailures"],
        5
    );

    assert_eq!(w.files(), ["consul-dataplane.json", "consul-ecs"]);
    assert_eq!(mode(&w.file("consul-dataplane.json")), 0o444);
    assert_eq!(mode(&w.file("consul-ecs")), 0o755);
    let document = read_json(&w.file("consul-dataplane.json"));
    assert_eq!(
        document,
        json!({
            "consul": {"addresses": "127.0.0.1", "grpcPort": w.grpc.addr().port(),
                       "serverWatchDisabled": false, "tls": {"disabled": true}},
            "proxy": {"nodeName": w.node(), "id": proxy_id, "namespace": "", "partition": ""},
            "xdsServer": {"bindAddress": "127.0.0.1"},
            "envoy": {"readyBindAddress": "127.0.0.1", "readyBindPort": 22000},
            "logging": {"logLevel": "INFO"}
        })
    );
}

#[test]
fn with_acls_it_logs_in_over_grpc_and_hands_consul_dataplane_its_own_login() {
    let aws = AwsWorld::start("web");
    let w = Dataplane::fargate(true);
    w.consul.configure_iam_auth(
        &aws,
        &IamAuthOptions {
            server_id_header: Some(SERVER_ID.into()),
            ..Default::default()
        },
    );
    w.register_node();
    let config = w.config(json!({
        "consulLogin": {"enabled": true, "stsEndpoint": aws.endpoint(),
                        "serverIdHeaderValue": SERVER_ID, "meta": {"team": "a"}}
    }));
    let mut cmd = w.mesh_init(&config, &[]);
    for (k, v) in aws.credentials_env(aws.task_role()) {
        cmd = cmd.env(&k, v);
    }
    let run = w.expect(cmd.run(), 0);

    // The login registered the task (its token), then was logged out: consul-dataplane and
    // health-sync log in by themselves.
    let logins: Vec<_> = w
        .consul
        .tokens()
        .into_iter()
        .filter(|t| !t.auth_method.is_empty())
        .collect();
    assert!(
        logins.is_empty(),
        "mesh-init's token is logged out: {logins:?}"
    );
    assert!(
        run.stderr().contains("logged out this run's token"),
        "{}",
        run.stderr()
    );

    let catalog = w.catalog();
    assert!(
        catalog.contains_key(&format!("web-{}", w.task_id())),
        "{catalog:?}"
    );
    let document = read_json(&w.file("consul-dataplane.json"));
    let login = &document["consul"]["credentials"];
    assert_eq!(login["type"], "login");
    assert_eq!(login["login"]["authMethod"], "iam-ecs-service-token");
    assert_eq!(login["login"]["meta"]["team"], "a");
    assert_eq!(
        login["login"]["meta"]["consul.hashicorp.com/task-id"],
        w.task_id()
    );
    assert_eq!(
        login["login"]["meta"]["consul.hashicorp.com/cluster"],
        w.node(),
        "the cluster ARN in the meta"
    );
    let bearer = login["login"]["bearerToken"].as_str().unwrap();
    assert!(bearer.len() > 100, "a signed STS request: {bearer}");
    assert_eq!(mode(&w.file("consul-dataplane.json")), 0o444);
    assert!(
        !w.files().contains(&"service-token".to_owned()),
        "no token file in this layout"
    );

    // No secret in what mesh-init printed: the ACL token, the bearer token, the AWS keys.
    let printed = format!("{}{}", run.stdout(), run.stderr());
    let role = aws.task_role();
    for secret in [
        bearer,
        role.secret_access_key.as_str(),
        role.session_token.as_str(),
    ] {
        assert!(
            !printed.contains(secret),
            "a secret was printed:\n{printed}"
        );
    }
}

#[test]
fn a_fixed_token_replaces_the_login_and_no_login_block_is_written() {
    let w = Dataplane::fargate(true);
    let config = w.config(json!({"consulLogin": {"enabled": true}}));
    let cmd = w
        .mesh_init(&config, &[])
        .env("CONSUL_HTTP_TOKEN", w.consul.management_token());
    w.expect(cmd.run(), 0);
    assert!(
        w.consul.tokens().iter().all(|t| t.auth_method.is_empty()),
        "no login"
    );
    let document = read_json(&w.file("consul-dataplane.json"));
    assert!(
        document["consul"].get("credentials").is_none(),
        "{document}"
    );
    assert_eq!(w.catalog().len(), 2);
}

#[test]
fn a_register_that_keeps_failing_is_reported_after_its_deadline_and_undone() {
    let w = Dataplane::fargate(false);
    w.consul.faults().fail_next(1000, 500);
    let started = Instant::now();
    let run = w
        .mesh_init(&w.config(json!({})), &["-register-timeout", "2s"])
        .run();
    let took = started.elapsed();
    w.consul.faults().clear();
    let run = w.expect(run, 2);
    run.expect_stderr_contains("mesh-init failed: register in the Consul catalog")
        .expect_stderr_contains("gave up after");
    let attempts = w
        .consul
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/catalog/register")
        .count();
    assert!(attempts > 1, "retried: {attempts} attempt(s)");
    assert!(
        took < Duration::from_secs(15),
        "not retried forever: {took:?}"
    );
    assert!(w.files().is_empty(), "nothing written: {:?}", w.files());
}

#[test]
fn the_transparent_proxy_on_fargate_is_refused_and_the_run_undone() {
    let w = Dataplane::fargate(false);
    // transparentProxy is on by default.
    let config = w.config(json!({"transparentProxy": {}}));
    let run = w.expect(w.mesh_init(&config, &[]).run(), 2);
    run.expect_stderr_contains("set up the transparent proxy")
        .expect_stderr_contains("set transparentProxy.enabled to false");
    assert!(w.files().is_empty(), "files removed: {:?}", w.files());
    assert!(
        w.catalog().is_empty(),
        "registrations taken out: {:?}",
        w.catalog()
    );
}

/// A stand-in `iptables` that appends its arguments to `log` and exits with `code`.
fn fake_iptables(dir: &Path, log: &Path, code: i32) -> PathBuf {
    let path = dir.join("iptables");
    fs::write(
        &path,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\nexit {code}\n",
            log.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn on_ec2_consul_dns_and_the_redirection_are_set_up() {
    let w = Dataplane::new(ec2_task("web", &["app", "consul-dataplane"]), false);
    let tools = tempfile::tempdir().unwrap();
    let log = tools.path().join("rules");
    let iptables = fake_iptables(tools.path(), &log, 0);
    let resolv = tools.path().join("resolv.conf");
    fs::write(&resolv, "nameserver 10.0.0.2\nsearch ec2.internal\n").unwrap();
    let config = w.config(json!({
        "transparentProxy": {"consulDNS": {"enabled": true}, "excludeInboundPorts": [9999]}
    }));
    let flags = [
        "-iptables",
        iptables.to_str().unwrap(),
        "-resolv-conf",
        resolv.to_str().unwrap(),
    ];
    w.expect(w.mesh_init(&config, &flags).run(), 0);

    assert_eq!(
        fs::read_to_string(&resolv).unwrap(),
        "nameserver 127.0.0.1\nnameserver 10.0.0.2\nsearch ec2.internal\n"
    );
    let rules = fs::read_to_string(&log).unwrap();
    assert!(rules.contains("-t nat -N CONSUL_PROXY_INBOUND"), "{rules}");
    assert!(rules.contains("9999"), "the excluded inbound port: {rules}");
    assert!(rules.contains("--uid-owner 5995"), "Envoy's user: {rules}");
    let proxy = &w.catalog()[&format!("web-{}-sidecar-proxy", w.task_id())];
    assert_eq!(proxy["Proxy"]["Mode"], "transparent");
    assert_eq!(proxy["TaggedAddresses"]["virtual"]["Port"], 9090);
    let document = read_json(&w.file("consul-dataplane.json"));
    assert_eq!(
        document["dnsServer"],
        json!({"bindAddress": "127.0.0.1", "bindPort": 8600})
    );
}

#[test]
fn a_refused_iptables_rule_puts_the_resolver_back_and_removes_the_files() {
    let w = Dataplane::new(ec2_task("web", &["app", "consul-dataplane"]), false);
    let tools = tempfile::tempdir().unwrap();
    let iptables = fake_iptables(tools.path(), &tools.path().join("rules"), 4);
    let resolv = tools.path().join("resolv.conf");
    let original = "nameserver 10.0.0.2\n";
    fs::write(&resolv, original).unwrap();
    let config = w.config(json!({"transparentProxy": {"consulDNS": {"enabled": true}}}));
    let flags = [
        "-iptables",
        iptables.to_str().unwrap(),
        "-resolv-conf",
        resolv.to_str().unwrap(),
    ];
    let run = w.expect(w.mesh_init(&config, &flags).run(), 2);
    run.expect_stderr_contains("mesh-init failed: set up the transparent proxy");
    assert_eq!(fs::read_to_string(&resolv).unwrap(), original);
    assert!(w.files().is_empty(), "{:?}", w.files());
    assert!(w.catalog().is_empty());
}

#[test]
fn a_login_to_a_missing_auth_method_is_explained_at_once() {
    let aws = AwsWorld::start("web");
    let w = Dataplane::fargate(true);
    w.register_node();
    let config = w.config(json!({
        "consulLogin": {"enabled": true, "method": "no-such-method",
                        "stsEndpoint": aws.endpoint()}
    }));
    let mut cmd = w.mesh_init(&config, &["-login-timeout", "30s"]);
    for (k, v) in aws.credentials_env(aws.task_role()) {
        cmd = cmd.env(&k, v);
    }
    let started = Instant::now();
    let run = w.expect(cmd.run(), 2);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "ended at once, not after -login-timeout"
    );
    run.expect_stderr_contains("mesh-init failed: log in to Consul")
        .expect_stderr_contains("the auth method \"no-such-method\" does not exist")
        .expect_stderr_contains("hint:");
    assert!(w.files().is_empty());
    assert!(w.catalog().is_empty(), "nothing registered without a token");
}

#[test]
fn sigterm_after_the_login_logs_the_token_out_over_grpc_and_exits_143() {
    sigterm_once_the_token_exists(Duration::ZERO);
}

/// The signal comes after the servers made the token and before their answer arrived: only
/// the answer says which token to log out, so mesh-init lets the login land (bounded) before
/// undoing, instead of dropping the call and leaving the token to the controller.
#[test]
fn sigterm_while_the_login_answer_is_on_the_wire_still_logs_the_token_out() {
    sigterm_once_the_token_exists(Duration::from_millis(1500));
}

fn sigterm_once_the_token_exists(login_answer_delay: Duration) {
    let aws = AwsWorld::start("web");
    let w = Dataplane::with_grpc(
        fargate_task("web", &["app", "consul-dataplane"]),
        true,
        GrpcServerOptions {
            login_answer_delay,
            ..GrpcServerOptions::default()
        },
    );
    w.consul
        .configure_iam_auth(&aws, &IamAuthOptions::default());
    // The servers' HTTP port accepts connections and never answers: mesh-init logs in over
    // gRPC, then hangs on its first HTTP call, where the signal finds it.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config: Value = serde_json::from_str(&w.config(json!({
        "consulLogin": {"enabled": true, "stsEndpoint": aws.endpoint()}
    })))
    .unwrap();
    config["consulServers"]["http"]["port"] = json!(hole.local_addr().unwrap().port());
    let mut cmd = w.mesh_init(&config.to_string(), &["-register-timeout", "60s"]);
    for (k, v) in aws.credentials_env(aws.task_role()) {
        cmd = cmd.env(&k, v);
    }
    let mut cmd = cmd.command();
    let stderr = tempfile::NamedTempFile::new().unwrap();
    cmd.stderr(stderr.reopen().unwrap());
    let mut child = cmd.spawn().unwrap();
    let logins = || {
        w.consul
            .tokens()
            .into_iter()
            .filter(|t| !t.auth_method.is_empty())
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while logins() == 0 {
        assert!(
            Instant::now() < deadline,
            "never logged in:\n{}",
            fs::read_to_string(stderr.path()).unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let printed = fs::read_to_string(stderr.path()).unwrap();
    assert_eq!(status.code(), Some(143), "{printed}");
    assert_eq!(
        logins(),
        0,
        "logged out:\n{printed}\n{}",
        w.consul.request_log()
    );
    assert!(printed.contains("logged out this run's token"), "{printed}");
    assert!(w.files().is_empty(), "{:?}", w.files());
}

#[test]
fn a_refused_registration_says_the_node_must_exist() {
    let aws = AwsWorld::start("web");
    let w = Dataplane::fargate(true);
    w.consul
        .configure_iam_auth(&aws, &IamAuthOptions::default());
    // No node for the cluster yet: the login token may not create it.
    let config = w.config(json!({
        "consulLogin": {"enabled": true, "stsEndpoint": aws.endpoint()}
    }));
    let mut cmd = w.mesh_init(&config, &[]);
    for (k, v) in aws.credentials_env(aws.task_role()) {
        cmd = cmd.env(&k, v);
    }
    let run = w.expect(cmd.run(), 2);
    run.expect_stderr_contains("mesh-init failed: register in the Consul catalog")
        .expect_stderr_contains("403")
        .expect_stderr_contains("hint: a task's login token may register its own service");
    let logins = w
        .consul
        .tokens()
        .into_iter()
        .filter(|t| !t.auth_method.is_empty())
        .count();
    assert_eq!(logins, 0, "the token is logged out");
}
