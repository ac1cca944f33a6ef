//! ACL admin endpoints (`/v1/acl/...`): tokens, policies, roles, auth methods, binding
//! rules, and the login/logout pair. Status codes and texts follow Consul 1.15.10 (a missing
//! or expired token is 403 `token does not exist: ACL not found`, a delete whose caller or
//! target is unknown 404 `Cannot find token to delete`, other missing objects 404) unless
//! `EmulatorOptions::legacy_not_found` asks for the answers of older versions.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use super::awsiam::{self, AwsIamConfig, Identity};
use super::filter::{interpolate, Expr};
use super::rules::{Access, Rules};
use super::scope::Scope;
use super::state::{
    new_uuid, parse_node_identities, parse_service_identities, valid_identity_name, AuthMethod,
    BindingRule, Caller, Link, NodeIdentity, Policy, Role, ServiceIdentity, State, Token,
    ANONYMOUS_ACCESSOR, GLOBAL_MANAGEMENT_ID,
};
use super::wire::{
    decode, json, s, strings, text, ApiError, Reply, Shape, ANY, BOOL, INT, STR, STRS, STR_MAP,
};
use super::Req;

static LINK: Shape = Shape::Obj(&[("ID", &STR), ("Name", &STR)]);
static LINKS: Shape = Shape::List(&LINK);
static SERVICE_IDENTITY: Shape = Shape::Obj(&[("ServiceName", &STR), ("Datacenters", &STRS)]);
static SERVICE_IDENTITIES: Shape = Shape::List(&SERVICE_IDENTITY);
static NODE_IDENTITY: Shape = Shape::Obj(&[("NodeName", &STR), ("Datacenter", &STR)]);
static NODE_IDENTITIES: Shape = Shape::List(&NODE_IDENTITY);
static TOKEN: Shape = Shape::Obj(&[
    ("ID", &STR),
    ("AccessorID", &STR),
    ("SecretID", &STR),
    ("Description", &STR),
    ("Policies", &LINKS),
    ("Roles", &LINKS),
    ("ServiceIdentities", &SERVICE_IDENTITIES),
    ("NodeIdentities", &NODE_IDENTITIES),
    ("Local", &BOOL),
    ("AuthMethod", &STR),
    ("ExpirationTime", &ANY),
    ("ExpirationTTL", &ANY),
    ("CreateTime", &ANY),
    ("Hash", &ANY),
    ("CreateIndex", &INT),
    ("ModifyIndex", &INT),
    ("Namespace", &STR),
    ("Partition", &STR),
    ("AuthMethodNamespace", &STR),
]);
static POLICY: Shape = Shape::Obj(&[
    ("ID", &STR),
    ("Name", &STR),
    ("Description", &STR),
    ("Rules", &STR),
    ("Datacenters", &STRS),
    ("Hash", &ANY),
    ("CreateIndex", &INT),
    ("ModifyIndex", &INT),
    ("Namespace", &STR),
    ("Partition", &STR),
]);
static ROLE: Shape = Shape::Obj(&[
    ("ID", &STR),
    ("Name", &STR),
    ("Description", &STR),
    ("Policies", &LINKS),
    ("ServiceIdentities", &SERVICE_IDENTITIES),
    ("NodeIdentities", &NODE_IDENTITIES),
    ("Hash", &ANY),
    ("CreateIndex", &INT),
    ("ModifyIndex", &INT),
    ("Namespace", &STR),
    ("Partition", &STR),
]);
static NAMESPACE_RULE: Shape = Shape::Obj(&[("Selector", &STR), ("BindNamespace", &STR)]);
static NAMESPACE_RULES: Shape = Shape::List(&NAMESPACE_RULE);
static AUTH_METHOD: Shape = Shape::Obj(&[
    ("Name", &STR),
    ("Type", &STR),
    ("DisplayName", &STR),
    ("Description", &STR),
    ("MaxTokenTTL", &ANY),
    ("TokenLocality", &STR),
    ("Config", &ANY),
    ("NamespaceRules", &NAMESPACE_RULES),
    ("CreateIndex", &INT),
    ("ModifyIndex", &INT),
    ("Namespace", &STR),
    ("Partition", &STR),
]);
static BINDING_RULE: Shape = Shape::Obj(&[
    ("ID", &STR),
    ("Description", &STR),
    ("AuthMethod", &STR),
    ("Selector", &STR),
    ("BindType", &STR),
    ("BindName", &STR),
    ("CreateIndex", &INT),
    ("ModifyIndex", &INT),
    ("Namespace", &STR),
    ("Partition", &STR),
]);
static LOGIN: Shape = Shape::Obj(&[
    ("AuthMethod", &STR),
    ("BearerToken", &STR),
    ("Meta", &STR_MAP),
    ("Namespace", &STR),
    ("Partition", &STR),
]);

fn enabled(st: &State) -> Result<(), ApiError> {
    if st.opts.acls_enabled {
        Ok(())
    } else {
        Err(ApiError::acl_disabled())
    }
}

fn read_caller(st: &State, req: &Req) -> Result<Caller, ApiError> {
    enabled(st)?;
    let caller = st.caller(req.token.as_deref())?;
    caller.need_global("acl", Access::Read)?;
    Ok(caller)
}

fn write_caller(st: &State, req: &Req) -> Result<Caller, ApiError> {
    enabled(st)?;
    let caller = st.caller(req.token.as_deref())?;
    caller.need_global("acl", Access::Write)?;
    Ok(caller)
}

/// Consul 1.15's answer to a read of a token that does not exist (or has expired), by
/// secret (`token/self`) or by accessor: the token-read RPC fails with `acl.ErrNotFound`
/// before the handler's own 404 branches are reached.
const TOKEN_NOT_FOUND: &str = "token does not exist: ACL not found";

