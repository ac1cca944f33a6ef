//! Rules the JSON-object corpus cannot express (environment variable,
//! syntax, BOM, trailing bytes, duplicate keys), our deliberate deviations
//! from v0.6.2, and the defaults consul-ecs applies in code.

use std::ffi::OsStr;

use config::{parse, ConfigError, FieldError, LogLevel, CONFIG_ENV};
use serde_json::json;

/// The field paths of an `Invalid` error, in report order.
fn paths(result: Result<config::Config, ConfigError>) -> Vec<String> {
    match result {
        Err(ConfigError::Invalid(errors)) => errors.into_iter().map(|e| e.path).collect(),
        other => panic!("expected ConfigError::Invalid, got {other:?}"),
    }
}

fn json_error(result: Result<config::Config, ConfigError>) -> (usize, usize, String) {
    match result {
        Err(ConfigError::Json {
            line,
            column,
            message,
        }) => (line, column, message),
        other => panic!("expected ConfigError::Json, got {other:?}"),
    }
}

fn minimal() -> serde_json::Value {
    json!({"bootstrapDir": "/consul", "service": {"port": 8080}, "proxy": {}})
}

fn with(mut doc: serde_json::Value, key: &str, value: serde_json::Value) -> String {
    doc[key] = value;
    doc.to_string()
}

#[test]
fn unset_or_empty_variable_names_the_variable() {
    for value in [None, Some(OsStr::new(""))] {
        let error = config::from_env_value(value).unwrap_err();
        assert_eq!(error, ConfigError::NotSet);
        let text = error.to_string();
        assert!(text.contains(CONFIG_ENV), "{text}");
        assert!(text.contains("not populated"), "{text}");
    }
}

#[cfg(unix)]
#[test]
fn non_utf8_variable_is_refused() {
    use std::os::unix::ffi::OsStrExt;
    let value = OsStr::from_bytes(b"{\"bootstrapDir\": \"\xff\"}");
    assert_eq!(
        config::from_env_value(Some(value)),
        Err(ConfigError::NotUnicode)
    );
}

#[test]
fn variable_value_is_parsed() {
    let text = minimal().to_string();
    let config = config::from_env_value(Some(OsStr::new(&text))).unwrap();
    assert_eq!(config.bootstrap_dir, "/consul");
}

#[test]
fn syntax_error_reports_line_and_column() {
    let text = "{\n  \"bootstrapDir\": \"/consul\",\n  oops\n}";
    let (line, column, message) = json_error(parse(text));
    assert_eq!((line, column), (3, 3), "{message}");
    assert!(
        !message.contains("at line"),
        "position is reported once: {message}"
    );
    let shown = parse(text).unwrap_err().to_string();
    assert!(
        shown.contains("not valid JSON: line 3, column 3: key must be a string"),
        "{shown}"
    );
}

#[test]
fn text_that_is_not_json_is_a_json_error() {
    for text in [
        "bootstrapDir=/consul",
        "   ",
        "{",
        "{\"bootstrapDir\": \"/c\",}",
    ] {
        json_error(parse(text));
    }
}

#[test]
fn trailing_bytes_after_the_object_are_rejected() {
    for text in [
        "{\"bootstrapDir\": \"/c\"} x",
        "{\"bootstrapDir\": \"/c\"}{}",
        "{\"bootstrapDir\": \"/c\"}\n]",
    ] {
        let (line, _, message) = json_error(parse(text));
        assert!(line >= 1);
        assert!(message.contains("trailing"), "{text:?}: {message}");
    }
}

#[test]
fn white_space_around_the_object_is_fine() {
    let config = parse(" \n\t{\"bootstrapDir\": \"/c\"}\r\n  ").unwrap();
    assert_eq!(config.bootstrap_dir, "/c");
}

#[test]
fn leading_byte_order_mark_is_rejected() {
    let (line, column, message) = json_error(parse("\u{feff}{\"bootstrapDir\": \"/c\"}"));
    assert_eq!((line, column), (1, 1));
    assert!(message.contains("byte-order mark"), "{message}");
}

