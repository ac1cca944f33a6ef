//! How the emulator's aws-iam method replays bearer tokens, against a scripted fake AWS
//! endpoint (no signature checks): where the request goes and with which Host, the
//! response checks (content type, identity count, unique-id match), retries, and the STS
//! header allow-list. The signature-checking path is covered against moto in
//! `consul_iam_login.rs`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{json, Value};
use testkit::consul::{ConsulEmulator, EmulatorOptions};

#[derive(Debug, Clone)]
struct Seen {
    host: String,
    path: String,
    body: String,
}

#[derive(Default)]
struct Script {
    answers: Mutex<VecDeque<(u16, &'static str, String)>>,
    seen: Mutex<Vec<Seen>>,
}

/// A fake AWS endpoint answering from a script; returns its base URL.
async fn fake_aws(script: Arc<Script>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(
        move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
            let script = script.clone();
            async move {
                script.seen.lock().unwrap().push(Seen {
                    host: headers
                        .get("host")
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or("")
                        .to_string(),
                    path: uri.path().to_string(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                let next = script.answers.lock().unwrap().pop_front();
                let (status, ct, body) =
                    next.unwrap_or((500, "text/plain", "script exhausted".to_string()));
                let mut resp: Response = body.into_response();
                *resp.status_mut() = StatusCode::from_u16(status).unwrap();
                resp.headers_mut()
                    .insert("content-type", ct.parse().unwrap());
                resp
            }
        },
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn identity_xml(user_id: &str) -> String {
    format!(
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:sts::123456789012:assumed-role/web-role/sess</Arn><UserId>{user_id}:sess</UserId><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>"
    )
}

fn role_xml(role_id: &str) -> String {
    format!(
        "<GetRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetRoleResult><Role><Path>/</Path><Arn>arn:aws:iam::123456789012:role/web-role</Arn><RoleName>web-role</RoleName><RoleId>{role_id}</RoleId><Tags><member><Key>service</Key><Value>web</Value></member></Tags></Role></GetRoleResult></GetRoleResponse>"
    )
}

/// An (unsigned) bearer token; the fake endpoint does not check signatures.
fn bearer(extra_headers: Value, url: &str) -> String {
    let mut headers = json!({
        "Authorization": ["AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20240216/us-east-1/sts/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-date, Signature=00"],
        "Content-Type": ["application/x-www-form-urlencoded; charset=utf-8"],
        "Content-Length": ["43"],
        "X-Amz-Date": ["20240216T120000Z"],
    });
    if let (Some(h), Some(extra)) = (headers.as_object_mut(), extra_headers.as_object()) {
        for (k, v) in extra {
            h.insert(k.clone(), v.clone());
        }
    }
    let b = base64::engine::general_purpose::STANDARD;
    json!({
        "iam_http_request_method": "POST",
        "iam_request_url": b.encode(url),
        "iam_request_headers": b.encode(headers.to_string()),
        "iam_request_body": b.encode("Action=GetCallerIdentity&Version=2011-06-15"),
    })
    .to_string()
}

fn entity_headers() -> Value {
    let iam_headers = json!({"Authorization": ["AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20240216/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"], "X-Amz-Date": ["20240216T120000Z"]});
    json!({
        "X-Consul-Iam-Getentity-Method": ["POST"],
        "X-Consul-Iam-Getentity-Url": ["https://iam.amazonaws.com/"],
        "X-Consul-Iam-Getentity-Headers": [iam_headers.to_string()],
        "X-Consul-Iam-Getentity-Body": ["Action=GetRole&RoleName=web-role&Version=2010-05-08"],
    })
}

struct Answer {
    status: u16,
    body: String,
}

async fn call(consul: &ConsulEmulator, path: &str, token: Option<&str>, body: Value) -> Answer {
    send(consul, reqwest::Method::PUT, path, token, body).await
}

async fn send(
    consul: &ConsulEmulator,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Answer {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", consul.http_addr()))
        .body(body.to_string());
    if let Some(t) = token {
        req = req.header("X-Consul-Token", t);
    }
    let resp = req.send().await.unwrap();
    Answer {
        status: resp.status().as_u16(),
        body: resp.text().await.unwrap(),
    }
}

async fn method(consul: &ConsulEmulator, name: &str, config: Value) {
    let m = consul.management_token();
    let body = json!({"Name": name, "Type": "aws-iam", "Config": config});
    let r = call(consul, "/v1/acl/auth-method", Some(&m), body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rule = json!({"AuthMethod": name, "BindType": "service", "BindName": "web"});
    let r = call(consul, "/v1/acl/binding-rule", Some(&m), rule).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn login(consul: &ConsulEmulator, method: &str, token: String) -> Answer {
    // Login is POST only, as in Consul 1.15.
    send(
        consul,
        reqwest::Method::POST,
        "/v1/acl/login",
        None,
        json!({"AuthMethod": method, "BearerToken": token}),
    )
    .await
}

/// The scripted AWS, its address, and an emulator with ACLs.
async fn world() -> (Arc<Script>, String, ConsulEmulator) {
    let script = Arc::new(Script::default());
    let aws = fake_aws(script.clone()).await;
    let consul = ConsulEmulator::start(EmulatorOptions {
        acls_enabled: true,
        ..EmulatorOptions::default()
    });
    (script, aws, consul)
}

const STS: &str = "https://sts.us-east-1.amazonaws.com/";

#[tokio::test]
async fn replays_to_the_configured_endpoint_and_checks_answers() {
    let (script, aws, consul) = world().await;
    let arn = "arn:aws:iam::123456789012:role/web-role";
    method(
        &consul,
        "plain",
        json!({"BoundIAMPrincipalARNs": [arn], "STSEndpoint": aws}),
    )
    .await;
    method(
        &consul,
        "retrying",
        json!({"BoundIAMPrincipalARNs": [arn], "STSEndpoint": aws, "MaxRetries": 1}),
    )
    .await;
    let m = consul.management_token();
    let ttl = json!({"Name": "plain", "Type": "aws-iam", "MaxTokenTTL": "5m", "Config": {"BoundIAMPrincipalARNs": [arn], "STSEndpoint": aws}});
    let r = call(&consul, "/v1/acl/auth-method/plain", Some(&m), ttl).await;
    assert_eq!(r.status, 200, "{}", r.body);
    method(&consul, "entity", json!({"BoundIAMPrincipalARNs": [arn], "STSEndpoint": aws, "IAMEndpoint": aws, "EnableIAMEntityDetails": true})).await;
    method(&consul, "amz-foo", json!({"BoundIAMPrincipalARNs": [arn], "STSEndpoint": aws, "AllowedSTSHeaderValues": ["X-Amz-Foo"]})).await;

    let push = |status: u16, ct: &'static str, body: String| {
        script.answers.lock().unwrap().push_back((status, ct, body));
    };

    // Success: sent to the configured endpoint with the token URL's host and path.
    push(200, "text/xml", identity_xml("AROAWEB"));
    let r = login(&consul, "plain", bearer(json!({}), STS)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        token["ExpirationTTL"], 300_000_000_000u64,
        "MaxTokenTTL applies to login tokens"
    );
    assert_eq!(token["Local"], true);
    assert_eq!(token["Description"], "token created via login");
    let seen = script.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen.host, "sts.us-east-1.amazonaws.com");
    assert_eq!(seen.path, "/");
    assert_eq!(seen.body, "Action=GetCallerIdentity&Version=2011-06-15");

    // The content type must be exactly text/xml.
    push(200, "application/xml", identity_xml("AROAWEB"));
    let r = login(&consul, "plain", bearer(json!({}), STS)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "response body is invalid")
    );

    // Exactly one identity.
    let two = identity_xml("A").replace(
        "</GetCallerIdentityResult>",
        "</GetCallerIdentityResult><GetCallerIdentityResult></GetCallerIdentityResult>",
    );
    push(200, "text/xml", two);
    let r = login(&consul, "plain", bearer(json!({}), STS)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "received 2 identities in STS response but expected 1")
    );

    // AWS errors come back with their status and body.
    let denied = "<ErrorResponse><Error><Code>ExpiredToken</Code></Error></ErrorResponse>";
    push(403, "text/xml", denied.to_string());
    let r = login(&consul, "plain", bearer(json!({}), STS)).await;
    assert_eq!(
        (r.status, r.body),
        (500, format!("received error code 403: {denied}"))
    );

    // 5xx: no retries by default, one retry with MaxRetries 1.
    push(503, "text/plain", "busy".into());
    let r = login(&consul, "plain", bearer(json!({}), STS)).await;
    assert_eq!(
        (r.status, r.body),
        (
            500,
            format!("error making request: POST {aws}/ giving up after 1 attempt(s)")
        )
    );
    let before = script.seen.lock().unwrap().len();
    push(503, "text/plain", "busy".into());
    push(200, "text/xml", identity_xml("AROAWEB"));
    let r = login(&consul, "retrying", bearer(json!({}), STS)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(script.seen.lock().unwrap().len(), before + 2);

    // Entity details: the IAM request goes to IAMEndpoint with the IAM host, and its
    // unique ID must match the caller's.
    push(200, "text/xml", identity_xml("AROAWEB"));
    push(200, "text/xml", role_xml("AROAOTHER"));
    let r = login(&consul, "entity", bearer(entity_headers(), STS)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "unique id mismatch in login token")
    );
    let seen = script.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen.host, "iam.amazonaws.com");
    assert_eq!(
        seen.body,
        "Action=GetRole&RoleName=web-role&Version=2010-05-08"
    );
    push(200, "text/xml", identity_xml("AROAWEB"));
    push(200, "text/xml", role_xml("AROAWEB"));
    let r = login(&consul, "entity", bearer(entity_headers(), STS)).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The X-Amz-* allow-list is checked before any request is sent.
    let count = script.seen.lock().unwrap().len();
    let r = login(&consul, "plain", bearer(json!({"X-Amz-Foo": ["1"]}), STS)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "invalid request header: X-Amz-Foo")
    );
    let r = login(
        &consul,
        "plain",
        bearer(json!({}), "https://sts.amazonaws.com/?Action=x"),
    )
    .await;
    assert_eq!(r.status, 500);
    assert!(r.body.contains("query string"), "{}", r.body);
    assert_eq!(script.seen.lock().unwrap().len(), count);
    push(200, "text/xml", identity_xml("AROAWEB"));
    let r = login(&consul, "amz-foo", bearer(json!({"x-amz-foo": ["1"]}), STS)).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_bind_name_that_cannot_be_computed_is_consuls_500() {
    let (script, aws, consul) = world().await;
    let arn = "arn:aws:iam::123456789012:role/web-role";
    let m = consul.management_token();
    let with_tag = json!({"Name": "m", "Type": "aws-iam", "Config": {"BoundIAMPrincipalARNs": [arn], "STSEndpoint": aws, "IAMEndpoint": aws, "EnableIAMEntityDetails": true, "IAMEntityTags": ["svc"]}});
    let r = call(&consul, "/v1/acl/auth-method", Some(&m), with_tag).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rule = json!({"AuthMethod": "m", "BindType": "service", "BindName": "${entity_tags.svc}"});
    let r = call(&consul, "/v1/acl/binding-rule", Some(&m), rule).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The method then loses its entity details: the rule's variable no longer exists.
    let without = json!({"Name": "m", "Type": "aws-iam", "Config": {"BoundIAMPrincipalARNs": [arn], "STSEndpoint": aws}});
    let r = call(&consul, "/v1/acl/auth-method/m", Some(&m), without).await;
    assert_eq!(r.status, 200, "{}", r.body);

    script
        .answers
        .lock()
        .unwrap()
        .push_back((200, "text/xml", identity_xml("AROAWEB")));
    let r = login(&consul, "m", bearer(json!({}), STS)).await;
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(
        r.body
            .starts_with("cannot compute \"service\" bind name for bind target: "),
        "{}",
        r.body
    );
}
