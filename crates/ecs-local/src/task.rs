//! The task metadata document (docs/protocols.md §1.2) built from what a container engine
//! reports about a compose project's containers (`GET /containers/<id>/json`). Pure.
//!
//! | metadata field | from the engine |
//! |---|---|
//! | task `Cluster`, `TaskARN`, `Family`, `Revision` | the labels [`TASK_ARN_LABEL`], [`CLUSTER_LABEL`], [`FAMILY_LABEL`], [`REVISION_LABEL`] of the task's containers (which must agree) |
//! | `Name` | label `com.amazonaws.ecs.container-name`, else the compose service (`com.docker.compose.service`), else the container name |
//! | `KnownStatus` | `State.Status`: `running`/`paused`/`restarting`/`stopping` → `RUNNING`; `exited`/`dead`/`removing`/`stopped` → `STOPPED`; `created`/`configured`/`initialized` → `CREATED`, or `STOPPED` once the task is stopping (ECS stops a container that never started with its task) |
//! | `DesiredStatus` | `STOPPED` once the container stopped or the task is stopping, else `RUNNING` |
//! | `ExitCode` | `State.ExitCode`, once the container ran and stopped |
//! | `Health` | `State.Health.Status` (`starting` → `UNKNOWN`, `healthy` → `HEALTHY`, `unhealthy` → `UNHEALTHY`), only for a container with a health check, with the last check's `exitCode` (when not 0) and `output` (when not empty); `statusSince` is left out (the engine does not say when the status changed) |
//! | `Networks` | one `awsvpc` network whose address is that of the container owning the network namespace (`HostConfig.NetworkMode` `container:<id>`), as every container of an awsvpc task reports the task ENI's address |
//! | `DockerId`, `DockerName`, `Image`, `ImageID`, `Labels`, `CreatedAt`, `StartedAt`, `FinishedAt`, `Type` (`NORMAL`) | `Id`, `Name`, `Config.Image`, `Image`, the `com.amazonaws.ecs.*` labels, `Created`, `State.StartedAt`, `State.FinishedAt` |

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};

/// The label that makes a container part of the task, with the task's ARN as value.
pub const TASK_ARN_LABEL: &str = "com.amazonaws.ecs.task-arn";
/// The task's cluster (ARN or name; default: the cluster ARN derived from the task ARN).
pub const CLUSTER_LABEL: &str = "com.amazonaws.ecs.cluster";
/// The task definition family (default: `local`).
pub const FAMILY_LABEL: &str = "com.amazonaws.ecs.task-definition-family";
/// The task definition revision (default: `1`).
pub const REVISION_LABEL: &str = "com.amazonaws.ecs.task-definition-version";
/// The ECS container name (default: the compose service name).
pub const CONTAINER_NAME_LABEL: &str = "com.amazonaws.ecs.container-name";
/// The compose service a container belongs to.
pub const COMPOSE_SERVICE_LABEL: &str = "com.docker.compose.service";
/// The compose project a container belongs to.
pub const COMPOSE_PROJECT_LABEL: &str = "com.docker.compose.project";

/// Why no task document could be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// No container carries [`TASK_ARN_LABEL`].
    #[error(
        "no container of the project is labelled {TASK_ARN_LABEL} (the task's containers need it)"
    )]
    NoContainers,
    /// The task's containers disagree on a task-level label.
    #[error(
        "the task's containers disagree on {label}: {values:?} (one task per compose project)"
    )]
    Disagree {
        /// The label.
        label: &'static str,
        /// The values seen.
        values: Vec<String>,
    },
    /// Two containers map to the same ECS container name.
    #[error("two containers are both named {0:?} in the task")]
    DuplicateName(String),
}

