//! A task role in moto (IAM and STS), made over moto's own AWS APIs: what the local ECS
//! agent serves at `/creds`, and what the test kit's `AwsWorld` builds for its tests.
//!
//! [`provision`] creates, in a moto that serves its first [`SETUP_NO_AUTH_ACTIONS`] requests
//! unauthenticated (`INITIAL_NO_AUTH_ACTION_COUNT`):
//!
//! - an admin IAM user `alice` (path `/ops/`, allow-all inline policy) with an access key;
//!   every later request is signed with this key and checked by moto (signature, key, IAM
//!   policy);
//! - the task role `consul-ecs-<service>` at path `/consul-ecs/`, tagged
//!   `consul.hashicorp.com.service-name=<service>`, with a trust policy letting the admin
//!   assume it and an inline policy allowing `iam:GetRole` on itself (what a Consul login
//!   with entity details needs);
//! - temporary credentials from `sts:AssumeRole` as the user, like ECS hands a task.
//!
//! moto 5.2.5 facts relied on (found by experiment): `GetCallerIdentity` needs no IAM
//! permission, `GetRole` does; temporary credentials from moto's own `AssumeRole` are
//! accepted afterwards; errors come back as AWS XML with `Content-Type: text/html`.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use serde_json::json;

/// The account moto puts everything in.
pub const ACCOUNT_ID: &str = "123456789012";
/// The region every signature uses.
pub const REGION: &str = "us-east-1";
/// The tag the Consul binding rule reads the service name from.
pub const SERVICE_NAME_TAG: &str = "consul.hashicorp.com.service-name";
/// Requests moto serves without checking signatures: CreateUser, PutUserPolicy,
/// CreateAccessKey (the admin user). Everything after is authenticated.
pub const SETUP_NO_AUTH_ACTIONS: u32 = 3;
/// Name of the admin user.
pub const ADMIN_USER: &str = "alice";
/// IAM path of the admin user.
pub const ADMIN_PATH: &str = "/ops/";
/// IAM path of the task role [`provision`] creates.
pub const TASK_ROLE_PATH: &str = "/consul-ecs/";

/// How long one request to moto may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// moto's answers are a few KiB of XML; more is refused.
const ANSWER_LIMIT: u64 = 1 << 20;
/// How much of a refusal's body an error keeps.
const ERROR_EXCERPT: usize = 500;

/// Why a request to moto failed.
#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    /// The request could not be signed.
    #[error("sign the {service} request: {reason}")]
    Sign {
        /// `iam` or `sts`.
        service: String,
        /// The signer's complaint.
        reason: String,
    },
    /// moto could not be reached, or its answer not read.
    #[error("POST {url}: {reason}")]
    Transport {
        /// moto's URL.
        url: String,
        /// The error and its causes, on one line.
        reason: String,
    },
    /// moto refused the action.
    #[error("moto {action} failed: HTTP {status}: {body}")]
    Refused {
        /// The action (`CreateRole`).
        action: String,
        /// HTTP status.
        status: u16,
        /// moto's answer, shortened (AWS XML).
        body: String,
    },
    /// moto's answer lacks an element it must have.
    #[error("moto's answer has no <{tag}>: {body}")]
    MissingElement {
        /// The element.
        tag: String,
        /// The answer, shortened.
        body: String,
    },
}

/// A task role to create with [`create_role`]: for the misconfigurations a task can have (a
/// wrong path, missing or wrong tags, no `iam:GetRole` on itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSpec {
    /// The service the role is for.
    pub service: String,
    /// IAM path (`/consul-ecs/`, `other`, `/` …).
    pub path: String,
    /// Tags, in order (default: `consul.hashicorp.com.service-name=<service>`).
    pub tags: Vec<(String, String)>,
    /// Whether the role may call `iam:GetRole` on itself (default true).
    pub allow_get_role: bool,
}

impl RoleSpec {
    /// A role tagged with `service`, GetRole allowed.
    pub fn new(service: &str, path: &str) -> RoleSpec {
        RoleSpec {
            service: service.to_string(),
            path: path.to_string(),
            tags: vec![(SERVICE_NAME_TAG.to_string(), service.to_string())],
            allow_get_role: true,
        }
    }

