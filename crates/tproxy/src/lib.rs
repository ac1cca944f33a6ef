//! The transparent proxy's traffic redirection, as consul-ecs v0.10's mesh-init installs it
//! in a task (EC2 launch type, `NET_ADMIN`): every TCP connection into the task goes to
//! Envoy's inbound listener, every outbound one to its outbound listener, except Envoy's own
//! (user 5995), health-sync's (user 5996), loopback, and what `transparentProxy` excludes;
//! DNS queries to consul-dataplane's address go to its DNS port.
//!
//! * [`for_proxy`] reads the inputs from the proxy's catalog registration and the config;
//! * [`Redirection::rules`] builds the rule set as data, exactly Consul's `sdk/iptables`
//!   `Setup` plus the `POSTROUTING` policy consul-ecs adds (pure, unit-tested);
//! * [`Iptables::apply`] runs `iptables` once per rule and names the rule that failed.
//!
//! protocols.md §10 holds the facts.

#![deny(missing_docs)]

mod apply;
mod inputs;
mod rules;

pub use apply::Iptables;
pub use inputs::{for_proxy, CONSUL_DATAPLANE_DNS, HEALTH_SYNC_UID, PROXY_UID};
pub use rules::{
    Operation, Redirection, Rule, CHAINS, DEFAULT_OUTBOUND_PORT, DNS_CHAIN, PROXY_INBOUND_CHAIN,
    PROXY_INBOUND_REDIRECT_CHAIN, PROXY_OUTPUT_CHAIN, PROXY_OUTPUT_REDIRECT_CHAIN,
};

/// Why the redirection could not be built or applied.
#[derive(Debug, thiserror::Error)]
pub enum TproxyError {
    /// The proxy's registration holds a value the redirection cannot use.
    #[error("proxy registration {proxy_id}: {field}: {problem}")]
    ProxyRegistration {
        /// The proxy's service ID.
        proxy_id: String,
        /// The registration field, as a path (`Proxy.Config.bind_port`).
        field: &'static str,
        /// What was expected and what was found.
        problem: String,
    },
    /// `iptables` could not be started (not installed, not executable).
    #[error("cannot run {program} for `{rule}`: {source}")]
    Spawn {
        /// The rule being applied.
        rule: Box<Rule>,
        /// The program that was run.
        program: String,
        /// Why it could not start.
        #[source]
        source: std::io::Error,
    },
    /// `iptables` refused a rule.
    #[error("`{rule}` failed ({status}): {stderr}")]
    RuleFailed {
        /// The rule that failed.
        rule: Box<Rule>,
        /// How `iptables` exited.
        status: String,
        /// The first line(s) of its stderr.
        stderr: String,
    },
}
