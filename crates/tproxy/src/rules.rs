//! The rule set, as data: Consul's `sdk/iptables` `Setup` (protocols.md §10.1) written out
//! rule by rule, in the order upstream adds them.

use std::fmt;
use std::net::SocketAddrV4;

/// Chain that inbound TCP traffic jumps to from `PREROUTING`.
pub const PROXY_INBOUND_CHAIN: &str = "CONSUL_PROXY_INBOUND";
/// Chain that redirects inbound traffic to Envoy's inbound listener.
pub const PROXY_INBOUND_REDIRECT_CHAIN: &str = "CONSUL_PROXY_IN_REDIRECT";
/// Chain that outbound TCP traffic jumps to from `OUTPUT`.
pub const PROXY_OUTPUT_CHAIN: &str = "CONSUL_PROXY_OUTPUT";
/// Chain that redirects outbound traffic to Envoy's outbound listener.
pub const PROXY_OUTPUT_REDIRECT_CHAIN: &str = "CONSUL_PROXY_REDIRECT";
/// Chain that sends DNS queries to Consul DNS.
pub const DNS_CHAIN: &str = "CONSUL_DNS_REDIRECT";

/// The chains `Setup` creates, in its order.
pub const CHAINS: [&str; 5] = [
    PROXY_INBOUND_CHAIN,
    PROXY_INBOUND_REDIRECT_CHAIN,
    PROXY_OUTPUT_CHAIN,
    PROXY_OUTPUT_REDIRECT_CHAIN,
    DNS_CHAIN,
];

/// Envoy's outbound listener when the proxy registration names none
/// (`iptables.DefaultTProxyOutboundPort`).
pub const DEFAULT_OUTBOUND_PORT: u16 = 15001;

/// What to redirect and what to leave alone: the fields of `iptables.Config` that consul-ecs
/// v0.10 fills in. Build it with [`crate::for_proxy`] from a task, or by hand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirection {
    /// The user Envoy runs as; its own traffic is never redirected back to it.
    pub proxy_uid: String,
    /// Envoy's inbound (public) listener port.
    pub inbound_port: u16,
    /// Envoy's outbound listener port.
    pub outbound_port: u16,
    /// Inbound ports left alone, in the order they are inserted.
    pub exclude_inbound_ports: Vec<u16>,
    /// Outbound ports left alone, in the order they are inserted.
    pub exclude_outbound_ports: Vec<u16>,
    /// Outbound destinations (CIDRs or addresses) left alone, in the order they are inserted.
    pub exclude_outbound_cidrs: Vec<String>,
    /// Further users whose outbound traffic is left alone, in the order they are inserted.
    pub exclude_uids: Vec<String>,
    /// Where DNS queries to this address on port 53 go instead (Consul DNS); `None` leaves
    /// DNS alone.
    pub consul_dns: Option<SocketAddrV4>,
}

/// What a rule does to its chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `-N`: create the chain.
    NewChain,
    /// `-A`: append to the chain.
    Append,
    /// `-I`: insert at the head of the chain.
    Insert,
    /// `--policy`: set a built-in chain's policy (the spec is the target).
    Policy,
}

/// One `iptables` invocation of the `nat` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// What the rule does.
    pub operation: Operation,
    /// The chain it applies to.
    pub chain: String,
    /// The rule specification after the chain (matches and target), empty for `-N`.
    pub spec: Vec<String>,
}

