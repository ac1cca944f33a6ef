//! The server-side catalog the dataplane layout (consul-ecs v0.10) writes to
//! (docs/protocols.md §9): `PUT /v1/catalog/register` and `/deregister`,
//! `GET /v1/catalog/node-services/:node`, `GET /v1/health/checks/:service`, and the
//! service-defaults config entry, with the validation, error texts and ACL checks of
//! Consul 1.15's `Catalog.Register` / `Catalog.Deregister` (`vetRegisterWithACL`,
//! `vetDeregisterWithACL`), `filterHealthChecks` and `ServiceConfigEntry.CanRead/CanWrite`.
//!
//! Nodes live in a partition; services and checks in a namespace of it (both empty on CE).
//! RPC errors that are not ACL denials come back as 500 with Consul's text, as the HTTP
//! layer of a Consul agent or server sends them.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::agent::{
    filter_expr, go_multierror, proxy_json, service_problems, store_config_entry, PROXY,
    TAGGED_MAP, WEIGHTS,
};
use super::filter::Expr;
use super::rules::Access;
use super::scope::Scope;
use super::state::{Caller, State};
use super::wire::{
    decode, int, json, s, strings, ApiError, Reply, Shape, ANY, BOOL, INT, STR, STRS, STR_MAP,
};
use super::Req;

static SERVICE: Shape = Shape::Obj(&[
    ("Kind", &STR),
    ("ID", &STR),
    ("Service", &STR),
    ("Tags", &STRS),
    ("Address", &STR),
    ("TaggedAddresses", &TAGGED_MAP),
    ("Meta", &STR_MAP),
    ("Port", &INT),
    ("SocketPath", &STR),
    ("Weights", &WEIGHTS),
    ("EnableTagOverride", &BOOL),
    ("Proxy", &PROXY),
    ("Connect", &ANY),
    ("Locality", &ANY),
    ("Namespace", &STR),
    ("Partition", &STR),
    ("PeerName", &STR),
    ("CreateIndex", &INT),
    ("ModifyIndex", &INT),
]);
static HEALTH_CHECK: Shape = Shape::Obj(&[
    ("Node", &STR),
    ("CheckID", &STR),
    ("Name", &STR),
    ("Status", &STR),
    ("Notes", &STR),
    ("Output", &STR),
    ("ServiceID", &STR),
    ("ServiceName", &STR),
    ("ServiceTags", &STRS),
    ("Type", &STR),
    ("Interval", &STR),
    ("Timeout", &STR),
    ("ExposedPort", &INT),
    ("Definition", &ANY),
    ("Namespace", &STR),
    ("Partition", &STR),
    ("PeerName", &STR),
    ("CreateIndex", &INT),
    ("ModifyIndex", &INT),
]);
static HEALTH_CHECKS: Shape = Shape::List(&HEALTH_CHECK);
static REGISTER: Shape = Shape::Obj(&[
    ("ID", &STR),
    ("Node", &STR),
    ("Address", &STR),
    ("Datacenter", &STR),
    ("TaggedAddresses", &STR_MAP),
    ("NodeMeta", &STR_MAP),
    ("Service", &SERVICE),
    ("Check", &HEALTH_CHECK),
    ("Checks", &HEALTH_CHECKS),
    ("SkipNodeUpdate", &BOOL),
    ("Locality", &ANY),
    ("Namespace", &STR),
    ("Partition", &STR),
    ("PeerName", &STR),
    ("Token", &STR),
]);
static DEREGISTER: Shape = Shape::Obj(&[
    ("Node", &STR),
    ("Datacenter", &STR),
    ("ServiceID", &STR),
    ("CheckID", &STR),
    ("Namespace", &STR),
    ("Partition", &STR),
    ("PeerName", &STR),
    ("Token", &STR),
]);

/// Every catalog node, keyed by (partition, node name).
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    nodes: BTreeMap<(String, String), Node>,
}

/// A node with its services and checks, each keyed by (namespace, ID).
#[derive(Debug)]
struct Node {
    id: String,
    name: String,
    address: String,
    tagged_addresses: Value,
    meta: Value,
    create_index: u64,
    modify_index: u64,
    services: BTreeMap<(String, String), Value>,
    checks: BTreeMap<(String, String), Value>,
}

