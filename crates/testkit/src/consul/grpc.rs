//! What Consul's public gRPC services (the emulator in [`crate::consul_grpc`]) share with
//! the HTTP handlers: the login steps themselves, and the logout and token checks, answered
//! in gRPC's terms as Consul's `agent/grpc-external/services/acl/{login,logout}.go` and
//! `RequireAnyValidACLToken` answer them.
//!
//! A gRPC login runs the very steps of `POST /v1/acl/login` ([`login`]: tenancy, auth
//! method, the aws-iam validation against STS, binding rules, the token), so both
//! transports accept and refuse the same logins; only the status each refusal becomes
//! differs, as it does in Consul.

// tonic's handlers answer with `tonic::Status` by value (as its generated code does).
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::response::Response;
use http::{Method, StatusCode};
use serde_json::{json, Value};

use super::state::ANONYMOUS_ACCESSOR;
use super::wire::ApiError;
use super::{acl, awsiam, check_tenancy, ConsulEmulator, Req, Shared};
use crate::http_server::RecordedRequest;
use consul_grpc::proto;
use tonic::Status;

/// Which step refused a login: Consul answers the same refusal with an HTTP status on
/// `/v1/acl/login` and with another gRPC code on `ACLService/Login`.
pub(crate) enum LoginRefusal {
    /// Before validation: ACLs off (401), tenancy or body (400), unknown auth method (403),
    /// unusable method config (500).
    Prepare(ApiError),
    /// The auth method did not validate the bearer token.
    Validate(String),
    /// No binding rule applied (403), or the token could not be made.
    Finish(ApiError),
}

impl LoginRefusal {
    /// The HTTP answer (`POST /v1/acl/login`).
    pub(crate) fn into_api_error(self) -> ApiError {
        match self {
            LoginRefusal::Prepare(e) | LoginRefusal::Finish(e) => e,
            LoginRefusal::Validate(message) => ApiError::internal(message),
        }
    }
}

/// The steps of a login, for both transports.
pub(crate) async fn login(shared: &Shared, r: &Req) -> Result<Response, LoginRefusal> {
    let plan = {
        let st = shared.state();
        check_tenancy(&st, r).map_err(LoginRefusal::Prepare)?;
        acl::login_prepare(&st, r).map_err(LoginRefusal::Prepare)?
    };
    let identity = awsiam::validate_login(&shared.client, &plan.cfg, &plan.bearer)
        .await
        .map_err(LoginRefusal::Validate)?;
    let mut st = shared.state();
    acl::login_finish(&mut st, &plan, &identity).map_err(LoginRefusal::Finish)
}

/// The emulator's state, as the gRPC services reach it.
#[derive(Clone)]
pub(crate) struct GrpcBackend {
    shared: Arc<Shared>,
}

impl ConsulEmulator {
    /// The state the gRPC services answer from, and the runtime they run on (the
    /// emulator's own, so they work under sync tests too).
    pub(crate) fn grpc_backend(&self) -> (GrpcBackend, tokio::runtime::Handle) {
        (
            GrpcBackend {
                shared: self.shared.clone(),
            },
            self.handle.clone(),
        )
    }
}

/// Consul's text for `acl.ErrDisabled`.
const ACLS_DISABLED: &str = "ACL support disabled";

