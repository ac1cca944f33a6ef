//! `consul-ecs doctor` with a v0.10 (Consul Dataplane) config, end to end: the built binary
//! against the Consul emulator's HTTP API and gRPC server (the aws-iam login replayed to
//! moto, IAM for the role check too) and the ECS metadata emulator. The same list, the same
//! exit codes and the same role diagnostics as for the v0.6.2 layout (tests/diagnose.rs).

mod util;

use serde_json::{json, Value};
use testkit::aws::{AwsWorld, RoleSpec, TaskRole, SERVICE_NAME_TAG};
use testkit::consul::{ConsulEmulator, EmulatorOptions, IamAuthOptions};
use testkit::consul_grpc::{ConsulGrpcServer, GrpcServerOptions};
use testkit::ecs_metadata::{fargate_task, EcsMetadataEmulator};
use util::{Run, TestCommand};

/// A dataplane task with ACLs and the service-token auth method of tests/diagnose.rs.
struct Setup {
    consul: ConsulEmulator,
    grpc: ConsulGrpcServer,
    ecs: EcsMetadataEmulator,
    aws: AwsWorld,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let aws = AwsWorld::start("web");
        let consul = ConsulEmulator::start(EmulatorOptions {
            acls_enabled: true,
            ..Default::default()
        });
        consul.configure_iam_auth(&aws, &IamAuthOptions::default());
        let grpc = ConsulGrpcServer::start(&consul, GrpcServerOptions::default()).unwrap();
        Setup {
            ecs: EcsMetadataEmulator::start(fargate_task("web", &["app", "consul-dataplane"])),
            consul,
            grpc,
            aws,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A v0.10 config reaching the servers over plain gRPC and HTTP, `login` merged into
    /// `consulLogin` (`null`: no login).
    fn config(&self, grpc_port: u16, login: Value) -> String {
        let mut config = json!({
            "bootstrapDir": self.dir.path(),
            "consulServers": {
                "hosts": "127.0.0.1",
                "grpc": {"port": grpc_port, "tls": false},
                "http": {"port": self.consul.port(), "https": false}
            },
            "service": {"port": 9090},
            "healthSyncContainers": ["app"],
        });
        if !login.is_null() {
            let mut with = json!({"enabled": true, "stsEndpoint": self.aws.endpoint()});
            for (k, v) in login.as_object().unwrap() {
                with[k] = v.clone();
            }
            config["consulLogin"] = with;
        }
        config.to_string()
    }

    fn login_config(&self) -> String {
        self.config(self.grpc.addr().port(), json!({}))
    }

    fn doctor(&self, config: &str, role: &TaskRole) -> TestCommand {
        let mut cmd = TestCommand::new(["doctor"])
            .env("CONSUL_ECS_CONFIG_JSON", config)
            .env("ECS_CONTAINER_METADATA_URI_V4", self.ecs.uri())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL_IAM", self.aws.endpoint());
        for (k, v) in self.aws.credentials_env(role) {
            cmd = cmd.env(&k, v);
        }
        cmd
    }

    fn login_tokens(&self) -> usize {
        self.consul
            .tokens()
            .into_iter()
            .filter(|t| !t.auth_method.is_empty())
            .count()
    }
}

fn line<'a>(run: &'a Run, out: &'a str, start: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?}\n{run}"))
}

/// No secret in stdout or stderr, and no UUID but accessor IDs (a token's secret is one).
fn assert_no_secret(run: &Run, secrets: &[&str]) {
    let output = format!("{}{}", run.stdout(), run.stderr());
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(
            !output.contains(secret),
            "a secret reached the output:\n{output}"
        );
    }
    let shape = [8, 4, 4, 4, 12];
    for (i, _) in output.char_indices() {
        let Some(candidate) = output.get(i..i + 36) else {
            continue;
        };
        let mut parts = candidate.split('-');
        let is_uuid = shape.iter().all(|n| {
            parts
                .next()
                .is_some_and(|p| p.len() == *n && p.bytes().all(|b| b.is_ascii_hexdigit()))
        });
        if is_uuid {
            assert!(
                output.contains(&format!("accessor {candidate}")),
                "{candidate} is not an accessor ID: a secret?\n{run}"
            );
        }
    }
}

fn role_secrets(role: &TaskRole) -> Vec<&str> {
    vec![role.secret_access_key.as_str(), role.session_token.as_str()]
}

