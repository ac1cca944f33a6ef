//! Tiny HTTP/1.1 GETs on loopback: Envoy's admin `/ready` and the demo app. A hand-written
//! request keeps the demo free of an HTTP client stack for two one-line probes.

use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// What a probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Nothing accepted the connection (or it broke before an answer).
    Down,
    /// An HTTP answer: status code and the first line of the body.
    Answer { status: u16, body: String },
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Down => write!(f, "not answering"),
            Probe::Answer { status, body } if body.is_empty() => write!(f, "HTTP {status}"),
            Probe::Answer { status, body } => write!(f, "{body} (HTTP {status})"),
        }
    }
}

/// `GET path` on `127.0.0.1:port`, giving up after a short timeout so a hung peer cannot
/// stall the timeline.
pub fn get(port: u16, path: &str) -> Probe {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let timeout = Duration::from_millis(500);
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, timeout) else {
        return Probe::Down;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    // HTTP/1.1 (Envoy's admin answers 1.0 with 426) with `close`, so the answer ends at EOF.
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return Probe::Down;
    }
    let mut bytes = Vec::new();
    // A read error after some bytes (a timeout on a keep-alive peer) still leaves a usable
    // answer; parse whatever arrived.
    let _ = stream.take(64 * 1024).read_to_end(&mut bytes);
    parse_response(&bytes).unwrap_or(Probe::Down)
}

/// Parses an HTTP/1.x response: the status code and the first non-empty body line.
pub fn parse_response(bytes: &[u8]) -> Option<Probe> {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status_line = head.lines().next()?;
    let mut parts = status_line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    let chunked = head.lines().skip(1).any(|h| {
        h.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("transfer-encoding")
                && value.trim().eq_ignore_ascii_case("chunked")
        })
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    let body = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    // The app's directory listing is HTML; its first line says nothing useful.
    let body = if body.starts_with('<') { "" } else { body };
    Some(Probe::Answer {
        status,
        body: body.to_string(),
    })
}

/// Decodes a chunked body (`<hex size>\r\n<data>\r\n ... 0\r\n\r\n`), keeping what
/// arrived when it is cut short.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size_line, after)) = rest.split_once("\r\n") {
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let Ok(size) = usize::from_str_radix(size_hex, 16) else {
            break;
        };
        if size == 0 {
            break;
        }
        let Some(chunk) = after.get(..size) else {
            out.push_str(after);
            break;
        };
        out.push_str(chunk);
        rest = after
            .get(size..)
            .unwrap_or_default()
            .trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_envoy_ready_answers() {
        assert_eq!(
            parse_response(b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\r\nPRE_INITIALIZING\n"),
            Some(Probe::Answer { status: 503, body: "PRE_INITIALIZING".into() })
        );
        assert_eq!(
            parse_response(b"HTTP/1.0 200 OK\r\n\r\n<!DOCTYPE HTML>\n<html>"),
            Some(Probe::Answer {
                status: 200,
                body: String::new()
            })
        );
        assert_eq!(
            parse_response(
                b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n11\r\nPRE_INITIALIZING\n\r\n0\r\n\r\n"
            ),
            Some(Probe::Answer { status: 503, body: "PRE_INITIALIZING".into() })
        );
        assert_eq!(dechunk("4\r\nLI\r\n\r\n2\r\nVE\r\n0\r\n\r\n"), "LI\r\nVE");
        assert_eq!(parse_response(b"garbage"), None);
        assert_eq!(parse_response(b""), None);
    }

    #[test]
    fn probes_a_real_listener_and_a_closed_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nLIVE\n")
                .unwrap();
        });
        assert_eq!(
            get(port, "/ready"),
            Probe::Answer {
                status: 200,
                body: "LIVE".into()
            }
        );
        server.join().unwrap();
        assert_eq!(get(port, "/ready"), Probe::Down);
        assert_eq!(Probe::Down.to_string(), "not answering");
    }
}