/// A missing object on a read, in the configured Consul version's words.
fn read_not_found(st: &State, what: &str) -> ApiError {
    if st.opts.legacy_not_found {
        match what {
            "policy" | "token" => ApiError::acl_not_found(),
            _ => ApiError::not_found(""),
        }
    } else if what == "token" {
        ApiError::forbidden(TOKEN_NOT_FOUND)
    } else {
        ApiError::not_found(format!("Requested {what} does not exist: ACL not found"))
    }
}

fn delete_not_found(st: &State, what: &str) -> Reply {
    if st.opts.legacy_not_found {
        Ok(json(&json!(true)))
    } else {
        Err(ApiError::not_found(format!("Cannot find {what} to delete")))
    }
}

fn decode_as(req: &Req, shape: &Shape, what: &str) -> Result<Value, ApiError> {
    decode(&req.body, shape)
        .map_err(|e| ApiError::bad_request(format!("{what} decoding failed: {e}")))
}

// ---------------------------------------------------------------- tokens

/// `GET /v1/acl/token/self`.
pub(crate) fn token_self(st: &State, req: &Req) -> Reply {
    enabled(st)?;
    let token = match req.token.as_deref() {
        None | Some("") => st.tokens.get(ANONYMOUS_ACCESSOR),
        Some(secret) => st.token_by_secret(secret),
    };
    // A stale read may be served by a follower the token has not reached yet.
    let token = token.filter(|t| req.query_value("stale").is_none() || st.replicated(t));
    match token {
        Some(t) => Ok(json(&st.token_json(t, false))),
        None if st.opts.legacy_not_found => Err(ApiError::acl_not_found()),
        None => Err(ApiError::forbidden(TOKEN_NOT_FOUND)),
    }
}

/// `GET /v1/acl/tokens`.
pub(crate) fn token_list(st: &State, req: &Req) -> Reply {
    let caller = read_caller(st, req)?;
    let hide = !caller.authz.allowed_global("acl", Access::Write);
    let policy = req.query_value("policy");
    let role = req.query_value("role");
    let method = req.query_value("authmethod").filter(|m| !m.is_empty());
    let scope = Scope::of_request(st, req, None);
    let any_namespace = Scope::wildcard_namespace(req);
    // The auth method filter names a method in a namespace (`authmethod-ns`, default
    // `default`) of the request's partition.
    let method_ns = if st.opts.enterprise {
        req.query_value("authmethod-ns")
            .filter(|n| !n.is_empty())
            .unwrap_or(super::scope::DEFAULT)
    } else {
        ""
    };
    let now = st.now();
    let items: Vec<Value> = st
        .tokens
        .values()
        .filter(|t| !t.expired_at(now))
        .filter(|t| t.scope.visible_to(&scope, any_namespace))
        .filter(|t| policy.is_none_or(|p| t.policies.iter().any(|l| l.id == p)))
        .filter(|t| role.is_none_or(|r| t.roles.iter().any(|l| l.id == r)))
        .filter(|t| {
            method.is_none_or(|m| t.auth_method == m && t.auth_method_namespace == method_ns)
        })
        .map(|t| st.token_json(t, hide))
        .collect();
    Ok(json(&Value::Array(items)))
}

/// `GET /v1/acl/token/:accessor`.
pub(crate) fn token_read(st: &State, req: &Req, accessor: &str) -> Reply {
    let caller = read_caller(st, req)?;
    let hide = !caller.authz.allowed_global("acl", Access::Write);
    let scope = Scope::of_request(st, req, None);
    match st
        .token_by_accessor(accessor)
        .filter(|t| t.scope.visible_to(&scope, false))
    {
        Some(t) => Ok(json(&st.token_json(t, hide))),
        None => Err(read_not_found(st, "token")),
    }
}

struct TokenFields {
    description: String,
    policies: Vec<Link>,
    roles: Vec<Link>,
    service_identities: Vec<ServiceIdentity>,
    node_identities: Vec<NodeIdentity>,
}

fn token_fields(st: &State, body: &Value, scope: &Scope) -> Result<TokenFields, ApiError> {
    Ok(TokenFields {
        description: s(body, "Description").to_string(),
        policies: st.resolve_policy_links(body.get("Policies").unwrap_or(&Value::Null), scope)?,
        roles: st.resolve_role_links(body.get("Roles").unwrap_or(&Value::Null), scope)?,
        service_identities: parse_service_identities(
            body.get("ServiceIdentities").unwrap_or(&Value::Null),
        )?,
        node_identities: parse_node_identities(body.get("NodeIdentities").unwrap_or(&Value::Null))?,
    })
}

fn uuid_ok(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok()
}

/// `PUT /v1/acl/token`.
pub(crate) fn token_create(st: &mut State, req: &Req) -> Reply {
    enabled(st)?;
    let body = decode_as(req, &TOKEN, "Token")?;
    write_caller(st, req)?;
    if !s(&body, "AuthMethod").is_empty() {
        return Err(ApiError::internal(
            "AuthMethod field is disallowed outside of login",
        ));
    }
    let accessor = match s(&body, "AccessorID") {
        "" => new_uuid(),
        a if !uuid_ok(a) => {
            return Err(ApiError::internal(
                "Invalid Token: AccessorID is not a valid UUID",
            ))
        }
        a if st.tokens.contains_key(a) => {
            return Err(ApiError::internal(
                "Invalid Token: AccessorID is already in use",
            ))
        }
        a => a.to_string(),
    };
    let secret = match s(&body, "SecretID") {
        "" => new_uuid(),
        x if !uuid_ok(x) => {
            return Err(ApiError::internal(
                "Invalid Token: SecretID is not a valid UUID",
            ))
        }
        x if st.token_by_secret(x).is_some() => {
            return Err(ApiError::internal(
                "Invalid Token: SecretID is already in use",
            ))
        }
        x => x.to_string(),
    };
    let scope = Scope::of_request(st, req, Some(&body));
    let fields = token_fields(st, &body, &scope)?;
    let (expiration_ttl, expiration_time) = token_expiration(st, &body)?;
    let index = st.next_index();
    let token = Token {
        accessor_id: accessor.clone(),
        secret_id: secret,
        description: fields.description,
        policies: fields.policies,
        roles: fields.roles,
        service_identities: fields.service_identities,
        node_identities: fields.node_identities,
        local: super::wire::boolean(&body, "Local"),
        auth_method: String::new(),
        create_time: super::wire::now_rfc3339(),
        create_index: index,
        modify_index: index,
        expiration_ttl,
        expiration_time,
        scope,
        auth_method_namespace: String::new(),
    };
    let out = st.token_json(&token, false);
    st.tokens.insert(accessor, token);
    Ok(json(&out))
}

