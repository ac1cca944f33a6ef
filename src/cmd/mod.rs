//! One module per subcommand: wiring only; protocol code lives in `crates/`.

pub mod acl_controller;
pub mod consul_clients;
pub mod doctor;
pub mod entrypoint;
pub mod files;
pub mod health_sync;
pub mod mesh_init;
pub mod net_dial;
pub mod refused_write;
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
            tracing::error!("{name}: cannot start the async runtime: {e}");
            crate::exit::RUNTIME
        }
    }
}

/// Resolves with the name of the first SIGTERM or SIGINT. The handlers are installed when
/// this is called, so call it first: a signal that arrives during start-up is then seen.
pub fn stop_signal() -> std::io::Result<impl std::future::Future<Output = &'static str>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        }
    })
}

/// 128 + the signal's number, as a shell reports a process a signal ended, for the names
/// [`stop_signal`] resolves with.
pub fn exit_code_for_signal(name: &str) -> i32 {
    // Linux numbers: SIGINT 2, SIGTERM 15.
    match name {
        "SIGINT" => 128 + 2,
        _ => 128 + 15,
    }
}
