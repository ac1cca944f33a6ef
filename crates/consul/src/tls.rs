//! The TLS settings of the Go client, as one rustls `ClientConfig` handed to reqwest.
//!
//! reqwest's own builder knows a CA and a client identity, but not a server name to verify
//! against other than the URL's host (`CONSUL_TLS_SERVER_NAME`), nor a CA directory
//! (`CONSUL_CAPATH`), so the whole configuration is built here the way the Go client
//! (go-rootcerts, `api.SetupTLSConfig`) builds its `tls.Config`.

use crate::{ClientConfig, ConsulError};
use boundary::Links;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;

/// The rustls configuration for `config`'s TLS settings, as reqwest uses it (HTTP/1.1).
pub(crate) fn client_config(config: &ClientConfig) -> Result<rustls::ClientConfig, ConsulError> {
    let mut tls = rustls_client_config(config)?;
    // What reqwest offers itself without its http2 feature.
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

/// The rustls configuration for `config`'s TLS settings (CA file, PEM or directory, server
/// name, client certificate, verification), with no ALPN protocol set: for the other
/// transports that reach Consul with the same settings (crates/consul-grpc offers `h2`).
pub fn rustls_client_config(config: &ClientConfig) -> Result<rustls::ClientConfig, ConsulError> {
    // As reqwest does: a provider the process installed, else ring (what reqwest's
    // `rustls-tls` feature links). Never the ambiguous process default, which panics when
    // the workspace links two providers.
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConsulError::Config(format!("TLS protocol versions: {e}")))?;

    let builder = if config.insecure_skip_verify {
        tracing::warn!(
            address = %config.address,
            "TLS certificate verification is disabled (CONSUL_HTTP_SSL_VERIFY=false): \
             anyone on the network path can impersonate Consul and read the tokens sent to it"
        );
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoCertificateVerification {
                algorithms: provider.signature_verification_algorithms,
            }))
    } else {
        let roots = root_store(config)?;
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| ConsulError::Config(format!("TLS certificate verifier: {e}")))?;
        match &config.tls_server_name {
            Some(name) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(FixedNameVerifier {
                    inner: webpki,
                    name: server_name(name)?,
                })),
            None => builder.with_webpki_verifier(webpki),
        }
    };

    let tls = match (&config.client_cert, &config.client_key) {
        (Some(cert), Some(key)) => {
            let certs = read_certificates(cert, "CONSUL_CLIENT_CERT")?;
            let key = read_private_key(key)?;
            builder
                .with_client_auth_cert(certs, key)
                // rustls's message says what is wrong (e.g. key and certificate do not
                // match); it never contains the key.
                .map_err(|e| ConsulError::Config(format!("client certificate and key: {e}")))?
        }
        (None, None) => builder.with_no_client_auth(),
        // The Go client silently ignores half a pair; a task that meant to use mTLS would
        // then fail at every request with a less clear TLS error.
        (Some(_), None) => {
            return Err(ConsulError::Config(
                "CONSUL_CLIENT_CERT is set but CONSUL_CLIENT_KEY is not".to_owned(),
            ))
        }
        (None, Some(_)) => {
            return Err(ConsulError::Config(
                "CONSUL_CLIENT_KEY is set but CONSUL_CLIENT_CERT is not".to_owned(),
            ))
        }
    };
    Ok(tls)
}

/// The CAs to trust, with go-rootcerts' precedence: the CA file, else the PEM text, else
/// the CA directory, else the public web PKI roots.
fn root_store(config: &ClientConfig) -> Result<RootCertStore, ConsulError> {
    let mut store = RootCertStore::empty();
    if let Some(file) = &config.ca_file {
        let what = format!("CA file {}", file.display());
        add_pem(&mut store, &read_pem_file(file, "CA file")?, &what)?;
    } else if let Some(pem) = &config.ca_pem {
        add_pem(&mut store, pem.as_bytes(), "CA PEM text")?;
    } else if let Some(dir) = &config.ca_path {
        let files = boundary::read_ca_dir(dir)
            .map_err(|e| ConsulError::Config(format!("CA path: {}", boundary::error_chain(&e))))?;
        if files.is_empty() {
            return Err(ConsulError::Config(format!(
                "CA path {}: no CA file in it",
                dir.display()
            )));
        }
        for (file, pem) in files {
            add_pem(
                &mut store,
                &pem,
                &format!("CA path file {}", file.display()),
            )?;
        }
    } else {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    Ok(store)
}

/// Reads a PEM file the operator named (links followed), bounded and regular files only.
fn read_pem_file(path: &Path, what: &str) -> Result<Vec<u8>, ConsulError> {
    boundary::read_file(path, boundary::PEM_FILE_LIMIT, Links::Follow)
        .map_err(|e| ConsulError::Config(format!("{what}: {}", boundary::error_chain(&e))))
}

/// Adds the certificates of a PEM bundle. As Go's `AppendCertsFromPEM`, a certificate
/// rustls cannot parse is skipped, and a bundle without any usable one is an error.
fn add_pem(store: &mut RootCertStore, pem: &[u8], what: &str) -> Result<(), ConsulError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConsulError::Config(format!("{what}: {e}")))?;
    let (added, _ignored) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(ConsulError::Config(format!(
            "{what}: no PEM certificate found"
        )));
    }
    Ok(())
}

