//! Setting up the emulator's ACL system the way a real deployment is set up: the aws-iam
//! auth methods and binding rules (as v0.6.2's terraform and acl-controller create them,
//! docs/protocols.md §5.8), and logins like the task's containers make. Everything goes through
//! the HTTP API with the management token, so the emulator validates it like any client's
//! request.

use std::collections::BTreeMap;

use ecs_local::consul_setup::{self, AuthSetup};
use serde_json::{json, Value};

use super::scope::Scope;
use super::state::Token;
use super::ConsulEmulator;
use crate::aws::{block_on_thread, AwsWorld, TaskRole, ACCOUNT_ID, REGION};

/// The service-token auth method's name (`consulLogin.method` default).
pub const SERVICE_AUTH_METHOD: &str = "iam-ecs-service-token";
/// The client-token auth method's name (the consul-client container logs in with it).
pub const CLIENT_AUTH_METHOD: &str = "iam-ecs-client-token";
/// The role client tokens get.
pub const CLIENT_ROLE: &str = "consul-ecs-client-role";
/// The policy of [`CLIENT_ROLE`].
pub const CLIENT_POLICY: &str = "consul-ecs-client-policy";
/// v0.6.2's CE rules of [`CLIENT_POLICY`], literally.
pub const CLIENT_POLICY_RULES: &str =
    "node_prefix \"\" { policy = \"write\" } service_prefix \"\" { policy = \"read\" }";
/// The binding rule name that maps the role tag to a service identity.
pub const SERVICE_BIND_NAME: &str = "${entity_tags.consul.hashicorp.com.service-name}";

/// The service-token auth method to create ([`ConsulEmulator::configure_iam_auth`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamAuthOptions {
    /// Method name ([`SERVICE_AUTH_METHOD`]).
    pub method: String,
    /// `ServerIDHeaderValue`; None = not required.
    pub server_id_header: Option<String>,
    /// `EnableIAMEntityDetails` (default true; `IAMEntityTags` is set only with it).
    pub entity_details: bool,
    /// `BoundIAMPrincipalARNs`; empty = `arn:aws:iam::<acct>:role/consul-ecs/*` with
    /// entity details, else the world's task role (canonical ARN, no path).
    pub bound_arns: Vec<String>,
    /// The binding rule's `BindName` (default [`SERVICE_BIND_NAME`], which needs entity
    /// details; without them use e.g. `${entity_name}`).
    pub bind_name: String,
}

impl Default for IamAuthOptions {
    fn default() -> IamAuthOptions {
        IamAuthOptions {
            method: SERVICE_AUTH_METHOD.to_string(),
            server_id_header: None,
            entity_details: true,
            bound_arns: Vec::new(),
            bind_name: SERVICE_BIND_NAME.to_string(),
        }
    }
}

/// The wildcard ARN v0.6.2's acl-controller binds with its default `-iam-role-path`.
pub fn default_bound_arn() -> String {
    consul_setup::default_bound_arn()
}

/// One login to make ([`ConsulEmulator::aws_login`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsLogin {
    /// Auth method name.
    pub method: String,
    /// `X-Consul-IAM-ServerID` to sign in, if any.
    pub server_id_header: Option<String>,
    /// Embed the GetRole request (consul-ecs `includeEntity`, default true).
    pub include_entity: bool,
    /// Login `Meta`.
    pub meta: BTreeMap<String, String>,
}

impl Default for AwsLogin {
    fn default() -> AwsLogin {
        AwsLogin {
            method: SERVICE_AUTH_METHOD.to_string(),
            server_id_header: None,
            include_entity: true,
            meta: BTreeMap::new(),
        }
    }
}

/// A token a login produced. `Debug` hides the secret.
#[derive(Clone, PartialEq)]
pub struct LoggedIn {
    /// The token's accessor ID.
    pub accessor_id: String,
    /// The token's secret (what `-token-sink-file` would hold).
    pub secret_id: String,
    /// The whole token as `POST /v1/acl/login` answered it.
    pub token: Value,
}

impl std::fmt::Debug for LoggedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.token.clone();
        if shown.get("SecretID").is_some() {
            shown["SecretID"] = json!("<redacted>");
        }
        f.debug_struct("LoggedIn")
            .field("accessor_id", &self.accessor_id)
            .field("secret_id", &"<redacted>")
            .field("token", &shown)
            .finish()
    }
}

