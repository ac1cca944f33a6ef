//! `CONSUL_HTTP_SSL_VERIFY=false` is honoured (any server certificate is accepted) and
//! never silent: every client built with it logs a warning.
//!
//! Alone in its own test binary because it captures logs with a thread-local subscriber,
//! and tracing's per-callsite interest cache can drop events when other tests register
//! the same callsites concurrently.

#[path = "common/log_buffer.rs"]
mod log_buffer;
use log_buffer::Buf;

#[path = "common/pki.rs"]
mod pki;

use consul::{Client, ClientConfig, ConsulError, QueryOptions};

const WARNING: &str = "TLS certificate verification is disabled";

#[tokio::test]
async fn ssl_verify_false_accepts_any_certificate_and_warns_at_every_build() {
    let logs = Buf::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    // A CA nobody trusts, and a name that is not the address.
    let server = pki::Ca::new(dir.path(), "unknown").server("server", "DNS:elsewhere.example");
    let port = pki::serve_tls(&server, None, r#"{"Config":{"Datacenter":"dc1"}}"#).await;
    let addr = format!("https://127.0.0.1:{port}");
    let env = |verify: &'static str| {
        let addr = addr.clone();
        ClientConfig::from_lookup(move |k| match k {
            "CONSUL_HTTP_ADDR" => Some(addr.clone()),
            "CONSUL_HTTP_SSL_VERIFY" => Some(verify.to_owned()),
            "CONSUL_HTTP_TOKEN" => Some("token-that-must-not-be-logged".to_owned()),
            _ => None,
        })
        .unwrap()
    };

    // Verifying (the default, and `true`): refused, and nothing to warn about.
    let err = Client::new(env("true"))
        .unwrap()
        .agent_self(&QueryOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConsulError::Transport {
                kind: consul::TransportKind::TlsCertificate | consul::TransportKind::TlsName,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!logs.text().contains(WARNING), "{}", logs.text());

    let cfg = env("false");
    assert!(cfg.insecure_skip_verify);
    let me = Client::new(cfg.clone())
        .unwrap()
        .agent_self(&QueryOptions::default())
        .await
        .unwrap();
    assert_eq!(me.datacenter(), Some("dc1"));
    let text = logs.text();
    assert_eq!(text.matches(WARNING).count(), 1, "{text}");
    let line = text.lines().find(|l| l.contains(WARNING)).unwrap();
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("CONSUL_HTTP_SSL_VERIFY=false"), "{line}");

    // Every build warns again, not only the first of the process.
    Client::new(cfg.clone()).unwrap();
    assert_eq!(logs.text().matches(WARNING).count(), 2, "{}", logs.text());
    // The explicit override turns it back on.
    Client::new(cfg.with_tls_verify(true)).unwrap();
    assert_eq!(logs.text().matches(WARNING).count(), 2, "{}", logs.text());
    assert!(!logs.text().contains("token-that-must-not-be-logged"));
}
