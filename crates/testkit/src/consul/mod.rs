//! A Consul HTTP API emulator for tests: the agent endpoints consul-ecs uses, the ACL
//! system (tokens, policies, roles, identities, enforcement on every endpoint), the ACL
//! admin API, and the `aws-iam` auth method, which validates logins by replaying the
//! signed AWS requests to STS/IAM (moto in tests) exactly as a Consul server does.
//!
//! It behaves like Consul as documented in docs/protocols.md §3–§5 — status codes, plain-text
//! error bodies, ACL checks — not like any particular client expects. Faults can be
//! injected (`faults()`), the server can be taken down and brought back on the same port,
//! and every request is logged without its token.
//!
//! With a [`crate::aws::AwsWorld`], [`ConsulEmulator::configure_iam_auth`] and
//! [`ConsulEmulator::configure_client_auth`] create the auth methods and binding rules a
//! v0.6.2 deployment has, and [`ConsulEmulator::aws_login`] /
//! [`ConsulEmulator::login_client_token`] log in with a task role's credentials.
//!
//! ```no_run
//! use testkit::consul::{ConsulEmulator, EmulatorOptions};
//! let consul = ConsulEmulator::start(EmulatorOptions { acls_enabled: true, ..Default::default() });
//! let addr = consul.http_addr(); // http://127.0.0.1:PORT
//! let token = consul.management_token();
//! # let _ = (addr, token);
//! ```

mod acl;
mod agent;
mod awsiam;
mod catalog;
mod filter;
mod front_end;
mod grpc;
pub(crate) mod request_log;
mod rules;
mod scope;
mod setup;
mod state;
mod tenancy;
mod wire;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::response::Response;
use http::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;

pub use front_end::{FrontEnd, FrontEndOptions};
pub(crate) use grpc::GrpcBackend;
pub use scope::Scope;
pub use setup::{
    default_bound_arn, AwsLogin, IamAuthOptions, LoggedIn, SeededLogin, SetupError,
    CLIENT_AUTH_METHOD, CLIENT_POLICY, CLIENT_POLICY_RULES, CLIENT_ROLE, SERVICE_AUTH_METHOD,
    SERVICE_BIND_NAME,
};
pub use state::{Link, NodeIdentity, ServiceIdentity, Token};
use wire::{text, ApiError, Reply};

/// How to start an emulator.
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// Enable the ACL system (default policy `deny`). When off, ACL endpoints answer
    /// 401 `ACL support disabled` and everything else is allowed.
    pub acls_enabled: bool,
    /// Datacenter name (`dc1`).
    pub datacenter: String,
    /// The agent's node name (used for `agent:read`, checks' `Node`).
    pub node_name: String,
    /// Pretend to be Consul Enterprise: accept `ns`/`partition` parameters and fields,
    /// serve partitions and namespaces, scope ACL objects by them (agent and catalog data
    /// are not scoped) and report `+ent` versions.
    pub enterprise: bool,
    /// The primary datacenter `/v1/agent/self` reports (None = `datacenter`: this is the
    /// primary). Set it to play a secondary datacenter.
    pub primary_datacenter: Option<String>,
    /// Listen on this port (None = an ephemeral one).
    pub port: Option<u16>,
    /// The address to listen on, as Consul's `-client` (127.0.0.1). A container that
    /// publishes the port needs `0.0.0.0`: the engine forwards to the container's address.
    pub client_addr: std::net::IpAddr,
    /// How many requests [`ConsulEmulator::requests`] keeps, oldest dropped first
    /// ([`DEFAULT_REQUEST_LOG_CAP`]).
    pub request_log_cap: usize,
    /// The xDS gRPC port `/v1/agent/self` reports (8502).
    pub grpc_port: u16,
    /// The xDS gRPC TLS port `/v1/agent/self` reports (None = disabled, shown as -1).
    pub grpc_tls_port: Option<u16>,
    /// Answer "not found" on ACL reads like Consul < 1.15 (403 `ACL not found`, empty
    /// 404s, deletes of missing tokens succeed) instead of 1.15's texts (403 `token does
    /// not exist: ACL not found`, 404 `Cannot find token to delete`, …).
    pub legacy_not_found: bool,
    /// Secret of the bootstrap (`global-management`) token; None = a random UUID. Lets a
    /// demo or a scripted environment know the token without it being printed anywhere.
    pub management_token: Option<String>,
    /// How long a new token stays unknown to `?stale` reads, as on a follower the token
    /// has not replicated to yet (zero = at once). Exercises clients that wait for a fresh
    /// login token to replicate before using it.
    pub replication_lag: Duration,
    /// Answer as a Consul client agent in front of the servers: an error of an endpoint the
    /// agent forwards to the servers (`/v1/acl/…`, `/v1/catalog/…`, `/v1/health/…`,
    /// `/v1/config…`, partitions, namespaces) carries the prefix `rpc error making call: `,
    /// which Consul 1.15's connection pool (`agent/pool`) puts on every error an RPC returns;
    /// the status code is unchanged. Errors the agent's HTTP layer makes itself (a body it
    /// cannot decode, a method not allowed, an unknown path: 400, 405) and the agent's own
    /// endpoints (`/v1/agent/…`) are not prefixed.
    pub through_client_agent: bool,
}

