//! `consul-ecs validate-config [-config-file PATH]`: check a config offline.

use crate::cli::ValidateConfigArgs;
use crate::exit;

pub fn run(args: &ValidateConfigArgs) -> i32 {
    let result = match &args.config_file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => config::parse(&text).map_err(|e| (Some(path.display().to_string()), e)),
            Err(e) => {
                eprintln!("cannot read config file {}: {e}", path.display());
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
