//! The task context: everything the subcommands derive from the config and the task
//! metadata, derived once.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use consul::{Client, TokenSource};

use crate::clients::{self, ClientError};
use crate::layout::Layout;

/// One ECS task as consul-ecs sees it: the config, the task metadata, what the task
/// registers and under which identity, how it logs in, where its tokens are and the Consul
/// clients. Built once per subcommand run ([`TaskContext::new`]); the steps of mesh-init and
/// health-sync, and the explanation of a refused write, read it instead of deriving any of
/// it again.
#[derive(Debug)]
pub struct TaskContext {
    /// The validated `CONSUL_ECS_CONFIG_JSON`.
    pub config: config::Config,
    /// The task metadata endpoint (health-sync polls it for the rest of the task's life).
    pub metadata: ecs::MetadataClient,
    /// The task metadata as read when the context was built.
    pub task: ecs::TaskMetadata,
    /// The service and sidecar (or gateway) registrations of the task.
    pub registrations: mesh_task::Registrations,
    /// The identity the task's token must carry: auth method, service, namespace.
    pub expected: diagnose::Expected,
    /// The login, when `consulLogin.enabled`: its spec, or why the config and the task
    /// metadata cannot give one (reported by the step that logs in).
    pub login: Option<Result<iam_login::LoginSpec, Arc<LoginSpecError>>>,
    /// The token files in the bootstrap directory.
    pub tokens: TokenFiles,
    /// The Consul clients.
    pub clients: ConsulClients,
    /// How the task joins the mesh (where it registers, what configures its proxy).
    pub layout: Layout,
}

/// Why no login spec can be made.
#[derive(Debug, thiserror::Error)]
pub enum LoginSpecError {
    /// The config names no region and the task ARN has none either.
    #[error("no consulLogin.region and the task ARN has none")]
    NoRegion(#[source] ecs::EcsError),
    /// The task ARN has no task ID (the login's `task-id` meta).
    #[error(transparent)]
    TaskId(ecs::EcsError),
}

/// The token files of the bootstrap directory and where the agent client's token comes
/// from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFiles {
    /// `<bootstrapDir>/service-token`: mesh-init's login, read by the agent client, Envoy
    /// and health-sync.
    pub service: PathBuf,
    /// `<bootstrapDir>/client-token`: the Consul client container's login; health-sync logs
    /// it out at shutdown.
    pub client: PathBuf,
    /// Whether the task logs in (`consulLogin.enabled`): the service token file is then the
    /// agent client's token.
    pub login: bool,
}

impl TokenFiles {
    /// The token files the config names.
    pub fn of(cfg: &config::Config) -> TokenFiles {
        TokenFiles {
            service: cfg.service_token_path(),
            client: cfg.client_token_path(),
            login: cfg.login_enabled(),
        }
    }

    /// The agent client's token: the service token file when the task logs in, else the
    /// environment's.
    pub fn agent_token(&self) -> Option<TokenSource> {
        self.login
            .then(|| TokenSource::OwnFile(self.service.clone()))
    }

    /// Where the token of the agent client comes from, for explaining a refused write.
    pub fn origin(&self) -> diagnose::TokenOrigin {
        if self.login {
            diagnose::TokenOrigin::Login {
                file: self.service.clone(),
            }
        } else if clients::env_token().ok().flatten().is_some() {
            diagnose::TokenOrigin::Environment
        } else {
            diagnose::TokenOrigin::Anonymous
        }
    }

    /// The tokens health-sync logs out at shutdown, with what each is.
    pub fn to_log_out(&self) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("service token", self.service.clone()),
            ("client token", self.client.clone()),
        ]
    }
}

/// The Consul clients of the task, or why each cannot be built (reported by the step that
/// needs it, so a broken server address does not stop what only needs the agent).
#[derive(Debug, Clone)]
pub struct ConsulClients {
    /// The local agent, with the service token file when the task logs in.
    pub agent: Result<Client, Arc<ClientError>>,
    /// The servers, when the task logs in.
    pub server: Option<Result<Client, Arc<ClientError>>>,
}

impl ConsulClients {
    /// The clients for the task the config describes, with the token files `tokens`.
    pub fn of(cfg: &config::Config, tokens: &TokenFiles) -> ConsulClients {
        ConsulClients {
            agent: clients::agent(tokens.agent_token()).map_err(Arc::new),
            server: cfg
                .login_enabled()
                .then(|| clients::server(cfg).map_err(Arc::new)),
        }
    }
}

