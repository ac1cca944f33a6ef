//! A fake ECS API endpoint (JSON 1.1, docs/protocols.md §5.10) holding thousands of tasks,
//! for benchmarks at a scale moto is too slow for. It serves `ListTasks` (cluster,
//! `desiredStatus` — `RUNNING` by default —, `maxResults` ≤ 100, an opaque `nextToken`) and
//! `DescribeTasks` (≤ 100 tasks, `include: ["TAGS"]`, `MISSING` failures), and counts the
//! calls. Requests must be SigV4-signed for service `ecs`, but the signature itself is not
//! verified (moto does that in the tests); any other action gets
//! `UnknownOperationException`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use crate::ecs_moto::TARGET_PREFIX;

/// One task of the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeTask {
    /// Task ARN (`arn:aws:ecs:<region>:<account>:task/<cluster>/<id>`).
    pub arn: String,
    /// `lastStatus`.
    pub last_status: String,
    /// `desiredStatus`.
    pub desired_status: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

struct Inner {
    cluster_arn: String,
    /// Tasks in insertion order (ListTasks pages follow it), by ID.
    order: Vec<String>,
    tasks: BTreeMap<String, FakeTask>,
}

struct Shared {
    inner: Mutex<Inner>,
    list_calls: AtomicU64,
    describe_calls: AtomicU64,
    other_calls: AtomicU64,
}

impl Shared {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The fake ECS endpoint for one cluster. Stops when dropped.
pub struct FakeEcs {
    shared: Arc<Shared>,
    server: crate::http_server::ServerThread,
}

impl std::fmt::Debug for FakeEcs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeEcs")
            .field("endpoint", &self.endpoint())
            .finish_non_exhaustive()
    }
}

impl FakeEcs {
    /// Serves cluster `cluster_arn` (no tasks yet) on a free loopback port.
    pub fn start(cluster_arn: &str) -> FakeEcs {
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                cluster_arn: cluster_arn.to_string(),
                order: Vec::new(),
                tasks: BTreeMap::new(),
            }),
            list_calls: AtomicU64::new(0),
            describe_calls: AtomicU64::new(0),
            other_calls: AtomicU64::new(0),
        });
        let app = Router::new().fallback(serve).with_state(shared.clone());
        let server = crate::http_server::ServerThread::start("fake-ecs", 0, app)
            .unwrap_or_else(|e| panic!("start the fake ECS: {e}"));
        FakeEcs { shared, server }
    }

    /// `http://127.0.0.1:PORT` (for `AWS_ENDPOINT_URL_ECS`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Adds a running task with ID `id` and `tags`; returns its ARN.
    pub fn add_running(&self, id: &str, tags: &[(&str, &str)]) -> String {
        let mut inner = self.shared.inner();
        let arn = format!(
            "{}/{id}",
            inner.cluster_arn.replacen(":cluster/", ":task/", 1)
        );
        inner.order.push(id.to_string());
        inner.tasks.insert(
            id.to_string(),
            FakeTask {
                arn: arn.clone(),
                last_status: "RUNNING".into(),
                desired_status: "RUNNING".into(),
                tags: tags
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
        );
        arn
    }

    /// Marks task `id` stopped (desired and last status `STOPPED`).
    pub fn stop(&self, id: &str) {
        if let Some(t) = self.shared.inner().tasks.get_mut(id) {
            t.last_status = "STOPPED".into();
            t.desired_status = "STOPPED".into();
        }
    }

    /// `(ListTasks, DescribeTasks, other)` calls so far.
    pub fn calls(&self) -> (u64, u64, u64) {
        (
            self.shared.list_calls.load(Ordering::SeqCst),
            self.shared.describe_calls.load(Ordering::SeqCst),
            self.shared.other_calls.load(Ordering::SeqCst),
        )
    }
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/x-amz-json-1.1")],
        json!({"__type": kind, "message": message}).to_string(),
    )
        .into_response()
}

async fn serve(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let signed_for_ecs = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256 ") && a.contains("/ecs/aws4_request"));
    if !signed_for_ecs {
        return error(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        );
    }
    let action = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .unwrap_or("")
        .to_string();
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            "bad JSON",
        );
    };
    let inner = shared.inner();
    let cluster = request["cluster"].as_str().unwrap_or("default");
    let cluster_name = inner
        .cluster_arn
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    if cluster != inner.cluster_arn && cluster != cluster_name {
        return error(
            StatusCode::BAD_REQUEST,
            "ClusterNotFoundException",
            "Cluster not found.",
        );
    }
    let answer = match action.as_str() {
        "ListTasks" => {
            shared.list_calls.fetch_add(1, Ordering::SeqCst);
            let desired = request["desiredStatus"].as_str().unwrap_or("RUNNING");
            let max = request["maxResults"].as_u64().unwrap_or(100);
            if !(1..=100).contains(&max) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidParameterException",
                    "maxResults must be between 1 and 100",
                );
            }
            let start = match request["nextToken"].as_str() {
                None => 0,
                Some(t) => match t
                    .strip_prefix("fake:")
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    Some(n) => n,
                    None => {
                        return error(
                            StatusCode::BAD_REQUEST,
                            "InvalidParameterException",
                            "Invalid nextToken",
                        )
                    }
                },
            };
            let matching: Vec<&FakeTask> = inner
                .order
                .iter()
                .filter_map(|id| inner.tasks.get(id))
                .filter(|t| t.desired_status == desired)
                .collect();
            let end = start.saturating_add(max as usize).min(matching.len());
            let arns: Vec<&str> = matching
                .get(start.min(end)..end)
                .unwrap_or_default()
                .iter()
                .map(|t| t.arn.as_str())
                .collect();
            let mut out = json!({"taskArns": arns});
            if end < matching.len() {
                out["nextToken"] = json!(format!("fake:{end}"));
            }
            out
        }
        "DescribeTasks" => {
            shared.describe_calls.fetch_add(1, Ordering::SeqCst);
            let wanted: Vec<&str> = request["tasks"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if wanted.is_empty() || wanted.len() > 100 {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidParameterException",
                    "Tasks cannot be empty and can contain at most 100 tasks.",
                );
            }
            let with_tags = request["include"]
                .as_array()
                .is_some_and(|a| a.iter().any(|v| v == "TAGS"));
            let mut tasks = Vec::new();
            let mut failures = Vec::new();
            for w in wanted {
                let id = w.rsplit('/').next().unwrap_or(w);
                match inner.tasks.get(id) {
                    Some(t) => {
                        let mut task = json!({
                            "taskArn": t.arn,
                            "clusterArn": inner.cluster_arn,
                            "lastStatus": t.last_status,
                            "desiredStatus": t.desired_status,
                            "launchType": "FARGATE",
                        });
                        if with_tags {
                            task["tags"] = t
                                .tags
                                .iter()
                                .map(|(k, v)| json!({"key": k, "value": v}))
                                .collect();
                        }
                        tasks.push(task);
                    }
                    None => failures.push(json!({"arn": w, "reason": "MISSING"})),
                }
            }
            json!({"tasks": tasks, "failures": failures})
        }
        other => {
            shared.other_calls.fetch_add(1, Ordering::SeqCst);
            return error(
                StatusCode::BAD_REQUEST,
                "UnknownOperationException",
                &format!("operation {other:?} is not served by the fake"),
            );
        }
    };
    (
        StatusCode::OK,
        [("content-type", "application/x-amz-json-1.1")],
        answer.to_string(),
    )
        .into_response()
}