/// `ExpirationTTL` / `ExpirationTime` of a token create, with Consul's limits.
fn token_expiration(
    st: &State,
    body: &Value,
) -> Result<(Option<Duration>, Option<SystemTime>), ApiError> {
    let ttl = match body.get("ExpirationTTL") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            super::wire::parse_duration(v)
                .map_err(|e| ApiError::bad_request(format!("Token decoding failed: {e}")))?,
        )
        .filter(|d| !d.is_zero()),
    };
    let at = match s(body, "ExpirationTime") {
        "" => None,
        text => Some(
            super::wire::parse_rfc3339(text)
                .map_err(|e| ApiError::bad_request(format!("Token decoding failed: {e}")))?,
        ),
    };
    match (ttl, at) {
        (Some(_), Some(_)) => Err(ApiError::internal(
            "Expiration TTL and Expiration Time cannot both be set",
        )),
        (Some(ttl), None) => {
            let (min, max) = (Duration::from_secs(60), Duration::from_secs(24 * 3600));
            if ttl < min || ttl > max {
                return Err(ApiError::internal(format!(
                    "Token Expiration TTL '{}' should be between {} and {}",
                    super::wire::go_duration(ttl),
                    super::wire::go_duration(min),
                    super::wire::go_duration(max)
                )));
            }
            Ok((Some(ttl), Some(st.now() + ttl)))
        }
        (None, Some(at)) => {
            if at <= st.now() {
                return Err(ApiError::internal("ExpirationTime cannot be in the past"));
            }
            Ok((None, Some(at)))
        }
        (None, None) => Ok((None, None)),
    }
}

/// `PUT /v1/acl/token/:accessor`.
pub(crate) fn token_update(st: &mut State, req: &Req, accessor: &str) -> Reply {
    enabled(st)?;
    let body = decode_as(req, &TOKEN, "Token")?;
    write_caller(st, req)?;
    let body_id = s(&body, "AccessorID");
    if !body_id.is_empty() && body_id != accessor {
        return Err(ApiError::bad_request(
            "Token Accessor ID in URL and payload do not match",
        ));
    }
    let scope = Scope::of_request(st, req, Some(&body));
    let Some(existing) = st
        .token_by_accessor(accessor)
        .filter(|t| t.scope.visible_to(&scope, false))
        .cloned()
    else {
        return Err(ApiError::internal(format!(
            "Cannot find token {accessor:?}"
        )));
    };
    let secret = s(&body, "SecretID");
    if !secret.is_empty() && secret != existing.secret_id {
        return Err(ApiError::internal(
            "Changing a token's SecretID is not permitted",
        ));
    }
    if body.get("Local").is_some() && super::wire::boolean(&body, "Local") != existing.local {
        return Err(ApiError::internal(format!(
            "Cannot toggle local mode of {accessor}"
        )));
    }
    let method = s(&body, "AuthMethod");
    if !method.is_empty() && method != existing.auth_method {
        return Err(ApiError::internal(format!(
            "Cannot change AuthMethod of {accessor}"
        )));
    }
    let fields = token_fields(st, &body, &scope)?;
    let index = st.next_index();
    let mut token = existing;
    token.description = fields.description;
    token.policies = fields.policies;
    token.roles = fields.roles;
    token.service_identities = fields.service_identities;
    token.node_identities = fields.node_identities;
    token.modify_index = index;
    let out = st.token_json(&token, false);
    st.tokens.insert(accessor.to_string(), token);
    Ok(json(&out))
}

/// `DELETE /v1/acl/token/:accessor`.
pub(crate) fn token_delete(st: &mut State, req: &Req, accessor: &str) -> Reply {
    // Consul 1.15's handler turns any error that says `ACL not found` into this 404, the
    // caller's own unknown token included: the answer cannot tell "the token to delete is
    // gone" from "the token deleting it is".
    let caller = write_caller(st, req).map_err(|e| {
        if !st.opts.legacy_not_found && e.message.contains("ACL not found") {
            ApiError::not_found("Cannot find token to delete")
        } else {
            e
        }
    })?;
    if accessor == ANONYMOUS_ACCESSOR {
        return Err(ApiError::internal(
            "Delete operation not permitted on the anonymous token",
        ));
    }
    if caller
        .token
        .as_ref()
        .is_some_and(|t| t.accessor_id == accessor)
    {
        return Err(ApiError::internal(
            "Deletion of the request's authorization token is not permitted",
        ));
    }
    let scope = Scope::of_request(st, req, None);
    if !st
        .tokens
        .get(accessor)
        .is_some_and(|t| t.scope.visible_to(&scope, false))
    {
        return delete_not_found(st, "token");
    }
    st.tokens.remove(accessor);
    st.next_index();
    Ok(json(&json!(true)))
}

// ---------------------------------------------------------------- policies

fn valid_policy_name(name: &str) -> bool {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(r"^[A-Za-z0-9\-_]+/?[A-Za-z0-9\-_]*$").unwrap_or_else(|_| unreachable!())
    });
    name.len() <= 128 && re.is_match(name)
}

/// `GET /v1/acl/policies`.
pub(crate) fn policy_list(st: &State, req: &Req) -> Reply {
    read_caller(st, req)?;
    let scope = Scope::of_request(st, req, None);
    let any_namespace = Scope::wildcard_namespace(req);
    let items: Vec<Value> = st
        .policies
        .values()
        .filter(|p| p.scope.visible_to(&scope, any_namespace))
        .map(|p| st.policy_json(p, false))
        .collect();
    Ok(json(&Value::Array(items)))
}

