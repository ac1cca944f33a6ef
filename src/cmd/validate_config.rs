//! `consul-ecs validate-config [-config-file PATH]`: check a config offline. The verdict
//! (`OK`, or `source: problem` lines) is the subcommand's output on stdout; a file that
//! cannot be read is an error in the log.

use bounded_read::Links;

use crate::cli::ValidateConfigArgs;
use crate::exit;
use crate::logging::output;

/// Largest config file read (the largest upstream fixture is under 4 KiB).
const CONFIG_FILE_LIMIT: u64 = 1024 * 1024;

pub fn run(args: &ValidateConfigArgs) -> i32 {
    let (source, parsed) = match &args.config_file {
        // A config is some kilobytes; a path at /dev/zero or a FIFO must not hang or eat
        // memory (an operator-named file may be a link, so links are followed).
        Some(path) => match bounded_read::read_text_file(path, CONFIG_FILE_LIMIT, Links::Follow) {
            Ok(text) => (path.display().to_string(), config::parse(&text)),
            Err(e) => {
                tracing::error!("cannot read config file: {e}");
                return exit::USAGE;
            }
        },
        None => (config::CONFIG_ENV.to_string(), config::from_env()),
    };
    match parsed.and_then(|cfg| cfg.validate_for_mesh_init()) {
        Ok(()) => {
            output!("OK");
            exit::OK
        }
        Err(error) => {
            output!("{source}: {error}");
            exit::USAGE
        }
    }
}
