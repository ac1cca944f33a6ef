//! Throw-away PKIs for the TLS tests, made with the `openssl` CLI for each run (so nothing
//! expires in the repository): a CA ([`Ca`]), server and client certificates it signs
//! ([`Issued`]), and a rustls server configuration of a certificate ([`server_config`]) for
//! the emulators' HTTPS and gRPC-over-TLS listeners. Without the `openssl` CLI the helpers
//! panic: a TLS test never skips.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

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
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
}

impl Ca {
    /// A new CA named `name` (subject `CN=<name> test CA`), valid two days, its files in
    /// `dir`.
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

/// The certificates of a PEM file.
fn load_certs(path: &Path) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    rustls_pemfile::certs(&mut std::io::BufReader::new(file))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A rustls server configuration (ring, no client certificates) presenting `issued`,
/// offering the ALPN protocols `alpn` (`[b"h2"]` for gRPC, `[b"http/1.1"]` for the HTTP
/// API). Panics on unreadable files: the test made them.
pub fn server_config(issued: &Issued, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
    let certs = load_certs(&issued.cert);
    let key_file = std::fs::File::open(&issued.key)
        .unwrap_or_else(|e| panic!("{}: {e}", issued.key.display()));
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(key_file))
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("{}: no private key", issued.key.display()));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
    .unwrap_or_else(|e| panic!("TLS server config of {}: {e}", issued.cert.display()));
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}
