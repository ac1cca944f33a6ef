//! Agent endpoints (`/v1/agent/...`), config entries and the catalog service list, with
//! the validation, defaults and ACL checks of a Consul client agent.

use serde_json::{json, Map, Value};

use super::filter::Expr;
use super::rules::Access;
use super::state::{content_hash, CheckEntry, ServiceEntry, State};
use super::wire::{
    boolean, decode, empty_ok, go_duration, int, json, parse_duration, s, strings, ApiError, Reply,
    Shape, ANY, BOOL, INT, STR, STRS, STR_MAP,
};
use super::Req;

pub(crate) static WEIGHTS: Shape = Shape::Obj(&[("Passing", &INT), ("Warning", &INT)]);
static TAGGED: Shape = Shape::Obj(&[("Address", &STR), ("Port", &INT)]);
pub(crate) static TAGGED_MAP: Shape = Shape::Map(&TAGGED);
static MESH_GW: Shape = Shape::Obj(&[("Mode", &STR)]);
static EXPOSE_PATH: Shape = Shape::Obj(&[
    ("ListenerPort", &INT),
    ("Path", &STR),
    ("LocalPathPort", &INT),
    ("Protocol", &STR),
    ("ParsedFromCheck", &BOOL),
]);
static EXPOSE_PATHS: Shape = Shape::List(&EXPOSE_PATH);
static EXPOSE: Shape = Shape::Obj(&[("Checks", &BOOL), ("Paths", &EXPOSE_PATHS)]);
static UPSTREAM: Shape = Shape::Obj(&[
    ("DestinationType", &STR),
    ("DestinationNamespace", &STR),
    ("DestinationPartition", &STR),
    ("DestinationPeer", &STR),
    ("DestinationName", &STR),
    ("Datacenter", &STR),
    ("LocalBindAddress", &STR),
    ("LocalBindPort", &INT),
    ("LocalBindSocketPath", &STR),
    ("LocalBindSocketMode", &STR),
    ("Config", &ANY),
    ("MeshGateway", &MESH_GW),
    ("CentrallyConfigured", &BOOL),
]);
static UPSTREAMS: Shape = Shape::List(&UPSTREAM);
pub(crate) static PROXY: Shape = Shape::Obj(&[
    ("DestinationServiceName", &STR),
    ("DestinationServiceID", &STR),
    ("LocalServiceAddress", &STR),
    ("LocalServicePort", &INT),
    ("LocalServiceSocketPath", &STR),
    ("Mode", &STR),
    ("TransparentProxy", &ANY),
    ("Config", &ANY),
    ("Upstreams", &UPSTREAMS),
    ("MeshGateway", &MESH_GW),
    ("Expose", &EXPOSE),
    ("EnvoyExtensions", &ANY),
    ("AccessLogs", &ANY),
]);
static CHECK: Shape = Shape::Obj(&[
    ("CheckID", &STR),
    ("Name", &STR),
    ("ScriptArgs", &STRS),
    ("DockerContainerID", &STR),
    ("Shell", &STR),
    ("Interval", &ANY),
    ("Timeout", &ANY),
    ("TTL", &ANY),
    ("HTTP", &STR),
    ("Header", &ANY),
    ("Method", &STR),
    ("Body", &STR),
    ("DisableRedirects", &BOOL),
    ("TCP", &STR),
    ("TCPUseTLS", &BOOL),
    ("UDP", &STR),
    ("GRPC", &STR),
    ("GRPCUseTLS", &BOOL),
    ("H2PING", &STR),
    ("H2PingUseTLS", &BOOL),
    ("OSService", &STR),
    ("AliasNode", &STR),
    ("AliasService", &STR),
    ("Status", &STR),
    ("Notes", &STR),
    ("TLSServerName", &STR),
    ("TLSSkipVerify", &BOOL),
    ("SuccessBeforePassing", &INT),
    ("FailuresBeforeWarning", &INT),
    ("FailuresBeforeCritical", &INT),
    ("DeregisterCriticalServiceAfter", &ANY),
    ("OutputMaxSize", &INT),
]);
static CHECKS: Shape = Shape::List(&CHECK);
static REGISTRATION: Shape = Shape::Obj(&[
    ("Kind", &STR),
    ("ID", &STR),
    ("Name", &STR),
    ("Tags", &STRS),
    ("Port", &INT),
    ("Address", &STR),
    ("SocketPath", &STR),
    ("TaggedAddresses", &TAGGED_MAP),
    ("EnableTagOverride", &BOOL),
    ("Meta", &STR_MAP),
    ("Weights", &WEIGHTS),
    ("Check", &CHECK),
    ("Checks", &CHECKS),
    ("Proxy", &PROXY),
    ("Connect", &ANY),
    ("Namespace", &STR),
    ("Partition", &STR),
    ("Locality", &ANY),
]);
static CHECK_UPDATE: Shape = Shape::Obj(&[("Status", &STR), ("Output", &STR)]);
static CONFIG_ENTRY: Shape = Shape::Any;

