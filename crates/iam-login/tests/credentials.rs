//! `load_credentials(None)` through the real aws-config default chain. One test function,
//! because the chain reads process-wide environment variables: the scenarios run in
//! order, each setting exactly the variables it means.

use std::time::{Duration, Instant, UNIX_EPOCH};

use iam_login::{load_credentials, LoginError};
use testkit::aws::{CredentialsEndpoint, CredentialsEndpointOptions, TaskRole};

const CHAIN_VARS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_ACCESS_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SECRET_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
];

#[tokio::test]
async fn default_chain_env_profile_container_endpoint_and_none() {
    let dir = tempfile::tempdir().unwrap();
    for var in CHAIN_VARS {
        std::env::remove_var(var);
    }
    // Keep the developer's own ~/.aws and the EC2 metadata service out of the picture.
    std::env::set_var("AWS_CONFIG_FILE", dir.path().join("config"));
    std::env::set_var(
        "AWS_SHARED_CREDENTIALS_FILE",
        dir.path().join("credentials"),
    );
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::set_var("AWS_REGION", "us-east-1");

    // 1. Environment variables.
    std::env::set_var("AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "env-secret");
    std::env::set_var("AWS_SESSION_TOKEN", "env-session");
    // Wall clock: later scenarios of this one test talk to a credentials endpoint on its own
    // thread, where tokio's paused clock would fire the SDK's timeouts early. The bound
    // catches a metadata-service lookup waited out.
    let started = Instant::now();
    let creds = load_credentials(None).await.unwrap();
    assert_eq!(creds.access_key_id(), "AKIAENVEXAMPLE");
    assert_eq!(creds.secret_access_key(), "env-secret");
    assert_eq!(creds.session_token(), Some("env-session"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        std::env::remove_var(var);
    }

    // 2. Container credentials endpoint (task role), with its authorization token.
    // testkit's endpoint serves a hand-made role (no moto needed to test the chain) and
    // answers 401/403 unless the authorization token is sent.
    let role = TaskRole {
        name: "web-task-role".to_string(),
        arn: "arn:aws:iam::123456789012:role/consul-ecs/web-task-role".to_string(),
        path: "/consul-ecs/".to_string(),
        service: "web".to_string(),
        session_name: "task-1".to_string(),
        access_key_id: "ASIACONTAINEREXAMPLE".to_string(),
        secret_access_key: "container-secret".to_string(),
        session_token: "container-session".to_string(),
        expiration: "2099-02-16T18:00:00Z".to_string(),
    };
    let endpoint = CredentialsEndpoint::start_with(
        &role,
        CredentialsEndpointOptions {
            path: "/v2/credentials/task-1".to_string(),
            authorization: Some("auth-token-123".to_string()),
        },
    );
    std::env::set_var("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.full_uri());
    std::env::set_var("AWS_CONTAINER_AUTHORIZATION_TOKEN", "auth-token-123");
    let creds = load_credentials(None).await.unwrap();
    assert_eq!(creds.access_key_id(), "ASIACONTAINEREXAMPLE");
    assert_eq!(creds.secret_access_key(), "container-secret");
    assert_eq!(creds.session_token(), Some("container-session"));
    assert_eq!(
        creds
            .expiry()
            .unwrap()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        4_074_948_000 // 2099-02-16T18:00:00Z
    );
    let requests = endpoint.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(requests[0].method, "GET", "{requests:#?}");
    assert_eq!(requests[0].path, "/v2/credentials/task-1", "{requests:#?}");
    assert!(requests[0].had_token, "{requests:#?}");
    // Not cached: every call asks the endpoint again (rotated task-role credentials).
    load_credentials(None).await.unwrap();
    assert_eq!(endpoint.requests().len(), 2);
    std::env::remove_var("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    std::env::remove_var("AWS_CONTAINER_AUTHORIZATION_TOKEN");

    // 2b. An endpoint that answers without end is cut off at the limit, with an error that
    // says so, instead of growing the process without bound.
    let endless = endless_endpoint().await;
    std::env::set_var("AWS_CONTAINER_CREDENTIALS_FULL_URI", &endless);
    let err = load_credentials(None).await.unwrap_err();
    assert!(
        err.to_string().contains("larger than the 64 KiB limit"),
        "{err}"
    );
    // 2c. Plain HTTP to anything but loopback or the ECS/EKS agents is refused, as the SDKs
    // refuse it (credentials would cross the network in the clear).
    std::env::set_var(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "http://192.0.2.1/creds",
    );
    let err = load_credentials(None).await.unwrap_err();
    assert!(err.to_string().contains("must be https"), "{err}");
    std::env::remove_var("AWS_CONTAINER_CREDENTIALS_FULL_URI");

    // 3. Shared credentials file, named profile.
    std::fs::write(
        dir.path().join("credentials"),
        "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = d\n\
         [ops]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = profile-secret\n",
    )
    .unwrap();
    std::env::set_var("AWS_PROFILE", "ops");
    let creds = load_credentials(None).await.unwrap();
    assert_eq!(creds.access_key_id(), "AKIAPROFILE");
    assert_eq!(creds.secret_access_key(), "profile-secret");
    std::env::remove_var("AWS_PROFILE");
    std::fs::remove_file(dir.path().join("credentials")).unwrap();

    // 4. Nothing anywhere: a Credentials error that says so.
    let err = load_credentials(None).await.unwrap_err();
    assert!(matches!(err, LoginError::Credentials(_)), "{err:?}");
    assert!(err.to_string().starts_with("no AWS credentials: "), "{err}");
}

/// `http://127.0.0.1:PORT/creds`, answered with 200 and a chunked body that never ends.
async fn endless_endpoint() -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = conn.read(&mut buf).await;
                let _ = conn
                    .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                    .await;
                let chunk = format!("1000\r\n{}\r\n", "x".repeat(0x1000));
                while conn.write_all(chunk.as_bytes()).await.is_ok() {}
            });
        }
    });
    format!("http://{addr}/creds")
}
