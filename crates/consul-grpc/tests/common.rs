//! Set-up shared by the gRPC tests: an emulator with its gRPC server, and settings to
//! reach it.

#![allow(dead_code)] // each test file uses a different subset

use consul_grpc::{ConnectSettings, GrpcTls, ServerConnection, ServerHosts};
use std::time::Duration;
use testkit::consul::{ConsulEmulator, EmulatorOptions};
use testkit::consul_grpc::{ConsulGrpcServer, GrpcServerOptions};

/// An emulator (ACLs as asked, management token `root`) and one gRPC server in front of it.
pub fn emulator(acls: bool) -> (ConsulEmulator, ConsulGrpcServer) {
    let consul = ConsulEmulator::start(EmulatorOptions {
        acls_enabled: acls,
        management_token: Some("root".into()),
        ..EmulatorOptions::default()
    });
    let grpc = ConsulGrpcServer::start(&consul, GrpcServerOptions::default()).unwrap();
    (consul, grpc)
}

/// Settings for `hosts` on `port`, with short timings so tests fail fast.
pub fn settings(hosts: &str, port: u16, tls: Option<GrpcTls>) -> ConnectSettings {
    let mut settings = ConnectSettings::new(ServerHosts::parse(hosts).unwrap(), port, tls);
    settings.call_timeout = Duration::from_secs(5);
    settings.connect_policy =
        consul::RetryPolicy::fixed(Duration::from_millis(50), Duration::from_secs(3));
    settings.watch_backoff.initial = Duration::from_millis(50);
    settings.watch_backoff.max = Duration::from_millis(200);
    settings
}

/// Connected to the emulator's gRPC server over plain TCP.
pub async fn connect(grpc: &ConsulGrpcServer) -> ServerConnection {
    ServerConnection::connect(settings("127.0.0.1", grpc.addr().port(), None))
        .await
        .unwrap()
}

/// Waits (up to 10 s) until `done` holds for the connection's view.
pub async fn wait_for(
    conn: &ServerConnection,
    what: &str,
    done: impl Fn(&consul_grpc::ServerView) -> bool,
) {
    let mut changes = conn.subscribe();
    let waited = tokio::time::timeout(Duration::from_secs(10), changes.wait_for(|v| done(v))).await;
    assert!(
        matches!(waited, Ok(Ok(_))),
        "{what}: still {:?} (servers {:?})",
        conn.current_address(),
        conn.servers()
    );
}
