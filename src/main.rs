//! `consul-ecs`: parse the command line, then hand over to the subcommand.

mod cli;
mod cmd;
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
    match &cli.command {
        Command::Version => cmd::version::run(),
        Command::ValidateConfig(args) => cmd::validate_config::run(args),
        Command::MeshInit(args) => match read_config(&cli) {
            Ok(cfg) => cmd::mesh_init::run(args, &cfg),
            Err(code) => code,
        },
        Command::HealthSync(args) => match read_config(&cli) {
            Ok(cfg) => cmd::health_sync::run(args, &cfg),
            Err(code) => code,
        },
        Command::EnvoyEntrypoint(args) => {
            logging::init(cli.log_level.unwrap_or(LogLevel::Info), cli.log_format);
            cmd::entrypoint::run_envoy(args)
        }
        Command::AppEntrypoint(args) => {
            logging::init(cli.log_level.unwrap_or(LogLevel::Info), cli.log_format);
            cmd::entrypoint::run_app(args)
        }
        Command::AclController(args) => {
            logging::init(cli.log_level.unwrap_or(LogLevel::Info), cli.log_format);
            cmd::acl_controller::run(args)
        }
        Command::NetDial(args) => {
            logging::init(cli.log_level.unwrap_or(LogLevel::Info), cli.log_format);
            cmd::net_dial::run(args)
        }
        Command::Doctor(args) => {
            // The list on stdout is the output; logs only say what went wrong on the way.
            logging::init(cli.log_level.unwrap_or(LogLevel::Warn), cli.log_format);
            cmd::doctor::run(args)
        }
    }
}

/// Reads `CONSUL_ECS_CONFIG_JSON` and sets up logging at the flag's level, else the
/// config's `logLevel`. An unusable config is reported (every problem, by JSON path) and
/// becomes exit code 1.
fn read_config(cli: &Cli) -> Result<config::Config, i32> {
    match config::from_env() {
        Ok(cfg) => {
            logging::init(logging::flag_or_config(cli.log_level, &cfg), cli.log_format);
            Ok(cfg)
        }
        Err(e) => {
            logging::init(cli.log_level.unwrap_or(LogLevel::Info), cli.log_format);
            tracing::error!("{}: {e}", config::CONFIG_ENV);
            Err(exit::USAGE)
        }
    }
}
