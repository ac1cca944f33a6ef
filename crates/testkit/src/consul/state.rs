//! The emulator's in-memory state: agent services and checks, config entries, and the ACL
//! objects (tokens, policies, roles, auth methods, binding rules).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{json, Map, Value};

use super::rules::{Access, Authorizer, Rules};
use super::scope::Scope;
use super::wire::ApiError;
use super::EmulatorOptions;

/// Accessor ID of the built-in anonymous token.
pub const ANONYMOUS_ACCESSOR: &str = "00000000-0000-0000-0000-000000000002";
/// ID of the built-in `global-management` policy.
pub const GLOBAL_MANAGEMENT_ID: &str = "00000000-0000-0000-0000-000000000001";

/// A reference from a token or role to a policy or role, by ID (names are resolved when
/// the object is shown, as Consul does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The policy or role ID.
    pub id: String,
    /// Its name at the time the link was made.
    pub name: String,
}

/// A service identity on a token or role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceIdentity {
    /// Service name the identity grants `service:write` on (plus its sidecar proxy).
    pub service_name: String,
    /// Datacenters where it applies (empty = all).
    pub datacenters: Vec<String>,
}

/// A node identity on a token or role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIdentity {
    /// Node name the identity grants `node:write` on.
    pub node_name: String,
    /// The datacenter where it applies.
    pub datacenter: String,
}

/// An ACL token as stored by the emulator. `Debug` never prints the secret.
#[derive(Clone)]
pub struct Token {
    /// Public ID.
    pub accessor_id: String,
    /// The secret sent as `X-Consul-Token`.
    pub secret_id: String,
    /// Free text; for login tokens `token created via login: <meta JSON>`.
    pub description: String,
    /// Linked policies.
    pub policies: Vec<Link>,
    /// Linked roles.
    pub roles: Vec<Link>,
    /// Service identities.
    pub service_identities: Vec<ServiceIdentity>,
    /// Node identities.
    pub node_identities: Vec<NodeIdentity>,
    /// Local (not replicated) token; login tokens are local.
    pub local: bool,
    /// Auth method that created the token (login), else empty.
    pub auth_method: String,
    /// RFC 3339 creation time.
    pub create_time: String,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
    /// The TTL the token was created with (`ExpirationTTL`), if any.
    pub expiration_ttl: Option<std::time::Duration>,
    /// When the token stops resolving (`ExpirationTime`), if ever.
    pub expiration_time: Option<std::time::SystemTime>,
    /// Partition and namespace (Enterprise; empty on CE).
    pub scope: Scope,
    /// Namespace of the auth method that made it (Enterprise login tokens).
    pub auth_method_namespace: String,
}

