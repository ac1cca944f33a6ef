//! The `aws-iam` auth method as the Consul server runs it (consul-awsauth): config
//! validation, bearer-token checks, replaying the signed STS (and IAM) requests to AWS
//! (moto in tests), parsing the XML answers, and the trust decision. Error texts are
//! consul-awsauth's.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use quick_xml::events::Event;
use serde_json::{json, Map, Value};

/// Parsed `Config` of an aws-iam auth method.
#[derive(Debug, Clone, Default)]
pub(crate) struct AwsIamConfig {
    pub bound_arns: Vec<String>,
    pub entity_details: bool,
    pub entity_tags: Vec<String>,
    pub server_id: String,
    pub max_retries: u32,
    pub iam_endpoint: String,
    pub sts_endpoint: String,
    pub allowed_sts_headers: Vec<String>,
}

const CONFIG_KEYS: &[&str] = &[
    "BoundIAMPrincipalARNs",
    "EnableIAMEntityDetails",
    "IAMEntityTags",
    "ServerIDHeaderValue",
    "MaxRetries",
    "IAMEndpoint",
    "STSEndpoint",
    "AllowedSTSHeaderValues",
];

const SERVER_ID_HEADER: &str = "X-Consul-IAM-ServerID";
const ENTITY_METHOD_HEADER: &str = "X-Consul-IAM-GetEntity-Method";
const ENTITY_URL_HEADER: &str = "X-Consul-IAM-GetEntity-URL";
const ENTITY_HEADERS_HEADER: &str = "X-Consul-IAM-GetEntity-Headers";
const ENTITY_BODY_HEADER: &str = "X-Consul-IAM-GetEntity-Body";

const DEFAULT_ALLOWED_STS_HEADERS: &[&str] = &[
    "X-Amz-Algorithm",
    "X-Amz-Content-Sha256",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
];

/// Decodes and validates an aws-iam `Config`: keys matched case-insensitively, unknown keys
/// rejected, values weakly typed. Returns the normalised config and the parsed form; the
/// error text follows `Invalid Auth Method: `.
pub(crate) fn parse_config(config: &Value) -> Result<(Value, AwsIamConfig), String> {
    let obj = match config {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        other => {
            return Err(format!(
                "error decoding config: expected a map, got {other}"
            ))
        }
    };
    let mut normalized = Map::new();
    let mut unknown = Vec::new();
    for (k, v) in &obj {
        match CONFIG_KEYS.iter().find(|c| c.eq_ignore_ascii_case(k)) {
            Some(canon) => {
                normalized.insert((*canon).to_string(), v.clone());
            }
            None => unknown.push(k.clone()),
        }
    }
    if !unknown.is_empty() {
        unknown.sort();
        return Err(format!(
            "error decoding config: 1 error(s) decoding:\n\n* '' has invalid keys: {}",
            unknown.join(", ")
        ));
    }
    let nv = Value::Object(normalized.clone());
    let weak_strings = |key: &str| -> Vec<String> {
        match nv.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
            Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
            _ => Vec::new(),
        }
    };
    let cfg = AwsIamConfig {
        bound_arns: weak_strings("BoundIAMPrincipalARNs"),
        entity_details: super::wire::boolean(&nv, "EnableIAMEntityDetails"),
        entity_tags: weak_strings("IAMEntityTags"),
        server_id: super::wire::s(&nv, "ServerIDHeaderValue").to_string(),
        max_retries: u32::try_from(super::wire::int(&nv, "MaxRetries")).unwrap_or(0),
        iam_endpoint: super::wire::s(&nv, "IAMEndpoint").to_string(),
        sts_endpoint: super::wire::s(&nv, "STSEndpoint").to_string(),
        allowed_sts_headers: weak_strings("AllowedSTSHeaderValues"),
    };
    validate_config(&cfg)?;
    Ok((nv, cfg))
}

