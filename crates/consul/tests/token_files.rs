//! Token files are read bounded and only when they are regular files: a token path at
//! `/dev/zero` or at a FIFO fails at once instead of eating the memory or blocking, and a
//! symlink where consul-ecs wrote the file itself ([`TokenSource::OwnFile`]) is refused,
//! never followed. Errors name the file, never its content.

mod common;

use common::{client, Mock};
use consul::*;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// `source.current()` on another thread, failing the test if it does not return within a
/// few seconds (a FIFO read would block forever).
fn current_within_seconds(source: TokenSource) -> Result<Option<Secret>, ConsulError> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(source.current());
    });
    rx.recv_timeout(Duration::from_secs(5))
        .expect("reading the token file blocked")
}

fn source_kind(err: &ConsulError) -> &boundary::ReadError {
    match err {
        ConsulError::TokenFile { source, .. } => source,
        other => panic!("expected a TokenFile error, got {other:?}"),
    }
}

#[test]
fn a_device_is_refused_without_reading_it() {
    for source in [
        TokenSource::File("/dev/zero".into()),
        TokenSource::OwnFile("/dev/zero".into()),
    ] {
        let err = current_within_seconds(source).unwrap_err();
        assert_eq!(
            err.to_string(),
            "reading the Consul token file: /dev/zero is not a regular file (it is a character device)"
        );
        assert!(!err.is_retryable());
    }
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("token");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let err = current_within_seconds(TokenSource::File(fifo.clone())).unwrap_err();
    assert!(err.to_string().ends_with("(it is a FIFO)"), "{err}");
    let err = current_within_seconds(TokenSource::OwnFile(fifo)).unwrap_err();
    assert!(err.to_string().ends_with("(it is a FIFO)"), "{err}");
}

#[test]
fn a_file_larger_than_a_token_is_refused_without_quoting_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, "secret-looking-".repeat(400)).unwrap();
    let err = current_within_seconds(TokenSource::File(path.clone())).unwrap_err();
    assert!(
        matches!(source_kind(&err), boundary::ReadError::FileTooLarge { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("4 KiB limit"), "{err}");
    assert!(!err.to_string().contains("secret-looking"), "{err}");
    assert!(!format!("{err:?}").contains("secret-looking"), "{err:?}");

    // Exactly the limit is still a token file (white space around it is ignored).
    let token = "t".repeat(TOKEN_FILE_LIMIT as usize - 1);
    std::fs::write(&path, format!("{token}\n")).unwrap();
    let read = current_within_seconds(TokenSource::File(path)).unwrap();
    assert_eq!(read.unwrap().expose(), token);
}

fn link(dir: &Path, content: &str) -> std::path::PathBuf {
    let target = dir.join("someone-elses-file");
    std::fs::write(&target, content).unwrap();
    let link = dir.join("service-token");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    link
}

#[tokio::test]
async fn an_operator_named_link_is_followed_a_link_at_our_own_file_is_refused() {
    let mock = Mock::start().await;
    mock.on("GET", "/v1/agent/services", 200, "{}");
    let dir = tempfile::tempdir().unwrap();
    let link = link(dir.path(), "not-for-consul");

    // CONSUL_HTTP_TOKEN_FILE may be a mounted secret behind a link.
    client(&mock, TokenSource::File(link.clone()))
        .agent_services(&QueryOptions::default())
        .await
        .unwrap();
    assert_eq!(mock.last().header("x-consul-token"), Some("not-for-consul"));

    // consul-ecs's own token file is a regular file it wrote: a link there was put by
    // someone else, and following it would send that file's content to Consul.
    let before = mock.requests().len();
    let err = client(&mock, TokenSource::OwnFile(link.clone()))
        .agent_services(&QueryOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(source_kind(&err), boundary::ReadError::Symlink { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert!(!err.to_string().contains("not-for-consul"), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(mock.requests().len(), before, "no request was sent");

    // A regular file at the same place is read as before.
    std::fs::remove_file(&link).unwrap();
    std::fs::write(&link, "own-token\n").unwrap();
    client(&mock, TokenSource::OwnFile(link))
        .agent_services(&QueryOptions::default())
        .await
        .unwrap();
    assert_eq!(mock.last().header("x-consul-token"), Some("own-token"));
}

#[test]
fn a_missing_or_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    let err = TokenSource::OwnFile(path.clone()).current().unwrap_err();
    assert!(source_kind(&err).is_not_found(), "{err:?}");
    assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
    std::fs::write(&path, " \n").unwrap();
    assert_eq!(TokenSource::OwnFile(path).current().unwrap(), None);
}
