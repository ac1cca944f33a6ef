//! A TCP relay between the binary and one of its peers, for tests that need the peer to
//! vanish while the binary runs (every connection cut, new ones refused) or a request to be
//! seen in flight before the test acts (data from the binary held back until released).
//!
//! It works on bytes, so it relays HTTP with keep-alive and signed requests unchanged (the
//! `Host` header the binary sent is what the peer sees).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

/// A relay on a free loopback port to `upstream`; stopped when dropped.
pub struct Relay {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    upstream: SocketAddr,
    stopped: AtomicBool,
    held: Mutex<bool>,
    released: Condvar,
    /// Reads from the binary that had to wait because the relay was holding.
    held_reads: AtomicUsize,
    /// Both ends of every relayed connection, to cut them at [`Relay::stop`].
    connections: Mutex<Vec<TcpStream>>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Relay {
    /// A relay to `upstream`, given as `http://HOST:PORT` or `HOST:PORT`.
    pub fn start(upstream: &str) -> Relay {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|e| panic!("relay upstream {upstream:?}: {e}"));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream,
            stopped: AtomicBool::new(false),
            held: Mutex::new(false),
            released: Condvar::new(),
            held_reads: AtomicUsize::new(0),
            connections: Mutex::new(Vec::new()),
        });
        let accepting = shared.clone();
        thread::spawn(move || accept(listener, accepting));
        Relay { addr, shared }
    }

    /// `http://127.0.0.1:PORT`: the address to give the binary instead of the peer's.
    pub fn http_addr(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// From now on, data from the binary waits in the relay until [`Relay::release`].
    pub fn hold(&self) {
        *locked(&self.shared.held) = true;
    }

    /// Lets the held data through.
    pub fn release(&self) {
        *locked(&self.shared.held) = false;
        self.shared.released.notify_all();
    }

    /// How many times data from the binary arrived while holding: a request in flight.
    pub fn held_reads(&self) -> usize {
        self.shared.held_reads.load(Ordering::SeqCst)
    }

    /// The peer is gone: every relayed connection is cut and new ones are refused.
    pub fn stop(&self) {
        if self.shared.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wakes the accept loop, which sees `stopped` and closes the listener.
        let _ = TcpStream::connect(self.addr);
        for stream in locked(&self.shared.connections).drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        self.release();
        // The listener is closed once the accept loop returns; wait for the refusal so the
        // caller can rely on it.
        for _ in 0..500 {
            if TcpStream::connect(self.addr).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(2));
        }
        panic!("relay {}: still accepting after stop", self.addr);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept(listener: TcpListener, shared: Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let Ok(upstream) = TcpStream::connect(shared.upstream) else {
            continue; // the client sees its connection closed, as from a dead peer
        };
        {
            let mut connections = locked(&shared.connections);
            for end in [&client, &upstream] {
                if let Ok(clone) = end.try_clone() {
                    connections.push(clone);
                }
            }
        }
        let (client_read, upstream_write) =
            (client.try_clone().unwrap(), upstream.try_clone().unwrap());
        let to_upstream = shared.clone();
        thread::spawn(move || copy(client_read, upstream_write, Some(to_upstream)));
        thread::spawn(move || copy(upstream, client, None));
    }
}

/// Copies `from` to `to` until either end closes; with `hold`, each read waits while the
/// relay is holding.
fn copy(mut from: TcpStream, mut to: TcpStream, hold: Option<Arc<Shared>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(shared) = &hold {
            let mut held = locked(&shared.held);
            if *held {
                shared.held_reads.fetch_add(1, Ordering::SeqCst);
            }
            while *held && !shared.stopped.load(Ordering::SeqCst) {
                held = shared
                    .released
                    .wait(held)
                    .unwrap_or_else(|e| e.into_inner());
            }
            if shared.stopped.load(Ordering::SeqCst) {
                break;
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
