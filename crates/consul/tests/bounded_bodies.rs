//! Answer bodies are read with a limit: 1 MiB for single objects and agent endpoints, 64 MiB
//! for lists. A server (or a proxy in front of it) that announces a huge body or streams one
//! without end gets a final error naming the request and the limit, and the process's memory
//! stays bounded.
//!
//! The hostile server stops by itself after [`GUARD`] bytes, so a client that does not stop
//! reading fails these tests instead of taking the machine's memory.

mod common;

use common::{client, Mock};
use consul::*;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::time::Instant;

/// Most bytes the hostile server sends on one connection.
const GUARD: u64 = 512 << 20;

/// What the hostile server answers to every request.
#[derive(Clone, Copy)]
enum Answer {
    /// `Content-Length: 1 GiB`, then a few bytes and silence.
    HugeLength,
    /// A chunked body that never ends (until [`GUARD`]), with this status.
    Endless(u16),
}

struct Hostile {
    addr: SocketAddr,
    /// Body bytes written so far, over all connections.
    sent: Arc<AtomicU64>,
}

async fn hostile(answer: Answer) -> Hostile {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                match answer {
                    Answer::HugeLength => {
                        let _ = conn
                            .write_all(
                                b"HTTP/1.1 200 OK\r\ncontent-length: 1073741824\r\n\r\n{\"a\":",
                            )
                            .await;
                        // Keep the connection open: the client must not wait for the rest.
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    Answer::Endless(status) => {
                        let head = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                             transfer-encoding: chunked\r\n\r\n"
                        );
                        if conn.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                        let chunk = format!("10000\r\n[{}\r\n", " ".repeat(0xffff));
                        while counter.load(Ordering::Relaxed) < GUARD {
                            if conn.write_all(chunk.as_bytes()).await.is_err() {
                                return;
                            }
                            counter.fetch_add(0x10000, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    Hostile { addr, sent }
}

fn client_for(server: &Hostile) -> Client {
    let cfg = ClientConfig::default()
        .with_address(&server.addr.to_string())
        .unwrap()
        .with_timeout(Duration::from_secs(20));
    Client::new(cfg).unwrap()
}

/// The peak resident memory of this process so far (`VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmHWM value");
    kib * 1024
}

/// Tests in this binary run in parallel; together they may hold a few limits' worth.
const MEMORY_BOUND: u64 = 256 << 20;

// On tokio's paused clock, only waiting on a timer (the 20 s request timeout) moves time:
// "at once" is then exact, not a race with a busy machine.
#[tokio::test(start_paused = true)]
async fn a_huge_content_length_fails_at_once_naming_request_and_limit() {
    let server = hostile(Answer::HugeLength).await;
    let started = Instant::now();
    let err = client_for(&server)
        .agent_self(&QueryOptions::default())
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            err,
            ConsulError::BodyTooLarge {
                limit: OBJECT_BODY_LIMIT,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "GET /v1/agent/self: the response body is larger than the 1 MiB limit"
    );
    assert!(!err.is_retryable(), "the same request gets the same answer");
}

#[tokio::test]
async fn an_endless_object_body_is_cut_off_at_one_mib() {
    let before = peak_rss();
    let server = hostile(Answer::Endless(200)).await;
    let err = client_for(&server)
        .token_read_self(&QueryOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "GET /v1/acl/token/self: the response body is larger than the 1 MiB limit"
    );
    assert!(!err.is_retryable());
    // The client hung up soon after the limit: what the server got out is the limit plus
    // what the socket buffers hold.
    let sent = server.sent.load(Ordering::Relaxed);
    assert!(sent < OBJECT_BODY_LIMIT + (32 << 20), "sent {sent} bytes");
    let grown = peak_rss().saturating_sub(before);
    assert!(grown < MEMORY_BOUND, "peak RSS grew by {grown} bytes");
}

#[tokio::test]
async fn an_endless_list_is_cut_off_at_64_mib() {
    let before = peak_rss();
    let server = hostile(Answer::Endless(200)).await;
    let err = client_for(&server)
        .token_list(&TokenListFilter::default(), &QueryOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConsulError::BodyTooLarge {
                limit: LIST_BODY_LIMIT,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "GET /v1/acl/tokens: the response body is larger than the 64 MiB limit"
    );
    let sent = server.sent.load(Ordering::Relaxed);
    assert!(
        (LIST_BODY_LIMIT..LIST_BODY_LIMIT + (32 << 20)).contains(&sent),
        "sent {sent} bytes"
    );
    let grown = peak_rss().saturating_sub(before);
    assert!(grown < MEMORY_BOUND, "peak RSS grew by {grown} bytes");
}

#[tokio::test]
async fn a_list_read_as_it_arrives_has_the_same_limit() {
    let before = peak_rss();
    let server = hostile(Answer::Endless(200)).await;
    let mut seen = 0;
    let err = client_for(&server)
        .token_list_each(
            &TokenListFilter::default(),
            &QueryOptions::default(),
            |_| seen += 1,
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "GET /v1/acl/tokens: the response body is larger than the 64 MiB limit"
    );
    assert_eq!(seen, 0);
    let sent = server.sent.load(Ordering::Relaxed);
    assert!(
        (LIST_BODY_LIMIT..LIST_BODY_LIMIT + (32 << 20)).contains(&sent),
        "sent {sent} bytes"
    );
    let grown = peak_rss().saturating_sub(before);
    assert!(grown < MEMORY_BOUND, "peak RSS grew by {grown} bytes");

    // An announced size over the limit is refused before reading.
    let server = hostile(Answer::HugeLength).await;
    let started = Instant::now();
    let err = client_for(&server)
        .catalog_node_services_each("n", &QueryOptions::default(), |_| {})
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "GET /v1/catalog/node-services/n: the response body is larger than the 64 MiB limit"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn an_endless_error_body_keeps_the_status_and_its_retry_class() {
    let server = hostile(Answer::Endless(503)).await;
    let err = client_for(&server)
        .agent_services(&QueryOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), Some(503), "{err:?}");
    assert!(err.is_retryable(), "a 503 stays retryable: {err}");
    assert!(err.body().unwrap().contains("body not read"), "{err}");
    let sent = server.sent.load(Ordering::Relaxed);
    assert!(sent < 32 << 20, "sent {sent} bytes");
}

/// Valid JSON of `len` bytes: `open`, spaces, `close`.
fn padded(open: char, close: char, len: usize) -> String {
    let mut s = String::with_capacity(len);
    s.push(open);
    s.extend(std::iter::repeat_n(' ', len - 2));
    s.push(close);
    s
}

#[tokio::test]
async fn list_endpoints_take_more_than_a_mib_single_objects_do_not() {
    let mock = Mock::start().await;
    let two_mib = 2 << 20;
    let list = padded('[', ']', two_mib);
    let map = padded('{', '}', two_mib);
    for path in [
        "/v1/acl/tokens",
        "/v1/acl/policies",
        "/v1/acl/roles",
        "/v1/acl/auth-methods",
        "/v1/acl/binding-rules",
        "/v1/partitions",
        "/v1/namespaces",
    ] {
        mock.on("GET", path, 200, &list);
    }
    for path in ["/v1/agent/services", "/v1/agent/checks", "/v1/agent/self"] {
        mock.on("GET", path, 200, &map);
    }
    mock.on("GET", "/v1/acl/token/self", 200, &map);
    let c = client(&mock, TokenSource::None);
    let o = QueryOptions::default();
    c.token_list(&TokenListFilter::default(), &o).await.unwrap();
    c.policy_list(&o).await.unwrap();
    c.role_list(&o).await.unwrap();
    c.auth_method_list(&o).await.unwrap();
    c.binding_rule_list("m", &o).await.unwrap();
    c.partition_list(&o).await.unwrap();
    c.namespace_list(&o).await.unwrap();
    c.agent_services(&o).await.unwrap();
    c.agent_checks(&o).await.unwrap();
    for err in [
        c.agent_self(&o).await.map(|_| ()).unwrap_err(),
        c.token_read_self(&o).await.map(|_| ()).unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                ConsulError::BodyTooLarge {
                    limit: OBJECT_BODY_LIMIT,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
