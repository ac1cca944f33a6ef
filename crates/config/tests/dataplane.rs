//! The v0.10 (Consul Dataplane) layout: upstream v0.10.0's own test configs
//! (`tests/data/compat/v0.10/resources`) pass or fail as upstream's tests say,
//! with the values upstream's `TestParse` expects; layout selection; the code
//! defaults; and the v0.6.2 loaders' refusal of a v0.10 document.

use std::path::PathBuf;

use config::dataplane::{self, ConsulServers, TlsSettings};
use config::{ConfigError, GatewayKind, Layout, LoadedConfig, LogLevel};
use serde_json::json;

fn resource(name: &str) -> String {
    let path: PathBuf = testkit::paths::compat_dir()
        .join("v0.10")
        .join("resources")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load_dataplane(name: &str) -> dataplane::Config {
    match config::load(&resource(name)) {
        Ok(LoadedConfig::Dataplane(cfg)) => cfg,
        other => panic!("{name}: expected a v0.10 config, got {other:?}"),
    }
}

fn error_paths(error: ConfigError) -> Vec<String> {
    match error {
        ConfigError::Invalid(errors) => errors.into_iter().map(|e| e.path).collect(),
        other => panic!("expected field errors, got {other:?}"),
    }
}

fn tls(
    enabled: bool,
    ca_cert_file: Option<&'static str>,
    server_name: Option<&'static str>,
) -> TlsSettings<'static> {
    TlsSettings {
        enabled,
        ca_cert_file,
        server_name,
    }
}

#[test]
fn the_basic_config_decodes_as_upstream_expects() {
    let cfg = load_dataplane("test_config.json");
    assert_eq!(cfg.bootstrap_dir, "/consul/");
    assert_eq!(cfg.consul_servers.hosts, "consul.dc1");
    assert_eq!(cfg.health_sync_containers, ["container1"]);
    let service = cfg.service.as_ref().unwrap();
    assert_eq!((service.name.as_str(), service.port), ("blah", 1234));
    assert_eq!(service.tags, ["tag1"]);
    assert_eq!(service.meta.get("a").map(String::as_str), Some("1"));
    let upstream = &cfg.proxy.as_ref().unwrap().upstreams[0];
    assert_eq!(
        (upstream.destination_name.as_str(), upstream.local_bind_port),
        ("asdf", 543)
    );
    // The code defaults upstream's test spells out.
    assert_eq!(cfg.consul_servers.grpc_port(), 8503);
    assert_eq!(cfg.consul_servers.http_port(), 8501);
    assert!(cfg.consul_servers.https());
    assert_eq!(cfg.consul_servers.grpc_tls(), tls(true, None, None));
    assert!(!cfg.consul_servers.skip_server_watch);
    assert_eq!(cfg.controller_iam_role_path(), None);
    assert!(!cfg.login_enabled());
    assert_eq!(cfg.log_level(), LogLevel::Info);
    assert!(cfg.transparent_proxy_enabled());
    assert!(!cfg.consul_dns_enabled());
    assert_eq!(cfg.health_check_port(), 22000);
    assert_eq!(cfg.public_listener_port(), 20000);
}

