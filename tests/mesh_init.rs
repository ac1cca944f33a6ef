//! `consul-ecs mesh-init` end to end: the built binary against the Consul emulator, the ECS
//! task metadata emulator and the real Envoy (which validates every bootstrap written).

mod util;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::{json, Value};
use testkit::consul::EmulatorOptions;
use util::background::Background;
use util::world::{assert_fields, World};
use util::TestCommand;

fn assert_bootstrap_valid(world: &World, proxy_id: &str) -> Value {
    let path = world.bootstrap_dir().join("envoy-bootstrap.json");
    let doc: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(doc["node"]["id"], json!(proxy_id), "bootstrap node.id");
    let validation = testkit::envoy::validate_file(&path);
    assert!(
        validation.ok,
        "Envoy rejected the bootstrap:\n{}",
        validation.output
    );
    doc
}

/// The example of docs/protocols.md §4.2 / docs/registrations.md: a service with a synced
/// container and one upstream.
#[test]
fn registers_the_service_and_sidecar_as_v062_and_writes_a_valid_bootstrap() {
    let w = World::new("web", EmulatorOptions::default());
    let config = w.config(json!({
        "healthSyncContainers": ["app"],
        "service": {"port": 9090, "tags": ["v1"]},
        "proxy": {"upstreams": [{"destinationName": "backend", "localBindPort": 1234}]}
    }));
    let run = w.run(&config, 0);

    let t = &w.task_id;
    let service_id = format!("web-{t}");
    let proxy_id = format!("{service_id}-sidecar-proxy");
    // The text log's span carries the task and service IDs once each, from the line that
    // records them on (the log and output layers once appended each recorded field twice).
    let stderr = run.stderr();
    let last = stderr.lines().last().unwrap_or_default();
    for field in [
        format!("task_id=\"{t}\""),
        format!("service_id=\"{service_id}\""),
    ] {
        assert_eq!(last.matches(&field).count(), 1, "{field} in {last:?}");
    }
    let meta = json!({"task-id": t, "task-arn": w.task_arn, "source": "consul-ecs"});
    assert_fields(
        &w.service(&service_id),
        &json!({"ID": service_id, "Service": "web", "Tags": ["v1"], "Port": 9090, "Meta": meta}),
    );
    assert_fields(
        &w.service(&proxy_id),
        &json!({
            "Kind": "connect-proxy", "ID": proxy_id, "Service": "web-sidecar-proxy",
            "Tags": ["v1"], "Port": 20000, "Meta": meta,
            "Proxy": {
                "DestinationServiceName": "web", "DestinationServiceID": service_id,
                "LocalServicePort": 9090,
                "Upstreams": [{"DestinationType": "service", "DestinationName": "backend", "LocalBindPort": 1234}]
            }
        }),
    );
    let checks = w.consul.checks();
    let synced = format!("{service_id}-app-consul-ecs");
    assert_fields(
        &checks[&synced],
        &json!({"Name": "consul ecs synced", "Status": "critical", "ServiceID": service_id, "Type": "ttl",
                "Notes": "consul-ecs created and updates this check because the app container is essential and has an ECS health check."}),
    );
    assert_fields(
        &checks[&format!("service:{proxy_id}:1")],
        &json!({"Name": "Proxy Public Listener", "Type": "tcp", "ServiceID": proxy_id}),
    );
    assert_fields(
        &checks[&format!("service:{proxy_id}:2")],
        &json!({"Name": "Destination Alias", "Type": "alias", "ServiceID": proxy_id}),
    );

    let doc = assert_bootstrap_valid(&w, &proxy_id);
    assert_eq!(doc["node"]["cluster"], json!("web"));
    assert_eq!(
        w.files(),
        ["consul-ecs", "envoy-bootstrap.json"],
        "nothing else in bootstrapDir"
    );
    let copy = w.bootstrap_dir().join("consul-ecs");
    assert_eq!(
        fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let out = std::process::Command::new(&copy)
        .arg("version")
        .output()
        .unwrap();
    assert!(out.status.success(), "the copied binary runs");
}

#[test]
fn user_checks_are_registered_instead_of_synced_ones() {
    let w = World::new("api", EmulatorOptions::default());
    let config = w.config(json!({
        "service": {"name": "frontend", "port": 8080, "meta": {"source": "mine", "team": "web"},
                    "checks": [{"checkId": "frontend-http", "name": "HTTP", "http": "http://localhost:8080/health", "interval": "10s"}]},
        "proxy": {"publicListenerPort": 21000, "config": {"protocol": "http"}}
    }));
    w.run(&config, 0);
    let service_id = format!("frontend-{}", w.task_id);
    assert_fields(
        &w.service(&service_id),
        &json!({"Service": "frontend", "Meta": {"source": "mine", "team": "web", "task-id": w.task_id}}),
    );
    assert_fields(
        &w.consul.checks()["frontend-http"],
        &json!({"Name": "HTTP", "Type": "http", "ServiceID": service_id}),
    );
    let proxy = w.service(&format!("{service_id}-sidecar-proxy"));
    assert_fields(
        &proxy,
        &json!({"Port": 21000, "Proxy": {"Config": {"protocol": "http"}}}),
    );
    assert_bootstrap_valid(&w, &format!("{service_id}-sidecar-proxy"));
}

#[test]
fn registers_a_mesh_gateway_and_its_bootstrap_validates() {
    let w = World::new("Mesh-Gateway-DC1", EmulatorOptions::default());
    let config = w.config(json!({
        "gateway": {"kind": "mesh-gateway", "name": "dc1-gateway",
                    "lanAddress": {"address": "10.0.1.25", "port": 9443}, "wanAddress": {"address": "203.0.113.10"},
                    "tags": ["edge"], "meta": {"zone": "a"}}
    }));
    w.run(&config, 0);
    let id = format!("dc1-gateway-{}", w.task_id);
    assert_fields(
        &w.service(&id),
        &json!({
            "Kind": "mesh-gateway", "ID": id, "Service": "dc1-gateway", "Port": 9443, "Address": "10.0.1.25",
            "Tags": ["edge"],
            "TaggedAddresses": {"lan": {"Address": "10.0.1.25", "Port": 9443}, "wan": {"Address": "203.0.113.10", "Port": 8443}},
            "Meta": {"zone": "a", "source": "consul-ecs", "task-id": w.task_id}
        }),
    );
    assert_eq!(
        w.consul.services().len(),
        1,
        "a gateway task registers no service"
    );
    let check = w
        .consul
        .checks()
        .into_values()
        .find(|c| c["ServiceID"] == json!(id))
        .expect("gateway check");
    assert_fields(
        &check,
        &json!({"Name": "mesh-gateway listener", "Type": "tcp"}),
    );
    let doc = assert_bootstrap_valid(&w, &id);
    assert_eq!(doc["node"]["cluster"], json!("dc1-gateway"));
}

#[test]
fn running_twice_for_the_same_task_changes_nothing() {
    let w = World::new("web", EmulatorOptions::default());
    let config = w.config(json!({"service": {"port": 9090}}));
    w.run(&config, 0);
    let (services, checks) = (w.consul.services(), w.consul.checks());
    let bootstrap = fs::read(w.bootstrap_dir().join("envoy-bootstrap.json")).unwrap();
    w.run(&config, 0);
    assert_eq!(w.consul.services(), services);
    assert_eq!(
        w.consul.checks().keys().collect::<Vec<_>>(),
        checks.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        fs::read(w.bootstrap_dir().join("envoy-bootstrap.json")).unwrap(),
        bootstrap
    );
    assert_eq!(w.files(), ["consul-ecs", "envoy-bootstrap.json"]);
}

#[test]
fn a_bad_config_exits_1_naming_the_field_and_touches_nothing() {
    let w = World::new("web", EmulatorOptions::default());
    let config = w.config(
        json!({"service": {"port": "80"}, "proxy": {"upstreams": [{"destinationName": "x"}]}}),
    );
    let run = w.run(&config, 1);
    run.expect_stderr_contains("service.port")
        .expect_stderr_contains("proxy.upstreams.0.localBindPort");
    assert!(
        w.consul.requests().is_empty(),
        "no request may reach Consul:\n{}",
        w.consul.request_log()
    );
    assert!(w.files().is_empty());
    let both = w.config(json!({"healthSyncContainers": ["app"], "service": {"port": 1, "checks": [{"ttl": "10s"}]}}));
    w.run(&both, 1)
        .expect_stderr_contains("healthSyncContainers");
}

#[test]
fn waits_for_a_consul_agent_that_is_still_starting() {
    let w = World::new("web", EmulatorOptions::default());
    w.consul.go_down();
    let config = w.config(json!({"service": {"port": 9090}}));
    let mut init = Background::start(
        &["mesh-init", "-log-level", "DEBUG"],
        &[
            ("CONSUL_ECS_CONFIG_JSON", config.as_str()),
            ("ECS_CONTAINER_METADATA_URI_V4", &w.ecs.uri()),
            ("CONSUL_HTTP_ADDR", &w.consul.http_addr()),
        ],
        tempfile::tempdir().unwrap(),
    );
    // Two refused registration attempts, seen in its log, before the agent comes up.
    init.wait_until(
        "two failed registration attempts",
        Duration::from_secs(30),
        |b| {
            b.read("stderr.log")
                .matches("what=\"register service")
                .count()
                >= 2
        },
    );
    assert!(w.consul.services().is_empty());
    w.consul.come_back().unwrap();
    assert_eq!(
        init.wait_exit(Duration::from_secs(30)),
        0,
        "{}\n{}",
        init.report(),
        w.consul.request_log()
    );
    assert_eq!(w.consul.services().len(), 2);
}

#[test]
fn gives_up_on_an_agent_that_never_answers_and_says_which_step() {
    let w = World::new("web", EmulatorOptions::default());
    w.consul.go_down();
    let config = w.config(json!({"service": {"port": 9090}}));
    // A short -register-timeout keeps the test fast; the default is 2 minutes.
    let run = TestCommand::new(["mesh-init", "-register-timeout", "2s"])
        .env("CONSUL_ECS_CONFIG_JSON", &config)
        .env("ECS_CONTAINER_METADATA_URI_V4", w.ecs.uri())
        .env("CONSUL_HTTP_ADDR", w.consul.http_addr())
        .run();
    run.expect_code(2)
        .expect_stderr_contains("register with the Consul agent");
    assert!(
        w.files().is_empty(),
        "no half-done bootstrap dir: {:?}",
        w.files()
    );
}

#[test]
fn rides_out_task_metadata_errors() {
    let w = World::new("web", EmulatorOptions::default());
    w.ecs.fail_next(2, 500);
    w.run(&w.config(json!({"service": {"port": 9090}})), 0);
    assert_eq!(w.consul.services().len(), 2);
}

#[test]
fn the_valid_upstream_fixtures_run_through_mesh_init() {
    let fixtures = testkit::paths::compat_dir().join("config/fixtures");
    for name in [
        "test_config.json",
        "test_config_null_top_level_fields.json",
        "test_config_null_nested_fields.json",
        "test_config_empty_fields.json",
    ] {
        let w = World::new("fixture", EmulatorOptions::default());
        let mut doc: Value =
            serde_json::from_str(&fs::read_to_string(fixtures.join(name)).unwrap()).unwrap();
        // Only where this machine differs from the fixture's: the bootstrap directory.
        doc["bootstrapDir"] = json!(w.bootstrap_dir());
        let run = w.mesh_init(&doc.to_string()).run();
        assert_eq!(
            run.code(),
            Some(0),
            "{name}\n{run}\n{}",
            w.consul.request_log()
        );
        assert!(
            !w.consul.services().is_empty(),
            "{name}: nothing registered"
        );
        let id = w
            .consul
            .services()
            .into_iter()
            .find(|(_, s)| s.get("Proxy").is_some())
            .unwrap()
            .0;
        assert_bootstrap_valid(&w, &id);
    }
}

/// Without `consulLogin`, mesh-init registers with the environment's token and gives Envoy
/// that same token, as `consul connect envoy` did (`CONSUL_HTTP_TOKEN_FILE` wins).
#[test]
fn without_login_the_environment_token_registers_and_reaches_the_bootstrap() {
    let w = World::new(
        "web",
        EmulatorOptions {
            acls_enabled: true,
            ..Default::default()
        },
    );
    let token = w.consul.create_service_token("web");
    let file = w.dir.path().join("..").join(format!("token-{}", w.task_id));
    fs::write(&file, format!("{}\n", token.secret_id)).unwrap();
    let run = w
        .mesh_init(&w.config(json!({"service": {"port": 9090}})))
        .env("CONSUL_HTTP_TOKEN", "not-the-right-one")
        .env("CONSUL_HTTP_TOKEN_FILE", &file)
        .run();
    let _ = fs::remove_file(&file);
    assert_eq!(run.code(), Some(0), "{run}\n{}", w.consul.request_log());
    assert_eq!(w.consul.services().len(), 2);
    let doc: Value = serde_json::from_str(
        &fs::read_to_string(w.bootstrap_dir().join("envoy-bootstrap.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        doc["dynamic_resources"]["ads_config"]["grpc_services"]["initial_metadata"][0]["value"],
        json!(token.secret_id)
    );
}

/// The application container may run as another user: the copy it runs is 0755 even when
/// mesh-init runs under a umask of 077.
#[test]
fn the_binary_copy_is_0755_under_a_umask_of_077() {
    use std::os::unix::process::CommandExt as _;
    let w = World::new("web", EmulatorOptions::default());
    let config = w.config(json!({"service": {"port": 9090}}));
    let mut command = w.mesh_init(&config).command();
    // SAFETY: umask is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
            Ok(())
        });
    }
    let out = command.output().expect("run consul-ecs");
    assert!(out.status.success(), "{out:?}");
    let copy = w.bootstrap_dir().join("consul-ecs");
    let mode = fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755, "mode {mode:o}");
}

