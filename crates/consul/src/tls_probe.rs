//! Does a server speak TLS? Asked when a plain-HTTP request got no HTTP answer (reset,
//! closed, garbled), so "the address should be https://" is said once instead of retried as
//! a network failure.
//!
//! The probe sends a TLS ClientHello and looks only at the header of the first record that
//! comes back: a handshake or alert record means a TLS server. No handshake is completed and
//! nothing is sent or trusted over it, so no certificate needs verifying.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// TLS record content types a server answers a ClientHello with.
const ALERT: u8 = 0x15;
const HANDSHAKE: u8 = 0x16;
/// The major version byte of every TLS record (SSL 3.0 to TLS 1.3 all say 3).
const TLS_MAJOR: u8 = 0x03;

/// Whether `host:port` answers a TLS ClientHello with a TLS record, within `timeout`.
pub(crate) async fn speaks_tls(host: &str, port: u16, timeout: Duration) -> bool {
    let Some(hello) = client_hello(host) else {
        return false;
    };
    let probe = async {
        let mut stream = TcpStream::connect((host, port)).await.ok()?;
        stream.write_all(&hello).await.ok()?;
        let mut header = [0u8; 2];
        stream.read_exact(&mut header).await.ok()?;
        Some(matches!(header[0], ALERT | HANDSHAKE) && header[1] == TLS_MAJOR)
    };
    matches!(tokio::time::timeout(timeout, probe).await, Ok(Some(true)))
}

/// The bytes of a ClientHello for `host`, made by rustls.
fn client_hello(host: &str) -> Option<Vec<u8>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned()).ok()?;
    let mut connection = rustls::ClientConnection::new(Arc::new(config), name).ok()?;
    let mut hello = Vec::new();
    connection.write_tls(&mut hello).ok()?;
    Some(hello)
}
