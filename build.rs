//! Embeds the git commit in the binary for `consul-ecs version` (`consul-ecs v0.1.0 (abc1234)`),
//! as upstream's release builds do with `-X version.GitCommit`.
//!
//! The value is, in order: `CONSUL_ECS_GIT_SHA` from the build environment (builds from a
//! source tarball), `git rev-parse --short HEAD`, or `unknown` outside a git checkout.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=CONSUL_ECS_GIT_SHA");
    // The static release build links through tools/link/ordered-cc, which places the functions
    // this list names first: a new list (or linker script) must relink the binary, and cargo
    // relinks only when the crate rebuilds.
    println!("cargo:rerun-if-changed=tools/link/hot-functions.txt");
    println!("cargo:rerun-if-changed=tools/link/ordered-cc");
    println!("cargo:rerun-if-env-changed=CONSUL_ECS_HOT_FUNCTIONS");
    let sha = match std::env::var("CONSUL_ECS_GIT_SHA") {
        Ok(sha) if !sha.trim().is_empty() => sha.trim().to_string(),
        _ => git_sha().unwrap_or_else(|| "unknown".to_string()),
    };
    println!("cargo:rustc-env=CONSUL_ECS_GIT_SHA={sha}");
}

/// The short commit of HEAD, and rerun-if-changed lines for what moves it (HEAD, the branch
/// it names, packed-refs), so a commit rebuilds the version but nothing else does.
fn git_sha() -> Option<String> {
    let git_dir = PathBuf::from(git(&["rev-parse", "--git-dir"])?);
    let head = git_dir.join("HEAD");
    watch(&head);
    if let Ok(text) = std::fs::read_to_string(&head) {
        if let Some(reference) = text.trim().strip_prefix("ref: ") {
            // In a linked worktree the branch lives in the common directory.
            let common = git(&["rev-parse", "--git-common-dir"]).map(PathBuf::from);
            for dir in std::iter::once(git_dir.clone()).chain(common) {
                watch(&dir.join(reference));
                watch(&dir.join("packed-refs"));
            }
        }
    }
    git(&["rev-parse", "--short", "HEAD"])
}

fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}