fn validate_config(cfg: &AwsIamConfig) -> Result<(), String> {
    if cfg.bound_arns.is_empty() {
        return Err("BoundIAMPrincipalARNs is required and must have at least 1 entry".into());
    }
    for arn in &cfg.bound_arns {
        let stars = arn.matches('*').count();
        if stars > 0 {
            if !cfg.entity_details {
                return Err(
                    "Must set EnableIAMEntityDetails=true to use wildcards in BoundIAMPrincipalARNs"
                        .into(),
                );
            }
            if stars != 1 || !arn.ends_with('*') {
                return Err(
                    "Only one wildcard is allowed at the end of the bound IAM principal ARN".into(),
                );
            }
        }
        if parse_arn(arn).is_err() {
            return Err(format!("Invalid principal ARN: {arn:?}"));
        }
    }
    if !cfg.entity_tags.is_empty() && !cfg.entity_details {
        return Err("Must set EnableIAMEntityDetails=true to use IAMUserTags".into());
    }
    for (name, value) in [
        ("STSEndpoint", &cfg.sts_endpoint),
        ("IAMEndpoint", &cfg.iam_endpoint),
    ] {
        if !value.is_empty() {
            parse_url(value).map_err(|e| format!("{name} is invalid: {e}"))?;
        }
    }
    Ok(())
}

/// A parsed IAM/STS ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Arn {
    pub partition: String,
    pub service: String,
    pub account: String,
    pub kind: String,
    pub path: String,
    pub friendly_name: String,
}

impl Arn {
    /// `arn:<p>:iam::<acct>:<role|user>/<name>` (assumed roles become their role).
    pub fn canonical(&self) -> String {
        let kind = if self.kind == "assumed-role" {
            "role"
        } else {
            self.kind.as_str()
        };
        format!(
            "arn:{}:iam::{}:{kind}/{}",
            self.partition, self.account, self.friendly_name
        )
    }
}

/// ARN parsing rules of consul-awsauth (docs/protocols.md §3.8).
pub(crate) fn parse_arn(arn: &str) -> Result<Arn, String> {
    let parts: Vec<&str> = arn.split(':').collect();
    let invalid = || format!("unrecognized arn: {arn:?}");
    if parts.len() != 6 || parts[0] != "arn" || parts[1].is_empty() || parts[4].is_empty() {
        return Err(invalid());
    }
    if parts[2] != "iam" && parts[2] != "sts" {
        return Err(format!(
            "unrecognized service {:?} in arn {arn:?}",
            parts[2]
        ));
    }
    let resource: Vec<&str> = parts[5].split('/').collect();
    if resource.len() < 2 {
        return Err(invalid());
    }
    let kind = resource[0];
    let (friendly, path) = match kind {
        "assumed-role" => {
            if resource.len() < 3 {
                return Err(invalid());
            }
            (resource[1].to_string(), String::new())
        }
        "role" | "user" => (
            resource[resource.len() - 1].to_string(),
            resource[1..resource.len() - 1].join("/"),
        ),
        other => {
            return Err(format!(
                "unrecognized principal type: {other:?} in arn {arn:?}"
            ))
        }
    };
    Ok(Arn {
        partition: parts[1].to_string(),
        service: parts[2].to_string(),
        account: parts[4].to_string(),
        kind: kind.to_string(),
        path,
        friendly_name: friendly,
    })
}

/// What a successful login proves about the caller.
#[derive(Debug, Clone, Default)]
pub(crate) struct Identity {
    pub entity_name: String,
    pub entity_id: String,
    pub account_id: String,
    pub entity_path: String,
    pub entity_tags: BTreeMap<String, String>,
}

impl Identity {
    /// Binding-rule variables (`entity_tags.<k>` only for keys listed in `IAMEntityTags`).
    pub fn vars(&self, cfg: &AwsIamConfig) -> BTreeMap<String, String> {
        let mut vars = BTreeMap::new();
        vars.insert("entity_name".to_string(), self.entity_name.clone());
        vars.insert("entity_id".to_string(), self.entity_id.clone());
        vars.insert("account_id".to_string(), self.account_id.clone());
        if cfg.entity_details {
            vars.insert("entity_path".to_string(), self.entity_path.clone());
            for key in &cfg.entity_tags {
                vars.insert(
                    format!("entity_tags.{key}"),
                    self.entity_tags.get(key).cloned().unwrap_or_default(),
                );
            }
        }
        vars
    }

