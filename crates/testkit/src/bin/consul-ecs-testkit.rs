//! `consul-ecs-testkit`: the test emulators as a program, for the demo, the stand-in Consul
//! of the compose files and scripts. Each subcommand runs one emulator in the foreground,
//! prints one line saying where it listens, and exits 0 on SIGTERM or SIGINT. (The local
//! ECS agent and the Consul set-up of the compose files are `consul-ecs-local`.)

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use testkit::consul::{ConsulEmulator, EmulatorOptions, IamAuthOptions};
use testkit::consul_grpc::{ConsulGrpcServer, GrpcServerOptions};
use testkit::ecs_metadata::{ec2_task, fargate_task, EcsMetadataEmulator};

const EXAMPLES: &str = "\
Examples:
  # Consul with ACLs and a known management token
  consul-ecs-testkit consul --port 8500 --acls --management-token 3f1c0c5e-1b2a-4c9e-8f00-5a6b7c8d9e0f

  # ... plus the aws-iam auth methods (service and client tokens) backed by moto
  consul-ecs-testkit consul --acls --management-token T \\
      --iam-auth --sts-endpoint http://127.0.0.1:5000 --client-auth

  # ECS task metadata for a task with three containers; flip health from a script
  consul-ecs-testkit ecs-metadata --port 9000 --family web --containers app,sidecar-proxy,consul-ecs-mesh-init
  curl -X PUT -d '{\"status\":\"UNHEALTHY\"}' http://127.0.0.1:9000/_control/containers/app/health";

/// Test emulators for consul-ecs: a Consul HTTP API and an ECS task metadata endpoint.
#[derive(Debug, Parser)]
#[command(name = "consul-ecs-testkit", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the Consul emulator (agent and ACL APIs, aws-iam logins replayed to STS/IAM).
    Consul(ConsulArgs),
    /// Run the ECS task metadata v4 emulator (control API under /_control).
    EcsMetadata(EcsArgs),
}

#[derive(Debug, Args)]
struct ConsulArgs {
    /// Port (default: a free one).
    #[arg(long)]
    port: Option<u16>,
    /// The address to listen on, as Consul's `-client`: 0.0.0.0 in a container whose port
    /// the engine publishes.
    #[arg(long, default_value = "127.0.0.1")]
    client: std::net::IpAddr,
    /// Enable the ACL system (default policy deny).
    #[arg(long)]
    acls: bool,
    /// Secret of the management token (default: random and never printed).
    #[arg(long, env = "CONSUL_TESTKIT_MANAGEMENT_TOKEN", hide_env_values = true)]
    management_token: Option<String>,
    /// Pretend to be Consul Enterprise (partitions, namespaces).
    #[arg(long)]
    enterprise: bool,
    /// Datacenter name.
    #[arg(long, default_value = "dc1")]
    datacenter: String,
    /// Create the `iam-ecs-service-token` aws-iam auth method and its binding rule
    /// (service identity from the `consul.hashicorp.com.service-name` role tag). Needs --acls.
    #[arg(long, requires = "sts_endpoint", requires = "acls")]
    iam_auth: bool,
    /// Also create what the acl-controller makes for client tokens
    /// (`iam-ecs-client-token`, role `consul-ecs-client-role`). Needs --acls.
    #[arg(long, requires = "sts_endpoint", requires = "acls")]
    client_auth: bool,
    /// The STS endpoint logins are replayed to (moto's URL).
    #[arg(long)]
    sts_endpoint: Option<String>,
    /// The IAM endpoint for entity details (default: the STS endpoint).
    #[arg(long)]
    iam_endpoint: Option<String>,
    /// A trusted IAM principal ARN (repeatable; default arn:aws:iam::123456789012:role/consul-ecs/*).
    #[arg(long = "bound-arn")]
    bound_arns: Vec<String>,
    /// Required `X-Consul-IAM-ServerID` value for the service-token method.
    #[arg(long)]
    server_id_header: Option<String>,
    /// The official Consul image's configuration variable: a JSON agent configuration of
    /// which `datacenter`, `acl.enabled` and `acl.tokens.initial_management` (or `master`)
    /// are used, so one compose service runs either image. Flags win over it.
    #[arg(long, env = "CONSUL_LOCAL_CONFIG", hide_env_values = true)]
    consul_local_config: Option<String>,
    /// Print every request (method, path, status; never a token) as it is answered.
    #[arg(long, env = "CONSUL_TESTKIT_LOG_REQUESTS")]
    log_requests: bool,
    /// Also serve Consul's public gRPC services (ACL login/logout, WatchServers; plain
    /// HTTP/2) on this port of 127.0.0.1 (0: a free one); the ready line then ends with
    /// `(gRPC 127.0.0.1:P)`.
    #[arg(long)]
    grpc_port: Option<u16>,
}

