//! Sets up a running Consul — the real one or the emulator — for tasks that log in with the
//! aws-iam auth methods, over Consul's HTTP API only: what a docker-compose task needs before
//! mesh-init starts (docker/docker-compose.acls.yml).
//!
//! - [`configure_service_auth`]: the service-token method and binding rule (what an operator
//!   or terraform creates), the objects `ConsulEmulator::try_configure_iam_auth` makes
//!   in-process, with the STS and IAM endpoints pointing at moto;
//! - [`configure_client_auth`] and [`client_login`]: what v0.6.2's acl-controller creates
//!   for client tokens, and the consul-client container's login with it (its
//!   `client-token`, which health-sync logs out when the task stops).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::aws::SERVICE_NAME_TAG;
use crate::consul::{
    default_bound_arn, CLIENT_AUTH_METHOD, CLIENT_POLICY, CLIENT_POLICY_RULES, CLIENT_ROLE,
    SERVICE_AUTH_METHOD, SERVICE_BIND_NAME,
};

/// What to create.
#[derive(Debug, Clone)]
pub struct ServiceAuthSetup {
    /// Consul's HTTP address (`http://127.0.0.1:8500`).
    pub consul_addr: String,
    /// A token allowed `acl:write` (the bootstrap token). Never logged.
    pub token: String,
    /// The STS endpoint Consul replays logins to (moto).
    pub sts_endpoint: String,
    /// The IAM endpoint for entity details (moto).
    pub iam_endpoint: String,
    /// Trusted principals (default `arn:aws:iam::123456789012:role/consul-ecs/*`).
    pub bound_arns: Vec<String>,
    /// How long to keep trying while Consul does not answer or its ACL system is not ready.
    pub timeout: Duration,
}

/// Creates (or updates) the auth method `iam-ecs-service-token` (aws-iam, entity details,
/// the service-name tag) and, when it has none, its binding rule (a service identity named
/// by the role's tag). Retries every second until [`ServiceAuthSetup::timeout`]; logs each
/// step to stdout.
pub async fn configure_service_auth(setup: &ServiceAuthSetup) -> Result<(), String> {
    let client = http_client()?;
    let bound = if setup.bound_arns.is_empty() {
        vec![default_bound_arn()]
    } else {
        setup.bound_arns.clone()
    };
    let method = json!({
        "Name": SERVICE_AUTH_METHOD,
        "Type": "aws-iam",
        "Description": "AWS IAM auth method for ECS service tokens",
        "Config": {
            "BoundIAMPrincipalARNs": bound,
            "EnableIAMEntityDetails": true,
            "IAMEntityTags": [SERVICE_NAME_TAG],
            "STSEndpoint": setup.sts_endpoint,
            "IAMEndpoint": setup.iam_endpoint,
        },
    });
    let rule = json!({
        "Description": "Bind a service identity from IAM role tag for ECS",
        "AuthMethod": SERVICE_AUTH_METHOD,
        "BindType": "service",
        "BindName": SERVICE_BIND_NAME,
    });
    retrying(setup, "the service-token auth method", || {
        attempt(&client, setup, &method, &rule)
    })
    .await
}

/// Creates what v0.6.2's acl-controller creates for client tokens, where missing: the
/// policy `consul-ecs-client-policy` (node write, service read), the role
/// `consul-ecs-client-role` with it, the aws-iam method `iam-ecs-client-token` (entity
/// details, endpoints = moto) and its binding rule to the role. Retries like
/// [`configure_service_auth`].
pub async fn configure_client_auth(setup: &ServiceAuthSetup) -> Result<(), String> {
    let client = http_client()?;
    let bound = if setup.bound_arns.is_empty() {
        vec![default_bound_arn()]
    } else {
        setup.bound_arns.clone()
    };
    let objects = ClientObjects {
        policy: json!({
            "Name": CLIENT_POLICY,
            "Description": "Consul Client Token Policy for ECS",
            "Rules": CLIENT_POLICY_RULES,
        }),
        role: json!({
            "Name": CLIENT_ROLE,
            "Description": "Consul Client Token Role for ECS",
            "Policies": [{"Name": CLIENT_POLICY}],
        }),
        method: json!({
            "Name": CLIENT_AUTH_METHOD,
            "Type": "aws-iam",
            "Description": "AWS IAM auth method for ECS client tokens",
            "Config": {
                "BoundIAMPrincipalARNs": bound,
                "EnableIAMEntityDetails": true,
                "STSEndpoint": setup.sts_endpoint,
                "IAMEndpoint": setup.iam_endpoint,
            },
        }),
        rule: json!({
            "Description": "Bind a policy for Consul clients on ECS",
            "AuthMethod": CLIENT_AUTH_METHOD,
            "BindType": "role",
            "BindName": CLIENT_ROLE,
        }),
    };
    retrying(setup, "the client-token auth method", || {
        client_objects(&client, setup, &objects)
    })
    .await
}

