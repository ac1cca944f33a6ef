//! `envoy-entrypoint` and `app-entrypoint`: adapters over `task::entrypoint`. Every line
//! they print goes through `tracing`, so `-log-format json` makes all of it JSON, the last,
//! fatal one included.

use task::entrypoint::Ended;

use crate::cli::{AppEntrypointArgs, EnvoyEntrypointArgs};
use crate::exit;

/// `envoy-entrypoint`: on SIGTERM, hold Envoy until the application containers stop.
pub fn run_envoy(args: &EnvoyEntrypointArgs) -> i32 {
    super::block_on(async {
        exit_code(task::entrypoint::run_envoy(&args.command, args.poll_interval).await)
    })
}

/// `app-entrypoint`: on SIGTERM, wait the shutdown delay, then pass it on.
pub fn run_app(args: &AppEntrypointArgs) -> i32 {
    super::block_on(async {
        exit_code(task::entrypoint::run_app(&args.command, args.shutdown_delay).await)
    })
}

fn exit_code(ended: Ended) -> i32 {
    match ended {
        Ended::Code(code) => code,
        Ended::NoCommand => exit::USAGE,
        Ended::Failed => exit::RUNTIME,
    }
}
