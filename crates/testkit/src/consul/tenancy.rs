//! Enterprise admin partitions and namespaces (docs/protocols.md §5.7), served only when
//! the emulator is started with `enterprise: true` (Consul CE has no such endpoints: 404).
//! ACL objects are scoped by them (see `scope`); agent and catalog endpoints are not.

use serde_json::{json, Map, Value};

use super::rules::Access;
use super::state::State;
use super::wire::{decode, json, s, ApiError, Reply, Shape, ANY};
use super::Req;

static LINK: Shape = Shape::Obj(&[("ID", &ANY), ("Name", &ANY)]);
static LINKS: Shape = Shape::List(&LINK);
static NAMESPACE_ACLS: Shape = Shape::Obj(&[("PolicyDefaults", &LINKS), ("RoleDefaults", &LINKS)]);
static NAMESPACE: Shape = Shape::Obj(&[
    ("Name", &ANY),
    ("Description", &ANY),
    ("ACLs", &NAMESPACE_ACLS),
    ("Meta", &ANY),
    ("Partition", &ANY),
    ("DeletedAt", &ANY),
    ("CreateIndex", &ANY),
    ("ModifyIndex", &ANY),
]);
static PARTITION: Shape = Shape::Obj(&[
    ("Name", &ANY),
    ("Description", &ANY),
    ("DisableGossip", &ANY),
    ("CreateIndex", &ANY),
    ("ModifyIndex", &ANY),
]);

fn require_enterprise(st: &State) -> Result<(), ApiError> {
    if st.opts.enterprise {
        Ok(())
    } else {
        // Consul CE has no such endpoint: the answer to any unknown API path.
        Err(ApiError::unknown_path())
    }
}

/// DNS-label names, as Consul requires for partitions and namespaces.
fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

fn partition_of(req: &Req) -> String {
    match req.query_value("partition") {
        Some(p) if !p.is_empty() => p.to_string(),
        _ => "default".to_string(),
    }
}

fn reader(st: &State, req: &Req) -> Result<(), ApiError> {
    let caller = st.caller(req.token.as_deref())?;
    if caller.authz.allowed_global("operator", Access::Read)
        || caller.authz.allowed_global("acl", Access::Read)
    {
        Ok(())
    } else {
        caller.need_global("operator", Access::Read)
    }
}

fn writer(st: &State, req: &Req) -> Result<(), ApiError> {
    st.caller(req.token.as_deref())?
        .need_global("operator", Access::Write)
}

/// Seeds the `default` partition and its `default` namespace.
pub(crate) fn seed(st: &mut State) {
    st.partitions.insert(
        "default".into(),
        json!({"Name": "default", "Description": "Builtin Default Partition", "CreateIndex": 4, "ModifyIndex": 4}),
    );
    st.namespaces.insert(
        ("default".into(), "default".into()),
        json!({"Name": "default", "Description": "Builtin Default Namespace", "Partition": "default", "CreateIndex": 4, "ModifyIndex": 4}),
    );
}

/// `GET /v1/partitions`.
pub(crate) fn partition_list(st: &State, req: &Req) -> Reply {
    require_enterprise(st)?;
    reader(st, req)?;
    Ok(json(&Value::Array(
        st.partitions.values().cloned().collect(),
    )))
}

/// `GET /v1/partition/:name` (404, empty body, when missing).
pub(crate) fn partition_read(st: &State, req: &Req, name: &str) -> Reply {
    require_enterprise(st)?;
    reader(st, req)?;
    st.partitions
        .get(name)
        .map(json)
        .ok_or_else(|| ApiError::not_found(""))
}

/// `PUT /v1/partition` (create) and `PUT /v1/partition/:name` (update).
pub(crate) fn partition_write(st: &mut State, req: &Req, path_name: Option<&str>) -> Reply {
    require_enterprise(st)?;
    let body = decode(&req.body, &PARTITION)
        .map_err(|e| ApiError::bad_request(format!("Request decoding failed: {e}")))?;
    writer(st, req)?;
    let name = path_name.unwrap_or(s(&body, "Name")).to_string();
    if !valid_name(&name) {
        return Err(ApiError::bad_request(format!(
            "Invalid partition name {name:?}"
        )));
    }
    let existing = st.partitions.get(&name).cloned();
    if existing.is_some() && path_name.is_none() {
        return Err(ApiError::internal(format!(
            "Partition {name:?} already exists"
        )));
    }
    let index = st.next_index();
    let create = existing
        .as_ref()
        .and_then(|p| p.get("CreateIndex").and_then(Value::as_u64))
        .unwrap_or(index);
    let out = json!({
        "Name": name,
        "Description": s(&body, "Description"),
        "CreateIndex": create,
        "ModifyIndex": index,
    });
    st.partitions.insert(name.clone(), out.clone());
    st.namespaces
        .entry((name.clone(), "default".to_string()))
        .or_insert_with(|| {
            json!({"Name": "default", "Description": "Builtin Default Namespace", "Partition": name, "CreateIndex": index, "ModifyIndex": index})
        });
    Ok(json(&out))
}

