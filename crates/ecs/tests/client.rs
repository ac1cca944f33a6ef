//! The metadata client against the testkit ECS metadata emulator: decoding, retries,
//! timeouts and error messages.
//!
//! Timing is on the wall clock here: the emulator answers from its own thread and runtime,
//! so on tokio's paused clock the client's timeouts would fire while an answer is on its
//! way. Lower bounds (backoffs honoured) are exact; upper bounds are several times the
//! expected figure, for a busy machine. The paused clock times the client where the server
//! shares its runtime (tests/bounded_body.rs).

use std::time::{Duration, Instant};

use ecs::{EcsError, MetadataClient};
use retry::{Jitter, RetryPolicy};
use serde_json::{json, Value};
use testkit::ecs_metadata::{ec2_task, fargate_task, EcsMetadataEmulator, FARGATE_NODE_IP};

fn example(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Short backoffs keep the retry tests fast; the policy shape is what is under test.
fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(50),
        ..ecs::DEFAULT_RETRY_POLICY
    }
    .with_max_attempts(max_attempts)
}

fn client(emu: &EcsMetadataEmulator) -> MetadataClient {
    MetadataClient::new(emu.uri())
        .unwrap()
        .with_retry(fast_retries(3))
}

#[tokio::test]
async fn decodes_the_fargate_example_served_over_http() {
    let emu = EcsMetadataEmulator::start(example("fargate_task.json"));
    let task = client(&emu).task().await.unwrap();
    assert_eq!(task.task_id().unwrap(), "0f3bca58e0f4486a95b04c1bd1d4be55");
    assert_eq!(task.region().unwrap(), "us-east-1");
    assert_eq!(task.account_id().unwrap(), "123456789012");
    assert_eq!(
        task.cluster_arn().unwrap(),
        "arn:aws:ecs:us-east-1:123456789012:cluster/my-cluster"
    );
    assert_eq!(task.node_ip(), "10.0.1.23");
    assert_eq!(task.containers.len(), 5);
    assert_eq!(emu.request_count(), 1);
    assert!(emu.requests()[0].path.ends_with("/task"));
}

#[tokio::test]
async fn decodes_the_ec2_example_served_over_http() {
    let emu = EcsMetadataEmulator::start(example("ec2_task.json"));
    let task = client(&emu).task_once().await.unwrap();
    assert_eq!(task.cluster(), "my-cluster");
    assert_eq!(
        task.cluster_arn().unwrap(),
        "arn:aws:ecs:us-west-2:111122223333:cluster/my-cluster"
    );
    assert_eq!(task.region().unwrap(), "us-west-2");
    assert_eq!(task.node_ip(), "10.0.2.61");
    let apps: Vec<&str> = task
        .application_containers()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        apps,
        ["web"],
        "the CNI_PAUSE container is not an application"
    );
}

#[tokio::test]
async fn container_endpoint_returns_the_first_container() {
    let emu = EcsMetadataEmulator::start(example("ec2_task.json"));
    let me = client(&emu).container().await.unwrap();
    assert_eq!(me.name, "~internal~ecs~pause");
    assert_eq!(me.networks[0].ipv4_addresses, ["10.0.2.61"]);
}

#[tokio::test]
async fn follows_scripted_lifecycle_changes() {
    let emu = EcsMetadataEmulator::start(fargate_task(
        "web",
        &["web", "sidecar-proxy", "consul-ecs-health-sync"],
    ));
    let client = client(&emu);
    let task = client.task().await.unwrap();
    assert_eq!(task.node_ip(), FARGATE_NODE_IP);
    assert_eq!(task.region().unwrap(), "us-east-1");
    assert_eq!(task.task_id().unwrap().len(), 32);
    assert_eq!(task.container("web").unwrap().health_status(), None);
    assert!(!task.applications_stopped());

    emu.set_container_health("web", "HEALTHY");
    emu.set_container_status("web", "STOPPED", "RUNNING");
    let task = client.task_once().await.unwrap();
    let web = task.container("web").unwrap();
    assert!(web.is_healthy());
    assert!(!web.is_stopped(), "desired STOPPED, known RUNNING");
    assert!(!task.applications_stopped());

    emu.stop_container("web");
    let task = client.task_once().await.unwrap();
    assert_eq!(task.container("web").unwrap().exit_code, Some(0));
    assert!(task.applications_stopped());

    // On EC2 the pause container must not hold the sidecar up.
    emu.set_task(ec2_task("web", &["web", "sidecar-proxy"]));
    emu.stop_container("web");
    assert!(client.task_once().await.unwrap().applications_stopped());
}