const CHECK_STATUSES: &[&str] = &["passing", "warning", "critical"];

/// `PUT /v1/agent/service/register`.
pub(crate) fn register(st: &mut State, req: &Req) -> Reply {
    let reg = decode(&req.body, &REGISTRATION)
        .map_err(|e| ApiError::bad_request(format!("Request decode failed: {e}")))?;
    if !st.opts.enterprise {
        for field in ["Namespace", "Partition"] {
            if reg.get(field).is_some() {
                return Err(ApiError::bad_request(format!(
                    "Request decode failed: json: unknown field {field:?}"
                )));
            }
        }
    }
    let name = s(&reg, "Name").to_string();
    if name.is_empty() {
        return Err(ApiError::bad_request("Missing service name"));
    }
    let address = s(&reg, "Address");
    if let Ok(ip) = address.parse::<std::net::IpAddr>() {
        if ip.is_unspecified() {
            return Err(ApiError::bad_request("Invalid service address"));
        }
    }
    // Consul 1.15 resolves the token here, before validating the rest of the body: an
    // unknown token is 403 `ACL not found` even for an invalid registration.
    let caller = st.caller(req.token.as_deref())?;
    validate_meta(reg.get("Meta"))?;
    let kind = s(&reg, "Kind").to_string();
    let proxy = reg.get("Proxy").cloned().unwrap_or(Value::Null);
    let problems = service_problems(&reg);
    if !problems.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Validation failed: {}",
            go_multierror(&problems)
        )));
    }
    let mut defs: Vec<Value> = Vec::new();
    if let Some(c) = reg.get("Check").filter(|c| !c.is_null()) {
        defs.push(c.clone());
    }
    for c in reg
        .get("Checks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        defs.push(c.clone());
    }
    let id = match s(&reg, "ID") {
        "" => name.clone(),
        other => other.to_string(),
    };
    let tags = strings(&reg, "Tags");
    let total = defs.len();
    let mut new_checks = Vec::new();
    for (i, def) in defs.iter().enumerate() {
        new_checks.push(build_check(def, &id, &name, &tags, i, total)?);
    }

    caller.need("service", &name, Access::Write)?;
    if kind == "connect-proxy" {
        caller.need(
            "service",
            s(&proxy, "DestinationServiceName"),
            Access::Write,
        )?;
    }

    let replace = req.query_flag("replace-existing-checks");
    if replace {
        st.checks.retain(|_, c| {
            c.service_id != id || new_checks.iter().any(|n: &CheckEntry| n.id == c.id)
        });
    }
    for mut check in new_checks {
        if let Some(old) = st.checks.get(&check.id) {
            // Re-registering keeps the current state unless the request sets one.
            if !defs_set_status(&defs, &check.id, &id, total) {
                check.status = old.status.clone();
                check.output = old.output.clone();
            }
        }
        st.checks.insert(check.id.clone(), check);
    }
    // Existing checks of the service follow its new tags.
    for c in st.checks.values_mut().filter(|c| c.service_id == id) {
        c.service_tags = tags.clone();
        c.service_name = name.clone();
    }
    st.next_index();
    st.services
        .insert(id.clone(), ServiceEntry { id, name, reg });
    Ok(empty_ok())
}

