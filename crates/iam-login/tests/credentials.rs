//! `load_credentials()` through the real aws-config default chain. One test function,
//! because the chain reads process-wide environment variables: the scenarios run in
//! order, each setting exactly the variables it means.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use iam_login::{load_credentials, LoginError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

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

/// A one-route HTTP/1.1 server standing in for the ECS container credentials endpoint.
/// Records each request head so the test can check path and Authorization header.
async fn credentials_endpoint(body: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&head).into_owned());
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    });
    (format!("http://{addr}"), seen)
}

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
    let started = Instant::now();
    let creds = load_credentials().await.unwrap();
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
    let (base, seen) = credentials_endpoint(
        r#"{"AccessKeyId":"ASIACONTAINEREXAMPLE","Expiration":"2099-02-16T18:00:00Z","RoleArn":"arn:aws:iam::123456789012:role/consul-ecs/web-task-role","SecretAccessKey":"container-secret","Token":"container-session"}"#,
    )
    .await;
    std::env::set_var(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("{base}/v2/credentials/task-1"),
    );
    std::env::set_var("AWS_CONTAINER_AUTHORIZATION_TOKEN", "auth-token-123");
    let creds = load_credentials().await.unwrap();
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
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert!(
        requests[0].starts_with("GET /v2/credentials/task-1 HTTP/1.1\r\n"),
        "{}",
        requests[0]
    );
    assert!(
        requests[0]
            .to_ascii_lowercase()
            .contains("\r\nauthorization: auth-token-123\r\n"),
        "{}",
        requests[0]
    );
    // Not cached: every call asks the endpoint again (rotated task-role credentials).
    load_credentials().await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 2);
    std::env::remove_var("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    std::env::remove_var("AWS_CONTAINER_AUTHORIZATION_TOKEN");

    // 3. Shared credentials file, named profile.
    std::fs::write(
        dir.path().join("credentials"),
        "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = d\n\
         [ops]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = profile-secret\n",
    )
    .unwrap();
    std::env::set_var("AWS_PROFILE", "ops");
    let creds = load_credentials().await.unwrap();
    assert_eq!(creds.access_key_id(), "AKIAPROFILE");
    assert_eq!(creds.secret_access_key(), "profile-secret");
    std::env::remove_var("AWS_PROFILE");
    std::fs::remove_file(dir.path().join("credentials")).unwrap();

    // 4. Nothing anywhere: a Credentials error that says so.
    let err = load_credentials().await.unwrap_err();
    assert!(matches!(err, LoginError::Credentials(_)), "{err:?}");
    assert!(err.to_string().starts_with("no AWS credentials: "), "{err}");
}
