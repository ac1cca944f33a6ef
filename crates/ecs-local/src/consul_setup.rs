//! Sets up a running Consul — the real one or the emulator — for tasks that log in with the
//! aws-iam auth methods, over Consul's HTTP API ([`consul::Client`]): what a docker-compose
//! task needs before mesh-init starts (docker/docker-compose.acls.yml).
//!
//! - [`configure_service_auth`]: the service-token method and binding rule (what an operator
//!   or terraform creates), with the STS and IAM endpoints pointing at moto;
//! - [`configure_client_auth`] and [`client_login`]: what v0.6.2's acl-controller creates
//!   for client tokens (its own policy and role, [`acl_controller::objects`]), and the
//!   consul-client container's login with it (its `client-token`, which health-sync logs out
//!   when the task stops).
//!
//! The object builders ([`service_auth_method`], [`service_binding_rule`],
//! [`client_auth_method`], [`client_binding_rule`]) are also what the test kit's Consul
//! emulator helpers create in-process.
//!
//! Consul may be starting, or its ACL system not ready yet: every step is retried, with
//! jittered backoff, until [`AuthSetup::timeout`].

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use acl_controller::objects::{client_policy, client_role};
use acl_controller::objects::{
    CLIENT_AUTH_METHOD, CLIENT_POLICY, CLIENT_ROLE, SERVICE_AUTH_METHOD, SERVICE_NAME_TAG,
};
use consul::{
    AclAuthMethod, AclBindingRule, Client, ConsulError, LoginRequest, QueryOptions, Secret,
};
use serde_json::{json, Map, Value};

/// The binding rule name that maps the role's service-name tag to a service identity.
pub const SERVICE_BIND_NAME: &str = "${entity_tags.consul.hashicorp.com.service-name}";

/// The endpoints and trust of the auth methods to create.
#[derive(Debug, Clone)]
pub struct AuthSetup {
    /// The STS endpoint Consul replays logins to (moto).
    pub sts_endpoint: String,
    /// The IAM endpoint for entity details (moto).
    pub iam_endpoint: String,
    /// Trusted principals (empty: [`default_bound_arn`]).
    pub bound_arns: Vec<String>,
    /// How long to keep trying while Consul does not answer or its ACL system is not ready.
    pub timeout: Duration,
}

impl AuthSetup {
    fn bound_arns(&self) -> Vec<String> {
        if self.bound_arns.is_empty() {
            vec![default_bound_arn()]
        } else {
            self.bound_arns.clone()
        }
    }
}

/// The wildcard ARN v0.6.2's acl-controller binds with its default `-iam-role-path`, in
/// moto's account.
pub fn default_bound_arn() -> String {
    acl_controller::objects::bound_arn(crate::moto::ACCOUNT_ID, "consul-ecs")
}

