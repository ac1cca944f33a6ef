//! Reading what comes from outside the process without trusting its size or its kind.
//!
//! A Consul agent, a metadata endpoint or a credentials server that answers with an endless
//! body, or a token path that points at `/dev/zero` or a FIFO, must end in a clear error, not
//! in gigabytes of memory or a process that waits forever:
//!
//! - [`read_body`]: an HTTP response body, at most `limit` bytes ([`read_http_body`] for a
//!   body of another client than reqwest);
//! - [`read_file`]: a file that must be a regular file of at most `limit` bytes, opened
//!   without following a symlink when [`Links::Refuse`] is asked for, and without blocking on
//!   a FIFO; [`read_file_off_thread`] does the same on tokio's blocking pool.

use std::fs::Metadata;
use std::io::{self, Read as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

/// A body or a file larger than the limit its reader set.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The HTTP body is (or announced it would be) larger than `limit` bytes.
    #[error("the response body is larger than the {} limit", human(*limit))]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// Reading the body failed part way (connection reset, timeout).
    #[error("reading the response body failed: {0}")]
    Body(#[source] reqwest::Error),
    /// Reading a body of another HTTP client ([`read_http_body`]) failed part way.
    #[error("reading the response body failed: {0}")]
    Stream(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The file is a symlink, and links are refused for it.
    #[error("{path} is a symbolic link; refusing to follow it")]
    Symlink {
        /// The path as given.
        path: String,
    },
    /// The path names something other than a regular file (a device, a FIFO, a directory).
    #[error("{path} is not a regular file (it is {kind})")]
    NotRegular {
        /// The path as given.
        path: String,
        /// What it is instead.
        kind: &'static str,
    },
    /// The file is larger than `limit` bytes.
    #[error("{path} is larger than the {} limit", human(*limit))]
    FileTooLarge {
        /// The path as given.
        path: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A directory walk ([`walk_files`]) found more files than it may read.
    #[error("{path}: more than {limit} files")]
    TooManyFiles {
        /// The directory as given.
        path: String,
        /// The most files the walk reads.
        limit: usize,
    },
    /// Opening or reading the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The path as given.
        path: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl ReadError {
    /// True when the file does not exist (callers often treat that as "nothing there").
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// Reads a whole response body, failing as soon as it passes `limit` bytes (before reading
/// anything when `Content-Length` already says so). Memory use is bounded by `limit` plus
/// one chunk.
pub async fn read_body(response: reqwest::Response, limit: u64) -> Result<Vec<u8>, ReadError> {
    if response.content_length().is_some_and(|len| len > limit) {
        return Err(ReadError::BodyTooLarge { limit });
    }
    let body = http::Response::<reqwest::Body>::from(response).into_body();
    collect_limited(body, limit, ReadError::Body).await
}

/// [`read_body`] for any HTTP body (hyper's own client, as on a unix socket): at most
/// `limit` bytes, refused before reading when the body's exact size is known to be larger.
pub async fn read_http_body<B>(body: B, limit: u64) -> Result<Vec<u8>, ReadError>
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if body.size_hint().lower() > limit {
        return Err(ReadError::BodyTooLarge { limit });
    }
    collect_limited(body, limit, |e| ReadError::Stream(e.into())).await
}

/// The data frames of `body` until its end, failing once they pass `limit` bytes.
async fn collect_limited<B: http_body::Body>(
    body: B,
    limit: u64,
    stream_error: impl Fn(B::Error) -> ReadError,
) -> Result<Vec<u8>, ReadError> {
    use bytes::Buf as _;
    use http_body_util::BodyExt as _;
    let mut body = std::pin::pin!(body);
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(chunk) = frame.map_err(&stream_error)?.into_data() else {
            continue; // trailers
        };
        if out.len() as u64 + chunk.remaining() as u64 > limit {
            return Err(ReadError::BodyTooLarge { limit });
        }
        out.extend_from_slice(chunk.chunk());
    }
    Ok(out)
}

/// Whether [`read_file`] may follow a symlink at the path itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Follow it (a config file named by the operator may well be a link).
    Follow,
    /// Refuse it: the file is one consul-ecs wrote itself (a token), so a link there was put
    /// by someone else, and reading through it could send another file's content to Consul.
    Refuse,
}

/// Reads `path`, which must be a regular file of at most `limit` bytes.
///
/// The file is opened non-blocking, so a FIFO is refused instead of waiting for a writer,
/// and its kind is checked on the open descriptor, so it cannot be swapped in between.
pub fn read_file(path: &Path, limit: u64, links: Links) -> Result<Vec<u8>, ReadError> {
    read_file_and_metadata(path, limit, links).map(|(bytes, _)| bytes)
}

/// [`read_file`] on tokio's blocking pool, so a slow disk or network file system never stalls
/// the runtime's thread. Must be called within a tokio runtime.
pub async fn read_file_off_thread(
    path: &Path,
    limit: u64,
    links: Links,
) -> Result<Vec<u8>, ReadError> {
    let owned = path.to_path_buf();
    run_off_thread(path, move || read_file(&owned, limit, links)).await
}

/// Runs a blocking file operation on tokio's blocking pool; a panic there is reported as an
/// I/O error naming `path` rather than taking the caller down with it.
pub(crate) async fn run_off_thread<T: Send + 'static>(
    path: &Path,
    work: impl FnOnce() -> Result<T, ReadError> + Send + 'static,
) -> Result<T, ReadError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|join| {
            Err(ReadError::Io {
                path: path.display().to_string(),
                source: io::Error::other(format!("the reading task failed: {join}")),
            })
        })
}