/// `GET /v1/acl/policy/:id` and `/v1/acl/policy/name/:name`.
pub(crate) fn policy_read(st: &State, req: &Req, id: Option<&str>, name: Option<&str>) -> Reply {
    read_caller(st, req)?;
    let scope = Scope::of_request(st, req, None);
    let found = match (id, name) {
        (Some(id), _) => st.policies.get(id),
        (_, Some(name)) => st
            .policies
            .values()
            .find(|p| p.name == name && p.scope == scope),
        _ => None,
    }
    .filter(|p| p.scope.visible_to(&scope, false));
    match found {
        Some(p) => Ok(json(&st.policy_json(p, true))),
        None => Err(read_not_found(st, "policy")),
    }
}

/// `PUT /v1/acl/policy` (create) and `PUT /v1/acl/policy/:id` (update).
pub(crate) fn policy_write(st: &mut State, req: &Req, path_id: Option<&str>) -> Reply {
    enabled(st)?;
    let body = decode_as(req, &POLICY, "Policy")?;
    write_caller(st, req)?;
    let scope = Scope::of_request(st, req, Some(&body));
    let body_id = s(&body, "ID");
    let id = match path_id {
        None if !body_id.is_empty() => {
            return Err(ApiError::bad_request(
                "Cannot specify the ID when creating a new policy",
            ))
        }
        None => new_uuid(),
        Some(p) if !body_id.is_empty() && body_id != p => {
            return Err(ApiError::bad_request(
                "Policy ID in URL and request body do not match",
            ))
        }
        Some(p) => {
            if !st
                .policies
                .get(p)
                .is_some_and(|x| x.scope.visible_to(&scope, false))
            {
                return Err(ApiError::internal(format!("cannot find policy {p:?}")));
            }
            p.to_string()
        }
    };
    let name = s(&body, "Name").to_string();
    if !valid_policy_name(&name) {
        return Err(ApiError::internal(format!(
            "Invalid Policy: invalid Name {name:?}"
        )));
    }
    if st
        .policies
        .values()
        .any(|p| p.name == name && p.id != id && p.scope == scope)
    {
        return Err(ApiError::internal(format!(
            "Invalid Policy: A Policy with Name {name:?} already exists"
        )));
    }
    let rules_text = s(&body, "Rules").to_string();
    if id == GLOBAL_MANAGEMENT_ID {
        let builtin = &st.policies[GLOBAL_MANAGEMENT_ID];
        if rules_text != builtin.rules_text {
            return Err(ApiError::internal(
                "Changing the Rules for the builtin global-management policy is not permitted",
            ));
        }
    }
    let rules = if id == GLOBAL_MANAGEMENT_ID {
        Rules::default()
    } else {
        Rules::parse(&rules_text).map_err(|e| {
            ApiError::internal(format!("Invalid Policy: failed to parse rules: {e}"))
        })?
    };
    let index = st.next_index();
    let create_index = st.policies.get(&id).map_or(index, |p| p.create_index);
    let policy = Policy {
        id: id.clone(),
        name,
        description: s(&body, "Description").to_string(),
        rules_text,
        rules,
        datacenters: strings(&body, "Datacenters"),
        create_index,
        modify_index: index,
        scope,
    };
    let out = st.policy_json(&policy, true);
    st.policies.insert(id, policy);
    Ok(json(&out))
}

/// `DELETE /v1/acl/policy/:id`.
pub(crate) fn policy_delete(st: &mut State, req: &Req, id: &str) -> Reply {
    write_caller(st, req)?;
    if id == GLOBAL_MANAGEMENT_ID {
        return Err(ApiError::internal(
            "Delete operation not permitted on the builtin global-management policy",
        ));
    }
    let scope = Scope::of_request(st, req, None);
    if !st
        .policies
        .get(id)
        .is_some_and(|p| p.scope.visible_to(&scope, false))
    {
        return delete_not_found(st, "policy");
    }
    st.policies.remove(id);
    st.next_index();
    Ok(json(&json!(true)))
}

// ---------------------------------------------------------------- roles

/// `GET /v1/acl/roles`.
pub(crate) fn role_list(st: &State, req: &Req) -> Reply {
    read_caller(st, req)?;
    let policy = req.query_value("policy");
    let scope = Scope::of_request(st, req, None);
    let any_namespace = Scope::wildcard_namespace(req);
    let items: Vec<Value> = st
        .roles
        .values()
        .filter(|r| r.scope.visible_to(&scope, any_namespace))
        .filter(|r| policy.is_none_or(|p| r.policies.iter().any(|l| l.id == p)))
        .map(|r| st.role_json(r))
        .collect();
    Ok(json(&Value::Array(items)))
}

/// `GET /v1/acl/role/:id` and `/v1/acl/role/name/:name`.
pub(crate) fn role_read(st: &State, req: &Req, id: Option<&str>, name: Option<&str>) -> Reply {
    read_caller(st, req)?;
    let scope = Scope::of_request(st, req, None);
    let found = match (id, name) {
        (Some(id), _) => st.roles.get(id),
        (_, Some(name)) => st
            .roles
            .values()
            .find(|r| r.name == name && r.scope == scope),
        _ => None,
    }
    .filter(|r| r.scope.visible_to(&scope, false));
    match found {
        Some(r) => Ok(json(&st.role_json(r))),
        None => Err(read_not_found(st, "role")),
    }
}