impl Node {
    /// `RegisterRequest.ChangesNode`: whether writing `body` alters the stored node.
    fn changed_by(&self, body: &Value) -> bool {
        if body.get("SkipNodeUpdate").and_then(Value::as_bool) == Some(true) {
            return false;
        }
        s(body, "ID") != self.id
            || !s(body, "Node").eq_ignore_ascii_case(&self.name)
            || s(body, "Address") != self.address
            || body.get("TaggedAddresses").cloned().unwrap_or(Value::Null) != self.tagged_addresses
            || body.get("NodeMeta").cloned().unwrap_or(Value::Null) != self.meta
    }
}

/// Consul's text for an error that is not an ACL denial: HTTP 500 with the RPC error.
fn rpc_error(message: impl Into<String>) -> ApiError {
    ApiError::internal(message)
}

/// CE has no tenancy: the fields are unknown there.
fn reject_tenancy_fields(st: &State, objects: &[&Value]) -> Result<(), ApiError> {
    if st.opts.enterprise {
        return Ok(());
    }
    for obj in objects {
        for field in ["Namespace", "Partition"] {
            if obj.get(field).is_some() {
                return Err(ApiError::bad_request(format!(
                    "Request decode failed: json: unknown field {field:?}"
                )));
            }
        }
    }
    Ok(())
}

/// The namespace an object of a request lives in: its own `Namespace`, else the request's.
fn namespace_of(obj: &Value, request: &Scope) -> String {
    match s(obj, "Namespace") {
        "" => request.namespace.clone(),
        ns => ns.to_string(),
    }
}

/// go-uuid's `ParseUUID` checks, with its texts.
fn check_node_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() {
        return Ok(());
    }
    let hex = |part: &str| part.chars().all(|c| c.is_ascii_hexdigit());
    let parts: Vec<&str> = id.split('-').collect();
    let reason = if id.len() != 36 {
        Some("uuid string is wrong length")
    } else if parts.iter().map(|p| p.len()).collect::<Vec<_>>() != [8, 4, 4, 4, 12]
        || !parts.iter().all(|p| hex(p))
    {
        Some("uuid is improperly formatted")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(rpc_error(format!("Bad node ID: {reason}"))),
        None => Ok(()),
    }
}

/// `servicePreApply`: defaults the ID, validates, and checks `service:write` on the
/// service (and on a proxy's destination).
fn service_pre_apply(service: &mut Value, caller: &Caller) -> Result<(), ApiError> {
    let problems = service_problems(service);
    if !problems.is_empty() {
        return Err(rpc_error(go_multierror(&problems)));
    }
    let name = s(service, "Service").to_string();
    if s(service, "ID").is_empty() && !name.is_empty() {
        service["ID"] = json!(name);
    }
    if !s(service, "ID").is_empty() && name.is_empty() {
        return Err(rpc_error(
            "Must provide service name (Service.Service) when service ID is provided",
        ));
    }
    if s(service, "Address")
        .trim_matches(['[', ']'])
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified())
    {
        return Err(rpc_error("Invalid service address"));
    }
    if name != "consul" {
        caller.need("service", &name, Access::Write)?;
    }
    if s(service, "Kind") == "connect-proxy" {
        let proxy = service.get("Proxy").cloned().unwrap_or(Value::Null);
        caller.need(
            "service",
            s(&proxy, "DestinationServiceName"),
            Access::Write,
        )?;
    }
    Ok(())
}