/// With `-log-format json` every line carries the subcommand's span: the subcommand from
/// the start, the task and service IDs once the task metadata has named them.
#[test]
fn json_logs_carry_the_subcommand_task_and_service() {
    let w = World::new("web", EmulatorOptions::default());
    let config = w.config(json!({"service": {"port": 9090}}));
    let run = TestCommand::new(["-log-format", "json", "mesh-init"])
        .env("CONSUL_ECS_CONFIG_JSON", &config)
        .env("ECS_CONTAINER_METADATA_URI_V4", w.ecs.uri())
        .env("CONSUL_HTTP_ADDR", w.consul.http_addr())
        .run();
    run.expect_code(0);
    let stderr = run.stderr();
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l:?}\n{run}")))
        .collect();
    assert!(!lines.is_empty(), "{run}");
    for line in &lines {
        assert_eq!(line["span"]["subcommand"], "mesh-init", "{line}\n{run}");
    }
    let done = lines
        .iter()
        .find(|l| l["message"] == "mesh-init complete")
        .unwrap_or_else(|| panic!("no completion line\n{run}"));
    assert_eq!(done["span"]["task_id"], json!(w.task_id), "{run}");
    assert_eq!(
        done["span"]["service_id"],
        json!(format!("web-{}", w.task_id)),
        "{run}"
    );
}
