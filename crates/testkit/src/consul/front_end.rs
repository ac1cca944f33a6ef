//! More listeners of one emulator: the HTTP(S) API of each server of a cluster. Consul's
//! servers share one state; a client in the dataplane layout talks to the one it is
//! connected to over gRPC, on `consulServers.http.port` of that server's address. A
//! [`FrontEnd`] is such a server's HTTP API: its own address (another loopback address on
//! the same port, as servers on different hosts have), HTTP or HTTPS, and its own request
//! log, so a test sees which server each call went to. Every request is also in the
//! emulator's log.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use axum::extract::Request;
use hyper_util::rt::TokioIo;

use super::request_log::RequestLog;
use super::{ConsulEmulator, RecordedRequest};

/// How to start a [`FrontEnd`].
#[derive(Clone, Debug)]
pub struct FrontEndOptions {
    /// Address to listen on (127.0.0.1; any 127.0.0.0/8 address is loopback on Linux).
    pub ip: IpAddr,
    /// Port (0: any free one).
    pub port: u16,
    /// HTTPS with this configuration (`None`: plain HTTP). HTTP/1.1 is served: offer
    /// `http/1.1` or no ALPN protocol.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for FrontEndOptions {
    fn default() -> Self {
        FrontEndOptions {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            tls: None,
        }
    }
}

/// A running HTTP(S) listener of an emulator. Dropping it (or [`FrontEnd::stop`]) closes
/// the listener and every open connection.
pub struct FrontEnd {
    addr: SocketAddr,
    https: bool,
    log: Arc<Mutex<RequestLog>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for FrontEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontEnd")
            .field("addr", &self.addr)
            .field("https", &self.https)
            .finish_non_exhaustive()
    }
}

impl ConsulEmulator {
    /// Serves this emulator's HTTP API on another listener (see [`FrontEnd`]).
    pub fn start_front_end(&self, opts: FrontEndOptions) -> std::io::Result<FrontEnd> {
        let listener = std::net::TcpListener::bind((opts.ip, opts.port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let log = Arc::new(Mutex::new(RequestLog::new(
            self.shared.state().opts.request_log_cap,
        )));
        let https = opts.tls.is_some();
        let acceptor = opts.tls.map(tokio_rustls::TlsAcceptor::from);
        let shared = self.shared.clone();
        let own_log = log.clone();
        let task = self.handle.spawn(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            // Owning the connections here means aborting this task closes them all.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (shared, log, acceptor) = (shared.clone(), own_log.clone(), acceptor.clone());
                connections.spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let (shared, log) = (shared.clone(), log.clone());
                            async move {
                                let response =
                                    super::handle(shared, req.map(Body::new), Some(log)).await;
                                Ok::<_, std::convert::Infallible>(response)
                            }
                        });
                    let http = hyper::server::conn::http1::Builder::new();
                    match acceptor {
                        None => {
                            let _ = http.serve_connection(TokioIo::new(tcp), service).await;
                        }
                        // A refused handshake (a client that does not trust the
                        // certificate) is what the TLS tests expect: nothing to serve.
                        Some(acceptor) => {
                            if let Ok(tls) = acceptor.accept(tcp).await {
                                let _ = http.serve_connection(TokioIo::new(tls), service).await;
                            }
                        }
                    }
                });
                // Reap finished connections so the set does not grow without bound.
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(FrontEnd {
            addr,
            https,
            log,
            task: Some(task),
        })
    }
}

impl FrontEnd {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ip:port` or `https://ip:port`.
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The requests this listener answered, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log_entries().retained()
    }

    /// Its request log as text, one request a line (for failure messages).
    pub fn request_log(&self) -> String {
        self.requests().iter().map(|r| format!("{r}\n")).collect()
    }

    /// Closes the listener and every open connection, like a server that went away.
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    fn log_entries(&self) -> MutexGuard<'_, RequestLog> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for FrontEnd {
    fn drop(&mut self) {
        self.stop();
    }
}
