//! The text consul-ecs makes of what it did not write itself: errors, bodies, answers.
//!
//! - [`error_chain`]: one line for an error and every cause behind it. Client libraries
//!   (reqwest, the AWS SDK) put the useful part of a failure in the source chain: "error
//!   sending request" says little, "…: connection refused" says why. Every consul-ecs
//!   message that reports such an error goes through it, so the text has one shape
//!   everywhere.
//! - [`truncate_chars`], [`truncate_bytes`], [`one_line_excerpt`]: a bounded piece of text
//!   from outside (an error body, a template) for a message, cut with `…`.
//! - [`redact_secrets`]: our own secrets taken out of text that came back from the network.

/// `error: cause: cause…`. A cause whose text the line already holds is left out, since
/// many libraries repeat their source in their own message.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !cause_text.is_empty() && !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The mark a cut text ends with.
const CUT: char = '…';

/// At most `max` characters of `text`, followed by `…` when something was cut.
pub fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => cut_at(text, cut),
        None => text.to_string(),
    }
}

/// At most `max` bytes of `text` (cut at a character boundary at or before), followed by
/// `…` when something was cut.
pub fn truncate_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    cut_at(text, cut)
}

fn cut_at(text: &str, byte_index: usize) -> String {
    let mut out = String::with_capacity(byte_index + CUT.len_utf8());
    out.push_str(&text[..byte_index]);
    out.push(CUT);
    out
}

/// The first `max` characters of a body (decoded lossily), on one line: control characters
/// (line breaks among them) become spaces, and the ends are trimmed.
pub fn one_line_excerpt(body: &[u8], max: usize) -> String {
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate_chars(&text, max).trim().to_string()
}

/// `text` with every occurrence of each non-empty secret replaced by `<redacted>`: an error
/// body that echoes a signed request must not carry our credentials into a log line.
pub fn redact_secrets<'a>(text: &str, secrets: impl IntoIterator<Item = &'a str>) -> String {
    let mut text = text.to_string();
    for secret in secrets.into_iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret, "<redacted>");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_are_marked_and_fall_on_character_boundaries() {
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abcd", 3), "abc…");
        assert_eq!(truncate_chars(&"é".repeat(400), 300).chars().count(), 301);
        assert_eq!(truncate_bytes("abcd", 4), "abcd");
        // 3 bytes reach into the second "é": the cut falls before it.
        assert_eq!(truncate_bytes("éé", 3), "é…");
        assert_eq!(
            truncate_bytes(&"é".repeat(3000), 2048).chars().count(),
            1025
        );
    }

    #[test]
    fn an_excerpt_is_short_and_single_line() {
        assert_eq!(one_line_excerpt(b"  boom\nagain\n", 200), "boom again");
        let short = one_line_excerpt("x".repeat(1000).as_bytes(), 200);
        assert_eq!(short.chars().count(), 201);
        assert!(short.ends_with('…'));
        assert_eq!(one_line_excerpt(b"\xffok", 200), "\u{fffd}ok");
    }

    #[test]
    fn secrets_are_redacted_and_empty_ones_ignored() {
        let out = redact_secrets(
            "x SECRETKEY y SESSION z SESSION",
            ["SECRETKEY", "", "SESSION"],
        );
        assert_eq!(out, "x <redacted> y <redacted> z <redacted>");
    }

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn every_cause_is_joined_once() {
        let err = Layer(
            "error sending request",
            Some(Box::new(Layer(
                "client error (Connect)",
                Some(Box::new(Layer("connection refused", None))),
            ))),
        );
        assert_eq!(
            error_chain(&err),
            "error sending request: client error (Connect): connection refused"
        );
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let err = Layer(
            "dispatch failure: timed out",
            Some(Box::new(Layer("timed out", None))),
        );
        assert_eq!(error_chain(&err), "dispatch failure: timed out");
    }
}
