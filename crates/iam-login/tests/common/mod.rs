//! Shared setup for the tests that run against real moto: an IAM role with the service
//! tag, a user with an access key, and temporary credentials from assuming the role.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use iam_login::DecodedToken;
use testkit::moto::Moto;

/// Requests moto serves without checking signatures: CreateRole, PutRolePolicy,
/// CreateUser, PutUserPolicy, CreateAccessKey. Everything after is authenticated.
pub const SETUP_ACTIONS: u32 = 5;
pub const ROLE: &str = "consul-ecs-web";
pub const USER: &str = "alice";
pub const SESSION: &str = "0f3bca58e0f4486a95b04c1bd1d4be55";
pub const REGION: &str = "us-east-1";

pub struct World {
    pub moto: Moto,
    pub role_arn: String,
    pub user_creds: Credentials,
    pub role_creds: Credentials,
}

/// A response as the tests look at it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// Text of the first `<tag>…</tag>` in `xml`.
pub fn xml_text(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in:\n{xml}"))
        + open.len();
    let end = xml[start..].find(&close).unwrap() + start;
    xml[start..end].to_string()
}

/// Signs (with aws-sigv4, like the crate) and sends one query-protocol call to moto.
pub async fn aws_call(
    moto: &Moto,
    service: &str,
    creds: &Credentials,
    form: &[(&str, &str)],
) -> Reply {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let url = format!("{}/", moto.endpoint());
    let identity: Identity = creds.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let signable = SignableRequest::new(
        "POST",
        url.as_str(),
        [("content-type", content_type)].into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = reqwest::Client::new()
        .post(&url)
        .header("content-type", content_type)
        .body(body);
    for (name, value) in instructions.headers() {
        request = request.header(name, value);
    }
    reply(request.send().await.unwrap()).await
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response.text().await.unwrap();
    Reply {
        status,
        content_type,
        body,
    }
}

fn check(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 200, "{what} failed: {reply:#?}");
}

/// Starts moto and builds the world: role (path `/consul-ecs/`, tag
/// `consul.hashicorp.com.service-name=web`, trust and permissions for everyone in the
/// account), user with an access key, and the role assumed by the user.
pub async fn world() -> World {
    let moto = Moto::start(SETUP_ACTIONS);
    // Unchecked during setup; any key routes the request to the right moto service.
    let anyone = Credentials::new("AKIAIOSFODNN7EXAMPLE", "setup", None, None, "setup");
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
    let allow_all =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

    let role = aws_call(
        &moto,
        "iam",
        &anyone,
        &[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", ROLE),
            ("Path", "/consul-ecs/"),
            ("AssumeRolePolicyDocument", trust),
            ("Tags.member.1.Key", "consul.hashicorp.com.service-name"),
            ("Tags.member.1.Value", "web"),
        ],
    )
    .await;
    check(&role, "CreateRole");
    let role_arn = xml_text(&role.body, "Arn");
    check(
        &aws_call(
            &moto,
            "iam",
            &anyone,
            &[
                ("Action", "PutRolePolicy"),
                ("Version", "2010-05-08"),
                ("RoleName", ROLE),
                ("PolicyName", "all"),
                ("PolicyDocument", allow_all),
            ],
        )
        .await,
        "PutRolePolicy",
    );
    check(
        &aws_call(
            &moto,
            "iam",
            &anyone,
            &[
                ("Action", "CreateUser"),
                ("Version", "2010-05-08"),
                ("UserName", USER),
                ("Path", "/ops/"),
            ],
        )
        .await,
        "CreateUser",
    );
    check(
        &aws_call(
            &moto,
            "iam",
            &anyone,
            &[
                ("Action", "PutUserPolicy"),
                ("Version", "2010-05-08"),
                ("UserName", USER),
                ("PolicyName", "all"),
                ("PolicyDocument", allow_all),
            ],
        )
        .await,
        "PutUserPolicy",
    );
    let key = aws_call(
        &moto,
        "iam",
        &anyone,
        &[
            ("Action", "CreateAccessKey"),
            ("Version", "2010-05-08"),
            ("UserName", USER),
        ],
    )
    .await;
    check(&key, "CreateAccessKey");
    let user_creds = Credentials::new(
        xml_text(&key.body, "AccessKeyId"),
        xml_text(&key.body, "SecretAccessKey"),
        None,
        None,
        "moto-user",
    );

    // From here on moto checks signatures: this call proves the user key is real.
    let assumed = aws_call(
        &moto,
        "sts",
        &user_creds,
        &[
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", &role_arn),
            ("RoleSessionName", SESSION),
        ],
    )
    .await;
    check(&assumed, "AssumeRole");
    let role_creds = Credentials::new(
        xml_text(&assumed.body, "AccessKeyId"),
        xml_text(&assumed.body, "SecretAccessKey"),
        Some(xml_text(&assumed.body, "SessionToken")),
        None,
        "moto-assumed-role",
    );
    World {
        moto,
        role_arn,
        user_creds,
        role_creds,
    }
}

/// Replays the STS request a bearer token describes, as the Consul server does: to
/// `target` (the method's STSEndpoint, or the token URL), with `Host` forced to the token
/// URL's host and every token header copied.
pub async fn replay_sts(token: &DecodedToken, target: &str) -> Reply {
    let host = url::Url::parse(&token.url).unwrap();
    let host = match host.port() {
        Some(port) => format!("{}:{port}", host.host_str().unwrap()),
        None => host.host_str().unwrap().to_string(),
    };
    send(target, &host, &token.headers, &token.body).await
}

/// Replays the embedded GetRole/GetUser request to moto with `Host: iam.amazonaws.com`.
pub async fn replay_entity(token: &DecodedToken, moto: &Moto) -> Reply {
    assert_eq!(token.header("X-Consul-Iam-Getentity-Method"), Some("POST"));
    let url = url::Url::parse(token.header("X-Consul-Iam-Getentity-Url").unwrap()).unwrap();
    let headers: BTreeMap<String, Vec<String>> =
        serde_json::from_str(token.header("X-Consul-Iam-Getentity-Headers").unwrap()).unwrap();
    let body = token.header("X-Consul-Iam-Getentity-Body").unwrap();
    send(
        &format!("{}/", moto.endpoint()),
        url.host_str().unwrap(),
        &headers,
        body,
    )
    .await
}

async fn send(
    target: &str,
    host: &str,
    headers: &BTreeMap<String, Vec<String>>,
    body: &str,
) -> Reply {
    let mut request = reqwest::Client::new()
        .post(target)
        .header("host", host)
        .body(body.to_string());
    for (name, values) in headers {
        if name == "Content-Length" {
            continue;
        }
        for value in values {
            request = request.header(name.as_str(), value.as_str());
        }
    }
    reply(request.send().await.unwrap()).await
}
