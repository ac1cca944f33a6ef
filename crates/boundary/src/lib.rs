//! What crosses the process boundary, read or written in one careful way.
//!
//! Everything consul-ecs reads from outside (HTTP bodies, token files, configs, CA files)
//! has a size limit and a kind it must be, and everything it puts into the task's shared
//! bootstrap directory is written atomically with its final permissions. Errors and texts
//! from outside become messages in one shape. This crate is the one place each is done:
//!
//! - [`read`]: bounded reads of HTTP bodies and files (no FIFO blocking, links refused on
//!   request), and the one CA-directory walk ([`read_ca_dir`]: no directory links followed,
//!   a cap on the number of files, each file read bounded);
//! - [`cached`]: a token file re-read only when it changed, off the runtime thread;
//! - [`write`]: atomic writes, with async versions that run on tokio's blocking pool;
//! - [`text`]: the error chain as one line, truncation and redaction;
//! - [`aws`]: the HTTPS client of AWS SDK calls (one rustls crypto provider in the binary).

#![deny(missing_docs)]

pub mod aws;
pub mod cached;
pub mod read;
pub mod text;
pub mod write;

pub use aws::{aws_http_client, default_region_chain, provider_config};
pub use cached::CachedFile;
pub use read::{
    file_text, read_body, read_ca_dir, read_file, read_file_off_thread, read_http_body,
    read_text_file, walk_files, Links, ReadError, CA_DIR_MAX_FILES, PEM_FILE_LIMIT,
};
pub use text::{error_chain, one_line_excerpt, redact_secrets, truncate_bytes, truncate_chars};
pub use write::{
    write_atomic, write_atomic_from, write_atomic_from_off_thread, write_atomic_off_thread,
};
