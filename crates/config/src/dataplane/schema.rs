//! The v0.10 (Consul Dataplane) rules, as block tables for the one validator
//! in `crate::schema`. They follow upstream v0.10.0's `config/schema.json`
//! (a copy is in `tests/data/compat/v0.10/`) key by key; the blocks the two
//! layouts share unchanged are the v0.6.2 tables themselves.
//!
//! As on the v0.6.2 side, what Go's decoding would refuse after the schema
//! passed is checked here too: `proxy.healthCheckPort` and
//! `gateway.healthCheckPort` have no `type` in the schema but decode into an
//! `int`, and `proxy.expose`, which the schema misplaces, is checked as its
//! authors meant.

use crate::schema::{
    opt, plain, req, Extra, ObjSpec, Ty, DESTINATION_TYPES, EXPOSE, GATEWAY_ADDRESS, GATEWAY_PROXY,
    LOG_LEVELS, MESH_GATEWAY, WEIGHTS,
};

const GATEWAY_KINDS: &[&str] = &["mesh-gateway", "terminating-gateway", "api-gateway"];
const PERCENT: Ty = Ty::Range(0, 100);
const NON_NEGATIVE: Ty = Ty::Range(0, i64::MAX);

/// The whole v0.10 document.
pub(crate) static ROOT: ObjSpec = ObjSpec {
    fields: &[
        opt("logLevel", Ty::Enum(LOG_LEVELS)),
        req("bootstrapDir", Ty::NonEmptyStr),
        opt("consulLogin", Ty::Obj(&LOGIN)),
        opt("controller", Ty::Obj(&CONTROLLER)),
        req("consulServers", Ty::Obj(&CONSUL_SERVERS)),
        opt("healthSyncContainers", Ty::Array(&Ty::Str, true)),
        plain("service", Ty::Obj(&SERVICE)),
        opt("proxy", Ty::Obj(&PROXY)),
        plain("gateway", Ty::Obj(&GATEWAY)),
        opt("transparentProxy", Ty::Obj(&TRANSPARENT_PROXY)),
    ],
    extra: Extra::Forbid,
    aliases: &[],
};

static LOGIN: ObjSpec = ObjSpec {
    fields: &[
        opt("enabled", Ty::Bool),
        opt("method", Ty::Str),
        opt("datacenter", Ty::Str),
        opt("includeEntity", Ty::Bool),
        opt("meta", Ty::StrMap),
        opt("region", Ty::Str),
        opt("stsEndpoint", Ty::Str),
        opt("serverIdHeaderValue", Ty::Str),
    ],
    extra: Extra::Forbid,
    aliases: &[],
};

static CONTROLLER: ObjSpec = ObjSpec {
    fields: &[
        opt("iamRolePath", Ty::Str),
        opt("partitionsEnabled", Ty::Bool),
        opt("partition", Ty::Str),
    ],
    extra: Extra::Forbid,
    aliases: &[],
};

static CONSUL_SERVERS: ObjSpec = ObjSpec {
    fields: &[
        req("hosts", Ty::Str),
        opt("defaults", Ty::Obj(&SERVER_DEFAULTS)),
        opt("http", Ty::Obj(&SERVER_HTTP)),
        opt("grpc", Ty::Obj(&SERVER_GRPC)),
        opt("skipServerWatch", Ty::Bool),
    ],
    extra: Extra::Forbid,
    aliases: &[],
};

// The three TLS blocks have no extra-key rule in the schema.
static SERVER_DEFAULTS: ObjSpec = ObjSpec {
    fields: &[
        opt("caCertFile", Ty::Str),
        opt("tls", Ty::Bool),
        opt("tlsServerName", Ty::Str),
    ],
    extra: Extra::Ignore,
    aliases: &[],
};

static SERVER_HTTP: ObjSpec = ObjSpec {
    fields: &[
        opt("caCertFile", Ty::Str),
        opt("https", Ty::Bool),
        opt("port", Ty::Port),
        opt("tls", Ty::Bool),
        opt("tlsServerName", Ty::Str),
    ],
    extra: Extra::Ignore,
    aliases: &[],
};

static SERVER_GRPC: ObjSpec = ObjSpec {
    fields: &[
        opt("caCertFile", Ty::Str),
        opt("port", Ty::Port),
        opt("tls", Ty::Bool),
        opt("tlsServerName", Ty::Str),
    ],
    extra: Extra::Ignore,
    aliases: &[],
};

static SERVICE: ObjSpec = ObjSpec {
    fields: &[
        opt("name", Ty::Name),
        opt("tags", Ty::Array(&Ty::Str, true)),
        req("port", Ty::Port),
        opt("enableTagOverride", Ty::Bool),
        opt("meta", Ty::StrMap),
        opt("weights", Ty::Obj(&WEIGHTS)),
        opt("namespace", Ty::Str),
        opt("partition", Ty::Str),
        opt("networkResilienceConfig", Ty::Obj(&NETWORK_RESILIENCE)),
    ],
    // Unlike v0.6.2's, the v0.10 `service` block forbids other keys
    // (so `service.checks` is refused).
    extra: Extra::Forbid,
    aliases: &[],
};

static NETWORK_RESILIENCE: ObjSpec = ObjSpec {
    fields: &[
        plain("enabled", Ty::Bool),
        opt("outlierDetection", Ty::Obj(&OUTLIER_DETECTION)),
    ],
    extra: Extra::Forbid,
    aliases: &[],
};

static OUTLIER_DETECTION: ObjSpec = ObjSpec {
    fields: &[
        plain("interval", NON_NEGATIVE),
        plain("maxFailures", Ty::Range(1, i64::MAX)),
        plain("enforcingConsecutive5xx", PERCENT),
        plain("consecutive5xx", NON_NEGATIVE),
        plain("enforcingConsecutiveGatewayFailure", PERCENT),
        plain("consecutiveGatewayFailure", NON_NEGATIVE),
        plain("maxEjectionPercent", PERCENT),
    ],
    extra: Extra::Forbid,
    aliases: &[],
};

