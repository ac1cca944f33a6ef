//! `config::migrate`: every valid v0.6.2 config of the corpus becomes a v0.10
//! config that passes the v0.10 rules, and what did not carry over unchanged
//! is named by path.

use config::migrate::{migrate_text, MigrateError, Migration, NoteKind};
use config::{dataplane, ConfigError};
use serde_json::{json, Value};

fn migrated(doc: Value) -> Migration {
    migrate_text(&doc.to_string()).unwrap_or_else(|e| panic!("{doc}: {e}"))
}

fn notes(migration: &Migration, kind: NoteKind) -> Vec<&str> {
    migration
        .notes
        .iter()
        .filter(|n| n.kind == kind)
        .map(|n| n.path.as_str())
        .collect()
}

/// Every document the v0.6.2 corpus holds as valid, fixtures included.
fn valid_corpus_documents() -> Vec<(String, String)> {
    let cases_file = testkit::paths::config_cases_file();
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&cases_file).unwrap()).unwrap();
    let fixtures = cases_file.parent().unwrap().join("fixtures");
    cases
        .iter()
        .filter(|case| case["valid"] == json!(true))
        .map(|case| {
            let name = case["name"].as_str().unwrap_or("?").to_owned();
            let text = match &case["config"] {
                Value::String(file) => std::fs::read_to_string(fixtures.join(file)).unwrap(),
                other => other.to_string(),
            };
            (name, text)
        })
        .collect()
}

