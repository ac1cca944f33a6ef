//! Serialising the bootstrap the way the file is written.

use std::io::Write as _;
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
/// reads a half-written file.
pub fn write_bootstrap_file(path: &Path, doc: &Value) -> Result<(), BootstrapError> {
    let err = |source| BootstrapError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp_name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);

    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(err)?;
    // `mode` only applies when the file is created; a leftover temp file keeps its own.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(err)?;
    }
    file.write_all(to_pretty_json(doc).as_bytes())
        .map_err(err)?;
    file.sync_all().map_err(err)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(err)
}
