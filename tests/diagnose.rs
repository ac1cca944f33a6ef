//! Start-up failures that explain themselves: mesh-init, health-sync and `doctor` against the
//! Consul emulator (the aws-iam method bound to `/consul-ecs/*`, logins replayed to moto) and
//! real moto with signature checks, for the misconfigurations a task meets in practice. Each
//! case checks the ERROR line and its `hint:`, that a failure waiting cannot heal ends within
//! seconds although `-login-timeout` is 60s, and that no secret reaches the output.

mod util;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::aws::{AwsWorld, RoleSpec, TaskRole, NAMESPACE_TAG, SERVICE_NAME_TAG};
use testkit::consul::{EmulatorOptions, IamAuthOptions};
use util::background::Background;
use util::world::World;
use util::{Run, TestCommand};

/// A final error must come this fast (it takes about a second; the rest is slack for a
/// loaded machine). The login deadline in these runs is 60 s. Wall clock: the binary runs
/// as a child process, whose tokio clock a test cannot pause.
const QUICK: Duration = Duration::from_secs(8);

/// A task with ACLs: the service-token method trusts `arn:aws:iam::<acct>:role/consul-ecs/*`
/// with entity details and binds the role's service-name tag to a service identity.
struct Setup {
    w: World,
    aws: AwsWorld,
}

impl Setup {
    fn new() -> Setup {
        let aws = AwsWorld::start("web");
        let w = World::with_iam_auth("web", &aws, &IamAuthOptions::default());
        Setup { w, aws }
    }

    /// `consulHTTPAddr` is a client agent: the servers' errors reach the task with the
    /// agent's `rpc error making call: ` prefix.
    fn through_client_agent() -> Setup {
        let aws = AwsWorld::start("web");
        let w = World::new(
            "web",
            testkit::consul::EmulatorOptions {
                acls_enabled: true,
                through_client_agent: true,
                ..Default::default()
            },
        );
        w.consul
            .configure_iam_auth(&aws, &IamAuthOptions::default());
        Setup { w, aws }
    }

    fn config(&self, extra_login: Value) -> String {
        let mut login = json!({"enabled": true, "stsEndpoint": self.aws.endpoint()});
        for (k, v) in extra_login.as_object().unwrap() {
            login[k] = v.clone();
        }
        self.w.config(json!({
            "consulHTTPAddr": self.w.consul.http_addr(),
            "healthSyncContainers": ["app"],
            "consulLogin": login,
            "service": {"port": 9090},
        }))
    }

    /// `args` with the task's environment and `aws_env`'s credentials; IAM (for the
    /// diagnosis) is moto too.
    fn command(&self, args: &[&str], config: &str, aws_env: Vec<(String, String)>) -> TestCommand {
        let mut cmd = TestCommand::new(args)
            .env("CONSUL_ECS_CONFIG_JSON", config)
            .env("ECS_CONTAINER_METADATA_URI_V4", self.w.ecs.uri())
            .env("CONSUL_HTTP_ADDR", self.w.consul.http_addr())
            .env("AWS_ENDPOINT_URL_IAM", self.aws.endpoint());
        for (k, v) in aws_env {
            cmd = cmd.env(&k, v);
        }
        cmd
    }

    /// mesh-init with a 60 s login deadline as `role`; the run and how long it took.
    fn mesh_init_as(&self, role: &TaskRole, config: &str) -> (Run, Duration) {
        let started = Instant::now();
        let run = self
            .command(
                &[
                    "mesh-init",
                    "-login-timeout",
                    "60s",
                    "-register-timeout",
                    "60s",
                ],
                config,
                self.aws.credentials_env(role),
            )
            .run();
        (run, started.elapsed())
    }

    fn role(&self, spec: &RoleSpec) -> TaskRole {
        self.aws.add_role(spec)
    }

