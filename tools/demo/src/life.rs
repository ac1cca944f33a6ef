//! One mesh task's whole life, played with the real `consul-ecs` binary as ECS would run
//! its containers: mesh-init, envoy-entrypoint with the real Envoy, health-sync, and an
//! app under app-entrypoint; then ECS flips the app's health and stops the task.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::sys::signal::Signal;
use serde_json::json;
use testkit::aws::{AwsWorld, CredentialsEndpoint};
use testkit::consul::{ConsulEmulator, EmulatorOptions, IamAuthOptions};
use testkit::consul_grpc::{ConsulGrpcServer, GrpcServerOptions};
use testkit::ecs_metadata::{fargate_task, EcsMetadataEmulator, CLUSTER_NAME};

use crate::observer::{check_interrupted, container_statuses, mark_container, Observer};
use crate::probe::Probe;
use crate::procs::Container;
use crate::timeline::Timeline;

mod dataplane;

/// The service (and task family) the demo task runs.
const SERVICE: &str = "web";
/// What ECS waits before SIGKILL (the Fargate default `stopTimeout`).
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// app-entrypoint's `-shutdown-delay`: the app keeps serving this long after SIGTERM.
const APP_SHUTDOWN_DELAY: &str = "2s";

/// Which layout of consul-ecs the task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// v0.6.2: a Consul client agent in the task, Envoy bootstrapped by mesh-init.
    Agent,
    /// v0.10: no agent; the services go to the servers' catalog and consul-dataplane
    /// (played by the demo, see [`dataplane`]) runs Envoy.
    Dataplane,
}

/// What the demo needs from outside.
#[derive(Debug, Clone)]
pub struct Options {
    /// The layout the task runs.
    pub mode: Mode,
    /// The `consul-ecs` binary under demonstration.
    pub binary: PathBuf,
    /// The Envoy executable.
    pub envoy: PathBuf,
    /// A Python 3 interpreter, for the tiny app (`python3 -m http.server`).
    pub python: PathBuf,
    /// Where the bootstrap directory and the containers' logs go (kept afterwards).
    pub work_dir: PathBuf,
}

/// How the run went: the checks the summary printed, each with whether it held.
#[derive(Debug, Default)]
pub struct Verdict {
    /// `(what, held)` for every property the demo shows.
    pub checks: Vec<(String, bool)>,
}

impl Verdict {
    fn check(&mut self, what: impl Into<String>, held: bool) {
        self.checks.push((what.into(), held));
    }

    /// Whether every check held.
    pub fn all_held(&self) -> bool {
        self.checks.iter().all(|(_, held)| *held)
    }
}

