//! A task role in real moto: the AWS side of an ECS task's world.
//!
//! [`AwsWorld::start`] runs `moto_server` (see [`crate::moto`]) and builds, through moto's
//! own IAM and STS APIs, what an ECS task with a task role has:
//!
//! - an admin IAM user `alice` (path `/ops/`, allow-all inline policy) with an access key.
//!   Creating it takes the only three requests moto serves unauthenticated
//!   ([`SETUP_NO_AUTH_ACTIONS`]); every later request, including the rest of the setup, is
//!   signed with this key and checked by moto (signature, key, IAM policy);
//! - the task role `consul-ecs-<service>` at path `/consul-ecs/`, tagged
//!   `consul.hashicorp.com.service-name=<service>`, with a trust policy letting the account
//!   assume it and an inline policy allowing `iam:GetRole` on itself (what a Consul login
//!   with entity details needs);
//! - temporary credentials from `sts:AssumeRole` as the user, like ECS hands a task.
//!
//! moto 5.2.5 facts relied on (found by experiment): `GetCallerIdentity` needs no IAM
//! permission, `GetRole` does; temporary credentials from moto's own `AssumeRole` are
//! accepted afterwards; errors come back as AWS XML with `Content-Type: text/html`.
//!
//! [`CredentialsEndpoint`] serves a role's credentials the way ECS's container credentials
//! endpoint does (`AWS_CONTAINER_CREDENTIALS_FULL_URI`).

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;

use crate::moto::Moto;

/// The account moto puts everything in.
pub const ACCOUNT_ID: &str = "123456789012";
/// The region every signature and [`AwsWorld::credentials_env`] use.
pub const REGION: &str = "us-east-1";
/// The tag the Consul binding rule reads the service name from.
pub const SERVICE_NAME_TAG: &str = "consul.hashicorp.com.service-name";
/// Requests moto serves without checking signatures: CreateUser, PutUserPolicy,
/// CreateAccessKey (the admin user). Everything after is authenticated.
pub const SETUP_NO_AUTH_ACTIONS: u32 = 3;
/// Name of the admin user.
pub const ADMIN_USER: &str = "alice";
/// IAM path of the admin user.
pub const ADMIN_PATH: &str = "/ops/";
/// IAM path of the task role [`AwsWorld::start`] creates.
pub const TASK_ROLE_PATH: &str = "/consul-ecs/";
/// The Enterprise tag the namespace rule of the service-token method reads.
pub const NAMESPACE_TAG: &str = "consul.hashicorp.com.namespace";

/// A task role to create with [`AwsWorld::add_role`]: for the misconfigurations a task can
/// have (a wrong path, missing or wrong tags, no `iam:GetRole` on itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSpec {
    /// The service the role is for: its name is `consul-ecs-<service>` (suffixed when taken).
    pub service: String,
    /// IAM path (`/consul-ecs/`, `other`, `/` …).
    pub path: String,
    /// Tags, in order (default: `consul.hashicorp.com.service-name=<service>`).
    pub tags: Vec<(String, String)>,
    /// Whether the role may call `iam:GetRole` on itself (default true).
    pub allow_get_role: bool,
}

impl RoleSpec {
    /// The role [`AwsWorld::add_task_role`] makes: tagged with `service`, GetRole allowed.
    pub fn new(service: &str, path: &str) -> RoleSpec {
        RoleSpec {
            service: service.to_string(),
            path: path.to_string(),
            tags: vec![(SERVICE_NAME_TAG.to_string(), service.to_string())],
            allow_get_role: true,
        }
    }

    /// Replaces the tags.
    pub fn tags(mut self, tags: &[(&str, &str)]) -> RoleSpec {
        self.tags = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, key: &str, value: &str) -> RoleSpec {
        self.tags.push((key.to_string(), value.to_string()));
        self
    }

    /// Leaves out the inline policy allowing `iam:GetRole` on the role itself.
    pub fn without_get_role(mut self) -> RoleSpec {
        self.allow_get_role = false;
        self
    }
}

