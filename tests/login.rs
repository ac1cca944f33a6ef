//! mesh-init and health-sync with ACLs on and the aws-iam login: the Consul emulator
//! validates every login by replaying the signed requests to real moto (signature checks
//! on), exactly as a Consul server replays them to AWS.

mod util;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::{json, Value};
use testkit::aws::{AwsWorld, CredentialsEndpoint};
use testkit::consul::{EmulatorOptions, IamAuthOptions};
use util::background::Background;
use util::relay::Relay;
use util::world::World;
use util::TestCommand;

const SERVER_ID: &str = "consul.test.example";

/// A task with ACLs on: the auth method trusts roles under `/consul-ecs/`, requires the
/// server-ID header, and binds the role's service-name tag to a service identity.
struct Secure {
    w: World,
    aws: AwsWorld,
}

impl Secure {
    fn new() -> Secure {
        let aws = AwsWorld::start("web");
        let w = World::with_iam_auth(
            "web",
            &aws,
            &IamAuthOptions {
                server_id_header: Some(SERVER_ID.into()),
                ..Default::default()
            },
        );
        w.consul.configure_client_auth(&aws);
        Secure { w, aws }
    }

    fn config(&self, login: Value) -> String {
        let mut consul_login = json!({"enabled": true, "stsEndpoint": self.aws.endpoint(), "serverIdHeaderValue": SERVER_ID});
        for (k, v) in login.as_object().unwrap() {
            consul_login[k] = v.clone();
        }
        self.w.config(json!({
            "consulHTTPAddr": self.w.consul.http_addr(),
            "healthSyncContainers": ["app"],
            "consulLogin": consul_login,
            "service": {"port": 9090},
        }))
    }

    fn mesh_init(&self, config: &str) -> TestCommand {
        self.mesh_init_as(&[], config, self.aws.task_role())
    }

    /// mesh-init with extra flags, running with `role`'s credentials in the environment.
    fn mesh_init_as(
        &self,
        flags: &[&str],
        config: &str,
        role: &testkit::aws::TaskRole,
    ) -> TestCommand {
        let mut args = vec!["mesh-init", "-register-timeout", "20s"];
        args.extend_from_slice(flags);
        let mut cmd = TestCommand::new(args)
            .env("CONSUL_ECS_CONFIG_JSON", config)
            .env("ECS_CONTAINER_METADATA_URI_V4", self.w.ecs.uri())
            .env("CONSUL_HTTP_ADDR", self.w.consul.http_addr());
        for (k, v) in self.aws.credentials_env(role) {
            cmd = cmd.env(&k, v);
        }
        cmd
    }

    fn secrets(&self) -> Vec<String> {
        let role = self.aws.task_role();
        vec![role.secret_access_key.clone(), role.session_token.clone()]
    }

    fn login_tokens(&self) -> Vec<testkit::consul::Token> {
        self.w
            .consul
            .tokens()
            .into_iter()
            .filter(|t| !t.auth_method.is_empty())
            .collect()
    }
}