    /// Replaces the tags.
    pub fn tags(mut self, tags: &[(&str, &str)]) -> RoleSpec {
        self.tags = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, key: &str, value: &str) -> RoleSpec {
        self.tags.push((key.to_string(), value.to_string()));
        self
    }

    /// Leaves out the inline policy allowing `iam:GetRole` on the role itself.
    pub fn without_get_role(mut self) -> RoleSpec {
        self.allow_get_role = false;
        self
    }
}

/// A role assumed like an ECS task role: its identity and temporary credentials.
/// `Debug` hides the secret key and the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct TaskRole {
    /// Role name, e.g. `consul-ecs-web`.
    pub name: String,
    /// Role ARN with path, e.g. `arn:aws:iam::123456789012:role/consul-ecs/consul-ecs-web`.
    pub arn: String,
    /// IAM path, e.g. `/consul-ecs/`.
    pub path: String,
    /// The service the role is tagged with.
    pub service: String,
    /// The `RoleSessionName` it was assumed with (a 32-hex task-ID-like value).
    pub session_name: String,
    /// Temporary access key ID (`ASIA…`).
    pub access_key_id: String,
    /// Temporary secret access key.
    pub secret_access_key: String,
    /// Session token.
    pub session_token: String,
    /// When the credentials expire, RFC 3339 as STS reports it.
    pub expiration: String,
}

impl TaskRole {
    /// The ARN `sts:GetCallerIdentity` reports for these credentials:
    /// `arn:aws:sts::<acct>:assumed-role/<name>/<session>`.
    pub fn assumed_role_arn(&self) -> String {
        format!(
            "arn:aws:sts::{ACCOUNT_ID}:assumed-role/{}/{}",
            self.name, self.session_name
        )
    }

    /// The credentials as the AWS SDK types hold them.
    pub fn credentials(&self) -> Credentials {
        Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            Some(self.session_token.clone()),
            None,
            "moto-task-role",
        )
    }
}

impl std::fmt::Debug for TaskRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskRole")
            .field("name", &self.name)
            .field("arn", &self.arn)
            .field("path", &self.path)
            .field("service", &self.service)
            .field("session_name", &self.session_name)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// The admin IAM user: long-term credentials, no session token. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct IamUser {
    /// User name ([`ADMIN_USER`]).
    pub name: String,
    /// User ARN with path, `arn:aws:iam::123456789012:user/ops/alice`.
    pub arn: String,
    /// Access key ID (`AKIA…`).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
}

impl IamUser {
    /// The credentials as the AWS SDK types hold them.
    pub fn credentials(&self) -> Credentials {
        Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            None,
            None,
            "moto-user",
        )
    }
}

impl std::fmt::Debug for IamUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IamUser")
            .field("name", &self.name)
            .field("arn", &self.arn)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// The admin user, made with moto's first [`SETUP_NO_AUTH_ACTIONS`] unauthenticated
/// requests (start moto with `INITIAL_NO_AUTH_ACTION_COUNT` at least that, or unset), and
/// the task role `/consul-ecs/consul-ecs-<service>`, assumed, in the moto at `endpoint`.
pub async fn provision(endpoint: &str, service: &str) -> Result<(IamUser, TaskRole), MotoError> {
    // Any key works while moto does not check; it only routes the request.
    let anyone = Credentials::new("AKIAIOSFODNN7EXAMPLE", "setup", None, None, "setup");
    let allow_all =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
            .to_string();
    let user = call(
        endpoint,
        "iam",
        &anyone,
        &[
            ("Action", "CreateUser"),
            ("Version", "2010-05-08"),
            ("UserName", ADMIN_USER),
            ("Path", ADMIN_PATH),
        ],
    )
    .await?;
    let user_arn = xml_text(&user, "Arn")?;
    call(
        endpoint,
        "iam",
        &anyone,
        &[
            ("Action", "PutUserPolicy"),
            ("Version", "2010-05-08"),
            ("UserName", ADMIN_USER),
            ("PolicyName", "admin"),
            ("PolicyDocument", &allow_all),
        ],
    )
    .await?;
    let key = call(
        endpoint,
        "iam",
        &anyone,
        &[
            ("Action", "CreateAccessKey"),
            ("Version", "2010-05-08"),
            ("UserName", ADMIN_USER),
        ],
    )
    .await?;
    let admin = IamUser {
        name: ADMIN_USER.to_string(),
        arn: user_arn,
        access_key_id: xml_text(&key, "AccessKeyId")?,
        secret_access_key: xml_text(&key, "SecretAccessKey")?,
    };
    // From here on moto checks signatures: the role is made with the admin's key.
    let role = create_role(
        endpoint,
        &admin,
        &role_name(service),
        &RoleSpec::new(service, TASK_ROLE_PATH),
    )
    .await?;
    Ok((admin, role))
}