/// Plays the task's life; returns the summary's checks. Every process started is stopped
/// before this returns, also on error or interruption.
pub fn run(opts: &Options) -> Result<Verdict> {
    let tl = Timeline::start();
    let bootstrap_dir = opts.work_dir.join("consul");
    let logs = opts.work_dir.join("logs");
    for dir in [&bootstrap_dir, &logs] {
        fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }

    tl.heading("The world: AWS (moto), Consul (emulator, ACLs on), ECS task metadata (emulator)");
    let aws = interruptible("start moto and create the task role", || {
        AwsWorld::start(SERVICE)
    })?;
    let role = aws.task_role();
    tl.event(
        "aws",
        format!(
            "moto at {}: IAM role {} tagged consul.hashicorp.com.service-name={SERVICE}; \
             task credentials from sts:AssumeRole",
            aws.endpoint(),
            role.arn
        ),
    );
    check_interrupted()?;
    let credentials = CredentialsEndpoint::start(role);
    tl.event(
        "aws",
        format!(
            "container credentials endpoint {} (AWS_CONTAINER_CREDENTIALS_FULL_URI, as ECS serves a task role)",
            credentials.full_uri()
        ),
    );

    let consul = ConsulEmulator::start(EmulatorOptions {
        acls_enabled: true,
        ..Default::default()
    });
    consul.configure_iam_auth(&aws, &IamAuthOptions::default());
    let grpc = match opts.mode {
        Mode::Agent => {
            consul.configure_client_auth(&aws);
            None
        }
        Mode::Dataplane => Some(
            ConsulGrpcServer::start(&consul, GrpcServerOptions::default())
                .context("start the emulator's gRPC server")?,
        ),
    };
    check_interrupted()?;
    let auth_methods = match opts.mode {
        Mode::Agent => {
            "auth methods iam-ecs-service-token (binding rule: service identity from the role \
             tag) and iam-ecs-client-token (role consul-ecs-client-role), both validating \
             logins against moto"
        }
        Mode::Dataplane => {
            "auth method iam-ecs-service-token (binding rule: service identity from the role \
             tag), validating logins against moto"
        }
    };
    tl.event(
        "consul",
        format!(
            "emulator at {}: ACLs on (default deny); {auth_methods}",
            consul.http_addr()
        ),
    );
    if let Some(grpc) = &grpc {
        tl.event(
            "consul",
            format!(
                "gRPC at {}: ServerDiscoveryService.WatchServers and ACLService.Login/Logout",
                grpc.addr()
            ),
        );
    }

    let containers: &[&str] = match opts.mode {
        Mode::Agent => &[
            "app",
            "sidecar-proxy",
            "consul-client",
            "consul-ecs-mesh-init",
            "consul-ecs-health-sync",
        ],
        Mode::Dataplane => &[
            "app",
            "consul-ecs-mesh-init",
            "consul-dataplane",
            "consul-ecs-health-sync",
        ],
    };
    let task = fargate_task(SERVICE, containers);
    let task_arn = task["TaskARN"].as_str().unwrap_or_default().to_string();
    let task_id = task_arn.rsplit('/').next().unwrap_or_default().to_string();
    if opts.mode == Mode::Dataplane {
        let node = dataplane::node_name(&task_arn);
        consul.register_synthetic_node(&node);
        tl.event(
            "consul",
            format!(
                "catalog node {node} (synthetic-node=true), as the v0.10 controller creates it"
            ),
        );
    }
    let ecs = EcsMetadataEmulator::start(task);
    tl.event(
        "ecs",
        format!(
            "task {task_id} (family {SERVICE}) RUNNING; metadata at {}",
            ecs.uri()
        ),
    );
    if let Some(short) = task_id.get(..8) {
        let short = format!("{short}…");
        tl.note(format!("the task ID is shown as {short} from here on"));
        tl.abbreviate(&task_id, &short);
    }

    let mut obs = Observer::new(&tl, &consul, &ecs);
    let world = World {
        opts,
        aws: &aws,
        credentials: &credentials,
        consul: &consul,
        ecs: &ecs,
        grpc: grpc.as_ref(),
        bootstrap_dir,
        logs,
        task_id,
    };
    let result = match opts.mode {
        Mode::Agent => play(&world, &mut obs),
        Mode::Dataplane => dataplane::play(&world, &mut obs),
    };
    match &result {
        Err(e) if e.downcast_ref::<crate::observer::Interrupted>().is_some() => {
            tl.event("demo", "interrupted: stopping every process of the task");
        }
        Err(_) => obs.dump_logs(20),
        Ok(verdict) if !verdict.all_held() => obs.dump_logs(20),
        Ok(_) => {}
    }
    let killed = obs.kill_all();
    if !killed.is_empty() {
        tl.event("demo", format!("killed what was still running: {killed:?}"));
    }
    result
}

/// Everything the scenario uses.
struct World<'a> {
    opts: &'a Options,
    aws: &'a AwsWorld,
    credentials: &'a CredentialsEndpoint,
    consul: &'a ConsulEmulator,
    ecs: &'a EcsMetadataEmulator,
    /// The emulator's gRPC server (dataplane mode only).
    grpc: Option<&'a ConsulGrpcServer>,
    bootstrap_dir: PathBuf,
    logs: PathBuf,
    task_id: String,
}

impl World<'_> {
    /// A command with the clean environment of a container plus `env`.
    fn command(&self, program: &Path, args: &[&str], env: &[(String, String)]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args).env_clear().current_dir(&self.bootstrap_dir);
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        // consul-ecs colours its log even into a file unless NO_COLOR is set; these logs
        // are files meant to be read.
        cmd.env("NO_COLOR", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn log(&self, container: &str) -> PathBuf {
        self.logs.join(format!("{container}.log"))
    }

    /// The copy of consul-ecs that mesh-init leaves in the bootstrap directory: the
    /// sidecar and app containers run it as their entrypoint.
    fn binary_copy(&self) -> PathBuf {
        self.bootstrap_dir.join("consul-ecs")
    }
}

