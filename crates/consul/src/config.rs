//! Where Consul is and how to reach it: address, TLS, token, namespace, partition.

use crate::{ConsulError, Secret};
use boundary::{CachedFile, Links};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// The address used when nothing is configured, as in the Go client.
pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:8500";

/// Default timeout of one HTTP request (connect + answer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest token file read. A Consul token is a 36-character UUID; a file much larger than
/// that is not a token file, and reading it whole (`/dev/zero`) must not eat the memory.
pub const TOKEN_FILE_LIMIT: u64 = 4096;

/// Where the ACL token comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TokenSource {
    /// No token: requests carry no `X-Consul-Token` header (anonymous).
    #[default]
    None,
    /// A fixed token.
    Value(Secret),
    /// A token file the operator named (`CONSUL_HTTP_TOKEN_FILE`), looked at on every
    /// request so a rewritten file is picked up. A symlink there is followed: the operator
    /// may well point the variable at a link (a mounted secret). Surrounding white space is
    /// ignored; an empty file means no token.
    File(PathBuf),
    /// A token file consul-ecs wrote itself (the `service-token` of the bootstrap
    /// directory), looked at on every request like [`TokenSource::File`]. A symlink there is
    /// refused, never followed: consul-ecs writes a regular file, so a link was put there by
    /// someone else, and reading through it would send another file's content to Consul as
    /// `X-Consul-Token`.
    OwnFile(PathBuf),
}

impl TokenSource {
    /// The token to send now, if any (a token file is read now, on the calling thread).
    ///
    /// A token file must be a regular file of at most [`TOKEN_FILE_LIMIT`] bytes: a path at
    /// a device or a FIFO fails at once instead of filling the memory or blocking forever.
    pub fn current(&self) -> Result<Option<Secret>, ConsulError> {
        match self.file() {
            Some((path, links)) => {
                token_from_file(path, boundary::read_file(path, TOKEN_FILE_LIMIT, links))
            }
            None => Ok(self.value()),
        }
    }

    /// [`TokenSource::current`] with a token file read on tokio's blocking pool, for async
    /// callers (the runtime's only thread never waits on the disk).
    pub async fn current_off_thread(&self) -> Result<Option<Secret>, ConsulError> {
        match self.file() {
            Some((path, links)) => token_from_file(
                path,
                boundary::read_file_off_thread(path, TOKEN_FILE_LIMIT, links).await,
            ),
            None => Ok(self.value()),
        }
    }

    /// The token file and whether a link there is followed; `None` for a fixed token.
    fn file(&self) -> Option<(&Path, Links)> {
        match self {
            TokenSource::File(path) => Some((path, Links::Follow)),
            TokenSource::OwnFile(path) => Some((path, Links::Refuse)),
            TokenSource::None | TokenSource::Value(_) => None,
        }
    }

    /// The fixed token, if any (an empty one means none).
    fn value(&self) -> Option<Secret> {
        match self {
            TokenSource::Value(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        }
    }
}

/// A [`TokenSource`] as a [`crate::Client`] reads it for each request: a token file is
/// only read again (on tokio's blocking pool) when it changed since the last read
/// ([`boundary::CachedFile`]), so a replaced or rewritten file is still picked up at the next
/// request, and an unchanged one costs a `stat`.
#[derive(Clone, Debug)]
pub(crate) struct TokenReader {
    source: TokenSource,
    file: Option<Arc<CachedFile>>,
}

impl TokenReader {
    pub(crate) fn new(source: TokenSource) -> TokenReader {
        let file = source
            .file()
            .map(|(path, links)| Arc::new(CachedFile::new(path, TOKEN_FILE_LIMIT, links)));
        TokenReader { source, file }
    }

