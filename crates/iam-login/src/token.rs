//! The bearer token: a signed (unsent) `sts:GetCallerIdentity` request, optionally carrying
//! a signed `iam:GetRole`/`iam:GetUser` request in `X-Consul-IAM-GetEntity-*` headers,
//! packed into the JSON consul-awsauth expects (docs/protocols.md §3.2–3.4).

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use url::Url;

use crate::arn::PrincipalArn;
use crate::gojson;
use crate::sign::{sign_post, RequestSpec, SignedRequest};
use crate::sts::STS_BODY;
use crate::{LoginError, LoginParams};

/// The IAM endpoint of partition `aws`; v0.6.2 has no client-side override (§2.5).
pub(crate) const IAM_URL: &str = "https://iam.amazonaws.com/";
/// IAM is global and signed for us-east-1.
const IAM_REGION: &str = "us-east-1";

/// Which IAM read describes the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entity {
    action: &'static str,
    name_key: &'static str,
    name: String,
}

impl Entity {
    /// Role and assumed role → `GetRole`, user → `GetUser`, anything else is an error.
    pub(crate) fn from_arn(arn: &PrincipalArn) -> Result<Entity, LoginError> {
        match arn.kind.as_str() {
            "role" | "assumed-role" => Ok(Entity {
                action: "GetRole",
                name_key: "RoleName",
                name: arn.friendly_name.clone(),
            }),
            "user" => Ok(Entity {
                action: "GetUser",
                name_key: "UserName",
                name: arn.friendly_name.clone(),
            }),
            other => Err(LoginError::UnsupportedEntity(other.to_string())),
        }
    }

    fn what(&self) -> &'static str {
        if self.action == "GetRole" {
            "iam:GetRole"
        } else {
            "iam:GetUser"
        }
    }

    /// `Action=GetRole&RoleName=<name>&Version=2010-05-08` (keys sorted, query-escaped,
    /// like Go's `url.Values.Encode`).
    fn body(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("Action", self.action)
            .append_pair(self.name_key, &self.name)
            .append_pair("Version", "2010-05-08")
            .finish()
    }
}

/// The STS URL the token names: `consulLogin.stsEndpoint` if set, else the regional STS
/// endpoint. Consul rejects URLs with a query string, so one is refused here already.
pub(crate) fn sts_url(params: &LoginParams) -> Result<Url, LoginError> {
    let raw = match params.sts_endpoint.as_deref() {
        Some(endpoint) if !endpoint.is_empty() => endpoint.to_string(),
        _ => {
            if params.region.is_empty() {
                return Err(LoginError::MissingRegion);
            }
            format!("https://sts.{}.amazonaws.com/", params.region)
        }
    };
    let invalid = |reason: &str| LoginError::InvalidEndpoint {
        url: raw.clone(),
        reason: reason.to_string(),
    };
    let mut url = Url::parse(&raw).map_err(|e| invalid(&e.to_string()))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(invalid("scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query string or fragment"));
    }
    if params.region.is_empty() {
        return Err(LoginError::MissingRegion);
    }
    // The Go SDK appends the operation path `/` to a custom endpoint, so
    // `https://proxy/sts` is requested (and signed) as `https://proxy/sts/`.
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Builds the token for a known entity (None = include-entity off) at a fixed time.
/// Separated from the network step so the published vectors can pin time and entity.
pub(crate) fn build_token(
    creds: &Credentials,
    params: &LoginParams,
    entity: Option<&Entity>,
    time: SystemTime,
    user_agent: &str,
) -> Result<String, LoginError> {
    let url = sts_url(params)?;
    let server_id = params
        .server_id_header_value
        .as_deref()
        .filter(|v| !v.is_empty());

    let mut extra: Vec<(&str, String)> = Vec::new();
    if let Some(entity) = entity {
        let iam_url = Url::parse(IAM_URL).map_err(|e| LoginError::InvalidEndpoint {
            url: IAM_URL.to_string(),
            reason: e.to_string(),
        })?;
        let iam_body = entity.body();
        let iam_extra = server_id
            .map(|id| vec![("X-Consul-IAM-ServerID", id.to_string())])
            .unwrap_or_default();
        let iam = sign_post(
            creds,
            RequestSpec {
                url: &iam_url,
                service: "iam",
                region: IAM_REGION,
                body: &iam_body,
                user_agent,
                extra_headers: iam_extra,
                time,
            },
            entity.what(),
        )?;
        extra.push(("X-Consul-IAM-GetEntity-Method", "POST".to_string()));
        extra.push(("X-Consul-IAM-GetEntity-URL", iam_url.to_string()));
        extra.push((
            "X-Consul-IAM-GetEntity-Headers",
            gojson::header_map(&iam.headers),
        ));
        extra.push(("X-Consul-IAM-GetEntity-Body", iam.body));
    }
    if let Some(id) = server_id {
        extra.push(("X-Consul-IAM-ServerID", id.to_string()));
    }
    let sts = sign_post(
        creds,
        RequestSpec {
            url: &url,
            service: "sts",
            region: &params.region,
            body: STS_BODY,
            user_agent,
            extra_headers: extra,
            time,
        },
        "sts:GetCallerIdentity",
    )?;
    Ok(encode(&sts))
}