    fn login_attempts(&self) -> usize {
        self.w
            .consul
            .requests()
            .iter()
            .filter(|r| r.path == "/v1/acl/login")
            .count()
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

/// The ERROR line (the one that starts the failure report) and the `hint:` line after it.
fn error_and_hint(run: &Run) -> (String, String) {
    let stderr = run.stderr();
    let lines: Vec<&str> = stderr.lines().collect();
    let at = lines
        .iter()
        .rposition(|l| l.contains("ERROR"))
        .unwrap_or_else(|| panic!("no ERROR line\n{run}"));
    let hint = lines
        .get(at + 1)
        .filter(|l| l.starts_with("hint: "))
        .unwrap_or_else(|| panic!("no hint line after the ERROR line\n{run}"));
    (lines[at].to_string(), hint.to_string())
}

/// A final failure: exit 2 within [`QUICK`], after one login attempt, nothing left behind,
/// the error and hint saying what `problem` and `hint` say, no secret in the output.
fn assert_explained(
    s: &Setup,
    run: &Run,
    took: Duration,
    problem: &[&str],
    hint: &[&str],
    secrets: &[&str],
) {
    run.expect_code(2);
    let (error, hint_line) = error_and_hint(run);
    eprintln!("measured: exit 2 after {took:?}\n{error}\n{hint_line}");
    assert!(
        took < QUICK,
        "took {took:?} with a 60s login deadline\n{run}"
    );
    for needle in problem {
        assert!(error.contains(needle), "ERROR line lacks {needle:?}\n{run}");
    }
    for needle in hint {
        assert!(hint_line.contains(needle), "hint lacks {needle:?}\n{run}");
    }
    assert!(s.login_tokens().is_empty(), "no token left behind");
    assert!(s.w.files().is_empty(), "no file left: {:?}", s.w.files());
    assert_no_secret(run, secrets);
}

fn assert_no_secret(run: &Run, secrets: &[&str]) {
    assert_only_accessor_ids(run);
    let output = format!("{}{}", run.stdout(), run.stderr());
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(
            !output.contains(secret),
            "a secret reached the output:\n{output}"
        );
    }
}

/// Every UUID in the output is an accessor ID the output calls one: a token's secret (also a
/// UUID) never appears, even for tokens this test cannot know because the run logged them
/// out again.
fn assert_only_accessor_ids(run: &Run) {
    let output = format!("{}{}", run.stdout(), run.stderr());
    let shape = [8, 4, 4, 4, 12];
    let mut i = 0;
    while i + 36 <= output.len() {
        let Some(candidate) = output.get(i..i + 36) else {
            i += 1;
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
                output.contains(&format!("accessor {candidate}"))
                    || output.contains(&format!("AccessorID '{candidate}'"))
                    || output.contains(&format!("accessor_id={candidate}")),
                "{candidate} is not an accessor ID: a secret?\n{run}"
            );
            i += 36;
        } else {
            i += 1;
        }
    }
}

fn role_secrets(role: &TaskRole) -> Vec<&str> {
    vec![role.secret_access_key.as_str(), role.session_token.as_str()]
}

#[test]
fn a_role_outside_the_bound_path_ends_the_login_at_once_naming_the_path() {
    let s = Setup::new();
    let outsider = s.role(&RoleSpec::new("web", "/elsewhere/"));
    let (run, took) = s.mesh_init_as(&outsider, &s.config(json!({})));
    assert_explained(
        &s,
        &run,
        took,
        &[
            "log in to Consul",
            &format!(
                "{} has path /elsewhere/, not under /consul-ecs/",
                outsider.arn
            ),
            "is not trusted",
        ],
        &["path /consul-ecs/", "-iam-role-path /elsewhere/"],
        &role_secrets(&outsider),
    );
    assert_eq!(s.login_attempts(), 1, "{}", s.w.consul.request_log());
}

