//! An emulator of the ECS task metadata endpoint v4 (docs/protocols.md §1), scriptable from Rust
//! and over HTTP.
//!
//! [`EcsMetadataEmulator::start`] serves a task document on `127.0.0.1` from its own thread
//! and tokio runtime, so it works from a plain `#[test]` as well as from `#[tokio::test]`,
//! and dropping it stops the server in either context. Point the code under test at
//! [`EcsMetadataEmulator::uri`] through `ECS_CONTAINER_METADATA_URI_V4`.
//!
//! # Metadata paths (what ECS serves)
//!
//! | request | answer |
//! |---|---|
//! | `GET /v4/<id>/task` | the task document (as set, with scripted changes) |
//! | `GET /v4/<id>/taskWithTags` | the same plus empty `TaskTags` / `ContainerInstanceTags` |
//! | `GET /v4/<id>` | the first element of `Containers` (the "calling container") |
//! | `GET /v4/<id>-<name>` (and `/task`, …) | the container `name`: see [`EcsMetadataEmulator::uri_for`] |
//!
//! Any other path, or an unknown `<id>`, gets 404. Every request to a non-control path is
//! logged (arrival [`Instant`], method, path, status) and counted, and is subject to the
//! injected faults: [`EcsMetadataEmulator::fail_next`] answers the next `n` requests with a
//! status and a text body; [`EcsMetadataEmulator::set_delay`] holds every answer back.
//!
//! # Control API (for shell scripts; not counted, never faulted)
//!
//! | request | body | effect |
//! |---|---|---|
//! | `GET /_control/uri` | | `{"uri": "http://127.0.0.1:P/v4/<id>"}` |
//! | `GET /_control/task` | | the current task document |
//! | `PUT /_control/task` | task JSON | replace the task document |
//! | `PUT /_control/containers/<name>/health` | `{"status":"UNHEALTHY"}` | set `Health` (`HEALTHY`, `UNHEALTHY`, `UNKNOWN`) |
//! | `PUT /_control/containers/<name>/status` | `{"desired":"STOPPED","known":"STOPPED"}` | set `DesiredStatus` / `KnownStatus`; optional `"exitCode": n` |
//! | `POST /_control/containers/<name>/stop` | | both statuses `STOPPED`, `ExitCode` 0 |
//! | `DELETE /_control/containers/<name>` | | remove the container from `Containers` |
//! | `POST /_control/fail` | `{"count":3,"status":500}` | fail the next `count` metadata requests |
//! | `PUT /_control/delay` | `{"millis":250}` | delay every metadata answer |
//! | `GET /_control/requests` | | `[{"atMillis":12,"method":"GET","path":"/v4/<id>/task","status":200}]` (ms since start) |
//! | `DELETE /_control/requests` | | clear the request log |
//! | `POST /_control/shutdown` | | stop the server ([`EcsMetadataEmulator::wait`] returns) |
//!
//! An unknown container name gets 404 with `{"error": "..."}`; a malformed body gets 4xx.
//!
//! Realistic task documents come from [`fargate_task`] and [`ec2_task`].

mod tasks;

pub use tasks::{
    ec2_task, fargate_task, ACCOUNT_ID, CLUSTER_NAME, EC2_NODE_IP, EC2_REGION, FARGATE_NODE_IP,
    FARGATE_REGION, PAUSE_CONTAINER_NAME,
};

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Path, State as AxumState};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};

pub use crate::http_server::RecordedRequest;
use crate::http_server::ServerThread;
use serde::Deserialize;
use serde_json::{json, Value};

/// A running task metadata endpoint; stops when dropped.
pub struct EcsMetadataEmulator {
    shared: Arc<Shared>,
    server: ServerThread,
}

/// What the server and the handle share.
struct Shared {
    addr: SocketAddr,
    /// The container-specific id in `/v4/<id>`.
    id: String,
    started: Instant,
    state: Mutex<State>,
    /// Lets `POST /_control/shutdown` stop the server.
    stop: tokio::sync::Notify,
}