/// What `NodeService.Validate` finds wrong with a service definition (`Kind`, `Port`,
/// `SocketPath`, `Proxy`), in Consul's order; shared by the agent and catalog endpoints.
pub(crate) fn service_problems(reg: &Value) -> Vec<String> {
    let kind = s(reg, "Kind").to_string();
    let proxy = reg.get("Proxy").cloned().unwrap_or(Value::Null);
    let mut problems: Vec<&str> = Vec::new();
    let mut problems_owned: Vec<String> = Vec::new();
    if kind == "connect-proxy" {
        if s(&proxy, "DestinationServiceName").is_empty() {
            problems
                .push("Proxy.DestinationServiceName must be non-empty for Connect proxy services");
        }
        if int(reg, "Port") == 0 && s(reg, "SocketPath").is_empty() {
            problems.push("Port or SocketPath must be set for a connect-proxy");
        }
    }
    let is_gateway = matches!(
        kind.as_str(),
        "mesh-gateway" | "terminating-gateway" | "ingress-gateway"
    );
    if kind == "connect-proxy" {
        let mut keys = Vec::new();
        let mut addrs = Vec::new();
        for u in proxy
            .get("Upstreams")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = format!(
                "[type={:?}, name={:?}, partition={:?}, namespace={:?}, peer={:?}, datacenter={:?}]",
                match s(u, "DestinationType") {
                    "" => "service",
                    t => t,
                },
                s(u, "DestinationName"),
                s(u, "DestinationPartition"),
                s(u, "DestinationNamespace"),
                s(u, "DestinationPeer"),
                s(u, "Datacenter"),
            );
            if keys.contains(&key) {
                problems_owned.push(format!("upstreams cannot contain duplicates of {key}"));
                continue;
            }
            keys.push(key);
            let addr = match s(u, "LocalBindSocketPath") {
                "" => {
                    let host = match s(u, "LocalBindAddress") {
                        "" => "127.0.0.1",
                        h => h,
                    };
                    format!("{host}:{}", int(u, "LocalBindPort"))
                }
                path => path.to_string(),
            };
            if addrs.contains(&addr) && !boolean(u, "CentrallyConfigured") {
                problems_owned.push(format!("upstreams cannot contain duplicates by local bind address and port or unix path; {addr:?} is specified twice"));
                continue;
            }
            addrs.push(addr);
        }
    }
    if is_gateway {
        if int(reg, "Port") == 0 && kind != "ingress-gateway" {
            problems_owned.push(format!("Port must be non-zero for a {kind}"));
        }
        for field in [
            "DestinationServiceName",
            "DestinationServiceID",
            "LocalServiceAddress",
            "LocalServicePort",
            "LocalServiceSocketPath",
            "Upstreams",
        ] {
            if proxy.get(field).is_some_and(|v| !is_empty(v)) {
                problems_owned.push(format!(
                    "The Proxy.{field} configuration is invalid for a {kind}"
                ));
            }
        }
    }
    problems
        .iter()
        .map(|p| p.to_string())
        .chain(problems_owned)
        .collect()
}

/// Problems as Go's `multierror` prints them (`1 error occurred:\n\t* …\n\n`).
pub(crate) fn go_multierror(problems: &[String]) -> String {
    let list: String = problems.iter().map(|p| format!("\t* {p}\n")).collect();
    format!(
        "{} error{} occurred:\n{list}\n",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    )
}

/// Consul's service `Meta` rules (`Invalid Service Meta: …`).
pub(crate) fn validate_meta(meta: Option<&Value>) -> Result<(), ApiError> {
    let Some(map) = meta.and_then(Value::as_object) else {
        return Ok(());
    };
    let fail = |why: &str| {
        Err(ApiError::bad_request(format!(
            "Invalid Service Meta: {why}"
        )))
    };
    if map.len() > 64 {
        return fail("Node metadata cannot contain more than 64 key/value pairs");
    }
    for (k, v) in map {
        if k.len() > 128 {
            return fail("Key is too long (limit: 128 characters)");
        }
        if !k
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return fail("Key contains invalid characters");
        }
        if k.starts_with("consul-") {
            return fail("Key prefix 'consul-' is reserved for internal use");
        }
        if v.as_str().map_or(0, str::len) > 512 {
            return fail("Value is too long (limit: 512 characters)");
        }
    }
    Ok(())
}