#[derive(Debug, Args)]
struct EcsArgs {
    /// Port on 127.0.0.1 (default: a free one).
    #[arg(long)]
    port: Option<u16>,
    /// Task family.
    #[arg(long, default_value = "web")]
    family: String,
    /// Container names, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "app,sidecar-proxy,consul-client,consul-ecs-mesh-init,consul-ecs-health-sync"
    )]
    containers: Vec<String>,
    /// An EC2 task (awsvpc, with the pause container) instead of a Fargate one.
    #[arg(long)]
    ec2: bool,
    /// Serve this task document (JSON) instead of a generated one.
    #[arg(long, conflicts_with_all = ["family", "containers", "ec2"])]
    task_file: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Consul(args) => run_consul(args),
        Command::EcsMetadata(args) => run_ecs_metadata(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("consul-ecs-testkit: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run_consul(args: ConsulArgs) -> Result<(), String> {
    let local = match &args.consul_local_config {
        Some(text) => LocalConfig::parse(text)?,
        None => LocalConfig::default(),
    };
    let consul = ConsulEmulator::try_start(EmulatorOptions {
        acls_enabled: args.acls || local.acls,
        datacenter: local
            .datacenter
            .filter(|_| args.datacenter == "dc1")
            .unwrap_or(args.datacenter),
        enterprise: args.enterprise,
        port: args.port,
        client_addr: args.client,
        management_token: args.management_token.or(local.management_token),
        ..EmulatorOptions::default()
    })
    .map_err(|e| e.to_string())?;
    if let Some(sts) = &args.sts_endpoint {
        let iam = args.iam_endpoint.as_deref().unwrap_or(sts);
        if args.iam_auth {
            let opts = IamAuthOptions {
                server_id_header: args.server_id_header.clone(),
                bound_arns: args.bound_arns.clone(),
                ..IamAuthOptions::default()
            };
            consul
                .try_configure_iam_auth(sts, iam, &opts)
                .map_err(|e| format!("configure the service auth method: {e}"))?;
        }
        if args.client_auth {
            let bound = if args.bound_arns.is_empty() {
                vec![testkit::consul::default_bound_arn()]
            } else {
                args.bound_arns.clone()
            };
            consul
                .try_configure_client_auth(sts, iam, &bound)
                .map_err(|e| format!("configure the client auth method: {e}"))?;
        }
    }
    let grpc = args
        .grpc_port
        .map(|port| {
            let opts = GrpcServerOptions {
                port,
                ..GrpcServerOptions::default()
            };
            ConsulGrpcServer::start(&consul, opts)
                .map_err(|e| format!("gRPC server on 127.0.0.1:{port}: {e}"))
        })
        .transpose()?;
    let signals = StopSignals::install()?;
    match &grpc {
        None => println!("consul emulator listening on {}", consul.http_addr()),
        Some(grpc) => println!(
            "consul emulator listening on {} (gRPC {})",
            consul.http_addr(),
            grpc.addr()
        ),
    }
    let consul = std::sync::Arc::new(consul);
    let printer = args.log_requests.then(|| {
        let consul = consul.clone();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut printed = 0;
            loop {
                let stopping = stop_rx.recv_timeout(Duration::from_millis(200)).is_ok();
                let (requests, seen) = consul.requests_after(printed);
                for r in &requests {
                    println!(
                        "{} request: {r}",
                        testkit::time::rfc3339_millis(std::time::SystemTime::now())
                    );
                }
                printed = seen;
                if stopping {
                    break;
                }
            }
        });
        (stop_tx, thread)
    });
    let (_keep, never) = tokio::sync::oneshot::channel::<()>();
    signals.wait(never);
    if let Some((stop, thread)) = printer {
        let _ = stop.send(());
        let _ = thread.join();
    }
    drop(consul);
    Ok(())
}