struct State {
    task: Value,
    fail_remaining: u32,
    fail_status: u16,
    delay: Duration,
    requests: Vec<RecordedRequest>,
}

impl Shared {
    /// A poisoned lock only means a scripted call panicked mid-test; the state is still
    /// plain JSON, so keep serving rather than cascade panics into the server.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn uri(&self) -> String {
        format!("http://{}/v4/{}", self.addr, self.id)
    }
}

impl EcsMetadataEmulator {
    /// Starts serving `task` on an ephemeral port of 127.0.0.1. Panics if it cannot.
    pub fn start(task: Value) -> EcsMetadataEmulator {
        Self::start_on(0, task)
    }

    /// Starts serving `task` on `127.0.0.1:port` (0 = ephemeral). Panics if it cannot.
    pub fn start_on(port: u16, task: Value) -> EcsMetadataEmulator {
        Self::try_start_on(port, task)
            .unwrap_or_else(|e| panic!("start the ECS metadata emulator on 127.0.0.1:{port}: {e}"))
    }

    /// Like [`EcsMetadataEmulator::start_on`], but reports a bind failure instead of
    /// panicking (for the emulator binary).
    pub fn try_start_on(port: u16, task: Value) -> std::io::Result<EcsMetadataEmulator> {
        // Bind here, synchronously, so the port is listening when this returns and a bind
        // error reaches the caller.
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            addr,
            id: uuid::Uuid::new_v4().simple().to_string(),
            started: Instant::now(),
            state: Mutex::new(State {
                task,
                fail_remaining: 0,
                fail_status: 500,
                delay: Duration::ZERO,
                requests: Vec::new(),
            }),
            stop: tokio::sync::Notify::new(),
        });
        let app = router(shared.clone());
        let stopper = shared.clone();
        let server = ServerThread::serve("ecs-metadata-emulator", listener, app, async move {
            stopper.stop.notified().await
        })?;
        Ok(EcsMetadataEmulator { shared, server })
    }

    /// The value for `ECS_CONTAINER_METADATA_URI_V4`: `http://127.0.0.1:P/v4/<id>`.
    pub fn uri(&self) -> String {
        self.shared.uri()
    }

    /// The value of `ECS_CONTAINER_METADATA_URI_V4` as the container `name` would see it:
    /// `/task` is the same, and `GET` of the URI itself returns that container (404 once it
    /// is no longer listed).
    pub fn uri_for(&self, name: &str) -> String {
        format!("{}-{name}", self.shared.uri())
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// Blocks until the server stops (`POST /_control/shutdown`); for the emulator binary.
    pub fn wait(self) {
        self.server.wait()
    }

    /// A copy of the current task document.
    pub fn task(&self) -> Value {
        self.shared.lock().task.clone()
    }

    /// Replaces the task document.
    pub fn set_task(&self, task: Value) {
        self.shared.lock().task = task;
    }

    /// Sets a container's `Health` to `status` (`HEALTHY`, `UNHEALTHY` or `UNKNOWN`).
    /// Panics if the task has no container `name`.
    pub fn set_container_health(&self, name: &str, status: &str) {
        let mut state = self.shared.lock();
        must(set_health(&mut state.task, name, status));
    }

    /// Sets a container's `DesiredStatus` and `KnownStatus`. Panics if there is no such
    /// container.
    pub fn set_container_status(&self, name: &str, desired: &str, known: &str) {
        let mut state = self.shared.lock();
        must(set_status(&mut state.task, name, desired, known, None));
    }

    /// Marks a container as exited: both statuses `STOPPED`, `ExitCode` 0. Panics if there
    /// is no such container.
    pub fn stop_container(&self, name: &str) {
        let mut state = self.shared.lock();
        must(set_status(
            &mut state.task,
            name,
            "STOPPED",
            "STOPPED",
            Some(0),
        ));
    }

    /// Removes a container from `Containers`. Panics if there is no such container.
    pub fn remove_container(&self, name: &str) {
        let mut state = self.shared.lock();
        must(remove(&mut state.task, name));
    }

    /// Answers the next `count` metadata requests with `status` and a text body.
    pub fn fail_next(&self, count: u32, status: u16) {
        let mut state = self.shared.lock();
        state.fail_remaining = count;
        state.fail_status = status;
    }

    /// Holds every metadata answer back by `delay` (zero turns it off).
    pub fn set_delay(&self, delay: Duration) {
        self.shared.lock().delay = delay;
    }

    /// How many metadata requests arrived so far.
    pub fn request_count(&self) -> usize {
        self.shared.lock().requests.len()
    }

    /// The metadata requests so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Clears the request log (and so the count).
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// The request log as readable lines, for a failing test's diagnostics.
    pub fn request_log(&self) -> String {
        let started = self.shared.started;
        self.requests()
            .iter()
            .map(|r| {
                format!(
                    "+{:>6}ms {} {} -> {}\n",
                    r.at.saturating_duration_since(started).as_millis(),
                    r.method,
                    r.path,
                    r.status
                )
            })
            .collect()
    }
}

