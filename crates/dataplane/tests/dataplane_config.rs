//! `consul-dataplane.json`: what mesh-init writes for consul-dataplane, and a check that
//! every key is one consul-dataplane reads from its `-config-file`.

use std::collections::BTreeMap;

use consul::Secret;
use dataplane::{build_registrations, DataplaneConfig, DataplaneInputs, DataplaneLogin};
use serde_json::{json, Value};

/// Every key consul-dataplane's `-config-file` reads (consul-dataplane
/// `cmd/consul-dataplane/config.go`, `DataplaneConfigFlags` and the types under it; Go's
/// decoder ignores any other key, so a misspelt one is silently lost). `meta.*` takes any
/// key.
const CONSUL_DATAPLANE_KEYS: &[&str] = &[
    "mode",
    "consul",
    "consul.addresses",
    "consul.grpcPort",
    "consul.serverWatchDisabled",
    "consul.tls",
    "consul.tls.disabled",
    "consul.tls.caCertsPath",
    "consul.tls.serverName",
    "consul.tls.certFile",
    "consul.tls.keyFile",
    "consul.tls.insecureSkipVerify",
    "consul.credentials",
    "consul.credentials.type",
    "consul.credentials.static",
    "consul.credentials.static.token",
    "consul.credentials.login",
    "consul.credentials.login.authMethod",
    "consul.credentials.login.namespace",
    "consul.credentials.login.partition",
    "consul.credentials.login.datacenter",
    "consul.credentials.login.bearerToken",
    "consul.credentials.login.bearerTokenPath",
    "consul.credentials.login.meta",
    "consul.credentials.login.meta.*",
    "service",
    "service.nodeName",
    "service.nodeID",
    "service.serviceID",
    "service.serviceIDPath",
    "service.namespace",
    "service.partition",
    "proxy",
    "proxy.nodeName",
    "proxy.nodeID",
    "proxy.id",
    "proxy.idPath",
    "proxy.namespace",
    "proxy.partition",
    "logging",
    "logging.logLevel",
    "logging.logJSON",
    "xdsServer",
    "xdsServer.bindAddress",
    "xdsServer.bindPort",
    "dnsServer",
    "dnsServer.bindAddress",
    "dnsServer.bindPort",
    "telemetry",
    "telemetry.useCentralConfig",
    "telemetry.prometheus",
    "envoy",
    "envoy.adminBindAddress",
    "envoy.adminBindPort",
    "envoy.readyBindAddress",
    "envoy.readyBindPort",
    "envoy.concurrency",
    "envoy.drainTimeSeconds",
    "envoy.drainStrategy",
    "envoy.shutdownDrainListenersEnabled",
    "envoy.shutdownGracePeriodSeconds",
    "envoy.gracefulShutdownPath",
    "envoy.gracefulAddr",
    "envoy.gracefulPort",
    "envoy.dumpEnvoyConfigOnExitEnabled",
    "envoy.startupGracePeriodSeconds",
    "envoy.gracefulStartupPath",
];

/// The keys of `doc` that consul-dataplane does not read, by dotted path.
fn unknown_keys(doc: &Value) -> Vec<String> {
    fn walk(value: &Value, prefix: &str, out: &mut Vec<String>) {
        let Value::Object(map) = value else { return };
        for (key, child) in map {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            let wildcard = format!("{prefix}.*");
            if CONSUL_DATAPLANE_KEYS.contains(&wildcard.as_str()) {
                continue;
            }
            if !CONSUL_DATAPLANE_KEYS.contains(&path.as_str()) {
                out.push(path.clone());
            }
            walk(child, &path, out);
        }
    }
    let mut out = Vec::new();
    walk(doc, "", &mut out);
    out
}

const TASK_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:task/prod/abc123";

fn task() -> ecs::TaskMetadata {
    serde_json::from_value(json!({"Cluster": "prod", "TaskARN": TASK_ARN, "Family": "web"}))
        .unwrap()
}

fn document(cfg: &Value, pem_written: bool, bearer: Option<&str>) -> (DataplaneConfig, Value) {
    let cfg = config::dataplane::parse(&cfg.to_string()).unwrap();
    let regs = build_registrations(&cfg, &task(), None).unwrap();
    let login = bearer.map(|token| {
        DataplaneLogin::new(
            &cfg,
            Secret::new(token),
            BTreeMap::from([("consul.hashicorp.com/task-id".into(), "abc123".into())]),
        )
    });
    let inputs = DataplaneInputs {
        config: &cfg,
        registrations: &regs,
        grpc_ca_pem_written: pem_written,
    };
    let doc = DataplaneConfig::new(inputs, login);
    let json: Value = serde_json::from_str(doc.to_json().expose()).unwrap();
    (doc, json)
}

