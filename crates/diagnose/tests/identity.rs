//! `look_up` and `check` against real moto (signature checks on): the caller from a signed
//! GetCallerIdentity, the role from aws-sdk-iam's GetRole at `AWS_ENDPOINT_URL_IAM` (then
//! `AWS_ENDPOINT_URL`), and the findings for roles a task can be given by mistake.
//!
//! One test on purpose: credentials and endpoints come from the process environment.

use diagnose::{check, look_up, CredentialsSource, Expected, Finding, RoleLookup};
use iam_login::LoginParams;
use testkit::aws::{AwsWorld, RoleSpec, TaskRole, NAMESPACE_TAG, SERVICE_NAME_TAG};

fn use_env(env: Vec<(String, String)>) {
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        std::env::remove_var(name);
    }
    for (k, v) in env {
        std::env::set_var(k, v);
    }
}

fn use_role(aws: &AwsWorld, role: &TaskRole) {
    use_env(aws.credentials_env(role));
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn identities_and_what_is_wrong_with_them() {
    let aws = AwsWorld::start_async("web").await;
    let params = LoginParams {
        region: "us-east-1".into(),
        sts_endpoint: Some(aws.endpoint()),
        ..Default::default()
    };
    let web = Expected::new("iam-ecs-service-token", "web", None);
    std::env::set_var("AWS_ENDPOINT_URL_IAM", aws.endpoint());

    // The conventional task role: found with its path and tag, nothing wrong.
    use_role(&aws, aws.task_role());
    let id = look_up(&params, env).await.expect("look up");
    assert_eq!(id.caller_arn, aws.task_role().assumed_role_arn());
    assert_eq!(id.source, CredentialsSource::Environment);
    let RoleLookup::Found(role) = &id.role else {
        panic!("{:?}", id.role)
    };
    assert_eq!(role.path, "/consul-ecs/");
    assert_eq!(role.arn, aws.task_role().arn);
    assert_eq!(
        role.tags.get(SERVICE_NAME_TAG).map(String::as_str),
        Some("web")
    );
    assert!(check(&id, &web).is_empty(), "{:?}", check(&id, &web));
    assert!(
        id.summary().contains(&aws.task_role().arn),
        "{}",
        id.summary()
    );

    // The global AWS_ENDPOINT_URL works too.
    std::env::remove_var("AWS_ENDPOINT_URL_IAM");
    std::env::set_var("AWS_ENDPOINT_URL", aws.endpoint());
    let id = look_up(&params, env).await.expect("look up");
    assert!(matches!(id.role, RoleLookup::Found(_)), "{:?}", id.role);

    type Want = fn(&Finding) -> bool;
    let cases: Vec<(RoleSpec, Want)> = vec![
        (
            RoleSpec::new("web", "/elsewhere/"),
            |f| matches!(f, Finding::PathOutsideBound { path, .. } if path == "/elsewhere/"),
        ),
        (RoleSpec::new("web", "/consul-ecs/").tags(&[]), |f| {
            matches!(f, Finding::ServiceTagMissing { .. })
        }),
        (
            RoleSpec::new("web", "/consul-ecs/").tags(&[(SERVICE_NAME_TAG, "Web")]),
            |f| matches!(f, Finding::ServiceTagInvalid { value, .. } if value == "Web"),
        ),
        (
            RoleSpec::new("web", "/consul-ecs/").tags(&[(SERVICE_NAME_TAG, "api")]),
            |f| matches!(f, Finding::ServiceTagOther { value, .. } if value == "api"),
        ),
        (
            RoleSpec::new("web", "/consul-ecs/").without_get_role(),
            |f| matches!(f, Finding::GetRoleDenied { message, .. } if message.contains("AccessDenied")),
        ),
    ];
    for (spec, want) in cases {
        let role = aws.add_role_async(&spec).await;
        use_role(&aws, &role);
        let id = look_up(&params, env).await.expect("look up");
        let found = check(&id, &web);
        assert_eq!(found.len(), 1, "{spec:?}: {found:?} {:?}", id.role);
        assert!(want(&found[0]), "{spec:?}: {found:?}");
        let text = format!("{:?}", found[0].explain(&web));
        for secret in [&role.secret_access_key, &role.session_token] {
            assert!(!text.contains(secret.as_str()), "a secret in {text}");
        }
    }

    // Enterprise: the namespace tag against service.namespace.
    let team_a = Expected::new("iam-ecs-service-token", "web", Some("team-a"));
    let tagged = aws
        .add_role_async(&RoleSpec::new("web", "/consul-ecs/").tag(NAMESPACE_TAG, "team-b"))
        .await;
    use_role(&aws, &tagged);
    let id = look_up(&params, env).await.expect("look up");
    let found = check(&id, &team_a);
    assert!(
        matches!(found.as_slice(), [Finding::NamespaceTagOther { value, .. }] if value == "team-b"),
        "{found:?}"
    );

    // An IAM user's keys: not a role, nothing to GetRole.
    use_env(aws.user_env(aws.admin()));
    let id = look_up(&params, env).await.expect("look up");
    assert_eq!(id.role, RoleLookup::NotARole);
    let found = check(&id, &web);
    assert!(
        matches!(found.as_slice(), [Finding::NotARole { kind, .. }] if kind == "user"),
        "{found:?}"
    );
    let problem = found[0].explain(&web).problem;
    assert!(problem.contains(&aws.admin().arn), "{problem}");
    assert!(
        !problem.contains(&aws.admin().secret_access_key),
        "{problem}"
    );
}
