//! Consul's public gRPC services, emulated beside the HTTP API of a [`ConsulEmulator`]:
//! `hashicorp.consul.acl.ACLService` (Login, Logout) and
//! `hashicorp.consul.serverdiscovery.ServerDiscoveryService` (WatchServers), on the
//! emulator's own ACL state and aws-iam auth method.
//!
//! A login goes through the same steps as `POST /v1/acl/login` (see `consul/grpc.rs`), so
//! both transports accept and refuse the same logins; the refusals carry the gRPC codes and
//! messages of Consul's `agent/grpc-external/services/acl` (`InvalidArgument` for an unknown
//! auth method, `Unauthenticated` for a bearer token that does not validate,
//! `PermissionDenied` when no binding rule applies, `FailedPrecondition` with ACLs off).
//! `WatchServers` wants a valid token, as Consul's `RequireAnyValidACLToken`, then sends
//! the [`ServerList`] at once and again at each change a test makes.
//!
//! Several servers may share one [`ServerList`] and one emulator: the servers of one
//! cluster, on different loopback addresses, for tests that move between them. Each keeps
//! a log of the calls it answered ([`ConsulGrpcServer::requests`]), so a test sees which
//! server a call went to; every call is also in the emulator's log.

// tonic's handlers answer with `tonic::Status` by value (as its generated code does).
#![allow(clippy::result_large_err)]

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use consul_grpc::proto;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::{oneshot, watch};
use tokio_stream::StreamExt;
use tonic::codec::ProstCodec;
use tonic::{Request, Response, Status};

use crate::consul::request_log::RequestLog;
use crate::consul::{ConsulEmulator, RecordedRequest};

/// The ready servers `WatchServers` reports; clones share the list.
#[derive(Clone, Debug)]
pub struct ServerList(Arc<watch::Sender<Vec<proto::Server>>>);

impl ServerList {
    /// A list holding `servers`.
    pub fn new(servers: Vec<proto::Server>) -> ServerList {
        ServerList(Arc::new(watch::Sender::new(servers)))
    }

    /// Replaces the list; every open `WatchServers` stream sends the new one.
    pub fn set(&self, servers: Vec<proto::Server>) {
        self.0.send_replace(servers);
    }

    /// The list now.
    pub fn get(&self) -> Vec<proto::Server> {
        self.0.borrow().clone()
    }
}

/// A server entry as Consul sends it: `id`, the IP address, version 1.15.3.
pub fn server(id: &str, address: IpAddr) -> proto::Server {
    proto::Server {
        id: id.to_owned(),
        address: address.to_string(),
        version: "1.15.3".to_owned(),
    }
}

/// How to start a [`ConsulGrpcServer`].
#[derive(Clone, Debug)]
pub struct GrpcServerOptions {
    /// Address to listen on (default 127.0.0.1).
    pub ip: IpAddr,
    /// Port (0: any free one).
    pub port: u16,
    /// TLS (`None`: plain HTTP/2). The config must offer ALPN `h2`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The server list to report; `None`: a list of this server alone.
    pub servers: Option<ServerList>,
    /// How long a Login's answer takes to arrive after the token was created (default none):
    /// the window in which a client stopped mid-call has a token it never received.
    pub login_answer_delay: Duration,
}

impl Default for GrpcServerOptions {
    fn default() -> Self {
        GrpcServerOptions {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            tls: None,
            servers: None,
            login_answer_delay: Duration::ZERO,
        }
    }
}