    /// The token to send now, if any.
    pub(crate) async fn current(&self) -> Result<Option<Secret>, ConsulError> {
        match &self.file {
            Some(file) => token_from_file(file.path(), file.read().await.map(|b| b.to_vec())),
            None => Ok(self.source.value()),
        }
    }
}

/// The token in a token file's content: UTF-8 text, white space around it ignored, an
/// empty file meaning no token. Errors name the file, never its content.
fn token_from_file(
    path: &Path,
    read: Result<Vec<u8>, boundary::ReadError>,
) -> Result<Option<Secret>, ConsulError> {
    let text = read
        .and_then(|bytes| boundary::file_text(path, bytes))
        .map_err(|source| ConsulError::TokenFile {
            path: path.to_path_buf(),
            source,
        })?;
    let token = text.trim();
    Ok((!token.is_empty()).then(|| Secret::new(token)))
}

/// Settings of a [`crate::Client`].
///
/// Build it with [`ClientConfig::from_env`] (the Go client's environment variables) and
/// override single fields with the `with_*` methods, e.g. mesh-init's `consulHTTPAddr` and
/// `consulCACertFile`: an override applied after `from_env` wins over the environment.
///
/// `Debug` shows file paths, never a token or a key: the token is a [`Secret`], and the
/// client key is only ever named by its path.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    /// Base URL (`http://` or `https://`), possibly with a path prefix.
    pub address: Url,
    /// PEM file of the CA(s) that sign Consul's HTTPS certificate (`CONSUL_CACERT`).
    ///
    /// The CA settings are used as the Go client (go-rootcerts) uses them: only the first
    /// one set of `ca_file`, `ca_pem` and `ca_path` counts, and when one is set only its CAs
    /// are trusted; with none, the built-in web PKI roots are.
    pub ca_file: Option<PathBuf>,
    /// PEM text of the CA(s), used when `ca_file` is not set (the acl-controller gets its CA
    /// in `CONSUL_CACERT_PEM`).
    pub ca_pem: Option<String>,
    /// A directory of PEM CA files, searched recursively (`CONSUL_CAPATH`), used when
    /// neither `ca_file` nor `ca_pem` is set.
    pub ca_path: Option<PathBuf>,
    /// PEM file of the client certificate presented to Consul (`CONSUL_CLIENT_CERT`), for
    /// servers that verify incoming HTTPS clients. Needs `client_key`.
    pub client_cert: Option<PathBuf>,
    /// PEM file of the client certificate's private key (`CONSUL_CLIENT_KEY`).
    pub client_key: Option<PathBuf>,
    /// The name Consul's certificate is verified against instead of the address's host
    /// (`CONSUL_TLS_SERVER_NAME`), e.g. `server.dc1.consul` when the servers are reached by
    /// IP address. A `:port` suffix is ignored, as the Go client does. Only the
    /// verification uses it: the TLS SNI still names the address's host (none for an IP
    /// address), which Consul does not look at.
    pub tls_server_name: Option<String>,
    /// Do not verify Consul's certificate at all (`CONSUL_HTTP_SSL_VERIFY=false`). Anyone
    /// on the path can then impersonate Consul; [`crate::Client::new`] logs a warning every
    /// time it builds a client with this set.
    pub insecure_skip_verify: bool,
    /// The ACL token to send.
    pub token: TokenSource,
    /// Default namespace (`ns=` query) for every request; empty means none is sent.
    pub namespace: String,
    /// Default admin partition (`partition=` query) for every request; empty means none.
    pub partition: String,
    /// Timeout of one HTTP request.
    pub timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            // The constant is a valid URL; parsing it cannot fail.
            address: Url::parse(DEFAULT_ADDRESS).expect("DEFAULT_ADDRESS is a valid URL"),
            ca_file: None,
            ca_pem: None,
            ca_path: None,
            client_cert: None,
            client_key: None,
            tls_server_name: None,
            insecure_skip_verify: false,
            token: TokenSource::None,
            namespace: String::new(),
            partition: String::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl ClientConfig {
    /// Reads the Go client's variables from the process environment: `CONSUL_HTTP_ADDR`,
    /// `CONSUL_HTTP_SSL`, `CONSUL_CACERT`, `CONSUL_CAPATH`, `CONSUL_CLIENT_CERT`,
    /// `CONSUL_CLIENT_KEY`, `CONSUL_TLS_SERVER_NAME`, `CONSUL_HTTP_SSL_VERIFY`,
    /// `CONSUL_HTTP_TOKEN`, `CONSUL_HTTP_TOKEN_FILE`, `CONSUL_NAMESPACE` and
    /// `CONSUL_PARTITION`. Unset or empty variables keep the defaults; a boolean that is not
    /// one is an error (the Go client would only log it and go on).
    pub fn from_env() -> Result<Self, ConsulError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`ClientConfig::from_env`] with a custom variable lookup (for tests and callers that
    /// pass an explicit environment).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConsulError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let get_bool = |name: &str| -> Result<Option<bool>, ConsulError> {
            get(name)
                .map(|v| {
                    parse_bool(&v)
                        .ok_or_else(|| ConsulError::Config(format!("{name}: not a boolean: {v:?}")))
                })
                .transpose()
        };
        let mut cfg = ClientConfig::default();
        let ssl = get_bool("CONSUL_HTTP_SSL")?.unwrap_or(false);
        if let Some(addr) = get("CONSUL_HTTP_ADDR") {
            cfg.address = parse_address(&addr, ssl)?;
        } else if ssl {
            cfg.address = parse_address("127.0.0.1:8500", true)?;
        }
        cfg.ca_file = get("CONSUL_CACERT").map(PathBuf::from);
        cfg.ca_path = get("CONSUL_CAPATH").map(PathBuf::from);
        cfg.client_cert = get("CONSUL_CLIENT_CERT").map(PathBuf::from);
        cfg.client_key = get("CONSUL_CLIENT_KEY").map(PathBuf::from);
        cfg.tls_server_name = get("CONSUL_TLS_SERVER_NAME").map(|n| n.trim().to_owned());
        cfg.insecure_skip_verify = !get_bool("CONSUL_HTTP_SSL_VERIFY")?.unwrap_or(true);
        // The Go client gives the token file precedence over the token value.
        if let Some(file) = get("CONSUL_HTTP_TOKEN_FILE") {
            cfg.token = TokenSource::File(PathBuf::from(file));
        } else if let Some(token) = get("CONSUL_HTTP_TOKEN") {
            cfg.token = TokenSource::Value(Secret::new(token.trim()));
        }
        if let Some(ns) = get("CONSUL_NAMESPACE") {
            cfg.namespace = ns;
        }
        if let Some(p) = get("CONSUL_PARTITION") {
            cfg.partition = p;
        }
        Ok(cfg)
    }

    /// Overrides the address (same syntax as `CONSUL_HTTP_ADDR`); an empty string keeps the
    /// current one, so an unset config field can be passed straight through.
    pub fn with_address(mut self, address: &str) -> Result<Self, ConsulError> {
        if !address.trim().is_empty() {
            self.address = parse_address(address, false)?;
        }
        Ok(self)
    }

    /// Overrides the CA file; `None` or an empty path keeps the current one. The CA file
    /// wins over `ca_pem` and `ca_path` (see [`ClientConfig::ca_file`]).
    pub fn with_ca_file(mut self, ca_file: Option<impl Into<PathBuf>>) -> Self {
        if let Some(path) = non_empty_path(ca_file) {
            self.ca_file = Some(path);
        }
        self
    }

    /// Sets the CA certificates as PEM text (used when no CA file is set).
    pub fn with_ca_pem(mut self, pem: impl Into<String>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// Overrides the CA directory; `None` or an empty path keeps the current one.
    pub fn with_ca_path(mut self, ca_path: Option<impl Into<PathBuf>>) -> Self {
        if let Some(path) = non_empty_path(ca_path) {
            self.ca_path = Some(path);
        }
        self
    }

    /// Overrides the client certificate and its key (PEM files); `None` or an empty path
    /// keeps the current one.
    pub fn with_client_cert(
        mut self,
        cert: Option<impl Into<PathBuf>>,
        key: Option<impl Into<PathBuf>>,
    ) -> Self {
        if let Some(cert) = non_empty_path(cert) {
            self.client_cert = Some(cert);
        }
        if let Some(key) = non_empty_path(key) {
            self.client_key = Some(key);
        }
        self
    }

    /// Overrides the name Consul's certificate is verified against; `None` or an empty
    /// name keeps the current one.
    pub fn with_tls_server_name(mut self, name: Option<impl Into<String>>) -> Self {
        if let Some(name) = name.map(Into::into) {
            let name = name.trim();
            if !name.is_empty() {
                self.tls_server_name = Some(name.to_owned());
            }
        }
        self
    }

    /// Whether Consul's certificate is verified (`false` is `CONSUL_HTTP_SSL_VERIFY=false`).
    pub fn with_tls_verify(mut self, verify: bool) -> Self {
        self.insecure_skip_verify = !verify;
        self
    }

    /// Replaces the token source.
    pub fn with_token(mut self, token: TokenSource) -> Self {
        self.token = token;
        self
    }

    /// Replaces the default namespace (empty = none).
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Replaces the default partition (empty = none).
    pub fn with_partition(mut self, partition: impl Into<String>) -> Self {
        self.partition = partition.into();
        self
    }

    /// Replaces the per-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Parses a Consul address as the Go client does: `host:port` (no scheme) means `http://`
/// (or `https://` when `ssl`), `http://…` and `https://…` are taken as they are, and a path
/// after the host is kept as a prefix of every API path. `unix://` sockets are not supported.
pub fn parse_address(address: &str, ssl: bool) -> Result<Url, ConsulError> {
    let address = address.trim();
    let with_scheme = if address.contains("://") {
        address.to_owned()
    } else if ssl {
        format!("https://{address}")
    } else {
        format!("http://{address}")
    };
    let url = Url::parse(&with_scheme)
        .map_err(|e| ConsulError::Config(format!("address {address:?}: {e}")))?;
    match url.scheme() {
        "http" | "https" => {}
        "unix" => {
            return Err(ConsulError::Config(format!(
                "address {address:?}: unix sockets are not supported"
            )))
        }
        other => {
            return Err(ConsulError::Config(format!(
                "address {address:?}: unsupported scheme {other:?}"
            )))
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConsulError::Config(format!("address {address:?}: no host")));
    }
    if url.query().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(ConsulError::Config(format!(
            "address {address:?}: must not carry a query or credentials"
        )));
    }
    Ok(url)
}