impl TaskContext {
    /// The context of the task `task` describes, read through `metadata`. Fails only when
    /// the registrations cannot be built (the task ARN has no task ID, a config value does
    /// not fit Consul's types): nothing else can be done for such a task.
    pub fn new(
        config: config::Config,
        metadata: ecs::MetadataClient,
        clients: ConsulClients,
        task: ecs::TaskMetadata,
    ) -> Result<TaskContext, mesh_task::MeshError> {
        let registrations = mesh_task::build_registrations(&config, &task)?;
        let expected = expected_identity(&config, &registrations);
        let login = config
            .login_enabled()
            .then(|| login_spec(&config, &task).map_err(Arc::new));
        let tokens = TokenFiles::of(&config);
        let layout = Layout::of(&config);
        Ok(TaskContext {
            config,
            metadata,
            task,
            registrations,
            expected,
            login,
            tokens,
            clients,
            layout,
        })
    }

    /// The context as soon as the task metadata can be read, retrying with jittered backoff
    /// (250 ms up to 5 s) for as long as it takes: health-sync has nothing to do before.
    /// Fails only when the registrations cannot be built, since retrying cannot help.
    pub async fn when_known(
        config: &config::Config,
        peers: &crate::layout::Peers,
    ) -> Result<TaskContext, mesh_task::MeshError> {
        let policy = retry::RetryPolicy {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(5),
            deadline: Duration::MAX,
            ..retry::RetryPolicy::default()
        };
        let task = loop {
            // Every failure is retried: a metadata endpoint that answers 4xx or garbage
            // early in the task's life may still come good.
            let read = retry::retry_if(
                &policy,
                "read the task metadata",
                |_: &ecs::EcsError| true,
                || peers.metadata.task_once(),
            )
            .await;
            match read {
                Ok(task) => break task,
                // The policy has neither deadline nor attempt cap, so this is not reached;
                // should it be, the wait simply starts over.
                Err(_) => continue,
            }
        };
        TaskContext::new(
            config.clone(),
            peers.metadata.clone(),
            peers.clients.clone(),
            task,
        )
    }

    /// The service ID of the task (the gateway's ID for a gateway task), for logs.
    pub fn service_id(&self) -> &str {
        self.registrations
            .service()
            .map_or(&self.registrations.proxy().id, |s| &s.id)
    }

    /// Records the task ID and service ID in the current span (the subcommand's), so every
    /// line logged from here on carries them.
    pub fn record_in_span(&self) {
        let span = tracing::Span::current();
        if let Ok(task_id) = self.task.task_id() {
            span.record("task_id", task_id);
        }
        span.record("service_id", self.service_id());
    }

    /// The login's parameters, when the agent client's token comes from the task's own
    /// login (so the task role explains the token's identity).
    pub fn login_params(&self) -> Option<&iam_login::LoginParams> {
        match &self.login {
            Some(Ok(spec)) => Some(&spec.params),
            _ => None,
        }
    }
}

/// What the task's identity must say: the auth method, and the service (and Enterprise
/// namespace) the registrations use.
pub fn expected_identity(
    cfg: &config::Config,
    registrations: &mesh_task::Registrations,
) -> diagnose::Expected {
    let service = registrations
        .service()
        .map_or(&registrations.proxy().name, |s| &s.name);
    diagnose::Expected::new(cfg.login_method(), service, registrations.namespace())
}

/// The login's spec from the config and the task metadata.
pub fn login_spec(
    cfg: &config::Config,
    task: &ecs::TaskMetadata,
) -> Result<iam_login::LoginSpec, LoginSpecError> {
    LoginSettings {
        method: cfg.login_method(),
        region: cfg.login_region(),
        sts_endpoint: cfg.sts_endpoint(),
        server_id_header_value: cfg.server_id_header_value(),
        include_entity: cfg.include_entity(),
        extra_meta: cfg.login_meta(),
        partition: cfg.login_partition(),
        cluster: task.cluster(),
    }
    .spec(task)
}