/// Why a setup step or a login failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The emulator could not be reached.
    #[error("{what}: {message}")]
    Http {
        /// The request, e.g. `PUT /v1/acl/auth-method`.
        what: String,
        /// The transport error.
        message: String,
    },
    /// The emulator answered with an error status.
    #[error("{what}: {status} {body}")]
    Status {
        /// The request.
        what: String,
        /// HTTP status.
        status: u16,
        /// Consul's plain-text error body.
        body: String,
    },
    /// Building the bearer token failed (AWS side).
    #[error("bearer token: {0}")]
    Token(#[from] iam_login::LoginError),
    /// The options cannot make a valid configuration.
    #[error("{0}")]
    Options(String),
}

impl ConsulEmulator {
    /// Creates the service-token aws-iam auth method (`STSEndpoint` and `IAMEndpoint` =
    /// moto, `IAMEntityTags` `["consul.hashicorp.com.service-name"]` with entity details)
    /// and the binding rule v0.6.2's terraform uses (`BindType` service, `BindName`
    /// `${entity_tags.consul.hashicorp.com.service-name}`). Panics with Consul's answer
    /// (and the request log) when the emulator rejects either.
    pub fn configure_iam_auth(&self, aws: &AwsWorld, opts: &IamAuthOptions) {
        let mut opts = opts.clone();
        if opts.bound_arns.is_empty() && !opts.entity_details {
            opts.bound_arns = vec![format!(
                "arn:aws:iam::{ACCOUNT_ID}:role/{}",
                aws.task_role().name
            )];
        }
        if let Err(e) = self.try_configure_iam_auth(&aws.endpoint(), &aws.endpoint(), &opts) {
            panic!("configure_iam_auth: {e}\n{}", self.request_log());
        }
    }

    /// [`ConsulEmulator::configure_iam_auth`] in admin partition `partition` (Enterprise
    /// emulator), which is created when missing: auth methods live in a partition, and a
    /// login names the partition whose method it uses.
    pub fn configure_iam_auth_in_partition(
        &self,
        aws: &AwsWorld,
        opts: &IamAuthOptions,
        partition: &str,
    ) {
        let mut opts = opts.clone();
        if opts.bound_arns.is_empty() && !opts.entity_details {
            opts.bound_arns = vec![format!(
                "arn:aws:iam::{ACCOUNT_ID}:role/{}",
                aws.task_role().name
            )];
        }
        let (addr, token) = (self.http_addr(), self.management_token());
        let name = partition.to_string();
        let created = block_on_thread(async move {
            match send(
                &addr,
                "GET",
                &format!("/v1/partition/{name}"),
                Some(&token),
                None,
            )
            .await
            {
                Ok(_) => Ok(()),
                Err(SetupError::Status { status: 404, .. }) => {
                    admin_put(&addr, &token, "/v1/partition", &json!({"Name": name}))
                        .await
                        .map(|_| ())
                }
                Err(e) => Err(e),
            }
        });
        let result = created.and_then(|()| {
            self.configure_methods(
                &aws.endpoint(),
                &aws.endpoint(),
                &opts,
                &format!("?partition={partition}"),
            )
        });
        if let Err(e) = result {
            panic!(
                "configure_iam_auth_in_partition: {e}\n{}",
                self.request_log()
            );
        }
    }

    /// [`ConsulEmulator::configure_iam_auth`] against any STS/IAM endpoints, reporting
    /// failures (for the emulator binary). Empty `bound_arns` need entity details.
    pub fn try_configure_iam_auth(
        &self,
        sts_endpoint: &str,
        iam_endpoint: &str,
        opts: &IamAuthOptions,
    ) -> Result<(), SetupError> {
        self.configure_methods(sts_endpoint, iam_endpoint, opts, "")
    }