/// A running gRPC server of an emulator. Dropping it (or [`ConsulGrpcServer::stop`]) closes
/// the listener and every open connection, like a server that went away.
pub struct ConsulGrpcServer {
    addr: SocketAddr,
    servers: ServerList,
    log: Arc<Mutex<RequestLog>>,
    stop: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for ConsulGrpcServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsulGrpcServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ConsulGrpcServer {
    /// Starts serving on the emulator's runtime.
    pub fn start(
        consul: &ConsulEmulator,
        opts: GrpcServerOptions,
    ) -> std::io::Result<ConsulGrpcServer> {
        let listener = std::net::TcpListener::bind((opts.ip, opts.port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let servers = opts
            .servers
            .unwrap_or_else(|| ServerList::new(vec![server("server-1", addr.ip())]));
        let (backend, runtime) = consul.grpc_backend();
        let log = Arc::new(Mutex::new(RequestLog::new(backend.request_log_cap())));
        let services = Services {
            backend,
            servers: servers.0.subscribe(),
            log: log.clone(),
            login_answer_delay: opts.login_answer_delay,
        };
        let (stop_tx, stop_rx) = oneshot::channel();
        let tls = opts.tls.map(tokio_rustls::TlsAcceptor::from);
        runtime.spawn(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            // Dropping the set (when told to stop) ends every open connection.
            let mut connections = tokio::task::JoinSet::new();
            let accept = async {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let services = services.clone();
                    let tls = tls.clone();
                    connections.spawn(async move {
                        let _ = tcp.set_nodelay(true);
                        match tls {
                            None => serve_connection(tcp, services).await,
                            Some(acceptor) => {
                                if let Ok(stream) = acceptor.accept(tcp).await {
                                    serve_connection(stream, services).await
                                }
                            }
                        }
                    });
                }
            };
            tokio::select! {
                _ = stop_rx => {}
                _ = accept => {}
            }
        });
        Ok(ConsulGrpcServer {
            addr,
            servers,
            log,
            stop: Some(stop_tx),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server list it reports (shared with the servers started with the same list).
    pub fn servers(&self) -> &ServerList {
        &self.servers
    }

    /// The calls this server answered, oldest first (method `GRPC`, the call's path, the
    /// gRPC status code as the status).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retained()
    }

    /// Its request log as text, one call a line (for failure messages).
    pub fn request_log(&self) -> String {
        self.requests().iter().map(|r| format!("{r}\n")).collect()
    }

    /// Closes the listener and every open connection.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for ConsulGrpcServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve_connection<IO>(io: IO, services: Services)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(io), services)
        .await;
}

#[derive(Clone)]
struct Services {
    backend: crate::consul::GrpcBackend,
    servers: watch::Receiver<Vec<proto::Server>>,
    /// This server's own log.
    log: Arc<Mutex<RequestLog>>,
    login_answer_delay: Duration,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type ServerSetStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<proto::WatchServersResponse, Status>> + Send>>;

fn token_of<T>(request: &Request<T>) -> Option<String> {
    request
        .metadata()
        .get(proto::TOKEN_METADATA_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

impl hyper::service::Service<http::Request<hyper::body::Incoming>> for Services {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn call(&self, req: http::Request<hyper::body::Incoming>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let path = req.uri().path().to_owned();
            let had_token = req.headers().contains_key(proto::TOKEN_METADATA_KEY);
            let response = match path.as_str() {
                proto::LOGIN_PATH => {
                    let backend = this.backend.clone();
                    let delay = this.login_answer_delay;
                    let login = tower::service_fn(move |request: Request<proto::LoginRequest>| {
                        let backend = backend.clone();
                        async move {
                            let token = backend.login(request.get_ref()).await?;
                            tokio::time::sleep(delay).await;
                            Ok::<_, Status>(Response::new(proto::LoginResponse {
                                token: Some(token),
                            }))
                        }
                    });
                    tonic::server::Grpc::new(ProstCodec::default())
                        .unary(login, req)
                        .await
                }
                proto::LOGOUT_PATH => {
                    let backend = this.backend.clone();
                    let logout =
                        tower::service_fn(move |request: Request<proto::LogoutRequest>| {
                            let result = backend.logout(request.get_ref());
                            async move { result.map(|()| Response::new(proto::LogoutResponse {})) }
                        });
                    tonic::server::Grpc::new(ProstCodec::default())
                        .unary(logout, req)
                        .await
                }
                proto::WATCH_SERVERS_PATH => {
                    let backend = this.backend.clone();
                    let servers = this.servers.clone();
                    let watch =
                        tower::service_fn(move |request: Request<proto::WatchServersRequest>| {
                            let allowed =
                                backend.require_any_valid_token(token_of(&request).as_deref());
                            let servers = servers.clone();
                            async move {
                                allowed?;
                                let stream: ServerSetStream = Box::pin(
                                    tokio_stream::wrappers::WatchStream::new(servers)
                                        .map(|servers| Ok(proto::WatchServersResponse { servers })),
                                );
                                Ok::<_, Status>(Response::new(stream))
                            }
                        });
                    tonic::server::Grpc::new(ProstCodec::default())
                        .server_streaming(watch, req)
                        .await
                }
                _ => Status::unimplemented(format!("unknown method {path}")).into_http(),
            };
            let record = this.backend.record(&path, grpc_code(&response), had_token);
            this.log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(record);
            Ok(response)
        })
    }
}

/// The status code of a response: the `grpc-status` header of an early answer (an error
/// before any message), else OK (a stream's final status comes later, in its trailers).
fn grpc_code(response: &http::Response<tonic::body::Body>) -> tonic::Code {
    response
        .headers()
        .get("grpc-status")
        .map(|v| tonic::Code::from_bytes(v.as_bytes()))
        .unwrap_or(tonic::Code::Ok)
}