fn defs_set_status(defs: &[Value], check_id: &str, service_id: &str, total: usize) -> bool {
    defs.iter().enumerate().any(|(i, d)| {
        default_check_id(d, service_id, i, total) == check_id && !s(d, "Status").is_empty()
    })
}

fn default_check_id(def: &Value, service_id: &str, i: usize, total: usize) -> String {
    match s(def, "CheckID") {
        "" if total == 1 => format!("service:{service_id}"),
        "" => format!("service:{service_id}:{}", i + 1),
        other => other.to_string(),
    }
}

fn build_check(
    def: &Value,
    service_id: &str,
    service_name: &str,
    tags: &[String],
    i: usize,
    total: usize,
) -> Result<CheckEntry, ApiError> {
    let decode_err = |e: String| ApiError::bad_request(format!("Request decode failed: {e}"));
    let ttl = parse_duration(def.get("TTL").unwrap_or(&Value::Null)).map_err(decode_err)?;
    let interval =
        parse_duration(def.get("Interval").unwrap_or(&Value::Null)).map_err(decode_err)?;
    let timeout = parse_duration(def.get("Timeout").unwrap_or(&Value::Null)).map_err(decode_err)?;
    let has = |k: &str| !s(def, k).is_empty();
    let script = def
        .get("ScriptArgs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let kind = if def.get("TTL").is_some_and(|v| !v.is_null()) {
        "ttl"
    } else if script && has("DockerContainerID") {
        "docker"
    } else if script {
        "script"
    } else if has("HTTP") {
        "http"
    } else if has("TCP") {
        "tcp"
    } else if has("UDP") {
        "udp"
    } else if has("GRPC") {
        "grpc"
    } else if has("H2PING") {
        "h2ping"
    } else if has("OSService") {
        "os_service"
    } else if has("AliasService") || has("AliasNode") {
        "alias"
    } else {
        return Err(ApiError::bad_request(
            "Invalid check: Must provide TTL or ScriptArgs/DockerContainerID/HTTP/TCP/UDP/GRPC/H2PING/OSService/AliasNode/AliasService and Interval",
        ));
    };
    if kind == "ttl" && ttl.is_zero() {
        return Err(ApiError::bad_request(
            "Invalid check: TTL must be > 0 for TTL checks",
        ));
    }
    if !matches!(kind, "ttl" | "alias") && interval.is_zero() {
        return Err(ApiError::bad_request(
            "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks",
        ));
    }
    let status = match s(def, "Status") {
        "" => "critical".to_string(),
        st if CHECK_STATUSES.contains(&st) => st.to_string(),
        _ => {
            return Err(ApiError::bad_request(
                "Status for checks must 'passing', 'warning', 'critical'",
            ))
        }
    };
    let name = match s(def, "Name") {
        "" => format!("Service '{service_name}' check"),
        other => other.to_string(),
    };
    let fmt = |d: std::time::Duration| {
        if d.is_zero() {
            String::new()
        } else {
            go_duration(d)
        }
    };
    Ok(CheckEntry {
        id: default_check_id(def, service_id, i, total),
        name,
        status,
        notes: s(def, "Notes").to_string(),
        output: String::new(),
        service_id: service_id.to_string(),
        service_name: service_name.to_string(),
        service_tags: tags.to_vec(),
        kind: kind.to_string(),
        interval: fmt(interval),
        timeout: fmt(timeout),
    })
}