/// `PUT /v1/acl/role` (create) and `PUT /v1/acl/role/:id` (update).
pub(crate) fn role_write(st: &mut State, req: &Req, path_id: Option<&str>) -> Reply {
    enabled(st)?;
    let body = decode_as(req, &ROLE, "Role")?;
    write_caller(st, req)?;
    let scope = Scope::of_request(st, req, Some(&body));
    let body_id = s(&body, "ID");
    let id = match path_id {
        None if !body_id.is_empty() => {
            return Err(ApiError::bad_request(
                "Cannot specify the ID when creating a new role",
            ))
        }
        None => new_uuid(),
        Some(p) if !body_id.is_empty() && body_id != p => {
            return Err(ApiError::bad_request(
                "Role ID in URL and request body do not match",
            ))
        }
        Some(p) => {
            if !st
                .roles
                .get(p)
                .is_some_and(|r| r.scope.visible_to(&scope, false))
            {
                return Err(ApiError::internal(format!("cannot find role {p:?}")));
            }
            p.to_string()
        }
    };
    let name = s(&body, "Name").to_string();
    if name.is_empty() {
        return Err(ApiError::internal("Invalid Role: no Name is set"));
    }
    if !valid_policy_name(&name) || name.contains('/') {
        return Err(ApiError::internal(format!(
            "Invalid Role: invalid Name {name:?}"
        )));
    }
    if st
        .roles
        .values()
        .any(|r| r.name == name && r.id != id && r.scope == scope)
    {
        return Err(ApiError::internal(format!(
            "Invalid Role: A Role with Name {name:?} already exists"
        )));
    }
    let policies = st.resolve_policy_links(body.get("Policies").unwrap_or(&Value::Null), &scope)?;
    let service_identities =
        parse_service_identities(body.get("ServiceIdentities").unwrap_or(&Value::Null))?;
    let node_identities =
        parse_node_identities(body.get("NodeIdentities").unwrap_or(&Value::Null))?;
    let index = st.next_index();
    let create_index = st.roles.get(&id).map_or(index, |r| r.create_index);
    let role = Role {
        id: id.clone(),
        name,
        description: s(&body, "Description").to_string(),
        policies,
        service_identities,
        node_identities,
        create_index,
        modify_index: index,
        scope,
    };
    let out = st.role_json(&role);
    st.roles.insert(id, role);
    Ok(json(&out))
}

/// `DELETE /v1/acl/role/:id`.
pub(crate) fn role_delete(st: &mut State, req: &Req, id: &str) -> Reply {
    write_caller(st, req)?;
    let scope = Scope::of_request(st, req, None);
    if !st
        .roles
        .get(id)
        .is_some_and(|r| r.scope.visible_to(&scope, false))
    {
        return delete_not_found(st, "role");
    }
    st.roles.remove(id);
    st.next_index();
    Ok(json(&json!(true)))
}

// ---------------------------------------------------------------- auth methods

fn method_json(m: &AuthMethod, with_config: bool) -> Value {
    let mut obj = Map::new();
    obj.insert("Name".into(), json!(m.name));
    obj.insert("Type".into(), json!(m.kind));
    if !m.display_name.is_empty() {
        obj.insert("DisplayName".into(), json!(m.display_name));
    }
    if !m.description.is_empty() {
        obj.insert("Description".into(), json!(m.description));
    }
    if !m.max_token_ttl.is_empty() {
        obj.insert("MaxTokenTTL".into(), json!(m.max_token_ttl));
    }
    if !m.token_locality.is_empty() {
        obj.insert("TokenLocality".into(), json!(m.token_locality));
    }
    if with_config {
        obj.insert("Config".into(), m.config.clone());
    }
    if !m.namespace_rules.is_empty() {
        let rules: Vec<Value> = m
            .namespace_rules
            .iter()
            .map(|(selector, bind)| json!({"Selector": selector, "BindNamespace": bind}))
            .collect();
        obj.insert("NamespaceRules".into(), Value::Array(rules));
    }
    m.scope.annotate(&mut obj);
    obj.insert("CreateIndex".into(), json!(m.create_index));
    obj.insert("ModifyIndex".into(), json!(m.modify_index));
    Value::Object(obj)
}

fn valid_method_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The auth method `name` in `scope`.
fn find_method<'a>(st: &'a State, scope: &Scope, name: &str) -> Option<&'a AuthMethod> {
    st.auth_methods
        .values()
        .find(|m| m.name == name && m.scope == *scope)
}

/// The key of a method in `State::auth_methods` (names are unique per scope).
fn method_key(scope: &Scope, name: &str) -> String {
    format!("{}/{}/{name}", scope.partition, scope.namespace)
}

/// `GET /v1/acl/auth-methods` (entries without `Config`).
pub(crate) fn method_list(st: &State, req: &Req) -> Reply {
    read_caller(st, req)?;
    let scope = Scope::of_request(st, req, None);
    let any_namespace = Scope::wildcard_namespace(req);
    let items: Vec<Value> = st
        .auth_methods
        .values()
        .filter(|m| m.scope.visible_to(&scope, any_namespace))
        .map(|m| method_json(m, false))
        .collect();
    Ok(json(&Value::Array(items)))
}

/// `GET /v1/acl/auth-method/:name`.
pub(crate) fn method_read(st: &State, req: &Req, name: &str) -> Reply {
    read_caller(st, req)?;
    match find_method(st, &Scope::of_request(st, req, None), name) {
        Some(m) => Ok(json(&method_json(m, true))),
        None => Err(read_not_found(st, "auth method")),
    }
}