/// `PUT /v1/catalog/register`.
pub(crate) fn register(st: &mut State, req: &Req) -> Reply {
    let body = decode(&req.body, &REGISTER)
        .map_err(|e| ApiError::bad_request(format!("Request decode failed: {e}")))?;
    let mut checks: Vec<Value> = body
        .get("Checks")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // The old single-check form joins the list.
    if let Some(check) = body.get("Check").filter(|c| !c.is_null()) {
        checks.push(check.clone());
    }
    let mut tenanted: Vec<&Value> = vec![&body];
    tenanted.extend(body.get("Service").filter(|v| !v.is_null()));
    tenanted.extend(checks.iter());
    reject_tenancy_fields(st, &tenanted)?;

    let caller = st.caller(req.token.as_deref())?;
    let scope = Scope::of_request(st, req, Some(&body));
    let node_name = s(&body, "Node").to_string();
    if node_name.is_empty() {
        return Err(rpc_error("Must provide node"));
    }
    check_node_id(s(&body, "ID"))?;
    if s(&body, "Address").is_empty()
        && body.get("SkipNodeUpdate").and_then(Value::as_bool) != Some(true)
    {
        return Err(rpc_error(
            "Must provide address if SkipNodeUpdate is not set",
        ));
    }
    let mut service = body.get("Service").filter(|v| !v.is_null()).cloned();
    if let Some(service) = service.as_mut() {
        service_pre_apply(service, &caller)?;
        service["Namespace"] = json!(namespace_of(service, &scope));
    }
    for check in checks.iter_mut() {
        if s(check, "Node").is_empty() {
            check["Node"] = json!(node_name);
        }
        if s(check, "CheckID").is_empty() && !s(check, "Name").is_empty() {
            check["CheckID"] = json!(s(check, "Name"));
        }
        check["Namespace"] = json!(namespace_of(check, &scope));
    }

    let key = (scope.partition.clone(), node_name.clone());
    let existing = st.catalog.nodes.get(&key);
    vet_register(&caller, &body, service.as_ref(), &checks, existing)?;
    let created = existing.is_none();

    let index = st.next_index();
    let node = st.catalog.nodes.entry(key).or_insert_with(|| Node {
        id: String::new(),
        name: node_name.clone(),
        address: String::new(),
        tagged_addresses: Value::Null,
        meta: Value::Null,
        create_index: index,
        modify_index: index,
        services: BTreeMap::new(),
        checks: BTreeMap::new(),
    });
    if created || node.changed_by(&body) {
        node.id = s(&body, "ID").to_string();
        node.address = s(&body, "Address").to_string();
        node.tagged_addresses = body.get("TaggedAddresses").cloned().unwrap_or(Value::Null);
        node.meta = body.get("NodeMeta").cloned().unwrap_or(Value::Null);
        node.modify_index = index;
    }
    if let Some(mut service) = service.take() {
        let key = (
            s(&service, "Namespace").to_string(),
            s(&service, "ID").to_string(),
        );
        let create = node
            .services
            .get(&key)
            .map_or(index, |old| int(old, "CreateIndex").unsigned_abs());
        service["CreateIndex"] = json!(create);
        service["ModifyIndex"] = json!(index);
        node.services.insert(key, service);
    }
    for mut check in checks {
        let service_id = s(&check, "ServiceID").to_string();
        let namespace = s(&check, "Namespace").to_string();
        // vet_register made sure the service is in this request or already on the node.
        if let Some(owner) = node.services.get(&(namespace.clone(), service_id)) {
            check["ServiceName"] = json!(s(owner, "Service"));
            check["ServiceTags"] = json!(strings(owner, "Tags"));
        }
        if s(&check, "Status").is_empty() {
            check["Status"] = json!("critical");
        }
        let key = (namespace, s(&check, "CheckID").to_string());
        let create = node
            .checks
            .get(&key)
            .map_or(index, |old| int(old, "CreateIndex").unsigned_abs());
        check["CreateIndex"] = json!(create);
        check["ModifyIndex"] = json!(index);
        node.checks.insert(key, check);
    }
    // Checks of a re-registered service follow its name and tags. (Borrowed, not cloned:
    // a clone per registration made seeding a node with thousands of services quadratic.)
    let Node {
        services, checks, ..
    } = node;
    for check in checks.values_mut() {
        let key = (
            s(check, "Namespace").to_string(),
            s(check, "ServiceID").to_string(),
        );
        if let Some(owner) = services.get(&key) {
            check["ServiceName"] = json!(s(owner, "Service"));
            check["ServiceTags"] = json!(strings(owner, "Tags"));
        }
    }
    Ok(json(&json!(true)))
}

