//! Discovery from each form of `consulServers.hosts` and the server watch: a changed server
//! list reaches the connection, and the connection moves to another server when its own
//! leaves the list or goes away. Two emulated servers of one cluster listen on 127.0.0.1
//! and 127.0.0.2 with the same port, sharing one emulator and one server list.

mod common;

use common::{emulator, settings, wait_for};
use consul_grpc::{GrpcError, ServerConnection};
use std::net::{IpAddr, SocketAddr};
use testkit::consul::ConsulEmulator;
use testkit::consul_grpc::{server, ConsulGrpcServer, GrpcServerOptions, ServerList};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Two servers on 127.0.0.1:P and 127.0.0.2:P reporting one list (both, at first).
fn two_servers(consul: &ConsulEmulator) -> (ConsulGrpcServer, ConsulGrpcServer, ServerList) {
    let list = ServerList::new(Vec::new());
    let first = ConsulGrpcServer::start(
        consul,
        GrpcServerOptions {
            servers: Some(list.clone()),
            ..GrpcServerOptions::default()
        },
    )
    .unwrap();
    let second = ConsulGrpcServer::start(
        consul,
        GrpcServerOptions {
            ip: ip("127.0.0.2"),
            port: first.addr().port(),
            servers: Some(list.clone()),
            ..GrpcServerOptions::default()
        },
    )
    .unwrap();
    list.set(vec![
        server("server-1", ip("127.0.0.1")),
        server("server-2", ip("127.0.0.2")),
    ]);
    (first, second, list)
}

#[tokio::test]
async fn the_watch_follows_the_server_list_and_moves_when_the_server_leaves_it() {
    let (consul, _unused) = emulator(false);
    let (first, _second, list) = two_servers(&consul);
    let port = first.addr().port();
    let conn = ServerConnection::connect(settings("127.0.0.1", port, None))
        .await
        .unwrap();
    assert_eq!(conn.servers(), vec![ip("127.0.0.1")]);
    conn.watch(None);

    wait_for(&conn, "both servers known", |v| {
        v.servers == vec![ip("127.0.0.1"), ip("127.0.0.2")]
    })
    .await;
    assert_eq!(
        conn.current_address(),
        SocketAddr::new(ip("127.0.0.1"), port)
    );

    // A third server joins (not reachable, never chosen while the current one is listed).
    list.set(vec![
        server("server-1", ip("127.0.0.1")),
        server("server-2", ip("127.0.0.2")),
        server("server-3", ip("127.0.0.3")),
    ]);
    wait_for(&conn, "three servers known", |v| v.servers.len() == 3).await;
    assert_eq!(conn.current_address().ip(), ip("127.0.0.1"));

    // The connected server leaves the ready set: the connection moves to one that is in it.
    list.set(vec![server("server-2", ip("127.0.0.2"))]);
    wait_for(&conn, "moved to server-2", |v| {
        v.client.address().ip() == ip("127.0.0.2")
    })
    .await;
    assert_eq!(
        conn.http_address(8501),
        SocketAddr::new(ip("127.0.0.2"), 8501)
    );
    assert_eq!(conn.servers(), vec![ip("127.0.0.2")]);
    conn.stop();
}

#[tokio::test]
async fn the_watch_moves_to_another_server_when_its_server_goes_away() {
    let (consul, _unused) = emulator(false);
    let (mut first, _second, _list) = two_servers(&consul);
    let port = first.addr().port();
    let conn = ServerConnection::connect(settings("127.0.0.1", port, None))
        .await
        .unwrap();
    conn.watch(None);
    wait_for(&conn, "both servers known", |v| v.servers.len() == 2).await;

    first.stop();
    wait_for(&conn, "moved to server-2", |v| {
        v.client.address().ip() == ip("127.0.0.2")
    })
    .await;
    // The new server answers.
    let mut stream = conn.client().watch_servers(None).await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap().len(), 2);
}

#[tokio::test]
async fn skip_server_watch_keeps_to_the_discovered_servers() {
    let (consul, _unused) = emulator(false);
    let (first, _second, list) = two_servers(&consul);
    let mut settings = settings("127.0.0.1", first.addr().port(), None);
    settings.skip_server_watch = true;
    let conn = ServerConnection::connect(settings).await.unwrap();
    conn.watch(None);
    list.set(vec![server("server-2", ip("127.0.0.2"))]);
    // Give a watch (if one ran wrongly) time to react.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(conn.servers(), vec![ip("127.0.0.1")]);
    assert_eq!(conn.current_address().ip(), ip("127.0.0.1"));
}

#[tokio::test]
async fn discovery_by_dns_name_and_by_command() {
    let (_consul, grpc) = emulator(false);
    let port = grpc.addr().port();

    // localhost may resolve to ::1 first, where nothing listens: the next address is used.
    let conn = ServerConnection::connect(settings("localhost", port, None))
        .await
        .unwrap();
    assert_eq!(
        conn.current_address(),
        SocketAddr::new(ip("127.0.0.1"), port)
    );
    assert!(conn.servers().contains(&ip("127.0.0.1")));

    // A command listing an address where nothing listens, then the server.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("servers.sh");
    std::fs::write(&script, "#!/bin/sh\necho 127.0.0.9 127.0.0.1\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let conn =
        ServerConnection::connect(settings(&format!("exec={}", script.display()), port, None))
            .await
            .unwrap();
    assert_eq!(conn.servers(), vec![ip("127.0.0.9"), ip("127.0.0.1")]);
    assert_eq!(
        conn.current_address(),
        SocketAddr::new(ip("127.0.0.1"), port)
    );
}

#[tokio::test]
async fn no_reachable_server_is_an_error_after_the_deadline() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = std::time::Instant::now();
    let err = ServerConnection::connect(settings("127.0.0.1", port, None))
        .await
        .unwrap_err();
    assert!(
        matches!(err, GrpcError::NoServer { tried: 1, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
