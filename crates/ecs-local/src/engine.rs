//! A small client of the Docker Engine API (which podman serves too, `podman system
//! service`): `GET` only, JSON answers, over a unix socket or plain TCP.
//!
//! Only what the local ECS agent needs: list a compose project's containers
//! (`GET /containers/json?all=1&filters=…`) and inspect one (`GET /containers/<id>/json`).
//! Paths are unversioned, which Docker and podman's compatibility API both serve at their
//! current API version.

use std::path::PathBuf;
use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// How long one engine request may take (connect, answer and body).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Engine answers larger than this are refused (an inspect is a few KiB, a project's list
/// a few hundred).
const MAX_BODY: u64 = 8 << 20;
/// How much of an engine's error answer a message keeps.
const ERROR_EXCERPT: usize = 300;

/// Where the engine's API listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineAddr {
    /// A unix socket (`unix:///var/run/docker.sock`, or a bare path).
    Unix(PathBuf),
    /// `tcp://host:port` (plain HTTP).
    Tcp(String),
}

/// A `DOCKER_HOST`-style value that names no engine this client can reach.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?}: {expected}")]
pub struct BadEngineAddr {
    /// The value as given.
    pub given: String,
    /// What was expected instead.
    pub expected: &'static str,
}

impl EngineAddr {
    /// Parses a `DOCKER_HOST`-style value: `unix:///path`, `tcp://host:port` or `/path`.
    pub fn parse(text: &str) -> Result<EngineAddr, BadEngineAddr> {
        let bad = |expected| BadEngineAddr {
            given: text.to_string(),
            expected,
        };
        if let Some(path) = text.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(bad("no socket path"));
            }
            return Ok(EngineAddr::Unix(PathBuf::from(path)));
        }
        if let Some(hostport) = text
            .strip_prefix("tcp://")
            .or_else(|| text.strip_prefix("http://"))
        {
            let hostport = hostport.trim_end_matches('/');
            if hostport.is_empty() || !hostport.contains(':') {
                return Err(bad("expected tcp://host:port"));
            }
            return Ok(EngineAddr::Tcp(hostport.to_string()));
        }
        if text.starts_with('/') {
            return Ok(EngineAddr::Unix(PathBuf::from(text)));
        }
        Err(bad("expected unix:///path/to/socket or tcp://host:port"))
    }
}

impl std::fmt::Display for EngineAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineAddr::Unix(path) => write!(f, "unix://{}", path.display()),
            EngineAddr::Tcp(hostport) => write!(f, "tcp://{hostport}"),
        }
    }
}

/// Why an engine request failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The socket could not be reached or the exchange broke off.
    #[error("engine API at {addr}: {what}")]
    Transport {
        /// The engine's address.
        addr: String,
        /// What went wrong.
        what: String,
    },
    /// The engine answered with an error status.
    #[error("engine API GET {path}: HTTP {status}: {body}")]
    Status {
        /// The request path.
        path: String,
        /// HTTP status.
        status: u16,
        /// The answer (the engine's `{"message": …}`), shortened.
        body: String,
    },
    /// The answer was not JSON.
    #[error("engine API GET {path}: not JSON: {what}")]
    Json {
        /// The request path.
        path: String,
        /// The parser's complaint.
        what: String,
    },
}

impl EngineError {
    /// True for a 404 (no such container).
    pub fn is_not_found(&self) -> bool {
        matches!(self, EngineError::Status { status: 404, .. })
    }
}

/// A Docker-compatible engine API client. Cheap to clone; one connection per request.
#[derive(Debug, Clone)]
pub struct Engine {
    addr: EngineAddr,
}

impl Engine {
    /// A client of the engine at `addr`.
    pub fn new(addr: EngineAddr) -> Engine {
        Engine { addr }
    }

    /// The engine's address.
    pub fn addr(&self) -> &EngineAddr {
        &self.addr
    }

    /// Every container (running or not) carrying all of `labels` (`key` or `key=value`).
    pub async fn list_containers(&self, labels: &[String]) -> Result<Vec<Value>, EngineError> {
        let filters = serde_json::json!({ "label": labels }).to_string();
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("all", "1")
            .append_pair("filters", &filters)
            .finish();
        let path = format!("/containers/json?{query}");
        match self.get(&path).await? {
            Value::Array(items) => Ok(items),
            other => Err(EngineError::Json {
                path,
                what: format!(
                    "expected an array, got {}",
                    boundary::truncate_chars(&other.to_string(), ERROR_EXCERPT)
                ),
            }),
        }
    }

    /// `GET /containers/<id>/json`.
    pub async fn inspect(&self, id: &str) -> Result<Value, EngineError> {
        let id: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
        self.get(&format!("/containers/{id}/json")).await
    }

