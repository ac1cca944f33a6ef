//! moto (`moto_server` from the project venv) as a real AWS endpoint on loopback.
//!
//! Started with `INITIAL_NO_AUTH_ACTION_COUNT`, so after that many requests moto checks
//! SigV4 signatures and access keys like AWS does (a bad signature gets
//! `SignatureDoesNotMatch`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::paths::{free_port, require_file, venv_dir};

/// A running moto server; killed when dropped.
pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Starts moto and waits until it answers. `no_auth_actions` is the number of requests
    /// moto serves before it starts checking signatures (use them to create users, roles
    /// and keys).
    pub fn start(no_auth_actions: u32) -> Moto {
        let bin = moto_binary();
        let port = free_port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", no_auth_actions.to_string())
            .env("MOTO_ALLOW_NONEXISTENT_REGION", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let moto = Moto { child, port };
        moto.wait_ready(Duration::from_secs(30));
        moto
    }

    /// `http://127.0.0.1:PORT` — use as the STS and IAM endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port moto listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn wait_ready(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            // moto's own health endpoint does not count as an action.
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "moto_server did not listen on port {} within {limit:?}",
            self.port
        );
    }
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