/// `vetRegisterWithACL`.
fn vet_register(
    caller: &Caller,
    body: &Value,
    service: Option<&Value>,
    checks: &[Value],
    existing: Option<&Node>,
) -> Result<(), ApiError> {
    let node_name = s(body, "Node");
    if existing.is_none_or(|node| node.changed_by(body)) {
        caller.need("node", node_name, Access::Write)?;
    }
    if let Some(service) = service {
        caller.need("service", s(service, "Service"), Access::Write)?;
        let key = (
            s(service, "Namespace").to_string(),
            s(service, "ID").to_string(),
        );
        if let Some(other) = existing.and_then(|n| n.services.get(&key)) {
            if !caller
                .authz
                .allowed("service", s(other, "Service"), Access::Write)
            {
                return Err(ApiError::forbidden("Permission denied"));
            }
        }
    }
    for check in checks {
        let check_id = s(check, "CheckID");
        if !s(check, "Node").eq_ignore_ascii_case(node_name) {
            return Err(rpc_error(format!(
                "Node '{}' for check '{check_id}' doesn't match register request node '{node_name}'",
                s(check, "Node")
            )));
        }
        let service_id = s(check, "ServiceID");
        if service_id.is_empty() {
            caller.need("node", node_name, Access::Write)?;
            continue;
        }
        if service.is_some_and(|svc| s(svc, "ID") == service_id) {
            continue;
        }
        let key = (s(check, "Namespace").to_string(), service_id.to_string());
        let Some(other) = existing.and_then(|n| n.services.get(&key)) else {
            return Err(rpc_error(format!(
                "Unknown service ID '{service_id}' for check ID '{check_id}'"
            )));
        };
        caller.need("service", s(other, "Service"), Access::Write)?;
    }
    Ok(())
}

/// `PUT /v1/catalog/deregister`: a service and its checks, else a check, else the node.
pub(crate) fn deregister(st: &mut State, req: &Req) -> Reply {
    let body = decode(&req.body, &DEREGISTER)
        .map_err(|e| ApiError::bad_request(format!("Request decode failed: {e}")))?;
    reject_tenancy_fields(st, &[&body])?;
    let node_name = s(&body, "Node").to_string();
    if node_name.is_empty() {
        return Err(rpc_error("Must provide node"));
    }
    let caller = st.caller(req.token.as_deref())?;
    let scope = Scope::of_request(st, req, Some(&body));
    let namespace = namespace_of(&body, &scope);
    let service_id = s(&body, "ServiceID").to_string();
    let check_id = s(&body, "CheckID").to_string();
    let key = (scope.partition.clone(), node_name.clone());
    let node = st.catalog.nodes.get(&key);
    let service = node.and_then(|n| n.services.get(&(namespace.clone(), service_id.clone())));
    let check = node.and_then(|n| n.checks.get(&(namespace.clone(), check_id.clone())));

    // `vetDeregisterWithACL`: node:write allows everything on the node.
    if let Err(node_write) = caller.need("node", &node_name, Access::Write) {
        if !service_id.is_empty() {
            let Some(service) = service else {
                return Err(rpc_error(format!("Unknown service ID '{service_id}'")));
            };
            caller.need("service", s(service, "Service"), Access::Write)?;
        } else if !check_id.is_empty() {
            let Some(check) = check else {
                return Err(rpc_error(format!("Unknown check ID '{check_id}'")));
            };
            if s(check, "ServiceID").is_empty() {
                return Err(node_write);
            }
            caller.need("service", s(check, "ServiceName"), Access::Write)?;
        } else {
            return Err(node_write);
        }
    }

    st.next_index();
    if !service_id.is_empty() {
        if let Some(node) = st.catalog.nodes.get_mut(&key) {
            node.services
                .remove(&(namespace.clone(), service_id.clone()));
            node.checks
                .retain(|(ns, _), c| !(ns == &namespace && s(c, "ServiceID") == service_id));
        }
    } else if !check_id.is_empty() {
        if let Some(node) = st.catalog.nodes.get_mut(&key) {
            node.checks.remove(&(namespace, check_id));
        }
    } else {
        st.catalog.nodes.remove(&key);
    }
    Ok(json(&json!(true)))
}

/// The `structs.Node` JSON of a node.
fn node_json(st: &State, partition: &str, node: &Node) -> Value {
    let mut out = json!({
        "ID": node.id,
        "Node": node.name,
        "Address": node.address,
        "Datacenter": st.opts.datacenter,
        "TaggedAddresses": node.tagged_addresses,
        "Meta": node.meta,
        "CreateIndex": node.create_index,
        "ModifyIndex": node.modify_index,
    });
    if !partition.is_empty() {
        out["Partition"] = json!(partition);
    }
    out
}

