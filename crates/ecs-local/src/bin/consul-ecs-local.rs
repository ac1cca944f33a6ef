//! `consul-ecs-local`: what one ECS task on a local container engine needs besides its own
//! containers (docker/docker-compose.yml, docker/README.md).
//!
//! - `ecs-agent` plays the ECS agent: the task metadata of the compose project's task, read
//!   from the engine's API, and a task role's credentials from moto. It serves until SIGTERM
//!   or SIGINT and then until every task container has stopped, and exits 0.
//! - `consul-setup` creates the aws-iam auth methods in Consul and, with
//!   `--client-token-file`, logs in as the consul-client container does; exits 0 when done,
//!   1 when it could not, 128+N on a signal.
//!
//! Logs go to stderr in the format of consul-ecs (`--log-format text|json`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use ecs_local::consul_setup::{self, AuthSetup, ClientLogin};
use ecs_local::engine::EngineAddr;
use ecs_local::{LocalAgentOptions, TaskRoleOptions};
use task::logging::{parse_format, parse_level, LogFormat};

const EXAMPLES: &str = "\
Examples:
  # Task metadata of this compose project's task, from the engine (see docker/README.md)
  consul-ecs-local ecs-agent --engine unix:///var/run/docker.sock --listen 0.0.0.0:51679

  # ... plus a task role made in moto, its credentials at /creds
  consul-ecs-local ecs-agent --task-role-service web --aws-endpoint http://moto:5000

  # The aws-iam auth methods in a running Consul, logins replayed to moto
  CONSUL_HTTP_ADDR=http://127.0.0.1:8500 CONSUL_HTTP_TOKEN=... \\
      consul-ecs-local consul-setup --sts-endpoint http://moto:5000";

/// One ECS task on a local container engine: the ECS agent's side and the Consul set-up.
#[derive(Debug, Parser)]
#[command(name = "consul-ecs-local", version, after_help = EXAMPLES)]
struct Cli {
    /// Log level: TRACE, DEBUG, INFO, WARN or ERROR.
    #[arg(long, global = true, value_parser = parse_level, default_value = "INFO", value_name = "LEVEL")]
    log_level: config::LogLevel,
    /// Log format: text (human) or json (one object a line).
    #[arg(long, global = true, value_parser = parse_format, default_value = "text", value_name = "FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the task metadata (and task role credentials) of a compose task, read from the
    /// container engine's API: real names, statuses, exit codes and health.
    EcsAgent(EcsAgentArgs),
    /// Create the aws-iam auth methods in a running Consul (real or emulated), retrying
    /// until Consul answers; with --client-token-file also log in as the consul-client
    /// container does. Consul is reached as consul-ecs reaches it: CONSUL_HTTP_ADDR,
    /// CONSUL_HTTP_TOKEN (a token allowed to write ACLs), CONSUL_CACERT, ….
    ConsulSetup(ConsulSetupArgs),
}

#[derive(Debug, Args)]
struct EcsAgentArgs {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:51679")]
    listen: SocketAddr,
    /// The container engine's API (Docker-compatible): unix:///path or tcp://host:port.
    #[arg(
        long,
        env = "DOCKER_HOST",
        default_value = "unix:///var/run/docker.sock",
        value_parser = EngineAddr::parse
    )]
    engine: EngineAddr,
    /// The compose project whose task to serve (default: this container's project).
    #[arg(long, env = "COMPOSE_PROJECT_NAME")]
    project: Option<String>,
    /// Make a task role for this service in moto (tagged
    /// consul.hashicorp.com.service-name) and serve its credentials at /creds.
    #[arg(long, requires = "aws_endpoint")]
    task_role_service: Option<String>,
    /// moto's URL (IAM and STS), for --task-role-service.
    #[arg(long)]
    aws_endpoint: Option<String>,
    /// Longest wait after SIGTERM for the task's containers to stop.
    #[arg(long, default_value = "120", value_name = "SECONDS")]
    linger_max: u64,
}

