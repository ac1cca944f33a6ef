//! ECS in moto for the acl-controller tests.
//!
//! - [`MotoEcs`]: a cluster and a task definition made through moto's own ECS API (signed
//!   with the admin's key, checked by moto), tasks run and stopped there, and the role an
//!   acl-controller gets: allowed `ecs:ListTasks` and `ecs:DescribeTasks`, nothing else.
//! - [`EcsProxy`]: a thin proxy in front of moto for what moto 5.2.5 cannot show: it
//!   ignores `maxResults`/`nextToken` (so the proxy cuts `ListTasks` answers into pages,
//!   optionally starting with an empty one), and it has no "stopping" state (the proxy
//!   shows marked tasks as desired `STOPPED`, last `DEACTIVATING`, and leaves them out of
//!   `ListTasks`, as ECS does with `desiredStatus: RUNNING`). Requests are forwarded byte
//!   for byte with their `Host` header, so moto still checks every signature.
//!
//! moto facts relied on (5.2.5): tasks start `RUNNING` and, by default, advance one state
//! per `DescribeTasks` until `STOPPED` — [`MotoEcs::keep_tasks_running`] tells moto's state
//! manager not to; `StopTask` jumps straight to `STOPPED`; `ListTasks` honours
//! `desiredStatus`; `DescribeTasks` omits unknown tasks instead of reporting `MISSING`.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use crate::aws::{
    block_on_thread, signed_request, xml_text, AwsWorld, TaskRole, ACCOUNT_ID, REGION,
};

/// `X-Amz-Target` prefix of the ECS API.
pub const TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113.";

/// An ECS cluster in moto with one task definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MotoCluster {
    /// Cluster name.
    pub name: String,
    /// Cluster ARN.
    pub arn: String,
    /// The task definition tasks are run from.
    pub task_definition: String,
}

/// ECS set-up calls against an [`AwsWorld`]'s moto, signed with its admin's key.
#[derive(Debug, Clone, Copy)]
pub struct MotoEcs<'a> {
    aws: &'a AwsWorld,
}

