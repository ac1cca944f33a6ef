//! The HTTP plumbing shared by every endpoint: URL building, token header, namespace and
//! partition parameters, status-to-error mapping.

use crate::config::TokenReader;
use crate::{ClientConfig, ConsulError, Secret, TokenSource, TransportKind};
use boundary::ReadError;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use url::Url;

/// Largest answer body read from a single-object or agent endpoint. Consul's largest such
/// answers (`agent/self`, a token with many policies) are tens of KiB.
pub const OBJECT_BODY_LIMIT: u64 = 1 << 20;

/// Largest answer body read from a list endpoint (tokens, policies, roles, auth methods,
/// binding rules, the agent's services and checks, namespaces, partitions, the catalog):
/// the acl-controller reads token lists of megabytes in a large datacenter.
pub const LIST_BODY_LIMIT: u64 = 64 << 20;

/// Largest error body read; [`ConsulError::Status`] keeps less than this anyway.
const ERROR_BODY_LIMIT: u64 = 64 << 10;

/// The body limit of a request to `segments` (the path after the base address).
fn body_limit(segments: &[&str]) -> u64 {
    match segments {
        ["v1", "acl", "tokens" | "policies" | "roles" | "auth-methods" | "binding-rules"
        | "templated-policies"]
        | ["v1", "agent", "services" | "checks" | "members"]
        | ["v1", "namespaces" | "partitions"]
        | ["v1", "catalog" | "health", ..] => LIST_BODY_LIMIT,
        _ => OBJECT_BODY_LIMIT,
    }
}

/// Per-call options: namespace/partition overrides, consistency, filter, token override.
///
/// `None` fields fall back to the client's defaults. Namespace and partition are sent only
/// when the resulting value is non-empty, because Consul CE rejects them outright
/// (docs/protocols.md §4.0).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryOptions {
    /// Namespace (`ns=`) for this call; `Some("")` suppresses the client's default.
    pub namespace: Option<String>,
    /// Admin partition (`partition=`) for this call; `Some("")` suppresses the default.
    pub partition: Option<String>,
    /// Add `?stale` so any server (not only the leader) may answer a read.
    pub stale: bool,
    /// A `filter=` expression (list endpoints that support it).
    pub filter: Option<String>,
    /// Send this token instead of the client's.
    pub token: Option<Secret>,
}

impl QueryOptions {
    /// Options for a `?stale` read.
    pub fn stale() -> Self {
        QueryOptions {
            stale: true,
            ..Default::default()
        }
    }

    /// Same options with another namespace.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Same options with another partition.
    pub fn with_partition(mut self, partition: impl Into<String>) -> Self {
        self.partition = Some(partition.into());
        self
    }

    /// Same options with another token.
    pub fn with_token(mut self, token: Secret) -> Self {
        self.token = Some(token);
        self
    }

    /// Same options with a filter expression.
    pub fn with_filter(mut self, filter: impl Into<String>) -> Self {
        self.filter = Some(filter.into());
        self
    }
}

/// A Consul HTTP API client. Cheap to clone (the connection pool is shared).
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: TokenReader,
    namespace: String,
    partition: String,
    /// The request timeout, which also bounds the plain-HTTP-to-TLS probe.
    timeout: std::time::Duration,
}

