//! The `envoy_*` keys of `Proxy.Config` that shape the bootstrap (Consul's `BootstrapConfig`).
//!
//! Consul decodes the map weakly (mapstructure `WeaklyTypedInput`), so a string setting
//! may also arrive as a boolean or a number; we accept the same. Every error names the key.

use serde_json::{Map, Value};

use crate::error::BootstrapError;

/// `udp://host:port`, `unix:///path` or `$ENV_VAR`: a statsd sink.
pub const STATSD_URL: &str = "envoy_statsd_url";
/// Same forms as [`STATSD_URL`]: a dogstatsd sink.
pub const DOGSTATSD_URL: &str = "envoy_dogstatsd_url";
/// List of `name=value` (or `name`) fixed stats tags.
pub const STATS_TAGS: &str = "envoy_stats_tags";
/// Directory of the telemetry-collector socket.
pub const TELEMETRY_COLLECTOR_BIND_SOCKET_DIR: &str = "envoy_telemetry_collector_bind_socket_dir";
/// `host:port` of the Prometheus scrape listener.
pub const PROMETHEUS_BIND_ADDR: &str = "envoy_prometheus_bind_addr";
/// `host:port` of the `/stats` listener.
pub const STATS_BIND_ADDR: &str = "envoy_stats_bind_addr";
/// Replacement bootstrap template.
pub const BOOTSTRAP_JSON_TPL: &str = "envoy_bootstrap_json_tpl";
/// Comma-separated JSON clusters appended to `static_resources.clusters`.
pub const EXTRA_STATIC_CLUSTERS_JSON: &str = "envoy_extra_static_clusters_json";
/// Comma-separated JSON listeners appended to `static_resources.listeners`.
pub const EXTRA_STATIC_LISTENERS_JSON: &str = "envoy_extra_static_listeners_json";
/// Comma-separated JSON stats sinks appended to `stats_sinks`.
pub const EXTRA_STATS_SINKS_JSON: &str = "envoy_extra_stats_sinks_json";
/// A JSON object replacing the generated `stats_config`.
pub const STATS_CONFIG_JSON: &str = "envoy_stats_config_json";
/// Duration string for `stats_flush_interval`.
pub const STATS_FLUSH_INTERVAL: &str = "envoy_stats_flush_interval";
/// A JSON object for top-level `tracing`.
pub const TRACING_JSON: &str = "envoy_tracing_json";

/// A `host:port` bind address, split the way Go's `net.SplitHostPort` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BindAddr {
    pub host: String,
    pub port: u16,
}

impl BindAddr {
    /// Parses `host:port` or `[v6]:port`. `key` names the setting in the error.
    pub(crate) fn parse(key: &str, text: &str) -> Result<Self, BootstrapError> {
        let bad = |why: &str| {
            BootstrapError::setting(key, format!("expected host:port, got {text:?}: {why}"))
        };
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| bad("missing ']'"))?;
            let port = after.strip_prefix(':').ok_or_else(|| bad("missing port"))?;
            (host, port)
        } else {
            let (host, port) = text.rsplit_once(':').ok_or_else(|| bad("missing port"))?;
            if host.contains(':') {
                return Err(bad("too many colons (bracket an IPv6 address)"));
            }
            (host, port)
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        let port = port
            .parse::<u16>()
            .map_err(|_| bad("port is not a number from 0 to 65535"))?;
        Ok(BindAddr {
            host: host.to_string(),
            port,
        })
    }
}

/// The decoded bootstrap settings of one `Proxy.Config` map.
#[derive(Debug, Clone, Default)]
pub(crate) struct BootstrapConfig {
    pub statsd_url: Option<String>,
    pub dogstatsd_url: Option<String>,
    pub stats_tags: Vec<String>,
    pub telemetry_collector_bind_socket_dir: Option<String>,
    pub prometheus_bind_addr: Option<BindAddr>,
    pub stats_bind_addr: Option<BindAddr>,
    pub override_json_tpl: Option<String>,
    pub static_clusters: Vec<Value>,
    pub static_listeners: Vec<Value>,
    pub stats_sinks: Vec<Value>,
    pub stats_config: Option<Value>,
    pub stats_flush_interval: Option<String>,
    pub tracing: Option<Value>,
    /// The `envoy_tracing_json` text as given, for the template placeholder.
    pub tracing_text: Option<String>,
}

