//! Go's `%q` / `strconv.Quote` for the health-sync output text, which v0.6.2 formats as
//! `ECS health status is %q for task %q`. Container and service names come from the user,
//! so a quote or a control character must be escaped the way Go does it for the text in
//! Consul to match.

use std::fmt::Write;

/// Quotes `s` like Go's `strconv.Quote`: `"` and `\` escaped, the usual C escapes for
/// `\a \b \f \n \r \t \v`, other ASCII control bytes as `\xNN`, other non-printable
/// characters as `\uNNNN` / `\UNNNNNNNN`; printable Unicode is kept as is.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_non_printable(c) => {
                if (c as u32) <= 0xffff {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                } else {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An approximation of the complement of Go's `unicode.IsPrint` that covers what can
/// plausibly appear in a name: C1 controls, format characters such as zero-width and
/// bidi marks, separators other than the ASCII space, and private-use/unassigned planes
/// are not printable.
fn is_non_printable(c: char) -> bool {
    let n = c as u32;
    c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(n, 0xad | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0xfeff)
        || matches!(n, 0xe000..=0xf8ff | 0xfff9..=0xfffb | 0xf0000..=0x10ffff)
}

#[cfg(test)]
mod tests {
    use super::go_quote;

    #[test]
    fn plain_text_is_only_wrapped_in_quotes() {
        assert_eq!(go_quote("HEALTHY"), r#""HEALTHY""#);
        assert_eq!(go_quote(""), r#""""#);
        assert_eq!(
            go_quote("web-0f3b-app-consul-ecs"),
            r#""web-0f3b-app-consul-ecs""#
        );
    }

    #[test]
    fn escapes_match_go_strconv_quote() {
        // Expected values are what Go's strconv.Quote prints for the same input.
        assert_eq!(go_quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(go_quote("a\nb\tc\r"), r#""a\nb\tc\r""#);
        assert_eq!(go_quote("\u{7}\u{8}\u{c}\u{b}"), r#""\a\b\f\v""#);
        assert_eq!(go_quote("\u{1}\u{1b}\u{7f}"), r#""\x01\x1b\x7f""#);
        assert_eq!(go_quote("\u{85}\u{200b}"), r#""\u0085\u200b""#);
        assert_eq!(go_quote("\u{f0000}"), r#""\U000f0000""#);
        assert_eq!(go_quote("café-日本"), "\"café-日本\"");
    }
}
