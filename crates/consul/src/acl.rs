//! ACL endpoints: login/logout, tokens, auth methods, binding rules, policies, roles
//! (docs/protocols.md §3.10–3.12, §5.1–5.6).

use crate::client::{Client, QueryOptions};
use crate::serde_util::{is_zero_u64, null_default};
use crate::{ConsulError, Secret};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Body of `POST /v1/acl/login`. `Debug` hides the bearer token.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoginRequest {
    /// Auth method name (`iam-ecs-service-token`).
    pub auth_method: String,
    /// The method-specific bearer token (for aws-iam: the signed STS request as JSON).
    pub bearer_token: Secret,
    /// Metadata recorded in the token description; omitted when empty.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
}

/// The fields of a token list entry that tell whose login a token is and where it lives
/// (what a controller deleting stale login tokens reads): what [`Client::token_list_each`]
/// decodes, so a list of ten thousand tokens costs no more than these strings. No secret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclTokenListEntry {
    /// Public ID of the token.
    #[serde(rename = "AccessorID")]
    pub accessor_id: String,
    /// Description (for login tokens: `token created via login: <meta JSON>`).
    #[serde(deserialize_with = "null_default")]
    pub description: String,
    /// Auth method that created it (login tokens).
    #[serde(deserialize_with = "null_default")]
    pub auth_method: String,
    /// Namespace (Enterprise).
    #[serde(deserialize_with = "null_default")]
    pub namespace: String,
    /// Partition (Enterprise).
    #[serde(deserialize_with = "null_default")]
    pub partition: String,
}

/// A reference to a policy or role by `ID` and/or `Name`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AclLink {
    /// ID (may be empty when linking by name).
    #[serde(rename = "ID", skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Name (may be empty when linking by ID).
    #[serde(rename = "Name", skip_serializing_if = "String::is_empty")]
    pub name: String,
}

impl AclLink {
    /// A link by name (Consul resolves it to an ID).
    pub fn by_name(name: impl Into<String>) -> Self {
        AclLink {
            id: String::new(),
            name: name.into(),
        }
    }

    /// A link by ID.
    pub fn by_id(id: impl Into<String>) -> Self {
        AclLink {
            id: id.into(),
            name: String::new(),
        }
    }
}

/// A service identity of a token or role.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclServiceIdentity {
    /// Service name.
    pub service_name: String,
    /// Datacenters it is limited to (empty = all).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub datacenters: Vec<String>,
}

/// A node identity of a token or role.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclNodeIdentity {
    /// Node name.
    pub node_name: String,
    /// Datacenter.
    pub datacenter: String,
}

/// An ACL token (login answer, token read, token list entry). `Debug` hides `SecretID`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclToken {
    /// Public ID of the token.
    #[serde(rename = "AccessorID")]
    pub accessor_id: String,
    /// The secret (what goes in `X-Consul-Token`). `<hidden>` for callers with `acl:read`.
    /// Not sent when empty (Consul then generates one on create).
    #[serde(rename = "SecretID", skip_serializing_if = "Secret::is_empty")]
    pub secret_id: Secret,
    /// Description (for login tokens: `token created via login: <meta JSON>`).
    pub description: String,
    /// Linked policies.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub policies: Vec<AclLink>,
    /// Linked roles.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub roles: Vec<AclLink>,
    /// Service identities.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub service_identities: Vec<AclServiceIdentity>,
    /// Node identities.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub node_identities: Vec<AclNodeIdentity>,
    /// Local to the datacenter.
    pub local: bool,
    /// Auth method that created it (login tokens).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth_method: String,
    /// Expiry time (RFC 3339), when the method has `MaxTokenTTL`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<String>,
    /// Creation time (RFC 3339).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub create_time: String,
    /// Content hash.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub hash: String,
    /// Raft index.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub create_index: u64,
    /// Raft index.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub modify_index: u64,
    /// Namespace (Enterprise).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Partition (Enterprise).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Namespace of the auth method (Enterprise).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth_method_namespace: String,
}

/// A namespace rule of an auth method (Enterprise).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclAuthMethodNamespaceRule {
    /// Bexpr selector over the method's identity fields.
    pub selector: String,
    /// Namespace to bind (may interpolate identity fields).
    pub bind_namespace: String,
}