/// `NamespaceRules` of a method body (Enterprise): each selector must compile against the
/// method's identity fields and each bind namespace must interpolate.
fn namespace_rules(
    st: &State,
    body: &Value,
    scope: &Scope,
    cfg: &AwsIamConfig,
) -> Result<Vec<(String, String)>, ApiError> {
    let rules = body
        .get("NamespaceRules")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    if !st.opts.enterprise {
        // CE's auth method has no such field.
        return Err(ApiError::bad_request(
            "Request decode failed: json: unknown field \"NamespaceRules\"",
        ));
    }
    if scope.namespace != super::scope::DEFAULT {
        return Err(ApiError::internal(
            "Invalid Auth Method: namespace rules may only be defined on auth methods in the default namespace",
        ));
    }
    let vars = awsiam::placeholder_vars(cfg);
    let lookup = |n: &str| vars.get(n).cloned();
    let mut out = Vec::new();
    for rule in &rules {
        let selector = s(rule, "Selector").to_string();
        let bind = s(rule, "BindNamespace").to_string();
        if !selector.is_empty() {
            Expr::parse(&selector, Some(awsiam::SELECTOR_FIELDS)).map_err(|e| {
                ApiError::internal(format!(
                    "Invalid Auth Method: namespace rule has an invalid selector: {e}"
                ))
            })?;
        }
        if bind.is_empty() {
            return Err(ApiError::internal(
                "Invalid Auth Method: namespace rule must have a bind namespace",
            ));
        }
        interpolate(&bind, &lookup).map_err(|e| {
            ApiError::internal(format!(
                "Invalid Auth Method: namespace rule has an invalid bind namespace: {e}"
            ))
        })?;
        out.push((selector, bind));
    }
    Ok(out)
}

/// `PUT /v1/acl/auth-method` (create) and `PUT /v1/acl/auth-method/:name` (update). An
/// update replaces the whole method (Config included) with the body, as Consul does.
pub(crate) fn method_write(st: &mut State, req: &Req, path_name: Option<&str>) -> Reply {
    enabled(st)?;
    let body = decode_as(req, &AUTH_METHOD, "Auth Method")?;
    write_caller(st, req)?;
    let scope = Scope::of_request(st, req, Some(&body));
    let name = s(&body, "Name").to_string();
    if let Some(p) = path_name {
        if !name.is_empty() && name != p {
            return Err(ApiError::bad_request(
                "AuthMethod Name in URL and payload do not match",
            ));
        }
    }
    let name = path_name.map_or(name, str::to_string);
    if !valid_method_name(&name) {
        return Err(ApiError::internal(format!(
            "Invalid Auth Method: invalid Name {name:?}"
        )));
    }
    let kind = s(&body, "Type").to_string();
    let existing = find_method(st, &scope, &name).cloned();
    match (&existing, path_name) {
        (Some(_), None) => {
            return Err(ApiError::internal(format!(
                "Invalid Auth Method: Auth Method with Name {name:?} already exists"
            )))
        }
        (None, Some(_)) => {
            return Err(ApiError::internal(format!(
                "Cannot find auth method {name:?}"
            )))
        }
        (Some(old), Some(_)) if old.kind != kind => {
            return Err(ApiError::internal(
                "Invalid Auth Method: cannot change type",
            ))
        }
        _ => {}
    }
    if kind != "aws-iam" {
        return Err(ApiError::internal(
            "Invalid Auth Method: Type should be one of: [aws-iam]",
        ));
    }
    let locality = s(&body, "TokenLocality").to_string();
    if !matches!(locality.as_str(), "" | "local" | "global") {
        return Err(ApiError::internal(format!(
            "Invalid Auth Method: TokenLocality should be one of 'local' or 'global', got {locality:?}"
        )));
    }
    let max_ttl = match body.get("MaxTokenTTL") {
        None | Some(Value::Null) => String::new(),
        Some(v) => {
            let d = super::wire::parse_duration(v)
                .map_err(|e| ApiError::bad_request(format!("Auth Method decoding failed: {e}")))?;
            if d.is_zero() {
                String::new()
            } else if d < std::time::Duration::from_secs(60)
                || d > std::time::Duration::from_secs(24 * 3600)
            {
                return Err(ApiError::internal(
                    "Invalid Auth Method: MaxTokenTTL should be between 1m0s and 24h0m0s",
                ));
            } else {
                super::wire::go_duration(d)
            }
        }
    };
    let (config, cfg) = awsiam::parse_config(body.get("Config").unwrap_or(&Value::Null))
        .map_err(|e| ApiError::internal(format!("Invalid Auth Method: {e}")))?;
    let rules = namespace_rules(st, &body, &scope, &cfg)?;
    let index = st.next_index();
    let method = AuthMethod {
        name: name.clone(),
        kind,
        display_name: s(&body, "DisplayName").to_string(),
        description: s(&body, "Description").to_string(),
        max_token_ttl: max_ttl,
        token_locality: locality,
        config,
        namespace_rules: rules,
        create_index: existing.map_or(index, |m| m.create_index),
        modify_index: index,
        scope: scope.clone(),
    };
    let out = method_json(&method, true);
    st.auth_methods.insert(method_key(&scope, &name), method);
    Ok(json(&out))
}

/// `DELETE /v1/acl/auth-method/:name`: also removes its binding rules and the tokens it
/// issued, as Consul does.
pub(crate) fn method_delete(st: &mut State, req: &Req, name: &str) -> Reply {
    write_caller(st, req)?;
    let scope = Scope::of_request(st, req, None);
    if st.auth_methods.remove(&method_key(&scope, name)).is_none() {
        return delete_not_found(st, "auth method");
    }
    st.binding_rules
        .retain(|_, r| !(r.auth_method == name && r.scope == scope));
    st.tokens.retain(|_, t| {
        !(t.auth_method == name
            && t.scope.partition == scope.partition
            && t.auth_method_namespace == scope.namespace)
    });
    st.next_index();
    Ok(json(&json!(true)))
}

// ---------------------------------------------------------------- binding rules

fn rule_json(r: &BindingRule) -> Value {
    let mut obj = Map::new();
    obj.insert("ID".into(), json!(r.id));
    obj.insert("Description".into(), json!(r.description));
    obj.insert("AuthMethod".into(), json!(r.auth_method));
    obj.insert("Selector".into(), json!(r.selector));
    obj.insert("BindType".into(), json!(r.bind_type));
    obj.insert("BindName".into(), json!(r.bind_name));
    r.scope.annotate(&mut obj);
    obj.insert("CreateIndex".into(), json!(r.create_index));
    obj.insert("ModifyIndex".into(), json!(r.modify_index));
    Value::Object(obj)
}

