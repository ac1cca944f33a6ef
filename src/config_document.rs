//! Where validate-config and migrate-config read a config document from: a file the
//! operator names, else `CONSUL_ECS_CONFIG_JSON` (both adapters use it; neither imports
//! the other).

use std::fmt;
use std::path::Path;

use boundary::Links;

/// Largest config file read (the largest upstream fixture is under 4 KiB).
const CONFIG_FILE_LIMIT: u64 = 1024 * 1024;

/// A config document and the name to report its problems under.
pub struct ConfigText {
    /// The file's path, or the variable's name.
    pub source: String,
    /// The document.
    pub text: String,
}

/// Why there is no document to read.
pub enum Unreadable {
    /// The named file could not be read (the error names it).
    File(boundary::ReadError),
    /// The variable is unset, empty or not UTF-8.
    Env(config::ConfigError),
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unreadable::File(e) => write!(f, "cannot read config file: {e}"),
            Unreadable::Env(e) => write!(f, "{}: {e}", config::CONFIG_ENV),
        }
    }
}

/// Reads the document from `file`, else from the environment.
pub fn read(file: Option<&Path>) -> Result<ConfigText, Unreadable> {
    match file {
        // A config is some kilobytes; a path at /dev/zero or a FIFO must not hang or eat
        // memory (an operator-named file may be a link, so links are followed).
        Some(path) => boundary::read_text_file(path, CONFIG_FILE_LIMIT, Links::Follow)
            .map(|text| ConfigText {
                source: path.display().to_string(),
                text,
            })
            .map_err(Unreadable::File),
        None => {
            let value = std::env::var_os(config::CONFIG_ENV);
            let text = config::env_text(value.as_deref()).map_err(Unreadable::Env)?;
            Ok(ConfigText {
                source: config::CONFIG_ENV.to_string(),
                text: text.to_owned(),
            })
        }
    }
}
