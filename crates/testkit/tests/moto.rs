//! moto start-up: the port it chose itself, its output kept, and a readiness probe that
//! does not use up the requests it serves before checking signatures.

use std::io::{Read as _, Write as _};

use testkit::moto::Moto;

/// Status of an unsigned IAM ListUsers.
fn unsigned_list_users(moto: &Moto) -> u16 {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", moto.port())).unwrap();
    let body = "Action=ListUsers&Version=2010-05-08";
    write!(
        conn,
        "POST / HTTP/1.0\r\nHost: iam.amazonaws.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    answer[9..12].parse().unwrap()
}

#[test]
fn the_readiness_probe_leaves_every_unauthenticated_request_to_the_test() {
    let moto = Moto::start(1);
    assert!(
        moto.output()
            .contains(&format!("Running on http://127.0.0.1:{}", moto.port())),
        "{}",
        moto.output()
    );
    assert_eq!(unsigned_list_users(&moto), 200, "{}", moto.output());
    // The one free request is used: from now on an unsigned request is refused (moto 5.2.5
    // answers one without an Authorization header with a 500, a bad signature with 403).
    assert_ne!(unsigned_list_users(&moto), 200, "{}", moto.output());
}