impl Default for EmulatorOptions {
    fn default() -> EmulatorOptions {
        EmulatorOptions {
            acls_enabled: false,
            datacenter: "dc1".to_string(),
            node_name: "ip-10-0-1-23.ec2.internal".to_string(),
            enterprise: false,
            primary_datacenter: None,
            port: None,
            client_addr: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            request_log_cap: DEFAULT_REQUEST_LOG_CAP,
            grpc_port: 8502,
            grpc_tls_port: None,
            legacy_not_found: false,
            management_token: None,
            replication_lag: Duration::ZERO,
            through_client_agent: false,
        }
    }
}

/// Why the emulator could not start or restart.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// Binding the listening socket failed.
    #[error("bind {addr}:{port}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::IpAddr,
        /// The port asked for (0 = ephemeral).
        port: u16,
        /// The OS error.
        source: std::io::Error,
    },
    /// The server thread or its runtime could not be started.
    #[error("start the emulator runtime: {0}")]
    Runtime(std::io::Error),
    /// The HTTP client the aws-iam method uses for STS/IAM could not be built.
    #[error("build the HTTP client for AWS calls: {0}")]
    Client(String),
}

/// One request as the emulator saw it (the shared testkit record; never the token value).
pub use crate::http_server::RecordedRequest;
pub use request_log::DEFAULT_REQUEST_LOG_CAP;

/// Fault injection controls, shared with the running server.
#[derive(Debug, Default)]
pub struct Faults {
    fail_remaining: AtomicU32,
    fail_status: AtomicU32,
    latency_ms: AtomicU64,
}

impl Faults {
    /// The next `n` requests (any endpoint) fail with `status` and a Consul-like body.
    pub fn fail_next(&self, n: u32, status: u16) {
        self.fail_status.store(u32::from(status), Ordering::SeqCst);
        self.fail_remaining.store(n, Ordering::SeqCst);
    }

    /// Every request waits `d` before it is handled (zero = none).
    pub fn set_latency(&self, d: Duration) {
        self.latency_ms.store(
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    /// Clears injected failures and latency.
    pub fn clear(&self) {
        self.fail_remaining.store(0, Ordering::SeqCst);
        self.latency_ms.store(0, Ordering::SeqCst);
    }

    fn take_failure(&self) -> Option<u16> {
        let taken = self
            .fail_remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        taken.then(|| u16::try_from(self.fail_status.load(Ordering::SeqCst)).unwrap_or(500))
    }

    fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms.load(Ordering::SeqCst))
    }
}

/// Body Consul would send with an injected status.
fn fault_body(status: u16) -> &'static str {
    match status {
        429 => "rate limit exceeded, try again later",
        500 => "rpc error making call: No cluster leader",
        503 => "Consul server is unavailable, try again later",
        403 => "Permission denied",
        404 => "404 page not found",
        _ => "injected fault",
    }
}

