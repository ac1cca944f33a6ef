//! Applying the rules: one `iptables` run per rule, as Consul's `sdk/iptables` executor does
//! (protocols.md §10.3). Only the `iptables` program is needed in the container, with either
//! backend (nf_tables or legacy).

use std::ffi::OsString;
use std::process::Stdio;

use tokio::process::Command;

use crate::rules::Rule;
use crate::TproxyError;

/// How much of `iptables`' stderr an error keeps.
const STDERR_EXCERPT_CHARS: usize = 400;

/// Runs the `iptables` program.
#[derive(Clone, Debug)]
pub struct Iptables {
    program: OsString,
}

impl Default for Iptables {
    /// `iptables` from `PATH`.
    fn default() -> Iptables {
        Iptables {
            program: OsString::from("iptables"),
        }
    }
}

impl Iptables {
    /// A specific `iptables` (a path, or a name looked up in `PATH`).
    pub fn with_program(program: impl Into<OsString>) -> Iptables {
        Iptables {
            program: program.into(),
        }
    }

    /// Applies `rules` in order and stops at the first that fails, naming it. The rules
    /// before it stay applied, as with upstream: mesh-init then fails, and ECS replaces the
    /// whole task (and its network namespace).
    ///
    /// The child is spawned from the calling thread, so it runs in that thread's network
    /// namespace (the tests rely on it).
    pub async fn apply(&self, rules: &[Rule]) -> Result<(), TproxyError> {
        for rule in rules {
            tracing::debug!(rule = %rule, "applying iptables rule");
            let output = Command::new(&self.program)
                .args(rule.args())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .output()
                .await
                .map_err(|source| TproxyError::Spawn {
                    rule: Box::new(rule.clone()),
                    program: self.program.to_string_lossy().into_owned(),
                    source,
                })?;
            if !output.status.success() {
                return Err(TproxyError::RuleFailed {
                    rule: Box::new(rule.clone()),
                    status: output.status.to_string(),
                    stderr: boundary::text::one_line_excerpt(&output.stderr, STDERR_EXCERPT_CHARS),
                });
            }
        }
        Ok(())
    }
}
