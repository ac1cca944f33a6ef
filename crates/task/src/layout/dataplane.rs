//! The Consul Dataplane layout (consul-ecs v0.10): no agent in the task. mesh-init finds
//! the servers (`consulServers`) and talks to one of them: the login and the server watch
//! over gRPC, the catalog registrations and the `service-defaults` write over HTTP(S) to
//! the same server; consul-dataplane then runs Envoy from `consul-dataplane.json` and logs
//! in by itself. What is registered and written is `crates/dataplane`'s (pure); this module
//! does the I/O, step by step (docs/registrations.md §11).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use config::dataplane::{Config, GRPC_CA_CERT_FILE, GRPC_CA_PEM_ENV};
use consul::{
    retry, CatalogDeregistration, Client, ConsulError, QueryOptions, RetryPolicy, Secret,
    TokenSource,
};
use consul_grpc::{ConnectSettings, ServerConnection};
use dataplane::{CatalogRegistrations, DataplaneConfig, DataplaneInputs, DataplaneLogin};
use tracing::{info, warn};

use crate::binary_copy::copy_executable_off_thread;
use crate::context::{LoginSettings, LoginSpecError};
use crate::error::{AtStep, Failure, Step, StepError};
use crate::mesh_init::{LoggedIn, MeshInitSettings, Written};

/// One request to the servers' HTTP API may wait this long.
const HTTP_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Mode of the files consul-dataplane reads: nobody writes them after mesh-init.
const READ_ONLY: u32 = 0o444;
/// The address consul-dataplane's DNS proxy listens on, which the task's resolver asks.
const CONSUL_DNS_NAMESERVER: &str = "127.0.0.1";
/// The launch type whose tasks cannot change their network rules (no `NET_ADMIN`).
const FARGATE: &str = "FARGATE";

/// One ECS task of the dataplane layout, as mesh-init sees it: the config, the task
/// metadata, what it registers, the identity its token must carry and how it logs in.
#[derive(Debug)]
pub struct DataplaneContext {
    /// The validated v0.10 `CONSUL_ECS_CONFIG_JSON`.
    pub config: Config,
    /// The task metadata as read when the context was built.
    pub task: ecs::TaskMetadata,
    /// The catalog registrations of the task.
    pub registrations: CatalogRegistrations,
    /// The identity the task's token must carry: auth method, service, namespace.
    pub expected: diagnose::Expected,
    /// The login, when `consulLogin.enabled`: its spec, or why the config and the task
    /// metadata cannot give one.
    pub login: Option<Result<iam_login::LoginSpec, Arc<LoginSpecError>>>,
}

impl DataplaneContext {
    /// The context of the task `task` describes; `aws_region` is the locality's region
    /// (`AWS_REGION`). Fails only when the registrations cannot be built.
    pub fn new(
        config: Config,
        task: ecs::TaskMetadata,
        aws_region: Option<&str>,
    ) -> Result<DataplaneContext, mesh_task::MeshError> {
        let registrations = dataplane::build_registrations(&config, &task, aws_region)?;
        let main = registrations.main_service();
        let expected = diagnose::Expected::new(
            config.login_method(),
            &main.service,
            registrations.namespace(),
        );
        let login = config
            .login_enabled()
            .then(|| login_spec(&config, &task, registrations.node()).map_err(Arc::new));
        Ok(DataplaneContext {
            config,
            task,
            registrations,
            expected,
            login,
        })
    }

    /// Records the task ID and service ID in the current span (the subcommand's).
    pub fn record_in_span(&self) {
        let span = tracing::Span::current();
        if let Ok(task_id) = self.task.task_id() {
            span.record("task_id", task_id);
        }
        span.record("service_id", self.registrations.main_service().id.as_str());
    }

    /// How to reach the servers over gRPC (`consulServers.hosts`, `grpc`, `defaults`,
    /// `CONSUL_GRPC_CACERT_PEM`), giving up the first connection after `deadline`.
    pub fn connect_settings(
        &self,
        deadline: Duration,
    ) -> Result<ConnectSettings, consul_grpc::DiscoveryError> {
        let mut settings =
            consul_grpc::servers::connect_settings(&self.config.consul_servers, env_text)?;
        settings.connect_policy = RetryPolicy::default().with_deadline(deadline);
        Ok(settings)
    }