static PROXY: ObjSpec = ObjSpec {
    fields: &[
        opt("config", Ty::Opaque),
        opt("localServiceAddress", Ty::Str),
        opt("publicListenerPort", Ty::Port),
        opt("healthCheckPort", Ty::Port),
        opt("upstreams", Ty::Array(&Ty::Obj(&UPSTREAM), false)),
        opt("meshGateway", Ty::Obj(&MESH_GATEWAY)),
        opt("expose", Ty::Obj(&EXPOSE)),
    ],
    extra: Extra::Ignore,
    aliases: &[],
};

static UPSTREAM: ObjSpec = ObjSpec {
    fields: &[
        opt("destinationType", Ty::Enum(DESTINATION_TYPES)),
        opt("destinationNamespace", Ty::Str),
        opt("destinationPartition", Ty::Str),
        req("destinationName", Ty::Str),
        opt("destinationPeer", Ty::Str),
        opt("datacenter", Ty::Str),
        opt("localBindAddress", Ty::Str),
        req("localBindPort", Ty::Port),
        opt("config", Ty::Opaque),
        opt("meshGateway", Ty::Obj(&MESH_GATEWAY)),
    ],
    extra: Extra::Forbid,
    aliases: &[],
};

static GATEWAY: ObjSpec = ObjSpec {
    fields: &[
        req("kind", Ty::Enum(GATEWAY_KINDS)),
        opt("lanAddress", Ty::Obj(&GATEWAY_ADDRESS)),
        opt("wanAddress", Ty::Obj(&GATEWAY_ADDRESS)),
        opt("name", Ty::Name),
        opt("tags", Ty::Array(&Ty::Str, true)),
        opt("meta", Ty::StrMap),
        opt("namespace", Ty::Str),
        opt("partition", Ty::Str),
        opt("healthCheckPort", Ty::Port),
        opt("proxy", Ty::Obj(&GATEWAY_PROXY)),
    ],
    extra: Extra::Forbid,
    aliases: &[],
};

static TRANSPARENT_PROXY: ObjSpec = ObjSpec {
    fields: &[
        opt("enabled", Ty::Bool),
        opt("excludeInboundPorts", Ty::Array(&Ty::Port, true)),
        opt("excludeOutboundPorts", Ty::Array(&Ty::Port, true)),
        opt("excludeOutboundCIDRs", Ty::Array(&Ty::Str, true)),
        opt("excludeUIDs", Ty::Array(&Ty::Str, true)),
        // The one block of the schema that may not be `null`.
        plain("consulDNS", Ty::Obj(&CONSUL_DNS)),
    ],
    extra: Extra::Forbid,
    aliases: &[],
};

static CONSUL_DNS: ObjSpec = ObjSpec {
    fields: &[opt("enabled", Ty::Bool)],
    extra: Extra::Forbid,
    aliases: &[],
};

#[cfg(test)]
mod tests {
    //! The tables against upstream's schema itself: every block, key,
    //! required key, `null` and extra-key rule.

    use serde_json::Value;

    use super::ROOT;
    use crate::schema::{Extra, ObjSpec, Ty};

    fn upstream_schema() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/compat/v0.10/schema.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).expect("upstream schema is JSON")
    }

    fn allows_null(node: &Value) -> bool {
        match node.get("type") {
            None => true, // no type: anything, null included
            Some(Value::Array(types)) => types.iter().any(|t| t == "null"),
            Some(_) => false,
        }
    }

    fn compare(path: &str, node: &Value, spec: &ObjSpec, problems: &mut Vec<String>) {
        let properties = node["properties"]
            .as_object()
            .expect("object with properties");
        let mut theirs: Vec<&str> = properties.keys().map(String::as_str).collect();
        // `proxy.expose` sits beside `properties` upstream; we check it where it belongs.
        if node.get("expose").is_some() {
            theirs.push("expose");
        }
        let mut ours: Vec<&str> = spec.fields.iter().map(|f| f.name).collect();
        theirs.sort_unstable();
        ours.sort_unstable();
        if theirs != ours {
            problems.push(format!("{path}: keys {ours:?}, upstream {theirs:?}"));
        }
        let forbids = node.get("additionalProperties") == Some(&Value::Bool(false));
        if forbids != (spec.extra == Extra::Forbid) {
            problems.push(format!(
                "{path}: extra-key rule differs (upstream forbids: {forbids})"
            ));
        }
        let required: Vec<&str> = node["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for field in spec.fields {
            let field_path = format!("{path}.{}", field.name);
            if field.required != required.contains(&field.name) {
                problems.push(format!("{field_path}: required-ness differs"));
            }
            let Some(child) = properties.get(field.name).or(node.get(field.name)) else {
                continue;
            };
            // Upstream never applies the misplaced `expose` schema, so `null`
            // passes there everywhere; the shared v0.6.2 table allows it too.
            let unchecked = field_path.starts_with("(root).proxy.expose.");
            if !unchecked && field.nullable != allows_null(child) {
                problems.push(format!("{field_path}: null allowed differs"));
            }
            match field.ty {
                Ty::Obj(inner) => compare(&field_path, child, inner, problems),
                Ty::Array(Ty::Obj(inner), _) => {
                    compare(&field_path, &child["items"], inner, problems)
                }
                _ => {}
            }
        }
    }

    #[test]
    fn the_tables_have_every_key_and_rule_of_upstreams_schema() {
        let mut problems = Vec::new();
        compare("(root)", &upstream_schema(), &ROOT, &mut problems);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
