//! The same task's life in the v0.10 (Consul Dataplane) layout: mesh-init registers the
//! service and its proxy in the servers' catalog (over HTTP, after a login over gRPC) and
//! writes `consul-dataplane.json` instead of an Envoy bootstrap; health-sync syncs the
//! checks in the catalog; at the stop it sets them critical, waits for consul-dataplane,
//! deregisters and logs out.
//!
//! No consul-dataplane binary exists on this machine, so its container is a stand-in made
//! of nothing but its status in the task metadata: RUNNING and HEALTHY while the task
//! runs, STOPPED (exit 0) when the demo ends it after health-sync waits for it. No Envoy
//! runs in this mode.

use std::fs;

use anyhow::{Context, Result};
use nix::sys::signal::Signal;
use serde_json::{json, Value};

use super::{
    container_code, desire_stop_all, flip_app_health, run_mesh_init, start_app, start_health_sync,
    wait_for_health_sync_log, Verdict, World, SERVICE, STOP_TIMEOUT,
};
use crate::observer::{mark_container, Observer};

/// The stand-in container: a name in the task metadata, no process.
const DATAPLANE: &str = "consul-dataplane";
/// Its name in the timeline's narrow actor column.
const DATAPLANE_ACTOR: &str = "dataplane";

/// The synthetic node of a task's cluster: the cluster ARN, built from the task ARN
/// (`arn:…:task/<cluster>/<id>` → `arn:…:cluster/<cluster>`).
pub(super) fn node_name(task_arn: &str) -> String {
    match task_arn.split_once(":task/") {
        Some((prefix, rest)) => {
            let cluster = rest.rsplit_once('/').map_or(rest, |(cluster, _)| cluster);
            format!("{prefix}:cluster/{cluster}")
        }
        None => task_arn.to_string(),
    }
}

