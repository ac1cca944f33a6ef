//! Go-style single-dash long flags.
//!
//! consul-ecs v0.6 is a Go program whose `flag` package takes `-log-level DEBUG`,
//! `-log-level=DEBUG` and `--log-level DEBUG` alike, and stops at the first argument that is
//! not a flag. Task definitions written for it must keep working, so before clap sees the
//! arguments we rewrite every single-dash long flag that clap knows (`-log-level`) into its
//! double-dash form. Rewriting stops at the first positional argument that is not a
//! subcommand name, and at `--`: what follows (`envoy -c bootstrap.json`) is the child's.

use std::ffi::OsString;

use clap::Command;

/// Returns `args` with known single-dash long flags rewritten to `--name`.
pub fn normalize(args: Vec<OsString>, root: &Command) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter();
    if let Some(program) = iter.next() {
        out.push(program);
    }
    let mut current = root.clone();
    let mut rest_untouched = false;
    let mut expect_value = false;
    for arg in iter {
        if rest_untouched {
            out.push(arg);
            continue;
        }
        if expect_value {
            expect_value = false;
            out.push(arg);
            continue;
        }
        let Some(text) = arg.to_str().map(str::to_owned) else {
            // Not UTF-8: not one of our flags; leave it and everything after it alone.
            rest_untouched = true;
            out.push(arg);
            continue;
        };
        if text == "--" {
            rest_untouched = true;
            out.push(arg);
            continue;
        }
        if let Some(flag) = text.strip_prefix("--") {
            expect_value = takes_separate_value(&current, flag);
            out.push(arg);
            continue;
        }
        if let Some(flag) = text.strip_prefix('-') {
            if flag.len() > 1 && long_arg(&current, flag).is_some() {
                expect_value = takes_separate_value(&current, flag);
                out.push(OsString::from(format!("-{text}")));
            } else {
                // A short flag (`-h`) or something clap will report as unknown.
                out.push(arg);
            }
            continue;
        }
        // A positional: a subcommand name moves us down a level. Anything else ends the
        // flags (Go's flag package stops here too) where it starts a command line of
        // another program (the entrypoints'); elsewhere (`net-dial HOST:PORT -timeout 1s`)
        // flags may follow it.
        match current.find_subcommand(&text) {
            Some(sub) => current = sub.clone(),
            None if takes_command_line(&current) => rest_untouched = true,
            None => {}
        }
        out.push(arg);
    }
    out
}

/// The argument named by `flag` (`log-level` or `log-level=DEBUG`), if `cmd` has it.
fn long_arg<'a>(cmd: &'a Command, flag: &str) -> Option<&'a clap::Arg> {
    let name = flag.split_once('=').map_or(flag, |(name, _)| name);
    cmd.get_arguments().find(|a| {
        a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|al| al.contains(&name))
    })
}

/// Whether `cmd`'s positionals are another program's command line (a trailing var arg).
fn takes_command_line(cmd: &Command) -> bool {
    cmd.get_positionals()
        .any(clap::Arg::is_trailing_var_arg_set)
}

/// Whether `--flag` (without `=value`) consumes the next argument as its value.
fn takes_separate_value(cmd: &Command, flag: &str) -> bool {
    if flag.contains('=') {
        return false;
    }
    long_arg(cmd, flag).is_some_and(|a| a.get_action().takes_values())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction};

    fn cmd() -> Command {
        Command::new("consul-ecs")
            .arg(Arg::new("log-level").long("log-level").global(true))
            .subcommand(
                Command::new("app-entrypoint")
                    .arg(Arg::new("shutdown-delay").long("shutdown-delay"))
                    .arg(
                        Arg::new("verbose")
                            .long("verbose")
                            .action(ArgAction::SetTrue),
                    )
                    .arg(
                        Arg::new("cmd")
                            .num_args(0..)
                            .trailing_var_arg(true)
                            .allow_hyphen_values(true),
                    ),
            )
            .subcommand(
                Command::new("net-dial")
                    .arg(Arg::new("timeout").long("timeout"))
                    .arg(Arg::new("target").num_args(0..)),
            )
    }

    fn run(args: &[&str]) -> Vec<String> {
        let mut c = cmd();
        c.build();
        normalize(args.iter().map(OsString::from).collect(), &c)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn rewrites_single_dash_long_flags_with_separate_and_inline_values() {
        assert_eq!(
            run(&[
                "x",
                "-log-level",
                "DEBUG",
                "app-entrypoint",
                "-shutdown-delay=10s",
                "-verbose",
                "app"
            ]),
            [
                "x",
                "--log-level",
                "DEBUG",
                "app-entrypoint",
                "--shutdown-delay=10s",
                "--verbose",
                "app"
            ]
        );
    }

    #[test]
    fn stops_at_the_first_positional_so_the_child_keeps_its_flags() {
        assert_eq!(
            run(&[
                "x",
                "app-entrypoint",
                "envoy",
                "-log-level",
                "debug",
                "-c",
                "b.json"
            ]),
            [
                "x",
                "app-entrypoint",
                "envoy",
                "-log-level",
                "debug",
                "-c",
                "b.json"
            ]
        );
    }

    #[test]
    fn flags_may_follow_a_positional_that_is_not_a_command_line() {
        assert_eq!(
            run(&["x", "net-dial", "127.0.0.1:1", "-timeout", "1s"]),
            ["x", "net-dial", "127.0.0.1:1", "--timeout", "1s"]
        );
        assert_eq!(
            run(&["x", "net-dial", "-timeout=1s", "127.0.0.1:1"]),
            ["x", "net-dial", "--timeout=1s", "127.0.0.1:1"]
        );
    }

    #[test]
    fn a_flag_value_that_looks_like_a_subcommand_is_not_one() {
        assert_eq!(
            run(&[
                "x",
                "app-entrypoint",
                "-shutdown-delay",
                "app-entrypoint",
                "-verbose"
            ]),
            [
                "x",
                "app-entrypoint",
                "--shutdown-delay",
                "app-entrypoint",
                "--verbose"
            ]
        );
    }

    #[test]
    fn double_dash_ends_rewriting_and_unknown_or_short_flags_are_left_alone() {
        assert_eq!(
            run(&["x", "-h", "-nope", "app-entrypoint", "--", "-verbose"]),
            ["x", "-h", "-nope", "app-entrypoint", "--", "-verbose"]
        );
    }
}
