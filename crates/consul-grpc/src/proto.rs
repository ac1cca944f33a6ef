//! Consul's public gRPC messages, written by hand from the `.proto` files of Consul's
//! `proto-public/` tree (no protoc at build time). Field numbers and types are those files':
//!
//! - `proto-public/pbserverdiscovery/serverdiscovery.proto`, package
//!   `hashicorp.consul.serverdiscovery`, service `ServerDiscoveryService`;
//! - `proto-public/pbacl/acl.proto`, package `hashicorp.consul.acl`, service `ACLService`.
//!
//! docs/protocols.md ("Consul's public gRPC services") lists them with the status codes the
//! servers answer.

use std::collections::HashMap;

/// `/hashicorp.consul.serverdiscovery.ServerDiscoveryService/WatchServers` (server stream).
pub const WATCH_SERVERS_PATH: &str =
    "/hashicorp.consul.serverdiscovery.ServerDiscoveryService/WatchServers";
/// `/hashicorp.consul.acl.ACLService/Login` (unary).
pub const LOGIN_PATH: &str = "/hashicorp.consul.acl.ACLService/Login";
/// `/hashicorp.consul.acl.ACLService/Logout` (unary).
pub const LOGOUT_PATH: &str = "/hashicorp.consul.acl.ACLService/Logout";

/// The gRPC metadata key Consul reads the ACL token from (`x-consul-token`).
pub const TOKEN_METADATA_KEY: &str = "x-consul-token";

/// `message WatchServersRequest { bool wan = 1; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct WatchServersRequest {
    /// WAN addresses instead of the LAN ones (the default, and what consul-dataplane asks).
    #[prost(bool, tag = "1")]
    pub wan: bool,
}

/// `message WatchServersResponse { repeated Server servers = 1; }`: the whole set of ready
/// servers, sent at the start of the stream and again whenever it changes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WatchServersResponse {
    /// The ready servers.
    #[prost(message, repeated, tag = "1")]
    pub servers: Vec<Server>,
}

/// `message Server { string id = 1; string address = 2; string version = 3; }`
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct Server {
    /// The server's node ID (stable for its lifetime).
    #[prost(string, tag = "1")]
    pub id: String,
    /// Its IP address, without a port: the client adds the configured gRPC port.
    #[prost(string, tag = "2")]
    pub address: String,
    /// Its Consul version.
    #[prost(string, tag = "3")]
    pub version: String,
}

/// `message LoginRequest` (fields 1–6).
///
/// `Debug` is derived by prost and would print the bearer token: never log this message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LoginRequest {
    /// Name of the auth method.
    #[prost(string, tag = "1")]
    pub auth_method: String,
    /// The bearer token the auth method validates (for aws-iam: the signed STS request).
    #[prost(string, tag = "2")]
    pub bearer_token: String,
    /// Meta recorded in the token's description.
    #[prost(map = "string, string", tag = "3")]
    pub meta: HashMap<String, String>,
    /// Namespace of the auth method (Enterprise).
    #[prost(string, tag = "4")]
    pub namespace: String,
    /// Partition of the auth method (Enterprise).
    #[prost(string, tag = "5")]
    pub partition: String,
    /// Datacenter the request is for (empty: the server's).
    #[prost(string, tag = "6")]
    pub datacenter: String,
}

/// `message LoginResponse { LoginToken token = 1; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct LoginResponse {
    /// The token created.
    #[prost(message, optional, tag = "1")]
    pub token: Option<LoginToken>,
}

/// `message LoginToken { string accessor_id = 1; string secret_id = 2; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct LoginToken {
    /// The token's accessor ID.
    #[prost(string, tag = "1")]
    pub accessor_id: String,
    /// The token's secret ID (never log it).
    #[prost(string, tag = "2")]
    pub secret_id: String,
}

/// `message LogoutRequest { string token = 1; string datacenter = 2; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct LogoutRequest {
    /// The secret ID of the token to destroy.
    #[prost(string, tag = "1")]
    pub token: String,
    /// Datacenter the request is for (empty: the server's).
    #[prost(string, tag = "2")]
    pub datacenter: String,
}

/// `message LogoutResponse {}`
#[derive(Clone, PartialEq, prost::Message)]
pub struct LogoutResponse {}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// The bytes protoc's encoder produces for these field numbers and wire types (tag =
    /// field << 3 | wire type), so a wrong tag in the hand-written structs fails here.
    #[test]
    fn field_numbers_match_the_proto_files() {
        let req = LogoutRequest {
            token: "t".into(),
            datacenter: "d".into(),
        };
        assert_eq!(req.encode_to_vec(), b"\x0a\x01t\x12\x01d");

        let login = LoginRequest {
            auth_method: "m".into(),
            bearer_token: "b".into(),
            meta: HashMap::from([("k".to_owned(), "v".to_owned())]),
            namespace: "n".into(),
            partition: "p".into(),
            datacenter: "d".into(),
        };
        assert_eq!(
            login.encode_to_vec(),
            b"\x0a\x01m\x12\x01b\x1a\x06\x0a\x01k\x12\x01v\x22\x01n\x2a\x01p\x32\x01d"
        );

        assert_eq!(
            WatchServersRequest { wan: true }.encode_to_vec(),
            b"\x08\x01"
        );

        let resp = WatchServersResponse {
            servers: vec![Server {
                id: "i".into(),
                address: "a".into(),
                version: "v".into(),
            }],
        };
        assert_eq!(resp.encode_to_vec(), b"\x0a\x09\x0a\x01i\x12\x01a\x1a\x01v");

        let login = LoginResponse {
            token: Some(LoginToken {
                accessor_id: "a".into(),
                secret_id: "s".into(),
            }),
        };
        assert_eq!(login.encode_to_vec(), b"\x0a\x06\x0a\x01a\x12\x01s");
    }
}
