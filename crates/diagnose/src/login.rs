//! The login review: when Consul refuses a login, look at the task's own identity once and
//! say which misconfiguration it is; such a refusal cannot heal by waiting, so the login
//! ends at once. Refusals it cannot explain, and every transient failure, are left to the
//! retry loop.

use consul::{AnswerKind, ConsulError, RetryError};
use consul_grpc::GrpcError;
use iam_login::{Explanation, LoginError, LoginFailure, LoginParams, LoginReview, PrincipalArn};
use tonic::Code;
use tracing::warn;

use crate::findings::{self, Expected, Finding, SERVICE_NAME_TAG};
use crate::identity::{self, truncate, CredentialsSource, Identity, RoleLookup};
use crate::reach::{Attempts, Target};

/// Longest part of Consul's answer quoted in a problem.
const MAX_ANSWER: usize = 240;

/// Consul's answer for quoting: an AWS error document it passes on (`received error code
/// 403: <?xml …>`) shortened to its code, anything else cut at 240 characters.
pub fn quote(answer: &str) -> String {
    match answer.find('<') {
        Some(cut) => {
            let code = answer
                .split("<Code>")
                .nth(1)
                .and_then(|rest| rest.split("</Code>").next())
                .unwrap_or("…");
            format!("{}{code}", &answer[..cut])
        }
        None => truncate(answer, MAX_ANSWER),
    }
}

/// How Consul (or the login's own STS call) said no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 403 `ACL not found: auth method "x" not found`: no such auth method.
    AuthMethodMissing(String),
    /// 500 `IAM principal … is not trusted`: outside `BoundIAMPrincipalARNs`.
    NotTrusted(String),
    /// 500 `computed "service" bind name for bind target is invalid: "…"`: the tag.
    BindName(String),
    /// 403 `Permission denied`: no binding rule produced an identity.
    NoBinding(String),
    /// 500 carrying AWS's refusal of the replayed `iam:GetRole` (`AccessDenied`, "not
    /// authorized").
    EntityDenied(String),
    /// Any other 401/403.
    Denied(String),
    /// The caller is not a role or user (`entity … is not an IAM role or IAM user`).
    NotAnEntity(String),
}

impl Refusal {
    /// Classifies a failed attempt; `None` for what may be transient (unreachable, 5xx
    /// without a known refusal, 429, credentials not there yet).
    pub fn classify(failure: &LoginFailure) -> Option<Refusal> {
        match failure {
            LoginFailure::Consul(e) => Refusal::from_consul(e),
            LoginFailure::Grpc(e) => Refusal::from_grpc(e),
            LoginFailure::Aws(LoginError::UnsupportedEntity(kind)) => {
                Some(Refusal::NotAnEntity(kind.clone()))
            }
            LoginFailure::Aws(_) => None,
            LoginFailure::Explained { failure, .. } => Refusal::classify(failure),
        }
    }

    /// Classifies Consul's answer to `POST /v1/acl/login` by the kind the consul crate
    /// gives it (docs/protocols.md §3.10).
    pub fn from_consul(e: &ConsulError) -> Option<Refusal> {
        let text = e.body().unwrap_or_default().to_string();
        match e.answer_kind()? {
            AnswerKind::AclNotFound => Some(Refusal::AuthMethodMissing(text)),
            AnswerKind::PermissionDenied => Some(Refusal::NoBinding(text)),
            AnswerKind::AclDisabled | AnswerKind::Denied => Some(Refusal::Denied(text)),
            AnswerKind::IamPrincipalNotTrusted => Some(Refusal::NotTrusted(text)),
            AnswerKind::BindNameInvalid => Some(Refusal::BindName(text)),
            AnswerKind::AwsRefused => Some(Refusal::EntityDenied(text)),
            AnswerKind::NotFound
            | AnswerKind::RateLimited
            | AnswerKind::ServerError
            | AnswerKind::Rejected => None,
        }
    }