pub(super) fn play(w: &World, obs: &mut Observer) -> Result<Verdict> {
    let tl = obs.timeline;
    let grpc = w.grpc.context("the dataplane mode needs the gRPC server")?;
    let app_port = testkit::paths::free_port();
    let config = json!({
        "bootstrapDir": w.bootstrap_dir,
        "consulServers": {
            "hosts": "127.0.0.1",
            "grpc": {"port": grpc.addr().port(), "tls": false},
            "http": {"port": w.consul.port(), "https": false}
        },
        "consulLogin": {"enabled": true, "stsEndpoint": w.aws.endpoint()},
        "healthSyncContainers": ["app"],
        "service": {"name": SERVICE, "port": app_port},
        // The rules need root and a network namespace of the task's own.
        "transparentProxy": {"enabled": false},
    })
    .to_string();
    let mut env = vec![
        ("CONSUL_ECS_CONFIG_JSON".to_string(), config),
        ("ECS_CONTAINER_METADATA_URI_V4".to_string(), w.ecs.uri()),
        ("AWS_REGION".to_string(), "us-east-1".to_string()),
    ];
    env.extend(w.credentials.env());

    tl.heading("Start-up (v0.10 layout: no Consul agent in the task)");
    tl.note(
        "no consul-dataplane binary is installed here: its container is a stand-in that is \
         only a status in the task metadata (RUNNING, HEALTHY; STOPPED when the demo ends it). \
         No Envoy runs in this mode; transparentProxy is off (it needs root)",
    );
    w.ecs.set_container_health(DATAPLANE, "HEALTHY");
    tl.event(
        DATAPLANE_ACTOR,
        "stand-in for consul-dataplane: metadata RUNNING, Health HEALTHY",
    );

    // --- mesh-init -------------------------------------------------------------------
    obs.consul_actor = "mesh-init";
    run_mesh_init(w, obs, &env)?;
    let registered = w.consul.catalog_services().len();
    let left_by_mesh_init = login_tokens(w).len();
    let dataplane_config = w.bootstrap_dir.join("consul-dataplane.json");
    let document: Option<Value> = fs::read_to_string(&dataplane_config)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let keys = document.as_ref().map(top_level_keys).unwrap_or_default();
    // Only the keys: the login's bearer token is in the file.
    tl.event(
        "mesh-init",
        format!("consul-dataplane.json (consul-dataplane's -config-file) has the keys {keys}"),
    );

    // --- health-sync -----------------------------------------------------------------
    obs.consul_actor = "health-sync";
    start_health_sync(w, obs, &env)?;
    tl.event(
        "health-sync",
        "logged in over gRPC with a token of its own; polling the task metadata every 1s",
    );

    start_app(w, obs, app_port)?;
    let check_id = format!("{SERVICE}-{}-app", w.task_id);
    flip_app_health(w, obs, &check_id)?;

    // --- stop ----------------------------------------------------------------------------
    tl.heading("StopTask: every container gets SIGTERM at once");
    desire_stop_all(w.ecs);
    tl.event(
        "ecs",
        "metadata: every container DesiredStatus STOPPED; SIGTERM to health-sync and app",
    );
    for name in ["consul-ecs-health-sync", "app"] {
        if let Some(c) = obs.container(name) {
            c.signal(Signal::SIGTERM)?;
        }
    }
    wait_for_health_sync_log(
        w,
        obs,
        "health-sync to wait for consul-dataplane",
        "waiting for consul-dataplane to stop",
    )?;
    let critical_while_waiting = {
        let checks = w.consul.catalog_checks();
        !checks.is_empty() && checks.values().all(|c| c["Status"] == json!("critical"))
    };
    let waited = obs.running("consul-ecs-health-sync");
    obs.tick()?;
    mark_container(w.ecs, DATAPLANE, "STOPPED", "STOPPED", Some(0));
    tl.event(
        DATAPLANE_ACTOR,
        "stand-in for consul-dataplane: metadata STOPPED, exit code 0",
    );
    obs.wait_for("every container to exit", STOP_TIMEOUT, |o| {
        o.running_names().is_empty()
    })?;
    obs.tick()?;

    // --- summary -------------------------------------------------------------------------
    tl.heading("What this run showed");
    let mut verdict = Verdict::default();
    verdict.check(
        format!(
            "mesh-init registered the service and its proxy in the catalog ({registered} services)"
        ),
        registered == 2,
    );
    verdict.check(
        format!(
            "mesh-init wrote consul-dataplane.json with consul, proxy, xdsServer, envoy and \
             logging, and no Envoy bootstrap ({keys})"
        ),
        document.as_ref().is_some_and(has_dataplane_keys)
            && !w.bootstrap_dir.join("envoy-bootstrap.json").exists(),
    );
    verdict.check(
        "at SIGTERM health-sync set every check critical and waited for consul-dataplane",
        critical_while_waiting && waited,
    );
    let left = w.consul.catalog_services().len();
    verdict.check(
        format!("health-sync deregistered the service and its proxy ({left} left in the catalog)"),
        left == 0,
    );
    let left = login_tokens(w).len();
    verdict.check(
        format!(
            "mesh-init and health-sync each logged out their login token ({left_by_mesh_init} \
             left after mesh-init, {left} at the end) and health-sync exited 0"
        ),
        left_by_mesh_init == 0
            && left == 0
            && container_code(w.ecs, "consul-ecs-health-sync") == Some(0),
    );
    for (what, held) in &verdict.checks {
        tl.event(
            "demo",
            format!("{} {what}", if *held { "ok  " } else { "FAIL" }),
        );
    }
    Ok(verdict)
}

/// The accessor IDs of the tokens made by a login.
fn login_tokens(w: &World) -> Vec<String> {
    w.consul
        .tokens()
        .into_iter()
        .filter(|t| !t.auth_method.is_empty())
        .map(|t| t.accessor_id)
        .collect()
}

/// `consul-dataplane.json`'s top-level keys, as `a, b, c`.
fn top_level_keys(document: &Value) -> String {
    document
        .as_object()
        .map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

/// Whether the document has the keys consul-dataplane's config file documents for what
/// mesh-init sets: the servers, the proxy's identity, the xDS server, Envoy's ready port,
/// the log level.
fn has_dataplane_keys(document: &Value) -> bool {
    let present = |path: &str| document.pointer(path).is_some_and(|v| !v.is_null());
    [
        "/consul/addresses",
        "/consul/grpcPort",
        "/proxy/nodeName",
        "/proxy/id",
        "/xdsServer/bindAddress",
        "/envoy/readyBindPort",
        "/logging/logLevel",
    ]
    .into_iter()
    .all(present)
}