impl GrpcBackend {
    /// `ACLService/Login`.
    pub(crate) async fn login(
        &self,
        req: &proto::LoginRequest,
    ) -> Result<proto::LoginToken, Status> {
        self.require_acls()?;
        self.require_local_datacenter(&req.datacenter)?;
        let mut body = json!({
            "AuthMethod": req.auth_method,
            "BearerToken": req.bearer_token,
            "Meta": req.meta,
        });
        for (key, value) in [("Namespace", &req.namespace), ("Partition", &req.partition)] {
            if !value.is_empty() {
                body[key] = json!(value);
            }
        }
        let http_req = Req {
            method: Method::POST,
            tenancy_headers: Vec::new(),
            query: Vec::new(),
            token: None,
            body: body.to_string().into(),
        };
        let response = login(&self.shared, &http_req)
            .await
            .map_err(|refusal| match refusal {
                LoginRefusal::Prepare(e) => match e.status {
                    StatusCode::UNAUTHORIZED => Status::failed_precondition(ACLS_DISABLED),
                    StatusCode::FORBIDDEN => Status::invalid_argument(format!(
                        "auth method {:?} not found",
                        req.auth_method
                    )),
                    StatusCode::INTERNAL_SERVER_ERROR => {
                        Status::internal("failed to load auth method")
                    }
                    // ValidateEnterpriseRequest's errors.
                    _ => Status::internal(e.message),
                },
                LoginRefusal::Validate(message) => Status::unauthenticated(message),
                LoginRefusal::Finish(e) if e.status == StatusCode::FORBIDDEN => {
                    Status::permission_denied(e.message)
                }
                LoginRefusal::Finish(_) => Status::internal("failed to create token"),
            })?;
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        let token: Value =
            serde_json::from_slice(&bytes).map_err(|e| Status::internal(e.to_string()))?;
        let field = |name: &str| token[name].as_str().unwrap_or_default().to_owned();
        Ok(proto::LoginToken {
            accessor_id: field("AccessorID"),
            secret_id: field("SecretID"),
        })
    }

    /// `ACLService/Logout`: the HTTP logout's checks and deletion, except that a token
    /// Consul does not know is success (gRPC logout is idempotent).
    pub(crate) fn logout(&self, req: &proto::LogoutRequest) -> Result<(), Status> {
        self.require_acls()?;
        if req.token.is_empty() {
            return Err(Status::invalid_argument("token is required"));
        }
        self.require_local_datacenter(&req.datacenter)?;
        let mut st = self.shared.state();
        if st.token_by_secret(&req.token).is_none() {
            return Ok(());
        }
        let http_req = Req {
            method: Method::POST,
            tenancy_headers: Vec::new(),
            query: Vec::new(),
            token: Some(req.token.clone()),
            body: Default::default(),
        };
        match acl::logout(&mut st, &http_req) {
            Ok(_) => Ok(()),
            Err(e) if e.status == StatusCode::FORBIDDEN => {
                Err(Status::permission_denied(e.message))
            }
            Err(_) => Err(Status::internal("failed to delete token")),
        }
    }

    /// `RequireAnyValidACLToken`: any known token but the anonymous one (no check with
    /// ACLs off).
    pub(crate) fn require_any_valid_token(&self, token: Option<&str>) -> Result<(), Status> {
        let st = self.shared.state();
        let caller = st
            .caller(token)
            .map_err(|e| Status::unauthenticated(e.message))?;
        match caller.token {
            Some(t) if t.accessor_id == ANONYMOUS_ACCESSOR => Err(Status::unauthenticated(
                "An ACL token must be provided (via the `x-consul-token` metadata field) to call this endpoint",
            )),
            _ => Ok(()),
        }
    }

    /// Adds a gRPC call to the emulator's request log: method `GRPC`, the call's path, and
    /// the gRPC status code as the status (0 is OK). Returns the record, for the log of
    /// the gRPC server that answered.
    pub(crate) fn record(&self, path: &str, code: tonic::Code, had_token: bool) -> RecordedRequest {
        let record = RecordedRequest::now("GRPC", path, "", code as u16, had_token);
        self.shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record.clone());
        record
    }

    /// The emulator's request log capacity, for the logs of its gRPC servers.
    pub(crate) fn request_log_cap(&self) -> usize {
        self.shared.state().opts.request_log_cap
    }

    fn require_acls(&self) -> Result<(), Status> {
        if self.shared.state().opts.acls_enabled {
            Ok(())
        } else {
            Err(Status::failed_precondition(ACLS_DISABLED))
        }
    }

    /// The emulator is one datacenter: a request for another is one Consul cannot forward
    /// (`structs.ErrNoDCPath`, which gRPC reports as `Unknown`).
    fn require_local_datacenter(&self, datacenter: &str) -> Result<(), Status> {
        let st = self.shared.state();
        if datacenter.is_empty() || datacenter == st.opts.datacenter {
            Ok(())
        } else {
            Err(Status::unknown("No path to datacenter"))
        }
    }
}
