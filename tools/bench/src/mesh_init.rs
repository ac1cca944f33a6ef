//! Benchmark 1: `mesh-init` with ACLs and the aws-iam login on, against the Consul
//! emulator, the ECS metadata emulator and moto — next to the floor: the same requests and
//! file writes issued back to back by a minimal in-process client.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{json, Value};
use testkit::aws::AwsWorld;
use testkit::consul::ConsulEmulator;

use crate::goals::Figure;
use crate::proc::Usage;
use crate::report::{fmt_kib, fmt_ms, Row, Section};
use crate::stats::Summary;
use crate::world::World;
use crate::Context;

/// Runs the benchmark on a world of its own (sharing moto).
pub fn run(ctx: &Context, aws: Arc<AwsWorld>) -> Result<Section> {
    let world = World::start(aws);
    let dir = tempfile::tempdir().context("temp dir")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;

    // Warm-up (not counted): the first exec reads the binary from disk, the emulators
    // create the service for the first time. It also yields the bootstrap the floor
    // writes and the request sequence it must match.
    let warm_dir = dir.path().join("warm-up");
    fs::create_dir(&warm_dir)?;
    let before = world.consul.requests().len();
    let ecs_before = world.ecs.request_count();
    world.mesh_init(&ctx.binary, &warm_dir)?;
    let ours = request_sequence(&world.consul, before);
    let ecs_ours = world.ecs.request_count() - ecs_before;
    let bootstrap = fs::read(warm_dir.join("envoy-bootstrap.json"))
        .context("read the warm-up run's envoy-bootstrap.json")?;
    let floor = Floor::prepare(&world, &ctx.binary, bootstrap)?;
    let floor_dir = dir.path().join("floor-warm-up");
    fs::create_dir(&floor_dir)?;
    let before = world.consul.requests().len();
    let ecs_before = world.ecs.request_count();
    runtime.block_on(floor.run(&floor_dir))?;
    let floors = request_sequence(&world.consul, before);
    let ecs_floor = world.ecs.request_count() - ecs_before;
    let same_requests = ours == floors && ecs_ours == ecs_floor;

    let n = ctx.runs;
    let measured = AgainstFloor::interleaved(
        n,
        dir.path(),
        |d| world.mesh_init(&ctx.binary, d),
        |d| runtime.block_on(floor.run(d)),
    )?;
    let rows = measured.rows(n);
    let sequence = sequence_text(&world.task, &ours);
    Ok(Section {
        name: "mesh-init".to_string(),
        method: format!(
            "One task's world on loopback: moto 5.2.5 (signature checks on) with the task role \
             `consul-ecs-web` tagged `consul.hashicorp.com.service-name=web`; the Consul \
             emulator with ACLs on, the `iam-ecs-service-token` aws-iam auth method (entity \
             details, STS and IAM endpoints = moto) and its binding rule; the ECS metadata \
             emulator serving a Fargate task. The config registers `web` (port 9090, one \
             synced container, one upstream) and logs in (`consulLogin.enabled`, \
             `includeEntity` default true, `stsEndpoint` = moto); the task role's temporary \
             credentials come from the environment.\n\n\
             Each run is `consul-ecs mesh-init` in a fresh bootstrap directory, started by a \
             launcher (a fresh `bench __launch` process that traces it), from the launcher's \
             spawn to its reap, with `wait4` rusage for CPU; the peak RSS is mesh-init's \
             `VmHWM` read when it stops at its exit (not `ru_maxrss`, which Linux makes at \
             least the spawning process's own peak). \
             One warm-up run of each kind is not counted; then {n} runs of mesh-init and {n} \
             of the floor, interleaved.\n\n\
             The floor is a minimal client in the harness process (reqwest on a \
             current-thread tokio runtime, a fresh connection pool per run, created before \
             the clock starts) making the same requests mesh-init made — the Consul \
             emulator's log shows, for mesh-init: {sequence} — plus the ECS metadata `GET` \
             and moto's `sts:GetCallerIdentity` (the bearer token with entity details needs \
             the caller's ARN; built with the same `iam-login` crate, so signing is inside \
             the floor too). Registration bodies are what `mesh_task::build_registrations` \
             produces for this config (serialised before the clock starts); the Envoy \
             bootstrap is the warm-up run's file. The floor writes what mesh-init writes, \
             with the same functions (`boundary::write_atomic`, `write_atomic_from`): the \
             token and the bootstrap (mode 0600) and the binary copy (streamed, mode 0755), \
             each through a temporary file, `fsync`, `rename` and an `fsync` of the \
             directory. Request sequences identical (method, path and query on the Consul \
             side; count of ECS metadata requests, {ecs_ours} for mesh-init): \
             {same_requests}. What the ratio leaves for mesh-init itself is process \
             start-up, the config and metadata decoding, credential loading, the bootstrap \
             generation and three HTTP clients instead of one."
        ),
        rows,
        figures: vec![
            (Figure::MeshInitFloorRatio, measured.ratio()),
            (
                Figure::MeshInitPeakRss,
                measured.figures.rss.median / 1024.0,
            ),
        ],
    })
}

