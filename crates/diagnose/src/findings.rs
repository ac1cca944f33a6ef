//! What can be wrong with a task's identity, judged without Consul: the role's path against
//! the path the auth method trusts by convention, its service-name tag against Consul's
//! rules and the config, its namespace tag on Enterprise (docs/protocols.md §3.8, §3.9, §5.8).
//! Pure functions, so every message is unit-tested.

use iam_login::Explanation;

use crate::identity::{CredentialsSource, Identity, RoleInfo, RoleLookup};

/// The IAM path the acl-controller's auth methods trust by default (`-iam-role-path`):
/// `arn:aws:iam::<account>:role/consul-ecs/*`.
pub const CONVENTIONAL_PATH: &str = "/consul-ecs/";
/// The role tag the service-token binding rule names the service identity after.
pub const SERVICE_NAME_TAG: &str = "consul.hashicorp.com.service-name";
/// The role tag the Enterprise namespace rule puts the token in.
pub const NAMESPACE_TAG: &str = "consul.hashicorp.com.namespace";
/// Longest service name Consul accepts.
const MAX_SERVICE_NAME: usize = 256;

/// What the task needs its identity to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The auth method (`consulLogin.method`).
    pub method: String,
    /// The service the task registers: `service.name` (or the gateway's name), else the task
    /// family. The token's service identity must name it.
    pub service: String,
    /// Enterprise: the namespace the service registers in; `None` on Consul CE.
    pub namespace: Option<String>,
    /// The path the auth method is taken to trust ([`CONVENTIONAL_PATH`]).
    pub bound_path: String,
}

impl Expected {
    /// `service` in `namespace` (Enterprise) with the conventional method path.
    pub fn new(method: &str, service: &str, namespace: Option<&str>) -> Expected {
        Expected {
            method: method.to_string(),
            service: service.to_string(),
            namespace: namespace.filter(|n| !n.is_empty()).map(str::to_string),
            bound_path: CONVENTIONAL_PATH.to_string(),
        }
    }
}

/// One thing wrong with the identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The credentials are not an IAM role (an IAM user, a federated user, the root user).
    NotARole {
        /// The caller ARN.
        arn: String,
        /// Its type (`user`, …).
        kind: String,
        /// Where the credentials came from.
        source: CredentialsSource,
    },
    /// `iam:GetRole` on the role itself was refused.
    GetRoleDenied {
        /// The role (path-less ARN; without GetRole the path is unknown).
        role_arn: String,
        /// AWS's message.
        message: String,
    },
    /// The role's path is not under the path the auth method trusts.
    PathOutsideBound {
        /// The role's ARN with its path.
        role_arn: String,
        /// The role's path.
        path: String,
        /// The trusted path.
        bound_path: String,
        /// Where the credentials came from (a role assumed outside ECS shows here).
        source: CredentialsSource,
    },
    /// The service-name tag is missing.
    ServiceTagMissing {
        /// The role's ARN.
        role_arn: String,
    },
    /// The service-name tag is not a valid Consul service name (empty included).
    ServiceTagInvalid {
        /// The role's ARN.
        role_arn: String,
        /// The tag's value.
        value: String,
        /// What is wrong with it.
        why: String,
    },
    /// The service-name tag names another service than the one the task registers.
    ServiceTagOther {
        /// The role's ARN.
        role_arn: String,
        /// The tag's value.
        value: String,
    },
    /// Enterprise: the namespace tag is missing, so the token lands in the auth method's
    /// namespace, not the service's.
    NamespaceTagMissing {
        /// The role's ARN.
        role_arn: String,
    },
    /// Enterprise: the namespace tag names another namespace than the service's.
    NamespaceTagOther {
        /// The role's ARN.
        role_arn: String,
        /// The tag's value.
        value: String,
    },
}

impl Finding {
    /// Whether it makes the login itself fail (as opposed to the registration after it).
    pub fn blocks_login(&self) -> bool {
        matches!(
            self,
            Finding::NotARole { .. }
                | Finding::GetRoleDenied { .. }
                | Finding::PathOutsideBound { .. }
                | Finding::ServiceTagMissing { .. }
                | Finding::ServiceTagInvalid { .. }
        )
    }

    /// Whether it is about the role's tags (what binding and namespace rules read).
    pub fn is_tag(&self) -> bool {
        matches!(
            self,
            Finding::ServiceTagMissing { .. }
                | Finding::ServiceTagInvalid { .. }
                | Finding::ServiceTagOther { .. }
                | Finding::NamespaceTagMissing { .. }
                | Finding::NamespaceTagOther { .. }
        )
    }

