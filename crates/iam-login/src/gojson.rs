//! Byte-for-byte Go `encoding/json` output for the two shapes the bearer token needs
//! (string → string and string → [string] maps), and Go's canonical header names.
//!
//! Why not serde_json: the bearer token embeds JSON inside signed header values and inside
//! base64, so the exact bytes matter for matching what the Go client produces. Go sorts map
//! keys and escapes `<`, `>`, `&`, U+2028 and U+2029, which serde_json does not. Writing the
//! two shapes by hand is also infallible, so no error path is needed.

use std::collections::BTreeMap;

/// Go's `textproto.CanonicalMIMEHeaderKey`: first letter and every letter after `-`
/// upper-case, the rest lower-case. A name with a byte that is not a token character is
/// returned unchanged, as Go does.
pub(crate) fn canonical_header_name(name: &str) -> String {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

/// Appends `s` as a JSON string literal the way Go's encoder (HTML escaping on) writes it.
fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `json.Marshal(http.Header)`: `{"Name":["v1","v2"],…}`, keys in byte order.
pub(crate) fn header_map(map: &BTreeMap<String, Vec<String>>) -> String {
    let mut out = String::from("{");
    for (i, (key, values)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(&mut out, key);
        out.push_str(":[");
        for (j, value) in values.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            push_string(&mut out, value);
        }
        out.push(']');
    }
    out.push('}');
    out
}

/// `json.Marshal(map[string]string)`: `{"k":"v",…}`, keys in byte order.
pub(crate) fn string_map(map: &BTreeMap<&str, String>) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(&mut out, key);
        out.push(':');
        push_string(&mut out, value);
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names_match_go() {
        let cases = [
            (
                "x-consul-iam-getentity-method",
                "X-Consul-Iam-Getentity-Method",
            ),
            ("X-Consul-IAM-ServerID", "X-Consul-Iam-Serverid"),
            ("authorization", "Authorization"),
            ("x-amz-security-token", "X-Amz-Security-Token"),
            ("content-length", "Content-Length"),
            ("bad name", "bad name"),
        ];
        for (input, want) in cases {
            assert_eq!(canonical_header_name(input), want, "input {input:?}");
        }
    }

    #[test]
    fn escapes_like_go() {
        let mut map = BTreeMap::new();
        map.insert(
            "B".to_string(),
            vec!["a&b<c>d\"e\\f\u{1}\u{2028}".to_string(), "x".to_string()],
        );
        map.insert("A".to_string(), vec![]);
        assert_eq!(
            header_map(&map),
            r#"{"A":[],"B":["a\u0026b\u003cc\u003ed\"e\\f\u0001\u2028","x"]}"#
        );
        // Must stay valid JSON that decodes to the same strings.
        let back: BTreeMap<String, Vec<String>> = serde_json::from_str(&header_map(&map)).unwrap();
        assert_eq!(back, map);
    }
}
