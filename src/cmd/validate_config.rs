//! `consul-ecs validate-config [-config-file PATH]`: check a config offline.

use bounded_read::Links;

use crate::cli::ValidateConfigArgs;
use crate::exit;

/// Largest config file read (the largest upstream fixture is under 4 KiB).
const CONFIG_FILE_LIMIT: u64 = 1024 * 1024;

pub fn run(args: &ValidateConfigArgs) -> i32 {
    let result = match &args.config_file {
        // A config is some kilobytes; a path at /dev/zero or a FIFO must not hang or eat
        // memory (an operator-named file may be a link, so links are followed).
        Some(path) => match bounded_read::read_text_file(path, CONFIG_FILE_LIMIT, Links::Follow) {
            Ok(text) => config::parse(&text).map_err(|e| (Some(path.display().to_string()), e)),
            Err(e) => {
                eprintln!("cannot read config file: {e}");
                return exit::USAGE;
            }
        },
        None => config::from_env().map_err(|e| (None, e)),
    };
    let (source, error) = match result {
        Ok(cfg) => match cfg.validate_for_mesh_init() {
            Ok(()) => {
                println!("OK");
                return exit::OK;
            }
            Err(e) => (
                args.config_file.as_ref().map(|p| p.display().to_string()),
                e,
            ),
        },
        Err(e) => e,
    };
    let source = source.unwrap_or_else(|| config::CONFIG_ENV.to_string());
    println!("{source}: {error}");
    exit::USAGE
}
