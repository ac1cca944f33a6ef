//! A small file that is read on every use but only re-read when it changed: the token
//! files sent with every Consul request.
//!
//! Reading a file means open, fstat, read and close on the calling thread; for a token file
//! sent with each request of a long-running process that is blocking work on the runtime's
//! only thread, every second. [`CachedFile::read`] instead `stat`s the path (one system
//! call, which never blocks on a FIFO) and, only when the file is not the one read last
//! time, reads it again on tokio's blocking pool. A replaced file (a rename over the path,
//! as [`crate::write_atomic`] does) has a new inode; a file rewritten in place has a new
//! modification time and usually a new size.
//!
//! The one case a stamp cannot tell is a rewrite in place, to the same length, within one
//! tick of the file system's clock (coarse: a few milliseconds, or seconds on some file
//! systems). So a read is only reused once the file had been unchanged for
//! [`SETTLE_TIME`] when it was read (as git treats "racily clean" index entries): any
//! later write then falls in a later tick and changes the stamp.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::read::{read_file_and_metadata, run_off_thread, Links, ReadError};

/// How long a file must have been unchanged, when it was read, for that read to be reused.
/// Longer than the coarsest timestamp granularity of a Linux file system (FAT: 2 s).
pub const SETTLE_TIME: Duration = Duration::from_secs(3);

/// A regular file of at most `limit` bytes (read as [`crate::read_file`] reads it), kept
/// in memory between reads while it does not change. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct CachedFile {
    path: PathBuf,
    limit: u64,
    links: Links,
    last: Mutex<Option<Snapshot>>,
}

struct Snapshot {
    stamp: Stamp,
    bytes: Arc<[u8]>,
}

/// The content may be a secret (a token file): `Debug` shows its length only.
impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("stamp", &self.stamp)
            .field("bytes", &format_args!("<{} bytes>", self.bytes.len()))
            .finish()
    }
}

/// What identifies one version of a file: which file (device, inode) and when it last
/// changed (content and metadata), with its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Whether the file, as of `now`, had been unchanged for [`SETTLE_TIME`].
    fn settled_at(&self, now: SystemTime) -> bool {
        let latest = self.mtime.max(self.ctime);
        let Some(now) = now.duration_since(SystemTime::UNIX_EPOCH).ok() else {
            return false;
        };
        let Ok(now_secs) = i64::try_from(now.as_secs()) else {
            return false;
        };
        let now_nanos = i128::from(now_secs) * 1_000_000_000 + i128::from(now.subsec_nanos());
        let latest_nanos = i128::from(latest.0) * 1_000_000_000 + i128::from(latest.1);
        now_nanos - latest_nanos >= SETTLE_TIME.as_nanos() as i128
    }
}

impl CachedFile {
    /// The file at `path`, not read yet.
    pub fn new(path: impl Into<PathBuf>, limit: u64, links: Links) -> CachedFile {
        CachedFile {
            path: path.into(),
            limit,
            links,
            last: Mutex::new(None),
        }
    }

    /// The path as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's content now: the last read when the file is unchanged since, else a new
    /// read on tokio's blocking pool. Errors are never kept: the next call tries again.
    /// Must be called within a tokio runtime.
    pub async fn read(&self) -> Result<Arc<[u8]>, ReadError> {
        if let Some(bytes) = self.unchanged() {
            return Ok(bytes);
        }
        let (path, limit, links) = (self.path.clone(), self.limit, self.links);
        let read = run_off_thread(&self.path, move || {
            // Taken before the descriptor's metadata: if the file is written after that,
            // it was written after `read_at` too, and the settle check accounts for it.
            let read_at = SystemTime::now();
            read_file_and_metadata(&path, limit, links).map(|(bytes, meta)| (bytes, meta, read_at))
        })
        .await;
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        match read {
            Ok((bytes, meta, read_at)) => {
                let bytes: Arc<[u8]> = bytes.into();
                let stamp = Stamp::of(&meta);
                *last = stamp.settled_at(read_at).then(|| Snapshot {
                    stamp,
                    bytes: bytes.clone(),
                });
                Ok(bytes)
            }
            Err(e) => {
                *last = None;
                Err(e)
            }
        }
    }

