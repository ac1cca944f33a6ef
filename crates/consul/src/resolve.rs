//! Host-name resolution with its failure typed.
//!
//! reqwest's default resolver (hyper-util's `GaiResolver`) reports a failed `getaddrinfo` as
//! a plain `std::io::Error` of an unnamed kind, indistinguishable by type from any other I/O
//! error on the way. This resolver does the same lookup (the system resolver, on a blocking
//! thread) and wraps a failure in [`NameNotResolved`], so [`crate::TransportKind`] can tell
//! "the name did not resolve" by type.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A host name the system resolver could not turn into addresses.
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve {host}: {source}")]
pub struct NameNotResolved {
    /// The name looked up.
    pub host: String,
    /// The resolver's error (getaddrinfo's).
    #[source]
    pub source: std::io::Error,
}

/// The system resolver, as reqwest's default, with [`NameNotResolved`] errors.
#[derive(Debug, Default)]
pub(crate) struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port (or the scheme's) on every address.
            match tokio::net::lookup_host((host.clone(), 0)).await {
                Ok(addrs) => {
                    let addrs: Vec<SocketAddr> = addrs.collect();
                    Ok(Box::new(addrs.into_iter()) as Addrs)
                }
                Err(source) => Err(Box::new(NameNotResolved { host, source }) as _),
            }
        })
    }
}