fn play(w: &World, obs: &mut Observer) -> Result<Verdict> {
    let tl = obs.timeline;
    let app_port = testkit::paths::free_port();
    let config = json!({
        "bootstrapDir": w.bootstrap_dir,
        "healthSyncContainers": ["app"],
        "consulHTTPAddr": w.consul.http_addr(),
        "consulLogin": {"enabled": true, "stsEndpoint": w.aws.endpoint()},
        "service": {"name": SERVICE, "port": app_port},
    })
    .to_string();
    let task_env = |extra: &[(String, String)]| {
        let mut env = vec![
            ("CONSUL_ECS_CONFIG_JSON".to_string(), config.clone()),
            ("ECS_CONTAINER_METADATA_URI_V4".to_string(), w.ecs.uri()),
            ("CONSUL_HTTP_ADDR".to_string(), w.consul.http_addr()),
        ];
        env.extend_from_slice(extra);
        env
    };

    // --- consul-client ---------------------------------------------------------------
    tl.heading("Start-up");
    obs.consul_actor = "consul-client";
    tl.event(
        "consul-client",
        "consul login -method iam-ecs-client-token (the demo plays this container: the Consul \
         agent is the emulator)",
    );
    let client = w
        .consul
        .login_client_token(w.aws, w.aws.task_role(), &w.task_id, CLUSTER_NAME);
    write_secret(&w.bootstrap_dir.join("client-token"), &client.secret_id)?;
    obs.tick()?;
    tl.event(
        "consul-client",
        "token written to <bootstrapDir>/client-token (0600), for health-sync to log out at the end",
    );

    // --- mesh-init -------------------------------------------------------------------
    obs.consul_actor = "mesh-init";
    run_mesh_init(w, obs, &task_env(&w.credentials.env()))?;

    // --- health-sync -----------------------------------------------------------------
    obs.consul_actor = "health-sync";
    start_health_sync(w, obs, &task_env(&[]))?;
    tl.event(
        "health-sync",
        "polling the task metadata every 1s; the app has no ECS health yet, so its check stays critical",
    );

    // --- sidecar-proxy ---------------------------------------------------------------
    let admin_port = testkit::paths::free_port();
    let bootstrap = w.bootstrap_dir.join("envoy-bootstrap.json");
    let admin_override = format!(
        "admin: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {admin_port}}}}}}}"
    );
    let envoy = w.opts.envoy.to_string_lossy().into_owned();
    let bootstrap_arg = bootstrap.to_string_lossy().into_owned();
    let sidecar = Container::start(
        "sidecar-proxy",
        "envoy",
        w.command(
            &w.binary_copy(),
            &[
                "envoy-entrypoint",
                &envoy,
                "--config-path",
                &bootstrap_arg,
                "--config-yaml",
                &admin_override,
                "--disable-hot-restart",
                "--log-level",
                "info",
            ],
            &task_env(&[]),
        ),
        &w.log("sidecar-proxy"),
    )?;
    obs.add(sidecar);
    tl.note(format!(
        "the bootstrap's admin address is 127.0.0.1:19000; the demo moves it to the free port \
         {admin_port} (--config-yaml) so it never collides with another Envoy on this machine"
    ));
    obs.watch_envoy(admin_port);
    obs.wait_for(
        "Envoy's admin port to answer",
        Duration::from_secs(20),
        |o| matches!(o.envoy_state(), Some(Probe::Answer { .. })),
    )?;
    tl.note(
        "Envoy asks the Consul agent's gRPC port (127.0.0.1:8502) for its listeners and clusters \
         (xDS); the emulator serves only the HTTP API, so Envoy stays PRE_INITIALIZING and never \
         opens the public listener :20000 (ECS's `net-dial 127.0.0.1:20000` health check would \
         fail; the demo starts the app anyway). Its admin port answers: that is what it watches",
    );

    // --- app -------------------------------------------------------------------------
    start_app(w, obs, app_port)?;

    // --- health ------------------------------------------------------------------------
    let check_id = format!("{SERVICE}-{}-app-consul-ecs", w.task_id);
    flip_app_health(w, obs, &check_id)?;

    // --- stop ----------------------------------------------------------------------------
    tl.heading("StopTask: every container gets SIGTERM at once");
    let t0 = tl.elapsed();
    desire_stop_all(w.ecs);
    tl.event(
        "ecs",
        "metadata: every container DesiredStatus STOPPED; SIGTERM to health-sync, \
         sidecar-proxy and app",
    );
    for name in ["consul-ecs-health-sync", "sidecar-proxy", "app"] {
        if let Some(c) = obs.container(name) {
            c.signal(Signal::SIGTERM)?;
        }
    }
    tl.note(format!(
        "app-entrypoint holds SIGTERM for {APP_SHUTDOWN_DELAY}; envoy-entrypoint keeps Envoy up \
         until every application container is STOPPED; health-sync marks its checks critical and \
         logs out both tokens"
    ));
    obs.wait_for("every container to exit", STOP_TIMEOUT, |o| {
        o.running_names().is_empty()
    })?;
    mark_container(w.ecs, "consul-client", "STOPPED", "STOPPED", Some(0));
    tl.event(
        "ecs",
        "metadata: consul-client STOPPED (the agent has no process here: the emulator plays it)",
    );
    obs.tick()?;

    // --- summary -------------------------------------------------------------------------
    tl.heading("What this run showed");
    let marks = obs.marks().clone();
    let mut verdict = Verdict::default();
    let exited = |name: &str| marks.exited.get(name).copied();
    let code = |name: &str| container_code(w.ecs, name);
    verdict.check(
        "mesh-init logged in and registered the service and its sidecar",
        w.consul.services().len() == 2,
    );
    let app_after = exited("app").map(|t| t.saturating_sub(t0));
    verdict.check(
        format!(
            "the app got SIGTERM only after the {APP_SHUTDOWN_DELAY} shutdown delay (exited {})",
            app_after.map_or("never".into(), |d| format!(
                "{:.2}s after T0",
                d.as_secs_f64()
            ))
        ),
        app_after.is_some_and(|d| d >= Duration::from_secs(2)),
    );
    verdict.check(
        "Envoy kept answering on its admin port while the app was shutting down",
        marks
            .envoy_last_answer
            .is_some_and(|t| t > t0 + Duration::from_secs(1)),
    );
    let envoy_after = match (exited("app"), exited("sidecar-proxy")) {
        (Some(a), Some(e)) => format!(", {:.2}s after the app", e.saturating_sub(a).as_secs_f64()),
        _ => String::new(),
    };
    verdict.check(
        format!("Envoy outlived the app and stopped only after it (envoy-entrypoint exited 0{envoy_after})"),
        matches!((exited("app"), exited("sidecar-proxy")), (Some(a), Some(e)) if e >= a)
            && code("sidecar-proxy") == Some(0),
    );
    verdict.check(
        "health-sync left the app's check critical",
        check_status(w.consul, &check_id).as_deref() == Some("critical"),
    );
    let login_tokens = w
        .consul
        .tokens()
        .iter()
        .filter(|t| !t.auth_method.is_empty())
        .count();
    verdict.check(
        format!("health-sync logged out the service and client tokens ({login_tokens} login tokens left)"),
        login_tokens == 0 && code("consul-ecs-health-sync") == Some(0),
    );
    for (what, held) in &verdict.checks {
        tl.event(
            "demo",
            format!("{} {what}", if *held { "ok  " } else { "FAIL" }),
        );
    }
    tl.note(
        "the registrations stay on the (emulated) agent: in ECS they leave with the consul-client \
         agent, and the acl-controller reaps what a killed task leaves behind",
    );
    Ok(verdict)
}