    /// The document binding-rule selectors are evaluated against.
    pub fn selector_doc(&self, cfg: &AwsIamConfig) -> Value {
        let mut tags = Map::new();
        for key in &cfg.entity_tags {
            tags.insert(
                key.clone(),
                json!(self.entity_tags.get(key).cloned().unwrap_or_default()),
            );
        }
        json!({
            "entity_name": self.entity_name,
            "entity_id": self.entity_id,
            "account_id": self.account_id,
            "entity_path": self.entity_path,
            "entity_tags": tags,
        })
    }
}

/// Fields a selector may use.
pub(crate) const SELECTOR_FIELDS: &[&str] = &[
    "entity_name",
    "entity_id",
    "account_id",
    "entity_path",
    "entity_tags",
];

/// Placeholder variables for validating a `BindName` at binding-rule creation.
pub(crate) fn placeholder_vars(cfg: &AwsIamConfig) -> BTreeMap<String, String> {
    let placeholder = Identity {
        entity_name: "name".into(),
        entity_id: "id".into(),
        account_id: "account".into(),
        entity_path: "path".into(),
        entity_tags: cfg
            .entity_tags
            .iter()
            .map(|k| (k.clone(), "tag".to_string()))
            .collect(),
    };
    placeholder.vars(cfg)
}

type HeaderMap = BTreeMap<String, Vec<String>>;

struct BearerToken {
    method: String,
    parsed_url: url::Url,
    headers: HeaderMap,
    body: String,
    entity: Option<EntityRequest>,
}

struct EntityRequest {
    method: String,
    parsed_url: url::Url,
    headers: HeaderMap,
    body: String,
    kind: String,
}

fn parse_url(text: &str) -> Result<url::Url, String> {
    match url::Url::parse(text) {
        Ok(u) if !u.scheme().is_empty() && u.host_str().is_some_and(|h| !h.is_empty()) => Ok(u),
        _ => Err(format!("url is invalid: {text:?}")),
    }
}

/// Go's `textproto.CanonicalMIMEHeaderKey`.
fn canonical_header(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if upper {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        upper = c == '-';
    }
    out
}

/// `http.Header.Values(name)`: exact lookup of the canonical key (the map is not
/// canonicalised on decode, so other spellings are not found).
fn header_values<'a>(headers: &'a HeaderMap, name: &str) -> &'a [String] {
    headers
        .get(&canonical_header(name))
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn single_header(headers: &HeaderMap, name: &str) -> Result<String, String> {
    match header_values(headers, name) {
        [] => Err(format!("missing header {name:?}")),
        [one] => Ok(one.clone()),
        _ => Err(format!(
            "invalid value for header {name:?} (expected 1 item)"
        )),
    }
}

fn b64(text: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("illegal base64 data: {e}"))
}

fn decode_token(bearer: &str) -> Result<(String, String, HeaderMap, String), String> {
    #[derive(serde::Deserialize)]
    struct Raw {
        #[serde(default)]
        iam_http_request_method: String,
        #[serde(default)]
        iam_request_url: String,
        #[serde(default)]
        iam_request_headers: String,
        #[serde(default)]
        iam_request_body: String,
    }
    let raw: Raw = serde_json::from_str(bearer).map_err(|e| e.to_string())?;
    let url = String::from_utf8_lossy(&b64(&raw.iam_request_url)?).into_owned();
    let headers_json = b64(&raw.iam_request_headers)?;
    let headers: HeaderMap = serde_json::from_slice(&headers_json).map_err(|e| e.to_string())?;
    let body = String::from_utf8_lossy(&b64(&raw.iam_request_body)?).into_owned();
    Ok((raw.iam_http_request_method, url, headers, body))
}

