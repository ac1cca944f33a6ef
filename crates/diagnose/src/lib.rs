//! Start-up failures that explain themselves. When a mesh task cannot join the mesh the
//! cause is nearly always a misconfiguration that Consul reports opaquely ("Permission
//! denied", "not trusted"); this crate looks at what the task can see of itself and says
//! which one it is:
//!
//! - [`identity`]: who the AWS credentials are (a signed `sts:GetCallerIdentity`), and for a
//!   role its path and tags (`iam:GetRole` through aws-sdk-iam — the task role may read itself,
//!   the auth method needs that anyway);
//! - [`findings`]: those facts against the conventions of the auth method and the config
//!   (path `/consul-ecs/`, the service-name tag, the Enterprise namespace tag), as pure
//!   functions;
//! - [`LoginDiagnosis`]: the [`iam_login::LoginReview`] that ends a refused login at once
//!   when a finding explains it, instead of retrying until `-login-timeout`;
//! - [`explain_refused_write`]: a 403 on a registration or check update, told through the
//!   token's own identities (`/v1/acl/token/self`);
//! - [`reach`]: "cannot reach Consul" said once, with the address, where it came from and
//!   the last error of each kind of failed attempt;
//! - [`explain_refusal`]: the same with the task role's findings when the task logged in;
//! - [`doctor`]: each check of `consul-ecs doctor`, one function a line;
//! - [`report`]: the error-plus-hint shape and `consul-ecs doctor`'s ok/FAIL list.
//!
//! Nothing here prints a secret: messages carry ARNs, paths, tags, service names, accessor
//! IDs and Consul's or AWS's error text with our own credentials redacted.

#![deny(missing_docs)]

pub mod doctor;
pub mod findings;
pub mod identity;
mod login;
pub mod reach;
mod refusal;
mod refused;
pub mod report;

pub use findings::{check, Expected, Finding};
pub use identity::{look_up, CredentialsSource, Identity, IdentityError, RoleInfo, RoleLookup};
pub use login::{quote as quote_answer, LoginDiagnosis, Refusal};
pub use reach::{AddressOrigin, Attempts, Target};
pub use refusal::{explain_refusal, RefusalAnswer};
pub use refused::{describe_token, explain_refused_write, RefusedWrite, TokenOrigin};
pub use report::{Check, Diagnosed, Status};

/// The findings about the caller's role for `expected`, or `None` (logged at WARN) when the
/// identity cannot be read. For explaining refusals after a login that worked.
pub async fn role_findings(
    params: &iam_login::LoginParams,
    expected: &Expected,
) -> Option<Vec<Finding>> {
    match look_up(params, |name| std::env::var(name).ok()).await {
        Ok(identity) => Some(check(&identity, expected)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the task's AWS identity to explain the refusal");
            None
        }
    }
}