/// The name of a service's task role: `consul-ecs-<service>`.
pub fn role_name(service: &str) -> String {
    format!("consul-ecs-{service}")
}

/// IAM paths begin and end with `/`.
pub fn normalise_path(path: &str) -> String {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        "/".to_string()
    } else {
        format!("/{trimmed}/")
    }
}

/// CreateRole `name` as `spec` says (trusting the admin), PutRolePolicy (GetRole on
/// itself) when allowed, and AssumeRole, all signed with the admin's key.
pub async fn create_role(
    endpoint: &str,
    admin: &IamUser,
    name: &str,
    spec: &RoleSpec,
) -> Result<TaskRole, MotoError> {
    let creds = admin.credentials();
    // moto checks the trust policy against the caller's ARN as it spells it: the user's
    // without its path (it does not expand the account's `:root` principal either), so the
    // policy names the admin both ways.
    let pathless = format!("arn:aws:iam::{ACCOUNT_ID}:user/{}", admin.name);
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": [admin.arn, pathless]}, "Action": "sts:AssumeRole"}]})
    .to_string();
    let mut form: Vec<(String, String)> = vec![
        ("Action".into(), "CreateRole".into()),
        ("Version".into(), "2010-05-08".into()),
        ("RoleName".into(), name.into()),
        ("Path".into(), spec.path.clone()),
        ("AssumeRolePolicyDocument".into(), trust),
    ];
    for (i, (key, value)) in spec.tags.iter().enumerate() {
        form.push((format!("Tags.member.{}.Key", i + 1), key.clone()));
        form.push((format!("Tags.member.{}.Value", i + 1), value.clone()));
    }
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let created = call(endpoint, "iam", &creds, &pairs).await?;
    let arn = xml_text(&created, "Arn")?;
    if spec.allow_get_role {
        let get_self = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "iam:GetRole", "Resource": arn}]})
        .to_string();
        call(
            endpoint,
            "iam",
            &creds,
            &[
                ("Action", "PutRolePolicy"),
                ("Version", "2010-05-08"),
                ("RoleName", name),
                ("PolicyName", "consul-login"),
                ("PolicyDocument", &get_self),
            ],
        )
        .await?;
    }
    // ECS names the session after the task (believed; docs/protocols.md §2.3): a 32-hex ID.
    let session_name = uuid::Uuid::new_v4().simple().to_string();
    let assumed = call(
        endpoint,
        "sts",
        &creds,
        &[
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", &arn),
            ("RoleSessionName", &session_name),
        ],
    )
    .await?;
    let service = spec
        .tags
        .iter()
        .find(|(k, _)| k == SERVICE_NAME_TAG)
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    Ok(TaskRole {
        name: name.to_string(),
        arn,
        path: spec.path.clone(),
        service,
        session_name,
        access_key_id: xml_text(&assumed, "AccessKeyId")?,
        secret_access_key: xml_text(&assumed, "SecretAccessKey")?,
        session_token: xml_text(&assumed, "SessionToken")?,
        expiration: xml_text(&assumed, "Expiration")?,
    })
}

/// A signed query-protocol call that must succeed: moto's answer, or [`MotoError::Refused`].
pub async fn call(
    endpoint: &str,
    service: &str,
    creds: &Credentials,
    form: &[(&str, &str)],
) -> Result<String, MotoError> {
    let (status, body) = signed_post(endpoint, service, creds, form).await?;
    if status == 200 {
        return Ok(body);
    }
    let action = form
        .iter()
        .find(|(k, _)| *k == "Action")
        .map_or("?", |(_, v)| *v);
    Err(MotoError::Refused {
        action: action.to_string(),
        status,
        body: boundary::truncate_chars(&body, ERROR_EXCERPT),
    })
}

