//! A refused write explained with everything the task knows: the token read back through
//! the refusing client, and — when the task logged in — the task role's findings behind the
//! token's identity. One entry point for mesh-init's registrations and health-sync's check
//! updates.

use std::fmt;

use consul::{Client, ConsulError};
use iam_login::{Explanation, LoginParams};

use crate::identity::truncate;
use crate::refused::explain_refused_answer;
use crate::{role_findings, Expected, RefusedWrite};

/// What Consul answered to a refused write, as an explanation quotes it (`403 Permission
/// denied…`, at most 200 characters of the body). Taken from the error once, so the
/// explanation can run after the error itself is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalAnswer(String);

impl RefusalAnswer {
    /// The status and body of `refusal`, or its message when it has no HTTP answer.
    pub fn of(refusal: &ConsulError) -> RefusalAnswer {
        RefusalAnswer(match (refusal.http_status(), refusal.body()) {
            (Some(status), Some(body)) => format!("{status} {}", truncate(body, 200)),
            _ => truncate(&refusal.to_string(), 200),
        })
    }
}

impl fmt::Display for RefusalAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Explains why `agent` refused `write` with `answer`. `login` is the login's parameters
/// when the token came from the task's own login (the task role is then looked at); `None`
/// looks at the token only.
pub async fn explain_refusal(
    agent: &Client,
    write: &RefusedWrite,
    answer: &RefusalAnswer,
    expected: &Expected,
    login: Option<&LoginParams>,
) -> Explanation {
    let findings = match login {
        Some(params) => role_findings(params, expected).await.unwrap_or_default(),
        None => Vec::new(),
    };
    explain_refused_answer(agent, write, answer, expected, &findings).await
}