impl Client {
    /// Builds a client. Fails when a TLS file (CA file or directory, client certificate or
    /// key) cannot be read or holds nothing usable. Logs a warning when certificate
    /// verification is disabled, every time.
    pub fn new(config: ClientConfig) -> Result<Self, ConsulError> {
        let tls = crate::tls::client_config(&config)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            // The system resolver with typed failures, so "name not resolved" is told
            // by type (crate::resolve).
            .dns_resolver(std::sync::Arc::new(crate::resolve::SystemResolver))
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("consul-ecs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                ConsulError::Config(format!(
                    "building HTTP client: {}",
                    boundary::error_chain(&e)
                ))
            })?;
        Ok(Client {
            http,
            base: config.address,
            token: TokenReader::new(config.token),
            namespace: config.namespace,
            partition: config.partition,
            timeout: config.timeout,
        })
    }

    /// The same client (sharing connections) with another token source — e.g. the service
    /// token just obtained by login.
    pub fn with_token(&self, token: TokenSource) -> Client {
        Client {
            token: TokenReader::new(token),
            ..self.clone()
        }
    }

    /// The base address requests go to.
    pub fn address(&self) -> &Url {
        &self.base
    }

    fn url(&self, segments: &[&str], opts: &QueryOptions, extra: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        {
            // `cannot-be-a-base` URLs are rejected by `parse_address`, so this always works.
            if let Ok(mut path) = url.path_segments_mut() {
                path.pop_if_empty().extend(segments);
            }
        }
        url.set_query(None);
        let ns = opts.namespace.as_deref().unwrap_or(&self.namespace);
        let partition = opts.partition.as_deref().unwrap_or(&self.partition);
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if opts.stale {
            pairs.push(("stale", ""));
        }
        if !ns.is_empty() {
            pairs.push(("ns", ns));
        }
        if !partition.is_empty() {
            pairs.push(("partition", partition));
        }
        if let Some(f) = opts.filter.as_deref().filter(|f| !f.is_empty()) {
            pairs.push(("filter", f));
        }
        pairs.extend(extra.iter().filter(|(_, v)| !v.is_empty()));
        if !pairs.is_empty() {
            url.query_pairs_mut().extend_pairs(pairs);
        }
        url
    }

    /// Sends a request and returns the status and body text of a 2xx answer, or the error.
    pub(crate) async fn send(
        &self,
        method: Method,
        segments: &[&str],
        opts: &QueryOptions,
        extra_query: &[(&str, &str)],
        body: Option<&dyn ErasedSerialize>,
    ) -> Result<(StatusCode, String), ConsulError> {
        let method_name = method.as_str().to_owned();
        let (resp, path) = self
            .answer(method, segments, opts, extra_query, body)
            .await?;
        let status = resp.status();
        let limit = body_limit(segments);
        let bytes = match boundary::read_body(resp, limit).await {
            Ok(bytes) => bytes,
            Err(ReadError::Body(e)) => return Err(ConsulError::transport(&method_name, &path, e)),
            Err(source) => {
                return Err(ConsulError::BodyTooLarge {
                    method: method_name,
                    path,
                    limit,
                    source,
                })
            }
        };
        // Consul sends UTF-8 JSON; anything else fails to decode with serde's message.
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Ok((status, text))
    }

    /// Sends a request and returns a 2xx answer with its body unread, and the URL path
    /// (for errors); any other answer is the error.
    async fn answer(
        &self,
        method: Method,
        segments: &[&str],
        opts: &QueryOptions,
        extra_query: &[(&str, &str)],
        body: Option<&dyn ErasedSerialize>,
    ) -> Result<(reqwest::Response, String), ConsulError> {
        let url = self.url(segments, opts, extra_query);
        let path = url.path().to_owned();
        let method_name = method.as_str().to_owned();
        let mut req = self.http.request(method, url);
        let token = match &opts.token {
            Some(t) if !t.is_empty() => Some(t.clone()),
            Some(_) => None,
            None => self.token.current().await?,
        };
        if let Some(token) = token {
            req = req.header("X-Consul-Token", token.expose());
        }
        if let Some(body) = body {
            let bytes = body.to_json().map_err(|source| ConsulError::Encode {
                method: method_name.clone(),
                path: path.clone(),
                source,
            })?;
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes);
        }
        let resp = match req.send().await {
            Ok(resp) => resp,
            Err(e) => return Err(self.transport_error(&method_name, &path, e).await),
        };
        let status = resp.status();
        tracing::trace!(method = %method_name, path = %path, status = status.as_u16(), "consul request");
        if !status.is_success() {
            // Only the start of an error body goes into the error, so only that much is
            // read; the status alone decides what the caller does.
            let body = match boundary::read_body(resp, ERROR_BODY_LIMIT).await {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(e) => format!("(body not read: {e})"),
            };
            // Consul (Go's net/http) answers a plain request on its TLS port with this.
            if status == StatusCode::BAD_REQUEST
                && self.base.scheme() == "http"
                && body.trim() == crate::error::GO_PLAIN_HTTP_TO_TLS_ANSWER
            {
                return Err(ConsulError::plain_http_to_tls(
                    &method_name,
                    &path,
                    &self.authority(),
                ));
            }
            return Err(ConsulError::status(
                &method_name,
                &path,
                status.as_u16(),
                &body,
            ));
        }
        Ok((resp, path))
    }

    /// The error of a request that got no answer. Over plain HTTP, a connection that was
    /// reset, closed early or answered with something that is not HTTP may be a TLS port
    /// (a TLS server drops a request that is not a ClientHello): then the server is asked
    /// for a TLS handshake, and if it answers, that is the error, final.
    async fn transport_error(&self, method: &str, path: &str, err: reqwest::Error) -> ConsulError {
        let error = ConsulError::transport(method, path, err);
        let maybe_tls = matches!(
            error.transport_kind(),
            Some(TransportKind::Reset | TransportKind::Other)
        );
        if maybe_tls && self.base.scheme() == "http" {
            if let (Some(host), Some(port)) = (self.host(), self.base.port_or_known_default()) {
                if crate::tls_probe::speaks_tls(&host, port, self.timeout).await {
                    return ConsulError::plain_http_to_tls(method, path, &self.authority());
                }
            }
        }
        error
    }

    /// The base address's host, without an IPv6 address's brackets.
    fn host(&self) -> Option<String> {
        match self.base.host()? {
            url::Host::Domain(name) => Some(name.to_owned()),
            url::Host::Ipv4(ip) => Some(ip.to_string()),
            url::Host::Ipv6(ip) => Some(ip.to_string()),
        }
    }

    /// `host:port` of the base address, for messages.
    fn authority(&self) -> String {
        let host = self.base.host_str().unwrap_or_default();
        match self.base.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }

    /// Sends a request and decodes a JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        opts: &QueryOptions,
        extra_query: &[(&str, &str)],
        body: Option<&dyn ErasedSerialize>,
    ) -> Result<T, ConsulError> {
        let method_name = method.as_str().to_owned();
        let (_, text) = self.send(method, segments, opts, extra_query, body).await?;
        serde_json::from_str(&text).map_err(|source| ConsulError::Decode {
            method: method_name,
            path: self.url(segments, opts, &[]).path().to_owned(),
            source,
        })
    }

    /// Sends a request and decodes the JSON answer as it arrives: each element of the
    /// array at `path` (object keys from the root; `&[]` when the answer is the array) is
    /// decoded as `T` and handed to `each`, then dropped; the rest of the answer, with that
    /// array empty, is decoded as `R` and returned. A list of thousands of objects is never
    /// held whole, neither as text nor decoded (crate::stream). The body limit is the
    /// same as [`Client::json`]'s.
    pub(crate) async fn json_streamed<T: DeserializeOwned, R: DeserializeOwned>(
        &self,
        segments: &[&str],
        opts: &QueryOptions,
        extra_query: &[(&str, &str)],
        path: &'static [&'static str],
        mut each: impl FnMut(T),
    ) -> Result<R, ConsulError> {
        let method_name = Method::GET.as_str().to_owned();
        let (mut resp, url_path) = self
            .answer(Method::GET, segments, opts, extra_query, None)
            .await?;
        let limit = body_limit(segments);
        let too_large = |method: String, path: String| ConsulError::BodyTooLarge {
            method,
            path,
            limit,
            source: ReadError::BodyTooLarge { limit },
        };
        if resp.content_length().is_some_and(|len| len > limit) {
            return Err(too_large(method_name, url_path));
        }
        let decode = |method: String, path: String| {
            move |source: serde_json::Error| ConsulError::Decode {
                method,
                path,
                source,
            }
        };
        let mut splitter = crate::stream::ArraySplitter::new(path);
        let mut element = |bytes: &[u8]| -> Result<(), serde_json::Error> {
            each(serde_json::from_slice(bytes)?);
            Ok(())
        };
        let mut read: u64 = 0;
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => return Err(ConsulError::transport(&method_name, &url_path, e)),
            };
            read += chunk.len() as u64;
            if read > limit {
                return Err(too_large(method_name, url_path));
            }
            splitter
                .feed(&chunk, &mut element)
                .map_err(decode(method_name.clone(), url_path.clone()))?;
        }
        let skeleton = splitter
            .finish()
            .map_err(decode(method_name.clone(), url_path.clone()))?;
        serde_json::from_slice(&skeleton).map_err(decode(method_name, url_path))
    }

    /// Sends a request whose answer body does not matter (`true`, or empty).
    pub(crate) async fn unit(
        &self,
        method: Method,
        segments: &[&str],
        opts: &QueryOptions,
        body: Option<&dyn ErasedSerialize>,
    ) -> Result<(), ConsulError> {
        self.send(method, segments, opts, &[], body)
            .await
            .map(|_| ())
    }

    /// A read that answers `None` when the object does not exist (404, or 403 `ACL not
    /// found` on older servers, docs/protocols.md §5.1).
    pub(crate) async fn read_optional<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        opts: &QueryOptions,
    ) -> Result<Option<T>, ConsulError> {
        match self.json(Method::GET, segments, opts, &[], None).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET` of an arbitrary API path (segments after the base, e.g. `["v1", "status",
    /// "leader"]`), returning the raw JSON. For endpoints this crate has no typed call for.
    pub async fn get_raw(
        &self,
        segments: &[&str],
        opts: &QueryOptions,
    ) -> Result<Value, ConsulError> {
        self.json(Method::GET, segments, opts, &[], None).await
    }
}

/// Object-safe serialisation, so request bodies of any type can go through one function.
pub(crate) trait ErasedSerialize: Sync {
    fn to_json(&self) -> Result<Vec<u8>, serde_json::Error>;
}

impl<T: Serialize + Sync> ErasedSerialize for T {
    fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}