/// Signs `form` (a query-protocol request, e.g. `Action=GetCallerIdentity`) for `service`
/// (`sts` or `iam`) with `creds` and posts it to moto: `(status, body)`.
pub async fn signed_post(
    endpoint: &str,
    service: &str,
    creds: &Credentials,
    form: &[(&str, &str)],
) -> Result<(u16, String), MotoError> {
    // moto re-encodes the form to check the signature and escapes `*` (a policy's
    // `"Resource": "*"`), which the WHATWG serializer leaves as it is: escape it here too,
    // so both sides sign the same bytes.
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish()
        .replace('*', "%2A");
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    signed_request(
        endpoint,
        service,
        creds,
        &[("content-type", content_type)],
        body,
    )
    .await
}

/// Signs a `POST /` with aws-sigv4 (region [`REGION`], `headers` signed too) and sends it
/// to `endpoint`: `(status, body)`.
pub async fn signed_request(
    endpoint: &str,
    service: &str,
    creds: &Credentials,
    headers: &[(&str, &str)],
    body: String,
) -> Result<(u16, String), MotoError> {
    let url = format!("{}/", endpoint.trim_end_matches('/'));
    let sign_error = |reason: String| MotoError::Sign {
        service: service.to_string(),
        reason,
    };
    let identity: Identity = creds.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| sign_error(boundary::error_chain(&e)))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        url.as_str(),
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| sign_error(boundary::error_chain(&e)))?;
    let instructions = sign(signable, &params)
        .map_err(|e| sign_error(boundary::error_chain(&e)))?
        .into_parts()
        .0;
    let transport = |reason: String| MotoError::Transport {
        url: url.clone(),
        reason,
    };
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| transport(boundary::error_chain(&e)))?;
    let mut request = client.post(&url).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    for (name, value) in instructions.headers() {
        request = request.header(name, value);
    }
    let response = request
        .send()
        .await
        .map_err(|e| transport(boundary::error_chain(&e)))?;
    let status = response.status().as_u16();
    let bytes = boundary::read_body(response, ANSWER_LIMIT)
        .await
        .map_err(|e| transport(boundary::error_chain(&e)))?;
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

/// Text of the first `<tag>…</tag>` in `xml`.
pub fn xml_text(xml: &str, tag: &str) -> Result<String, MotoError> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let missing = || MotoError::MissingElement {
        tag: tag.to_string(),
        body: boundary::truncate_chars(xml, ERROR_EXCERPT),
    };
    let start = xml.find(&open).ok_or_else(missing)? + open.len();
    let end = xml[start..].find(&close).ok_or_else(missing)? + start;
    Ok(xml[start..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_finds_the_first_element_or_names_the_missing_one() {
        let xml = "<R><Arn>arn:1</Arn><Arn>arn:2</Arn></R>";
        assert_eq!(xml_text(xml, "Arn").unwrap(), "arn:1");
        let err = xml_text(xml, "SessionToken").unwrap_err();
        assert!(err.to_string().contains("<SessionToken>"), "{err}");
    }

    #[test]
    fn iam_paths_are_normalised_and_debug_hides_secrets() {
        assert_eq!(normalise_path("other"), "/other/");
        assert_eq!(normalise_path("/"), "/");
        let role = TaskRole {
            name: "consul-ecs-web".into(),
            arn: "arn".into(),
            path: "/consul-ecs/".into(),
            service: "web".into(),
            session_name: "s".into(),
            access_key_id: "ASIA".into(),
            secret_access_key: "very-secret".into(),
            session_token: "session-secret".into(),
            expiration: "e".into(),
        };
        let shown = format!("{role:?}");
        assert!(!shown.contains("very-secret") && !shown.contains("session-secret"));
    }

    #[tokio::test]
    async fn an_unreachable_moto_is_a_transport_error_naming_the_url() {
        let creds = Credentials::new("AKIA", "s", None, None, "t");
        let err = call(
            "http://127.0.0.1:1",
            "iam",
            &creds,
            &[("Action", "GetUser")],
        )
        .await
        .unwrap_err();
        assert!(matches!(err, MotoError::Transport { .. }), "{err}");
        assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
    }
}
