//! One adapter per subcommand: flags in, one call into the application layer (`task`) or a
//! crate, exit code out. No adapter imports another.

pub mod acl_controller;
pub mod controller;
pub mod doctor;
pub mod entrypoint;
pub mod health_sync;
pub mod mesh_init;
pub mod migrate_config;
pub mod net_dial;
pub mod validate_config;
pub mod version;

/// Runs a subcommand's async body on the single-threaded runtime and returns its exit code
/// (a runtime that cannot start is a runtime failure).
pub fn block_on(body: impl std::future::Future<Output = i32>) -> i32 {
    match task::runtime::block_on(body) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            crate::exit::RUNTIME
        }
    }
}
