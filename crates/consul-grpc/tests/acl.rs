//! `ACLService/Login` and `/Logout` against the emulator: a real aws-iam login (bearer token
//! signed for moto's STS, replayed by the emulator as Consul does), and every refusal with
//! the gRPC code and message Consul's `agent/grpc-external/services/acl` sends.

mod common;

use common::{connect, emulator};
use consul::Secret;
use consul_grpc::{GrpcError, Login};
use std::collections::BTreeMap;
use testkit::aws::AwsWorld;
use testkit::consul::{IamAuthOptions, SERVICE_AUTH_METHOD};

/// The code and message of a refusal.
fn refusal(err: &GrpcError) -> (tonic::Code, &str) {
    match err {
        GrpcError::Status { code, message, .. } => (*code, message.as_str()),
        other => panic!("expected a gRPC status, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_iam_login_and_logout_round_trip() {
    let aws = AwsWorld::start_async("web").await;
    let (consul, grpc) = emulator(true);
    consul.configure_iam_auth(&aws, &IamAuthOptions::default());
    let conn = connect(&grpc).await;
    let client = conn.client();

    let params = iam_login::LoginParams {
        region: "us-east-1".into(),
        sts_endpoint: Some(aws.endpoint()),
        server_id_header_value: None,
        include_entity: true,
    };
    let bearer = iam_login::bearer_token(&aws.credentials(aws.task_role()), &params)
        .await
        .unwrap();
    let meta = BTreeMap::from([
        (
            "consul.hashicorp.com/task-id".to_owned(),
            "abc123".to_owned(),
        ),
        ("consul.hashicorp.com/cluster".to_owned(), "test".to_owned()),
    ]);
    let login = Login {
        auth_method: SERVICE_AUTH_METHOD.into(),
        bearer_token: Secret::new(bearer),
        meta: meta.clone(),
        ..Login::default()
    };
    assert_eq!(
        format!("{login:?}").matches("***").count(),
        1,
        "bearer token hidden"
    );
    let token = client.login(&login).await.unwrap();
    assert_eq!(
        format!("{token:?}").matches("***").count(),
        1,
        "secret hidden"
    );

    // The token the HTTP login would have made: service identity from the role's tag,
    // description with the meta, created by the auth method.
    let made = consul
        .tokens()
        .into_iter()
        .find(|t| t.accessor_id == token.accessor_id)
        .unwrap_or_else(|| panic!("no token {}\n{}", token.accessor_id, consul.request_log()));
    assert_eq!(made.secret_id, token.secret_id.expose());
    assert_eq!(made.auth_method, SERVICE_AUTH_METHOD);
    assert_eq!(made.service_identities[0].service_name, "web");
    assert_eq!(
        made.description,
        r#"token created via login: {"consul.hashicorp.com/cluster":"test","consul.hashicorp.com/task-id":"abc123"}"#
    );

    // The token opens the server watch (which wants any valid token).
    let mut stream = client.watch_servers(Some(&token.secret_id)).await.unwrap();
    let servers = stream.next().await.unwrap().unwrap();
    assert_eq!(servers[0].address, "127.0.0.1");

    client.logout(&token.secret_id, "").await.unwrap();
    assert!(consul
        .tokens()
        .iter()
        .all(|t| t.accessor_id != token.accessor_id));
    // Logout is idempotent over gRPC (the HTTP endpoint answers 403 ACL not found).
    client.logout(&token.secret_id, "").await.unwrap();

    let log = consul.request_log();
    assert!(
        log.contains("GRPC /hashicorp.consul.acl.ACLService/Login -> 0"),
        "{log}"
    );
    assert!(!log.contains(token.secret_id.expose()), "{log}");
}

#[tokio::test]
async fn login_refusals_carry_consuls_codes() {
    let (consul, grpc) = emulator(true);
    // An aws-iam method whose STS is nowhere: bearer tokens fail before any AWS call.
    consul
        .try_configure_iam_auth(
            "http://127.0.0.1:9",
            "http://127.0.0.1:9",
            &IamAuthOptions::default(),
        )
        .unwrap();
    let client = connect(&grpc).await.client();

    let unknown = Login {
        auth_method: "nope".into(),
        bearer_token: Secret::new("x"),
        ..Login::default()
    };
    let err = client.login(&unknown).await.unwrap_err();
    assert_eq!(
        refusal(&err),
        (
            tonic::Code::InvalidArgument,
            r#"auth method "nope" not found"#
        )
    );
    assert!(!retry::Retryable::is_retryable(&err));

    let garbage = Login {
        auth_method: SERVICE_AUTH_METHOD.into(),
        bearer_token: Secret::new("not a bearer token"),
        ..Login::default()
    };
    let err = client.login(&garbage).await.unwrap_err();
    assert_eq!(refusal(&err).0, tonic::Code::Unauthenticated, "{err}");
    assert!(!err.to_string().contains("not a bearer token"), "{err}");

    let elsewhere = Login {
        datacenter: "dc9".into(),
        ..garbage.clone()
    };
    let err = client.login(&elsewhere).await.unwrap_err();
    assert_eq!(
        refusal(&err),
        (tonic::Code::Unknown, "No path to datacenter")
    );

    let (_off, grpc_off) = emulator(false);
    let err = connect(&grpc_off)
        .await
        .client()
        .login(&garbage)
        .await
        .unwrap_err();
    assert_eq!(
        refusal(&err),
        (tonic::Code::FailedPrecondition, "ACL support disabled")
    );
}

#[tokio::test]
async fn logout_refusals_carry_consuls_codes() {
    let (consul, grpc) = emulator(true);
    let client = connect(&grpc).await.client();

    let err = client.logout(&Secret::new(""), "").await.unwrap_err();
    assert_eq!(
        refusal(&err),
        (tonic::Code::InvalidArgument, "token is required")
    );

    // A token no login made.
    let err = client.logout(&Secret::new("root"), "").await.unwrap_err();
    assert_eq!(
        refusal(&err),
        (
            tonic::Code::PermissionDenied,
            "Permission denied: token wasn't created via login"
        )
    );
    assert!(consul.tokens().iter().any(|t| t.secret_id == "root"));

    // Unknown: already gone.
    client
        .logout(&Secret::new("6f1d3b7e-0000-4000-8000-000000000000"), "")
        .await
        .unwrap();
}

#[tokio::test]
async fn watch_servers_wants_a_valid_token() {
    let (_consul, grpc) = emulator(true);
    let client = connect(&grpc).await.client();

    let err = client.watch_servers(None).await.unwrap_err();
    assert_eq!(
        refusal(&err),
        (
            tonic::Code::Unauthenticated,
            "An ACL token must be provided (via the `x-consul-token` metadata field) to call this endpoint"
        )
    );
    let err = client
        .watch_servers(Some(&Secret::new("6f1d3b7e-0000-4000-8000-000000000000")))
        .await
        .unwrap_err();
    assert_eq!(
        refusal(&err),
        (tonic::Code::Unauthenticated, "ACL not found")
    );
    let mut stream = client
        .watch_servers(Some(&Secret::new("root")))
        .await
        .unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap().len(), 1);
}
