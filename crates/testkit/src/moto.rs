//! moto (`moto_server` from the project venv) as a real AWS endpoint on loopback.
//!
//! Started with `INITIAL_NO_AUTH_ACTION_COUNT`, so after that many requests moto checks
//! SigV4 signatures and access keys like AWS does (a bad signature gets
//! `SignatureDoesNotMatch`).

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::paths::{require_file, venv_dir};

/// A running moto server; killed when dropped.
pub struct Moto {
    child: Child,
    port: u16,
    /// moto's own output (werkzeug logs every request to stderr), for failure messages.
    log: tempfile::NamedTempFile,
}

impl Moto {
    /// Starts moto and waits until it answers. `no_auth_actions` is the number of requests
    /// moto serves before it starts checking signatures (use them to create users, roles
    /// and keys).
    pub fn start(no_auth_actions: u32) -> Moto {
        let bin = moto_binary();
        let log = tempfile::NamedTempFile::new().expect("a temporary file for moto's output");
        let output = || log.reopen().expect("reopen moto's log file");
        // Port 0: moto binds an ephemeral port itself and prints it, so no other process can
        // take the port between our choosing it and moto binding it.
        let mut child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", no_auth_actions.to_string())
            .env("MOTO_ALLOW_NONEXISTENT_REGION", "true")
            .stdin(Stdio::null())
            .stdout(output())
            .stderr(output())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let port = match wait_for_port(&mut child, &log, Duration::from_secs(60)) {
            Ok(port) => port,
            Err(why) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("moto_server {why}\n---- its output ----\n{}", read(&log));
            }
        };
        let moto = Moto { child, port, log };
        moto.wait_ready(Duration::from_secs(30));
        moto
    }

    /// What moto printed so far (its start-up lines and one line per request).
    pub fn output(&self) -> String {
        read(&self.log)
    }

    /// `http://127.0.0.1:PORT` — use as the STS and IAM endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port moto listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Ready means moto answers an HTTP request with 200, not merely that the port
    /// accepts connections. Its own `/moto-api/` endpoints do not count as actions against
    /// `INITIAL_NO_AUTH_ACTION_COUNT`.
    fn wait_ready(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut last = String::from("no attempt");
        while Instant::now() < deadline {
            match http_get_status(self.port, "/moto-api/data.json") {
                Ok(200) => return,
                Ok(status) => last = format!("HTTP {status}"),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "moto_server on port {} did not answer within {limit:?} (last: {last})\n---- its output ----\n{}",
            self.port,
            self.output()
        );
    }
}

/// Waits for moto's "Running on http://127.0.0.1:PORT" line.
fn wait_for_port(
    child: &mut Child,
    log: &tempfile::NamedTempFile,
    limit: Duration,
) -> Result<u16, String> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let text = read(log);
        if let Some(port) = text
            .split("Running on http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|digits| digits.parse().ok())
        {
            return Ok(port);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited before listening ({status})"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "did not say which port it listens on within {limit:?}"
    ))
}

fn read(log: &tempfile::NamedTempFile) -> String {
    std::fs::read_to_string(log.path()).unwrap_or_default()
}

/// The status code of `GET path` on 127.0.0.1:`port` (HTTP/1.0, so the answer ends with the
/// connection).
fn http_get_status(port: u16, path: &str) -> std::io::Result<u16> {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port))?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(conn, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut head = [0u8; 12];
    conn.read_exact(&mut head)?;
    let text = String::from_utf8_lossy(&head);
    text.get(9..12)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {text:?}")))
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `moto_server` from the venv (override with `MOTO_SERVER_BIN`).
pub fn moto_binary() -> PathBuf {
    match std::env::var_os("MOTO_SERVER_BIN") {
        Some(bin) => require_file(&PathBuf::from(bin), "moto_server (MOTO_SERVER_BIN)"),
        None => require_file(
            &venv_dir().join("bin/moto_server"),
            "moto_server (PyPI moto[server])",
        ),
    }
}