/// A role assumed like an ECS task role: its identity and temporary credentials.
/// `Debug` hides the secret key and the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct TaskRole {
    /// Role name, e.g. `consul-ecs-web`.
    pub name: String,
    /// Role ARN with path, e.g. `arn:aws:iam::123456789012:role/consul-ecs/consul-ecs-web`.
    pub arn: String,
    /// IAM path, e.g. `/consul-ecs/`.
    pub path: String,
    /// The service the role is tagged with.
    pub service: String,
    /// The `RoleSessionName` it was assumed with (a 32-hex task-ID-like value).
    pub session_name: String,
    /// Temporary access key ID (`ASIA…`).
    pub access_key_id: String,
    /// Temporary secret access key.
    pub secret_access_key: String,
    /// Session token.
    pub session_token: String,
    /// When the credentials expire, RFC 3339 as STS reports it.
    pub expiration: String,
}

impl TaskRole {
    /// The ARN `sts:GetCallerIdentity` reports for these credentials:
    /// `arn:aws:sts::<acct>:assumed-role/<name>/<session>`.
    pub fn assumed_role_arn(&self) -> String {
        format!(
            "arn:aws:sts::{ACCOUNT_ID}:assumed-role/{}/{}",
            self.name, self.session_name
        )
    }

    /// The credentials as the AWS SDK types hold them.
    pub fn credentials(&self) -> Credentials {
        Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            Some(self.session_token.clone()),
            None,
            "testkit-task-role",
        )
    }
}

impl std::fmt::Debug for TaskRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskRole")
            .field("name", &self.name)
            .field("arn", &self.arn)
            .field("path", &self.path)
            .field("service", &self.service)
            .field("session_name", &self.session_name)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// The admin IAM user: long-term credentials, no session token. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct IamUser {
    /// User name ([`ADMIN_USER`]).
    pub name: String,
    /// User ARN with path, `arn:aws:iam::123456789012:user/ops/alice`.
    pub arn: String,
    /// Access key ID (`AKIA…`).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
}

impl IamUser {
    /// The credentials as the AWS SDK types hold them.
    pub fn credentials(&self) -> Credentials {
        Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            None,
            None,
            "testkit-user",
        )
    }
}

impl std::fmt::Debug for IamUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IamUser")
            .field("name", &self.name)
            .field("arn", &self.arn)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// moto with an admin user and a task role; moto stops when this is dropped.
pub struct AwsWorld {
    moto: Moto,
    admin: IamUser,
    role: TaskRole,
    /// Role names taken so far (IAM role names are unique in an account, whatever the path).
    role_names: Mutex<BTreeSet<String>>,
}

impl std::fmt::Debug for AwsWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsWorld")
            .field("endpoint", &self.endpoint())
            .field("admin", &self.admin)
            .field("task_role", &self.role)
            .finish_non_exhaustive()
    }
}

impl AwsWorld {
    /// Starts moto (signature checks on after the setup actions) and creates the admin
    /// user, the task role `/consul-ecs/consul-ecs-<service>` tagged
    /// `consul.hashicorp.com.service-name=<service>`, and assumes it. Usable from a plain
    /// `#[test]` and (blocking its thread briefly) from async code: the setup runs on a
    /// thread of its own. Panics with moto's answer when a step fails.
    pub fn start(service: &str) -> AwsWorld {
        let service = service.to_string();
        block_on_thread(async move { AwsWorld::start_async(&service).await })
    }

    /// [`AwsWorld::start`] for async tests.
    pub async fn start_async(service: &str) -> AwsWorld {
        let moto = Moto::start(SETUP_NO_AUTH_ACTIONS);
        let (admin, role) = provision(&moto.endpoint(), service).await;
        let names = BTreeSet::from([role.name.clone()]);
        AwsWorld {
            moto,
            admin,
            role,
            role_names: Mutex::new(names),
        }
    }

    /// moto's URL (`http://127.0.0.1:P`): the STS and the IAM endpoint.
    pub fn endpoint(&self) -> String {
        self.moto.endpoint()
    }

    /// The task role [`AwsWorld::start`] created.
    pub fn task_role(&self) -> &TaskRole {
        &self.role
    }

    /// The admin user whose key signed the setup (allowed everything, including
    /// `sts:AssumeRole` on every role and `iam:GetUser` on itself).
    pub fn admin(&self) -> &IamUser {
        &self.admin
    }

    /// Creates and assumes another task role for `service` at IAM `path` (`/other/`,
    /// `other` and `/` all work), e.g. one outside the bound path of an auth method. Its
    /// name is `consul-ecs-<service>`, or with a `-2`, `-3`, … suffix when taken. Sync
    /// like [`AwsWorld::start`].
    pub fn add_task_role(&self, service: &str, path: &str) -> TaskRole {
        block_on_thread(self.add_task_role_async(service, path))
    }

