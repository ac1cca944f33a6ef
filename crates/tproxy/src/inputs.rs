//! From a task to a [`Redirection`]: what consul-ecs v0.10's `redirecttraffic` package reads
//! from the proxy's catalog registration and from `transparentProxy` (protocols.md §10.2).

use std::net::{Ipv4Addr, SocketAddrV4};

use consul::CatalogService;
use serde_json::Value;

use crate::rules::{Redirection, DEFAULT_OUTBOUND_PORT};
use crate::TproxyError;

/// The user consul-dataplane (and so Envoy) runs as in the mesh-task module.
pub const PROXY_UID: u32 = 5995;
/// The user health-sync runs as: its calls to the Consul servers are never redirected.
pub const HEALTH_SYNC_UID: u32 = 5996;
/// consul-dataplane's DNS server, where Consul DNS queries are sent
/// (`dnsServer` of `consul-dataplane.json`).
pub const CONSUL_DATAPLANE_DNS: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8600);

/// The redirection consul-ecs v0.10 installs for `proxy` (the sidecar as the catalog's
/// `node-services` returns it) in a task with `config`:
///
/// * inbound to `Proxy.Config.bind_port`, else the proxy's port;
/// * outbound to `Proxy.TransparentProxy.OutboundListenerPort`, else 15001;
/// * inbound exclusions: `transparentProxy.excludeInboundPorts`, the proxy's health-check
///   port, the ports of `envoy_prometheus_bind_addr` and `envoy_stats_bind_addr`, and each
///   exposed path's listener port;
/// * outbound exclusions: the configured ports and CIDRs; user exclusions: the configured
///   UIDs, then health-sync's 5996; Envoy's 5995 is the proxy user;
/// * Consul DNS (consul-dataplane's 127.0.0.1:8600) when `transparentProxy.consulDNS` is on.
pub fn for_proxy(
    proxy: &CatalogService,
    config: &config::dataplane::Config,
) -> Result<Redirection, TproxyError> {
    let settings = config.transparent_proxy.clone().unwrap_or_default();
    let proxy_block = proxy.proxy.clone().unwrap_or_default();
    let opaque = proxy_block.config.unwrap_or_default();
    let bad = |field: &'static str, problem: String| TproxyError::ProxyRegistration {
        proxy_id: proxy.id.clone(),
        field,
        problem,
    };

    let inbound_port = match opaque.get("bind_port") {
        None | Some(Value::Null) => proxy.port,
        Some(value) => weak_port(value).map_err(|p| bad("Proxy.Config.bind_port", p))?,
    };
    // Upstream's `bind_port: 0` (or none) falls back to the service port too.
    let inbound_port = if inbound_port == 0 {
        proxy.port
    } else {
        inbound_port
    };

    let outbound_port = match proxy_block
        .transparent_proxy
        .as_ref()
        .and_then(|t| t.get("OutboundListenerPort"))
    {
        None | Some(Value::Null) => DEFAULT_OUTBOUND_PORT,
        Some(value) => match weak_port(value)
            .map_err(|p| bad("Proxy.TransparentProxy.OutboundListenerPort", p))?
        {
            0 => DEFAULT_OUTBOUND_PORT,
            port => port,
        },
    };

    let mut exclude_inbound_ports = settings.exclude_inbound_ports.clone();
    exclude_inbound_ports.push(config.health_check_port());
    for (key, field) in [
        (
            "envoy_prometheus_bind_addr",
            "Proxy.Config.envoy_prometheus_bind_addr",
        ),
        (
            "envoy_stats_bind_addr",
            "Proxy.Config.envoy_stats_bind_addr",
        ),
    ] {
        match opaque.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(addr)) if addr.is_empty() => {}
            Some(Value::String(addr)) => {
                exclude_inbound_ports.push(port_of(addr).map_err(|p| bad(field, p))?);
            }
            Some(other) => {
                return Err(bad(field, format!("expected \"host:port\", got {other}")));
            }
        }
    }
    exclude_inbound_ports.extend(
        proxy_block
            .expose
            .paths
            .iter()
            .map(|path| path.listener_port)
            .filter(|port| *port != 0),
    );

    let mut exclude_uids = settings.exclude_uids.clone();
    exclude_uids.push(HEALTH_SYNC_UID.to_string());

    Ok(Redirection {
        proxy_uid: PROXY_UID.to_string(),
        inbound_port,
        outbound_port,
        exclude_inbound_ports,
        exclude_outbound_ports: settings.exclude_outbound_ports.clone(),
        exclude_outbound_cidrs: settings.exclude_outbound_cidrs.clone(),
        exclude_uids,
        consul_dns: config.consul_dns_enabled().then_some(CONSUL_DATAPLANE_DNS),
    })
}

/// A port from opaque JSON the way Go's `mapstructure.WeakDecode` reads an `int`: a number
/// or a string of digits (Consul stores what the registration sent).
fn weak_port(value: &Value) -> Result<u16, String> {
    let parsed = match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    parsed
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| format!("expected a port number (0-65535), got {value}"))
}