/// Starts the container `container` running `consul-ecs <subcommand>` with `env`,
/// credited to `<subcommand>` on the timeline.
fn start_subcommand(
    w: &World,
    obs: &mut Observer,
    container: &'static str,
    subcommand: &'static str,
    env: &[(String, String)],
) -> Result<()> {
    let container = Container::start(
        container,
        subcommand,
        w.command(&w.opts.binary, &[subcommand], env),
        &w.log(container),
    )?;
    obs.add(container);
    Ok(())
}

/// Runs the mesh-init container to its end with `env`; fails unless it exits 0. Shows
/// what it left in the bootstrap directory.
fn run_mesh_init(w: &World, obs: &mut Observer, env: &[(String, String)]) -> Result<()> {
    start_subcommand(w, obs, "consul-ecs-mesh-init", "mesh-init", env)?;
    obs.wait_for("mesh-init to finish", Duration::from_secs(60), |o| {
        !o.running("consul-ecs-mesh-init")
    })?;
    if container_code(w.ecs, "consul-ecs-mesh-init") != Some(0) {
        bail!("mesh-init failed (its log is below)");
    }
    obs.timeline.event(
        "mesh-init",
        format!("bootstrapDir now holds: {}", list_dir(&w.bootstrap_dir)),
    );
    Ok(())
}

/// Starts the health-sync container with `env` and waits until it logs that it started.
fn start_health_sync(w: &World, obs: &mut Observer, env: &[(String, String)]) -> Result<()> {
    start_subcommand(w, obs, "consul-ecs-health-sync", "health-sync", env)?;
    wait_for_health_sync_log(w, obs, "health-sync to start", "health-sync started")
}

