//! Who the task's AWS credentials are, as the aws-iam auth method will see them: the caller
//! ARN from a signed `sts:GetCallerIdentity` (iam-login's, sent to the same STS endpoint the
//! login uses) and, for a role, its path and tags from `iam:GetRole` (aws-sdk-iam), which the
//! task role may call on itself because the auth method needs it to (docs/protocols.md §2.1,
//! §3.3).

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use iam_login::{LoginError, LoginParams, PrincipalArn};

/// One `iam:GetRole` attempt may take this long, two attempts this long in all: a task in a
/// private subnet may not reach IAM at all (it needs only STS to log in), and then the
/// diagnosis falls back to Consul's own words rather than hold the failure up.
const IAM_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(4);
const IAM_TIMEOUT: Duration = Duration::from_secs(8);
/// Longest AWS message kept in a finding.
const MAX_MESSAGE: usize = 300;

/// Where the credentials came from, as far as the environment tells (the default chain's
/// order: environment variables first, the ECS container endpoint late).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialsSource {
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` in the container's environment.
    Environment,
    /// A web identity token file (`AWS_WEB_IDENTITY_TOKEN_FILE`).
    WebIdentity,
    /// The ECS container credentials endpoint: the task role.
    TaskRole,
    /// Something else of the default chain (a profile, instance metadata).
    Other,
}

impl CredentialsSource {
    /// Which source the default chain will use, judged from the variables `env` returns.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> CredentialsSource {
        let set = |name: &str| env(name).is_some_and(|v| !v.trim().is_empty());
        if set("AWS_ACCESS_KEY_ID") || set("AWS_ACCESS_KEY") {
            CredentialsSource::Environment
        } else if set("AWS_WEB_IDENTITY_TOKEN_FILE") {
            CredentialsSource::WebIdentity
        } else if set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
            || set("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        {
            CredentialsSource::TaskRole
        } else {
            CredentialsSource::Other
        }
    }

    /// A few words for a message: `the environment variable AWS_ACCESS_KEY_ID`.
    pub fn describe(self) -> &'static str {
        match self {
            CredentialsSource::Environment => "the environment variable AWS_ACCESS_KEY_ID",
            CredentialsSource::WebIdentity => "a web identity token, AWS_WEB_IDENTITY_TOKEN_FILE",
            CredentialsSource::TaskRole => "the ECS task role's credentials endpoint",
            CredentialsSource::Other => "a profile or instance metadata",
        }
    }
}

/// An IAM role as `iam:GetRole` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleInfo {
    /// The role's name.
    pub name: String,
    /// Its ARN with the path, e.g. `arn:aws:iam::123456789012:role/consul-ecs/consul-ecs-web`.
    pub arn: String,
    /// Its IAM path, e.g. `/consul-ecs/`.
    pub path: String,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// What reading the role gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleLookup {
    /// The caller is not a role (an IAM user, a federated user, …): there is none to read.
    NotARole,
    /// The role.
    Found(RoleInfo),
    /// IAM refused `iam:GetRole` (`AccessDenied`); AWS's message.
    Denied(String),
    /// IAM could not be asked, or answered something else; why.
    Failed(String),
}

/// The caller's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The ARN STS reported, e.g. `arn:aws:sts::123456789012:assumed-role/consul-ecs-web/<task>`.
    pub caller_arn: String,
    /// That ARN taken apart.
    pub principal: PrincipalArn,
    /// Where the credentials came from.
    pub source: CredentialsSource,
    /// The role, for a role.
    pub role: RoleLookup,
}

impl Identity {
    /// Whether the caller is an IAM role (assumed or not).
    pub fn is_role(&self) -> bool {
        matches!(self.principal.kind.as_str(), "role" | "assumed-role")
    }

    /// The role's ARN with its path when `iam:GetRole` told it, else the path-less one.
    pub fn role_arn(&self) -> String {
        match &self.role {
            RoleLookup::Found(role) => role.arn.clone(),
            _ => self.principal.canonical(),
        }
    }

    /// One line for a report: `role consul-ecs-web (path /consul-ecs/), credentials from …`.
    pub fn summary(&self) -> String {
        let who = match &self.role {
            RoleLookup::Found(role) => format!("role {}", role.arn),
            RoleLookup::NotARole => format!("{} {}", self.principal.kind, self.caller_arn),
            RoleLookup::Denied(_) | RoleLookup::Failed(_) => {
                format!("role {}", self.principal.canonical())
            }
        };
        format!("{who}, credentials from {}", self.source.describe())
    }
}

/// Why the identity could not be looked at.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// No credentials: the default chain found none.
    #[error("{0}")]
    Credentials(LoginError),
    /// `sts:GetCallerIdentity` failed (network, refused credentials).
    #[error("{0}")]
    CallerIdentity(LoginError),
}

/// Looks the caller up: credentials from the default chain (for `params.region`), a signed
/// `sts:GetCallerIdentity` to the login's STS endpoint, and for a role `iam:GetRole` through
/// aws-sdk-iam (endpoint `AWS_ENDPOINT_URL_IAM` / `AWS_ENDPOINT_URL` when set). `env` is the
/// process environment (a parameter for tests).
pub async fn look_up(
    params: &LoginParams,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Identity, IdentityError> {
    let source = CredentialsSource::from_env(&env);
    let creds = iam_login::load_credentials(Some(&params.region))
        .await
        .map_err(IdentityError::Credentials)?;
    let caller_arn = iam_login::caller_arn(&creds, params)
        .await
        .map_err(IdentityError::CallerIdentity)?;
    let principal = PrincipalArn::parse(&caller_arn).map_err(IdentityError::CallerIdentity)?;
    let role = match principal.kind.as_str() {
        "role" | "assumed-role" => {
            get_role(
                &creds,
                &iam_region(&params.region),
                &principal.friendly_name,
            )
            .await
        }
        _ => RoleLookup::NotARole,
    };
    tracing::debug!(caller = %caller_arn, ?role, "looked at the task's AWS identity");
    Ok(Identity {
        caller_arn,
        principal,
        source,
        role,
    })
}

/// IAM is global per partition: signed for us-east-1 in `aws`, for the partition's region in
/// China and GovCloud.
fn iam_region(region: &str) -> String {
    if region.starts_with("cn-") {
        "cn-north-1".to_string()
    } else if region.starts_with("us-gov-") {
        "us-gov-west-1".to_string()
    } else {
        "us-east-1".to_string()
    }
}

/// `iam:GetRole` on `name` with `creds`.
async fn get_role(creds: &Credentials, region: &str, name: &str) -> RoleLookup {
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .http_client(boundary::aws_http_client())
        .credentials_provider(creds.clone())
        .region(Region::new(region.to_string()))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(IAM_TIMEOUT)
                .operation_attempt_timeout(IAM_ATTEMPT_TIMEOUT)
                .connect_timeout(Duration::from_secs(3))
                .build(),
        )
        // A diagnosis asks once; a throttled or failed answer is reported, not waited out.
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .load()
        .await;
    let client = aws_sdk_iam::Client::new(&shared);
    match client.get_role().role_name(name).send().await {
        Ok(out) => match out.role() {
            Some(role) => RoleLookup::Found(RoleInfo {
                name: role.role_name().to_string(),
                arn: role.arn().to_string(),
                path: role.path().to_string(),
                tags: role
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
            }),
            None => RoleLookup::Failed("iam:GetRole answered without a role".to_string()),
        },
        Err(e) => {
            use aws_sdk_iam::error::ProvideErrorMetadata as _;
            // AWS's XML error normally parses into code and message; an endpoint that
            // answers in another shape (moto's `text/html`) still has its status and body.
            let raw = e.raw_response();
            let status = raw.map(|r| r.status().as_u16());
            let body = raw
                .and_then(|r| r.body().bytes())
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            let code = e
                .code()
                .map(str::to_string)
                .or_else(|| xml_element(&body, "Code"))
                .unwrap_or_default();
            let message = e
                .message()
                .map(str::to_string)
                .or_else(|| xml_element(&body, "Message"))
                .unwrap_or_default();
            let denied =
                code.starts_with("AccessDenied") || (code.is_empty() && status == Some(403));
            let text = if code.is_empty() && message.is_empty() {
                // One line of causes: the SDK's DisplayErrorContext appends its Debug form
                // (`DispatchFailure(… ConnectorError { kind: Io …`).
                boundary::error_chain(&e)
            } else {
                format!("{code}: {message}")
            };
            let text = redact(creds, &text);
            if denied {
                RoleLookup::Denied(text)
            } else {
                RoleLookup::Failed(text)
            }
        }
    }
}

/// The text of the first `<name>…</name>` in an AWS error body.
fn xml_element(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = start + body[start..].find(&format!("</{name}>"))?;
    let text = body[start..end].trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Our own secrets never reach a message, even if an endpoint echoes them; long texts are
/// cut.
pub(crate) fn redact(creds: &Credentials, text: &str) -> String {
    truncate(&iam_login::redact_credentials(creds, text), MAX_MESSAGE)
}

/// At most `max` characters, with `…` when cut.
pub(crate) use boundary::truncate_chars as truncate;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_follows_the_chain_order() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            CredentialsSource::from_env(env(&[
                ("AWS_ACCESS_KEY_ID", "AKIA"),
                ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/x")
            ])),
            CredentialsSource::Environment
        );
        assert_eq!(
            CredentialsSource::from_env(env(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://x")])),
            CredentialsSource::TaskRole
        );
        assert_eq!(
            CredentialsSource::from_env(env(&[("AWS_ACCESS_KEY_ID", " ")])),
            CredentialsSource::Other
        );
    }

    #[test]
    fn error_bodies_are_read_when_the_sdk_cannot() {
        let body = "<ErrorResponse><Error><Code>AccessDenied</Code><Message>not authorized</Message></Error></ErrorResponse>";
        assert_eq!(xml_element(body, "Code").as_deref(), Some("AccessDenied"));
        assert_eq!(
            xml_element(body, "Message").as_deref(),
            Some("not authorized")
        );
        assert_eq!(xml_element(body, "RequestId"), None);
        assert_eq!(xml_element("<Code></Code>", "Code"), None);
    }

    #[test]
    fn iam_is_signed_for_the_partition_region() {
        assert_eq!(iam_region("eu-west-1"), "us-east-1");
        assert_eq!(iam_region("cn-northwest-1"), "cn-north-1");
        assert_eq!(iam_region("us-gov-east-1"), "us-gov-west-1");
    }

    #[test]
    fn messages_lose_secrets_and_length() {
        let creds = Credentials::new("AKID", "SECRETKEY", Some("SESSION".into()), None, "t");
        let out = redact(&creds, "x SECRETKEY y SESSION z");
        assert_eq!(out, "x <redacted> y <redacted> z");
        assert_eq!(truncate(&"é".repeat(400), 300).chars().count(), 301);
    }
}