struct Shared {
    state: Mutex<state::State>,
    faults: Faults,
    log: Mutex<request_log::RequestLog>,
    client: reqwest::Client,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, state::State> {
        // A panicking handler must not wedge every later test request.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A request, decoded once for the handlers.
pub(crate) struct Req {
    method: Method,
    /// Values of the Enterprise tenancy headers (`X-Consul-Namespace`, `X-Consul-Partition`).
    tenancy_headers: Vec<(&'static str, String)>,
    query: Vec<(String, String)>,
    token: Option<String>,
    body: Bytes,
}

impl Req {
    fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// `?key`, `?key=` or `?key=true`.
    fn query_flag(&self, key: &str) -> bool {
        self.query_value(key)
            .is_some_and(|v| v.is_empty() || v == "true")
    }
}

/// A running emulator. Dropping it stops the server (safe inside and outside tokio).
pub struct ConsulEmulator {
    shared: Arc<Shared>,
    client_addr: std::net::IpAddr,
    port: u16,
    handle: tokio::runtime::Handle,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for ConsulEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsulEmulator")
            .field("addr", &self.http_addr())
            .finish_non_exhaustive()
    }
}

impl ConsulEmulator {
    /// Starts the emulator on its own thread and runtime; panics if it cannot bind (tests
    /// want a loud failure). See [`ConsulEmulator::try_start`].
    pub fn start(opts: EmulatorOptions) -> ConsulEmulator {
        match ConsulEmulator::try_start(opts) {
            Ok(e) => e,
            Err(e) => panic!("Consul emulator: {e}"),
        }
    }

    /// Starts the emulator, reporting bind/runtime failures.
    pub fn try_start(opts: EmulatorOptions) -> Result<ConsulEmulator, EmulatorError> {
        let want = opts.port.unwrap_or(0);
        let client_addr = opts.client_addr;
        let listener = bind(client_addr, want)?;
        let port = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                addr: client_addr,
                port: want,
                source,
            })?
            .port();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| EmulatorError::Client(e.to_string()))?;
        let log = request_log::RequestLog::new(opts.request_log_cap);
        let shared = Arc::new(Shared {
            state: Mutex::new(state::State::new(opts)),
            faults: Faults::default(),
            log: Mutex::new(log),
            client,
        });
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("consul-emulator-{port}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = handle_tx.send(Err(e));
                        return;
                    }
                };
                let _ = handle_tx.send(Ok(rt.handle().clone()));
                rt.block_on(async {
                    let _ = stop_rx.await;
                });
                rt.shutdown_timeout(Duration::from_secs(1));
            })
            .map_err(EmulatorError::Runtime)?;
        let handle = handle_rx
            .recv()
            .map_err(|e| EmulatorError::Runtime(std::io::Error::other(e)))?
            .map_err(EmulatorError::Runtime)?;
        let emulator = ConsulEmulator {
            shared,
            client_addr,
            port,
            handle,
            server: Mutex::new(None),
            stop: Some(stop_tx),
            thread: Some(thread),
        };
        emulator.serve(listener);
        Ok(emulator)
    }

    fn serve(&self, listener: std::net::TcpListener) {
        let shared = self.shared.clone();
        let task = self.handle.spawn(async move {
            let listener = match tokio::net::TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!("consul emulator: listener: {e}");
                    return;
                }
            };
            // Owning the connections here means aborting this task closes them all.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(_) => continue,
                };
                let shared = shared.clone();
                connections.spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let shared = shared.clone();
                            async move {
                                Ok::<_, Infallible>(handle(shared, req.map(Body::new), None).await)
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                // Reap finished connections so the set does not grow without bound.
                while connections.try_join_next().is_some() {}
            }
        });
        *self.server.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
    }

    /// `http://127.0.0.1:PORT`.
    pub fn http_addr(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bootstrap token's secret (`global-management`). Meaningful with ACLs enabled.
    pub fn management_token(&self) -> String {
        self.shared.state().management_secret.clone()
    }

    /// Fault injection controls.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Stops listening and drops every open connection: clients get "connection refused".
    pub fn go_down(&self) {
        let task = self.server.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            task.abort();
            let (tx, rx) = std::sync::mpsc::channel();
            self.handle.spawn(async move {
                let _ = task.await;
                let _ = tx.send(());
            });
            // Wait until the listener is really closed before returning.
            let _ = rx.recv_timeout(Duration::from_secs(5));
        }
    }

    /// Listens again on the same port (state is kept).
    pub fn come_back(&self) -> Result<(), EmulatorError> {
        if self
            .server
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
        {
            return Ok(());
        }
        let listener = bind(self.client_addr, self.port)?;
        self.serve(listener);
        Ok(())
    }

    /// Restarts the agent: down (every connection dropped), back on the same port with its
    /// services and checks, but every check `critical` with no output, as a Consul agent
    /// that re-registers its checks after a restart reports them until something writes
    /// them again.
    pub fn restart_agent(&self) -> Result<(), EmulatorError> {
        self.go_down();
        {
            let mut st = self.shared.state();
            for check in st.checks.values_mut() {
                check.status = "critical".to_owned();
                check.output.clear();
            }
        }
        self.come_back()
    }

    /// Requests seen so far, oldest first: the last
    /// [`EmulatorOptions::request_log_cap`] of them.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log_entries().retained()
    }

    /// The requests after the first `seen` ever answered, and the count to pass next time
    /// (for a follower that prints the log as it grows; dropped ones are skipped).
    pub fn requests_after(&self, seen: u64) -> (Vec<RecordedRequest>, u64) {
        self.log_entries().after(seen)
    }

    fn log_entries(&self) -> MutexGuard<'_, request_log::RequestLog> {
        self.shared.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The request log as text, one request a line (for failure messages).
    pub fn request_log(&self) -> String {
        self.requests().iter().map(|r| format!("{r}\n")).collect()
    }

    /// Agent services keyed by ID, in the `GET /v1/agent/service/:id` shape (without
    /// `ContentHash`).
    pub fn services(&self) -> BTreeMap<String, Value> {
        let st = self.shared.state();
        st.services
            .values()
            .map(|s| (s.id.clone(), agent::service_json(&st, s, false)))
            .collect()
    }

    /// Agent checks keyed by check ID, in the `GET /v1/agent/checks` shape.
    pub fn checks(&self) -> BTreeMap<String, Value> {
        let st = self.shared.state();
        st.checks
            .values()
            .map(|c| (c.id.clone(), agent::check_json(&st, c)))
            .collect()
    }

    /// Catalog services (the dataplane layout's registrations) of every node, keyed by
    /// service ID, in the `GET /v1/catalog/node-services` entry shape.
    pub fn catalog_services(&self) -> BTreeMap<String, Value> {
        self.shared.state().catalog.all_services()
    }

    /// Catalog checks of every node, keyed by check ID, in the `GET /v1/health/checks` shape.
    pub fn catalog_checks(&self) -> BTreeMap<String, Value> {
        self.shared.state().catalog.all_checks()
    }

    /// Registers the catalog node `node` (address 127.0.0.1, meta `synthetic-node=true`)
    /// with the management token, through the same code as `PUT /v1/catalog/register`: what
    /// the v0.10 controller does for a cluster (a task's login token may write services on
    /// the node, not create it). Panics when the emulator refuses it.
    pub fn register_synthetic_node(&self, node: &str) {
        let body = serde_json::json!({
            "Node": node,
            "Address": "127.0.0.1",
            "NodeMeta": {"synthetic-node": "true"},
        });
        let req = Req {
            method: Method::PUT,
            tenancy_headers: Vec::new(),
            query: Vec::new(),
            token: Some(self.management_token()),
            body: Bytes::from(body.to_string()),
        };
        let mut st = self.shared.state();
        if let Err(e) = catalog::register(&mut st, &req) {
            panic!("register_synthetic_node {node}: {e:?}");
        }
    }

    /// Moves the emulator's clock forward by `d` for token expiry (`ExpirationTime`),
    /// so tests need not wait for a TTL to pass.
    pub fn advance_clock(&self, d: Duration) {
        self.shared.state().clock_offset += d;
    }

    /// A snapshot of all ACL tokens (including the anonymous and bootstrap tokens).
    pub fn tokens(&self) -> Vec<Token> {
        self.shared.state().tokens.values().cloned().collect()
    }

    /// Stores a `proxy-defaults` config entry named `global`; `config` is the entry's
    /// `Config` object (e.g. `{"protocol": "http"}`).
    pub fn add_proxy_defaults(&self, config: Value) {
        let entry = serde_json::json!({
            "Kind": "proxy-defaults",
            "Name": "global",
            "Config": config,
        });
        let mut st = self.shared.state();
        // Kind and Name are set above, so storing cannot fail.
        let _ = agent::store_config_entry(&mut st, &entry);
    }

    /// Creates a token with a service identity for `service` and returns it.
    pub fn create_service_token(&self, service: &str) -> Token {
        self.insert_token(
            format!("service identity {service}"),
            Vec::new(),
            vec![ServiceIdentity {
                service_name: service.to_string(),
                datacenters: Vec::new(),
            }],
        )
    }

    /// Creates a policy with `rules` (HCL) and a token linked to it; panics on bad rules.
    pub fn create_token_with_rules(&self, rules: &str) -> Token {
        let parsed = match rules::Rules::parse(rules) {
            Ok(r) => r,
            Err(e) => panic!("create_token_with_rules: bad rules: {e}"),
        };
        let id = state::new_uuid();
        let name = format!("policy-{}", &id[..8]);
        {
            let mut st = self.shared.state();
            let index = st.next_index();
            let scope = Scope::builtin(st.opts.enterprise);
            st.policies.insert(
                id.clone(),
                state::Policy {
                    id: id.clone(),
                    name: name.clone(),
                    description: String::new(),
                    rules_text: rules.to_string(),
                    rules: parsed,
                    datacenters: Vec::new(),
                    create_index: index,
                    modify_index: index,
                    scope,
                },
            );
        }
        self.insert_token(
            format!("rules token {name}"),
            vec![Link { id, name }],
            Vec::new(),
        )
    }

    fn insert_token(
        &self,
        description: String,
        policies: Vec<Link>,
        service_identities: Vec<ServiceIdentity>,
    ) -> Token {
        let mut st = self.shared.state();
        let index = st.next_index();
        let token = Token {
            accessor_id: state::new_uuid(),
            secret_id: state::new_uuid(),
            description,
            policies,
            roles: Vec::new(),
            service_identities,
            node_identities: Vec::new(),
            local: false,
            auth_method: String::new(),
            create_time: wire::now_rfc3339(),
            create_index: index,
            modify_index: index,
            expiration_ttl: None,
            expiration_time: None,
            scope: Scope::builtin(st.opts.enterprise),
            auth_method_namespace: String::new(),
        };
        st.tokens.insert(token.accessor_id.clone(), token.clone());
        token
    }
}

