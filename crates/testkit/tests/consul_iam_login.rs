//! The emulator's aws-iam auth method against a real moto server: bearer tokens are built
//! here with aws-sigv4 (independently of crates/iam-login), and the emulator replays them
//! to moto's STS and IAM, which check the signatures.
//!
//! moto 5.2.5 facts these tests rely on (found by experiment): with
//! `INITIAL_NO_AUTH_ACTION_COUNT=n` the first n requests are served without any signature
//! or key check, later ones are verified (unknown key → 403 `InvalidClientTokenId`, bad
//! signature → 403 `SignatureDoesNotMatch`, both with `Content-Type: text/html` although
//! the body is AWS's XML error); temporary credentials from moto's own `AssumeRole` are
//! accepted; `GetCallerIdentity` needs no IAM permission but `GetRole` does, so the role
//! gets an inline policy allowing it. The role, user and credentials come from
//! `testkit::aws::AwsWorld`.

mod common;

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine as _;
use common::{call, Answer};
use serde_json::{json, Value};
use testkit::aws::AwsWorld;
use testkit::consul::{ConsulEmulator, EmulatorOptions};

const ACCOUNT: &str = "123456789012";
const ROLE: &str = "consul-ecs-web";
const STS_URL: &str = "https://sts.us-east-1.amazonaws.com/";
const IAM_URL: &str = "https://iam.amazonaws.com/";
const SERVER_ID: &str = "consul.test";
const TAG: &str = "consul.hashicorp.com.service-name";

type Headers = BTreeMap<String, Vec<String>>;