#[derive(Debug, Args)]
struct ConsulSetupArgs {
    /// The STS endpoint Consul sends logins to (moto's URL).
    #[arg(long)]
    sts_endpoint: String,
    /// The IAM endpoint for entity details (default: the STS endpoint).
    #[arg(long)]
    iam_endpoint: Option<String>,
    /// A trusted IAM principal ARN (repeatable; default arn:aws:iam::123456789012:role/consul-ecs/*).
    #[arg(long = "bound-arn")]
    bound_arns: Vec<String>,
    /// Give up after this many seconds.
    #[arg(long, default_value = "120", value_name = "SECONDS")]
    timeout: u64,
    /// Also do what the consul-client container does with ACLs: create the client-token
    /// method (and its policy, role and rule, as the acl-controller), log in with it using
    /// the task role's credentials (the standard AWS chain) and write the token here.
    #[arg(long, requires = "metadata_uri")]
    client_token_file: Option<PathBuf>,
    /// Owner (UID:GID) of the client token file, mode 0600: the user health-sync runs as.
    #[arg(long, value_name = "UID:GID", requires = "client_token_file", value_parser = parse_owner)]
    client_token_owner: Option<(u32, u32)>,
    /// The task metadata (the login meta's task ID and cluster).
    #[arg(long, env = "ECS_CONTAINER_METADATA_URI_V4")]
    metadata_uri: Option<String>,
}

fn parse_owner(text: &str) -> Result<(u32, u32), String> {
    text.split_once(':')
        .and_then(|(u, g)| Some((u.parse().ok()?, g.parse().ok()?)))
        .ok_or_else(|| format!("{text:?}: expected UID:GID"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    task::logging::init(cli.log_level, cli.log_format);
    let (name, run): (&'static str, Box<dyn FnOnce() -> ExitCode>) = match cli.command {
        Command::EcsAgent(args) => ("ecs-agent", Box::new(|| run_agent(args))),
        Command::ConsulSetup(args) => ("consul-setup", Box::new(|| run_consul_setup(args))),
    };
    task::subcommand_span(name).in_scope(run)
}

/// Logs `err` with its causes as one line and exits 1.
fn failed(err: &dyn std::error::Error) -> ExitCode {
    tracing::error!("{}", boundary::error_chain(err));
    ExitCode::FAILURE
}

fn run_agent(args: EcsAgentArgs) -> ExitCode {
    let opts = LocalAgentOptions {
        listen: args.listen,
        engine: args.engine,
        project: args.project.filter(|p| !p.is_empty()),
        task_role: match (args.task_role_service, args.aws_endpoint) {
            (Some(service), Some(aws_endpoint)) => Some(TaskRoleOptions {
                aws_endpoint,
                service,
            }),
            _ => None,
        },
        linger_max: Duration::from_secs(args.linger_max),
        cache_for: Duration::from_millis(200),
    };
    let result = task::runtime::block_on(async {
        // Installed before the agent serves: a stop as early as that is not lost.
        let stop = task::runtime::stop_signal()?;
        ecs_local::run(opts, async {
            let name = stop.await;
            tracing::info!("{name} received");
        })
        .await
        .map_err(std::io::Error::other)
    });
    match result.and_then(|served| served) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failed(&e),
    }
}

fn run_consul_setup(args: ConsulSetupArgs) -> ExitCode {
    let consul = match consul::ClientConfig::from_env().and_then(consul::Client::new) {
        Ok(c) => c,
        Err(e) => return failed(&e),
    };
    let timeout = Duration::from_secs(args.timeout);
    let setup = AuthSetup {
        iam_endpoint: args
            .iam_endpoint
            .unwrap_or_else(|| args.sts_endpoint.clone()),
        sts_endpoint: args.sts_endpoint,
        bound_arns: args.bound_arns,
        timeout,
    };
    let login = args.client_token_file.map(|token_file| ClientLogin {
        sts_endpoint: setup.sts_endpoint.clone(),
        metadata_uri: args.metadata_uri.unwrap_or_default(),
        token_file,
        owner: args.client_token_owner,
        credentials: None,
        timeout,
    });
    let steps = async {
        consul_setup::configure_service_auth(&consul, &setup).await?;
        if let Some(login) = &login {
            consul_setup::configure_client_auth(&consul, &setup).await?;
            consul_setup::client_login(&consul, login).await?;
        }
        Ok::<(), consul_setup::SetupError>(())
    };
    let result = task::runtime::block_on(async {
        let stop = task::runtime::stop_signal()?;
        Ok::<_, std::io::Error>(tokio::select! {
            done = steps => Ok(done),
            name = stop => Err(name),
        })
    })
    .and_then(|ran| ran);
    match result {
        Ok(Ok(Ok(()))) => ExitCode::SUCCESS,
        Ok(Ok(Err(e))) => failed(&e),
        Ok(Err(signal)) => {
            tracing::warn!("{signal} received: the set-up stopped part way");
            ExitCode::from(task::runtime::exit_code_for_signal(signal) as u8)
        }
        Err(e) => failed(&e),
    }
}
