//! Harness for the end-to-end tests: runs the built `consul-ecs` binary and, when an
//! expectation fails, prints everything needed to understand it without re-running —
//! the command, its environment changes, exit status, stdout and stderr.

#![allow(dead_code)]

pub mod background;
pub mod controller_world;
pub mod relay;
pub mod world;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Path of the binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_consul-ecs"))
}

/// The variables of this process's environment that would change what the binary does
/// (`CONSUL_*`, `AWS_*`, `ECS_*`): every run removes them, so the developer's shell (or CI's)
/// cannot change a test's outcome; a test sets what it needs.
pub fn inherited_settings() -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| ["CONSUL_", "AWS_", "ECS_"].iter().any(|p| k.starts_with(p)))
        .collect()
}

/// A command line for the binary, with the environment it will see.
pub struct TestCommand {
    args: Vec<OsString>,
    env: Vec<(String, Option<OsString>)>,
    cwd: Option<PathBuf>,
}

/// What a finished run produced.
pub struct Run {
    pub description: String,
    pub output: Output,
}

impl TestCommand {
    pub fn new<I, S>(args: I) -> TestCommand
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        TestCommand {
            args: args.into_iter().map(Into::into).collect(),
            // A clean slate for the variables the binary reads, so the developer's shell
            // cannot change a test's outcome.
            env: inherited_settings()
                .into_iter()
                .map(|k| (k, None))
                .collect(),
            cwd: None,
        }
    }

    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> TestCommand {
        self.env.push((key.to_string(), Some(value.into())));
        self
    }

    pub fn cwd(mut self, dir: &Path) -> TestCommand {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(binary());
        cmd.args(&self.args);
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd
    }

    fn describe(&self) -> String {
        let env: Vec<String> = self
            .env
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", v.to_string_lossy())))
            .collect();
        format!(
            "command: {} {}\nenv: {}\ncwd: {}",
            binary().display(),
            self.args
                .iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            if env.is_empty() {
                "(unchanged)".to_string()
            } else {
                env.join(" ")
            },
            self.cwd
                .as_ref()
                .map_or("(inherited)".to_string(), |d| d.display().to_string()),
        )
    }

    /// Runs to completion.
    pub fn run(&self) -> Run {
        let output = self.command().output().expect("run consul-ecs");
        Run {
            description: self.describe(),
            output,
        }
    }
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Asserts the exit code, printing the whole run when it differs.
    pub fn expect_code(&self, code: i32) -> &Run {
        assert!(
            self.code() == Some(code),
            "expected exit code {code}\n{self}"
        );
        self
    }

    pub fn expect_stdout_contains(&self, needle: &str) -> &Run {
        assert!(
            self.stdout().contains(needle),
            "stdout should contain {needle:?}\n{self}"
        );
        self
    }

    pub fn expect_stderr_contains(&self, needle: &str) -> &Run {
        assert!(
            self.stderr().contains(needle),
            "stderr should contain {needle:?}\n{self}"
        );
        self
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "---- run ----\n{}", self.description)?;
        writeln!(f, "status: {:?}", self.output.status)?;
        writeln!(f, "---- stdout ----\n{}", self.stdout())?;
        write!(f, "---- stderr ----\n{}", self.stderr())
    }
}
