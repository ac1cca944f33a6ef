//! Process exit codes. The entrypoints exit with their child's code instead.

/// Everything worked.
pub const OK: i32 = 0;
/// Wrong arguments, or a configuration that cannot be used.
pub const USAGE: i32 = 1;
/// The work failed at run time (Consul, AWS, ECS or the network said no).
pub const RUNTIME: i32 = 2;