    /// The HTTP(S) client of the server `connection` is on now: `current`'s when it is that
    /// server's, else a new one (kept in `current`). Asked for every request, so when the
    /// gRPC watch moves to another server (the connected one left the ready set) the next
    /// call goes there, as consul-dataplane follows its watch. A client that cannot be made
    /// for the new server leaves the old one in use (and is logged).
    pub fn current_http(
        &self,
        connection: &ServerConnection,
        token: Option<&Secret>,
        current: &RefCell<(SocketAddr, Client)>,
    ) -> Client {
        let address = connection.http_address(self.config.consul_servers.http_port());
        let mut current = current.borrow_mut();
        if current.0 != address {
            match self.http_client(connection, token.cloned()) {
                Ok(client) => {
                    info!(%address, "using another Consul server");
                    *current = (address, client);
                }
                Err(e) => {
                    warn!(%address, error = %e, "cannot make a client for the new Consul server; keeping the old one")
                }
            }
        }
        current.1.clone()
    }

    /// The client of the server in use now, with the address it stands for, to pass to
    /// [`DataplaneContext::current_http`]. The address is read before the client is made:
    /// should the watch move in between, the pair names the old server and the next call
    /// makes a client for the new one (the other order could pair the new address with the
    /// old server's client, which would then never be replaced).
    pub fn http_in_use(
        &self,
        connection: &ServerConnection,
        token: Option<&Secret>,
    ) -> Result<RefCell<(SocketAddr, Client)>, ConsulError> {
        let address = connection.http_address(self.config.consul_servers.http_port());
        let client = self.http_client(connection, token.cloned())?;
        Ok(RefCell::new((address, client)))
    }

    /// The HTTP(S) client of the server `connection` is connected to, on
    /// `consulServers.http.port`, with `token` and the task's namespace and partition.
    pub fn http_client(
        &self,
        connection: &ServerConnection,
        token: Option<Secret>,
    ) -> Result<Client, ConsulError> {
        let mut settings = consul_grpc::servers::http_config(
            &self.config.consul_servers,
            connection.current_address(),
            env_text,
        )?
        .with_timeout(HTTP_REQUEST_TIMEOUT)
        .with_token(token.map_or(TokenSource::None, TokenSource::Value));
        if let Some(namespace) = self.registrations.namespace() {
            settings = settings.with_namespace(namespace);
        }
        if let Some(partition) = self.registrations.partition() {
            settings = settings.with_partition(partition);
        }
        Client::new(settings)
    }
}

/// The login of a dataplane task: the task's partition (the gateway's in a gateway task),
/// and the cluster ARN (the synthetic node's name) as the `consul.hashicorp.com/cluster`
/// meta, as consul-ecs v0.10 sends them.
fn login_spec(
    cfg: &Config,
    task: &ecs::TaskMetadata,
    cluster_arn: &str,
) -> Result<iam_login::LoginSpec, LoginSpecError> {
    LoginSettings {
        method: cfg.login_method(),
        region: cfg.login_region(),
        sts_endpoint: cfg.sts_endpoint(),
        server_id_header_value: cfg.server_id_header_value(),
        include_entity: cfg.include_entity(),
        extra_meta: cfg.login_meta(),
        partition: cfg.partition(),
        cluster: cluster_arn,
    }
    .spec(task)
}