fn non_empty_path(path: Option<impl Into<PathBuf>>) -> Option<PathBuf> {
    path.map(Into::into).filter(|p| !p.as_os_str().is_empty())
}

fn parse_bool(v: &str) -> Option<bool> {
    // Go's strconv.ParseBool.
    match v.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Result<ClientConfig, ConsulError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ClientConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_without_environment() {
        let c = env(&[]).unwrap();
        assert_eq!(c.address.as_str(), "http://127.0.0.1:8500/");
        assert_eq!(c.token, TokenSource::None);
        assert!(c.namespace.is_empty() && c.partition.is_empty() && c.ca_file.is_none());
    }

    #[test]
    fn address_forms() {
        assert_eq!(
            parse_address("consul:8500", false).unwrap().as_str(),
            "http://consul:8500/"
        );
        assert_eq!(
            parse_address("consul:8501", true).unwrap().as_str(),
            "https://consul:8501/"
        );
        assert_eq!(
            parse_address("https://consul.example.com:8501/consul", false)
                .unwrap()
                .as_str(),
            "https://consul.example.com:8501/consul"
        );
        assert!(parse_address("unix:///var/run/consul.sock", false).is_err());
        assert!(parse_address("ftp://x", false).is_err());
        assert!(parse_address("http://x:8500/?token=abc", false).is_err());
    }

    #[test]
    fn environment_is_honoured() {
        let c = env(&[
            ("CONSUL_HTTP_ADDR", "https://10.0.0.1:8501"),
            ("CONSUL_CACERT", "/consul/ca.pem"),
            ("CONSUL_HTTP_TOKEN", "tok"),
            ("CONSUL_NAMESPACE", "ns1"),
            ("CONSUL_PARTITION", "p1"),
        ])
        .unwrap();
        assert_eq!(c.address.as_str(), "https://10.0.0.1:8501/");
        assert_eq!(c.ca_file, Some(PathBuf::from("/consul/ca.pem")));
        assert_eq!(c.token, TokenSource::Value(Secret::new("tok")));
        assert_eq!((c.namespace.as_str(), c.partition.as_str()), ("ns1", "p1"));

        let c = env(&[
            ("CONSUL_HTTP_TOKEN", "tok"),
            ("CONSUL_HTTP_TOKEN_FILE", "/consul/token"),
            ("CONSUL_HTTP_SSL", "true"),
        ])
        .unwrap();
        assert_eq!(c.token, TokenSource::File(PathBuf::from("/consul/token")));
        assert_eq!(c.address.as_str(), "https://127.0.0.1:8500/");
        assert!(env(&[("CONSUL_HTTP_SSL", "maybe")]).is_err());
    }

    #[test]
    fn every_tls_variable_of_the_go_client_is_read() {
        let c = env(&[]).unwrap();
        assert!(c.ca_path.is_none() && c.client_cert.is_none() && c.client_key.is_none());
        assert!(c.tls_server_name.is_none() && !c.insecure_skip_verify);
        let c = env(&[
            ("CONSUL_CAPATH", "/consul/cas"),
            ("CONSUL_CLIENT_CERT", "/consul/client.pem"),
            ("CONSUL_CLIENT_KEY", "/consul/client-key.pem"),
            ("CONSUL_TLS_SERVER_NAME", " server.dc1.consul "),
            ("CONSUL_HTTP_SSL_VERIFY", "false"),
        ])
        .unwrap();
        assert_eq!(c.ca_path, Some(PathBuf::from("/consul/cas")));
        assert_eq!(c.client_cert, Some(PathBuf::from("/consul/client.pem")));
        assert_eq!(c.client_key, Some(PathBuf::from("/consul/client-key.pem")));
        assert_eq!(c.tls_server_name.as_deref(), Some("server.dc1.consul"));
        assert!(c.insecure_skip_verify);
        assert!(
            !env(&[("CONSUL_HTTP_SSL_VERIFY", "1")])
                .unwrap()
                .insecure_skip_verify
        );
        assert!(env(&[("CONSUL_HTTP_SSL_VERIFY", "no")]).is_err());
    }

    #[test]
    fn tls_overrides_win_and_empty_overrides_keep() {
        let c = env(&[
            ("CONSUL_CAPATH", "/env/cas"),
            ("CONSUL_CLIENT_CERT", "/env/c.pem"),
            ("CONSUL_CLIENT_KEY", "/env/k.pem"),
            ("CONSUL_TLS_SERVER_NAME", "env.consul"),
        ])
        .unwrap()
        .with_ca_path(Some(""))
        .with_client_cert(Some(""), None::<PathBuf>)
        .with_tls_server_name(Some(" "));
        assert_eq!(c.ca_path, Some(PathBuf::from("/env/cas")));
        assert_eq!(c.client_cert, Some(PathBuf::from("/env/c.pem")));
        assert_eq!(c.tls_server_name.as_deref(), Some("env.consul"));
        let c = c
            .with_ca_path(Some("/cfg/cas"))
            .with_client_cert(Some("/cfg/c.pem"), Some("/cfg/k.pem"))
            .with_tls_server_name(Some("cfg.consul"))
            .with_tls_verify(false);
        assert_eq!(c.ca_path, Some(PathBuf::from("/cfg/cas")));
        assert_eq!(c.client_cert, Some(PathBuf::from("/cfg/c.pem")));
        assert_eq!(c.client_key, Some(PathBuf::from("/cfg/k.pem")));
        assert_eq!(c.tls_server_name.as_deref(), Some("cfg.consul"));
        assert!(c.insecure_skip_verify);
    }

    #[test]
    fn overrides_win_and_empty_overrides_keep() {
        let c = env(&[("CONSUL_HTTP_ADDR", "a:1")])
            .unwrap()
            .with_address("")
            .unwrap();
        assert_eq!(c.address.as_str(), "http://a:1/");
        let c = c
            .with_address("https://b:8501")
            .unwrap()
            .with_ca_file(Some(""))
            .with_ca_file(Some("/ca.pem"))
            .with_ca_file(None::<PathBuf>);
        assert_eq!(c.address.as_str(), "https://b:8501/");
        assert_eq!(c.ca_file, Some(PathBuf::from("/ca.pem")));
    }

    #[test]
    fn debug_does_not_show_the_token() {
        let c = ClientConfig::default().with_token(TokenSource::Value(Secret::new("s3cr3t")));
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }
}
