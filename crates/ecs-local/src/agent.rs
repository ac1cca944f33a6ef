//! The ECS agent's side of one task run by a local container engine (docker compose,
//! podman-compose): task metadata v4 that tells the truth, built from the engine's own API,
//! and optionally a task role's credentials.
//!
//! AWS's own `amazon-ecs-local-container-endpoints` reports every container of the project
//! as `RUNNING`, with Docker names and no health (/work/shared/PACKAGING.md §7 facts, kept in
//! docker/README.md), so neither health-sync nor envoy-entrypoint's wait can work against it.
//! This one asks the engine (`GET /containers/json`, `GET /containers/<id>/json`) on every
//! request (answers are reused for [`LocalAgentOptions::cache_for`]) and maps what it says
//! as [`crate::task`] describes: compose service names as ECS container names, real statuses, exit
//! codes and health.
//!
//! # What it serves
//!
//! | request | answer |
//! |---|---|
//! | `GET /v4/<id>/task` | the task (any `<id>`: one task per compose project) |
//! | `GET /v4/<id>/taskWithTags` | the same plus empty `TaskTags` / `ContainerInstanceTags` |
//! | `GET /v4/<name>` | the task's container `<name>` (ECS answers the calling container; here the URI names it) |
//! | `GET /creds` | the task role's credentials, as ECS's container credentials endpoint (with `--task-role-service`) |
//!
//! The task is every container of the compose project labelled [`TASK_ARN_LABEL`];
//! the project is `--project`, or the one of the container this runs in (found through
//! `HOSTNAME`). On SIGTERM it reports the task as stopping (every `DesiredStatus`
//! `STOPPED`, as ECS does once a task is told to stop) and keeps serving until every task
//! container has stopped, like the ECS agent, which outlives its tasks.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::engine::{Engine, EngineAddr, EngineError};
use crate::moto::{MotoError, TaskRole};
use crate::task::{network_owner, task_document, TaskError, COMPOSE_PROJECT_LABEL, TASK_ARN_LABEL};

/// The port the compose file uses (that of amazon-ecs-local-container-endpoints).
pub const DEFAULT_PORT: u16 = 51679;

/// How to run the local agent.
#[derive(Debug, Clone)]
pub struct LocalAgentOptions {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The engine's API.
    pub engine: EngineAddr,
    /// The compose project (None: the project of the container this runs in).
    pub project: Option<String>,
    /// Serve a task role's credentials at `/creds`.
    pub task_role: Option<TaskRoleOptions>,
    /// How long to keep serving after SIGTERM while task containers still run.
    pub linger_max: Duration,
    /// How long one look at the engine is reused.
    pub cache_for: Duration,
}

/// A task role made in moto at start-up ([`crate::moto::provision`]).
#[derive(Debug, Clone)]
pub struct TaskRoleOptions {
    /// moto's URL (IAM and STS).
    pub aws_endpoint: String,
    /// The service the role is tagged with (`consul.hashicorp.com.service-name`).
    pub service: String,
}

