//! The shared AWS world against real moto, and the emulator's IAM auth setup and logins
//! built on it: what the end-to-end tests, the demo and the benchmarks rely on.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use testkit::aws::{
    xml_text, AwsWorld, CredentialsEndpoint, CredentialsEndpointOptions, ACCOUNT_ID,
};
use testkit::consul::{
    AwsLogin, ConsulEmulator, EmulatorOptions, IamAuthOptions, SetupError, CLIENT_ROLE,
};

fn acl_consul() -> ConsulEmulator {
    ConsulEmulator::start(EmulatorOptions {
        acls_enabled: true,
        ..EmulatorOptions::default()
    })
}

async fn get(consul: &ConsulEmulator, path: &str, token: &str) -> (u16, String) {
    let resp = reqwest::Client::new()
        .get(format!("{}{path}", consul.http_addr()))
        .header("X-Consul-Token", token)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn task_role_credentials_are_the_assumed_role_and_moto_checks_them() {
    let aws = AwsWorld::start_async("web").await;
    let role = aws.task_role().clone();
    assert_eq!(role.name, "consul-ecs-web");
    assert_eq!(role.path, "/consul-ecs/");
    assert_eq!(
        role.arn,
        format!("arn:aws:iam::{ACCOUNT_ID}:role/consul-ecs/consul-ecs-web")
    );
    assert!(role.access_key_id.starts_with("ASIA"), "{role:?}");
    assert_eq!(role.session_name.len(), 32);

    let (status, body) = aws
        .call(
            "sts",
            &aws.credentials(&role),
            &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(xml_text(&body, "Arn"), role.assumed_role_arn());
    assert_eq!(
        role.assumed_role_arn(),
        format!(
            "arn:aws:sts::{ACCOUNT_ID}:assumed-role/consul-ecs-web/{}",
            role.session_name
        )
    );

    // The role may read itself (what a login with entity details needs), with its tag.
    let (status, body) = aws
        .call(
            "iam",
            &role.credentials(),
            &[
                ("Action", "GetRole"),
                ("Version", "2010-05-08"),
                ("RoleName", "consul-ecs-web"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(xml_text(&body, "Value"), "web");

    // Signatures are checked: a wrong secret is refused.
    let mut forged = role.clone();
    forged.secret_access_key = "not-the-secret".to_string();
    let (status, body) = aws
        .call(
            "sts",
            &forged.credentials(),
            &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(xml_text(&body, "Code"), "SignatureDoesNotMatch");

    // The environment for a child process, and no secret in Debug output.
    let env: BTreeMap<String, String> = aws.credentials_env(&role).into_iter().collect();
    assert_eq!(env["AWS_ACCESS_KEY_ID"], role.access_key_id);
    assert_eq!(env["AWS_SECRET_ACCESS_KEY"], role.secret_access_key);
    assert_eq!(env["AWS_SESSION_TOKEN"], role.session_token);
    assert_eq!(env["AWS_REGION"], "us-east-1");
    assert_eq!(env["AWS_EC2_METADATA_DISABLED"], "true");
    let shown = format!("{aws:?} {role:?} {:?}", aws.admin());
    for secret in [
        &role.secret_access_key,
        &role.session_token,
        &aws.admin().secret_access_key,
    ] {
        assert!(!shown.contains(secret.as_str()), "{shown}");
    }
}

#[test]
fn login_through_the_emulator_yields_the_tagged_service_identity() {
    // Plain #[test]: the sync constructors work without a runtime.
    let aws = AwsWorld::start("web");
    let consul = acl_consul();
    consul.configure_iam_auth(
        &aws,
        &IamAuthOptions {
            server_id_header: Some("consul.test".to_string()),
            ..IamAuthOptions::default()
        },
    );

    let login = AwsLogin {
        server_id_header: Some("consul.test".to_string()),
        meta: iam_login::login_meta(
            "0f3bca58",
            "arn:aws:ecs:us-east-1:123456789012:cluster/c",
            &BTreeMap::new(),
        ),
        ..AwsLogin::default()
    };
    let token = consul.aws_login(&aws, aws.task_role(), &login).unwrap();
    assert_eq!(
        token.token["ServiceIdentities"],
        json!([{"ServiceName": "web"}])
    );
    assert_eq!(token.token["AuthMethod"], "iam-ecs-service-token");
    assert!(!format!("{token:?}").contains(&token.secret_id));

    // Without the signed server ID the method refuses.
    let err = consul
        .aws_login(&aws, aws.task_role(), &AwsLogin::default())
        .unwrap_err();
    assert!(
        matches!(&err, SetupError::Status { status: 500, body, .. } if body == "missing header \"X-Consul-IAM-ServerID\""),
        "{err}"
    );

    // A role outside the bound path (/consul-ecs/*) is not trusted, even if tagged.
    let outsider = aws.add_task_role("web", "/elsewhere/");
    assert_eq!(outsider.name, "consul-ecs-web-2");
    assert_eq!(outsider.path, "/elsewhere/");
    let err = consul.aws_login(&aws, &outsider, &login).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "POST /v1/acl/login: 500 IAM principal arn:aws:iam::{ACCOUNT_ID}:role/elsewhere/consul-ecs-web-2 is not trusted"
        )
    );
    // Another service inside the path logs in as that service.
    let api = aws.add_task_role("api", "consul-ecs");
    let token = consul.aws_login(&aws, &api, &login).unwrap();
    assert_eq!(
        token.token["ServiceIdentities"],
        json!([{"ServiceName": "api"}])
    );
}

#[tokio::test]
async fn full_login_by_hand_and_a_client_token() {
    let aws = AwsWorld::start_async("web").await;
    let consul = acl_consul();
    consul.configure_iam_auth(&aws, &IamAuthOptions::default());
    consul.configure_client_auth(&aws);

    // What the method and rule look like, as an operator would read them.
    let m = consul.management_token();
    let (status, body) = get(&consul, "/v1/acl/auth-method/iam-ecs-service-token", &m).await;
    assert_eq!(status, 200, "{body}");
    let method: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        method["Config"]["BoundIAMPrincipalARNs"],
        json!([format!("arn:aws:iam::{ACCOUNT_ID}:role/consul-ecs/*")])
    );
    assert_eq!(method["Config"]["STSEndpoint"], json!(aws.endpoint()));
    assert_eq!(method["Config"]["IAMEndpoint"], json!(aws.endpoint()));
    assert_eq!(
        method["Config"]["IAMEntityTags"],
        json!(["consul.hashicorp.com.service-name"])
    );
    let (_, body) = get(
        &consul,
        "/v1/acl/binding-rules?authmethod=iam-ecs-service-token",
        &m,
    )
    .await;
    let rules: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(rules[0]["BindType"], "service");
    assert_eq!(
        rules[0]["BindName"],
        "${entity_tags.consul.hashicorp.com.service-name}"
    );

    // The login by hand: iam-login's token, HTTP POST /v1/acl/login.
    let params = iam_login::LoginParams {
        region: "us-east-1".to_string(),
        sts_endpoint: Some(aws.endpoint()),
        server_id_header_value: None,
        include_entity: true,
    };
    let bearer = iam_login::bearer_token(&aws.credentials(aws.task_role()), &params)
        .await
        .unwrap();
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/acl/login", consul.http_addr()))
        .body(json!({"AuthMethod": "iam-ecs-service-token", "BearerToken": bearer}).to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    assert_eq!(status, 200, "{body}\n{}", consul.request_log());
    let token: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(token["ServiceIdentities"], json!([{"ServiceName": "web"}]));

    // The client token: the client role, which can write nodes but only read services.
    let client = consul.login_client_token(
        &aws,
        aws.task_role(),
        "0f3bca58",
        "arn:aws:ecs:us-east-1:123456789012:cluster/c",
    );
    assert_eq!(client.token["AuthMethod"], "iam-ecs-client-token");
    assert_eq!(client.token["Roles"][0]["Name"], CLIENT_ROLE);
    assert_eq!(
        client.token["Description"],
        "token created via login: {\"consul.hashicorp.com/cluster\":\"arn:aws:ecs:us-east-1:123456789012:cluster/c\",\"consul.hashicorp.com/task-id\":\"0f3bca58\"}"
    );
    let (status, body) = get(&consul, "/v1/acl/token/self", &client.secret_id).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(&consul, "/v1/acl/policy/name/consul-ecs-client-policy", &m).await;
    assert_eq!(status, 200, "{body}");
    let policy: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        policy["Rules"],
        "node_prefix \"\" { policy = \"write\" } service_prefix \"\" { policy = \"read\" }"
    );
}

#[tokio::test]
async fn credentials_endpoint_serves_the_role_and_checks_authorization() {
    let aws = AwsWorld::start_async("web").await;
    let role = aws.task_role().clone();
    let endpoint = CredentialsEndpoint::start_with(
        &role,
        CredentialsEndpointOptions {
            path: "/v2/credentials/task-1".to_string(),
            authorization: Some("auth-token-123".to_string()),
        },
    );
    let uri = endpoint.full_uri();
    assert!(uri.starts_with("http://127.0.0.1:"), "{uri}");
    assert!(uri.ends_with("/v2/credentials/task-1"), "{uri}");

    let client = reqwest::Client::new();
    let resp = client
        .get(&uri)
        .header("Authorization", "auth-token-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "AccessKeyId": role.access_key_id,
            "Expiration": role.expiration,
            "RoleArn": role.arn,
            "SecretAccessKey": role.secret_access_key,
            "Token": role.session_token,
        })
    );
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(status(client.get(&uri).send().await.unwrap()), 401);
    assert_eq!(
        status(
            client
                .get(&uri)
                .header("Authorization", "wrong")
                .send()
                .await
                .unwrap()
        ),
        403
    );
    let other = uri.replace("task-1", "task-2");
    assert_eq!(
        status(
            client
                .get(&other)
                .header("Authorization", "auth-token-123")
                .send()
                .await
                .unwrap()
        ),
        404
    );
    let seen: Vec<(String, bool, u16)> = endpoint
        .requests()
        .into_iter()
        .map(|r| (r.path, r.had_token, r.status))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("/v2/credentials/task-1".to_string(), true, 200),
            ("/v2/credentials/task-1".to_string(), false, 401),
            ("/v2/credentials/task-1".to_string(), false, 403),
            ("/v2/credentials/task-2".to_string(), true, 404),
        ]
    );

    // Rotation: the next answer carries the new role's credentials; env names the URI.
    let rotated = aws.add_task_role_async("web", "/consul-ecs/").await;
    endpoint.set_role(&rotated);
    let body: Value = client
        .get(&uri)
        .header("Authorization", "auth-token-123")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["AccessKeyId"], json!(rotated.access_key_id));
    let env: BTreeMap<String, String> = endpoint.env().into_iter().collect();
    assert_eq!(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"], uri);
    assert_eq!(env["AWS_CONTAINER_AUTHORIZATION_TOKEN"], "auth-token-123");
    assert!(!format!("{endpoint:?}").contains("auth-token-123"));
}
