//! The launcher `bench __launch` measures a child's own peak RSS (VmHWM at its exit), where
//! a child spawned straight from a large process reports that process's (ru_maxrss).

use std::process::Command;

/// `ru_maxrss` (KiB) of the children this process has reaped so far.
fn children_max_rss_kib() -> u64 {
    // SAFETY: rusage is plain data the kernel fills in.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a local.
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) },
        0
    );
    u64::try_from(ru.ru_maxrss).unwrap()
}

#[test]
fn the_launcher_reports_the_childs_own_peak_not_the_spawners() {
    // This process grows to 256 MiB of touched memory first.
    let ballast = vec![1u8; 256 << 20];
    assert_eq!(
        ballast
            .iter()
            .step_by(4096)
            .map(|&b| u64::from(b))
            .sum::<u64>(),
        65536
    );

    // Spawned directly, `true` reports at least the ballast.
    let direct = Command::new("true").status().unwrap();
    assert!(direct.success());
    let direct_kib = children_max_rss_kib();
    assert!(
        direct_kib > 200 << 10,
        "direct child's ru_maxrss {direct_kib} KiB"
    );

    // Through the launcher: the report's peak (VmHWM at the exit) is the shell's own, a
    // few MiB at most.
    let (status, fields) = launch(&["sh", "-c", "exit 7"]);
    assert!(status.success(), "{status}");
    assert_eq!(fields.len(), 7, "{fields:?}");
    assert_eq!(&fields[4..6], ["code", "7"], "{fields:?}");
    let child_kib: u64 = fields[3].parse().unwrap();
    assert!(
        child_kib > 0 && child_kib < 8 << 10,
        "launched child's peak {child_kib} KiB"
    );
    let ru_maxrss_kib: u64 = fields[6].parse().unwrap();
    assert!(ru_maxrss_kib > 0, "{fields:?}");
    drop(ballast);
}

#[test]
fn the_launcher_fails_on_a_program_it_cannot_start() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("rusage");
    let out = Command::new(env!("CARGO_BIN_EXE_bench"))
        .arg("__launch")
        .arg(&report)
        .arg("/nonexistent/program")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/program"));
    assert!(!report.exists());
}

/// `bench __launch <report> <args...>`: the launcher's exit status and its report's fields.
fn launch(args: &[&str]) -> (std::process::ExitStatus, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("rusage");
    let status = Command::new(env!("CARGO_BIN_EXE_bench"))
        .arg("__launch")
        .arg(&report)
        .args(args)
        .status()
        .unwrap();
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    (status, text.split_whitespace().map(str::to_owned).collect())
}

#[test]
fn signals_reach_the_traced_program() {
    // The launcher traces the program, so every signal stops it first: passed on, a
    // SIGTERM still ends it, and its report says so.
    let (status, fields) = launch(&["sh", "-c", "kill -TERM $$; sleep 5"]);
    assert!(status.success(), "{status}");
    assert_eq!(fields.len(), 7, "{fields:?}");
    assert_eq!(&fields[4..6], ["signal", "15"], "{fields:?}");
}

#[test]
fn a_program_that_execs_again_is_followed_to_its_end() {
    // A shell that execs another program (as a wrapper script does): the second exec must
    // not reach it as a SIGTRAP.
    let (status, fields) = launch(&["sh", "-c", "exec sh -c 'exit 3'"]);
    assert!(status.success(), "{status}");
    assert_eq!(fields.len(), 7, "{fields:?}");
    assert_eq!(&fields[4..6], ["code", "3"], "{fields:?}");
}