#[test]
fn the_extensive_config_decodes_every_field() {
    let cfg = load_dataplane("test_extensive_config.json");
    assert_eq!(cfg.log_level(), LogLevel::Debug);
    assert_eq!(cfg.health_sync_containers, ["frontend"]);
    let controller = cfg.controller.as_ref().unwrap();
    assert!(controller.partitions_enabled);
    assert_eq!(controller.partition, "default");
    assert_eq!(cfg.controller_iam_role_path(), Some("/consul-iam/"));

    let servers = &cfg.consul_servers;
    assert_eq!(servers.hosts, "consul.dc1");
    assert!(servers.skip_server_watch);
    assert_eq!(
        servers.grpc_tls(),
        tls(true, Some("/consul/ca-cert-1.pem"), Some("consul.dc2"))
    );
    assert_eq!(
        servers.http_tls(),
        tls(true, Some("/consul/ca-cert-2.pem"), Some("consul.dc3"))
    );
    assert_eq!((servers.grpc_port(), servers.http_port()), (8503, 8501));
    let defaults = servers.defaults.as_ref().unwrap();
    assert_eq!(defaults.ca_cert_file, "/consul/ca-cert.pem");
    assert_eq!(defaults.tls_server_name, "consul.dc1");

    assert!(cfg.login_enabled());
    assert_eq!(cfg.login_method(), "my-auth-method");
    assert_eq!(cfg.login_datacenter(), Some("dc1"));
    assert!(!cfg.include_entity());
    assert_eq!(cfg.login_meta().len(), 2);
    assert_eq!(cfg.login_region(), Some("bogus-east-2"));
    assert_eq!(
        cfg.sts_endpoint(),
        Some("https://sts.bogus-east-2.example.com")
    );
    assert_eq!(cfg.server_id_header_value(), Some("my.consul.example.com"));

    let service = cfg.service.as_ref().unwrap();
    assert_eq!((service.name.as_str(), service.port), ("frontend", 8080));
    assert!(service.enable_tag_override);
    assert_eq!(
        service.weights.map(|w| (w.passing, w.warning)),
        Some((6, 5))
    );
    assert_eq!(
        (service.namespace.as_str(), service.partition.as_str()),
        ("test-ns", "test-partition")
    );

    let gateway = cfg.gateway.as_ref().unwrap();
    assert_eq!(gateway.kind, GatewayKind::MeshGateway);
    assert_eq!(gateway.lan_tagged_address(), Some(("10.0.0.1", 8443)));
    assert_eq!(gateway.wan_tagged_address(), Some(("172.16.0.0", 443)));
    assert_eq!(gateway.name, "ecs-mesh-gateway");
    assert_eq!(gateway.tags, ["a", "b"]);
    assert_eq!(gateway.health_check_port(), 22000);
    assert_eq!(
        gateway.proxy.as_ref().unwrap().config["data"],
        json!("some-config-data")
    );
    // A gateway task takes the gateway's namespace and partition for everything.
    assert_eq!(
        (cfg.namespace(), cfg.partition()),
        (Some("ns1"), Some("ptn1"))
    );
    assert!(!cfg.transparent_proxy_enabled(), "never for gateways");

    let proxy = cfg.proxy.as_ref().unwrap();
    assert_eq!(proxy.public_listener_port, 21000);
    assert_eq!(proxy.health_check_port, 22000);
    assert_eq!(proxy.local_service_address, "10.10.10.10");
    let upstream = &proxy.upstreams[0];
    assert_eq!(upstream.destination_type, "service");
    assert_eq!(upstream.destination_peer, "test-peer");
    assert_eq!(upstream.datacenter, "dc2");
    assert_eq!(upstream.mesh_gateway.as_ref().unwrap().mode, "local");
    let expose = proxy.expose.as_ref().unwrap();
    assert!(expose.checks);
    assert_eq!(expose.paths[0].path, "/things");
    assert_eq!(expose.paths[0].protocol, "http2");

    let tproxy = cfg.transparent_proxy.as_ref().unwrap();
    assert_eq!(tproxy.enabled, Some(true));
    assert_eq!(tproxy.exclude_inbound_ports, [1234, 5678]);
    assert_eq!(tproxy.exclude_outbound_ports, [3456, 8080]);
    assert_eq!(tproxy.exclude_outbound_cidrs, ["1.1.1.1/32"]);
    assert_eq!(tproxy.exclude_uids, ["6678"]);
    assert_eq!(tproxy.consul_dns.as_ref().unwrap().enabled, Some(true));
}

#[test]
fn null_and_empty_fields_take_upstreams_defaults() {
    for name in [
        "test_config_null_top_level_fields.json",
        "test_config_null_nested_fields.json",
        "test_config_empty_fields.json",
    ] {
        let cfg = load_dataplane(name);
        let servers = &cfg.consul_servers;
        assert_eq!(servers.hosts, "", "{name}");
        assert_eq!(
            (servers.grpc_port(), servers.http_port(), servers.https()),
            (8503, 8501, true),
            "{name}"
        );
        assert_eq!(servers.grpc_tls(), tls(true, None, None), "{name}");
        assert_eq!(servers.http_tls(), tls(true, None, None), "{name}");
        // `controller: null`, `{}` and `{"iamRolePath": null}` all get the default path.
        assert_eq!(
            cfg.controller_iam_role_path(),
            Some("/consul-ecs/"),
            "{name}"
        );
        assert!(!cfg.login_enabled() && cfg.include_entity(), "{name}");
        assert_eq!(cfg.service.as_ref().unwrap().port, 9000, "{name}");
        assert_eq!(
            cfg.gateway.as_ref().unwrap().kind,
            GatewayKind::MeshGateway,
            "{name}"
        );
        assert_eq!(cfg.log_level(), LogLevel::Info, "{name}");
        // A gateway task: no transparent proxy, whatever the block says.
        assert!(!cfg.transparent_proxy_enabled(), "{name}");
    }
    let nested = load_dataplane("test_config_null_nested_fields.json");
    let upstream = &nested.proxy.as_ref().unwrap().upstreams[0];
    assert_eq!(
        (upstream.destination_name.as_str(), upstream.local_bind_port),
        ("backend", 2345)
    );
    assert_eq!(
        load_dataplane("test_config_null_top_level_fields.json").proxy,
        None
    );
}

