//! A write the Consul agent refused with 403 (a registration, a TTL check update): which
//! service identity the token carries (`GET /v1/acl/token/self` with the same token), which
//! service was being written, and — when the task logged in — what of the task role made the
//! token so (docs/protocols.md §3.11, §3.13).

use std::path::PathBuf;

use consul::{AclToken, Client, ConsulError, QueryOptions};
use iam_login::Explanation;

use crate::findings::{Expected, Finding, SERVICE_NAME_TAG};
use crate::identity::truncate;
use crate::refusal::RefusalAnswer;

/// Where the token of the refused request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOrigin {
    /// mesh-init's login: the service token file.
    Login {
        /// The token file (`<bootstrapDir>/service-token`).
        file: PathBuf,
    },
    /// `CONSUL_HTTP_TOKEN` / `CONSUL_HTTP_TOKEN_FILE`.
    Environment,
    /// No token: the request was anonymous.
    Anonymous,
}

impl TokenOrigin {
    fn words(&self) -> String {
        match self {
            TokenOrigin::Login { file } => format!("the service token in {}", file.display()),
            TokenOrigin::Environment => {
                "the token of CONSUL_HTTP_TOKEN / CONSUL_HTTP_TOKEN_FILE".to_string()
            }
            TokenOrigin::Anonymous => "the anonymous token".to_string(),
        }
    }
}

/// The write that was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedWrite {
    /// What was attempted, e.g. `register service "web-1f2e…"`.
    pub what: String,
    /// The token's origin.
    pub token: TokenOrigin,
}

/// Says why `agent` refused `write` with `refusal`: reads the token back through the same
/// client (so with the same token) and compares its identities with `expected`; `findings`
/// (from the task role, when the task logged in) supply the cause behind a wrong identity.
pub async fn explain_refused_write(
    agent: &Client,
    write: &RefusedWrite,
    refusal: &ConsulError,
    expected: &Expected,
    findings: &[Finding],
) -> Explanation {
    explain_refused_answer(
        agent,
        write,
        &RefusalAnswer::of(refusal),
        expected,
        findings,
    )
    .await
}

/// [`explain_refused_write`] with Consul's answer already taken from the error, for an
/// explanation that runs after the error is gone (health-sync's, in the background).
pub async fn explain_refused_answer(
    agent: &Client,
    write: &RefusedWrite,
    answer: &RefusalAnswer,
    expected: &Expected,
    findings: &[Finding],
) -> Explanation {
    let head = format!(
        "the Consul agent refused to {} of service {:?} ({answer})",
        write.what, expected.service
    );
    if write.token == TokenOrigin::Anonymous {
        return Explanation {
            problem: format!("{head}: the request carried no token"),
            hint:
                "enable consulLogin in the config, or give the container CONSUL_HTTP_TOKEN(_FILE)"
                    .to_string(),
        };
    }
    match agent.token_read_self(&QueryOptions::default()).await {
        Ok(token) => explain_token(&head, write, &token, expected, findings),
        Err(e) if e.is_acl_not_found() => Explanation {
            problem: format!(
                "{head}: {} is not known to Consul: it was deleted (the acl-controller \
                 deletes the tokens of tasks it sees stopped; a logout) or it expired",
                write.token.words()
            ),
            hint: match &write.token {
                TokenOrigin::Login { .. } => "restart the task so mesh-init logs in again; if \
                    it keeps happening, check that the acl-controller watches this task's \
                    cluster"
                    .to_string(),
                _ => "give the container a valid token in CONSUL_HTTP_TOKEN(_FILE)".to_string(),
            },
        },
        Err(e) => Explanation {
            problem: format!(
                "{head}; reading {} back failed too: {}",
                write.token.words(),
                truncate(&e.to_string(), 200)
            ),
            hint: "`consul-ecs doctor` in the task checks the login and the token".to_string(),
        },
    }
}

