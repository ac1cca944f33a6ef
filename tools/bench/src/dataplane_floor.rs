//! The request floor of mesh-init in the dataplane layout: the same gRPC calls, HTTP
//! requests and file writes as `consul-ecs mesh-init` makes, issued back to back by a
//! minimal client in the harness process, so the dataplane row reports "wall / its request
//! floor" as the v0.6.2 row does (`mesh_init.rs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _, Result};
use consul_grpc::{ConsulGrpc, Login, Secret};
use serde_json::Value;

use crate::mesh_init::{checked, copy_binary, write_file};

/// One unary gRPC call (and one HTTP request) may take this long, as in mesh-init.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Mode of the files consul-dataplane reads, as mesh-init writes them.
const READ_ONLY: u32 = 0o444;

/// The floor's inputs, prepared before any clock starts.
pub struct DataplaneFloor {
    ecs_task_url: String,
    grpc: SocketAddr,
    consul: String,
    auth_method: String,
    meta: std::collections::BTreeMap<String, String>,
    /// The catalog registrations, serialised: the service, then the proxy.
    registrations: Vec<Vec<u8>>,
    /// The warm-up run's `consul-dataplane.json` (same size and shape; the bearer token in
    /// it is stale, which no one reads here).
    document: Vec<u8>,
    binary: PathBuf,
    creds: iam_login::Credentials,
    params: iam_login::LoginParams,
}

/// What the floor's inputs are made from: the dataplane world's parts.
pub struct FloorInputs<'a> {
    /// The v0.10 config mesh-init runs with (its bootstrap directory is not used).
    pub config: &'a Value,
    /// The task the metadata emulator serves.
    pub task: &'a Value,
    /// The task metadata base URI.
    pub ecs_uri: String,
    /// The emulator's gRPC address.
    pub grpc: SocketAddr,
    /// The emulator's HTTP address (`http://host:port`).
    pub consul: String,
    /// moto, with the task role's credentials.
    pub aws: &'a testkit::aws::AwsWorld,
    /// The binary mesh-init copies.
    pub binary: &'a Path,
    /// The warm-up run's `consul-dataplane.json`.
    pub document: Vec<u8>,
}

impl DataplaneFloor {
    /// Everything the floor needs that mesh-init computes without I/O: the registrations
    /// (`dataplane::build_registrations` for this config and task), the login's meta and
    /// the bearer token's parameters.
    pub fn prepare(inputs: FloorInputs<'_>) -> Result<DataplaneFloor> {
        let cfg = config::dataplane::parse(&inputs.config.to_string())
            .map_err(|e| anyhow!("the dataplane config: {e}"))?;
        let task: ecs::TaskMetadata =
            serde_json::from_value(inputs.task.clone()).context("decode the emulated task")?;
        let regs = dataplane::build_registrations(&cfg, &task, Some(testkit::aws::REGION))
            .map_err(|e| anyhow!("{e}"))?;
        let registrations = regs
            .in_order()
            .iter()
            .map(serde_json::to_vec)
            .collect::<Result<Vec<_>, _>>()?;
        let task_id = task.task_id().map_err(|e| anyhow!("{e}"))?;
        Ok(DataplaneFloor {
            ecs_task_url: format!("{}/task", inputs.ecs_uri),
            grpc: inputs.grpc,
            consul: inputs.consul,
            auth_method: cfg.login_method().to_owned(),
            // The cluster meta is the synthetic node's name (the cluster ARN), as mesh-init
            // sends it in this layout.
            meta: iam_login::login_meta(task_id, regs.node(), &cfg.login_meta()),
            registrations,
            document: inputs.document,
            binary: inputs.binary.to_path_buf(),
            creds: inputs.aws.credentials(inputs.aws.task_role()),
            params: iam_login::LoginParams {
                region: task.region().map_err(|e| anyhow!("{e}"))?.to_owned(),
                sts_endpoint: cfg.sts_endpoint().map(str::to_owned),
                server_id_header_value: cfg.server_id_header_value().map(str::to_owned),
                include_entity: cfg.include_entity(),
            },
        })
    }

    /// One floor run into `dir`: the task metadata `GET`; the gRPC connection, the bearer
    /// token (`sts:GetCallerIdentity` at moto, signed) and `ACLService/Login`; the token read
    /// back (`GET /v1/acl/token/self?stale=`) while `WatchServers` opens beside it, as
    /// mesh-init's watch does; both catalog registrations; `consul-dataplane.json` and the
    /// binary copy; `ACLService/Logout`. Returns the time from the first request to the
    /// logout's answer.
    pub async fn run(&self, dir: &Path) -> Result<Duration> {
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .context("HTTP client")?;
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{}", self.grpc))
            .context("gRPC endpoint")?
            .tcp_nodelay(true);
        let started = Instant::now();
        http.get(&self.ecs_task_url)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;

        let channel = endpoint.connect().await.context("gRPC connect")?;
        let grpc = ConsulGrpc::new(channel, self.grpc, CALL_TIMEOUT);
        let bearer = iam_login::bearer_token(&self.creds, &self.params)
            .await
            .map_err(|e| anyhow!("bearer token: {e}"))?;
        let token = grpc
            .login(&Login {
                auth_method: self.auth_method.clone(),
                bearer_token: Secret::new(bearer),
                meta: self.meta.clone(),
                ..Login::default()
            })
            .await
            .map_err(|e| anyhow!("gRPC login: {e}"))?
            .secret_id;

        // mesh-init's server watch runs beside the rest until the end: so does this one.
        let watch = {
            let grpc = grpc.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let mut stream = grpc.watch_servers(Some(&token)).await?;
                while stream.next().await?.is_some() {}
                Ok::<_, consul_grpc::GrpcError>(())
            })
        };
        checked(
            http.get(format!("{}/v1/acl/token/self?stale=", self.consul))
                .header("X-Consul-Token", token.expose())
                .send()
                .await?,
        )
        .await?;
        for registration in &self.registrations {
            checked(
                http.put(format!("{}/v1/catalog/register", self.consul))
                    .header("X-Consul-Token", token.expose())
                    .body(registration.clone())
                    .send()
                    .await?,
            )
            .await?;
        }
        let document = self.document.clone();
        let document_path = dir.join(config::dataplane::DATAPLANE_CONFIG_FILE);
        write_file(&document_path, &document, READ_ONLY)?;
        copy_binary(&self.binary, &dir.join(config::BINARY_COPY_FILE))?;
        grpc.logout(&token, "")
            .await
            .map_err(|e| anyhow!("gRPC logout: {e}"))?;
        let elapsed = started.elapsed();
        watch.abort();
        Ok(elapsed)
    }
}
