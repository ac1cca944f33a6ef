//! gRPC over TLS: the CA from a file or from PEM text (`CONSUL_GRPC_CACERT_PEM` wins over
//! the file), the server name checked, and refusals of a certificate from another CA or for
//! another name. Certificates are made with the `openssl` CLI for each run (testkit's PKI
//! helper).

mod common;

use common::settings;
use consul_grpc::{GrpcError, GrpcTls, ServerConnection};
use testkit::consul::{ConsulEmulator, EmulatorOptions};
use testkit::consul_grpc::{ConsulGrpcServer, GrpcServerOptions};
use testkit::pki::{self, Ca};

struct World {
    _dir: tempfile::TempDir,
    ca: Ca,
    other: Ca,
    _consul: ConsulEmulator,
    grpc: ConsulGrpcServer,
}

/// A TLS gRPC server whose certificate names `server.dc1.consul` and 127.0.0.1.
fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "good");
    let other = Ca::new(dir.path(), "other");
    let issued = ca.server("server", "DNS:server.dc1.consul,IP:127.0.0.1");
    let consul = ConsulEmulator::start(EmulatorOptions::default());
    let grpc = ConsulGrpcServer::start(
        &consul,
        GrpcServerOptions {
            tls: Some(pki::server_config(&issued, &[b"h2"])),
            ..GrpcServerOptions::default()
        },
    )
    .unwrap();
    World {
        _dir: dir,
        ca,
        other,
        _consul: consul,
        grpc,
    }
}

async fn connect(w: &World, tls: GrpcTls) -> Result<ServerConnection, GrpcError> {
    ServerConnection::connect(settings("127.0.0.1", w.grpc.addr().port(), Some(tls))).await
}

/// A call through the connection works (ACLs are off: the stream needs no token).
async fn works(conn: &ServerConnection) {
    let mut stream = conn.client().watch_servers(None).await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap().len(), 1);
}

#[tokio::test]
async fn tls_with_a_ca_file_or_pem_text_and_a_server_name() {
    let w = world();
    // The hosts address (127.0.0.1) is the name checked when none is configured.
    let by_file = GrpcTls {
        ca_file: Some(w.ca.cert.clone()),
        ..GrpcTls::default()
    };
    works(&connect(&w, by_file).await.unwrap()).await;

    let by_name = GrpcTls {
        ca_file: Some(w.ca.cert.clone()),
        server_name: Some("server.dc1.consul".into()),
        ..GrpcTls::default()
    };
    works(&connect(&w, by_name).await.unwrap()).await;

    // The PEM text wins over a file of another CA.
    let pem_wins = GrpcTls {
        ca_file: Some(w.other.cert.clone()),
        ca_pem: Some(std::fs::read_to_string(&w.ca.cert).unwrap()),
        server_name: None,
    };
    works(&connect(&w, pem_wins).await.unwrap()).await;
}

#[tokio::test]
async fn tls_refuses_another_ca_another_name_and_plain_text() {
    let w = world();
    let wrong_ca = GrpcTls {
        ca_file: Some(w.other.cert.clone()),
        ..GrpcTls::default()
    };
    let started = std::time::Instant::now();
    let err = connect(&w, wrong_ca).await.unwrap_err();
    // Final at once (as the HTTP client), not retried until the connect deadline.
    assert!(err.is_certificate(), "{err:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{err}"
    );
    assert!(
        boundary::error_chain(&err)
            .to_lowercase()
            .contains("certificate"),
        "{err}"
    );

    let wrong_name = GrpcTls {
        ca_file: Some(w.ca.cert.clone()),
        server_name: Some("server.dc2.consul".into()),
        ..GrpcTls::default()
    };
    let err = connect(&w, wrong_name).await.unwrap_err();
    assert!(
        err.is_certificate() && err.to_string().contains("not valid for name"),
        "{err}"
    );

    // A client without TLS gets no answer it can use from a TLS port (the TCP connection
    // opens; the first call fails).
    match ServerConnection::connect(settings("127.0.0.1", w.grpc.addr().port(), None)).await {
        Err(_) => {}
        Ok(plain) => {
            let err = plain.client().watch_servers(None).await.unwrap_err();
            assert!(retry::Retryable::is_retryable(&err), "{err:?}");
        }
    }

    // A CA file that is not there is a settings error, reported at once.
    let missing = GrpcTls {
        ca_file: Some(w._dir.path().join("missing.pem")),
        ..GrpcTls::default()
    };
    let err = connect(&w, missing).await.unwrap_err();
    assert!(matches!(err, GrpcError::Tls(_)), "{err:?}");
    assert!(err.to_string().contains("missing.pem"), "{err}");
}