#[test]
fn duplicate_keys_last_one_wins() {
    let config = parse(r#"{"bootstrapDir":"","bootstrapDir":"/c"}"#).unwrap();
    assert_eq!(config.bootstrap_dir, "/c");
    assert_eq!(
        paths(parse(r#"{"bootstrapDir":"/c","bootstrapDir":""}"#)),
        ["bootstrapDir"]
    );
    // Nested blocks behave the same.
    let config =
        parse(r#"{"bootstrapDir":"/c","service":{"port":"x","port":9090,"name":"a","name":"b"}}"#)
            .unwrap();
    let service = config.service.unwrap();
    assert_eq!((service.port, service.name.as_str()), (9090, "b"));
}

#[test]
fn every_problem_is_reported_at_once_in_document_order() {
    let text = json!({
        "bootstrapDir": "",
        "logLevel": "info",
        "consulLogin": {"enabled": 1, "meta": {"a": true}},
        "service": {"port": 1.0, "tags": ["a", 2, "a"], "checks": [{"name": "c"}, {"tlsSkipVerify": "no"}]},
        "proxy": {"upstreams": [{}, {"destinationName": "db", "localBindPort": 70000}]},
        "gateway": {"kind": "mesh-gateway", "lanAddress": {"port": -1}}
    })
    .to_string();
    assert_eq!(
        paths(parse(&text)),
        [
            "bootstrapDir",
            "logLevel",
            "consulLogin.enabled",
            "consulLogin.meta.a",
            "service.port",
            "service.tags.1",
            "service.tags",
            "service.checks.1.tlsSkipVerify",
            "proxy.upstreams.0.destinationName",
            "proxy.upstreams.0.localBindPort",
            "proxy.upstreams.1.localBindPort",
            "gateway.lanAddress.port",
        ]
    );
}

#[test]
fn messages_say_what_was_expected() {
    let error = parse(&with(minimal(), "consulHTTPAddr", json!(8500))).unwrap_err();
    let [field] = error.field_errors() else {
        panic!("{error}")
    };
    assert_eq!(field.path, "consulHTTPAddr");
    assert_eq!(field.message, "expected a string or null, got number 8500");
    assert_eq!(
        field.to_string(),
        "consulHTTPAddr: expected a string or null, got number 8500"
    );

    let error = parse(&with(minimal(), "logLevel", json!("info"))).unwrap_err();
    let message = &error.field_errors()[0].message;
    assert!(
        message.contains("\"INFO\"") && message.contains("\"info\""),
        "{message}"
    );

    let error = parse("[]").unwrap_err();
    assert_eq!(
        error.field_errors(),
        [FieldError {
            path: String::new(),
            message: "expected an object, got an array".into()
        }]
    );
    assert!(
        error.to_string().contains("(document): expected an object"),
        "{error}"
    );
}

#[test]
fn integral_floats_and_huge_integers_are_not_integers() {
    for (value, hint) in [
        (json!(8080.0), "decimal point"),
        (serde_json::from_str("8e3").unwrap(), "decimal point"),
        (json!(9_223_372_036_854_775_808u64), "64 bits"),
    ] {
        let mut doc = minimal();
        doc["service"]["weights"] = json!({"passing": value, "warning": 1});
        let error = parse(&doc.to_string()).unwrap_err();
        let [field] = error.field_errors() else {
            panic!("{error}")
        };
        assert_eq!(field.path, "service.weights.passing");
        assert!(field.message.contains(hint), "{}", field.message);
    }
    let mut doc = minimal();
    doc["service"]["weights"] = json!({"passing": -3, "warning": 9_223_372_036_854_775_807i64});
    let weights = parse(&doc.to_string())
        .unwrap()
        .service
        .unwrap()
        .weights
        .unwrap();
    assert_eq!((weights.passing, weights.warning), (-3, i64::MAX));
}

#[test]
fn every_port_field_must_be_0_to_65535() {
    let docs = [
        (
            "service.port",
            json!({"bootstrapDir": "/c", "service": {"port": 65536}}),
        ),
        (
            "proxy.publicListenerPort",
            json!({"bootstrapDir": "/c", "proxy": {"publicListenerPort": -1}}),
        ),
        (
            "proxy.upstreams.0.localBindPort",
            json!({"bootstrapDir": "/c", "proxy": {"upstreams": [{"destinationName": "d", "localBindPort": 65536}]}}),
        ),
        (
            "proxy.expose.paths.0.localPathPort",
            json!({"bootstrapDir": "/c", "proxy": {"expose": {"paths": [{"localPathPort": 100000}]}}}),
        ),
        (
            "gateway.wanAddress.port",
            json!({"bootstrapDir": "/c", "gateway": {"kind": "mesh-gateway", "wanAddress": {"port": -8443}}}),
        ),
    ];
    for (path, doc) in docs {
        assert_eq!(paths(parse(&doc.to_string())), [path]);
    }
    let config =
        parse(&json!({"bootstrapDir": "/c", "service": {"port": 65535}}).to_string()).unwrap();
    assert_eq!(config.service_port(), 65535);
}

#[test]
fn mis_cased_keys_are_refused_with_a_hint() {
    let mut doc = minimal();
    doc["service"]["Name"] = json!("UPPER");
    doc["proxy"]["PublicListenerPort"] = json!(1);
    doc["proxy"]["meshgateway"] = json!({"mode": "local"});
    let error = parse(&doc.to_string()).unwrap_err();
    let text = error.to_string();
    assert_eq!(
        paths(Err(error)),
        [
            "service.Name",
            "proxy.PublicListenerPort",
            "proxy.meshgateway"
        ]
    );
    assert!(text.contains("did you mean `service.name`?"), "{text}");
    assert!(text.contains("did you mean `proxy.meshGateway`?"), "{text}");
    // Go's EqualFold also folds the Kelvin sign onto k.
    let doc = json!({"bootstrapDir": "/c", "gateway": {"kind": "mesh-gateway", "proxy": {"\u{212a}ind": 1}}});
    assert!(
        parse(&doc.to_string()).is_ok(),
        "gateway.proxy has no field like that"
    );
    let doc = json!({"bootstrapDir": "/c", "gateway": {"\u{212a}ind": "mesh-gateway", "kind": "mesh-gateway"}});
    assert_eq!(paths(parse(&doc.to_string())), ["gateway.\u{212a}ind"]);
}

#[test]
fn unknown_keys_are_ignored_only_where_v062_allowed_them() {
    let mut doc = minimal();
    doc["service"]["id"] = json!("x");
    doc["proxy"]["mode"] = json!("transparent");
    doc["proxy"]["meshGateway"] = json!({"mode": "none", "extra": 1});
    doc["proxy"]["expose"] = json!({"extra": 1, "paths": [{"path": "/h", "extra": 2}]});
    parse(&doc.to_string()).unwrap();
    let doc = json!({"bootstrapDir": "/c", "consulLogin": {"extraLoginFields": {}}});
    assert_eq!(
        paths(parse(&doc.to_string())),
        ["consulLogin.extraLoginFields"]
    );
}

#[test]
fn h2ping_tls_flag_accepts_both_spellings() {
    for key in ["h2pingUseTls", "h2pingUseTLS"] {
        let mut doc = minimal();
        doc["service"]["checks"] = json!([{"name": "c", "h2ping": "localhost:2222", key: true}]);
        let config = parse(&doc.to_string()).unwrap();
        assert!(config.service.unwrap().checks[0].h2ping_use_tls, "{key}");
    }
    let mut doc = minimal();
    doc["service"]["checks"] = json!([{"h2pingUseTls": true, "h2pingUseTLS": true}]);
    parse(&doc.to_string()).unwrap();
    doc["service"]["checks"] = json!([{"h2pingUseTls": true, "h2pingUseTLS": false}]);
    assert_eq!(
        paths(parse(&doc.to_string())),
        ["service.checks.0.h2pingUseTLS"]
    );
    // Serialising uses the schema spelling.
    let mut doc = minimal();
    doc["service"]["checks"] = json!([{"h2pingUseTLS": true}]);
    let out = serde_json::to_value(parse(&doc.to_string()).unwrap()).unwrap();
    assert_eq!(out["service"]["checks"][0], json!({"h2pingUseTls": true}));
}

#[test]
fn udp_check_target_is_kept() {
    let mut doc = minimal();
    doc["service"]["checks"] = json!([{"name": "dns", "udp": "localhost:53", "interval": "10s"}]);
    let config = parse(&doc.to_string()).unwrap();
    assert_eq!(config.service.unwrap().checks[0].udp, "localhost:53");
}

#[test]
fn expose_is_validated() {
    let mut doc = minimal();
    doc["proxy"]["expose"] = json!({
        "checks": null,
        "paths": [
            {"listenerPort": 21500, "path": "/metrics", "localPathPort": 9102, "protocol": "http"},
            {"protocol": "grpc", "path": 5},
            null
        ]
    });
    assert_eq!(
        paths(parse(&doc.to_string())),
        [
            "proxy.expose.paths.1.protocol",
            "proxy.expose.paths.1.path",
            "proxy.expose.paths.2"
        ]
    );
    doc["proxy"]["expose"] = json!("yes");
    assert_eq!(paths(parse(&doc.to_string())), ["proxy.expose"]);
}

#[test]
fn opaque_config_keeps_number_spelling() {
    let text = r#"{"bootstrapDir":"/c","proxy":{"config":{"a":1.0,"b":10,"c":{"d":[2.50,null]}}}}"#;
    let config = parse(text).unwrap();
    let out = serde_json::to_string(&config.proxy.unwrap().config).unwrap();
    assert_eq!(out, r#"{"a":1.0,"b":10,"c":{"d":[2.5,null]}}"#);
}

#[test]
fn defaults_applied_in_code() {
    let config = parse(r#"{"bootstrapDir":"/consul"}"#).unwrap();
    assert_eq!(config.log_level(), LogLevel::Info);
    assert_eq!(config.log_level().as_filter(), "info");
    assert!(!config.login_enabled());
    assert_eq!(config.login_method(), config::DEFAULT_LOGIN_METHOD);
    assert!(config.include_entity());
    assert!(config.login_meta().is_empty());
    assert_eq!(config.login_region(), None);
    assert_eq!(config.sts_endpoint(), None);
    assert_eq!(config.server_id_header_value(), None);
    assert_eq!(config.login_partition(), None);
    assert_eq!(config.consul_http_addr(), None);
    assert_eq!(config.consul_ca_cert_file(), None);
    assert!(!config.is_gateway());
    assert_eq!(config.service_name("Web-Frontend"), "web-frontend");
    assert_eq!(config.gateway_name("Web-Frontend"), "Web-Frontend");
    assert_eq!(config.service_port(), 0);
    assert_eq!(config.public_listener_port(), 20000);
    assert_eq!(config.proxy_or_default(), config::Proxy::default());
    assert_eq!(
        config.service_token_path().to_str(),
        Some("/consul/service-token")
    );
    assert_eq!(
        config.client_token_path().to_str(),
        Some("/consul/client-token")
    );
    assert_eq!(
        config.envoy_bootstrap_path().to_str(),
        Some("/consul/envoy-bootstrap.json")
    );
    assert_eq!(
        config.binary_copy_path().to_str(),
        Some("/consul/consul-ecs")
    );
}

#[test]
fn configured_values_override_defaults() {
    let doc = json!({
        "bootstrapDir": "/b",
        "logLevel": "WARN",
        "consulHTTPAddr": "https://consul:8501",
        "consulCACertFile": "/ca.pem",
        "consulLogin": {"enabled": true, "method": "m", "includeEntity": false, "meta": {"k": "v"},
                        "region": "eu-west-1", "stsEndpoint": "https://sts", "serverIdHeaderValue": "srv"},
        "service": {"name": "web", "port": 8080, "partition": ""},
        "proxy": {"publicListenerPort": 21000},
        "gateway": {"kind": "mesh-gateway", "name": "gw", "partition": "p2",
                    "lanAddress": {"address": "10.0.0.1"}, "wanAddress": {"address": "203.0.113.1", "port": 443}}
    });
    let config = parse(&doc.to_string()).unwrap();
    assert_eq!(config.log_level().as_str(), "WARN");
    assert_eq!(config.log_level().to_string(), "WARN");
    assert_eq!(config.log_level().as_filter(), "warn");
    assert_eq!(config.consul_http_addr(), Some("https://consul:8501"));
    assert_eq!(config.consul_ca_cert_file(), Some("/ca.pem"));
    assert!(config.login_enabled());
    assert_eq!(config.login_method(), "m");
    assert!(!config.include_entity());
    assert_eq!(config.login_meta().get("k").map(String::as_str), Some("v"));
    assert_eq!(config.login_region(), Some("eu-west-1"));
    assert_eq!(config.sts_endpoint(), Some("https://sts"));
    assert_eq!(config.server_id_header_value(), Some("srv"));
    // service.partition is empty, so the gateway's is used for login.
    assert_eq!(config.login_partition(), Some("p2"));
    assert!(config.is_gateway());
    assert_eq!(config.service_name("Fam"), "web");
    assert_eq!(config.gateway_name("Fam"), "gw");
    assert_eq!(config.public_listener_port(), 21000);
    let gateway = config.gateway.as_ref().unwrap();
    assert_eq!(gateway.kind.as_str(), "mesh-gateway");
    assert_eq!(gateway.service_port(), 8443);
    assert_eq!(gateway.lan_tagged_address(), Some(("10.0.0.1", 8443)));
    assert_eq!(gateway.wan_tagged_address(), Some(("203.0.113.1", 443)));
}

#[test]
fn gateway_ports_default_independently() {
    let doc = json!({"bootstrapDir": "/b", "gateway": {"kind": "mesh-gateway",
        "lanAddress": {"port": 9000}, "wanAddress": {"address": "w"}}});
    let config = parse(&doc.to_string()).unwrap();
    let gateway = config.gateway.unwrap();
    assert_eq!(gateway.service_port(), 9000);
    assert_eq!(gateway.lan_tagged_address(), None, "no LAN address given");
    assert_eq!(
        gateway.wan_tagged_address(),
        Some(("w", 8443)),
        "not the LAN port"
    );
}

#[test]
fn mesh_init_rule_applies_to_service_tasks_only() {
    let mut doc = minimal();
    doc["service"]["checks"] = json!([{"name": "c", "ttl": "1m"}]);
    doc["healthSyncContainers"] = json!(["app"]);
    let config = parse(&doc.to_string()).unwrap();
    let error = config.validate_for_mesh_init().unwrap_err();
    let paths: Vec<&str> = error
        .field_errors()
        .iter()
        .map(|e| e.path.as_str())
        .collect();
    assert_eq!(paths, ["service.checks", "healthSyncContainers"]);

    doc["gateway"] = json!({"kind": "mesh-gateway"});
    parse(&doc.to_string())
        .unwrap()
        .validate_for_mesh_init()
        .unwrap();
}

#[test]
fn serialised_config_loads_back_unchanged() {
    let path = testkit::paths::config_fixtures_dir().join("test_extensive_config.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let config = parse(&text).unwrap();
    let out = serde_json::to_value(&config).unwrap();
    // Spelling of the fields whose names are not plain camelCase.
    assert_eq!(out["consulHTTPAddr"], json!("consul.example.com"));
    assert_eq!(out["consulCACertFile"], json!("/consul/consul-ca-cert.pem"));
    assert_eq!(
        out["consulLogin"]["serverIdHeaderValue"],
        json!("my.consul.example.com")
    );
    assert_eq!(out["service"]["checks"][2]["grpcUseTls"], json!(true));
    assert_eq!(
        out["gateway"]["lanAddress"],
        json!({"address": "10.0.0.1", "port": 8443})
    );
    assert_eq!(parse(&out.to_string()).unwrap(), config);
}

#[test]
fn config_is_clone_debug_serialize() {
    fn assert_traits<T: Clone + std::fmt::Debug + serde::Serialize + Send + Sync>() {}
    assert_traits::<config::Config>();
    fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}
    assert_error::<ConfigError>();
}
