//! Logging set-up shared by the binaries (`consul-ecs`, `consul-ecs-local`): log lines to
//! stderr and a subcommand's output (validate-config's verdict, doctor's list, the version)
//! to stdout, both in the chosen format: text, or one JSON object a line carrying the
//! subcommand's span ([`crate::subcommand_span`]).
//!
//! Neither stream is written with `print!`: a closed or broken stdout or stderr must not
//! panic (the subscriber drops a line it cannot write).

use std::fmt;

use config::LogLevel;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::Layer;

/// The target of the events that are a subcommand's output (stdout), not its log.
pub const OUTPUT_TARGET: &str = "consul_ecs::output";

/// The log format (`-log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object a line.
    Json,
}

/// Every level, most verbose first.
pub const LEVELS: [LogLevel; 5] = [
    LogLevel::Trace,
    LogLevel::Debug,
    LogLevel::Info,
    LogLevel::Warn,
    LogLevel::Error,
];

/// A `-log-level` value: a level's name (`TRACE` … `ERROR`) in any case.
pub fn parse_level(name: &str) -> Result<LogLevel, String> {
    LEVELS
        .into_iter()
        .find(|level| level.as_str().eq_ignore_ascii_case(name))
        .ok_or_else(|| format!("{name:?}: expected one of TRACE, DEBUG, INFO, WARN, ERROR"))
}

/// A `-log-format` value: `text` or `json`.
pub fn parse_format(name: &str) -> Result<LogFormat, String> {
    match name.to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!("{name:?}: expected text or json")),
    }
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

/// Installs the global subscriber. Called once, when the subcommand's level is known (the
/// config's `logLevel` applies only where the config is read).
pub fn init(level: LogLevel, format: LogFormat) {
    // The subcommand's span is at ERROR level so that every level shows it; the output is
    // never filtered by the log level.
    let logs = Targets::new()
        .with_default(filter(level))
        .with_target(OUTPUT_TARGET, LevelFilter::OFF)
        .with_target(crate::SPAN_TARGET, LevelFilter::ERROR);
    let output = Targets::new()
        .with_target(OUTPUT_TARGET, LevelFilter::INFO)
        .with_target(crate::SPAN_TARGET, LevelFilter::ERROR);
    let registry = tracing_subscriber::registry();
    // A second init (tests calling twice) is harmless: keep the first subscriber.
    let _ = match format {
        LogFormat::Text => registry
            .with(log_layer().with_filter(logs))
            .with(
                output_layer()
                    .fmt_fields(no_span_fields())
                    .event_format(MessageOnly)
                    .with_filter(output),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(log_layer().json().flatten_event(true).with_filter(logs))
            .with(
                output_layer()
                    .json()
                    .flatten_event(true)
                    .with_target(false)
                    .with_filter(output),
            )
            .try_init(),
    };
}

type Fmt<S, W> = tracing_subscriber::fmt::Layer<
    S,
    tracing_subscriber::fmt::format::DefaultFields,
    tracing_subscriber::fmt::format::Format,
    W,
>;

/// The log: stderr.
fn log_layer<S>() -> Fmt<S, fn() -> std::io::Stderr> {
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr as fn() -> std::io::Stderr)
        // Colours only for a person at a terminal: ECS ships stderr to CloudWatch, where
        // escape codes are noise.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // A log line that cannot be written (stderr a broken pipe) is dropped: the
        // subscriber would report it with eprintln!, which panics on that same pipe and
        // would end an entrypoint while its child runs on as an orphan.
        .log_internal_errors(false)
        .with_target(false)
}

/// The output: stdout, a line that cannot be written dropped as on stderr.
fn output_layer<S>() -> Fmt<S, fn() -> std::io::Stdout> {
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::stdout as fn() -> std::io::Stdout)
        .with_ansi(false)
        .log_internal_errors(false)
}

/// The text output's span fields: none (it prints the message alone), and above all a
/// formatter type of its own. Each fmt layer keeps a span's formatted fields in the span's
/// extensions keyed by the formatter's type; with the log's `DefaultFields` here too, both
/// layers appended every field recorded later (`task_id`, `service_id`) to the same text,
/// and the log showed each twice.
fn no_span_fields() -> impl for<'w> FormatFields<'w> + 'static {
    tracing_subscriber::fmt::format::debug_fn(|_writer, _field, _value| Ok(()))
}

/// The text format of the output: the message alone, as the subcommand wrote it.
struct MessageOnly;

impl<S, N> FormatEvent<S, N> for MessageOnly
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut message = MessageText {
            writer: &mut writer,
            result: Ok(()),
        };
        event.record(&mut message);
        message.result?;
        writeln!(writer)
    }
}

/// Writes an event's `message` field.
struct MessageText<'w, 'a> {
    writer: &'w mut Writer<'a>,
    result: fmt::Result,
}

impl Visit for MessageText<'_, '_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.result = write!(self.writer, "{value:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_formats_parse_in_any_case_and_name_what_is_expected() {
        assert_eq!(parse_level("debug"), Ok(LogLevel::Debug));
        assert_eq!(parse_level("WARN"), Ok(LogLevel::Warn));
        assert!(parse_level("verbose").unwrap_err().contains("TRACE"));
        assert_eq!(parse_format("JSON"), Ok(LogFormat::Json));
        assert_eq!(parse_format("text"), Ok(LogFormat::Text));
        assert!(parse_format("xml").unwrap_err().contains("text or json"));
    }
}