/// The JSON of a service (docs/protocols.md §4.4); `with_hash` adds `ContentHash`
/// (single-service read).
pub(crate) fn service_json(st: &State, svc: &ServiceEntry, with_hash: bool) -> Value {
    let reg = &svc.reg;
    let mut obj = Map::new();
    let kind = s(reg, "Kind");
    if !kind.is_empty() {
        obj.insert("Kind".into(), json!(kind));
    }
    obj.insert("ID".into(), json!(svc.id));
    obj.insert("Service".into(), json!(svc.name));
    obj.insert("Tags".into(), json!(strings(reg, "Tags")));
    obj.insert(
        "Meta".into(),
        reg.get("Meta")
            .filter(|m| m.is_object())
            .cloned()
            .unwrap_or_else(|| json!({})),
    );
    obj.insert("Port".into(), json!(int(reg, "Port")));
    let address = s(reg, "Address");
    obj.insert("Address".into(), json!(address));
    if !s(reg, "SocketPath").is_empty() {
        obj.insert("SocketPath".into(), json!(s(reg, "SocketPath")));
    }
    let mut tagged = reg
        .get("TaggedAddresses")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Ok(ip) = address.parse::<std::net::IpAddr>() {
        let port = int(reg, "Port");
        let (lan, wan) = if ip.is_ipv4() {
            ("lan_ipv4", "wan_ipv4")
        } else {
            ("lan_ipv6", "wan_ipv6")
        };
        for key in [lan, wan] {
            tagged
                .entry(key.to_string())
                .or_insert_with(|| json!({"Address": address, "Port": port}));
        }
    }
    if !tagged.is_empty() {
        obj.insert("TaggedAddresses".into(), Value::Object(tagged));
    }
    let weights = reg.get("Weights").filter(|w| w.is_object());
    obj.insert(
        "Weights".into(),
        json!({
            "Passing": weights.map_or(1, |w| int(w, "Passing").max(1)),
            "Warning": weights.map_or(1, |w| int(w, "Warning")),
        }),
    );
    obj.insert(
        "EnableTagOverride".into(),
        json!(boolean(reg, "EnableTagOverride")),
    );
    if let Some(proxy) = reg.get("Proxy").filter(|p| p.is_object()) {
        obj.insert("Proxy".into(), proxy_json(proxy));
    } else if kind == "connect-proxy" || kind.ends_with("-gateway") {
        obj.insert("Proxy".into(), json!({"MeshGateway": {}, "Expose": {}}));
    }
    if let Some(connect) = reg.get("Connect").filter(|c| c.is_object()) {
        obj.insert("Connect".into(), connect.clone());
    }
    if st.opts.enterprise {
        obj.insert(
            "Namespace".into(),
            json!(match s(reg, "Namespace") {
                "" => "default",
                ns => ns,
            }),
        );
        obj.insert(
            "Partition".into(),
            json!(match s(reg, "Partition") {
                "" => "default",
                p => p,
            }),
        );
    }
    obj.insert("Datacenter".into(), json!(st.opts.datacenter));
    if with_hash {
        let hash = content_hash(&Value::Object(obj.clone()).to_string());
        obj.insert("ContentHash".into(), json!(hash));
    }
    Value::Object(obj)
}

