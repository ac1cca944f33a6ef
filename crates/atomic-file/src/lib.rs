//! Writing a file so that a reader sees either the old content or the whole new one, never
//! half of it, and never with looser permissions than asked for: the files in the task's
//! shared bootstrap directory (the service token, the Envoy bootstrap, the binary copy) are
//! read by other containers while mesh-init may be (re)writing them.

#![deny(missing_docs)]

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

/// Writes `contents` to `path` with permission bits `mode`: into a new temporary sibling
/// (created with `mode`, so it is never readable by others, even for a moment), flushed to
/// disk, then renamed over `path`. On failure the temporary file is removed and `path` is
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
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
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
}