#[test]
fn mesh_init_logs_in_registers_with_the_token_and_leaks_nothing() {
    let s = Secure::new();
    let run = s.mesh_init(&s.config(json!({}))).run();
    let output = format!("{}{}", run.stdout(), run.stderr());
    assert_eq!(run.code(), Some(0), "{run}\n{}", s.w.consul.request_log());

    // The token: a service identity for web, with the task's meta, in a 0600 file.
    let tokens = s.login_tokens();
    assert_eq!(tokens.len(), 1, "one login token: {tokens:?}");
    let token = &tokens[0];
    assert_eq!(token.auth_method, "iam-ecs-service-token");
    assert_eq!(token.service_identities.len(), 1);
    assert_eq!(token.service_identities[0].service_name, "web");
    assert!(
        token.description.contains(&format!(
            "\"consul.hashicorp.com/task-id\":\"{}\"",
            s.w.task_id
        )),
        "{}",
        token.description
    );
    assert!(
        token.description.contains("consul.hashicorp.com/cluster"),
        "{}",
        token.description
    );
    let token_file = s.w.bootstrap_dir().join("service-token");
    assert_eq!(
        fs::read_to_string(&token_file).unwrap(),
        token.secret_id,
        "the file holds the secret, no newline"
    );
    assert_eq!(
        fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        s.w.files(),
        ["consul-ecs", "envoy-bootstrap.json", "service-token"]
    );

    // Registered with that token, after reading it back with ?stale.
    let requests = s.w.consul.requests();
    let self_read = requests
        .iter()
        .position(|r| r.path == "/v1/acl/token/self" && r.query.contains("stale"));
    let register = requests
        .iter()
        .position(|r| r.path == "/v1/agent/service/register");
    assert!(
        self_read.is_some() && self_read < register,
        "token read back before registering:\n{}",
        s.w.consul.request_log()
    );
    assert!(requests
        .iter()
        .filter(|r| r.path == "/v1/agent/service/register")
        .all(|r| r.had_token && r.status == 200));
    assert_eq!(s.w.consul.services().len(), 2);

    // Envoy gets the token in its bootstrap (as consul connect envoy does) and accepts it.
    let doc: Value = serde_json::from_str(
        &fs::read_to_string(s.w.bootstrap_dir().join("envoy-bootstrap.json")).unwrap(),
    )
    .unwrap();
    let metadata = &doc["dynamic_resources"]["ads_config"]["grpc_services"]["initial_metadata"][0];
    assert_eq!(
        metadata,
        &json!({"key": "x-consul-token", "value": token.secret_id})
    );
    let bootstrap = s.w.bootstrap_dir().join("envoy-bootstrap.json");
    assert_eq!(
        fs::metadata(&bootstrap).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(testkit::envoy::validate_file(&bootstrap).ok);

    // Nothing secret in the output.
    for secret in s.secrets().iter().chain([&token.secret_id]) {
        assert!(
            !output.contains(secret.as_str()),
            "a secret reached the output:\n{output}"
        );
    }
}

#[test]
fn running_mesh_init_again_replaces_the_token_instead_of_leaking_it() {
    let s = Secure::new();
    let config = s.config(json!({}));
    for _ in 0..2 {
        let run = s.mesh_init(&config).run();
        assert_eq!(run.code(), Some(0), "{run}");
    }
    let tokens = s.login_tokens();
    assert_eq!(tokens.len(), 1, "one live token after two runs: {tokens:?}");
    let file = fs::read_to_string(s.w.bootstrap_dir().join("service-token")).unwrap();
    assert_eq!(file, tokens[0].secret_id);
    assert_eq!(s.w.consul.services().len(), 2, "no duplicate registrations");
}

#[test]
fn trace_logs_hold_no_token_and_no_aws_secret() {
    let s = Secure::new();
    let run = s
        .mesh_init_as(
            &["-log-level", "TRACE"],
            &s.config(json!({})),
            s.aws.task_role(),
        )
        .run();
    assert_eq!(run.code(), Some(0), "{run}");
    let stderr = run.stderr();
    assert!(
        stderr.lines().count() > 20,
        "TRACE should log a lot:\n{stderr}"
    );
    let token = fs::read_to_string(s.w.bootstrap_dir().join("service-token")).unwrap();
    for secret in s.secrets().iter().chain([&token]) {
        assert!(
            !stderr.contains(secret.as_str()),
            "a secret reached the TRACE log"
        );
    }
    // Signatures are credentials too (replayable for minutes).
    assert!(
        !stderr.contains("Signature="),
        "a signature reached the TRACE log"
    );
}

#[test]
fn credentials_come_from_the_ecs_container_credentials_endpoint() {
    let s = Secure::new();
    let endpoint = CredentialsEndpoint::start(s.aws.task_role());
    let mut cmd = s.w.mesh_init(&s.config(json!({"includeEntity": true})));
    for (k, v) in endpoint.env() {
        cmd = cmd.env(&k, v);
    }
    let run = cmd.env("AWS_EC2_METADATA_DISABLED", "true").run();
    assert_eq!(run.code(), Some(0), "{run}\n{}", s.w.consul.request_log());
    assert!(
        !endpoint.requests().is_empty(),
        "the task role's endpoint was used"
    );
    assert_eq!(s.login_tokens().len(), 1);
}

#[test]
fn a_denied_login_fails_within_the_timeout_saying_what_consul_answered() {
    let s = Secure::new();
    // A method that trusts another account's roles: the task role's path and tags are right,
    // so nothing the task can see explains the refusal ("not trusted"), and it is retried
    // until the deadline. (Refusals the role explains end at once: tests/diagnose.rs.)
    s.w.consul.configure_iam_auth(
        &s.aws,
        &IamAuthOptions {
            method: "iam-other-account".into(),
            server_id_header: Some(SERVER_ID.into()),
            bound_arns: vec!["arn:aws:iam::999999999999:role/consul-ecs/*".into()],
            ..Default::default()
        },
    );
    let role = s.aws.task_role().clone();
    // Wall clock (a child process): the 3 s login timeout plus generous room, far below
    // what retrying without the timeout would take.
    let started = Instant::now();
    let run = s
        .mesh_init_as(
            &["-login-timeout", "3s"],
            &s.config(json!({"method": "iam-other-account"})),
            &role,
        )
        .run();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    run.expect_code(2)
        .expect_stderr_contains("log in to Consul")
        .expect_stderr_contains("not trusted");
    assert!(s.w.files().is_empty(), "no token file: {:?}", s.w.files());
    assert!(s.login_tokens().is_empty());
    assert!(s.w.consul.services().is_empty());
    let attempts =
        s.w.consul
            .requests()
            .iter()
            .filter(|r| r.path == "/v1/acl/login")
            .count();
    assert!(
        attempts >= 2,
        "a denied login is retried until the deadline: {attempts}"
    );
}

#[test]
fn a_failure_after_login_logs_the_token_out_and_removes_its_file() {
    let s = Secure::new();
    // The agent is unreachable: the login (to the server address) works, registration not.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let run = s
        .mesh_init_as(
            &["-register-timeout", "1s"],
            &s.config(json!({})),
            s.aws.task_role(),
        )
        .env("CONSUL_HTTP_ADDR", format!("http://{dead}"))
        .run();
    run.expect_code(2)
        .expect_stderr_contains("register with the Consul agent");
    assert!(
        s.w.files().is_empty(),
        "token file removed: {:?}",
        s.w.files()
    );
    assert!(
        s.login_tokens().is_empty(),
        "token logged out:\n{}",
        s.w.consul.request_log()
    );
}

#[test]
fn sigterm_after_login_logs_the_token_out_removes_its_file_and_exits_143() {
    let s = Secure::new();
    // The agent accepts connections and never answers: mesh-init logs in (to the server
    // address), then hangs registering, where the signal finds it.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let agent = format!("http://{}", hole.local_addr().unwrap());
    let mut cmd = s
        .mesh_init_as(
            &["-register-timeout", "60s"],
            &s.config(json!({})),
            s.aws.task_role(),
        )
        .env("CONSUL_HTTP_ADDR", &agent)
        .command();
    let stderr = tempfile::NamedTempFile::new().unwrap();
    cmd.stderr(stderr.reopen().unwrap());
    let mut child = cmd.spawn().unwrap();
    let token_file = s.w.bootstrap_dir().join("service-token");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !token_file.exists() {
        assert!(
            Instant::now() < deadline,
            "never logged in:\n{}",
            fs::read_to_string(stderr.path()).unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(s.login_tokens().len(), 1);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let log = fs::read_to_string(stderr.path()).unwrap();
    assert_eq!(status.code(), Some(143), "{log}");
    assert!(
        s.w.files().is_empty(),
        "files removed: {:?}\n{log}",
        s.w.files()
    );
    assert!(
        s.login_tokens().is_empty(),
        "token logged out:\n{}\n{log}",
        s.w.consul.request_log()
    );
    drop(hole);
}

#[test]
fn a_symlink_at_service_token_is_replaced_never_followed() {
    let s = Secure::new();
    let config = s.config(json!({}));
    // Someone put a link where mesh-init keeps its token, pointing at a file whose content
    // must never reach Consul as a token.
    let outside = tempfile::NamedTempFile::new().unwrap();
    let other = s.w.consul.create_service_token("other");
    fs::write(outside.path(), &other.secret_id).unwrap();
    let link = s.w.bootstrap_dir().join("service-token");
    std::os::unix::fs::symlink(outside.path(), &link).unwrap();
    let run = s.mesh_init(&config).run();
    assert_eq!(run.code(), Some(0), "{run}");
    assert!(
        s.w.consul
            .tokens()
            .iter()
            .any(|t| t.secret_id == other.secret_id),
        "the linked file's token was logged out:\n{}",
        s.w.consul.request_log()
    );
    assert_eq!(fs::read_to_string(outside.path()).unwrap(), other.secret_id);
    let meta = fs::symlink_metadata(&link).unwrap();
    assert!(
        meta.file_type().is_file(),
        "the link is replaced by the token file"
    );
    assert_eq!(s.login_tokens().len(), 1);
}

/// health-sync with the local agent at `agent` (the servers are `consulHTTPAddr`).
fn start_health_sync(s: &Secure, config: &str, agent: &str) -> Background {
    let hs = Background::start(
        &["health-sync", "-poll-interval", "100ms"],
        &[
            ("CONSUL_ECS_CONFIG_JSON", config),
            ("ECS_CONTAINER_METADATA_URI_V4", &s.w.ecs.uri()),
            ("CONSUL_HTTP_ADDR", agent),
        ],
        tempfile::tempdir().unwrap(),
    );
    hs.wait_log("health-sync started");
    hs
}

/// mesh-init, then the consul-client container's client token, then health-sync.
fn running_task(s: &Secure) -> (String, Background) {
    running_task_with_agent(s, &s.w.consul.http_addr())
}

/// [`running_task`] with health-sync's local agent at `agent`.
fn running_task_with_agent(s: &Secure, agent: &str) -> (String, Background) {
    let config = s.config(json!({}));
    let run = s.mesh_init(&config).run();
    assert_eq!(run.code(), Some(0), "{run}");
    let task_arn = &s.w.task_arn;
    let cluster = s.w.ecs.task()["Cluster"].as_str().unwrap().to_string();
    let client =
        s.w.consul
            .login_client_token(&s.aws, s.aws.task_role(), &s.w.task_id, &cluster);
    fs::write(s.w.bootstrap_dir().join("client-token"), &client.secret_id).unwrap();
    // The service token says which task and cluster it belongs to, as the acl-controller
    // needs: the values from the task metadata, written into the login meta.
    let service_token = fs::read_to_string(s.w.bootstrap_dir().join("service-token")).unwrap();
    let token = s
        .login_tokens()
        .into_iter()
        .find(|t| t.secret_id == service_token)
        .expect("the service token is a login token");
    let meta: Value = serde_json::from_str(
        token
            .description
            .strip_prefix("token created via login: ")
            .expect("a login token's description"),
    )
    .unwrap();
    let expected_id = task_arn
        .split("task/")
        .nth(1)
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    assert_eq!(meta["consul.hashicorp.com/task-id"], json!(expected_id));
    assert_eq!(meta["consul.hashicorp.com/cluster"], json!(cluster));
    let hs = start_health_sync(s, &config, agent);
    (config, hs)
}

#[test]
fn health_sync_writes_with_the_service_token_and_logs_out_both_tokens_on_sigterm() {
    let s = Secure::new();
    let (_config, mut hs) = running_task(&s);
    assert_eq!(s.login_tokens().len(), 2);
    s.w.ecs.set_container_health("app", "HEALTHY");
    let check = format!("web-{}-app-consul-ecs", s.w.task_id);
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.w.consul.checks()[&check]["Status"] != json!("passing") {
        assert!(
            Instant::now() < deadline,
            "{}\n{}",
            hs.report(),
            s.w.consul.request_log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    hs.signal(Signal::SIGTERM);
    assert_eq!(hs.wait_exit(Duration::from_secs(15)), 0, "{}", hs.report());
    assert_eq!(s.w.consul.checks()[&check]["Status"], json!("critical"));
    assert!(
        s.login_tokens().is_empty(),
        "both tokens logged out:\n{}",
        s.w.consul.request_log()
    );
    // The agent writes the checks with the service token: every critical write is answered
    // before the first logout is sent, or it could be refused as `ACL not found`.
    let requests = s.w.consul.requests();
    let last_write = requests
        .iter()
        .rposition(|r| r.path.starts_with("/v1/agent/check/update/"))
        .unwrap();
    let first_logout = requests
        .iter()
        .position(|r| r.path == "/v1/acl/logout")
        .unwrap();
    assert!(
        last_write < first_logout && requests[last_write].status == 200,
        "checks first, then logouts:\n{}",
        s.w.consul.request_log()
    );
}

#[test]
fn with_the_agent_gone_at_shutdown_the_logouts_still_reach_the_servers() {
    let s = Secure::new();
    // health-sync reaches "the agent" through a relay that can vanish; the servers
    // (`consulHTTPAddr`) stay up.
    let agent = Relay::start(&s.w.consul.http_addr());
    let (_config, mut hs) = running_task_with_agent(&s, &agent.http_addr());
    assert_eq!(s.login_tokens().len(), 2);
    s.w.ecs.set_container_health("app", "HEALTHY");
    let check = format!("web-{}-app-consul-ecs", s.w.task_id);
    hs.wait_until(
        "the check written through the agent",
        Duration::from_secs(10),
        |_| s.w.consul.checks()[&check]["Status"] == json!("passing"),
    );
    // The consul-client container stopped first (e.g. `docker-compose stop`).
    agent.stop();
    hs.signal(Signal::SIGTERM);
    assert_eq!(hs.wait_exit(Duration::from_secs(15)), 2, "{}", hs.report());
    assert!(
        s.login_tokens().is_empty(),
        "both tokens logged out at the servers:\n{}\n{}",
        hs.report(),
        s.w.consul.request_log()
    );
    let log = hs.read("stderr.log");
    for token in ["service token", "client token"] {
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("log out the {token} (")) && l.contains("done")),
            "the {token}'s logout reported done:\n{log}"
        );
    }
    // Only the check write is reported as failed.
    assert!(
        log.contains(&format!("set check {check} critical: ")),
        "{log}"
    );
    assert!(
        log.contains("health-sync shutdown: 1 step(s) failed"),
        "{log}"
    );
}

#[test]
fn one_failed_logout_still_logs_out_the_other_token() {
    let s = Secure::new();
    let (_config, mut hs) = running_task(&s);
    // A client token that was not created by a login cannot be logged out (403).
    let not_a_login = s.w.consul.create_service_token("web");
    fs::write(
        s.w.bootstrap_dir().join("client-token"),
        &not_a_login.secret_id,
    )
    .unwrap();
    hs.signal(Signal::SIGTERM);
    assert_eq!(hs.wait_exit(Duration::from_secs(15)), 2, "{}", hs.report());
    let log = hs.read("stderr.log");
    assert!(log.contains("log out the client token"), "{log}");
    let service_logins: Vec<_> = s
        .login_tokens()
        .into_iter()
        .filter(|t| t.auth_method == "iam-ecs-service-token")
        .collect();
    assert!(
        service_logins.is_empty(),
        "the service token is logged out anyway:\n{}",
        s.w.consul.request_log()
    );
}

/// The upstream fixture with every field set (login without entity details, a custom auth
/// method, a server-ID header, a mesh gateway in partition `ptn1` / namespace `ns1`) runs
/// through mesh-init against an Enterprise emulator. Only what names the fixture's
/// environment is replaced: the bootstrap directory, the Consul address and CA file, and
/// the STS endpoint.
#[test]
fn the_extensive_upstream_fixture_runs_through_mesh_init() {
    let aws = AwsWorld::start("ecs-mesh-gateway");
    let w = World::new(
        "fixture",
        EmulatorOptions {
            acls_enabled: true,
            enterprise: true,
            ..Default::default()
        },
    );
    let path = testkit::paths::compat_dir().join("config/fixtures/test_extensive_config.json");
    let mut doc: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let login = doc["consulLogin"].clone();
    let role = aws.task_role();
    // No entity details: the method binds the exact role ARN and a literal service name.
    // The method lives in the partition the fixture's login names (service.partition).
    w.consul.configure_iam_auth_in_partition(
        &aws,
        &IamAuthOptions {
            method: login["method"].as_str().unwrap().into(),
            server_id_header: Some(login["serverIdHeaderValue"].as_str().unwrap().into()),
            entity_details: false,
            bound_arns: vec![format!(
                "arn:aws:iam::{}:role/{}",
                testkit::aws::ACCOUNT_ID,
                role.name
            )],
            bind_name: "ecs-mesh-gateway".into(),
        },
        "test-partition",
    );
    doc["consulHTTPAddr"] = json!(w.consul.http_addr());
    doc["consulCACertFile"] = json!(null);
    doc["consulLogin"]["stsEndpoint"] = json!(aws.endpoint());
    let config = w.config(doc);
    let mut cmd = w.mesh_init(&config);
    for (k, v) in aws.credentials_env(role) {
        cmd = cmd.env(&k, v);
    }
    let run = cmd.run();
    assert_eq!(run.code(), Some(0), "{run}\n{}", w.consul.request_log());

    let id = format!("ecs-mesh-gateway-{}", w.task_id);
    let gateway = w.service(&id);
    util::world::assert_fields(
        &gateway,
        &json!({
            "Kind": "mesh-gateway", "Service": "ecs-mesh-gateway", "Port": 8443, "Address": "10.0.0.1",
            "Tags": ["a", "b"], "Meta": {"env": "test", "version": "x.y.z"},
            "TaggedAddresses": {"lan": {"Address": "10.0.0.1", "Port": 8443}, "wan": {"Address": "172.16.0.0", "Port": 443}},
            "Proxy": {"Config": {"data": "some-config-data"}}
        }),
    );
    let login = w
        .consul
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/acl/login")
        .unwrap();
    // service.partition wins over gateway.partition for the login, as in v0.6.2 (the
    // fixture sets both).
    assert!(login.query.contains("partition=test-partition"), "{login}");
    let tokens: Vec<_> = w
        .consul
        .tokens()
        .into_iter()
        .filter(|t| t.auth_method == "my-auth-method")
        .collect();
    assert_eq!(tokens.len(), 1);
    assert!(
        tokens[0].description.contains("\"tag-1\":\"val-1\""),
        "{}",
        tokens[0].description
    );
    let doc: Value = serde_json::from_str(
        &fs::read_to_string(w.bootstrap_dir().join("envoy-bootstrap.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(doc["node"]["id"], json!(id));
    assert_eq!(doc["node"]["metadata"]["partition"], json!("ptn1"));
    assert_eq!(doc["node"]["metadata"]["namespace"], json!("ns1"));
    assert!(testkit::envoy::validate_json(&doc).ok);
}

#[test]
fn health_sync_logs_the_tokens_out_even_if_it_never_read_the_task() {
    let s = Secure::new();
    let config = s.config(json!({}));
    let run = s.mesh_init(&config).run();
    assert_eq!(run.code(), Some(0), "{run}");
    let cluster = s.w.ecs.task()["Cluster"].as_str().unwrap().to_string();
    let client =
        s.w.consul
            .login_client_token(&s.aws, s.aws.task_role(), &s.w.task_id, &cluster);
    fs::write(s.w.bootstrap_dir().join("client-token"), &client.secret_id).unwrap();
    // The metadata endpoint fails for as long as this test cares.
    s.w.ecs.fail_next(1_000_000, 500);
    let mut hs = Background::start(
        &["health-sync"],
        &[
            ("CONSUL_ECS_CONFIG_JSON", config.as_str()),
            ("ECS_CONTAINER_METADATA_URI_V4", &s.w.ecs.uri()),
            ("CONSUL_HTTP_ADDR", &s.w.consul.http_addr()),
        ],
        tempfile::tempdir().unwrap(),
    );
    hs.wait_log("what=\"read the task metadata\"");
    hs.signal(Signal::SIGTERM);
    assert_eq!(hs.wait_exit(Duration::from_secs(15)), 2, "{}", hs.report());
    assert!(
        hs.read("stderr.log")
            .contains("the task metadata was never read"),
        "{}",
        hs.report()
    );
    assert!(
        s.login_tokens().is_empty(),
        "both tokens logged out:\n{}",
        s.w.consul.request_log()
    );
}