impl Drop for ConsulEmulator {
    fn drop(&mut self) {
        if let Some(task) = self
            .server
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            task.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn bind(addr: std::net::IpAddr, port: u16) -> Result<std::net::TcpListener, EmulatorError> {
    let failed = |source| EmulatorError::Bind { addr, port, source };
    let listener = std::net::TcpListener::bind((addr, port)).map_err(failed)?;
    listener.set_nonblocking(true).map_err(failed)?;
    Ok(listener)
}

/// Runs an emulator in the foreground until the process is killed, printing its address
/// (for the demo binary and manual testing). The management token is never printed: set
/// `opts.management_token` to know it.
pub fn run_server_forever(opts: EmulatorOptions) -> Result<Infallible, EmulatorError> {
    let emulator = ConsulEmulator::try_start(opts)?;
    println!("consul emulator listening on {}", emulator.http_addr());
    loop {
        std::thread::park();
    }
}

/// Extracts the token from `X-Consul-Token`, `Authorization: Bearer`, or `?token=`.
fn request_token(req: &Request, query: &[(String, String)]) -> Option<String> {
    let headers = req.headers();
    if let Some(v) = headers.get("x-consul-token").and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_string());
    }
    if let Some(v) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(rest) = v.strip_prefix("Bearer ") {
            return Some(rest.trim().to_string());
        }
    }
    query
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.clone())
}