/// Go's canonical header spelling (`x-consul-iam-serverid` → `X-Consul-Iam-Serverid`).
fn canonical(name: &str) -> String {
    let mut out = String::new();
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

/// Signs a form POST; returns every header (Go-canonical names) except Host.
fn sign_post(
    creds: &Credentials,
    url: &str,
    service: &str,
    body: &str,
    extra: &[(&str, String)],
) -> Headers {
    let mut headers = Headers::new();
    headers.insert("Content-Length".into(), vec![body.len().to_string()]);
    headers.insert(
        "Content-Type".into(),
        vec!["application/x-www-form-urlencoded; charset=utf-8".into()],
    );
    for (k, v) in extra {
        headers.insert(canonical(k), vec![v.clone()]);
    }
    let identity: Identity = creds.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let flat = headers
        .iter()
        .flat_map(|(k, vs)| vs.iter().map(move |v| (k.as_str(), v.as_str())));
    let signable =
        SignableRequest::new("POST", url, flat, SignableBody::Bytes(body.as_bytes())).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let (signed, _) = instructions.into_parts();
    for h in signed {
        headers.insert(canonical(h.name()), vec![h.value().to_string()]);
    }
    headers
}

struct TokenOptions {
    server_id: Option<&'static str>,
    entity_server_id: Option<&'static str>,
    include_entity: bool,
}

/// A bearer token as consul-ecs builds it (docs/protocols.md §3.2–3.4).
fn bearer_token(creds: &Credentials, opts: &TokenOptions) -> String {
    let mut extra: Vec<(&str, String)> = Vec::new();
    if let Some(id) = opts.server_id {
        extra.push(("X-Consul-IAM-ServerID", id.to_string()));
    }
    if opts.include_entity {
        let iam_body = format!("Action=GetRole&RoleName={ROLE}&Version=2010-05-08");
        let mut iam_extra = Vec::new();
        if let Some(id) = opts.entity_server_id {
            iam_extra.push(("X-Consul-IAM-ServerID", id.to_string()));
        }
        let iam_headers = sign_post(creds, IAM_URL, "iam", &iam_body, &iam_extra);
        extra.push(("X-Consul-IAM-GetEntity-Method", "POST".into()));
        extra.push(("X-Consul-IAM-GetEntity-URL", IAM_URL.into()));
        extra.push((
            "X-Consul-IAM-GetEntity-Headers",
            serde_json::to_string(&iam_headers).unwrap(),
        ));
        extra.push(("X-Consul-IAM-GetEntity-Body", iam_body));
    }
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
    let headers = sign_post(creds, STS_URL, "sts", body, &extra);
    let b = base64::engine::general_purpose::STANDARD;
    json!({
        "iam_http_request_method": "POST",
        "iam_request_url": b.encode(STS_URL),
        "iam_request_headers": b.encode(serde_json::to_string(&headers).unwrap()),
        "iam_request_body": b.encode(body),
    })
    .to_string()
}

async fn login(consul: &ConsulEmulator, method: &str, bearer: &str) -> Answer {
    let body = json!({
        "AuthMethod": method,
        "BearerToken": bearer,
        "Meta": {
            "consul.hashicorp.com/task-id": "0f3bca58",
            "consul.hashicorp.com/cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/c&d",
        }
    });
    call(consul, "POST", "/v1/acl/login", None, Some(body)).await
}

async fn setup_method(consul: &ConsulEmulator, name: &str, config: Value, rules: &[Value]) {
    let m = consul.management_token();
    let body = json!({"Name": name, "Type": "aws-iam", "Config": config});
    let r = call(consul, "PUT", "/v1/acl/auth-method", Some(&m), Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for rule in rules {
        let mut rule = rule.clone();
        rule["AuthMethod"] = json!(name);
        let r = call(consul, "PUT", "/v1/acl/binding-rule", Some(&m), Some(rule)).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

fn acl_consul() -> ConsulEmulator {
    ConsulEmulator::start(EmulatorOptions {
        acls_enabled: true,
        ..EmulatorOptions::default()
    })
}

#[tokio::test]
async fn login_with_entity_details_against_moto() {
    let aws = AwsWorld::start_async("web").await;
    let creds = aws.credentials(aws.task_role());
    let consul = acl_consul();
    let tag_rule = json!({"BindType": "service", "BindName": format!("${{entity_tags.{TAG}}}")});
    setup_method(
        &consul,
        "iam-ecs-service-token",
        json!({
            "BoundIAMPrincipalARNs": [format!("arn:aws:iam::{ACCOUNT}:role/consul-ecs/*")],
            "EnableIAMEntityDetails": true,
            "IAMEntityTags": [TAG],
            "ServerIDHeaderValue": SERVER_ID,
            "STSEndpoint": aws.endpoint(),
            "IAMEndpoint": aws.endpoint(),
        }),
        &[tag_rule],
    )
    .await;
    let good = TokenOptions {
        server_id: Some(SERVER_ID),
        entity_server_id: Some(SERVER_ID),
        include_entity: true,
    };

    let r = login(
        &consul,
        "iam-ecs-service-token",
        &bearer_token(&creds, &good),
    )
    .await;
    assert_eq!(r.status, 200, "{}\n{}", r.body, consul.request_log());
    let token: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(token["ServiceIdentities"], json!([{"ServiceName": "web"}]));
    assert_eq!(token["AuthMethod"], "iam-ecs-service-token");
    assert_eq!(token["Local"], true);
    assert_eq!(
        token["Description"],
        "token created via login: {\"consul.hashicorp.com/cluster\":\"arn:aws:ecs:us-east-1:123456789012:cluster/c\\u0026d\",\"consul.hashicorp.com/task-id\":\"0f3bca58\"}"
    );
    let secret = token["SecretID"].as_str().unwrap().to_string();

    // The token works: replication check, registration as web, logout.
    let r = call(
        &consul,
        "GET",
        "/v1/acl/token/self?stale",
        Some(&secret),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let reg = json!({"Name": "web", "ID": "web-1", "Port": 9090});
    let r = call(
        &consul,
        "PUT",
        "/v1/agent/service/register",
        Some(&secret),
        Some(reg),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let m = consul.management_token();
    let listed = call(
        &consul,
        "GET",
        "/v1/acl/tokens?authmethod=iam-ecs-service-token",
        Some(&m),
        None,
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&listed.body)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = call(&consul, "POST", "/v1/acl/logout", Some(&secret), None).await;
    assert_eq!((r.status, r.body.as_str()), (200, "true"));
    let r = call(&consul, "POST", "/v1/acl/logout", Some(&secret), None).await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));

    // A wrong secret key: moto rejects the replayed signature.
    let wrong = Credentials::new(
        creds.access_key_id(),
        "not-the-secret",
        creds.session_token().map(str::to_string),
        None,
        "wrong",
    );
    let r = login(
        &consul,
        "iam-ecs-service-token",
        &bearer_token(&wrong, &good),
    )
    .await;
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(
        r.body.starts_with("received error code 403: "),
        "{}",
        r.body
    );
    assert!(r.body.contains("SignatureDoesNotMatch"), "{}", r.body);

    // Server ID: wrong value, missing, or missing on the embedded IAM request.
    let other = TokenOptions {
        server_id: Some("other.example"),
        ..good
    };
    let r = login(
        &consul,
        "iam-ecs-service-token",
        &bearer_token(&creds, &other),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "expected \"consul.test\" but got \"other.example\"")
    );
    let none = TokenOptions {
        server_id: None,
        entity_server_id: Some(SERVER_ID),
        include_entity: true,
    };
    let r = login(
        &consul,
        "iam-ecs-service-token",
        &bearer_token(&creds, &none),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "missing header \"X-Consul-IAM-ServerID\"")
    );
    let iam_none = TokenOptions {
        server_id: Some(SERVER_ID),
        entity_server_id: None,
        include_entity: true,
    };
    let r = login(
        &consul,
        "iam-ecs-service-token",
        &bearer_token(&creds, &iam_none),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "missing header \"X-Consul-IAM-ServerID\"")
    );
    let no_entity = TokenOptions {
        include_entity: false,
        ..good
    };
    let r = login(
        &consul,
        "iam-ecs-service-token",
        &bearer_token(&creds, &no_entity),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "missing header \"X-Consul-IAM-GetEntity-Method\"")
    );

    // A method bound to another role does not trust this one.
    setup_method(
        &consul,
        "other-role",
        json!({
            "BoundIAMPrincipalARNs": [format!("arn:aws:iam::{ACCOUNT}:role/consul-ecs/other")],
            "EnableIAMEntityDetails": true,
            "ServerIDHeaderValue": SERVER_ID,
            "STSEndpoint": aws.endpoint(),
            "IAMEndpoint": aws.endpoint(),
        }),
        &[json!({"BindType": "service", "BindName": "web"})],
    )
    .await;
    let r = login(&consul, "other-role", &bearer_token(&creds, &good)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            500,
            "IAM principal arn:aws:iam::123456789012:role/consul-ecs/consul-ecs-web is not trusted"
        )
    );

    // Selectors on tags: a non-matching selector leaves no identity → Permission denied;
    // a tag that is not exposed interpolates to "" → invalid bind name.
    setup_method(
        &consul,
        "selective",
        json!({
            "BoundIAMPrincipalARNs": [format!("arn:aws:iam::{ACCOUNT}:role/consul-ecs/{ROLE}")],
            "EnableIAMEntityDetails": true,
            "IAMEntityTags": [TAG, "absent"],
            "ServerIDHeaderValue": SERVER_ID,
            "STSEndpoint": aws.endpoint(),
            "IAMEndpoint": aws.endpoint(),
        }),
        &[json!({"BindType": "service", "BindName": "web", "Selector": format!("entity_tags[\"{TAG}\"] == \"api\"")})],
    )
    .await;
    let r = login(&consul, "selective", &bearer_token(&creds, &good)).await;
    assert_eq!((r.status, r.body.as_str()), (403, "Permission denied"));
    let rule = json!({"AuthMethod": "selective", "BindType": "service", "BindName": "${entity_tags.absent}", "Selector": "entity_path == \"/consul-ecs/\""});
    call(&consul, "PUT", "/v1/acl/binding-rule", Some(&m), Some(rule)).await;
    let r = login(&consul, "selective", &bearer_token(&creds, &good)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            500,
            "computed \"service\" bind name for bind target is invalid: \"\""
        )
    );
}