/// A variable's text when it is set and not blank.
pub(crate) fn env_text(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The token every later call carries: `CONSUL_HTTP_TOKEN` (or `_FILE`) when set, which
/// replaces the login (and then no login block is written for consul-dataplane either);
/// else the login's, when `consulLogin.enabled`.
pub(crate) enum TokenChoice {
    Fixed(Secret),
    Login(iam_login::LoginSpec),
    Anonymous,
}

/// mesh-init in the dataplane layout, after the task metadata was read. What it does that
/// must be undone on failure or signal goes into `written`.
pub(crate) async fn mesh_init(
    config: Config,
    task: ecs::TaskMetadata,
    settings: &MeshInitSettings,
    written: &RefCell<Written>,
) -> Result<(), StepError> {
    let region = env_text("AWS_REGION");
    let ctx =
        DataplaneContext::new(config, task, region.as_deref()).at(Step::BuildRegistrations)?;
    ctx.record_in_span();
    let choice = token_choice(&ctx)?;

    let connection = ServerConnection::connect(
        ctx.connect_settings(settings.register_timeout)
            .map_err(consul_grpc::GrpcError::from)
            .at(Step::ConnectServers)?,
    )
    .await
    .at(Step::ConnectServers)?;
    let (token, dataplane_login) = match choice {
        TokenChoice::Fixed(token) => (Some(token), None),
        TokenChoice::Anonymous => (None, None),
        TokenChoice::Login(spec) => {
            written.borrow_mut().login_in_flight = true;
            let logged_in = log_in(&ctx, &connection, &spec, settings.login_timeout).await;
            written.borrow_mut().login_in_flight = false;
            let login = logged_in.at(Step::LogIn)?;
            written.borrow_mut().login = Some(LoggedIn::Grpc {
                client: connection.client(),
                token: login.token.secret_id.clone(),
                datacenter: ctx.config.login_datacenter().unwrap_or_default().to_owned(),
            });
            let for_dataplane = DataplaneLogin::new(&ctx.config, login.bearer_token, spec.meta);
            (Some(login.token.secret_id), Some(for_dataplane))
        }
    };
    connection.watch(token.clone());

    // Every call goes to the server the watch is on when it is made (a retry included).
    let in_use = ctx
        .http_in_use(&connection, token.as_ref())
        .map_err(Failure::HttpClient)
        .at(Step::RegisterInCatalog)?;
    let http = || ctx.current_http(&connection, token.as_ref(), &in_use);
    // A failure names the server it happened on: the HTTP client's errors do not.
    let on_server = |failure: Failure| Failure::AtServer {
        address: in_use.borrow().1.address().to_string(),
        failure: Box::new(failure),
    };
    if dataplane_login.is_some() {
        if let Some(token) = &token {
            iam_login::wait_for_replication(&http(), token)
                .await
                .map_err(|e| on_server(e.into()))
                .at(Step::WaitForReplication)?;
        }
    }
    register(&ctx, &http, settings.register_timeout, written)
        .await
        .map_err(on_server)
        .at(Step::RegisterInCatalog)?;
    write_service_defaults(&ctx, &http, settings.register_timeout)
        .await
        .map_err(on_server)
        .at(Step::WriteServiceDefaults)?;
    write_files(&ctx, env_text(GRPC_CA_PEM_ENV), dataplane_login, written).await?;
    if ctx.config.consul_dns_enabled() {
        use_consul_dns(&settings.resolv_conf, written)?;
    }
    if ctx.config.transparent_proxy_enabled() {
        redirect_traffic(&ctx, &http, settings)
            .await
            .map_err(on_server)
            .at(Step::TransparentProxy)?;
    }
    // mesh-init's token has done its work: consul-dataplane and health-sync log in by
    // themselves, and a token left behind would live until the task stops and the
    // controller reaps it. A failed logout is logged; the task is ready all the same.
    let login = written.borrow_mut().login.take();
    if let Some(LoggedIn::Grpc {
        client,
        token,
        datacenter,
    }) = login
    {
        log_out(&client, &token, &datacenter).await;
    }
    connection.stop();
    Ok(())
}

pub(crate) fn token_choice(ctx: &DataplaneContext) -> Result<TokenChoice, StepError> {
    if let Some(token) = crate::clients::env_token().at(Step::LogIn)? {
        if ctx.login.is_some() {
            info!("CONSUL_HTTP_TOKEN is set: using it instead of logging in");
        }
        return Ok(TokenChoice::Fixed(token));
    }
    match &ctx.login {
        Some(spec) => Ok(TokenChoice::Login(spec.clone().at(Step::LogIn)?)),
        None => Ok(TokenChoice::Anonymous),
    }
}

/// Logs in over gRPC with the auth method of the config. A refusal the task's own identity
/// explains ends the login at once with the explanation, as in the agent layout; others are
/// retried until `timeout`.
pub(crate) async fn log_in(
    ctx: &DataplaneContext,
    connection: &ServerConnection,
    spec: &iam_login::LoginSpec,
    timeout: Duration,
) -> Result<iam_login::GrpcLogin, Failure> {
    let mut diagnosis = diagnose::LoginDiagnosis::new(
        ctx.expected.clone(),
        spec.params.clone(),
        spec.partition.clone(),
    );
    let policy = iam_login::login_policy(timeout);
    let client = connection.client();
    let datacenter = ctx.config.login_datacenter();
    match iam_login::login_reviewed_grpc(&client, spec, datacenter, &policy, &mut diagnosis).await {
        Ok(login) => Ok(login),
        Err(e) => {
            let target = diagnose::Target {
                what: "the Consul servers' gRPC port",
                address: client.address().to_string(),
                origin: diagnose::AddressOrigin::ConsulServers,
            };
            let (problem, hint) = diagnosis.report(&e, &target);
            Err(diagnose::Diagnosed { problem, hint }.into())
        }
    }
}

/// `PUT /v1/catalog/register` for the service, then the proxy (or the gateway), each
/// retried with jittered backoff until `deadline` (consul-ecs v0.10 retried every second
/// forever), each attempt to the server in use then (`http`).
async fn register(
    ctx: &DataplaneContext,
    http: &impl Fn() -> Client,
    deadline: Duration,
    written: &RefCell<Written>,
) -> Result<(), Failure> {
    let policy = RetryPolicy::default().with_deadline(deadline);
    let no_opts = QueryOptions::default();
    for entry in ctx.registrations.services() {
        let registration = ctx.registrations.registration(entry);
        let id = entry.service.id.as_str();
        let what = format!("register {id:?} in the Consul catalog");
        retry(&policy, &what, || {
            let http = http();
            let (registration, no_opts) = (&registration, &no_opts);
            async move { http.catalog_register(registration, no_opts).await }
        })
        .await
        .map_err(refused_registration)?;
        written.borrow_mut().registered.push((
            http(),
            CatalogDeregistration {
                node: registration.node.clone(),
                service_id: id.to_owned(),
                namespace: entry.service.namespace.clone(),
                partition: entry.service.partition.clone(),
                ..Default::default()
            },
        ));
        info!(id, node = %registration.node, "registered in the catalog");
    }
    Ok(())
}

/// A registration Consul refused (403) gets the two reasons a task's token is refused in
/// this layout; other failures stay as they are.
fn refused_registration(error: consul::RetryError<ConsulError>) -> Failure {
    if error.last.http_status() != Some(403) {
        return error.into();
    }
    Failure::Diagnosed(diagnose::Diagnosed {
        problem: error.to_string(),
        hint: "a task's login token may register its own service on the cluster's node but \
               not create the node: the controller registers it (one node per cluster, named \
               by the cluster ARN); and the service must be the one the token's service \
               identity names (the task role's consul.hashicorp.com.service-name tag)"
            .to_owned(),
    })
}

/// With `service.networkResilienceConfig.enabled`: reads `service-defaults/<name>` and
/// writes it back with a `PassiveHealthCheck` when it has none.
async fn write_service_defaults(
    ctx: &DataplaneContext,
    http: &impl Fn() -> Client,
    deadline: Duration,
) -> Result<(), Failure> {
    let settings = ctx
        .config
        .service
        .as_ref()
        .and_then(|s| s.network_resilience_config.as_ref());
    let Some(service) = ctx.registrations.service().map(|s| &s.service) else {
        return Ok(());
    };
    if !settings.is_some_and(|s| s.enabled) {
        return Ok(());
    }
    let policy = RetryPolicy::default().with_deadline(deadline);
    let no_opts = QueryOptions::default();
    let name = service.service.as_str();
    let existing = retry(&policy, "read the service-defaults entry", || {
        let (http, no_opts) = (http(), &no_opts);
        async move { http.service_defaults(name, no_opts).await }
    })
    .await?;
    let entry = dataplane::with_passive_health_check(
        existing,
        name,
        ctx.registrations.namespace(),
        ctx.registrations.partition(),
        settings,
    );
    match entry {
        Some(entry) => {
            retry(&policy, "write the service-defaults entry", || {
                let (http, entry, no_opts) = (http(), &entry, &no_opts);
                async move { http.service_defaults_set(entry, no_opts).await }
            })
            .await?;
            info!(
                service = name,
                "service-defaults: passive health check added"
            );
        }
        None => info!(
            service = name,
            "service-defaults already has a passive health check; left as it is"
        ),
    }
    Ok(())
}

/// The bootstrap directory: the gRPC CA (`grpc_ca_pem`, from `CONSUL_GRPC_CACERT_PEM`,
/// when gRPC uses TLS), `consul-dataplane.json` (it holds the bearer token: written, never
/// logged) and the binary copy.
async fn write_files(
    ctx: &DataplaneContext,
    grpc_ca_pem: Option<String>,
    login: Option<DataplaneLogin>,
    written: &RefCell<Written>,
) -> Result<(), StepError> {
    let dir = ctx.config.bootstrap_dir();
    let pem = grpc_ca_pem.filter(|_| ctx.config.consul_servers.grpc_tls().enabled);
    let pem_written = pem.is_some();
    if let Some(pem) = pem {
        let path = dir.join(GRPC_CA_CERT_FILE);
        write_file(&path, pem.into_bytes(), written)
            .await
            .at(Step::WriteGrpcCaCert)?;
    }
    let document = DataplaneConfig::new(
        DataplaneInputs {
            config: &ctx.config,
            registrations: &ctx.registrations,
            grpc_ca_pem_written: pem_written,
        },
        login,
    );
    let path = ctx.config.dataplane_config_path();
    write_file(
        &path,
        document.to_json().expose().as_bytes().to_vec(),
        written,
    )
    .await
    .at(Step::WriteDataplaneConfig)?;
    info!(path = %path.display(), "consul-dataplane configuration written");
    let copy = ctx.config.binary_copy_path();
    copy_executable_off_thread(copy.clone())
        .await
        .at(Step::CopyBinary)?;
    written.borrow_mut().files.push(copy);
    info!(dir = %dir.display(), "bootstrap directory ready");
    Ok(())
}

/// One read-only file of the bootstrap directory, atomically and off the async thread.
async fn write_file(
    path: &Path,
    contents: Vec<u8>,
    written: &RefCell<Written>,
) -> Result<(), Failure> {
    boundary::write_atomic_off_thread(path, contents, READ_ONLY)
        .await
        .map_err(|source| Failure::File {
            path: path.to_path_buf(),
            source,
        })?;
    written.borrow_mut().files.push(path.to_path_buf());
    Ok(())
}

/// Points the task's resolver at consul-dataplane's DNS proxy: `nameserver 127.0.0.1`
/// first, then the file's own lines (other name servers as fallbacks, `search`,
/// `options`). The file is rewritten in place, not renamed over: in a container
/// `/etc/resolv.conf` is a bind mount, which a rename cannot replace. The old content is
/// kept to put back if mesh-init does not complete.
fn use_consul_dns(path: &Path, written: &RefCell<Written>) -> Result<(), StepError> {
    let original = boundary::read_text_file(path, RESOLV_CONF_LIMIT, boundary::Links::Follow)
        .map_err(|source| Failure::DnsRead {
            path: path.to_path_buf(),
            source,
        })
        .at(Step::ConfigureDns)?;
    std::fs::write(path, with_consul_nameserver(&original))
        .map_err(|source| Failure::DnsWrite {
            path: path.to_path_buf(),
            source,
        })
        .at(Step::ConfigureDns)?;
    written
        .borrow_mut()
        .restore
        .push((path.to_path_buf(), original.into_bytes()));
    info!(path = %path.display(), nameserver = CONSUL_DNS_NAMESERVER, "resolver points at Consul DNS");
    Ok(())
}

/// Largest `/etc/resolv.conf` read.
const RESOLV_CONF_LIMIT: u64 = 64 * 1024;

/// `resolv.conf` text with Consul DNS as the first name server (a line for it already
/// there is dropped, so a re-run does not repeat it).
fn with_consul_nameserver(original: &str) -> String {
    let ours = format!("nameserver {CONSUL_DNS_NAMESERVER}");
    let mut out = format!("{ours}\n");
    for line in original.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words == ["nameserver", CONSUL_DNS_NAMESERVER] {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Installs the transparent proxy's traffic redirection for the proxy as the catalog holds
/// it (`GET /v1/catalog/node-services/<node>`, so what Consul defaulted counts). Needs the
/// EC2 launch type: Fargate tasks cannot change their network rules.
async fn redirect_traffic(
    ctx: &DataplaneContext,
    http: &impl Fn() -> Client,
    settings: &MeshInitSettings,
) -> Result<(), Failure> {
    if ctx.task.launch_type.as_deref() == Some(FARGATE) {
        return Err(Failure::TransparentProxyOnFargate);
    }
    let proxy_id = &ctx.registrations.proxy().service.id;
    let node = ctx.registrations.node();
    let opts = QueryOptions::default().with_filter(format!("ID == {proxy_id:?}"));
    let policy = RetryPolicy::default().with_deadline(settings.register_timeout);
    let services = retry(&policy, "read the proxy back from the catalog", || {
        let (http, opts) = (http(), &opts);
        async move { http.catalog_node_services(node, opts).await }
    })
    .await?;
    let proxy = services
        .services
        .into_iter()
        .find(|s| &s.id == proxy_id)
        .ok_or_else(|| Failure::ProxyNotInCatalog {
            proxy_id: proxy_id.clone(),
            node: node.to_owned(),
        })?;
    let rules = tproxy::for_proxy(&proxy, &ctx.config)?.rules();
    tproxy::Iptables::with_program(settings.iptables.clone())
        .apply(&rules)
        .await?;
    info!(
        rules = rules.len(),
        "transparent proxy redirection installed"
    );
    Ok(())
}

/// Logs out a token a gRPC login made; its failure is only logged (the undo goes on).
pub(crate) async fn log_out(client: &consul_grpc::ConsulGrpc, token: &Secret, datacenter: &str) {
    match client.logout(token, datacenter).await {
        Ok(()) => info!("logged out this run's token"),
        Err(e) => warn!(error = %e, "could not log out this run's token"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(dir: &Path, servers: serde_json::Value) -> DataplaneContext {
        let config = config::dataplane::parse(
            &serde_json::json!({"bootstrapDir": dir, "consulServers": servers,
                                "service": {"port": 8080}})
            .to_string(),
        )
        .unwrap();
        let task = serde_json::from_value(serde_json::json!({
            "Cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
            "TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/prod/abc123", "Family": "web"
        }))
        .unwrap();
        DataplaneContext::new(config, task, None).unwrap()
    }

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn with_grpc_tls_the_ca_pem_is_written_read_only_and_named_in_the_document() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path(), serde_json::json!({"hosts": "consul.dc1"}));
        let written = RefCell::new(Written::default());
        write_files(
            &ctx,
            Some("-----BEGIN CERTIFICATE-----\n".into()),
            None,
            &written,
        )
        .await
        .unwrap();
        let pem = dir.path().join(GRPC_CA_CERT_FILE);
        assert_eq!(
            std::fs::read_to_string(&pem).unwrap(),
            "-----BEGIN CERTIFICATE-----\n"
        );
        assert_eq!(mode(&pem), 0o444);
        let document = dir.path().join(config::dataplane::DATAPLANE_CONFIG_FILE);
        assert_eq!(mode(&document), 0o444);
        let document: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&document).unwrap()).unwrap();
        assert_eq!(
            document["consul"]["tls"]["caCertsPath"],
            pem.display().to_string()
        );
        assert_eq!(mode(&dir.path().join(config::BINARY_COPY_FILE)), 0o755);
        assert_eq!(
            written.borrow().files.len(),
            3,
            "each file is undone on failure"
        );
    }

    #[tokio::test]
    async fn without_grpc_tls_the_ca_pem_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(
            dir.path(),
            serde_json::json!({"hosts": "consul.dc1", "grpc": {"tls": false}}),
        );
        let written = RefCell::new(Written::default());
        write_files(&ctx, Some("pem".into()), None, &written)
            .await
            .unwrap();
        assert!(!dir.path().join(GRPC_CA_CERT_FILE).exists());
    }

    #[test]
    fn consul_dns_goes_first_and_the_rest_stays_as_it_was() {
        let original =
            "# from the host\nnameserver 10.0.0.2\nsearch ec2.internal\noptions ndots:5\n";
        assert_eq!(
            with_consul_nameserver(original),
            "nameserver 127.0.0.1\n# from the host\nnameserver 10.0.0.2\nsearch ec2.internal\n\
             options ndots:5\n"
        );
        // A second run does not add a second line.
        let again = with_consul_nameserver(&with_consul_nameserver(original));
        assert_eq!(again.matches("127.0.0.1").count(), 1, "{again}");
    }
}
