//! The binary copy in the shared bootstrap directory.

use std::path::Path;

use anyhow::{Context, Result};

/// Copies the running executable to `dest` (mode 0755), atomically: the sidecar and app
/// containers run this copy as their entrypoint, and a re-run of mesh-init must never leave
/// them half a binary.
pub fn copy_executable(dest: &Path) -> Result<()> {
    let source = std::env::current_exe().context("locate the running executable")?;
    // Streamed: the binary is megabytes, and mesh-init's memory should not grow by it.
    let mut bytes =
        std::fs::File::open(&source).with_context(|| format!("read {}", source.display()))?;
    atomic_file::write_atomic_from(dest, &mut bytes, 0o755)
        .with_context(|| format!("copy {} to {}", source.display(), dest.display()))
}