    /// The method and rule of [`ConsulEmulator::try_configure_iam_auth`], with `query`
    /// (e.g. `?partition=p`) added to both requests.
    fn configure_methods(
        &self,
        sts_endpoint: &str,
        iam_endpoint: &str,
        opts: &IamAuthOptions,
        query: &str,
    ) -> Result<(), SetupError> {
        let bound = if opts.bound_arns.is_empty() {
            if !opts.entity_details {
                return Err(SetupError::Options(
                    "bound ARNs are required without entity details (a wildcard needs them)"
                        .to_string(),
                ));
            }
            vec![default_bound_arn()]
        } else {
            opts.bound_arns.clone()
        };
        let endpoints = endpoints(sts_endpoint, iam_endpoint, bound);
        let method = to_json(&consul_setup::service_auth_method(
            &opts.method,
            &endpoints,
            opts.entity_details,
            opts.server_id_header.as_deref(),
        ));
        let rule = to_json(&consul_setup::service_binding_rule(
            &opts.method,
            &opts.bind_name,
        ));
        let (addr, token) = (self.http_addr(), self.management_token());
        let (method_path, rule_path) = (
            format!("/v1/acl/auth-method{query}"),
            format!("/v1/acl/binding-rule{query}"),
        );
        block_on_thread(async move {
            admin_put(&addr, &token, &method_path, &method).await?;
            admin_put(&addr, &token, &rule_path, &rule).await?;
            Ok(())
        })
    }

    /// Creates what v0.6.2's acl-controller creates for client tokens: the policy
    /// `consul-ecs-client-policy` (node write, service read), the role
    /// `consul-ecs-client-role` with it, the method `iam-ecs-client-token` (entity details,
    /// bound to `arn:aws:iam::<acct>:role/consul-ecs/*`, endpoints = moto) and its binding
    /// rule to the role. Panics with Consul's answer on failure.
    pub fn configure_client_auth(&self, aws: &AwsWorld) {
        if let Err(e) =
            self.try_configure_client_auth(&aws.endpoint(), &aws.endpoint(), &[default_bound_arn()])
        {
            panic!("configure_client_auth: {e}\n{}", self.request_log());
        }
    }

    /// [`ConsulEmulator::configure_client_auth`] against any endpoints and bound ARNs.
    pub fn try_configure_client_auth(
        &self,
        sts_endpoint: &str,
        iam_endpoint: &str,
        bound_arns: &[String],
    ) -> Result<(), SetupError> {
        let endpoints = endpoints(sts_endpoint, iam_endpoint, bound_arns.to_vec());
        let policy = to_json(&consul_setup::client_policy(None));
        let role = to_json(&consul_setup::client_role());
        let method = to_json(&consul_setup::client_auth_method(&endpoints));
        let rule = to_json(&consul_setup::client_binding_rule());
        let (addr, token) = (self.http_addr(), self.management_token());
        block_on_thread(async move {
            admin_put(&addr, &token, "/v1/acl/policy", &policy).await?;
            admin_put(&addr, &token, "/v1/acl/role", &role).await?;
            admin_put(&addr, &token, "/v1/acl/auth-method", &method).await?;
            admin_put(&addr, &token, "/v1/acl/binding-rule", &rule).await?;
            Ok(())
        })
    }

    /// Logs in with `role`'s credentials: builds the bearer token with the `iam-login`
    /// crate (STS endpoint = moto) and sends `POST /v1/acl/login`. Sync.
    pub fn aws_login(
        &self,
        aws: &AwsWorld,
        role: &TaskRole,
        login: &AwsLogin,
    ) -> Result<LoggedIn, SetupError> {
        let params = iam_login::LoginParams {
            region: REGION.to_string(),
            sts_endpoint: Some(aws.endpoint()),
            server_id_header_value: login.server_id_header.clone(),
            include_entity: login.include_entity,
        };
        let creds = role.credentials();
        let addr = self.http_addr();
        let mut body = json!({"AuthMethod": login.method});
        let meta = login.meta.clone();
        block_on_thread(async move {
            body["BearerToken"] = json!(iam_login::bearer_token(&creds, &params).await?);
            if !meta.is_empty() {
                body["Meta"] = json!(meta);
            }
            let token = send(&addr, "POST", "/v1/acl/login", None, Some(&body)).await?;
            let field = |name: &str| token[name].as_str().unwrap_or_default().to_string();
            Ok(LoggedIn {
                accessor_id: field("AccessorID"),
                secret_id: field("SecretID"),
                token,
            })
        })
    }