#[tokio::test]
async fn login_without_entity_details_against_moto() {
    let aws = AwsWorld::start_async("web").await;
    let creds = aws.credentials(aws.task_role());
    let consul = acl_consul();
    // Without entity details the client ARN is canonical: no path.
    setup_method(
        &consul,
        "plain",
        json!({
            "BoundIAMPrincipalARNs": [format!("arn:aws:iam::{ACCOUNT}:role/{ROLE}")],
            "STSEndpoint": aws.endpoint(),
        }),
        &[
            json!({"BindType": "service", "BindName": "${entity_name}"}),
            json!({"BindType": "node", "BindName": "node-${account_id}"}),
        ],
    )
    .await;
    let plain = TokenOptions {
        server_id: None,
        entity_server_id: None,
        include_entity: false,
    };
    let r = login(&consul, "plain", &bearer_token(&creds, &plain)).await;
    assert_eq!(r.status, 200, "{}\n{}", r.body, consul.request_log());
    let token: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(token["ServiceIdentities"], json!([{"ServiceName": ROLE}]));
    assert_eq!(
        token["NodeIdentities"],
        json!([{"NodeName": format!("node-{ACCOUNT}"), "Datacenter": "dc1"}])
    );

    // entity_id is the role's unique ID (upper case): not a valid service name.
    setup_method(
        &consul,
        "by-id",
        json!({
            "BoundIAMPrincipalARNs": [format!("arn:aws:iam::{ACCOUNT}:role/{ROLE}")],
            "STSEndpoint": aws.endpoint(),
        }),
        &[json!({"BindType": "service", "BindName": "${entity_id}"})],
    )
    .await;
    let r = login(&consul, "by-id", &bearer_token(&creds, &plain)).await;
    assert_eq!(r.status, 500);
    assert!(
        r.body
            .starts_with("computed \"service\" bind name for bind target is invalid: \"AROA"),
        "{}",
        r.body
    );

    // A role binding attaches an existing role only.
    let m = consul.management_token();
    let r = call(
        &consul,
        "PUT",
        "/v1/acl/role",
        Some(&m),
        Some(json!({"Name": "consul-ecs-web"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    setup_method(
        &consul,
        "roles",
        json!({
            "BoundIAMPrincipalARNs": [format!("arn:aws:iam::{ACCOUNT}:role/{ROLE}")],
            "STSEndpoint": aws.endpoint(),
        }),
        &[
            json!({"BindType": "role", "BindName": "${entity_name}"}),
            json!({"BindType": "role", "BindName": "missing-role"}),
        ],
    )
    .await;
    let r = login(&consul, "roles", &bearer_token(&creds, &plain)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(token["Roles"].as_array().unwrap().len(), 1);
    assert_eq!(token["Roles"][0]["Name"], "consul-ecs-web");

    // A required server ID that the token lacks fails before any AWS call.
    setup_method(
        &consul,
        "needs-id",
        json!({
            "BoundIAMPrincipalARNs": [format!("arn:aws:iam::{ACCOUNT}:role/{ROLE}")],
            "STSEndpoint": aws.endpoint(),
            "ServerIDHeaderValue": SERVER_ID,
        }),
        &[json!({"BindType": "service", "BindName": "web"})],
    )
    .await;
    let before = consul.requests().len();
    let r = login(&consul, "needs-id", &bearer_token(&creds, &plain)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "missing header \"X-Consul-IAM-ServerID\"")
    );
    assert_eq!(consul.requests().len(), before + 1);
}