#[tokio::test]
async fn a_cached_poll_decodes_only_a_changed_document() {
    let emu = EcsMetadataEmulator::start(fargate_task("web", &["web", "sidecar-proxy"]));
    let client = client(&emu);
    let mut last = None;

    let task = client.task_once_cached(&mut last).await.unwrap();
    assert_eq!(task.container("web").unwrap().health_status(), None);
    // The same document again: the task decoded the first time, and no second decode.
    let again = client.task_once_cached(&mut last).await.unwrap().clone();
    assert_eq!(again.container("web").unwrap().health_status(), None);
    assert_eq!(last.as_ref().map(ecs::LastTask::decodes), Some(1));

    // A changed document is decoded and its change seen.
    emu.set_container_health("web", "HEALTHY");
    let task = client.task_once_cached(&mut last).await.unwrap();
    assert!(task.container("web").unwrap().is_healthy());
    assert_eq!(last.as_ref().map(ecs::LastTask::decodes), Some(2));
    assert_eq!(emu.request_count(), 3, "every poll asks the endpoint");

    // An answer that is not task metadata fails, names the URL and empties the cache, so
    // the next good answer is decoded afresh.
    emu.set_task(json!("not a task"));
    let err = client.task_once_cached(&mut last).await.unwrap_err();
    assert!(
        matches!(err, EcsError::Decode { ref url, .. } if url.ends_with("/task")),
        "{err}"
    );
    assert!(last.is_none());
    emu.set_task(fargate_task("web", &["web"]));
    let task = client.task_once_cached(&mut last).await.unwrap();
    assert!(task.container("sidecar-proxy").is_none());
    assert_eq!(last.as_ref().map(ecs::LastTask::decodes), Some(1));
}

#[tokio::test]
async fn retries_5xx_then_succeeds() {
    let emu = EcsMetadataEmulator::start(fargate_task("web", &["web"]));
    emu.fail_next(2, 503);
    let task = client(&emu).task().await.unwrap();
    assert_eq!(task.family, "web");
    let statuses: Vec<u16> = emu.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 503, 200], "{}", emu.request_log());
    // The pauses between attempts are jittered backoffs: 10–20 ms, then 20–40 ms.
    let log = emu.requests();
    assert!(
        log[1].at - log[0].at >= Duration::from_millis(10),
        "{}",
        emu.request_log()
    );
    assert!(
        log[2].at - log[1].at >= Duration::from_millis(20),
        "{}",
        emu.request_log()
    );
}

