//! Bearer tokens checked by real AWS semantics: moto verifies the SigV4 signatures, the
//! access keys and the session tokens, exactly as the Consul server's replay would meet
//! them at AWS.

mod common;

use common::*;
use iam_login::{bearer_token, DecodedToken, LoginError, LoginParams};

fn params(endpoint: &str, server_id: Option<&str>, include_entity: bool) -> LoginParams {
    LoginParams {
        region: REGION.to_string(),
        sts_endpoint: Some(endpoint.to_string()),
        server_id_header_value: server_id.map(str::to_string),
        include_entity,
    }
}

#[tokio::test]
async fn plain_token_replays_to_the_assumed_role_and_a_wrong_secret_is_rejected() {
    let world = world().await;
    let endpoint = world.endpoint();

    let token = bearer_token(&role_creds(&world), &params(&endpoint, None, false))
        .await
        .unwrap();
    let decoded = DecodedToken::decode(&token).unwrap();
    assert_eq!(decoded.url, format!("{endpoint}/"));
    assert!(decoded.header("X-Consul-Iam-Getentity-Url").is_none());
    let reply = replay_sts(&decoded, &decoded.url).await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(reply.content_type, "text/xml", "{reply:#?}");
    assert_eq!(
        xml_text(&reply.body, "Arn"),
        format!(
            "arn:aws:sts::123456789012:assumed-role/{ROLE}/{}",
            world.task_role().session_name
        )
    );

    let forged = iam_login::Credentials::new(
        role_creds(&world).access_key_id(),
        "not-the-secret",
        role_creds(&world).session_token().map(str::to_string),
        None,
        "forged",
    );
    let token = bearer_token(&forged, &params(&endpoint, None, false))
        .await
        .unwrap();
    let reply = replay_sts(
        &DecodedToken::decode(&token).unwrap(),
        &format!("{endpoint}/"),
    )
    .await;
    assert_eq!(reply.status, 403, "{reply:#?}");
    assert_eq!(xml_text(&reply.body, "Code"), "SignatureDoesNotMatch");
}

#[tokio::test]
async fn include_entity_embeds_a_get_role_that_moto_answers_with_the_tags() {
    let world = world().await;
    let endpoint = world.endpoint();
    let server_id = "consul.example.com";

    let token = bearer_token(
        &role_creds(&world),
        &params(&endpoint, Some(server_id), true),
    )
    .await
    .unwrap();
    let decoded = DecodedToken::decode(&token).unwrap();
    assert_eq!(decoded.header("X-Consul-Iam-Serverid"), Some(server_id));
    assert_eq!(
        decoded.header("X-Consul-Iam-Getentity-Body"),
        Some("Action=GetRole&RoleName=consul-ecs-web&Version=2010-05-08")
    );
    let auth = decoded.header("Authorization").unwrap();
    assert!(auth.contains(";x-consul-iam-serverid,"), "{auth}");

    // The STS request with all Consul headers signed still verifies.
    let sts = replay_sts(&decoded, &decoded.url).await;
    assert_eq!(sts.status, 200, "{sts:#?}");
    assert!(sts.body.contains(&format!(
        "assumed-role/{ROLE}/{}",
        world.task_role().session_name
    )));

    // The embedded GetRole, sent with Host iam.amazonaws.com, returns the role and tags.
    let iam = replay_entity(&decoded, &world.endpoint()).await;
    assert_eq!(iam.status, 200, "{iam:#?}");
    assert_eq!(iam.content_type, "text/xml", "{iam:#?}");
    assert!(iam.body.contains("<GetRoleResponse"), "{}", iam.body);
    assert_eq!(xml_text(&iam.body, "Arn"), world.task_role().arn);
    assert_eq!(xml_text(&iam.body, "Path"), "/consul-ecs/");
    assert_eq!(
        xml_text(&iam.body, "Key"),
        "consul.hashicorp.com.service-name"
    );
    assert_eq!(xml_text(&iam.body, "Value"), "web");
}

#[tokio::test]
async fn include_entity_for_a_user_embeds_get_user_and_errors_name_no_secret() {
    let world = world().await;
    let endpoint = world.endpoint();

    let token = bearer_token(&world.admin().credentials(), &params(&endpoint, None, true))
        .await
        .unwrap();
    let decoded = DecodedToken::decode(&token).unwrap();
    assert!(!decoded.headers.contains_key("X-Amz-Security-Token"));
    assert_eq!(
        decoded.header("X-Consul-Iam-Getentity-Body"),
        Some("Action=GetUser&UserName=alice&Version=2010-05-08")
    );
    let iam = replay_entity(&decoded, &world.endpoint()).await;
    assert_eq!(iam.status, 200, "{iam:#?}");
    assert_eq!(
        xml_text(&iam.body, "Arn"),
        "arn:aws:iam::123456789012:user/ops/alice"
    );

    // The real GetCallerIdentity include-entity makes fails on a bad secret; the error
    // carries AWS's answer but none of our secrets.
    let secret = "wrong-secret-value";
    let session = role_creds(&world).session_token().unwrap().to_string();
    let forged = iam_login::Credentials::new(
        role_creds(&world).access_key_id(),
        secret,
        Some(session.clone()),
        None,
        "forged",
    );
    let err = bearer_token(&forged, &params(&endpoint, None, true))
        .await
        .unwrap_err();
    let LoginError::StsStatus { status, body, .. } = &err else {
        panic!("expected StsStatus, got {err:?}");
    };
    assert_eq!(*status, 403);
    assert!(body.contains("SignatureDoesNotMatch"), "{body}");
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains(secret) && !shown.contains(&session),
        "{shown}"
    );
}

#[tokio::test]
async fn unreachable_sts_is_a_transport_error() {
    let port = testkit::paths::free_port();
    let creds = iam_login::Credentials::new("AKIAEXAMPLE", "secret", None, None, "t");
    let err = bearer_token(
        &creds,
        &params(&format!("http://127.0.0.1:{port}"), None, true),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, LoginError::StsTransport { .. }), "{err:?}");
}