/// Form-decodes an AWS query body and applies consul-awsauth's allow-list.
fn parse_request_body(
    body: &str,
    allowed: &[(&str, &[&str])],
) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut qs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(body.as_bytes()) {
        qs.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    match qs.get("Action") {
        Some(v) if !v.is_empty() && !v[0].is_empty() => {}
        _ => return Err("missing field \"Action\"".to_string()),
    }
    for (k, v) in &qs {
        let exp = allowed.iter().find(|(name, _)| name == k).map(|(_, e)| *e);
        let Some(exp) = exp else {
            return Err(format!("unexpected field {k:?}"));
        };
        if exp.is_empty() {
            continue;
        }
        if v.len() != 1 || !exp.contains(&v[0].as_str()) {
            return Err(format!("unexpected value {k}=[{}]", v.join(" ")));
        }
    }
    Ok(qs)
}

fn host_ok(url: &url::Url, service: &str) -> bool {
    let host = url.host_str().unwrap_or("");
    host.ends_with(".amazonaws.com")
        && (host.starts_with(&format!("{service}."))
            || host.starts_with(&format!("{service}-fips.")))
}

fn parse_bearer(bearer: &str, cfg: &AwsIamConfig) -> Result<BearerToken, String> {
    let (method, url, headers, body) =
        decode_token(bearer).map_err(|e| format!("invalid token: {e}"))?;
    let parsed_url = parse_url(&url).map_err(|e| format!("invalid token: {e}"))?;
    if method != "POST" {
        return Err("iam_http_request_method must be POST".into());
    }
    if cfg.sts_endpoint.is_empty() && !host_ok(&parsed_url, "sts") {
        return Err(format!(
            "invalid STS hostname: {:?}",
            parsed_url.host_str().unwrap_or("")
        ));
    }
    parse_request_body(
        &body,
        &[("Action", &["GetCallerIdentity"]), ("Version", &[])],
    )
    .map_err(|e| format!("iam_request_body error: {e}"))?;
    if parsed_url.query().is_some() {
        return Err(format!(
            "invalid request URL: query string is not allowed: {url:?}"
        ));
    }
    for key in headers.keys() {
        let h = canonical_header(key);
        if h.starts_with("X-Amz-")
            && !DEFAULT_ALLOWED_STS_HEADERS.contains(&h.as_str())
            && !cfg.allowed_sts_headers.contains(&h)
        {
            return Err(format!("invalid request header: {h}"));
        }
    }
    let mut token = BearerToken {
        method,
        parsed_url,
        headers,
        body,
        entity: None,
    };
    if cfg.entity_details {
        let method = single_header(&token.headers, ENTITY_METHOD_HEADER)?;
        let raw_url = single_header(&token.headers, ENTITY_URL_HEADER)?;
        let headers_json = single_header(&token.headers, ENTITY_HEADERS_HEADER)?;
        let headers: HeaderMap = serde_json::from_str(&headers_json).map_err(|e| e.to_string())?;
        let body = single_header(&token.headers, ENTITY_BODY_HEADER)?;
        let parsed_url = parse_url(&raw_url)?;
        if cfg.iam_endpoint.is_empty() && !host_ok(&parsed_url, "iam") {
            return Err(format!(
                "invalid IAM hostname: {:?}",
                parsed_url.host_str().unwrap_or("")
            ));
        }
        let qs = parse_request_body(
            &body,
            &[
                ("Action", &["GetRole", "GetUser"]),
                ("RoleName", &[]),
                ("UserName", &[]),
                ("Version", &[]),
            ],
        )
        .map_err(|e| format!("iam_request_headers[{ENTITY_BODY_HEADER}] error: {e}"))?;
        let action = qs["Action"][0].clone();
        let has_role = qs.contains_key("RoleName");
        let has_user = qs.contains_key("UserName");
        let ok = (action == "GetUser" && has_user && !has_role)
            || (action == "GetRole" && has_role && !has_user);
        if !ok {
            return Err(format!(
                "iam_request_headers[{ENTITY_BODY_HEADER:?}] error: invalid request body {body:?}"
            ));
        }
        token.entity = Some(EntityRequest {
            method,
            parsed_url,
            headers,
            body,
            kind: action,
        });
    }
    Ok(token)
}

