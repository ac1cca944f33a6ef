//! Signing one form-encoded POST request with aws-sigv4, keeping every header in Go's
//! `http.Header` shape (canonical names, list values) for the bearer token.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use url::Url;

use crate::gojson::canonical_header_name;
use crate::LoginError;

/// The content type of both the STS and the IAM query-protocol requests (with charset, as
/// the Go SDK sends it; it is a signed header, so the exact bytes matter).
pub(crate) const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// Header names whose values must never be printed: they hold the signature, the session
/// token, or an embedded request carrying both.
const SENSITIVE_HEADERS: [&str; 3] = [
    "Authorization",
    "X-Amz-Security-Token",
    "X-Consul-Iam-Getentity-Headers",
];

/// What to sign: a POST of a form body to `url`.
pub(crate) struct RequestSpec<'a> {
    /// Full URL; its host (and non-default port) becomes the signed `host` header.
    pub url: &'a Url,
    /// SigV4 service name (`sts`, `iam`).
    pub service: &'a str,
    /// SigV4 region.
    pub region: &'a str,
    /// The form body.
    pub body: &'a str,
    /// Sent but, like in the Go SDK, not signed.
    pub user_agent: &'a str,
    /// Extra signed headers (any case; stored under Go's canonical name).
    pub extra_headers: Vec<(&'a str, String)>,
    /// The signing time (`X-Amz-Date`).
    pub time: SystemTime,
}

/// A signed request: everything the bearer token (or a replay) needs.
pub(crate) struct SignedRequest {
    /// Where it goes.
    pub url: Url,
    /// Every header except `Host` (Go keeps `Host` outside `http.Header`), Go-canonical
    /// names, sorted.
    pub headers: BTreeMap<String, Vec<String>>,
    /// The form body.
    pub body: String,
}

impl fmt::Debug for SignedRequest {
    // By hand: the derived form would print the signature and the session token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: BTreeMap<&str, Vec<&str>> = self
            .headers
            .iter()
            .map(|(name, values)| {
                let shown = if SENSITIVE_HEADERS.contains(&name.as_str()) {
                    vec!["<redacted>"; values.len()]
                } else {
                    values.iter().map(String::as_str).collect()
                };
                (name.as_str(), shown)
            })
            .collect();
        f.debug_struct("SignedRequest")
            .field("url", &self.url.as_str())
            .field("headers", &headers)
            .field("body", &self.body)
            .finish()
    }
}

/// Signs `spec` with `creds` (SigV4, headers location, session token signed as the Go SDK
/// v1 does) and returns the request with `X-Amz-Date`, `X-Amz-Security-Token` (when the
/// credentials have one) and `Authorization` added.
pub(crate) fn sign_post(
    creds: &Credentials,
    spec: RequestSpec<'_>,
    what: &'static str,
) -> Result<SignedRequest, LoginError> {
    let signing_error = |reason: String| LoginError::Signing { what, reason };

    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    headers.insert(
        "Content-Length".to_string(),
        vec![spec.body.len().to_string()],
    );
    headers.insert(
        "Content-Type".to_string(),
        vec![FORM_CONTENT_TYPE.to_string()],
    );
    headers.insert("User-Agent".to_string(), vec![spec.user_agent.to_string()]);
    for (name, value) in spec.extra_headers {
        headers
            .entry(canonical_header_name(name))
            .or_default()
            .push(value);
    }

    let identity: Identity = creds.clone().into();
    // The defaults exclude Authorization, User-Agent, X-Amzn-Trace-Id and
    // Transfer-Encoding from signing, which is what the Go SDK v1 does for these requests;
    // everything else present (content-length, content-type, host, x-consul-*) is signed.
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(spec.region)
        .name(spec.service)
        .time(spec.time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| signing_error(e.to_string()))?
        .into();

    let flat = headers
        .iter()
        .flat_map(|(name, values)| values.iter().map(move |v| (name.as_str(), v.as_str())));
    let signable = SignableRequest::new(
        "POST",
        spec.url.as_str(),
        flat,
        SignableBody::Bytes(spec.body.as_bytes()),
    )
    .map_err(|e| signing_error(e.to_string()))?;

    // aws-sigv4 traces the whole request (our headers include an embedded signed request
    // and its session token) at TRACE; silence it so no subscriber can ever record them.
    let output =
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
            sign(signable, &params)
        })
        .map_err(|e| signing_error(e.to_string()))?;

    let (instructions, _signature) = output.into_parts();
    let (signing_headers, _query) = instructions.into_parts();
    for header in signing_headers {
        headers.insert(
            canonical_header_name(header.name()),
            vec![header.value().to_string()],
        );
    }
    Ok(SignedRequest {
        url: spec.url.clone(),
        headers,
        body: spec.body.to_string(),
    })
}
