//! `consul-ecs`: parse the command line, set up logging and the subcommand's span, then hand
//! over to the subcommand's adapter in `cmd`.

mod cli;
mod cmd;
mod config_document;
mod exit;
mod logging;

use clap::{CommandFactory, FromArgMatches};

use cli::{Cli, Command, LogLevel};

fn main() {
    std::process::exit(run(std::env::args_os().collect()));
}

fn run(args: Vec<std::ffi::OsString>) -> i32 {
    // Go's flag package lets a repeated flag override the earlier one; task definitions
    // may rely on that (a base command plus an appended override).
    let mut command = Cli::command()
        .args_override_self(true)
        .mut_subcommands(|sub| sub.args_override_self(true));
    command.build();
    let args = cli::go_flags::normalize(args, &command);
    let cli = match command
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return code;
        }
    };
    let info = LogLevel::Info;
    match &cli.command {
        Command::Version => plain(&cli, info, "version", cmd::version::run),
        Command::ValidateConfig(args) => plain(&cli, info, "validate-config", || {
            cmd::validate_config::run(args)
        }),
        Command::MigrateConfig(args) => plain(&cli, info, "migrate-config", || {
            cmd::migrate_config::run(args)
        }),
        Command::MeshInit(args) => {
            with_loaded_config(&cli, "mesh-init", |cfg| cmd::mesh_init::run(args, cfg))
        }
        Command::HealthSync(args) => {
            with_loaded_config(&cli, "health-sync", |cfg| cmd::health_sync::run(args, cfg))
        }
        Command::EnvoyEntrypoint(args) => plain(&cli, info, "envoy-entrypoint", || {
            cmd::entrypoint::run_envoy(args)
        }),
        Command::AppEntrypoint(args) => plain(&cli, info, "app-entrypoint", || {
            cmd::entrypoint::run_app(args)
        }),
        Command::AclController(args) => plain(&cli, info, "acl-controller", || {
            cmd::acl_controller::run(args)
        }),
        Command::Controller => with_dataplane_config(&cli, "controller", cmd::controller::run),
        Command::NetDial(args) => plain(&cli, info, "net-dial", || cmd::net_dial::run(args)),
        // The list on stdout is the output; logs only say what went wrong on the way.
        Command::Doctor(args) => plain(&cli, LogLevel::Warn, "doctor", || cmd::doctor::run(args)),
    }
}

/// Sets up logging at the flag's level (else `default`) and runs `body` in the
/// subcommand's span.
fn plain(cli: &Cli, default: LogLevel, name: &'static str, body: impl FnOnce() -> i32) -> i32 {
    logging::init(cli.log_level.unwrap_or(default), cli.log_format);
    task::subcommand_span(name).in_scope(body)
}

/// Reads `CONSUL_ECS_CONFIG_JSON` (either layout: the config's keys choose), sets up
/// logging at the flag's level, else the config's `logLevel`, and runs `body` in the
/// subcommand's span. An unusable config is reported (every problem, by JSON path) and
/// becomes exit code 1.
fn with_loaded_config(
    cli: &Cli,
    name: &'static str,
    body: impl FnOnce(config::LoadedConfig) -> i32,
) -> i32 {
    let level = |loaded: &config::LoadedConfig| match loaded {
        config::LoadedConfig::Agent(cfg) => cfg.log_level(),
        config::LoadedConfig::Dataplane(cfg) => cfg.log_level(),
    };
    with_config_of(cli, name, config::load_from_env(), level, body)
}

fn with_config_of<C>(
    cli: &Cli,
    name: &'static str,
    loaded: Result<C, config::ConfigError>,
    config_level: impl Fn(&C) -> LogLevel,
    body: impl FnOnce(C) -> i32,
) -> i32 {
    match loaded {
        Ok(cfg) => {
            logging::init(cli.log_level.unwrap_or(config_level(&cfg)), cli.log_format);
            task::subcommand_span(name).in_scope(|| body(cfg))
        }
        Err(e) => plain(cli, LogLevel::Info, name, || {
            tracing::error!("{}: {e}", config::CONFIG_ENV);
            exit::USAGE
        }),
    }
}

/// [`with_loaded_config`] for a subcommand that reads only the v0.10 (Consul Dataplane) layout: a
/// v0.6.2 config is refused as unusable (exit code 1), saying so.
fn with_dataplane_config(
    cli: &Cli,
    name: &'static str,
    body: impl FnOnce(config::dataplane::Config) -> i32,
) -> i32 {
    match config::load_from_env() {
        Ok(config::LoadedConfig::Dataplane(cfg)) => {
            logging::init(cli.log_level.unwrap_or(cfg.log_level()), cli.log_format);
            task::subcommand_span(name).in_scope(|| body(cfg))
        }
        Ok(config::LoadedConfig::Agent(_)) => plain(cli, LogLevel::Info, name, || {
            tracing::error!(
                "{}: {name} reads a v0.10 (Consul Dataplane) config, one with consulServers; \
                 this is a v0.6.2 config (its controller is acl-controller)",
                config::CONFIG_ENV
            );
            exit::USAGE
        }),
        Err(e) => plain(cli, LogLevel::Info, name, || {
            tracing::error!("{}: {e}", config::CONFIG_ENV);
            exit::USAGE
        }),
    }
}
