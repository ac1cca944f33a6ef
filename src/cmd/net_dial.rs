//! `consul-ecs net-dial HOST:PORT [-timeout 3s]`: a TCP probe for images without `nc`.
//!
//! Exit codes follow consul-ecs: 0 connected, 2 could not connect, 1 wrong arguments. Unlike
//! v0.6.2 the attempt is bounded by a timeout, so an ECS health check never hangs on it.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::cli::NetDialArgs;
use crate::exit;

pub fn run(args: &NetDialArgs) -> i32 {
    let target = match args.target.as_slice() {
        [one] => one.clone(),
        _ => {
            tracing::error!(
                "net-dial: expected exactly one argument HOST:PORT, got {}",
                args.target.len()
            );
            return exit::USAGE;
        }
    };
    if !looks_like_host_port(&target) {
        tracing::error!("net-dial: {target:?} is not HOST:PORT");
        return exit::USAGE;
    }
    match dial(&target, args.timeout) {
        Ok(()) => exit::OK,
        Err(why) => {
            tracing::error!("net-dial: {target}: {why}");
            exit::RUNTIME
        }
    }
}

fn looks_like_host_port(target: &str) -> bool {
    match target.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok(),
        None => false,
    }
}

/// Resolves and connects within `timeout` overall. Name resolution runs on its own thread
/// because the system resolver has no timeout of its own.
fn dial(target: &str, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let (tx, rx) = mpsc::channel();
    let name = target.to_owned();
    std::thread::spawn(move || {
        let _ = tx.send(
            name.to_socket_addrs()
                .map(|a| a.collect::<Vec<SocketAddr>>()),
        );
    });
    let addrs = match rx.recv_timeout(timeout) {
        Ok(Ok(addrs)) if !addrs.is_empty() => addrs,
        Ok(Ok(_)) => return Err("name resolved to no address".into()),
        Ok(Err(e)) => return Err(format!("cannot resolve: {e}")),
        Err(_) => return Err(format!("name resolution timed out after {timeout:?}")),
    };
    let mut last = String::from("no address tried");
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("timed out after {timeout:?} ({last})"));
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(_stream) => return Ok(()),
            // The failure line names the target already; a resolved address is added only
            // when it says more (a host name's address).
            Err(e) if addr.to_string() == target => last = e.to_string(),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}