/// What a login spec is made of, whichever layout's config gives it.
pub(crate) struct LoginSettings<'a> {
    pub(crate) method: &'a str,
    /// `consulLogin.region`; `None`: the task ARN's.
    pub(crate) region: Option<&'a str>,
    pub(crate) sts_endpoint: Option<&'a str>,
    pub(crate) server_id_header_value: Option<&'a str>,
    pub(crate) include_entity: bool,
    pub(crate) extra_meta: std::collections::BTreeMap<String, String>,
    pub(crate) partition: Option<&'a str>,
    /// The `consul.hashicorp.com/cluster` meta value.
    pub(crate) cluster: &'a str,
}

impl LoginSettings<'_> {
    pub(crate) fn spec(
        self,
        task: &ecs::TaskMetadata,
    ) -> Result<iam_login::LoginSpec, LoginSpecError> {
        let region = match self.region {
            Some(region) => region.to_owned(),
            None => task.region().map_err(LoginSpecError::NoRegion)?.to_owned(),
        };
        Ok(iam_login::LoginSpec {
            method: self.method.to_owned(),
            params: iam_login::LoginParams {
                region,
                sts_endpoint: self.sts_endpoint.map(str::to_owned),
                server_id_header_value: self.server_id_header_value.map(str::to_owned),
                include_entity: self.include_entity,
            },
            meta: iam_login::login_meta(
                task.task_id().map_err(LoginSpecError::TaskId)?,
                self.cluster,
                &self.extra_meta,
            ),
            partition: self.partition.map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(arn: &str) -> ecs::TaskMetadata {
        serde_json::from_value(serde_json::json!({"TaskARN": arn, "Family": "Web"})).unwrap()
    }

    fn context(config: &str, arn: &str) -> TaskContext {
        let config = config::parse(config).unwrap();
        let metadata = ecs::MetadataClient::new("http://127.0.0.1:1/v4").unwrap();
        let clients = ConsulClients::of(&config, &TokenFiles::of(&config));
        TaskContext::new(config, metadata, clients, task(arn)).unwrap()
    }

    const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:task/prod/abc123";

    #[test]
    fn a_service_task_is_known_by_its_service_and_logs_in_with_the_task_region() {
        let ctx = context(
            r#"{"bootstrapDir": "/consul", "service": {"name": "api", "port": 8080},
                "consulLogin": {"enabled": true}}"#,
            ARN,
        );
        assert_eq!(ctx.service_id(), "api-abc123");
        assert_eq!(ctx.expected.service, "api");
        assert_eq!(ctx.layout, Layout::Agent);
        let spec = ctx.login.as_ref().unwrap().as_ref().unwrap();
        assert_eq!(spec.params.region, "us-east-1");
        assert_eq!(ctx.login_params(), Some(&spec.params));
        assert!(ctx.clients.server.is_some(), "a login needs the servers");
        assert_eq!(
            ctx.tokens.agent_token(),
            Some(TokenSource::OwnFile("/consul/service-token".into()))
        );
        assert_eq!(
            ctx.tokens.origin(),
            diagnose::TokenOrigin::Login {
                file: "/consul/service-token".into()
            }
        );
    }

    #[test]
    fn without_a_login_there_is_no_spec_no_server_and_no_token_file() {
        let ctx = context(
            r#"{"bootstrapDir": "/consul", "service": {"port": 8080}}"#,
            ARN,
        );
        assert_eq!(ctx.service_id(), "web-abc123");
        assert!(ctx.login.is_none());
        assert!(ctx.login_params().is_none());
        assert!(ctx.clients.server.is_none());
        assert_eq!(ctx.tokens.agent_token(), None);
    }

    #[test]
    fn a_gateway_task_is_known_by_the_gateway() {
        let ctx = context(
            r#"{"bootstrapDir": "/consul",
                "gateway": {"kind": "mesh-gateway", "name": "gw"}}"#,
            ARN,
        );
        assert_eq!(ctx.service_id(), ctx.registrations.proxy_id());
        assert_eq!(ctx.expected.service, "gw");
    }

    #[test]
    fn a_login_spec_without_any_region_says_so() {
        let cfg =
            config::parse(r#"{"bootstrapDir": "/c", "consulLogin": {"enabled": true}}"#).unwrap();
        let err = login_spec(&cfg, &task("not-an-arn")).unwrap_err();
        assert!(matches!(err, LoginSpecError::NoRegion(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "no consulLogin.region and the task ARN has none"
        );
    }
}