/// `http.Header` view of the decoded map for the server-ID check: names compared
/// case-insensitively, values joined with `,`; `Authorization` looked up exactly.
fn validate_server_id(headers: &HeaderMap, required: &str) -> Result<(), String> {
    let provided = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(SERVER_ID_HEADER))
        .map(|(_, v)| v.join(","))
        .unwrap_or_default();
    if provided.is_empty() {
        return Err(format!("missing header {SERVER_ID_HEADER:?}"));
    }
    if provided != required {
        return Err(format!("expected {required:?} but got {provided:?}"));
    }
    let Some(authz) = headers.get("Authorization") else {
        return Err("missing Authorization header".into());
    };
    let authz = authz.join(",");
    let Some(idx) = authz.find("SignedHeaders=") else {
        return Err("server id header wasn't signed".into());
    };
    let signed = authz[idx + "SignedHeaders=".len()..]
        .split(',')
        .next()
        .unwrap_or("");
    if signed
        .split(';')
        .any(|h| h == SERVER_ID_HEADER.to_ascii_lowercase())
    {
        Ok(())
    } else {
        Err("header wasn't signed".into())
    }
}

/// RequestURI of a URL (path plus query), as Go's `url.URL.RequestURI`.
fn request_uri(url: &url::Url) -> String {
    let mut out = url.path().to_string();
    if out.is_empty() {
        out.push('/');
    }
    if let Some(q) = url.query() {
        out.push('?');
        out.push_str(q);
    }
    out
}

fn host_with_port(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// Sends a rebuilt request the way consul-awsauth does (retryablehttp, no redirects) and
/// returns the body of a 200 `text/xml` answer.
async fn submit(
    client: &reqwest::Client,
    cfg: &AwsIamConfig,
    method: &str,
    endpoint: &str,
    parsed_url: &url::Url,
    headers: &HeaderMap,
    body: &str,
) -> Result<String, String> {
    let target = format!("{endpoint}{}", request_uri(parsed_url));
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|e| format!("invalid method {method:?}: {e}"))?;
    let attempts = cfg.max_retries + 1;
    let mut last_err = String::new();
    for attempt in 0..attempts {
        if attempt > 0 {
            // retryablehttp.DefaultBackoff: 0.5 s before the first retry, doubling, ≤ 30 s.
            let wait = Duration::from_millis(500u64.saturating_mul(1 << (attempt - 1).min(6)))
                .min(Duration::from_secs(30));
            tokio::time::sleep(wait).await;
        }
        let mut req = client
            .request(method.clone(), &target)
            .header(http::header::HOST, host_with_port(parsed_url))
            .body(body.to_string());
        for (k, values) in headers {
            // Go's transport writes Content-Length from the body and Host from req.Host.
            if k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("host") {
                continue;
            }
            for v in values {
                req = req.header(k.as_str(), v.as_str());
            }
        }
        match req.send().await {
            Err(e) => {
                last_err = format!(
                    "error making request: {method} {target} giving up after {} attempt(s): {e}",
                    attempt + 1
                );
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                if status == 429 || (status >= 500 && status != 501) {
                    last_err = format!(
                        "error making request: {method} {target} giving up after {} attempt(s)",
                        attempt + 1
                    );
                    continue;
                }
                let content_type = resp
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let text = resp.text().await.map_err(|e| e.to_string())?;
                // moto answers auth failures with `text/html` although the body is AWS's XML
                // error document (real AWS sends `text/xml`); accept that one deviation so a
                // bad signature reads as AWS's error, the way it would against real STS.
                let moto_xml_error = status != 200 && text.contains("<ErrorResponse>");
                if content_type != "text/xml" && !moto_xml_error {
                    return Err("response body is invalid".into());
                }
                if status != 200 {
                    return Err(format!("received error code {status}: {text}"));
                }
                return Ok(text);
            }
        }
    }
    Err(last_err)
}