impl Rule {
    fn new(operation: Operation, chain: &str, spec: &[&str]) -> Rule {
        Rule {
            operation,
            chain: chain.to_string(),
            spec: spec.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// The arguments of `iptables` for this rule, exactly as upstream passes them.
    pub fn args(&self) -> Vec<String> {
        let flag = match self.operation {
            Operation::NewChain => "-N",
            Operation::Append => "-A",
            Operation::Insert => "-I",
            Operation::Policy => "--policy",
        };
        let mut args = vec![
            "-t".to_string(),
            "nat".to_string(),
            flag.to_string(),
            self.chain.clone(),
        ];
        args.extend(self.spec.iter().cloned());
        args
    }
}

impl fmt::Display for Rule {
    /// The rule as a command line: `iptables -t nat -A CHAIN …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "iptables {}", self.args().join(" "))
    }
}

impl Redirection {
    /// Every rule, in the order consul-ecs v0.10 applies them: the chains, the outbound
    /// rules (DNS first, so port 53 is matched before all TCP), the outbound exclusions
    /// inserted ahead of the defaults, the inbound rules and their exclusions, and last the
    /// `POSTROUTING ACCEPT` policy consul-ecs adds (ECS on EC2 leaves it otherwise).
    pub fn rules(&self) -> Vec<Rule> {
        use Operation::{Append, Insert, NewChain, Policy};
        let mut rules: Vec<Rule> = CHAINS
            .iter()
            .map(|chain| Rule::new(NewChain, chain, &[]))
            .collect();

        let outbound_port = self.outbound_port.to_string();
        rules.push(Rule::new(
            Append,
            PROXY_OUTPUT_REDIRECT_CHAIN,
            &["-p", "tcp", "-j", "REDIRECT", "--to-port", &outbound_port],
        ));

        if let Some(dns) = self.consul_dns {
            // Only queries sent to Consul DNS's own address are rewritten to its port;
            // both protocols, because DNS falls back to TCP for large answers.
            let ip = dns.ip().to_string();
            let destination = dns.to_string();
            for protocol in ["udp", "tcp"] {
                rules.push(Rule::new(
                    Append,
                    DNS_CHAIN,
                    &[
                        "-p",
                        protocol,
                        "-d",
                        &ip,
                        "--dport",
                        "53",
                        "-j",
                        "DNAT",
                        "--to-destination",
                        &destination,
                    ],
                ));
            }
            for protocol in ["udp", "tcp"] {
                rules.push(Rule::new(
                    Append,
                    "OUTPUT",
                    &["-p", protocol, "-d", &ip, "--dport", "53", "-j", DNS_CHAIN],
                ));
            }
        }

        rules.push(Rule::new(
            Append,
            "OUTPUT",
            &["-p", "tcp", "-j", PROXY_OUTPUT_CHAIN],
        ));
        rules.push(Rule::new(
            Append,
            PROXY_OUTPUT_CHAIN,
            &[
                "-m",
                "owner",
                "--uid-owner",
                &self.proxy_uid,
                "-j",
                "RETURN",
            ],
        ));
        rules.push(Rule::new(
            Append,
            PROXY_OUTPUT_CHAIN,
            &["-d", "127.0.0.1/32", "-j", "RETURN"],
        ));
        rules.push(Rule::new(
            Append,
            PROXY_OUTPUT_CHAIN,
            &["-j", PROXY_OUTPUT_REDIRECT_CHAIN],
        ));
        for port in &self.exclude_outbound_ports {
            let port = port.to_string();
            rules.push(Rule::new(
                Insert,
                PROXY_OUTPUT_CHAIN,
                &["-p", "tcp", "--dport", &port, "-j", "RETURN"],
            ));
        }
        for cidr in &self.exclude_outbound_cidrs {
            rules.push(Rule::new(
                Insert,
                PROXY_OUTPUT_CHAIN,
                &["-d", cidr, "-j", "RETURN"],
            ));
        }
        for uid in &self.exclude_uids {
            rules.push(Rule::new(
                Insert,
                PROXY_OUTPUT_CHAIN,
                &["-m", "owner", "--uid-owner", uid, "-j", "RETURN"],
            ));
        }

        let inbound_port = self.inbound_port.to_string();
        rules.push(Rule::new(
            Append,
            PROXY_INBOUND_REDIRECT_CHAIN,
            &["-p", "tcp", "-j", "REDIRECT", "--to-port", &inbound_port],
        ));
        rules.push(Rule::new(
            Append,
            "PREROUTING",
            &["-p", "tcp", "-j", PROXY_INBOUND_CHAIN],
        ));
        rules.push(Rule::new(
            Append,
            PROXY_INBOUND_CHAIN,
            &["-p", "tcp", "-j", PROXY_INBOUND_REDIRECT_CHAIN],
        ));
        for port in &self.exclude_inbound_ports {
            let port = port.to_string();
            rules.push(Rule::new(
                Insert,
                PROXY_INBOUND_CHAIN,
                &["-p", "tcp", "--dport", &port, "-j", "RETURN"],
            ));
        }

        rules.push(Rule::new(Policy, "POSTROUTING", &["ACCEPT"]));
        rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command_lines(redirection: &Redirection) -> Vec<String> {
        redirection.rules().iter().map(Rule::to_string).collect()
    }

    fn minimal() -> Redirection {
        Redirection {
            proxy_uid: "5995".into(),
            inbound_port: 20000,
            outbound_port: DEFAULT_OUTBOUND_PORT,
            exclude_inbound_ports: vec![],
            exclude_outbound_ports: vec![],
            exclude_outbound_cidrs: vec![],
            exclude_uids: vec![],
            consul_dns: None,
        }
    }

    /// Upstream's `Setup` with no exclusions and no DNS, plus consul-ecs's policy rule.
    #[test]
    fn minimal_rules_are_upstreams() {
        assert_eq!(
            command_lines(&minimal()),
            [
                "iptables -t nat -N CONSUL_PROXY_INBOUND",
                "iptables -t nat -N CONSUL_PROXY_IN_REDIRECT",
                "iptables -t nat -N CONSUL_PROXY_OUTPUT",
                "iptables -t nat -N CONSUL_PROXY_REDIRECT",
                "iptables -t nat -N CONSUL_DNS_REDIRECT",
                "iptables -t nat -A CONSUL_PROXY_REDIRECT -p tcp -j REDIRECT --to-port 15001",
                "iptables -t nat -A OUTPUT -p tcp -j CONSUL_PROXY_OUTPUT",
                "iptables -t nat -A CONSUL_PROXY_OUTPUT -m owner --uid-owner 5995 -j RETURN",
                "iptables -t nat -A CONSUL_PROXY_OUTPUT -d 127.0.0.1/32 -j RETURN",
                "iptables -t nat -A CONSUL_PROXY_OUTPUT -j CONSUL_PROXY_REDIRECT",
                "iptables -t nat -A CONSUL_PROXY_IN_REDIRECT -p tcp -j REDIRECT --to-port 20000",
                "iptables -t nat -A PREROUTING -p tcp -j CONSUL_PROXY_INBOUND",
                "iptables -t nat -A CONSUL_PROXY_INBOUND -p tcp -j CONSUL_PROXY_IN_REDIRECT",
                "iptables -t nat --policy POSTROUTING ACCEPT",
            ]
        );
    }

    /// Every exclusion kind and Consul DNS on a port of its own: DNS rules before the
    /// catch-all TCP jump, exclusions inserted (`-I`) in upstream's order.
    #[test]
    fn exclusions_and_dns_follow_upstreams_order() {
        let redirection = Redirection {
            exclude_inbound_ports: vec![22000, 9090],
            exclude_outbound_ports: vec![443, 8443],
            exclude_outbound_cidrs: vec!["10.0.0.0/8".into()],
            exclude_uids: vec!["1000".into(), "5996".into()],
            consul_dns: Some("127.0.0.1:8600".parse().unwrap()),
            outbound_port: 15002,
            ..minimal()
        };
        assert_eq!(
            command_lines(&redirection)[5..],
            [
                "iptables -t nat -A CONSUL_PROXY_REDIRECT -p tcp -j REDIRECT --to-port 15002",
                "iptables -t nat -A CONSUL_DNS_REDIRECT -p udp -d 127.0.0.1 --dport 53 -j DNAT --to-destination 127.0.0.1:8600",
                "iptables -t nat -A CONSUL_DNS_REDIRECT -p tcp -d 127.0.0.1 --dport 53 -j DNAT --to-destination 127.0.0.1:8600",
                "iptables -t nat -A OUTPUT -p udp -d 127.0.0.1 --dport 53 -j CONSUL_DNS_REDIRECT",
                "iptables -t nat -A OUTPUT -p tcp -d 127.0.0.1 --dport 53 -j CONSUL_DNS_REDIRECT",
                "iptables -t nat -A OUTPUT -p tcp -j CONSUL_PROXY_OUTPUT",
                "iptables -t nat -A CONSUL_PROXY_OUTPUT -m owner --uid-owner 5995 -j RETURN",
                "iptables -t nat -A CONSUL_PROXY_OUTPUT -d 127.0.0.1/32 -j RETURN",
                "iptables -t nat -A CONSUL_PROXY_OUTPUT -j CONSUL_PROXY_REDIRECT",
                "iptables -t nat -I CONSUL_PROXY_OUTPUT -p tcp --dport 443 -j RETURN",
                "iptables -t nat -I CONSUL_PROXY_OUTPUT -p tcp --dport 8443 -j RETURN",
                "iptables -t nat -I CONSUL_PROXY_OUTPUT -d 10.0.0.0/8 -j RETURN",
                "iptables -t nat -I CONSUL_PROXY_OUTPUT -m owner --uid-owner 1000 -j RETURN",
                "iptables -t nat -I CONSUL_PROXY_OUTPUT -m owner --uid-owner 5996 -j RETURN",
                "iptables -t nat -A CONSUL_PROXY_IN_REDIRECT -p tcp -j REDIRECT --to-port 20000",
                "iptables -t nat -A PREROUTING -p tcp -j CONSUL_PROXY_INBOUND",
                "iptables -t nat -A CONSUL_PROXY_INBOUND -p tcp -j CONSUL_PROXY_IN_REDIRECT",
                "iptables -t nat -I CONSUL_PROXY_INBOUND -p tcp --dport 22000 -j RETURN",
                "iptables -t nat -I CONSUL_PROXY_INBOUND -p tcp --dport 9090 -j RETURN",
                "iptables -t nat --policy POSTROUTING ACCEPT",
            ]
        );
    }

    #[test]
    fn args_are_separate_arguments() {
        let rule = &minimal().rules()[7];
        assert_eq!(
            rule.args(),
            [
                "-t",
                "nat",
                "-A",
                "CONSUL_PROXY_OUTPUT",
                "-m",
                "owner",
                "--uid-owner",
                "5995",
                "-j",
                "RETURN"
            ]
        );
    }
}
