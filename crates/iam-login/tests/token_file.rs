//! `write_token_file`: exact content, mode 0600, atomic replacement, no temp file left.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use iam_login::{write_token_file, LoginError};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn writes_exact_content_with_mode_0600_and_leaves_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("service-token");
    write_token_file(&path, "8b0e1c8d-2f7d-4b8e-9a3c-7a1c2b9e6d54")
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"8b0e1c8d-2f7d-4b8e-9a3c-7a1c2b9e6d54"
    );
    assert_eq!(mode(&path), 0o600);
    assert_eq!(entries(dir.path()), vec!["service-token"]);
}

#[tokio::test]
async fn replaces_an_existing_world_readable_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("service-token");
    std::fs::write(&path, "an-older-and-much-longer-token-value\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    write_token_file(&path, "new").await.unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(entries(dir.path()), vec!["service-token"]);
}

#[tokio::test]
async fn failures_name_the_path_and_clean_up() {
    let dir = tempfile::tempdir().unwrap();
    // The destination is a directory: the rename fails after the temp file was written.
    let path = dir.path().join("service-token");
    std::fs::create_dir(&path).unwrap();
    let err = write_token_file(&path, "secret-value").await.unwrap_err();
    let LoginError::TokenFile { path: reported, .. } = &err else {
        panic!("expected TokenFile, got {err:?}");
    };
    assert_eq!(reported, &path);
    assert!(!err.to_string().contains("secret-value"), "{err}");
    assert_eq!(entries(dir.path()), vec!["service-token"]);

    let missing = dir.path().join("no-such-dir").join("service-token");
    assert!(matches!(
        write_token_file(&missing, "x").await,
        Err(LoginError::TokenFile { .. })
    ));
}

#[tokio::test]
async fn readers_never_see_a_partial_token() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("service-token");
    let (a, b) = ("a".repeat(4096), "b".repeat(10));
    write_token_file(&path, &a).await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (path, done, a, b) = (path.clone(), done.clone(), a.clone(), b.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !done.load(Ordering::Relaxed) {
                let seen = std::fs::read_to_string(&path).unwrap();
                assert!(seen == a || seen == b, "partial read: {} bytes", seen.len());
                reads += 1;
            }
            reads
        })
    };
    for i in 0..200 {
        write_token_file(&path, if i % 2 == 0 { &b } else { &a })
            .await
            .unwrap();
    }
    done.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    assert_eq!(entries(dir.path()), vec!["service-token"]);
}
