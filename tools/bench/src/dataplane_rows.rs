//! The v0.10 (Consul Dataplane) layout's rows: mesh-init (wall, CPU, peak RSS) and
//! health-sync idling (peak RSS, CPU per 1 s poll), against the Consul emulator's HTTP API
//! and its gRPC server (server discovery, the aws-iam login replayed to moto), beside the
//! v0.6.2 rows of `mesh_init.rs` and `health_sync.rs`.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{json, Value};
use testkit::aws::AwsWorld;
use testkit::consul::{ConsulEmulator, EmulatorOptions, IamAuthOptions};
use testkit::consul_grpc::{ConsulGrpcServer, GrpcServerOptions};
use testkit::ecs_metadata::{fargate_task, EcsMetadataEmulator};

use crate::dataplane_floor::{DataplaneFloor, FloorInputs};
use crate::health_sync::{measure_idle, Idle};
use crate::mesh_init::{request_sequence, sequence_text, AgainstFloor};
use crate::proc::{Exit, Launched, Usage};
use crate::report::Section;
use crate::world::SERVICE;
use crate::Context;

/// A dataplane task's world: Consul (HTTP and gRPC, ACLs on, the cluster's node), the task
/// metadata, moto shared with the other benchmarks.
struct DataplaneWorld {
    aws: Arc<AwsWorld>,
    consul: ConsulEmulator,
    grpc: ConsulGrpcServer,
    ecs: EcsMetadataEmulator,
    /// The task the metadata emulator serves.
    task: Value,
}

impl DataplaneWorld {
    fn start(aws: Arc<AwsWorld>) -> Result<DataplaneWorld> {
        let consul = ConsulEmulator::start(EmulatorOptions {
            acls_enabled: true,
            ..Default::default()
        });
        consul.configure_iam_auth(&aws, &IamAuthOptions::default());
        let grpc = ConsulGrpcServer::start(&consul, GrpcServerOptions::default())
            .context("start the emulator's gRPC server")?;
        let task = fargate_task(
            SERVICE,
            &[
                "app",
                "consul-ecs-mesh-init",
                "consul-dataplane",
                "consul-ecs-health-sync",
            ],
        );
        let arn = task["TaskARN"].as_str().unwrap_or_default();
        let (prefix, rest) = arn
            .split_once(":task/")
            .ok_or_else(|| anyhow!("task ARN {arn} without :task/"))?;
        let cluster = rest.rsplit_once('/').map_or(rest, |(c, _)| c);
        // The cluster's node, as the v0.10 controller creates it.
        consul.register_synthetic_node(&format!("{prefix}:cluster/{cluster}"));
        Ok(DataplaneWorld {
            ecs: EcsMetadataEmulator::start(task.clone()),
            task,
            aws,
            consul,
            grpc,
        })
    }

    /// The v0.10 config: `web` (port 9090, one synced container), login on (moto as STS),
    /// plain gRPC and HTTP to the emulator; no transparent proxy (it needs root).
    fn config(&self, bootstrap_dir: &Path) -> Value {
        json!({
            "bootstrapDir": bootstrap_dir,
            "consulServers": {
                "hosts": "127.0.0.1",
                "grpc": {"port": self.grpc.addr().port(), "tls": false},
                "http": {"port": self.consul.port(), "https": false}
            },
            "consulLogin": {"enabled": true, "stsEndpoint": self.aws.endpoint()},
            "healthSyncContainers": ["app"],
            "service": {"port": 9090},
            "transparentProxy": {"enabled": false},
        })
    }

    fn command(
        &self,
        binary: &Path,
        subcommand: &str,
        bootstrap_dir: &Path,
        log: &Path,
    ) -> Result<Command> {
        let mut cmd = Command::new(binary);
        self.configure(&mut cmd, subcommand, bootstrap_dir, log)?;
        Ok(cmd)
    }