    /// [`AwsWorld::add_task_role`] for async tests.
    pub async fn add_task_role_async(&self, service: &str, path: &str) -> TaskRole {
        let path = normalise_path(path);
        let name = {
            let mut names = self.names();
            let base = role_name(service);
            let mut name = base.clone();
            let mut n = 2;
            while names.contains(&name) {
                name = format!("{base}-{n}");
                n += 1;
            }
            names.insert(name.clone());
            name
        };
        create_role(&self.endpoint(), &self.admin, &name, &path, service).await
    }

    /// Creates and assumes a role as `spec` says (name `consul-ecs-<service>`, suffixed
    /// when taken). [`TaskRole::service`] is the value of its service-name tag, or empty.
    /// Sync like [`AwsWorld::start`].
    pub fn add_role(&self, spec: &RoleSpec) -> TaskRole {
        block_on_thread(self.add_role_async(spec))
    }

    /// [`AwsWorld::add_role`] for async tests.
    pub async fn add_role_async(&self, spec: &RoleSpec) -> TaskRole {
        let name = {
            let mut names = self.names();
            let base = role_name(&spec.service);
            let mut name = base.clone();
            let mut n = 2;
            while names.contains(&name) {
                name = format!("{base}-{n}");
                n += 1;
            }
            names.insert(name.clone());
            name
        };
        let spec = RoleSpec {
            path: normalise_path(&spec.path),
            ..spec.clone()
        };
        create_role_as(&self.endpoint(), &self.admin, &name, &spec).await
    }

    /// Environment for a child process that should use `user`'s long-term credentials
    /// (no session token), like a container given an IAM user's keys instead of a task
    /// role: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
    /// `AWS_EC2_METADATA_DISABLED=true`.
    pub fn user_env(&self, user: &IamUser) -> Vec<(String, String)> {
        let mut env = vec![
            ("AWS_ACCESS_KEY_ID".to_string(), user.access_key_id.clone()),
            (
                "AWS_SECRET_ACCESS_KEY".to_string(),
                user.secret_access_key.clone(),
            ),
        ];
        env.extend(base_env());
        env
    }

    /// Environment for a child process that should use `role`'s credentials from the
    /// environment: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
    /// `AWS_REGION=us-east-1` and `AWS_EC2_METADATA_DISABLED=true` (no IMDS probing).
    pub fn credentials_env(&self, role: &TaskRole) -> Vec<(String, String)> {
        let mut env = vec![
            ("AWS_ACCESS_KEY_ID".to_string(), role.access_key_id.clone()),
            (
                "AWS_SECRET_ACCESS_KEY".to_string(),
                role.secret_access_key.clone(),
            ),
            ("AWS_SESSION_TOKEN".to_string(), role.session_token.clone()),
        ];
        env.extend(base_env());
        env
    }

    /// `role`'s credentials as the AWS SDK types hold them.
    pub fn credentials(&self, role: &TaskRole) -> Credentials {
        role.credentials()
    }

    /// Signs `form` (a query-protocol request, e.g. `Action=GetCallerIdentity`) for
    /// `service` (`sts` or `iam`) with `creds` and posts it to moto: `(status, body)`.
    pub async fn call(
        &self,
        service: &str,
        creds: &Credentials,
        form: &[(&str, &str)],
    ) -> (u16, String) {
        signed_post(&self.endpoint(), service, creds, form).await
    }

