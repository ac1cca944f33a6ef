//! The task document is read with a 1 MiB limit: an endpoint (or anything answering in its
//! place) that announces a huge body or streams one without end gets a final error naming
//! the URL and the limit, and the process's memory stays bounded.
//!
//! The hostile server stops by itself after [`GUARD`] bytes, so a client that does not stop
//! reading fails these tests instead of taking the machine's memory.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use ecs::{EcsError, MetadataClient, BODY_LIMIT};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Most bytes the hostile server sends on one connection.
const GUARD: u64 = 256 << 20;

#[derive(Clone, Copy)]
enum Answer {
    /// `Content-Length: 1 GiB`, then a few bytes and silence.
    HugeLength,
    /// A chunked body that never ends (until [`GUARD`]), with this status.
    Endless(u16),
}

struct Hostile {
    addr: SocketAddr,
    sent: Arc<AtomicU64>,
    requests: Arc<AtomicUsize>,
}

async fn hostile(answer: Answer) -> Hostile {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = Arc::new(AtomicU64::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (sent_, requests_) = (sent.clone(), requests.clone());
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let (sent, requests) = (sent_.clone(), requests_.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                requests.fetch_add(1, Ordering::Relaxed);
                match answer {
                    Answer::HugeLength => {
                        let _ = conn
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1073741824\r\n\r\n{\"Cluster\":")
                            .await;
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    Answer::Endless(status) => {
                        let head =
                            format!("HTTP/1.1 {status} X\r\ntransfer-encoding: chunked\r\n\r\n");
                        if conn.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                        let chunk = format!("10000\r\n{}\r\n", " ".repeat(0x10000));
                        let mut mine = 0u64;
                        while mine < GUARD {
                            if conn.write_all(chunk.as_bytes()).await.is_err() {
                                return;
                            }
                            mine += 0x10000;
                            sent.fetch_add(0x10000, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    Hostile {
        addr,
        sent,
        requests,
    }
}

fn client(server: &Hostile) -> MetadataClient {
    MetadataClient::new(format!("http://{}/v4/abc", server.addr))
        .unwrap()
        .with_timeout(Duration::from_secs(20))
        .with_retry(
            retry::RetryPolicy::fixed(Duration::from_millis(10), Duration::from_secs(5))
                .with_max_attempts(3),
        )
}

/// The peak resident memory of this process so far (`VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in /proc/self/status");
    kib * 1024
}

// On tokio's paused clock (the server runs on the same runtime): only a timer moves time,
// so a retry would show as its 10 ms backoff and a wait for the 20 s timeout as that.
#[tokio::test(start_paused = true)]
async fn a_huge_content_length_fails_at_once_and_is_not_retried() {
    let server = hostile(Answer::HugeLength).await;
    let started = Instant::now();
    let err = client(&server).task().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            err,
            EcsError::BodyTooLarge {
                limit: BODY_LIMIT,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "calling metadata uri http://{}/v4/abc/task: the response body is larger than the 1 MiB limit",
            server.addr
        )
    );
    assert!(!err.is_retryable());
    assert_eq!(server.requests.load(Ordering::Relaxed), 1, "not retried");
}

#[tokio::test]
async fn an_endless_body_is_cut_off_at_one_mib_with_bounded_memory() {
    let before = peak_rss();
    let server = hostile(Answer::Endless(200)).await;
    let err = client(&server).container().await.unwrap_err();
    assert!(
        matches!(
            err,
            EcsError::BodyTooLarge {
                limit: BODY_LIMIT,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("1 MiB limit"), "{err}");
    let sent = server.sent.load(Ordering::Relaxed);
    assert!(sent < BODY_LIMIT + (32 << 20), "sent {sent} bytes");
    let grown = peak_rss().saturating_sub(before);
    assert!(grown < 64 << 20, "peak RSS grew by {grown} bytes");
}

#[tokio::test]
async fn an_endless_error_body_keeps_the_status_and_is_retried() {
    let server = hostile(Answer::Endless(503)).await;
    let err = client(&server).task().await.unwrap_err();
    assert_eq!(err.http_status(), Some(503), "{err:?}");
    assert!(
        matches!(err, EcsError::RetriesExhausted { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("not read"), "{err}");
    let sent = server.sent.load(Ordering::Relaxed);
    assert!(sent < 3 * (32 << 20), "sent {sent} bytes");
}