/// What the emulator takes from `CONSUL_LOCAL_CONFIG`.
#[derive(Debug, Default)]
struct LocalConfig {
    acls: bool,
    management_token: Option<String>,
    datacenter: Option<String>,
}

impl LocalConfig {
    fn parse(text: &str) -> Result<LocalConfig, String> {
        if text.trim().is_empty() {
            return Ok(LocalConfig::default());
        }
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("CONSUL_LOCAL_CONFIG is not JSON: {e}"))?;
        let acl = &v["acl"];
        if let Some(policy) = acl["default_policy"].as_str() {
            if policy != "deny" {
                return Err(format!(
                    "CONSUL_LOCAL_CONFIG: acl.default_policy {policy:?}: the emulator only does \"deny\""
                ));
            }
        }
        let tokens = &acl["tokens"];
        Ok(LocalConfig {
            acls: acl["enabled"].as_bool().unwrap_or(false),
            management_token: tokens["initial_management"]
                .as_str()
                .or_else(|| tokens["master"].as_str())
                .map(str::to_string),
            datacenter: v["datacenter"].as_str().map(str::to_string),
        })
    }
}

fn run_ecs_metadata(args: EcsArgs) -> Result<(), String> {
    let task = match &args.task_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("read {}: {e}", path.display()))?;
            serde_json::from_str(&text)
                .map_err(|e| format!("{} is not a JSON task document: {e}", path.display()))?
        }
        None => {
            let names: Vec<&str> = args.containers.iter().map(String::as_str).collect();
            if args.ec2 {
                ec2_task(&args.family, &names)
            } else {
                fargate_task(&args.family, &names)
            }
        }
    };
    let ecs = EcsMetadataEmulator::try_start_on(args.port.unwrap_or(0), task)
        .map_err(|e| format!("start the ECS metadata emulator: {e}"))?;
    let signals = StopSignals::install()?;
    println!("ECS_CONTAINER_METADATA_URI_V4={}", ecs.uri());
    // `POST /_control/shutdown` ends the server too: then exit as on a signal.
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        ecs.wait();
        let _ = done_tx.send(());
    });
    signals.wait(done_rx);
    Ok(())
}

/// SIGTERM and SIGINT listeners. Installed before the ready line is printed: a script that
/// signals us as soon as it reads that line must get a clean exit, not the default action.
struct StopSignals {
    runtime: tokio::runtime::Runtime,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> Result<StopSignals, String> {
        use tokio::signal::unix::{signal, SignalKind};
        // The emulators run on threads of their own; this small runtime only listens.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("start the signal runtime: {e}"))?;
        let (term, int) = runtime.block_on(async {
            let term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM: {e}"))?;
            let int = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT: {e}"))?;
            Ok::<_, String>((term, int))
        })?;
        Ok(StopSignals { runtime, term, int })
    }

    /// Blocks until SIGTERM, SIGINT or `done` fires.
    fn wait(self, done: tokio::sync::oneshot::Receiver<()>) {
        let StopSignals {
            runtime,
            mut term,
            mut int,
        } = self;
        runtime.block_on(async {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
                _ = done => {}
            }
        });
    }
}