/// Wall, CPU and peak RSS of a short-lived command's measured runs.
pub struct RunFigures {
    /// Wall time, ms.
    pub wall: Summary,
    /// User+sys CPU, ms.
    pub cpu: Summary,
    /// Peak RSS, KiB.
    pub rss: Summary,
}

impl RunFigures {
    /// Summarises `runs` (at least one).
    pub fn of(runs: &[Usage]) -> Result<RunFigures> {
        let none = || anyhow!("no runs");
        let wall = Summary::of_millis(&runs.iter().map(|u| u.wall).collect::<Vec<_>>());
        let cpu = Summary::of_millis(&runs.iter().map(Usage::cpu).collect::<Vec<_>>());
        let rss = Summary::of(
            &runs
                .iter()
                .map(|u| u.max_rss_kib as f64)
                .collect::<Vec<_>>(),
        );
        Ok(RunFigures {
            wall: wall.ok_or_else(none)?,
            cpu: cpu.ok_or_else(none)?,
            rss: rss.ok_or_else(none)?,
        })
    }

    /// The wall, CPU and peak RSS rows.
    pub fn rows(&self) -> [Row; 3] {
        let (wall, cpu, rss) = (&self.wall, &self.cpu, &self.rss);
        [
            Row::new(
                format!("wall time (median of {})", wall.n),
                fmt_ms(wall.median),
                format!("min {} / max {}", fmt_ms(wall.min), fmt_ms(wall.max)),
            ),
            Row::new(
                "CPU time, user+sys (median)",
                fmt_ms(cpu.median),
                format!("min {} / max {}", fmt_ms(cpu.min), fmt_ms(cpu.max)),
            ),
            Row::new(
                "peak RSS (median)",
                fmt_kib(rss.median),
                format!("max {}", fmt_kib(rss.max)),
            ),
        ]
    }
}

/// A mesh-init row beside its request floor (both layouts): the measured runs and the
/// floor's wall times.
pub(crate) struct AgainstFloor {
    pub figures: RunFigures,
    pub floor: Summary,
}

impl AgainstFloor {
    pub fn of(runs: &[Usage], floor_times: &[Duration]) -> Result<AgainstFloor> {
        Ok(AgainstFloor {
            figures: RunFigures::of(runs)?,
            floor: Summary::of_millis(floor_times).ok_or_else(|| anyhow!("no floor runs"))?,
        })
    }