    /// What is wrong, and what to change, for `expected`.
    pub fn explain(&self, expected: &Expected) -> Explanation {
        let service = &expected.service;
        let method = &expected.method;
        let namespace = expected.namespace.as_deref().unwrap_or("default");
        let (problem, hint) = match self {
            Finding::NotARole { arn, kind, source } => (
                format!(
                    "the AWS credentials (from {}) are {} {arn}, not an IAM role: the auth \
                     method {method:?} logs in ECS task roles",
                    source.describe(),
                    kind_words(kind),
                ),
                format!(
                    "give the task definition a task role (taskRoleArn) under {} and do not set \
                     AWS_ACCESS_KEY_ID or a profile in the container's environment",
                    expected.bound_path
                ),
            ),
            Finding::GetRoleDenied { role_arn, message } => (
                format!(
                    "iam:GetRole on the task role {role_arn} itself is denied ({message}); the \
                     auth method needs it too: Consul reads the role's path and tags with it"
                ),
                "allow \"iam:GetRole\" on the task role's own ARN in a policy of the role"
                    .to_string(),
            ),
            Finding::PathOutsideBound {
                role_arn,
                path,
                bound_path,
                source,
            } => {
                let from = match source {
                    CredentialsSource::TaskRole => String::new(),
                    other => format!(", credentials from {}", other.describe()),
                };
                (
                    format!(
                        "the task role {role_arn} has path {path}, not under {bound_path}, the \
                         path the auth method {method:?} trusts (arn:…:role{bound_path}*){from}"
                    ),
                    format!(
                        "create the task role with path {bound_path} (terraform-aws-consul-ecs: \
                         iam_role_path), or run the acl-controller with -iam-role-path {path} so \
                         the auth method trusts that path"
                    ),
                )
            }
            Finding::ServiceTagMissing { role_arn } => (
                format!(
                    "the task role {role_arn} has no {SERVICE_NAME_TAG} tag: the auth method's \
                     binding rule names the token's service identity after it"
                ),
                format!(
                    "tag the task role {SERVICE_NAME_TAG}={}",
                    tag_suggestion(service)
                ),
            ),
            Finding::ServiceTagInvalid {
                role_arn,
                value,
                why,
            } => (
                format!(
                    "the {SERVICE_NAME_TAG} tag of the task role {role_arn} is {value:?}, not a \
                     valid Consul service name: {why}"
                ),
                format!(
                    "set the tag to {:?} (lower-case letters, digits, '-' and '_') and use the \
                     same name in service.name",
                    tag_suggestion(if service.is_empty() { value } else { service })
                ),
            ),
            Finding::ServiceTagOther { role_arn, value } => (
                format!(
                    "the {SERVICE_NAME_TAG} tag of the task role {role_arn} names service \
                     {value:?}, but this task registers service {service:?} (service.name, or \
                     the task family): the login works, the registration is denied"
                ),
                format!("set the role's tag to {service:?}, or service.name to {value:?}"),
            ),
            Finding::NamespaceTagMissing { role_arn } => (
                format!(
                    "the task role {role_arn} has no {NAMESPACE_TAG} tag, so its token is made \
                     in the auth method's namespace, not in namespace {namespace:?} where this \
                     task registers: the registration is denied"
                ),
                format!("tag the task role {NAMESPACE_TAG}={namespace}"),
            ),
            Finding::NamespaceTagOther { role_arn, value } => (
                format!(
                    "the {NAMESPACE_TAG} tag of the task role {role_arn} is {value:?}, but this \
                     task registers in namespace {namespace:?} (service.namespace): the token \
                     cannot register there"
                ),
                format!("set the role's tag to {namespace:?}, or service.namespace to {value:?}"),
            ),
        };
        Explanation { problem, hint }
    }
}

fn kind_words(kind: &str) -> String {
    match kind {
        "user" => "IAM user".to_string(),
        other => format!("a {other}"),
    }
}

/// A valid service name close to `name` (lower case, other characters as `-`).
fn tag_suggestion(name: &str) -> String {
    let mut out: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    out = out.trim_matches(|c| c == '-' || c == '_').to_string();
    if out.is_empty() {
        "<service name>".to_string()
    } else {
        out
    }
}

/// Why `name` is not a valid Consul service (identity) name, or `None` when it is: Consul
/// requires `^[a-z0-9]([a-z0-9\-_]*[a-z0-9])?$`, at most 256 characters.
pub fn service_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".to_string());
    }
    if name.chars().count() > MAX_SERVICE_NAME {
        return Some(format!("it is longer than {MAX_SERVICE_NAME} characters"));
    }
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return Some("it has upper-case letters (Consul service names are lower case)".into());
    }
    let bad: String = name
        .chars()
        .filter(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
        .collect();
    if !bad.is_empty() {
        return Some(format!(
            "it has characters other than a-z, 0-9, '-' and '_': {bad:?}"
        ));
    }
    let edge = |c: Option<char>| matches!(c, Some('-' | '_'));
    if edge(name.chars().next()) || edge(name.chars().last()) {
        return Some("it begins or ends with '-' or '_'".to_string());
    }
    None
}