#[tokio::test]
async fn gives_up_on_persistent_5xx_after_the_configured_attempts() {
    let emu = EcsMetadataEmulator::start(fargate_task("web", &["web"]));
    emu.fail_next(1000, 500);
    let started = Instant::now();
    let err = client(&emu).task().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(emu.request_count(), 3);
    assert!(
        matches!(err, EcsError::RetriesExhausted { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(err.http_status(), Some(500));
    let msg = err.to_string();
    assert!(msg.contains("HTTP 500"), "{msg}");
    assert!(
        msg.contains("injected failure"),
        "the body excerpt is included: {msg}"
    );
    assert!(msg.contains(&emu.uri()), "the URL is included: {msg}");
    assert!(!msg.contains('\n'), "one line: {msg}");
}

#[tokio::test]
async fn does_not_retry_a_4xx() {
    let emu = EcsMetadataEmulator::start(fargate_task("web", &["web"]));
    emu.fail_next(1, 404);
    let err = client(&emu).task().await.unwrap_err();
    assert!(
        matches!(err, EcsError::Status { status: 404, .. }),
        "{err:?}"
    );
    assert_eq!(emu.request_count(), 1);
}

#[tokio::test]
async fn task_once_makes_a_single_attempt() {
    let emu = EcsMetadataEmulator::start(fargate_task("web", &["web"]));
    emu.fail_next(1, 503);
    let err = client(&emu).task_once().await.unwrap_err();
    assert!(
        matches!(err, EcsError::Status { status: 503, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(emu.request_count(), 1);
    assert!(client(&emu).task_once().await.is_ok());
}

#[tokio::test]
async fn times_out_a_slow_endpoint_within_bounded_time() {
    let emu = EcsMetadataEmulator::start(fargate_task("web", &["web"]));
    emu.set_delay(Duration::from_secs(10));
    let client = MetadataClient::new(emu.uri())
        .unwrap()
        .with_timeout(Duration::from_millis(200))
        .with_retry(fast_retries(2));
    assert_eq!(client.timeout(), Duration::from_millis(200));
    let started = Instant::now();
    let err = client.task().await.unwrap_err();
    let took = started.elapsed();
    // Two 200 ms attempts and one short backoff.
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(2),
        "took {took:?}"
    );
    assert_eq!(emu.request_count(), 2);
    match &err {
        EcsError::RetriesExhausted { attempts: 2, last } => {
            assert!(matches!(**last, EcsError::Timeout { .. }), "{last:?}")
        }
        other => panic!("expected exhausted timeouts, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("no complete response within 200ms"),
        "{err}"
    );

    let once = client.task_once().await.unwrap_err();
    assert!(matches!(once, EcsError::Timeout { .. }), "{once:?}");
}

#[tokio::test]
async fn bad_json_is_a_decode_error_with_serde_message_and_not_retried() {
    let emu = EcsMetadataEmulator::start(fargate_task("web", &["web"]));
    // A 200 with a text body: not JSON at all.
    emu.fail_next(1, 200);
    let err = client(&emu).task().await.unwrap_err();
    match &err {
        EcsError::Decode { message, .. } => assert!(message.contains("line 1 column"), "{message}"),
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("unmarshalling metadata uri response"),
        "{err}"
    );
    assert_eq!(emu.request_count(), 1, "a bad answer is final");

    // Valid JSON of the wrong shape.
    emu.set_task(json!({"Containers": "not a list"}));
    let err = client(&emu).task().await.unwrap_err();
    assert!(err.to_string().contains("invalid type"), "{err}");
}

#[tokio::test]
async fn connection_refused_is_a_transport_error_naming_the_cause() {
    let port = testkit::paths::free_port();
    let client = MetadataClient::new(format!("http://127.0.0.1:{port}/v4/gone"))
        .unwrap()
        .with_retry(fast_retries(2));
    let started = Instant::now();
    let err = client.task().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    let EcsError::RetriesExhausted { attempts: 2, last } = &err else {
        panic!("expected exhausted retries, got {err:?}");
    };
    assert!(matches!(**last, EcsError::Transport { .. }), "{last:?}");
    let msg = err.to_string().to_lowercase();
    assert!(msg.contains("calling metadata uri"), "{msg}");
    assert!(
        msg.contains("refused"),
        "the cause must be in the message: {msg}"
    );
}

#[test]
fn retry_policy_defaults_are_bounded() {
    let policy = ecs::DEFAULT_RETRY_POLICY;
    assert_eq!(policy.max_attempts, Some(3));
    assert!(policy.max <= Duration::from_secs(5));
    assert_eq!(
        policy.jitter,
        Jitter::Equal,
        "tasks restarted together must not align"
    );
    let client = MetadataClient::new("http://169.254.170.2/v4/x").unwrap();
    assert_eq!(client.timeout(), ecs::DEFAULT_TIMEOUT);
    assert_eq!(ecs::DEFAULT_TIMEOUT, Duration::from_secs(5));
    assert_eq!(client.retry_policy(), &ecs::DEFAULT_RETRY_POLICY);
    // Jittered exponential backoff, capped: 100–200 ms, then 200–400 ms.
    for _ in 0..50 {
        let first = policy.backoff(1);
        assert!(
            (Duration::from_millis(100)..=Duration::from_millis(200)).contains(&first),
            "{first:?}"
        );
        let second = policy.backoff(2);
        assert!(
            (Duration::from_millis(200)..=Duration::from_millis(400)).contains(&second),
            "{second:?}"
        );
        let capped = policy.backoff(9);
        assert!(
            (Duration::from_secs(1)..=Duration::from_secs(2)).contains(&capped),
            "{capped:?}"
        );
    }
}

#[tokio::test]
async fn a_single_attempt_policy_reports_the_error_itself() {
    let emu = EcsMetadataEmulator::start(fargate_task("web", &["web"]));
    emu.fail_next(5, 503);
    let err = client(&emu)
        .with_retry(fast_retries(1))
        .task()
        .await
        .unwrap_err();
    assert!(
        matches!(err, EcsError::Status { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(emu.request_count(), 1);
}

#[tokio::test]
async fn a_deadline_bounds_the_retries_too() {
    let emu = EcsMetadataEmulator::start(fargate_task("web", &["web"]));
    emu.fail_next(1000, 500);
    let policy = RetryPolicy::fixed(Duration::from_millis(50), Duration::from_millis(300));
    assert_eq!(policy.max_attempts, None);
    let started = Instant::now();
    let err = client(&emu).with_retry(policy).task().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    let EcsError::RetriesExhausted { attempts, .. } = err else {
        panic!("expected exhausted retries, got {err:?}");
    };
    assert!((3..=8).contains(&attempts), "{attempts} attempts");
    assert_eq!(emu.request_count(), attempts as usize);
}