    fn names(&self) -> MutexGuard<'_, BTreeSet<String>> {
        self.role_names.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What [`AwsWorld::start`] builds, in a moto that is already running at `endpoint` (moto in
/// a container, say): the admin user, made with moto's first [`SETUP_NO_AUTH_ACTIONS`]
/// unauthenticated requests (start moto with `INITIAL_NO_AUTH_ACTION_COUNT` at least that,
/// or unset), and the task role `/consul-ecs/consul-ecs-<service>`, assumed. Panics with
/// moto's answer when a step fails.
pub async fn provision(endpoint: &str, service: &str) -> (IamUser, TaskRole) {
    // Any key works while moto does not check; it only routes the request.
    let anyone = Credentials::new("AKIAIOSFODNN7EXAMPLE", "setup", None, None, "setup");
    let allow_all =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
            .to_string();
    let user = call(
        endpoint,
        "iam",
        &anyone,
        &[
            ("Action", "CreateUser"),
            ("Version", "2010-05-08"),
            ("UserName", ADMIN_USER),
            ("Path", ADMIN_PATH),
        ],
    )
    .await;
    let user_arn = xml_text(&user, "Arn");
    call(
        endpoint,
        "iam",
        &anyone,
        &[
            ("Action", "PutUserPolicy"),
            ("Version", "2010-05-08"),
            ("UserName", ADMIN_USER),
            ("PolicyName", "admin"),
            ("PolicyDocument", &allow_all),
        ],
    )
    .await;
    let key = call(
        endpoint,
        "iam",
        &anyone,
        &[
            ("Action", "CreateAccessKey"),
            ("Version", "2010-05-08"),
            ("UserName", ADMIN_USER),
        ],
    )
    .await;
    let admin = IamUser {
        name: ADMIN_USER.to_string(),
        arn: user_arn,
        access_key_id: xml_text(&key, "AccessKeyId"),
        secret_access_key: xml_text(&key, "SecretAccessKey"),
    };
    // From here on moto checks signatures: the role is made with the admin's key.
    let role = create_role(
        endpoint,
        &admin,
        &role_name(service),
        TASK_ROLE_PATH,
        service,
    )
    .await;
    (admin, role)
}

/// `AWS_REGION` and `AWS_EC2_METADATA_DISABLED`, shared by both env helpers.
fn base_env() -> Vec<(String, String)> {
    vec![
        ("AWS_REGION".to_string(), REGION.to_string()),
        ("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string()),
    ]
}

fn role_name(service: &str) -> String {
    format!("consul-ecs-{service}")
}

/// IAM paths begin and end with `/`.
fn normalise_path(path: &str) -> String {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        "/".to_string()
    } else {
        format!("/{trimmed}/")
    }
}

/// CreateRole (tagged, trusting the account), PutRolePolicy (GetRole on itself) and
/// AssumeRole, all signed with the admin's key.
async fn create_role(
    endpoint: &str,
    admin: &IamUser,
    name: &str,
    path: &str,
    service: &str,
) -> TaskRole {
    create_role_as(endpoint, admin, name, &RoleSpec::new(service, path)).await
}

/// CreateRole as `spec` says (trusting the admin), PutRolePolicy (GetRole on itself) when
/// allowed, and AssumeRole, all signed with the admin's key.
async fn create_role_as(endpoint: &str, admin: &IamUser, name: &str, spec: &RoleSpec) -> TaskRole {
    let creds = admin.credentials();
    // moto checks the trust policy against the caller's ARN as it spells it: the user's
    // without its path (it does not expand the account's `:root` principal either), so the
    // policy names the admin both ways.
    let pathless = format!("arn:aws:iam::{ACCOUNT_ID}:user/{}", admin.name);
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": [admin.arn, pathless]}, "Action": "sts:AssumeRole"}]})
    .to_string();
    let mut form: Vec<(String, String)> = vec![
        ("Action".into(), "CreateRole".into()),
        ("Version".into(), "2010-05-08".into()),
        ("RoleName".into(), name.into()),
        ("Path".into(), spec.path.clone()),
        ("AssumeRolePolicyDocument".into(), trust),
    ];
    for (i, (key, value)) in spec.tags.iter().enumerate() {
        form.push((format!("Tags.member.{}.Key", i + 1), key.clone()));
        form.push((format!("Tags.member.{}.Value", i + 1), value.clone()));
    }
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let created = call(endpoint, "iam", &creds, &pairs).await;
    let arn = xml_text(&created, "Arn");
    if spec.allow_get_role {
        let get_self = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "iam:GetRole", "Resource": arn}]})
        .to_string();
        call(
            endpoint,
            "iam",
            &creds,
            &[
                ("Action", "PutRolePolicy"),
                ("Version", "2010-05-08"),
                ("RoleName", name),
                ("PolicyName", "consul-login"),
                ("PolicyDocument", &get_self),
            ],
        )
        .await;
    }
    // ECS names the session after the task (believed; docs/protocols.md §2.3): a 32-hex ID.
    let session_name = uuid::Uuid::new_v4().simple().to_string();
    let assumed = call(
        endpoint,
        "sts",
        &creds,
        &[
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", &arn),
            ("RoleSessionName", &session_name),
        ],
    )
    .await;
    let service = spec
        .tags
        .iter()
        .find(|(k, _)| k == SERVICE_NAME_TAG)
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    TaskRole {
        name: name.to_string(),
        arn,
        path: spec.path.clone(),
        service,
        session_name,
        access_key_id: xml_text(&assumed, "AccessKeyId"),
        secret_access_key: xml_text(&assumed, "SecretAccessKey"),
        session_token: xml_text(&assumed, "SessionToken"),
        expiration: xml_text(&assumed, "Expiration"),
    }
}