#[test]
fn a_missing_or_invalid_service_tag_is_named() {
    let s = Setup::new();
    let config = s.config(json!({}));
    let untagged = s.role(&RoleSpec::new("web", "/consul-ecs/").tags(&[]));
    let (run, took) = s.mesh_init_as(&untagged, &config);
    assert_explained(
        &s,
        &run,
        took,
        &[&format!("{} has no {SERVICE_NAME_TAG} tag", untagged.arn)],
        &[&format!("tag the task role {SERVICE_NAME_TAG}=web")],
        &role_secrets(&untagged),
    );

    let upper = s.role(&RoleSpec::new("web", "/consul-ecs/").tags(&[(SERVICE_NAME_TAG, "Web")]));
    let (run, took) = s.mesh_init_as(&upper, &config);
    assert_explained(
        &s,
        &run,
        took,
        &["tag of the task role", "is \"Web\"", "upper-case letters"],
        &["set the tag to \"web\""],
        &role_secrets(&upper),
    );

    let spaced =
        s.role(&RoleSpec::new("web", "/consul-ecs/").tags(&[(SERVICE_NAME_TAG, "web app")]));
    let (run, took) = s.mesh_init_as(&spaced, &config);
    assert_explained(
        &s,
        &run,
        took,
        &["characters other than a-z, 0-9, '-' and '_': \" \""],
        &["set the tag to \"web\""],
        &role_secrets(&spaced),
    );
}

#[test]
fn a_tag_naming_another_service_is_caught_at_registration_with_the_tokens_identity() {
    let s = Setup::new();
    let api = s.role(&RoleSpec::new("web", "/consul-ecs/").tags(&[(SERVICE_NAME_TAG, "api")]));
    let (run, took) = s.mesh_init_as(&api, &s.config(json!({})));
    // The login works; the registration is refused (403) and told through the token.
    assert_explained(
        &s,
        &run,
        took,
        &[
            "register with the Consul agent",
            "refused to register service",
            "of service \"web\"",
            "carries service identity \"api\"",
            &format!(
                "{SERVICE_NAME_TAG} tag of the task role {} names service \"api\"",
                api.arn
            ),
        ],
        &["set the role's tag to \"web\", or service.name to \"api\""],
        &role_secrets(&api),
    );
    // The token it logged in with was logged out again (and never printed).
    let login_log: Vec<_> =
        s.w.consul
            .requests()
            .into_iter()
            .filter(|r| r.path == "/v1/acl/logout")
            .collect();
    assert_eq!(login_log.len(), 1, "{}", s.w.consul.request_log());
}

#[test]
fn user_credentials_are_not_a_role() {
    let s = Setup::new();
    let admin = s.aws.admin().clone();
    let started = Instant::now();
    let run = s
        .command(
            &["mesh-init", "-login-timeout", "60s"],
            &s.config(json!({})),
            s.aws.user_env(&admin),
        )
        .run();
    assert_explained(
        &s,
        &run,
        started.elapsed(),
        &[
            "(from the environment variable AWS_ACCESS_KEY_ID)",
            &format!("are IAM user {}, not an IAM role", admin.arn),
        ],
        &["taskRoleArn", "do not set AWS_ACCESS_KEY_ID"],
        &[&admin.secret_access_key],
    );
}

#[test]
fn a_role_that_may_not_get_itself_says_the_auth_method_needs_it() {
    let s = Setup::new();
    let blind = s.role(&RoleSpec::new("web", "/consul-ecs/").without_get_role());
    let (run, took) = s.mesh_init_as(&blind, &s.config(json!({})));
    assert_explained(
        &s,
        &run,
        took,
        &[
            &format!(
                "iam:GetRole on the task role arn:aws:iam::{}:role/{} itself is denied",
                testkit::aws::ACCOUNT_ID,
                blind.name
            ),
            "the auth method needs it too",
        ],
        &["allow \"iam:GetRole\" on the task role's own ARN"],
        &role_secrets(&blind),
    );
}

#[test]
fn an_auth_method_that_does_not_exist_is_named_with_consuls_words() {
    for s in [Setup::new(), Setup::through_client_agent()] {
        auth_method_missing_is_named(s);
    }
}