fn method_config(st: &State, scope: &Scope, name: &str) -> Option<AwsIamConfig> {
    find_method(st, scope, name)
        .and_then(|m| awsiam::parse_config(&m.config).ok())
        .map(|(_, c)| c)
}

/// `GET /v1/acl/binding-rules?authmethod=`.
pub(crate) fn rule_list(st: &State, req: &Req) -> Reply {
    read_caller(st, req)?;
    let method = req.query_value("authmethod").filter(|m| !m.is_empty());
    let scope = Scope::of_request(st, req, None);
    let any_namespace = Scope::wildcard_namespace(req);
    let items: Vec<Value> = st
        .binding_rules
        .values()
        .filter(|r| r.scope.visible_to(&scope, any_namespace))
        .filter(|r| method.is_none_or(|m| r.auth_method == m))
        .map(rule_json)
        .collect();
    Ok(json(&Value::Array(items)))
}

/// `GET /v1/acl/binding-rule/:id`.
pub(crate) fn rule_read(st: &State, req: &Req, id: &str) -> Reply {
    read_caller(st, req)?;
    let scope = Scope::of_request(st, req, None);
    match st
        .binding_rules
        .get(id)
        .filter(|r| r.scope.visible_to(&scope, false))
    {
        Some(r) => Ok(json(&rule_json(r))),
        None => Err(read_not_found(st, "binding rule")),
    }
}

/// `PUT /v1/acl/binding-rule` (create) and `PUT /v1/acl/binding-rule/:id` (update).
pub(crate) fn rule_write(st: &mut State, req: &Req, path_id: Option<&str>) -> Reply {
    enabled(st)?;
    let body = decode_as(req, &BINDING_RULE, "BindingRule")?;
    write_caller(st, req)?;
    let scope = Scope::of_request(st, req, Some(&body));
    let body_id = s(&body, "ID");
    let id = match path_id {
        None if !body_id.is_empty() => {
            return Err(ApiError::bad_request(
                "Cannot specify the ID when creating a new binding rule",
            ))
        }
        None => new_uuid(),
        Some(p) if !body_id.is_empty() && body_id != p => {
            return Err(ApiError::bad_request(
                "BindingRule ID in URL and request body do not match",
            ))
        }
        Some(p) => {
            if !st
                .binding_rules
                .get(p)
                .is_some_and(|r| r.scope.visible_to(&scope, false))
            {
                return Err(ApiError::internal(format!(
                    "Cannot find binding rule {p:?}"
                )));
            }
            p.to_string()
        }
    };
    let method = s(&body, "AuthMethod").to_string();
    let Some(cfg) = method_config(st, &scope, &method) else {
        return Err(ApiError::internal(format!(
            "cannot find auth method with name {method:?}"
        )));
    };
    let selector = s(&body, "Selector").to_string();
    if !selector.is_empty() {
        Expr::parse(&selector, Some(awsiam::SELECTOR_FIELDS)).map_err(|e| {
            ApiError::internal(format!("Invalid Binding Rule: invalid Selector: {e}"))
        })?;
    }
    let bind_type = s(&body, "BindType").to_string();
    if !matches!(bind_type.as_str(), "service" | "node" | "role") {
        return Err(ApiError::internal(format!(
            "Invalid Binding Rule: unknown BindType {bind_type:?}"
        )));
    }
    let bind_name = s(&body, "BindName").to_string();
    if bind_name.is_empty() {
        return Err(ApiError::internal(
            "Invalid Binding Rule: no BindName is set",
        ));
    }
    let vars = awsiam::placeholder_vars(&cfg);
    let lookup = |n: &str| vars.get(n).cloned();
    let computed = interpolate(&bind_name, &lookup)
        .map_err(|e| ApiError::internal(format!("Invalid Binding Rule: invalid BindName: {e}")))?;
    if !bind_name_valid(&bind_type, &computed) {
        return Err(ApiError::internal(format!(
            "Invalid Binding Rule: invalid BindName {bind_name:?}"
        )));
    }
    let index = st.next_index();
    let create_index = st.binding_rules.get(&id).map_or(index, |r| r.create_index);
    let rule = BindingRule {
        id: id.clone(),
        description: s(&body, "Description").to_string(),
        auth_method: method,
        selector,
        bind_type,
        bind_name,
        create_index,
        modify_index: index,
        scope,
    };
    let out = rule_json(&rule);
    st.binding_rules.insert(id, rule);
    Ok(json(&out))
}

/// `DELETE /v1/acl/binding-rule/:id`.
pub(crate) fn rule_delete(st: &mut State, req: &Req, id: &str) -> Reply {
    write_caller(st, req)?;
    let scope = Scope::of_request(st, req, None);
    if !st
        .binding_rules
        .get(id)
        .is_some_and(|r| r.scope.visible_to(&scope, false))
    {
        return delete_not_found(st, "binding rule");
    }
    st.binding_rules.remove(id);
    st.next_index();
    Ok(json(&json!(true)))
}

fn bind_name_valid(bind_type: &str, name: &str) -> bool {
    match bind_type {
        "role" => {
            !name.is_empty()
                && name.len() <= 256
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }
        _ => valid_identity_name(name),
    }
}

// ---------------------------------------------------------------- login / logout

/// What `login` needs from the state before the (async) AWS round trips.
pub(crate) struct LoginPlan {
    pub method: AuthMethod,
    pub cfg: AwsIamConfig,
    pub bearer: String,
    pub meta: BTreeMap<String, String>,
}

