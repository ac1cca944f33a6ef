//! The whole login exchange (`login`, `wait_for_replication`, `logout`) against the Consul
//! emulator, whose aws-iam method replays our signed requests to real moto.
//!
//! One test on purpose: credentials come from the process environment (the default chain),
//! which is process-wide state.

use std::time::Duration;

use consul::{Client, ClientConfig, Secret};
use iam_login::{
    login, login_meta, login_policy, logout, wait_for_replication, LoginParams, LoginSpec,
};
use testkit::aws::{AwsWorld, TaskRole};
use testkit::consul::{ConsulEmulator, EmulatorOptions, IamAuthOptions};

fn use_role(aws: &AwsWorld, role: &TaskRole) {
    for (k, v) in aws.credentials_env(role) {
        std::env::set_var(k, v);
    }
}

fn spec(aws: &AwsWorld, server_id: Option<&str>) -> LoginSpec {
    LoginSpec {
        method: "iam-ecs-service-token".into(),
        params: LoginParams {
            region: "us-east-1".into(),
            sts_endpoint: Some(aws.endpoint()),
            server_id_header_value: server_id.map(Into::into),
            include_entity: true,
        },
        meta: login_meta(
            "0f3bca58e0f4486a95b04c1bd1d4be55",
            "arn:aws:ecs:us-east-1:123456789012:cluster/c",
            &Default::default(),
        ),
        partition: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn login_replication_and_logout_against_the_emulator_and_moto() {
    let aws = AwsWorld::start_async("web").await;
    let consul = ConsulEmulator::start(EmulatorOptions {
        acls_enabled: true,
        ..Default::default()
    });
    let method = IamAuthOptions {
        server_id_header: Some("consul.test".into()),
        ..Default::default()
    };
    tokio::task::block_in_place(|| consul.configure_iam_auth(&aws, &method));
    let server = Client::new(
        ClientConfig::default()
            .with_address(&consul.http_addr())
            .unwrap(),
    )
    .unwrap();
    let quick = login_policy(Duration::from_millis(1500));

    // Success: a service identity from the role's tag, the meta in the description.
    use_role(&aws, aws.task_role());
    let token = login(&server, &spec(&aws, Some("consul.test")), &quick)
        .await
        .expect("login");
    assert_eq!(token.service_identities.len(), 1);
    assert_eq!(token.service_identities[0].service_name, "web");
    assert!(
        token.description.contains("consul.hashicorp.com/task-id"),
        "{}",
        token.description
    );
    wait_for_replication(&server, &token.secret_id)
        .await
        .expect("readable");

    // Logout deletes it; logging out again counts as done (already gone).
    logout(&server, &token.secret_id).await.expect("logout");
    assert!(!consul
        .tokens()
        .iter()
        .any(|t| t.accessor_id == token.accessor_id));
    logout(&server, &token.secret_id)
        .await
        .expect("a token already gone is logged out");

    // A wrong server ID: retried until the deadline, then Consul's reason.
    let err = login(&server, &spec(&aws, Some("other.example")), &quick)
        .await
        .unwrap_err();
    assert!(err.attempts >= 2, "{err}");
    assert!(
        err.to_string().contains("expected \"consul.test\""),
        "{err}"
    );

    // A role outside the bound path is not trusted.
    let outsider = tokio::task::block_in_place(|| aws.add_task_role("web", "/elsewhere/"));
    use_role(&aws, &outsider);
    let err = login(&server, &spec(&aws, Some("consul.test")), &quick)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is not trusted"), "{err}");

    // A wrong secret: STS (moto) refuses the signature of the GetCallerIdentity that
    // include-entity sends first, and the error says so.
    let mut forged = aws.task_role().clone();
    forged.secret_access_key = "not-the-secret".into();
    use_role(&aws, &forged);
    let err = login(&server, &spec(&aws, Some("consul.test")), &quick)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("SignatureDoesNotMatch"), "{err}");
    assert!(
        !err.to_string().contains("not-the-secret"),
        "the secret must not reach the error"
    );

    // A token the servers never saw is reported as not replicated.
    let err = wait_for_replication(
        &server,
        &Secret::new("00000000-0000-0000-0000-00000000dead"),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("please check that your server cluster is healthy"),
        "{err}"
    );
}