impl BootstrapConfig {
    /// Decodes the recognised keys; unknown keys are ignored, as Consul does.
    pub(crate) fn parse(config: &Map<String, Value>) -> Result<Self, BootstrapError> {
        let prometheus_bind_addr = weak_string(config, PROMETHEUS_BIND_ADDR)?
            .map(|s| BindAddr::parse(PROMETHEUS_BIND_ADDR, &s))
            .transpose()?;
        let stats_bind_addr = weak_string(config, STATS_BIND_ADDR)?
            .map(|s| BindAddr::parse(STATS_BIND_ADDR, &s))
            .transpose()?;
        let tracing = json_object(config, TRACING_JSON)?;
        Ok(BootstrapConfig {
            statsd_url: weak_string(config, STATSD_URL)?,
            dogstatsd_url: weak_string(config, DOGSTATSD_URL)?,
            stats_tags: string_list(config, STATS_TAGS)?,
            telemetry_collector_bind_socket_dir: weak_string(
                config,
                TELEMETRY_COLLECTOR_BIND_SOCKET_DIR,
            )?,
            prometheus_bind_addr,
            stats_bind_addr,
            override_json_tpl: weak_string(config, BOOTSTRAP_JSON_TPL)?,
            static_clusters: json_object_list(config, EXTRA_STATIC_CLUSTERS_JSON)?,
            static_listeners: json_object_list(config, EXTRA_STATIC_LISTENERS_JSON)?,
            stats_sinks: json_object_list(config, EXTRA_STATS_SINKS_JSON)?,
            stats_config: json_object(config, STATS_CONFIG_JSON)?,
            stats_flush_interval: weak_string(config, STATS_FLUSH_INTERVAL)?,
            tracing_text: tracing.as_ref().map(compact),
            tracing,
        })
    }
}

/// Compact JSON text of a value (for template placeholders).
pub(crate) fn compact(value: &Value) -> String {
    value.to_string()
}

/// A string setting; booleans and numbers are converted the way mapstructure's weak
/// decoding does (`true` → `1`). Empty strings and null count as unset.
fn weak_string(config: &Map<String, Value>, key: &str) -> Result<Option<String>, BootstrapError> {
    let text = match config.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => if *b { "1" } else { "0" }.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(BootstrapError::setting(
                key,
                format!("expected a string, got {}", kind(other)),
            ))
        }
    };
    Ok(Some(text).filter(|s| !s.is_empty()))
}

/// A list of strings; a single scalar becomes a one-element list (mapstructure's weak
/// slice decoding).
fn string_list(config: &Map<String, Value>, key: &str) -> Result<Vec<String>, BootstrapError> {
    match config.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.clone()),
                Value::Bool(_) | Value::Number(_) => Ok(item.to_string()),
                other => Err(BootstrapError::setting(
                    key,
                    format!("element {i}: expected a string, got {}", kind(other)),
                )),
            })
            .collect(),
        _ => Ok(weak_string(config, key)?.into_iter().collect()),
    }
}

/// A `*_json` setting holding one JSON object. Given as a string (Consul's form) or, for
/// robustness, as an object already.
fn json_object(config: &Map<String, Value>, key: &str) -> Result<Option<Value>, BootstrapError> {
    let value = match config.get(key) {
        Some(Value::Object(_)) => config.get(key).cloned(),
        _ => match weak_string(config, key)? {
            None => None,
            Some(text) => Some(serde_json::from_str::<Value>(&text).map_err(|e| {
                BootstrapError::setting(key, format!("expected a JSON object: {e}"))
            })?),
        },
    };
    match value {
        Some(v) if !v.is_object() => Err(BootstrapError::setting(
            key,
            format!("expected a JSON object, got {}", kind(&v)),
        )),
        other => Ok(other),
    }
}

