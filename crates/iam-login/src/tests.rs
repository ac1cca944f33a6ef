//! Published vectors (docs/protocols.md §3.4, §3.5) with a fixed clock and fixed credentials.

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine as _;

use super::*;
use crate::token::{build_token, Entity};

const VECTOR_UA: &str = "example-client/1.0";
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN";

/// 2024-02-16T12:00:00Z
fn vector_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_708_084_800)
}

fn vector_creds() -> Credentials {
    Credentials::new(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        Some(SESSION_TOKEN.to_string()),
        None,
        "vector",
    )
}

fn params(server_id: Option<&str>, include_entity: bool) -> LoginParams {
    LoginParams {
        region: "us-east-1".to_string(),
        sts_endpoint: None,
        server_id_header_value: server_id.map(str::to_string),
        include_entity,
    }
}

fn role_entity() -> Entity {
    let arn = PrincipalArn::parse("arn:aws:sts::123456789012:assumed-role/consul-ecs-web/0f3bca58")
        .unwrap();
    Entity::from_arn(&arn).unwrap()
}

#[test]
fn aws_published_list_users_vector() {
    // AWS's own SigV4 example, signed with the settings sign_post uses.
    let creds = Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        None,
        None,
        "vector",
    );
    let identity: Identity = creds.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("iam")
        .time(SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160))
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let request = SignableRequest::new(
        "GET",
        "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
        [
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("host", "iam.amazonaws.com"),
        ]
        .into_iter(),
        SignableBody::Bytes(b""),
    )
    .unwrap();
    let (instructions, signature) = sign(request, &params).unwrap().into_parts();
    assert_eq!(
        signature,
        "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    );
    let auth = instructions
        .headers()
        .find(|(name, _)| *name == "authorization")
        .map(|(_, value)| value.to_string())
        .unwrap();
    assert!(
        auth.contains("SignedHeaders=content-type;host;x-amz-date,"),
        "{auth}"
    );
}

