//! Everything this crate and its dependencies (aws-sigv4, aws-config, reqwest, hyper) log
//! at TRACE while loading credentials and building an include-entity token against moto
//! is captured, and none of it may contain the secret key, the session token or a
//! signature. Its own test binary, because it installs the process-wide subscriber.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use iam_login::{bearer_token, load_credentials, DecodedToken, LoginParams};
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

/// Every `Signature=<hex>` in `text`.
fn signatures(text: &str) -> Vec<String> {
    text.match_indices("Signature=")
        .map(|(i, m)| {
            text[i + m.len()..]
                .chars()
                .take_while(char::is_ascii_hexdigit)
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_of_a_full_token_build_hold_no_secrets() {
    // Setup (creating the role and assuming it) happens before capture starts: its own
    // signing is the test's business, not the crate's.
    let world = world().await;
    let secret = role_creds(&world).secret_access_key().to_string();
    let session = role_creds(&world).session_token().unwrap().to_string();

    let buffer = Buffer::default();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(buffer.clone())
            .finish(),
    )
    .unwrap();

    // Credentials through the real chain (environment), then the full include-entity
    // build: a real GetCallerIdentity to moto, the signed GetRole, the signed STS request.
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::set_var("AWS_REGION", REGION);
    std::env::set_var("AWS_ACCESS_KEY_ID", role_creds(&world).access_key_id());
    std::env::set_var("AWS_SECRET_ACCESS_KEY", &secret);
    std::env::set_var("AWS_SESSION_TOKEN", &session);
    let creds = load_credentials(None).await.unwrap();
    let params = LoginParams {
        region: REGION.to_string(),
        sts_endpoint: Some(world.endpoint()),
        server_id_header_value: Some("consul.example.com".to_string()),
        include_entity: true,
    };
    let token = bearer_token(&creds, &params).await.unwrap();
    // A failing build (wrong secret → AWS error) must not leak either.
    let forged = iam_login::Credentials::new(
        creds.access_key_id(),
        "forged-secret-key",
        Some(session.clone()),
        None,
        "forged",
    );
    bearer_token(&forged, &params).await.unwrap_err();

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    // The capture really works: the crate's own and the HTTP stack's events are there.
    assert!(logs.contains("built aws-iam bearer token"), "{logs}");
    assert!(logs.contains("sts:GetCallerIdentity"), "{logs}");
    assert!(logs.contains("TRACE"), "no TRACE events captured:\n{logs}");

    let decoded = DecodedToken::decode(&token).unwrap();
    let mut sigs = signatures(decoded.header("Authorization").unwrap());
    sigs.extend(signatures(
        decoded.header("X-Consul-Iam-Getentity-Headers").unwrap(),
    ));
    assert_eq!(sigs.len(), 2, "{sigs:?}");
    for (what, needle) in [
        ("secret key", secret.as_str()),
        ("forged secret key", "forged-secret-key"),
        ("session token", session.as_str()),
        ("STS signature", sigs[0].as_str()),
        ("IAM signature", sigs[1].as_str()),
    ] {
        assert!(
            needle.len() >= 16,
            "{what} too short to search for: {needle:?}"
        );
        assert!(
            !logs.contains(needle),
            "{what} appears in the logs:\n{logs}"
        );
    }
    assert!(
        signatures(&logs).is_empty(),
        "a signature appears in the logs:\n{logs}"
    );
}
