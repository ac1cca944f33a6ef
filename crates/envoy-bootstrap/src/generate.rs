//! Resolved inputs → bootstrap document, laid out exactly like Consul 1.17's template.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use sha1::{Digest, Sha1};

use crate::access_logs::admin_access_logs;
use crate::error::BootstrapError;
use crate::inputs::BootstrapInputs;
use crate::proxy_config::{
    compact, BindAddr, BootstrapConfig, BOOTSTRAP_JSON_TPL, DOGSTATSD_URL, STATSD_URL,
};
use crate::stats::{or_default, stats_config, SourceIdentity};
use crate::template;

/// Cluster name reserved for the local agent's xDS server.
const LOCAL_AGENT_CLUSTER: &str = "local_agent";
/// Cluster that routes to Envoy's own admin interface.
const SELF_ADMIN_CLUSTER: &str = "self_admin";
/// Cluster used instead of `self_admin` when a Prometheus backend port is given.
const PROMETHEUS_BACKEND_CLUSTER: &str = "prometheus_backend";
/// Cluster that reaches the telemetry collector through a Unix socket.
const TELEMETRY_COLLECTOR_CLUSTER: &str = "consul_telemetry_collector_loopback";

/// Generates the Envoy bootstrap for `inputs`, as `consul connect envoy -bootstrap` would.
///
/// Statsd URLs of the form `$NAME` (and `${HOST_IP}` inside one) are read from the process
/// environment, as Consul does; use [`generate_with_env`] to supply them explicitly.
pub fn generate(inputs: &BootstrapInputs) -> Result<Value, BootstrapError> {
    generate_with_env(inputs, &|name| std::env::var(name).ok())
}