/// Answers one request and logs it in the emulator's log and, for a [`FrontEnd`]'s
/// request, in that front end's own.
async fn handle(
    shared: Arc<Shared>,
    req: Request,
    front_end_log: Option<Arc<Mutex<request_log::RequestLog>>>,
) -> Response {
    let at = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let query: Vec<(String, String)> = form_urlencoded::parse(raw_query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let token = request_token(&req, &query);
    let tenancy_headers = ["X-Consul-Namespace", "X-Consul-Partition"]
        .into_iter()
        .filter_map(|name| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(|v| (name, v.to_string()))
        })
        .collect();
    let had_token = token.as_deref().is_some_and(|t| !t.is_empty());
    let logged_query = if query.iter().any(|(k, _)| k == "token") {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query.iter().map(|(k, v)| {
                (
                    k.as_str(),
                    if k == "token" {
                        "<redacted>"
                    } else {
                        v.as_str()
                    },
                )
            }))
            .finish()
    } else {
        raw_query
    };

    let latency = shared.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let response = if let Some(status) = shared.faults.take_failure() {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        text(code, fault_body(status))
    } else {
        let body = axum::body::to_bytes(req.into_body(), 16 << 20)
            .await
            .unwrap_or_default();
        let r = Req {
            method: method.clone(),
            tenancy_headers,
            query,
            token,
            body,
        };
        match route(&shared, &path, &r).await {
            Ok(resp) => resp,
            Err(mut e) => {
                if shared.state().opts.through_client_agent && came_from_servers(&path, &e) {
                    e.message = format!("{RPC_ERROR_PREFIX}{}", e.message);
                }
                e.into_response()
            }
        }
    };
    let mut response = response;
    {
        let st = shared.state();
        let headers = response.headers_mut();
        let policy = if st.opts.acls_enabled {
            "deny"
        } else {
            "allow"
        };
        headers.insert(
            "X-Consul-Default-Acl-Policy",
            http::HeaderValue::from_static(policy),
        );
        // Query metadata Consul adds to successful reads.
        if method == Method::GET && headers.get("X-Consul-Index").is_none() {
            headers.insert("X-Consul-Index", http::HeaderValue::from(st.index));
            headers.insert(
                "X-Consul-KnownLeader",
                http::HeaderValue::from_static("true"),
            );
            headers.insert("X-Consul-LastContact", http::HeaderValue::from_static("0"));
        }
    }
    let record = RecordedRequest {
        method: method.to_string(),
        path,
        query: logged_query,
        status: response.status().as_u16(),
        had_token,
        at,
    };
    if let Some(log) = front_end_log {
        log.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record.clone());
    }
    shared
        .log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(record);
    response
}