/// Why a set-up step failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Consul refused a step, or did not answer within the timeout.
    #[error("{0}")]
    Consul(#[source] consul::RetryError<ConsulError>),
    /// The task metadata (the login meta's task ID and cluster) could not be read.
    #[error("the task metadata: {0}")]
    Metadata(#[source] ecs::EcsError),
    /// No AWS credentials within the timeout (the local ECS agent answers 503 while it
    /// makes the task role).
    #[error("{0}")]
    Credentials(#[source] consul::RetryError<iam_login::LoginError>),
    /// No bearer token could be signed with the credentials.
    #[error("the client-token login: {0}")]
    Login(#[source] iam_login::LoginError),
    /// The client token could not be written.
    #[error("write the client token to {path}: {source}")]
    TokenFile {
        /// The token file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// The service-token auth method (`iam-ecs-service-token` unless `name` says otherwise):
/// aws-iam with STS and IAM at the given endpoints; with `entity_details` the role's
/// service-name tag is read (`IAMEntityTags`); `server_id_header` is the required
/// `X-Consul-IAM-ServerID`, if any.
pub fn service_auth_method(
    name: &str,
    setup: &AuthSetup,
    entity_details: bool,
    server_id_header: Option<&str>,
) -> AclAuthMethod {
    let mut config = endpoints_config(setup, entity_details);
    if entity_details {
        config.insert("IAMEntityTags".into(), json!([SERVICE_NAME_TAG]));
    }
    if let Some(id) = server_id_header {
        config.insert("ServerIDHeaderValue".into(), json!(id));
    }
    AclAuthMethod {
        name: name.to_string(),
        method_type: "aws-iam".to_string(),
        description: "AWS IAM auth method for ECS service tokens".to_string(),
        config,
        ..AclAuthMethod::default()
    }
}

/// The service method's binding rule: a service identity named `bind_name` (default
/// [`SERVICE_BIND_NAME`], which needs entity details).
pub fn service_binding_rule(method: &str, bind_name: &str) -> AclBindingRule {
    AclBindingRule {
        description: "Bind a service identity from IAM role tag for ECS".to_string(),
        auth_method: method.to_string(),
        bind_type: "service".to_string(),
        bind_name: bind_name.to_string(),
        ..AclBindingRule::default()
    }
}

/// The client-token auth method `iam-ecs-client-token` (entity details, endpoints = moto).
pub fn client_auth_method(setup: &AuthSetup) -> AclAuthMethod {
    AclAuthMethod {
        name: CLIENT_AUTH_METHOD.to_string(),
        method_type: "aws-iam".to_string(),
        description: "AWS IAM auth method for ECS client tokens".to_string(),
        config: endpoints_config(setup, true),
        ..AclAuthMethod::default()
    }
}

/// The client method's binding rule: the role `consul-ecs-client-role`.
pub fn client_binding_rule() -> AclBindingRule {
    AclBindingRule {
        description: "Bind a policy for Consul clients on ECS".to_string(),
        auth_method: CLIENT_AUTH_METHOD.to_string(),
        bind_type: "role".to_string(),
        bind_name: CLIENT_ROLE.to_string(),
        ..AclBindingRule::default()
    }
}

fn endpoints_config(setup: &AuthSetup, entity_details: bool) -> Map<String, Value> {
    let mut config = Map::new();
    config.insert("BoundIAMPrincipalARNs".into(), json!(setup.bound_arns()));
    config.insert("EnableIAMEntityDetails".into(), json!(entity_details));
    config.insert("STSEndpoint".into(), json!(setup.sts_endpoint));
    config.insert("IAMEndpoint".into(), json!(setup.iam_endpoint));
    config
}

/// Runs `step` until it succeeds or the timeout passes. Every error is retried: while Consul
/// starts, even a good token is refused until its ACL system has made it.
async fn retrying<T, F, Fut>(timeout: Duration, what: &str, step: F) -> Result<T, SetupError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ConsulError>>,
{
    let policy = consul::RetryPolicy::default().with_deadline(timeout);
    consul::retry_if(&policy, what, |_: &ConsulError| true, step)
        .await
        .map_err(SetupError::Consul)
}

/// Creates (or updates) the auth method `iam-ecs-service-token` and, when it has none, its
/// binding rule (a service identity named by the role's tag). Logs what it did.
pub async fn configure_service_auth(consul: &Client, setup: &AuthSetup) -> Result<(), SetupError> {
    let method = service_auth_method(SERVICE_AUTH_METHOD, setup, true, None);
    let rule = service_binding_rule(SERVICE_AUTH_METHOD, SERVICE_BIND_NAME);
    let opts = QueryOptions::default();
    let done = retrying(setup.timeout, "the service-token auth method", || async {
        let mut done = Vec::new();
        if consul
            .auth_method_read(SERVICE_AUTH_METHOD, &opts)
            .await?
            .is_some()
        {
            consul.auth_method_update(&method, &opts).await?;
            done.push(format!("auth method {SERVICE_AUTH_METHOD} updated"));
        } else {
            consul.auth_method_create(&method, &opts).await?;
            done.push(format!("auth method {SERVICE_AUTH_METHOD} created"));
        }
        if consul
            .binding_rule_list(SERVICE_AUTH_METHOD, &opts)
            .await?
            .is_empty()
        {
            consul.binding_rule_create(&rule, &opts).await?;
            done.push(format!(
                "binding rule created (service identity {SERVICE_BIND_NAME})"
            ));
        } else {
            done.push("its binding rule was there".to_string());
        }
        Ok(done.join("; "))
    })
    .await?;
    tracing::info!("{done}");
    Ok(())
}

/// Creates what v0.6.2's acl-controller creates for client tokens, where missing: the
/// policy `consul-ecs-client-policy` (node write, service read), the role
/// `consul-ecs-client-role` with it, the aws-iam method `iam-ecs-client-token` (entity
/// details, endpoints = moto) and its binding rule to the role.
pub async fn configure_client_auth(consul: &Client, setup: &AuthSetup) -> Result<(), SetupError> {
    let policy = client_policy(None);
    let role = client_role();
    let method = client_auth_method(setup);
    let rule = client_binding_rule();
    let opts = QueryOptions::default();
    let done = retrying(setup.timeout, "the client-token auth method", || async {
        let mut done = Vec::new();
        let mut created = |what: &str, missing: bool| {
            done.push(format!(
                "{what} {}",
                if missing { "created" } else { "was there" }
            ))
        };
        let missing = consul
            .policy_read_by_name(CLIENT_POLICY, &opts)
            .await?
            .is_none();
        if missing {
            consul.policy_create(&policy, &opts).await?;
        }
        created("policy", missing);
        let missing = consul
            .role_read_by_name(CLIENT_ROLE, &opts)
            .await?
            .is_none();
        if missing {
            consul.role_create(&role, &opts).await?;
        }
        created("role", missing);
        let missing = consul
            .auth_method_read(CLIENT_AUTH_METHOD, &opts)
            .await?
            .is_none();
        if missing {
            consul.auth_method_create(&method, &opts).await?;
        }
        created("auth method", missing);
        if consul
            .binding_rule_list(CLIENT_AUTH_METHOD, &opts)
            .await?
            .is_empty()
        {
            consul.binding_rule_create(&rule, &opts).await?;
            done.push("binding rule created".to_string());
        }
        Ok(format!("{CLIENT_AUTH_METHOD}: {}", done.join(", ")))
    })
    .await?;
    tracing::info!("{done}");
    Ok(())
}

/// A client-token login, as the consul-client container makes it (`consul login -type
/// aws-iam -method iam-ecs-client-token -aws-include-entity -meta …`, docs PACKAGING §1.4).
#[derive(Debug, Clone)]
pub struct ClientLogin {
    /// The STS endpoint the bearer token targets (moto).
    pub sts_endpoint: String,
    /// The task metadata base URL (`ECS_CONTAINER_METADATA_URI_V4`): the task ID and
    /// cluster of the login meta come from its `/task`.
    pub metadata_uri: String,
    /// Where the token goes (mode 0600).
    pub token_file: PathBuf,
    /// Owner of the file (uid, gid); None = this process's.
    pub owner: Option<(u32, u32)>,
    /// The AWS credentials to sign with; None = the standard chain (the task role).
    pub credentials: Option<iam_login::Credentials>,
    /// How long to keep trying.
    pub timeout: Duration,
}

/// Logs in with the client method using the AWS credentials of the standard chain (the
/// task role) and the task's ID and cluster ARN as login meta, and writes the token's
/// SecretID to [`ClientLogin::token_file`].
pub async fn client_login(consul: &Client, login: &ClientLogin) -> Result<(), SetupError> {
    let metadata = ecs::MetadataClient::new(login.metadata_uri.clone())
        .map_err(SetupError::Metadata)?
        .with_retry(consul::RetryPolicy::default().with_deadline(login.timeout));
    let task = metadata.task().await.map_err(SetupError::Metadata)?;
    let task_id = task.task_id().map_err(SetupError::Metadata)?.to_string();
    let cluster = task.cluster_arn().map_err(SetupError::Metadata)?;
    let region = task.region().map_err(SetupError::Metadata)?.to_string();
    let credentials = match &login.credentials {
        Some(c) => c.clone(),
        // The task role may not be there yet: the credentials endpoint answers 503 until
        // the ECS agent has made it in moto.
        None => consul::retry_if(
            &consul::RetryPolicy::default().with_deadline(login.timeout),
            "the task role's credentials",
            |_: &iam_login::LoginError| true,
            || iam_login::load_credentials(Some(&region)),
        )
        .await
        .map_err(SetupError::Credentials)?,
    };
    let params = iam_login::LoginParams {
        region,
        sts_endpoint: Some(login.sts_endpoint.clone()),
        server_id_header_value: None,
        include_entity: true,
    };
    // STS accepts a signed request for 15 minutes: one bearer token serves every attempt.
    let bearer = iam_login::bearer_token(&credentials, &params)
        .await
        .map_err(SetupError::Login)?;
    let request = LoginRequest {
        auth_method: CLIENT_AUTH_METHOD.to_string(),
        bearer_token: Secret::new(bearer),
        meta: iam_login::login_meta(&task_id, &cluster, &BTreeMap::new()),
    };
    let opts = QueryOptions::default();
    let token = retrying(login.timeout, "the client-token login", || {
        consul.login(&request, &opts)
    })
    .await?;
    write_token(&login.token_file, token.secret_id.expose(), login.owner).await?;
    tracing::info!(
        "client token {} written to {}",
        token.accessor_id,
        login.token_file.display()
    );
    Ok(())
}

/// Writes `secret` to `path` mode 0600, atomically, then gives it to `owner`.
async fn write_token(
    path: &Path,
    secret: &str,
    owner: Option<(u32, u32)>,
) -> Result<(), SetupError> {
    let failed = |source| SetupError::TokenFile {
        path: path.to_path_buf(),
        source,
    };
    boundary::write_atomic_off_thread(path, secret.as_bytes().to_vec(), 0o600)
        .await
        .map_err(failed)?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(failed)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::consul::{ConsulEmulator, EmulatorOptions};

    fn client(addr: &str, token: &str) -> Client {
        Client::new(consul::ClientConfig {
            address: addr.parse().unwrap(),
            token: consul::TokenSource::Value(Secret::new(token)),
            ..consul::ClientConfig::default()
        })
        .unwrap()
    }

    fn setup(timeout: Duration) -> AuthSetup {
        AuthSetup {
            sts_endpoint: "http://moto:5000".into(),
            iam_endpoint: "http://moto:5000".into(),
            bound_arns: vec![],
            timeout,
        }
    }

    #[tokio::test]
    async fn creates_the_method_and_rule_once_and_a_rerun_changes_nothing_but_the_method() {
        let consul = ConsulEmulator::start(EmulatorOptions {
            acls_enabled: true,
            ..EmulatorOptions::default()
        });
        let admin = client(&consul.http_addr(), &consul.management_token());
        let setup = setup(Duration::from_secs(5));
        configure_service_auth(&admin, &setup).await.unwrap();
        configure_service_auth(&admin, &setup).await.unwrap();
        let http = reqwest::Client::new();
        let get = |path: &str| {
            http.get(format!("{}{path}", consul.http_addr()))
                .header("X-Consul-Token", consul.management_token())
                .send()
        };
        let method: Value = get("/v1/acl/auth-method/iam-ecs-service-token")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(method["Type"], "aws-iam");
        assert_eq!(method["Config"]["STSEndpoint"], "http://moto:5000");
        assert_eq!(
            method["Config"]["BoundIAMPrincipalARNs"],
            json!(["arn:aws:iam::123456789012:role/consul-ecs/*"])
        );
        let rules: Value = get("/v1/acl/binding-rules?authmethod=iam-ecs-service-token")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(rules.as_array().unwrap().len(), 1, "{rules:#}");
        assert_eq!(rules[0]["BindName"], SERVICE_BIND_NAME);
    }

    #[tokio::test]
    async fn the_client_login_writes_a_0600_token_with_the_tasks_meta() {
        use std::os::unix::fs::MetadataExt as _;
        let aws = testkit::aws::AwsWorld::start_async("web").await;
        let consul = ConsulEmulator::start(EmulatorOptions {
            acls_enabled: true,
            ..EmulatorOptions::default()
        });
        let ecs = testkit::ecs_metadata::EcsMetadataEmulator::start(
            testkit::ecs_metadata::fargate_task("web", &["app", "consul-client"]),
        );
        let admin = client(&consul.http_addr(), &consul.management_token());
        let mut setup = setup(Duration::from_secs(5));
        setup.sts_endpoint = aws.endpoint();
        setup.iam_endpoint = aws.endpoint();
        configure_client_auth(&admin, &setup).await.unwrap();
        configure_client_auth(&admin, &setup).await.unwrap(); // a rerun changes nothing
        let dir = tempfile::tempdir().unwrap();
        let login = ClientLogin {
            sts_endpoint: aws.endpoint(),
            metadata_uri: ecs.uri(),
            token_file: dir.path().join("client-token"),
            owner: None,
            credentials: Some(aws.task_role().credentials()),
            timeout: Duration::from_secs(10),
        };
        let anonymous = Client::new(consul::ClientConfig {
            address: consul.http_addr().parse().unwrap(),
            ..consul::ClientConfig::default()
        })
        .unwrap();
        client_login(&anonymous, &login).await.unwrap();
        let meta = std::fs::metadata(&login.token_file).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        let secret = std::fs::read_to_string(&login.token_file).unwrap();
        let token: Value = reqwest::Client::new()
            .get(format!("{}/v1/acl/token/self", consul.http_addr()))
            .header("X-Consul-Token", secret)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(token["AuthMethod"], CLIENT_AUTH_METHOD, "{token:#}");
        assert_eq!(token["Roles"][0]["Name"], CLIENT_ROLE, "{token:#}");
        let task = ecs.task();
        let arn = task["TaskARN"].as_str().unwrap();
        let id = arn.rsplit('/').next().unwrap();
        assert!(
            token["Description"]
                .as_str()
                .unwrap_or_default()
                .contains(id),
            "the login meta names the task: {token:#}"
        );
    }

    #[tokio::test]
    async fn a_wrong_token_is_reported_after_the_timeout_without_the_token() {
        let consul = ConsulEmulator::start(EmulatorOptions {
            acls_enabled: true,
            ..EmulatorOptions::default()
        });
        let wrong = client(&consul.http_addr(), "00000000-0000-4000-8000-00000000beef");
        let err = configure_service_auth(&wrong, &setup(Duration::from_millis(200)))
            .await
            .unwrap_err();
        let err = boundary::error_chain(&err);
        // consul's wording of an HTTP status: "Unexpected response code: 403 (…)".
        assert!(err.contains("response code: 403"), "{err}");
        assert!(!err.contains("beef"), "the token leaked: {err}");
    }
}