/// The `/task` document for `containers` (engine inspect answers of the task's containers;
/// others are ignored). `owners` holds the inspect answers of the containers whose network
/// namespace the task's containers join (may overlap `containers`). `stopping`: the task
/// has been told to stop.
pub fn task_document(
    containers: &[Value],
    owners: &HashMap<String, Value>,
    stopping: bool,
) -> Result<Value, TaskError> {
    let members: Vec<&Value> = containers
        .iter()
        .filter(|c| label(c, TASK_ARN_LABEL).is_some())
        .collect();
    if members.is_empty() {
        return Err(TaskError::NoContainers);
    }
    let task_arn = agreed(&members, TASK_ARN_LABEL)?.unwrap_or_default();
    let cluster = agreed(&members, CLUSTER_LABEL)?.unwrap_or_else(|| cluster_from_arn(&task_arn));
    let family = agreed(&members, FAMILY_LABEL)?.unwrap_or_else(|| "local".to_string());
    let revision = agreed(&members, REVISION_LABEL)?.unwrap_or_else(|| "1".to_string());

    let mut names = BTreeMap::new();
    let mut docs = Vec::new();
    for c in &members {
        let doc = container_document(c, owners, stopping);
        let name = doc["Name"].as_str().unwrap_or_default().to_string();
        if names.insert(name.clone(), ()).is_some() {
            return Err(TaskError::DuplicateName(name));
        }
        docs.push(doc);
    }
    let known: Vec<&str> = docs
        .iter()
        .map(|d| d["KnownStatus"].as_str().unwrap_or_default())
        .collect();
    let all_stopped = known.iter().all(|k| *k == "STOPPED");
    let task_known = if all_stopped {
        "STOPPED"
    } else if known.contains(&"RUNNING") {
        "RUNNING"
    } else {
        "PENDING"
    };
    let task_desired = if stopping || all_stopped {
        "STOPPED"
    } else {
        "RUNNING"
    };
    Ok(json!({
        "Cluster": cluster,
        "TaskARN": task_arn,
        "Family": family,
        "Revision": revision,
        "DesiredStatus": task_desired,
        "KnownStatus": task_known,
        "Containers": docs,
    }))
}