    /// `n` runs of the command and `n` of its floor, interleaved so both see the same
    /// background load, each in a fresh directory under `dir`.
    pub fn interleaved(
        n: usize,
        dir: &Path,
        mut command: impl FnMut(&Path) -> Result<Usage>,
        mut floor: impl FnMut(&Path) -> Result<Duration>,
    ) -> Result<AgainstFloor> {
        let (mut runs, mut floor_times) = (Vec::new(), Vec::new());
        for i in 0..n {
            let d = dir.join(format!("run-{i}"));
            fs::create_dir(&d)?;
            runs.push(command(&d)?);
            let d = dir.join(format!("floor-{i}"));
            fs::create_dir(&d)?;
            floor_times.push(floor(&d)?);
        }
        AgainstFloor::of(&runs, &floor_times)
    }

    /// Wall time over the floor's, medians.
    pub fn ratio(&self) -> f64 {
        self.figures.wall.median / self.floor.median
    }

    /// Wall, floor, ratio, CPU and peak RSS rows (`n` runs of each).
    pub fn rows(&self, n: usize) -> Vec<Row> {
        let (wall, floor) = (&self.figures.wall, &self.floor);
        let [wall_row, cpu_row, rss_row] = self.figures.rows();
        vec![
            wall_row,
            Row::new(
                format!("floor: same requests + file writes (median of {n})"),
                fmt_ms(floor.median),
                format!("min {} / max {}", fmt_ms(floor.min), fmt_ms(floor.max)),
            ),
            Row::new(
                "ratio mesh-init / floor (medians)",
                format!("{:.2}×", self.ratio()),
                format!("overhead {} per run", fmt_ms(wall.median - floor.median)),
            ),
            cpu_row,
            rss_row,
        ]
    }
}