#[test]
fn the_invalid_configs_name_the_paths_upstream_names() {
    // Loaded as v0.10 explicitly: upstream's two errors.
    let missing = dataplane::parse(&resource("test_config_missing_fields.json")).unwrap_err();
    assert_eq!(error_paths(missing), ["bootstrapDir", "consulServers"]);
    // By layout selection it has no `consulServers`, so it is a v0.6.2 config; still refused.
    let as_agent = config::load(&resource("test_config_missing_fields.json")).unwrap_err();
    assert_eq!(error_paths(as_agent), ["bootstrapDir"]);

    let upper = config::load(&resource("test_config_uppercase_service_names.json")).unwrap_err();
    let mut paths = error_paths(upper);
    paths.sort();
    assert_eq!(paths, ["gateway.name", "service.name"]);

    let extra =
        config::load(&resource("test_config_additional_properties_service.json")).unwrap_err();
    let text = extra.to_string();
    let paths = error_paths(extra);
    // Upstream: "service: Additional property checks is not allowed". Ours names the
    // key and the one that made it a v0.10 config, and says why.
    assert_eq!(paths, ["consulServers", "service.checks"], "{text}");
    assert!(text.contains("v0.6.2 (agent) key"), "{text}");
}

#[test]
fn the_layout_is_chosen_by_the_keys() {
    let agent = json!({"bootstrapDir": "/c", "consulHTTPAddr": "https://consul:8501"});
    assert_eq!(Layout::of(&agent), Ok(Layout::Agent));
    assert_eq!(
        Layout::of(&json!({"bootstrapDir": "/c"})),
        Ok(Layout::Agent)
    );
    let dataplane = json!({"bootstrapDir": "/c", "consulServers": {"hosts": "consul"}});
    assert_eq!(Layout::of(&dataplane), Ok(Layout::Dataplane));
    // `consulServers` with a v0.6.2-only key: refused, naming every key that clashes.
    let mixed = json!({
        "bootstrapDir": "/c",
        "consulServers": {"hosts": "consul"},
        "consulHTTPAddr": "consul:8500",
        "consulCACertFile": "/ca.pem",
        "service": {"port": 1, "checks": []}
    });
    let error = Layout::of(&mixed).unwrap_err();
    let text = error.to_string();
    assert_eq!(
        error_paths(error),
        [
            "consulServers",
            "consulHTTPAddr",
            "consulCACertFile",
            "service.checks"
        ]
    );
    assert!(text.contains("migrate-config"), "{text}");
    // The same through the loaders.
    assert!(config::load(&mixed.to_string()).is_err());
    assert!(dataplane::parse(
        &json!({"bootstrapDir": "/c", "consulServers": {"hosts": ""}}).to_string()
    )
    .is_ok());
}

#[test]
fn the_v062_loaders_refuse_a_v010_config_clearly() {
    let text = resource("test_config.json");
    assert_eq!(config::parse(&text), Err(ConfigError::DataplaneLayout));
    let from_env = config::from_env_value(Some(std::ffi::OsStr::new(&text))).unwrap_err();
    assert_eq!(from_env, ConfigError::DataplaneLayout);
    let message = from_env.to_string();
    assert!(
        message.contains("v0.10 (Consul Dataplane)")
            && message.contains("v0.6.2 parser")
            && message.contains("config::load")
            && !message.contains("not available yet"),
        "{message}"
    );
    // The either-layout loader from the environment takes it.
    let loaded = config::load_from_env_value(Some(std::ffi::OsStr::new(&text))).unwrap();
    assert_eq!(loaded.layout(), Layout::Dataplane);
}