/// A setup call that must succeed: panics with moto's answer otherwise.
async fn call(endpoint: &str, service: &str, creds: &Credentials, form: &[(&str, &str)]) -> String {
    let (status, body) = signed_post(endpoint, service, creds, form).await;
    let action = form
        .iter()
        .find(|(k, _)| *k == "Action")
        .map_or("?", |(_, v)| *v);
    assert_eq!(status, 200, "moto {action} failed: {body}");
    body
}

/// Signs a form POST with aws-sigv4 (region [`REGION`]) and sends it to `endpoint`.
async fn signed_post(
    endpoint: &str,
    service: &str,
    creds: &Credentials,
    form: &[(&str, &str)],
) -> (u16, String) {
    // moto re-encodes the form to check the signature and escapes `*` (a policy's
    // `"Resource": "*"`), which the WHATWG serializer leaves as it is: escape it here too,
    // so both sides sign the same bytes.
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish()
        .replace('*', "%2A");
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    signed_request(
        endpoint,
        service,
        creds,
        &[("content-type", content_type)],
        body,
    )
    .await
}

/// Signs a `POST /` with aws-sigv4 (region [`REGION`], `headers` signed too) and sends it
/// to `endpoint`: `(status, body)`. Panics when it cannot be sent.
pub(crate) async fn signed_request(
    endpoint: &str,
    service: &str,
    creds: &Credentials,
    headers: &[(&str, &str)],
    body: String,
) -> (u16, String) {
    let url = format!("{}/", endpoint.trim_end_matches('/'));
    let identity: Identity = creds.clone().into();
    let params = match v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
    {
        Ok(p) => p.into(),
        Err(e) => panic!("signing parameters: {e}"),
    };
    let signable = match SignableRequest::new(
        "POST",
        url.as_str(),
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    ) {
        Ok(s) => s,
        Err(e) => panic!("signable request: {e}"),
    };
    let instructions = match sign(signable, &params) {
        Ok(out) => out.into_parts().0,
        Err(e) => panic!("sign: {e}"),
    };
    let mut request = reqwest::Client::new().post(&url).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    for (name, value) in instructions.headers() {
        request = request.header(name, value);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("read the answer of {url}: {e}"));
    (status, text)
}

/// Text of the first `<tag>…</tag>` in `xml`; panics (showing the XML) when absent.
pub fn xml_text(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in:\n{xml}"))
        + open.len();
    let end = xml[start..]
        .find(&close)
        .unwrap_or_else(|| panic!("no </{tag}> in:\n{xml}"))
        + start;
    xml[start..end].to_string()
}

/// Runs `fut` to completion on a new thread with its own tokio runtime, so sync helpers
/// work from plain tests and from inside another runtime alike.
pub(crate) fn block_on_thread<F>(fut: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        let joined = scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap_or_else(|e| panic!("start a tokio runtime: {e}"));
                runtime.block_on(fut)
            })
            .join();
        match joined {
            Ok(out) => out,
            // Re-raise the helper thread's panic (its message was already printed).
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// One request to a [`CredentialsEndpoint`]: `had_token` says whether it carried the
/// expected `Authorization` value (always true when none is required); the value itself is
/// never kept.
pub use crate::http_server::RecordedRequest as CredentialsRequest;

/// How to serve a [`CredentialsEndpoint`].
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialsEndpointOptions {
    /// Path the credentials are served at (default `/v2/credentials/<random id>`, the
    /// shape of ECS's relative URI). Other paths get 404.
    pub path: String,
    /// `Authorization` value required (`AWS_CONTAINER_AUTHORIZATION_TOKEN`); None = none.
    /// A request without it gets 401, a wrong one 403.
    pub authorization: Option<String>,
}

impl Default for CredentialsEndpointOptions {
    fn default() -> CredentialsEndpointOptions {
        CredentialsEndpointOptions {
            path: format!("/v2/credentials/{}", uuid::Uuid::new_v4()),
            authorization: None,
        }
    }
}

impl std::fmt::Debug for CredentialsEndpointOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsEndpointOptions")
            .field("path", &self.path)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

struct EndpointState {
    options: CredentialsEndpointOptions,
    role: Mutex<TaskRole>,
    requests: Mutex<Vec<CredentialsRequest>>,
}

/// An ECS container credentials endpoint on 127.0.0.1 serving a [`TaskRole`]'s
/// credentials as JSON (`AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`,
/// `RoleArn`; docs/protocols.md §2.3). Runs on its own thread; stops when dropped.
pub struct CredentialsEndpoint {
    state: Arc<EndpointState>,
    server: crate::http_server::ServerThread,
}

impl std::fmt::Debug for CredentialsEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsEndpoint")
            .field("full_uri", &self.full_uri())
            .finish_non_exhaustive()
    }
}