/// One `Containers[]` element.
pub fn container_document(c: &Value, owners: &HashMap<String, Value>, stopping: bool) -> Value {
    let state = &c["State"];
    let engine_status = state["Status"].as_str().unwrap_or_default();
    let ran_and_stopped = matches!(engine_status, "exited" | "dead" | "removing" | "stopped");
    let known = match engine_status {
        "running" | "paused" | "restarting" | "stopping" => "RUNNING",
        _ if ran_and_stopped => "STOPPED",
        "created" | "configured" | "initialized" if stopping => "STOPPED",
        "created" | "configured" | "initialized" => "CREATED",
        _ => "NONE",
    };
    let desired = if stopping || known == "STOPPED" {
        "STOPPED"
    } else {
        "RUNNING"
    };
    let docker_name = c["Name"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches('/');
    let name = label(c, CONTAINER_NAME_LABEL)
        .or_else(|| label(c, COMPOSE_SERVICE_LABEL))
        .unwrap_or(docker_name)
        .to_string();

    let mut doc = Map::new();
    doc.insert("DockerId".into(), c["Id"].clone());
    doc.insert("Name".into(), json!(name));
    doc.insert("DockerName".into(), json!(docker_name));
    doc.insert("Image".into(), c["Config"]["Image"].clone());
    doc.insert("ImageID".into(), c["Image"].clone());
    let mut labels: BTreeMap<String, Value> = c["Config"]["Labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.starts_with("com.amazonaws.ecs."))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    labels.insert(CONTAINER_NAME_LABEL.into(), json!(name));
    doc.insert("Labels".into(), json!(labels));
    doc.insert("DesiredStatus".into(), json!(desired));
    doc.insert("KnownStatus".into(), json!(known));
    if ran_and_stopped {
        doc.insert(
            "ExitCode".into(),
            json!(state["ExitCode"].as_i64().unwrap_or(0)),
        );
    }
    if let Some(t) = timestamp(&c["Created"]) {
        doc.insert("CreatedAt".into(), json!(t));
    }
    if let Some(t) = timestamp(&state["StartedAt"]) {
        doc.insert("StartedAt".into(), json!(t));
    }
    if ran_and_stopped {
        if let Some(t) = timestamp(&state["FinishedAt"]) {
            doc.insert("FinishedAt".into(), json!(t));
        }
    }
    doc.insert("Type".into(), json!("NORMAL"));
    if let Some(health) = health(state) {
        doc.insert("Health".into(), health);
    }
    if let Some(ip) = task_address(c, owners) {
        doc.insert(
            "Networks".into(),
            json!([{"NetworkMode": "awsvpc", "IPv4Addresses": [ip]}]),
        );
    }
    Value::Object(doc)
}

/// The ECS `Health` object, for a container with a health check.
fn health(state: &Value) -> Option<Value> {
    let h = &state["Health"];
    let status = match h["Status"].as_str()? {
        "starting" => "UNKNOWN",
        "healthy" => "HEALTHY",
        "unhealthy" => "UNHEALTHY",
        _ => return None, // "none" or "": no health check
    };
    let mut out = Map::new();
    out.insert("status".into(), json!(status));
    if let Some(last) = h["Log"].as_array().and_then(|log| log.last()) {
        let code = last["ExitCode"].as_i64().unwrap_or(0);
        if code != 0 {
            out.insert("exitCode".into(), json!(code));
        }
        let output = last["Output"].as_str().unwrap_or_default().trim_end();
        if !output.is_empty() {
            out.insert("output".into(), json!(output));
        }
    }
    Some(Value::Object(out))
}

/// The task's address: the container's own, or that of the container whose network
/// namespace it joined.
fn task_address(c: &Value, owners: &HashMap<String, Value>) -> Option<String> {
    if let Some(owner) = network_owner(c) {
        return owners
            .iter()
            .find(|(id, _)| id.starts_with(owner) || owner.starts_with(id.as_str()))
            .and_then(|(_, o)| own_address(o));
    }
    own_address(c)
}

/// The ID (or name) of the container whose network namespace `c` joined, if any.
pub fn network_owner(c: &Value) -> Option<&str> {
    c["HostConfig"]["NetworkMode"]
        .as_str()?
        .strip_prefix("container:")
        .filter(|id| !id.is_empty())
}

fn own_address(c: &Value) -> Option<String> {
    let settings = &c["NetworkSettings"];
    if let Some(ip) = settings["IPAddress"].as_str().filter(|ip| !ip.is_empty()) {
        return Some(ip.to_string());
    }
    let networks = settings["Networks"].as_object()?;
    // Sorted by network name, so the answer does not depend on the engine's map order.
    let mut names: Vec<&String> = networks.keys().collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|n| networks[n]["IPAddress"].as_str())
        .find(|ip| !ip.is_empty())
        .map(str::to_string)
}

/// An engine timestamp, unless it is the zero time (`0001-01-01T00:00:00Z`: never).
fn timestamp(v: &Value) -> Option<&str> {
    v.as_str()
        .filter(|t| !t.is_empty() && !t.starts_with("0001-"))
}

fn label<'a>(c: &'a Value, key: &str) -> Option<&'a str> {
    c["Config"]["Labels"][key]
        .as_str()
        .filter(|v| !v.is_empty())
}

/// The one value of a task-level label the members agree on (None when none has it).
fn agreed(members: &[&Value], key: &'static str) -> Result<Option<String>, TaskError> {
    let mut values: Vec<String> = members
        .iter()
        .filter_map(|c| label(c, key))
        .map(str::to_string)
        .collect();
    values.sort();
    values.dedup();
    match values.len() {
        0 => Ok(None),
        1 => Ok(values.pop()),
        _ => Err(TaskError::Disagree { label: key, values }),
    }
}

