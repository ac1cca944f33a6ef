//! The one CA-directory walk: files in name order, subdirectories recursively, directory
//! links not followed, a cap on the number of files, each file read bounded.

use boundary::{read_ca_dir, walk_files, ReadError, CA_DIR_MAX_FILES, PEM_FILE_LIMIT};
use std::fs;
use std::os::unix::fs::symlink;

#[test]
fn files_come_in_name_order_with_subdirectories_and_file_links() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("b.pem"), "B").unwrap();
    fs::create_dir(dir.path().join("a")).unwrap();
    fs::write(dir.path().join("a/z.pem"), "AZ").unwrap();
    // A link to a file is followed: an operator may link a bundle in.
    fs::write(outside.path().join("bundle.pem"), "LINKED").unwrap();
    symlink(outside.path().join("bundle.pem"), dir.path().join("c.pem")).unwrap();
    let read = read_ca_dir(dir.path()).unwrap();
    let got: Vec<_> = read
        .iter()
        .map(|(path, pem)| {
            let name = path.strip_prefix(dir.path()).unwrap().display().to_string();
            (name, String::from_utf8(pem.clone()).unwrap())
        })
        .collect();
    assert_eq!(
        got,
        [
            ("a/z.pem".to_string(), "AZ".to_string()),
            ("b.pem".to_string(), "B".to_string()),
            ("c.pem".to_string(), "LINKED".to_string()),
        ]
    );
    // A file given as the directory is the one file (go-rootcerts does the same).
    let file = dir.path().join("b.pem");
    assert_eq!(read_ca_dir(&file).unwrap(), [(file.clone(), b"B".to_vec())]);
}

#[test]
fn a_directory_link_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    fs::write(elsewhere.path().join("secret.pem"), "NOT A CA OF OURS").unwrap();
    fs::write(dir.path().join("ca.pem"), "CA").unwrap();
    symlink(elsewhere.path(), dir.path().join("linked-dir")).unwrap();
    // A loop back to the directory itself would never end if links were followed.
    symlink(dir.path(), dir.path().join("loop")).unwrap();

    let files = walk_files(dir.path(), CA_DIR_MAX_FILES).unwrap();
    assert!(
        files.iter().all(|f| !f.ends_with("secret.pem")),
        "walked into the linked directory: {files:?}"
    );
    assert_eq!(files.len(), 3, "{files:?}");
    // Listed as a file, as Go's Lstat-based walk does, and reading it fails by name.
    let err = read_ca_dir(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            ReadError::NotRegular {
                kind: "a directory",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("linked-dir"), "{err}");
}

#[test]
fn more_files_than_the_cap_is_an_error_naming_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("sub")).unwrap();
    for i in 0..4 {
        fs::write(dir.path().join(format!("sub/{i}.pem")), "x").unwrap();
    }
    assert_eq!(walk_files(dir.path(), 4).unwrap().len(), 4);
    let err = walk_files(dir.path(), 3).unwrap_err();
    assert!(
        matches!(err, ReadError::TooManyFiles { limit: 3, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!("{}: more than 3 files", dir.path().display())
    );
}

#[test]
fn an_oversized_file_is_refused_without_reading_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.pem"), "CA").unwrap();
    let big = fs::File::create(dir.path().join("b.pem")).unwrap();
    // Sparse: the size is there, the disk blocks are not.
    big.set_len(PEM_FILE_LIMIT + 1).unwrap();
    let err = read_ca_dir(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            ReadError::FileTooLarge {
                limit: PEM_FILE_LIMIT,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("b.pem"), "{err}");
    assert!(err.to_string().contains("1 MiB limit"), "{err}");
}

#[test]
fn a_missing_directory_names_it() {
    let err = read_ca_dir("/nonexistent/ca-dir".as_ref()).unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(
        err.to_string().starts_with("/nonexistent/ca-dir: "),
        "{err}"
    );
}
