//! Where the tests find the project's tools and data.

use std::path::{Path, PathBuf};

/// The workspace root (the directory that holds the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("testkit lives two levels below the workspace root")
        .to_path_buf()
}

/// The project venv made by `make venv` (override with `CONSUL_ECS_VENV`).
pub fn venv_dir() -> PathBuf {
    match std::env::var_os("CONSUL_ECS_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join(".venv"),
    }
}

/// `../shared/compat` beside the checkout (override with `CONSUL_ECS_COMPAT_DIR`).
pub fn compat_dir() -> PathBuf {
    match std::env::var_os("CONSUL_ECS_COMPAT_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("..").join("shared").join("compat"),
    }
}

/// Panics with a message that says how to install the missing tool.
pub(crate) fn require_file(path: &Path, what: &str) -> PathBuf {
    assert!(
        path.is_file(),
        "{what} not found at {}: run `make venv` (the tests never skip when a real component is missing)",
        path.display()
    );
    path.to_path_buf()
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for test servers).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port on 127.0.0.1")
}
