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
    let mut command = Cli::command();
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
        Command::EnvoyEntrypoint(args) => {
            logging::init(cli.log_level.unwrap_or(LogLevel::Info), cli.log_format);
            cmd::entrypoint::run_envoy(args)
        }
        Command::AppEntrypoint(args) => {
            logging::init(cli.log_level.unwrap_or(LogLevel::Info), cli.log_format);
            cmd::entrypoint::run_app(args)
        }
        Command::NetDial(args) => {
            logging::init(cli.log_level.unwrap_or(LogLevel::Info), cli.log_format);
            cmd::net_dial::run(args)
        }
    }
}