/// The token JSON. Keys come out sorted, as Go's `json.Marshal` of the map consul-awsauth
/// builds writes them.
fn encode(request: &SignedRequest) -> String {
    let mut token: BTreeMap<&str, String> = BTreeMap::new();
    token.insert("iam_http_request_method", "POST".to_string());
    token.insert("iam_request_url", STANDARD.encode(request.url.as_str()));
    token.insert(
        "iam_request_headers",
        STANDARD.encode(gojson::header_map(&request.headers)),
    );
    token.insert("iam_request_body", STANDARD.encode(&request.body));
    gojson::string_map(&token)
}

/// A bearer token taken apart again: the request the Consul server will replay.
///
/// Used by tests and emulators that play the Consul server's part.
#[derive(Clone, PartialEq, Eq)]
pub struct DecodedToken {
    /// `iam_http_request_method` (always `POST` for tokens built here).
    pub method: String,
    /// The decoded `iam_request_url`.
    pub url: String,
    /// The decoded header map (Go-canonical names; no `Host`).
    pub headers: BTreeMap<String, Vec<String>>,
    /// The decoded request body.
    pub body: String,
}

impl fmt::Debug for DecodedToken {
    // By hand: headers hold a signature and a session token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodedToken")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body", &self.body)
            .finish()
    }
}

impl DecodedToken {
    /// Decodes the token JSON, its three base64 fields and the header map, as the Consul
    /// server does first (§3.6 step 1).
    pub fn decode(token: &str) -> Result<DecodedToken, LoginError> {
        let bad = |reason: String| LoginError::InvalidToken(reason);
        let fields: BTreeMap<String, String> =
            serde_json::from_str(token).map_err(|e| bad(format!("not a JSON object: {e}")))?;
        let field = |name: &str| {
            fields
                .get(name)
                .cloned()
                .ok_or_else(|| bad(format!("missing field {name:?}")))
        };
        let base64_field = |name: &str| -> Result<String, LoginError> {
            let raw = STANDARD
                .decode(field(name)?)
                .map_err(|e| bad(format!("{name}: {e}")))?;
            String::from_utf8(raw).map_err(|e| bad(format!("{name}: {e}")))
        };
        let headers_json = base64_field("iam_request_headers")?;
        let headers = serde_json::from_str(&headers_json)
            .map_err(|e| bad(format!("iam_request_headers: {e}")))?;
        Ok(DecodedToken {
            method: field("iam_http_request_method")?,
            url: base64_field("iam_request_url")?,
            headers,
            body: base64_field("iam_request_body")?,
        })
    }

    /// The single value of header `name` (Go-canonical spelling), if present exactly once.
    pub fn header(&self, name: &str) -> Option<&str> {
        match self.headers.get(name).map(Vec::as_slice) {
            Some([value]) => Some(value.as_str()),
            _ => None,
        }
    }
}
