//! The shared retry loop against a recording server: retries 5xx/429 and connection
//! errors, stops at once on final errors, respects the deadline and attempt cap.

mod common;

use common::{client, Mock};
use consul::*;
use std::time::Duration;
use tokio::time::Instant;

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
async fn final_errors_are_not_retried() {
    let mock = Mock::start().await;
    mock.on(
        "POST",
        "/v1/acl/login",
        403,
        "ACL not found: auth method \"x\" not found",
    );
    let c = client(&mock, TokenSource::None);
    let req = LoginRequest {
        auth_method: "x".into(),
        bearer_token: Secret::new("b"),
        ..Default::default()
    };
    let o = QueryOptions::default();
    let err = retry(&fast(5_000), "login", || c.login(&req, &o))
        .await
        .unwrap_err();
    assert_eq!(err.attempts, 1);
    assert_eq!(err.reason, GaveUp::Final);
    assert!(err.last.is_acl_not_found());
    assert_eq!(mock.requests().len(), 1);
    assert_eq!(
        err.to_string(),
        "login: gave up after 1 attempt in ".to_owned()
            + &format!("{:.1?}", err.elapsed)
            + " (error is not retryable): POST /v1/acl/login: Unexpected response code: 403 (ACL not found: auth method \"x\" not found)"
    );
    assert!(std::error::Error::source(&err).is_some());
}

// On tokio's paused clock (the retry loop's clock): the backoffs take no real time, and the
// deadline is checked exactly, whatever else the machine is doing.
#[tokio::test(start_paused = true)]
async fn gives_up_at_the_deadline_with_the_last_error() {
    let mock = Mock::start().await;
    mock.on("GET", "/v1/agent/self", 500, "still broken");
    let c = client(&mock, TokenSource::None);
    let started = Instant::now();
    let o = QueryOptions::default();
    let err = retry(&fast(300), "agent self", || c.agent_self(&o))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.reason, GaveUp::Deadline);
    assert!(err.attempts > 3, "only {} attempts", err.attempts);
    assert_eq!(err.attempts as usize, mock.requests().len());
    assert_eq!(err.last.http_status(), Some(500));
    // It stops before a backoff would cross the deadline, so never later than it.
    assert!(took <= Duration::from_millis(300), "{took:?}");
    assert!(err.elapsed <= took, "{:?} > {took:?}", err.elapsed);
}

#[tokio::test]
async fn attempt_cap_and_connection_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = Client::new(
        ClientConfig::default()
            .with_address(&addr.to_string())
            .unwrap(),
    )
    .unwrap();
    let o = QueryOptions::default();
    let err = retry(&fast(10_000).with_max_attempts(3), "services", || {
        c.agent_services(&o)
    })
    .await
    .unwrap_err();
    assert_eq!(err.reason, GaveUp::MaxAttempts);
    assert_eq!(err.attempts, 3);
    assert!(err.last.is_retryable());
}

#[tokio::test]
async fn retry_if_treats_chosen_final_errors_as_not_yet() {
    // The token replication wait: 403 "ACL not found" until the follower has the token.
    let mock = Mock::start().await;
    mock.on("GET", "/v1/acl/token/self", 403, "ACL not found")
        .on("GET", "/v1/acl/token/self", 403, "ACL not found")
        .on(
            "GET",
            "/v1/acl/token/self",
            200,
            r#"{"AccessorID":"a","SecretID":"s"}"#,
        );
    let c = client(&mock, TokenSource::Value(Secret::new("s")));
    let policy =
        RetryPolicy::fixed(Duration::from_millis(20), Duration::from_secs(2)).with_max_attempts(21);
    let o = QueryOptions::stale();
    let token = retry_if(
        &policy,
        "wait for token replication",
        |_: &ConsulError| true,
        || c.token_read_self(&o),
    )
    .await
    .unwrap();
    assert_eq!(token.accessor_id, "a");
    assert_eq!(mock.requests().len(), 3);
    assert!(mock
        .requests()
        .iter()
        .all(|r| r.query.as_deref() == Some("stale=")));
}

/// Other crates plug their own errors in through `Retryable`.
#[tokio::test]
async fn works_for_any_retryable_error() {
    #[derive(Debug)]
    struct Throttled(bool);
    impl std::fmt::Display for Throttled {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "throttled={}", self.0)
        }
    }
    impl Retryable for Throttled {
        fn is_retryable(&self) -> bool {
            self.0
        }
    }
    let mut calls = 0;
    let out = retry(&fast(5_000), "describe tasks", || {
        calls += 1;
        let n = calls;
        async move {
            if n < 3 {
                Err(Throttled(true))
            } else {
                Ok(n)
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(out, 3);
}