impl std::fmt::Debug for EcsMetadataEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcsMetadataEmulator")
            .field("uri", &self.uri())
            .finish_non_exhaustive()
    }
}

fn must(result: Result<(), String>) {
    if let Err(e) = result {
        panic!("ECS metadata emulator: {e}");
    }
}

fn container_mut<'a>(
    task: &'a mut Value,
    name: &str,
) -> Result<&'a mut serde_json::Map<String, Value>, String> {
    task.get_mut("Containers")
        .and_then(Value::as_array_mut)
        .and_then(|cs| {
            cs.iter_mut()
                .filter_map(Value::as_object_mut)
                .find(|c| c.get("Name").and_then(Value::as_str) == Some(name))
        })
        .ok_or_else(|| format!("the task has no container named {name:?}"))
}

fn set_health(task: &mut Value, name: &str, status: &str) -> Result<(), String> {
    let container = container_mut(task, name)?;
    let unchanged = container
        .get("Health")
        .and_then(|h| h.get("status"))
        .and_then(Value::as_str)
        == Some(status);
    // ECS moves statusSince only when the status changes.
    if !unchanged {
        container.insert(
            "Health".into(),
            json!({"status": status, "statusSince": now_rfc3339()}),
        );
    }
    Ok(())
}

fn set_status(
    task: &mut Value,
    name: &str,
    desired: &str,
    known: &str,
    exit_code: Option<i64>,
) -> Result<(), String> {
    let container = container_mut(task, name)?;
    container.insert("DesiredStatus".into(), json!(desired));
    container.insert("KnownStatus".into(), json!(known));
    if let Some(code) = exit_code {
        container.insert("ExitCode".into(), json!(code));
        container.insert("FinishedAt".into(), json!(now_rfc3339()));
    }
    Ok(())
}

fn remove(task: &mut Value, name: &str) -> Result<(), String> {
    let containers = task
        .get_mut("Containers")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| format!("the task has no container named {name:?}"))?;
    let before = containers.len();
    containers.retain(|c| c.get("Name").and_then(Value::as_str) != Some(name));
    if containers.len() == before {
        return Err(format!("the task has no container named {name:?}"));
    }
    Ok(())
}

/// Now as RFC 3339 UTC with milliseconds, like the agent's timestamps.
fn now_rfc3339() -> String {
    crate::time::rfc3339_millis(SystemTime::now())
}

type Ctx = AxumState<Arc<Shared>>;

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v4/{id}", get(metadata_container))
        .route("/v4/{id}/task", get(metadata_task))
        .route("/v4/{id}/taskWithTags", get(metadata_task_with_tags))
        .route("/_control/uri", get(control_uri))
        .route(
            "/_control/task",
            get(control_get_task).put(control_put_task),
        )
        .route("/_control/containers/{name}/health", put(control_health))
        .route("/_control/containers/{name}/status", put(control_status))
        .route("/_control/containers/{name}/stop", post(control_stop))
        .route(
            "/_control/containers/{name}",
            axum::routing::delete(control_remove),
        )
        .route("/_control/fail", post(control_fail))
        .route("/_control/delay", put(control_delay))
        .route(
            "/_control/requests",
            get(control_requests).delete(control_clear_requests),
        )
        .route("/_control/shutdown", post(control_shutdown))
        .fallback(metadata_unknown)
        .with_state(shared)
}