impl CredentialsEndpoint {
    /// Serves `role` at a random `/v2/credentials/<id>` path, no authorization required.
    pub fn start(role: &TaskRole) -> CredentialsEndpoint {
        CredentialsEndpoint::start_with(role, CredentialsEndpointOptions::default())
    }

    /// Serves `role` as `options` say. Panics if it cannot bind.
    pub fn start_with(role: &TaskRole, options: CredentialsEndpointOptions) -> CredentialsEndpoint {
        let state = Arc::new(EndpointState {
            options,
            role: Mutex::new(role.clone()),
            requests: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .fallback(serve_credentials)
            .with_state(state.clone());
        let server = crate::http_server::ServerThread::start("credentials-endpoint", 0, app)
            .unwrap_or_else(|e| panic!("start the credentials endpoint: {e}"));
        CredentialsEndpoint { state, server }
    }

    /// The value for `AWS_CONTAINER_CREDENTIALS_FULL_URI`: `http://127.0.0.1:P<path>`.
    pub fn full_uri(&self) -> String {
        format!("http://{}{}", self.server.addr(), self.state.options.path)
    }

    /// Environment for a child process that should find its credentials here, as a task
    /// with a task role does: `AWS_CONTAINER_CREDENTIALS_FULL_URI`,
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN` (when required), `AWS_REGION` and
    /// `AWS_EC2_METADATA_DISABLED=true`.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI".to_string(),
            self.full_uri(),
        )];
        if let Some(token) = &self.state.options.authorization {
            env.push((
                "AWS_CONTAINER_AUTHORIZATION_TOKEN".to_string(),
                token.clone(),
            ));
        }
        env.extend(base_env());
        env
    }

    /// Serves `role` from now on (rotated task-role credentials).
    pub fn set_role(&self, role: &TaskRole) {
        *self.state.role.lock().unwrap_or_else(|e| e.into_inner()) = role.clone();
    }

    /// The requests answered so far, oldest first.
    pub fn requests(&self) -> Vec<CredentialsRequest> {
        self.state
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

async fn serve_credentials(
    State(state): State<Arc<EndpointState>>,
    method: axum::http::Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_string(), |p| p.as_str().to_string());
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let authorized = match (&state.options.authorization, given) {
        (None, _) => true,
        (Some(want), Some(got)) => want == got,
        (Some(_), None) => false,
    };
    let (status, body) = if path != state.options.path || method != axum::http::Method::GET {
        (
            StatusCode::NOT_FOUND,
            json!({"code": "NotFound", "message": "Unable to find credentials"}),
        )
    } else if state.options.authorization.is_some() && given.is_none() {
        (
            StatusCode::UNAUTHORIZED,
            json!({"code": "InvalidToken", "message": "Authorization header missing"}),
        )
    } else if !authorized {
        (
            StatusCode::FORBIDDEN,
            json!({"code": "AccessDenied", "message": "Authorization token is not valid"}),
        )
    } else {
        let role = state.role.lock().unwrap_or_else(|e| e.into_inner()).clone();
        (
            StatusCode::OK,
            json!({
                "AccessKeyId": role.access_key_id,
                "Expiration": role.expiration,
                "RoleArn": role.arn,
                "SecretAccessKey": role.secret_access_key,
                "Token": role.session_token,
            }),
        )
    };
    state
        .requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(CredentialsRequest::now(
            method.as_str(),
            &path,
            "",
            status.as_u16(),
            authorized,
        ));
    (status, axum::Json(body)).into_response()
}
