//! A task role in real moto: the AWS side of an ECS task's world.
//!
//! [`AwsWorld::start`] runs `moto_server` (see [`crate::moto`]) and builds in it, through
//! moto's own IAM and STS APIs ([`ecs_local::moto`], which the local ECS agent uses too),
//! what an ECS task with a task role has: an admin IAM user whose key signs every request
//! after the first [`SETUP_NO_AUTH_ACTIONS`], and the task role `consul-ecs-<service>` at
//! path `/consul-ecs/`, tagged `consul.hashicorp.com.service-name=<service>`, assumed like
//! ECS assumes it. The helpers here panic with moto's answer when a step fails.
//!
//! [`CredentialsEndpoint`] serves a role's credentials the way ECS's container credentials
//! endpoint does (`AWS_CONTAINER_CREDENTIALS_FULL_URI`).

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use aws_credential_types::Credentials;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;

use crate::moto::Moto;

use ecs_local::moto::{normalise_path, role_name};
pub use ecs_local::moto::{
    IamUser, RoleSpec, TaskRole, ACCOUNT_ID, ADMIN_PATH, ADMIN_USER, REGION, SERVICE_NAME_TAG,
    SETUP_NO_AUTH_ACTIONS, TASK_ROLE_PATH,
};
/// The Enterprise tag the namespace rule of the service-token method reads.
pub const NAMESPACE_TAG: &str = "consul.hashicorp.com.namespace";

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

/// What [`AwsWorld::start`] builds, in a moto that is already running at `endpoint`
/// ([`ecs_local::moto::provision`]). Panics with moto's answer when a step fails.
pub async fn provision(endpoint: &str, service: &str) -> (IamUser, TaskRole) {
    ecs_local::moto::provision(endpoint, service)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `AWS_REGION` and `AWS_EC2_METADATA_DISABLED`, shared by both env helpers.
fn base_env() -> Vec<(String, String)> {
    vec![
        ("AWS_REGION".to_string(), REGION.to_string()),
        ("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string()),
    ]
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

/// [`ecs_local::moto::create_role`]; panics with moto's answer when a step fails.
async fn create_role_as(endpoint: &str, admin: &IamUser, name: &str, spec: &RoleSpec) -> TaskRole {
    ecs_local::moto::create_role(endpoint, admin, name, spec)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// [`ecs_local::moto::signed_post`]; panics when the request cannot be sent.
async fn signed_post(
    endpoint: &str,
    service: &str,
    creds: &Credentials,
    form: &[(&str, &str)],
) -> (u16, String) {
    ecs_local::moto::signed_post(endpoint, service, creds, form)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// [`ecs_local::moto::signed_request`]; panics when the request cannot be sent.
pub(crate) async fn signed_request(
    endpoint: &str,
    service: &str,
    creds: &Credentials,
    headers: &[(&str, &str)],
    body: String,
) -> (u16, String) {
    ecs_local::moto::signed_request(endpoint, service, creds, headers, body)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Text of the first `<tag>…</tag>` in `xml`; panics (showing the XML) when absent.
pub fn xml_text(xml: &str, tag: &str) -> String {
    ecs_local::moto::xml_text(xml, tag).unwrap_or_else(|e| panic!("{e}"))
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
