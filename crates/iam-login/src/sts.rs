//! The one request this crate sends: `sts:GetCallerIdentity`, to learn our own ARN before
//! describing it with an embedded GetRole/GetUser request (include-entity,
//! docs/protocols.md §3.3).

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use quick_xml::events::Event;
use quick_xml::Reader;
use url::Url;

use crate::sign::{sign_post, RequestSpec};
use crate::LoginError;

/// The GetCallerIdentity form body (43 bytes).
pub(crate) const STS_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

/// How long one GetCallerIdentity call may take; the caller retries the whole login.
const STS_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest GetCallerIdentity answer read (a real one is a few hundred bytes).
const STS_BODY_LIMIT: u64 = 64 * 1024;

/// AWS error bodies are small; a huge body means something else answered.
const MAX_ERROR_BODY: usize = 2048;

/// Signs and sends GetCallerIdentity to `url` and returns the `<Arn>` it reports.
pub(crate) async fn caller_arn(
    creds: &Credentials,
    url: &Url,
    region: &str,
    user_agent: &str,
    time: SystemTime,
) -> Result<String, LoginError> {
    let request = sign_post(
        creds,
        RequestSpec {
            url,
            service: "sts",
            region,
            body: STS_BODY,
            user_agent,
            extra_headers: Vec::new(),
            time,
        },
        "sts:GetCallerIdentity",
    )?;
    let transport = |e: reqwest::Error| LoginError::StsTransport {
        url: url.to_string(),
        reason: boundary::error_chain(&e),
    };
    // Redirects are not followed (a redirected signed request would fail anyway, and
    // Consul does not follow them either).
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(STS_TIMEOUT)
        .build()
        .map_err(transport)?;
    let mut builder = client.post(url.clone()).body(request.body.clone());
    for (name, values) in &request.headers {
        // reqwest sets Content-Length from the body itself.
        if name == "Content-Length" {
            continue;
        }
        for value in values {
            builder = builder.header(name.as_str(), value.as_str());
        }
    }
    tracing::debug!(url = %url, "sending sts:GetCallerIdentity to learn the caller ARN");
    let response = builder.send().await.map_err(transport)?;
    let status = response.status();
    // A GetCallerIdentity answer is well under a kilobyte; an STS endpoint (configurable,
    // so possibly anything) that sends more is not STS.
    let body = boundary::read_body(response, STS_BODY_LIMIT)
        .await
        .map_err(|e| LoginError::StsTransport {
            url: url.to_string(),
            reason: boundary::error_chain(&e),
        })?;
    let body = String::from_utf8_lossy(&body);
    if !status.is_success() {
        return Err(LoginError::StsStatus {
            url: url.to_string(),
            status: status.as_u16(),
            body: crate::redact_credentials(
                creds,
                &boundary::truncate_bytes(body.trim(), MAX_ERROR_BODY),
            ),
        });
    }
    let arn = parse_caller_arn(&body)?;
    tracing::debug!(arn = %arn, "sts:GetCallerIdentity answered");
    Ok(arn)
}

/// Extracts `GetCallerIdentityResult/Arn`, requiring exactly one result (as Consul does).
pub(crate) fn parse_caller_arn(xml: &str) -> Result<String, LoginError> {
    let bad = |reason: String| LoginError::StsResponse(reason);
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<String> = Vec::new();
    let mut results = 0usize;
    let mut arn: Option<String> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if name == "GetCallerIdentityResult" {
                    results += 1;
                }
                stack.push(name);
            }
            Ok(Event::End(_)) => {
                stack.pop();
            }
            Ok(Event::Text(t)) => {
                let in_arn = stack.len() >= 2
                    && stack[stack.len() - 1] == "Arn"
                    && stack[stack.len() - 2] == "GetCallerIdentityResult";
                if in_arn {
                    let text = t.unescape().map_err(|e| bad(format!("bad XML: {e}")))?;
                    arn = Some(text.trim().to_string());
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(bad(format!("bad XML: {e}"))),
        }
    }
    if results != 1 {
        return Err(bad(format!(
            "received {results} identities in STS response but expected 1"
        )));
    }
    arn.filter(|a| !a.is_empty())
        .ok_or_else(|| bad("no <Arn> in GetCallerIdentityResult".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_43_bytes() {
        assert_eq!(STS_BODY.len(), 43);
    }

    #[test]
    fn parses_the_protocol_example() {
        let xml = r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:sts::123456789012:assumed-role/consul-ecs-web/0f3bca58e0f4486a95b04c1bd1d4be55</Arn>
    <UserId>AROAEXAMPLEROLEID1234:0f3bca58e0f4486a95b04c1bd1d4be55</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>"#;
        assert_eq!(
            parse_caller_arn(xml).unwrap(),
            "arn:aws:sts::123456789012:assumed-role/consul-ecs-web/0f3bca58e0f4486a95b04c1bd1d4be55"
        );
    }

    #[test]
    fn rejects_responses_without_exactly_one_identity() {
        let none = "<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>";
        let err = parse_caller_arn(none).unwrap_err().to_string();
        assert!(err.contains("received 0 identities"), "{err}");
        let two = "<R><GetCallerIdentityResult><Arn>a</Arn></GetCallerIdentityResult>\
                   <GetCallerIdentityResult><Arn>b</Arn></GetCallerIdentityResult></R>";
        let err = parse_caller_arn(two).unwrap_err().to_string();
        assert!(err.contains("received 2 identities"), "{err}");
        let empty = "<R><GetCallerIdentityResult><UserId>x</UserId></GetCallerIdentityResult></R>";
        assert!(parse_caller_arn(empty).is_err());
        assert!(parse_caller_arn("<R><GetCallerIdentityResult><Arn>x</R>").is_err());
    }

    #[test]
    fn error_bodies_lose_our_secrets() {
        let creds = Credentials::new("AKID", "SECRETKEY", Some("SESSIONTOK".into()), None, "t");
        let body = "canonical: x-amz-security-token:SESSIONTOK key SECRETKEY".to_string();
        let out = crate::redact_credentials(&creds, &body);
        assert!(
            !out.contains("SESSIONTOK") && !out.contains("SECRETKEY"),
            "{out}"
        );
        assert_eq!(
            boundary::truncate_bytes(&"é".repeat(3000), MAX_ERROR_BODY)
                .chars()
                .count(),
            1025
        );
    }
}
