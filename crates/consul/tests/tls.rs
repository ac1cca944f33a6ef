//! HTTPS with a custom CA: the client trusts exactly the configured CA (file or PEM text)
//! and refuses a server whose certificate another CA signed. Certificates are made with the
//! `openssl` CLI for each run; the server is rustls on 127.0.0.1.

use consul::{Client, ClientConfig, ConsulError, QueryOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI is needed for the TLS tests");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes `<name>-ca.pem` and a server certificate for 127.0.0.1 signed by it.
fn make_pki(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = format!("{name}-ca.key");
    let ca = format!("{name}-ca.pem");
    let key = format!("{name}-server.key");
    let csr = format!("{name}-server.csr");
    let cert = format!("{name}-server.pem");
    let ext = format!("{name}-ext.cnf");
    std::fs::write(
        dir.join(&ext),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &ca_key,
            "-out",
            &ca,
            "-days",
            "2",
            "-subj",
            &format!("/CN={name} test CA"),
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &cert,
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    );
    (dir.join(ca), dir.join(cert), dir.join(key))
}

/// Serves one canned JSON answer to every request over TLS; returns the port.
async fn serve_tls(cert: &Path, key: &Path, body: &'static str) -> u16 {
    let certs: Vec<_> = rustls_pemfile::certs(&mut std::io::BufReader::new(
        std::fs::File::open(cert).unwrap(),
    ))
    .collect::<Result<_, _>>()
    .unwrap();
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(
        std::fs::File::open(key).unwrap(),
    ))
    .unwrap()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A failed handshake is the expected outcome of the wrong-CA test.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test]
async fn https_with_custom_ca_file_and_pem() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_pki(dir.path(), "good");
    let port = serve_tls(&cert, &key, r#"{"Config":{"Datacenter":"dc1"}}"#).await;
    let addr = format!("https://127.0.0.1:{port}");

    let cfg = ClientConfig::default()
        .with_address(&addr)
        .unwrap()
        .with_ca_file(Some(ca.clone()));
    let me = Client::new(cfg)
        .unwrap()
        .agent_self(&QueryOptions::default())
        .await
        .unwrap();
    assert_eq!(me.datacenter(), Some("dc1"));

    let cfg = ClientConfig::default()
        .with_address(&addr)
        .unwrap()
        .with_ca_pem(std::fs::read_to_string(&ca).unwrap());
    let me = Client::new(cfg)
        .unwrap()
        .agent_self(&QueryOptions::default())
        .await
        .unwrap();
    assert_eq!(me.datacenter(), Some("dc1"));
}

#[tokio::test]
async fn https_refuses_a_certificate_from_another_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, key) = make_pki(dir.path(), "server");
    let (other_ca, _, _) = make_pki(dir.path(), "other");
    let port = serve_tls(&cert, &key, "{}").await;
    let cfg = ClientConfig::default()
        .with_address(&format!("https://127.0.0.1:{port}"))
        .unwrap()
        .with_ca_file(Some(other_ca));
    let err = Client::new(cfg)
        .unwrap()
        .agent_self(&QueryOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ConsulError::Transport { .. }), "{err:?}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    // And without any CA configured the web PKI roots do not know the test CA either.
    let cfg = ClientConfig::default()
        .with_address(&format!("https://127.0.0.1:{port}"))
        .unwrap();
    assert!(Client::new(cfg)
        .unwrap()
        .agent_self(&QueryOptions::default())
        .await
        .is_err());
}

#[test]
fn unusable_ca_files_are_configuration_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = ClientConfig::default().with_ca_file(Some(dir.path().join("nope.pem")));
    assert!(matches!(Client::new(missing), Err(ConsulError::Config(_))));
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let junk = ClientConfig::default().with_ca_file(Some(junk));
    assert!(matches!(Client::new(junk), Err(ConsulError::Config(_))));
}