    /// Logs in like the consul-client container (`consul login -method
    /// iam-ecs-client-token -aws-include-entity -meta …`): a client token for `role`, with
    /// the task-ID and cluster `Meta`. Needs [`ConsulEmulator::configure_client_auth`].
    /// Panics with Consul's answer on failure.
    pub fn login_client_token(
        &self,
        aws: &AwsWorld,
        role: &TaskRole,
        task_id: &str,
        cluster: &str,
    ) -> LoggedIn {
        let login = AwsLogin {
            method: CLIENT_AUTH_METHOD.to_string(),
            meta: iam_login::login_meta(task_id, cluster, &BTreeMap::new()),
            ..AwsLogin::default()
        };
        match self.aws_login(aws, role, &login) {
            Ok(t) => t,
            Err(e) => panic!("login_client_token: {e}\n{}", self.request_log()),
        }
    }
}

/// A login token to put straight into the emulator ([`ConsulEmulator::seed_login_tokens`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededLogin {
    /// The auth method it claims to come from.
    pub method: String,
    /// Its login meta (task ID, cluster, …), written into the description as a login does.
    pub meta: BTreeMap<String, String>,
    /// Its partition and namespace (Enterprise); `None` = where built-in objects live.
    pub scope: Option<Scope>,
    /// Namespace of the auth method (Enterprise; `default` when `None`).
    pub method_namespace: Option<String>,
}

impl ConsulEmulator {
    /// Stores login tokens as `POST /v1/acl/login` would have made them (description with
    /// the meta, `Local`, `AuthMethod`) without the AWS round trips — for tests and
    /// benchmarks that need thousands. The method need not exist: this is state set-up,
    /// not an API call. Returns the accessor IDs in order.
    pub fn seed_login_tokens(&self, logins: &[SeededLogin]) -> Vec<String> {
        let mut st = self.shared.state();
        let enterprise = st.opts.enterprise;
        let mut ids = Vec::with_capacity(logins.len());
        for login in logins {
            let index = st.next_index();
            let scope = login
                .scope
                .clone()
                .unwrap_or_else(|| Scope::builtin(enterprise));
            let token = Token {
                accessor_id: super::state::new_uuid(),
                secret_id: super::state::new_uuid(),
                description: super::acl::login_description(&login.meta),
                policies: Vec::new(),
                roles: Vec::new(),
                service_identities: Vec::new(),
                node_identities: Vec::new(),
                local: true,
                auth_method: login.method.clone(),
                create_time: super::wire::now_rfc3339(),
                create_index: index,
                modify_index: index,
                expiration_ttl: None,
                expiration_time: None,
                auth_method_namespace: if enterprise {
                    login
                        .method_namespace
                        .clone()
                        .unwrap_or_else(|| super::scope::DEFAULT.to_string())
                } else {
                    String::new()
                },
                scope,
            };
            ids.push(token.accessor_id.clone());
            st.tokens.insert(token.accessor_id.clone(), token);
        }
        ids
    }
}

/// The endpoints and trust of the methods to create, for `ecs_local`'s builders.
fn endpoints(sts_endpoint: &str, iam_endpoint: &str, bound_arns: Vec<String>) -> AuthSetup {
    AuthSetup {
        sts_endpoint: sts_endpoint.to_string(),
        iam_endpoint: iam_endpoint.to_string(),
        bound_arns,
        timeout: std::time::Duration::ZERO,
    }
}

/// An ACL object as the request body that creates it.
fn to_json(object: &impl serde::Serialize) -> Value {
    serde_json::to_value(object).unwrap_or_else(|e| panic!("encode an ACL object: {e}"))
}

async fn admin_put(addr: &str, token: &str, path: &str, body: &Value) -> Result<Value, SetupError> {
    send(addr, "PUT", path, Some(token), Some(body)).await
}

/// One JSON request to the emulator; a non-200 answer is an error carrying the body.
async fn send(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<Value, SetupError> {
    let what = format!("{method} {path}");
    let http_method =
        http::Method::from_bytes(method.as_bytes()).map_err(|e| SetupError::Http {
            what: what.clone(),
            message: e.to_string(),
        })?;
    let mut request = reqwest::Client::new().request(http_method, format!("{addr}{path}"));
    if let Some(token) = token {
        request = request.header("X-Consul-Token", token);
    }
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    let transport = |e: reqwest::Error| SetupError::Http {
        what: what.clone(),
        message: e.to_string(),
    };
    let response = request.send().await.map_err(transport)?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(transport)?;
    if status != 200 {
        return Err(SetupError::Status {
            what,
            status,
            body: text,
        });
    }
    serde_json::from_str(&text).map_err(|e| SetupError::Http {
        what,
        message: format!("answer is not JSON ({e}): {text}"),
    })
}
