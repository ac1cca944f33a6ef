//! HTTPS with every TLS setting of the Go client: a CA file, PEM text or directory
//! (`CONSUL_CACERT`, `CONSUL_CAPATH`) trusted exclusively and in go-rootcerts' precedence,
//! the name the certificate is verified against (`CONSUL_TLS_SERVER_NAME`), a client
//! certificate (`CONSUL_CLIENT_CERT`/`CONSUL_CLIENT_KEY`), and certificate errors that are
//! final rather than retried. Certificates are made with the `openssl` CLI for each run;
//! the server is rustls on 127.0.0.1.
//!
//! `CONSUL_HTTP_SSL_VERIFY=false` and its warning are in `tls_no_verify.rs`, which captures
//! logs and so runs alone.

#[path = "common/pki.rs"]
mod pki;

use consul::{Client, ClientConfig, ConsulError, QueryOptions, TransportKind};
use pki::{serve_tls, Ca};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;

const AGENT_SELF: &str = r#"{"Config":{"Datacenter":"dc1"}}"#;

/// `ClientConfig::from_lookup` over `vars`.
fn from_env(vars: &[(&str, &Path)], more: &[(&str, &str)]) -> ClientConfig {
    let mut map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string_lossy().into_owned()))
        .collect();
    map.extend(more.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ClientConfig::from_lookup(|k| map.get(k).cloned()).unwrap()
}

async fn agent_self(cfg: ClientConfig) -> Result<(), ConsulError> {
    let me = Client::new(cfg.with_timeout(Duration::from_secs(5)))?
        .agent_self(&QueryOptions::default())
        .await?;
    assert_eq!(me.datacenter(), Some("dc1"));
    Ok(())
}

/// Asserts `err` is a final certificate error.
fn assert_certificate_error(err: &ConsulError) {
    assert!(
        matches!(
            err,
            ConsulError::Transport {
                kind: consul::TransportKind::TlsCertificate | consul::TransportKind::TlsName,
                ..
            }
        ),
        "expected a certificate error, got {err:?}"
    );
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().starts_with("GET /v1/agent/self: "), "{err}");
}

#[tokio::test]
async fn https_with_custom_ca_file_and_pem() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "good");
    let server = ca.server("server", "IP:127.0.0.1,DNS:localhost");
    let port = serve_tls(&server, None, AGENT_SELF).await;
    let addr = format!("https://127.0.0.1:{port}");

    let cfg = ClientConfig::default()
        .with_address(&addr)
        .unwrap()
        .with_ca_file(Some(ca.cert.clone()));
    agent_self(cfg).await.unwrap();

    let cfg = ClientConfig::default()
        .with_address(&addr)
        .unwrap()
        .with_ca_pem(std::fs::read_to_string(&ca.cert).unwrap());
    agent_self(cfg).await.unwrap();

    // CONSUL_HTTP_SSL turns a bare host:port into https.
    let cfg = from_env(
        &[("CONSUL_CACERT", &ca.cert)],
        &[
            ("CONSUL_HTTP_ADDR", &format!("127.0.0.1:{port}")),
            ("CONSUL_HTTP_SSL", "true"),
        ],
    );
    agent_self(cfg).await.unwrap();
}

// On tokio's paused clock (the retry loop's): a retry would show as its backoff, exactly.
#[tokio::test(start_paused = true)]
async fn https_refuses_a_certificate_from_another_ca_and_does_not_retry() {
    let dir = tempfile::tempdir().unwrap();
    let server = Ca::new(dir.path(), "server").server("server", "IP:127.0.0.1");
    let other = Ca::new(dir.path(), "other");
    let port = serve_tls(&server, None, "{}").await;
    let addr = format!("https://127.0.0.1:{port}");
    let cfg = ClientConfig::default()
        .with_address(&addr)
        .unwrap()
        .with_ca_file(Some(other.cert.clone()));
    let err = agent_self(cfg).await.unwrap_err();
    assert_certificate_error(&err);
    assert_eq!(err.transport_kind(), Some(TransportKind::TlsCertificate));
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    // Not retried for the whole deadline: a certificate error is final at once.
    let policy = consul::RetryPolicy::fixed(Duration::from_millis(50), Duration::from_secs(10));
    let client = Client::new(
        ClientConfig::default()
            .with_address(&addr)
            .unwrap()
            .with_ca_file(Some(other.cert)),
    )
    .unwrap();
    let opts = QueryOptions::default();
    let started = Instant::now();
    let err = consul::retry(&policy, "read agent", || client.agent_self(&opts))
        .await
        .unwrap_err();
    assert_eq!(err.attempts, 1, "{err}");
    assert_eq!(err.reason, consul::GaveUp::Final);
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "no backoff taken: {:?}",
        started.elapsed()
    );

    // And without any CA configured the web PKI roots do not know the test CA either.
    let cfg = ClientConfig::default().with_address(&addr).unwrap();
    assert_certificate_error(&agent_self(cfg).await.unwrap_err());
}

