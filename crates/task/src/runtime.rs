//! How a subcommand's async body runs, and the signals that stop it.

use std::future::Future;

/// Runs `body` to completion on a single-threaded runtime (each subcommand waits on I/O one
/// thing at a time; one thread keeps them small).
pub fn block_on<T>(body: impl Future<Output = T>) -> std::io::Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(body))
}

/// Resolves with the name of the first SIGTERM or SIGINT. The handlers are installed when
/// this is called, so call it first: a signal that arrives during start-up is then seen.
pub fn stop_signal() -> std::io::Result<impl Future<Output = &'static str>> {
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
