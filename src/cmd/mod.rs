//! One module per subcommand: wiring only; protocol code lives in `crates/`.

pub mod entrypoint;
pub mod net_dial;
pub mod validate_config;
pub mod version;
