//! Command-line interface: the clap model of every subcommand and its flags.

pub mod duration;
pub mod go_flags;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `consul-ecs`: joins Amazon ECS tasks to a Consul service mesh.
#[derive(Debug, Parser)]
#[command(
    name = "consul-ecs",
    version,
    about = "Joins Amazon ECS tasks to a Consul service mesh (drop-in for consul-ecs v0.6.x).",
    after_help = "Flags may also be written Go-style with one dash: -log-level DEBUG.\n\
                  Exit codes: 0 success, 1 usage or configuration error, 2 runtime failure\n\
                  (the entrypoints exit with their child's code)."
)]
pub struct Cli {
    /// Log level: TRACE, DEBUG, INFO, WARN or ERROR. Default INFO, or the config's `logLevel`
    /// for the subcommands that read the config.
    #[arg(
        long,
        global = true,
        value_parser = log_level_parser(),
        ignore_case = true,
        value_name = "LEVEL"
    )]
    pub log_level: Option<LogLevel>,

    /// Log format: text (human) or json (one object a line).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the version.
    #[command(after_help = "Example:\n  consul-ecs version")]
    Version,

    /// Check a consul-ecs config offline; print every problem with its JSON path.
    #[command(
        after_help = "Example:\n  consul-ecs validate-config -config-file task-config.json\n\n\
                            Without -config-file the document is read from CONSUL_ECS_CONFIG_JSON.\n\
                            Prints OK and exits 0, or one `path: problem` line per error and exits 1."
    )]
    ValidateConfig(ValidateConfigArgs),

    /// Write the v0.10 (Consul Dataplane) equivalent of a v0.6.2 config; list what changed.
    #[command(
        after_help = "Example:\n  consul-ecs migrate-config task-config.json > task-config-v0.10.json\n\n\
                            Without a file the document is read from CONSUL_ECS_CONFIG_JSON. The v0.10\n\
                            config goes to stdout; stderr lists, by JSON path, what changed meaning\n\
                            (changed:) and what has no equivalent (decide:). Exits 0 when everything\n\
                            carried over, 2 when something needs a decision, 1 when the input is unusable."
    )]
    MigrateConfig(MigrateConfigArgs),

    /// Register this task's service and sidecar (or gateway) and write the Envoy bootstrap.
    #[command(
        after_help = "Example (the consul-ecs-mesh-init container's command):\n  \
                            CONSUL_ECS_CONFIG_JSON='{\"bootstrapDir\":\"/consul\",\"service\":{\"port\":8080}}' consul-ecs mesh-init\n\n\
                            Reads CONSUL_ECS_CONFIG_JSON and ECS_CONTAINER_METADATA_URI_V4; with consulLogin.enabled\n\
                            logs in to the aws-iam auth method. Writes <bootstrapDir>/service-token (0600),\n\
                            envoy-bootstrap.json and a copy of itself (consul-ecs) into bootstrapDir."
    )]
    MeshInit(MeshInitArgs),

    /// Copy ECS container health into Consul TTL checks; on SIGTERM mark them critical and log out.
    #[command(
        after_help = "Example (the consul-ecs-health-sync container's command):\n  \
                            consul-ecs health-sync\n\n\
                            Every second the task metadata is read and each healthSyncContainers check is set\n\
                            passing (HEALTHY) or critical, writing only what changed. On SIGTERM every check is\n\
                            set critical and <bootstrapDir>/service-token and client-token are logged out;\n\
                            every step is attempted and the exit code is 2 if any failed."
    )]
    HealthSync(HealthSyncArgs),

    /// Run Envoy; on SIGTERM keep it serving until every application container has stopped.
    #[command(
        after_help = "Example (the sidecar-proxy container's entryPoint + command):\n  \
                            consul-ecs envoy-entrypoint envoy --config-path /consul/envoy-bootstrap.json\n\n\
                            Signals other than SIGTERM are passed to Envoy. On SIGTERM the task metadata\n\
                            (ECS_CONTAINER_METADATA_URI_V4) is polled until every application container is\n\
                            STOPPED; then Envoy's process group gets SIGTERM. Exits with Envoy's code."
    )]
    EnvoyEntrypoint(EnvoyEntrypointArgs),

    /// Run the application; on SIGTERM wait the shutdown delay before passing it on.
    #[command(after_help = "Example (an application container's entryPoint):\n  \
                            consul-ecs app-entrypoint -shutdown-delay 10s /app/server --port 8080\n\n\
                            Exits with the application's code (128+N when signal N killed it).")]
    AppEntrypoint(AppEntrypointArgs),

    /// Exit 0 if a TCP connection to HOST:PORT opens, 2 if not (a probe for images without nc).
    #[command(
        after_help = "Example (the sidecar-proxy container's ECS health check):\n  \
                            consul-ecs net-dial 127.0.0.1:20000"
    )]
    NetDial(NetDialArgs),

    /// Set up the aws-iam auth methods and policies, and delete the tokens of stopped tasks.
    #[command(
        after_help = "Example (the command of the acl-controller ECS service, one per cluster):\n  \
                            CONSUL_HTTP_ADDR=https://consul.example.com:8501 CONSUL_HTTP_TOKEN_FILE=/run/secrets/mgmt \\\n  \
                            consul-ecs acl-controller -iam-role-path /consul-ecs/\n\n\
                            Reads the cluster from ECS_CONTAINER_METADATA_URI_V4, AWS credentials and region the\n\
                            usual way (AWS_ENDPOINT_URL_ECS overrides the ECS endpoint). Runs until SIGTERM or\n\
                            SIGINT, then exits 0."
    )]
    AclController(AclControllerArgs),

    /// The v0.10 controller: gateway roles, the auth method and its binding rules, the cluster's
    /// node; deletes the tokens and services of stopped tasks.
    #[command(
        after_help = "Example (the command of the consul-ecs-controller ECS service, one per cluster):\n  \
                            CONSUL_ECS_CONFIG_JSON='{\"bootstrapDir\":\"/consul\",\"consulServers\":{\"hosts\":\"consul.example.com\"},\n  \
                            \"controller\":{\"iamRolePath\":\"/consul-ecs/\"}}' CONSUL_HTTP_TOKEN=… consul-ecs controller\n\n\
                            Configured by the controller and consulServers blocks of a v0.10 CONSUL_ECS_CONFIG_JSON;\n\
                            the token from CONSUL_HTTP_TOKEN, the CAs from CONSUL_HTTPS_CACERT_PEM and\n\
                            CONSUL_GRPC_CACERT_PEM. Reads the cluster from ECS_CONTAINER_METADATA_URI_V4, AWS\n\
                            credentials and region the usual way. Runs until SIGTERM or SIGINT, then exits 0;\n\
                            an unusable config exits 1."
    )]
    Controller,

    /// Check, from inside a task, what mesh-init needs: config, metadata, AWS role, Consul, login.
    #[command(
        after_help = "Example (in a running task, e.g. with ECS Exec into the health-sync container):\n  \
                            consul-ecs doctor\n\n\
                            Reads CONSUL_ECS_CONFIG_JSON and the task's environment as mesh-init does and prints one\n\
                            ok/FAIL/skip line per check, with a hint under each failure: the config is valid, the\n\
                            task metadata is reachable, the AWS credentials are a role, the role's path and tags fit\n\
                            the auth method (path /consul-ecs/, consul.hashicorp.com.service-name = the service),\n\
                            the Consul servers and the local agent answer, and a login works (its token is logged\n\
                            out at once). Exits 0 when nothing failed, 2 when a check failed, 1 when the config\n\
                            cannot be used."
    )]
    Doctor(DoctorArgs),
}