    /// Gives `cmd` the argument, environment and stdio of one of this world's commands.
    fn configure(
        &self,
        cmd: &mut Command,
        subcommand: &str,
        bootstrap_dir: &Path,
        log: &Path,
    ) -> Result<()> {
        let stderr = fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
        cmd.arg(subcommand)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env(
                "CONSUL_ECS_CONFIG_JSON",
                self.config(bootstrap_dir).to_string(),
            )
            .env("ECS_CONTAINER_METADATA_URI_V4", self.ecs.uri())
            .env("AWS_REGION", testkit::aws::REGION)
            .envs(self.aws.credentials_env(self.aws.task_role()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        Ok(())
    }

    fn mesh_init(&self, binary: &Path, bootstrap_dir: &Path) -> Result<Usage> {
        let log = bootstrap_dir.with_extension("stderr.log");
        // Through a launcher, so the peak RSS is mesh-init's own, not the harness's.
        let mut launched = Launched::new(binary)?;
        self.configure(launched.command(), "mesh-init", bootstrap_dir, &log)?;
        let usage = launched.run(Duration::from_secs(60))?;
        if usage.exit != Exit::Code(0) {
            bail!(
                "mesh-init (dataplane) ended with {}:\n{}\n---- Consul requests ----\n{}",
                usage.exit,
                fs::read_to_string(&log).unwrap_or_default(),
                self.consul.request_log()
            );
        }
        Ok(usage)
    }
}

/// gRPC calls whose place in the log depends on timing: mesh-init's server watch opens
/// beside its other requests.
const WATCH_SERVERS: &str =
    "GRPC /hashicorp.consul.serverdiscovery.ServerDiscoveryService/WatchServers";

/// A request sequence with the server watch taken out of its order, and how often it
/// opened: what two runs must share to have made the same requests.
fn ordered_part(sequence: Vec<String>) -> (Vec<String>, usize) {
    let watches = sequence.iter().filter(|r| *r == WATCH_SERVERS).count();
    let rest = sequence
        .into_iter()
        .filter(|r| r != WATCH_SERVERS)
        .collect();
    (rest, watches)
}

/// mesh-init in the dataplane layout: one warm-up run of it and of its floor, then
/// `ctx.runs` of each, interleaved.
pub fn run_mesh_init(ctx: &Context, aws: Arc<AwsWorld>) -> Result<Section> {
    let world = DataplaneWorld::start(aws)?;
    let dir = tempfile::tempdir().context("temp dir")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;

    // Warm-up (not counted): it also yields the document the floor writes and the request
    // sequence the floor must match.
    let warm = dir.path().join("warm-up");
    fs::create_dir(&warm)?;
    let before = world.consul.requests().len();
    let ecs_before = world.ecs.request_count();
    world.mesh_init(&ctx.binary, &warm)?;
    let ours = request_sequence(&world.consul, before);
    let ecs_ours = world.ecs.request_count() - ecs_before;
    let document = fs::read(warm.join(config::dataplane::DATAPLANE_CONFIG_FILE))
        .context("read the warm-up run's consul-dataplane.json")?;
    let floor = DataplaneFloor::prepare(FloorInputs {
        config: &world.config(Path::new("/unused")),
        task: &world.task,
        ecs_uri: world.ecs.uri(),
        grpc: world.grpc.addr(),
        consul: world.consul.http_addr(),
        aws: &world.aws,
        binary: &ctx.binary,
        document,
    })?;
    let floor_warm = dir.path().join("floor-warm-up");
    fs::create_dir(&floor_warm)?;
    let before = world.consul.requests().len();
    let ecs_before = world.ecs.request_count();
    runtime.block_on(floor.run(&floor_warm))?;
    let floors = request_sequence(&world.consul, before);
    let ecs_floor = world.ecs.request_count() - ecs_before;
    let (ours_ordered, ours_watches) = ordered_part(ours.clone());
    let same_requests =
        (ours_ordered, ours_watches) == ordered_part(floors.clone()) && ecs_ours == ecs_floor;
    if !same_requests {
        bail!(
            "the floor's requests differ from mesh-init's:\n mesh-init: {ours:?} ({ecs_ours} \
             metadata GETs)\n floor: {floors:?} ({ecs_floor} metadata GETs)"
        );
    }

    let n = ctx.runs;
    let rows = AgainstFloor::interleaved(
        n,
        dir.path(),
        |d| world.mesh_init(&ctx.binary, d),
        |d| runtime.block_on(floor.run(d)),
    )?
    .rows(n);
    let sequence = sequence_text(&world.task, &ours);
    Ok(Section {
        name: "mesh-init (dataplane layout)".to_string(),
        method: format!(
            "The v0.10 layout's world on loopback: the same moto and task role as the \
             v0.6.2 rows; the Consul emulator with ACLs on, the `iam-ecs-service-token` auth \
             method and its gRPC server (ServerDiscoveryService, ACLService); the cluster's \
             synthetic node registered beforehand, as the v0.10 controller does. The config \
             registers `web` (port 9090, one synced container) in the catalog, logging in \
             over gRPC. Each run is `consul-ecs mesh-init` in a fresh bootstrap directory \
             (it writes `consul-dataplane.json` and the binary copy), measured as the v0.6.2 \
             rows are (through a launcher: wall from its spawn to its reap, `wait4` CPU, \
             `VmHWM` at the exit); one warm-up run of it and of \
             its floor, then {n} of each, interleaved.\n\n\
             The floor is a minimal client in the harness process (reqwest and one tonic \
             channel on a current-thread tokio runtime, made fresh for each run; the HTTP \
             client before the clock starts) making the same calls mesh-init made — the \
             emulator's log shows, for mesh-init: {sequence} — plus the ECS metadata `GET` \
             and moto's `sts:GetCallerIdentity` for the bearer token (built with the same \
             `iam-login` crate, so signing is inside the floor too). `WatchServers` opens \
             beside the token read-back and the registrations in both, so its place in the \
             log is left out of the comparison (its count is not). Registration bodies are \
             what `dataplane::build_registrations` produces for this config (serialised \
             before the clock starts); `consul-dataplane.json` is the warm-up run's file. The \
             floor writes what mesh-init writes with the same functions \
             (`boundary::write_atomic`, `write_atomic_from`): the document (mode 0444) and \
             the binary copy (streamed, mode 0755), each through a temporary file, `fsync`, \
             `rename` and an `fsync` of the directory. Request sequences identical (the \
             harness fails otherwise; ECS metadata requests: {ecs_ours} for each). What the \
             ratio leaves for mesh-init itself is process start-up, the config and metadata \
             decoding, credential loading, server discovery, the registrations and the \
             document built, and the clients made."
        ),
        rows,
        figures: Vec::new(),
    })
}

/// health-sync idling in the dataplane layout, measured as the v0.6.2 row is.
pub fn run_health_sync(ctx: &Context, aws: Arc<AwsWorld>) -> Result<Section> {
    let world = DataplaneWorld::start(aws)?;
    let dir = tempfile::tempdir().context("temp dir")?;
    let bootstrap = dir.path().join("bootstrap");
    fs::create_dir(&bootstrap)?;
    world.mesh_init(&ctx.binary, &bootstrap)?;
    world.ecs.set_container_health("app", "HEALTHY");
    world
        .ecs
        .set_container_health("consul-dataplane", "HEALTHY");
    let log = dir.path().join("health-sync.stderr.log");
    let mut cmd = world.command(&ctx.binary, "health-sync", &bootstrap, &log)?;
    // consul-dataplane is a metadata status only: stop it once health-sync got SIGTERM so
    // that its shutdown (which waits for consul-dataplane) runs to the end.
    let ecs = &world.ecs;
    // Set once the measurement is over, also when it failed: the watcher then ends.
    let done = std::sync::atomic::AtomicBool::new(false);
    let Idle {
        rows,
        idle_s,
        threads_note,
        ..
    } = std::thread::scope(|scope| {
        let hs_log = log.clone();
        let done_ref = &done;
        scope.spawn(move || {
            while !done_ref.load(std::sync::atomic::Ordering::Relaxed) {
                if fs::read_to_string(&hs_log)
                    .is_ok_and(|l| l.contains("waiting for consul-dataplane to stop"))
                {
                    ecs.stop_container("consul-dataplane");
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let idle = measure_idle(ctx, &mut cmd, &log, &world.consul, &world.ecs);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        idle
    })?;
    Ok(Section {
        name: "health-sync (dataplane layout)".to_string(),
        method: format!(
            "The dataplane mesh-init world (a Consul and ECS metadata emulator of its own, \
             same moto). mesh-init runs once to register `web` and its proxy in the catalog \
             with three checks; `app` and `consul-dataplane` (a metadata status only: no \
             consul-dataplane binary here) are set HEALTHY; then `consul-ecs health-sync` \
             starts, logging in over gRPC with a token of its own. The window and the \
             figures are the v0.6.2 row's ({idle_s:.1} s idle; {threads_note}); at SIGTERM \
             the harness marks consul-dataplane STOPPED once health-sync waits for it, so the \
             whole-life CPU includes the deregistration and the gRPC logout."
        ),
        rows,
        figures: Vec::new(),
    })
}