/// [`generate`] with an explicit environment lookup, so the result depends on nothing but
/// its arguments.
pub fn generate_with_env(
    inputs: &BootstrapInputs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Value, BootstrapError> {
    let config = BootstrapConfig::parse(&inputs.proxy_config)?;
    let parts = Parts::build(inputs, &config, env)?;
    match &config.override_json_tpl {
        Some(tpl) => render_override(tpl, inputs, &config, &parts),
        None => Ok(default_document(inputs, &config, &parts)),
    }
}

/// Everything the layout needs beyond the raw inputs, computed once for both the default
/// layout and a template override.
struct Parts {
    admin_access_logs: Vec<Value>,
    /// Extra, metrics and telemetry clusters (not `local_agent`), in Consul's order.
    clusters: Vec<Value>,
    listeners: Vec<Value>,
    secrets: Vec<Value>,
    stats_sinks: Vec<Value>,
    stats_config: Value,
    /// Joined CA PEMs for the agent's TLS context.
    agent_ca_pem: String,
}

impl Parts {
    fn build(
        inputs: &BootstrapInputs,
        config: &BootstrapConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, BootstrapError> {
        let mut stats_sinks = Vec::new();
        if let Some(url) = &config.statsd_url {
            stats_sinks.push(statsd_sink(
                STATSD_URL,
                "envoy.stat_sinks.statsd",
                "type.googleapis.com/envoy.config.metrics.v3.StatsdSink",
                url,
                env,
            )?);
        }
        if let Some(url) = &config.dogstatsd_url {
            stats_sinks.push(statsd_sink(
                DOGSTATSD_URL,
                "envoy.stat_sinks.dog_statsd",
                "type.googleapis.com/envoy.config.metrics.v3.DogStatsdSink",
                url,
                env,
            )?);
        }
        stats_sinks.extend(config.stats_sinks.iter().cloned());

        let stats_config = match &config.stats_config {
            Some(custom) => custom.clone(),
            None => stats_config(
                &config.stats_tags,
                &SourceIdentity {
                    cluster: &inputs.proxy_cluster,
                    service: &inputs.proxy_source_service,
                    namespace: &inputs.namespace,
                    partition: &inputs.partition,
                    datacenter: inputs.datacenter.as_deref().unwrap_or(""),
                },
                inputs.omit_deprecated_tags,
            ),
        };

        let mut parts = Parts {
            admin_access_logs: admin_access_logs(inputs.access_logs.as_ref())?,
            clusters: config.static_clusters.clone(),
            listeners: config.static_listeners.clone(),
            secrets: Vec::new(),
            stats_sinks,
            stats_config,
            agent_ca_pem: inputs
                .agent_grpc
                .ca_pems
                .as_deref()
                .unwrap_or_default()
                .concat(),
        };

        // Same order as Consul: Prometheus, /stats, readiness.
        if let Some(bind) = &config.prometheus_bind_addr {
            let (cluster, port) = match inputs.prometheus.backend_port {
                Some(port) => (PROMETHEUS_BACKEND_CLUSTER, port),
                None => (SELF_ADMIN_CLUSTER, inputs.admin.bind_port),
            };
            let tls = inputs
                .prometheus
                .cert_file
                .as_deref()
                .is_some_and(|c| !c.is_empty());
            parts.add_admin_listener(
                inputs,
                bind,
                "envoy_prometheus_metrics",
                ("path", &inputs.prometheus.scrape_path),
                "/stats/prometheus",
                (cluster, port),
                tls,
            );
            if tls {
                parts.secrets.extend(prometheus_secrets(inputs));
            }
        }
        if let Some(bind) = &config.stats_bind_addr {
            parts.add_admin_listener(
                inputs,
                bind,
                "envoy_metrics",
                ("prefix", "/stats"),
                "/stats",
                (SELF_ADMIN_CLUSTER, inputs.admin.bind_port),
                false,
            );
        }
        if let (Some(host), Some(port)) = (&inputs.ready_bind_address, inputs.ready_bind_port) {
            let bind = BindAddr {
                host: host.clone(),
                port,
            };
            parts.add_admin_listener(
                inputs,
                &bind,
                "envoy_ready",
                ("path", "/ready"),
                "/ready",
                (SELF_ADMIN_CLUSTER, inputs.admin.bind_port),
                false,
            );
        }

        if let Some(dir) = &config.telemetry_collector_bind_socket_dir {
            let path = telemetry_socket_path(dir, &inputs.namespace, &inputs.proxy_id);
            parts.stats_sinks.push(json!({
                "name": "envoy.stat_sinks.metrics_service",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.config.metrics.v3.MetricsServiceConfig",
                    "transport_api_version": "V3",
                    "grpc_service": {"envoy_grpc": {"cluster_name": TELEMETRY_COLLECTOR_CLUSTER}},
                    "emit_tags_as_labels": true
                }
            }));
            parts.clusters.push(json!({
                "name": TELEMETRY_COLLECTOR_CLUSTER,
                "type": "STATIC",
                "http2_protocol_options": {},
                "loadAssignment": {
                    "clusterName": TELEMETRY_COLLECTOR_CLUSTER,
                    "endpoints": [{"lbEndpoints": [{"endpoint": {"address": {"pipe": {"path": path}}}}]}]
                }
            }));
        }

        Ok(parts)
    }

    /// Adds a plain-HTTP listener that exposes one admin path (and answers 404 otherwise),
    /// plus the cluster it routes to.
    #[allow(clippy::too_many_arguments)]
    fn add_admin_listener(
        &mut self,
        inputs: &BootstrapInputs,
        bind: &BindAddr,
        name: &str,
        (match_type, match_value): (&str, &str),
        prefix_rewrite: &str,
        (cluster, cluster_port): (&str, u16),
        tls: bool,
    ) {
        // Consul skips the cluster when `self_admin` is already present, because a duplicate
        // name stops Envoy. We skip on any same-named cluster, which also covers
        // `prometheus_backend` and never leaves a route without its cluster.
        let exists = self
            .clusters
            .iter()
            .any(|c| c.get("name").and_then(Value::as_str) == Some(cluster));
        if !exists {
            self.clusters.push(json!({
                "name": cluster,
                "ignore_health_on_host_removal": false,
                "connect_timeout": "5s",
                "type": "STATIC",
                "http_protocol_options": {},
                "loadAssignment": {
                    "clusterName": cluster,
                    "endpoints": [{"lbEndpoints": [{"endpoint": {"address": {"socket_address": {
                        "address": inputs.admin.bind_address,
                        "port_value": cluster_port
                    }}}}]}]
                }
            }));
        }

        let mut filter_chain = json!({
            "filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typedConfig": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": name,
                    "codec_type": "HTTP1",
                    "route_config": {
                        "name": "self_admin_route",
                        "virtual_hosts": [{
                            "name": "self_admin",
                            "domains": ["*"],
                            "routes": [
                                {
                                    "match": {match_type: match_value},
                                    "route": {"cluster": cluster, "prefix_rewrite": prefix_rewrite}
                                },
                                {"match": {"prefix": "/"}, "direct_response": {"status": 404}}
                            ]
                        }]
                    },
                    "http_filters": [{
                        "name": "envoy.filters.http.router",
                        "typedConfig": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}
                    }]
                }
            }]
        });
        if tls {
            filter_chain["transportSocket"] = json!({
                "name": "tls",
                "typedConfig": {
                    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
                    "commonTlsContext": {
                        "tlsCertificateSdsSecretConfigs": [{"name": "prometheus_cert"}],
                        "validationContextSdsSecretConfig": {"name": "prometheus_validation_context"}
                    }
                }
            });
        }
        self.listeners.push(json!({
            "name": format!("{name}_listener"),
            "address": {"socket_address": {"address": bind.host, "port_value": bind.port}},
            "filter_chains": [filter_chain]
        }));
    }
}

