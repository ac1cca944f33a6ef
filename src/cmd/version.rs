//! `consul-ecs version`.

/// The version line, `consul-ecs v<semver>`, as consul-ecs prints it.
pub fn run() -> i32 {
    println!("consul-ecs v{}", env!("CARGO_PKG_VERSION"));
    0
}
