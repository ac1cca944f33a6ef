//! One module per subcommand: wiring only; protocol code lives in `crates/`.

pub mod consul_clients;
pub mod entrypoint;
pub mod files;
pub mod health_sync;
pub mod mesh_init;
pub mod net_dial;
pub mod validate_config;
pub mod version;
