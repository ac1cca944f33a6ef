//! `login_reviewed`: a review that explains a failed attempt ends the login at once; one
//! that does not leaves the failure to the retry policy. Against the Consul emulator, with
//! an auth method that does not exist (403 `ACL not found`), so no AWS call is needed:
//! without include-entity the bearer token is pure computation.
//!
//! One test on purpose: credentials come from the process environment.

use std::time::{Duration, Instant};

use consul::{Client, ClientConfig, GaveUp};
use iam_login::{
    login_meta, login_policy, login_reviewed, Explanation, LoginFailure, LoginParams, LoginReview,
    LoginSpec, NoReview,
};
use testkit::consul::{ConsulEmulator, EmulatorOptions};

/// Records what it saw; explains the `n`th failure (1-based), if any.
struct Counting {
    seen: Vec<String>,
    explain_at: Option<usize>,
}

impl LoginReview for Counting {
    async fn review(&mut self, failure: &LoginFailure) -> Option<Explanation> {
        self.seen.push(failure.to_string());
        (Some(self.seen.len()) == self.explain_at).then(|| Explanation {
            problem: "the auth method does not exist".into(),
            hint: "run the acl-controller".into(),
        })
    }
}

#[tokio::test]
async fn an_explained_failure_ends_the_login_at_once() {
    std::env::set_var("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE");
    std::env::set_var(
        "AWS_SECRET_ACCESS_KEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    );
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let consul = ConsulEmulator::start(EmulatorOptions {
        acls_enabled: true,
        ..Default::default()
    });
    let server = Client::new(
        ClientConfig::default()
            .with_address(&consul.http_addr())
            .unwrap(),
    )
    .unwrap();
    let spec = LoginSpec {
        method: "no-such-method".into(),
        params: LoginParams {
            region: "us-east-1".into(),
            sts_endpoint: None,
            server_id_header_value: None,
            include_entity: false,
        },
        meta: login_meta("t", "c", &Default::default()),
        partition: None,
    };
    let policy = login_policy(Duration::from_secs(30));

    // Explained at the first failure: one attempt, well before the deadline.
    let mut review = Counting {
        seen: Vec::new(),
        explain_at: Some(1),
    };
    // Wall clock: the Consul emulator answers from its own thread, so tokio's paused clock
    // would fire the client's timeouts early. Generous against a 30 s deadline.
    let started = Instant::now();
    let err = login_reviewed(&server, &spec, &policy, &mut review)
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "{err}");
    assert_eq!(err.attempts, 1, "{err}");
    assert_eq!(err.reason, GaveUp::Final);
    assert!(!err.last.may_heal());
    assert_eq!(
        err.last.explanation().map(|e| e.hint.as_str()),
        Some("run the acl-controller")
    );
    assert_eq!(err.last.to_string(), "the auth method does not exist");
    // What was explained stays reachable: Consul's own answer.
    let consul_error = err.last.consul_error().expect("Consul answered");
    assert_eq!(consul_error.http_status(), Some(403));
    assert!(
        review.seen[0].contains("ACL not found"),
        "{:?}",
        review.seen
    );

    // Not explained until the third failure: the first two are retried.
    let mut review = Counting {
        seen: Vec::new(),
        explain_at: Some(3),
    };
    let err = login_reviewed(&server, &spec, &policy, &mut review)
        .await
        .unwrap_err();
    assert_eq!(err.attempts, 3, "{err}");
    assert_eq!(review.seen.len(), 3);

    // Without a review, the refusal is retried until the deadline (v0.6.2's behaviour,
    // bounded).
    let short = login_policy(Duration::from_millis(1200));
    let err = login_reviewed(&server, &spec, &short, &mut NoReview)
        .await
        .unwrap_err();
    assert_eq!(err.reason, GaveUp::Deadline, "{err}");
    assert!(err.attempts >= 2, "{err}");
    assert!(err.last.explanation().is_none());
}
