//! `consul-ecs validate-config [-config-file PATH]`: check a config of either layout offline.
//! The verdict (`<layout> config: OK`, or `source: problem` lines) is the subcommand's
//! output on stdout; a file that cannot be read is an error in the log.

use config::LoadedConfig;

use crate::cli::ValidateConfigArgs;
use crate::config_document::{self, Unreadable};
use crate::exit;
use crate::logging::output;

pub fn run(args: &ValidateConfigArgs) -> i32 {
    let document = match config_document::read(args.config_file.as_deref()) {
        Ok(document) => document,
        Err(e @ Unreadable::File(_)) => {
            tracing::error!("{e}");
            return exit::USAGE;
        }
        // An unset variable is a verdict on the (missing) config, like any other problem.
        Err(e @ Unreadable::Env(_)) => {
            output!("{e}");
            return exit::USAGE;
        }
    };
    let checked = config::load(&document.text).and_then(|loaded| match &loaded {
        LoadedConfig::Agent(cfg) => cfg.validate_for_mesh_init().map(|()| loaded),
        LoadedConfig::Dataplane(_) => Ok(loaded),
    });
    match checked {
        Ok(loaded) => {
            output!("{} config: OK", loaded.layout().describe());
            exit::OK
        }
        Err(error) => {
            output!("{}: {error}", document.source);
            exit::USAGE
        }
    }
}