/// The port of `host:port` (Go's `net.SplitHostPort`: `[v6]:port` too).
fn port_of(addr: &str) -> Result<u16, String> {
    let expected = || format!("expected \"host:port\", got {addr:?}");
    let (_, port) = addr.rsplit_once(':').ok_or_else(expected)?;
    port.parse::<u16>().map_err(|_| expected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use consul::{AgentServiceConnectProxyConfig, ExposePath};
    use serde_json::json;

    fn config(json: Value) -> config::dataplane::Config {
        serde_json::from_value(json).unwrap()
    }

    fn base_config() -> config::dataplane::Config {
        config(json!({"bootstrapDir": "/consul", "consulServers": {"hosts": "consul.example"}}))
    }

    fn proxy(block: AgentServiceConnectProxyConfig) -> CatalogService {
        CatalogService {
            kind: "connect-proxy".into(),
            id: "web-abc-sidecar-proxy".into(),
            service: "web-sidecar-proxy".into(),
            port: 20000,
            proxy: Some(block),
            ..CatalogService::default()
        }
    }

    /// Upstream's "default redirection behaviour": port 20000, 15001, user 5995; and the
    /// exclusions consul-ecs always adds (health-check port 22000, health-sync's 5996).
    #[test]
    fn defaults() {
        let redirection = for_proxy(&proxy(Default::default()), &base_config()).unwrap();
        assert_eq!(
            redirection,
            Redirection {
                proxy_uid: "5995".into(),
                inbound_port: 20000,
                outbound_port: 15001,
                exclude_inbound_ports: vec![22000],
                exclude_outbound_ports: vec![],
                exclude_outbound_cidrs: vec![],
                exclude_uids: vec!["5996".into()],
                consul_dns: None,
            }
        );
    }

    /// Upstream's cases: bind_port, OutboundListenerPort, the stats/prometheus/expose
    /// exclusions after the configured ones, the configured outbound ports, CIDRs and
    /// UIDs, and Consul DNS.
    #[test]
    fn every_input_is_read() {
        let block = AgentServiceConnectProxyConfig {
            config: Some(
                json!({
                    "bind_port": "12000",
                    "envoy_prometheus_bind_addr": "0.0.0.0:9090",
                    "envoy_stats_bind_addr": "[::]:8080",
                })
                .as_object()
                .unwrap()
                .clone(),
            ),
            transparent_proxy: Some(json!({"OutboundListenerPort": 15500})),
            expose: consul::ExposeConfig {
                checks: false,
                paths: vec![
                    ExposePath {
                        listener_port: 14000,
                        ..Default::default()
                    },
                    ExposePath {
                        listener_port: 15000,
                        ..Default::default()
                    },
                ],
            },
            ..Default::default()
        };
        let config = config(json!({
            "bootstrapDir": "/consul",
            "consulServers": {"hosts": "consul.example"},
            "proxy": {"healthCheckPort": 21000},
            "transparentProxy": {
                "excludeInboundPorts": [1234, 5678],
                "excludeOutboundPorts": [443],
                "excludeOutboundCIDRs": ["1.1.1.0/24", "2.2.2.2"],
                "excludeUIDs": ["1000"],
                "consulDNS": {"enabled": true},
            },
        }));
        let redirection = for_proxy(&proxy(block), &config).unwrap();
        assert_eq!(redirection.inbound_port, 12000);
        assert_eq!(redirection.outbound_port, 15500);
        assert_eq!(
            redirection.exclude_inbound_ports,
            [1234, 5678, 21000, 9090, 8080, 14000, 15000]
        );
        assert_eq!(redirection.exclude_outbound_ports, [443]);
        assert_eq!(
            redirection.exclude_outbound_cidrs,
            ["1.1.1.0/24", "2.2.2.2"]
        );
        assert_eq!(redirection.exclude_uids, ["1000", "5996"]);
        assert_eq!(redirection.consul_dns, Some(CONSUL_DATAPLANE_DNS));
    }

    #[test]
    fn bad_opaque_config_names_the_field() {
        let block = AgentServiceConnectProxyConfig {
            config: Some(
                json!({"envoy_stats_bind_addr": "no-port"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
            ..Default::default()
        };
        let err = for_proxy(&proxy(block), &base_config()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "proxy registration web-abc-sidecar-proxy: Proxy.Config.envoy_stats_bind_addr: \
             expected \"host:port\", got \"no-port\""
        );

        let block = AgentServiceConnectProxyConfig {
            config: Some(json!({"bind_port": 70000}).as_object().unwrap().clone()),
            ..Default::default()
        };
        let err = for_proxy(&proxy(block), &base_config()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "proxy registration web-abc-sidecar-proxy: Proxy.Config.bind_port: \
             expected a port number (0-65535), got 70000"
        );
    }

    /// Consul DNS needs the transparent proxy; `consulDNS` alone with tproxy off adds nothing
    /// (the caller does not install rules then, but the inputs say the same).
    #[test]
    fn consul_dns_only_with_the_transparent_proxy() {
        let config = config(json!({
            "bootstrapDir": "/consul",
            "consulServers": {"hosts": "consul.example"},
            "transparentProxy": {"enabled": false, "consulDNS": {"enabled": true}},
        }));
        let redirection = for_proxy(&proxy(Default::default()), &config).unwrap();
        assert_eq!(redirection.consul_dns, None);
    }
}