#[tokio::test]
async fn an_expired_server_certificate_is_a_final_error() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "dated");
    let port = serve_tls(&ca.expired_server("server"), None, AGENT_SELF).await;
    let cfg = ClientConfig::default()
        .with_address(&format!("https://127.0.0.1:{port}"))
        .unwrap()
        .with_ca_file(Some(ca.cert));
    let err = agent_self(cfg).await.unwrap_err();
    assert_certificate_error(&err);
    assert!(err.to_string().contains("expired"), "{err}");
}

#[tokio::test]
async fn ca_path_trusts_every_pem_file_in_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let first = Ca::new(dir.path(), "first");
    let second = Ca::new(dir.path(), "second");
    let port = serve_tls(&second.server("server", "IP:127.0.0.1"), None, AGENT_SELF).await;
    let addr = format!("127.0.0.1:{port}");

    // A directory with both CAs, one in a subdirectory, as CONSUL_CAPATH.
    let ca_dir = dir.path().join("cas");
    std::fs::create_dir_all(ca_dir.join("more")).unwrap();
    std::fs::copy(&first.cert, ca_dir.join("first.pem")).unwrap();
    std::fs::copy(&second.cert, ca_dir.join("more/second.pem")).unwrap();
    let cfg = from_env(
        &[("CONSUL_CAPATH", &ca_dir)],
        &[("CONSUL_HTTP_ADDR", &format!("https://{addr}"))],
    );
    assert_eq!(cfg.ca_path.as_deref(), Some(ca_dir.as_path()));
    agent_self(cfg).await.unwrap();

    // Only the first CA: the server's is not trusted.
    let only_first = dir.path().join("only-first");
    std::fs::create_dir(&only_first).unwrap();
    std::fs::copy(&first.cert, only_first.join("first.pem")).unwrap();
    let cfg = from_env(
        &[("CONSUL_CAPATH", &only_first)],
        &[("CONSUL_HTTP_ADDR", &format!("https://{addr}"))],
    );
    assert_certificate_error(&agent_self(cfg).await.unwrap_err());

    // A file in the directory that is not PEM is an error naming it, as in go-rootcerts.
    std::fs::write(ca_dir.join("junk.pem"), "not a certificate").unwrap();
    let cfg = from_env(&[("CONSUL_CAPATH", &ca_dir)], &[]);
    let err = Client::new(cfg).unwrap_err();
    assert!(matches!(err, ConsulError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("junk.pem"), "{err}");

    // An empty directory trusts nothing rather than everything.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = Client::new(from_env(&[("CONSUL_CAPATH", &empty)], &[])).unwrap_err();
    assert!(err.to_string().contains("no CA file"), "{err}");
}

#[tokio::test]
async fn ca_precedence_is_the_go_clients_file_then_pem_then_path() {
    let dir = tempfile::tempdir().unwrap();
    let good = Ca::new(dir.path(), "good");
    let other = Ca::new(dir.path(), "other");
    let port = serve_tls(&good.server("server", "IP:127.0.0.1"), None, AGENT_SELF).await;
    let addr = format!("https://127.0.0.1:{port}");
    let other_dir = dir.path().join("other-cas");
    std::fs::create_dir(&other_dir).unwrap();
    std::fs::copy(&other.cert, other_dir.join("other.pem")).unwrap();

    // The environment names a CA path of the wrong CA; the config's own CA file wins, as
    // v0.6.2's consulCACertFile does.
    let env = from_env(
        &[("CONSUL_CAPATH", &other_dir)],
        &[("CONSUL_HTTP_ADDR", &addr)],
    );
    assert_certificate_error(&agent_self(env.clone()).await.unwrap_err());
    agent_self(env.clone().with_ca_file(Some(good.cert.clone())))
        .await
        .unwrap();
    // PEM text wins over the path, and the file over the PEM text.
    agent_self(
        env.clone()
            .with_ca_pem(std::fs::read_to_string(&good.cert).unwrap()),
    )
    .await
    .unwrap();
    let err = agent_self(
        env.with_ca_pem(std::fs::read_to_string(&good.cert).unwrap())
            .with_ca_file(Some(other.cert)),
    )
    .await
    .unwrap_err();
    assert_certificate_error(&err);
}