/// What Consul 1.15's `agent/pool` puts before the text of an error an RPC returned.
const RPC_ERROR_PREFIX: &str = "rpc error making call: ";

/// Whether a client agent would have got `e` from the servers over RPC: an endpoint it
/// forwards, and not an error of its own HTTP layer (decoding, method, path).
fn came_from_servers(path: &str, e: &ApiError) -> bool {
    let forwarded = [
        "/v1/acl/",
        "/v1/catalog/",
        "/v1/health/",
        "/v1/config",
        "/v1/partition",
        "/v1/namespace",
    ]
    .iter()
    .any(|prefix| path.starts_with(prefix));
    forwarded && !matches!(e.status.as_u16(), 400 | 405) && !e.is_unknown_path()
}

/// CE rejects Enterprise tenancy parameters.
fn check_tenancy(st: &state::State, r: &Req) -> Result<(), ApiError> {
    if st.opts.enterprise {
        return Ok(());
    }
    for (key, what) in [("ns", "Namespaces"), ("partition", "Partitions")] {
        if r.query_value(key).is_some_and(|v| !v.is_empty()) {
            return Err(ApiError::bad_request(format!(
                "Invalid query parameter: {key:?} - {what} are a Consul Enterprise feature"
            )));
        }
    }
    if let Some((name, _)) = r.tenancy_headers.first() {
        let what = if name.ends_with("Namespace") {
            "Namespaces"
        } else {
            "Partitions"
        };
        return Err(ApiError::bad_request(format!(
            "Invalid header: {name:?} - {what} are a Consul Enterprise feature"
        )));
    }
    Ok(())
}

fn allow(r: &Req, ok: &[Method], allow: &'static str) -> Result<(), ApiError> {
    if ok.contains(&r.method) {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed(&r.method, allow))
    }
}