    /// `GET path` (with its query), answered with JSON.
    pub async fn get(&self, path: &str) -> Result<Value, EngineError> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.get_inner(path)).await {
            Ok(result) => result,
            Err(_) => {
                Err(self.transport(format!("GET {path}: no answer within {REQUEST_TIMEOUT:?}")))
            }
        }
    }

    async fn get_inner(&self, path: &str) -> Result<Value, EngineError> {
        let (status, body) = match &self.addr {
            EngineAddr::Unix(socket) => {
                let stream = tokio::net::UnixStream::connect(socket)
                    .await
                    .map_err(|e| self.transport(format!("connect: {e}")))?;
                self.exchange(stream, "localhost", path).await?
            }
            EngineAddr::Tcp(hostport) => {
                let stream = tokio::net::TcpStream::connect(hostport.as_str())
                    .await
                    .map_err(|e| self.transport(format!("connect: {e}")))?;
                self.exchange(stream, hostport, path).await?
            }
        };
        if !(200..300).contains(&status) {
            return Err(EngineError::Status {
                path: path.to_string(),
                status,
                body: boundary::one_line_excerpt(&body, ERROR_EXCERPT),
            });
        }
        serde_json::from_slice(&body).map_err(|e| EngineError::Json {
            path: path.to_string(),
            what: e.to_string(),
        })
    }

    async fn exchange<S>(
        &self,
        stream: S,
        host: &str,
        path: &str,
    ) -> Result<(u16, Vec<u8>), EngineError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.transport(format!("HTTP handshake: {e}")))?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let request = http::Request::get(path)
            .header(http::header::HOST, host)
            .header(http::header::ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|e| self.transport(format!("build GET {path}: {e}")))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| self.transport(format!("GET {path}: {e}")))?;
        let status = response.status().as_u16();
        let body = boundary::read_http_body(response.into_body(), MAX_BODY)
            .await
            .map_err(|e| {
                self.transport(format!(
                    "read the answer to GET {path}: {}",
                    boundary::error_chain(&e)
                ))
            })?;
        driver.abort();
        Ok((status, body))
    }

    fn transport(&self, what: String) -> EngineError {
        EngineError::Transport {
            addr: self.addr.to_string(),
            what,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_addresses_parse_like_docker_host() {
        assert_eq!(
            EngineAddr::parse("unix:///var/run/docker.sock"),
            Ok(EngineAddr::Unix(PathBuf::from("/var/run/docker.sock")))
        );
        assert_eq!(
            EngineAddr::parse("/run/podman/podman.sock"),
            Ok(EngineAddr::Unix(PathBuf::from("/run/podman/podman.sock")))
        );
        assert_eq!(
            EngineAddr::parse("tcp://127.0.0.1:2375"),
            Ok(EngineAddr::Tcp("127.0.0.1:2375".into()))
        );
        for bad in [
            "",
            "unix://",
            "tcp://nohost",
            "npipe:////./pipe/docker_engine",
            "docker.sock",
        ] {
            assert!(EngineAddr::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    /// A unix-socket HTTP server that answers every request with `status` and `body`, and
    /// records the request head.
    async fn one_shot_server(
        dir: &std::path::Path,
        status: &'static str,
        body: &'static str,
    ) -> (PathBuf, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let socket = dir.join("engine.sock");
        let listener = tokio::net::UnixListener::bind(&socket).unwrap();
        let handle = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = conn.read(&mut buf).await.unwrap();
                assert!(n > 0, "client closed early");
                head.extend_from_slice(&buf[..n]);
            }
            let answer = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            conn.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8(head).unwrap()
        });
        (socket, handle)
    }

    #[tokio::test]
    async fn lists_containers_with_label_filters_over_a_unix_socket() {
        let dir = tempfile::tempdir().unwrap();
        let (socket, server) = one_shot_server(dir.path(), "200 OK", r#"[{"Id":"abc"}]"#).await;
        let engine = Engine::new(EngineAddr::Unix(socket));
        let list = engine
            .list_containers(&["com.docker.compose.project=p".into(), "k".into()])
            .await
            .unwrap();
        assert_eq!(list, vec![serde_json::json!({"Id": "abc"})]);
        let head = server.await.unwrap();
        let first = head.lines().next().unwrap();
        let target = first.split(' ').nth(1).unwrap();
        let url = url::Url::parse(&format!("http://x{target}")).unwrap();
        assert_eq!(url.path(), "/containers/json");
        let query: std::collections::BTreeMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(query["all"], "1");
        let filters: Value = serde_json::from_str(&query["filters"]).unwrap();
        assert_eq!(
            filters,
            serde_json::json!({"label": ["com.docker.compose.project=p", "k"]})
        );
    }

    #[tokio::test]
    async fn an_error_status_is_reported_with_the_engines_message() {
        let dir = tempfile::tempdir().unwrap();
        let (socket, _server) = one_shot_server(
            dir.path(),
            "404 Not Found",
            r#"{"message":"no such container"}"#,
        )
        .await;
        let engine = Engine::new(EngineAddr::Unix(socket));
        let err = engine.inspect("nope").await.unwrap_err();
        assert!(err.is_not_found(), "{err}");
        assert!(err.to_string().contains("no such container"), "{err}");
    }

    #[tokio::test]
    async fn a_missing_socket_is_a_transport_error_naming_it() {
        let engine = Engine::new(EngineAddr::Unix(PathBuf::from("/nonexistent/engine.sock")));
        let err = engine.inspect("x").await.unwrap_err();
        assert!(matches!(err, EngineError::Transport { .. }), "{err}");
        assert!(
            err.to_string().contains("/nonexistent/engine.sock"),
            "{err}"
        );
    }
}
