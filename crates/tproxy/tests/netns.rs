//! The rules applied for real: as root, in a network namespace this test makes for the
//! thread it runs on (`unshare(CLONE_NEWNET)`, so the host's tables are never touched), then
//! read back with `iptables-save`. Fails, never skips, without root or without iptables
//! (`make test` installs it).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use nix::sched::{unshare, CloneFlags};
use serde_json::json;
use tproxy::{Iptables, Rule, TproxyError};

/// Runs `body` on a thread of its own inside a new, empty network namespace.
fn in_new_netns<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        let before = std::fs::read_link("/proc/thread-self/ns/net").expect("read own netns");
        unshare(CloneFlags::CLONE_NEWNET).unwrap_or_else(|err| {
            panic!("unshare(CLONE_NEWNET) failed ({err}): this test needs root (CAP_SYS_ADMIN)")
        });
        let after = std::fs::read_link("/proc/thread-self/ns/net").expect("read own netns");
        assert_ne!(before, after, "still in the original network namespace");
        body()
    })
    .join()
    .expect("netns thread panicked")
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// The nat table as `iptables-save` prints it: chain declarations (counters dropped) and
/// each chain's rules in order.
#[derive(Debug, PartialEq)]
struct NatTable {
    chains: BTreeSet<String>,
    rules: BTreeMap<String, Vec<String>>,
}

fn saved_nat_table() -> NatTable {
    let output = Command::new("iptables-save")
        .args(["-t", "nat"])
        .output()
        .expect("iptables-save must be installed (make test installs the iptables package)");
    assert!(output.status.success(), "iptables-save: {output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let mut table = NatTable {
        chains: BTreeSet::new(),
        rules: BTreeMap::new(),
    };
    for line in text.lines() {
        if let Some(declaration) = line.strip_prefix(':') {
            let mut words = declaration.split_whitespace();
            let (chain, policy) = (words.next().unwrap(), words.next().unwrap());
            table.chains.insert(format!("{chain} {policy}"));
        } else if let Some(rule) = line.strip_prefix("-A ") {
            let chain = rule.split_whitespace().next().unwrap().to_string();
            table.rules.entry(chain).or_default().push(line.to_string());
        }
    }
    table
}

fn expected(chains: &[String], rules: &[&str]) -> NatTable {
    let mut by_chain: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for rule in rules {
        let chain = rule.split_whitespace().nth(1).unwrap().to_string();
        by_chain.entry(chain).or_default().push(rule.to_string());
    }
    NatTable {
        chains: chains.iter().cloned().collect(),
        rules: by_chain,
    }
}

fn proxy_registration() -> consul::CatalogService {
    serde_json::from_value(json!({
        "Kind": "connect-proxy",
        "ID": "web-abc-sidecar-proxy",
        "Service": "web-sidecar-proxy",
        "Port": 20000,
        "Proxy": {
            "DestinationServiceName": "web",
            "Mode": "transparent",
            "Config": {"envoy_prometheus_bind_addr": "0.0.0.0:9090"},
            "Expose": {"Paths": [{"ListenerPort": 21500, "Path": "/health"}]},
        },
    }))
    .unwrap()
}

const BUILT_IN: [&str; 4] = [
    "PREROUTING ACCEPT",
    "INPUT ACCEPT",
    "OUTPUT ACCEPT",
    "POSTROUTING ACCEPT",
];

