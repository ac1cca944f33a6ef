//! Throw-away PKIs made with the `openssl` CLI, and a rustls HTTPS server on 127.0.0.1 that
//! answers every request with one canned JSON body, for the TLS tests.

#![allow(dead_code)] // each test file uses a different subset

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

/// A test CA: `<name>-ca.pem` and its key in `dir`.
pub struct Ca {
    dir: PathBuf,
    name: String,
    /// The CA certificate (PEM).
    pub cert: PathBuf,
    key: PathBuf,
}

/// A certificate and its key signed by a [`Ca`].
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Ca {
    pub fn new(dir: &Path, name: &str) -> Ca {
        let cert = format!("{name}-ca.pem");
        let key = format!("{name}-ca.key");
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
                &key,
                "-out",
                &cert,
                "-days",
                "2",
                "-subj",
                &format!("/CN={name} test CA"),
            ],
        );
        Ca {
            dir: dir.to_path_buf(),
            name: name.to_owned(),
            cert: dir.join(cert),
            key: dir.join(key),
        }
    }

    /// A server certificate for `san` (an openssl subjectAltName value, e.g.
    /// `IP:127.0.0.1,DNS:localhost`).
    pub fn server(&self, leaf: &str, san: &str) -> Issued {
        self.issue(
            leaf,
            &format!("subjectAltName={san}\nextendedKeyUsage=serverAuth\n"),
            None,
        )
    }

    /// A client certificate.
    pub fn client(&self, leaf: &str) -> Issued {
        self.issue(leaf, "extendedKeyUsage=clientAuth\n", None)
    }

    /// A server certificate for 127.0.0.1 that expired in 2020.
    pub fn expired_server(&self, leaf: &str) -> Issued {
        self.issue(
            leaf,
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
            Some(("20200101000000Z", "20200102000000Z")),
        )
    }

    fn issue(&self, leaf: &str, extensions: &str, dates: Option<(&str, &str)>) -> Issued {
        let prefix = format!("{}-{leaf}", self.name);
        let (key, csr, cert, ext) = (
            format!("{prefix}.key"),
            format!("{prefix}.csr"),
            format!("{prefix}.pem"),
            format!("{prefix}.cnf"),
        );
        std::fs::write(
            self.dir.join(&ext),
            format!("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n{extensions}"),
        )
        .unwrap();
        openssl(
            &self.dir,
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
                &format!("/CN={leaf}"),
            ],
        );
        let ca_cert = self.cert.to_string_lossy().into_owned();
        let ca_key = self.key.to_string_lossy().into_owned();
        match dates {
            None => openssl(
                &self.dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    &ca_cert,
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
            ),
            // `openssl x509` cannot date a certificate in the past; `openssl ca` can.
            Some((start, end)) => {
                let db = format!("{prefix}-index.txt");
                let serial = format!("{prefix}-serial");
                std::fs::write(self.dir.join(&db), "").unwrap();
                std::fs::write(self.dir.join(&serial), "01\n").unwrap();
                let conf = format!("{prefix}-ca.cnf");
                std::fs::write(
                    self.dir.join(&conf),
                    format!(
                        "[ca]\ndefault_ca = d\n[d]\ndatabase = {db}\nnew_certs_dir = .\n\
                         serial = {serial}\ndefault_md = sha256\npolicy = p\n\
                         unique_subject = no\n[p]\ncommonName = supplied\n"
                    ),
                )
                .unwrap();
                openssl(
                    &self.dir,
                    &[
                        "ca",
                        "-batch",
                        "-config",
                        &conf,
                        "-cert",
                        &ca_cert,
                        "-keyfile",
                        &ca_key,
                        "-startdate",
                        start,
                        "-enddate",
                        end,
                        "-in",
                        &csr,
                        "-out",
                        &cert,
                        "-extfile",
                        &ext,
                        "-notext",
                    ],
                );
            }
        }
        Issued {
            cert: self.dir.join(cert),
            key: self.dir.join(key),
        }
    }
}

fn load_certs(path: &Path) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    rustls_pemfile::certs(&mut std::io::BufReader::new(
        std::fs::File::open(path).unwrap(),
    ))
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Serves `body` to every request over TLS with `server`'s certificate; when `client_ca`
/// is given, only clients with a certificate that CA signed get past the handshake.
/// Returns the port.
pub async fn serve_tls(server: &Issued, client_ca: Option<&Path>, body: &'static str) -> u16 {
    let certs = load_certs(&server.cert);
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(
        std::fs::File::open(&server.key).unwrap(),
    ))
    .unwrap()
    .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in load_certs(ca) {
                roots.add(cert).unwrap();
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(certs, key).unwrap();
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
                // A failed handshake is the expected outcome of the refusal tests.
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