/// An auth method (`PUT /v1/acl/auth-method`, …).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclAuthMethod {
    /// Name.
    pub name: String,
    /// Type (`aws-iam`).
    #[serde(rename = "Type")]
    pub method_type: String,
    /// Display name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Token lifetime as a duration string (`"10m"`); omitted when empty.
    #[serde(rename = "MaxTokenTTL", skip_serializing_if = "String::is_empty")]
    pub max_token_ttl: String,
    /// `""`, `local` or `global`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token_locality: String,
    /// Method-specific configuration (aws-iam: `BoundIAMPrincipalARNs`, …).
    #[serde(
        skip_serializing_if = "Map::is_empty",
        deserialize_with = "null_default"
    )]
    pub config: Map<String, Value>,
    /// Namespace rules (Enterprise).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub namespace_rules: Vec<AclAuthMethodNamespaceRule>,
    /// Namespace (Enterprise).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Partition (Enterprise).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Raft index.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub create_index: u64,
    /// Raft index.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub modify_index: u64,
}

/// A binding rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclBindingRule {
    /// ID (empty when creating).
    #[serde(rename = "ID", skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Auth method it belongs to.
    pub auth_method: String,
    /// Bexpr selector (empty = every login).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub selector: String,
    /// `service`, `node`, `role`, …
    pub bind_type: String,
    /// Name to bind (may interpolate identity fields).
    pub bind_name: String,
    /// Namespace (Enterprise).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Partition (Enterprise).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Raft index.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub create_index: u64,
    /// Raft index.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub modify_index: u64,
}

/// An ACL policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclPolicy {
    /// ID (must be empty when creating).
    #[serde(rename = "ID", skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Rules (HCL). Empty in list answers.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rules: String,
    /// Datacenters it applies in (empty = all).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub datacenters: Vec<String>,
    /// Content hash.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub hash: String,
    /// Namespace (Enterprise).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Partition (Enterprise).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Raft index.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub create_index: u64,
    /// Raft index.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub modify_index: u64,
}

/// An ACL role.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclRole {
    /// ID (empty when creating).
    #[serde(rename = "ID", skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Linked policies.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub policies: Vec<AclLink>,
    /// Service identities.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub service_identities: Vec<AclServiceIdentity>,
    /// Node identities.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub node_identities: Vec<AclNodeIdentity>,
    /// Content hash.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub hash: String,
    /// Namespace (Enterprise).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Partition (Enterprise).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Raft index.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub create_index: u64,
    /// Raft index.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub modify_index: u64,
}

/// Filters of `GET /v1/acl/tokens`; empty fields are not sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenListFilter {
    /// Only tokens created by this auth method.
    pub auth_method: String,
    /// Namespace of that auth method (Enterprise, `authmethod-ns=`).
    pub auth_method_namespace: String,
    /// Only tokens linked to this policy ID.
    pub policy: String,
    /// Only tokens linked to this role ID.
    pub role: String,
}

impl Client {
    /// `POST /v1/acl/login`: exchanges a bearer token for an ACL token. No token is sent
    /// (login needs none); `opts` selects the partition (`partition=`).
    pub async fn login(
        &self,
        request: &LoginRequest,
        opts: &QueryOptions,
    ) -> Result<AclToken, ConsulError> {
        let opts = QueryOptions {
            token: Some(Secret::default()),
            ..opts.clone()
        };
        self.json(
            Method::POST,
            &["v1", "acl", "login"],
            &opts,
            &[],
            Some(request),
        )
        .await
    }

    /// `POST /v1/acl/logout`: destroys the token that is sent (the client's, or
    /// `opts.token`).
    pub async fn logout(&self, opts: &QueryOptions) -> Result<(), ConsulError> {
        self.unit(Method::POST, &["v1", "acl", "logout"], opts, None)
            .await
    }

    /// `GET /v1/acl/token/self`: the token that is sent. Use [`QueryOptions::stale`] for the
    /// replication wait (§3.11). A missing token is an error (`is_acl_not_found`).
    pub async fn token_read_self(&self, opts: &QueryOptions) -> Result<AclToken, ConsulError> {
        self.json(
            Method::GET,
            &["v1", "acl", "token", "self"],
            opts,
            &[],
            None,
        )
        .await
    }

    /// `GET /v1/acl/tokens` with filters.
    pub async fn token_list(
        &self,
        filter: &TokenListFilter,
        opts: &QueryOptions,
    ) -> Result<Vec<AclToken>, ConsulError> {
        let extra = [
            ("authmethod", filter.auth_method.as_str()),
            ("authmethod-ns", filter.auth_method_namespace.as_str()),
            ("policy", filter.policy.as_str()),
            ("role", filter.role.as_str()),
        ];
        let list: Option<Vec<AclToken>> = self
            .json(Method::GET, &["v1", "acl", "tokens"], opts, &extra, None)
            .await?;
        Ok(list.unwrap_or_default())
    }