/// A task with every kind of exclusion and Consul DNS: the kernel holds exactly upstream's
/// rules (in iptables-save's spelling), exclusions ahead of the catch-all rules in reverse
/// order of insertion.
#[test]
fn rules_from_a_task_are_applied_in_a_network_namespace() {
    let config: config::dataplane::Config = serde_json::from_value(json!({
        "bootstrapDir": "/consul",
        "consulServers": {"hosts": "consul.example"},
        "transparentProxy": {
            "excludeInboundPorts": [8080],
            "excludeOutboundPorts": [443, 8443],
            "excludeOutboundCIDRs": ["10.0.0.0/8"],
            "excludeUIDs": ["1000"],
            "consulDNS": {"enabled": true},
        },
    }))
    .unwrap();
    let rules = tproxy::for_proxy(&proxy_registration(), &config)
        .unwrap()
        .rules();

    let table = in_new_netns(move || {
        block_on(Iptables::default().apply(&rules)).expect("rules apply");
        saved_nat_table()
    });

    let mut chains: Vec<String> = BUILT_IN.iter().map(|c| c.to_string()).collect();
    chains.extend(tproxy::CHAINS.iter().map(|chain| format!("{chain} -")));
    assert_eq!(
        table,
        expected(
            &chains,
            &[
                "-A PREROUTING -p tcp -j CONSUL_PROXY_INBOUND",
                "-A OUTPUT -d 127.0.0.1/32 -p udp -m udp --dport 53 -j CONSUL_DNS_REDIRECT",
                "-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 53 -j CONSUL_DNS_REDIRECT",
                "-A OUTPUT -p tcp -j CONSUL_PROXY_OUTPUT",
                "-A CONSUL_DNS_REDIRECT -d 127.0.0.1/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127.0.0.1:8600",
                "-A CONSUL_DNS_REDIRECT -d 127.0.0.1/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 127.0.0.1:8600",
                "-A CONSUL_PROXY_INBOUND -p tcp -m tcp --dport 21500 -j RETURN",
                "-A CONSUL_PROXY_INBOUND -p tcp -m tcp --dport 9090 -j RETURN",
                "-A CONSUL_PROXY_INBOUND -p tcp -m tcp --dport 22000 -j RETURN",
                "-A CONSUL_PROXY_INBOUND -p tcp -m tcp --dport 8080 -j RETURN",
                "-A CONSUL_PROXY_INBOUND -p tcp -j CONSUL_PROXY_IN_REDIRECT",
                "-A CONSUL_PROXY_IN_REDIRECT -p tcp -j REDIRECT --to-ports 20000",
                "-A CONSUL_PROXY_OUTPUT -m owner --uid-owner 5996 -j RETURN",
                "-A CONSUL_PROXY_OUTPUT -m owner --uid-owner 1000 -j RETURN",
                "-A CONSUL_PROXY_OUTPUT -d 10.0.0.0/8 -j RETURN",
                "-A CONSUL_PROXY_OUTPUT -p tcp -m tcp --dport 8443 -j RETURN",
                "-A CONSUL_PROXY_OUTPUT -p tcp -m tcp --dport 443 -j RETURN",
                "-A CONSUL_PROXY_OUTPUT -m owner --uid-owner 5995 -j RETURN",
                "-A CONSUL_PROXY_OUTPUT -d 127.0.0.1/32 -j RETURN",
                "-A CONSUL_PROXY_OUTPUT -j CONSUL_PROXY_REDIRECT",
                "-A CONSUL_PROXY_REDIRECT -p tcp -j REDIRECT --to-ports 15001",
            ],
        )
    );
}

/// A second mesh-init in the same namespace: the first `-N` is refused, the error names
/// that rule, and nothing after it ran (the table is unchanged).
#[test]
fn a_refused_rule_is_named_and_stops_the_run() {
    let config: config::dataplane::Config = serde_json::from_value(json!({
        "bootstrapDir": "/consul",
        "consulServers": {"hosts": "consul.example"},
    }))
    .unwrap();
    let rules = tproxy::for_proxy(&proxy_registration(), &config)
        .unwrap()
        .rules();
    let first: Rule = rules[0].clone();

    let (err, before, after) = in_new_netns(move || {
        block_on(Iptables::default().apply(&rules)).expect("first run applies");
        let before = saved_nat_table();
        let err = block_on(Iptables::default().apply(&rules)).unwrap_err();
        (err, before, saved_nat_table())
    });

    match &err {
        TproxyError::RuleFailed { rule, status, .. } => {
            assert_eq!(**rule, first);
            assert!(status.contains("exit status"), "{status}");
        }
        other => panic!("expected RuleFailed, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("`iptables -t nat -N CONSUL_PROXY_INBOUND` failed (exit status: "),
        "{err}"
    );
    assert_eq!(before, after);
}

#[test]
fn a_missing_iptables_is_named_with_the_rule() {
    let rules = vec![tproxy::Redirection {
        proxy_uid: "5995".into(),
        inbound_port: 20000,
        outbound_port: 15001,
        exclude_inbound_ports: vec![],
        exclude_outbound_ports: vec![],
        exclude_outbound_cidrs: vec![],
        exclude_uids: vec![],
        consul_dns: None,
    }
    .rules()
    .remove(0)];
    let err = block_on(Iptables::with_program("/nonexistent/iptables").apply(&rules)).unwrap_err();
    assert!(matches!(err, TproxyError::Spawn { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(
            "cannot run /nonexistent/iptables for `iptables -t nat -N CONSUL_PROXY_INBOUND`: "
        ),
        "{err}"
    );
}
