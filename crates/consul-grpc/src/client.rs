//! The calls: `ACLService/Login`, `ACLService/Logout` and
//! `ServerDiscoveryService/WatchServers`, each within a deadline, with the token in the
//! `x-consul-token` metadata where Consul reads it.

use crate::proto::{self, Server};
use crate::GrpcError;
use consul::Secret;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tonic::codec::{ProstCodec, Streaming};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

/// A login at an auth method (`ACLService/Login`).
///
/// `Debug` shows the bearer token as `***`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Login {
    /// The auth method's name.
    pub auth_method: String,
    /// The bearer token it validates.
    pub bearer_token: Secret,
    /// Meta recorded in the token's description.
    pub meta: BTreeMap<String, String>,
    /// The auth method's namespace (Enterprise; empty: default).
    pub namespace: String,
    /// The auth method's partition (Enterprise; empty: default).
    pub partition: String,
    /// The datacenter (empty: the server's).
    pub datacenter: String,
}

/// The token a login created. `Debug` shows the secret as `***`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginToken {
    /// Its accessor ID (safe to log).
    pub accessor_id: String,
    /// Its secret ID.
    pub secret_id: Secret,
}

/// A client of one server's public gRPC services. Cheap to clone (one shared connection).
#[derive(Clone, Debug)]
pub struct ConsulGrpc {
    channel: Channel,
    address: SocketAddr,
    timeout: Duration,
}

impl ConsulGrpc {
    /// A client over `channel`, connected to `address`; every unary call (and the opening
    /// of a watch) must be answered within `timeout`.
    pub fn new(channel: Channel, address: SocketAddr, timeout: Duration) -> ConsulGrpc {
        ConsulGrpc {
            channel,
            address,
            timeout,
        }
    }

    /// The server's gRPC address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Logs in: a new ACL token for the bearer token, or Consul's refusal
    /// (`InvalidArgument` for an unknown auth method, `Unauthenticated` when the bearer
    /// token does not validate, `PermissionDenied` when no binding rule applies,
    /// `FailedPrecondition` when ACLs are off).
    pub async fn login(&self, login: &Login) -> Result<LoginToken, GrpcError> {
        let request = proto::LoginRequest {
            auth_method: login.auth_method.clone(),
            bearer_token: login.bearer_token.expose().to_owned(),
            meta: login.meta.clone().into_iter().collect(),
            namespace: login.namespace.clone(),
            partition: login.partition.clone(),
            datacenter: login.datacenter.clone(),
        };
        let response: proto::LoginResponse = self
            .unary("ACLService/Login", proto::LOGIN_PATH, request, None)
            .await?;
        let token = response.token.ok_or(GrpcError::EmptyLogin {
            address: self.address,
        })?;
        Ok(LoginToken {
            accessor_id: token.accessor_id,
            secret_id: Secret::new(token.secret_id),
        })
    }

    /// Logs out: destroys a token a login created. A token Consul does not know is
    /// already gone (Consul answers OK); one not created by a login is `PermissionDenied`.
    pub async fn logout(&self, token: &Secret, datacenter: &str) -> Result<(), GrpcError> {
        let request = proto::LogoutRequest {
            token: token.expose().to_owned(),
            datacenter: datacenter.to_owned(),
        };
        let _: proto::LogoutResponse = self
            .unary("ACLService/Logout", proto::LOGOUT_PATH, request, None)
            .await?;
        Ok(())
    }

    /// Opens the server-set stream (LAN addresses). Consul wants a valid token here
    /// (`Unauthenticated` for none or an unknown one) unless ACLs are off.
    pub async fn watch_servers(&self, token: Option<&Secret>) -> Result<ServerStream, GrpcError> {
        const CALL: &str = "ServerDiscoveryService/WatchServers";
        let mut request = tonic::Request::new(proto::WatchServersRequest { wan: false });
        self.authorize(&mut request, CALL, token)?;
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        let open = async {
            grpc.ready().await.map_err(|e| not_ready(e.into()))?;
            grpc.server_streaming(
                request,
                http::uri::PathAndQuery::from_static(proto::WATCH_SERVERS_PATH),
                ProstCodec::<proto::WatchServersRequest, proto::WatchServersResponse>::default(),
            )
            .await
        };
        let stream = self.within_deadline(CALL, open).await?;
        Ok(ServerStream {
            inner: stream.into_inner(),
            address: self.address,
        })
    }

    async fn unary<Req, Resp>(
        &self,
        call: &'static str,
        path: &'static str,
        message: Req,
        token: Option<&Secret>,
    ) -> Result<Resp, GrpcError>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        self.authorize(&mut request, call, token)?;
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        let send = async {
            grpc.ready().await.map_err(|e| not_ready(e.into()))?;
            grpc.unary(
                request,
                http::uri::PathAndQuery::from_static(path),
                ProstCodec::<Req, Resp>::default(),
            )
            .await
        };
        Ok(self.within_deadline(call, send).await?.into_inner())
    }

    fn authorize<T>(
        &self,
        request: &mut tonic::Request<T>,
        call: &'static str,
        token: Option<&Secret>,
    ) -> Result<(), GrpcError> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Ok(());
        };
        let mut value =
            MetadataValue::try_from(token.expose()).map_err(|_| GrpcError::BadToken { call })?;
        value.set_sensitive(true);
        request
            .metadata_mut()
            .insert(proto::TOKEN_METADATA_KEY, value);
        Ok(())
    }

    async fn within_deadline<T>(
        &self,
        call: &'static str,
        fut: impl std::future::Future<Output = Result<T, tonic::Status>>,
    ) -> Result<T, GrpcError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Err(_) => Err(GrpcError::Timeout {
                call,
                address: self.address,
                after: self.timeout,
            }),
            Ok(Err(status)) => Err(GrpcError::from_status(call, self.address, status)),
            Ok(Ok(value)) => Ok(value),
        }
    }
}

/// The connection is not usable: gRPC's `Unavailable`, as the servers' own clients see it.
fn not_ready(error: Box<dyn std::error::Error + Send + Sync>) -> tonic::Status {
    tonic::Status::unavailable(format!(
        "connection not ready: {}",
        boundary::error_chain(error.as_ref())
    ))
}

/// An open `WatchServers` stream.
pub struct ServerStream {
    inner: Streaming<proto::WatchServersResponse>,
    address: SocketAddr,
}

impl std::fmt::Debug for ServerStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerStream")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl ServerStream {
    /// The next server set (the first comes at once), `None` when the server ended the
    /// stream. Waits as long as the set does not change.
    pub async fn next(&mut self) -> Result<Option<Vec<Server>>, GrpcError> {
        match self.inner.message().await {
            Ok(Some(response)) => Ok(Some(response.servers)),
            Ok(None) => Ok(None),
            Err(status) => Err(GrpcError::from_status(
                "ServerDiscoveryService/WatchServers",
                self.address,
                status,
            )),
        }
    }
}