#[test]
fn the_defaults_give_tls_on_the_proxy_and_no_credentials() {
    let (_, doc) = document(
        &json!({"bootstrapDir": "/consul", "consulServers": {"hosts": "consul.dc1"},
                "service": {"port": 8080}}),
        false,
        None,
    );
    assert_eq!(
        doc,
        json!({
            "consul": {"addresses": "consul.dc1", "grpcPort": 8503,
                       "serverWatchDisabled": false, "tls": {"disabled": false}},
            "proxy": {"nodeName": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
                      "id": "web-abc123-sidecar-proxy", "namespace": "", "partition": ""},
            "xdsServer": {"bindAddress": "127.0.0.1"},
            "envoy": {"readyBindAddress": "127.0.0.1", "readyBindPort": 22000},
            "logging": {"logLevel": "INFO"}
        })
    );
    assert_eq!(unknown_keys(&doc), Vec::<String>::new());
}

#[test]
fn login_ca_pem_dns_and_the_extensive_settings_reach_the_document() {
    let cfg = json!({
        "bootstrapDir": "/consul", "logLevel": "DEBUG",
        "consulServers": {"hosts": "exec=/bin/discover", "skipServerWatch": true,
                          "grpc": {"port": 8502, "caCertFile": "/etc/ca.pem",
                                   "tlsServerName": "server.dc1.consul"}},
        "consulLogin": {"enabled": true, "method": "iam-ecs", "datacenter": "dc2"},
        "service": {"port": 8080, "namespace": "ns1", "partition": "p1"},
        "proxy": {"healthCheckPort": 23000},
        "transparentProxy": {"consulDNS": {"enabled": true}}
    });
    let (typed, doc) = document(&cfg, true, Some("signed-sts-request"));
    assert_eq!(
        doc["consul"],
        json!({
            "addresses": "exec=/bin/discover", "grpcPort": 8502, "serverWatchDisabled": true,
            "tls": {"disabled": false, "caCertsPath": "/consul/consul-grpc-ca-cert.pem",
                    "serverName": "server.dc1.consul"},
            "credentials": {"type": "login", "login": {
                "authMethod": "iam-ecs", "partition": "p1", "datacenter": "dc2",
                "bearerToken": "signed-sts-request",
                "meta": {"consul.hashicorp.com/task-id": "abc123"}}}
        })
    );
    assert_eq!(doc["proxy"]["namespace"], "ns1");
    assert_eq!(doc["proxy"]["partition"], "p1");
    assert_eq!(doc["envoy"]["readyBindPort"], 23000);
    assert_eq!(doc["logging"]["logLevel"], "DEBUG");
    assert_eq!(
        doc["dnsServer"],
        json!({"bindAddress": "127.0.0.1", "bindPort": 8600})
    );
    assert_eq!(unknown_keys(&doc), Vec::<String>::new());
    // The bearer token is in the file only: never in the Debug form of the document or
    // of its text.
    let debug = format!("{typed:?} {:?}", typed.to_json());
    assert!(!debug.contains("signed-sts-request"), "{debug}");
    assert!(typed.to_json().expose().ends_with("}\n"));

    // Without the PEM from the environment, the configured CA file is the one.
    let (_, doc) = document(&cfg, false, None);
    assert_eq!(doc["consul"]["tls"]["caCertsPath"], "/etc/ca.pem");
    assert!(doc["consul"].get("credentials").is_none());
}

#[test]
fn plain_grpc_disables_tls_and_a_gateway_reports_its_own_readiness_port() {
    let (_, doc) = document(
        &json!({"bootstrapDir": "/consul",
                "consulServers": {"hosts": "10.0.0.2", "defaults": {"tls": false,
                                                                   "caCertFile": "/ca.pem"}},
                "gateway": {"kind": "mesh-gateway", "healthCheckPort": 21500,
                            "namespace": "gw-ns", "partition": "gw-p"},
                "transparentProxy": {"consulDNS": {"enabled": true}}}),
        true,
        None,
    );
    assert_eq!(doc["consul"]["tls"], json!({"disabled": true}));
    assert_eq!(doc["proxy"]["id"], "web-abc123");
    assert_eq!(doc["proxy"]["namespace"], "gw-ns");
    assert_eq!(doc["envoy"]["readyBindPort"], 21500);
    assert!(
        doc.get("dnsServer").is_none(),
        "no Consul DNS without the transparent proxy"
    );
}

#[test]
fn the_key_check_catches_the_spelling_upstream_writes() {
    // consul-ecs v0.10 writes `consul.tls.tlsServerName`, which consul-dataplane does not
    // read; the check must say so (our document uses `serverName`).
    let upstream = json!({"consul": {"tls": {"disabled": false, "tlsServerName": "x"}}});
    assert_eq!(unknown_keys(&upstream), ["consul.tls.tlsServerName"]);
}