#[tokio::test]
async fn server_name_override_verifies_against_the_configured_name() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "consul");
    // A Consul server certificate: named for the server role, not for the address it is
    // reached at.
    let port = serve_tls(
        &ca.server("server", "DNS:server.dc1.consul,DNS:localhost"),
        None,
        AGENT_SELF,
    )
    .await;
    let addr = format!("https://127.0.0.1:{port}");

    let without = ClientConfig::default()
        .with_address(&addr)
        .unwrap()
        .with_ca_file(Some(ca.cert.clone()));
    let err = agent_self(without.clone()).await.unwrap_err();
    assert_certificate_error(&err);
    assert_eq!(err.transport_kind(), Some(TransportKind::TlsName));

    let cfg = from_env(
        &[("CONSUL_CACERT", &ca.cert)],
        &[
            ("CONSUL_HTTP_ADDR", &addr),
            ("CONSUL_TLS_SERVER_NAME", "server.dc1.consul"),
        ],
    );
    assert_eq!(cfg.tls_server_name.as_deref(), Some("server.dc1.consul"));
    agent_self(cfg).await.unwrap();
    // With a port, as the Go client accepts it; and through the override method.
    agent_self(
        without
            .clone()
            .with_tls_server_name(Some("server.dc1.consul:8501")),
    )
    .await
    .unwrap();

    // The override really is what is verified: another name fails even though the
    // certificate also names `localhost`… and `localhost` works.
    let err = agent_self(
        without
            .clone()
            .with_tls_server_name(Some("server.dc2.consul")),
    )
    .await
    .unwrap_err();
    assert_certificate_error(&err);
    agent_self(without.with_tls_server_name(Some("localhost")))
        .await
        .unwrap();
}

#[tokio::test]
async fn client_certificate_for_servers_that_require_one() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "consul");
    let clients = Ca::new(dir.path(), "clients");
    let strangers = Ca::new(dir.path(), "strangers");
    let port = serve_tls(
        &ca.server("server", "IP:127.0.0.1"),
        Some(&clients.cert),
        AGENT_SELF,
    )
    .await;
    let addr = format!("https://127.0.0.1:{port}");
    let base = [("CONSUL_CACERT", ca.cert.as_path())];

    // No client certificate: the server refuses, and that is final.
    let err = agent_self(from_env(&base, &[("CONSUL_HTTP_ADDR", &addr)]))
        .await
        .unwrap_err();
    assert_certificate_error(&err);

    // One the server's CA did not sign: refused too.
    let stranger = strangers.client("agent");
    let cfg = from_env(
        &[
            base[0],
            ("CONSUL_CLIENT_CERT", &stranger.cert),
            ("CONSUL_CLIENT_KEY", &stranger.key),
        ],
        &[("CONSUL_HTTP_ADDR", &addr)],
    );
    assert_certificate_error(&agent_self(cfg).await.unwrap_err());

    // The right one, from the environment.
    let good = clients.client("agent");
    let cfg = from_env(
        &[
            base[0],
            ("CONSUL_CLIENT_CERT", &good.cert),
            ("CONSUL_CLIENT_KEY", &good.key),
        ],
        &[("CONSUL_HTTP_ADDR", &addr)],
    );
    assert_eq!(cfg.client_cert.as_deref(), Some(good.cert.as_path()));
    let debug = format!("{cfg:?} {:?}", Client::new(cfg.clone()).unwrap());
    agent_self(cfg).await.unwrap();

    // Neither Debug output (of the settings or of the client holding the key) nor an error
    // carries the key itself.
    let key_text = std::fs::read_to_string(&good.key).unwrap();
    let key_body = key_text.lines().nth(1).unwrap();
    assert!(!debug.contains(key_body), "{debug}");
    let mismatched = ClientConfig::default()
        .with_address(&addr)
        .unwrap()
        .with_ca_file(Some(ca.cert.clone()))
        .with_client_cert(Some(good.cert.clone()), Some(stranger.key.clone()));
    let err = Client::new(mismatched).unwrap_err();
    assert!(matches!(err, ConsulError::Config(_)), "{err:?}");
    let stranger_key = std::fs::read_to_string(&stranger.key).unwrap();
    assert!(
        !err.to_string()
            .contains(stranger_key.lines().nth(1).unwrap()),
        "{err}"
    );
}