    /// [`Client::token_list`] for lists too large to hold: each entry is decoded (only
    /// the fields of [`AclTokenListEntry`]) and handed to `each` as the answer arrives,
    /// so neither the answer's text nor every token is ever in memory at once.
    pub async fn token_list_each(
        &self,
        filter: &TokenListFilter,
        opts: &QueryOptions,
        each: impl FnMut(AclTokenListEntry),
    ) -> Result<(), ConsulError> {
        let extra = [
            ("authmethod", filter.auth_method.as_str()),
            ("authmethod-ns", filter.auth_method_namespace.as_str()),
            ("policy", filter.policy.as_str()),
            ("role", filter.role.as_str()),
        ];
        // The answer is the array (or `null` for none): the skeleton is `[]` or `null`.
        let _: Option<Vec<serde::de::IgnoredAny>> = self
            .json_streamed(&["v1", "acl", "tokens"], opts, &extra, &[], each)
            .await?;
        Ok(())
    }

    /// `GET /v1/acl/token/:accessor_id`; `None` when it does not exist (404, or 403 `ACL not
    /// found` on older servers — which can also mean the *caller's* token is unknown).
    pub async fn token_read(
        &self,
        accessor_id: &str,
        opts: &QueryOptions,
    ) -> Result<Option<AclToken>, ConsulError> {
        self.read_optional(&["v1", "acl", "token", accessor_id], opts)
            .await
    }

    /// `DELETE /v1/acl/token/:accessor_id`. Consul ≥ 1.15 answers 404 for a missing token
    /// (check [`ConsulError::is_not_found`]); older servers answer 200.
    pub async fn token_delete(
        &self,
        accessor_id: &str,
        opts: &QueryOptions,
    ) -> Result<(), ConsulError> {
        self.unit(
            Method::DELETE,
            &["v1", "acl", "token", accessor_id],
            opts,
            None,
        )
        .await
    }

    /// `PUT /v1/acl/token`: creates a token (empty `accessor_id`/`secret_id` are generated).
    pub async fn token_create(
        &self,
        token: &AclToken,
        opts: &QueryOptions,
    ) -> Result<AclToken, ConsulError> {
        self.json(Method::PUT, &["v1", "acl", "token"], opts, &[], Some(token))
            .await
    }

    /// `PUT /v1/acl/token/:accessor_id` with the whole token (`token.accessor_id` names it;
    /// immutable fields may be sent back as read), e.g. to add a policy to the anonymous
    /// token.
    pub async fn token_update(
        &self,
        token: &AclToken,
        opts: &QueryOptions,
    ) -> Result<AclToken, ConsulError> {
        self.json(
            Method::PUT,
            &["v1", "acl", "token", &token.accessor_id],
            opts,
            &[],
            Some(token),
        )
        .await
    }

    /// `PUT /v1/acl/auth-method`.
    pub async fn auth_method_create(
        &self,
        method: &AclAuthMethod,
        opts: &QueryOptions,
    ) -> Result<AclAuthMethod, ConsulError> {
        self.json(
            Method::PUT,
            &["v1", "acl", "auth-method"],
            opts,
            &[],
            Some(method),
        )
        .await
    }

    /// `GET /v1/acl/auth-method/:name`; `None` when missing.
    pub async fn auth_method_read(
        &self,
        name: &str,
        opts: &QueryOptions,
    ) -> Result<Option<AclAuthMethod>, ConsulError> {
        self.read_optional(&["v1", "acl", "auth-method", name], opts)
            .await
    }

    /// `PUT /v1/acl/auth-method/:name` with the full object (`method.name` names it).
    pub async fn auth_method_update(
        &self,
        method: &AclAuthMethod,
        opts: &QueryOptions,
    ) -> Result<AclAuthMethod, ConsulError> {
        self.json(
            Method::PUT,
            &["v1", "acl", "auth-method", &method.name],
            opts,
            &[],
            Some(method),
        )
        .await
    }

    /// `GET /v1/acl/auth-methods` (entries carry no `Config`).
    pub async fn auth_method_list(
        &self,
        opts: &QueryOptions,
    ) -> Result<Vec<AclAuthMethod>, ConsulError> {
        let list: Option<Vec<AclAuthMethod>> = self
            .json(Method::GET, &["v1", "acl", "auth-methods"], opts, &[], None)
            .await?;
        Ok(list.unwrap_or_default())
    }

    /// `PUT /v1/acl/binding-rule`.
    pub async fn binding_rule_create(
        &self,
        rule: &AclBindingRule,
        opts: &QueryOptions,
    ) -> Result<AclBindingRule, ConsulError> {
        self.json(
            Method::PUT,
            &["v1", "acl", "binding-rule"],
            opts,
            &[],
            Some(rule),
        )
        .await
    }

