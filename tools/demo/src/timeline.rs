//! The readable timeline the demo prints: one line per event, with the time since the
//! demo started, who acted, and what changed.

use std::cell::RefCell;
use std::fmt::Display;
use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

/// Width of the "who" column: the longest actor name (`consul-client`) plus a space.
const WHO_WIDTH: usize = 14;

/// Prints timeline lines to stdout, timed from its creation.
pub struct Timeline {
    start: Instant,
    /// The same moment on the wall clock, to place log lines by their own timestamps.
    start_wall: SystemTime,
    /// Long identifiers shown shortened (`(long, short)`), so lines stay readable.
    abbreviations: RefCell<Vec<(String, String)>>,
}

impl Timeline {
    /// A timeline whose clock starts now.
    pub fn start() -> Timeline {
        Timeline {
            start: Instant::now(),
            start_wall: SystemTime::now(),
            abbreviations: RefCell::new(Vec::new()),
        }
    }

    /// When the timeline started.
    pub fn started(&self) -> Instant {
        self.start
    }

    /// The timeline time of a wall-clock moment (zero if it was before the start).
    pub fn since_start(&self, at: SystemTime) -> Duration {
        at.duration_since(self.start_wall).unwrap_or_default()
    }

    /// Time since the timeline started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// One event: `+1.23s  who          what`.
    pub fn event(&self, who: &str, what: impl Display) {
        self.print(&format_event(self.elapsed(), who, &what.to_string()));
    }

    /// An event that happened `elapsed` after the start (known from a recorded time rather
    /// than observed now).
    pub fn event_at(&self, elapsed: Duration, who: &str, what: impl Display) {
        self.print(&format_event(elapsed, who, &what.to_string()));
    }

    /// An explanation under the previous event (why something looks the way it does).
    pub fn note(&self, text: impl Display) {
        self.print(&format_note(&text.to_string()));
    }

    /// A section heading, so the phases of the task's life stand out.
    pub fn heading(&self, text: impl Display) {
        self.print(&format!("\n== {text}"));
    }

    /// From now on, prints `long` as `short` (a 32-digit task ID in every check and
    /// service ID makes lines hard to read).
    pub fn abbreviate(&self, long: &str, short: &str) {
        self.abbreviations
            .borrow_mut()
            .push((long.to_string(), short.to_string()));
    }

    fn print(&self, line: &str) {
        let mut line = line.to_string();
        for (long, short) in self.abbreviations.borrow().iter() {
            line = line.replace(long, short);
        }
        let mut out = std::io::stdout().lock();
        // The timeline is best effort: a closed stdout (`demo | head`) must not abort the
        // run half-way and leave the task's processes behind; cleanup still happens.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// Formats one event line; continuation lines of a multi-line `what` are indented under
/// the first.
pub fn format_event(elapsed: Duration, who: &str, what: &str) -> String {
    let stamp = format!("+{:.2}s", elapsed.as_secs_f64());
    let indent = " ".repeat(9 + WHO_WIDTH);
    let body = what.replace('\n', &format!("\n{indent}"));
    format!("{stamp:>8} {who:<WHO_WIDTH$}{body}")
}

/// Formats a note line: indented like an event's text, marked with `↳`.
pub fn format_note(text: &str) -> String {
    let indent = " ".repeat(9 + WHO_WIDTH);
    format!("{indent}↳ {}", text.replace('\n', &format!("\n{indent}  ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_have_time_who_and_what_in_columns() {
        assert_eq!(
            format_event(Duration::from_millis(1234), "mesh-init", "registered web"),
            "  +1.23s mesh-init     registered web"
        );
        assert_eq!(
            format_event(Duration::from_secs(61), "ecs", "a\nb"),
            " +61.00s ecs           a\n                       b"
        );
    }

    #[test]
    fn abbreviations_apply_from_then_on() {
        let tl = Timeline::start();
        tl.abbreviate("0123456789abcdef", "01234567…");
        let mut line = format_event(Duration::ZERO, "x", "web-0123456789abcdef-app");
        for (long, short) in tl.abbreviations.borrow().iter() {
            line = line.replace(long, short);
        }
        assert!(line.ends_with("web-01234567…-app"), "{line}");
    }

    #[test]
    fn notes_line_up_under_the_event_text() {
        let event = format_event(Duration::ZERO, "envoy", "x");
        let note = format_note("why");
        assert_eq!(event.find('x'), note.find('↳'));
    }
}
