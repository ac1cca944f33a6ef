//! The shapes diagnostics leave the program in: a problem with its hint (one error line
//! plus a `hint:` line), and `consul-ecs doctor`'s ok/FAIL list.

use std::fmt;

/// A failure explained: what is wrong, and what to change. Displays as two lines, the
/// second starting with `hint: `, so a log line reads `… ERROR <problem>` then `hint: …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}\nhint: {hint}")]
pub struct Diagnosed {
    /// What is wrong.
    pub problem: String,
    /// What to change.
    pub hint: String,
}

impl From<iam_login::Explanation> for Diagnosed {
    fn from(e: iam_login::Explanation) -> Diagnosed {
        Diagnosed {
            problem: e.problem,
            hint: e.hint,
        }
    }
}

/// How one doctor check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It works.
    Ok,
    /// It does not.
    Fail,
    /// Not run: it does not apply, or an earlier check it needs failed.
    Skip,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Ok => "ok",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        })
    }
}

/// One line of the doctor's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked, e.g. `Consul reachable`.
    pub name: &'static str,
    /// The outcome.
    pub status: Status,
    /// What was found (never a secret).
    pub detail: String,
    /// What to change, for a failure.
    pub hint: Option<String>,
}

impl Check {
    /// A passed check.
    pub fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Ok,
            detail: detail.into(),
            hint: None,
        }
    }

    /// A failed check with what to do.
    pub fn fail(name: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Fail,
            detail: detail.into(),
            hint: Some(hint.into()),
        }
    }

    /// A check that was not run, and why.
    pub fn skip(name: &'static str, why: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Skip,
            detail: why.into(),
            hint: None,
        }
    }
}

/// The list: `ok    name: detail`, a failure's hint indented under it.
pub fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    for check in checks {
        out.push_str(&format!(
            "{:<5} {}: {}\n",
            check.status.to_string(),
            check.name,
            check.detail
        ));
        if let Some(hint) = &check.hint {
            out.push_str(&format!("      hint: {hint}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_short_list() {
        let out = render(&[
            Check::ok("task metadata", "task 1 of family web"),
            Check::fail("Consul reachable", "refused", "check the address"),
            Check::skip("auth method login", "Consul is not reachable"),
        ]);
        assert_eq!(
            out,
            "ok    task metadata: task 1 of family web\n\
             FAIL  Consul reachable: refused\n      hint: check the address\n\
             skip  auth method login: Consul is not reachable\n"
        );
        let d = Diagnosed {
            problem: "p".into(),
            hint: "h".into(),
        };
        assert_eq!(d.to_string(), "p\nhint: h");
    }
}