#[test]
fn every_valid_v062_config_migrates_to_a_valid_v010_config() {
    let documents = valid_corpus_documents();
    assert!(
        documents.len() >= 40,
        "the corpus is there: {}",
        documents.len()
    );
    let mut failures = Vec::new();
    for (name, text) in documents {
        let migration = match migrate_text(&text) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let output = migration.to_json_pretty();
        match dataplane::parse(&output) {
            Ok(reloaded) if reloaded == migration.config => {}
            Ok(_) => failures.push(format!("{name}: reloads differently:\n{output}")),
            Err(e) => failures.push(format!("{name}: the result is refused: {e}\n{output}")),
        }
        // It is a v0.10 config by its keys, too.
        if config::load(&output).map(|c| c.layout()) != Ok(config::Layout::Dataplane) {
            failures.push(format!("{name}: the result does not load as v0.10"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_full_https_config_carries_over_without_decisions() {
    let m = migrated(json!({
        "bootstrapDir": "/consul",
        "logLevel": "DEBUG",
        "consulHTTPAddr": "https://consul.example.com:8501",
        "consulCACertFile": "/consul/ca.pem",
        "consulLogin": {"enabled": true, "method": "my-method", "meta": {"team": "a"}},
        "healthSyncContainers": ["app"],
        "service": {"name": "web", "port": 8080, "partition": "p1", "namespace": "n1"},
        "proxy": {"upstreams": [{"destinationName": "db", "localBindPort": 5432}]}
    }));
    assert!(!m.needs_decision(), "{:#?}", m.notes);
    let out: Value = serde_json::from_str(&m.to_json_pretty()).unwrap();
    assert_eq!(
        out["consulServers"],
        json!({"hosts": "consul.example.com", "defaults": {"caCertFile": "/consul/ca.pem"}})
    );
    assert_eq!(
        out["consulLogin"],
        json!({"enabled": true, "method": "my-method", "meta": {"team": "a"}})
    );
    assert_eq!(out["transparentProxy"], json!({"enabled": false}));
    assert_eq!(out["healthSyncContainers"], json!(["app"]));
    assert_eq!(out["service"]["partition"], json!("p1"));
    assert_eq!(out["proxy"]["upstreams"][0]["destinationName"], json!("db"));
    assert_eq!(out["logLevel"], json!("DEBUG"));
    assert!(out.get("consulHTTPAddr").is_none() && out.get("consulCACertFile").is_none());
    assert_eq!(
        notes(&m, NoteKind::Changed),
        [
            "consulHTTPAddr",
            "consulServers.grpc",
            "consulServers.defaults",
            "consulCACertFile",
            "transparentProxy.enabled"
        ]
    );
}

#[test]
fn a_plain_http_address_keeps_its_port_and_turns_tls_off() {
    let m = migrated(json!({
        "bootstrapDir": "/c",
        "consulHTTPAddr": "10.0.0.5:8500",
        "service": {"port": 1},
        "proxy": {}
    }));
    let cfg = &m.config;
    assert_eq!(cfg.consul_servers.hosts, "10.0.0.5");
    assert!(!cfg.consul_servers.https());
    assert_eq!(cfg.consul_servers.http_port(), 8500);
    assert_eq!(cfg.consul_servers.grpc_port(), 8502);
    assert!(!cfg.consul_servers.grpc_tls().enabled);
    assert!(!m.needs_decision(), "{:#?}", m.notes);
    // Login off: the note says the task needs a token of its own with ACLs.
    let login = m
        .notes
        .iter()
        .find(|n| n.path == "consulLogin.enabled")
        .unwrap();
    assert!(
        login.message.contains("CONSUL_HTTP_TOKEN"),
        "{}",
        login.message
    );
}

#[test]
fn checks_and_a_missing_address_need_a_decision() {
    let m = migrated(json!({
        "bootstrapDir": "/c",
        "service": {"port": 1, "checks": [{"name": "api", "http": "http://localhost:1/h", "interval": "10s"}, {"ttl": "30s"}]}
    }));
    assert!(m.needs_decision());
    assert_eq!(
        notes(&m, NoteKind::Decision),
        [
            "consulServers.hosts",
            "service.checks.0",
            "service.checks.1"
        ]
    );
    let first = m
        .notes
        .iter()
        .find(|n| n.path == "service.checks.0")
        .unwrap();
    assert!(first.message.contains("\"api\"") && first.message.contains("healthSyncContainers"));
    assert!(m.config.service.as_ref().unwrap().checks.is_empty());
    assert_eq!(m.config.consul_servers.hosts, "");
    // The missing `proxy` of a service task is written out.
    assert!(m.config.proxy.is_some());
    // Even so, the result passes the v0.10 rules.
    assert!(dataplane::parse(&m.to_json_pretty()).is_ok());
}

#[test]
fn addresses_without_an_equivalent_need_a_decision() {
    for (address, why) in [
        ("unix:///consul/agent.sock", "Unix socket"),
        ("https://lb.example.com/consul", "path"),
    ] {
        let m = migrated(json!({"bootstrapDir": "/c", "consulHTTPAddr": address}));
        let decision = m
            .notes
            .iter()
            .find(|n| n.kind == NoteKind::Decision)
            .unwrap_or_else(|| panic!("{address}: {:#?}", m.notes));
        assert_eq!(decision.path, "consulHTTPAddr");
        assert!(decision.message.contains(why), "{}", decision.message);
    }
}

#[test]
fn a_gateway_task_keeps_its_gateway_and_gets_no_transparent_proxy() {
    let m = migrated(json!({
        "bootstrapDir": "/c",
        "consulHTTPAddr": "https://consul:8501",
        "consulLogin": {"enabled": true},
        "service": {"port": 0, "partition": "svc-part", "checks": [{"name": "unused", "ttl": "10s"}]},
        "gateway": {"kind": "mesh-gateway", "partition": "gw-part", "wanAddress": {"address": "1.2.3.4", "port": 443}}
    }));
    assert!(m.config.transparent_proxy.is_none());
    // v0.6.2 never registered checks for a gateway task: dropping them changes nothing.
    let check = m
        .notes
        .iter()
        .find(|n| n.path == "service.checks.0")
        .unwrap();
    assert_eq!(check.kind, NoteKind::Changed, "{}", check.message);
    assert_eq!(m.config.partition(), Some("gw-part"));
    // v0.6.2 logged in to the service's partition; v0.10 uses the gateway's.
    assert_eq!(notes(&m, NoteKind::Decision), ["service.partition"]);
    assert_eq!(
        m.config.gateway.as_ref().unwrap().wan_tagged_address(),
        Some(("1.2.3.4", 443))
    );
}

#[test]
fn bad_input_and_v010_input_are_refused() {
    assert_eq!(
        migrate_text(r#"{"bootstrapDir":"/c","consulServers":{"hosts":"x"}}"#),
        Err(MigrateError::AlreadyDataplane)
    );
    match migrate_text(r#"{"bootstrapDir":""}"#) {
        Err(MigrateError::Config(ConfigError::Invalid(errors))) => {
            assert_eq!(errors[0].path, "bootstrapDir")
        }
        other => panic!("{other:?}"),
    }
}
