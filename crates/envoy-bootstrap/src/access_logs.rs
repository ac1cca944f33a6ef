//! The admin interface's access logger, from the global proxy-defaults `AccessLogs` block.

use serde_json::{json, Map, Value};

use crate::error::BootstrapError;
use crate::inputs::AccessLogsInputs;

/// Name Consul gives every access logger it generates.
const LOGGER_NAME: &str = "Consul Listener Filter Log";

/// Consul's built-in JSON access-log format, used when neither a JSON nor a text format is
/// configured (`agent/xds/accesslogs`, Consul 1.17, MPL-2.0).
const DEFAULT_JSON_FORMAT: &[(&str, &str)] = &[
    ("start_time", "%START_TIME%"),
    ("route_name", "%ROUTE_NAME%"),
    ("method", "%REQ(:METHOD)%"),
    ("path", "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"),
    ("protocol", "%PROTOCOL%"),
    ("response_code", "%RESPONSE_CODE%"),
    ("response_flags", "%RESPONSE_FLAGS%"),
    ("response_code_details", "%RESPONSE_CODE_DETAILS%"),
    (
        "connection_termination_details",
        "%CONNECTION_TERMINATION_DETAILS%",
    ),
    ("bytes_received", "%BYTES_RECEIVED%"),
    ("bytes_sent", "%BYTES_SENT%"),
    ("duration", "%DURATION%"),
    (
        "upstream_service_time",
        "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
    ),
    ("x_forwarded_for", "%REQ(X-FORWARDED-FOR)%"),
    ("user_agent", "%REQ(USER-AGENT)%"),
    ("request_id", "%REQ(X-REQUEST-ID)%"),
    ("authority", "%REQ(:AUTHORITY)%"),
    ("upstream_host", "%UPSTREAM_HOST%"),
    ("upstream_cluster", "%UPSTREAM_CLUSTER%"),
    ("upstream_local_address", "%UPSTREAM_LOCAL_ADDRESS%"),
    ("downstream_local_address", "%DOWNSTREAM_LOCAL_ADDRESS%"),
    ("downstream_remote_address", "%DOWNSTREAM_REMOTE_ADDRESS%"),
    ("requested_server_name", "%REQUESTED_SERVER_NAME%"),
    (
        "upstream_transport_failure_reason",
        "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
    ),
];

const STDOUT_LOGGER: &str =
    "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog";
const STDERR_LOGGER: &str =
    "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog";
const FILE_LOGGER: &str =
    "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog";

/// The `admin.access_log` entries; empty when access logs are off (the caller then writes
/// `admin.access_log_path`). `disable_listener_logs` does not apply to the admin logger.
pub(crate) fn admin_access_logs(
    config: Option<&AccessLogsInputs>,
) -> Result<Vec<Value>, BootstrapError> {
    let Some(config) = config.filter(|c| c.enabled) else {
        return Ok(Vec::new());
    };

    let log_format = log_format(config)?;
    let mut typed = Map::new();
    match non_empty(&config.sink_type).unwrap_or("stdout") {
        "stdout" => {
            typed.insert("@type".into(), STDOUT_LOGGER.into());
        }
        "stderr" => {
            typed.insert("@type".into(), STDERR_LOGGER.into());
        }
        "file" => {
            let path = non_empty(&config.path).ok_or_else(|| {
                BootstrapError::setting(
                    "AccessLogs.Path",
                    "a path is required when the access log type is \"file\"",
                )
            })?;
            typed.insert("@type".into(), FILE_LOGGER.into());
            typed.insert("path".into(), path.into());
        }
        other => {
            return Err(BootstrapError::setting(
                "AccessLogs.Type",
                format!("expected \"stdout\", \"stderr\" or \"file\", got {other:?}"),
            ))
        }
    }
    typed.insert("logFormat".into(), log_format);

    Ok(vec![json!({"name": LOGGER_NAME, "typedConfig": typed})])
}

fn log_format(config: &AccessLogsInputs) -> Result<Value, BootstrapError> {
    match (
        non_empty(&config.json_format),
        non_empty(&config.text_format),
    ) {
        (Some(_), Some(_)) => Err(BootstrapError::setting(
            "AccessLogs",
            "JSONFormat and TextFormat cannot both be set",
        )),
        (Some(text), None) => {
            let parsed: Value = serde_json::from_str(text).map_err(|e| {
                BootstrapError::setting(
                    "AccessLogs.JSONFormat",
                    format!("expected a JSON object: {e}"),
                )
            })?;
            if !parsed.is_object() {
                return Err(BootstrapError::setting(
                    "AccessLogs.JSONFormat",
                    "expected a JSON object",
                ));
            }
            Ok(json!({"jsonFormat": parsed}))
        }
        (None, Some(text)) => {
            // Envoy does not end a text log line by itself.
            let mut text = text.to_string();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            Ok(json!({"textFormatSource": {"inlineString": text}}))
        }
        (None, None) => {
            let format: Map<String, Value> = DEFAULT_JSON_FORMAT
                .iter()
                .map(|(k, v)| (k.to_string(), Value::from(*v)))
                .collect();
            Ok(json!({"jsonFormat": format}))
        }
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|s| !s.is_empty())
}
