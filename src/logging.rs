//! Logging set-up of the binary: the shared one ([`task::logging`]) at the level and format
//! the flags (or the config) ask for, and the `output!` macro for a subcommand's output.

use crate::cli::{LogFormat, LogLevel};

/// One line (or a few) of a subcommand's output on stdout: the text as it is, or with
/// `-log-format json` a JSON object whose `message` is the text. The target is
/// [`task::logging::OUTPUT_TARGET`].
macro_rules! output {
    ($($arg:tt)+) => {
        tracing::info!(target: "consul_ecs::output", $($arg)+)
    };
}
pub(crate) use output;

/// Installs the global subscriber ([`task::logging::init`]).
pub fn init(level: LogLevel, format: LogFormat) {
    let format = match format {
        LogFormat::Text => task::logging::LogFormat::Text,
        LogFormat::Json => task::logging::LogFormat::Json,
    };
    task::logging::init(level, format);
}