async fn route(shared: &Shared, path: &str, r: &Req) -> Reply {
    let Some(rest) = path.strip_prefix("/v1/") else {
        return Err(ApiError::not_found("404 page not found"));
    };
    let segs: Vec<String> = rest.split('/').map(percent_decode).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let (get, put, post, delete) = (Method::GET, Method::PUT, Method::POST, Method::DELETE);

    // Login is the one handler that awaits (AWS round trips) between state accesses.
    if segs == ["acl", "login"] {
        allow(r, std::slice::from_ref(&post), "POST")?;
        return grpc::login(shared, r)
            .await
            .map_err(grpc::LoginRefusal::into_api_error);
    }

    let mut st = shared.state();
    check_tenancy(&st, r)?;
    let st = &mut *st;
    match segs.as_slice() {
        ["agent", "service", "register"] => {
            allow(r, &[put], "PUT")?;
            agent::register(st, r)
        }
        ["agent", "service", "deregister", id] => {
            allow(r, &[put], "PUT")?;
            agent::deregister(st, r, id)
        }
        ["agent", "service", id] => {
            allow(r, &[get], "GET")?;
            agent::get_service(st, r, id)
        }
        ["agent", "services"] => {
            allow(r, &[get], "GET")?;
            agent::list_services(st, r)
        }
        ["agent", "checks"] => {
            allow(r, &[get], "GET")?;
            agent::list_checks(st, r)
        }
        ["agent", "check", "update", id] => {
            allow(r, &[put], "PUT")?;
            agent::update_check(st, r, id, None)
        }
        ["agent", "check", verb @ ("pass" | "warn" | "fail"), id] => {
            allow(r, &[put], "PUT")?;
            let status = match *verb {
                "pass" => "passing",
                "warn" => "warning",
                _ => "critical",
            };
            agent::update_check(st, r, id, Some(status))
        }
        ["agent", "self"] => {
            allow(r, &[get], "GET")?;
            agent::agent_self(st, r)
        }
        ["config"] => {
            allow(r, &[put], "PUT")?;
            if catalog::is_service_defaults(r) {
                catalog::service_defaults_put(st, r)
            } else {
                agent::config_put(st, r)
            }
        }
        ["config", "service-defaults", name] if r.method == get => {
            catalog::service_defaults_get(st, r, name)
        }
        ["config", kind] => {
            allow(r, &[get], "GET")?;
            agent::config_list(st, r, kind)
        }
        ["config", kind, name] => {
            if r.method == delete {
                agent::config_delete(st, r, kind, name)
            } else {
                allow(r, &[get], "GET, DELETE")?;
                agent::config_get(st, r, kind, name)
            }
        }
        ["status", "leader"] => {
            allow(r, &[get], "GET")?;
            Ok(wire::json(&Value::String("127.0.0.1:8300".into())))
        }
        ["partitions"] => {
            allow(r, &[get], "GET")?;
            tenancy::partition_list(st, r)
        }
        ["partition"] => {
            allow(r, &[put], "PUT")?;
            tenancy::partition_write(st, r, None)
        }
        ["partition", name] => match r.method.clone() {
            m if m == get => tenancy::partition_read(st, r, name),
            m if m == put => tenancy::partition_write(st, r, Some(name)),
            _ => Err(ApiError::method_not_allowed(&r.method, "GET, PUT")),
        },
        ["namespaces"] => {
            allow(r, &[get], "GET")?;
            tenancy::namespace_list(st, r)
        }
        ["namespace"] => {
            allow(r, &[put], "PUT")?;
            tenancy::namespace_write(st, r, None)
        }
        ["namespace", name] => match r.method.clone() {
            m if m == get => tenancy::namespace_read(st, r, name),
            m if m == put => tenancy::namespace_write(st, r, Some(name)),
            _ => Err(ApiError::method_not_allowed(&r.method, "GET, PUT")),
        },
        ["catalog", "register"] => {
            allow(r, &[put], "PUT")?;
            catalog::register(st, r)
        }
        ["catalog", "deregister"] => {
            allow(r, &[put], "PUT")?;
            catalog::deregister(st, r)
        }
        ["catalog", "node-services", node @ ..] => {
            // Node names may hold '/' (consul-ecs uses the cluster ARN) and Consul takes
            // the rest of the path, escaped or not.
            allow(r, &[get], "GET")?;
            catalog::node_services(st, r, &node.join("/"))
        }
        ["health", "checks", service] => {
            allow(r, &[get], "GET")?;
            catalog::service_checks(st, r, service)
        }
        ["catalog", "services"] => {
            allow(r, &[get], "GET")?;
            agent::catalog_services(st, r)
        }
        ["acl", "logout"] => {
            allow(r, &[post, put], "POST")?;
            acl::logout(st, r)
        }
        ["acl", "token", "self"] => {
            allow(r, &[get], "GET")?;
            acl::token_self(st, r)
        }
        ["acl", "token"] => {
            allow(r, &[put], "PUT")?;
            acl::token_create(st, r)
        }
        ["acl", "tokens"] => {
            allow(r, &[get], "GET")?;
            acl::token_list(st, r)
        }
        ["acl", "token", id] => match r.method.clone() {
            m if m == get => acl::token_read(st, r, id),
            m if m == put => acl::token_update(st, r, id),
            m if m == delete => acl::token_delete(st, r, id),
            _ => Err(ApiError::method_not_allowed(&r.method, "GET, PUT, DELETE")),
        },
        ["acl", "policy"] => {
            allow(r, &[put], "PUT")?;
            acl::policy_write(st, r, None)
        }
        ["acl", "policies"] => {
            allow(r, &[get], "GET")?;
            acl::policy_list(st, r)
        }
        ["acl", "policy", "name", name @ ..] if !name.is_empty() => {
            // Policy names may hold one '/' and clients need not escape it.
            allow(r, &[get], "GET")?;
            acl::policy_read(st, r, None, Some(&name.join("/")))
        }
        ["acl", "policy", id] => match r.method.clone() {
            m if m == get => acl::policy_read(st, r, Some(id), None),
            m if m == put => acl::policy_write(st, r, Some(id)),
            m if m == delete => acl::policy_delete(st, r, id),
            _ => Err(ApiError::method_not_allowed(&r.method, "GET, PUT, DELETE")),
        },
        ["acl", "role"] => {
            allow(r, &[put], "PUT")?;
            acl::role_write(st, r, None)
        }
        ["acl", "roles"] => {
            allow(r, &[get], "GET")?;
            acl::role_list(st, r)
        }
        ["acl", "role", "name", name] => {
            allow(r, &[get], "GET")?;
            acl::role_read(st, r, None, Some(name))
        }
        ["acl", "role", id] => match r.method.clone() {
            m if m == get => acl::role_read(st, r, Some(id), None),
            m if m == put => acl::role_write(st, r, Some(id)),
            m if m == delete => acl::role_delete(st, r, id),
            _ => Err(ApiError::method_not_allowed(&r.method, "GET, PUT, DELETE")),
        },
        ["acl", "auth-method"] => {
            allow(r, &[put], "PUT")?;
            acl::method_write(st, r, None)
        }
        ["acl", "auth-methods"] => {
            allow(r, &[get], "GET")?;
            acl::method_list(st, r)
        }
        ["acl", "auth-method", name] => match r.method.clone() {
            m if m == get => acl::method_read(st, r, name),
            m if m == put => acl::method_write(st, r, Some(name)),
            m if m == delete => acl::method_delete(st, r, name),
            _ => Err(ApiError::method_not_allowed(&r.method, "GET, PUT, DELETE")),
        },
        ["acl", "binding-rule"] => {
            allow(r, &[put], "PUT")?;
            acl::rule_write(st, r, None)
        }
        ["acl", "binding-rules"] => {
            allow(r, &[get], "GET")?;
            acl::rule_list(st, r)
        }
        ["acl", "binding-rule", id] => match r.method.clone() {
            m if m == get => acl::rule_read(st, r, id),
            m if m == put => acl::rule_write(st, r, Some(id)),
            m if m == delete => acl::rule_delete(st, r, id),
            _ => Err(ApiError::method_not_allowed(&r.method, "GET, PUT, DELETE")),
        },
        _ => Err(ApiError::unknown_path()),
    }
}

fn percent_decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| segment.to_string())
}