    /// `GET /v1/acl/binding-rules`, optionally only those of `auth_method`.
    pub async fn binding_rule_list(
        &self,
        auth_method: &str,
        opts: &QueryOptions,
    ) -> Result<Vec<AclBindingRule>, ConsulError> {
        let list: Option<Vec<AclBindingRule>> = self
            .json(
                Method::GET,
                &["v1", "acl", "binding-rules"],
                opts,
                &[("authmethod", auth_method)],
                None,
            )
            .await?;
        Ok(list.unwrap_or_default())
    }

    /// `PUT /v1/acl/binding-rule/:id` (`rule.id` names it).
    pub async fn binding_rule_update(
        &self,
        rule: &AclBindingRule,
        opts: &QueryOptions,
    ) -> Result<AclBindingRule, ConsulError> {
        self.json(
            Method::PUT,
            &["v1", "acl", "binding-rule", &rule.id],
            opts,
            &[],
            Some(rule),
        )
        .await
    }

    /// `DELETE /v1/acl/binding-rule/:id`.
    pub async fn binding_rule_delete(
        &self,
        id: &str,
        opts: &QueryOptions,
    ) -> Result<(), ConsulError> {
        self.unit(
            Method::DELETE,
            &["v1", "acl", "binding-rule", id],
            opts,
            None,
        )
        .await
    }

    /// `PUT /v1/acl/policy` (`policy.id` must be empty).
    pub async fn policy_create(
        &self,
        policy: &AclPolicy,
        opts: &QueryOptions,
    ) -> Result<AclPolicy, ConsulError> {
        self.json(
            Method::PUT,
            &["v1", "acl", "policy"],
            opts,
            &[],
            Some(policy),
        )
        .await
    }

    /// `GET /v1/acl/policy/:id`; `None` when missing.
    pub async fn policy_read(
        &self,
        id: &str,
        opts: &QueryOptions,
    ) -> Result<Option<AclPolicy>, ConsulError> {
        self.read_optional(&["v1", "acl", "policy", id], opts).await
    }

    /// `GET /v1/acl/policy/name/:name`; `None` when missing.
    pub async fn policy_read_by_name(
        &self,
        name: &str,
        opts: &QueryOptions,
    ) -> Result<Option<AclPolicy>, ConsulError> {
        self.read_optional(&["v1", "acl", "policy", "name", name], opts)
            .await
    }

    /// `PUT /v1/acl/policy/:id` (`policy.id` names it).
    pub async fn policy_update(
        &self,
        policy: &AclPolicy,
        opts: &QueryOptions,
    ) -> Result<AclPolicy, ConsulError> {
        self.json(
            Method::PUT,
            &["v1", "acl", "policy", &policy.id],
            opts,
            &[],
            Some(policy),
        )
        .await
    }

    /// `GET /v1/acl/policies` (entries carry no `Rules`).
    pub async fn policy_list(&self, opts: &QueryOptions) -> Result<Vec<AclPolicy>, ConsulError> {
        let list: Option<Vec<AclPolicy>> = self
            .json(Method::GET, &["v1", "acl", "policies"], opts, &[], None)
            .await?;
        Ok(list.unwrap_or_default())
    }

    /// `PUT /v1/acl/role`.
    pub async fn role_create(
        &self,
        role: &AclRole,
        opts: &QueryOptions,
    ) -> Result<AclRole, ConsulError> {
        self.json(Method::PUT, &["v1", "acl", "role"], opts, &[], Some(role))
            .await
    }

    /// `GET /v1/acl/role/:id`; `None` when missing.
    pub async fn role_read(
        &self,
        id: &str,
        opts: &QueryOptions,
    ) -> Result<Option<AclRole>, ConsulError> {
        self.read_optional(&["v1", "acl", "role", id], opts).await
    }

    /// `GET /v1/acl/role/name/:name`; `None` when missing.
    pub async fn role_read_by_name(
        &self,
        name: &str,
        opts: &QueryOptions,
    ) -> Result<Option<AclRole>, ConsulError> {
        self.read_optional(&["v1", "acl", "role", "name", name], opts)
            .await
    }

    /// `PUT /v1/acl/role/:id` (`role.id` names it).
    pub async fn role_update(
        &self,
        role: &AclRole,
        opts: &QueryOptions,
    ) -> Result<AclRole, ConsulError> {
        self.json(
            Method::PUT,
            &["v1", "acl", "role", &role.id],
            opts,
            &[],
            Some(role),
        )
        .await
    }

    /// `GET /v1/acl/roles`.
    pub async fn role_list(&self, opts: &QueryOptions) -> Result<Vec<AclRole>, ConsulError> {
        let list: Option<Vec<AclRole>> = self
            .json(Method::GET, &["v1", "acl", "roles"], opts, &[], None)
            .await?;
        Ok(list.unwrap_or_default())
    }
}
