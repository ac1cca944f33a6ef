//! One module per subcommand: wiring only; protocol code lives in `crates/`.

pub mod acl_controller;
pub mod consul_clients;
pub mod entrypoint;
pub mod files;
pub mod health_sync;
pub mod mesh_init;
pub mod net_dial;
pub mod validate_config;
pub mod version;

/// Runs a subcommand's async body to completion on a single-threaded runtime (each of them
/// waits on I/O one thing at a time; one thread keeps them small) and returns its exit code.
pub fn block_on(name: &str, body: impl std::future::Future<Output = i32>) -> i32 {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(body),
        Err(e) => {
            eprintln!("{name}: cannot start the async runtime: {e}");
            crate::exit::RUNTIME
        }
    }
}