/// Why the agent could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Neither `--project` nor a hostname to find this container's project by.
    #[error("no HOSTNAME to find this container by: pass --project")]
    NoHostname,
    /// This container is not part of a compose project.
    #[error("container {host} has no {COMPOSE_PROJECT_LABEL} label: pass --project")]
    NoProjectLabel {
        /// This container's hostname.
        host: String,
    },
    /// The engine does not know this container.
    #[error("the engine knows no container {host:?} (this one's hostname): pass --project")]
    UnknownContainer {
        /// This container's hostname.
        host: String,
    },
    /// The engine did not answer while the project was looked up.
    #[error("find this container's compose project: {0}")]
    Discover(#[source] EngineError),
    /// The listen address is taken or not allowed.
    #[error("bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("serve: {0}")]
    Serve(#[source] std::io::Error),
    /// The HTTP server's task panicked.
    #[error("server task: {0}")]
    ServerTask(#[source] tokio::task::JoinError),
}

/// Why one look at the engine gave no task document (answered as a 500).
#[derive(Debug, thiserror::Error)]
enum LookError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Task(#[from] TaskError),
}

/// Why the task role could not be set up (answered at `/creds` as a 500).
#[derive(Debug, thiserror::Error)]
enum RoleError {
    #[error("moto at {endpoint} did not answer within {waited:?} (last: {last})")]
    MotoDown {
        endpoint: String,
        waited: Duration,
        last: String,
    },
    #[error("setting the task role up in moto failed: {0}")]
    Provision(#[source] MotoError),
}

/// How long to wait for moto to answer before the task role is given up.
const MOTO_WAIT: Duration = Duration::from_secs(180);

/// One look at the engine: the task document, or why there is none (shared by the
/// requests that wait for the same look).
type Answer = Result<Value, Arc<LookError>>;

struct Shared {
    engine: Engine,
    project: String,
    stopping: AtomicBool,
    cache_for: Duration,
    /// The last look at the engine; the async lock also makes concurrent requests share one.
    cache: tokio::sync::Mutex<Option<(Instant, Answer)>>,
    /// The last summary or error logged, to log changes only.
    last_logged: Mutex<String>,
    role: Mutex<RoleState>,
}

enum RoleState {
    None,
    Pending,
    Ready(Box<TaskRole>),
    Failed(Arc<RoleError>),
}

/// Runs the agent until `stop` completes, then until every task container has stopped (or
/// [`LocalAgentOptions::linger_max`] passed). Logs through `tracing`.
pub async fn run(
    opts: LocalAgentOptions,
    stop: impl Future<Output = ()>,
) -> Result<(), AgentError> {
    let engine = Engine::new(opts.engine.clone());
    let project = match &opts.project {
        Some(p) => p.clone(),
        None => discover_project(&engine).await?,
    };
    let shared = Arc::new(Shared {
        engine,
        project,
        stopping: AtomicBool::new(false),
        cache_for: opts.cache_for,
        cache: tokio::sync::Mutex::new(None),
        last_logged: Mutex::new(String::new()),
        role: Mutex::new(if opts.task_role.is_some() {
            RoleState::Pending
        } else {
            RoleState::None
        }),
    });
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| AgentError::Bind {
            addr: opts.listen,
            source,
        })?;
    tracing::info!(
        "serving task metadata of compose project {:?} (containers labelled {TASK_ARN_LABEL}) from {} at http://{}/v4/<id>/task",
        shared.project,
        shared.engine.addr(),
        opts.listen
    );
    if let Some(role) = opts.task_role.clone() {
        let shared = shared.clone();
        tokio::spawn(async move {
            let state = match provision_role(&role).await {
                Ok(r) => {
                    tracing::info!(
                        "task role {} assumed (session {}); credentials at /creds",
                        r.arn,
                        r.session_name
                    );
                    RoleState::Ready(Box::new(r))
                }
                Err(e) => {
                    tracing::error!("task role: {}", boundary::error_chain(&e));
                    RoleState::Failed(Arc::new(e))
                }
            };
            *lock(&shared.role) = state;
        });
    }

    let done = Arc::new(tokio::sync::Notify::new());
    let app = router(shared.clone());
    let server = {
        let done = done.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { done.notified().await })
                .await
        })
    };
    // Log the task as it changes even while nobody asks.
    let watcher = {
        let shared = shared.clone();
        tokio::spawn(async move {
            loop {
                let _ = current(&shared).await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };

    stop.await;
    shared.stopping.store(true, Ordering::SeqCst);
    *shared.cache.lock().await = None;
    tracing::info!(
        "stop requested: the task is stopping; serving until its containers have stopped (at most {:?})",
        opts.linger_max
    );
    let deadline = Instant::now() + opts.linger_max;
    loop {
        match running_task_containers(&shared).await {
            Ok(running) if running.is_empty() => {
                tracing::info!("every task container has stopped");
                break;
            }
            Ok(running) if Instant::now() >= deadline => {
                tracing::warn!("giving up waiting for {}", running.join(", "));
                break;
            }
            Err(e) if Instant::now() >= deadline => {
                tracing::warn!("giving up waiting: {e}");
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
    // One last look, so the log ends with the final state.
    *shared.cache.lock().await = None;
    let _ = current(&shared).await;
    watcher.abort();
    done.notify_one();
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(Ok(Ok(()))) | Err(_) => Ok(()),
        Ok(Ok(Err(e))) => Err(AgentError::Serve(e)),
        Ok(Err(e)) => Err(AgentError::ServerTask(e)),
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v4/{id}/task", get(get_task))
        .route("/v4/{id}/taskWithTags", get(get_task_with_tags))
        .route("/v4/{id}", get(get_container))
        .route("/creds", get(get_creds))
        .with_state(shared)
}

async fn get_task(State(shared): State<Arc<Shared>>) -> Response {
    match current(&shared).await {
        Ok(task) => Json(task).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn get_task_with_tags(State(shared): State<Arc<Shared>>) -> Response {
    match current(&shared).await {
        Ok(mut task) => {
            task["TaskTags"] = json!({});
            task["ContainerInstanceTags"] = json!({});
            Json(task).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn get_container(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match current(&shared).await {
        Ok(task) => match task["Containers"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["Name"] == id.as_str()))
        {
            Some(c) => Json(c.clone()).into_response(),
            None => error(
                StatusCode::NOT_FOUND,
                &format!(
                    "no task container named {id:?}: the container path is /v4/<container name>"
                ),
            ),
        },
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn get_creds(State(shared): State<Arc<Shared>>) -> Response {
    match &*lock(&shared.role) {
        RoleState::Ready(role) => Json(json!({
            "AccessKeyId": role.access_key_id,
            "Expiration": role.expiration,
            "RoleArn": role.arn,
            "SecretAccessKey": role.secret_access_key,
            "Token": role.session_token,
        }))
        .into_response(),
        RoleState::Pending => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the task role is still being set up in moto",
        ),
        RoleState::Failed(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &boundary::error_chain(e.as_ref()),
        ),
        RoleState::None => error(
            StatusCode::NOT_FOUND,
            "this task has no task role (start with --task-role-service)",
        ),
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// The task document, fresh or from the last look younger than `cache_for`.
async fn current(shared: &Shared) -> Answer {
    let mut cache = shared.cache.lock().await;
    if let Some((at, answer)) = &*cache {
        if at.elapsed() < shared.cache_for {
            return answer.clone();
        }
    }
    let answer = look(shared).await.map_err(Arc::new);
    let line = match &answer {
        Ok(task) => format!("task: {}", crate::task::summary(task)),
        Err(e) => format!("error: {e}"),
    };
    {
        let mut last = lock(&shared.last_logged);
        if *last != line {
            match &answer {
                Ok(_) => tracing::info!("{line}"),
                Err(_) => tracing::warn!("{line}"),
            }
            *last = line;
        }
    }
    *cache = Some((Instant::now(), answer.clone()));
    answer
}

/// One look at the engine: the task's containers and the owners of their network namespace.
async fn look(shared: &Shared) -> Result<Value, LookError> {
    let stopping = shared.stopping.load(Ordering::SeqCst);
    let inspects = task_containers(shared).await?;
    let mut owners: HashMap<String, Value> = HashMap::new();
    for c in &inspects {
        if let Some(owner) = network_owner(c) {
            let known = owners
                .keys()
                .any(|id| id.starts_with(owner) || owner.starts_with(id.as_str()));
            if !known {
                match shared.engine.inspect(owner).await {
                    Ok(o) => {
                        let id = o["Id"].as_str().unwrap_or(owner).to_string();
                        owners.insert(id, o);
                    }
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Ok(task_document(&inspects, &owners, stopping)?)
}

/// Inspect answers of the project's task containers (a container removed meanwhile is
/// skipped).
async fn task_containers(shared: &Shared) -> Result<Vec<Value>, EngineError> {
    let labels = [
        format!("{COMPOSE_PROJECT_LABEL}={}", shared.project),
        TASK_ARN_LABEL.to_string(),
    ];
    let listed = shared.engine.list_containers(&labels).await?;
    let mut inspects = Vec::with_capacity(listed.len());
    for item in listed {
        let Some(id) = item["Id"].as_str() else {
            continue;
        };
        match shared.engine.inspect(id).await {
            Ok(c) => inspects.push(c),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    // The engine filtered already; check again rather than trust every engine's filters.
    inspects.retain(|c| {
        let labels = &c["Config"]["Labels"];
        labels[COMPOSE_PROJECT_LABEL] == shared.project.as_str()
            && labels[TASK_ARN_LABEL]
                .as_str()
                .is_some_and(|v| !v.is_empty())
    });
    Ok(inspects)
}

/// Names of the task containers still running (for the wait after SIGTERM).
async fn running_task_containers(shared: &Shared) -> Result<Vec<String>, EngineError> {
    Ok(task_containers(shared)
        .await?
        .iter()
        .filter(|c| {
            matches!(
                c["State"]["Status"].as_str(),
                Some("running" | "paused" | "restarting" | "stopping")
            )
        })
        .map(|c| {
            c["Name"]
                .as_str()
                .unwrap_or("?")
                .trim_start_matches('/')
                .to_string()
        })
        .collect())
}

/// The compose project of the container this process runs in: `HOSTNAME` is its short ID
/// in Docker and podman unless the compose file sets a hostname. The engine may be starting
/// still: its transport errors are retried for a few seconds.
async fn discover_project(engine: &Engine) -> Result<String, AgentError> {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .ok_or(AgentError::NoHostname)?;
    let policy = retry::RetryPolicy::default().with_deadline(Duration::from_secs(10));
    let me = retry::retry_if(
        &policy,
        "inspect this container",
        |e: &EngineError| !e.is_not_found(),
        || engine.inspect(&host),
    )
    .await
    .map_err(|e| match e.into_inner() {
        e if e.is_not_found() => AgentError::UnknownContainer { host: host.clone() },
        e => AgentError::Discover(e),
    })?;
    me["Config"]["Labels"][COMPOSE_PROJECT_LABEL]
        .as_str()
        .map(str::to_string)
        .ok_or(AgentError::NoProjectLabel { host })
}

/// Waits for moto (its own API, which does not use up the unauthenticated actions), then
/// makes and assumes the task role in it.
async fn provision_role(opts: &TaskRoleOptions) -> Result<TaskRole, RoleError> {
    let endpoint = opts.aws_endpoint.trim_end_matches('/').to_string();
    let probe = format!("{endpoint}/moto-api/data.json");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| RoleError::MotoDown {
            endpoint: endpoint.clone(),
            waited: Duration::ZERO,
            last: boundary::error_chain(&e),
        })?;
    let policy = retry::RetryPolicy::default().with_deadline(MOTO_WAIT);
    let probe_moto = || async {
        match client.get(&probe).send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("HTTP {}", r.status())),
            Err(e) => Err(boundary::error_chain(&e)),
        }
    };
    tracing::info!("waiting for moto at {endpoint}");
    retry::retry_if(&policy, "moto's API", |_: &String| true, probe_moto)
        .await
        .map_err(|e| RoleError::MotoDown {
            endpoint: endpoint.clone(),
            waited: e.elapsed,
            last: e.into_inner(),
        })?;
    crate::moto::provision(&endpoint, &opts.service)
        .await
        .map(|(_admin, role)| role)
        .map_err(RoleError::Provision)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake engine on a unix socket: answers the list and inspect calls from `containers`
    /// (full inspect documents), which the test may change.
    struct FakeEngine {
        socket: std::path::PathBuf,
        containers: Arc<Mutex<Vec<Value>>>,
        _dir: tempfile::TempDir,
    }

    impl FakeEngine {
        fn start(containers: Vec<Value>) -> FakeEngine {
            let dir = tempfile::tempdir().unwrap();
            let socket = dir.path().join("engine.sock");
            let containers = Arc::new(Mutex::new(containers));
            let listener = tokio::net::UnixListener::bind(&socket).unwrap();
            let state = containers.clone();
            let app = Router::new()
                .route(
                    "/containers/json",
                    get(|State(s): State<Arc<Mutex<Vec<Value>>>>| async move {
                        Json(Value::Array(
                            lock(&s).iter().map(|c| json!({"Id": c["Id"]})).collect(),
                        ))
                    }),
                )
                .route(
                    "/containers/{id}/json",
                    get(
                        |State(s): State<Arc<Mutex<Vec<Value>>>>, Path(id): Path<String>| async move {
                            let found = lock(&s)
                                .iter()
                                .find(|c| c["Id"].as_str().is_some_and(|i| i.starts_with(&id)))
                                .cloned();
                            match found {
                                Some(c) => Json(c).into_response(),
                                None => (StatusCode::NOT_FOUND, Json(json!({"message": "no such container"})))
                                    .into_response(),
                            }
                        },
                    ),
                )
                .with_state(state);
            tokio::spawn(async move { axum::serve(listener, app).await });
            FakeEngine {
                socket,
                containers,
                _dir: dir,
            }
        }

        fn set_status(&self, id: &str, status: &str, code: i64) {
            for c in lock(&self.containers).iter_mut() {
                if c["Id"] == id {
                    c["State"]["Status"] = json!(status);
                    c["State"]["ExitCode"] = json!(code);
                }
            }
        }
    }

    fn container(id: &str, service: &str, status: &str) -> Value {
        json!({
            "Id": id,
            "Name": format!("/p_{service}_1"),
            "Config": {"Image": "img", "Labels": {
                COMPOSE_PROJECT_LABEL: "p",
                "com.docker.compose.service": service,
                TASK_ARN_LABEL: "arn:aws:ecs:us-east-1:123456789012:task/local/abc",
            }},
            "HostConfig": {"NetworkMode": "container:agent"},
            "State": {"Status": status, "ExitCode": 0},
        })
    }

    fn agent() -> Value {
        json!({
            "Id": "agent",
            "Config": {"Labels": {COMPOSE_PROJECT_LABEL: "p"}},
            "HostConfig": {"NetworkMode": "bridge"},
            "NetworkSettings": {"Networks": {"p_default": {"IPAddress": "10.89.0.2"}}},
            "State": {"Status": "running"},
        })
    }

    #[tokio::test]
    async fn serves_the_engines_view_and_lingers_after_stop_until_the_task_has_stopped() {
        let engine = FakeEngine::start(vec![
            agent(),
            container("app1", "app", "running"),
            container("side1", "sidecar-proxy", "running"),
        ]);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let opts = LocalAgentOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
            engine: EngineAddr::Unix(engine.socket.clone()),
            project: Some("p".into()),
            task_role: None,
            linger_max: Duration::from_secs(30),
            cache_for: Duration::ZERO,
        };
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let agent = tokio::spawn(run(opts, async move {
            let _ = stop_rx.await;
        }));
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let get = |path: &str| {
            let url = format!("{base}{path}");
            let client = client.clone();
            async move {
                for _ in 0..100 {
                    if let Ok(r) = client.get(&url).send().await {
                        let status = r.status().as_u16();
                        return (status, r.json::<Value>().await.unwrap());
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                panic!("{url} never answered");
            }
        };

        let (status, task) = get("/v4/anything/task").await;
        assert_eq!(status, 200, "{task:#}");
        assert_eq!(task["DesiredStatus"], "RUNNING");
        assert_eq!(
            task["Containers"].as_array().unwrap().len(),
            2,
            "the agent is not in the task: {task:#}"
        );
        let (status, app) = get("/v4/app").await;
        assert_eq!(status, 200);
        assert_eq!(app["Networks"][0]["IPv4Addresses"][0], "10.89.0.2");
        assert_eq!(get("/v4/nope").await.0, 404);
        assert_eq!(get("/creds").await.0, 404);
        let (status, tagged) = get("/v4/x/taskWithTags").await;
        assert_eq!((status, &tagged["TaskTags"]), (200, &json!({})));

        // SIGTERM: the task is stopping, and the agent stays while a container runs.
        stop_tx.send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        let (_, task) = get("/v4/x/task").await;
        assert_eq!(task["DesiredStatus"], "STOPPED");
        assert!(!agent.is_finished());
        engine.set_status("app1", "exited", 143);
        let (_, task) = get("/v4/x/task").await;
        let app = task["Containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["Name"] == "app")
            .unwrap()
            .clone();
        assert_eq!(
            (&app["KnownStatus"], &app["ExitCode"]),
            (&json!("STOPPED"), &json!(143))
        );
        assert!(!agent.is_finished(), "the sidecar still runs");
        engine.set_status("side1", "exited", 0);
        let result = tokio::time::timeout(Duration::from_secs(10), agent)
            .await
            .expect("the agent exits once the task has stopped")
            .unwrap();
        assert!(matches!(result, Ok(())), "{result:?}");
    }
}