/// [`read_file`], with the metadata of the open descriptor taken before the read (what
/// [`crate::CachedFile`] compares to tell whether the file changed since).
pub(crate) fn read_file_and_metadata(
    path: &Path,
    limit: u64,
    links: Links,
) -> Result<(Vec<u8>, Metadata), ReadError> {
    let shown = || path.display().to_string();
    let io_err = |source: io::Error| ReadError::Io {
        path: shown(),
        source,
    };
    let mut flags = nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC;
    if links == Links::Refuse {
        flags |= nix::libc::O_NOFOLLOW;
    }
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
    {
        Ok(file) => file,
        // O_NOFOLLOW on a link fails with ELOOP: say what it means.
        Err(e) if links == Links::Refuse && e.raw_os_error() == Some(nix::libc::ELOOP) => {
            return Err(ReadError::Symlink { path: shown() })
        }
        Err(e) => return Err(io_err(e)),
    };
    let meta = file.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular {
            path: shown(),
            kind: kind_of(&meta.file_type()),
        });
    }
    if meta.len() > limit {
        return Err(ReadError::FileTooLarge {
            path: shown(),
            limit,
        });
    }
    // The size may change after the check: read at most one byte past the limit to tell.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::FileTooLarge {
            path: shown(),
            limit,
        });
    }
    Ok((bytes, meta))
}

/// [`read_file`] as text: invalid UTF-8 is an error naming the file.
pub fn read_text_file(path: &Path, limit: u64, links: Links) -> Result<String, ReadError> {
    file_text(path, read_file(path, limit, links)?)
}

/// The bytes read from `path` as text: invalid UTF-8 is an error naming the file.
pub fn file_text(path: &Path, bytes: Vec<u8>) -> Result<String, ReadError> {
    String::from_utf8(bytes).map_err(|_| ReadError::Io {
        path: path.display().to_string(),
        source: io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"),
    })
}

/// Every file under `dir`, or `dir` itself when it is not a directory, in file-name order,
/// as go-rootcerts (Go's `filepath.Walk`) walks a CA path: subdirectories recursively, but a
/// link to a directory is not followed (so no loops, and nothing outside the tree); it is
/// listed as a file, and reading it fails as Go's does. More than `max_files` files is an
/// error, so a path pointed at `/` fails instead of reading the whole disk.
pub fn walk_files(dir: &Path, max_files: usize) -> Result<Vec<PathBuf>, ReadError> {
    let mut files = Vec::new();
    walk_into(dir, dir, max_files, &mut files)?;
    Ok(files)
}

fn walk_into(
    root: &Path,
    dir: &Path,
    max_files: usize,
    files: &mut Vec<PathBuf>,
) -> Result<(), ReadError> {
    let io_err = |source: io::Error| ReadError::Io {
        path: dir.display().to_string(),
        source,
    };
    // `symlink_metadata`: a link is looked at, not through.
    if !std::fs::symlink_metadata(dir).map_err(io_err)?.is_dir() {
        files.push(dir.to_path_buf());
        return Ok(());
    }
    let mut entries = std::fs::read_dir(dir)
        .map_err(io_err)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_err)?;
    // A stable order makes "which file is bad" reproducible.
    entries.sort();
    for path in entries {
        walk_into(root, &path, max_files, files)?;
        if files.len() > max_files {
            return Err(ReadError::TooManyFiles {
                path: root.display().to_string(),
                limit: max_files,
            });
        }
    }
    Ok(())
}

/// Largest PEM file read (a CA bundle, a client certificate or key). The full Mozilla
/// bundle is about 220 KiB; a file many times that is not a certificate file.
pub const PEM_FILE_LIMIT: u64 = 1 << 20;