/// The two static secrets the Prometheus TLS listener refers to. Paths are copied, never read.
fn prometheus_secrets(inputs: &BootstrapInputs) -> Vec<Value> {
    let p = &inputs.prometheus;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let validation = match p.ca_path.as_deref().filter(|s| !s.is_empty()) {
        Some(dir) => json!({"watchedDirectory": {"path": dir}}),
        None => json!({"trustedCa": {"filename": text(&p.ca_file)}}),
    };
    vec![
        json!({
            "name": "prometheus_cert",
            "tlsCertificate": {
                "certificateChain": {"filename": text(&p.cert_file)},
                "privateKey": {"filename": text(&p.key_file)}
            }
        }),
        json!({"name": "prometheus_validation_context", "validationContext": validation}),
    ]
}

/// `<dir>/<h>.sock` with `h` = URL-safe unpadded base64 of SHA-1(`<namespace>_<proxy id>`):
/// unique per proxy and short enough for a Unix socket path. Must match what Consul's xDS
/// server computes for the collector's listener.
pub(crate) fn telemetry_socket_path(dir: &str, namespace: &str, proxy_id: &str) -> String {
    let id = format!("{}_{}", or_default(namespace), proxy_id);
    let hash = URL_SAFE_NO_PAD.encode(Sha1::digest(id.as_bytes()));
    let dir = dir.trim_end_matches('/');
    format!("{dir}/{hash}.sock")
}

