//! Logging set-up: tracing to stderr, as text or JSON.

use tracing_subscriber::filter::LevelFilter;

use crate::cli::{LogFormat, LogLevel};

/// The level a subcommand that reads the config runs at: the flag when given, else the
/// config's `logLevel` (default INFO).
pub fn flag_or_config(flag: Option<LogLevel>, config: &config::Config) -> LogLevel {
    flag.unwrap_or(config.log_level())
}

fn filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Trace => LevelFilter::TRACE,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Error => LevelFilter::ERROR,
    }
}

/// Installs the global subscriber. Called once, by the subcommand, when it knows its level
/// (the config's `logLevel` applies only where the config is read).
pub fn init(level: LogLevel, format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_max_level(filter(level))
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal: ECS ships stderr to CloudWatch, where
        // escape codes are noise.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // A log line that cannot be written (stderr a broken pipe) is dropped: the
        // subscriber would report it with eprintln!, which panics on that same pipe and
        // would end an entrypoint while its child runs on as an orphan.
        .log_internal_errors(false)
        .with_target(false);
    // A second init (tests calling twice) is harmless: keep the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