#[test]
fn a_good_dataplane_task_passes_every_check_and_the_login_is_logged_out() {
    let s = Setup::new();
    let role = s.aws.task_role().clone();
    let run = s.doctor(&s.login_config(), &role).run();
    run.expect_code(0);
    let out = run.stdout();
    for start in [
        "ok    config valid: CONSUL_ECS_CONFIG_JSON is valid (v0.10 (Consul Dataplane) layout); consulLogin on",
        "ok    task metadata reachable: task arn:aws:ecs:",
        "ok    credentials and role: role arn:aws:iam::123456789012:role/consul-ecs/consul-ecs-web",
        "ok    role path and tags: path /consul-ecs/ (under /consul-ecs/), consul.hashicorp.com.service-name=web",
        "ok    Consul servers reachable over gRPC: consulServers.hosts (address 127.0.0.1) gave [127.0.0.1]",
        "ok    Consul servers reachable over HTTP:",
        "skip  CONSUL_HTTP_TOKEN read back: CONSUL_HTTP_TOKEN is not set",
        "ok    auth method login: \"iam-ecs-service-token\" gave a token with service identity \"web\"",
    ] {
        line(&run, &out, start);
    }
    assert!(
        line(&run, &out, "ok    auth method login").ends_with("logged out"),
        "{run}"
    );
    assert_eq!(s.login_tokens(), 0, "the doctor's token is logged out");
    assert!(
        std::fs::read_dir(s.dir.path()).unwrap().next().is_none(),
        "doctor writes nothing to the bootstrap directory"
    );
    assert_no_secret(&run, &role_secrets(&role));
}

#[test]
fn a_misconfigured_role_is_named_and_the_refused_login_points_at_it() {
    let s = Setup::new();
    let api = s
        .aws
        .add_role(&RoleSpec::new("web", "/elsewhere/").tags(&[(SERVICE_NAME_TAG, "Api")]));
    let run = s.doctor(&s.login_config(), &api).run();
    run.expect_code(2);
    let out = run.stdout();
    let role_line = line(&run, &out, "FAIL  role path and tags:");
    assert!(role_line.contains("has path /elsewhere/"), "{run}");
    assert!(role_line.contains("\"Api\""), "{run}");
    assert!(
        out.contains("      hint: create the task role with path /consul-ecs/"),
        "{run}"
    );
    line(&run, &out, "FAIL  auth method login:");
    line(&run, &out, "ok    Consul servers reachable over gRPC");
    assert_eq!(s.login_tokens(), 0);
    assert_no_secret(&run, &role_secrets(&api));
}

#[test]
fn an_unknown_auth_method_is_named() {
    let s = Setup::new();
    let role = s.aws.task_role().clone();
    let config = s.config(s.grpc.addr().port(), json!({"method": "no-such-method"}));
    let run = s.doctor(&config, &role).run();
    run.expect_code(2);
    let out = run.stdout();
    let login = line(&run, &out, "FAIL  auth method login:");
    assert!(login.contains("no-such-method"), "{run}");
    assert_no_secret(&run, &role_secrets(&role));
}

#[test]
fn consul_http_token_is_read_back_instead_of_a_login() {
    let s = Setup::new();
    let role = s.aws.task_role().clone();
    let config = s.config(s.grpc.addr().port(), Value::Null);

    let web = s.consul.create_service_token("web");
    let run = s
        .doctor(&config, &role)
        .env("CONSUL_HTTP_TOKEN", &web.secret_id)
        .run();
    run.expect_code(0);
    let out = run.stdout();
    let token = line(&run, &out, "ok    CONSUL_HTTP_TOKEN read back:");
    assert!(
        token.contains(&format!("accessor {}", web.accessor_id))
            && token.contains("service identity \"web\""),
        "{run}"
    );
    line(
        &run,
        &out,
        "skip  auth method login: CONSUL_HTTP_TOKEN is set",
    );
    line(
        &run,
        &out,
        "skip  credentials and role: consulLogin.enabled is false",
    );
    assert_no_secret(&run, &[&web.secret_id]);

    // A token for another service cannot register this one.
    let api = s.consul.create_service_token("api");
    let run = s
        .doctor(&config, &role)
        .env("CONSUL_HTTP_TOKEN", &api.secret_id)
        .run();
    run.expect_code(2);
    let out = run.stdout();
    let token = line(&run, &out, "FAIL  CONSUL_HTTP_TOKEN read back:");
    assert!(token.contains("cannot register service \"web\""), "{run}");
    assert_no_secret(&run, &[&api.secret_id]);

    // A token Consul does not know.
    let unknown = "6d1a2f3b-0000-4000-8000-000000000001";
    let run = s
        .doctor(&config, &role)
        .env("CONSUL_HTTP_TOKEN", unknown)
        .run();
    run.expect_code(2);
    let out = run.stdout();
    let token = line(&run, &out, "FAIL  CONSUL_HTTP_TOKEN read back:");
    assert!(token.contains("ACL not found"), "{run}");
    assert!(
        !format!("{}{}", run.stdout(), run.stderr()).contains(unknown),
        "{run}"
    );
}