fn auth_method_missing_is_named(s: Setup) {
    let role = s.aws.task_role().clone();
    let (run, took) = s.mesh_init_as(&role, &s.config(json!({"method": "iam-ecs-typo"})));
    assert_explained(
        &s,
        &run,
        took,
        &[
            "the auth method \"iam-ecs-typo\" does not exist",
            "ACL not found",
        ],
        &["acl-controller", "consulLogin.method"],
        &role_secrets(&role),
    );
}

/// Enterprise: the method puts the token in the namespace its role's namespace tag names
/// (v0.6.2's acl-controller with partitions); a role whose tag is missing or names another
/// namespace than `service.namespace` is named.
#[test]
fn enterprise_namespace_tags_missing_or_other_are_named() {
    let aws = AwsWorld::start("web");
    let w = World::new(
        "web",
        EmulatorOptions {
            acls_enabled: true,
            enterprise: true,
            ..Default::default()
        },
    );
    for ns in ["team-a", "team-b"] {
        admin_put(&w, "/v1/namespace", &json!({"Name": ns}));
    }
    admin_put(
        &w,
        "/v1/acl/auth-method",
        &json!({
            "Name": "iam-ecs-service-token",
            "Type": "aws-iam",
            "Config": {
                "BoundIAMPrincipalARNs": [testkit::consul::default_bound_arn()],
                "EnableIAMEntityDetails": true,
                "IAMEntityTags": [SERVICE_NAME_TAG, NAMESPACE_TAG],
                "STSEndpoint": aws.endpoint(),
                "IAMEndpoint": aws.endpoint(),
            },
            "NamespaceRules": [{
                "Selector": format!("entity_tags[\"{NAMESPACE_TAG}\"] != \"\""),
                "BindNamespace": format!("${{entity_tags.{NAMESPACE_TAG}}}"),
            }],
        }),
    );
    admin_put(
        &w,
        "/v1/acl/binding-rule",
        &json!({
            "AuthMethod": "iam-ecs-service-token",
            "BindType": "service",
            "BindName": testkit::consul::SERVICE_BIND_NAME,
        }),
    );
    let s = Setup { w, aws };
    let config = s.w.config(json!({
        "consulHTTPAddr": s.w.consul.http_addr(),
        "healthSyncContainers": ["app"],
        "consulLogin": {"enabled": true, "stsEndpoint": s.aws.endpoint()},
        "service": {"port": 9090, "namespace": "team-a", "partition": "default"},
    }));

    // The emulator does not scope service identities by namespace (Consul Enterprise does,
    // so there the registration is refused, which refused.rs's unit tests cover): doctor
    // shows the tag and the token's namespace.
    let doctor = |role: &TaskRole| {
        s.command(&["doctor"], &config, s.aws.credentials_env(role))
            .run()
    };
    let untagged = s.role(&RoleSpec::new("web", "/consul-ecs/"));
    let run = doctor(&untagged);
    run.expect_code(2);
    let out = run.stdout();
    assert!(
        out.contains(&format!(
            "FAIL  role path and tags: the task role {} has no {NAMESPACE_TAG} tag",
            untagged.arn
        )) && out.contains("namespace \"team-a\""),
        "{run}"
    );
    assert!(
        out.contains(&format!(
            "      hint: tag the task role {NAMESPACE_TAG}=team-a"
        )),
        "{run}"
    );
    assert!(
        out.contains("FAIL  auth method login:")
            && out.contains("in namespace \"default\"")
            && out.contains("cannot register service \"web\" in namespace \"team-a\""),
        "{run}"
    );
    assert_no_secret(&run, &role_secrets(&untagged));

    let other = s.role(&RoleSpec::new("web", "/consul-ecs/").tag(NAMESPACE_TAG, "team-b"));
    let run = doctor(&other);
    run.expect_code(2);
    let out = run.stdout();
    assert!(
        out.contains(&format!(
            "{NAMESPACE_TAG} tag of the task role {} is \"team-b\"",
            other.arn
        )),
        "{run}"
    );
    assert!(
        out.contains("hint: set the role's tag to \"team-a\", or service.namespace to \"team-b\""),
        "{run}"
    );
    assert!(out.contains("in namespace \"team-b\""), "{run}");

    // The right tag: every check passes, and mesh-init works.
    let right = s.role(&RoleSpec::new("web", "/consul-ecs/").tag(NAMESPACE_TAG, "team-a"));
    let run = doctor(&right);
    run.expect_code(0);
    assert!(
        run.stdout().contains(&format!("{NAMESPACE_TAG}=team-a")),
        "{run}"
    );
    let (run, _) = s.mesh_init_as(&right, &config);
    assert_eq!(run.code(), Some(0), "{run}\n{}", s.w.consul.request_log());
}