/// Everything wrong with `identity` for `expected`, the ones that stop the login first.
pub fn check(identity: &Identity, expected: &Expected) -> Vec<Finding> {
    let mut findings = Vec::new();
    if !identity.is_role() {
        findings.push(Finding::NotARole {
            arn: identity.caller_arn.clone(),
            kind: identity.principal.kind.clone(),
            source: identity.source,
        });
        return findings;
    }
    match &identity.role {
        RoleLookup::Found(role) => findings.extend(check_role(role, identity.source, expected)),
        RoleLookup::Denied(message) => findings.push(Finding::GetRoleDenied {
            role_arn: identity.principal.canonical(),
            message: message.clone(),
        }),
        RoleLookup::NotARole | RoleLookup::Failed(_) => {}
    }
    findings
}

/// The checks of a role's path and tags.
pub fn check_role(role: &RoleInfo, source: CredentialsSource, expected: &Expected) -> Vec<Finding> {
    let mut findings = Vec::new();
    let role_arn = role.arn.clone();
    if !role.path.starts_with(&expected.bound_path) {
        findings.push(Finding::PathOutsideBound {
            role_arn: role_arn.clone(),
            path: role.path.clone(),
            bound_path: expected.bound_path.clone(),
            source,
        });
    }
    match role.tags.get(SERVICE_NAME_TAG) {
        None => findings.push(Finding::ServiceTagMissing {
            role_arn: role_arn.clone(),
        }),
        Some(value) => match service_name_problem(value) {
            Some(why) => findings.push(Finding::ServiceTagInvalid {
                role_arn: role_arn.clone(),
                value: value.clone(),
                why,
            }),
            None if *value != expected.service => findings.push(Finding::ServiceTagOther {
                role_arn: role_arn.clone(),
                value: value.clone(),
            }),
            None => {}
        },
    }
    if let Some(namespace) = &expected.namespace {
        // The namespace rule matches only a non-empty tag; without it the token stays in
        // the method's namespace (`default` as the acl-controller sets it up).
        match role.tags.get(NAMESPACE_TAG).filter(|v| !v.is_empty()) {
            None if namespace != "default" => {
                findings.push(Finding::NamespaceTagMissing { role_arn })
            }
            Some(value) if value != namespace => findings.push(Finding::NamespaceTagOther {
                role_arn,
                value: value.clone(),
            }),
            _ => {}
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use iam_login::PrincipalArn;

    use super::*;

    fn role(path: &str, tags: &[(&str, &str)]) -> RoleInfo {
        RoleInfo {
            name: "consul-ecs-web".into(),
            arn: format!("arn:aws:iam::123456789012:role{path}consul-ecs-web"),
            path: path.into(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    fn web() -> Expected {
        Expected::new("iam-ecs-service-token", "web", None)
    }

    fn only(findings: Vec<Finding>) -> Finding {
        assert_eq!(findings.len(), 1, "{findings:?}");
        findings.into_iter().next().unwrap()
    }

    #[test]
    fn a_conventional_role_has_no_findings() {
        let r = role("/consul-ecs/", &[(SERVICE_NAME_TAG, "web")]);
        assert!(check_role(&r, CredentialsSource::TaskRole, &web()).is_empty());
        // A deeper path is under the bound prefix too.
        let r = role("/consul-ecs/team/", &[(SERVICE_NAME_TAG, "web")]);
        assert!(check_role(&r, CredentialsSource::TaskRole, &web()).is_empty());
    }

    #[test]
    fn a_role_outside_the_path_is_named_with_its_path() {
        let r = role("/elsewhere/", &[(SERVICE_NAME_TAG, "web")]);
        let f = only(check_role(&r, CredentialsSource::TaskRole, &web()));
        assert!(f.blocks_login());
        let e = f.explain(&web());
        assert!(
            e.problem
                .contains("arn:aws:iam::123456789012:role/elsewhere/consul-ecs-web has path /elsewhere/, not under /consul-ecs/"),
            "{}",
            e.problem
        );
        assert!(e.hint.contains("-iam-role-path /elsewhere/"), "{}", e.hint);
        // Credentials from elsewhere than the task role are named.
        let f = only(check_role(&r, CredentialsSource::Environment, &web()));
        assert!(f.explain(&web()).problem.contains("AWS_ACCESS_KEY_ID"));
    }

    #[test]
    fn service_tags_missing_invalid_and_other() {
        let missing = only(check_role(
            &role("/consul-ecs/", &[]),
            CredentialsSource::TaskRole,
            &web(),
        ));
        assert!(matches!(missing, Finding::ServiceTagMissing { .. }));
        assert!(missing
            .explain(&web())
            .hint
            .contains("consul.hashicorp.com.service-name=web"));

        for (value, why) in [
            ("", "empty"),
            ("Web", "upper-case"),
            ("web app", "characters other than"),
            ("-web", "begins or ends"),
        ] {
            let f = only(check_role(
                &role("/consul-ecs/", &[(SERVICE_NAME_TAG, value)]),
                CredentialsSource::TaskRole,
                &web(),
            ));
            assert!(f.blocks_login(), "{value:?}");
            let e = f.explain(&web());
            assert!(e.problem.contains(why), "{value:?}: {}", e.problem);
            assert!(e.hint.contains("\"web\""), "{}", e.hint);
        }

        let other = only(check_role(
            &role("/consul-ecs/", &[(SERVICE_NAME_TAG, "api")]),
            CredentialsSource::TaskRole,
            &web(),
        ));
        assert!(!other.blocks_login());
        let e = other.explain(&web());
        assert!(e.problem.contains("names service \"api\""), "{}", e.problem);
        assert!(
            e.problem.contains("registers service \"web\""),
            "{}",
            e.problem
        );
        assert!(e.hint.contains("service.name to \"api\""), "{}", e.hint);
    }

    #[test]
    fn namespace_tags_on_enterprise_only() {
        let ent = Expected::new("m", "web", Some("team-a"));
        let r = role("/consul-ecs/", &[(SERVICE_NAME_TAG, "web")]);
        // CE: no namespace expected, no finding.
        assert!(check_role(&r, CredentialsSource::TaskRole, &web()).is_empty());
        let f = only(check_role(&r, CredentialsSource::TaskRole, &ent));
        assert!(matches!(f, Finding::NamespaceTagMissing { .. }));
        assert!(f
            .explain(&ent)
            .hint
            .contains("consul.hashicorp.com.namespace=team-a"));
        let r = role(
            "/consul-ecs/",
            &[(SERVICE_NAME_TAG, "web"), (NAMESPACE_TAG, "team-b")],
        );
        let f = only(check_role(&r, CredentialsSource::TaskRole, &ent));
        let e = f.explain(&ent);
        assert!(e.problem.contains("\"team-b\""), "{}", e.problem);
        assert!(
            e.hint.contains("service.namespace to \"team-b\""),
            "{}",
            e.hint
        );
        // The default namespace needs no tag.
        let dflt = Expected::new("m", "web", Some("default"));
        let r = role("/consul-ecs/", &[(SERVICE_NAME_TAG, "web")]);
        assert!(check_role(&r, CredentialsSource::TaskRole, &dflt).is_empty());
    }

    #[test]
    fn users_and_denied_get_role() {
        let user = Identity {
            caller_arn: "arn:aws:iam::123456789012:user/ops/alice".into(),
            principal: PrincipalArn::parse("arn:aws:iam::123456789012:user/ops/alice").unwrap(),
            source: CredentialsSource::Environment,
            role: RoleLookup::NotARole,
        };
        let f = only(check(&user, &web()));
        let e = f.explain(&web());
        assert!(
            e.problem
                .contains("IAM user arn:aws:iam::123456789012:user/ops/alice, not an IAM role"),
            "{}",
            e.problem
        );
        assert!(e.hint.contains("taskRoleArn"), "{}", e.hint);

        let arn = "arn:aws:sts::123456789012:assumed-role/consul-ecs-web/task";
        let denied = Identity {
            caller_arn: arn.into(),
            principal: PrincipalArn::parse(arn).unwrap(),
            source: CredentialsSource::TaskRole,
            role: RoleLookup::Denied("AccessDenied: not authorized".into()),
        };
        let e = only(check(&denied, &web())).explain(&web());
        assert!(e.problem.contains("iam:GetRole on the task role arn:aws:iam::123456789012:role/consul-ecs-web itself is denied"), "{}", e.problem);
    }

    #[test]
    fn service_name_rules() {
        assert_eq!(service_name_problem("web-1_a"), None);
        assert_eq!(service_name_problem("a"), None);
        assert!(service_name_problem(&"a".repeat(257)).is_some());
        assert!(service_name_problem("web_").is_some());
        assert!(service_name_problem("wéb").is_some());
    }
}