impl<'a> MotoEcs<'a> {
    /// ECS calls for `aws`.
    pub fn new(aws: &'a AwsWorld) -> MotoEcs<'a> {
        MotoEcs { aws }
    }

    /// One signed ECS call (`target` like `ListTasks`) with `creds`: `(status, JSON)`.
    pub fn call_as(
        &self,
        creds: &aws_credential_types::Credentials,
        target: &str,
        body: &Value,
    ) -> (u16, Value) {
        let endpoint = self.aws.endpoint();
        let target_header = format!("{TARGET_PREFIX}{target}");
        let creds = creds.clone();
        let body = body.to_string();
        let (status, text) = block_on_thread(async move {
            signed_request(
                &endpoint,
                "ecs",
                &creds,
                &[
                    ("content-type", "application/x-amz-json-1.1"),
                    ("x-amz-target", &target_header),
                ],
                body,
            )
            .await
        });
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    /// A signed ECS call as the admin that must succeed; panics with moto's answer.
    pub fn call(&self, target: &str, body: &Value) -> Value {
        let (status, value) = self.call_as(&self.aws.admin().credentials(), target, body);
        assert_eq!(status, 200, "moto ECS {target} failed: {value}");
        value
    }

    /// Creates cluster `name` and registers task definition family `web`.
    pub fn create_cluster(&self, name: &str) -> MotoCluster {
        let cluster = self.call("CreateCluster", &json!({"clusterName": name}));
        let arn = cluster["cluster"]["clusterArn"]
            .as_str()
            .unwrap_or_else(|| panic!("CreateCluster answered without an ARN: {cluster}"))
            .to_string();
        let def = self.call(
            "RegisterTaskDefinition",
            &json!({
                "family": "web",
                // Not awsvpc (which moto forces for FARGATE-compatible definitions): moto
                // would then need an EC2 subnet and security group for every task.
                "networkMode": "bridge",
                "cpu": "256",
                "memory": "512",
                "containerDefinitions": [{"name": "web", "image": "web:1", "essential": true, "cpu": 256, "memory": 512}],
            }),
        );
        let task_definition = def["taskDefinition"]["taskDefinitionArn"]
            .as_str()
            .unwrap_or_else(|| panic!("RegisterTaskDefinition answered without an ARN: {def}"))
            .to_string();
        MotoCluster {
            name: name.to_string(),
            arn,
            task_definition,
        }
    }

    /// Runs `count` Fargate tasks tagged `tags` in `cluster`; returns their ARNs.
    pub fn run_tasks(
        &self,
        cluster: &MotoCluster,
        count: usize,
        tags: &[(&str, &str)],
    ) -> Vec<String> {
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        let mut arns = Vec::with_capacity(count);
        // ECS runs at most 10 tasks per call.
        while arns.len() < count {
            let n = (count - arns.len()).min(10);
            let out = self.call(
                "RunTask",
                &json!({
                    "cluster": cluster.arn,
                    "taskDefinition": cluster.task_definition,
                    "count": n,
                    "launchType": "FARGATE",
                    "tags": tags,
                }),
            );
            let tasks = out["tasks"].as_array().cloned().unwrap_or_default();
            assert_eq!(tasks.len(), n, "RunTask ran {} of {n}: {out}", tasks.len());
            arns.extend(
                tasks
                    .iter()
                    .filter_map(|t| t["taskArn"].as_str().map(str::to_string)),
            );
        }
        arns
    }

    /// Stops a task (moto: straight to `STOPPED`).
    pub fn stop_task(&self, cluster: &MotoCluster, task_arn: &str) {
        self.call(
            "StopTask",
            &json!({"cluster": cluster.arn, "task": task_arn, "reason": "test"}),
        );
    }

    /// Tells moto's state manager to keep tasks `RUNNING` however often they are
    /// described (by default each `DescribeTasks` moves them one step towards `STOPPED`).
    pub fn keep_tasks_running(&self) {
        let url = format!(
            "{}/moto-api/state-manager/set-transition",
            self.aws.endpoint()
        );
        let body = json!({
            "model_name": "ecs::task",
            "transition": {"progression": "manual", "times": 1_000_000_000u64},
        });
        let status = block_on_thread(async move {
            reqwest::Client::new()
                .post(&url)
                .body(body.to_string())
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or_else(|e| panic!("POST {url}: {e}"))
        });
        assert_eq!(
            status, 201,
            "moto state manager did not take the transition"
        );
    }

    /// Creates and assumes role `name` (path `/`) whose only permissions are
    /// `ecs:ListTasks` and `ecs:DescribeTasks`: what the acl-controller's task role needs.
    pub fn controller_role(&self, name: &str) -> TaskRole {
        let admin = self.aws.admin().credentials();
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": [self.aws.admin().arn, format!("arn:aws:iam::{ACCOUNT_ID}:user/{}", self.aws.admin().name)]},
            "Action": "sts:AssumeRole"}]})
        .to_string();
        let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": ["ecs:ListTasks", "ecs:DescribeTasks"], "Resource": "*"}]})
        .to_string();
        let aws = self.aws;
        let call = |form: Vec<(&str, &str)>| -> String {
            let (status, body) = block_on_thread(aws.call(
                if form[0].1 == "AssumeRole" {
                    "sts"
                } else {
                    "iam"
                },
                &admin,
                &form,
            ));
            assert_eq!(status, 200, "moto {} failed: {body}", form[0].1);
            body
        };
        let created = call(vec![
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", name),
            ("Path", "/"),
            ("AssumeRolePolicyDocument", &trust),
        ]);
        let arn = xml_text(&created, "Arn");
        call(vec![
            ("Action", "PutRolePolicy"),
            ("Version", "2010-05-08"),
            ("RoleName", name),
            ("PolicyName", "acl-controller"),
            ("PolicyDocument", &policy),
        ]);
        let session = uuid::Uuid::new_v4().simple().to_string();
        let assumed = call(vec![
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", &arn),
            ("RoleSessionName", &session),
        ]);
        TaskRole {
            name: name.to_string(),
            arn,
            path: "/".to_string(),
            service: String::new(),
            session_name: session,
            access_key_id: xml_text(&assumed, "AccessKeyId"),
            secret_access_key: xml_text(&assumed, "SecretAccessKey"),
            session_token: xml_text(&assumed, "SessionToken"),
            expiration: xml_text(&assumed, "Expiration"),
        }
    }
}

/// Environment for an acl-controller using `role` against an ECS endpoint.
pub fn controller_env(role: &TaskRole, ecs_endpoint: &str) -> Vec<(String, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID".into(), role.access_key_id.clone()),
        (
            "AWS_SECRET_ACCESS_KEY".into(),
            role.secret_access_key.clone(),
        ),
        ("AWS_SESSION_TOKEN".into(), role.session_token.clone()),
        ("AWS_REGION".into(), REGION.into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ("AWS_ENDPOINT_URL_ECS".into(), ecs_endpoint.to_string()),
    ]
}

struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    page_size: Mutex<Option<usize>>,
    empty_first_page: Mutex<bool>,
    stopping: Mutex<BTreeSet<String>>,
    calls: Mutex<Vec<String>>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The proxy in front of moto's ECS (see the module docs). Stops when dropped.
pub struct EcsProxy {
    state: Arc<ProxyState>,
    server: crate::http_server::ServerThread,
}

impl std::fmt::Debug for EcsProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcsProxy")
            .field("endpoint", &self.endpoint())
            .field("upstream", &self.state.upstream)
            .finish_non_exhaustive()
    }
}