impl Token {
    /// Whether the token has expired at `now`.
    pub fn expired_at(&self, now: std::time::SystemTime) -> bool {
        self.expiration_time.is_some_and(|e| e <= now)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("accessor_id", &self.accessor_id)
            .field("secret_id", &"<redacted>")
            .field("description", &self.description)
            .field("policies", &self.policies)
            .field("roles", &self.roles)
            .field("service_identities", &self.service_identities)
            .field("node_identities", &self.node_identities)
            .field("local", &self.local)
            .field("auth_method", &self.auth_method)
            .field("expiration_time", &self.expiration_time)
            .field("scope", &self.scope)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub id: String,
    pub name: String,
    pub description: String,
    pub rules_text: String,
    pub rules: Rules,
    pub datacenters: Vec<String>,
    pub create_index: u64,
    pub modify_index: u64,
    pub scope: Scope,
}

#[derive(Debug, Clone)]
pub(crate) struct Role {
    pub id: String,
    pub name: String,
    pub description: String,
    pub policies: Vec<Link>,
    pub service_identities: Vec<ServiceIdentity>,
    pub node_identities: Vec<NodeIdentity>,
    pub create_index: u64,
    pub modify_index: u64,
    pub scope: Scope,
}

#[derive(Debug, Clone)]
pub(crate) struct AuthMethod {
    pub name: String,
    pub kind: String,
    pub display_name: String,
    pub description: String,
    pub max_token_ttl: String,
    pub token_locality: String,
    /// The config as sent (normalised key spelling), shown back on reads.
    pub config: Value,
    /// `NamespaceRules` (Enterprise): (selector, bind namespace), first match wins.
    pub namespace_rules: Vec<(String, String)>,
    pub create_index: u64,
    pub modify_index: u64,
    pub scope: Scope,
}

#[derive(Debug, Clone)]
pub(crate) struct BindingRule {
    pub id: String,
    pub description: String,
    pub auth_method: String,
    pub selector: String,
    pub bind_type: String,
    pub bind_name: String,
    pub create_index: u64,
    pub modify_index: u64,
    pub scope: Scope,
}

/// An agent service: the normalised registration plus what the agent derived.
#[derive(Debug, Clone)]
pub(crate) struct ServiceEntry {
    pub id: String,
    pub name: String,
    pub reg: Value,
}

/// An agent check.
#[derive(Debug, Clone)]
pub(crate) struct CheckEntry {
    pub id: String,
    pub name: String,
    pub status: String,
    pub notes: String,
    pub output: String,
    pub service_id: String,
    pub service_name: String,
    pub service_tags: Vec<String>,
    pub kind: String,
    pub interval: String,
    pub timeout: String,
}

pub(crate) struct State {
    pub opts: EmulatorOptions,
    pub index: u64,
    pub services: BTreeMap<String, ServiceEntry>,
    pub checks: BTreeMap<String, CheckEntry>,
    pub tokens: BTreeMap<String, Token>,
    pub policies: BTreeMap<String, Policy>,
    pub roles: BTreeMap<String, Role>,
    pub auth_methods: BTreeMap<String, AuthMethod>,
    pub binding_rules: BTreeMap<String, BindingRule>,
    pub config_entries: BTreeMap<(String, String), Value>,
    /// The servers' catalog (dataplane layout).
    pub catalog: super::catalog::Catalog,
    /// Enterprise partitions by name.
    pub partitions: BTreeMap<String, Value>,
    /// Enterprise namespaces by (partition, name).
    pub namespaces: BTreeMap<(String, String), Value>,
    pub management_secret: String,
    /// Added to the wall clock for expiry decisions (tests move time forward).
    pub clock_offset: std::time::Duration,
}

/// A token as resolved for one request.
pub(crate) struct Caller {
    pub authz: Authorizer,
    /// `None` when ACLs are disabled.
    pub token: Option<Token>,
}

impl Caller {
    /// Checks a named permission; the error is Consul's `Permission denied` text.
    pub fn need(&self, kind: &str, name: &str, access: Access) -> Result<(), ApiError> {
        if self.authz.allowed(kind, name, access) {
            return Ok(());
        }
        Err(self.denied(&format!("'{kind}:{}' on {name:?}", access.word())))
    }

    /// Checks an unnamed permission (`acl`, `operator`, `mesh`).
    pub fn need_global(&self, kind: &str, access: Access) -> Result<(), ApiError> {
        if self.authz.allowed_global(kind, access) {
            return Ok(());
        }
        Err(self.denied(&format!("'{kind}:{}'", access.word())))
    }

