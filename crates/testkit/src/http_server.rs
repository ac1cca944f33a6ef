//! The one way testkit serves HTTP: an axum router on a loopback listener, run by a
//! current-thread runtime on a thread of its own (so a test, sync or async, can hold the
//! server without lending it a runtime), stopped and joined when dropped.
//!
//! Also the one record of a request the servers keep ([`RecordedRequest`]), so every
//! peer's log reads the same way in a failure message.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;

/// One request as a testkit server saw it. Never holds a secret: whether credentials came
/// with it is a flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// When the request arrived (before any injected delay).
    pub at: Instant,
    /// HTTP method.
    pub method: String,
    /// Path, without the query string.
    pub path: String,
    /// Raw query string (`""` when none); a secret in it is shown as `<redacted>`.
    pub query: String,
    /// Status answered (or to be answered, after an injected delay).
    pub status: u16,
    /// Whether it carried the credentials the peer expects (an ACL token; the credentials
    /// endpoint's `Authorization` value). The value itself is never kept.
    pub had_token: bool,
}

impl RecordedRequest {
    /// A record of `method path?query` answered with `status`, arriving now.
    pub fn now(method: &str, path: &str, query: &str, status: u16, had_token: bool) -> Self {
        RecordedRequest {
            at: Instant::now(),
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            status,
            had_token,
        }
    }
}

impl fmt::Display for RecordedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)?;
        if !self.query.is_empty() {
            write!(f, "?{}", self.query)?;
        }
        write!(f, " -> {}", self.status)?;
        if self.had_token {
            f.write_str(" (token)")?;
        }
        Ok(())
    }
}

/// A router being served; stops (without waiting for open connections) when dropped.
pub struct ServerThread {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    /// Serves `app` on `127.0.0.1:port` (0 = ephemeral). The port is bound before this
    /// returns, so a client may connect at once.
    pub fn start(name: &str, port: u16, app: Router) -> std::io::Result<ServerThread> {
        Self::start_until(name, port, app, std::future::pending::<()>())
    }

    /// [`ServerThread::start`] that also stops when `until` resolves (a control endpoint
    /// asking the server to shut down).
    pub fn start_until(
        name: &str,
        port: u16,
        app: Router,
        until: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<ServerThread> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        Self::serve(name, listener, app, until)
    }

    /// Serves `app` on a listener bound beforehand (when the router needs the address).
    pub fn serve(
        name: &str,
        listener: std::net::TcpListener,
        app: Router,
        until: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<ServerThread> {
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let label = name.to_owned();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                // Created and dropped on this thread only, so dropping the server from
                // inside another runtime never drops a runtime in async code.
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(e) => return eprintln!("{label}: cannot listen: {e}"),
                    };
                    tokio::select! {
                        result = axum::serve(listener, app) => {
                            if let Err(e) = result {
                                eprintln!("{label}: server error: {e}");
                            }
                        }
                        _ = stop_rx => {}
                        _ = until => {
                            // Connections run as their own tasks: give the one that asked
                            // for the shutdown a moment to send its answer.
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                });
                // No graceful shutdown: a request held by an injected delay must not keep
                // a dropped server (and the test) waiting.
                runtime.shutdown_background();
            })?;
        Ok(ServerThread {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Blocks until the server stops on its own (its `until` future resolved).
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for ServerThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerThread")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}