/// `GET /v1/namespaces?partition=`.
pub(crate) fn namespace_list(st: &State, req: &Req) -> Reply {
    require_enterprise(st)?;
    reader(st, req)?;
    let partition = partition_of(req);
    let items: Vec<Value> = st
        .namespaces
        .iter()
        .filter(|((p, _), _)| *p == partition)
        .map(|(_, v)| v.clone())
        .collect();
    Ok(json(&Value::Array(items)))
}

/// `GET /v1/namespace/:name?partition=` (404, empty body, when missing).
pub(crate) fn namespace_read(st: &State, req: &Req, name: &str) -> Reply {
    require_enterprise(st)?;
    reader(st, req)?;
    st.namespaces
        .get(&(partition_of(req), name.to_string()))
        .map(json)
        .ok_or_else(|| ApiError::not_found(""))
}

/// `PUT /v1/namespace` (create) and `PUT /v1/namespace/:name` (update).
pub(crate) fn namespace_write(st: &mut State, req: &Req, path_name: Option<&str>) -> Reply {
    require_enterprise(st)?;
    let body = decode(&req.body, &NAMESPACE)
        .map_err(|e| ApiError::bad_request(format!("Request decoding failed: {e}")))?;
    writer(st, req)?;
    let name = path_name.unwrap_or(s(&body, "Name")).to_string();
    if let Some(p) = path_name {
        let body_name = s(&body, "Name");
        if !body_name.is_empty() && body_name != p {
            return Err(ApiError::bad_request(
                "Namespace name in URL and payload do not match",
            ));
        }
    }
    if !valid_name(&name) {
        return Err(ApiError::bad_request(format!(
            "Invalid namespace name {name:?}"
        )));
    }
    let partition = match s(&body, "Partition") {
        "" => partition_of(req),
        p => p.to_string(),
    };
    if !st.partitions.contains_key(&partition) {
        return Err(ApiError::bad_request(format!(
            "Partition {partition:?} does not exist"
        )));
    }
    let key = (partition.clone(), name.clone());
    let existing = st.namespaces.get(&key).cloned();
    match (&existing, path_name) {
        (Some(_), None) => {
            return Err(ApiError::internal(format!(
                "Namespace {name:?} already exists"
            )))
        }
        (None, Some(_)) => {
            return Err(ApiError::internal(format!(
                "Namespace {name:?} does not exist"
            )))
        }
        _ => {}
    }
    let acls = body.get("ACLs").cloned().unwrap_or(Value::Null);
    // Namespace defaults link policies and roles of the partition's default namespace.
    let defaults_scope = super::scope::Scope::new(&partition, super::scope::DEFAULT);
    let policies = st.resolve_policy_links(
        acls.get("PolicyDefaults").unwrap_or(&Value::Null),
        &defaults_scope,
    )?;
    let roles = st.resolve_role_links(
        acls.get("RoleDefaults").unwrap_or(&Value::Null),
        &defaults_scope,
    )?;
    let links = |l: Vec<super::state::Link>| -> Vec<Value> {
        l.into_iter()
            .map(|l| json!({"ID": l.id, "Name": l.name}))
            .collect()
    };
    let index = st.next_index();
    let create = existing
        .as_ref()
        .and_then(|n| n.get("CreateIndex").and_then(Value::as_u64))
        .unwrap_or(index);
    let mut out = Map::new();
    out.insert("Name".into(), json!(name));
    out.insert("Description".into(), json!(s(&body, "Description")));
    out.insert(
        "ACLs".into(),
        json!({"PolicyDefaults": links(policies), "RoleDefaults": links(roles)}),
    );
    if let Some(meta) = body.get("Meta").filter(|m| m.is_object()) {
        out.insert("Meta".into(), meta.clone());
    }
    out.insert("Partition".into(), json!(partition));
    out.insert("CreateIndex".into(), json!(create));
    out.insert("ModifyIndex".into(), json!(index));
    let out = Value::Object(out);
    st.namespaces.insert(key, out.clone());
    Ok(json(&out))
}
