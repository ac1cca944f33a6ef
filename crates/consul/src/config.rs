//! Where Consul is and how to authenticate: address, CA, token, namespace, partition.

use crate::{ConsulError, Secret};
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// The address used when nothing is configured, as in the Go client.
pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:8500";

/// Default timeout of one HTTP request (connect + answer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the ACL token comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TokenSource {
    /// No token: requests carry no `X-Consul-Token` header (anonymous).
    #[default]
    None,
    /// A fixed token.
    Value(Secret),
    /// A file holding the token, read on every request so a rewritten file (a new login) is
    /// picked up. Surrounding white space is ignored; an empty file means no token.
    File(PathBuf),
}

impl TokenSource {
    /// The token to send now, if any (a token file is read now).
    pub fn current(&self) -> Result<Option<Secret>, ConsulError> {
        match self {
            TokenSource::None => Ok(None),
            TokenSource::Value(s) if s.is_empty() => Ok(None),
            TokenSource::Value(s) => Ok(Some(s.clone())),
            TokenSource::File(path) => {
                // The file is a few dozen bytes; re-reading it is cheaper than being wrong
                // about mtime granularity.
                let text =
                    std::fs::read_to_string(path).map_err(|source| ConsulError::TokenFile {
                        path: path.clone(),
                        source,
                    })?;
                let token = text.trim();
                Ok((!token.is_empty()).then(|| Secret::new(token)))
            }
        }
    }
}

/// Settings of a [`crate::Client`].
///
/// Build it with [`ClientConfig::from_env`] (the Go client's environment variables) and
/// override single fields with the `with_*` methods, e.g. mesh-init's `consulHTTPAddr` and
/// `consulCACertFile`.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    /// Base URL (`http://` or `https://`), possibly with a path prefix.
    pub address: Url,
    /// PEM file of the CA(s) that sign Consul's HTTPS certificate. When set, only these CAs
    /// are trusted (as the Go client does); otherwise the built-in web PKI roots.
    pub ca_file: Option<PathBuf>,
    /// PEM text of the CA(s), an alternative to `ca_file` (the acl-controller gets its CA in
    /// `CONSUL_CACERT_PEM`). Both may be set; all certificates are trusted.
    pub ca_pem: Option<String>,
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
            token: TokenSource::None,
            namespace: String::new(),
            partition: String::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl ClientConfig {
    /// Reads `CONSUL_HTTP_ADDR`, `CONSUL_HTTP_SSL`, `CONSUL_CACERT`, `CONSUL_HTTP_TOKEN`,
    /// `CONSUL_HTTP_TOKEN_FILE`, `CONSUL_NAMESPACE` and `CONSUL_PARTITION` from the process
    /// environment. Unset or empty variables keep the defaults.
    pub fn from_env() -> Result<Self, ConsulError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`ClientConfig::from_env`] with a custom variable lookup (for tests and callers that
    /// pass an explicit environment).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConsulError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut cfg = ClientConfig::default();
        let ssl = match get("CONSUL_HTTP_SSL") {
            Some(v) => parse_bool(&v).ok_or_else(|| {
                ConsulError::Config(format!("CONSUL_HTTP_SSL: not a boolean: {v:?}"))
            })?,
            None => false,
        };
        if let Some(addr) = get("CONSUL_HTTP_ADDR") {
            cfg.address = parse_address(&addr, ssl)?;
        } else if ssl {
            cfg.address = parse_address("127.0.0.1:8500", true)?;
        }
        if let Some(ca) = get("CONSUL_CACERT") {
            cfg.ca_file = Some(PathBuf::from(ca));
        }
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

    /// Overrides the CA file; `None` or an empty path keeps the current one.
    pub fn with_ca_file(mut self, ca_file: Option<impl Into<PathBuf>>) -> Self {
        if let Some(path) = ca_file.map(Into::into) {
            if !path.as_os_str().is_empty() {
                self.ca_file = Some(path);
            }
        }
        self
    }

    /// Adds CA certificates given as PEM text.
    pub fn with_ca_pem(mut self, pem: impl Into<String>) -> Self {
        self.ca_pem = Some(pem.into());
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