/// A `*_json` setting holding zero or more comma-separated JSON objects without brackets
/// (Consul splices the text into an array). An array or object value is also accepted.
fn json_object_list(config: &Map<String, Value>, key: &str) -> Result<Vec<Value>, BootstrapError> {
    let items = match config.get(key) {
        Some(Value::Array(items)) => items.clone(),
        Some(obj @ Value::Object(_)) => vec![obj.clone()],
        _ => match weak_string(config, key)? {
            None => Vec::new(),
            Some(text) => {
                serde_json::from_str::<Vec<Value>>(&format!("[{text}]")).map_err(|e| {
                    BootstrapError::setting(
                        key,
                        format!("expected zero or more comma-separated JSON objects: {e}"),
                    )
                })?
            }
        },
    };
    for (i, item) in items.iter().enumerate() {
        if !item.is_object() {
            return Err(BootstrapError::setting(
                key,
                format!(
                    "expected zero or more comma-separated JSON objects, element {i} is {}",
                    kind(item)
                ),
            ));
        }
    }
    Ok(items)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bind_addr_accepts_ipv4_and_bracketed_ipv6() {
        assert_eq!(
            BindAddr::parse("k", "0.0.0.0:9102").unwrap(),
            BindAddr {
                host: "0.0.0.0".into(),
                port: 9102
            }
        );
        assert_eq!(
            BindAddr::parse("k", "[::]:9102").unwrap(),
            BindAddr {
                host: "::".into(),
                port: 9102
            }
        );
    }

    #[test]
    fn bind_addr_rejections_name_the_key() {
        for bad in [
            "0.0.0.0",
            ":9102",
            "::1:9102",
            "host:http",
            "host:70000",
            "[::1]9102",
        ] {
            let err = BindAddr::parse(PROMETHEUS_BIND_ADDR, bad).unwrap_err();
            let text = err.to_string();
            assert!(
                text.starts_with("envoy_prometheus_bind_addr: expected host:port"),
                "{bad}: {text}"
            );
        }
    }

    #[test]
    fn weak_values_convert_like_mapstructure() {
        let config = json!({
            "envoy_stats_flush_interval": 5,
            "envoy_statsd_url": true,
            "envoy_stats_tags": "canary",
        });
        let parsed = BootstrapConfig::parse(config.as_object().unwrap()).unwrap();
        assert_eq!(parsed.stats_flush_interval.as_deref(), Some("5"));
        assert_eq!(parsed.statsd_url.as_deref(), Some("1"));
        assert_eq!(parsed.stats_tags, vec!["canary".to_string()]);
    }

    #[test]
    fn empty_strings_and_nulls_are_unset() {
        let config = json!({"envoy_tracing_json": "", "envoy_stats_bind_addr": null});
        let parsed = BootstrapConfig::parse(config.as_object().unwrap()).unwrap();
        assert!(parsed.tracing.is_none());
        assert!(parsed.stats_bind_addr.is_none());
    }

    #[test]
    fn extra_lists_accept_text_arrays_and_objects() {
        let config = json!({
            "envoy_extra_static_clusters_json": "{\"name\":\"a\"},{\"name\":\"b\"}",
            "envoy_extra_static_listeners_json": [{"name": "l"}],
            "envoy_extra_stats_sinks_json": {"name": "s"},
        });
        let parsed = BootstrapConfig::parse(config.as_object().unwrap()).unwrap();
        assert_eq!(
            parsed.static_clusters,
            vec![json!({"name": "a"}), json!({"name": "b"})]
        );
        assert_eq!(parsed.static_listeners, vec![json!({"name": "l"})]);
        assert_eq!(parsed.stats_sinks, vec![json!({"name": "s"})]);
    }

    #[test]
    fn structured_value_for_a_string_key_is_rejected_with_the_key() {
        let config = json!({"envoy_stats_flush_interval": ["1s"]});
        let err = BootstrapConfig::parse(config.as_object().unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "envoy_stats_flush_interval: expected a string, got an array"
        );
    }
}