fn admin_put(w: &World, path: &str, body: &Value) {
    let url = format!("{}{path}", w.consul.http_addr());
    let token = w.consul.management_token();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, text) = runtime.block_on(async {
        let response = reqwest::Client::new()
            .put(&url)
            .header("X-Consul-Token", token)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    });
    assert_eq!(status, 200, "PUT {path}: {text}");
}

/// Without a login, a registration refused for the environment's token says which identity
/// that token carries.
#[test]
fn a_refused_registration_names_the_identity_of_the_environments_token() {
    let w = World::new(
        "web",
        EmulatorOptions {
            acls_enabled: true,
            ..Default::default()
        },
    );
    let api = w.consul.create_service_token("api");
    let config = w.config(json!({"healthSyncContainers": ["app"], "service": {"port": 9090}}));
    let started = Instant::now();
    let run = w
        .mesh_init(&config)
        .env("CONSUL_HTTP_TOKEN", &api.secret_id)
        .run();
    run.expect_code(2);
    assert!(started.elapsed() < QUICK, "took {:?}", started.elapsed());
    let (error, hint) = error_and_hint(&run);
    for needle in [
        "refused to register service",
        "of service \"web\"",
        "the token of CONSUL_HTTP_TOKEN / CONSUL_HTTP_TOKEN_FILE",
        &format!(
            "(accessor {}) carries service identity \"api\"",
            api.accessor_id
        ),
    ] {
        assert!(error.contains(needle), "{needle:?}\n{run}");
    }
    assert!(hint.contains("service:write on \"web\""), "{run}");
    assert_no_secret(&run, &[&api.secret_id]);
}

#[test]
fn an_unreachable_consul_is_reported_once_with_its_address_and_origin() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let w = World::new("web", EmulatorOptions::default());
    let config = w.config(json!({"healthSyncContainers": ["app"], "service": {"port": 9090}}));
    let run = TestCommand::new(["mesh-init", "-register-timeout", "2s"])
        .env("CONSUL_ECS_CONFIG_JSON", &config)
        .env("ECS_CONTAINER_METADATA_URI_V4", w.ecs.uri())
        .env("CONSUL_HTTP_ADDR", format!("{dead}"))
        .run();
    run.expect_code(2);
    let (error, hint) = error_and_hint(&run);
    assert!(
        error.contains(&format!(
            "register with the Consul agent: cannot reach the local Consul agent at http://{dead}/ (from CONSUL_HTTP_ADDR)"
        )),
        "{run}"
    );
    assert!(error.contains("connection refused ×"), "{run}");
    assert_eq!(
        error.matches("Connection refused").count(),
        1,
        "the cause once, not once per layer\n{run}"
    );
    assert!(hint.contains("consul-ecs doctor"), "{run}");

    // The server address of a login: from the config, and said so.
    let aws = AwsWorld::start("web");
    let config = w.config(json!({
        "consulHTTPAddr": format!("http://{dead}"),
        "healthSyncContainers": ["app"],
        "consulLogin": {"enabled": true, "stsEndpoint": aws.endpoint()},
        "service": {"port": 9090},
    }));
    let mut cmd = TestCommand::new(["mesh-init", "-login-timeout", "2s"])
        .env("CONSUL_ECS_CONFIG_JSON", &config)
        .env("ECS_CONTAINER_METADATA_URI_V4", w.ecs.uri());
    for (k, v) in aws.credentials_env(aws.task_role()) {
        cmd = cmd.env(&k, v);
    }
    let run = cmd.run();
    run.expect_code(2);
    let (error, _) = error_and_hint(&run);
    assert!(
        error.contains(&format!(
            "log in to Consul: cannot reach the Consul servers at http://{dead}/ (from consulHTTPAddr in the config)"
        )),
        "{run}"
    );
    assert_eq!(error.matches("Connection refused").count(), 1, "{run}");
    assert_no_secret(&run, &role_secrets(aws.task_role()));
}