struct ClientObjects {
    policy: Value,
    role: Value,
    method: Value,
    rule: Value,
}

async fn client_objects(
    client: &reqwest::Client,
    setup: &ServiceAuthSetup,
    o: &ClientObjects,
) -> Result<String, String> {
    let base = setup.consul_addr.trim_end_matches('/');
    let mut done = Vec::new();
    for (what, read, create, body) in [
        (
            "policy",
            format!("{base}/v1/acl/policy/name/{CLIENT_POLICY}"),
            format!("{base}/v1/acl/policy"),
            &o.policy,
        ),
        (
            "role",
            format!("{base}/v1/acl/role/name/{CLIENT_ROLE}"),
            format!("{base}/v1/acl/role"),
            &o.role,
        ),
        (
            "auth method",
            format!("{base}/v1/acl/auth-method/{CLIENT_AUTH_METHOD}"),
            format!("{base}/v1/acl/auth-method"),
            &o.method,
        ),
    ] {
        match call(client, setup, reqwest::Method::GET, &read, None).await? {
            (200, text) if text.trim() != "null" => done.push(format!("{what} was there")),
            (200 | 403 | 404, text) if text.trim() == "null" || setup_not_found(&text) => {
                call_ok(client, setup, reqwest::Method::PUT, &create, Some(body)).await?;
                done.push(format!("{what} created"));
            }
            (status, text) => return Err(format!("GET {read}: HTTP {status}: {}", text.trim())),
        }
    }
    let rules_url = format!("{base}/v1/acl/binding-rules?authmethod={CLIENT_AUTH_METHOD}");
    let rules = call_ok(client, setup, reqwest::Method::GET, &rules_url, None).await?;
    if serde_json::from_str::<Value>(&rules)
        .ok()
        .and_then(|v| v.as_array().map(|a| a.is_empty()))
        .unwrap_or(true)
    {
        let url = format!("{base}/v1/acl/binding-rule");
        call_ok(client, setup, reqwest::Method::PUT, &url, Some(&o.rule)).await?;
        done.push("binding rule created".to_string());
    }
    Ok(format!("{CLIENT_AUTH_METHOD}: {}", done.join(", ")))
}

/// A client-token login, as the consul-client container makes it (`consul login -type
/// aws-iam -method iam-ecs-client-token -aws-include-entity -meta …`, docs PACKAGING §1.4).
#[derive(Debug, Clone)]
pub struct ClientLogin {
    /// Consul's HTTP address.
    pub consul_addr: String,
    /// The STS endpoint the bearer token targets (moto).
    pub sts_endpoint: String,
    /// The task metadata base URL (`ECS_CONTAINER_METADATA_URI_V4`): the task ID and
    /// cluster of the login meta come from its `/task`.
    pub metadata_uri: String,
    /// Where the token goes (mode 0600).
    pub token_file: PathBuf,
    /// Owner of the file (uid, gid); None = this process's.
    pub owner: Option<(u32, u32)>,
    /// The AWS credentials to sign with; None = the standard chain (the task role).
    pub credentials: Option<iam_login::Credentials>,
    /// How long to keep trying.
    pub timeout: Duration,
}

