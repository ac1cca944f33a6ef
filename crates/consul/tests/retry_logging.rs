//! Retries are logged with what was attempted and the error, never the token.
//!
//! Alone in its own test binary because it captures logs with a thread-local subscriber,
//! and tracing's per-callsite interest cache can drop events when other tests register
//! the same callsites concurrently.

#[path = "common/log_buffer.rs"]
mod log_buffer;
use log_buffer::Buf;

mod common;

use common::{client, Mock};
use consul::*;
use std::time::Duration;

fn fast(deadline_ms: u64) -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(40),
        multiplier: 2.0,
        jitter: Jitter::Equal,
        deadline: Duration::from_millis(deadline_ms),
        max_attempts: None,
    }
}

#[tokio::test]
async fn retries_5xx_and_429_then_succeeds_and_logs_without_token() {
    let logs = Buf::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mock = Mock::start().await;
    mock.on(
        "PUT",
        "/v1/agent/service/register",
        500,
        "rpc error: No cluster leader",
    )
    .on(
        "PUT",
        "/v1/agent/service/register",
        429,
        "rate limit exceeded",
    )
    .on("PUT", "/v1/agent/service/register", 503, "try later")
    .on("PUT", "/v1/agent/service/register", 200, "");
    let c = client(&mock, TokenSource::Value(Secret::new("tok-5ecret")));
    let reg = AgentServiceRegistration {
        name: "web".into(),
        ..Default::default()
    };
    let o = QueryOptions::default();
    retry(&fast(5_000), "register service web", || {
        c.agent_service_register(&reg, &o)
    })
    .await
    .unwrap();
    assert_eq!(mock.requests().len(), 4);

    let text = logs.text();
    assert_eq!(text.matches("retrying").count(), 3, "{text}");
    assert!(text.contains("register service web"), "{text}");
    assert!(text.contains("No cluster leader"), "{text}");
    assert!(
        text.contains("WARN"),
        "the third retry is a warning: {text}"
    );
    assert!(
        !text.contains("tok-5ecret"),
        "token leaked into logs: {text}"
    );
}