/// Flags of `doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Give each check at most this long (Go duration).
    #[arg(long, default_value = "10s", value_parser = duration::parse_go_duration, value_name = "DURATION")]
    pub timeout: Duration,
}

/// Flags of `acl-controller`.
#[derive(Debug, Args)]
pub struct AclControllerArgs {
    /// IAM path of the task roles the auth methods trust (`/` = every role of the account).
    #[arg(long, default_value = "/consul-ecs/", value_name = "PATH")]
    pub iam_role_path: String,

    /// Manage an admin partition and its namespaces (Consul Enterprise).
    #[arg(long)]
    pub partitions_enabled: bool,

    /// The admin partition to manage (needs -partitions-enabled; default `default`).
    #[arg(long, value_name = "NAME")]
    pub partition: Option<String>,

    /// Time between reconcile rounds (Go duration).
    #[arg(long, default_value = "10s", value_parser = duration::parse_go_duration, value_name = "DURATION")]
    pub reconcile_interval: Duration,
}

/// Flags of `validate-config`.
#[derive(Debug, Args)]
pub struct ValidateConfigArgs {
    /// Read the config from this file instead of CONSUL_ECS_CONFIG_JSON.
    #[arg(long, value_name = "PATH")]
    pub config_file: Option<PathBuf>,
}