pub(crate) fn proxy_json(proxy: &Value) -> Value {
    let mut out = Map::new();
    for key in [
        "DestinationServiceName",
        "DestinationServiceID",
        "LocalServiceAddress",
        "LocalServicePort",
        "LocalServiceSocketPath",
        "Mode",
        "TransparentProxy",
        "Config",
    ] {
        if let Some(v) = proxy.get(key).filter(|v| !is_empty(v)) {
            out.insert(key.to_string(), v.clone());
        }
    }
    out.insert(
        "MeshGateway".into(),
        proxy
            .get("MeshGateway")
            .filter(|v| v.is_object())
            .cloned()
            .unwrap_or_else(|| json!({})),
    );
    out.insert(
        "Expose".into(),
        proxy
            .get("Expose")
            .filter(|v| v.is_object())
            .cloned()
            .unwrap_or_else(|| json!({})),
    );
    if let Some(ups) = proxy.get("Upstreams").and_then(Value::as_array) {
        let ups: Vec<Value> = ups
            .iter()
            .map(|u| {
                let mut m = Map::new();
                m.insert(
                    "DestinationType".into(),
                    json!(match s(u, "DestinationType") {
                        "" => "service",
                        t => t,
                    }),
                );
                if let Some(obj) = u.as_object() {
                    for (k, v) in obj {
                        if k != "DestinationType" && k != "MeshGateway" && !is_empty(v) {
                            m.insert(k.clone(), v.clone());
                        }
                    }
                }
                m.insert(
                    "MeshGateway".into(),
                    u.get("MeshGateway")
                        .filter(|v| v.is_object())
                        .cloned()
                        .unwrap_or_else(|| json!({})),
                );
                Value::Object(m)
            })
            .collect();
        if !ups.is_empty() {
            out.insert("Upstreams".into(), Value::Array(ups));
        }
    }
    for key in ["EnvoyExtensions", "AccessLogs"] {
        if let Some(v) = proxy.get(key).filter(|v| !is_empty(v)) {
            out.insert(key.to_string(), v.clone());
        }
    }
    Value::Object(out)
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Bool(b) => !b,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// The JSON of a check (docs/protocols.md §4.6).
pub(crate) fn check_json(st: &State, c: &CheckEntry) -> Value {
    json!({
        "Node": st.opts.node_name,
        "CheckID": c.id,
        "Name": c.name,
        "Status": c.status,
        "Notes": c.notes,
        "Output": c.output,
        "ServiceID": c.service_id,
        "ServiceName": c.service_name,
        "ServiceTags": c.service_tags,
        "Type": c.kind,
        "Interval": c.interval,
        "Timeout": c.timeout,
        "ExposedPort": 0,
        "Definition": {},
        "CreateIndex": 0,
        "ModifyIndex": 0,
    })
}

/// `PUT /v1/agent/service/deregister/:id`.
pub(crate) fn deregister(st: &mut State, req: &Req, id: &str) -> Reply {
    let caller = st.caller(req.token.as_deref())?;
    let Some(svc) = st.services.get(id) else {
        return Err(ApiError::not_found(format!(
            "Unknown service ID {id:?}. Ensure that the service ID is passed, not the service name."
        )));
    };
    caller.need("service", &svc.name.clone(), Access::Write)?;
    st.services.remove(id);
    st.checks.retain(|_, c| c.service_id != id);
    st.next_index();
    Ok(empty_ok())
}

/// `GET /v1/agent/service/:id`.
pub(crate) fn get_service(st: &State, req: &Req, id: &str) -> Reply {
    let caller = st.caller(req.token.as_deref())?;
    let Some(svc) = st.services.get(id) else {
        return Err(ApiError::not_found(format!("unknown service ID: {id}")));
    };
    caller.need("service", &svc.name, Access::Read)?;
    let body = service_json(st, svc, true);
    let mut resp = json(&body);
    if let Some(hash) = body.get("ContentHash").and_then(Value::as_str) {
        if let Ok(v) = http::HeaderValue::from_str(hash) {
            resp.headers_mut().insert("X-Consul-ContentHash", v);
        }
    }
    Ok(resp)
}

pub(crate) fn filter_expr(req: &Req) -> Result<Option<Expr>, ApiError> {
    match req.query_value("filter") {
        Some(f) if !f.is_empty() => Expr::parse(f, None).map(Some).map_err(|e| {
            ApiError::bad_request(format!("Failed to create evaluator for expression: {e}"))
        }),
        _ => Ok(None),
    }
}

/// `GET /v1/agent/services`: silently filtered by `service:read`.
pub(crate) fn list_services(st: &State, req: &Req) -> Reply {
    let caller = st.caller(req.token.as_deref())?;
    let filter = filter_expr(req)?;
    let mut out = Map::new();
    for svc in st.services.values() {
        if !caller.authz.allowed("service", &svc.name, Access::Read) {
            continue;
        }
        let v = service_json(st, svc, false);
        if filter.as_ref().is_none_or(|f| f.eval(&v)) {
            out.insert(svc.id.clone(), v);
        }
    }
    Ok(json(&Value::Object(out)))
}

/// `GET /v1/agent/checks`: silently filtered by `service:read` (node checks: `node:read`).
pub(crate) fn list_checks(st: &State, req: &Req) -> Reply {
    let caller = st.caller(req.token.as_deref())?;
    let filter = filter_expr(req)?;
    let mut out = Map::new();
    for c in st.checks.values() {
        let visible = if c.service_id.is_empty() {
            caller
                .authz
                .allowed("node", &st.opts.node_name, Access::Read)
        } else {
            caller
                .authz
                .allowed("service", &c.service_name, Access::Read)
        };
        if !visible {
            continue;
        }
        let v = check_json(st, c);
        if filter.as_ref().is_none_or(|f| f.eval(&v)) {
            out.insert(c.id.clone(), v);
        }
    }
    Ok(json(&Value::Object(out)))
}

/// `PUT /v1/agent/check/update/:id` (and the legacy pass/warn/fail forms via `fixed`).
pub(crate) fn update_check(st: &mut State, req: &Req, id: &str, fixed: Option<&str>) -> Reply {
    let (status, output) = match fixed {
        Some(status) => (
            status.to_string(),
            req.query_value("note").unwrap_or("").to_string(),
        ),
        None => {
            let body = decode(&req.body, &CHECK_UPDATE)
                .map_err(|e| ApiError::bad_request(format!("Request decode failed: {e}")))?;
            (
                s(&body, "Status").to_string(),
                s(&body, "Output").to_string(),
            )
        }
    };
    if !CHECK_STATUSES.contains(&status.as_str()) {
        return Err(ApiError::bad_request(format!(
            "Invalid check status: '{status}'"
        )));
    }
    let caller = st.caller(req.token.as_deref())?;
    let Some(check) = st.checks.get(id) else {
        return Err(ApiError::not_found(format!(
            "Unknown check ID {id:?}. Ensure that the check ID is passed, not the check name."
        )));
    };
    if check.service_id.is_empty() {
        caller.need("node", &st.opts.node_name, Access::Write)?;
    } else {
        caller.need("service", &check.service_name, Access::Write)?;
    }
    if check.kind != "ttl" {
        return Err(ApiError::internal(format!(
            "CheckID {id:?} does not have associated TTL"
        )));
    }
    if let Some(check) = st.checks.get_mut(id) {
        check.status = status;
        // Consul truncates output to 4 KiB by default.
        check.output = output.chars().take(4096).collect();
    }
    Ok(empty_ok())
}

/// `GET /v1/agent/self` (needs `agent:read` on this node).
pub(crate) fn agent_self(st: &State, req: &Req) -> Reply {
    let caller = st.caller(req.token.as_deref())?;
    caller.need("agent", &st.opts.node_name, Access::Read)?;
    let o = &st.opts;
    let version = if o.enterprise {
        "1.15.10+ent"
    } else {
        "1.15.10"
    };
    let primary = o.primary_datacenter.as_deref().unwrap_or(&o.datacenter);
    let mut config = json!({
        "Datacenter": o.datacenter,
        "PrimaryDatacenter": primary,
        "NodeName": o.node_name,
        "NodeID": "4f7c3bd4-3c5c-0c2e-7d7a-4b8d2c7a1e90",
        "Revision": "5e08e229",
        "Server": false,
        "Version": version,
        "BuildDate": "2023-08-05T21:20:54Z",
    });
    if o.enterprise {
        config["Partition"] = json!("default");
    }
    let grpc = i64::from(o.grpc_port);
    let tls = o.grpc_tls_port.map_or(-1, i64::from);
    let xds_port = if tls > 0 { tls } else { grpc };
    Ok(json(&json!({
        "Config": config,
        "DebugConfig": {
            "Datacenter": o.datacenter,
            "PrimaryDatacenter": primary,
            "NodeName": o.node_name,
            "GRPCPort": grpc,
            "GRPCTLSPort": tls,
            "GRPCAddrs": [format!("tcp://127.0.0.1:{grpc}")],
        },
        "Coord": {"Adjustment": 0, "Error": 1.5, "Vec": [0, 0, 0, 0, 0, 0, 0, 0], "Height": 1e-05},
        "Member": {"Name": o.node_name, "Addr": "127.0.0.1", "Port": 8301, "Tags": {"dc": o.datacenter, "role": "node"}, "Status": 1},
        "Stats": {"agent": {"check_monitors": "0"}},
        "Meta": {"consul-network-segment": ""},
        "xDS": {
            "SupportedProxies": {"envoy": ["1.26.4", "1.25.9", "1.24.10", "1.23.12"]},
            "Port": xds_port,
            "Ports": {"Plaintext": grpc, "TLS": tls},
        },
    })))
}

/// `GET /v1/config/:kind/:name` (reads of proxy-defaults are open to any token).
pub(crate) fn config_get(st: &State, req: &Req, kind: &str, name: &str) -> Reply {
    st.caller(req.token.as_deref())?;
    match st.config_entries.get(&(kind.to_string(), name.to_string())) {
        Some(v) => Ok(json(v)),
        None => Err(ApiError::not_found(format!(
            "Config entry not found for {kind:?} / {name:?}"
        ))),
    }
}

/// `GET /v1/config/:kind`.
pub(crate) fn config_list(st: &State, req: &Req, kind: &str) -> Reply {
    st.caller(req.token.as_deref())?;
    let items: Vec<Value> = st
        .config_entries
        .iter()
        .filter(|((k, _), _)| k == kind)
        .map(|(_, v)| v.clone())
        .collect();
    Ok(json(&Value::Array(items)))
}

/// Stores a config entry; `Kind` and `Name` come from the body.
pub(crate) fn store_config_entry(st: &mut State, entry: &Value) -> Result<(), ApiError> {
    let kind = s(entry, "Kind").to_string();
    let name = s(entry, "Name").to_string();
    if kind.is_empty() || name.is_empty() {
        return Err(ApiError::bad_request(
            "Request decoding failed: Kind and Name are required",
        ));
    }
    if kind == "proxy-defaults" && name != "global" {
        return Err(ApiError::internal(format!(
            "invalid name {name:?}, only \"global\" is supported"
        )));
    }
    let index = st.next_index();
    let mut stored = entry.clone();
    let key = (kind, name);
    let create = st.config_entries.get(&key).map_or(index, |old| {
        old.get("CreateIndex")
            .and_then(Value::as_u64)
            .unwrap_or(index)
    });
    stored["CreateIndex"] = json!(create);
    stored["ModifyIndex"] = json!(index);
    st.config_entries.insert(key, stored);
    Ok(())
}

/// `PUT /v1/config` (needs `mesh:write`, which `operator:write` implies).
pub(crate) fn config_put(st: &mut State, req: &Req) -> Reply {
    let entry = decode(&req.body, &CONFIG_ENTRY)
        .map_err(|e| ApiError::bad_request(format!("Request decoding failed: {e}")))?;
    let caller = st.caller(req.token.as_deref())?;
    caller.need_global("mesh", Access::Write)?;
    store_config_entry(st, &entry)?;
    Ok(json(&json!(true)))
}

/// `DELETE /v1/config/:kind/:name`.
pub(crate) fn config_delete(st: &mut State, req: &Req, kind: &str, name: &str) -> Reply {
    let caller = st.caller(req.token.as_deref())?;
    caller.need_global("mesh", Access::Write)?;
    st.config_entries
        .remove(&(kind.to_string(), name.to_string()));
    st.next_index();
    Ok(json(&json!(true)))
}

/// `GET /v1/catalog/services`: name → tags, filtered by `service:read`.
pub(crate) fn catalog_services(st: &State, req: &Req) -> Reply {
    let caller = st.caller(req.token.as_deref())?;
    let mut out: Map<String, Value> = Map::new();
    for svc in st.services.values() {
        if !caller.authz.allowed("service", &svc.name, Access::Read) {
            continue;
        }
        let entry = out.entry(svc.name.clone()).or_insert_with(|| json!([]));
        if let Some(list) = entry.as_array_mut() {
            for t in strings(&svc.reg, "Tags") {
                if !list.iter().any(|x| x == &json!(t)) {
                    list.push(json!(t));
                }
            }
        }
    }
    Ok(json(&Value::Object(out)))
}