/// The `structs.NodeService` JSON of a stored service, with Consul's defaults.
fn service_json(partition: &str, service: &Value) -> Value {
    let mut out = Map::new();
    if !s(service, "Kind").is_empty() {
        out.insert("Kind".into(), json!(s(service, "Kind")));
    }
    out.insert("ID".into(), json!(s(service, "ID")));
    out.insert("Service".into(), json!(s(service, "Service")));
    out.insert("Tags".into(), json!(strings(service, "Tags")));
    out.insert("Address".into(), json!(s(service, "Address")));
    if let Some(tagged) = service
        .get("TaggedAddresses")
        .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
    {
        out.insert("TaggedAddresses".into(), tagged.clone());
    }
    out.insert(
        "Meta".into(),
        service.get("Meta").cloned().unwrap_or(Value::Null),
    );
    out.insert("Port".into(), json!(int(service, "Port")));
    if !s(service, "SocketPath").is_empty() {
        out.insert("SocketPath".into(), json!(s(service, "SocketPath")));
    }
    out.insert(
        "Weights".into(),
        service
            .get("Weights")
            .cloned()
            .unwrap_or_else(|| json!({"Passing": 1, "Warning": 1})),
    );
    out.insert(
        "EnableTagOverride".into(),
        json!(service.get("EnableTagOverride").and_then(Value::as_bool) == Some(true)),
    );
    out.insert(
        "Proxy".into(),
        proxy_json(service.get("Proxy").unwrap_or(&Value::Null)),
    );
    out.insert(
        "Connect".into(),
        service.get("Connect").cloned().unwrap_or_else(|| json!({})),
    );
    if let Some(locality) = service.get("Locality").filter(|v| !v.is_null()) {
        out.insert("Locality".into(), locality.clone());
    }
    if !partition.is_empty() {
        out.insert("Namespace".into(), json!(s(service, "Namespace")));
        out.insert("Partition".into(), json!(partition));
    }
    out.insert("CreateIndex".into(), json!(int(service, "CreateIndex")));
    out.insert("ModifyIndex".into(), json!(int(service, "ModifyIndex")));
    Value::Object(out)
}

/// The `structs.HealthCheck` JSON of a stored check.
fn check_json(partition: &str, check: &Value) -> Value {
    let mut out = json!({
        "Node": s(check, "Node"),
        "CheckID": s(check, "CheckID"),
        "Name": s(check, "Name"),
        "Status": s(check, "Status"),
        "Notes": s(check, "Notes"),
        "Output": s(check, "Output"),
        "ServiceID": s(check, "ServiceID"),
        "ServiceName": s(check, "ServiceName"),
        "ServiceTags": strings(check, "ServiceTags"),
        "Type": s(check, "Type"),
        "Interval": s(check, "Interval"),
        "Timeout": s(check, "Timeout"),
        "ExposedPort": int(check, "ExposedPort"),
        "Definition": check.get("Definition").cloned().unwrap_or_else(|| json!({})),
        "CreateIndex": int(check, "CreateIndex"),
        "ModifyIndex": int(check, "ModifyIndex"),
    });
    if !partition.is_empty() {
        out["Namespace"] = json!(s(check, "Namespace"));
        out["Partition"] = json!(partition);
    }
    out
}

/// Whether an object of `namespace` is in the request's namespace (`ns=*`: any).
fn in_namespace(namespace: &str, request: &Scope, wildcard: bool) -> bool {
    wildcard || namespace == request.namespace
}

fn matches(filter: Option<&Expr>, doc: &Value) -> bool {
    filter.is_none_or(|f| f.eval(doc))
}