/// Logs in with the client method using the AWS credentials of the standard chain (the
/// task role) and the task's ID and cluster ARN as login meta, and writes the token's
/// SecretID to [`ClientLogin::token_file`]. Retries every second until the timeout.
pub async fn client_login(login: &ClientLogin) -> Result<(), String> {
    let client = http_client()?;
    let setup = ServiceAuthSetup {
        consul_addr: login.consul_addr.clone(),
        token: String::new(),
        sts_endpoint: login.sts_endpoint.clone(),
        iam_endpoint: login.sts_endpoint.clone(),
        bound_arns: Vec::new(),
        timeout: login.timeout,
    };
    retrying(&setup, "the client-token login", || async {
        let (task_id, cluster, region) = task_identity(&client, &login.metadata_uri).await?;
        let creds = match &login.credentials {
            Some(c) => c.clone(),
            None => iam_login::load_credentials(Some(&region))
                .await
                .map_err(|e| format!("AWS credentials: {}", error_chain(&e)))?,
        };
        let params = iam_login::LoginParams {
            region,
            sts_endpoint: Some(login.sts_endpoint.clone()),
            server_id_header_value: None,
            include_entity: true,
        };
        let bearer = iam_login::bearer_token(&creds, &params)
            .await
            .map_err(|e| format!("bearer token: {}", error_chain(&e)))?;
        let body = json!({
            "AuthMethod": CLIENT_AUTH_METHOD,
            "BearerToken": bearer,
            "Meta": iam_login::login_meta(&task_id, &cluster, &BTreeMap::new()),
        });
        let url = format!("{}/v1/acl/login", login.consul_addr.trim_end_matches('/'));
        let text = call_ok(&client, &setup, reqwest::Method::POST, &url, Some(&body)).await?;
        let token: Value = serde_json::from_str(&text).map_err(|e| format!("login answer: {e}"))?;
        let secret = token["SecretID"].as_str().unwrap_or_default();
        if secret.is_empty() {
            return Err("the login answer has no SecretID".to_string());
        }
        write_secret(&login.token_file, secret, login.owner)?;
        Ok(format!(
            "client token {} written to {}",
            token["AccessorID"].as_str().unwrap_or("?"),
            login.token_file.display()
        ))
    })
    .await
}

/// (task ID, cluster ARN, region) from the task metadata, as the consul-client script
/// derives them from `TaskARN` (docs/protocols.md §1.5).
async fn task_identity(
    client: &reqwest::Client,
    uri: &str,
) -> Result<(String, String, String), String> {
    let url = format!("{}/task", uri.trim_end_matches('/'));
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {}", error_chain(&e)))?;
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if status != 200 {
        return Err(format!("GET {url}: HTTP {status}: {}", text.trim()));
    }
    let task: Value = serde_json::from_str(&text).map_err(|e| format!("GET {url}: {e}"))?;
    let arn = task["TaskARN"].as_str().unwrap_or_default();
    let fields: Vec<&str> = arn.split(':').collect();
    let resource = fields.get(5).copied().unwrap_or_default();
    let parts: Vec<&str> = resource.split('/').collect();
    match (fields.get(3), parts.as_slice()) {
        (Some(region), ["task", cluster, id]) => Ok((
            id.to_string(),
            format!("{}:cluster/{cluster}", fields[..5].join(":")),
            region.to_string(),
        )),
        _ => Err(format!("TaskARN {arn:?} is not arn:…:task/<cluster>/<id>")),
    }
}

/// Writes `secret` to `path` mode 0600 (owned by `owner`): a temporary sibling, then rename.
fn write_secret(
    path: &std::path::Path,
    secret: &str,
    owner: Option<(u32, u32)>,
) -> Result<(), String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&f, Some(uid), Some(gid))?;
        }
        f.write_all(secret.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("write {}: {e}", path.display())
    })
}

fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// Runs `step` every second until it succeeds or the setup's timeout passes; says each
/// new reason it failed for, and what it did.
async fn retrying<F, Fut>(setup: &ServiceAuthSetup, what: &str, mut step: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    let deadline = Instant::now() + setup.timeout;
    let mut last_said = String::new();
    loop {
        match step().await {
            Ok(done) => {
                say(&done);
                return Ok(());
            }
            Err(why) => {
                if Instant::now() >= deadline {
                    return Err(format!(
                        "{what} at {}: {why} (gave up after {:?})",
                        setup.consul_addr, setup.timeout
                    ));
                }
                if why != last_said {
                    say(&format!("{what}: not yet: {why}; retrying"));
                    last_said = why;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn attempt(
    client: &reqwest::Client,
    setup: &ServiceAuthSetup,
    method: &Value,
    rule: &Value,
) -> Result<String, String> {
    let base = setup.consul_addr.trim_end_matches('/');
    let method_url = format!("{base}/v1/acl/auth-method/{SERVICE_AUTH_METHOD}");
    let existing = call(client, setup, reqwest::Method::GET, &method_url, None).await?;
    let mut done = Vec::new();
    match existing {
        (200, _) => {
            call_ok(
                client,
                setup,
                reqwest::Method::PUT,
                &method_url,
                Some(method),
            )
            .await?;
            done.push(format!("auth method {SERVICE_AUTH_METHOD} updated"));
        }
        // Consul >= 1.15 answers 404; older ones 403 "ACL not found".
        (403 | 404, body) if setup_not_found(&body) => {
            let url = format!("{base}/v1/acl/auth-method");
            call_ok(client, setup, reqwest::Method::PUT, &url, Some(method)).await?;
            done.push(format!("auth method {SERVICE_AUTH_METHOD} created"));
        }
        (status, body) => return Err(format!("GET {method_url}: HTTP {status}: {body}")),
    }
    let rules_url = format!("{base}/v1/acl/binding-rules?authmethod={SERVICE_AUTH_METHOD}");
    let rules = call_ok(client, setup, reqwest::Method::GET, &rules_url, None).await?;
    let has_rule = serde_json::from_str::<Value>(&rules)
        .ok()
        .and_then(|v| v.as_array().map(|a| !a.is_empty()))
        .unwrap_or(false);
    if has_rule {
        done.push("its binding rule was there".to_string());
    } else {
        let url = format!("{base}/v1/acl/binding-rule");
        call_ok(client, setup, reqwest::Method::PUT, &url, Some(rule)).await?;
        done.push(format!(
            "binding rule created (service identity {SERVICE_BIND_NAME})"
        ));
    }
    Ok(done.join("; "))
}

fn setup_not_found(body: &str) -> bool {
    let lower = body.to_ascii_lowercase();
    lower.contains("not found") || lower.trim().is_empty()
}

async fn call_ok(
    client: &reqwest::Client,
    setup: &ServiceAuthSetup,
    method: reqwest::Method,
    url: &str,
    body: Option<&Value>,
) -> Result<String, String> {
    let what = format!("{method} {}", url.split('?').next().unwrap_or(url));
    match call(client, setup, method, url, body).await? {
        (200, text) => Ok(text),
        (status, text) => Err(format!("{what}: HTTP {status}: {}", text.trim())),
    }
}

async fn call(
    client: &reqwest::Client,
    setup: &ServiceAuthSetup,
    method: reqwest::Method,
    url: &str,
    body: Option<&Value>,
) -> Result<(u16, String), String> {
    let mut request = client.request(method.clone(), url);
    if !setup.token.is_empty() {
        request = request.header("X-Consul-Token", &setup.token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("{method} {url}: {}", error_chain(&e)))?;
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .map_err(|e| format!("read the answer to {method} {url}: {e}"))?;
    Ok((status, text))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn say(line: &str) {
    println!(
        "{} consul-setup: {line}",
        crate::time::rfc3339_millis(std::time::SystemTime::now())
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consul::{ConsulEmulator, EmulatorOptions};

    fn setup_for(consul: &ConsulEmulator) -> ServiceAuthSetup {
        ServiceAuthSetup {
            consul_addr: consul.http_addr(),
            token: consul.management_token(),
            sts_endpoint: "http://moto:5000".into(),
            iam_endpoint: "http://moto:5000".into(),
            bound_arns: vec![],
            timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn creates_the_method_and_rule_once_and_a_rerun_changes_nothing_but_the_method() {
        let consul = ConsulEmulator::start(EmulatorOptions {
            acls_enabled: true,
            ..EmulatorOptions::default()
        });
        let setup = setup_for(&consul);
        configure_service_auth(&setup).await.unwrap();
        configure_service_auth(&setup).await.unwrap();
        let client = reqwest::Client::new();
        let get = |path: &str| {
            client
                .get(format!("{}{path}", consul.http_addr()))
                .header("X-Consul-Token", consul.management_token())
                .send()
        };
        let method: Value = get("/v1/acl/auth-method/iam-ecs-service-token")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(method["Type"], "aws-iam");
        assert_eq!(method["Config"]["STSEndpoint"], "http://moto:5000");
        assert_eq!(
            method["Config"]["BoundIAMPrincipalARNs"],
            json!(["arn:aws:iam::123456789012:role/consul-ecs/*"])
        );
        let rules: Value = get("/v1/acl/binding-rules?authmethod=iam-ecs-service-token")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(rules.as_array().unwrap().len(), 1, "{rules:#}");
        assert_eq!(rules[0]["BindName"], SERVICE_BIND_NAME);
    }

    #[tokio::test]
    async fn the_client_login_writes_a_0600_token_with_the_tasks_meta() {
        use std::os::unix::fs::MetadataExt as _;
        let aws = crate::aws::AwsWorld::start_async("web").await;
        let consul = ConsulEmulator::start(EmulatorOptions {
            acls_enabled: true,
            ..EmulatorOptions::default()
        });
        let ecs = crate::ecs_metadata::EcsMetadataEmulator::start(
            crate::ecs_metadata::fargate_task("web", &["app", "consul-client"]),
        );
        let mut setup = setup_for(&consul);
        setup.sts_endpoint = aws.endpoint();
        setup.iam_endpoint = aws.endpoint();
        configure_client_auth(&setup).await.unwrap();
        configure_client_auth(&setup).await.unwrap(); // a rerun changes nothing
        let dir = tempfile::tempdir().unwrap();
        let login = ClientLogin {
            consul_addr: consul.http_addr(),
            sts_endpoint: aws.endpoint(),
            metadata_uri: ecs.uri(),
            token_file: dir.path().join("client-token"),
            owner: None,
            credentials: Some(aws.task_role().credentials()),
            timeout: Duration::from_secs(10),
        };
        client_login(&login).await.unwrap();
        let meta = std::fs::metadata(&login.token_file).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        let secret = std::fs::read_to_string(&login.token_file).unwrap();
        let token: Value = reqwest::Client::new()
            .get(format!("{}/v1/acl/token/self", consul.http_addr()))
            .header("X-Consul-Token", secret)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(token["AuthMethod"], CLIENT_AUTH_METHOD, "{token:#}");
        assert_eq!(token["Roles"][0]["Name"], CLIENT_ROLE, "{token:#}");
        let task = ecs.task();
        let arn = task["TaskARN"].as_str().unwrap();
        let id = arn.rsplit('/').next().unwrap();
        assert!(
            token["Description"]
                .as_str()
                .unwrap_or_default()
                .contains(id),
            "the login meta names the task: {token:#}"
        );
    }

    #[tokio::test]
    async fn a_wrong_token_is_reported_after_the_timeout_without_the_token() {
        let consul = ConsulEmulator::start(EmulatorOptions {
            acls_enabled: true,
            ..EmulatorOptions::default()
        });
        let mut setup = setup_for(&consul);
        setup.token = "00000000-0000-4000-8000-00000000beef".into();
        setup.timeout = Duration::from_millis(200);
        let err = configure_service_auth(&setup).await.unwrap_err();
        assert!(err.contains("HTTP 403"), "{err}");
        assert!(!err.contains("beef"), "the token leaked: {err}");
    }
}