/// `service identity "api" in namespace "x"`, `no service identity (roles: r)`.
pub fn describe_token(token: &AclToken) -> String {
    let mut parts = Vec::new();
    let names: Vec<String> = token
        .service_identities
        .iter()
        .map(|s| format!("{:?}", s.service_name))
        .collect();
    parts.push(match names.len() {
        0 => "no service identity".to_string(),
        1 => format!("service identity {}", names[0]),
        _ => format!("service identities {}", names.join(", ")),
    });
    if !token.namespace.is_empty() {
        parts.push(format!("in namespace {:?}", token.namespace));
    }
    let links = |what: &str, names: Vec<&str>| {
        (!names.is_empty()).then(|| format!("{what} {}", names.join(", ")))
    };
    parts.extend(links(
        "policies",
        token.policies.iter().map(|p| p.name.as_str()).collect(),
    ));
    parts.extend(links(
        "roles",
        token.roles.iter().map(|r| r.name.as_str()).collect(),
    ));
    if !token.auth_method.is_empty() {
        parts.push(format!("from auth method {:?}", token.auth_method));
    }
    parts.join(", ")
}

fn explain_token(
    head: &str,
    write: &RefusedWrite,
    token: &AclToken,
    expected: &Expected,
    findings: &[Finding],
) -> Explanation {
    let carries = describe_token(token);
    let problem = format!(
        "{head}: {} (accessor {}) carries {carries}",
        write.token.words(),
        token.accessor_id
    );
    // The role is the cause when the token came from its login.
    let from_role = findings
        .iter()
        .find(|f| matches!(f, Finding::ServiceTagOther { .. }))
        .or_else(|| {
            findings.iter().find(|f| {
                matches!(
                    f,
                    Finding::NamespaceTagMissing { .. } | Finding::NamespaceTagOther { .. }
                )
            })
        });
    if let (TokenOrigin::Login { .. }, Some(finding)) = (&write.token, from_role) {
        let role = finding.explain(expected);
        return Explanation {
            problem: format!("{problem}; {}", role.problem),
            hint: role.hint,
        };
    }
    let service = &expected.service;
    let hint = match &write.token {
        TokenOrigin::Login { .. } => format!(
            "the token's service identity is the task role's {SERVICE_NAME_TAG} tag: set it \
             to {service:?}, or service.name to the tagged name"
        ),
        _ => format!(
            "give the token service:write on {service:?} (e.g. a service identity {service:?})"
        ),
    };
    Explanation { problem, hint }
}

#[cfg(test)]
mod tests {
    use consul::AclServiceIdentity;

    use super::*;

    #[test]
    fn tokens_are_described_by_their_identities() {
        let mut t = AclToken {
            accessor_id: "a-1".into(),
            auth_method: "iam-ecs-service-token".into(),
            ..Default::default()
        };
        assert_eq!(
            describe_token(&t),
            "no service identity, from auth method \"iam-ecs-service-token\""
        );
        t.service_identities.push(AclServiceIdentity {
            service_name: "api".into(),
            ..Default::default()
        });
        t.namespace = "team-b".into();
        assert_eq!(
            describe_token(&t),
            "service identity \"api\", in namespace \"team-b\", from auth method \"iam-ecs-service-token\""
        );
    }

    #[test]
    fn a_login_token_for_another_service_points_at_the_role_tag() {
        let t = AclToken {
            accessor_id: "a-1".into(),
            service_identities: vec![AclServiceIdentity {
                service_name: "api".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let write = RefusedWrite {
            what: "register service \"web-1\"".into(),
            token: TokenOrigin::Login {
                file: "/consul/service-token".into(),
            },
        };
        let expected = Expected::new("m", "web", None);
        let e = explain_token("head", &write, &t, &expected, &[]);
        assert!(
            e.problem
                .contains("the service token in /consul/service-token (accessor a-1) carries service identity \"api\""),
            "{}",
            e.problem
        );
        assert!(
            e.hint.contains("consul.hashicorp.com.service-name"),
            "{}",
            e.hint
        );
        let finding = Finding::ServiceTagOther {
            role_arn: "arn:aws:iam::1:role/consul-ecs/r".into(),
            value: "api".into(),
        };
        let e = explain_token("head", &write, &t, &expected, &[finding]);
        assert!(
            e.problem.contains("arn:aws:iam::1:role/consul-ecs/r"),
            "{}",
            e.problem
        );
        assert!(e.hint.contains("service.name to \"api\""), "{}", e.hint);
    }
}
