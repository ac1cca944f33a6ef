//! The few log lines of the task's processes worth a timeline line: the moments the
//! signals are received and acted on, which Consul and Envoy's admin port cannot show.

use std::time::SystemTime;

/// Substrings that make a line worth showing, by ECS container name.
const INTERESTING: &[(&str, &[&str])] = &[
    ("consul-ecs-mesh-init", &["Envoy bootstrap written"]),
    (
        "consul-ecs-health-sync",
        &["SIGTERM received", "shut down cleanly", "failed"],
    ),
    (
        "sidecar-proxy",
        &[
            "waiting for the application containers",
            "application containers stopped",
            "starting main dispatch loop",
            "caught ENVOY_SIGTERM",
        ],
    ),
    (
        "app",
        &[
            "holding it for the shutdown delay",
            "sent SIGTERM to the child",
        ],
    ),
];

/// A log line taken apart: when it was written (if it says so in UTC) and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The line's own timestamp, when it is a consul-ecs (tracing, RFC 3339 UTC) line.
    pub at: Option<SystemTime>,
    /// The message without timestamp and level.
    pub message: String,
}

/// Splits a consul-ecs line (`2026-11-23T09:00:54.464947Z  INFO message k=v`) or an Envoy
/// line (`[2026-11-23 09:00:56.568][pid][level][component] [file:line] message`). Envoy
/// writes local time, so its lines get no timestamp (they are timed when seen).
pub fn parse(line: &str) -> LogLine {
    if line.starts_with('[') {
        let message = line.rsplit_once("] ").map_or(line, |(_, m)| m);
        return LogLine {
            at: None,
            message: message.trim().to_string(),
        };
    }
    let mut parts = line.splitn(2, char::is_whitespace);
    let stamp = parts.next().unwrap_or_default();
    match parse_utc(stamp) {
        Some(at) => {
            let rest = parts.next().unwrap_or_default().trim_start();
            // Drop the level word (INFO, WARN, ...).
            let message = rest
                .split_once(char::is_whitespace)
                .map_or(rest, |(_, m)| m);
            // Drop the subcommand's span (`consul-ecs{subcommand="mesh-init" …}: `).
            let message = message
                .strip_prefix("consul-ecs{")
                .and_then(|m| m.split_once("}: "))
                .map_or(message, |(_, m)| m);
            LogLine {
                at: Some(at),
                message: message.trim().to_string(),
            }
        }
        None => LogLine {
            at: None,
            message: line.trim().to_string(),
        },
    }
}

/// Whether `message` from `container` belongs in the timeline.
pub fn interesting(container: &str, message: &str) -> bool {
    INTERESTING
        .iter()
        .filter(|(name, _)| *name == container)
        .any(|(_, needles)| needles.iter().any(|n| message.contains(n)))
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z`.
fn parse_utc(s: &str) -> Option<SystemTime> {
    testkit::time::parse_rfc3339(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn consul_ecs_lines_keep_their_time_and_lose_the_level() {
        let spanned = parse("2026-11-23T09:00:54.464947Z  INFO consul-ecs{subcommand=\"envoy-entrypoint\"}: SIGTERM received");
        assert_eq!(spanned.message, "SIGTERM received");
        let line = parse("2026-11-23T09:00:54.464947Z  INFO SIGTERM received; waiting for the application containers to stop");
        assert_eq!(
            line.message,
            "SIGTERM received; waiting for the application containers to stop"
        );
        let at = line.at.unwrap().duration_since(UNIX_EPOCH).unwrap();
        // date -u -d 2026-11-23T09:00:54Z +%s
        assert_eq!(at.as_secs(), 1_795_424_454);
        assert_eq!(at.subsec_micros(), 464_947);
    }

    #[test]
    fn envoy_lines_keep_only_the_message() {
        let line = parse("[2026-11-23 09:00:56.568][20579][warning][main] [source/server/server.cc:1028] caught ENVOY_SIGTERM");
        assert_eq!(
            line,
            LogLine {
                at: None,
                message: "caught ENVOY_SIGTERM".into()
            }
        );
        assert!(interesting("sidecar-proxy", &line.message));
        assert!(!interesting("app", &line.message));
    }

    #[test]
    fn other_lines_pass_through() {
        assert_eq!(parse("127.0.0.1 - - GET /").message, "127.0.0.1 - - GET /");
        assert_eq!(parse("").message, "");
        assert!(parse_utc("2026-13-01T00:00:00Z").is_none());
        assert_eq!(
            parse_utc("1970-01-02T00:00:01.5Z"),
            Some(UNIX_EPOCH + Duration::from_millis(86_401_500))
        );
    }
}