/// Flattened XML: every element's slash-joined path with its text, in document order.
fn xml_leaves(body: &str) -> Result<(String, Vec<(String, String)>), String> {
    let mut reader = quick_xml::Reader::from_str(body);
    let mut stack: Vec<String> = Vec::new();
    let mut root = String::new();
    let mut leaves = Vec::new();
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if stack.is_empty() && root.is_empty() {
                    root = name.clone();
                }
                stack.push(name);
                leaves.push((stack.join("/"), String::new()));
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                leaves.push((format!("{}/{name}", stack.join("/")), String::new()));
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| e.to_string())?.into_owned();
                let path = stack.join("/");
                if let Some(last) = leaves.iter_mut().rev().find(|(p, _)| *p == path) {
                    last.1.push_str(&text);
                }
            }
            Event::CData(t) => {
                let text = String::from_utf8_lossy(&t.into_inner()).into_owned();
                let path = stack.join("/");
                if let Some(last) = leaves.iter_mut().rev().find(|(p, _)| *p == path) {
                    last.1.push_str(&text);
                }
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok((root, leaves))
}

fn leaf(leaves: &[(String, String)], path: &str) -> String {
    leaves
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, t)| t.trim().to_string())
        .unwrap_or_default()
}

struct CallerIdentity {
    arn: String,
    user_id: String,
    account: String,
}

fn parse_caller_identity(body: &str) -> Result<CallerIdentity, String> {
    let trimmed = body.trim();
    if !trimmed.starts_with("<GetCallerIdentityResponse") && !trimmed.starts_with("<?xml") {
        return Err("error parsing STS response".into());
    }
    let (root, leaves) = xml_leaves(trimmed).map_err(|_| "error parsing STS response")?;
    if root != "GetCallerIdentityResponse" {
        return Err("error parsing STS response".into());
    }
    let result_path = "GetCallerIdentityResponse/GetCallerIdentityResult";
    let n = leaves.iter().filter(|(p, _)| p == result_path).count();
    if n != 1 {
        return Err(format!(
            "received {n} identities in STS response but expected 1"
        ));
    }
    Ok(CallerIdentity {
        arn: leaf(&leaves, &format!("{result_path}/Arn")),
        user_id: leaf(&leaves, &format!("{result_path}/UserId")),
        account: leaf(&leaves, &format!("{result_path}/Account")),
    })
}

struct Entity {
    arn: String,
    path: String,
    id: String,
    tags: BTreeMap<String, String>,
}

fn parse_entity(body: &str, kind: &str) -> Result<Entity, String> {
    if !body.starts_with("<GetRoleResponse")
        && !body.starts_with("<GetUserResponse")
        && !body.starts_with("<?xml")
    {
        return Err("body of GetRole or GetUser is invalid".into());
    }
    let (what, id_field) = match kind {
        "GetRole" => ("Role", "RoleId"),
        _ => ("User", "UserId"),
    };
    let (root, leaves) =
        xml_leaves(body).map_err(|e| format!("error parsing IAM response: {e}"))?;
    if root != format!("{kind}Response") {
        return Err(format!(
            "error parsing IAM response: expected element type <{kind}Response> but have <{root}>"
        ));
    }
    let result_path = format!("{kind}Response/{kind}Result");
    let n = leaves.iter().filter(|(p, _)| *p == result_path).count();
    if n != 1 {
        return Err(format!(
            "error parsing IAM response: received {n} identities in {kind} response but expected 1"
        ));
    }
    let base = format!("{result_path}/{what}");
    let mut tags = BTreeMap::new();
    let member = format!("{base}/Tags/member");
    let mut current_key: Option<String> = None;
    for (p, t) in &leaves {
        if *p == format!("{member}/Key") {
            current_key = Some(t.trim().to_string());
        } else if *p == format!("{member}/Value") {
            if let Some(k) = current_key.take() {
                tags.insert(k, t.trim().to_string());
            }
        }
    }
    Ok(Entity {
        arn: leaf(&leaves, &format!("{base}/Arn")),
        path: leaf(&leaves, &format!("{base}/Path")),
        id: leaf(&leaves, &format!("{base}/{id_field}")),
        tags,
    })
}

