//! File writes into the shared bootstrap directory: atomic, so a reader (or a retried
//! mesh-init) never sees half a file.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};

/// Copies the running executable to `dest` (mode 0755) through a temporary file in the
/// same directory and a rename. The sidecar and app containers run this copy as their
/// entrypoint.
pub fn copy_executable(dest: &Path) -> Result<()> {
    let source = std::env::current_exe().context("locate the running executable")?;
    let dir = dest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.tmp-{}", file_name(dest), std::process::id()));
    let result = (|| -> io::Result<()> {
        fs::copy(&source, &tmp)?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))?;
        fs::rename(&tmp, dest)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("copy {} to {}", source.display(), dest.display()));
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned())
}