fn read_certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, ConsulError> {
    let pem = read_pem_file(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConsulError::Config(format!("{what} {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(ConsulError::Config(format!(
            "{what} {}: no PEM certificate found",
            path.display()
        )));
    }
    Ok(certs)
}

fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, ConsulError> {
    let pem = read_pem_file(path, "CONSUL_CLIENT_KEY")?;
    // The PEM parser's message may quote a line of the file: the key's own text must never
    // reach an error, so only the kind of failure is reported.
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        let why = match e {
            rustls::pki_types::pem::Error::NoItemsFound => "no PEM private key found",
            _ => "not a valid PEM private key",
        };
        ConsulError::Config(format!("CONSUL_CLIENT_KEY {}: {why}", path.display()))
    })
}

/// `CONSUL_TLS_SERVER_NAME` as a name to verify: a DNS name or an IP address, with an
/// optional `:port` dropped as the Go client does.
fn server_name(name: &str) -> Result<ServerName<'static>, ConsulError> {
    let host = if let Some((host, _)) = name.strip_prefix('[').and_then(|r| r.split_once(']')) {
        host
    } else {
        match name.rsplit_once(':') {
            // A bare IPv6 address has colons of its own and no port.
            Some((host, port))
                if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                host
            }
            _ => name,
        }
    };
    ServerName::try_from(host.to_owned())
        .map_err(|e| ConsulError::Config(format!("TLS server name {name:?}: {e}")))
}

/// Verifies the server's certificate against a configured name instead of the host the
/// connection went to (Go's `tls.Config.ServerName`): Consul servers reached by IP address
/// carry certificates for `server.<dc>.<domain>`.
#[derive(Debug)]
struct FixedNameVerifier {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for FixedNameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _connected_to: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn root_hint_subjects(&self) -> Option<&[rustls::DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

/// `CONSUL_HTTP_SSL_VERIFY=false`: any certificate is accepted. The handshake signatures are
/// still checked, which costs nothing and keeps the connection bound to the presented key.
#[derive(Debug)]
struct NoCertificateVerification {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for NoCertificateVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_drop_a_port_like_the_go_client() {
        let dns = |n: &str| ServerName::try_from(n.to_owned()).unwrap();
        assert_eq!(
            server_name("server.dc1.consul").unwrap(),
            dns("server.dc1.consul")
        );
        assert_eq!(
            server_name("server.dc1.consul:8501").unwrap(),
            dns("server.dc1.consul")
        );
        assert_eq!(server_name("10.0.0.1:8501").unwrap(), dns("10.0.0.1"));
        assert_eq!(server_name("::1").unwrap(), dns("::1"));
        assert_eq!(server_name("[::1]:8501").unwrap(), dns("::1"));
        assert!(matches!(
            server_name("not a name"),
            Err(ConsulError::Config(_))
        ));
    }

    #[test]
    fn half_a_client_certificate_is_a_configuration_error() {
        let only_cert = ClientConfig::default().with_client_cert(Some("/c.pem"), None::<&str>);
        let err = client_config(&only_cert).unwrap_err();
        assert!(
            err.to_string().contains("CONSUL_CLIENT_KEY is not"),
            "{err}"
        );
        let only_key = ClientConfig::default().with_client_cert(None::<&str>, Some("/k.pem"));
        let err = client_config(&only_key).unwrap_err();
        assert!(
            err.to_string().contains("CONSUL_CLIENT_CERT is not"),
            "{err}"
        );
    }

    #[test]
    fn a_private_key_that_does_not_parse_is_not_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        let secret = "c2VjcmV0IGtleSBtYXRlcmlhbA==!!";
        std::fs::write(
            &key,
            format!("-----BEGIN PRIVATE KEY-----\n{secret}\n-----END PRIVATE KEY-----\n"),
        )
        .unwrap();
        let err = read_private_key(&key).unwrap_err().to_string();
        assert!(err.contains("not a valid PEM private key"), "{err}");
        assert!(!err.contains("c2VjcmV0"), "{err}");
        std::fs::write(&key, "nothing here").unwrap();
        let err = read_private_key(&key).unwrap_err().to_string();
        assert!(err.contains("no PEM private key found"), "{err}");
    }
}
