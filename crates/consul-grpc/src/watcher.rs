//! Finding the servers and staying connected to one: what consul-server-connection-manager
//! does for consul-ecs v0.10 and consul-dataplane.
//!
//! [`ServerConnection::connect`] discovers the addresses of `consulServers.hosts` and
//! connects to the first that answers (retried with jittered backoff within a deadline).
//! [`ServerConnection::watch`] then follows `WatchServers`: the known set is replaced by
//! each set the server sends, and when the connected server leaves the set, or the stream
//! breaks, another server is chosen (the next known one, then a new discovery), with
//! jittered backoff between rounds, until [`ServerConnection::stop`].

use crate::connect::{Connector, GrpcTls};
use crate::discovery::ServerHosts;
use crate::{ConsulGrpc, GrpcError};
use consul::Secret;
use retry::{Jitter, RetryPolicy};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;

/// Consul's default gRPC TLS port (`grpc_tls`), consul-ecs v0.10's default.
pub const DEFAULT_GRPC_PORT: u16 = 8503;

/// How to reach the servers.
#[derive(Clone, Debug)]
pub struct ConnectSettings {
    /// `consulServers.hosts`.
    pub hosts: ServerHosts,
    /// `consulServers.grpc.port`.
    pub grpc_port: u16,
    /// TLS (`None`: plain TCP).
    pub tls: Option<GrpcTls>,
    /// `consulServers.skipServerWatch`: keep to the discovered addresses (servers behind a
    /// load balancer, whose own addresses the task cannot reach).
    pub skip_server_watch: bool,
    /// Deadline of one call (and of one connection attempt, and of an `exec=` command).
    pub call_timeout: Duration,
    /// Retries of the first connection, with its overall deadline.
    pub connect_policy: RetryPolicy,
    /// Backoff between reconnection rounds of the watch; its deadline is not used (the
    /// watch lasts until stopped).
    pub watch_backoff: RetryPolicy,
}

impl ConnectSettings {
    /// Settings with consul-server-connection-manager's timings: calls within 10 s, the
    /// watch reconnecting after 0.5 s growing 1.5× to 60 s, jittered; the first connection
    /// given up after 2 minutes (upstream retries forever).
    pub fn new(hosts: ServerHosts, grpc_port: u16, tls: Option<GrpcTls>) -> ConnectSettings {
        ConnectSettings {
            hosts,
            grpc_port,
            tls,
            skip_server_watch: false,
            call_timeout: Duration::from_secs(10),
            connect_policy: RetryPolicy::default(),
            watch_backoff: RetryPolicy {
                initial: Duration::from_millis(500),
                max: Duration::from_secs(60),
                multiplier: 1.5,
                jitter: Jitter::Equal,
                deadline: Duration::MAX,
                max_attempts: None,
            },
        }
    }
}

/// The server in use and the servers known.
#[derive(Clone, Debug)]
pub struct ServerView {
    /// A client of the server in use.
    pub client: ConsulGrpc,
    /// The known servers' addresses (the last set `WatchServers` sent, else the
    /// discovered ones).
    pub servers: Vec<IpAddr>,
}

/// A connection to one of the servers, kept current by the watch.
pub struct ServerConnection {
    settings: ConnectSettings,
    connector: Connector,
    view: watch::Sender<ServerView>,
    watch_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for ServerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConnection")
            .field("current", &self.current_address())
            .field("servers", &self.view.borrow().servers)
            .finish_non_exhaustive()
    }
}

impl ServerConnection {
    /// Discovers the servers and connects to the first that answers, retrying (discovery
    /// included) with `settings.connect_policy`.
    pub async fn connect(settings: ConnectSettings) -> Result<ServerConnection, GrpcError> {
        let connector = Connector::new(
            settings.tls.as_ref(),
            settings.hosts.default_tls_server_name(),
            settings.call_timeout,
        )?;
        let view = retry::retry(
            &settings.connect_policy,
            "connecting to a Consul server over gRPC",
            || async {
                let servers = settings.hosts.discover(settings.call_timeout).await?;
                let client = first_reachable(&connector, &settings, &servers).await?;
                Ok::<_, GrpcError>(ServerView { client, servers })
            },
        )
        .await
        .map_err(retry::RetryError::into_inner)?;
        tracing::info!(
            address = %view.client.address(),
            servers = ?view.servers,
            tls = connector.is_tls(),
            "connected to a Consul server over gRPC"
        );
        Ok(ServerConnection {
            settings,
            connector,
            view: watch::Sender::new(view),
            watch_task: Mutex::new(None),
        })
    }

    /// A client of the server in use.
    pub fn client(&self) -> ConsulGrpc {
        self.view.borrow().client.clone()
    }

    /// The gRPC address of the server in use.
    pub fn current_address(&self) -> SocketAddr {
        self.view.borrow().client.address()
    }

    /// The address of the server in use on another port: the HTTP(S) API on `http.port`,
    /// where every other call goes.
    pub fn http_address(&self, http_port: u16) -> SocketAddr {
        SocketAddr::new(self.current_address().ip(), http_port)
    }

    /// The known servers now.
    pub fn servers(&self) -> Vec<IpAddr> {
        self.view.borrow().servers.clone()
    }

    /// Changes of the server in use and of the known servers.
    pub fn subscribe(&self) -> watch::Receiver<ServerView> {
        self.view.subscribe()
    }

    /// Starts following `WatchServers` with `token` (the login's, or a fixed one), unless
    /// `skipServerWatch`. Calling it again replaces the watch (a new token).
    pub fn watch(&self, token: Option<Secret>) {
        if self.settings.skip_server_watch {
            tracing::debug!("skipServerWatch: keeping to the discovered Consul servers");
            return;
        }
        let task = tokio::spawn(watch_loop(
            self.settings.clone(),
            self.connector.clone(),
            self.view.clone(),
            token,
        ));
        let mut slot = self.watch_task.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = slot.replace(task) {
            old.abort();
        }
    }

