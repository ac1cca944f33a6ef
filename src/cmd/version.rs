//! `consul-ecs version`.

use crate::logging::output;

/// Prints `consul-ecs v<semver> (<git sha>)`, as consul-ecs does (the sha is `unknown` when
/// the binary was built outside a git checkout; see build.rs).
pub fn run() -> i32 {
    output!(
        "consul-ecs v{} ({})",
        env!("CARGO_PKG_VERSION"),
        env!("CONSUL_ECS_GIT_SHA")
    );
    crate::exit::OK
}