    /// The last read's content when the path still names the very same, unchanged file.
    fn unchanged(&self) -> Option<Arc<[u8]>> {
        let last = self
            .last
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let snapshot = last.as_ref()?;
        // Looking at a link, not through it, when links are refused: a link put in place
        // of the file has a stamp of its own, so the file is read again (and refused).
        let meta = match self.links {
            Links::Follow => std::fs::metadata(&self.path),
            Links::Refuse => std::fs::symlink_metadata(&self.path),
        }
        .ok()?;
        (meta.is_file() && Stamp::of(&meta) == snapshot.stamp).then(|| snapshot.bytes.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// Puts a snapshot of the file as it is now, holding `bytes`, in the cache: a settled
    /// file needs seconds of waiting (its ctime cannot be set back), and a result equal to
    /// `bytes` then can only have come from memory.
    fn remember(cached: &CachedFile, bytes: &[u8]) {
        let stamp = Stamp::of(&fs::metadata(cached.path()).unwrap());
        *cached.last.lock().unwrap() = Some(Snapshot {
            stamp,
            bytes: Arc::from(bytes),
        });
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_replaced_file_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service-token");
        fs::write(&path, "first").unwrap();
        let cached = CachedFile::new(&path, 64, Links::Refuse);
        remember(&cached, b"from memory");
        assert_eq!(&*cached.read().await.unwrap(), b"from memory");
        // Replaced by rename, as write_atomic does: a new inode, so read again.
        crate::write_atomic(&path, b"second", 0o600).unwrap();
        assert_eq!(&*cached.read().await.unwrap(), b"second");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_unchanged_settled_file_is_served_from_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        fs::write(&path, "kept").unwrap();
        let cached = CachedFile::new(&path, 64, Links::Follow);
        remember(&cached, b"from memory");
        assert_eq!(&*cached.read().await.unwrap(), b"from memory");

        // Rewritten in place with another length: the stamp differs, the file is read.
        fs::write(&path, "changed!").unwrap();
        assert_eq!(&*cached.read().await.unwrap(), b"changed!");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_fresh_file_is_read_every_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        fs::write(&path, "aaaa").unwrap();
        let cached = CachedFile::new(&path, 64, Links::Follow);
        assert_eq!(&*cached.read().await.unwrap(), b"aaaa");
        assert!(
            cached.last.lock().unwrap().is_none(),
            "just written: not kept"
        );
        // Same length, rewritten in place at once: possibly the same stamp, still seen.
        fs::write(&path, "bbbb").unwrap();
        assert_eq!(&*cached.read().await.unwrap(), b"bbbb");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_link_put_in_place_of_the_file_is_refused_and_errors_are_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service-token");
        fs::write(&path, "own").unwrap();
        let cached = CachedFile::new(&path, 64, Links::Refuse);
        remember(&cached, b"own");
        let other = dir.path().join("other");
        fs::write(&other, "not-ours").unwrap();
        fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&other, &path).unwrap();
        let err = cached.read().await.unwrap_err();
        assert!(matches!(err, ReadError::Symlink { .. }), "{err}");
        assert!(cached.last.lock().unwrap().is_none());

        fs::remove_file(&path).unwrap();
        let err = cached.read().await.unwrap_err();
        assert!(err.is_not_found(), "{err}");
        fs::write(&path, "back").unwrap();
        assert_eq!(&*cached.read().await.unwrap(), b"back");
    }

    #[test]
    fn debug_output_never_shows_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        fs::write(&path, "x").unwrap();
        let cached = CachedFile::new(&path, 64, Links::Refuse);
        remember(&cached, b"s3cr3t-token");
        let shown = format!("{cached:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("<12 bytes>"), "{shown}");
    }

    #[test]
    fn settling_is_measured_from_the_later_of_mtime_and_ctime() {
        let stamp = Stamp {
            dev: 1,
            ino: 2,
            len: 3,
            mtime: (1_000, 0),
            ctime: (2_000, 500),
        };
        let at = |secs: u64, nanos: u32| SystemTime::UNIX_EPOCH + Duration::new(secs, nanos);
        assert!(!stamp.settled_at(at(2_002, 0)));
        assert!(!stamp.settled_at(at(2_003, 499)));
        assert!(stamp.settled_at(at(2_003, 500)));
        assert!(!stamp.settled_at(at(10, 0)), "a clock behind the file");
    }
}