#[test]
fn tls_settings_layer_per_interface_over_the_defaults() {
    let servers: ConsulServers = serde_json::from_value(json!({
        "hosts": "exec=/bin/discover",
        "defaults": {"tls": false, "caCertFile": "/ca.pem", "tlsServerName": "server.dc1"},
        "grpc": {"tls": true, "port": 0},
        "http": {"https": false, "port": 8500, "tlsServerName": "http.dc1"}
    }))
    .unwrap();
    assert_eq!(servers.hosts_command(), Some("/bin/discover"));
    assert_eq!(
        servers.grpc_tls(),
        tls(true, Some("/ca.pem"), Some("server.dc1"))
    );
    assert_eq!(servers.grpc_port(), 8503, "port 0 means the default");
    assert_eq!(
        servers.http_tls(),
        tls(false, Some("/ca.pem"), Some("http.dc1"))
    );
    assert_eq!(servers.http_port(), 8500);
    let plain: ConsulServers =
        serde_json::from_value(json!({"hosts": "10.0.0.1", "defaults": {"tls": false}})).unwrap();
    assert!(!plain.grpc_tls().enabled, "defaults.tls reaches gRPC");
    assert!(
        plain.https(),
        "HTTPS is decided by http.https alone, as upstream does"
    );
    assert_eq!(plain.hosts_command(), None);
}

#[test]
fn v010_values_are_checked_by_path() {
    let doc = json!({
        "bootstrapDir": "/c",
        "consulServers": {"hosts": "consul", "grpc": {"port": 70000}, "skipServerWatch": "yes"},
        "controller": {"iamRolePath": 5},
        "gateway": {"kind": "ingress-gateway", "healthCheckPort": "22000"},
        "service": {
            "port": 1,
            "networkResilienceConfig": {
                "enabled": true,
                "outlierDetection": {"maxFailures": 0, "maxEjectionPercent": 101, "interval": -1}
            }
        },
        "proxy": {"healthCheckPort": 1.5, "upstreams": [{"destinationName": "a", "localBindPort": 1, "destinationPeer": 7}]},
        "transparentProxy": {"excludeInboundPorts": [1, 1], "consulDNS": null}
    });
    let paths = error_paths(config::load(&doc.to_string()).unwrap_err());
    for want in [
        "consulServers.grpc.port",
        "consulServers.skipServerWatch",
        "controller.iamRolePath",
        "gateway.kind",
        "gateway.healthCheckPort",
        "service.networkResilienceConfig.outlierDetection.maxFailures",
        "service.networkResilienceConfig.outlierDetection.maxEjectionPercent",
        "service.networkResilienceConfig.outlierDetection.interval",
        "proxy.healthCheckPort",
        "proxy.upstreams.0.destinationPeer",
        "transparentProxy.excludeInboundPorts",
        "transparentProxy.consulDNS",
    ] {
        assert!(
            paths.iter().any(|p| p == want),
            "{want} missing in {paths:?}"
        );
    }
    assert_eq!(paths.len(), 12, "{paths:?}");
}

#[test]
fn network_resilience_defaults_are_upstreams() {
    let doc = json!({
        "bootstrapDir": "/c",
        "consulServers": {"hosts": "consul"},
        "service": {"port": 1, "networkResilienceConfig": {"enabled": true, "outlierDetection": {"maxFailures": 3}}},
        "gateway": {"kind": "terminating-gateway"}
    });
    let cfg = dataplane::parse(&doc.to_string()).unwrap();
    let resilience = cfg
        .service
        .as_ref()
        .unwrap()
        .network_resilience_config
        .as_ref()
        .unwrap();
    assert!(resilience.enabled);
    let outlier = resilience.outlier_detection.unwrap();
    assert_eq!(outlier.max_failures(), 3);
    assert_eq!(outlier.interval_nanos(), 10_000_000_000);
    assert_eq!(outlier.enforcing_consecutive_gateway_failure(), 100);
    assert_eq!(outlier.max_ejection_percent(), 50);
    assert_eq!(
        cfg.gateway.as_ref().unwrap().kind,
        GatewayKind::TerminatingGateway
    );
}

#[test]
fn a_v010_config_survives_its_own_serialisation() {
    for name in [
        "test_config.json",
        "test_extensive_config.json",
        "test_config_null_top_level_fields.json",
        "test_config_null_nested_fields.json",
        "test_config_empty_fields.json",
    ] {
        let cfg = load_dataplane(name);
        let text = serde_json::to_string(&cfg).unwrap();
        assert_eq!(dataplane::parse(&text), Ok(cfg), "{name}: {text}");
    }
}

#[test]
fn the_v062_corpus_keeps_its_layout() {
    // Every v0.6.2 fixture still loads as v0.6.2 through the either-layout loader.
    let dir = testkit::paths::config_fixtures_dir();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let layout = config::load(&text).map(|c| c.layout());
        let by_parse = config::parse(&text).map(|_| Layout::Agent);
        assert_eq!(layout, by_parse, "{}", path.display());
    }
}