/// A request sequence for a method text: each request in backticks, the task ID (new on
/// every run of the harness) replaced so the report stays stable.
pub(crate) fn sequence_text(task: &serde_json::Value, sequence: &[String]) -> String {
    let task_id = task["TaskARN"]
        .as_str()
        .and_then(|arn| arn.rsplit('/').next())
        .unwrap_or("<none>");
    sequence
        .iter()
        .map(|r| format!("`{}`", r.replace(task_id, "<task-id>")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `METHOD /path?query` of every Consul request since index `from` (gRPC calls are
/// `GRPC /service/Method`).
pub(crate) fn request_sequence(consul: &ConsulEmulator, from: usize) -> Vec<String> {
    consul.requests()[from..]
        .iter()
        .map(|r| {
            if r.query.is_empty() {
                format!("{} {}", r.method, r.path)
            } else {
                format!("{} {}?{}", r.method, r.path, r.query)
            }
        })
        .collect()
}

/// The floor's inputs, prepared before any clock starts.
struct Floor {
    ecs_task_url: String,
    consul: String,
    login_body: Value,
    registrations: Vec<Vec<u8>>,
    proxy_id: String,
    bootstrap: Vec<u8>,
    binary: std::path::PathBuf,
    creds: iam_login::Credentials,
    params: iam_login::LoginParams,
}

impl Floor {
    fn prepare(world: &World, binary: &Path, bootstrap: Vec<u8>) -> Result<Floor> {
        let config_text = world.config(Path::new("/unused")).to_string();
        let cfg = config::parse(&config_text).map_err(|e| anyhow!("{e}"))?;
        let task: ecs::TaskMetadata =
            serde_json::from_value(world.task.clone()).context("decode the emulated task")?;
        let regs = mesh_task::build_registrations(&cfg, &task).map_err(|e| anyhow!("{e}"))?;
        let registrations = regs
            .in_order()
            .into_iter()
            .map(serde_json::to_vec)
            .collect::<Result<Vec<_>, _>>()?;
        let meta = iam_login::login_meta(
            task.task_id().map_err(|e| anyhow!("{e}"))?,
            task.cluster(),
            &Default::default(),
        );
        Ok(Floor {
            ecs_task_url: format!("{}/task", world.ecs.uri()),
            consul: world.consul.http_addr(),
            login_body: json!({
                "AuthMethod": testkit::consul::SERVICE_AUTH_METHOD,
                "Meta": meta,
            }),
            registrations,
            proxy_id: regs.proxy_id().to_string(),
            bootstrap,
            binary: binary.to_path_buf(),
            creds: world.aws.credentials(world.aws.task_role()),
            params: iam_login::LoginParams {
                region: testkit::aws::REGION.to_string(),
                sts_endpoint: Some(world.aws.endpoint()),
                server_id_header_value: None,
                include_entity: true,
            },
        })
    }

    /// One floor run into `dir`; returns the time from the first request to the last
    /// write.
    async fn run(&self, dir: &Path) -> Result<Duration> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .context("HTTP client")?;
        let started = Instant::now();
        let task = client
            .get(&self.ecs_task_url)
            .send()
            .await?
            .error_for_status()?;
        task.bytes().await?;

        let bearer = iam_login::bearer_token(&self.creds, &self.params)
            .await
            .map_err(|e| anyhow!("bearer token: {e}"))?;
        let mut body = self.login_body.clone();
        body["BearerToken"] = json!(bearer);
        let login: Value = checked(
            client
                .post(format!("{}/v1/acl/login", self.consul))
                .json(&body)
                .send()
                .await?,
        )
        .await?
        .json()
        .await?;
        let secret = login["SecretID"]
            .as_str()
            .ok_or_else(|| anyhow!("login answer without SecretID"))?
            .to_string();
        write_file(&dir.join("service-token"), secret.as_bytes(), 0o600)?;

        checked(
            client
                .get(format!("{}/v1/acl/token/self?stale=", self.consul))
                .header("X-Consul-Token", &secret)
                .send()
                .await?,
        )
        .await?;
        for registration in &self.registrations {
            checked(
                client
                    .put(format!("{}/v1/agent/service/register", self.consul))
                    .header("X-Consul-Token", &secret)
                    .body(registration.clone())
                    .send()
                    .await?,
            )
            .await?;
        }
        checked(
            client
                .get(format!(
                    "{}/v1/agent/service/{}",
                    self.consul, self.proxy_id
                ))
                .header("X-Consul-Token", &secret)
                .send()
                .await?,
        )
        .await?
        .bytes()
        .await?;
        // Any answer will do, as for mesh-init (usually 404: no proxy-defaults).
        client
            .get(format!("{}/v1/config/proxy-defaults/global", self.consul))
            .header("X-Consul-Token", &secret)
            .send()
            .await?
            .bytes()
            .await?;
        write_file(&dir.join("envoy-bootstrap.json"), &self.bootstrap, 0o600)?;
        copy_binary(&self.binary, &dir.join("consul-ecs"))?;
        Ok(started.elapsed())
    }
}

/// `resp` when its status is a success, else an error with the path, status and body.
pub(crate) async fn checked(resp: reqwest::Response) -> Result<reqwest::Response> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let url = resp.url().path().to_string();
    let text = resp.text().await.unwrap_or_default();
    bail!("{url}: {status} {text}")
}

/// One file of the bootstrap directory written as mesh-init writes each of its files, by
/// the same function (`boundary::write_atomic`): a temporary file of `mode`, `fsync`,
/// `rename`, then an `fsync` of the directory.
pub(crate) fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    boundary::write_atomic(path, data, mode).with_context(|| format!("write {}", path.display()))
}

/// The binary copy as mesh-init makes it (`boundary::write_atomic_from`, mode 0755):
/// streamed into a temporary file, `fsync`, `rename`, `fsync` of the directory.
pub(crate) fn copy_binary(binary: &Path, dest: &Path) -> Result<()> {
    let mut source =
        fs::File::open(binary).with_context(|| format!("open {}", binary.display()))?;
    boundary::write_atomic_from(dest, &mut source, 0o755)
        .with_context(|| format!("copy {} to {}", binary.display(), dest.display()))
}