    fn denied(&self, what: &str) -> ApiError {
        match &self.token {
            Some(t) if t.accessor_id == ANONYMOUS_ACCESSOR => ApiError::forbidden(format!(
                "Permission denied: anonymous token lacks permission {what}. The anonymous token is used implicitly when a request does not specify a token."
            )),
            Some(t) => ApiError::forbidden(format!(
                "Permission denied: token with AccessorID '{}' lacks permission {what}",
                t.accessor_id
            )),
            None => ApiError::forbidden("Permission denied"),
        }
    }
}

pub(crate) fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl State {
    pub fn new(opts: EmulatorOptions) -> State {
        let mut state = State {
            opts,
            index: 10,
            services: BTreeMap::new(),
            checks: BTreeMap::new(),
            tokens: BTreeMap::new(),
            policies: BTreeMap::new(),
            roles: BTreeMap::new(),
            auth_methods: BTreeMap::new(),
            binding_rules: BTreeMap::new(),
            config_entries: BTreeMap::new(),
            catalog: Default::default(),
            partitions: BTreeMap::new(),
            namespaces: BTreeMap::new(),
            management_secret: String::new(),
            clock_offset: std::time::Duration::ZERO,
        };
        state.management_secret = state
            .opts
            .management_token
            .clone()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(new_uuid);
        super::tenancy::seed(&mut state);
        let builtin = Scope::builtin(state.opts.enterprise);
        state.policies.insert(
            GLOBAL_MANAGEMENT_ID.to_string(),
            Policy {
                id: GLOBAL_MANAGEMENT_ID.to_string(),
                name: "global-management".to_string(),
                description: "Builtin Policy that grants unlimited access".to_string(),
                rules_text: "acl = \"write\"\nagent_prefix \"\" {\n  policy = \"write\"\n}\nnode_prefix \"\" {\n  policy = \"write\"\n}\noperator = \"write\"\nservice_prefix \"\" {\n  policy = \"write\"\n}\n".to_string(),
                rules: Rules::default(),
                datacenters: Vec::new(),
                create_index: 4,
                modify_index: 4,
                scope: builtin.clone(),
            },
        );
        let now = super::wire::now_rfc3339();
        state.tokens.insert(
            ANONYMOUS_ACCESSOR.to_string(),
            Token {
                accessor_id: ANONYMOUS_ACCESSOR.to_string(),
                secret_id: "anonymous".to_string(),
                description: "Anonymous Token".to_string(),
                policies: Vec::new(),
                roles: Vec::new(),
                service_identities: Vec::new(),
                node_identities: Vec::new(),
                local: false,
                auth_method: String::new(),
                create_time: now.clone(),
                create_index: 5,
                modify_index: 5,
                expiration_ttl: None,
                expiration_time: None,
                scope: builtin.clone(),
                auth_method_namespace: String::new(),
            },
        );
        let mgmt = Token {
            accessor_id: new_uuid(),
            secret_id: state.management_secret.clone(),
            description: "Bootstrap Token (Global Management)".to_string(),
            policies: vec![Link {
                id: GLOBAL_MANAGEMENT_ID.to_string(),
                name: "global-management".to_string(),
            }],
            roles: Vec::new(),
            service_identities: Vec::new(),
            node_identities: Vec::new(),
            local: false,
            auth_method: String::new(),
            create_time: now,
            create_index: 6,
            modify_index: 6,
            expiration_ttl: None,
            expiration_time: None,
            scope: builtin,
            auth_method_namespace: String::new(),
        };
        state.tokens.insert(mgmt.accessor_id.clone(), mgmt);
        state
    }

    /// Advances and returns the raft index for a write.
    pub fn next_index(&mut self) -> u64 {
        self.index += 1;
        self.index
    }

    /// The emulator's idea of now (wall clock plus the test offset).
    pub fn now(&self) -> std::time::SystemTime {
        std::time::SystemTime::now() + self.clock_offset
    }

    /// A live (unexpired) token by secret.
    pub fn token_by_secret(&self, secret: &str) -> Option<&Token> {
        let now = self.now();
        self.tokens
            .values()
            .find(|t| t.secret_id == secret && !t.expired_at(now))
    }

    /// A live (unexpired) token by accessor.
    pub fn token_by_accessor(&self, accessor: &str) -> Option<&Token> {
        let now = self.now();
        self.tokens.get(accessor).filter(|t| !t.expired_at(now))
    }

    /// Whether `token` has reached every server ([`super::EmulatorOptions::replication_lag`]
    /// after it was created).
    pub fn replicated(&self, token: &Token) -> bool {
        let lag = self.opts.replication_lag;
        if lag.is_zero() {
            return true;
        }
        crate::time::parse_rfc3339(&token.create_time)
            .map(|created| created + lag <= self.now())
            .unwrap_or(true)
    }

    /// Resolves the request's token. No token → anonymous; unknown → `ACL not found`.
    pub fn caller(&self, secret: Option<&str>) -> Result<Caller, ApiError> {
        if !self.opts.acls_enabled {
            return Ok(Caller {
                authz: Authorizer::allow_all(),
                token: None,
            });
        }
        let token = match secret {
            None | Some("") => self.tokens.get(ANONYMOUS_ACCESSOR),
            Some(secret) => self.token_by_secret(secret),
        }
        .ok_or_else(ApiError::acl_not_found)?
        .clone();
        Ok(Caller {
            authz: self.authorizer_for(&token),
            token: Some(token),
        })
    }

    fn authorizer_for(&self, token: &Token) -> Authorizer {
        let mut authz = Authorizer::default();
        let mut policy_ids: Vec<&str> = token.policies.iter().map(|l| l.id.as_str()).collect();
        let mut service_ids: Vec<&ServiceIdentity> = token.service_identities.iter().collect();
        let mut node_ids: Vec<&NodeIdentity> = token.node_identities.iter().collect();
        for link in &token.roles {
            if let Some(role) = self.roles.get(&link.id) {
                policy_ids.extend(role.policies.iter().map(|l| l.id.as_str()));
                service_ids.extend(role.service_identities.iter());
                node_ids.extend(role.node_identities.iter());
            }
        }
        let dc = self.opts.datacenter.as_str();
        for id in policy_ids {
            if id == GLOBAL_MANAGEMENT_ID {
                authz.management = true;
            } else if let Some(policy) = self.policies.get(id) {
                if policy.datacenters.is_empty() || policy.datacenters.iter().any(|d| d == dc) {
                    authz.add(&policy.rules);
                }
            }
        }
        for si in service_ids {
            if !si.datacenters.is_empty() && !si.datacenters.iter().any(|d| d == dc) {
                continue;
            }
            let name = si.service_name.as_str();
            authz.add_rule("service", Some(name), Access::Write);
            authz.add_rule(
                "service",
                Some(&format!("{name}-sidecar-proxy")),
                Access::Write,
            );
            authz.add_rule("service_prefix", Some(""), Access::Read);
            authz.add_rule("node_prefix", Some(""), Access::Read);
        }
        for ni in node_ids {
            if ni.datacenter != dc {
                continue;
            }
            authz.add_rule("node", Some(&ni.node_name), Access::Write);
            authz.add_rule("service_prefix", Some(""), Access::Read);
        }
        authz
    }

    fn link_json(&self, links: &[Link], policies: bool) -> Vec<Value> {
        links
            .iter()
            .filter_map(|l| {
                let name = if policies {
                    self.policies.get(&l.id).map(|p| p.name.clone())
                } else {
                    self.roles.get(&l.id).map(|r| r.name.clone())
                }?;
                Some(json!({"ID": l.id, "Name": name}))
            })
            .collect()
    }

    /// The token as Consul shows it; `hide_secret` replaces the secret with `<hidden>`.
    pub fn token_json(&self, t: &Token, hide_secret: bool) -> Value {
        let mut obj = Map::new();
        obj.insert("AccessorID".into(), json!(t.accessor_id));
        obj.insert(
            "SecretID".into(),
            json!(if hide_secret {
                "<hidden>"
            } else {
                t.secret_id.as_str()
            }),
        );
        obj.insert("Description".into(), json!(t.description));
        let policies = self.link_json(&t.policies, true);
        if !policies.is_empty() {
            obj.insert("Policies".into(), Value::Array(policies));
        }
        let roles = self.link_json(&t.roles, false);
        if !roles.is_empty() {
            obj.insert("Roles".into(), Value::Array(roles));
        }
        if !t.service_identities.is_empty() {
            obj.insert(
                "ServiceIdentities".into(),
                service_identities_json(&t.service_identities),
            );
        }
        if !t.node_identities.is_empty() {
            obj.insert(
                "NodeIdentities".into(),
                node_identities_json(&t.node_identities),
            );
        }
        obj.insert("Local".into(), json!(t.local));
        if !t.auth_method.is_empty() {
            obj.insert("AuthMethod".into(), json!(t.auth_method));
        }
        if let Some(ttl) = t.expiration_ttl {
            // A Go time.Duration: integer nanoseconds on the wire.
            obj.insert("ExpirationTTL".into(), json!(ttl.as_nanos() as u64));
        }
        if let Some(at) = t.expiration_time {
            obj.insert("ExpirationTime".into(), json!(super::wire::rfc3339(at)));
        }
        if !t.auth_method_namespace.is_empty() {
            obj.insert("AuthMethodNamespace".into(), json!(t.auth_method_namespace));
        }
        t.scope.annotate(&mut obj);
        obj.insert("CreateTime".into(), json!(t.create_time));
        obj.insert(
            "Hash".into(),
            json!(hash_b64(&t.accessor_id, t.modify_index)),
        );
        obj.insert("CreateIndex".into(), json!(t.create_index));
        obj.insert("ModifyIndex".into(), json!(t.modify_index));
        Value::Object(obj)
    }

    pub fn policy_json(&self, p: &Policy, with_rules: bool) -> Value {
        let mut obj = Map::new();
        obj.insert("ID".into(), json!(p.id));
        obj.insert("Name".into(), json!(p.name));
        obj.insert("Description".into(), json!(p.description));
        if with_rules {
            obj.insert("Rules".into(), json!(p.rules_text));
        }
        if !p.datacenters.is_empty() {
            obj.insert("Datacenters".into(), json!(p.datacenters));
        }
        p.scope.annotate(&mut obj);
        obj.insert("Hash".into(), json!(hash_b64(&p.id, p.modify_index)));
        obj.insert("CreateIndex".into(), json!(p.create_index));
        obj.insert("ModifyIndex".into(), json!(p.modify_index));
        Value::Object(obj)
    }

    pub fn role_json(&self, r: &Role) -> Value {
        let mut obj = Map::new();
        obj.insert("ID".into(), json!(r.id));
        obj.insert("Name".into(), json!(r.name));
        obj.insert("Description".into(), json!(r.description));
        let policies = self.link_json(&r.policies, true);
        if !policies.is_empty() {
            obj.insert("Policies".into(), Value::Array(policies));
        }
        if !r.service_identities.is_empty() {
            obj.insert(
                "ServiceIdentities".into(),
                service_identities_json(&r.service_identities),
            );
        }
        if !r.node_identities.is_empty() {
            obj.insert(
                "NodeIdentities".into(),
                node_identities_json(&r.node_identities),
            );
        }
        r.scope.annotate(&mut obj);
        obj.insert("Hash".into(), json!(hash_b64(&r.id, r.modify_index)));
        obj.insert("CreateIndex".into(), json!(r.create_index));
        obj.insert("ModifyIndex".into(), json!(r.modify_index));
        Value::Object(obj)
    }

    /// Resolves policy links given by ID or name, for an object in `from` (it may link the
    /// policies of its own scope and of its partition's default namespace; a name is looked
    /// up in its own scope first). The error names the missing one.
    pub fn resolve_policy_links(&self, links: &Value, from: &Scope) -> Result<Vec<Link>, ApiError> {
        resolve_links(links, "policy", &self.policies, from, |p| {
            (&p.id, &p.name, &p.scope)
        })
    }

    /// Resolves role links given by ID or name, like [`State::resolve_policy_links`].
    pub fn resolve_role_links(&self, links: &Value, from: &Scope) -> Result<Vec<Link>, ApiError> {
        resolve_links(links, "role", &self.roles, from, |r| {
            (&r.id, &r.name, &r.scope)
        })
    }
}

pub(crate) fn service_identities_json(ids: &[ServiceIdentity]) -> Value {
    Value::Array(
        ids.iter()
            .map(|si| {
                if si.datacenters.is_empty() {
                    json!({"ServiceName": si.service_name})
                } else {
                    json!({"ServiceName": si.service_name, "Datacenters": si.datacenters})
                }
            })
            .collect(),
    )
}

pub(crate) fn node_identities_json(ids: &[NodeIdentity]) -> Value {
    Value::Array(
        ids.iter()
            .map(|ni| json!({"NodeName": ni.node_name, "Datacenter": ni.datacenter}))
            .collect(),
    )
}

/// Parses `ServiceIdentities` from a normalised body, validating names like Consul.
pub(crate) fn parse_service_identities(v: &Value) -> Result<Vec<ServiceIdentity>, ApiError> {
    let mut out = Vec::new();
    for si in v.as_array().into_iter().flatten() {
        let name = super::wire::s(si, "ServiceName");
        if !valid_identity_name(name) {
            return Err(ApiError::bad_request(format!(
                "Service identity {name:?} has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed"
            )));
        }
        out.push(ServiceIdentity {
            service_name: name.to_string(),
            datacenters: super::wire::strings(si, "Datacenters"),
        });
    }
    Ok(out)
}

/// Parses `NodeIdentities`.
pub(crate) fn parse_node_identities(v: &Value) -> Result<Vec<NodeIdentity>, ApiError> {
    let mut out = Vec::new();
    for ni in v.as_array().into_iter().flatten() {
        let name = super::wire::s(ni, "NodeName");
        let dc = super::wire::s(ni, "Datacenter");
        if !valid_identity_name(name) {
            return Err(ApiError::bad_request(format!(
                "Node identity {name:?} has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed"
            )));
        }
        if dc.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Node identity {name:?} must specify a datacenter"
            )));
        }
        out.push(NodeIdentity {
            node_name: name.to_string(),
            datacenter: dc.to_string(),
        });
    }
    Ok(out)
}