/// Waits until health-sync's log holds `line`.
fn wait_for_health_sync_log(w: &World, obs: &mut Observer, what: &str, line: &str) -> Result<()> {
    let log = w.log("consul-ecs-health-sync");
    obs.wait_for(what, Duration::from_secs(20), |_| {
        fs::read_to_string(&log).is_ok_and(|l| l.contains(line))
    })
}

/// Starts the app container: a tiny HTTP server under app-entrypoint (from the copy of
/// consul-ecs in the bootstrap directory), and waits until it serves.
fn start_app(w: &World, obs: &mut Observer, app_port: u16) -> Result<()> {
    let python = w.opts.python.to_string_lossy().into_owned();
    let port_arg = app_port.to_string();
    let app = Container::start(
        "app",
        "app",
        w.command(
            &w.binary_copy(),
            &[
                "app-entrypoint",
                "-shutdown-delay",
                APP_SHUTDOWN_DELAY,
                &python,
                "-m",
                "http.server",
                &port_arg,
                "--bind",
                "127.0.0.1",
            ],
            &[],
        ),
        &w.log("app"),
    )?;
    obs.add(app);
    obs.watch_app(app_port);
    obs.wait_for("the app to serve HTTP", Duration::from_secs(20), |o| {
        matches!(o.app_state(), Some(Probe::Answer { .. }))
    })?;
    Ok(())
}

/// ECS flips the app's health HEALTHY, UNHEALTHY, HEALTHY; waits each time until
/// health-sync mirrored it into `check_id`.
fn flip_app_health(w: &World, obs: &mut Observer, check_id: &str) -> Result<()> {
    obs.timeline
        .heading("ECS health of the app, mirrored into Consul by health-sync");
    for status in ["HEALTHY", "UNHEALTHY", "HEALTHY"] {
        w.ecs.set_container_health("app", status);
        obs.timeline
            .event("ecs", format!("metadata: app Health {status}"));
        let want = if status == "HEALTHY" {
            "passing"
        } else {
            "critical"
        };
        obs.wait_for(
            &format!("check {check_id} to become {want}"),
            Duration::from_secs(10),
            |o| o.reported_check_status(check_id) == Some(want),
        )?;
    }
    Ok(())
}

/// StopTask: every container's `DesiredStatus` becomes STOPPED (its known status stays
/// until it exits).
fn desire_stop_all(ecs: &EcsMetadataEmulator) {
    for (name, desired, known) in container_statuses(ecs) {
        if desired != "STOPPED" {
            mark_container(ecs, &name, "STOPPED", &known, None);
        }
    }
}

/// Runs a slow set-up step on a thread of its own so that Ctrl-C is honoured while it
/// runs (moto takes seconds to start, and dies of the same Ctrl-C, which would leave the
/// step waiting for it). On interruption the thread is abandoned: the demo is about to
/// exit, and the final sweep kills whatever process the step started.
fn interruptible<T: Send + 'static>(
    what: &str,
    step: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(what.to_string())
        .spawn(move || {
            let _ = tx.send(step());
        })
        .with_context(|| format!("{what}: start a thread"))?;
    loop {
        check_interrupted()?;
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(value) => return Ok(value),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            // The step panicked; its message is already on stderr.
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => bail!("{what} failed"),
        }
    }
}

/// A container's `ExitCode` in the task metadata.
fn container_code(ecs: &EcsMetadataEmulator, name: &str) -> Option<i64> {
    let task = ecs.task();
    task["Containers"]
        .as_array()?
        .iter()
        .find(|c| c["Name"] == json!(name))?["ExitCode"]
        .as_i64()
}

fn check_status(consul: &ConsulEmulator, id: &str) -> Option<String> {
    consul.checks().get(id)?["Status"]
        .as_str()
        .map(str::to_string)
}

/// Writes a token file readable by its owner only.
fn write_secret(path: &Path, secret: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("create {}", path.display()))?;
    file.write_all(secret.as_bytes())
        .with_context(|| format!("write {}", path.display()))
}

/// `name (mode)` for every file in `dir`, sorted: shows what mesh-init left and that the
/// token files are private.
fn list_dir(dir: &Path) -> String {
    let mut entries: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let mode = e
                        .metadata()
                        .map(|m| m.permissions().mode() & 0o777)
                        .unwrap_or(0);
                    format!("{} ({mode:04o})", e.file_name().to_string_lossy())
                })
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    entries.join(", ")
}