/// Whose URI a metadata request used: the emulator's own (`/v4/<id>`, standing for the
/// first listed container) or a named container's (`/v4/<id>-<name>`, see `uri_for`).
enum Caller<'a> {
    First,
    Named(&'a str),
}

impl Shared {
    fn caller<'a>(&self, id: &'a str) -> Option<Caller<'a>> {
        if id == self.id {
            return Some(Caller::First);
        }
        id.strip_prefix(self.id.as_str())
            .and_then(|rest| rest.strip_prefix('-'))
            .filter(|name| !name.is_empty())
            .map(Caller::Named)
    }
}

/// Which metadata document a request asks for.
enum Doc {
    Task,
    TaskWithTags,
    Container,
    Unknown,
}

/// Logs the request, applies faults and the delay, and answers.
async fn serve_metadata(
    shared: Arc<Shared>,
    method: Method,
    path: String,
    id: Option<String>,
    doc: Doc,
) -> Response {
    let (status, body, delay) = {
        let mut state = shared.lock();
        let (status, body) = if state.fail_remaining > 0 {
            state.fail_remaining -= 1;
            let status = StatusCode::from_u16(state.fail_status)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (
                status,
                Body::Text(format!("injected failure: HTTP {}", status.as_u16())),
            )
        } else if matches!(doc, Doc::Unknown) {
            (
                StatusCode::NOT_FOUND,
                Body::Text(format!("no metadata at {path}")),
            )
        } else if let Some(caller) = id.as_deref().and_then(|id| shared.caller(id)) {
            match doc {
                Doc::Task => (StatusCode::OK, Body::Json(state.task.clone())),
                Doc::TaskWithTags => {
                    let mut task = state.task.clone();
                    if let Some(obj) = task.as_object_mut() {
                        obj.entry("TaskTags").or_insert_with(|| json!({}));
                        obj.entry("ContainerInstanceTags")
                            .or_insert_with(|| json!({}));
                    }
                    (StatusCode::OK, Body::Json(task))
                }
                Doc::Container => {
                    let containers = state.task.get("Containers").and_then(Value::as_array);
                    let found = containers.and_then(|cs| match caller {
                        Caller::First => cs.first(),
                        Caller::Named(name) => cs
                            .iter()
                            .find(|c| c.get("Name").and_then(Value::as_str) == Some(name)),
                    });
                    match found {
                        Some(container) => (StatusCode::OK, Body::Json(container.clone())),
                        None => (
                            StatusCode::NOT_FOUND,
                            Body::Text("the calling container is not in the task".into()),
                        ),
                    }
                }
                Doc::Unknown => unreachable!("handled above"),
            }
        } else {
            (
                StatusCode::NOT_FOUND,
                Body::Text(format!("no metadata at {path}: unknown container id")),
            )
        };
        state.requests.push(RecordedRequest::now(
            method.as_str(),
            &path,
            "",
            status.as_u16(),
            false,
        ));
        (status, body, state.delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match body {
        Body::Json(value) => (status, Json(value)).into_response(),
        Body::Text(text) => (status, text).into_response(),
    }
}

enum Body {
    Json(Value),
    Text(String),
}

async fn metadata_task(
    AxumState(s): Ctx,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    serve_metadata(s, method, uri.path().to_string(), Some(id), Doc::Task).await
}

async fn metadata_task_with_tags(
    AxumState(s): Ctx,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    serve_metadata(
        s,
        method,
        uri.path().to_string(),
        Some(id),
        Doc::TaskWithTags,
    )
    .await
}

async fn metadata_container(
    AxumState(s): Ctx,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    serve_metadata(s, method, uri.path().to_string(), Some(id), Doc::Container).await
}

async fn metadata_unknown(AxumState(s): Ctx, method: Method, uri: Uri) -> Response {
    let path = uri.path().to_string();
    if path.starts_with("/_control/") {
        return control_error(
            StatusCode::NOT_FOUND,
            format!("no control endpoint {method} {path}"),
        );
    }
    serve_metadata(s, method, path, None, Doc::Unknown).await
}

fn control_error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn control_result(result: Result<(), String>) -> Response {
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => control_error(StatusCode::NOT_FOUND, e),
    }
}

async fn control_uri(AxumState(s): Ctx) -> Response {
    Json(json!({ "uri": s.uri() })).into_response()
}

async fn control_get_task(AxumState(s): Ctx) -> Response {
    Json(s.lock().task.clone()).into_response()
}

async fn control_put_task(AxumState(s): Ctx, Json(task): Json<Value>) -> Response {
    s.lock().task = task;
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct HealthBody {
    status: String,
}

async fn control_health(
    AxumState(s): Ctx,
    Path(name): Path<String>,
    Json(body): Json<HealthBody>,
) -> Response {
    if !matches!(body.status.as_str(), "HEALTHY" | "UNHEALTHY" | "UNKNOWN") {
        return control_error(
            StatusCode::BAD_REQUEST,
            format!(
                "status {:?} is not HEALTHY, UNHEALTHY or UNKNOWN",
                body.status
            ),
        );
    }
    control_result(set_health(&mut s.lock().task, &name, &body.status))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusBody {
    desired: String,
    known: String,
    #[serde(default)]
    exit_code: Option<i64>,
}

async fn control_status(
    AxumState(s): Ctx,
    Path(name): Path<String>,
    Json(body): Json<StatusBody>,
) -> Response {
    control_result(set_status(
        &mut s.lock().task,
        &name,
        &body.desired,
        &body.known,
        body.exit_code,
    ))
}

async fn control_stop(AxumState(s): Ctx, Path(name): Path<String>) -> Response {
    control_result(set_status(
        &mut s.lock().task,
        &name,
        "STOPPED",
        "STOPPED",
        Some(0),
    ))
}

async fn control_remove(AxumState(s): Ctx, Path(name): Path<String>) -> Response {
    control_result(remove(&mut s.lock().task, &name))
}

#[derive(Deserialize)]
struct FailBody {
    count: u32,
    #[serde(default = "default_fail_status")]
    status: u16,
}

fn default_fail_status() -> u16 {
    500
}

async fn control_fail(AxumState(s): Ctx, Json(body): Json<FailBody>) -> Response {
    if StatusCode::from_u16(body.status).is_err() {
        return control_error(
            StatusCode::BAD_REQUEST,
            format!("{} is not an HTTP status", body.status),
        );
    }
    let mut state = s.lock();
    state.fail_remaining = body.count;
    state.fail_status = body.status;
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct DelayBody {
    millis: u64,
}

async fn control_delay(AxumState(s): Ctx, Json(body): Json<DelayBody>) -> Response {
    s.lock().delay = Duration::from_millis(body.millis);
    StatusCode::NO_CONTENT.into_response()
}

async fn control_requests(AxumState(s): Ctx) -> Response {
    let started = s.started;
    let log: Vec<Value> = s
        .lock()
        .requests
        .iter()
        .map(|r| {
            json!({
                "atMillis": r.at.saturating_duration_since(started).as_millis() as u64,
                "method": r.method,
                "path": r.path,
                "status": r.status,
            })
        })
        .collect();
    Json(Value::Array(log)).into_response()
}

async fn control_clear_requests(AxumState(s): Ctx) -> Response {
    s.lock().requests.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn control_shutdown(AxumState(s): Ctx) -> Response {
    // notify_one stores a permit, so the server loop sees it even if it is not waiting yet.
    s.stop.notify_one();
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let now = now_rfc3339();
        let re =
            regex::Regex::new(r"^20\d\d-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d\.\d{3}Z$").unwrap();
        assert!(re.is_match(&now), "{now}");
    }
}