/// A statsd or dogstatsd sink from `udp://host:port`, `unix:///path` or `$ENV_VAR`.
fn statsd_sink(
    key: &str,
    name: &str,
    type_url: &str,
    raw: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Value, BootstrapError> {
    let addr = match raw.strip_prefix('$') {
        // The whole value names a variable that holds the URL.
        Some(var) if raw.len() > 2 && !var.starts_with('{') => env(var).unwrap_or_default(),
        _ => expand_host_ip(raw, env),
    };
    let bad = |why: String| BootstrapError::setting(key, why);
    let url = url::Url::parse(&addr).map_err(|e| {
        bad(format!(
            "expected udp://host:port, unix:///path or $ENV_VAR, got {addr:?}: {e}"
        ))
    })?;
    let address = match url.scheme() {
        "udp" => {
            let host = url
                .host_str()
                .filter(|h| !h.is_empty())
                .ok_or_else(|| bad(format!("missing host in {addr:?}")))?;
            let port = url
                .port()
                .ok_or_else(|| bad(format!("missing port in {addr:?}")))?;
            // Envoy wants a bare IPv6 literal, without the URL brackets.
            let host = host.trim_start_matches('[').trim_end_matches(']');
            json!({"socket_address": {"address": host, "port_value": port}})
        }
        "unix" => json!({"pipe": {"path": url.path()}}),
        other => {
            return Err(bad(format!(
                "unsupported address protocol {other:?} (expected udp or unix)"
            )))
        }
    };
    Ok(json!({"name": name, "typedConfig": {"@type": type_url, "address": address}}))
}

/// Consul expands only `HOST_IP` inside a sink URL (so a task can point at its host's
/// agent); any other `$NAME` is left as written.
fn expand_host_ip(text: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let host_ip = || env("HOST_IP").unwrap_or_default();
    let braced = text.replace("${HOST_IP}", &host_ip());
    let mut out = String::with_capacity(braced.len());
    let mut rest = braced.as_str();
    while let Some(pos) = rest.find("$HOST_IP") {
        let after = &rest[pos + "$HOST_IP".len()..];
        out.push_str(&rest[..pos]);
        if after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            // A longer variable name such as $HOST_IPV6: not ours to expand.
            out.push_str("$HOST_IP");
        } else {
            out.push_str(&host_ip());
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The `local_agent` cluster: how Envoy reaches the agent's xDS server.
fn local_agent_cluster(inputs: &BootstrapInputs, ca_pem: &str) -> Value {
    let grpc = &inputs.agent_grpc;
    let address = match &grpc.unix_socket {
        Some(path) if !path.is_empty() => json!({"pipe": {"path": path}}),
        _ => json!({"socket_address": {
            "address": grpc.address.clone().unwrap_or_default(),
            "port_value": grpc.port.unwrap_or_default()
        }}),
    };
    let mut cluster = Map::new();
    cluster.insert("name".into(), LOCAL_AGENT_CLUSTER.into());
    // Consul sets this only so that Envoy detects a v3 bootstrap.
    cluster.insert("ignore_health_on_host_removal".into(), false.into());
    cluster.insert("connect_timeout".into(), "1s".into());
    cluster.insert("type".into(), "STATIC".into());
    if grpc.tls {
        cluster.insert(
            "transport_socket".into(),
            json!({
                "name": "tls",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                    "common_tls_context": {"validation_context": {"trusted_ca": {"inline_string": ca_pem}}}
                }
            }),
        );
    }
    cluster.insert("http2_protocol_options".into(), json!({}));
    cluster.insert(
        "loadAssignment".into(),
        json!({
            "clusterName": LOCAL_AGENT_CLUSTER,
            "endpoints": [{"lbEndpoints": [{"endpoint": {"address": address}}]}]
        }),
    );
    Value::Object(cluster)
}

fn default_document(inputs: &BootstrapInputs, config: &BootstrapConfig, parts: &Parts) -> Value {
    let mut admin = Map::new();
    if parts.admin_access_logs.is_empty() {
        admin.insert(
            "access_log_path".into(),
            inputs.admin.access_log_path.clone().into(),
        );
    } else {
        admin.insert("access_log".into(), parts.admin_access_logs.clone().into());
    }
    admin.insert(
        "address".into(),
        json!({"socket_address": {
            "address": inputs.admin.bind_address,
            "port_value": inputs.admin.bind_port
        }}),
    );

    let mut metadata = Map::new();
    if let Some(node) = inputs.node_name.as_deref().filter(|n| !n.is_empty()) {
        metadata.insert("node_name".into(), node.into());
    }
    metadata.insert("namespace".into(), or_default(&inputs.namespace).into());
    metadata.insert("partition".into(), or_default(&inputs.partition).into());

    let mut clusters = vec![local_agent_cluster(inputs, &parts.agent_ca_pem)];
    clusters.extend(parts.clusters.iter().cloned());
    let mut static_resources = Map::new();
    static_resources.insert("clusters".into(), clusters.into());
    if !parts.listeners.is_empty() {
        static_resources.insert("listeners".into(), parts.listeners.clone().into());
    }
    if !parts.secrets.is_empty() {
        static_resources.insert("secrets".into(), parts.secrets.clone().into());
    }

    let mut doc = Map::new();
    doc.insert("admin".into(), admin.into());
    doc.insert(
        "node".into(),
        json!({"cluster": inputs.proxy_cluster, "id": inputs.proxy_id, "metadata": metadata}),
    );
    doc.insert(
        "layered_runtime".into(),
        // Consul's tag regexes exceed RE2's default program size warning level.
        json!({"layers": [{"name": "base", "static_layer": {"re2.max_program_size.error_level": 1048576}}]}),
    );
    doc.insert("static_resources".into(), static_resources.into());
    if !parts.stats_sinks.is_empty() {
        doc.insert("stats_sinks".into(), parts.stats_sinks.clone().into());
    }
    doc.insert("stats_config".into(), parts.stats_config.clone());
    if let Some(interval) = &config.stats_flush_interval {
        doc.insert("stats_flush_interval".into(), interval.clone().into());
    }
    if let Some(tracing) = &config.tracing {
        doc.insert("tracing".into(), tracing.clone());
    }
    doc.insert(
        "dynamic_resources".into(),
        json!({
            "lds_config": {"ads": {}, "initial_fetch_timeout": "0s", "resource_api_version": "V3"},
            "cds_config": {"ads": {}, "initial_fetch_timeout": "0s", "resource_api_version": "V3"},
            "ads_config": {
                "api_type": "DELTA_GRPC",
                "transport_api_version": "V3",
                "grpc_services": {
                    "initial_metadata": [{"key": "x-consul-token", "value": inputs.token}],
                    "envoy_grpc": {"cluster_name": LOCAL_AGENT_CLUSTER}
                }
            }
        }),
    );
    Value::Object(doc)
}

/// Renders `envoy_bootstrap_json_tpl` with Consul's template argument names and parses
/// the result. The rendered text holds the token, so errors never quote it.
fn render_override(
    tpl: &str,
    inputs: &BootstrapInputs,
    config: &BootstrapConfig,
    parts: &Parts,
) -> Result<Value, BootstrapError> {
    let join = |items: &[Value]| items.iter().map(compact).collect::<Vec<_>>().join(",\n");
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let grpc = &inputs.agent_grpc;
    let prom = &inputs.prometheus;
    let lookup = |name: &str| -> Option<String> {
        Some(match name {
            "ProxyID" => inputs.proxy_id.clone(),
            "ProxyCluster" => inputs.proxy_cluster.clone(),
            "ProxySourceService" => inputs.proxy_source_service.clone(),
            "NodeName" => opt(&inputs.node_name),
            "Namespace" => inputs.namespace.clone(),
            "Partition" => inputs.partition.clone(),
            "Datacenter" => opt(&inputs.datacenter),
            "AdminBindAddress" => inputs.admin.bind_address.clone(),
            "AdminBindPort" => inputs.admin.bind_port.to_string(),
            "AdminAccessLogPath" => inputs.admin.access_log_path.clone(),
            // Go would print a []string here; a JSON array is the only useful rendering.
            "AdminAccessLogConfig" => Value::from(parts.admin_access_logs.clone()).to_string(),
            "AgentAddress" => opt(&grpc.address),
            "AgentPort" => grpc.port.map(|p| p.to_string()).unwrap_or_default(),
            "AgentSocket" => opt(&grpc.unix_socket),
            "AgentTLS" => grpc.tls.to_string(),
            // Consul escapes newlines so the PEM can sit inside a JSON string literal.
            "AgentCAPEM" => parts.agent_ca_pem.replace('\n', "\\n"),
            "LocalAgentClusterName" => LOCAL_AGENT_CLUSTER.to_string(),
            "Token" => inputs.token.clone(),
            "StaticClustersJSON" => join(&parts.clusters),
            "StaticListenersJSON" => join(&parts.listeners),
            "StaticSecretsJSON" => join(&parts.secrets),
            "StatsSinksJSON" => join(&parts.stats_sinks),
            "StatsConfigJSON" => compact(&parts.stats_config),
            "StatsFlushInterval" => opt(&config.stats_flush_interval),
            "TracingConfigJSON" => opt(&config.tracing_text),
            "PrometheusBackendPort" => prom.backend_port.map(|p| p.to_string()).unwrap_or_default(),
            "PrometheusScrapePath" => prom.scrape_path.clone(),
            "PrometheusCAFile" => opt(&prom.ca_file),
            "PrometheusCAPath" => opt(&prom.ca_path),
            "PrometheusCertFile" => opt(&prom.cert_file),
            "PrometheusKeyFile" => opt(&prom.key_file),
            _ => return None,
        })
    };
    let rendered = template::render(tpl, lookup)?;
    serde_json::from_str(&rendered).map_err(|e| {
        BootstrapError::setting(
            BOOTSTRAP_JSON_TPL,
            format!("the rendered template is not valid JSON: {e}"),
        )
    })
}
