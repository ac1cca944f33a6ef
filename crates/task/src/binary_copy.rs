//! The binary copy in the shared bootstrap directory: the sidecar and application
//! containers run it as their entrypoint.

use std::path::{Path, PathBuf};

/// The copy's mode: every user may run it, since the application container may run as
/// another user than mesh-init.
const COPY_MODE: u32 = 0o755;

/// Why the binary could not be copied.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The running executable cannot be found.
    #[error("locate the running executable")]
    Locate(#[source] std::io::Error),
    /// The running executable cannot be opened.
    #[error("read {}", .0.display())]
    Open(PathBuf, #[source] std::io::Error),
    /// Writing the copy, or setting its mode, failed.
    #[error("copy {} to {}", .from.display(), .to.display())]
    Write {
        /// The running executable.
        from: PathBuf,
        /// The copy.
        to: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The thread doing the copy ended without an answer.
    #[error("the copy thread failed")]
    Thread(#[source] tokio::task::JoinError),
}

/// Copies the running executable to `dest` (mode 0755 whatever the umask), atomically: a
/// re-run of mesh-init must never leave the other containers half a binary.
pub fn copy_executable(dest: &Path) -> Result<(), CopyError> {
    let source = std::env::current_exe().map_err(CopyError::Locate)?;
    // Streamed: the binary is megabytes, and mesh-init's memory should not grow by it.
    let mut bytes = std::fs::File::open(&source).map_err(|e| CopyError::Open(source.clone(), e))?;
    let write_error = |e| CopyError::Write {
        from: source.clone(),
        to: dest.to_path_buf(),
        source: e,
    };
    // Exactly COPY_MODE whatever the umask (boundary sets it before the rename), so the
    // application's user can run it.
    boundary::write_atomic_from(dest, &mut bytes, COPY_MODE).map_err(write_error)
}

/// [`copy_executable`] on a blocking thread: megabytes are read and written, and the async
/// thread must stay free to see a signal.
pub async fn copy_executable_off_thread(dest: PathBuf) -> Result<(), CopyError> {
    tokio::task::spawn_blocking(move || copy_executable(&dest))
        .await
        .map_err(CopyError::Thread)?
}