/// Most files read from a CA directory (`CONSUL_CAPATH`, the gRPC CA path).
pub const CA_DIR_MAX_FILES: usize = 1024;

/// The path and content of every file of a CA directory (see [`walk_files`]): at most
/// [`CA_DIR_MAX_FILES`] files of at most [`PEM_FILE_LIMIT`] bytes each, links to files
/// followed (the operator may link a CA bundle in), regular files only. An empty list when
/// the directory holds no file; what counts as a certificate is the caller's business.
pub fn read_ca_dir(dir: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>, ReadError> {
    walk_files(dir, CA_DIR_MAX_FILES)?
        .into_iter()
        .map(|file| {
            let pem = read_file(&file, PEM_FILE_LIMIT, Links::Follow)?;
            Ok((file, pem))
        })
        .collect()
}

fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else {
        "not a file"
    }
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b}-byte"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_regular_file_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc").unwrap();
        assert_eq!(read_file(&path, 3, Links::Refuse).unwrap(), b"abc");
        let err = read_file(&path, 2, Links::Refuse).unwrap_err();
        assert!(
            matches!(err, ReadError::FileTooLarge { limit: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("2-byte limit"), "{err}");
    }

    #[test]
    fn devices_fifos_and_directories_are_refused_without_blocking() {
        let err = read_file(Path::new("/dev/zero"), 64, Links::Follow).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/dev/zero is not a regular file (it is a character device)"
        );
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let err = read_file(&fifo, 64, Links::Follow).unwrap_err();
        assert!(err.to_string().ends_with("(it is a FIFO)"), "{err}");
        let err = read_file(dir.path(), 64, Links::Follow).unwrap_err();
        assert!(err.to_string().ends_with("(it is a directory)"), "{err}");
    }

    #[test]
    fn a_symlink_is_refused_or_followed_as_asked() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("secret");
        std::fs::write(&target, "other file").unwrap();
        let link = dir.path().join("service-token");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = read_file(&link, 64, Links::Refuse).unwrap_err();
        assert!(matches!(err, ReadError::Symlink { .. }), "{err}");
        assert_eq!(read_file(&link, 64, Links::Follow).unwrap(), b"other file");
    }

    #[test]
    fn a_missing_file_says_so() {
        let err = read_file(Path::new("/nonexistent/x"), 1, Links::Refuse).unwrap_err();
        assert!(err.is_not_found(), "{err}");
    }

    #[tokio::test]
    async fn any_http_body_is_read_whole_within_its_limit_and_refused_past_it() {
        let body = || http_body_util::Full::new(bytes::Bytes::from_static(b"0123456789"));
        assert_eq!(read_http_body(body(), 10).await.unwrap(), b"0123456789");
        let err = read_http_body(body(), 9).await.unwrap_err();
        assert!(matches!(err, ReadError::BodyTooLarge { limit: 9 }), "{err}");
        // A body whose size is not known up front is cut off as it passes the limit.
        let streamed = Chunks(vec![b"01234".as_slice(), b"56789".as_slice()].into());
        let err = read_http_body(streamed, 7).await.unwrap_err();
        assert!(matches!(err, ReadError::BodyTooLarge { limit: 7 }), "{err}");
    }

    /// A body of data frames with no size hint, as a chunked answer is.
    struct Chunks(std::collections::VecDeque<&'static [u8]>);

    impl http_body::Body for Chunks {
        type Data = bytes::Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
            let next = self.0.pop_front();
            std::task::Poll::Ready(
                next.map(|c| Ok(http_body::Frame::data(bytes::Bytes::from_static(c)))),
            )
        }
    }

    #[tokio::test]
    async fn a_body_past_the_limit_is_cut_off() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // One answer with a Content-Length, one chunked without end: both must stop.
        tokio::spawn(async move {
            for chunked in [false, true] {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf).await;
                if chunked {
                    let _ = conn
                        .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                        .await;
                    let chunk = format!("400\r\n{}\r\n", "x".repeat(0x400));
                    while conn.write_all(chunk.as_bytes()).await.is_ok() {}
                } else {
                    let _ = conn
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 999999999\r\n\r\nxx")
                        .await;
                }
            }
        });
        let client = reqwest::Client::new();
        for _ in 0..2 {
            let response = client.get(format!("http://{addr}/")).send().await.unwrap();
            let err = read_body(response, 64 * 1024).await.unwrap_err();
            assert_eq!(
                err.to_string(),
                "the response body is larger than the 64 KiB limit"
            );
        }
    }
}