#[test]
fn unusable_tls_files_are_configuration_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = ClientConfig::default().with_ca_file(Some(dir.path().join("nope.pem")));
    let err = Client::new(missing).unwrap_err();
    assert!(matches!(err, ConsulError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("nope.pem"), "{err}");
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let err = Client::new(ClientConfig::default().with_ca_file(Some(junk.clone()))).unwrap_err();
    assert!(err.to_string().contains("no PEM certificate"), "{err}");
    // A CA "file" that is a device is refused without reading it.
    let err = Client::new(ClientConfig::default().with_ca_file(Some("/dev/zero"))).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let err = Client::new(
        ClientConfig::default().with_client_cert(Some(dir.path().join("cert.pem")), Some(junk)),
    )
    .unwrap_err();
    assert!(err.to_string().contains("cert.pem"), "{err}");
    // Booleans that are not booleans.
    let err =
        ClientConfig::from_lookup(|k| (k == "CONSUL_HTTP_SSL_VERIFY").then(|| "nope".to_owned()))
            .unwrap_err();
    assert!(err.to_string().contains("CONSUL_HTTP_SSL_VERIFY"), "{err}");
}

/// A plain TCP server on 127.0.0.1 that reads a request and answers `answer` as it is;
/// returns the port.
async fn serve_plain(answer: &'static [u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = tcp.read(&mut buf).await;
            let _ = tcp.write_all(answer).await;
        }
    });
    port
}

/// Retries `agent_self` at `addr` for up to 10 s and returns the error, the attempts made
/// and how long it took.
async fn agent_self_retried(addr: &str) -> (consul::RetryError<ConsulError>, Duration) {
    let policy = consul::RetryPolicy::fixed(Duration::from_millis(50), Duration::from_secs(10));
    let client = Client::new(
        ClientConfig::default()
            .with_address(addr)
            .unwrap()
            .with_timeout(Duration::from_secs(5)),
    )
    .unwrap();
    let opts = QueryOptions::default();
    let started = Instant::now();
    let err = consul::retry(&policy, "read agent", || client.agent_self(&opts))
        .await
        .unwrap_err();
    (err, started.elapsed())
}

/// Asserts `err` says, once and finally, that plain HTTP reached the TLS port `port`.
fn assert_plain_http_to_tls(err: &consul::RetryError<ConsulError>, port: u16) {
    assert_eq!(
        err.last.transport_kind(),
        Some(TransportKind::PlainHttpToTls),
        "{:?}",
        err.last
    );
    assert_eq!(err.attempts, 1, "{err}");
    assert_eq!(err.reason, consul::GaveUp::Final);
    assert_eq!(err.last.http_status(), None);
    let text = err.last.to_string();
    assert!(
        text.starts_with(&format!(
            "GET /v1/agent/self: plain HTTP sent to a TLS port: 127.0.0.1:{port} speaks HTTPS; \
             use an https:// address"
        )),
        "{text}"
    );
}

#[tokio::test]
async fn plain_http_to_a_rustls_port_is_one_final_error() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "consul");
    let port = serve_tls(&ca.server("server", "IP:127.0.0.1"), None, AGENT_SELF).await;
    let (err, elapsed) = agent_self_retried(&format!("http://127.0.0.1:{port}")).await;
    assert_plain_http_to_tls(&err, port);
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn plain_http_to_a_go_tls_port_is_one_final_error() {
    // What Go's net/http (so Consul) does with a plain request on its TLS port: it peeks at
    // the first bytes, sees HTTP, answers 400 with this text and closes.
    let port = serve_plain(
        b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
    )
    .await;
    let (err, _) = agent_self_retried(&format!("http://127.0.0.1:{port}")).await;
    assert_plain_http_to_tls(&err, port);
}

#[tokio::test]
async fn a_plain_http_server_that_resets_is_not_called_tls() {
    // A server that drops every connection unanswered speaks no TLS either: the probe
    // must not turn a reset into "use https://".
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            drop(tcp);
        }
    });
    let client = Client::new(
        ClientConfig::default()
            .with_address(&format!("http://127.0.0.1:{port}"))
            .unwrap(),
    )
    .unwrap();
    let err = client
        .agent_self(&QueryOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.transport_kind(),
            Some(TransportKind::Reset | TransportKind::Other)
        ),
        "{err:?}"
    );
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test]
async fn https_to_a_plain_port_is_a_handshake_failure_and_retryable() {
    let port = serve_plain(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
    let client = Client::new(
        ClientConfig::default()
            .with_address(&format!("https://127.0.0.1:{port}"))
            .unwrap(),
    )
    .unwrap();
    let err = client
        .agent_self(&QueryOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.transport_kind(),
        Some(TransportKind::TlsHandshake),
        "{err:?}"
    );
    // As before kinds existed: only certificate errors are final.
    assert!(err.is_retryable(), "{err}");
}
