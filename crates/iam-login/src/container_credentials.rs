//! The ECS container credentials endpoint, read with a size limit.
//!
//! aws-config's own ECS provider reads the whole answer, however large: a credentials
//! endpoint (or something squatting on its address) that sends gigabytes would take the
//! process with it. This provider does the same requests (docs/protocols.md §2.3) but reads
//! at most [`CREDENTIALS_BODY_LIMIT`] bytes, and takes the credential chain's `EcsContainer`
//! place in [`crate::load_credentials`].
//!
//! - `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`: `http://169.254.170.2` + the path;
//! - else `AWS_CONTAINER_CREDENTIALS_FULL_URI`: `https://…`, or `http://` only to a loopback
//!   address or the ECS/EKS link-local hosts (as the SDKs allow);
//! - `Authorization`: the content of `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, else
//!   `AWS_CONTAINER_AUTHORIZATION_TOKEN`.

use std::net::Ipv6Addr;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{self, error::CredentialsError, future, ProvideCredentials};
use aws_credential_types::Credentials;
use serde::Deserialize;

/// Largest credentials answer read. A real one is well under 2 KiB.
pub const CREDENTIALS_BODY_LIMIT: u64 = 64 * 1024;
/// How long one request to the endpoint may take (the SDK's default is 5 s as well).
const TIMEOUT: Duration = Duration::from_secs(5);
/// The ECS agent's credentials host, for relative URIs.
const ECS_HOST: &str = "http://169.254.170.2";

/// The container credentials provider; `env` looks a variable up (the process environment
/// in production).
#[derive(Debug)]
pub struct ContainerCredentials {
    env: fn(&str) -> Option<String>,
}

impl ContainerCredentials {
    /// Reads its settings from the process environment at each call.
    pub fn from_env() -> Self {
        ContainerCredentials {
            env: |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()),
        }
    }

    async fn credentials(&self) -> provider::Result {
        let url = self.url()?;
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(CredentialsError::provider_error)?;
        let mut request = client.get(&url).header("Accept", "application/json");
        if let Some(token) = self.authorization()? {
            request = request.header("Authorization", token);
        }
        let response = request.send().await.map_err(|e| {
            CredentialsError::provider_error(format!(
                "the container credentials endpoint did not answer: {}",
                boundary::error_chain(&e)
            ))
        })?;
        let status = response.status();
        let body = boundary::read_body(response, CREDENTIALS_BODY_LIMIT)
            .await
            .map_err(|e| {
                CredentialsError::provider_error(format!(
                    "the container credentials endpoint: {}",
                    boundary::error_chain(&e)
                ))
            })?;
        if !status.is_success() {
            // The body of an error may echo the request, never credentials: still keep it out.
            return Err(CredentialsError::provider_error(format!(
                "the container credentials endpoint answered HTTP {}",
                status.as_u16()
            )));
        }
        let answer: Answer = serde_json::from_slice(&body).map_err(|e| {
            CredentialsError::unhandled(format!(
                "the container credentials endpoint's answer is not credentials JSON: {e}"
            ))
        })?;
        let expiry = answer
            .expiration
            .as_deref()
            .map(parse_expiration)
            .transpose()?;
        Ok(Credentials::new(
            answer.access_key_id,
            answer.secret_access_key,
            answer.token,
            expiry,
            "EcsContainer",
        ))
    }

    /// The endpoint, or "not loaded" when no variable names one (the chain moves on).
    fn url(&self) -> Result<String, CredentialsError> {
        if let Some(relative) = (self.env)("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            let path = if relative.starts_with('/') {
                relative
            } else {
                format!("/{relative}")
            };
            return Ok(format!("{ECS_HOST}{path}"));
        }
        let Some(full) = (self.env)("AWS_CONTAINER_CREDENTIALS_FULL_URI") else {
            return Err(CredentialsError::not_loaded(
                "neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor _FULL_URI is set",
            ));
        };
        let parsed = url::Url::parse(&full).map_err(|e| {
            CredentialsError::invalid_configuration(format!(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL: {e}"
            ))
        })?;
        match parsed.scheme() {
            "https" => Ok(full),
            "http" if allowed_plain_http_host(&parsed) => Ok(full),
            _ => Err(CredentialsError::invalid_configuration(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a loopback or \
                 ECS/EKS link-local address",
            )),
        }
    }

    fn authorization(&self) -> Result<Option<String>, CredentialsError> {
        if let Some(file) = (self.env)("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
            let token = boundary::read_text_file(
                std::path::Path::new(&file),
                crate::TOKEN_FILE_LIMIT,
                boundary::Links::Follow,
            )
            .map_err(|e| {
                CredentialsError::invalid_configuration(format!(
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: {e}"
                ))
            })?;
            return Ok(Some(token.trim().to_owned()));
        }
        Ok((self.env)("AWS_CONTAINER_AUTHORIZATION_TOKEN"))
    }
}

impl ProvideCredentials for ContainerCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.credentials())
    }
}

/// The answer's fields (the endpoint sends more, e.g. `RoleArn`).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
    expiration: Option<String>,
}

/// Plain HTTP is allowed to loopback, to the ECS agent (169.254.170.2) and to the EKS pod
/// identity agent (169.254.170.23, fd00:ec2::23).
fn allowed_plain_http_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => {
            ip.is_loopback()
                || ip.octets() == [169, 254, 170, 2]
                || ip.octets() == [169, 254, 170, 23]
        }
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback() || ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23)
        }
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    }
}

/// `2024-02-16T18:00:00Z` → a time (the endpoint's `Expiration`).
fn parse_expiration(text: &str) -> Result<SystemTime, CredentialsError> {
    aws_smithy_types::DateTime::from_str(text, aws_smithy_types::date_time::Format::DateTime)
        .ok()
        .and_then(|t| SystemTime::try_from(t).ok())
        .ok_or_else(|| {
            CredentialsError::unhandled(format!(
                "the container credentials' Expiration {text:?} is not an RFC 3339 time"
            ))
        })
}