impl EcsProxy {
    /// A proxy for `upstream` (moto's endpoint) on a free loopback port; passes everything
    /// through unchanged until told otherwise.
    pub fn start(upstream: &str) -> EcsProxy {
        let state = Arc::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_string(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_else(|e| panic!("proxy HTTP client: {e}")),
            page_size: Mutex::new(None),
            empty_first_page: Mutex::new(false),
            stopping: Mutex::new(BTreeSet::new()),
            calls: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(forward).with_state(state.clone());
        let server = crate::http_server::ServerThread::start("ecs-proxy", 0, app)
            .unwrap_or_else(|e| panic!("start the ECS proxy: {e}"));
        EcsProxy { state, server }
    }

    /// `http://127.0.0.1:PORT`: the ECS endpoint to give the controller.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Cuts `ListTasks` answers into pages of `size` tasks.
    pub fn set_page_size(&self, size: usize) {
        *locked(&self.state.page_size) = Some(size.max(1));
    }

    /// Answers the first `ListTasks` page with no tasks but a `nextToken`, as ECS may.
    pub fn set_empty_first_page(&self, on: bool) {
        *locked(&self.state.empty_first_page) = on;
    }

    /// Shows task `task_id` as stopping (desired `STOPPED`, last `DEACTIVATING`, not listed
    /// as running) until [`EcsProxy::clear_stopping`].
    pub fn mark_stopping(&self, task_id: &str) {
        locked(&self.state.stopping).insert(task_id.to_string());
    }

    /// Shows task `task_id` as moto has it again.
    pub fn clear_stopping(&self, task_id: &str) {
        locked(&self.state.stopping).remove(task_id);
    }

    /// The ECS actions forwarded so far (`ListTasks`, `DescribeTasks`, …), in order.
    pub fn calls(&self) -> Vec<String> {
        locked(&self.state.calls).clone()
    }

    /// How many times `action` was called.
    pub fn count(&self, action: &str) -> usize {
        locked(&self.state.calls)
            .iter()
            .filter(|a| *a == action)
            .count()
    }
}

async fn forward(
    State(state): State<Arc<ProxyState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let action = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .unwrap_or("")
        .to_string();
    locked(&state.calls).push(action.clone());
    let request_json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut request = state.client.post(format!("{}/", state.upstream)).body(body);
    for (name, value) in &headers {
        // The Host header is signed: keep the one the client sent, so moto's check passes.
        if matches!(
            name.as_str(),
            "content-length" | "connection" | "transfer-encoding"
        ) {
            continue;
        }
        request = request.header(name, value);
    }
    let (status, text) = match request.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
        Err(e) => return (StatusCode::BAD_GATEWAY, format!("moto: {e}")).into_response(),
    };
    let out = if status == 200 {
        match serde_json::from_str::<Value>(&text) {
            Ok(answer) => rewrite(&state, &action, &request_json, answer).to_string(),
            Err(_) => text,
        }
    } else {
        text
    };
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    (code, [("content-type", "application/x-amz-json-1.1")], out).into_response()
}

fn rewrite(state: &ProxyState, action: &str, request: &Value, mut answer: Value) -> Value {
    let stopping = locked(&state.stopping).clone();
    let is_stopping = |arn: &str| stopping.contains(arn.rsplit('/').next().unwrap_or(arn));
    match action {
        "ListTasks" => {
            let mut arns: Vec<Value> = answer["taskArns"].as_array().cloned().unwrap_or_default();
            let running_only = request["desiredStatus"]
                .as_str()
                .is_none_or(|s| s == "RUNNING");
            if running_only {
                arns.retain(|a| !a.as_str().is_some_and(is_stopping));
            }
            let page = *locked(&state.page_size);
            let empty_first = *locked(&state.empty_first_page);
            let token = request["nextToken"].as_str();
            let offset = match token {
                None if empty_first => {
                    return json!({"taskArns": [], "nextToken": "proxy:0"});
                }
                None => 0,
                Some(t) => t
                    .strip_prefix("proxy:")
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(0),
            };
            let size = page.unwrap_or(usize::MAX);
            let end = offset.saturating_add(size).min(arns.len());
            let slice: Vec<Value> = arns.get(offset.min(end)..end).unwrap_or_default().to_vec();
            let mut out = json!({"taskArns": slice});
            if end < arns.len() {
                out["nextToken"] = json!(format!("proxy:{end}"));
            }
            out
        }
        "DescribeTasks" => {
            if let Some(tasks) = answer["tasks"].as_array_mut() {
                for task in tasks.iter_mut() {
                    let arn = task["taskArn"].as_str().unwrap_or_default().to_string();
                    if is_stopping(&arn) {
                        task["desiredStatus"] = json!("STOPPED");
                        task["lastStatus"] = json!("DEACTIVATING");
                    }
                }
            }
            answer
        }
        _ => answer,
    }
}