/// `GET /v1/catalog/node-services/:node`: `{"Node": null, "Services": []}` when the node
/// does not exist or the token may not read it; services filtered by `service:read`.
pub(crate) fn node_services(st: &State, req: &Req, node_name: &str) -> Reply {
    if node_name.is_empty() {
        return Err(ApiError::bad_request("Missing node name"));
    }
    let caller = st.caller(req.token.as_deref())?;
    let filter = filter_expr(req)?;
    let scope = Scope::of_request(st, req, None);
    let wildcard = Scope::wildcard_namespace(req);
    let node = st
        .catalog
        .nodes
        .get(&(scope.partition.clone(), node_name.to_string()))
        .filter(|_| caller.authz.allowed("node", node_name, Access::Read));
    let Some(node) = node else {
        return Ok(json(&json!({"Node": null, "Services": []})));
    };
    let services: Vec<Value> = node
        .services
        .iter()
        .filter(|((ns, _), _)| in_namespace(ns, &scope, wildcard))
        .filter(|(_, svc)| {
            caller
                .authz
                .allowed("service", s(svc, "Service"), Access::Read)
        })
        .map(|(_, svc)| service_json(&scope.partition, svc))
        .filter(|svc| matches(filter.as_ref(), svc))
        .collect();
    Ok(json(&json!({
        "Node": node_json(st, &scope.partition, node),
        "Services": services,
    })))
}

/// `GET /v1/health/checks/:service`: the checks of every instance, those on nodes or of
/// services the token may not read left out (`filterHealthChecks`).
pub(crate) fn service_checks(st: &State, req: &Req, service: &str) -> Reply {
    if service.is_empty() {
        return Err(ApiError::bad_request("Missing service name"));
    }
    let caller = st.caller(req.token.as_deref())?;
    let filter = filter_expr(req)?;
    let scope = Scope::of_request(st, req, None);
    let wildcard = Scope::wildcard_namespace(req);
    let mut out = Vec::new();
    for ((partition, _), node) in &st.catalog.nodes {
        if *partition != scope.partition || !caller.authz.allowed("node", &node.name, Access::Read)
        {
            continue;
        }
        for ((ns, _), check) in &node.checks {
            if s(check, "ServiceName") != service
                || !in_namespace(ns, &scope, wildcard)
                || !caller.authz.allowed("service", service, Access::Read)
            {
                continue;
            }
            let doc = check_json(partition, check);
            if matches(filter.as_ref(), &doc) {
                out.push(doc);
            }
        }
    }
    Ok(json(&Value::Array(out)))
}

/// Whether a `PUT /v1/config` body is a service-defaults entry (its ACL is per service).
pub(crate) fn is_service_defaults(req: &Req) -> bool {
    serde_json::from_slice::<Value>(&req.body)
        .is_ok_and(|entry| s(&entry, "Kind") == "service-defaults")
}

/// `PUT /v1/config` with a service-defaults entry: `service:write` on its name
/// (`ServiceConfigEntry.CanWrite`).
pub(crate) fn service_defaults_put(st: &mut State, req: &Req) -> Reply {
    let entry = decode(&req.body, &Shape::Any)
        .map_err(|e| ApiError::bad_request(format!("Request decoding failed: {e}")))?;
    let caller = st.caller(req.token.as_deref())?;
    caller.need("service", s(&entry, "Name"), Access::Write)?;
    store_config_entry(st, &entry)?;
    Ok(json(&json!(true)))
}

/// `GET /v1/config/service-defaults/:name`: `service:read` on the name is checked before
/// the lookup, as `ConfigEntry.Get` does.
pub(crate) fn service_defaults_get(st: &State, req: &Req, name: &str) -> Reply {
    let caller = st.caller(req.token.as_deref())?;
    caller.need("service", name, Access::Read)?;
    super::agent::config_get(st, req, "service-defaults", name)
}

impl Catalog {
    /// Every service of every node in the `structs.NodeService` shape, keyed by service ID
    /// (a test and demo view; IDs are unique within the one task a test registers).
    pub(crate) fn all_services(&self) -> BTreeMap<String, Value> {
        self.nodes
            .iter()
            .flat_map(|((partition, _), node)| {
                node.services
                    .iter()
                    .map(move |((_, id), s)| (id.clone(), service_json(partition, s)))
            })
            .collect()
    }

    /// Every check of every node in the `structs.HealthCheck` shape, keyed by check ID.
    pub(crate) fn all_checks(&self) -> BTreeMap<String, Value> {
        self.nodes
            .iter()
            .flat_map(|((partition, _), node)| {
                node.checks
                    .iter()
                    .map(move |((_, id), c)| (id.clone(), check_json(partition, c)))
            })
            .collect()
    }
}