/// Validates a login bearer token against the method config, replaying its signed
/// requests. The error text is what Consul returns (HTTP 500) for a failed login.
pub(crate) async fn validate_login(
    client: &reqwest::Client,
    cfg: &AwsIamConfig,
    bearer: &str,
) -> Result<Identity, String> {
    let token = parse_bearer(bearer, cfg)?;
    if !cfg.server_id.is_empty() {
        validate_server_id(&token.headers, &cfg.server_id)?;
    }
    // Go builds `endpoint + RequestURI` with the raw token URL as endpoint (doubling the
    // path, which AWS normalises); scheme://host + path is the request that reaches AWS.
    let sts_endpoint = if cfg.sts_endpoint.is_empty() {
        format!(
            "{}://{}",
            token.parsed_url.scheme(),
            host_with_port(&token.parsed_url)
        )
    } else {
        cfg.sts_endpoint.clone()
    };
    let body = submit(
        client,
        cfg,
        &token.method,
        &sts_endpoint,
        &token.parsed_url,
        &token.headers,
        &token.body,
    )
    .await?;
    let ci = parse_caller_identity(&body)?;
    let entity = parse_arn(&ci.arn)?;
    let mut identity = Identity {
        entity_name: entity.friendly_name.clone(),
        entity_id: ci.user_id.split(':').next().unwrap_or("").to_string(),
        account_id: ci.account.clone(),
        ..Identity::default()
    };
    let mut client_arn = entity.canonical();
    if let Some(req) = &token.entity {
        if !cfg.server_id.is_empty() {
            validate_server_id(&req.headers, &cfg.server_id)?;
        }
        let endpoint = if cfg.iam_endpoint.is_empty() {
            format!(
                "{}://{}",
                req.parsed_url.scheme(),
                host_with_port(&req.parsed_url)
            )
        } else {
            cfg.iam_endpoint.clone()
        };
        let body = submit(
            client,
            cfg,
            &req.method,
            &endpoint,
            &req.parsed_url,
            &req.headers,
            &req.body,
        )
        .await?;
        let details = parse_entity(&body, &req.kind)?;
        if details.id != identity.entity_id {
            return Err("unique id mismatch in login token".into());
        }
        client_arn = details.arn;
        identity.entity_path = details.path;
        identity.entity_tags = details.tags;
    }
    let trusted = cfg.bound_arns.contains(&client_arn)
        || (cfg.entity_details
            && cfg.bound_arns.iter().any(|b| {
                b.strip_suffix('*')
                    .is_some_and(|prefix| client_arn.starts_with(prefix))
            }));
    if !trusted {
        return Err(format!("IAM principal {client_arn} is not trusted"));
    }
    Ok(identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_parse_like_consul_awsauth() {
        let a =
            parse_arn("arn:aws:sts::123456789012:assumed-role/consul-ecs-web/0f3bca58").unwrap();
        assert_eq!(
            a.canonical(),
            "arn:aws:iam::123456789012:role/consul-ecs-web"
        );
        assert_eq!(a.path, "");
        let r = parse_arn("arn:aws:iam::123456789012:role/consul-ecs/consul-ecs-web").unwrap();
        assert_eq!(
            (r.friendly_name.as_str(), r.path.as_str()),
            ("consul-ecs-web", "consul-ecs")
        );
        assert_eq!(
            r.canonical(),
            "arn:aws:iam::123456789012:role/consul-ecs-web"
        );
        let u = parse_arn("arn:aws:iam::123456789012:user/ops/alice").unwrap();
        assert_eq!(u.canonical(), "arn:aws:iam::123456789012:user/alice");
        assert!(parse_arn("arn:aws:iam::123456789012:instance-profile/x").is_err());
        assert!(parse_arn("arn:aws:ec2::123456789012:role/x").is_err());
        assert!(parse_arn("arn:aws:iam::123456789012:role").is_err());
        assert!(parse_arn("arn:aws:sts::1:assumed-role/x").is_err());
    }

    #[test]
    fn config_validation_texts() {
        let err = |v: Value| parse_config(&v).unwrap_err();
        assert!(err(json!({})).contains("BoundIAMPrincipalARNs is required"));
        assert!(
            err(json!({"BoundIAMPrincipalARNs": ["arn:aws:iam::1:role/*"]}))
                .contains("EnableIAMEntityDetails=true to use wildcards")
        );
        assert!(err(json!({"BoundIAMPrincipalARNs": ["arn:aws:iam::1:role/*/x"], "EnableIAMEntityDetails": true}))
            .contains("Only one wildcard"));
        assert!(err(json!({"BoundIAMPrincipalARNs": ["nope"]})).contains("Invalid principal ARN"));
        assert!(err(
            json!({"BoundIAMPrincipalARNs": ["arn:aws:iam::1:role/x"], "IAMEntityTags": ["a"]})
        )
        .contains("IAMUserTags"));
        assert!(
            err(json!({"BoundIAMPrincipalARNs": ["arn:aws:iam::1:role/x"], "Bogus": 1}))
                .contains("has invalid keys: Bogus")
        );
        assert!(err(
            json!({"BoundIAMPrincipalARNs": ["arn:aws:iam::1:role/x"], "STSEndpoint": "nope"})
        )
        .contains("STSEndpoint is invalid"));
        let (norm, cfg) = parse_config(&json!({
            "BoundIAMPrincipalArns": ["arn:aws:iam::1:role/x"],
            "enableiamentitydetails": "true",
            "MaxRetries": "2",
        }))
        .unwrap();
        assert!(cfg.entity_details);
        assert_eq!(cfg.max_retries, 2);
        assert!(norm.get("BoundIAMPrincipalARNs").is_some());
    }

    #[test]
    fn header_names_canonicalise_like_go() {
        assert_eq!(
            canonical_header("x-consul-iam-getentity-url"),
            "X-Consul-Iam-Getentity-Url"
        );
        assert_eq!(
            canonical_header("X-Consul-IAM-ServerID"),
            "X-Consul-Iam-Serverid"
        );
    }

    #[test]
    fn xml_answers_parse() {
        let ci = parse_caller_identity(
            "<GetCallerIdentityResponse xmlns=\"x\"><GetCallerIdentityResult><Arn>arn:aws:sts::1:assumed-role/r/s</Arn><UserId>AROA1:s</UserId><Account>1</Account></GetCallerIdentityResult></GetCallerIdentityResponse>",
        )
        .unwrap();
        assert_eq!(
            (ci.arn.as_str(), ci.account.as_str()),
            ("arn:aws:sts::1:assumed-role/r/s", "1")
        );
        assert!(parse_caller_identity("<ErrorResponse/>").is_err());
        let e = parse_entity(
            "<GetRoleResponse><GetRoleResult><Role><Path>/p/</Path><Arn>arn:aws:iam::1:role/p/r</Arn><RoleId>AROA1</RoleId><Tags><member><Key>k</Key><Value>v</Value></member></Tags></Role></GetRoleResult></GetRoleResponse>",
            "GetRole",
        )
        .unwrap();
        assert_eq!((e.path.as_str(), e.id.as_str()), ("/p/", "AROA1"));
        assert_eq!(e.tags.get("k").map(String::as_str), Some("v"));
        assert!(parse_entity(" <GetRoleResponse/>", "GetRole").is_err());
    }

    #[test]
    fn server_id_must_be_present_equal_and_signed() {
        let mut h = HeaderMap::new();
        assert!(validate_server_id(&h, "a")
            .unwrap_err()
            .contains("missing header"));
        h.insert("X-Consul-Iam-Serverid".into(), vec!["b".into()]);
        assert_eq!(
            validate_server_id(&h, "a").unwrap_err(),
            "expected \"a\" but got \"b\""
        );
        h.insert("X-Consul-Iam-Serverid".into(), vec!["a".into()]);
        assert_eq!(
            validate_server_id(&h, "a").unwrap_err(),
            "missing Authorization header"
        );
        h.insert(
            "Authorization".into(),
            vec![
                "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host;x-amz-date, Signature=y".into(),
            ],
        );
        assert_eq!(
            validate_server_id(&h, "a").unwrap_err(),
            "header wasn't signed"
        );
        h.insert("Authorization".into(), vec!["AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host;x-consul-iam-serverid, Signature=y".into()]);
        assert!(validate_server_id(&h, "a").is_ok());
    }
}