/// Flags of `migrate-config`.
#[derive(Debug, Args)]
pub struct MigrateConfigArgs {
    /// Read the v0.6.2 config from this file instead of CONSUL_ECS_CONFIG_JSON.
    #[arg(long, value_name = "PATH", conflicts_with = "file")]
    pub config_file: Option<PathBuf>,

    /// The v0.6.2 config file (the same as -config-file).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// Flags of `net-dial`.
#[derive(Debug, Args)]
pub struct NetDialArgs {
    /// Give up after this long (Go duration, e.g. 3s), so the probe never hangs.
    #[arg(long, default_value = "3s", value_parser = duration::parse_go_duration, value_name = "DURATION")]
    pub timeout: Duration,

    /// The address to dial, HOST:PORT. Exactly one; `-timeout` may come before or after it.
    #[arg(value_name = "HOST:PORT", num_args = 0..)]
    pub target: Vec<String>,
}

/// Flags of `mesh-init`.
#[derive(Debug, Args)]
pub struct MeshInitArgs {
    /// Give up logging in after this long (Go duration). v0.6.2 retried forever.
    #[arg(long, default_value = "60s", value_parser = duration::parse_go_duration, value_name = "DURATION")]
    pub login_timeout: Duration,

    /// Give up registering with the local agent (v0.10 layout: connecting to the servers,
    /// and registering in their catalog) after this long (Go duration).
    #[arg(long, default_value = "2m", value_parser = duration::parse_go_duration, value_name = "DURATION")]
    pub register_timeout: Duration,

    /// v0.10 layout: the resolver configuration that Consul DNS
    /// (`transparentProxy.consulDNS`) goes into.
    #[arg(long, default_value = "/etc/resolv.conf", value_name = "PATH")]
    pub resolv_conf: std::path::PathBuf,

    /// v0.10 layout: the iptables program the transparent proxy's rules are applied with.
    #[arg(long, default_value = "iptables", value_name = "PROGRAM")]
    pub iptables: std::ffi::OsString,
}

/// Flags of `health-sync`.
#[derive(Debug, Args)]
pub struct HealthSyncArgs {
    /// How often to read the task metadata (Go duration).
    #[arg(long, default_value = "1s", value_parser = duration::parse_go_duration, value_name = "DURATION")]
    pub poll_interval: Duration,

    /// How often to compare Consul's check statuses with the ones written, and write again
    /// those Consul lost (e.g. after an agent restart). One read; no writes while they agree.
    #[arg(long, default_value = "30s", value_parser = duration::parse_go_duration, value_name = "DURATION")]
    pub reassert_interval: Duration,

    /// The whole shutdown (checks critical, both tokens logged out, in parallel) ends within
    /// this; keep it under the container's stop timeout (ECS: 30s by default).
    #[arg(long, default_value = "10s", value_parser = duration::parse_go_duration, value_name = "DURATION")]
    pub shutdown_timeout: Duration,
}

/// Flags of `envoy-entrypoint`.
#[derive(Debug, Args)]
pub struct EnvoyEntrypointArgs {
    /// How often to read the task metadata after SIGTERM (Go duration).
    #[arg(long, default_value = "100ms", value_parser = duration::parse_go_duration, value_name = "DURATION")]
    pub poll_interval: Duration,

    /// The Envoy command line: program and arguments.
    #[arg(value_name = "COMMAND", required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<std::ffi::OsString>,
}

/// Flags of `app-entrypoint`.
#[derive(Debug, Args)]
pub struct AppEntrypointArgs {
    /// How long to wait after SIGTERM before passing it on (Go duration, e.g. 10s).
    /// 0 passes it on at once.
    #[arg(long, default_value = "0s", value_parser = duration::parse_go_duration, value_name = "DURATION")]
    pub shutdown_delay: Duration,

    /// The application command line: program and arguments.
    #[arg(value_name = "COMMAND", required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<std::ffi::OsString>,
}

/// The config's log levels (one type for `logLevel` and `-log-level`).
pub use config::LogLevel;

/// `-log-level`: the names the config's `logLevel` takes, in any case.
fn log_level_parser() -> impl clap::builder::TypedValueParser<Value = LogLevel> {
    use clap::builder::TypedValueParser as _;
    use task::logging::{parse_level, LEVELS};
    clap::builder::PossibleValuesParser::new(LEVELS.map(LogLevel::as_str))
        .map(|name| parse_level(&name).unwrap_or_default())
}

/// Log output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}