    /// Stops the watch (the connection stays usable for a last call, such as the logout).
    pub fn stop(&self) {
        let task = self
            .watch_task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(task) = task {
            task.abort();
        }
    }
}

impl Drop for ServerConnection {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Connects to the first of `servers` that answers, in order.
async fn first_reachable(
    connector: &Connector,
    settings: &ConnectSettings,
    servers: &[IpAddr],
) -> Result<ConsulGrpc, GrpcError> {
    let mut last = None;
    for ip in servers {
        let address = SocketAddr::new(*ip, settings.grpc_port);
        match connector.connect(address).await {
            Ok(channel) => return Ok(ConsulGrpc::new(channel, address, settings.call_timeout)),
            // Settings that cannot work anywhere, or a certificate this cluster's servers
            // all share: trying the others would only hide the reason.
            Err(e) if !retry::Retryable::is_retryable(&e) => return Err(e),
            Err(e) => {
                tracing::debug!(%address, error = %e, "Consul server not reachable over gRPC");
                last = Some(e);
            }
        }
    }
    Err(match last {
        Some(last) => GrpcError::NoServer {
            tried: servers.len(),
            last: Box::new(last),
        },
        None => GrpcError::Discovery(crate::DiscoveryError::NoAddress {
            source_name: format!("{:?}", settings.hosts),
        }),
    })
}

/// Follows the server set until aborted.
async fn watch_loop(
    settings: ConnectSettings,
    connector: Connector,
    view: watch::Sender<ServerView>,
    token: Option<Secret>,
) {
    let mut failures: u32 = 0;
    loop {
        let client = view.borrow().client.clone();
        match follow(&client, &view, token.as_ref()).await {
            Follow::Unsupported => {
                tracing::info!(
                    address = %client.address(),
                    "this Consul server has no WatchServers; keeping to the known servers"
                );
                return;
            }
            Follow::Delivered(why) => {
                tracing::info!(address = %client.address(), reason = %why, "choosing another Consul server");
                failures = 0;
            }
            Follow::Failed(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(address = %client.address(), %error, "Consul server watch failed");
            }
        }
        // Always a pause, as upstream backs off between any two servers: a server that
        // ends every stream at once must not be asked in a tight loop.
        tokio::time::sleep(settings.watch_backoff.backoff(failures.max(1))).await;
        // The next known server after the current one first, the current one last; then
        // whatever discovery finds now.
        let known = view.borrow().servers.clone();
        let current = client.address().ip();
        let start = known
            .iter()
            .position(|ip| *ip == current)
            .map_or(0, |i| i + 1);
        let mut order: Vec<IpAddr> = known[start..]
            .iter()
            .chain(&known[..start])
            .copied()
            .collect();
        if !order.contains(&current) {
            order.push(current);
        }
        let next = match first_reachable(&connector, &settings, &order).await {
            Ok(next) => Ok(next),
            Err(_) => match settings.hosts.discover(settings.call_timeout).await {
                Ok(found) => first_reachable(&connector, &settings, &found).await,
                Err(e) => Err(e.into()),
            },
        };
        match next {
            Ok(next) => {
                tracing::info!(address = %next.address(), "using Consul server");
                view.send_modify(|v| v.client = next);
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(%error, "no Consul server reachable over gRPC; retrying");
            }
        }
    }
}

enum Follow {
    /// The server does not implement the stream (older than Consul 1.14).
    Unsupported,
    /// The stream worked and ended for a reason worth switching servers for.
    Delivered(String),
    /// The stream could not be opened or broke before delivering.
    Failed(GrpcError),
}

/// Follows one server's stream; returns when the connected server is no longer in the set,
/// or the stream ends.
async fn follow(
    client: &ConsulGrpc,
    view: &watch::Sender<ServerView>,
    token: Option<&Secret>,
) -> Follow {
    let mut stream = match client.watch_servers(token).await {
        Ok(stream) => stream,
        Err(e) if e.code() == Some(tonic::Code::Unimplemented) => return Follow::Unsupported,
        Err(e) => return Follow::Failed(e),
    };
    let mut delivered = false;
    loop {
        let servers = match stream.next().await {
            Ok(Some(servers)) => servers,
            Ok(None) if delivered => {
                return Follow::Delivered("the server ended the stream".into())
            }
            Ok(None) => {
                return Follow::Failed(GrpcError::from_status(
                    "ServerDiscoveryService/WatchServers",
                    client.address(),
                    tonic::Status::unavailable("stream ended before the first server set"),
                ))
            }
            Err(e) if delivered => return Follow::Delivered(e.to_string()),
            Err(e) => return Follow::Failed(e),
        };
        delivered = true;
        let mut addresses = Vec::with_capacity(servers.len());
        for server in &servers {
            match server.address.parse::<IpAddr>() {
                Ok(ip) if !addresses.contains(&ip) => addresses.push(ip),
                Ok(_) => {}
                Err(_) => tracing::warn!(
                    id = %server.id,
                    address = %server.address,
                    "ignoring a server whose address is not an IP address"
                ),
            }
        }
        if addresses.is_empty() {
            // An empty set says nothing about where to go; keep what is known.
            continue;
        }
        tracing::debug!(servers = ?addresses, "Consul server set");
        let current = client.address().ip();
        let still_there = addresses.contains(&current);
        view.send_modify(|v| v.servers = addresses);
        if !still_there {
            return Follow::Delivered(format!("{current} left the server set"));
        }
    }
}