#[test]
fn unreachable_servers_are_named_and_what_needs_them_is_skipped() {
    let s = Setup::new();
    let role = s.aws.task_role().clone();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let run = s.doctor(&s.config(port, json!({})), &role).run();
    run.expect_code(2);
    let out = run.stdout();
    let grpc = line(&run, &out, "FAIL  Consul servers reachable over gRPC:");
    assert!(grpc.contains(&format!("127.0.0.1:{port}")), "{run}");
    line(&run, &out, "skip  Consul servers reachable over HTTP:");
    line(&run, &out, "skip  auth method login:");
    // The AWS side is still checked.
    line(&run, &out, "ok    role path and tags:");
}

#[test]
fn a_config_mixing_the_layouts_is_a_bad_config() {
    let s = Setup::new();
    let role = s.aws.task_role().clone();
    let mut config: Value = serde_json::from_str(&s.login_config()).unwrap();
    config["consulHTTPAddr"] = json!("http://127.0.0.1:8500");
    let run = s.doctor(&config.to_string(), &role).run();
    run.expect_code(1);
    assert!(run.stdout().starts_with("FAIL  config valid:"), "{run}");
    assert!(run.stdout().contains("consulHTTPAddr"), "{run}");
}

#[test]
fn tls_against_plain_servers_is_named_for_each_port() {
    let s = Setup::new();
    let role = s.aws.task_role().clone();
    let mut config: Value = serde_json::from_str(&s.login_config()).unwrap();

    // HTTPS to the plain HTTP API: the HTTP line names the TLS settings of consulServers.
    config["consulServers"]["http"]["https"] = json!(true);
    let run = s.doctor(&config.to_string(), &role).run();
    run.expect_code(2);
    let out = run.stdout();
    let http = line(&run, &out, "FAIL  Consul servers reachable over HTTP:");
    assert!(
        http.contains(&format!("https://127.0.0.1:{}", s.consul.port()))
            && http.contains("found from consulServers.hosts"),
        "{run}"
    );
    assert!(
        out.contains("      hint: check consulServers.http.https and the CA"),
        "{run}"
    );
    line(&run, &out, "skip  auth method login:");

    // TLS to the plain gRPC port: the gRPC line, with the hint naming grpc.tls.
    config["consulServers"]["grpc"]["tls"] = json!(true);
    let run = s.doctor(&config.to_string(), &role).run();
    run.expect_code(2);
    let out = run.stdout();
    line(&run, &out, "FAIL  Consul servers reachable over gRPC:");
    assert!(out.contains("consulServers.grpc.tls"), "{run}");
    line(&run, &out, "skip  Consul servers reachable over HTTP:");
}

#[test]
fn the_servers_are_found_from_each_form_of_hosts() {
    let s = Setup::new();
    let role = s.aws.task_role().clone();
    for (hosts, found) in [
        ("localhost", "consulServers.hosts (DNS name \"localhost\")"),
        (
            "exec=echo 127.0.0.1",
            "consulServers.hosts (exec= command \"echo\")",
        ),
    ] {
        let mut config: Value = serde_json::from_str(&s.login_config()).unwrap();
        config["consulServers"]["hosts"] = json!(hosts);
        let run = s.doctor(&config.to_string(), &role).run();
        run.expect_code(0);
        let out = run.stdout();
        let grpc = line(&run, &out, "ok    Consul servers reachable over gRPC:");
        assert!(grpc.contains(found), "{run}");
        assert!(
            grpc.contains(&format!("127.0.0.1:{} answered", s.grpc.addr().port())),
            "{run}"
        );
        line(&run, &out, "ok    auth method login:");
    }
    assert_eq!(s.login_tokens(), 0);
}
