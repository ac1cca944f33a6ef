//! Writing a file so that a reader sees either the old content or the whole new one, never
//! half of it, and never with looser permissions than asked for: the files in the task's
//! shared bootstrap directory (the service token, the Envoy bootstrap, the binary copy) are
//! read by other containers while mesh-init may be (re)writing them.
//!
//! A write syncs the file and its directory to disk, which can take a while: async callers
//! use [`write_atomic_off_thread`] / [`write_atomic_from_off_thread`], which run it on tokio's
//! blocking pool instead of the runtime's only thread.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// Writes `contents` to `path` with permission bits `mode`: into a new temporary sibling
/// (created with `mode`, so it is never readable by others, even for a moment; then set to
/// exactly `mode`, whatever the umask), flushed to disk, then renamed over `path`. On failure the temporary file is removed and `path` is
/// untouched.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    write_atomic_from(path, &mut &contents[..], mode)
}

/// [`write_atomic`] with the content streamed from `source`, so a large file (the binary
/// copy) is never held in memory whole.
pub fn write_atomic_from(path: &Path, source: &mut impl io::Read, mode: u32) -> io::Result<()> {
    let dir = parent_dir(path);
    let temp = temp_sibling(path)?;
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)?;
        io::copy(source, &mut file)?;
        // Created with `mode` less the umask (0700 for 0755 under umask 077): set exactly
        // `mode` before the rename, so readers of another user (an application container
        // running the binary copy) get what was asked for, and never a looser mode.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)
    })();
    if let Err(e) = result {
        // Best effort: the temporary file may not exist if creating it was what failed.
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    // Make the rename itself durable; a failure here does not undo a completed write.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// [`write_atomic`] on tokio's blocking pool. Must be called within a tokio runtime.
pub async fn write_atomic_off_thread(path: &Path, contents: Vec<u8>, mode: u32) -> io::Result<()> {
    write_atomic_from_off_thread(path, io::Cursor::new(contents), mode).await
}

/// [`write_atomic_from`] on tokio's blocking pool (the source is read there too). Must be
/// called within a tokio runtime.
pub async fn write_atomic_from_off_thread(
    path: &Path,
    mut source: impl io::Read + Send + 'static,
    mode: u32,
) -> io::Result<()> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || write_atomic_from(&path, &mut source, mode))
        .await
        .unwrap_or_else(|join| Err(io::Error::other(format!("the writing task failed: {join}"))))
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// `.<name>.<pid>.<random>.tmp` beside `path`: unique, so concurrent writers never share it.
fn temp_sibling(path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(format!(
        ".{}.{:016x}.tmp",
        std::process::id(),
        rand::random::<u64>()
    ));
    Ok(parent_dir(path).join(temp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// The one test of this crate that changes the umask (process-wide): it only tightens
    /// it, and every other test here asserts modes this write sets exactly.
    #[test]
    fn the_mode_is_exact_whatever_the_umask() {
        use nix::sys::stat::{umask, Mode};
        let dir = tempfile::tempdir().unwrap();
        let before = umask(Mode::from_bits_truncate(0o077));
        let written = write_atomic(&dir.path().join("copy"), b"#!", 0o755);
        umask(before);
        written.unwrap();
        assert_eq!(mode(&dir.path().join("copy")), 0o755);
    }

    #[test]
    fn writes_content_and_mode_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&path, b"new", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(mode(&path), 0o600);
        write_atomic(&dir.path().join("x"), b"#!", 0o755).unwrap();
        assert_eq!(mode(&dir.path().join("x")), 0o755);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn a_failed_write_leaves_the_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a directory: the rename fails after the temporary file was written.
        let target = dir.path().join("d");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("inside"), "x").unwrap();
        assert!(write_atomic(&target, b"new", 0o600).is_err());
        assert!(target.join("inside").exists());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temporary file removed"
        );
        assert!(write_atomic(&dir.path().join("missing/f"), b"x", 0o600).is_err());
    }

    /// The product's runtime flavour: one thread, so a write that ran on it would hold up
    /// every other task until its fsyncs were done.
    #[tokio::test(flavor = "current_thread")]
    async fn the_async_writes_run_on_the_blocking_pool() {
        let dir = tempfile::tempdir().unwrap();
        let runtime_thread = std::thread::current().id();
        // A source that records the thread it is read on: the whole write happens there.
        struct ThreadRecorder(
            io::Cursor<Vec<u8>>,
            std::sync::mpsc::Sender<std::thread::ThreadId>,
        );
        impl io::Read for ThreadRecorder {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let _ = self.1.send(std::thread::current().id());
                self.0.read(buf)
            }
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let source = ThreadRecorder(io::Cursor::new(b"binary".to_vec()), tx);
        let copy = dir.path().join("consul-ecs");
        write_atomic_from_off_thread(&copy, source, 0o755)
            .await
            .unwrap();
        assert_eq!(fs::read(&copy).unwrap(), b"binary");
        assert_eq!(mode(&copy), 0o755);
        let threads: Vec<_> = rx.try_iter().collect();
        assert!(!threads.is_empty());
        assert!(
            threads.iter().all(|t| *t != runtime_thread),
            "read on the runtime thread"
        );

        let token = dir.path().join("service-token");
        write_atomic_off_thread(&token, b"token".to_vec(), 0o600)
            .await
            .unwrap();
        assert_eq!(fs::read_to_string(&token).unwrap(), "token");
        assert_eq!(mode(&token), 0o600);
        // Failures come back as the error of the write, the target untouched.
        let err = write_atomic_off_thread(&dir.path().join("missing/f"), b"x".to_vec(), 0o600)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
