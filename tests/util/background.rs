//! Background runs of the binary: long-lived subcommands (entrypoints, health-sync) that
//! tests signal and watch.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A `consul-ecs` process running in the background, its stderr in `stderr.log` of its
/// own work dir, killed (with its children's process groups) when dropped.
pub struct Background {
    pub child: Child,
    pub dir: tempfile::TempDir,
    args: Vec<String>,
}

impl Background {
    pub fn start(args: &[&str], env: &[(&str, &str)], dir: tempfile::TempDir) -> Background {
        let log = fs::File::create(dir.path().join("stderr.log")).unwrap();
        let mut cmd = Command::new(super::binary());
        for name in super::inherited_settings() {
            cmd.env_remove(name);
        }
        cmd.args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        Background {
            child,
            dir,
            args: args.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn read(&self, name: &str) -> String {
        fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    pub fn report(&self) -> String {
        format!(
            "command: consul-ecs {}\n---- stderr ----\n{}",
            self.args.join(" "),
            self.read("stderr.log")
        )
    }

    pub fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), sig).unwrap();
    }

    pub fn wait_until(&self, what: &str, limit: Duration, ok: impl Fn(&Background) -> bool) {
        let deadline = Instant::now() + limit;
        while !ok(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.report()
            );
            sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_log(&self, needle: &str) {
        self.wait_until(needle, Duration::from_secs(30), |e| {
            e.read("stderr.log").contains(needle)
        });
    }

    /// Waits for the exit and returns the code.
    pub fn wait_exit(&mut self, limit: Duration) -> i32 {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or_else(|| {
                    panic!("killed by a signal: {status:?}\n{}", self.report())
                });
            }
            assert!(
                Instant::now() < deadline,
                "still running after {limit:?}\n{}",
                self.report()
            );
            sleep(Duration::from_millis(5));
        }
    }

    /// PIDs of our direct children (the supervised program).
    pub fn children(&self) -> Vec<i32> {
        testkit::procfs::children(self.child.id() as i32)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        for pid in self.children() {
            let _ = kill(Pid::from_raw(-pid), Signal::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