/// First half of `POST /v1/acl/login`: decode and find the method.
pub(crate) fn login_prepare(st: &State, req: &Req) -> Result<LoginPlan, ApiError> {
    enabled(st)?;
    let body = decode(&req.body, &LOGIN)
        .map_err(|e| ApiError::bad_request(format!("Failed to decode request body: {e}")))?;
    let name = s(&body, "AuthMethod").to_string();
    let scope = Scope::of_request(st, req, Some(&body));
    let Some(method) = find_method(st, &scope, &name).cloned() else {
        return Err(ApiError::forbidden(format!(
            "ACL not found: auth method {name:?} not found"
        )));
    };
    let (_, cfg) = awsiam::parse_config(&method.config).map_err(|e| {
        ApiError::internal(format!(
            "auth method validator for {name:?} could not be initialized: {e}"
        ))
    })?;
    let mut meta = BTreeMap::new();
    if let Some(m) = body.get("Meta").and_then(Value::as_object) {
        for (k, v) in m {
            let v = match v {
                Value::String(t) => t.clone(),
                other => other.to_string(),
            };
            meta.insert(k.clone(), v);
        }
    }
    Ok(LoginPlan {
        method,
        cfg,
        bearer: s(&body, "BearerToken").to_string(),
        meta,
    })
}

/// Go's JSON encoding of a string map (keys sorted, HTML characters escaped).
/// The description Consul gives a login token: its login meta as Go encodes a map.
pub(crate) fn login_description(meta: &BTreeMap<String, String>) -> String {
    if meta.is_empty() {
        "token created via login".to_string()
    } else {
        format!("token created via login: {}", go_json_map(meta))
    }
}

fn go_json_map(meta: &BTreeMap<String, String>) -> String {
    let raw = serde_json::to_string(meta).unwrap_or_default();
    raw.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Second half of login: run the binding rules for a verified identity and create the
/// token (403 `Permission denied` when no rule applies).
pub(crate) fn login_finish(st: &mut State, plan: &LoginPlan, identity: &Identity) -> Reply {
    let vars = identity.vars(&plan.cfg);
    let doc = identity.selector_doc(&plan.cfg);
    let lookup = |n: &str| vars.get(n).cloned();
    // Enterprise: the first namespace rule whose selector matches names the token's
    // namespace; without one the token lives in the method's namespace.
    let method_scope = &plan.method.scope;
    let mut token_scope = method_scope.clone();
    for (selector, bind) in &plan.method.namespace_rules {
        let matched = selector.is_empty()
            || Expr::parse(selector, None)
                .map(|e| e.eval(&doc))
                .unwrap_or(false);
        if matched {
            token_scope.namespace = interpolate(bind, &lookup).map_err(ApiError::internal)?;
            break;
        }
    }
    let mut service_identities = Vec::new();
    let mut node_identities = Vec::new();
    let mut roles = Vec::new();
    for rule in st
        .binding_rules
        .values()
        .filter(|r| r.auth_method == plan.method.name && r.scope == *method_scope)
    {
        if !rule.selector.is_empty() {
            let matched = Expr::parse(&rule.selector, None)
                .map(|e| e.eval(&doc))
                .unwrap_or(false);
            if !matched {
                continue;
            }
        }
        let name = interpolate(&rule.bind_name, &lookup).map_err(|e| {
            ApiError::internal(format!(
                "cannot compute {:?} bind name for bind target: {e}",
                rule.bind_type
            ))
        })?;
        if !bind_name_valid(&rule.bind_type, &name) {
            return Err(ApiError::internal(format!(
                "computed {:?} bind name for bind target is invalid: {name:?}",
                rule.bind_type
            )));
        }
        match rule.bind_type.as_str() {
            "service" => {
                let si = ServiceIdentity {
                    service_name: name,
                    datacenters: Vec::new(),
                };
                if !service_identities.contains(&si) {
                    service_identities.push(si);
                }
            }
            "node" => {
                let ni = NodeIdentity {
                    node_name: name,
                    datacenter: st.opts.datacenter.clone(),
                };
                if !node_identities.contains(&ni) {
                    node_identities.push(ni);
                }
            }
            _ => {
                let role = st
                    .roles
                    .values()
                    .filter(|r| r.name == name)
                    .find(|r| r.scope == token_scope)
                    .or_else(|| {
                        st.roles
                            .values()
                            .find(|r| r.name == name && r.scope.linkable_from(&token_scope))
                    });
                if let Some(role) = role {
                    let link = Link {
                        id: role.id.clone(),
                        name: role.name.clone(),
                    };
                    if !roles.contains(&link) {
                        roles.push(link);
                    }
                }
            }
        }
    }
    if service_identities.is_empty() && node_identities.is_empty() && roles.is_empty() {
        return Err(ApiError::forbidden("Permission denied"));
    }
    let description = login_description(&plan.meta);
    let ttl = super::wire::parse_duration(&json!(plan.method.max_token_ttl))
        .ok()
        .filter(|d| !d.is_zero());
    let index = st.next_index();
    let token = Token {
        accessor_id: new_uuid(),
        secret_id: new_uuid(),
        description,
        policies: Vec::new(),
        roles,
        service_identities,
        node_identities,
        local: plan.method.token_locality != "global",
        auth_method: plan.method.name.clone(),
        create_time: super::wire::now_rfc3339(),
        create_index: index,
        modify_index: index,
        expiration_ttl: ttl,
        expiration_time: ttl.map(|d| st.now() + d),
        auth_method_namespace: method_scope.namespace.clone(),
        scope: token_scope,
    };
    let out = st.token_json(&token, false);
    st.tokens.insert(token.accessor_id.clone(), token);
    Ok(json(&out))
}

/// `POST /v1/acl/logout`.
pub(crate) fn logout(st: &mut State, req: &Req) -> Reply {
    enabled(st)?;
    let secret = match req.token.as_deref() {
        None | Some("") => return Err(ApiError::unauthorized("Supplied token does not exist")),
        Some(s) => s,
    };
    let Some(token) = st.token_by_secret(secret).cloned() else {
        return Err(ApiError::acl_not_found());
    };
    if token.auth_method.is_empty() {
        return Err(ApiError::forbidden(
            "Permission denied: token wasn't created via login",
        ));
    }
    st.tokens.remove(&token.accessor_id);
    st.next_index();
    let mut resp = text(http::StatusCode::OK, "true");
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}