/// Service and node identity names: `^[a-z0-9]([a-z0-9\-_]*[a-z0-9])?$`, ≤ 256 chars.
pub(crate) fn valid_identity_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.len() <= 256
        && bytes.first().is_some_and(edge)
        && bytes.last().is_some_and(edge)
        && bytes.iter().all(|b| edge(b) || *b == b'-' || *b == b'_')
}

/// A stable, opaque `Hash` value for an object version (Consul's is a blake2b of the
/// object; clients only compare it).
fn hash_b64(id: &str, index: u64) -> String {
    use base64::Engine as _;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes().chain(index.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut bytes = Vec::with_capacity(32);
    for i in 0..4u64 {
        bytes.extend_from_slice(&(h.rotate_left((i * 16) as u32) ^ i).to_be_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// FNV-1a over a string, as hex (the agent's `ContentHash`).
pub(crate) fn content_hash(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Resolves `[{"ID": …} | {"Name": …}]` links against `objects` (keyed by ID), as Consul
/// does for a token's or role's policies and roles: unknown ones are a 400 naming them,
/// duplicates are dropped.
fn resolve_links<T>(
    links: &Value,
    kind: &str,
    objects: &BTreeMap<String, T>,
    from: &Scope,
    id_name_scope: impl Fn(&T) -> (&String, &String, &Scope),
) -> Result<Vec<Link>, ApiError> {
    let mut out = Vec::new();
    let linkable = |o: &&T| id_name_scope(o).2.linkable_from(from);
    for link in links.as_array().into_iter().flatten() {
        let id = super::wire::s(link, "ID");
        let name = super::wire::s(link, "Name");
        let found = if !id.is_empty() {
            objects.get(id).filter(linkable).ok_or_else(|| {
                ApiError::bad_request(format!("No such ACL {kind} with ID {id:?}"))
            })?
        } else {
            // The object's own scope first, then its partition's default namespace.
            let named = |o: &&T| id_name_scope(o).1 == name;
            objects
                .values()
                .filter(named)
                .find(|o| id_name_scope(o).2 == from)
                .or_else(|| objects.values().filter(named).find(linkable))
                .ok_or_else(|| {
                    ApiError::bad_request(format!("No such ACL {kind} with name {name:?}"))
                })?
        };
        let (id, name, _) = id_name_scope(found);
        let l = Link {
            id: id.clone(),
            name: name.clone(),
        };
        if !out.contains(&l) {
            out.push(l);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_names() {
        assert!(valid_identity_name("web"));
        assert!(valid_identity_name("web-1_a"));
        assert!(!valid_identity_name(""));
        assert!(!valid_identity_name("Web"));
        assert!(!valid_identity_name("web-"));
        assert!(!valid_identity_name(&"a".repeat(257)));
    }

    #[test]
    fn token_debug_hides_the_secret() {
        let state = State::new(EmulatorOptions::default());
        let secret = state.management_secret.clone();
        let text = format!("{:?}", state.tokens.values().collect::<Vec<_>>());
        assert!(!text.contains(&secret));
        assert!(text.contains("<redacted>"));
    }
}