/// `arn:aws:ecs:r:a:task/<cluster>/<id>` → `arn:aws:ecs:r:a:cluster/<cluster>`
/// (docs/protocols.md §1.5); anything else is returned as it is.
fn cluster_from_arn(task_arn: &str) -> String {
    match task_arn.split_once(":task/") {
        Some((prefix, rest)) => match rest.rsplit_once('/') {
            Some((cluster, _id)) => format!("{prefix}:cluster/{cluster}"),
            None => task_arn.to_string(),
        },
        None => task_arn.to_string(),
    }
}

/// One line per container, sorted by name: `app RUNNING HEALTHY`, `mesh-init STOPPED(0)`.
/// For a log of what the task looks like as it changes.
pub fn summary(task: &Value) -> String {
    let mut lines: Vec<String> = task["Containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let mut s = format!(
                        "{} {}",
                        c["Name"].as_str().unwrap_or("?"),
                        c["KnownStatus"].as_str().unwrap_or("?")
                    );
                    if let Some(code) = c["ExitCode"].as_i64() {
                        s.push_str(&format!("({code})"));
                    }
                    if c["DesiredStatus"] == "STOPPED" && c["KnownStatus"] != "STOPPED" {
                        s.push_str(" stopping");
                    }
                    if let Some(h) = c["Health"]["status"].as_str() {
                        s.push(' ');
                        s.push_str(h);
                    }
                    s
                })
                .collect()
        })
        .unwrap_or_default();
    lines.sort();
    lines.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str =
        "arn:aws:ecs:us-east-1:123456789012:task/local/0123456789abcdef0123456789abcdef";

    fn labels(service: &str) -> Value {
        json!({
            TASK_ARN_LABEL: ARN,
            FAMILY_LABEL: "web",
            REVISION_LABEL: "3",
            COMPOSE_SERVICE_LABEL: service,
            COMPOSE_PROJECT_LABEL: "p",
            "maintainer": "someone",
        })
    }

    /// An inspect answer as Docker (and podman's compat API) gives it.
    fn inspect(service: &str, status: &str, exit: i64) -> Value {
        json!({
            "Id": format!("{service}-id-0123456789"),
            "Name": format!("/p_{service}_1"),
            "Image": "sha256:feed",
            "Created": "2026-01-02T03:04:05.123456789Z",
            "Config": {"Image": format!("localhost/{service}:local"), "Labels": labels(service)},
            "HostConfig": {"NetworkMode": "container:agent-id-99"},
            "NetworkSettings": {"IPAddress": "", "Networks": {}},
            "State": {
                "Status": status,
                "ExitCode": exit,
                "StartedAt": if status == "created" { "0001-01-01T00:00:00Z" } else { "2026-01-02T03:04:06Z" },
                "FinishedAt": if status == "exited" { "2026-01-02T03:09:00Z" } else { "0001-01-01T00:00:00Z" },
            },
        })
    }

    fn owners() -> HashMap<String, Value> {
        HashMap::from([(
            "agent-id-99".to_string(),
            json!({
                "Id": "agent-id-99",
                "HostConfig": {"NetworkMode": "bridge"},
                "NetworkSettings": {"IPAddress": "", "Networks": {"p_default": {"IPAddress": "10.89.0.7"}}},
            }),
        )])
    }

    fn container<'a>(task: &'a Value, name: &str) -> &'a Value {
        task["Containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["Name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {task:#}"))
    }

    #[test]
    fn a_running_task_reports_names_statuses_health_and_the_shared_address() {
        let mut app = inspect("app", "running", 0);
        app["State"]["Health"] = json!({"Status": "healthy", "FailingStreak": 0,
            "Log": [{"ExitCode": 0, "Output": ""}]});
        let mesh_init = inspect("consul-ecs-mesh-init", "exited", 0);
        let sidecar = inspect("sidecar-proxy", "running", 0);
        let task = task_document(&[app, mesh_init, sidecar], &owners(), false).unwrap();

        assert_eq!(task["TaskARN"], ARN);
        assert_eq!(
            task["Cluster"],
            "arn:aws:ecs:us-east-1:123456789012:cluster/local"
        );
        assert_eq!(task["Family"], "web");
        assert_eq!(task["Revision"], "3");
        assert_eq!(task["DesiredStatus"], "RUNNING");
        assert_eq!(task["KnownStatus"], "RUNNING");

        let app = container(&task, "app");
        assert_eq!(app["KnownStatus"], "RUNNING");
        assert_eq!(app["DesiredStatus"], "RUNNING");
        assert_eq!(app["Health"], json!({"status": "HEALTHY"}));
        assert_eq!(app["Type"], "NORMAL");
        assert_eq!(app["DockerName"], "p_app_1");
        assert!(app.get("ExitCode").is_none(), "{app:#}");
        assert!(app.get("FinishedAt").is_none(), "{app:#}");
        assert_eq!(
            app["Networks"],
            json!([{"NetworkMode": "awsvpc", "IPv4Addresses": ["10.89.0.7"]}])
        );
        // Only the ECS labels, plus the container name ECS always sets.
        assert_eq!(app["Labels"]["com.amazonaws.ecs.container-name"], "app");
        assert!(app["Labels"].get("maintainer").is_none());
        assert!(app["Labels"].get(COMPOSE_SERVICE_LABEL).is_none());

        let mesh_init = container(&task, "consul-ecs-mesh-init");
        assert_eq!(mesh_init["KnownStatus"], "STOPPED");
        assert_eq!(mesh_init["DesiredStatus"], "STOPPED");
        assert_eq!(mesh_init["ExitCode"], 0);
        assert_eq!(mesh_init["FinishedAt"], "2026-01-02T03:09:00Z");
        // No health check, no Health object (ECS leaves it out too).
        assert!(mesh_init.get("Health").is_none(), "{mesh_init:#}");
    }

    #[test]
    fn health_maps_starting_to_unknown_and_keeps_the_failing_checks_code_and_output() {
        let mut app = inspect("app", "running", 0);
        app["State"]["Health"] = json!({"Status": "starting", "Log": []});
        let task = task_document(&[app.clone()], &owners(), false).unwrap();
        assert_eq!(
            container(&task, "app")["Health"],
            json!({"status": "UNKNOWN"})
        );

        app["State"]["Health"] = json!({"Status": "unhealthy", "FailingStreak": 3,
            "Log": [{"ExitCode": 0, "Output": "ok"}, {"ExitCode": 1, "Output": "wget: server returned error: HTTP/1.0 404 Not Found\n"}]});
        let task = task_document(&[app.clone()], &owners(), false).unwrap();
        assert_eq!(
            container(&task, "app")["Health"],
            json!({"status": "UNHEALTHY", "exitCode": 1,
                   "output": "wget: server returned error: HTTP/1.0 404 Not Found"})
        );

        // podman's compat API reports an empty status for a container without a check.
        app["State"]["Health"] = json!({"Status": "", "FailingStreak": 0, "Log": null});
        let task = task_document(&[app], &owners(), false).unwrap();
        assert!(container(&task, "app").get("Health").is_none());
    }

    #[test]
    fn a_stopping_task_desires_stopped_everywhere_and_a_never_started_container_is_stopped() {
        let app = inspect("app", "exited", 143);
        let sidecar = inspect("sidecar-proxy", "running", 0);
        let late = inspect("late", "created", 0);
        let task = task_document(&[app, sidecar, late.clone()], &owners(), true).unwrap();
        assert_eq!(task["DesiredStatus"], "STOPPED");
        assert_eq!(task["KnownStatus"], "RUNNING");
        let app = container(&task, "app");
        assert_eq!(
            (&app["DesiredStatus"], &app["KnownStatus"], &app["ExitCode"]),
            (&json!("STOPPED"), &json!("STOPPED"), &json!(143))
        );
        let sidecar = container(&task, "sidecar-proxy");
        assert_eq!(
            (&sidecar["DesiredStatus"], &sidecar["KnownStatus"]),
            (&json!("STOPPED"), &json!("RUNNING"))
        );
        let never = container(&task, "late");
        assert_eq!(never["KnownStatus"], "STOPPED");
        assert!(never.get("ExitCode").is_none(), "it never ran: {never:#}");
        assert!(never.get("StartedAt").is_none(), "{never:#}");

        // Before the task stops, a created container is just CREATED.
        let task = task_document(&[late], &owners(), false).unwrap();
        assert_eq!(container(&task, "late")["KnownStatus"], "CREATED");
        assert_eq!(task["KnownStatus"], "PENDING");
    }

    #[test]
    fn a_task_whose_containers_all_stopped_is_stopped() {
        let task = task_document(
            &[
                inspect("app", "exited", 0),
                inspect("sidecar-proxy", "exited", 0),
            ],
            &owners(),
            false,
        )
        .unwrap();
        assert_eq!(task["KnownStatus"], "STOPPED");
        assert_eq!(task["DesiredStatus"], "STOPPED");
    }

    #[test]
    fn containers_without_the_task_label_are_not_part_of_the_task() {
        let mut consul = inspect("consul", "running", 0);
        consul["Config"]["Labels"] = json!({COMPOSE_SERVICE_LABEL: "consul"});
        let task = task_document(
            &[inspect("app", "running", 0), consul.clone()],
            &owners(),
            false,
        )
        .unwrap();
        assert_eq!(task["Containers"].as_array().unwrap().len(), 1);
        assert_eq!(
            task_document(&[consul], &owners(), false),
            Err(TaskError::NoContainers)
        );
    }

    #[test]
    fn explicit_names_cluster_and_an_own_network_are_used() {
        let mut app = inspect("app", "running", 0);
        app["Config"]["Labels"][CONTAINER_NAME_LABEL] = json!("web");
        app["Config"]["Labels"][CLUSTER_LABEL] = json!("my-cluster");
        app["HostConfig"]["NetworkMode"] = json!("bridge");
        app["NetworkSettings"]["IPAddress"] = json!("172.17.0.5");
        let task = task_document(&[app], &HashMap::new(), false).unwrap();
        assert_eq!(task["Cluster"], "my-cluster");
        let web = container(&task, "web");
        assert_eq!(web["Networks"][0]["IPv4Addresses"], json!(["172.17.0.5"]));
    }

    #[test]
    fn containers_of_two_tasks_or_two_of_one_name_are_refused() {
        let app = inspect("app", "running", 0);
        let mut other = inspect("other", "running", 0);
        other["Config"]["Labels"][TASK_ARN_LABEL] = json!("arn:aws:ecs:us-east-1:1:task/c/ffff");
        match task_document(&[app.clone(), other], &owners(), false) {
            Err(TaskError::Disagree { label, values }) => {
                assert_eq!(label, TASK_ARN_LABEL);
                assert_eq!(values.len(), 2);
            }
            other => panic!("expected a disagreement, got {other:?}"),
        }
        let mut twin = inspect("app", "running", 0);
        twin["Id"] = json!("twin");
        assert_eq!(
            task_document(&[app, twin], &owners(), false),
            Err(TaskError::DuplicateName("app".into()))
        );
    }

    #[test]
    fn the_summary_lists_every_container_sorted() {
        let mut app = inspect("app", "running", 0);
        app["State"]["Health"] = json!({"Status": "healthy"});
        let task = task_document(
            &[
                inspect("consul-ecs-mesh-init", "exited", 0),
                app,
                inspect("sidecar-proxy", "running", 0),
            ],
            &owners(),
            true,
        )
        .unwrap();
        assert_eq!(
            summary(&task),
            "app RUNNING stopping HEALTHY, consul-ecs-mesh-init STOPPED(0), sidecar-proxy RUNNING stopping"
        );
    }
}