    /// Classifies Consul's answer to `ACLService/Login` (the dataplane layout) by its status
    /// code (docs/protocols.md §8.2); the validator's refusals, which share a code, by the
    /// kind the consul crate gives the same text over HTTP.
    pub fn from_grpc(e: &GrpcError) -> Option<Refusal> {
        let GrpcError::Status { code, message, .. } = e else {
            return None;
        };
        let text = message.clone();
        match code {
            Code::InvalidArgument => Some(Refusal::AuthMethodMissing(text)),
            Code::PermissionDenied => Some(Refusal::NoBinding(text)),
            Code::FailedPrecondition => Some(Refusal::Denied(text)),
            Code::Unauthenticated | Code::Internal | Code::Unknown => {
                match AnswerKind::of(500, message) {
                    AnswerKind::IamPrincipalNotTrusted => Some(Refusal::NotTrusted(text)),
                    AnswerKind::BindNameInvalid => Some(Refusal::BindName(text)),
                    AnswerKind::AwsRefused => Some(Refusal::EntityDenied(text)),
                    _ if *code == Code::Unauthenticated => Some(Refusal::Denied(text)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Consul's words, for quoting.
    pub fn answer(&self) -> &str {
        match self {
            Refusal::AuthMethodMissing(t)
            | Refusal::NotTrusted(t)
            | Refusal::BindName(t)
            | Refusal::NoBinding(t)
            | Refusal::EntityDenied(t)
            | Refusal::Denied(t)
            | Refusal::NotAnEntity(t) => t,
        }
    }

    /// Whether `finding` is a cause of this refusal.
    fn explained_by(&self, finding: &Finding) -> bool {
        match self {
            Refusal::NotTrusted(_) => matches!(
                finding,
                Finding::NotARole { .. } | Finding::PathOutsideBound { .. }
            ),
            Refusal::BindName(_) => matches!(
                finding,
                Finding::ServiceTagMissing { .. } | Finding::ServiceTagInvalid { .. }
            ),
            Refusal::NoBinding(_) => finding.is_tag(),
            Refusal::EntityDenied(_) => matches!(finding, Finding::GetRoleDenied { .. }),
            Refusal::Denied(_) | Refusal::NotAnEntity(_) => {
                matches!(finding, Finding::NotARole { .. })
            }
            Refusal::AuthMethodMissing(_) => false,
        }
    }
}

/// The review mesh-init (and doctor) logs in with: [`LoginReview`] for iam-login.
#[derive(Debug)]
pub struct LoginDiagnosis {
    expected: Expected,
    params: LoginParams,
    partition: Option<String>,
    looked: bool,
    attempts: Attempts,
}

impl LoginDiagnosis {
    /// For a login with `params` (the login's region and STS endpoint) to the method of
    /// `expected`, in admin `partition` (Enterprise).
    pub fn new(expected: Expected, params: LoginParams, partition: Option<String>) -> Self {
        LoginDiagnosis {
            expected,
            params,
            partition,
            looked: false,
            attempts: Attempts::default(),
        }
    }

    /// The attempts that did not reach Consul, for [`LoginDiagnosis::report`].
    pub fn attempts(&self) -> &Attempts {
        &self.attempts
    }

    /// The one-line report of a login that gave up, and a hint: the explanation when there
    /// is one, where Consul could not be reached when it never answered, else the retry
    /// summary with Consul's last answer.
    pub fn report(&self, error: &RetryError<LoginFailure>, server: &Target) -> (String, String) {
        if let Some(explanation) = error.last.explanation() {
            return (explanation.problem.clone(), explanation.hint.clone());
        }
        if error
            .last
            .consul_error()
            .is_some_and(|e| e.http_status().is_none())
        {
            if let Some(unreachable) =
                self.attempts
                    .unreachable(server, error.attempts, error.elapsed)
            {
                return (unreachable.problem, unreachable.hint);
            }
        }
        (
            error.to_string(),
            "`consul-ecs doctor` in the task checks the credentials, the role's path and \
             tags, Consul and the login one by one"
                .to_string(),
        )
    }

    async fn explain(&mut self, refusal: &Refusal) -> Option<Explanation> {
        if let Refusal::AuthMethodMissing(answer) = refusal {
            return Some(self.method_missing(answer));
        }
        // The identity is looked at once: it does not change between attempts, and every
        // look costs two AWS calls.
        if self.looked {
            return None;
        }
        self.looked = true;
        let identity = identity::look_up(&self.params, |name| std::env::var(name).ok()).await;
        let identity = match identity {
            Ok(identity) => identity,
            Err(e) => {
                warn!(error = %e, "the login was refused and the task's AWS identity cannot be read to say why");
                return self.explain_by_answer(refusal, None);
            }
        };
        let found = findings::check(&identity, &self.expected);
        let (causes, others): (Vec<&Finding>, Vec<&Finding>) =
            found.iter().partition(|f| refusal.explained_by(f));
        let Some(first) = causes.first() else {
            if let Some(explanation) = self.explain_by_answer(refusal, Some(&identity)) {
                return Some(explanation);
            }
            match &identity.role {
                RoleLookup::Failed(why) => warn!(
                    answer = %quote(refusal.answer()),
                    "the login was refused and the task role cannot be read to say why \
                     ({why}); retrying"
                ),
                _ => warn!(
                    identity = %identity.summary(),
                    answer = %quote(refusal.answer()),
                    "the login was refused although the task role's path and tags look \
                     right; retrying (the acl-controller may not have set up the auth method \
                     yet)"
                ),
            }
            return None;
        };
        let mut explanation = first.explain(&self.expected);
        for also in causes.iter().skip(1).chain(others.iter()) {
            explanation.problem.push_str("; also: ");
            explanation
                .problem
                .push_str(&also.explain(&self.expected).problem);
        }
        explanation
            .problem
            .push_str(&format!(" (Consul: {:?})", quote(refusal.answer())));
        Some(explanation)
    }

    fn method_missing(&self, answer: &str) -> Explanation {
        let method = &self.expected.method;
        let place = match &self.partition {
            Some(p) => format!(" in admin partition {p:?}"),
            None => String::new(),
        };
        Explanation {
            problem: format!(
                "the auth method {method:?} does not exist{place} (Consul: {:?})",
                quote(answer)
            ),
            hint: format!(
                "run the acl-controller, which creates iam-ecs-service-token and \
                 iam-ecs-client-token, or set consulLogin.method to an auth method that \
                 exists{place}"
            ),
        }
    }

    /// What Consul's words prove without looking at IAM: a service name computed from the
    /// tag that Consul rejects is the tag; a caller that is no role or user is that.
    fn explain_by_answer(
        &self,
        refusal: &Refusal,
        identity: Option<&Identity>,
    ) -> Option<Explanation> {
        let answer = quote(refusal.answer());
        match refusal {
            Refusal::BindName(_) => {
                let role = identity.map_or_else(
                    || "the task role".to_string(),
                    |i| format!("the task role {}", i.role_arn()),
                );
                Some(Explanation {
                    problem: format!(
                        "the service name the auth method computes from the {SERVICE_NAME_TAG} \
                         tag of {role} is not a valid Consul service name (Consul: {answer:?})"
                    ),
                    hint: format!(
                        "tag the task role {SERVICE_NAME_TAG}={} (lower-case letters, digits, \
                         '-' and '_')",
                        self.expected.service
                    ),
                })
            }
            Refusal::NotAnEntity(kind) => Some(Explanation {
                problem: format!(
                    "the AWS credentials are a {kind}, not an IAM role: the auth method {:?} \
                     logs in ECS task roles",
                    self.expected.method
                ),
                hint: "give the task definition a task role (taskRoleArn) and do not set other \
                       AWS credentials in the container's environment"
                    .to_string(),
            }),
            Refusal::NotTrusted(text)
                if !identity.is_some_and(|i| matches!(i.role, RoleLookup::Found(_))) =>
            {
                // Consul names the ARN it matched (with the path, with entity details).
                let word = text.split_whitespace().find(|w| w.starts_with("arn:"))?;
                let arn = PrincipalArn::parse(word).ok()?;
                let path = if arn.path.is_empty() {
                    "/".to_string()
                } else {
                    format!("/{}/", arn.path)
                };
                if arn.kind != "role" || path.starts_with(&self.expected.bound_path) {
                    return None;
                }
                let finding = Finding::PathOutsideBound {
                    role_arn: word.to_string(),
                    path,
                    bound_path: self.expected.bound_path.clone(),
                    source: identity.map_or_else(
                        || CredentialsSource::from_env(|n| std::env::var(n).ok()),
                        |i| i.source,
                    ),
                };
                let mut explanation = finding.explain(&self.expected);
                explanation
                    .problem
                    .push_str(&format!(" (Consul: {answer:?})"));
                Some(explanation)
            }
            _ => None,
        }
    }
}

impl LoginReview for LoginDiagnosis {
    async fn review(&mut self, failure: &LoginFailure) -> Option<Explanation> {
        if let Some(e) = failure.consul_error() {
            self.attempts.record(e);
        }
        let refusal = Refusal::classify(failure)?;
        self.explain(&refusal).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, body: &str) -> LoginFailure {
        // Built through the public Display-free path: a Status error as the client makes it.
        LoginFailure::Consul(consul_status(code, body))
    }

    fn consul_status(code: u16, body: &str) -> ConsulError {
        ConsulError::Status {
            method: "POST".into(),
            path: "/v1/acl/login".into(),
            status: code,
            body: body.into(),
        }
    }

    fn grpc_status(code: Code, message: &str) -> LoginFailure {
        LoginFailure::Grpc(GrpcError::Status {
            call: "ACLService/Login",
            address: "127.0.0.1:8503".parse().unwrap(),
            code,
            message: message.into(),
        })
    }

    #[test]
    fn grpc_login_refusals_are_told_by_code_and_consul_text() {
        let cases = [
            (
                Code::InvalidArgument,
                "auth method \"x\" not found",
                "AuthMethodMissing",
            ),
            (Code::PermissionDenied, "Permission denied", "NoBinding"),
            (Code::FailedPrecondition, "ACL support disabled", "Denied"),
            (
                Code::Unauthenticated,
                "IAM principal arn:aws:iam::1:role/a/b is not trusted",
                "NotTrusted",
            ),
            (
                Code::Internal,
                "computed \"service\" bind name for bind target is invalid: \"\"",
                "BindName",
            ),
            (Code::Unauthenticated, "signature expired", "Denied"),
        ];
        for (code, message, want) in cases {
            let got = Refusal::classify(&grpc_status(code, message));
            let got = format!("{got:?}");
            assert!(
                got.starts_with(&format!("Some({want}(")),
                "{code:?} {message}: {got}"
            );
        }
        // Transient: the server is going away, or a failure no refusal explains.
        assert_eq!(
            Refusal::classify(&grpc_status(Code::Unavailable, "x")),
            None
        );
        assert_eq!(
            Refusal::classify(&grpc_status(Code::Internal, "failed to create token")),
            None
        );
    }

    #[test]
    fn refusals_are_told_from_transient_failures() {
        let cases = [
            (
                403,
                "ACL not found: auth method \"x\" not found",
                "AuthMethodMissing",
            ),
            (403, "Permission denied", "NoBinding"),
            (
                500,
                "IAM principal arn:aws:iam::1:role/a/b is not trusted",
                "NotTrusted",
            ),
            (
                500,
                "computed \"service\" bind name for bind target is invalid: \"\"",
                "BindName",
            ),
            (
                500,
                "received error code 403: <ErrorResponse><Error><Code>AccessDenied</Code>",
                "EntityDenied",
            ),
            (401, "ACL support disabled", "Denied"),
        ];
        for (code, body, want) in cases {
            let got = Refusal::classify(&status(code, body));
            assert!(
                format!("{got:?}").starts_with(&format!("Some({want}(")),
                "{code} {body}: {got:?}"
            );
        }
        for (code, body) in [
            (500, "rpc error: leader unknown"),
            (503, ""),
            (429, "slow down"),
        ] {
            assert_eq!(
                Refusal::classify(&status(code, body)),
                None,
                "{code} {body}"
            );
        }
        let no_answer = LoginFailure::Consul(ConsulError::Transport {
            method: "POST".into(),
            path: "/v1/acl/login".into(),
            kind: consul::TransportKind::Refused,
            message: "connection refused".into(),
        });
        assert_eq!(Refusal::classify(&no_answer), None);
    }

    #[test]
    fn aws_documents_in_consuls_answer_are_quoted_by_their_code() {
        assert_eq!(
            quote("received error code 403: <?xml version=\"1.0\"?><ErrorResponse><Error><Code>AccessDenied</Code><Message>m</Message>"),
            "received error code 403: AccessDenied"
        );
        assert_eq!(quote("Permission denied"), "Permission denied");
    }

    #[tokio::test]
    async fn a_missing_auth_method_is_explained_without_aws() {
        let mut d = LoginDiagnosis::new(
            Expected::new("iam-ecs-service-token", "web", None),
            LoginParams::default(),
            Some("part-1".into()),
        );
        let e = d
            .review(&status(
                403,
                "ACL not found: auth method \"iam-ecs-service-token\" not found",
            ))
            .await
            .expect("final");
        assert!(
            e.problem.starts_with("the auth method \"iam-ecs-service-token\" does not exist in admin partition \"part-1\""),
            "{}",
            e.problem
        );
        assert!(e.hint.contains("acl-controller"), "{}", e.hint);
    }
}
