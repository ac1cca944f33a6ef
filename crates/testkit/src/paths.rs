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

/// The compatibility corpora (`tests/data/compat` in the repository; override with
/// `CONSUL_ECS_COMPAT_DIR`). `tests/data/compat/README.md` says where each set comes from.
pub fn compat_dir() -> PathBuf {
    match std::env::var_os("CONSUL_ECS_COMPAT_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("tests").join("data").join("compat"),
    }
}

/// The consul-ecs v0.6.2 config cases file: `CONFIG_CASES_FILE`, else
/// `<compat_dir>/config/cases.json`.
pub fn config_cases_file() -> PathBuf {
    match std::env::var_os("CONFIG_CASES_FILE") {
        Some(file) => PathBuf::from(file),
        None => compat_dir().join("config").join("cases.json"),
    }
}

/// The consul-ecs v0.6.2 config fixtures: `<compat_dir>/config/fixtures`.
pub fn config_fixtures_dir() -> PathBuf {
    compat_dir().join("config").join("fixtures")
}

/// The Envoy bootstrap conformance cases: `BOOTSTRAP_CASES_DIR`, else
/// `<compat_dir>/envoy-bootstrap/cases`.
pub fn bootstrap_cases_dir() -> PathBuf {
    match std::env::var_os("BOOTSTRAP_CASES_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => compat_dir().join("envoy-bootstrap").join("cases"),
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
