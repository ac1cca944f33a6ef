//! Serialising the bootstrap the way the file is written.

use std::path::Path;

use serde_json::Value;

use crate::error::BootstrapError;

/// Pretty JSON (two-space indent, like Consul's `json.Indent`) with a trailing newline.
/// Key order is the generator's, which follows Consul's template.
pub fn to_pretty_json(doc: &Value) -> String {
    // Serialising a `Value` cannot fail: every map key is a string.
    let mut text = serde_json::to_string_pretty(doc).unwrap_or_default();
    text.push('\n');
    text
}

/// Writes the bootstrap to `path` with mode 0600, replacing any previous file.
///
/// The document holds the ACL token in clear text, so it must not be world-readable. The
/// content goes to a temporary sibling first and is renamed into place, so Envoy never
/// reads a half-written file. The write and its fsyncs run on tokio's blocking pool.
pub async fn write_bootstrap_file(path: &Path, doc: &Value) -> Result<(), BootstrapError> {
    boundary::write_atomic_off_thread(path, to_pretty_json(doc).into_bytes(), 0o600)
        .await
        .map_err(|source| BootstrapError::Write {
            path: path.to_path_buf(),
            source,
        })
}