/// health-sync does not log in; when its check writes are refused (here: the service token
/// was deleted, as the acl-controller does for a task it sees stopped) it says why once.
#[test]
fn health_sync_explains_refused_check_writes_once() {
    let s = Setup::new();
    let config = s.config(json!({}));
    let role = s.aws.task_role().clone();
    let (run, _) = s.mesh_init_as(&role, &config);
    assert_eq!(run.code(), Some(0), "{run}");
    let token = std::fs::read_to_string(s.w.bootstrap_dir().join("service-token")).unwrap();
    let tokens = s.login_tokens();
    assert_eq!(tokens.len(), 1);
    // Delete it behind the task's back.
    let url = format!(
        "{}/v1/acl/token/{}",
        s.w.consul.http_addr(),
        tokens[0].accessor_id
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = runtime.block_on(async {
        reqwest::Client::new()
            .delete(&url)
            .header("X-Consul-Token", s.w.consul.management_token())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 200);

    let mut env: Vec<(String, String)> = vec![
        ("CONSUL_ECS_CONFIG_JSON".into(), config.clone()),
        ("ECS_CONTAINER_METADATA_URI_V4".into(), s.w.ecs.uri()),
        ("CONSUL_HTTP_ADDR".into(), s.w.consul.http_addr()),
        ("AWS_ENDPOINT_URL_IAM".into(), s.aws.endpoint()),
    ];
    env.extend(s.aws.credentials_env(&role));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut hs = Background::start(
        &["health-sync", "-poll-interval", "100ms"],
        &env,
        tempfile::tempdir().unwrap(),
    );
    s.w.ecs.set_container_health("app", "HEALTHY");
    hs.wait_log("hint: ");
    let log = hs.read("stderr.log");
    let explained = log
        .lines()
        .find(|l| l.contains("ERROR") && l.contains("health-sync:"))
        .unwrap_or_else(|| panic!("{}", hs.report()));
    for needle in [
        "refused to update check",
        "of service \"web\"",
        "is not known to Consul",
        "deleted",
    ] {
        assert!(explained.contains(needle), "{needle:?}\n{}", hs.report());
    }
    assert!(log.contains("hint: restart the task"), "{}", hs.report());
    // Once, though every poll keeps failing: five more writes refused after the
    // explanation, one of them of a new status, and still one explanation.
    let refused_writes = || {
        s.w.consul
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/v1/agent/check/update/") && r.status == 403)
            .count()
    };
    let refused_when_explained = refused_writes();
    assert!(refused_when_explained >= 1, "{}", s.w.consul.request_log());
    s.w.ecs.set_container_health("app", "UNHEALTHY");
    hs.wait_until("five more refused writes", Duration::from_secs(20), |_| {
        refused_writes() >= refused_when_explained + 5
    });
    hs.signal(nix::sys::signal::Signal::SIGTERM);
    let _ = hs.wait_exit(Duration::from_secs(20));
    let log = hs.read("stderr.log");
    assert_eq!(
        log.matches("refused to update check").count(),
        1,
        "explained once\n{}",
        hs.report()
    );
    assert_eq!(log.matches("hint: ").count(), 1, "{}", hs.report());
    for secret in role_secrets(&role).into_iter().chain([token.as_str()]) {
        assert!(!log.contains(secret), "a secret reached the log");
    }
}

#[test]
fn doctor_lists_every_check_ok_for_a_good_task() {
    let s = Setup::new();
    let role = s.aws.task_role().clone();
    let run = s
        .command(
            &["doctor"],
            &s.config(json!({})),
            s.aws.credentials_env(&role),
        )
        .run();
    run.expect_code(0);
    let out = run.stdout();
    for line in [
        "ok    config valid:",
        "ok    task metadata reachable: task arn:aws:ecs:",
        "ok    credentials and role: role arn:aws:iam::123456789012:role/consul-ecs/consul-ecs-web",
        "ok    role path and tags: path /consul-ecs/ (under /consul-ecs/), consul.hashicorp.com.service-name=web",
        "ok    Consul servers reachable:",
        "ok    Consul agent reachable:",
        "ok    auth method login: \"iam-ecs-service-token\" gave a token with service identity \"web\"",
    ] {
        assert!(out.contains(line), "{line:?}\n{run}");
    }
    assert!(out.contains("logged out"), "{run}");
    assert!(
        s.login_tokens().is_empty(),
        "the doctor's token is logged out"
    );
    assert_no_secret(&run, &role_secrets(&role));
}

#[test]
fn doctor_fails_with_hints_for_a_misconfigured_role_and_exit_1_for_a_bad_config() {
    let s = Setup::new();
    let api = s.role(&RoleSpec::new("web", "/elsewhere/").tags(&[(SERVICE_NAME_TAG, "Api")]));
    let run = s
        .command(
            &["doctor"],
            &s.config(json!({})),
            s.aws.credentials_env(&api),
        )
        .run();
    run.expect_code(2);
    let out = run.stdout();
    assert!(out.contains("ok    config valid"), "{run}");
    assert!(out.contains("ok    credentials and role"), "{run}");
    let role_line = out
        .lines()
        .find(|l| l.starts_with("FAIL  role path and tags:"))
        .unwrap_or_else(|| panic!("{run}"));
    assert!(role_line.contains("has path /elsewhere/"), "{run}");
    assert!(
        role_line.contains("also:") && role_line.contains("\"Api\""),
        "{run}"
    );
    assert!(
        out.contains("      hint: create the task role with path /consul-ecs/"),
        "{run}"
    );
    assert!(
        out.contains("FAIL  auth method login: refused for what the role check says (Consul: \"IAM principal"),
        "{run}"
    );
    assert!(out.contains("ok    Consul servers reachable"), "{run}");
    assert!(s.login_tokens().is_empty());
    assert_no_secret(&run, &role_secrets(&api));

    // An unusable config: exit 1, the rest skipped.
    let run = s
        .command(
            &["doctor"],
            r#"{"service": {"port": "x"}}"#,
            s.aws.credentials_env(&api),
        )
        .run();
    run.expect_code(1);
    assert!(run.stdout().starts_with("FAIL  config valid:"), "{run}");
    assert!(
        run.stdout()
            .contains("skip  auth method login: needs a valid config"),
        "{run}"
    );
}

/// An IAM endpoint that cannot be reached (the ACL compose file once had none set, so the
/// SDK asked the real iam.amazonaws.com): doctor says so in one line of causes, not the
/// SDK's debug structure, and still runs the other checks.
#[test]
fn doctor_says_in_one_line_when_iam_cannot_be_reached() {
    let s = Setup::new();
    let role = s.aws.task_role().clone();
    let mut aws_env = s.aws.credentials_env(&role);
    aws_env.push(("AWS_ENDPOINT_URL_IAM".into(), "http://127.0.0.1:1".into()));
    let run = s.command(&["doctor"], &s.config(json!({})), aws_env).run();
    let out = run.stdout();
    let role_line = out
        .lines()
        .find(|l| l.starts_with("skip  role path and tags: iam:GetRole could not be asked ("))
        .unwrap_or_else(|| panic!("no skipped role line\n{run}"));
    for debug_form in ["DispatchFailure", "ConnectorError", "{", "Some("] {
        assert!(
            !role_line.contains(debug_form),
            "{debug_form:?} in {role_line:?}\n{run}"
        );
    }
    assert!(out.contains("ok    Consul servers reachable"), "{run}");
    assert_no_secret(&run, &role_secrets(&role));
}