#[test]
fn plain_token_matches_protocol_example() {
    let token = build_token(
        &vector_creds(),
        &params(None, false),
        None,
        vector_time(),
        VECTOR_UA,
    )
    .unwrap();
    let want = serde_json::json!({
        "iam_http_request_method": "POST",
        "iam_request_url": "aHR0cHM6Ly9zdHMudXMtZWFzdC0xLmFtYXpvbmF3cy5jb20v",
        "iam_request_headers": "eyJBdXRob3JpemF0aW9uIjpbIkFXUzQtSE1BQy1TSEEyNTYgQ3JlZGVudGlhbD1BS0lBSU9TRk9ETk43RVhBTVBMRS8yMDI0MDIxNi91cy1lYXN0LTEvc3RzL2F3czRfcmVxdWVzdCwgU2lnbmVkSGVhZGVycz1jb250ZW50LWxlbmd0aDtjb250ZW50LXR5cGU7aG9zdDt4LWFtei1kYXRlO3gtYW16LXNlY3VyaXR5LXRva2VuLCBTaWduYXR1cmU9MjM1OGJmNDA0YTA4MWQwZTM0MTc3ODdjZGYxZGIzN2UyM2JhZjkyMjZmY2Y5ZWZhYzQ4MjUzNjdmNDU0Y2FmOCJdLCJDb250ZW50LUxlbmd0aCI6WyI0MyJdLCJDb250ZW50LVR5cGUiOlsiYXBwbGljYXRpb24veC13d3ctZm9ybS11cmxlbmNvZGVkOyBjaGFyc2V0PXV0Zi04Il0sIlVzZXItQWdlbnQiOlsiZXhhbXBsZS1jbGllbnQvMS4wIl0sIlgtQW16LURhdGUiOlsiMjAyNDAyMTZUMTIwMDAwWiJdLCJYLUFtei1TZWN1cml0eS1Ub2tlbiI6WyJJUW9KYjNKcFoybHVYMlZqRVhBTVBMRVNFU1NJT05UT0tFTiJdfQ==",
        "iam_request_body": "QWN0aW9uPUdldENhbGxlcklkZW50aXR5JlZlcnNpb249MjAxMS0wNi0xNQ=="
    });
    let got: serde_json::Value = serde_json::from_str(&token).unwrap();
    assert_eq!(got, want, "token:\n{token}");
    // Go's json.Marshal of the map: keys sorted, compact.
    assert!(token.starts_with(r#"{"iam_http_request_method":"POST","iam_request_body":"#));
}

#[test]
fn include_entity_token_matches_protocol_example() {
    let token = build_token(
        &vector_creds(),
        &params(Some("consul.example.com"), true),
        Some(&role_entity()),
        vector_time(),
        VECTOR_UA,
    )
    .unwrap();
    let decoded = DecodedToken::decode(&token).unwrap();
    let iam_headers = r#"{"Authorization":["AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240216/us-east-1/iam/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-security-token;x-consul-iam-serverid, Signature=fb97cb2abf8e4a14d97e31032281db788d5aadac9062b05dd5d064c99fa27723"],"Content-Length":["57"],"Content-Type":["application/x-www-form-urlencoded; charset=utf-8"],"User-Agent":["example-client/1.0"],"X-Amz-Date":["20240216T120000Z"],"X-Amz-Security-Token":["IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN"],"X-Consul-Iam-Serverid":["consul.example.com"]}"#;
    let want: BTreeMap<String, Vec<String>> = [
        ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240216/us-east-1/sts/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-security-token;x-consul-iam-getentity-body;x-consul-iam-getentity-headers;x-consul-iam-getentity-method;x-consul-iam-getentity-url;x-consul-iam-serverid, Signature=1de7aec4446a9cc2de6173c42d8d0eadbbd07b634dc405a82c71cfc4d3c2efd4"),
        ("Content-Length", "43"),
        ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
        ("User-Agent", "example-client/1.0"),
        ("X-Amz-Date", "20240216T120000Z"),
        ("X-Amz-Security-Token", SESSION_TOKEN),
        ("X-Consul-Iam-Getentity-Body", "Action=GetRole&RoleName=consul-ecs-web&Version=2010-05-08"),
        ("X-Consul-Iam-Getentity-Headers", iam_headers),
        ("X-Consul-Iam-Getentity-Method", "POST"),
        ("X-Consul-Iam-Getentity-Url", "https://iam.amazonaws.com/"),
        ("X-Consul-Iam-Serverid", "consul.example.com"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
    .collect();
    assert_eq!(decoded.headers, want);
    assert_eq!(decoded.url, "https://sts.us-east-1.amazonaws.com/");
    assert_eq!(decoded.body, "Action=GetCallerIdentity&Version=2011-06-15");
    assert_eq!(decoded.method, "POST");
    // The Go encoder's HTML escaping survives into the base64 header map.
    let raw_headers = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(
                serde_json::from_str::<serde_json::Value>(&token).unwrap()["iam_request_headers"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    assert!(raw_headers
        .contains(r"Action=GetRole\u0026RoleName=consul-ecs-web\u0026Version=2010-05-08"));
}

#[test]
fn users_get_a_get_user_request_and_others_are_refused() {
    let user = PrincipalArn::parse("arn:aws:iam::123456789012:user/ops/alice").unwrap();
    let token = build_token(
        &vector_creds(),
        &params(None, true),
        Some(&Entity::from_arn(&user).unwrap()),
        vector_time(),
        VECTOR_UA,
    )
    .unwrap();
    let decoded = DecodedToken::decode(&token).unwrap();
    assert_eq!(
        decoded.header("X-Consul-Iam-Getentity-Body"),
        Some("Action=GetUser&UserName=alice&Version=2010-05-08")
    );
    assert!(decoded.header("X-Consul-Iam-Serverid").is_none());
    let auth = decoded.header("Authorization").unwrap();
    assert!(!auth.contains("serverid"), "{auth}");

    let profile = PrincipalArn::parse("arn:aws:iam::123456789012:instance-profile/web").unwrap();
    let err = Entity::from_arn(&profile).unwrap_err().to_string();
    assert_eq!(
        err,
        "entity instance-profile is not an IAM role or IAM user"
    );
}

#[test]
fn permanent_credentials_send_no_session_token() {
    let creds = Credentials::new("AKIAIOSFODNN7EXAMPLE", "secret", None, None, "static");
    let token = build_token(&creds, &params(None, false), None, vector_time(), VECTOR_UA).unwrap();
    let decoded = DecodedToken::decode(&token).unwrap();
    assert!(!decoded.headers.contains_key("X-Amz-Security-Token"));
    assert!(decoded
        .header("Authorization")
        .unwrap()
        .contains("SignedHeaders=content-length;content-type;host;x-amz-date,"));
}

#[test]
fn sts_url_rules() {
    let mut p = params(None, false);
    p.region = "eu-west-2".to_string();
    assert_eq!(
        token::sts_url(&p).unwrap().as_str(),
        "https://sts.eu-west-2.amazonaws.com/"
    );
    p.sts_endpoint = Some("http://127.0.0.1:5000".to_string());
    assert_eq!(
        token::sts_url(&p).unwrap().as_str(),
        "http://127.0.0.1:5000/"
    );
    p.sts_endpoint = Some("https://proxy.example.com/sts".to_string());
    assert_eq!(
        token::sts_url(&p).unwrap().as_str(),
        "https://proxy.example.com/sts/"
    );
    p.sts_endpoint = Some("https://sts.example.com/?x=1".to_string());
    assert!(matches!(
        token::sts_url(&p),
        Err(LoginError::InvalidEndpoint { .. })
    ));
    p.sts_endpoint = Some("ftp://sts.example.com/".to_string());
    assert!(matches!(
        token::sts_url(&p),
        Err(LoginError::InvalidEndpoint { .. })
    ));
    p.sts_endpoint = None;
    p.region = String::new();
    assert!(matches!(token::sts_url(&p), Err(LoginError::MissingRegion)));
}

#[test]
fn debug_output_hides_secrets() {
    let token = build_token(
        &vector_creds(),
        &params(Some("consul.example.com"), true),
        Some(&role_entity()),
        vector_time(),
        VECTOR_UA,
    )
    .unwrap();
    let decoded = DecodedToken::decode(&token).unwrap();
    let shown = format!("{decoded:?}");
    assert!(!shown.contains(SESSION_TOKEN), "{shown}");
    assert!(!shown.contains("Signature="), "{shown}");
    assert!(!format!("{:?}", vector_creds()).contains("EXAMPLEKEY"));
}

#[test]
fn login_meta_user_keys_win() {
    let extra: BTreeMap<String, String> = [
        (META_CLUSTER.to_string(), "override".to_string()),
        ("team".to_string(), "a".to_string()),
    ]
    .into_iter()
    .collect();
    let meta = login_meta(
        "0f3bca58",
        "arn:aws:ecs:us-east-1:123456789012:cluster/c",
        &extra,
    );
    assert_eq!(meta.len(), 3);
    assert_eq!(meta[META_TASK_ID], "0f3bca58");
    assert_eq!(meta[META_CLUSTER], "override");
    assert_eq!(meta["team"], "a");
    let plain = login_meta("t", "c", &BTreeMap::new());
    assert_eq!(
        plain.into_iter().collect::<Vec<_>>(),
        vec![
            (META_CLUSTER.to_string(), "c".to_string()),
            (META_TASK_ID.to_string(), "t".to_string())
        ]
    );
}
